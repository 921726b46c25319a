"""The class-specific camera on the folded SLM bench (hilt.loops.recipes.slm_camera), small: the
tests' 64 x 128 panel and 120 x 160 camera, a 4 x 4 grid of camera regions, a few digits."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from hilt.errors import ConfigError
from hilt.loops.recipes import RecipeOptions
from hilt.loops.recipes.class_camera import camera_loss
from hilt.loops.recipes.common import pearson
from hilt.loops.recipes.slm_camera import (
    FOLDED_STATION,
    FrameRecorder,
    SlmCameraBench,
    SlmCameraConfig,
    bench_station,
    camera_bench,
    camera_data,
    dat,
    is_slm_station,
    measure_images,
    pat,
    run_slm_camera,
    target_images,
    train_twin,
    twin_images,
)
from hilt.runfile import open_run

CFG = SlmCameraConfig.for_size("tiny")


def _bench(errors: str, runs: Path) -> Iterator[SlmCameraBench]:
    station, fold_m = bench_station(errors, small=True)
    with station as st:
        bench = camera_bench(st, fold_m, CFG, runs)
        bench.processor.prepare()  # the uniform frame's light, once
        yield bench


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tiny run's digits (loaded once: the first load of the data set takes seconds)."""
    return camera_data(CFG)


@pytest.fixture(scope="module")
def ideal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlmCameraBench]:
    yield from _bench("none", tmp_path_factory.mktemp("ideal"))


@pytest.fixture(scope="module")
def mild(tmp_path_factory: pytest.TempPathFactory, digits: tuple[np.ndarray, ...]) -> Iterator[SlmCameraBench]:
    """The mild bench with a camera trained on its twin (in silico)."""
    for bench in _bench("mild", tmp_path_factory.mktemp("mild")):
        x_tr, y_tr, _, _ = digits
        train_twin(bench.twin, x_tr, y_tr, dataclasses.replace(CFG, epochs=3))
        yield bench


def test_the_regions_make_a_grid_on_the_camera(ideal: SlmCameraBench) -> None:
    boxes = ideal.processor.regions.boxes
    assert len(boxes) == CFG.side**2 == ideal.twin.n_outputs
    rows = boxes[:, 0].reshape(CFG.side, CFG.side)
    cols = boxes[:, 1].reshape(CFG.side, CFG.side)
    assert np.all(np.diff(rows[:, 0]) > CFG.region_px) and np.all(np.diff(cols[0]) > CFG.region_px)
    assert np.ptp(rows, axis=1).max() <= 1 and np.ptp(cols, axis=0).max() <= 1  # row by row


def test_the_measured_image_agrees_with_the_twin_on_an_error_free_bench(
        ideal: SlmCameraBench, digits: tuple[np.ndarray, ...], tmp_path: Path) -> None:
    """Both masks random, 8 digits: each measured 4 x 4 image correlates with the twin's, and
    every frame the images came from is in the run file."""
    x = digits[2][:8]
    twin = ideal.twin
    rng = np.random.default_rng(1)
    with torch.no_grad():
        for m in twin.masks():
            m.copy_(torch.as_tensor(rng.uniform(0, 2 * np.pi, m.shape), dtype=torch.float32))
    rec = FrameRecorder(tmp_path / "deployed.h5", ideal.processor, CFG, {"stage": "test"})
    measured = measure_images(ideal.processor, twin, x, np.arange(len(x)), rec, 0)
    rec.close()
    predicted = twin_images(twin, x)
    s = CFG.side
    pcc = pearson(measured.reshape(-1, s, s), predicted.reshape(-1, s, s))
    assert np.min(pcc) > 0.9, pcc
    with open_run(tmp_path / "deployed.h5") as r:
        assert r.captures("outputs").physical.shape == (len(x), CFG.side, CFG.side)
        assert r.captures("frames").physical.dtype == np.uint16
        assert len(r.captures("frames").physical) == len(x)  # one camera frame per image


