"""E8257D and SGS100A/SMA100B from plain pyvisa-py: what clients ask at connect, forms, errors.

Commands our drivers never send: ``*OPT?``, ``*TST?``, ``*ESE``/``*STB?``, the SCPI-1999
``SYSTem:ERRor`` family, ``SYSTem:VERSion?``, DIAGnostic information queries, ``SYSTem:PRESet``;
and the same header in long, short, mixed-case and whitespace-padded forms.
"""

from __future__ import annotations

import logging

import pytest

from hilt.sims.keysight_e8257d import SimE8257D
from hilt.sims.rs_sgs100a import SimSGS100A, SimSMA100B


def test_psg_connect_queries(visa_resource) -> None:
    sim, inst = visa_resource(SimE8257D, frequency_option="540")
    assert inst.query("*IDN?").startswith("Keysight Technologies,E8257D,")
    assert inst.query("*OPT?") == "540,1EA,UNT"
    assert inst.query(":DIAGnostic:CPU:INFOrmation:OPTions?") == '"540,1EA,UNT"'
    assert inst.query("diag:info:opt?") == '"540,1EA,UNT"'  # [:CPU] is optional, case is free
    detail = inst.query(":DIAG:INFO:OPT:DET?")
    assert detail.startswith('"540","1.0","Frequency range 250 kHz to 40 GHz"')
    assert int(inst.query(":DIAG:INFO:OTIM?")) > 0
    assert inst.query(":DIAG:INFO:CCO:PON?").isdigit()
    assert inst.query(":DIAG:INFO:SDAT?").startswith('"')
    assert inst.query("*TST?") == "0"
    assert inst.query("SYST:VERS?") == "1999.0"
    assert inst.query("SYST:ERR?") == '0,"No error"'


@pytest.mark.parametrize("header", [
    ":SOURce:FREQuency:CW", "SOUR:FREQ:CW", "FREQ", "freq:cw", "  :FREQuency:CW", "Freq:Fixed",
])
def test_psg_long_short_case_and_whitespace(visa_resource, header: str) -> None:
    sim, inst = visa_resource(SimE8257D)
    inst.write(f"{header}\t1.25 GHz")
    assert float(inst.query(f"{header.strip()}?")) == 1.25e9
    assert inst.query("SYST:ERR?") == '0,"No error"'


def test_psg_error_queue_status_and_preset(visa_resource) -> None:
    sim, inst = visa_resource(SimE8257D)
    inst.write("*CLS;*ESE 32;*SRE 32")
    inst.write("POW:AMPL 99")  # out of range: -222
    inst.write("SOUR:BOGUS 1")  # undefined header: -113
    assert inst.query("SYST:ERR:COUN?") == "2"
    status = int(inst.query("*STB?"))
    assert status & 4 and status & 32 and status & 64  # queue, ESB (CMD enabled), MSS
    assert inst.query("SYST:ERR:ALL?") == (
        '-222,"Data out of range;99 outside [-135, 25]",-113,"Undefined header;SOUR:BOGUS"')
    assert inst.query("SYST:ERR:CODE?") == "0"
    inst.write("FREQ 3 GHz;:OUTP ON")
    inst.write(":SYST:PRES")
    assert inst.query("OUTP?") == "0" and float(inst.query("FREQ?")) == 20e9


def test_psg_unknown_command_is_an_error_queue_entry_logged_once(visa_resource, caplog) -> None:
    sim, inst = visa_resource(SimE8257D)
    with caplog.at_level(logging.WARNING, logger="hilt.sims"):
        inst.write(":SOURce:CORRection:FLATness:POINts 3")  # user flatness: not simulated
        inst.write(":source:correction:flatness:points 4")  # the same header again, in another case
        assert inst.query("SYST:ERR?") == '-113,"Undefined header;:SOURce:CORRection:FLATness:POINts"'
        assert inst.query("SYST:ERR?") == '-113,"Undefined header;:source:correction:flatness:points"'
    assert len([r for r in caplog.records if "CORRECTION:FLATNESS" in r.getMessage()]) == 1
    assert sim.unknown_commands == {":SOURCE:CORRECTION:FLATNESS:POINTS": 2}


