"""Diffractive processor and loops: programming, internal planes, the error predictors' reach,
PAT's gradient, DAT's similarity fit, resume, abort, the raster cost model and the demo's JSON.
A 16 x 16 grid and a few dozen samples keep this fast."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from hilt.instruments.diffractive_processor import (
    DiffractiveProcessor,
    LocalDiffractiveProcessor,
    masks_of,
    raster_seconds_per_sample,
    region_centres_mm,
    trapezoid_move_seconds,
)
from hilt.loops.core import LoopControl, TrainSettings, encode
from hilt.loops.dat import similarity_loss
from hilt.loops.data import Dataset, load_digits
from hilt.loops.diffractive import (
    DiffractiveDATSettings,
    DiffractiveDemoConfig,
    MeshProcessorAdapter,
    build_stack,
    corrected_readout,
    make_classifier,
    make_layer_predictors,
    plane_dataset,
    run_diffractive_demo,
    train_diffractive_dat,
    train_diffractive_insilico,
    train_diffractive_pat,
)
from hilt.loops.pat import substitute
from hilt.sims.physics import DiffractiveStack, ErrorLevels

torch.set_num_threads(1)
GRID = 16
POWER = 1000.0
# Misaligned and mis-printed, but noiseless: runs are then repeatable across a resume.
QUIET = ErrorLevels(shift_px=0.3, tilt_rad=0.01, height_rel=0.03)


def stack(seed: int = 0) -> DiffractiveStack:
    return build_stack(GRID, 3, detector_size=2, seed=seed)


def digits(n_train: int = 64, n_test: int = 32) -> Dataset:
    return plane_dataset(load_digits(seed=0).subset(n_train, n_test), GRID, upsample=1)


def planes(n: int = 6) -> torch.Tensor:
    x = digits(n, 1).x_train[:n]
    return torch.as_tensor(x).reshape(n, GRID, GRID).to(torch.complex64) * math.sqrt(POWER / 40)


# -- the processor --------------------------------------------------------------------------


def test_local_processor_is_a_programmed_copy_that_counts_queries() -> None:
    s = stack()
    proc = LocalDiffractiveProcessor(s.with_errors("none", seed=1))
    assert isinstance(proc, DiffractiveProcessor)
    assert proc.shape == (GRID, GRID) and proc.n_layers == 3 and proc.n_regions == 10
    other = stack(seed=5)
    proc.load_masks(masks_of(other))
    for a, b in zip(masks_of(proc.stack), masks_of(other), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-9)
    x = planes()
    out, states = proc.run(x.numpy(), internal=True)
    with torch.no_grad():
        np.testing.assert_allclose(out, other(x).numpy(), rtol=1e-4, atol=1e-6)
    assert len(states) == 2 and states[0].shape == (6, GRID, GRID)
    assert proc.queries.samples == 6 and proc.queries.calls == 1
    assert proc.queries.programming_calls == 1
    # The caller's stack changes; the device does not until it is programmed again.
    with torch.no_grad():
        other.masks[0].raw.add_(1.0)
    np.testing.assert_allclose(proc.run(x.numpy())[0], out, rtol=1e-6)
    assert proc.run(x.numpy(), internal=False)[1] == []
    with pytest.raises(ValueError):
        proc.load_masks(masks_of(other)[:2])
    with pytest.raises(ValueError):
        proc.run(np.zeros((1, 8, 8), np.complex64))


def test_internal_planes_are_the_twins_and_identity_predictors_are_the_twin() -> None:
    s = stack()
    proc = LocalDiffractiveProcessor(s.with_errors("none", seed=1))
    proc.load_masks(masks_of(s))
    x = planes()
    out, states = proc.run(x.numpy(), internal=True)
    preds = make_layer_predictors((GRID, GRID), 3, "layer+field")
    with torch.no_grad():
        pred, pred_states = corrected_readout(s, preds, x)
    np.testing.assert_allclose(pred.numpy(), out, rtol=1e-4, atol=1e-6)
    for a, b in zip(pred_states, states, strict=True):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-3, atol=1e-6)


def test_layer_predictor_represents_a_whole_pixel_shift_and_height_error_exactly() -> None:
    s = stack()
    drawn = s.with_errors("none", seed=1).errors
    height = torch.zeros(3, GRID, GRID)
    height[1] = 0.05 * torch.randn(GRID, GRID, generator=torch.Generator().manual_seed(0))
    errors = dataclasses.replace(drawn, shift_px=torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, -1.0]]),
                                 height_error_rel=height)
    phys = DiffractiveStack(list(s.masks), s.distances, s.pitch, s.wavelength, s.detectors,
                            errors=errors)
    x = planes()
    preds = make_layer_predictors((GRID, GRID), 3, "layer", kernel=3)
    with torch.no_grad():
        # A layer moved down one row reads the map one row up: a shifted delta kernel.
        preds[0].layer.kernel.zero_()
        preds[0].layer.kernel[0, 1] = 1.0
        preds[2].layer.kernel.zero_()
        preds[2].layer.kernel[1, 2] = 1.0
        mask = s.masks[1]
        # Heights stay above 0 here, so the error is exactly a phase and log-amplitude offset.
        phase, log_amp = mask.material.phase_and_log_amplitude(mask.max_height * height[1],
                                                               s.wavelength)
        preds[1].layer.d_phase.copy_(phase)
        preds[1].layer.d_log_amp.copy_(log_amp)
        pred, _ = corrected_readout(s, preds, x)
        twin = s(x)
        truth = phys(x)
    assert float(similarity_loss(twin, truth)) > 1e-2
    assert float(similarity_loss(pred, truth)) < 1e-6  # float32 rounding


# -- loops ----------------------------------------------------------------------------------


def test_pat_gradient_is_the_twin_gradient_when_the_device_is_the_twin() -> None:
    s = stack()
    model = make_classifier(s, 10)
    proc = MeshProcessorAdapter(LocalDiffractiveProcessor(s.with_errors("none", seed=1)))
    x = planes().reshape(6, -1)
    y = torch.arange(6)
    params = model.phase_parameters()
    g_twin = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), params)
    proc.load_phases(model.phases())
    measured = torch.as_tensor(proc.run(x.numpy())[0])
    loss = torch.nn.functional.cross_entropy(model.head(substitute(model.readout(x), measured)), y)
    for a, b in zip(g_twin, torch.autograd.grad(loss, params), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-7)


def test_dat_similarity_fit_closes_most_of_the_gap_to_the_device() -> None:
    s = stack()
    model = make_classifier(s, 10)
    for p in model.parameters():
        p.requires_grad_(False)
    proc = LocalDiffractiveProcessor(s.with_errors(QUIET, seed=1))
    x = encode(digits(96, 1), GRID * GRID, POWER)[0]
    proc.load_masks(model.phases())
    meas = torch.as_tensor(proc.run(x.reshape(-1, GRID, GRID).numpy())[0])
    preds = make_layer_predictors((GRID, GRID), 3, "layer", kernel=3)
    opt = torch.optim.Adam(preds.parameters(), lr=0.03)
    with torch.no_grad():
        before = float(similarity_loss(corrected_readout(s, preds, model.planes(x))[0], meas))
    for _ in range(60):
        opt.zero_grad()
        similarity_loss(corrected_readout(s, preds, model.planes(x))[0], meas).backward()
        opt.step()
    with torch.no_grad():
        after = float(similarity_loss(corrected_readout(s, preds, model.planes(x))[0], meas))
    assert after < 0.2 * before


class _Crash(Exception):
    pass


def test_loops_count_queries_and_dat_resumes_bit_exactly_after_a_crash(tmp_path) -> None:
    data = digits(64, 32)
    s = stack()
    base = dict(batch_size=16, seed=0, input_power=POWER, eval_every_epoch=False)
    ins = train_diffractive_insilico(s, data, TrainSettings(epochs=1, lr=0.05, **base),
                                     processor=LocalDiffractiveProcessor(s.with_errors(QUIET, 1)))
    assert ins.physical_queries == 0 and 0.0 <= ins.accuracy <= 1.0
    pat = train_diffractive_pat(LocalDiffractiveProcessor(s.with_errors(QUIET, 1)), s, data,
                                TrainSettings(epochs=1, lr=0.02, **base),
                                init_state=ins.model_state)
    assert pat.physical_queries == 64 and not math.isnan(pat.accuracy)
    dat_settings = DiffractiveDATSettings(epochs=2, lr=0.02, warmup_batches=2, warmup_steps=2,
                                          **base)
    full = train_diffractive_dat(LocalDiffractiveProcessor(s.with_errors(QUIET, 1)), s, data,
                                 dat_settings, init_state=ins.model_state)
    assert full.physical_queries == 2 * 64 + 2 * 16
    path = str(tmp_path / "dat.h5")

    def crash_after_first_epoch(p) -> None:  # noqa: ANN001
        if p.end_of_epoch and p.epoch == 0:
            raise _Crash()

    with pytest.raises(_Crash):
        train_diffractive_dat(LocalDiffractiveProcessor(s.with_errors(QUIET, 1)), s, data,
                              dat_settings, init_state=ins.model_state, run_path=path,
                              progress=crash_after_first_epoch)
    resumed = train_diffractive_dat(LocalDiffractiveProcessor(s.with_errors(QUIET, 1)), s, data,
                                    dat_settings, init_state=ins.model_state, run_path=path,
                                    resume=True)
    assert resumed.run_path == path
    assert resumed.physical_queries == full.physical_queries
    from hilt.runfile import open_run

    with open_run(path) as run:  # what went in, what the device and the twin gave, per detector
        batch = run.captures("batches")
        assert batch.physical.shape[1:] == (s.detectors.n,) == batch.twin.shape[1:]
        assert batch.inputs.shape[1:] == (s.shape[0] * s.shape[1],)
        assert np.isfinite(batch.physical).all() and len(batch.step) > 0
    for k, v in full.model_state.items():
        torch.testing.assert_close(resumed.model_state[k], v, rtol=0, atol=0)


def test_abort_leaves_the_processor_safe() -> None:
    data = digits(64, 16)
    s = stack()
    proc = LocalDiffractiveProcessor(s.with_errors(QUIET, 1))
    calls = []
    proc.safe_state = lambda: calls.append(1)  # type: ignore[method-assign]
    control = LoopControl()

    def progress(p) -> None:
        if p.step == 1:
            control.abort()

    r = train_diffractive_pat(proc, s, data, TrainSettings(epochs=2, batch_size=16,
                                                           input_power=POWER),
                              control=control, progress=progress)
    assert r.aborted and calls and r.physical_queries == 32


# -- the raster cost model and the demo -----------------------------------------------------


def test_raster_cost_follows_the_stage_and_lockin_settings() -> None:
    from hilt.sims.newport_esp301 import TrapezoidMove

    for d in (0.3, 1.25, 3.2, 8.0):
        assert trapezoid_move_seconds(d, 5.0, 20.0) == pytest.approx(
            TrapezoidMove(0.0, d, 0.0, 5.0, 20.0).duration)
    # Two regions 3.2 mm apart on x: move there and back (0.89 s each) + 2 x 12 tau settling.
    t = raster_seconds_per_sample([(0.0, 0.0), (3.2, 0.0)], time_constant_s=0.1, slope_db=12)
    assert t == pytest.approx(2 * (3.2 / 5 + 5 / 20) + 2 * 1.2)
    centres = region_centres_mm(stack().detectors.regions, (GRID, GRID), 0.4e-3)
    assert len(centres) == 10 and centres[3][0] > centres[4][0]  # second row reversed


def test_demo_json_shape(tmp_path) -> None:
    cfg = DiffractiveDemoConfig(grid=GRID, upsample=1, detector_size=2, insilico_epochs=1,
                                finetune_epochs=1, n_train=48, n_test=24, errors=("severe",))
    out = tmp_path / "r.json"
    r = run_diffractive_demo(json_path=str(out), runs_dir=str(tmp_path / "runs"),
                             progress=False, config=cfg)
    on_disk = json.loads(out.read_text())
    assert set(on_disk["methods"]) == {"error_free", "deployed", "pat", "dat"}
    for m in on_disk["methods"].values():
        assert 0.0 <= m["accuracy"] <= 1.0 and isinstance(m["physical_queries"], int)
    assert on_disk["methods"]["pat"]["physical_queries"] == 48
    assert on_disk["dataset"] == "digits" and on_disk["errors"]["preset"] == "severe"
    assert on_disk["errors"]["levels"]["shift_px"] == 0.5
    assert (tmp_path / "runs" / "diffractive-digits" / "severe" / "dat.h5").exists()
    assert r["methods"]["dat"]["accuracy"] == on_disk["methods"]["dat"]["accuracy"]
