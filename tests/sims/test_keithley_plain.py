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


def test_buffer_fills_from_the_trigger_model_and_reports_statistics(serial_port, world) -> None:
    sim, port = serial_port(SimKeithley2400, name="smu", load_ohm=1000.0)
    port.write(b":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512\r")
    port.write(b":SOUR:FUNC VOLT;:SOUR:VOLT 2;:SENS:CURR:PROT 0.1;:FORM:ELEM VOLT,CURR;:OUTP ON\r")
    port.write(b":TRAC:CLE;:TRAC:POIN 6;:TRAC:FEED SENS;:TRAC:FEED:CONT NEXT;:ARM:COUN 2;:TRIG:COUN 2\r")
    assert ask(port, ":TRAC:POIN?") == b"6" and ask(port, ":TRAC:FEED:CONT?") == b"NEXT"
    port.write(b":INIT\r")
    assert ask(port, ":TRAC:POIN:ACT?") == b"4" and int(ask(port, "*STB?")) & 1 == 0
    port.write(b":INIT\r")  # two of these four fit: the buffer is full
    assert ask(port, ":TRAC:POIN:ACT?") == b"6" and ask(port, ":TRAC:FEED:CONT?") == b"NEV"
    assert int(ask(port, "*STB?")) & 65 == 65  # measurement summary and MSS, as a poll waits for
    values = [float(v) for v in ask(port, ":TRAC:DATA?").split(b",")]
    assert len(values) == 12 and values[0::2] == pytest.approx([2.0] * 6)
    assert values[1::2] == pytest.approx([2e-3] * 6, rel=1e-4)
    port.write(b":CALC3:FORM MEAN\r")
    mean_v, mean_i = (float(v) for v in ask(port, ":CALC3:DATA?").split(b","))
    assert mean_v == pytest.approx(2.0) and mean_i == pytest.approx(2e-3, rel=1e-4)
    port.write(b":CALC3:FORM SDEV\r")
    assert float(ask(port, ":CALC3:DATA?").split(b",")[1]) < 1e-8  # 1 ppm noise on 2 mA
    assert ask(port, ":STAT:MEAS?") == b"512" and ask(port, ":STAT:MEAS?") == b"0"  # read and cleared
    port.write(b":TRAC:CLE\r")
    assert ask(port, ":TRAC:POIN:ACT?") == b"0"
    port.write(b":FORM:ELEM VOLT,CURR,RES;:TRIG:COUN 1;:ARM:COUN 1\r")
    volts, amps, ohms = (float(v) for v in ask(port, ":MEAS:RES?").split(b","))
    assert ohms == pytest.approx(1000.0, rel=1e-4) and float(ask(port, ":MEAS:VOLT?").split(b",")[0]) == 2.0
    assert float(ask(port, ":MEAS:CURR?").split(b",")[1]) == pytest.approx(2e-3, rel=1e-4)


def test_trigger_model_filter_and_system_settings_round_trip(serial_port) -> None:
    sim, port = serial_port(SimKeithley2400)
    settings = [(b":ARM:SOUR", b"TIM"), (b":ARM:TIM", b"0.5"), (b":ARM:OUTP", b"TENT"), (b":ARM:ILIN", b"3"),
                (b":ARM:OLIN", b"4"), (b":TRIG:DEL", b"0.01"), (b":TRIG:SOUR", b"TLIN"), (b":TRIG:OUTP", b"SOUR"),
                (b":TRIG:ILIN", b"2"), (b":TRIG:OLIN", b"3"), (b":SENS:AVER", b"1"), (b":SENS:AVER:TCON", b"MOV"),
                (b":SENS:AVER:COUN", b"20"), (b":SOUR:DEL", b"0.002"), (b":SOUR:DEL:AUTO", b"0"),
                (b":SOUR:CLE:AUTO", b"1"), (b":OUTP:SMOD", b"HIMP"), (b":SYST:AZER", b"0"), (b":SYST:LFR", b"50"),
                (b":SYST:LFR:AUTO", b"0"), (b":DISP:ENAB", b"0"), (b":SENS:VOLT:RANG", b"2"),
                (b":SENS:VOLT:NPLC", b"0.1"), (b":SENS:RES:RANG", b"2000"), (b":SENS:RES:NPLC", b"10"),
                (b":SENS:RES:MODE", b"AUTO"), (b":SENS:CURR:RANG:AUTO", b"0"), (b":SENS:VOLT:RANG:AUTO", b"0"),
                (b":SENS:RES:RANG:AUTO", b"0"), (b":SOUR:VOLT:RANG:AUTO", b"0"), (b":SOUR:CURR:RANG:AUTO", b"0"),
                (b":FORM:DATA", b"ASC")]
    for header, value in settings:
        port.write(header + b" " + value + b"\r")
    for header, value in settings:
        answer = ask(port, header.decode() + "?")
        try:
            assert float(answer) == float(value), header
        except ValueError:
            assert answer == value, header
    assert ask(port, ":SYST:ERR?") == b'0,"No error"'
    port.write(b":OUTP OFF;:SENS:CURR:PROT 0.01;:SOUR:VOLT 1;:FORM:ELEM VOLT;:TRIG:COUN 1\r")
    assert float(ask(port, ":READ?")) == pytest.approx(1.0)  # SOUR:CLE:AUTO 1 from above: taken
    port.write(b":SOUR:CLE:AUTO 0;:READ?\r")  # output off, no auto output: +803
    assert ask(port, ":SYST:ERR?").startswith(b"803,")
    port.write(b":SYST:LFR 55\r")
    assert ask(port, ":SYST:ERR?").startswith(b"-224,")