@pytest.mark.parametrize(("cls", "option", "opt_reply"), [
    (SimSGS100A, "B106", "SGS-B106,SGS-B26"), (SimSMA100B, "B140", "SMA-B140,SMA-B26"),
])
def test_rs_connect_queries(visa_resource, cls: type, option: str, opt_reply: str) -> None:
    sim, inst = visa_resource(cls, frequency_option=option)
    assert inst.query("*IDN?").startswith("Rohde&Schwarz,")
    assert inst.query("*OPT?") == opt_reply
    assert int(inst.query("DIAG:INFO:OTIM?")) > 0
    assert inst.query("diagnostic:info:pocount?").isdigit()
    assert inst.query("SYST:ERR:ALL?") == '0,"No error"'
    inst.write("SOURce1:FREQuency:CW 2e9;:SOUR:POW -20")
    assert inst.query("FREQ?") == "2000000000" and inst.query("POW?") == "-20"
    inst.write("SOUR2:FREQ 1e9")  # one RF path: suffix 2 does not exist
    inst.write("SOUR:LFO:FREQ 1e3")  # LF generator: not simulated
    assert inst.query("SYST:ERR:CODE:ALL?") == "-114,-113"
    inst.write("*RST")
    assert inst.query("OUTP?") == "0"


def test_psg_offsets_and_multiplier_are_display_arithmetic(visa_resource, world) -> None:
    sim, inst = visa_resource(SimE8257D, name="psg")
    inst.write("FREQ:MULT 6;FREQ:OFFS 1 GHz;POW:OFFS -3")
    inst.write("FREQ 61 GHz;POW 7")  # displayed: x6 chain after the PSG, +1 GHz offset
    assert float(inst.query("FREQ?")) == 61e9 and float(inst.query("POW?")) == 7.0
    assert world.get("psg.frequency") == 10e9 and world.get("psg.power_dbm") == 10.0
    inst.write("POW:ALC OFF;POW:ATT 12;PHAS 0.5;POW:PROT ON")
    assert [inst.query(q) for q in ("POW:ALC?", "POW:PROT?")] == ["0", "1"]
    assert float(inst.query("POW:ATT?")) == 10.0 and float(inst.query("PHAS?")) == 0.5
    inst.write("PHAS:REF")
    assert float(inst.query("PHAS?")) == 0.0
    assert inst.query("ROSC:SOUR?") == "INT" and inst.query("SYST:COMM:LAN:IP?") == '"127.0.0.1"'
    assert inst.query("SYST:DATE?") == "2025,1,1" and inst.query("SYST:TIME?") == "0,0,0"
    assert inst.query("SYST:ERR?") == '0,"No error"'


def test_psg_modulation_and_sweeps_are_refused_and_logged(visa_resource, caplog) -> None:
    sim, inst = visa_resource(SimE8257D)
    with caplog.at_level(logging.WARNING, logger="hilt.sims"):
        inst.write("AM OFF;FREQ:MODE CW")
        assert inst.query("AM?;FREQ:MODE?") == "0;CW"
        inst.write("PULM:STAT ON")
        inst.write("FREQ:MODE LIST")
        assert inst.query("SYST:ERR:CODE:ALL?") == "-224,-224"  # also: both have run
    assert {"MODULATION ON", "FREQ:MODE LIST"} <= set(sim.unknown_commands)
    assert len([r for r in caplog.records if "FREQ:MODE LIST" in r.getMessage()]) == 1


