"""Keysight N7744A from plain pyvisa-py: logging in simulated time (free-running and triggered),
a swept-wavelength measurement against a sweeping TSL-550 through the MZI chip, reference and
correction, trigger settings: commands our driver never sends."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.sims.keysight_n7744a import SimN7744A
from hilt.sims.mzi_chip import MZIChip
from hilt.sims.santec_tsl550 import SimTSL550


def _sync(inst) -> None:  # type: ignore[no-untyped-def]
    assert inst.query("*OPC?") == "1"


def _result(inst, port: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    return inst.query_binary_values(f"sens{port}:func:res?", datatype="f", is_big_endian=False,
                                    container=np.array)


def test_free_running_logging_fills_in_simulated_time(visa_resource, clock) -> None:
    sim, inst = visa_resource(SimN7744A)
    sim.world.set(f"{sim.name}.port_powers", np.array([1e-3, 2e-3, 0.0, 0.0]))
    inst.write("sens2:func:par:logg 5,100ms")
    assert inst.query("sens2:func:par:logg?") == "+5,+1.00000000E-01"
    assert inst.query("sens2:func:stat?") == "NONE,COMPLETE"
    inst.write("sens2:func:stat logg,star")
    _sync(inst)
    clock.advance(0.25)
    assert inst.query("sens2:func:stat?") == "LOGGING_STABILITY,PROGRESS"
    assert _result(inst, 2).tolist() == pytest.approx([2e-3, 2e-3])
    clock.advance(1.0)
    assert inst.query("sens2:func:stat?") == "LOGGING_STABILITY,COMPLETE"
    samples = inst.query_binary_values("sens2:func:res?", datatype="f", is_big_endian=False)
    assert samples == pytest.approx([2e-3] * 5)
    inst.write("sens2:func:stat stab,star")  # the stability function is not simulated
    assert inst.query("syst:err?").startswith("-224,")


def test_triggered_logging_takes_one_sample_per_trigger(visa_resource, clock) -> None:
    sim, inst = visa_resource(SimN7744A)
    sim.world.set(f"{sim.name}.port_powers", np.array([5e-4, 0.0, 0.0, 0.0]))
    inst.write("trig1:inp sme;:trig1:outp avg;:trig:conf loop")
    assert inst.query("trig1:inp?;:trig1:outp?;:trig:conf?") == "SME;AVG;3"
    inst.write("sens1:func:par:logg 3,1ms;:sens1:func:stat logg,star")
    _sync(inst)
    clock.advance(10.0)
    assert _result(inst, 1).size == 0  # nothing without a trigger
    inst.write(":trig 1")
    inst.write(":trig nodea;:trig 2")  # the second output trigger changes nothing here
    assert _result(inst, 1).tolist() == pytest.approx([5e-4, 5e-4])
    inst.write(":trig 1;:trig 1")  # the third completes the logging, the fourth finds none
    assert inst.query("sens1:func:stat?") == "LOGGING_STABILITY,COMPLETE"
    assert _result(inst, 1).size == 3
    inst.write("trig1:inp cme;:sens1:func:par:logg 4,0.5;:sens1:func:stat logg,star")
    inst.write(":trig 1")  # the first trigger starts a complete measurement
    _sync(inst)
    clock.advance(2.0)
    assert inst.query("sens1:func:stat?") == "LOGGING_STABILITY,COMPLETE"
    inst.write("sens1:func:par:logg 100,1;:sens1:func:stat logg,star")  # free running again? no: CME
    inst.write("sens1:func:stat logg,stop")  # stopped before any trigger: an empty result
    assert inst.query("sens1:func:stat?") == "LOGGING_STABILITY,COMPLETE" and _result(inst, 1).size == 0


def test_swept_wavelength_measurement_sees_the_grating_passband(visa_resource, world, clock) -> None:
    chip = MZIChip(world, name="chip", laser="laser", meter=("pm",), errors="none", bandwidth=40e-9)
    world.attach("chip", chip)
    _, laser = visa_resource(SimTSL550, name="laser")
    laser.read_termination = laser.write_termination = "\r"
    sim, meter = visa_resource(SimN7744A, name="pm", system="chip", variant="N7745A")
    laser.write(":POW:STAT 1;:WAV:SWE:STAR 1500;:WAV:SWE:STOP 1600;:WAV:SWE:MOD 1;:WAV:SWE:SPE 100")
    assert laser.query("*OPC?") == "1"
    meter.write("sens8:func:par:logg 10,0.1;:sens8:func:stat logg,star")  # the lit output
    laser.write(":WAV:SWE 1")
    _sync(meter)
    assert laser.query("*OPC?") == "1"
    clock.advance(1.5)
    samples = _result(meter, 8)
    # Sample k was taken at (k + 1) x 0.1 s: the laser was at 1510 + 10 k nm then.
    wavelengths = 1510e-9 + 10e-9 * np.arange(10)
    coupling = np.array([chip.coupling(wavelength=w) for w in wavelengths])
    assert samples.size == 10 and np.argmax(samples) == 4  # 1550 nm, the passband's centre
    assert samples / coupling == pytest.approx(np.full(10, samples[4] / coupling[4]), rel=1e-4)


def test_reference_correction_initiate_and_status(visa_resource) -> None:
    sim, inst = visa_resource(SimN7744A)
    sim.world.set(f"{sim.name}.port_powers", np.array([1e-3, 0.0, 0.0, 0.0]))
    inst.write("sens1:pow:ref toref,-10dbm;:sens1:pow:ref:stat 1")
    assert float(inst.query("sens1:pow:ref? toref")) == -10.0 and inst.query("sens1:pow:ref:stat?") == "1"
    assert float(inst.query("read1:pow?")) == pytest.approx(10.0)  # 0 dBm is 10 dB above the reference
    inst.write("sens1:pow:ref:stat 0;:sens1:corr 3")
    assert float(inst.query("sens1:corr?")) == 3.0
    assert float(inst.query("fetc1:pow?")) == pytest.approx(3.0)
    inst.write("sens1:pow:ref tomod,0")
    assert inst.query("syst:err:coun?") == "1" and inst.query("syst:err:all?").startswith("-224,")
    inst.write("sens1:pow:rang -10;:sens1:pow:rang:auto 0")
    assert float(inst.query("sens1:pow:rang?")) == -10.0 and inst.query("sens1:pow:rang:auto?") == "0"
    inst.write("init1;:init1:cont 1")
    assert inst.query("init1:cont?") == "1"
    inst.write("*ESE 16;*SRE 32;*WAI")
    assert inst.query("*ESE?;*SRE?;*TST?;*ESR?") == "16;32;0;16"  # the refused TOMOD: execution error
    assert inst.query("*ESR?") == "0"
