"""Keysight 8164B from plain pyvisa-py: wavelength sweeps in simulated time, lambda logging read
as a binary block, triggers, the mainframe's slot queries: commands our driver never sends."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.sims.keysight_8164b import Sim8164B


def _sync(inst) -> None:  # type: ignore[no-untyped-def]
    """The writes before have been executed (a query answers after them)."""
    assert inst.query("*OPC?") == "1"


def test_continuous_sweep_with_lambda_logging(visa_resource, clock) -> None:
    sim, inst = visa_resource(Sim8164B)
    inst.write("sour0:wav:swe:mode CONT;:sour0:wav:swe:rep ONEW;:sour0:wav:swe:cycl 1")
    inst.write("sour0:wav:swe:star 1540nm;:sour0:wav:swe:stop 1550nm;:sour0:wav:swe:spe 5nm/s")
    inst.write("sour0:wav:swe:step 0.5nm;:trig0:outp STF;:sour0:am:stat 0;:sour0:wav:swe:llog 1")
    assert inst.query("sour0:wav:swe:chec?") == '0,"OK"'
    assert inst.query("sour0:wav:swe:exp?") == "+21"
    assert float(inst.query("sour0:wav:swe:spe?")) == pytest.approx(5e-9)
    assert inst.query("trig0:outp?") == "STF" and inst.query("sour0:wav:swe:llog?") == "1"
    inst.write("sour0:wav:swe STAR")
    _sync(inst)
    clock.advance(1.0)
    assert inst.query("sour0:wav:swe?") == "+1"
    assert float(inst.query("sour0:wav?")) == pytest.approx(1545e-9)
    assert sim.world.get(f"{sim.name}.wavelength_fn")(clock.now()) == pytest.approx(1545e-9)
    inst.write("sour0:wav 1530nm")  # refused while sweeping
    assert inst.query("syst:err?").startswith("-221,")
    clock.advance(1.5)
    assert inst.query("sour0:wav:swe?") == "+0" and inst.query("sour0:wav:swe:llog?") == "0"
    assert inst.query("sour0:read:poin? llog") == "+21"
    logged = inst.query_binary_values("sour0:read:data? llog", datatype="d", is_big_endian=False,
                                      container=np.array)
    assert logged == pytest.approx(np.linspace(1540e-9, 1550e-9, 21))


def test_lambda_logging_needs_its_prerequisites(visa_resource) -> None:
    sim, inst = visa_resource(Sim8164B)
    inst.write("sour0:wav:swe:mode CONT;:sour0:wav:swe:star 1540nm;:sour0:wav:swe:stop 1550nm")
    inst.write("trig0:outp DIS;:sour0:wav:swe:llog 1;:sour0:wav:swe STAR")
    assert inst.query("syst:err?").startswith("-221,")  # sweep parameters inconsistent
    assert inst.query("sour0:wav:swe:llog?") == "0" and inst.query("sour0:wav:swe?") == "+0"
    inst.write("sour0:wav:swe:star 1560nm")  # start above stop
    assert inst.query("sour0:wav:swe:chec?").startswith("-1,")


def test_stepped_two_way_sweep_pause_and_continue(visa_resource, clock) -> None:
    sim, inst = visa_resource(Sim8164B)
    inst.write("wav:swe:mode STEP;:wav:swe:rep TWOW;:wav:swe:cycl 1;:wav:swe:dwel 2")
    inst.write("wav:swe:star 1550nm;:wav:swe:stop 1552nm;:wav:swe:step 1nm;:wav:swe:spe 100nm/s")
    assert inst.query("wav:swe:mode?;:wav:swe:rep?;:wav:swe:cycl?") == "STEP;TWOW;+1"
    assert float(inst.query("wav:swe:dwel?")) == 2.0 and float(inst.query("wav:swe:step?")) == pytest.approx(1e-9)
    inst.write("wav:swe STAR")
    _sync(inst)
    clock.advance(1.0)
    assert float(inst.query("wav?")) == pytest.approx(1550e-9)  # dwelling on the start
    clock.advance(2.0)
    assert float(inst.query("wav?")) == pytest.approx(1551e-9)
    inst.write("wav:swe PAUS")
    _sync(inst)
    clock.advance(100.0)
    assert inst.query("wav:swe?") == "+0" and float(inst.query("wav?")) == pytest.approx(1551e-9)
    inst.write("wav:swe CONT")  # on towards the stop
    _sync(inst)
    clock.advance(0.01)
    assert float(inst.query("wav?")) == pytest.approx(1552e-9)
    inst.write("wav:swe STOP")
    assert inst.query("wav:swe?") == "+0"


def test_triggered_start_manual_steps_and_trigger_settings(visa_resource, clock) -> None:
    sim, inst = visa_resource(Sim8164B)
    inst.write("trig0:inp SWS;:trig:conf LOOP;:trig0:outp SWF")
    assert inst.query("trig0:inp?;:trig:conf?;:trig0:outp?") == "SWS;3;SWF"
    inst.write("wav:swe:mode CONT;:wav:swe:star 1540nm;:wav:swe:stop 1541nm;:wav:swe:spe 1nm/s;:wav:swe 1")
    _sync(inst)
    clock.advance(5.0)
    assert inst.query("wav:swe?") == "+1" and float(inst.query("wav?")) == pytest.approx(1550e-9)  # armed
    inst.write("wav:swe:soft")
    _sync(inst)
    clock.advance(0.5)
    assert float(inst.query("wav?")) == pytest.approx(1540.5e-9)
    inst.write("wav:swe 0;:trig0:inp IGN;:wav:swe:mode MAN;:wav:swe:step 0.5nm;:wav:swe 1")
    assert float(inst.query("wav?")) == pytest.approx(1540e-9)
    inst.write("wav:swe:soft")
    assert float(inst.query("wav?")) == pytest.approx(1540.5e-9)
    inst.write("wav:swe:soft;:wav:swe:soft")  # to the stop, then past it: over
    assert float(inst.query("wav?")) == pytest.approx(1541e-9) and inst.query("wav:swe?") == "+0"
    inst.write("trig0:outp BOGUS")
    assert inst.query("syst:err?").startswith("-224,")


def test_mainframe_slots_options_and_kept_settings(visa_resource) -> None:
    sim, inst = visa_resource(Sim8164B)
    assert inst.query("*OPT?") == "81600B, , , , "
    assert inst.query("slot0:idn?").startswith("Agilent Technologies,81600B,")
    assert inst.query("slot0:empt?") == "0" and inst.query("slot2:empt?") == "1"
    inst.write("slot2:idn?")  # nothing in slot 2
    assert inst.query("syst:err?").startswith("-241,")
    inst.write("sour0:pow:att 3.5;:sour0:am:stat 1;:sour0:wav:freq 1.5GHZ")
    assert float(inst.query("sour0:pow:att?")) == 3.5 and inst.query("sour0:am:stat?") == "1"
    assert float(inst.query("sour0:wav:freq?")) == 1.5e9
    inst.write("*ESE 36;*SRE 32")
    assert inst.query("*ESE?;*SRE?;*TST?") == "36;32;0"
    inst.write("*WAI;*CLS")
    assert inst.query("*ESR?") == "0"
