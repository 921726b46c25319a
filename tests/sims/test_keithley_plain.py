"""Keithley 2400 from a plain pyserial client: current sourcing into the load with voltage
compliance, INIT/FETCh with a trigger count, and the kept settings (Series 2400 manual, SCPI)."""

from __future__ import annotations

import pytest

from hilt.sims.keithley_2400 import SimKeithley2400


def ask(port, text: str) -> bytes:  # type: ignore[no-untyped-def]
    port.write(text.encode() + b"\r")
    line = port.read_until(b"\r")
    assert line.endswith(b"\r"), f"{text}: no reply (got {line!r})"
    return line[:-1]


def test_current_source_into_the_load_with_voltage_compliance(serial_port, world) -> None:
    sim, port = serial_port(SimKeithley2400, name="smu", load_ohm=1000.0)
    port.write(b":SOUR:FUNC CURR;:SOUR:CURR 2E-3;:SENS:VOLT:PROT 10;:FORM:ELEM VOLT,CURR;:OUTP ON\r")
    volts, amps = (float(v) for v in ask(port, ":READ?").split(b","))
    assert volts == pytest.approx(2.0) and amps == pytest.approx(2e-3, rel=1e-5)
    assert world.get("smu.voltage") == pytest.approx(2.0)
    port.write(b":SOUR:CURR 0.05\r")  # 50 V wanted: compliance holds 10 V, 10 mA flow
    volts, amps = (float(v) for v in ask(port, ":READ?").split(b","))
    assert volts == pytest.approx(10.0) and amps == pytest.approx(0.01, rel=1e-5)
    port.write(b":TRIG:COUN 3;:INIT\r")
    assert len(ask(port, ":FETC?").split(b",")) == 6  # 3 readings x (VOLT, CURR)
    assert ask(port, ":SYST:ERR?") == b'0,"No error"'


def test_kept_settings_round_trip(serial_port) -> None:
    sim, port = serial_port(SimKeithley2400)
    port.write(b":SOUR:VOLT:RANG 20;:SOUR:CURR:RANG 1E-3;:SENS:CURR:RANG 1E-2;:SENS:CURR:NPLC 0.1\r")
    port.write(b':SENS:FUNC "VOLT";:ROUT:TERM REAR;:SYST:RSEN ON;:SYST:BEEP:STAT OFF\r')
    answers = [ask(port, q) for q in (":SOUR:VOLT:RANG?", ":SOUR:CURR:RANG?", ":SENS:CURR:RANG?",
                                      ":SENS:CURR:NPLC?", ":SENS:FUNC?", ":ROUT:TERM?", ":SYST:RSEN?",
                                      ":SYST:BEEP:STAT?")]
    assert [float(a) for a in answers[:4]] == [20.0, 1e-3, 1e-2, 0.1]
    assert answers[4:] == [b'"VOLT:DC"', b"REAR", b"1", b"0"]
    port.write(b":INIT\r")  # output off: +803
    assert ask(port, ":SYST:ERR?").startswith(b"803,")
    port.write(b":FETC?\r")  # nothing taken yet: no reply, -230 in the queue
    assert ask(port, ":SYST:ERR?").startswith(b"-230,")


def test_overvoltage_protection_bounds_the_terminals(serial_port, world) -> None:
    sim, port = serial_port(SimKeithley2400, name="smu", load_ohm=1e6)
    assert float(ask(port, ":SOUR:VOLT:PROT?")) == 210.0  # NONE
    port.write(b":SOUR:VOLT:PROT 30\r")  # between two levels: the next one up
    assert float(ask(port, ":SOUR:VOLT:PROT?")) == 40.0
    port.write(b":SOUR:FUNC VOLT;:SENS:CURR:PROT 0.1;:SOUR:VOLT 50;:FORM:ELEM VOLT,CURR;:OUTP ON\r")
    volts, amps = (float(v) for v in ask(port, ":READ?").split(b","))
    assert volts == pytest.approx(40.0) and amps == pytest.approx(40e-6, rel=1e-5)
    assert world.get("smu.voltage") == pytest.approx(40.0)
    port.write(b":SOUR:VOLT:PROT NONE\r")
    assert float(ask(port, ":READ?").split(b",")[0]) == pytest.approx(50.0)
    assert ask(port, ":SYST:ERR?") == b'0,"No error"'
