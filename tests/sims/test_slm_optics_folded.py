"""The folded SLM bench (sims/slm_optics.py, option ``fold``): two regions of one panel, a mirror
between them, the lens after region 2. Power through the fold, the spot a grating on either
region moves, the hidden fold errors, and the two-layer twin (hilt.loops.slm_bench.SlmTwin)
against the world system with no hidden errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hilt.errors import ConfigError
from hilt.instruments.slm_processor import CameraRegions, SlmLayout
from hilt.loops.slm_bench import SlmTwin
from hilt.sims.slm_optics import FOLD_SHIFT_PX, SlmOptics
from hilt.sims.world import SimClock, World
from hilt.slm_lut import linear_lut, phase_to_grey

SHAPE = (64, 128)  # two 64 x 64 regions


def folded(errors: str = "none", seed: int = 0) -> SlmOptics:
    world = World(seed=seed, errors=errors, clock=SimClock("manual"))
    return SlmOptics(world, laser=None, power_w=1e-3, attenuation_db=60, slm={"shape": SHAPE},
                     camera={"shape": (120, 160)}, fold={"distance_m": 5e-3})


def ramp(period: float) -> np.ndarray:
    return np.tile(2 * np.pi * np.arange(SHAPE[1] // 2) / period, (SHAPE[0], 1))


def test_the_fold_carries_the_light_and_a_grating_on_either_region_moves_the_spot() -> None:
    """A flat panel: the light (less what misses region 2) focuses at the sensor's centre. A
    grating on region 1 tilts the beam before the fold, on region 2 after it: both move the spot
    by the lens's prediction; on both regions by twice that."""
    bench = folded()
    flat = bench.camera_power(1.0)
    assert flat.sum() == pytest.approx(1e-9, rel=0.03)
    assert np.unravel_index(flat.argmax(), flat.shape) in ((59, 79), (60, 80))
    g, zero = ramp(64), np.zeros((SHAPE[0], SHAPE[1] // 2))
    expected = bench.spot_shift_px(64)
    for frame, times in ((np.c_[g, zero], 1), (np.c_[zero, g], 1), (np.c_[g, g], 2)):
        bench.show(phase_to_grey(frame, linear_lut(8)), 1.0)
        tilted = bench.camera_power(2.0)
        shift = np.argmax(tilted.sum(axis=0)) - np.argmax(flat.sum(axis=0))
        assert abs(shift - times * expected) <= 1.0


def test_the_fold_errors_are_frozen_per_seed_and_scaled_by_the_preset() -> None:
    ideal, mild, severe = folded("none"), folded("mild", 3), folded("severe", 3)
    assert ideal.fold_shift_px == (0.0, 0.0) and ideal.fold_distance_error == 0.0
    assert folded("mild", 3).fold_shift_px == mild.fold_shift_px  # the same seed: the same bench
    assert np.allclose(np.asarray(severe.fold_shift_px), 2 * np.asarray(mild.fold_shift_px))
    assert severe.fold_distance_error == pytest.approx(2 * mild.fold_distance_error)
    assert 0 < max(abs(v) for v in mild.fold_shift_px) < 5 * FOLD_SHIFT_PX


def test_fold_options_are_checked() -> None:
    world = World(seed=0)
    with pytest.raises(ConfigError, match="unknown option"):
        SlmOptics(world, laser=None, slm={"shape": SHAPE}, fold={"distance": 1})
    with pytest.raises(ConfigError, match="fourier"):
        SlmOptics(world, laser=None, slm={"shape": SHAPE}, optics="free_space", fold={"distance_m": 5e-3})
    with pytest.raises(ConfigError, match="columns"):
        SlmOptics(world, laser=None, slm={"shape": (64, 127)}, fold={"distance_m": 5e-3})


def test_the_two_layer_twin_predicts_the_ideal_folded_bench() -> None:
    """The twin given the bench's true geometry (lens map, beam waist, fold distance) and the
    world system with no hidden errors give the same share of the light in each camera region,
    for random masks on both layers (left: the 8-bit phase steps)."""
    bench = folded()
    s, c = bench.slm_spec, bench.sensor_spec
    scale = s.wavelength * bench.focal_length_m / (s.pixel_pitch * c.pixel_pitch)  # camera px per cycle/px
    centre = np.array([(c.shape[0] - 1) / 2, (c.shape[1] - 1) / 2])
    freqs = np.array([[0.0, 0.012], [0.012, 0.0], [-0.01, 0.008], [0.006, -0.012]])
    pos = centre + scale * freqs
    boxes = np.c_[np.rint(pos - 2).astype(int), np.full((len(pos), 2), 5)]
    regions = CameraRegions(boxes, freqs)
    layout = SlmLayout(SHAPE, 8, 6, math.pi, 4, layers=2)
    twin = SlmTwin(layout, regions, np.eye(2) * scale, centre, s.beam_waist / s.pixel_pitch,
                   fold_distance_m=5e-3, pixel_pitch_m=s.pixel_pitch, wavelength_m=s.wavelength)
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.uniform(0, 1, (2, 64)), dtype=torch.float32)
    with torch.no_grad():
        twin.mask.copy_(torch.as_tensor(rng.uniform(0, 2, layout.mask_shape)))
        twin.mask2.copy_(torch.as_tensor(rng.uniform(0, 2, layout.mask_shape)))
        shown = twin.shown_phase(x).numpy()
        predicted = twin(x).numpy()
    light = 1e-9  # W through the attenuator
    for b in range(len(x)):
        bench.show(phase_to_grey(shown[b], linear_lut(8)), float(b + 1))
        power = bench.camera_power(float(b + 1) + 1.0)
        measured = regions.read(power, (0, 0, c.shape[1], c.shape[0])) / light
        np.testing.assert_allclose(measured, predicted[b], rtol=0.1, atol=0.02 * predicted[b].max())
