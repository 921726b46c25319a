"""Keysight 8164B tunable laser: exact bytes, SI units, slot addressing, the simulator."""

from __future__ import annotations

import pytest

from hilt.drivers.keysight_8164b import Keysight8164B
from hilt.errors import InstrumentError, LimitError
from hilt.sims.keysight_8164b import Sim8164B
from hilt.sims.world import World
from hilt.testing import expected_protocol

NO_ERROR = (b"SYST:ERR?\n", b'+0,"No error"\n')
CONNECT = (b":SOUR0:POW:UNIT W\n", None)


def test_protocol_wavelength_power_output() -> None:
    with expected_protocol(Keysight8164B, [
        CONNECT, NO_ERROR,
        (b":SOUR0:WAV 1550.0000NM\n", None), NO_ERROR,
        (b":SOUR0:WAV?\n", b"+1.55000000E-006\n"),
        (b":SOUR0:POW 1MW\n", None), NO_ERROR,
        (b":SOUR0:POW?\n", b"+1.00000000E-003\n"),
        (b":SOUR0:POW:STAT 1\n", None), NO_ERROR,
        (b":SOUR0:POW:STAT?\n", b"1\n"),
    ]) as laser:
        laser.wavelength.set(1550e-9)
        assert laser.wavelength.get() == 1.55e-6
        laser.power.set(1e-3)
        assert laser.power.get() == 1e-3
        laser.output.set(True)
        assert laser.output.get() is True


def test_protocol_other_slot_and_errors() -> None:
    with expected_protocol(Keysight8164B, [
        (b":SOUR2:POW:UNIT W\n", None), NO_ERROR,
        (b":SOUR2:POW:STAT 0\n", None), (b"SYST:ERR?\n", b'-241,"Hardware missing"\n'), NO_ERROR,
    ], slot=2) as laser, pytest.raises(InstrumentError) as info:
        laser.output.set(False)
    assert info.value.code == -241


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(Keysight8164B, [CONNECT, NO_ERROR], wavelength_range=(1490e-9, 1640e-9),
                           limits={"power": (1e-6, 2e-3)}) as laser:
        with pytest.raises(LimitError):
            laser.wavelength.set(1300e-9)
        with pytest.raises(LimitError):
            laser.power.set(5e-3)
        with pytest.raises(LimitError):
            laser.power.set(0.0)


def test_against_simulator(served) -> None:
    world = World(seed=0)
    sim, address = served(Sim8164B, world=world, name="laser")
    with Keysight8164B(address) as laser:
        laser.wavelength.set(1560e-9)
        laser.power.set(2e-3)
        laser.output.set(True)
        assert laser.wavelength.get() == pytest.approx(1560e-9)
        assert laser.power.get() == pytest.approx(2e-3)
        assert world.get("laser.wavelength") == pytest.approx(1560e-9)
        assert world.get("laser.power_w") == pytest.approx(2e-3)
        assert world.get("laser.output") is True
        # dBm on the wire when the user switches the unit by hand.
        laser.write(":SOUR0:POW:UNIT DBM", check_errors=True)
        assert float(laser.query(":SOUR0:POW?")) == pytest.approx(3.0103, abs=1e-3)
        laser.write(":SOUR0:POW 0DBM;:SOUR0:POW:UNIT W", check_errors=True)
        assert laser.power.get() == pytest.approx(1e-3)
        with pytest.raises(InstrumentError) as info:
            laser.write(":SOUR0:WAV 1700NM", check_errors=True)
        assert info.value.code == -222
        sim.faults.error = True
        with pytest.raises(InstrumentError):
            laser.power.set(1e-3)
    assert world.get("laser.output") is False
