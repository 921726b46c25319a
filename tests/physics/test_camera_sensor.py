"""The EMVA 1288 camera model: simulated frames against the standard's analytic mean and
variance, dark signal against exposure, saturation, and a fixed pattern frozen per seed."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.sims.physics.camera import CameraSensor, SensorSpec

SPEC = SensorSpec(shape=(32, 32), prnu=0.0, dsnu=0.0)


def _frames(sensor: CameraSensor, photons: float, exposure: float, n: int = 400, gain_db: float = 0.0) -> np.ndarray:
    return np.stack([sensor.expose(np.full(sensor.spec.shape, photons), exposure, gain_db) for _ in range(n)]).astype(float)


@pytest.mark.parametrize("photons,gain_db", [(0.0, 0.0), (2_000.0, 0.0), (20_000.0, 0.0), (2_000.0, 12.0)])
def test_mean_and_temporal_variance_follow_emva_1288(photons: float, gain_db: float) -> None:
    sensor = CameraSensor(SPEC, seed=1)
    exposure = 0.01
    frames = _frames(sensor, photons, exposure, gain_db=gain_db)
    mean_expected = float(sensor.expected(photons, exposure, gain_db).mean())
    var_expected = float(sensor.temporal_variance(photons, exposure, gain_db).mean())
    # 400 frames x 1024 pixels: the mean to a few 1e-3 DN, the variance to a few per cent
    assert frames.mean() == pytest.approx(mean_expected, abs=0.05 + 1e-3 * mean_expected)
    temporal = frames.var(axis=0, ddof=1).mean()
    assert temporal == pytest.approx(var_expected, rel=0.03)


def test_photon_transfer_slope_is_the_system_gain() -> None:
    """The EMVA photon-transfer method: variance against mean over light levels has slope K."""
    sensor = CameraSensor(SPEC, seed=2)
    means, variances = [], []
    for photons in (500.0, 5_000.0, 15_000.0, 30_000.0):
        frames = _frames(sensor, photons, 0.001, n=100)
        means.append(frames.mean())
        variances.append(frames.var(axis=0, ddof=1).mean())
    slope = np.polyfit(means, variances, 1)[0]
    assert slope == pytest.approx(SPEC.gain, rel=0.05)


def test_dark_signal_grows_with_exposure() -> None:
    sensor = CameraSensor(SensorSpec(shape=(32, 32), dark_current=2_000.0, prnu=0.0, dsnu=0.0), seed=3)
    short, long = _frames(sensor, 0.0, 0.01, n=50).mean(), _frames(sensor, 0.0, 1.0, n=50).mean()
    # K * I_dark * (1 s - 10 ms) = 0.1 * 2000 * 0.99 DN
    assert long - short == pytest.approx(0.1 * 2_000 * 0.99, rel=0.02)


def test_a_full_well_saturates_and_the_adc_clips() -> None:
    sensor = CameraSensor(SensorSpec(shape=(8, 8), prnu=0.0, dsnu=0.0), seed=4)
    frame = sensor.expose(np.full((8, 8), 1e7), 0.01)
    assert frame.max() <= round(0.1 * 32_000 + 25)  # the well, not the light, sets the level
    bright = CameraSensor(SensorSpec(shape=(8, 8), gain=1.0, prnu=0.0, dsnu=0.0), seed=4).expose(np.full((8, 8), 1e7), 0.01)
    assert (bright == 4095).all()


def test_fixed_pattern_is_frozen_per_seed_and_measurable() -> None:
    spec = SensorSpec(shape=(64, 64), prnu=0.02, dsnu=2.0, read_noise=1.0, dark_current=0.0)
    a, b, c = CameraSensor(spec, seed=5), CameraSensor(spec, seed=5), CameraSensor(spec, seed=6)
    np.testing.assert_array_equal(a.dsnu_map, b.dsnu_map)
    assert not np.allclose(a.dsnu_map, c.dsnu_map)
    # averaging many dark frames leaves the DSNU: its spatial std is the drawn one
    dark = _frames(a, 0.0, 0.001, n=200).mean(axis=0)
    assert np.std(dark) == pytest.approx(float(np.std(a.dsnu_map)), rel=0.1)
    # under light the spatial spread is the PRNU times the signal
    photons = 20_000.0
    lit = _frames(a, photons, 0.001, n=200).mean(axis=0) - dark
    prnu = np.std(lit) / np.mean(lit)
    assert prnu == pytest.approx(float(np.std(a.prnu_map)), rel=0.15)
