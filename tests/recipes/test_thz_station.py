"""The camera recipes' THz station: the bundled thz-imaging bench holds a 0.4 THz printed design,
and an image read through its drivers (detector rastered on the XY stage, lock-in) agrees with
the physics of the mounted object and layers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from hilt import stations
from hilt.errors import ConfigError
from hilt.instruments.diffractive_processor import region_centres_mm
from hilt.loops.recipes.common import pearson
from hilt.loops.recipes.thz_station import ManualMount, StationCamera, station_geometry
from hilt.sims.physics import THZ_0P4, DetectorArray

PIX = 3  # plane pixels per image pixel: 1.2 mm, the pinhole's diameter


def _regions(side: int, grid: int = 32) -> list[tuple[int, int, int, int]]:
    o = (grid - side * PIX) // 2
    return [(o + r * PIX, o + c * PIX, PIX, PIX) for r in range(side) for c in range(side)]


def _smooth_heights(seed: int, n: int = 3, grid: int = 32) -> list[np.ndarray]:
    g = np.random.default_rng(seed)
    k = np.exp(-0.5 * (np.arange(-6, 7) / 2.5) ** 2)
    out = []
    for _ in range(n):
        h = g.random((grid, grid))
        h = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), 0, h)
        h = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), 1, h)
        out.append(0.8e-3 * (h - h.min()) / (h.max() - h.min()))
    return out


def _object(side: int, grid: int = 32) -> np.ndarray:
    obj = np.zeros((grid, grid))
    o = (grid - side * PIX) // 2
    pattern = np.kron(np.array([[1.0, 0.3], [0.6, 1.0]]), np.ones((side // 2 * PIX,) * 2))
    obj[o:o + side * PIX, o:o + side * PIX] = pattern
    return obj


def _station_without_errors(tmp_path) -> str:
    config = yaml.safe_load(stations.path("thz-imaging").read_text())
    config["world"]["errors"] = "none"
    path = tmp_path / "thz-imaging-none.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_thz_imaging_holds_the_0p4_thz_printed_geometry() -> None:
    """(tests/foundation/test_station_files.py checks every bundled station file.)"""
    geo = station_geometry("thz-imaging")
    assert geo.frequency_hz == pytest.approx(0.4e12) and geo.pitch_m == THZ_0P4.pitch
    assert (geo.shape, geo.n_layers, geo.kind) == ((32, 32), 3, "height")
    assert geo.spacing_m == THZ_0P4.spacing


@pytest.mark.slow
def test_hilt_station_check_connects_every_instrument_of_thz_imaging() -> None:
    from hilt.gui.cli import main

    res = CliRunner().invoke(main, ["station", "check", "thz-imaging"])
    assert res.exit_code == 0, res.output
    assert "thz-imaging: all instruments OK" in res.output and "WR-2.2 AMC x27" in res.output


def test_an_image_read_on_the_station_is_the_physics_of_the_mounted_design(tmp_path) -> None:
    """4 x 4 image pixels, one object, smooth printed layers, an error-free world: the lock-in
    magnitudes follow the stack's own output power over each image pixel (the pinhole is a
    1.2 mm disc, the pixel a 1.2 mm square: close, not equal)."""
    side, heights, obj = 4, _smooth_heights(0), _object(4)
    regions = _regions(side)
    centres = region_centres_mm(regions, (32, 32), THZ_0P4.pitch)
    with StationCamera(_station_without_errors(tmp_path), tmp_path) as cam:
        cam.mount_layers(heights)
        got = cam.read_images(obj[None], centres)
    stack = dataclasses.replace(THZ_0P4).build(3, DetectorArray((32, 32), regions), kind="height",
                                               seed=0, shape=(32, 32)).twin()
    with torch.no_grad():
        for mask, h in zip(stack.masks, heights, strict=True):
            mask.raw.copy_(torch.logit(torch.as_tensor(h / mask.max_height).clamp(1e-6, 1 - 1e-6)))
        field = torch.as_tensor(obj / 32.0, dtype=torch.complex64)  # one watt over the grid
        want = stack(field[None]).double().numpy()
    assert got.images.shape == (1, side * side)
    assert pearson(got.images.reshape(1, side, side), want.reshape(1, side, side))[0] > 0.98
    ratio = got.images[0] / want[0]
    assert ratio.std() / ratio.mean() < 0.1  # one scale: responsivity x chopper x pinhole area
    assert len(got.sweep_files) == 1 and all(p.exists() for p in got.sweep_files)
    assert got.clock == "fast" and got.bench_seconds[0] > 4  # 4 x 4 points of stage and settling


def test_a_real_station_is_asked_to_mount_printed_parts(tmp_path) -> None:
    asked: list[str] = []
    mount = ManualMount(tmp_path, confirm=asked.append)
    mount.layers(_smooth_heights(1, n=2))
    mount.object(0, _object(2))
    saved = np.load(tmp_path / "print" / "heights.npz")
    assert sorted(saved) == ["layer0", "layer1"] and "heights.npz" in asked[0]
    assert (tmp_path / "print" / "object-0.npy").exists() and "object 0" in asked[1]


def test_mounting_checks_what_is_mounted(tmp_path) -> None:
    with StationCamera(_station_without_errors(tmp_path), tmp_path) as cam:
        system = cam.st.world.system("thz")
        with pytest.raises(ConfigError, match="2 height maps for 3 layers"):
            cam.mount_layers(_smooth_heights(0, n=2))
        with pytest.raises(ConfigError, match="within"):
            system.mount(object=np.full((32, 32), 2.0))
        with pytest.raises(ConfigError, match="printed heights are within 0"):
            system.mount(heights=[np.full((32, 32), 1.0)] * 3)  # a metre of resin: a unit slip


def test_an_erased_output_reads_as_zero_mean_noise_in_phase(tmp_path) -> None:
    """On the bundled station (hidden mild errors, detector pickup and noise): an opaque object
    after a bright one reads as noise around zero along the signal's phase (readings below zero
    too), where the lock-in's magnitude would keep a positive floor."""
    centres = region_centres_mm(_regions(4), (32, 32), THZ_0P4.pitch)
    with StationCamera("thz-imaging", tmp_path) as cam:
        cam.mount_layers([np.zeros((32, 32))] * 3)  # flat layers: the object's own diffraction
        got = cam.read_images(np.stack([_object(4), np.zeros((32, 32))]), centres)
    bright, dark = got.images
    assert bright.min() > 0 and dark.min() < 0
    assert abs(dark.mean()) < 0.02 * bright.mean()
