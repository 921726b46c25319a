"""Class-specific diffractive camera (Bai et al. 2022, arXiv:2205.13122): a stack of printed THz
layers that images digits of one target class at its output plane and erases every other class.

The camera (shared with :mod:`hilt.loops.recipes.permutation_camera`, which sets a permutation):

- geometry: the THz D2NN geometry :data:`~hilt.sims.physics.THZ_0P4` (0.4 THz, 0.4 mm
  pixels, 3 cm gaps, printed VeroBlackPlus height masks) on a ``grid`` x ``grid`` plane;
- object: an 8 x 8 scikit-learn digit, each digit pixel ``upsample`` x ``upsample`` plane
  pixels (1.2 mm at the default 3), amplitude-encoded on the input plane with ``input_power``;
- image: the output plane over the object's footprint read as 8 x 8 pixels of the object's
  size (one :class:`~hilt.sims.physics.DetectorArray` region each: what a detector array
  reads, or what one detector raster-scanned on the bench's XY stage reads point by point);
- target image: the object's intensity (its amplitude squared) for the target class, pixel-
  permuted by a seeded permutation in the permutation camera; nothing for the other classes.

Training (in silico, on the twin): every batch holds as many target as non-target digits. The
loss is the paper's kind of loss: for the target class a normalised MSE, ``|s O - T|^2 /
|T|^2`` with ``s`` the least-squares scale of the output ``O`` to the target ``T`` (so the
image's brightness is free), plus ``1 - PCC(O, T)``; for the other classes the output energy
relative to the target class's, ``mean E(non-target) / mean E(target)``, which pushes the
erased classes' light out of the image and keeps the target's in. The weights are this
recipe's (``alpha_nmse``, ``alpha_pcc``, ``alpha_energy``). ``vaccinate``: each training step
draws a new misalignment of the layers (the lateral shift, rotation, tilt and gap errors of a
preset), so the design tolerates the bench's unknown one (Mengu et al.'s "vaccination").

Measured (the paper's metrics): for target digits the Pearson correlation (PCC) and SSIM of the
output image with the target image (after the inverse permutation for the permutation camera);
for the other digits the **energy ratio**, the mean output-image energy of non-target digits
over that of target digits (the erasure: small is good); and the target class's efficiency
(output-image power over input power). Evaluated on the twin, then deployed (the masks printed
as designed) on physical stacks with fabrication and misalignment errors (presets ``none``,
``mild``, ``severe``; ``draws`` stacks each) through the device path
(:class:`~hilt.instruments.diffractive_processor.LocalDiffractiveProcessor`); every measured
output image goes into a run file. On the THz bench each measured image is a raster of 64
lock-in readings: the recipe reports how long one takes (:func:`raster_seconds`).

With ``--station`` (a station that can hold the design, :func:`check_station`: the bundled
``thz-imaging``) the camera is designed in the station's geometry (:func:`station_config`) and
each design is also deployed there (:func:`deploy_to_station`): its heights mounted, a few test
digits (``STATION_IMAGES``: half 2s) mounted one by one as printed objects and each output image
read by rastering the detector on the XY stage through the lock-in
(:class:`~hilt.loops.recipes.thz_station.StationCamera`). The table gets the station's metrics
next to the twin's on the same digits, and the station-clock seconds per image.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hilt.errors import ConfigError
from hilt.instruments.diffractive_processor import (
    LocalDiffractiveProcessor,
    masks_of,
    raster_seconds_per_sample,
    region_centres_mm,
)
from hilt.sims.physics import THZ_0P4, DetectorArray, DiffractiveStack, error_levels

from ..core import torch_threads
from ..data import load_digits
from . import RecipeOptions, RecipeResult
from .common import (
    ImageRun,
    config_json,
    image_rows_figure,
    metric_vs_error_figure,
    pearson,
    ssim,
    write_table,
)

TITLE = "Class-specific diffractive camera (THz, printed layers)"
PAPER = ("Bai, Luo, Gan, Hu, Li, Zhao, Mengu, Jarrahi, Ozcan: To image, or not to image: "
         "class-specific diffractive cameras with all-optical erasure of undesired objects, "
         "eLight 2, 14 (2022), arXiv:2205.13122")
PERMUTATION_TITLE = "Class-specific permutation (encryption) camera (THz, printed layers)"
SUMMARY = ("Trains THz diffractive layers to image one digit class and erase the others;\n"
           "measures PCC/SSIM (target) and the non-target energy ratio, on the twin and "
           "deployed with fabrication and misalignment errors.")

SIDE = 8  # scikit-learn digits are 8 x 8
#: The metric a ``hilt sweep`` study of this recipe summarises (mean +- std over seeds).
SWEEP_METRIC = "pcc_target"
#: The misalignment a vaccinated design is trained against (the preset's values of these).
VACCINE_FIELDS = ("shift_px", "rotation_rad", "tilt_rad", "axial_m")


@dataclasses.dataclass
class CameraConfig:
    """Everything a camera run depends on (``full`` / ``quick`` / ``tiny`` sizes below)."""

    target: int = 2  # the digit class the camera images (the paper's experiment: a 2)
    grid: int = 32
    upsample: int = 3
    n_layers: int = 3
    spacing: float = 0.03  # THZ_0P4's 3 cm
    # Light reaching the image sets the signal against the presets' readout noise (relative
    # to a unit-power input), as in hilt.loops.diffractive.
    input_power: float = 1000.0
    epochs: int = 30
    lr: float = 0.05
    batch_size: int = 32  # half target, half non-target digits
    n_train: int | None = None
    n_test: int | None = None
    alpha_nmse: float = 1.0
    alpha_pcc: float = 1.0
    alpha_energy: float = 1.0
    errors: tuple[str, ...] = ("none", "mild", "severe")
    draws: int = 3  # physical stacks per error preset
    vaccinate: str | None = "severe"  # also train a design vaccinated against this preset
    permute: bool = False
    show: int = 4  # digits of each kind in the figure
    seed: int = 0

    @classmethod
    def for_size(cls, size: str, **changes: Any) -> CameraConfig:
        if size == "full":
            base = cls()
        elif size == "quick":
            base = cls(epochs=8, draws=2)
        elif size == "tiny":
            # Seconds: what the tests run (vaccinated training has its own test).
            base = cls(grid=16, upsample=1, epochs=1, batch_size=8, n_train=40, n_test=30,
                       draws=1, errors=("none", "severe"), vaccinate=None, show=2)
        else:
            raise ConfigError(f"size {size!r}: expected full, quick or tiny")
        return dataclasses.replace(base, **changes)


# -- geometry and data -------------------------------------------------------------------------


def image_regions(cfg: CameraConfig) -> list[tuple[int, int, int, int]]:
    """The 8 x 8 image pixels on the output plane: the object's footprint, row by row."""
    s = SIDE * cfg.upsample
    if s > cfg.grid:
        raise ConfigError(f"{s} x {s} object does not fit a {cfg.grid} x {cfg.grid} plane")
    o = (cfg.grid - s) // 2
    u = cfg.upsample
    return [(o + r * u, o + c * u, u, u) for r in range(SIDE) for c in range(SIDE)]


