"""The SLM calibrations' numbers (hilt.loops.calibration.slm_fit) against the physics objects
directly: an SLMPanel (hidden LUT, fringing, aberration) imaged through a Fourier lens onto an
EMVA 1288 CameraSensor, without a station. The routines on the simulated station are tested in
test_calibration_slm.py."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from hilt.loops.calibration import slm_fit as F
from hilt.sims.physics.camera import CameraSensor, SensorSpec
from hilt.sims.physics.slm import SLMPanel, SLMSpec, fourier_plane

#: Largest error of the recovered LUT against the panel's hidden curve over every level (rad).
#: Measured 0.03-0.08 rad over seeds 0-2 (RMS 0.015-0.034); without the fringing model the same
#: data give 0.7 rad RMS (a 4-pixel block loses a quarter of its pixels to the fringing field).
LUT_MAX_ERROR = 0.1


class FourierBench:
    """Panel -> zero-padded FFT (the lens) -> sensor, on a clock that lets the LC settle."""

    def __init__(self, seed: int, n: int = 64, fringing: float = 0.6) -> None:
        self.panel = SLMPanel(dataclasses.replace(SLMSpec(shape=(n, n)), fringing=fringing), seed=seed)
        self.sensor = CameraSensor(SensorSpec(shape=(2 * n, 2 * n)), seed=seed + 100)
        self.n = n
        self.t = 0.0
        self.scale = 1.0
        self.scale = 0.6 * self.sensor.spec.full_well / self.sensor.spec.quantum_efficiency / \
            float(self._power(np.zeros((n, n), dtype=np.int64)).max())

    def _power(self, grey: np.ndarray) -> np.ndarray:
        self.t += 1.0
        self.panel.show(grey, self.t)
        self.t += 0.2  # 20 settle time constants
        return np.abs(fourier_plane(self.panel.field(self.t))) ** 2 * self.scale

    def image(self, grey: np.ndarray) -> np.ndarray:
        return self.sensor.expose(self._power(grey), 1e-3).astype(np.float64)

    def dark(self, frames: int = 8) -> np.ndarray:
        return np.mean([self.sensor.expose(np.zeros((2 * self.n, 2 * self.n)), 1e-3) for _ in range(frames)], axis=0)


def test_grating_model_without_fringing_is_the_textbook_cosine() -> None:
    d = np.linspace(0, 2 * math.pi, 9)
    assert np.allclose(F.grating_zeroth_order(np.zeros_like(d), d, 8, 0.0), np.cos(d / 2) ** 2)
    # Fringing spoils the null at pi: the smoothed edges keep some light in the zeroth order.
    assert F.grating_zeroth_order(np.array([0.0]), np.array([math.pi]), 8, 0.6)[0] > 0.05


def test_quadrature_recovers_phases_beyond_pi_with_their_sign() -> None:
    truth = np.linspace(0, 6.0, 40)
    delta = 1.4
    got = F.quadrature_phase(np.cos(truth), np.cos(truth - delta), delta)
    assert np.allclose(got, truth, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_lut_from_gratings_recovers_the_hidden_curve(seed: int) -> None:
    bench = FourierBench(seed)
    n = bench.n
    bg = bench.dark()
    u = bench.image(np.zeros((n, n), dtype=np.int64))
    c0 = F.peak(u - bg)
    periods = [4, 8]
    d = math.hypot(*(np.subtract(F.peak(bench.image(F.binary_grating((n, n), 8, 0, 128)) - bg, [(c0, 3)]), c0)))
    assert d == pytest.approx(2 * n / 8, abs=0.5)  # the first order of an 8-pixel grating: 16 bins
    r = d / 4
    iu = F.window_power(u, c0, r, bg)
    levels = np.r_[np.arange(0, 256, 8), 255]

    def ratios(base: int) -> np.ndarray:
        return np.array([[F.window_power(bench.image(F.binary_grating((n, n), p, base, int(g))), c0, r, bg) / iu
                          for g in levels] for p in periods])

    r_a = ratios(0)
    ref = F.reference_level(levels, 2 * r_a[-1] - 1)
    r_b = ratios(ref)
    start, sigma0 = F.fringing_and_phases(levels, periods, r_a, r_b, ref)
    phase, fringing, misfit = F.fit_fringed_lut(levels, periods, r_a, r_b, ref, start, sigma0, reach=0.3)
    _, lut = F.fit_lut(levels, phase, 256)
    truth = bench.panel.phase_of(np.arange(256)) - bench.panel.phase_of(0)
    assert np.max(np.abs(lut - truth)) < LUT_MAX_ERROR
    assert fringing == pytest.approx(0.6, abs=0.03)
    # The textbook quadrature (no fringing model) on the same ratios is far off: what the model buys.
    plain = F.lut_from_zeroth_order(levels, 1.0, r_a[-1], r_b[-1], ref, 256)
    assert np.sqrt(np.mean((plain.lut - truth) ** 2)) > 3 * np.sqrt(np.mean((lut - truth) ** 2))
    assert misfit < 0.02


def test_affine_map_from_blazed_grating_spots() -> None:
    bench = FourierBench(0, fringing=0.0)
    n = bench.n
    bg = bench.dark()
    def spot(f: tuple[float, float]) -> tuple[float, float]:
        grey = np.rint(np.mod(F.phase_ramp((n, n), f), 2 * math.pi) / (2 * math.pi) * 256).astype(int) % 256
        img = bench.image(grey) - bg
        return F.centroid(img, F.peak(img), 2.5, 0.0)

    freqs = np.array([(0, 0), (0, 0.125), (0.125, 0), (-0.0625, 0.1875), (0.25, -0.125)], dtype=float)
    spots = np.array([spot(tuple(f)) for f in freqs])
    amap, resid = F.fit_affine(freqs, spots)
    # The padded FFT puts frequency f at bin 2 n f from the centre bin n (rows, cols alike).
    assert np.allclose(amap.matrix, np.diag([2 * n, 2 * n]), atol=0.5)
    assert np.allclose(amap.offset, [n, n], atol=0.3)
    assert np.max(np.abs(resid)) < 0.3
    assert np.allclose(amap.frequency(amap.camera(freqs)), freqs)


def test_affine_fit_refuses_collinear_frequencies() -> None:
    with pytest.raises(ValueError, match="not on one line"):
        F.fit_affine(np.array([[0, 0], [0, 0.1], [0, 0.2]]), np.zeros((3, 2)))
