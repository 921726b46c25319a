"""The class-specific and permutation cameras (arXiv:2205.13122) end to end at size tiny, their
loss, the permutation's decoding, vaccinated training, and a recipe study through hilt sweep."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hilt.errors import ConfigError
from hilt.loops.recipes import RecipeOptions
from hilt.loops.recipes import class_camera as cc
from hilt.runfile import open_run


def test_class_camera_tiny_end_to_end(tmp_path) -> None:
    r = cc.run(RecipeOptions(out_dir=tmp_path, size="tiny"))
    settings = [(row["design"], row["setting"]) for row in r.rows]
    assert settings == [("standard", "twin"), ("standard", "none"), ("standard", "severe")]
    for row in r.rows:
        assert -1.0 <= row["pcc_target"] <= 1.0 and row["energy_ratio"] > 0
    # The error-free printed stack measures what the twin predicts (detectors ideal too).
    assert r.rows[1]["pcc_target"] == pytest.approx(r.rows[0]["pcc_target"], abs=1e-4)
    table = json.loads((tmp_path / "table.json").read_text())
    assert table["rows"][0]["setting"] == "twin"
    assert "raster" in (tmp_path / "table.md").read_text()
    assert {p.name for p in r.figures} == {"images.png", "pcc_vs_errors.png",
                                           "energy_vs_errors.png"}
    assert len(r.run_files) == 2
    run = open_run(r.run_files[-1])
    got = run.captures("outputs")
    assert got.physical.shape == (30, 8, 8) and run.info["config"]["errors"] == "severe"
    assert r.extra["raster_seconds_per_image"] > 64  # at least a second a point on the stage


def test_permutation_camera_tiny_through_the_command(tmp_path) -> None:
    from click.testing import CliRunner

    from hilt.gui.cli import main

    res = CliRunner().invoke(main, ["recipe", "run", "permutation-camera", "--tiny", "--seed", "3",
                                    "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "permutation-camera (tiny)" in res.output and "figure:" in res.output
    key = json.loads((tmp_path / "permutation.json").read_text())
    perm = np.asarray(key["permutation"])
    assert sorted(perm) == list(range(64)) and np.array_equal(perm, cc.make_permutation(3))
    rows = json.loads((tmp_path / "table.json").read_text())["rows"]
    assert [row["setting"] for row in rows] == ["twin", "none", "severe"]
    assert "pcc_undecoded" in rows[0]  # what the output shows without the key


def test_permutation_decoding_inverts_exactly() -> None:
    perm = cc.make_permutation(0)
    x = np.random.default_rng(0).random((5, 64))
    assert not np.array_equal(cc.permute(x, perm), x)
    assert np.array_equal(cc.unpermute(cc.permute(x, perm), perm), x)
    t = torch.as_tensor(x)
    assert torch.equal(cc.unpermute(cc.permute(t, perm), perm), t)
    assert not np.array_equal(cc.make_permutation(1), perm)


def test_metrics_of_a_perfect_camera() -> None:
    """Outputs equal to the target images (times any brightness) and dark non-targets: PCC and
    SSIM 1, energy ratio 0; decoded through the permutation as well."""
    cfg = cc.CameraConfig(target=2)
    rng = np.random.default_rng(1)
    x = rng.random((6, 64))
    y = np.array([2, 2, 2, 5, 7, 1])
    perfect = 40.0 * x**2 * (y == 2)[:, None]
    m = cc.camera_metrics(perfect, x, y, cfg, None, 1000.0)
    assert m["pcc_target"] == pytest.approx(1.0) and m["ssim_target"] == pytest.approx(1.0)
    assert m["energy_ratio"] == 0.0
    perm = cc.make_permutation(0)
    m = cc.camera_metrics(cc.permute(perfect, perm), x, y, cfg, perm, 1000.0)
    assert m["pcc_target"] == pytest.approx(1.0)


def test_loss_rewards_imaging_and_erasure() -> None:
    cfg = cc.CameraConfig()
    t = torch.rand(4, 64)
    is_t = torch.tensor([True, True, False, False])
    goal = t * is_t[:, None]
    good, _ = cc.camera_loss(torch.cat([3 * t[:2], 1e-6 * t[2:]]), goal, is_t, cfg)
    bad, _ = cc.camera_loss(torch.cat([torch.rand(2, 64), t[2:]]), goal, is_t, cfg)
    assert float(good) < 1e-3 < float(bad)


def test_vaccinated_training_steps_through_random_misalignment() -> None:
    cfg = cc.CameraConfig.for_size("tiny")
    x = np.random.default_rng(0).random((8, 64)).astype(np.float32)
    y = np.array([2, 2, 2, 2, 0, 1, 3, 4])
    log: list[dict[str, float]] = []
    twin = cc.train_camera(cfg, x, y, vaccinate="severe", log=log)
    assert len(log) == 1 and np.isfinite(log[0]["loss"])
    assert twin.errors is None  # the design is the twin, the misalignment was per step


def test_a_station_that_cannot_hold_the_design_is_refused_with_the_reasons(tmp_path) -> None:
    with pytest.raises(ConfigError, match="75-110 GHz.*Gaussian beam.*5 mm aperture"):
        cc.run(RecipeOptions(out_dir=tmp_path, size="tiny", station="thz-lab"))
    cc.check_station("thz-imaging", "class-camera")  # the bundled imaging station holds it


def test_the_design_takes_the_stations_geometry_and_a_balanced_set_of_digits() -> None:
    cfg = cc.station_config("thz-imaging", "tiny", seed=1)
    assert (cfg.grid, cfg.n_layers, cfg.upsample, cfg.spacing, cfg.seed) == (32, 3, 3, 0.03, 1)
    y = np.array([2, 0, 1, 2, 3, 1, 2, 0, 4])
    pick = cc.station_subset(y, cfg, 6)
    assert list(y[pick]) == [2, 2, 2, 0, 1, 3]
    amp = cc.object_amplitudes(np.full((1, 64), 0.5), cfg)
    assert amp.shape == (1, 32, 32) and amp.max() == pytest.approx(1.0)


@pytest.mark.slow
def test_class_camera_tiny_on_the_thz_imaging_station(tmp_path) -> None:
    """About 20 s: two digits, each a 64-point raster (tests/recipes/test_thz_station.py reads
    a 4 x 4 image through the same path in the default run)."""
    r = cc.run(RecipeOptions(out_dir=tmp_path, size="tiny", station="thz-imaging"))
    station = [row for row in r.rows if row["setting"] == "station"]
    twin = [row for row in r.rows if row["setting"] == "twin (station digits)"]
    assert len(station) == 1 and len(twin) == 1 and twin[0]["stacks"] == 0
    assert 100 < station[0]["station_s_per_image"] < 130  # the raster's cost on the station clock
    run = open_run(tmp_path / "runs" / "standard-station.h5")
    got = run.captures("outputs")
    assert got.physical.shape == (2, 8, 8) and run.info["config"]["errors"] == "station"
    assert len(run.info["config"]["sweep_files"]) == 2
    assert (tmp_path / "station-images.png").exists()
    assert "station thz-imaging" in (tmp_path / "table.md").read_text()


def test_trial_reuses_the_design_across_error_presets(tmp_path) -> None:
    a = cc.trial({"size": "tiny", "errors": "none", "seed": 0}, tmp_path / "a")
    b = cc.trial({"size": "tiny", "errors": "severe", "seed": 0}, tmp_path / "b")
    assert a["twin_pcc"] == pytest.approx(b["twin_pcc"])  # one trained design
    assert len(list((tmp_path / "models").glob("*.pt"))) == 1
    with pytest.raises(ConfigError, match="unknown keys"):
        cc.trial({"size": "tiny", "colour": 1}, tmp_path / "c")


STUDY = """\
name: camera
recipe: class-camera
grid:
  errors: [none, severe]
  seed: [0]