def build_camera(cfg: CameraConfig) -> DiffractiveStack:
    """The printed stack in the THz geometry, read by the 64 image pixels."""
    setup = dataclasses.replace(THZ_0P4, spacing=float(cfg.spacing))
    shape = (cfg.grid, cfg.grid)
    return setup.build(cfg.n_layers, DetectorArray(shape, image_regions(cfg)), kind="height",
                       seed=cfg.seed, shape=shape)


def input_fields(images: np.ndarray, cfg: CameraConfig) -> torch.Tensor:
    """Digits (n, 64) in [0, 1] -> input fields (n, grid, grid), amplitude = the digit,
    each of power ``input_power``."""
    img = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, SIDE, SIDE)
    big = img.repeat_interleave(cfg.upsample, 1).repeat_interleave(cfg.upsample, 2)
    out = torch.zeros(len(img), cfg.grid, cfg.grid)
    s = SIDE * cfg.upsample
    o = (cfg.grid - s) // 2
    out[:, o:o + s, o:o + s] = big
    power = out.square().flatten(1).sum(1).clamp_min(1e-12)
    out = out * torch.sqrt(cfg.input_power / power)[:, None, None]
    return out.to(torch.complex64)


def make_permutation(seed: int, n: int = SIDE * SIDE) -> np.ndarray:
    """The camera's secret: a seeded permutation of the image pixels (``perm[k]``: the input
    pixel shown at output pixel k)."""
    return np.random.default_rng(int(seed) + 7919).permutation(n)


def permute(images: np.ndarray | torch.Tensor, perm: np.ndarray) -> Any:
    """Images (..., 64) rearranged: output pixel k shows input pixel ``perm[k]``."""
    return images[..., torch.as_tensor(perm) if isinstance(images, torch.Tensor) else perm]


def unpermute(images: np.ndarray | torch.Tensor, perm: np.ndarray) -> Any:
    """The decoding: the inverse of :func:`permute`."""
    inv = np.argsort(perm)
    return images[..., torch.as_tensor(inv) if isinstance(images, torch.Tensor) else inv]


# -- training ----------------------------------------------------------------------------------


