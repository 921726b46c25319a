"""The slm_optics world system (sims/slm_optics.py) and the SLM and camera simulators over it:
power through the lens, the spot a grating moves, the liquid crystal settling on the simulated
clock, and the camera's EMVA 1288 statistics read back through the real driver stack."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from hilt.drivers.hilt_camera import HiltCamera
from hilt.drivers.hilt_slm import HiltSLM
from hilt.errors import ConfigError
from hilt.sims.camera import SimCamera
from hilt.sims.server import serve
from hilt.sims.slm import SimSLM
from hilt.sims.slm_optics import SlmOptics
from hilt.sims.world import SimClock, World
from hilt.slm_lut import linear_lut, phase_to_grey


def grating(shape: tuple[int, int], period: float) -> np.ndarray:
    return phase_to_grey(np.tile(2 * np.pi * np.arange(shape[1]) / period, (shape[0], 1)), linear_lut(8))


def test_the_lens_conserves_power_onto_the_camera() -> None:
    world = World(seed=0, errors="none", clock=SimClock("manual"))
    bench = SlmOptics(world, laser=None, power_w=1e-3, attenuation_db=60)
    power = bench.camera_power(1.0)
    # 1 uW reaches the camera; a flat SLM focuses it into one spot well inside the sensor.
    assert power.sum() == pytest.approx(1e-9, rel=0.02)
    peak = np.unravel_index(power.argmax(), power.shape)
    assert peak == (119, 159) or peak == (120, 160)  # the sensor's centre (no hidden offset)


def test_a_grating_moves_the_spot_as_the_lens_predicts_and_the_hidden_errors_shift_it() -> None:
    for errors in ("none", "severe"):
        world = World(seed=2, errors=errors, clock=SimClock("manual"))
        bench = SlmOptics(world, laser=None)
        flat = bench.camera_power(1.0)
        bench.show(grating(bench.slm_spec.shape, 32), 1.0)
        tilted = bench.camera_power(2.0)
        shift = np.argmax(tilted.sum(axis=0)) - np.argmax(flat.sum(axis=0))
        f_ratio = 1 + bench.focal_error
        assert abs(shift - bench.spot_shift_px(32) * f_ratio) <= 1.0
        if errors == "none":
            assert bench.focal_error == 0 and bench.camera_offset_m == (0.0, 0.0)
        else:
            assert bench.focal_error != 0 and bench.camera_offset_m != (0.0, 0.0)


def test_free_space_propagation_conserves_power_and_a_grating_walks_the_beam() -> None:
    """No lens: the camera 5 mm behind the SLM; a grating of 16 pixels tilts the beam by
    lambda / (16 p), so it walks z lambda / (16 p) across the camera (12.1 camera pixels)."""
    world = World(seed=0, errors="none", clock=SimClock("manual"))
    bench = SlmOptics(world, laser=None, power_w=1e-3, attenuation_db=60, optics="free_space", distance_m=5e-3)
    flat = bench.camera_power(1.0)
    assert flat.sum() == pytest.approx(1e-9, rel=0.01)
    bench.show(grating(bench.slm_spec.shape, 16), 1.0)
    tilted = bench.camera_power(2.0)
    cols = np.arange(flat.shape[1])
    walk = (tilted.sum(axis=0) @ cols) / tilted.sum() - (flat.sum(axis=0) @ cols) / flat.sum()
    predicted = 5e-3 * 1.55e-6 / (16 * bench.slm_spec.pixel_pitch) / bench.sensor_spec.pixel_pitch
    assert walk == pytest.approx(predicted, rel=0.01)


def test_a_diffuser_makes_speckle_that_the_slm_can_focus_again() -> None:
    """Behind a diffuser imaged onto the SLM the camera sees speckle; showing the conjugate of the
    diffuser's phase (what a wavefront-shaping loop would find) brings the focus back."""
    world = World(seed=4, errors="none", clock=SimClock("manual"))
    clear = SlmOptics(world, laser=None).camera_power(1.0)
    bench = SlmOptics(world, name="scatter", laser=None, diffuser={"correlation_px": 10})
    speckle = bench.camera_power(1.0)
    # Scattered over lambda f / (10 p), about the sensor's width: half the light still lands on
    # it, a hundred times dimmer at its brightest.
    assert 0.3 < speckle.sum() / clear.sum() < 0.7
    assert speckle.max() < 0.03 * clear.max()
    conjugate = phase_to_grey(-bench.diffuser_phase, linear_lut(8))
    bench.show(conjugate, 1.0)
    refocused = bench.camera_power(2.0)
    assert refocused.max() > 0.9 * clear.max()


def test_an_exposure_during_settling_sees_less_of_the_new_frame() -> None:
    world = World(seed=0, errors="none", clock=SimClock("manual"))
    bench = SlmOptics(world, laser=None)
    bench.show(grating(bench.slm_spec.shape, 32), 1.0)
    tau = bench.slm_spec.settle_tau
    first_order = np.argmax(bench.camera_power(1.0 + 20 * tau).sum(axis=0))
    early = bench.camera_power(1.0 + 0.3 * tau)[:, first_order].sum()
    late = bench.camera_power(1.0 + 20 * tau)[:, first_order].sum()
    assert early < 0.7 * late
    assert bench.settling(1.0 + 0.3 * tau) and not bench.settling(1.0 + 20 * tau)


