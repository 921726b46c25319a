"""Keysight N7744A / N7745A multiport power meter: exact bytes, all ports in one query."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.drivers.keysight_n7744a import KeysightN7744A
from hilt.errors import ConfigError, InstrumentError, LimitError, ProtocolError
from hilt.sims.keysight_n7744a import SimN7744A
from hilt.sims.world import World
from hilt.testing import expected_protocol

NO_ERROR = (b"SYST:ERR?\n", b'+0,"No error"\n')
CONNECT4 = (b":SENS1:POW:UNIT W;:SENS2:POW:UNIT W;:SENS3:POW:UNIT W;"
            b":SENS4:POW:UNIT W\n", None)


def test_protocol_ports_and_read_all() -> None:
    with expected_protocol(KeysightN7744A, [
        CONNECT4, NO_ERROR,
        (b":SENS2:POW:WAV 1550.000NM\n", None), NO_ERROR,
        (b":SENS2:POW:WAV?\n", b"+1.55000000E-006\n"),
        (b":SENS3:POW:ATIM 0.001\n", None), NO_ERROR,
        (b":READ4:POW?\n", b"+1.33555600E-006\n"),
        (b":READ:POW:ALL:CSV?\n", b"+1.0E-03,+2.0E-03,+3.0E-06,-1.0E-12\n"),
        (b":FETC:POW:ALL:CSV?\n", b"+1.0E-03,+2.0E-03\n"),
    ]) as pm:
        assert [p.name for p in pm.channels] == ["port1", "port2", "port3", "port4"]
        pm.channels[1].wavelength.set(1550e-9)
        assert pm.channels[1].wavelength.get() == 1.55e-6
        pm.channels[2].averaging_time.set(1e-3)
        assert pm.channels[3].power.get() == 1.335556e-6
        np.testing.assert_allclose(pm.read_all(), [1e-3, 2e-3, 3e-6, -1e-12])
        with pytest.raises(ProtocolError):
            pm.fetch_all()


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(KeysightN7744A, [CONNECT4, NO_ERROR]) as pm:
        with pytest.raises(LimitError):
            pm.channels[0].wavelength.set(2000e-9)
        with pytest.raises(LimitError):
            pm.channels[0].averaging_time.set(20)
        with pytest.raises(LimitError):
            pm.channels[0].range.set(20)
    with pytest.raises(ConfigError):
        KeysightN7744A("TCPIP::127.0.0.1::1::SOCKET", variant="N7746A")


def test_against_simulator_reads_eight_ports_in_one_query(served) -> None:
    world = World(seed=0)
    sim, address = served(SimN7744A, world=world, name="pm", variant="N7745A")
    world.set("pm.port_powers", np.arange(8) * 1e-4)
    with KeysightN7744A(address, variant="N7745A") as pm:
        assert len(pm.channels) == 8
        before = len(pm.transport.exchanges)
        np.testing.assert_allclose(pm.read_all(), np.arange(8) * 1e-4)
        assert len(pm.transport.exchanges) - before == 2  # one query, one reply
        assert pm.channels[5].power.get() == pytest.approx(5e-4)
        pm.channels[5].auto_range.set(False)
        assert pm.channels[5].auto_range.get() is False
        pm.channels[5].range.set(-10)
        assert pm.channels[5].range.get() == -10
        pm.write(":SENS1:POW:UNIT DBM", check_errors=True)
        assert float(pm.query(":FETC1:POW?")) == -200.0  # dark port, in dBm
        with pytest.raises(InstrumentError) as info:
            pm.write(":SENS9:POW:UNIT W", check_errors=True)
        assert info.value.code == -113
        sim.faults.error = True
        with pytest.raises(InstrumentError):
            pm.channels[0].averaging_time.set(1e-3)