def camera_loss(out: torch.Tensor, target: torch.Tensor, is_target: torch.Tensor,
                cfg: CameraConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The recipe's loss (module docstring) on output images ``out`` (B, 64) and target images
    ``target`` (B, 64), ``is_target`` (B,) bool."""
    o, t = out[is_target], target[is_target]
    scale = (o * t).sum(1, keepdim=True) / (o * o).sum(1, keepdim=True).clamp_min(1e-12)
    nmse = ((scale * o - t).square().sum(1) / t.square().sum(1).clamp_min(1e-12)).mean()
    oc, tc = o - o.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    pcc = ((oc * tc).sum(1) / torch.sqrt((oc * oc).sum(1) * (tc * tc).sum(1)).clamp_min(1e-12))
    energy = out.sum(1)
    ratio = energy[~is_target].mean() / energy[is_target].mean().clamp_min(1e-12)
    loss = cfg.alpha_nmse * nmse + cfg.alpha_pcc * (1.0 - pcc.mean()) + cfg.alpha_energy * ratio
    return loss, {"nmse": float(nmse.detach()), "pcc": float(pcc.detach().mean()),
                  "energy_ratio": float(ratio.detach())}


def _vaccine_levels(preset: str) -> Any:
    full = error_levels(preset)
    return error_levels("none", **{k: getattr(full, k) for k in VACCINE_FIELDS})


def train_camera(cfg: CameraConfig, x: np.ndarray, y: np.ndarray, *, vaccinate: str | None = None,
                 perm: np.ndarray | None = None, log: list[dict[str, float]] | None = None
                 ) -> DiffractiveStack:
    """Train a fresh camera (:func:`build_camera`) on digits ``x`` (n, 64), labels ``y``;
    returns the trained twin. ``vaccinate``: a new misalignment of that preset every step."""
    torch.manual_seed(cfg.seed)
    twin = build_camera(cfg).twin()
    opt = torch.optim.Adam(twin.masks.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    tgt_idx, other_idx = np.flatnonzero(y == cfg.target), np.flatnonzero(y != cfg.target)
    if len(tgt_idx) == 0 or len(other_idx) == 0:
        raise ConfigError(f"training needs digits of class {cfg.target} and of other classes")
    half = max(1, cfg.batch_size // 2)
    steps = max(1, math.ceil(len(tgt_idx) / half))
    levels = _vaccine_levels(vaccinate) if vaccinate else None
    images = x.astype(np.float32) ** 2  # the object's intensity
    targets = permute(images, perm) if perm is not None else images
    for epoch in range(cfg.epochs):
        t_order = rng.permutation(tgt_idx)
        for k in range(steps):
            t = t_order[k * half:(k + 1) * half]
            if len(t) == 0:
                t = rng.choice(tgt_idx, half)
            idx = np.concatenate([t, rng.choice(other_idx, len(t), replace=False)
                                  if len(other_idx) >= len(t) else rng.choice(other_idx, len(t))])
            is_t = torch.as_tensor(y[idx] == cfg.target)
            goal = torch.as_tensor(targets[idx]) * is_t[:, None]
            stack = twin if levels is None else twin.with_errors(levels, int(rng.integers(2**31)))
            opt.zero_grad(set_to_none=True)
            out = stack(input_fields(x[idx], cfg))
            loss, parts = camera_loss(out, goal, is_t, cfg)
            loss.backward()
            opt.step()
            if log is not None:
                log.append({"epoch": epoch, "loss": float(loss.detach()), **parts})
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


# -- measuring -----------------------------------------------------------------------------------


def camera_metrics(out: np.ndarray, x: np.ndarray, y: np.ndarray, cfg: CameraConfig,
                   perm: np.ndarray | None, input_power: float) -> dict[str, float]:
    """The paper's metrics on output images ``out`` (n, 64) of digits ``x`` (n, 64), ``y``."""
    decoded = unpermute(out, perm) if perm is not None else out
    is_t = y == cfg.target
    images = (x.astype(np.float64) ** 2).reshape(-1, SIDE, SIDE)
    dec = decoded.reshape(-1, SIDE, SIDE)
    energy = out.sum(1)
    metrics = {
        "pcc_target": float(np.mean(pearson(dec[is_t], images[is_t]))),
        "ssim_target": float(np.mean(ssim(dec[is_t], images[is_t]))),
        "pcc_other": float(np.mean(pearson(dec[~is_t], images[~is_t]))),
        "energy_ratio": float(energy[~is_t].mean() / max(energy[is_t].mean(), 1e-30)),
        "efficiency_target": float(energy[is_t].mean() / input_power),
    }
    if perm is not None:
        # What an eavesdropper without the permutation sees: the raw output against the object.
        raw = out.reshape(-1, SIDE, SIDE)
        metrics["pcc_undecoded"] = float(np.mean(pearson(raw[is_t], images[is_t])))
    return metrics


def measure(processor: LocalDiffractiveProcessor, x: np.ndarray, cfg: CameraConfig,
            batch: int = 64) -> np.ndarray:
    """Output images (n, 64) measured by ``processor`` for digits ``x``."""
    outs = [processor.run(input_fields(x[i:i + batch], cfg).numpy())[0]
            for i in range(0, len(x), batch)]
    return np.concatenate(outs).astype(np.float64)


def raster_seconds(cfg: CameraConfig, time_constant_s: float = 0.1, slope_db: int = 12,
                   averages: int = 1, read_s: float = 0.02) -> float:
    """Seconds one measured output image takes on the THz bench: one detector raster-scanned
    over the 64 image pixels by the XY stage (ESP301 simulator's 5 mm/s, 20 mm/s^2),
    serpentine, through the lock-in (settling 12 time constants at 12 dB/oct, one discarded
    read, ``averages`` reads of ``read_s``)."""
    centres = region_centres_mm(image_regions(cfg), (cfg.grid, cfg.grid), THZ_0P4.pitch)
    return raster_seconds_per_sample(centres, time_constant_s=time_constant_s, slope_db=slope_db,
                                     averages=averages, read_s=read_s)


@dataclasses.dataclass
class Evaluation:
    setting: str  # "twin" or an error preset
    draw: int | None
    metrics: dict[str, float]
    images: np.ndarray  # (n, 64) output images
    run_file: Path | None = None


def evaluate_design(twin: DiffractiveStack, cfg: CameraConfig, x: np.ndarray, y: np.ndarray,
                    idx: np.ndarray, perm: np.ndarray | None, out_dir: Path, design: str
                    ) -> list[Evaluation]:
    """The twin's images, then each error preset x draw: the masks printed as designed on that
    physical stack, every image measured through the processor and captured to a run file."""
    with torch.no_grad():
        twin_out = torch.cat([twin(input_fields(x[i:i + 64], cfg))
                              for i in range(0, len(x), 64)]).double().numpy()
    evals = [Evaluation("twin", None, camera_metrics(twin_out, x, y, cfg, perm, cfg.input_power),
                        twin_out)]
    masks = masks_of(twin)
    objects = (x.astype(np.float32) ** 2).reshape(-1, SIDE, SIDE)
    for preset in cfg.errors:
        for d in range(cfg.draws):
            error_seed = 1000 * (cfg.seed + 1) + d
            proc = LocalDiffractiveProcessor(twin.with_errors(preset, error_seed))
            proc.load_masks(masks)  # printed as designed
            out = measure(proc, x, cfg)
            path = out_dir / "runs" / f"{design}-{preset}-draw{d}.h5"
            config = {"recipe": "permutation-camera" if perm is not None else "class-camera",
                      "design": design, "errors": preset, "error_seed": error_seed,
                      "target": cfg.target, "labels": [int(v) for v in y],
                      "test_index": [int(v) for v in idx], "config": config_json(cfg)}
            with ImageRun(path, input_shape=(SIDE, SIDE), output_shape=(SIDE, SIDE),
                          config=config, physical_unit="W") as run:
                run.capture(step=0, inputs=objects, physical=out.reshape(-1, SIDE, SIDE),
                            twin=twin_out.reshape(-1, SIDE, SIDE), sample_idx=idx)
            evals.append(Evaluation(preset, d, camera_metrics(out, x, y, cfg, perm,
                                                              cfg.input_power), out, path))
    return evals



def summary_rows(design: str, evals: Sequence[Evaluation]) -> list[dict[str, Any]]:
    """One table row per setting: the mean over draws (and the PCC's spread)."""
    rows = []
    for setting in dict.fromkeys(e.setting for e in evals):
        group = [e for e in evals if e.setting == setting]
        row: dict[str, Any] = {"design": design, "setting": setting,
                               "stacks": len(group) if setting != "twin" else 0}
        for m in group[0].metrics:
            row[m] = float(np.mean([e.metrics[m] for e in group]))
        row["pcc_std"] = float(np.std([e.metrics["pcc_target"] for e in group]))
        rows.append(row)
    return rows


# -- the recipe --------------------------------------------------------------------------------


def _data(cfg: CameraConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    d = load_digits(cfg.seed).subset(cfg.n_train, cfg.n_test)
    return d.x_train, d.y_train, d.x_test, d.y_test


def _figure_samples(y: np.ndarray, cfg: CameraConfig) -> np.ndarray:
    tgt = np.flatnonzero(y == cfg.target)[:cfg.show]
    other = [int(np.flatnonzero(y == c)[0]) for c in range(10) if c != cfg.target
             and np.any(y == c)][:cfg.show]
    return np.concatenate([tgt, np.asarray(other, dtype=int)]).astype(int)


#: Test digits measured on a station per design (half target, half others): each is a raster.
STATION_IMAGES = {"tiny": 2, "quick": 8, "full": 32}


def check_station(station: str | None, name: str) -> None:
    """A station the camera can be deployed to holds its design: a THz path (station file,
    ``world.systems``) at 0.4 THz in the printed-layer geometry of ``THZ_0P4`` with height
    masks, lit by a plane wave (``illumination: plane``) through a mounted object, and a
    detector aperture of at most one image pixel (1.2 mm). Anything else is refused with what
    is missing (the bundled ``thz-imaging`` qualifies; ``thz-lab`` does not)."""
    if station is None:
        return
    from hilt import stations
    from hilt.config import load_station
    from hilt.sims.thz_path import DETECTOR_KINDS

    from .thz_station import _thz_system, station_geometry

    config = load_station(stations.find(station))
    _, spec = _thz_system(config, None)
    geo = station_geometry(station)
    band = (spec.get("multiplier") or {}).get("band")
    problems = []
    if band and not float(band[0]) <= geo.frequency_hz <= float(band[1]):
        problems.append(f"its multiplier chain covers {float(band[0]) / 1e9:.0f}-"
                        f"{float(band[1]) / 1e9:.0f} GHz, the design is for "
                        f"{geo.frequency_hz / 1e9:.0f} GHz")
    if abs(geo.wavelength_m / THZ_0P4.wavelength - 1) > 1e-6 or geo.pitch_m != THZ_0P4.pitch:
        problems.append("its optics are not the 0.4 THz printed-layer geometry (preset: thz)")
    if geo.kind != "height":
        problems.append("its layers are not printed height masks (optics kind: height)")
    if (spec.get("optics") or {}).get("illumination", "gaussian") != "plane":
        problems.append("its optics are lit by a Gaussian beam with no object in it (optics "
                        "illumination: plane mounts an object)")
    det = dict(spec.get("detector") or {})
    aperture = float(det.get("aperture_mm", DETECTOR_KINDS[det.get("kind", "pyro")]["aperture_mm"]))
    pixel_mm = 3 * THZ_0P4.pitch * 1e3
    if aperture > pixel_mm + 1e-9:
        problems.append(f"its detector's {aperture:g} mm aperture is wider than an image pixel "
                        f"({pixel_mm:g} mm; a pinhole)")
    if problems:
        raise ConfigError(f"recipe {name}: station {config.name} cannot hold the camera's design: "
                          + "; ".join(problems) + " (docs/recipes.md, 'Your own bench'; the "
                          "bundled thz-imaging can)")


def station_config(station: str, size: str, **changes: Any) -> CameraConfig:
    """The recipe's configuration for ``size`` in the geometry the station holds (grid, layers,
    gaps from its file); each image pixel is 3 plane pixels (1.2 mm), the station's pinhole."""
    from .thz_station import station_geometry

    geo = station_geometry(station)
    if geo.shape[0] != geo.shape[1]:
        raise ConfigError(f"station {station}: a {geo.shape} grid; the camera needs a square one")
    return CameraConfig.for_size(size, grid=geo.shape[0], n_layers=geo.n_layers,
                                 spacing=geo.spacing_m, upsample=3, **changes)


def object_amplitudes(x: np.ndarray, cfg: CameraConfig) -> np.ndarray:
    """Digits (n, 64) as printed objects: amplitude transmission (n, grid, grid) in [0, 1]."""
    amp = np.abs(input_fields(x, cfg).numpy()).astype(np.float64)
    return amp / np.maximum(amp.max(axis=(1, 2), keepdims=True), 1e-30)


def station_subset(y: np.ndarray, cfg: CameraConfig, n: int) -> np.ndarray:
    """``n`` test digits for the station: half of the target class, half of the others (the
    others in class order), by index."""
    tgt = np.flatnonzero(y == cfg.target)[:max(1, n // 2)]
    classes = [c for c in range(10) if c != cfg.target]
    others: list[int] = []
    for k in range(len(y)):  # round robin over the other classes: one of each first
        others += [int(i) for c in classes for i in np.flatnonzero(y == c)[k:k + 1]]
        if len(others) >= n - len(tgt):
            break
    return np.concatenate([tgt, np.asarray(others[:n - len(tgt)], dtype=int)]).astype(int)


def deploy_to_station(twin: DiffractiveStack, cfg: CameraConfig, station: str, x: np.ndarray,
                      y: np.ndarray, idx: np.ndarray, perm: np.ndarray | None, out_dir: Path,
                      design: str, time_constant_s: float = 0.1
                      ) -> tuple[Evaluation, Evaluation, dict[str, Any]]:
    """The design printed and mounted on ``station``, the digits ``x`` read there one raster
    each (:class:`~hilt.loops.recipes.thz_station.StationCamera`); returns the station's
    evaluation, the twin's on the same digits, and the timing. Each station image is divided
    by the power its object passes (the sum of its squared amplitude), so that, as the twin's
    inputs are, every object counts with the same light; the efficiency is not comparable
    (volts) and left out. ``time_constant_s``: the lock-in's (12 dB/oct; settling 12 of them
    per point): longer trades station time for signal to noise."""
    from .thz_station import StationCamera

    centres = region_centres_mm(image_regions(cfg), (cfg.grid, cfg.grid), THZ_0P4.pitch,
                                serpentine=False)
    objects = object_amplitudes(x, cfg)
    with StationCamera(station, out_dir, time_constant_s=time_constant_s) as cam:
        cam.mount_layers(masks_of(twin))
        got = cam.read_images(objects, centres, name=f"station-{design}")
    images = got.images / np.square(objects).sum(axis=(1, 2))[:, None]
    with torch.no_grad():
        twin_out = twin(input_fields(x, cfg)).double().numpy()
    m_station = camera_metrics(images, x, y, cfg, perm, 1.0)
    m_station["efficiency_target"] = float("nan")
    path = out_dir / "runs" / f"{design}-station.h5"
    config = {"recipe": "permutation-camera" if perm is not None else "class-camera",
              "design": design, "station": str(cam.station_file), "errors": "station",
              "target": cfg.target, "labels": [int(v) for v in y],
              "test_index": [int(v) for v in idx], "sweep_files": [str(p) for p in got.sweep_files],
              "config": config_json(cfg)}
    with ImageRun(path, input_shape=(SIDE, SIDE), output_shape=(SIDE, SIDE), config=config,
                  station_file=cam.station_file, physical_unit="V/W") as run:
        run.capture(step=0, inputs=(x.astype(np.float32) ** 2).reshape(-1, SIDE, SIDE),
                    physical=images.reshape(-1, SIDE, SIDE),
                    twin=twin_out.reshape(-1, SIDE, SIDE), sample_idx=idx)
    timing = {"station": Path(cam.station_file).stem, "images": len(x), "clock": got.clock,
              "bench_seconds_per_image": float(np.mean(got.bench_seconds)),
              "wall_seconds": round(got.wall_seconds, 1)}
    return (Evaluation("station", 0, m_station, images, path),
            Evaluation("twin (station digits)", None,
                       camera_metrics(twin_out, x, y, cfg, perm, cfg.input_power), twin_out),
            timing)


def run_camera(options: RecipeOptions, *, permute_images: bool, name: str,
               config: CameraConfig | None = None) -> RecipeResult:
    """Train, deploy and measure one camera; write table, figures and run files."""
    check_station(options.station, name)
    with torch_threads(1):
        return _run_camera(options, permute_images, name, config)


def _run_camera(options: RecipeOptions, permute_images: bool, name: str,
                config: CameraConfig | None) -> RecipeResult:
    t0 = time.perf_counter()
    if config is not None:
        cfg = config
    elif options.station is not None:  # designed in the geometry the station holds
        cfg = station_config(options.station, options.size, seed=options.seed,
                             permute=permute_images)
    else:
        cfg = CameraConfig.for_size(options.size, seed=options.seed, permute=permute_images)
    out_dir = Path(options.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr, x_te, y_te = _data(cfg)
    idx = np.arange(len(y_te))
    perm = make_permutation(cfg.seed) if cfg.permute else None
    designs = {"standard": None} | ({"vaccinated": cfg.vaccinate} if cfg.vaccinate else {})
    rows: list[dict[str, Any]] = []
    evals: dict[str, list[Evaluation]] = {}
    train_s: dict[str, float] = {}
    station_evals: dict[str, tuple[np.ndarray, Evaluation, Evaluation]] = {}
    timings: dict[str, dict[str, Any]] = {}
    for design, vacc in designs.items():
        t1 = time.perf_counter()
        twin = train_camera(cfg, x_tr, y_tr, vaccinate=vacc, perm=perm)
        train_s[design] = round(time.perf_counter() - t1, 1)
        torch.save(twin.state_dict(), out_dir / f"{design}.pt")
        evals[design] = evaluate_design(twin, cfg, x_te, y_te, idx, perm, out_dir, design)
        rows += summary_rows(design, evals[design])
        if options.station is not None:
            pick = station_subset(y_te, cfg, STATION_IMAGES[options.size])
            on_station, twin_there, timing = deploy_to_station(
                twin, cfg, options.station, x_te[pick], y_te[pick], pick, perm, out_dir, design)
            station_evals[design] = (pick, on_station, twin_there)
            station_rows = summary_rows(design, [twin_there, on_station])
            station_rows[0]["stacks"] = 0  # the twin's prediction for the same digits
            station_rows[-1]["station_s_per_image"] = timing["bench_seconds_per_image"]
            rows += station_rows
            timings[design] = timing
    raster = raster_seconds(cfg)
    title = TITLE if not cfg.permute else PERMUTATION_TITLE
    _, _, md = write_table(rows, out_dir, f"{title} ({options.size}): target digit {cfg.target}, "
                           f"{int(np.sum(y_te == cfg.target))} target and "
                           f"{int(np.sum(y_te != cfg.target))} other test digits")
    figures = _figures(cfg, evals, x_te, y_te, perm, out_dir)
    md += (f"\nOne measured output image on the THz bench (64-point raster of the detector on the "
           f"XY stage, lock-in 100 ms, 12 dB/oct): {raster:.0f} s computed; the "
           f"{len(y_te)}-digit test set: {raster * len(y_te) / 3600:.1f} h per stack.\n")
    timed = None
    for design, timing in timings.items():
        md += (f"\nThe {design} design on station {timing['station']} ({timing['images']} test "
               f"digits, each read by a 64-point raster through the stage and lock-in, "
               f"{timing['clock']} clock): {timing['bench_seconds_per_image']:.1f} s of station "
               f"time per image, {timing['wall_seconds']:.1f} s of wall time for all.\n")
    if station_evals:
        figures.append(_station_figure(cfg, station_evals, x_te, y_te, perm, out_dir))
    if options.size != "tiny" and options.station is None:  # the tests time a small raster
        from .thz_raster import time_raster

        centres = region_centres_mm(image_regions(cfg), (cfg.grid, cfg.grid), THZ_0P4.pitch)
        timed = time_raster(centres, out_dir / "runs" / "thz-raster.h5")
        md += (f"The same raster through the {timed.station} station's drivers (stage and lock-in, "
               f"{timed.clock} simulated clock): {timed.bench_seconds:.1f} s "
               f"({timed.wall_seconds:.1f} s of wall time here; it reads the station's own "
               f"optics, which cannot hold this design: docs/recipes.md).\n")
    (out_dir / "table.md").write_text(md)
    if perm is not None:  # the receiver's key
        (out_dir / "permutation.json").write_text(json.dumps(
            {"seed": cfg.seed, "permutation": perm.tolist(),
             "meaning": "output pixel k (row-major, 8 x 8) shows input pixel permutation[k]"}))
    run_files = [e.run_file for es in evals.values() for e in es if e.run_file is not None]
    run_files += [ev.run_file for _, ev, _ in station_evals.values() if ev.run_file is not None]
    if timed is not None:
        run_files.append(timed.sweep_file)
    seconds = round(time.perf_counter() - t0, 1)
    return RecipeResult(name, rows, md, figures, run_files, seconds,
                        extra={"raster_seconds_per_image": raster, "train_seconds": train_s,
                               "station": timings or None,
                               "raster_on_station": None if timed is None else {
                                   "station": timed.station, "points": timed.points,
                                   "bench_seconds": timed.bench_seconds,
                                   "wall_seconds": timed.wall_seconds, "clock": timed.clock},
                               "permutation": None if perm is None else perm.tolist()})


def _figures(cfg: CameraConfig, evals: dict[str, list[Evaluation]], x: np.ndarray, y: np.ndarray,
             perm: np.ndarray | None, out_dir: Path) -> list[Path]:
    pick = _figure_samples(y, cfg)
    objects = (x[pick].astype(np.float64) ** 2)
    std = evals["standard"]
    worst = [e for e in std if e.setting == cfg.errors[-1]][0]
    rows: dict[str, np.ndarray] = {"input": objects.reshape(-1, SIDE, SIDE)}
    twin_img = std[0].images[pick]
    if perm is not None:
        rows["output (twin)"] = twin_img.reshape(-1, SIDE, SIDE)
        rows["decoded (twin)"] = unpermute(twin_img, perm).reshape(-1, SIDE, SIDE)
        rows[f"decoded ({worst.setting})"] = unpermute(worst.images[pick], perm).reshape(-1, SIDE, SIDE)
        target = permute(objects, perm)
    else:
        rows["output (twin)"] = twin_img.reshape(-1, SIDE, SIDE)
        rows[f"output ({worst.setting})"] = worst.images[pick].reshape(-1, SIDE, SIDE)
        target = objects.copy()
    target[y[pick] != cfg.target] = 0.0
    rows["target"] = target.reshape(-1, SIDE, SIDE)
    titles = [f"{int(c)}" for c in y[pick]]
    # Every row on its target digits' scale: an erased digit shows dark, not rescaled noise.
    figs = [image_rows_figure(_common_scale(rows, y[pick] == cfg.target), out_dir / "images.png",
                              titles=titles, vrange=(0.0, 1.0),
                              suptitle=f"digit {cfg.target} imaged, others erased "
                                       "(each row scaled to its target digits' maximum)")]
    xs = list(cfg.errors)
    series: dict[str, list[float]] = {}
    ratio: dict[str, list[float]] = {}
    for design, es in evals.items():
        rs = summary_rows(design, es)
        by = {r["setting"]: r for r in rs}
        series[f"PCC, {design}"] = [by[s]["pcc_target"] for s in xs]
        ratio[f"energy ratio, {design}"] = [by[s]["energy_ratio"] for s in xs]
    figs.append(metric_vs_error_figure(xs, series, out_dir / "pcc_vs_errors.png",
                                       "fabrication and misalignment errors",
                                       "PCC (target digits)"))
    figs.append(metric_vs_error_figure(xs, ratio, out_dir / "energy_vs_errors.png",
                                       "fabrication and misalignment errors",
                                       "energy non-target / target"))
    return figs


def _station_figure(cfg: CameraConfig, station_evals: dict[str, tuple[np.ndarray, Evaluation,
                    Evaluation]], x: np.ndarray, y: np.ndarray, perm: np.ndarray | None,
                    out_dir: Path) -> Path:
    """Input / twin / station rows of the digits read on the station (decoded if permuted)."""
    pick = station_evals["standard"][0]
    objects = (x[pick].astype(np.float64) ** 2)
    rows: dict[str, np.ndarray] = {"input": objects.reshape(-1, SIDE, SIDE)}
    for design, (_, on_station, twin_there) in station_evals.items():
        for label, img in (("twin", twin_there.images), ("station", on_station.images)):
            img = unpermute(img, perm) if perm is not None else img
            rows[f"{label} ({design})"] = img.reshape(-1, SIDE, SIDE)
    titles = [f"{int(c)}" for c in y[pick]]
    return image_rows_figure(_common_scale(rows, y[pick] == cfg.target),
                             out_dir / "station-images.png", titles=titles, vrange=(0.0, 1.0),
                             suptitle=f"digit {cfg.target} read on the station "
                                      "(raster of the detector on the XY stage, lock-in)")


def _common_scale(rows: dict[str, np.ndarray], is_target: np.ndarray) -> dict[str, np.ndarray]:
    """Each row divided by the maximum over its target digits, clipped to [0, 1]."""
    out = {}
    for k, v in rows.items():
        ref = float(v[is_target].max()) if np.any(is_target) else float(v.max())
        out[k] = np.clip(v / (ref if ref > 0 else 1.0), 0.0, 1.0)
    return out


def run(options: RecipeOptions) -> RecipeResult:
    """``hilt recipe run class-camera``: see the module docstring. With a folded SLM bench as
    ``--station`` the camera is trained, deployed and corrected in situ there instead
    (:mod:`hilt.loops.recipes.slm_camera`, the recipe ``class-camera-slm``)."""
    if options.station is not None:
        from .slm_camera import is_slm_station, run_slm_camera

        if is_slm_station(options.station):
            return run_slm_camera(options)
    return run_camera(options, permute_images=False, name="class-camera")


def trial(params: dict[str, Any], out_dir: Path, *, permute_images: bool = False) -> dict[str, Any]:
    """One grid point of a ``hilt sweep`` study with ``recipe: class-camera``.

    Grid keys: ``errors`` (a preset), ``seed``, ``vaccinate`` (a preset or null), ``size``
    (tiny / quick / full, default quick), and any :class:`CameraConfig` field (``target``,
    ``epochs``, ``n_layers``, ...). Run files go to ``out_dir``; the trained design is kept
    beside it (``out_dir/../models``, keyed by everything but ``errors``) and reused by the
    trials that differ only in ``errors``. Returns the metrics (mean over ``draws``)."""
    p = dict(params)
    size = str(p.pop("size", "quick"))
    preset = str(p.pop("errors", "severe"))
    fields = {f.name for f in dataclasses.fields(CameraConfig)}
    unknown = sorted(set(p) - fields)
    if unknown:
        raise ConfigError(f"camera trial: unknown keys {unknown}; known: errors, size, "
                          f"{', '.join(sorted(fields))}")
    vacc = p.pop("vaccinate", None)
    p = {k: tuple(v) if isinstance(v, list) else v for k, v in p.items()}
    cfg = CameraConfig.for_size(size, permute=permute_images, errors=(preset,), vaccinate=None,
                                **p)
    out_dir = Path(out_dir)
    models = out_dir.parent / "models"
    models.mkdir(parents=True, exist_ok=True)
    key = json.dumps({**config_json(dataclasses.replace(cfg, errors=(), draws=0)),
                      "vaccinate": vacc}, sort_keys=True)
    import hashlib

    model_path = models / f"{hashlib.sha1(key.encode()).hexdigest()[:12]}.pt"
    with torch_threads(1):
        return _trial(cfg, vacc, model_path, out_dir, preset)


def _trial(cfg: CameraConfig, vacc: str | None, model_path: Path, out_dir: Path, preset: str
           ) -> dict[str, Any]:
    x_tr, y_tr, x_te, y_te = _data(cfg)
    perm = make_permutation(cfg.seed) if cfg.permute else None
    t0 = time.perf_counter()
    twin = build_camera(cfg).twin()
    if model_path.exists():
        twin.load_state_dict(torch.load(model_path, weights_only=True))
    else:
        twin = train_camera(cfg, x_tr, y_tr, vaccinate=vacc, perm=perm)
        tmp = model_path.with_suffix(".tmp")
        torch.save(twin.state_dict(), tmp)
        tmp.replace(model_path)  # whole or absent: a concurrent trial may train it too
    design = "vaccinated" if vacc else "standard"
    evals = evaluate_design(twin, cfg, x_te, y_te, np.arange(len(y_te)), perm, out_dir, design)
    row = summary_rows(design, [e for e in evals if e.setting == preset])[0]
    twin_row = summary_rows(design, [evals[0]])[0]
    return {**{m: row[m] for m in (*evals[0].metrics, "pcc_std")},
            "twin_pcc": twin_row["pcc_target"],
            "stacks": row["stacks"], "seconds": round(time.perf_counter() - t0, 2),
            "run_files": [str(e.run_file) for e in evals if e.run_file is not None]}


__all__ = [
    "PAPER", "SUMMARY", "TITLE", "CameraConfig", "build_camera", "camera_loss", "camera_metrics",
    "check_station", "deploy_to_station", "evaluate_design", "object_amplitudes", "station_config",
    "station_subset", "input_fields", "make_permutation", "measure", "permute", "raster_seconds",
    "run", "run_camera", "train_camera", "trial", "unpermute",
]