fixed:
  size: tiny
"""


def test_recipe_study_runs_trials_and_summarises(tmp_path) -> None:
    from hilt.loops import sweep

    path = tmp_path / "camera.yaml"
    path.write_text(STUDY)
    study = sweep.load_study(path, tmp_path / "out")
    assert study.recipe == "class-camera"
    trials = sweep.recipe_trials(study)
    assert [t["errors"] for t in trials] == ["none", "severe"]
    for t in trials:  # what each executor's worker runs
        rec = sweep.run_trial(t, study.to_dict())
        assert sweep.finished(study, t) and rec["metric"] == "pcc_target"
    assert len(list((tmp_path / "out" / "runs" / "models").glob("*.pt"))) == 1
    sweep.gather(study)
    summary = (tmp_path / "out" / "summary.csv").read_text()
    assert "pcc_target" in summary and (tmp_path / "out" / "results.csv").exists()
    text = sweep.format_summary(sweep.summarize(sweep.records(study)))
    assert "errors=none" in text and "errors=severe" in text
    path.write_text(STUDY.replace("class-camera", "no-such"))
    with pytest.raises(ConfigError, match="no recipe"):
        sweep.load_study(path)


def test_a_raster_timed_through_the_thz_station_drivers(tmp_path) -> None:
    """Four image pixels of the camera read by the simulated thz-lab's stage and lock-in: the
    bench's clock sees the moves and the lock-in's settling, as the cost model says."""
    from hilt.instruments.diffractive_processor import raster_seconds_per_sample, region_centres_mm
    from hilt.loops.recipes.thz_raster import time_raster
    from hilt.runfile.sweep_file import open_sweep
    from hilt.sims.physics import THZ_0P4

    cfg = cc.CameraConfig.for_size("quick")
    centres = [c for c in region_centres_mm(cc.image_regions(cfg), (cfg.grid, cfg.grid),
                                            THZ_0P4.pitch) if abs(c[0]) < 1 and abs(c[1]) < 1]
    t = time_raster(centres, tmp_path / "raster.h5")
    assert t.points == 4 and t.clock == "fast"
    model = raster_seconds_per_sample(centres, time_constant_s=0.1, slope_db=12,
                                      return_to_start=False, discard_reads=0)
    assert t.bench_seconds == pytest.approx(model, rel=0.15)
    assert open_sweep(t.sweep_file).status == "completed"
