"""Keithley 2400 over RS-232: exact bytes, the simulator over pyserial, ramps, errors."""

from __future__ import annotations

import pytest

from hilt.drivers.keithley_2400 import Keithley2400
from hilt.errors import InstrumentError, LimitError
from hilt.sims.keithley_2400 import SimKeithley2400
from hilt.testing import expected_protocol

CONNECT = (b":SOUR:FUNC VOLT;:FORM:ELEM VOLT,CURR\r", None)
NO_ERROR = (b"SYST:ERR?\r", b'0,"No error"\r')


def test_protocol_connect_ramp_and_read() -> None:
    with expected_protocol(Keithley2400, [
        CONNECT, NO_ERROR,
        (b":SOUR:VOLT?\r", b"+0.000000E+00\r"),
        # 0 -> 1.2 V in steps of at most 0.5 V: three sets, each checked.
        (b":SOUR:VOLT 0.4\r", None), NO_ERROR,
        (b":SOUR:VOLT 0.8\r", None), NO_ERROR,
        (b":SOUR:VOLT 1.2\r", None), NO_ERROR,
        (b":READ?\r", b"+1.200000E+00,+1.200000E-03\r"),
    ]) as k:
        k.voltage.set(1.2)
        assert k.measure() == (1.2, 1.2e-3)


def test_protocol_heater_driver_vector_of_one() -> None:
    with expected_protocol(Keithley2400, [
        CONNECT, NO_ERROR,
        # Output off: no current flows, nothing else is asked.
        (b":OUTP?\r", b"0\r"),
        # set_voltages with the output off: level walked to 0 V first, output on, then ramped.
        (b":OUTP?\r", b"0\r"),
        (b":SOUR:VOLT?\r", b"+5.000000E-01\r"),
        (b":SOUR:VOLT 0\r", None), NO_ERROR,
        (b":OUTP ON\r", None), NO_ERROR,
        (b":SOUR:VOLT 0.4\r", None), NO_ERROR,
        (b":SOUR:VOLT 0.8\r", None), NO_ERROR,
        (b":OUTP?\r", b"1\r"),
        (b":SOUR:VOLT?\r", b"+8.000000E-01\r"),
        (b":OUTP?\r", b"1\r"),
        (b":READ?\r", b"+8.000000E-01,+1.600000E-03\r"),
    ]) as k:
        assert k.n_channels == 1 and k.ramp_step == 0.5
        assert k.get_currents().tolist() == [0.0]
        k.set_voltages([0.8])
        assert k.get_voltages().tolist() == [0.8]
        assert k.get_currents().tolist() == [1.6e-3]


def test_protocol_read_with_output_off_is_an_instrument_error() -> None:
    with expected_protocol(Keithley2400, [
        CONNECT, NO_ERROR,
        (b":OUTP OFF\r", None), (b"SYST:ERR?\r", b'803,"Output disabled"\r'), NO_ERROR,
    ]) as k, pytest.raises(InstrumentError) as info:
        k.output.set(False)
    assert info.value.code == 803


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(Keithley2400, [CONNECT, NO_ERROR], limits={"voltage": (0, 5)}) as k:
        with pytest.raises(LimitError):
            k.voltage.set(6)
        with pytest.raises(LimitError):
            k.voltage.set(-0.1)
        with pytest.raises(LimitError):
            k.compliance.set(2)
        with pytest.raises(LimitError):
            k.set_voltages([5.5])
        with pytest.raises(LimitError):
            k.set_voltages([1.0, 1.0])


@pytest.mark.parametrize("pty", [False, True])
def test_against_simulator(served, pty) -> None:
    sim, address = served(SimKeithley2400, pty=pty, load_ohm=500.0)
    with Keithley2400(address) as k:
        k.compliance.set(0.05)
        k.output.set(True)
        k.voltage.set(2.0)
        v, i = k.measure()
        assert v == pytest.approx(2.0) and i == pytest.approx(2.0 / 500.0, rel=1e-4)
        sim.faults.error = True
        with pytest.raises(InstrumentError):
            k.voltage.set(1.0)  # ramps 2.0 -> 1.5 first; that step is refused
    assert (sim.voltage, sim.output) == (0.0, False)


def test_safe_state_reaches_0_v_even_when_the_limits_exclude_it(served) -> None:
    sim, address = served(SimKeithley2400)
    with Keithley2400(address, limits={"voltage": (1, 5)}) as k:
        k.output.set(True)
        k.voltage.set(2.0)
        with pytest.raises(LimitError):
            k.voltage.set(0.0)
    assert (sim.voltage, sim.output) == (0.0, False)


def test_safe_state_switches_the_output_off_when_the_ramp_cannot_run(served) -> None:
    sim, address = served(SimKeithley2400)
    with Keithley2400(address) as k:
        k.output.set(True)
        sim.voltage = 250.0  # read back outside the instrument's range: no ramp starts from it
        with pytest.raises(LimitError):
            k.safe_state()
        assert sim.output is False
        assert sim.voltage == 250.0  # not a single step was sent
        sim.voltage = 0.0