def test_pat_reduces_the_loss_on_an_erroneous_bench(mild: SlmCameraBench, digits: tuple[np.ndarray, ...],
                                                    tmp_path: Path) -> None:
    """A twin-trained camera deployed on the mild bench, then PAT on one balanced batch: the
    class camera's loss of the images measured on the bench goes down."""
    cfg = dataclasses.replace(CFG, pat_epochs=3, pat_lr=0.05)
    x_tr, y_tr, _, _ = digits
    twin, proc = mild.twin, mild.processor
    pick = np.concatenate([np.flatnonzero(y_tr == cfg.target)[:4], np.flatnonzero(y_tr != cfg.target)[:4]])
    x, y = x_tr[pick], y_tr[pick]

    def measured_loss() -> float:
        proc.load_masks([m.detach().numpy().astype(np.float64) for m in twin.masks()])
        out = torch.as_tensor(proc.run(x)[0], dtype=torch.float32)
        is_t = torch.as_tensor(y == cfg.target)
        goal = torch.as_tensor(target_images(x, cfg.side), dtype=torch.float32) * is_t[:, None]
        return float(camera_loss(out, goal, is_t, cfg.loss_config())[0])

    before = measured_loss()
    rec = FrameRecorder(tmp_path / "pat.h5", proc, cfg, {"stage": "pat"})
    pat(proc, twin, x, y, cfg, rec)
    rec.close()
    assert measured_loss() < before


@pytest.mark.slow
def test_the_recipe_runs_end_to_end(tmp_path: Path) -> None:
    """hilt recipe run class-camera-slm --tiny: the table (twin, deployed, after PAT, after DAT), a figure,
    the run files (about 16 s: two calibrations and the bench's frames)."""
    result = run_slm_camera(RecipeOptions(out_dir=tmp_path, size="tiny"))
    assert [r["stage"] for r in result.rows] == ["twin", "deployed", "after PAT", "after DAT"]
    assert result.rows[1]["physical_queries"] > 0 and result.rows[1]["bench_s_per_query"] > 0
    assert (tmp_path / "table.md").exists() and all(p.exists() for p in result.figures)
    assert all(p.exists() for p in result.run_files)


def test_dat_fits_the_error_prediction_network_to_the_bench(mild: SlmCameraBench,
                                                            digits: tuple[np.ndarray, ...], tmp_path: Path) -> None:
    """DAT on the mild bench, one batch: the corrected twin predicts the measured images better
    than the twin alone, and the step is recorded (images and frames)."""
    from hilt.loops.dat import similarity_loss

    cfg = dataclasses.replace(CFG, pat_epochs=1, dat_warmup_steps=15)
    x_tr, y_tr, _, _ = digits
    pick = np.concatenate([np.flatnonzero(y_tr == cfg.target)[:4], np.flatnonzero(y_tr != cfg.target)[:4]])
    x, y = x_tr[pick], y_tr[pick]
    twin, proc = mild.twin, mild.processor
    proc.load_masks([m.detach().numpy().astype(np.float64) for m in twin.masks()])
    meas = torch.as_tensor(proc.run(x)[0], dtype=torch.float32)
    with torch.no_grad():
        plain = float(similarity_loss(twin(torch.as_tensor(x, dtype=torch.float32)), meas))
    log: list[dict[str, float]] = []
    rec = FrameRecorder(tmp_path / "dat.h5", proc, cfg, {"stage": "dat"})
    dat(proc, twin, x, y, cfg, rec, log)
    rec.close()
    assert len(log) == 1 and log[0]["fit"] < plain
    with open_run(tmp_path / "dat.h5") as r:  # one frame per measured image of the batch
        assert len(r.captures("frames").physical) == len(r.captures("outputs").physical) >= 2


def test_the_recipe_knows_a_folded_slm_station() -> None:
    assert is_slm_station(FOLDED_STATION)
    assert not is_slm_station("slm-optics") and not is_slm_station("thz-imaging")
    with pytest.raises(ConfigError, match="folded SLM bench"):
        bench_station("mild", "slm-optics")