@pytest.mark.parametrize("cls", [SimSGS100A, SimSMA100B])
def test_rs_offsets_limit_and_kept_settings(visa_resource, world, cls: type) -> None:
    sim, inst = visa_resource(cls, name="sgs")
    inst.write("SOUR:FREQ:OFFS 100 MHz;SOUR:POW:OFFS 10;SOUR:POW:LIM 5")
    inst.write("SOUR:FREQ 2.1 GHz;SOUR:POW 12")
    assert inst.query("*OPC?") == "1"
    assert world.get("sgs.frequency") == 2e9 and world.get("sgs.power_dbm") == 2.0
    inst.write("SOUR:POW 20")  # 10 dBm RF: above the 5 dBm limit
    assert inst.query("SYST:ERR:CODE?") == "-222" and inst.query("POW?") == "12"
    inst.write("POW:ALC OFF;OUTP:STAT:PON UNCH;ROSC:SOUR EXT;ROSC:EXT:FREQ 100 MHz;LOSC:SOUR EXT")
    assert [inst.query(q) for q in ("POW:ALC?", "OUTP:STAT:PON?", "ROSC:SOUR?", "ROSC:EXT:FREQ?",
                                    "LOSC:SOUR?", "OPM?", "IQ:STAT?")] == \
        ["0", "UNCH", "EXT", "100MHZ", "EXT", "NORM", "0"]
    inst.write("IQ:STAT ON")
    assert inst.query("SYST:ERR:CODE?") == "-224"


def test_psg_remaining_queries_and_settings(visa_resource) -> None:
    sim, inst = visa_resource(SimE8257D)
    inst.write("*ESE 60;*PSC 0;*WAI")
    assert inst.query("*ESE?;*PSC?") == "60;0"
    inst.write("BOGUS")
    assert inst.query("*ESR?") == "32" and inst.query("*ESR?") == "0"  # CMD, cleared by reading
    assert inst.query("SYST:ERR?").startswith("-113,")
    assert inst.query(":SYST:PRES:TYPE?") == "NORM" and inst.query(":POW:MODE?") == "FIX"
    assert inst.query(":DIAG:INFO:CCO:ATT?") == "0" and inst.query(":DIAG:INFO:REV?") == '"C.06.28"'
    assert inst.query(":DIAG:INFO:BOAR?").startswith('"CPU')
    inst.write(":POW:REF -10;:OUTP:MOD 0;:FM OFF")
    assert float(inst.query(":POW:REF?")) == -10.0 and inst.query(":OUTP:MOD?") == "0"
    assert inst.query(":FM?") == "0" and inst.query("SYST:ERR?") == '0,"No error"'


@pytest.mark.parametrize("cls", [SimSGS100A, SimSMA100B])
def test_rs_remaining_queries_and_settings(visa_resource, cls: type) -> None:
    sim, inst = visa_resource(cls)
    inst.write("*PSC 0;*WAI;TRIG:SOUR EXT")
    assert inst.query("*PSC?") == "0" and inst.query("TRIG:SOUR?") == "EXT"
    assert inst.query("SYST:COMM:NETW:IPAD?") == '"127.0.0.1"'
    inst.write("SOUR:POW 99")
    assert int(inst.query("*ESR?")) & 16  # execution error (-222)


