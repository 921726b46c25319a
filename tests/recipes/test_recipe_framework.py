"""The recipe framework: the metrics against analytic cases, the table, the figures, the run file
of measured images, and `hilt recipe list|run`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hilt.errors import ConfigError
from hilt.loops.recipes import RECIPES, RecipeOptions, recipe_module
from hilt.loops.recipes.common import (
    image_rows_figure,
    metric_vs_error_figure,
    normalise01,
    pearson,
    ssim,
    write_image_run,
    write_table,
)


def _images(n: int = 3, side: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, side, side))


def test_pearson_analytic_cases() -> None:
    a = _images()
    assert np.allclose(pearson(a, a), 1.0)
    assert np.allclose(pearson(a, -a), -1.0)
    assert np.allclose(pearson(a, 3.0 * a + 7.0), 1.0)  # scale and offset do not matter
    r = pearson(torch.as_tensor(a[0]), torch.as_tensor(a[1]))  # torch, one pair
    assert r.shape == (1,) and abs(r[0]) < 0.3
    assert pearson(np.ones((4, 4)), a[0, :4, :4])[0] == 0.0  # constant image: no correlation


def test_ssim_analytic_cases() -> None:
    a = _images(side=24)
    assert np.allclose(ssim(a, a), 1.0)
    assert np.allclose(ssim(a, 5.0 * a + 2.0), 1.0)  # each image normalised to [0, 1]
    noisy = a + np.random.default_rng(1).normal(0, 0.3, a.shape)
    s = ssim(a, noisy)
    assert s.shape == (3,) and np.all(s < 0.8)
    assert ssim(a, 1.0 - a).max() < 0  # the negative image: structure reversed
    assert np.allclose(ssim(a[:, :6, :6], a[:, :6, :6]), 1.0)  # smaller than the window
    assert normalise01(np.full((2, 3, 3), 4.0)).max() == 0.0


def test_metrics_refuse_mismatched_shapes() -> None:
    with pytest.raises(ValueError):
        pearson(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))
    with pytest.raises(ValueError):
        ssim(np.zeros((2, 2, 4, 4)), np.zeros((2, 2, 4, 4)))


def test_write_table_json_and_markdown(tmp_path) -> None:
    rows = [{"setting": "twin", "pearson": 0.91234, "ssim": float("nan")},
            {"setting": "severe", "pearson": 0.5, "ssim": 0.25}]
    jp, mp, md = write_table(rows, tmp_path / "out", "a title")
    data = json.loads(jp.read_text())
    assert data["title"] == "a title" and data["rows"][0]["ssim"] is None
    assert mp.read_text() == md
    assert "| setting | pearson | ssim |" in md and "| twin | 0.912 | – |" in md


def test_figures_are_written(tmp_path) -> None:
    a = _images(2, 8)
    p = image_rows_figure({"input": a, "output": a[:1]}, tmp_path / "rows.png", titles=["0", "1"])
    q = metric_vs_error_figure(["none", "mild", "severe"], {"pcc": [1, 0.8, 0.5]},
                               tmp_path / "err.png", "errors", "PCC")
    for f in (p, q):
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_image_run_file_holds_the_measured_images(tmp_path) -> None:
    from hilt.runfile import open_run

    x, y = _images(3, 6), _images(3, 5, seed=2)
    path = write_image_run(tmp_path / "r.h5", inputs=x, physical=y, twin=2 * y,
                           config={"recipe": "test"})
    run = open_run(path)
    got = run.captures("outputs")
    assert np.allclose(got.physical, y, atol=1e-6) and np.allclose(got.twin, 2 * y, atol=1e-5)
    assert np.allclose(got.inputs, x, atol=1e-6)
    assert run.status == "completed"


def test_registry_and_options() -> None:
    assert set(RECIPES) >= {"class-camera", "permutation-camera", "diffuser-imaging"}
    with pytest.raises(ConfigError, match="known"):
        recipe_module("no-such-recipe")
    with pytest.raises(ConfigError):
        RecipeOptions(out_dir=".", size="huge")  # type: ignore[arg-type]


def test_cli_list_and_unknown_recipe(tmp_path) -> None:
    from hilt.gui.cli import main

    r = CliRunner().invoke(main, ["recipe", "list"])
    assert r.exit_code == 0 and "class-camera" in r.output
    r = CliRunner().invoke(main, ["recipe", "run", "nope", "--tiny", "--out", str(tmp_path)])
    assert r.exit_code == 1 and "no recipe" in r.output
