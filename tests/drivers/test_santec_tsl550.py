"""Santec TSL-550: exact bytes (CR), nm/mW on the wire, the simulator."""

from __future__ import annotations

import pytest

from hilt.drivers.santec_tsl550 import SantecTSL550
from hilt.errors import InstrumentError, LimitError, UnitError
from hilt.sims.santec_tsl550 import SimTSL550
from hilt.sims.world import World
from hilt.testing import expected_protocol

NO_ERROR = (b"SYST:ERR?\r", b'0,"No error"\r')
CONNECT = (b":POW:UNIT 1\r", None)


def test_protocol_wavelength_power_output() -> None:
    with expected_protocol(SantecTSL550, [
        CONNECT, NO_ERROR,
        (b":WAV 1550.1250\r", None), NO_ERROR,
        (b":WAV?\r", b"1550.1250\r"),
        (b":POW 2.5000\r", None), NO_ERROR,
        (b":POW?\r", b"2.5000\r"),
        (b":POW:ACT?\r", b"2.4900\r"),
        (b":POW:STAT 1\r", None), NO_ERROR,
    ]) as laser:
        laser.wavelength.set(1550.125e-9)
        assert laser.wavelength.get() == pytest.approx(1550.125e-9)
        laser.power.set(2.5e-3)
        assert laser.power.get() == pytest.approx(2.5e-3)
        assert laser.actual_power.get() == pytest.approx(2.49e-3)
        laser.output.set(True)


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(SantecTSL550, [CONNECT, NO_ERROR], limits={"power": (0.02e-3, 1e-3)}) as laser:
        with pytest.raises(LimitError):
            laser.wavelength.set(1450e-9)
        with pytest.raises(LimitError):
            laser.power.set(2e-3)


def test_against_simulator(served) -> None:
    world = World(seed=0)
    sim, address = served(SimTSL550, world=world, name="tsl")
    with SantecTSL550(address) as laser:
        laser.wavelength.set(1575e-9)
        laser.power.set(5e-3)
        laser.output.set(True)
        assert laser.wavelength.get() == pytest.approx(1575e-9)
        assert laser.actual_power.get() == pytest.approx(5e-3)
        assert world.get("tsl.wavelength") == pytest.approx(1575e-9)
        assert world.get("tsl.power_w") == pytest.approx(5e-3)
        with pytest.raises(InstrumentError) as info:
            laser.write(":POW 20", check_errors=True)  # 20 mW: beyond the laser
        assert info.value.code == -222
        sim.faults.error = True
        with pytest.raises(InstrumentError):
            laser.output.set(True)
    assert world.get("tsl.output") is False


def test_protocol_power_in_dbm_and_wavelength_in_nm_strings() -> None:
    with expected_protocol(SantecTSL550, [
        CONNECT, NO_ERROR,
        (b":POW 1.0000\r", None), NO_ERROR,
        (b":WAV 1550.0000\r", None), NO_ERROR,
        (b":POW:STAT 0\r", None), NO_ERROR,
    ]) as laser:
        laser.power.set("0 dBm")
        laser.wavelength.set("1550 nm")
        laser.output.set("off")
        with pytest.raises(UnitError):
            laser.power.set("1 GHz")
        with pytest.raises(LimitError):
            laser.power.set(float("nan"))
