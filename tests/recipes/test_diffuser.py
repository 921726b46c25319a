"""The diffuser-imaging recipe: the diffuser generator's statistics, the vaccinated forward that
moves the layers, and the recipe end to end at size "tiny"."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from hilt.loops.recipes import RecipeOptions, recipe_module
from hilt.loops.recipes.diffuser import DiffuserConfig, build_imager, trial
from hilt.loops.recipes.diffuser_optics import (
    Misalignment,
    correlation_length,
    imager_readout,
    propagate,
    random_diffusers,
)
from hilt.sims.physics import THZ_0P4, DetectorArray, DiffractiveStack, HeightMask, Propagator

LAMBDA = THZ_0P4.wavelength
PITCH = THZ_0P4.pitch


@pytest.mark.parametrize("corr_wl", [5.0, 10.0])
def test_diffuser_correlation_length_is_the_requested_one(corr_wl: float) -> None:
    g = torch.Generator().manual_seed(7)
    maps = random_diffusers(6, (128, 128), PITCH, corr_wl * LAMBDA, 0.7 * LAMBDA, g)
    measured = correlation_length(maps, PITCH)
    assert measured == pytest.approx(corr_wl * LAMBDA, rel=0.1)
    assert float(maps.std()) == pytest.approx(0.7 * LAMBDA, rel=0.15)
    # Seeded: the same generator seed gives the same diffusers.
    again = random_diffusers(6, (128, 128), PITCH, corr_wl * LAMBDA, 0.7 * LAMBDA,
                             torch.Generator().manual_seed(7))
    assert torch.equal(maps, again)


def _one_layer(raw: torch.Tensor) -> DiffractiveStack:
    n = raw.shape[-1]
    mask = HeightMask((n, n), THZ_0P4.material, THZ_0P4.max_height, init="zeros")
    with torch.no_grad():
        mask.raw.copy_(raw)
    det = DetectorArray((n, n), [(y, x, 2, 2) for y in range(4, 12, 2) for x in range(4, 12, 2)])
    return DiffractiveStack([mask], [2e-3, 7e-3], PITCH, LAMBDA, det)


def test_vaccinated_forward_shifts_the_layers() -> None:
    n = 16
    raw = torch.randn(n, n, generator=torch.Generator().manual_seed(1))
    stack = _one_layer(raw)
    x = torch.randn(3, n, n, generator=torch.Generator().manual_seed(2)).to(torch.complex64)
    # As designed, the imager is the stack's twin.
    assert torch.allclose(imager_readout(stack, x), stack.twin()(x), rtol=1e-4, atol=1e-6)
    # A one-pixel shift along x equals a stack whose printed layer is moved by one pixel, air
    # (zero height) where the layer left.
    moved_raw = torch.full((n, n), -40.0)
    moved_raw[:, 1:] = raw[:, :-1]
    moved = _one_layer(moved_raw)
    shift = Misalignment(torch.tensor([[0.0, 1.0]]), torch.zeros(2))
    shifted = imager_readout(stack, x, shift)
    assert torch.allclose(shifted, moved.twin()(x), rtol=1e-3, atol=1e-5)
    assert not torch.allclose(shifted, imager_readout(stack, x), rtol=1e-2)
    # Gradients reach the layer through the shift (training moves it every batch).
    stack.masks[0].raw.requires_grad_(True)
    imager_readout(stack, x, shift).sum().backward()
    assert stack.masks[0].raw.grad is not None and float(stack.masks[0].raw.grad.abs().sum()) > 0


def test_axial_misalignment_is_a_longer_gap() -> None:
    n, z, dz = 32, 7e-3, 0.4e-3
    x = torch.randn(2, n, n, generator=torch.Generator().manual_seed(3)).to(torch.complex64)
    prop = Propagator((n, n), PITCH, LAMBDA, z)
    longer = Propagator((n, n), PITCH, LAMBDA, z + dz)(x)
    got = propagate(prop, x, dz)
    # A few % from a kernel built for z + dz (module docstring); the gap did change.
    error = float((got - longer).norm() / longer.norm())
    assert error < 0.05
    assert float((prop(x) - longer).norm() / longer.norm()) > 5 * error


def test_uniform_misalignment_draws_within_bounds() -> None:
    m = Misalignment.uniform(4, 1.0, 0.5e-3, torch.Generator().manual_seed(0))
    assert m.shift_px.shape == (4, 2) and m.axial_m.shape == (5,)
    assert float(m.shift_px.abs().max()) <= 1.0 and float(m.axial_m.abs().max()) <= 0.5e-3


def test_recipe_tiny_end_to_end(tmp_path) -> None:
    from hilt.runfile import open_run

    module = recipe_module("diffuser-imaging")
    assert module.TITLE and "2205.00428" in module.PAPER and module.SUMMARY
    result = module.run(RecipeOptions(out_dir=tmp_path, size="tiny", seed=0))
    networks = {(r["network"], r["diffusers"]) for r in result.rows}
    assert {("standard", "known"), ("vaccinated", "new"), ("free-space", "new")} <= networks
    assert all(-1.0 <= r["pearson_twin"] <= 1.0 for r in result.rows)
    table = json.loads((tmp_path / "table.json").read_text())
    assert len(table["rows"]) == len(result.rows)
    for f in result.figures:
        assert f.read_bytes()[:4] == b"\x89PNG"
    cfg = DiffuserConfig.for_size("tiny")
    # Every measured image is in a run file, the object as its input.
    run = open_run(tmp_path / "vaccinated.h5")
    got = run.captures("outputs")
    per_bench = cfg.n_test * (cfg.n_diffusers + cfg.n_new_diffusers + 1)
    sweep = len(cfg.sweep_levels_px) * cfg.sweep_seeds * cfg.sweep_objects * cfg.n_new_diffusers
    gratings = len(cfg.grating_periods) * cfg.grating_diffusers
    assert len(got) == per_bench * len(cfg.benches) + sweep + gratings
    assert got.physical.shape[1:] == (cfg.image_px, cfg.image_px)
    assert got.inputs.shape[1:] == (cfg.object_px, cfg.object_px)
    assert result.extra["raster_seconds_per_image"] > 0
    assert "pearson_vs_misalignment" in json.loads((tmp_path / "details.json").read_text())


def test_trial_rejects_unknown_keys(tmp_path) -> None:
    with pytest.raises(Exception, match="unknown keys"):
        trial({"vaccine": True}, tmp_path)


def test_imager_starts_as_free_space() -> None:
    stack = build_imager(DiffuserConfig.for_size("tiny"))
    heights = [m.height for m in stack.masks]
    assert all(torch.allclose(h, heights[0].flatten()[0].expand_as(h)) for h in heights)
    assert math.isclose(float(heights[0][0, 0].detach()), THZ_0P4.max_height / 2, rel_tol=1e-6)
    assert np.isfinite(float(heights[0].detach().sum()))


def test_trial_for_hilt_sweep(tmp_path) -> None:
    from hilt.loops.recipes import diffuser
    from hilt.runfile import open_run

    r = trial({"size": "tiny", "vaccination": True, "misalignment": 0.5, "seed": 1}, tmp_path)
    assert diffuser.SWEEP_METRIC in r
    assert {"pearson_twin_known", "pearson_twin_new", "pearson_bench_known"} <= set(r)
    cfg = DiffuserConfig.for_size("tiny")
    got = open_run(r["run_file"]).captures("outputs")
    assert len(got) == cfg.n_test * (cfg.n_diffusers + cfg.n_new_diffusers)
