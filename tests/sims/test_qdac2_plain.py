"""QDevil QDAC-II from plain pyvisa-py: slew ramps, sweep and list generators with their
triggers, the current-sensing buffer, ranges and filters: commands our driver never sends, in
simulated time, and what the MZI chip sees of them."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.sims.mzi_chip import MZIChip
from hilt.sims.qdevil_qdac2 import SimQDac2


def _sync(inst) -> None:  # type: ignore[no-untyped-def]
    assert inst.query("*OPC?") == "1"


def test_slew_ramps_the_output_in_simulated_time_and_the_chip_sees_it(visa_resource, world, clock) -> None:
    chip = MZIChip(world, name="chip", heaters=["qdac"], errors="none")
    sim, inst = visa_resource(SimQDac2, name="qdac")
    inst.write("sour1:volt:slew 2;:sour1:volt 1")
    assert float(inst.query("sour1:volt:slew?")) == 2.0
    assert float(inst.query("sour1:volt?")) == 1.0 and float(inst.query("sour1:volt:last?")) == 0.0
    clock.advance(0.25)
    assert float(inst.query("sour1:volt:last?")) == pytest.approx(0.5)
    assert chip.voltages()[0] == pytest.approx(0.5)
    u_mid = chip.transfer_matrix()
    clock.advance(1.0)
    assert chip.voltages()[0] == pytest.approx(1.0)  # the chip follows without a new command
    assert not np.allclose(chip.transfer_matrix(), u_mid)
    inst.write("sour1:volt:slew inf;:sour1:volt -1")
    assert inst.query("sour1:volt:slew?") == "9.9e+37" and float(inst.query("sour1:volt:last?")) == -1.0


def test_sweep_waits_for_the_bus_trigger_then_steps(visa_resource, clock) -> None:
    sim, inst = visa_resource(SimQDac2)
    inst.write("sour4:volt:mode swe;:sour4:swe:star -1;:sour4:swe:stop 1;:sour4:swe:poin 5")
    inst.write("sour4:swe:dwel 0.1;:sour4:swe:dir up;:sour4:swe:gen step;:sour4:swe:coun 2")
    assert inst.query("sour4:swe:star?;:sour4:swe:stop?;:sour4:swe:poin?") == "-1;1;5"
    assert inst.query("sour4:swe:dir?;:sour4:swe:gen?;:sour4:swe:coun?") == "UP;STEP;2"
    assert float(inst.query("sour4:swe:time?")) == pytest.approx(0.5)
    inst.write("sour4:dc:trig:sour bus;:sour4:dc:del 0;:sour4:dc:init:cont off;:sour4:dc:init")
    assert inst.query("sour4:dc:trig:sour?;:sour4:dc:init:cont?") == "BUS;0"
    _sync(inst)
    clock.advance(1.0)
    assert float(inst.query("sour4:volt:last?")) == 0.0  # armed, not triggered
    inst.write("*TRG")
    _sync(inst)
    clock.advance(0.25)
    assert float(inst.query("sour4:volt:last?")) == pytest.approx(0.0)  # third point of five
    assert inst.query("sour4:swe:ncl?") == "2"
    clock.advance(0.4)  # 0.15 s into the second cycle: its second point
    assert float(inst.query("sour4:volt:last?")) == pytest.approx(-0.5) and inst.query("sour4:swe:ncl?") == "1"
    clock.advance(1.0)
    assert float(inst.query("sour4:volt:last?")) == pytest.approx(1.0) and inst.query("sour4:swe:ncl?") == "0"
    inst.write("sour4:swe:gen anal;:sour4:swe:coun -1;:sour4:dc:trig:sour imm;:sour4:dc:init")
    _sync(inst)
    clock.advance(0.25)  # an analog ramp from -1 to 1 over 0.5 s
    assert float(inst.query("sour4:volt:last?")) == pytest.approx(0.0)
    assert inst.query("sour4:swe:ncl?") == "-1"
    inst.write("sour4:dc:abor")
    _sync(inst)
    clock.advance(0.1)
    assert float(inst.query("sour4:volt:last?")) == pytest.approx(0.0)  # stopped where it was


def test_stepped_list_advances_one_point_per_internal_trigger(visa_resource, clock) -> None:
    sim, inst = visa_resource(SimQDac2)
    inst.write("sour2:volt:mode list;:sour2:list:volt 0.1,0.2,0.3;:sour2:list:volt:app 0.4")
    assert inst.query("sour2:list:poin?") == "4" and inst.query("sour2:list:volt?") == "0.1,0.2,0.3,0.4"
    inst.write("sour2:list:tmod step;:sour2:list:dir up;:sour2:list:dwel 0.01;:sour2:list:coun 1")
    assert inst.query("sour2:list:tmod?;:sour2:list:dir?;:sour2:list:coun?") == "STEP;UP;1"
    inst.write("sour2:dc:trig:sour int3;:sour2:dc:init")
    inst.write("tint 3")
    assert float(inst.query("sour2:volt:last?")) == pytest.approx(0.1)
    inst.write("tint 2")  # another internal trigger: not this generator's
    inst.write("tint 3")
    assert float(inst.query("sour2:volt:last?")) == pytest.approx(0.2)
    assert sim.world.get(f"{sim.name}.voltages")[1] == pytest.approx(0.2)
    inst.write("sour2:list:tmod auto;:sour2:list:dwel 0.1;:sour2:dc:trig:sour imm;:sour2:dc:init")
    _sync(inst)
    clock.advance(0.25)
    assert float(inst.query("sour2:volt:last?")) == pytest.approx(0.3)
    assert inst.query("sour2:list:ncl?") == "1"
    inst.write("tint 15")
    assert inst.query("syst:err?").startswith("-222,")


def test_current_sensing_buffer_fills_per_trigger(visa_resource, clock) -> None:
    sim, inst = visa_resource(SimQDac2)
    inst.write("sour5:volt 2;:sens5:rang low;:sens5:aper 0.01;:sens5:del 0;:sens5:coun 3")
    assert inst.query("sens5:rang?;:sens5:coun?") == "LOW;3" and float(inst.query("sens5:aper?")) == 0.01
    inst.write("sens5:nplc 1")
    assert float(inst.query("sens5:aper?")) == pytest.approx(0.02)  # one 50 Hz cycle
    inst.write("sens5:trig:sour bus;:sens5:init:cont off;:sens5:init")
    assert inst.query("sens5:trig:sour?;:sens5:init:cont?") == "BUS;0"
    inst.write("*TRG")
    _sync(inst)
    clock.advance(0.045)
    assert inst.query("sens5:data:poin?") == "2" and inst.query("sens5:ncl?") == "1"
    clock.advance(0.1)
    assert inst.query("sens5:data:rem?") == "0.002,0.002,0.002"  # 2 V over 1 kOhm
    assert inst.query("sens5:data:poin?") == "0"
    assert inst.query("sens5:data:last?") == "0.002" and inst.query("fetc5?") == "0.002"
    inst.write("sens5:init;:sens5:abor;*TRG")  # aborted before its trigger: nothing measured
    assert inst.query("sens5:ncl?") == "0" and inst.query("sens5:data:poin?") == "0"


def test_ranges_filters_and_status(visa_resource) -> None:
    sim, inst = visa_resource(SimQDac2)
    inst.write("sour3:rang low;:sour3:filt med;:sour3:volt:trig 0.5")
    assert inst.query("sour3:rang?;:sour3:filt?;:sour3:volt:trig?") == "LOW;MED;0.5"
    inst.write("sour3:volt 3")  # outside the low range
    assert inst.query("syst:err:coun?") == "1" and inst.query("syst:err?").startswith("-222,")
    inst.write("sour3:rang high;:sour3:volt 3;:sour3:rang low")  # 3 V on the output: no low range
    assert inst.query("syst:err?").startswith("-221,")
    inst.write("sour3:dc:trig:sour int1;:sour3:dc:init;:tint 1")  # fixed mode: goes to the triggered level
    assert float(inst.query("sour3:volt:last?")) == 0.5
    inst.write("*ESE 20;*SRE 32;*WAI;*CLS")
    assert inst.query("*ESE?;*SRE?;*TST?;*ESR?") == "20;32;0;0"
