"""Contract tests: every driver that claims a kind, against its simulator, through the kind's
interface only: set, read back (within the instrument's resolution), read measurements of the
right shape and type, then ``safe_state()`` and check what the simulated world sees.

The cases come from the registry (``kinds`` on each driver): a new driver of a known kind is
tested here by declaring the kind, nothing else.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from kind_cases import drivers_of

from hilt.errors import InstrumentTimeout, LimitError
from hilt.instruments import CameraFrame
from hilt.instruments.kinds import (
    Accelerator,
    Camera,
    FrequencyMultiplier,
    HeaterDriver,
    LockIn,
    MotionStage,
    OpticalSwitch,
    PhotonicProcessorKind,
    PowerMeter,
    SignalSource,
    SpatialLightModulator,
    TunableLaser,
)


def _inside(param, preferred: float, lo_frac: float = 0.37) -> float:
    """``preferred`` if the parameter takes it, else a point inside its hardware range."""
    try:
        return param.validate(preferred)
    except LimitError:
        lo, hi = param.vals.min, param.vals.max
        return param.validate(lo + lo_frac * (hi - lo))


def _first_valid(param, candidates: list[float], avoid: float) -> float:
    for value in candidates:
        try:
            v = param.validate(value)
        except LimitError:
            continue
        if not math.isclose(v, avoid, rel_tol=1e-6):
            return v
    raise AssertionError(f"{param.full_name}: none of {candidates} is a valid setting")


def _series(lo_exp: int, hi_exp: int, mantissas: tuple[float, ...]) -> list[float]:
    return [float(f"{m * 10.0**e:.12g}") for e in range(lo_exp, hi_exp) for m in mantissas]


# -- signal sources ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("signal_source"))
def test_signal_source_contract(connected, name: str) -> None:
    bench = connected(name)
    src: SignalSource = bench.inst
    f = _inside(src.frequency, 10e9)
    p = _inside(src.power, -10.0)
    src.frequency.set(f)
    src.power.set(p)
    src.output.set(True)
    assert src.frequency.get() == pytest.approx(f, abs=1e-3)  # Hz, sent to the millihertz
    assert src.power.get() == pytest.approx(p, abs=0.01)  # dBm
    assert src.output.get() is True
    assert bench.world.get(f"{name}.output") is True
    assert bench.world.get(f"{name}.frequency") == pytest.approx(f, abs=1e-3)
    src.safe_state()
    assert src.output.get() is False
    assert bench.world.get(f"{name}.output") is False  # nothing leaves the source


# -- multiplier chains ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("frequency_multiplier"))
def test_frequency_multiplier_contract(connected, name: str) -> None:
    bench = connected(name)
    mult: FrequencyMultiplier = bench.inst
    (source_bench,) = bench.parts.values()
    assert isinstance(mult.source, SignalSource)
    assert isinstance(mult.factor, int) and mult.factor >= 1
    lo, hi = mult.frequency.vals.min, mult.frequency.vals.max
    step = mult.factor * 1e6  # a source frequency on a whole MHz
    f = round((lo + 0.4 * (hi - lo)) / step) * step
    assert mult.synthesizer_frequency(f) == pytest.approx(f / mult.factor)
    mult.frequency.set(f)
    mult.output.set(True)
    assert mult.frequency.get() == pytest.approx(f, abs=1e-3 * mult.factor)
    assert mult.source.frequency.get() == pytest.approx(f / mult.factor, abs=1e-3)
    dbm = mult.expected_output_power(f)
    assert isinstance(dbm, float) and -60.0 < dbm < 40.0  # a chain's output, dBm
    with pytest.raises(LimitError):
        mult.expected_output_power(2 * hi)
    src_name = source_bench.inst.name
    assert bench.world.get(f"{src_name}.output") is True
    mult.safe_state()
    assert mult.output.get() is False
    assert bench.world.get(f"{src_name}.output") is False  # the source feeding the chain is off


# -- lock-in amplifiers --------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("lock_in"))
def test_lock_in_contract(connected, name: str) -> None:
    bench = connected(name)
    li: LockIn = bench.inst
    li.frequency.set(1234.5)
    li.phase.set(12.5)
    sens = _first_valid(li.sensitivity, _series(-6, 0, (1, 2, 5))[::-1], li.sensitivity.get())
    tau = _first_valid(li.time_constant, _series(-3, 1, (1, 3)), li.time_constant.get())
    li.sensitivity.set(sens)
    li.time_constant.set(tau)
    assert li.frequency.get() == pytest.approx(1234.5, rel=1e-5)
    assert li.phase.get() == pytest.approx(12.5, abs=0.01)
    assert li.sensitivity.get() == pytest.approx(sens, rel=1e-6)
    assert li.time_constant.get() == pytest.approx(tau, rel=1e-6)
    with pytest.raises(LimitError):
        li.sensitivity.set(sens * 1.37)  # not a table value: refused before sending
    bench.clock.advance(10 * tau)
    readings = [li.x(), li.y(), li.r(), li.theta()]
    assert all(isinstance(v, float) and math.isfinite(v) for v in readings)
    assert readings[2] >= 0.0 and -180.0 <= readings[3] <= 180.0
    snap = li.snap("x", "y")
    assert isinstance(snap, tuple) and len(snap) == 2 and all(isinstance(v, float) for v in snap)
    assert len(li.snap()) == 2  # X and Y by default
    li.auto_gain()
    li.auto_phase()
    assert isinstance(li.overloaded(), bool)
    assert li.sensitivity.get() > 0
    amplitude = bench.world.get(f"{name}.amplitude")
    li.safe_state()
    after = bench.world.get(f"{name}.amplitude")
    assert after <= amplitude
    assert after == pytest.approx(bench.sim.amplitude_range[0])  # reference output at its minimum


# -- power meters --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("power_meter"))
def test_power_meter_contract(connected, name: str) -> None:
    bench = connected(name)
    pm: PowerMeter = bench.inst
    assert isinstance(pm.n_ports, int) and pm.n_ports >= 1
    watts = pm.read_all()
    assert isinstance(watts, np.ndarray) and watts.shape == (pm.n_ports,)
    assert watts.dtype.kind == "f" and np.all(np.isfinite(watts))
    assert np.all(np.abs(watts) < 1.0)  # W: no light on the simulated bench, noise only
    before = bench.world.state()
    pm.safe_state()
    assert bench.world.state().keys() == before.keys()  # a meter's safe state changes nothing
    assert pm.read_all().shape == (pm.n_ports,)


# -- optical switches ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("optical_switch"))
def test_optical_switch_contract(connected, name: str) -> None:
    bench = connected(name)
    switch: OpticalSwitch = bench.inst
    n = switch.n_channels
    assert isinstance(n, int) and n >= 2
    for channel in (n, 1, 2):
        switch.channel.set(channel)
        assert switch.channel.get() == channel
        assert bench.world.get(f"{name}.channel") == channel  # the route the world's light takes
    before = [e for e in switch.transport.exchanges if e.direction == "->"]
    for bad in (0, n + 1):
        with pytest.raises(LimitError):
            switch.channel.set(bad)
    assert [e for e in switch.transport.exchanges if e.direction == "->"] == before
    switch.safe_state()
    assert bench.world.get(f"{name}.channel") == 2  # the safe state leaves the route


# -- tunable lasers ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("tunable_laser"))
def test_tunable_laser_contract(connected, name: str) -> None:
    bench = connected(name)
    laser: TunableLaser = bench.inst
    wl = round(_inside(laser.wavelength, 1550.123e-9) * 1e12) * 1e-12
    p = _inside(laser.power, 1.5e-3)
    laser.wavelength.set(wl)
    laser.power.set(p)
    laser.output.set(True)
    assert laser.wavelength.get() == pytest.approx(wl, abs=1e-13)  # m, to 0.1 pm
    assert laser.power.get() == pytest.approx(p, rel=1e-4)  # W
    assert laser.output.get() is True
    assert bench.world.get(f"{name}.wavelength") == pytest.approx(wl, abs=1e-13)
    assert bench.world.get(f"{name}.power_w") == pytest.approx(p, rel=1e-4)
    assert bench.world.get(f"{name}.output") is True
    laser.safe_state()
    assert laser.output.get() is False
    assert bench.world.get(f"{name}.output") is False  # no light leaves the laser


# -- heater drivers ------------------------------------------------------------------------------
def _heater_volts(bench) -> np.ndarray:
    """What the heaters see, from the simulated world."""
    name = bench.inst.name
    volts = bench.world.get(f"{name}.voltages")
    if volts is None:
        volts = [bench.world.get(f"{name}.voltage")]
    return np.asarray(volts, dtype=float)


@pytest.mark.parametrize("name", drivers_of("heater_driver"))
def test_heater_driver_contract(connected, name: str) -> None:
    bench = connected(name)
    heaters: HeaterDriver = bench.inst
    n = heaters.n_channels
    assert isinstance(n, int) and n >= 1 and heaters.ramp_step > 0
    target = np.array([0.25 * (1 + k % 7) for k in range(n)])  # 0.25 .. 1.75 V
    checked = heaters.validate_voltages(target)
    assert len(checked) == n and all(isinstance(v, float) for v in checked)
    with pytest.raises(LimitError):
        heaters.set_voltages(np.zeros(n + 1))  # wrong length: nothing sent
    with pytest.raises(LimitError):
        heaters.set_voltages(np.full(n, 1e6))
    heaters.set_voltages(target)
    read = heaters.get_voltages()
    assert isinstance(read, np.ndarray) and read.shape == (n,)
    np.testing.assert_allclose(read, target, atol=5e-4)  # V, within a 16-bit DAC step or two
    np.testing.assert_allclose(_heater_volts(bench), target, atol=5e-4)
    amps = heaters.get_currents()
    assert isinstance(amps, np.ndarray) and amps.shape == (n,) and amps.dtype.kind == "f"
    assert np.all(amps > 0) and np.all(amps < 0.1)  # A: a positive voltage over a resistive heater
    heaters.safe_state()
    np.testing.assert_allclose(heaters.get_voltages(), 0.0, atol=1e-9)
    np.testing.assert_allclose(_heater_volts(bench), 0.0, atol=1e-9)  # every heater at 0 V
    np.testing.assert_allclose(heaters.get_currents(), 0.0, atol=1e-9)


# -- motion stages -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("motion_stage"))
def test_motion_stage_contract(connected, name: str) -> None:
    bench = connected(name)
    stage: MotionStage = bench.inst
    axes = stage.axis_names
    assert isinstance(axes, tuple) and axes and all(isinstance(a, str) for a in axes)
    stage.home(wait=False)
    bench.clock.advance(1000.0)  # simulated time: the home search ends
    stage.wait_until_done(timeout=5.0)
    assert stage.position() == pytest.approx((0.0,) * len(axes), abs=1e-4)
    targets = {a: 1.5 - k for k, a in enumerate(axes)}  # mm
    stage.move_to(**targets, wait=False)
    assert stage.is_moving()
    bench.clock.advance(1000.0)
    stage.wait_until_done(timeout=5.0)
    assert not stage.is_moving()
    pos = stage.position()
    assert isinstance(pos, tuple) and len(pos) == len(axes)
    assert pos == pytest.approx(tuple(targets.values()), abs=1e-4)
    with pytest.raises(LimitError):
        stage.move_to(**{axes[0]: 1e6})
    # Safe state while moving: stopped where it is.
    stage.move_to(**{axes[0]: 10.0}, wait=False)
    bench.clock.advance(0.05)
    assert stage.is_moving()
    stage.safe_state()
    assert not stage.is_moving()
    where = bench.world.get(f"{name}.position_fn")
    stopped = where(bench.clock.now())
    bench.clock.advance(1000.0)
    assert where(bench.clock.now()) == pytest.approx(stopped)  # no motion after the stop
    assert stage.position()[0] < 10.0 - 1e-3


# -- photonic processors -------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("photonic_processor"))
def test_photonic_processor_contract(connected, name: str) -> None:
    bench = connected(name)
    chip: PhotonicProcessorKind = bench.inst
    report = chip.describe()
    assert {"mesh", "n_ports", "n_layers", "activation", "measures_internal"} <= report.keys()
    assert (report["n_ports"], report["n_layers"]) == (chip.n_ports, chip.n_layers)
    n, hpl = chip.n_ports, chip.heaters_per_layer
    volts = np.linspace(0.5, 2.0, hpl)
    for layer in range(chip.n_layers):
        chip.set_heaters(layer, volts)
    np.testing.assert_allclose(chip.get_heaters(chip.n_layers - 1), volts, atol=1e-6)  # f32 on the wire
    with pytest.raises(LimitError):
        chip.set_heaters(0, np.full(hpl, 1e3))
    chip.set_light(True, 1.0)
    rng = np.random.default_rng(0)
    inputs = (rng.normal(size=(5, n)) + 1j * rng.normal(size=(5, n))) / np.sqrt(2 * n)
    out, states = chip.run(inputs)
    assert out.shape == (5, n) and out.dtype.kind == "f" and np.all(out >= 0) and states == []
    out, states = chip.run(inputs, internal=True)
    assert out.shape == (5, n)
    if report["measures_internal"]:
        assert states and all(s.shape == (5, n) for s in states)
    assert bench.sim.state()["light_on"] is True
    chip.safe_state()
    state = bench.sim.state()
    assert state["light_on"] is False and state["max_volts"] == [0.0] * chip.n_layers
    np.testing.assert_array_equal(chip.get_heaters(0), 0.0)


# -- spatial light modulators -----------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("slm"))
def test_slm_contract(connected, name: str) -> None:
    from hilt.slm_lut import phase_to_grey

    bench = connected(name)
    slm: SpatialLightModulator = bench.inst
    slm.sleep = bench.clock.advance  # settle waits move simulated time, as on a fast-clock station
    rows, cols = slm.shape
    assert rows > 0 and cols > 0 and slm.bit_depth >= 1
    assert slm.pixel_pitch_m > 0 and slm.wavelength_m > 0 and slm.settle_s >= 0
    lut = slm.lut
    assert lut.shape == (1 << slm.bit_depth,) and lut.dtype.kind == "f"
    phase = np.random.default_rng(0).uniform(-10, 10, slm.shape)
    t0 = bench.clock.now()
    slm.show_phase(phase)
    assert bench.clock.now() - t0 >= slm.settle_s * (1 - 1e-9)  # it waited for the panel to settle
    np.testing.assert_array_equal(slm.shown(), phase_to_grey(phase, lut))
    np.testing.assert_array_equal(bench.world.get(f"{name}.shown"), phase_to_grey(phase, lut))
    top = (1 << slm.bit_depth) - 1
    slm.show_grey(np.full(slm.shape, top))
    assert np.all(slm.shown() == top)
    with pytest.raises(LimitError):
        slm.show_grey(np.full(slm.shape, top + 1))
    new_lut = lut * 1.02
    slm.set_lut(new_lut)
    np.testing.assert_array_equal(slm.lut, new_lut)
    slm.safe_state()
    assert not slm.shown().any() and not np.any(bench.world.get(f"{name}.shown"))


# -- cameras ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("camera"))
def test_camera_contract(connected, name: str) -> None:
    bench = connected(name)
    cam: Camera = bench.inst
    cam.sleep = bench.clock.advance  # waits for a frame move simulated time
    rows, cols = cam.shape
    assert rows > 0 and cols > 0 and cam.bit_depth >= 8 and cam.pixel_pitch_m > 0
    exposure = _inside(cam.exposure, 2e-3)
    cam.exposure.set(exposure)
    assert cam.exposure.get() == pytest.approx(exposure)
    gain = _inside(cam.gain, 3.0)
    cam.gain.set(gain)
    assert cam.gain.get() == pytest.approx(gain)
    with pytest.raises(LimitError):
        cam.exposure.set(cam.exposure.vals.max * 10)
    cam.set_roi(0, 0, cols // 2 * 2, rows // 2 * 2)
    cam.binning.set(2)
    cam.set_roi(2, 4, 16, 8)
    assert cam.roi() == (2, 4, 16, 8) and cam.binning.get() == 2
    with pytest.raises(LimitError):
        cam.set_roi(0, 0, cols + 2, 2)
    cam.flush()
    cam.trigger()
    frame = cam.grab(timeout=5.0)
    assert isinstance(frame, CameraFrame)
    assert frame.image.shape == (4, 8) and frame.image.dtype.kind == "u"
    assert int(frame.image.max()) < 1 << cam.bit_depth
    assert frame.exposure_s == pytest.approx(exposure) and frame.gain_db == pytest.approx(gain)
    cam.trigger()
    second = cam.grab(timeout=5.0)
    assert second.counter == frame.counter + 1 and second.timestamp_s >= frame.timestamp_s
    cam.trigger()
    cam.safe_state()
    with pytest.raises(InstrumentTimeout):
        cam.grab(timeout=0.0)  # the pending frame was dropped


# -- accelerators ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", drivers_of("accelerator"))
def test_accelerator_contract(connected, name: str) -> None:
    from hilt.board_protocol import AcceleratorModel, Layer

    bench = connected(name)
    board: Accelerator = bench.inst
    board.sleep = bench.clock.advance  # the board's latency passes in simulated time (a fast clock)
    limits = board.describe()
    assert {"rounding", "acc_bits", "requant", "layers", "max_batch"} <= limits.keys()
    assert board.status()["state"] == "no_model"
    model = AcceleratorModel((4, 1, 1), [Layer("dense", weight=np.eye(4, dtype=np.int8) * 2, bias=np.zeros(4),
                                               multiplier=np.array([2**30]), shift=np.array([0]))],
                             rounding=limits["rounding"], acc_bits=limits["acc_bits"])
    assert board.check_model(model) == model.encode()
    crc = board.load_model(model)
    status = board.status()
    assert status["state"] == "ready" and status["model_crc"] == crc
    x = np.array([[1, -2, 3, -128], [0, 5, -6, 127]], np.int8)
    out = board.run(x)
    assert out.dtype == np.int8 and out.shape == (2, 4)
    np.testing.assert_array_equal(out, x)  # weights 2, scale 0.5: the identity
    with pytest.raises(LimitError):
        board.run(np.full((1, 4), 1000))
    counters = board.read_counters()
    assert counters["samples"] == 2 and counters["batches"] == 1
    board.safe_state()
    assert board.status()["state"] == "ready" and not board.status()["results_ready"]