def test_bad_options_are_config_errors() -> None:
    world = World(seed=0)
    with pytest.raises(ConfigError, match="unknown option"):
        SlmOptics(world, laser=None, slm={"pixels": 3})
    with pytest.raises(ConfigError, match="errors"):
        SlmOptics(world, laser=None, errors="terrible")
    with pytest.raises(ConfigError, match="focal_length_m"):
        SlmOptics(world, laser=None, focal_length_m=0)
    with pytest.raises(ConfigError, match="optics"):
        SlmOptics(world, laser=None, optics="telescope")


@pytest.fixture
def bench_stack() -> Iterator[tuple[World, SlmOptics, HiltSLM, HiltCamera]]:
    world = World(seed=7, errors="mild", clock=SimClock("manual"))
    bench = SlmOptics(world, name="bench", laser=None, power_w=1e-3)
    world.attach("bench", bench)
    servers = [serve(SimSLM(world, name="slm", system="bench")), serve(SimCamera(world, name="cam", system="bench"))]
    slm, cam = HiltSLM(servers[0].address, name="slm"), HiltCamera(servers[1].address, name="cam")
    for inst in (slm, cam):
        inst.sleep = world.clock.advance
        inst.connect()
    yield world, bench, slm, cam
    for inst in (slm, cam):
        inst.close()
    for server in servers:
        server.stop()


def _frames(cam: HiltCamera, n: int) -> np.ndarray:
    out = []
    for _ in range(n):
        cam.trigger()
        out.append(cam.grab(timeout=5.0).image.astype(np.float64))
    return np.stack(out)


def test_dark_frames_match_the_emva_mean_and_variance(bench_stack) -> None:  # noqa: ANN001
    world, bench, slm, cam = bench_stack
    bench.fixed_power_w = 0.0  # laser off
    sensor = bench.sensor
    cam.gain.set(12.0)
    means = {}
    for exposure in (1e-3, 2.0):
        cam.exposure.set(exposure)
        frames = _frames(cam, 30)
        expected = sensor.expected(np.zeros(sensor.spec.shape), exposure, 12.0)
        variance = sensor.temporal_variance(np.zeros(sensor.spec.shape), exposure, 12.0)
        # Per pixel over 30 frames, averaged over the sensor: the analytic mean and variance.
        assert np.mean(frames.mean(axis=0) - expected) == pytest.approx(0.0, abs=0.05)
        assert np.mean(frames.var(axis=0, ddof=1)) == pytest.approx(np.mean(variance), rel=0.03)
        # The fixed pattern (DSNU) is the same in every frame: the pixel means follow it.
        assert np.corrcoef(frames.mean(axis=0).ravel(), sensor.dsnu_map.ravel())[0, 1] > 0.8
        means[exposure] = frames.mean()
    k = sensor._k(12.0)
    assert means[2.0] - means[1e-3] == pytest.approx(k * sensor.spec.dark_current * (2.0 - 1e-3), rel=0.05)


def test_lit_frames_follow_the_photon_transfer_of_the_sensor(bench_stack) -> None:  # noqa: ANN001
    world, bench, slm, cam = bench_stack
    slm.show_phase(np.zeros(slm.shape))
    cam.exposure.set(1e-3)
    frames = _frames(cam, 40)
    t = world.clock.now()
    photons = bench.sensor.photons(bench.camera_power(t), 1e-3, bench.fixed_wavelength_m)
    expected = bench.sensor.expected(photons, 1e-3)
    variance = bench.sensor.temporal_variance(photons, 1e-3)
    full_well_dn = bench.sensor._k(0.0) * bench.sensor.spec.full_well
    lit = (photons > 2000) & (expected < 0.8 * full_well_dn)  # well above the dark noise, below saturation
    assert lit.sum() > 100
    np.testing.assert_allclose(frames.mean(axis=0)[lit], expected[lit], rtol=0.02, atol=2.0)
    ratio = frames.var(axis=0, ddof=1)[lit] / variance[lit]
    assert ratio.mean() == pytest.approx(1.0, abs=0.06)  # shot noise: variance grows with the signal


def test_an_exposure_after_the_reported_settle_time_is_one_field_and_matches_the_settled_one() -> None:
    world = World(seed=1, errors="mild", clock=SimClock("manual"))
    bench = SlmOptics(world, laser=None)
    bench.show(grating(bench.slm_spec.shape, 16), 0.0)
    tau = bench.slm_spec.settle_tau
    settle_s = np.log(100) * tau  # what the SLM simulator reports as its settle time
    assert bench.settling(0.5 * tau) and not bench.settling(settle_s)
    assert bench.residual(settle_s) == pytest.approx(bench._jump / 100)
    np.testing.assert_allclose(bench.camera_power(settle_s), bench.camera_power(1.0), rtol=0.02,
                               atol=1e-3 * bench.camera_power(1.0).max())


def test_the_preset_scales_the_hidden_errors_unless_the_station_file_sets_them() -> None:
    mild = SlmOptics(World(seed=0, errors="mild"), laser=None).slm_spec
    severe = SlmOptics(World(seed=0, errors="severe"), laser=None, slm={"ripple": 0.01}).slm_spec
    ideal = SlmOptics(World(seed=0, errors="none"), laser=None).slm_spec
    assert severe.range_error == 2 * mild.range_error and severe.fringing == 2 * mild.fringing
    assert severe.ripple == 0.01  # given in the station file: kept
    assert ideal.range_error == ideal.fringing == ideal.aberration == 0.0
