"""Recipe ``diffuser-imaging``: a diffractive imager that sees through random unknown diffusers.

After Luo et al., "Computational imaging without a computer: seeing through random diffusers
at the speed of light", eLight 2, 4 (2022), and Li, Luo, Bai and Ozcan, "Analysis of diffractive
neural networks for seeing through random diffusers", arXiv:2205.00428 (the study of how many
diffusers per epoch, the correlation length, and the layers' "vaccination" against
misalignment). What carries over from the papers, in wavelengths of the THz geometry
(:data:`~hilt.sims.physics.THZ_0P4`, 0.4 THz, lambda = 0.75 mm, 0.4 mm printed pixels, the
VeroBlackPlus resin):

- the scene: an amplitude object, ~53 lambda (40 mm) of free space, a thin random phase
  diffuser (Gaussian-correlated heights of the resin, correlation length ~10 lambda), then the
  network: printed height layers ~2.7 lambda (2 mm) apart, starting ~2.7 lambda after the
  diffuser, the output plane ~9.3 lambda (7 mm) after the last layer;
- training: every epoch draws ``n`` new diffusers and shows every training object through each
  of them; the loss is the negative Pearson correlation of the output intensity image with the
  object;
- test: Pearson correlation on test objects through the ``n`` diffusers of the last epoch
  ("known") and through diffusers never used in training ("new"); line gratings of decreasing
  period give the smallest period the network resolves through new diffusers;
- vaccination (Li et al.): during training each batch sees the layers moved at random
  (uniform lateral shifts and gap changes), so that the printed and assembled stack tolerates
  misalignment.

What is this recipe's own: the objects are scikit-learn's 8x8 digits, upsampled (the papers
used MNIST), the planes are far smaller than the papers' (a 64 x 64 grid for ``quick``,
96 x 96 for ``full``), and the output image is read by square detector pixels (the bench's
raster, or an array) over the object's footprint on the output plane.

Deployment: the trained layers are programmed into a
:class:`~hilt.instruments.diffractive_processor.DiffractiveProcessor` (in-process, the THz
stack with the bench's hidden errors, ``.with_errors(preset, seed)``: layer shifts, rotations,
tilts, gap and height errors, printer steps, detector gain and noise) and every measured output
image is captured to a run file. The time a measured image takes on a THz bench whose one
detector is raster-scanned over the output pixels through a lock-in is reported
(:func:`~hilt.instruments.diffractive_processor.raster_seconds_per_sample`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hilt.errors import ConfigError
from hilt.instruments.diffractive_processor import (
    DiffractiveProcessor,
    LocalDiffractiveProcessor,
    masks_of,
    raster_seconds_per_sample,
    region_centres_mm,
)
from hilt.loops.data import load_digits
from hilt.sims.physics import (
    THZ_0P4,
    DetectorArray,
    DiffractiveStack,
    ErrorLevels,
    HeightMask,
    Propagator,
    error_levels,
)

from ..core import config_dict, torch_threads
from . import RecipeOptions, RecipeResult
from .common import ImageRun, image_rows_figure, metric_vs_error_figure, pearson, write_table
from .diffuser_optics import (
    Misalignment,
    diffuser_transmission,
    imager_readout,
    random_diffusers,
)

TITLE = "Imaging through random unknown diffusers"
PAPER = ("Luo et al., 'Computational imaging without a computer: seeing through random "
         "diffusers at the speed of light', eLight 2022; Li, Luo, Bai, Ozcan, 'Analysis of "
         "diffractive neural networks for seeing through random diffusers', arXiv:2205.00428")
SUMMARY = ("Trains THz diffractive layers over many random phase diffusers (with and without "
           "misalignment 'vaccination'), deploys them to the erroneous stack;\nmeasures the "
           "Pearson correlation of output and object through known and new diffusers, against "
           "misalignment, and the resolvable grating period.")

WAVELENGTH = THZ_0P4.wavelength
MATERIAL = THZ_0P4.material
assert MATERIAL is not None and THZ_0P4.max_height is not None


@dataclasses.dataclass
class DiffuserConfig:
    """Everything a run of the recipe depends on. Distances and lengths in wavelengths."""

    grid: int = 96
    upsample: int = 6  # 8x8 digit -> 48 x 48 px object
    detector_px: int = 3  # output pixels are detector_px x detector_px plane pixels
    n_layers: int = 4
    object_to_diffuser_wl: float = 53.3  # 40 mm
    diffuser_to_layer_wl: float = 2.67  # 2 mm
    layer_gap_wl: float = 2.67
    layer_to_output_wl: float = 9.33  # 7 mm
    corr_length_wl: float = 10.0
    diffuser_height_std_wl: float = 0.7  # phase std = 2 pi (n - 1) 0.7 ~ 3.2 rad
    n_diffusers: int = 10  # per epoch
    n_new_diffusers: int = 10
    epochs: int = 10
    batch_objects: int = 4
    lr: float = 0.05
    n_train: int | None = 600
    n_test: int | None = 80
    # Vaccination (uniform draws per batch); the bench's "severe" preset has a 0.5 px lateral
    # and a 300 um axial standard deviation.
    vaccine_lateral_px: float = 1.0
    vaccine_axial_wl: float = 0.8  # 0.6 mm
    input_power: float = 1000.0  # object-plane power: sets the signal against detector noise
    benches: tuple[str, ...] = ("mild", "severe")
    error_seed: int = 1
    sweep_levels_px: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 1.5)
    sweep_axial_wl_per_px: float = 0.8  # gap error std per px of lateral std (severe's ratio)
    sweep_seeds: int = 2
    sweep_objects: int = 24
    grating_periods: tuple[int, ...] = (2, 3, 4, 5)  # output pixels
    grating_diffusers: int = 6
    lockin_time_constant_s: float = 0.03
    # torch threads while the recipe runs (restored after): one thread ran these small FFTs
    # 2-7x faster than two on the shared 2-core benchmark machine; raise it on a free workstation.
    threads: int = 1
    figure_columns: int = 6

    @classmethod
    def for_size(cls, size: str) -> DiffuserConfig:
        if size == "full":
            return cls()
        if size == "quick":
            return cls(grid=64, upsample=4, detector_px=2, n_layers=4, n_diffusers=6,
                       n_new_diffusers=6, epochs=4, n_train=240, n_test=40, sweep_objects=12,
                       sweep_levels_px=(0.0, 0.5, 1.0, 1.5), grating_periods=(2, 3, 4, 5, 6),
                       grating_diffusers=4)
        if size == "tiny":
            return cls(grid=24, upsample=2, detector_px=2, n_layers=2, n_diffusers=2,
                       n_new_diffusers=2, epochs=1, batch_objects=4, n_train=8, n_test=4,
                       benches=("severe",), sweep_levels_px=(0.0, 1.0), sweep_seeds=1,
                       sweep_objects=2, grating_periods=(2, 3), grating_diffusers=1,
                       figure_columns=2)
        raise ConfigError(f"recipe size must be full, quick or tiny, not {size!r}")

    @property
    def object_px(self) -> int:
        return 8 * self.upsample

    @property
    def image_px(self) -> int:
        return self.object_px // self.detector_px


# -- geometry ----------------------------------------------------------------------------------


def footprint(cfg: DiffuserConfig) -> tuple[int, int]:
    """(offset, size) in plane pixels of the object's square footprint, centred on the grid."""
    s = cfg.object_px
    if s > cfg.grid:
        raise ConfigError(f"a {s} px object does not fit a {cfg.grid} px grid")
    return (cfg.grid - s) // 2, s


