"""R&S SMA100B: same commands as the SGS100A, wider ranges; bytes, limits, simulator."""

from __future__ import annotations

import pytest

from hilt.drivers.rs_sgs100a import RohdeSchwarzSMA100B
from hilt.errors import LimitError
from hilt.sims.rs_sgs100a import SimSMA100B
from hilt.testing import expected_protocol

NO_ERROR = (b"SYST:ERR?\n", b'0,"No error"\n')


def test_protocol_wide_range() -> None:
    with expected_protocol(RohdeSchwarzSMA100B, [
        (b"SOUR:FREQ 40000000000.000\n", None), NO_ERROR,
        (b"SOUR:POW -140.00\n", None), NO_ERROR,
    ], frequency_option="B140") as sma:
        sma.frequency.set(40e9)
        sma.power.set(-140)


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(RohdeSchwarzSMA100B, []) as sma:  # default B120: 20 GHz
        with pytest.raises(LimitError):
            sma.frequency.set(21e9)
        with pytest.raises(LimitError):
            sma.power.set(31)


def test_against_simulator(served) -> None:
    sim, address = served(SimSMA100B, name="sma")
    with RohdeSchwarzSMA100B(address) as sma:
        assert sma.identify()["model"] == "SMA100B"
        sma.frequency.set(18e9)
        sma.output.set(True)
        assert sim.world.get("sma.frequency") == 18e9
    assert sim.world.get("sma.output") is False
