"""The SLM model: its hidden grey-to-phase response, crosstalk, settling on the simulated clock,
and a Fourier plane that conserves power."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hilt.sims.physics.slm import SLMPanel, SLMSpec, fourier_plane


def test_the_response_is_not_the_data_sheets_ramp_and_is_frozen_per_seed() -> None:
    a, b, c = SLMPanel(seed=1), SLMPanel(seed=1), SLMPanel(seed=2)
    grey = np.arange(256)
    np.testing.assert_array_equal(a.phase_of(grey), b.phase_of(grey))
    assert not np.allclose(a.phase_of(grey), c.phase_of(grey))
    ramp = grey / 255 * 2 * math.pi
    assert np.abs(a.phase_of(grey) - ramp).max() > 0.05  # a LUT calibration has work to do
    assert a.phase_of(0) == pytest.approx(a.ripple_amp * math.sin(a.ripple_phase))


def test_the_liquid_crystal_settles_exponentially_in_simulated_time() -> None:
    panel = SLMPanel(SLMSpec(shape=(8, 8), fringing=0.0, settle_tau=0.01), seed=3)
    before = panel.phase_at(0.0)
    frame = np.full((8, 8), 200)
    panel.show(frame, t=1.0)
    target = panel.phase_of(200)
    np.testing.assert_allclose(panel.phase_at(1.0), before)
    one_tau = panel.phase_at(1.01)
    np.testing.assert_allclose(one_tau, target + (before - target) * math.exp(-1))
    np.testing.assert_allclose(panel.phase_at(1.2), target, atol=1e-6)


def test_fringing_smooths_a_sharp_edge() -> None:
    sharp = SLMPanel(SLMSpec(shape=(16, 16), fringing=0.0, settle_tau=0.0), seed=4)
    soft = SLMPanel(SLMSpec(shape=(16, 16), fringing=1.0, settle_tau=0.0), seed=4)
    frame = np.zeros((16, 16), dtype=int)
    frame[:, 8:] = 255
    for p in (sharp, soft):
        p.show(frame, t=0.0)
    edge_sharp = np.abs(np.diff(sharp.phase_at(1.0)[0])).max()
    edge_soft = np.abs(np.diff(soft.phase_at(1.0)[0])).max()
    assert edge_soft < 0.6 * edge_sharp


def test_frames_are_checked() -> None:
    panel = SLMPanel(SLMSpec(shape=(4, 4)), seed=0)
    with pytest.raises(ValueError, match="shape"):
        panel.show(np.zeros((4, 5), dtype=int), 0.0)
    with pytest.raises(ValueError, match="0..255"):
        panel.show(np.full((4, 4), 256), 0.0)


def test_the_fourier_plane_conserves_power_and_a_blazed_grating_steers_the_beam() -> None:
    spec = SLMSpec(shape=(32, 32), fringing=0.0, settle_tau=0.0, aberration=0.0, ripple=0.0,
                   range_error=0.0, gamma_error=0.0)
    panel = SLMPanel(spec, seed=0)
    # a blazed grating of period 8 pixels: the ideal panel puts the light in order +1
    x = np.arange(32)
    grey = np.round((x % 8) / 8 * 255).astype(int)
    panel.show(np.tile(grey, (32, 1)), 0.0)
    out = fourier_plane(panel.field(1.0), pad=2)
    power = np.abs(out) ** 2
    assert power.sum() == pytest.approx(32 * 32, rel=1e-9)
    row, col = np.unravel_index(np.argmax(power), power.shape)
    assert (row, col) == (32, 32 + 8)  # 64-point FFT, period 8 px: 64 / 8 = 8 bins off centre