def image_detectors(cfg: DiffuserConfig) -> DetectorArray:
    """Square detector pixels tiling the object's footprint on the output plane, row by row."""
    o, s = footprint(cfg)
    b = cfg.detector_px
    regions = [(o + r * b, o + c * b, b, b) for r in range(s // b) for c in range(s // b)]
    return DetectorArray((cfg.grid, cfg.grid), regions)


def build_imager(cfg: DiffuserConfig, seed: int = 0) -> DiffractiveStack:
    """The network: ``n_layers`` printed height masks, flat at start (free space), between the
    diffuser plane (its input plane) and the output plane, read by :func:`image_detectors`."""
    shape = (cfg.grid, cfg.grid)
    g = torch.Generator().manual_seed(seed)
    masks = [HeightMask(shape, MATERIAL, THZ_0P4.max_height, init="zeros", seed=g)  # type: ignore[arg-type]
             for _ in range(cfg.n_layers)]
    distances = ([cfg.diffuser_to_layer_wl] + [cfg.layer_gap_wl] * (cfg.n_layers - 1)
                 + [cfg.layer_to_output_wl])
    return DiffractiveStack(masks, [d * WAVELENGTH for d in distances], THZ_0P4.pitch,
                            WAVELENGTH, image_detectors(cfg))


def flat_copy(stack: DiffractiveStack) -> DiffractiveStack:
    """The same stack with every layer printed at zero height: free space, no network."""
    flat = copy.deepcopy(stack)
    with torch.no_grad():
        for m in flat.masks:
            m.raw.fill_(-30.0)  # type: ignore[operator]
    return flat


# -- objects and the scene --------------------------------------------------------------------


def object_planes(images: np.ndarray, cfg: DiffuserConfig) -> torch.Tensor:
    """Amplitude objects (n, grid, grid): square images upsampled (nearest) into the footprint."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    side = int(round(math.sqrt(x.shape[-1]))) if x.dim() == 2 else x.shape[-1]
    x = x.reshape(-1, 1, side, side)
    x = F.interpolate(x, size=(cfg.object_px, cfg.object_px), mode="nearest")[:, 0]
    o, s = footprint(cfg)
    planes = torch.zeros(len(x), cfg.grid, cfg.grid)
    planes[:, o:o + s, o:o + s] = x
    return planes


def target_images(planes: torch.Tensor, cfg: DiffuserConfig) -> torch.Tensor:
    """The object as the output detectors would see a perfect image: footprint average-pooled
    to detector pixels (n, image_px, image_px)."""
    o, s = footprint(cfg)
    return F.avg_pool2d(planes[:, None, o:o + s, o:o + s], cfg.detector_px)[:, 0]


def as_images(readings: torch.Tensor, cfg: DiffuserConfig) -> torch.Tensor:
    """Detector readings (..., n_det) as images (..., image_px, image_px)."""
    return readings.reshape(*readings.shape[:-1], cfg.image_px, cfg.image_px)


class Scene:
    """Objects seen through diffusers: the field arriving at the diffuser is computed once per
    object (free space does not change), the diffuser multiplies it."""

    def __init__(self, cfg: DiffuserConfig) -> None:
        self.cfg = cfg
        self.to_diffuser = Propagator((cfg.grid, cfg.grid), THZ_0P4.pitch, WAVELENGTH,
                                      cfg.object_to_diffuser_wl * WAVELENGTH)

    def at_diffuser(self, planes: torch.Tensor) -> torch.Tensor:
        """Object amplitudes (n, g, g) -> fields arriving at the diffuser, each object scaled to
        ``input_power`` on its own plane."""
        power = planes.square().sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
        u0 = (planes * torch.sqrt(self.cfg.input_power / power)).to(torch.complex64)
        with torch.no_grad():
            return self.to_diffuser(u0)

    def diffusers(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` random diffuser transmissions (n, g, g)."""
        cfg = self.cfg
        h = random_diffusers(n, (cfg.grid, cfg.grid), THZ_0P4.pitch,
                             cfg.corr_length_wl * WAVELENGTH,
                             cfg.diffuser_height_std_wl * WAVELENGTH, generator)
        return diffuser_transmission(h, WAVELENGTH, MATERIAL.refractive_index - 1.0)


def pairs(fields: torch.Tensor, diffusers: torch.Tensor) -> torch.Tensor:
    """Every field through every diffuser: (B, g, g) x (D, g, g) -> (B * D, g, g), object-major."""
    return (fields[:, None] * diffusers[None]).reshape(-1, *fields.shape[-2:])


# -- training ------------------------------------------------------------------------------------


def pearson_loss(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Negative mean Pearson correlation of image pairs (the papers' loss), differentiable."""
    a = images.flatten(1) - images.flatten(1).mean(1, keepdim=True)
    b = targets.flatten(1) - targets.flatten(1).mean(1, keepdim=True)
    r = (a * b).sum(1) / torch.sqrt((a * a).sum(1) * (b * b).sum(1)).clamp_min(1e-20)
    return -r.mean()


@dataclasses.dataclass
class Trained:
    """A trained imager: its stack (the design), the last epoch's diffusers, the loss curve."""

    stack: DiffractiveStack
    known_diffusers: torch.Tensor
    losses: list[float]
    seconds: float


def train_imager(cfg: DiffuserConfig, scene: Scene, fields: torch.Tensor, targets: torch.Tensor,
                 *, vaccinated: bool, seed: int = 0,
                 log: Any = None) -> Trained:
    """Train the layers over ``cfg.n_diffusers`` fresh diffusers per epoch: every batch of
    objects through every diffuser of the epoch; ``vaccinated`` moves the layers at random
    (one :meth:`Misalignment.uniform` draw per batch)."""
    t0 = time.perf_counter()
    stack = build_imager(cfg, seed)
    opt = torch.optim.Adam(stack.masks.parameters(), lr=cfg.lr)
    g_diff = torch.Generator().manual_seed(1000 + seed)  # same diffusers for both models
    g_order = torch.Generator().manual_seed(2000 + seed)
    g_vacc = torch.Generator().manual_seed(3000 + seed)
    losses: list[float] = []
    diffusers = scene.diffusers(cfg.n_diffusers, g_diff)
    for epoch in range(cfg.epochs):
        if epoch:
            diffusers = scene.diffusers(cfg.n_diffusers, g_diff)
        order = torch.randperm(len(fields), generator=g_order)
        total, batches = 0.0, 0
        for idx in order.split(cfg.batch_objects):
            x = pairs(fields[idx], diffusers)
            y = targets[idx].repeat_interleave(len(diffusers), 0)
            mis = (Misalignment.uniform(cfg.n_layers, cfg.vaccine_lateral_px,
                                        cfg.vaccine_axial_wl * WAVELENGTH, g_vacc)
                   if vaccinated else None)
            opt.zero_grad(set_to_none=True)
            loss = pearson_loss(as_images(imager_readout(stack, x, mis), cfg), y)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            batches += 1
        losses.append(total / max(1, batches))
        if log is not None:
            log(f"  {'vaccinated' if vaccinated else 'standard'} epoch {epoch + 1}/{cfg.epochs}:"
                f" pearson {-losses[-1]:.3f}")
    for p in stack.parameters():
        p.requires_grad_(False)
    return Trained(stack, diffusers, losses, time.perf_counter() - t0)


# -- measuring -----------------------------------------------------------------------------------


def twin_images(stack: DiffractiveStack, fields: torch.Tensor, cfg: DiffuserConfig,
                chunk: int = 64) -> torch.Tensor:
    """The design's predicted output images for fields on the diffuser plane (after it)."""
    with torch.no_grad():
        return torch.cat([as_images(imager_readout(stack, c), cfg) for c in fields.split(chunk)])


def measure_images(processor: DiffractiveProcessor, stack: DiffractiveStack, fields: torch.Tensor,
                   cfg: DiffuserConfig, chunk: int = 64) -> torch.Tensor:
    """Program ``stack``'s layers into ``processor`` and measure the output images of fields on
    its input plane (the light just after the diffuser): one physical query per chunk."""
    processor.load_masks(masks_of(stack))
    out = [torch.as_tensor(processor.run(c.numpy())[0]) for c in fields.split(chunk)]
    return as_images(torch.cat(out).float(), cfg)


def bench(cfg: DiffuserConfig, levels: str | ErrorLevels, seed: int) -> LocalDiffractiveProcessor:
    """The simulated THz bench: the imager's geometry with hidden errors drawn from ``seed``."""
    return LocalDiffractiveProcessor(build_imager(cfg).with_errors(levels, seed))


def raster_seconds_per_image(cfg: DiffuserConfig) -> float:
    """How long one measured output image takes with one detector raster-scanned over the
    output pixels on the XY stage through a lock-in (12 dB/oct, ``lockin_time_constant_s``)."""
    det = image_detectors(cfg)
    centres = region_centres_mm(det.regions, (cfg.grid, cfg.grid), THZ_0P4.pitch)
    return raster_seconds_per_sample(centres, time_constant_s=cfg.lockin_time_constant_s)


class Captures:
    """One run file per trained network (``<name>.h5``, stream ``outputs``): every measured
    output image with its object as input and the twin's prediction; one step per condition,
    the conditions named in the run's config under ``steps`` (step number -> condition)."""

    def __init__(self, out_dir: Path, name: str, cfg: DiffuserConfig, seed: int,
                 conditions: list[str]) -> None:
        self.conditions = list(conditions)
        self.path = out_dir / f"{name}.h5"
        self.run = ImageRun(self.path, input_shape=(cfg.object_px, cfg.object_px),
                            output_shape=(cfg.image_px, cfg.image_px),
                            config={"recipe": "diffuser-imaging", "network": name, "seed": seed,
                                    "steps": {str(i): c for i, c in enumerate(self.conditions)},
                                    "config": config_dict(cfg)}, physical_unit="W")

    def add(self, condition: str, planes: torch.Tensor, measured: torch.Tensor,
            predicted: torch.Tensor, cfg: DiffuserConfig) -> None:
        o, s = footprint(cfg)
        self.run.capture(step=self.conditions.index(condition), inputs=planes[:, o:o + s, o:o + s],
                         physical=measured, twin=predicted)

    def close(self) -> None:
        self.run.close()


def conditions(cfg: DiffuserConfig, network: str) -> list[str]:
    """What :func:`run_config` measures for ``network``, in order (the run file's steps)."""
    sets = ("new", "none") if network == "free-space" else ("known", "new", "none")
    out = [f"{w} diffusers, bench {b}" for w in sets for b in cfg.benches]
    if network != "free-space":
        out += [_sweep_condition(level, s) for level in cfg.sweep_levels_px
                for s in range(cfg.sweep_seeds)]
        out += [_grating_condition(p) for p in cfg.grating_periods]
    return out


def _sweep_condition(level: float, s: int) -> str:
    return f"misalignment {level} px (seed {100 + s}), new diffusers"


def _grating_condition(period: int) -> str:
    return f"grating period {period} output px, new diffusers"



def mean_pearson(images: torch.Tensor, targets: torch.Tensor) -> float:
    return float(np.mean(pearson(images, targets)))


# -- gratings --------------------------------------------------------------------------------------


def grating_planes(cfg: DiffuserConfig, period: int, lines: int = 3) -> torch.Tensor:
    """A binary amplitude object (1, g, g): ``lines`` vertical bright lines, ``period`` output
    (detector) pixels apart and ``period // 2`` wide, aligned to the detector pixels, three
    quarters of the footprint tall, centred (the paper's line gratings, on our pixels)."""
    o, s = footprint(cfg)
    b = cfg.detector_px
    plane = torch.zeros(1, cfg.grid, cfg.grid)
    for x0 in _line_starts(cfg, period, lines):
        plane[0, o + s // 8:o + s - s // 8, o + x0 * b:o + (x0 + max(1, period // 2)) * b] = 1.0
    return plane


def _line_starts(cfg: DiffuserConfig, period: int, lines: int = 3) -> list[int]:
    width = max(1, period // 2)
    span = (lines - 1) * period + width
    if span > cfg.image_px:
        raise ConfigError(f"a grating of period {period} does not fit {cfg.image_px} pixels")
    first = (cfg.image_px - span) // 2
    return [first + k * period for k in range(lines)]


def grating_line_centres(cfg: DiffuserConfig, period: int, lines: int = 3) -> list[float]:
    """Line centres in output (detector) pixels."""
    width = max(1, period // 2)
    return [x0 + (width - 1) / 2 for x0 in _line_starts(cfg, period, lines)]


def resolved(profile: np.ndarray, line_x: list[float], dip: float = 0.8) -> bool:
    """Whether a 1D output profile shows each line: between neighbouring line centres the
    minimum falls below ``dip`` times the smaller of the two line peaks."""
    for a, b in zip(line_x[:-1], line_x[1:], strict=True):
        ia, ib = int(math.floor(a)), int(math.ceil(b))
        peaks = min(profile[ia:int(math.ceil(a)) + 1].max(), profile[int(math.floor(b)):ib + 1].max())
        between = profile[int(math.ceil(a)) + 1:int(math.floor(b))]
        if len(between) == 0 or between.min() > dip * peaks:
            return False
    return True


def grating_test(cfg: DiffuserConfig, scene: Scene, trained: Trained,
                 processor: DiffractiveProcessor, diffusers: torch.Tensor,
                 captures: Captures) -> dict[int, dict[str, Any]]:
    """Each grating period through new diffusers, measured on ``processor``: the output
    profile across the lines (averaged over the lines' rows and the diffusers), resolved or
    not (:func:`resolved`), and the Pearson correlation with the grating."""
    out: dict[int, dict[str, Any]] = {}
    rows = slice(cfg.image_px // 8, cfg.image_px - cfg.image_px // 8)
    for period in cfg.grating_periods:
        plane = grating_planes(cfg, period)
        fields = pairs(scene.at_diffuser(plane), diffusers)
        meas = measure_images(processor, trained.stack, fields, cfg)
        pred = twin_images(trained.stack, fields, cfg)
        captures.add(_grating_condition(period), plane.expand(len(fields), -1, -1), meas, pred,
                     cfg)
        profile = meas[:, rows].mean(dim=(0, 1)).numpy()
        centres = grating_line_centres(cfg, period)
        out[period] = {"resolved": resolved(profile, centres),
                       "pearson": mean_pearson(meas, target_images(plane, cfg).expand_as(meas)),
                       "image": meas[0]}
    return out


class TestSet:
    """Test objects: their planes, the fields they send to the diffuser, their target images."""

    def __init__(self, planes: torch.Tensor, scene: Scene, cfg: DiffuserConfig) -> None:
        self.planes = planes
        self.fields = scene.at_diffuser(planes)
        self.targets = target_images(planes, cfg)


def _table_rows(cfg: DiffuserConfig, stacks: dict[str, DiffractiveStack],
                sets: dict[str, torch.Tensor], test: TestSet,
                benches: dict[str, LocalDiffractiveProcessor], captures: dict[str, Captures]
                ) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    """One row per network and diffuser set (known, new, none): Pearson on the twin and on each
    bench; and the first bench's images of the first objects for the figure."""
    rows: list[dict[str, Any]] = []
    shown: dict[str, torch.Tensor] = {}
    no_diffuser = torch.ones(1, cfg.grid, cfg.grid, dtype=torch.complex64)
    for name, stack in stacks.items():
        for which in ("known", "new", "none"):
            if name == "free-space" and which == "known":
                continue
            diff = sets.get(which, no_diffuser)
            fields = pairs(test.fields, diff)
            y = test.targets.repeat_interleave(len(diff), 0)
            planes = test.planes.repeat_interleave(len(diff), 0)
            pred = twin_images(stack, fields, cfg)
            row: dict[str, Any] = {"network": name, "diffusers": which,
                                   "pearson_twin": mean_pearson(pred, y)}
            for b, proc in benches.items():
                meas = measure_images(proc, stack, fields, cfg)
                captures[name].add(f"{which} diffusers, bench {b}", planes, meas, pred, cfg)
                row[f"pearson_bench_{b}"] = mean_pearson(meas, y)
                if b == cfg.benches[0] and which != "none":
                    shown[f"{name}\n{which}"] = meas[::len(diff)][:cfg.figure_columns]
            rows.append(row)
    return rows, shown


def _misalignment_sweep(cfg: DiffuserConfig, nets: dict[str, Trained], test: TestSet,
                        diffusers: torch.Tensor, captures: dict[str, Captures]
                        ) -> dict[str, list[float]]:
    """Mean Pearson through new diffusers on stacks with only layer shifts (std per level, px)
    and gap errors in proportion, averaged over ``sweep_seeds`` draws; per network."""
    n = cfg.sweep_objects
    fields = pairs(test.fields[:n], diffusers)
    y = test.targets[:n].repeat_interleave(len(diffusers), 0)
    planes = test.planes[:n].repeat_interleave(len(diffusers), 0)
    sweep: dict[str, list[float]] = {name: [] for name in nets}
    twin = {name: twin_images(t.stack, fields, cfg) for name, t in nets.items()}  # the design's own
    for level in cfg.sweep_levels_px:
        levels = ErrorLevels(shift_px=level,
                             axial_m=level * cfg.sweep_axial_wl_per_px * WAVELENGTH)
        for name, t in nets.items():
            values = []
            for s in range(cfg.sweep_seeds):
                meas = measure_images(bench(cfg, levels, 100 + s), t.stack, fields, cfg)
                captures[name].add(_sweep_condition(level, s), planes, meas, twin[name], cfg)
                values.append(mean_pearson(meas, y))
            sweep[name].append(float(np.mean(values)))
    return sweep


def _figures(cfg: DiffuserConfig, out_dir: Path, test: TestSet, shown: dict[str, torch.Tensor],
             sweep: dict[str, list[float]], gratings: dict[str, dict[int, dict[str, Any]]]
             ) -> list[Path]:
    """The object / no network / outputs rows, Pearson against misalignment, the gratings."""
    n_obj = min(cfg.figure_columns, len(test.planes))
    rows = {"object": test.targets[:n_obj],
            **{k.replace("free-space", "no network"): v for k, v in shown.items()}}
    grating_rows = {name: torch.stack([v["image"] for v in g.values()])
                    for name, g in gratings.items()}
    objects = torch.stack([target_images(grating_planes(cfg, p), cfg)[0]
                           for p in cfg.grating_periods])
    return [
        image_rows_figure(rows, out_dir / "diffuser_images.png"),
        metric_vs_error_figure(list(cfg.sweep_levels_px), sweep,
                               out_dir / "diffuser_misalignment.png",
                               "layer shift std (px; gap std in proportion)",
                               "Pearson (new diffusers)"),
        image_rows_figure({"object": objects, **grating_rows}, out_dir / "diffuser_gratings.png",
                          titles=[f"period {p * cfg.detector_px * THZ_0P4.pitch * 1e3:.1f} mm"
                                  for p in cfg.grating_periods]),
    ]


# -- the recipe -----------------------------------------------------------------------------------


def run(options: RecipeOptions) -> RecipeResult:
    """Train the standard and the vaccinated imager, deploy both, measure, write the table, the
    figures and the run files into ``options.out_dir``."""
    if options.station is not None:
        raise ConfigError(
            "diffuser-imaging deploys to the simulated THz stack; hilt has no station-backed "
            "diffractive processor yet. On your bench: implement hilt.instruments."
            "diffractive_processor.DiffractiveProcessor (detector regions = the output pixels) "
            "and call hilt.loops.recipes.diffuser.measure_images (docs/recipes-diffusers.md)")
    return run_config(DiffuserConfig.for_size(options.size), Path(options.out_dir),
                      seed=options.seed, progress=options.progress)


def run_config(cfg: DiffuserConfig, out_dir: Path, *, seed: int = 0,
               progress: bool = False) -> RecipeResult:
    """:func:`run` with an explicit configuration."""
    with torch_threads(cfg.threads):
        return _run_config(cfg, out_dir, seed, progress)


def _run_config(cfg: DiffuserConfig, out_dir: Path, seed: int, progress: bool) -> RecipeResult:
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    log = print if progress else None
    data = load_digits(seed).subset(cfg.n_train, cfg.n_test)
    scene = Scene(cfg)
    train_planes = object_planes(data.x_train, cfg)
    test = TestSet(object_planes(data.x_test, cfg), scene, cfg)
    new_diffusers = scene.diffusers(cfg.n_new_diffusers, torch.Generator().manual_seed(9000 + seed))

    train_fields, train_targets = scene.at_diffuser(train_planes), target_images(train_planes, cfg)
    nets = {name: train_imager(cfg, scene, train_fields, train_targets, vaccinated=v, seed=seed, log=log)
            for name, v in (("standard", False), ("vaccinated", True))}
    stacks = {"free-space": flat_copy(nets["standard"].stack),
              **{k: t.stack for k, t in nets.items()}}
    captures = {name: Captures(out_dir, name, cfg, seed, conditions(cfg, name)) for name in stacks}
    benches = {b: bench(cfg, b, cfg.error_seed + seed) for b in cfg.benches}
    sets = {"known": nets["standard"].known_diffusers, "new": new_diffusers}

    rows, shown = _table_rows(cfg, stacks, sets, test, benches, captures)
    sweep = _misalignment_sweep(cfg, nets, test, new_diffusers, captures)
    gratings = {name: grating_test(cfg, scene, t, benches[cfg.benches[0]],
                                   new_diffusers[:cfg.grating_diffusers], captures[name])
                for name, t in nets.items()}
    for r in rows:
        ok = [p for p, v in gratings.get(r["network"], {}).items() if v["resolved"]]
        r["finest_grating_mm"] = min(ok) * cfg.detector_px * THZ_0P4.pitch * 1e3 if ok else math.nan
    for c in captures.values():
        c.close()

    title = (f"Diffuser imaging (THz, {cfg.grid}x{cfg.grid} px, {cfg.n_layers} layers, "
             f"L = {cfg.corr_length_wl:g} lambda, {cfg.n_diffusers} diffusers/epoch x "
             f"{cfg.epochs} epochs): mean Pearson correlation of output and object")
    _, _, md = write_table(rows, out_dir, title)
    figures = _figures(cfg, out_dir, test, shown, sweep, gratings)
    extra = {
        "config": config_dict(cfg),
        "train_seconds": {k: round(t.seconds, 1) for k, t in nets.items()},
        "train_pearson": {k: [-v for v in t.losses] for k, t in nets.items()},
        "misalignment_px": list(cfg.sweep_levels_px), "pearson_vs_misalignment": sweep,
        "gratings": {k: {str(p): {"resolved": v["resolved"], "pearson": v["pearson"]}
                         for p, v in g.items()} for k, g in gratings.items()},
        "raster_seconds_per_image": round(raster_seconds_per_image(cfg), 1),
    }
    # What the table leaves out (training curves, the misalignment sweep, the gratings).
    (out_dir / "details.json").write_text(json.dumps(extra, indent=1) + "\n")
    return RecipeResult("diffuser-imaging", rows, md, figures,
                        [c.path for c in captures.values()], time.perf_counter() - t0, extra)


# -- hilt sweep -----------------------------------------------------------------------------------

#: The metric ``hilt sweep`` tables for a diffuser study: bench Pearson through new diffusers.
SWEEP_METRIC = "pearson_bench_new"

#: Grid keys :func:`trial` understands, with their defaults.
TRIAL_KEYS = {"size": "quick", "seed": 0, "vaccination": False, "misalignment": "severe",
              "corr_length_wl": None, "n_diffusers": None}


def trial(params: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """One grid point for ``hilt sweep``: train one imager and measure it.

    Keys (all optional): ``size`` (tiny|quick|full, default quick), ``seed``, ``vaccination``
    (bool), ``misalignment`` (an error preset name, or a lateral shift std in pixels with the
    gaps' std in proportion), ``corr_length_wl`` and ``n_diffusers`` (override the size's).
    Returns Pearson correlations on the twin and on the bench, known and new diffusers."""
    unknown = set(params) - set(TRIAL_KEYS)
    if unknown:
        raise ConfigError(f"diffuser-imaging trial: unknown keys {sorted(unknown)}; "
                          f"known: {sorted(TRIAL_KEYS)}")
    p = {**TRIAL_KEYS, **params}
    cfg = DiffuserConfig.for_size(str(p["size"]))
    for key in ("corr_length_wl", "n_diffusers"):
        if p[key] is not None:
            setattr(cfg, key, type(getattr(cfg, key))(p[key]))
    seed = int(p["seed"])
    mis = p["misalignment"]
    levels = error_levels(mis) if isinstance(mis, str) else ErrorLevels(
        shift_px=float(mis), axial_m=float(mis) * cfg.sweep_axial_wl_per_px * WAVELENGTH)
    data = load_digits(seed).subset(cfg.n_train, cfg.n_test)
    scene = Scene(cfg)
    tr, te = object_planes(data.x_train, cfg), object_planes(data.x_test, cfg)
    net = train_imager(cfg, scene, scene.at_diffuser(tr), target_images(tr, cfg),
                       vaccinated=bool(p["vaccination"]), seed=seed)
    test = TestSet(te, scene, cfg)
    new = scene.diffusers(cfg.n_new_diffusers, torch.Generator().manual_seed(9000 + seed))
    proc = bench(cfg, levels, cfg.error_seed + seed)
    name = "vaccinated" if p["vaccination"] else "standard"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    captures = Captures(out_dir, name, cfg, seed, ["known diffusers", "new diffusers"])
    result: dict[str, Any] = {"train_seconds": net.seconds}
    for which, diff in (("known", net.known_diffusers), ("new", new)):
        fields = pairs(test.fields, diff)
        y = test.targets.repeat_interleave(len(diff), 0)
        pred = twin_images(net.stack, fields, cfg)
        meas = measure_images(proc, net.stack, fields, cfg)
        captures.add(f"{which} diffusers", te.repeat_interleave(len(diff), 0), meas, pred, cfg)
        result[f"pearson_twin_{which}"] = mean_pearson(pred, y)
        result[f"pearson_bench_{which}"] = mean_pearson(meas, y)
    captures.close()
    result["run_file"] = str(captures.path)
    return result


__all__ = [
    "PAPER", "SUMMARY", "SWEEP_METRIC", "TITLE", "TRIAL_KEYS", "Captures", "DiffuserConfig", "Scene",
    "TestSet", "Trained",
    "build_imager", "grating_planes", "image_detectors", "measure_images", "object_planes",
    "pearson_loss", "raster_seconds_per_image", "run", "run_config", "target_images", "train_imager",
    "trial", "twin_images",
]