def test_psg_sweep_and_modulation_settings_are_kept_while_the_modes_stay_off(visa_resource, caplog) -> None:
    sim, inst = visa_resource(SimE8257D)
    inst.write(":SOUR:FREQ:STAR 1 GHz;:SOUR:FREQ:STOP 3 GHz;:SOUR:POW:STAR -10 dBm;:SOUR:POW:STOP 5 dBm")
    assert float(inst.query(":SOUR:FREQ:CENT?")) == 2e9 and float(inst.query("FREQ:SPAN?")) == 2e9
    inst.write("FREQ:CENT 5 GHz")  # the span stays
    assert float(inst.query("FREQ:STAR?")) == 4e9 and float(inst.query("FREQ:STOP?")) == 6e9
    inst.write("FREQ:SPAN 1 GHz")  # the centre stays
    assert float(inst.query("FREQ:STAR?")) == 4.5e9
    assert float(inst.query(":SOUR:POW:STAR?")) == -10.0 and float(inst.query("POW:STOP?")) == 5.0
    inst.write(":SWE:DWEL 0.5")
    assert float(inst.query("SWE:DWEL?")) == 0.5
    inst.write(":SOUR:SWE:DWEL1 0.25;:SOUR:SWE:POIN 11;:LIST:TYPE LIST;:INIT:CONT ON;:TRIG:SOUR BUS;:INIT")
    assert float(inst.query(":SOUR:SWE:DWEL1?")) == 0.25 and inst.query(":SOUR:SWE:POIN?") == "+11"
    assert inst.query("LIST:TYPE?;:INIT:CONT?;:TRIG:SOUR?") == "LIST;1;BUS"
    inst.write(":SOUR:AM:DEPT 30;:SOUR:AM:SOUR EXT;:SOUR:AM:INT:FREQ 1 kHz;:SOUR:AM:INT:FUNC:SHAP TRI")
    assert float(inst.query(":SOUR:AM:DEPT?")) == 30.0 and inst.query(":SOUR:AM:SOUR?") == "EXT"
    assert float(inst.query("AM:INT:FREQ?")) == 1e3 and inst.query("AM:INT:FUNC:SHAP?") == "TRI"
    inst.write("FM:DEV 50 kHz;:PULM:SOUR EXT;:PULM:SOUR:INT FRUN;:PULM:INT:FREQ 2 kHz")
    assert float(inst.query("FM:DEV?")) == 50e3 and inst.query("PULM:SOUR?;:PULM:SOUR:INT?") == "EXT;FRUN"
    assert float(inst.query("PULM:INT:FREQ?")) == 2e3
    inst.write(":SOUR:LFO:AMPL 1.5 V;:SOUR:LFO:SOUR FUNC")
    assert float(inst.query(":SOUR:LFO:AMPL?")) == 1.5 and inst.query("LFO:SOUR?") == "FUNC"
    assert inst.query("DIAG:INFO:WLIC?") == '""' and inst.query("FREQ:REF?") == "+0.00000000E+00"
    assert inst.query("SYST:ERR?") == '0,"No error"' and inst.query("AM?") == "0"
    with caplog.at_level(logging.WARNING, logger="hilt.sims"):
        inst.write("AM:STAT ON")  # modulation itself stays off: refused, logged as missing
        assert inst.query("SYST:ERR?").startswith("-224,") and inst.query("AM?") == "0"
    inst.write(":SYST:PRES")  # preset forgets the kept settings
    assert inst.query(":SOUR:SWE:POIN?") == "+101"


@pytest.mark.parametrize("cls", [SimSGS100A, SimSMA100B])
def test_rs_fixed_frequency_phase_reference_preset_and_clock(visa_resource, clock, cls: type) -> None:
    sim, inst = visa_resource(cls)
    inst.write("SOUR:FREQ:FIX 2 GHz;:SOUR:FREQ:MODE CW;:SOUR:PHAS 45")
    assert inst.query("SOUR:FREQ:FIX?") == "2000000000" and inst.query("SOUR:FREQ:MODE?") == "CW"
    assert inst.query("SOUR:PHAS?") == "45"
    inst.write("SOUR:PHAS:REF")  # the present phase becomes 0
    assert inst.query("SOUR:PHAS?") == "0"
    inst.write("SOUR:FREQ:MODE SWE")  # sweeps are not simulated: refused
    assert inst.query("SYST:ERR?").startswith("-224,") and inst.query("SOUR:FREQ:MODE?") == "CW"
    clock.advance(86400 + 3723)
    assert inst.query("SYST:DATE?") == "2025,1,2" and inst.query("SYST:TIME?") == "1,2,3"
    inst.write("OUTP ON;:SYST:PRES")
    assert inst.query("OUTP?") == "0" and inst.query("SOUR:FREQ?") == "1000000000"
