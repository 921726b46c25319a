"""SR860 from a plain pyvisa-py client: data capture, status, unknown commands.

Commands our driver never sends (CAPTURECFG, CAPTURELEN, CAPTURERATEMAX?, CAPTURERATE,
CAPTURESTART/STOP, CAPTURESTAT?, CAPTUREBYTES?, CAPTUREPROG?, CAPTUREVAL?, CAPTUREGET?, TRIG,
*STB?, *ESE), bytes as in the SR860 manual, chapter 4 "Data capture commands".
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from hilt.sims.srs_sr860 import SimSR860


def settle(inst) -> None:  # type: ignore[no-untyped-def]
    """Wait until every command sent so far has run (before the test moves the clock)."""
    assert inst.query("*OPC?") == "1"


def test_capture_fills_at_the_capture_rate_and_reads_back(visa_resource, clock) -> None:
    sim, inst = visa_resource(SimSR860)
    assert inst.query("OFLT?") == "10"  # 100 ms
    rate_max = float(inst.query("CAPTURERATEMAX?"))
    assert rate_max == pytest.approx(1.25e6 / 2**14)
    inst.write("CAPTURECFG XY;CAPTURELEN 2;CAPTURERATE 1")
    assert float(inst.query("CAPTURERATE?")) == pytest.approx(rate_max / 2)
    inst.write("CAPTURESTART ONE,IMM")
    settle(inst)
    assert int(inst.query("CAPTURESTAT?")) & 3 == 3  # recording, triggered
    clock.advance(1.0)
    samples = math.floor(rate_max / 2 * 1.0) + 1
    assert int(inst.query("CAPTUREBYTES?")) == 8 * samples  # X and Y, 4 bytes each
    # The buffer can only be read when capture is stopped: a range (execution) error.
    inst.write("*CLS;CAPTUREGET? 0,1")
    assert int(inst.query("*ESR?")) & 16
    clock.advance(10.0)  # 256 XY samples fill 2 kB: a one-shot capture stops by itself
    assert inst.query("CAPTURESTAT?") == "6"  # triggered, wrapped; no longer recording
    assert inst.query("CAPTUREBYTES?") == "2048"
    assert inst.query("CAPTUREPROG?") == "2"
    values = inst.query_binary_values("CAPTUREGET? 0,2", datatype="f", is_big_endian=False,
                                      container=np.array)
    assert values.size == 512
    first = [float(v) for v in inst.query("CAPTUREVAL? 0").split(",")]
    assert first == pytest.approx(values[:2].tolist(), rel=1e-6)
    assert np.all(np.abs(values) < 1e-6)  # no system: the quiet input, filtered


def test_capture_modes_and_software_trigger(visa_resource, clock) -> None:
    sim, inst = visa_resource(SimSR860)
    inst.write("CAPTURECFG XYRT;CAPTURELEN 2;CAPTURESTART CONT,SAMP")
    settle(inst)
    clock.advance(5.0)
    assert inst.query("CAPTUREBYTES?") == "0"  # one sample per trigger: time stores nothing
    inst.write("TRIG;TRIG")
    assert inst.query("CAPTUREBYTES?") == "32"  # 2 samples x 4 values x 4 bytes
    r_theta = [float(v) for v in inst.query("CAPTUREVAL? 1").split(",")][2:]
    assert r_theta[0] >= 0 and -180 <= r_theta[1] <= 180
    inst.write("CAPTURESTOP")
    # Trigger start: armed (nothing recorded) until TRIG, then periodic.
    inst.write("CAPTURECFG X;CAPTURESTART ONE,TRIG")
    settle(inst)
    clock.advance(2.0)
    assert inst.query("CAPTURESTAT?") == "0"
    inst.write("TRIG")
    settle(inst)
    clock.advance(1.0)
    assert int(inst.query("CAPTUREBYTES?")) == 4 * (math.floor(float(inst.query("CAPTURERATE?"))) + 1)
    # Continuous capture wraps and keeps going.
    inst.write("CAPTURESTOP;CAPTURESTART CONT,IMM")
    settle(inst)
    clock.advance(60.0)
    assert inst.query("CAPTURESTAT?") == "7"
    # Settings that change the capture are refused while it runs.
    inst.write("*CLS;CAPTURELEN 8")
    assert int(inst.query("*ESR?")) & 16 and inst.query("CAPTURELEN?") == "2"


def test_unknown_command_sets_the_command_error_bit_and_is_logged_once(visa_resource, caplog) -> None:
    sim, inst = visa_resource(SimSR860)
    inst.write("*CLS")
    with caplog.at_level(logging.WARNING, logger="hilt.sims"):
        inst.write("FROB 1")
        inst.write("FROB 2")
        assert inst.query("*ESR?") == "32"
    assert len([r for r in caplog.records if "FROB" in r.getMessage()]) == 1
    assert sim.unknown_commands == {"FROB": 2}


def test_signal_reference_and_output_settings(visa_resource) -> None:
    sim, inst = visa_resource(SimSR860)
    inst.write("*CLS;OFSL 3;OFLT 10")
    assert float(inst.query("ENBW?")) == pytest.approx(5 / 64 / 0.1)  # 24 dB/oct, 100 ms
    inst.write("HARM 3;FREQ 2000")
    assert float(inst.query("FREQDET?")) == 6000.0
    inst.write("FREQ 200000")  # 3 x 200 kHz is past 500 kHz: refused
    assert int(inst.query("*ESR?")) & 16 and float(inst.query("FREQ?")) == 2000.0
    inst.write("IRNG 4;ICPL 1;IGND 1;ISRC 1;IVMD 0;RSRC 3;SYNC 1")
    assert [inst.query(q) for q in ("IRNG?", "ICPL?", "IGND?", "ISRC?", "RSRC?", "SYNC?")] == \
        ["4", "1", "1", "1", "3", "1"]
    assert inst.query("ILVL?") == "0"  # a quiet input
    inst.write("COUT 0,1;COUT 1,1")
    r, theta = float(inst.query("OUTR? 0")), float(inst.query("OUTR? 1"))
    assert r >= 0 and -180 <= theta <= 180
    inst.write("CDSP 3,0")
    assert len(inst.query("SNAPD?").split(",")) == 4
    inst.write("AUXV 1,-3.25;SOFF 0.5")
    assert float(inst.query("AUXV? 1")) == -3.25 and float(inst.query("SOFF?")) == 0.5
    assert inst.query("OAUX? 0") == "0" and inst.query("*TST?") == "0"


def test_reference_interface_and_status_settings(visa_resource, clock) -> None:
    sim, inst = visa_resource(SimSR860)
    assert inst.query("*ESR?") == "128"  # PON
    inst.write("PHAS 45;TBMODE 1;HARMDUAL 3;BLADESLOTS 1;BLADEPHASE 12.5;REFM 1;RTRG 2;REFZ 1;ICUR 1")
    assert [inst.query(q) for q in ("PHAS?", "TBMODE?", "TBSTAT?", "HARMDUAL?", "BLADESLOTS?",
                                    "BLADEPHASE?", "REFM?", "RTRG?", "REFZ?", "ICUR?")] == \
        ["45", "1", "0", "3", "1", "12.5", "1", "2", "1", "1"]
    inst.write("FREQINT 1234.5")
    assert float(inst.query("FREQ?")) == 1234.5 and float(inst.query("FREQEXT?")) == 0.0  # no chopper
    inst.write("CEXP 2,2;COFA 0,1;COFP 0,12.5;CRAT 1,1;ARNG")
    assert [inst.query(q) for q in ("CEXP? 2", "COFA? 0", "COFP? 0", "CRAT? 1")] == ["2", "1", "12.5", "1"]
    clock.advance(3725.0)
    assert [inst.query(q) for q in ("TIME? 2", "TIME? 1", "TIME? 0", "DATE? 0")] == ["1", "2", "5", "1"]
    # Status: enables gate the summary bits of *STB?.
    inst.write("ERRE 255;LIAE 4;*ESE 16;*SRE 16;*PSC 0")
    assert [inst.query(q) for q in ("ERRE?", "LIAE?", "*ESE?", "*SRE?", "*PSC?", "ERRS?")] == \
        ["255", "4", "16", "16", "0", "0"]
    inst.write("SCAL 27;OFLT 0")  # 1 nV, 1 us: the input noise overloads the output
    inst.query("OUTP? 0")
    assert int(inst.query("*STB?")) & 8  # LIA summary (output overload enabled by LIAE 4)
    inst.write("*RST")
    assert inst.query("PHAS?") == "0" and inst.query("HARMDUAL?") == "1" and inst.query("SCAL?") == "0"
