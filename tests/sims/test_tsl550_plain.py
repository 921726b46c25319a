"""Santec TSL-550 from plain pyvisa-py: sweeps in simulated time, triggers, the wavelength log,
attenuation and shutter, and the settings our driver never sends."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.sims.santec_tsl550 import SimTSL550


@pytest.fixture
def tsl(visa_resource):  # type: ignore[no-untyped-def]
    sim, inst = visa_resource(SimTSL550)
    inst.read_termination = inst.write_termination = "\r"
    return sim, inst


def test_continuous_sweep_moves_in_simulated_time_and_logs_every_step_trigger(tsl, clock) -> None:
    sim, inst = tsl
    inst.write(":WAV:SWE:STAR 1540;:WAV:SWE:STOP 1550;:WAV:SWE:MOD 1;:WAV:SWE:SPE 10")
    inst.write(":TRIG:OUTP 3;:TRIG:OUTP:STEP 1.0;:TRIG:OUTP:SETT 1")
    assert inst.query(":WAV:SWE:STAR?;:WAV:SWE:STOP?;:WAV:SWE:MOD?") == "1540.0000;1550.0000;1"
    inst.write(":WAV:SWE 1")
    assert inst.query(":WAV:SWE?") == "1"
    assert inst.query("*OPC?") == "1"  # the writes before are done
    clock.advance(0.25)
    assert float(inst.query(":WAV?")) == pytest.approx(1542.5)
    assert sim.world.get(f"{sim.name}.wavelength_fn")(clock.now()) == pytest.approx(1542.5e-9)
    assert inst.query(":READ:POIN?") == "3"  # 1540, 1541, 1542 passed
    inst.write(":WAV 1545")  # refused while sweeping
    assert inst.query(":SYST:ERR?").startswith("-221,")
    assert inst.query("*OPC?") == "1"  # the writes before are done
    clock.advance(1.0)
    assert inst.query(":WAV:SWE?") == "0" and inst.query(":WAV?") == "1550.0000"
    assert inst.query(":WAV:SWE:COUN?") == "1"
    assert inst.query(":READ:POIN?") == "11"
    logged = inst.query_binary_values(":READ:DAT?", datatype="i", is_big_endian=False, container=np.array)
    assert logged.tolist() == [15400000 + 10000 * k for k in range(11)]  # 0.1 pm units
    powers = inst.query_binary_values(":READ:DAT:POW?", datatype="f", is_big_endian=False, container=np.array)
    assert powers.shape == (11,) and powers == pytest.approx(0.0, abs=1e-3)  # 1 mW


def test_external_trigger_holds_the_sweep_until_the_software_trigger(tsl, clock) -> None:
    sim, inst = tsl
    inst.write(":WAV:SWE:STAR 1560;:WAV:SWE:STOP 1550;:WAV:SWE:SPE 5;:TRIG:INP:EXT 1")
    assert inst.query(":TRIG:INP:EXT?") == "1"
    inst.write(":WAV:SWE:STAT 1")
    assert inst.query("*OPC?") == "1"  # the writes before are done
    clock.advance(10.0)
    assert inst.query(":WAV:SWE?") == "3" and inst.query(":WAV?") == "1550.0000"  # waiting
    inst.write(":TRIG:INP:SOFT")
    assert inst.query("*OPC?") == "1"  # the writes before are done
    clock.advance(1.0)
    assert inst.query(":WAV:SWE?") == "1" and float(inst.query(":WAV?")) == pytest.approx(1555.0)
    inst.write(":WAV:SWE 0")  # stop: the laser stays where the sweep was
    assert inst.query(":WAV:SWE?") == "0" and float(inst.query(":WAV?")) == pytest.approx(1555.0)
    inst.write(":TRIG:INP:SOFT")  # nothing waits for it
    assert inst.query(":SYST:ERR?").startswith("-221,")


def test_two_way_step_sweep_with_dwell_and_cycles(tsl, clock) -> None:
    sim, inst = tsl
    inst.write(":WAV:SWE:STAR 1550;:WAV:SWE:STOP 1552;:WAV:SWE:MOD 2;:WAV:SWE:SPE 100")
    inst.write(":WAV:SWE:STEP 1;:WAV:SWE:DWEL 1;:WAV:SWE:CYCL 2;:WAV:SWE:DEL 0.5")
    assert inst.query(":WAV:SWE:STEP?;:WAV:SWE:DWEL?;:WAV:SWE:CYCL?;:WAV:SWE:DEL?") == "1.0000;1.0;2;0.5"
    inst.write(":WAV:SWE 1")
    assert inst.query("*OPC?") == "1"  # the writes before are done
    clock.advance(0.5)
    assert inst.query(":WAV?") == "1550.0000"  # dwelling on the first step
    assert inst.query("*OPC?") == "1"  # the writes before are done
    clock.advance(1.0)
    assert inst.query(":WAV?") == "1551.0000"
    assert inst.query("*OPC?") == "1"  # the writes before are done
    clock.advance(20.0)
    assert inst.query(":WAV:SWE?") == "0" and inst.query(":WAV:SWE:COUN?") == "4"  # 2 cycles x 2 ways
    assert inst.query(":WAV?") == "1550.0000"  # back at the start
    inst.write(":WAV:SWE:SPE 7")  # not one of the speeds
    assert inst.query(":SYST:ERR?").startswith("-224,")


def test_repeating_sweep_runs_until_stopped(tsl, clock) -> None:
    sim, inst = tsl
    inst.write(":WAV:SWE:STAR 1550;:WAV:SWE:STOP 1551;:WAV:SWE:SPE 1")
    inst.write(":WAV:SWE:STAT:REP")
    assert inst.query("*OPC?") == "1"  # the writes before are done
    clock.advance(3.5)
    assert inst.query(":WAV:SWE?") == "1" and int(inst.query(":WAV:SWE:COUN?")) == 3
    inst.write(":WAV:SWE 0")
    assert inst.query(":WAV:SWE?") == "0"


def test_frequency_attenuation_shutter_and_kept_settings(tsl) -> None:
    sim, inst = tsl
    inst.write(":FREQ 193.41449")
    assert float(inst.query(":WAV?")) == pytest.approx(1550.0, abs=1e-3)
    assert float(inst.query(":FREQ?")) == pytest.approx(193.41449, abs=1e-5)
    inst.write(":FREQ:SWE:STAR 194;:FREQ:SWE:STOP 193")
    assert float(inst.query(":WAV:SWE:STAR?")) == pytest.approx(1545.32, abs=0.01)
    assert float(inst.query(":FREQ:SWE:STOP?")) == pytest.approx(193.0, abs=1e-5)
    inst.write(":FREQ:SWE:STEP 0.1")  # 100 GHz at the start wavelength (1545.32 nm): 0.797 nm
    assert float(inst.query(":WAV:SWE:STEP?")) == pytest.approx(0.7966, abs=1e-3)
    assert float(inst.query(":FREQ:SWE:STEP?")) == pytest.approx(0.1, abs=1e-4)
    inst.write(":WAV:OFFS 0.05;:WAV:FIN 10;:WAV:UNIT 1")
    assert float(inst.query(":WAV?")) == pytest.approx(1550.051, abs=1e-3)
    inst.write(":WAV:FINETUNING:DIS")
    assert inst.query(":WAV:FIN?;:WAV:OFFS?;:WAV:UNIT?") == "0.00;0.0500;1"
    inst.write(":POW:UNIT 1")
    assert inst.query(":POW:UNIT?") == "1" and inst.query(":POW?") == "1.0000"  # mW
    inst.write(":POW:UNIT 0;:POW:STAT 1;:POW:ATT:AUT 0;:POW:ATT 10")
    assert inst.query(":POW:ATT?;:POW:ATT:AUT?") == "10.00;0"
    assert inst.query(":POW:ACT?") == "0.000"  # 10 mW less 10 dB
    assert sim.world.get(f"{sim.name}.power_w") == pytest.approx(1e-3)
    inst.write(":POW:SHUT 1")
    assert inst.query(":POW:SHUT?") == "1" and sim.world.get(f"{sim.name}.output") is False
    assert inst.query(":POW:ACT?") == "-40.000"
    for header, value in ((":COHC", "1"), (":AM:STAT", "1"), (":AM:SOUR", "3"), (":TRIG:INP:EXT:ACT", "1"),
                          (":TRIG:INP:STAN", "1"), (":TRIG:OUTP:ACT", "1"), (":TRIG:THR", "1")):
        inst.write(f"{header} {value}")
        assert inst.query(f"{header}?") == value
    inst.write(":AM:SOUR 2")
    assert inst.query(":SYST:ERR?").startswith("-224,")
    assert inst.query(":SYST:ALER?") == '0,"No alert"' and inst.query(":SYST:LOCK?") == "1"
    inst.write("*ESE 60;*SRE 32")
    assert inst.query("*ESE?;*SRE?;*TST?") == "60;32;0"
    inst.write("*WAI")
    assert inst.query("*ESR?") == "16"  # the refused AM:SOUR 2: execution error, read and cleared
    assert inst.query("*ESR?") == "0"
