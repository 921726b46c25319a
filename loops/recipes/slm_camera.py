"""The class-specific camera (Bai et al. 2022, arXiv:2205.13122) on the folded two-layer SLM
bench: trained on the bench's twin, deployed through the SLM and camera drivers, then corrected
in situ by physics-aware training (PAT) or dual adaptive training (DAT).

The camera on the bench (examples/stations/slm-optics-folded.yaml: one phase SLM, a mirror
folding region 1's light back onto region 2, a lens, a camera in its Fourier plane):

- object: the 8 x 8 digit phase-encoded on region 1 (phase ``pi * pixel``, as the bench's
  classifier shows it, :class:`~hilt.instruments.slm_processor.SlmLayout`), plus layer 1's mask;
- layers: the two regions' masks (layer 1 on region 1 with the digit, layer 2 on region 2);
- image: ``side`` x ``side`` camera regions in a grid (8 x 8 by default, one per digit pixel),
  placed through the calibrated SLM-to-camera geometry as the classifier places its ten class
  regions (:func:`grid_frequencies`), read by
  :class:`~hilt.instruments.slm_processor.SlmCameraProcessor` (one frame per digit, every frame
  kept for the run file);
- target image: the digit's intensity (pooled to ``side`` x ``side`` if smaller) for the
  target class, nothing for the others; the loss and the metrics are the class-specific
  camera's (:func:`~hilt.loops.recipes.class_camera.camera_loss`,
  :func:`~hilt.loops.recipes.class_camera.camera_metrics`).

For each world error preset (``errors``): the beam's waist is measured on the bench without its
fold mirror (:func:`unfolded_waist`), the bench is calibrated (:func:`setup_bench`: geometry
through the fold, the data sheet's LUT), the masks are trained on its twin (:func:`train_twin`),
deployed (every test digit one frame), then each in-situ method of ``methods`` runs
``pat_epochs`` epochs from the deployed masks (:func:`pat`: each balanced batch shown once on
the bench, its measured images in the forward pass, the twin's Jacobian backward; :func:`dat`:
the same with an error-prediction network per region fitted to the measured images first) and
the test digits are measured again. Rows: twin / deployed / after PAT / after DAT, with the
physical queries and the bench-clock seconds per query (SLM settle + exposure + readout, from
the frames' timestamps).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hilt.errors import ConfigError
from hilt.instruments.slm_processor import CameraRegions, SlmCameraProcessor, regions_at

from ..core import torch_threads
from ..data import load_digits
from ..pat import substitute
from ..slm_bench import SlmTwin, corrected_readings, mask_phases, setup_bench
from . import RecipeOptions, RecipeResult
from .class_camera import (
    SIDE,
    CameraConfig,
    camera_loss,
    camera_metrics,
    station_subset,
)
from .common import config_json, image_rows_figure, pearson, ssim, write_table

TITLE = "Class-specific camera on the folded SLM bench (twin, deployed, PAT, DAT)"
PAPER = ("Bai, Luo, Gan, Hu, Li, Zhao, Mengu, Jarrahi, Ozcan: To image, or not to image: "
         "class-specific diffractive cameras with all-optical erasure of undesired objects, "
         "eLight 2, 14 (2022), arXiv:2205.13122")
SUMMARY = ("Trains the two phase layers of a folded SLM bench to image one digit class on an\n"
           "8x8 grid of camera regions and erase the others; twin, deployed, after PAT and DAT.")

#: The folded two-layer bench this recipe runs on unless given another station with a fold.
FOLDED_STATION = Path(__file__).resolve().parents[2] / "examples" / "stations" / "slm-optics-folded.yaml"


@dataclasses.dataclass
class SlmCameraConfig:
    """Everything a run depends on (``full`` / ``quick`` / ``tiny`` sizes: :meth:`for_size`).

    ``small_bench``: the tests' bench (64 x 128 panel, 120 x 160 camera, 25 mm lens)."""

    target: int = 2
    side: int = 8  # output image: side x side camera regions
    reach: float = 0.6  # the grid spans this share of the sensor's half-size
    region_px: int = 5
    errors: tuple[str, ...] = ("mild", "severe")
    epochs: int = 40
    lr: float = 0.1
    batch_size: int = 16  # half target, half others
    n_train: int | None = 300
    n_test: int | None = 60
    pat_epochs: int = 2
    pat_lr: float = 0.1
    pat_train: int | None = 120  # training digits PAT shows on the bench (None: all)
    # In-situ methods after deployment, each from the deployed masks: "pat", "dat".
    methods: tuple[str, ...] = ("pat", "dat")
    dat_fit_steps: int = 3
    dat_warmup_steps: int = 20
    alpha_nmse: float = 1.0
    alpha_pcc: float = 1.0
    alpha_energy: float = 1.0
    small_bench: bool = False
    # The twin's beam waist: "unfolded" (slm_geometry on the bench without its fold mirror,
    # :func:`unfolded_waist`) or "folded" (read through the fold, as setup_bench does alone).
    waist: str = "unfolded"
    show: int = 4
    seed: int = 0

    @classmethod
    def for_size(cls, size: str, **changes: Any) -> SlmCameraConfig:
        if size == "full":
            base = cls(epochs=30, n_train=None, n_test=200, pat_epochs=3, pat_train=300)
        elif size == "quick":
            base = cls()
        elif size == "tiny":
            base = cls(side=4, errors=("mild",), epochs=2, n_train=40, n_test=12, pat_epochs=1,
                       pat_train=16, batch_size=8, small_bench=True, show=2)
        else:
            raise ConfigError(f"size {size!r}: expected full, quick or tiny")
        return dataclasses.replace(base, **changes)

    def loss_config(self) -> CameraConfig:
        """The class camera's configuration its loss and metrics read (target, weights)."""
        return CameraConfig(target=self.target, alpha_nmse=self.alpha_nmse,
                            alpha_pcc=self.alpha_pcc, alpha_energy=self.alpha_energy)


# -- the bench ---------------------------------------------------------------------------------


def _station_path(station: str | Path | None) -> Path:
    from hilt import stations

    if station is None:
        return FOLDED_STATION
    return Path(station) if Path(station).exists() else Path(stations.find(str(station)))


def _folded_system(config: dict[str, Any]) -> dict[str, Any] | None:
    systems = (config.get("world") or {}).get("systems") or {}
    return next((s for s in systems.values() if s.get("kind") == "slm_optics" and "fold" in s), None)


def is_slm_station(station: str | Path) -> bool:
    """True for a station this recipe runs on: a simulated folded SLM bench (a world system of
    kind ``slm_optics`` with a ``fold``). What ``class-camera --station`` can test to hand over."""
    import yaml

    try:
        config = yaml.safe_load(_station_path(station).read_text())
    except (ConfigError, OSError):
        return False
    return isinstance(config, dict) and _folded_system(config) is not None


def bench_station(errors: str, station: str | Path | None = None, small: bool = False,
                  seed: int | None = None, unfolded: bool = False) -> tuple[Any, float]:
    """The folded bench (``station`` or :data:`FOLDED_STATION`) at world error preset ``errors``
    (``seed``: the hidden errors' draw), not yet connected, and its fold's path (metres, as its
    file gives it); ``small``: the tests' size; ``unfolded``: the same panel, beam and hidden
    errors without the fold mirror (where a lab measures the beam's waist)."""
    import yaml

    from hilt.config import parse_station
    from hilt.station import Station

    path = _station_path(station)
    config = yaml.safe_load(path.read_text())
    world = config.get("world") or {}
    bench = _folded_system(config)
    if bench is None:
        raise ConfigError(f"station {path}: the SLM camera recipe needs a simulated folded SLM bench "
                          "(world system of kind slm_optics with fold: {distance_m}), e.g. "
                          f"{FOLDED_STATION.name}")
    world["errors"] = errors
    if seed is not None:
        world["seed"] = int(world.get("seed", 0)) + int(seed)
    if small:
        bench["slm"] = {"shape": [64, 128]}
        bench["camera"] = {"shape": [120, 160]}
        bench["focal_length_m"] = 0.025
    fold_m = float(bench["fold"].get("distance_m", 5e-3))
    if unfolded:
        del bench["fold"]
    return Station(parse_station(yaml.safe_dump(config), Path(path).name)), fold_m


def grid_frequencies(camera_to_frequency: Any, camera_shape: tuple[int, int], side: int,
                     reach: float) -> np.ndarray:
    """Spatial frequencies (side*side, 2), row by row, whose spots make a centred square grid
    on the camera spanning ``reach`` of the sensor's smaller half-size (an even ``side`` keeps
    the zeroth order between the four central regions)."""
    h, w = camera_shape
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    half = reach * (min(h, w) - 1) / 2
    t = np.linspace(-half, half, side) if side > 1 else np.zeros(1)
    pts = np.array([centre + np.array([r, c]) for r in t for c in t])
    return camera_to_frequency(pts)


@dataclasses.dataclass
class SlmCameraBench:
    """The calibrated bench with the camera's grid of regions: processor and twin."""

    processor: SlmCameraProcessor
    twin: SlmTwin
    calibrations: dict[str, Any]


def unfolded_waist(errors: str, station: str | Path | None, small: bool, seed: int | None,
                   runs_dir: Path) -> float:
    """The beam's waist on the SLM (pixels) measured by ``slm_geometry`` on the bench without its
    fold mirror, as a lab measures it before the mirror goes in: read through the fold, the
    zeroth order is widened by both regions' aberration and the misregistration (on the severe
    preset 18 px against the true 45, :func:`~hilt.loops.slm_bench.setup_bench`). In the quick
    run (PAT lr 0.03) either waist gives the same on the mild bench (target PCC 0.48 -> 0.67
    unfolded, 0.50 -> 0.70 folded) and neither lets PAT recover the severe one."""
    from ..calibration import load_slm_geometry, run_calibration

    unfolded, _ = bench_station(errors, station, small, seed, unfolded=True)
    with unfolded as st:
        st["laser"].output.set(True)
        geo = run_calibration(st, "slm_geometry", out_dir=runs_dir)
        if not geo.ok:
            raise ConfigError(f"slm_geometry on the unfolded bench did not complete: {geo.error or geo.status}")
    return float(load_slm_geometry(geo.calibration_file).beam_waist_px)


def camera_bench(station: Any, fold_m: float, cfg: SlmCameraConfig, runs_dir: Path,
                 beam_waist_px: float | None = None) -> SlmCameraBench:
    """Calibrate the folded bench (:func:`~hilt.loops.slm_bench.setup_bench`: geometry through
    the fold, the SLM's own LUT) and rebuild its processor and twin around a ``side`` x ``side``
    grid of camera regions placed through the same calibrated map (the twin takes half the
    fitted matrix, as setup_bench's does for a fold, and ``beam_waist_px`` if given, else half
    the waist read through the fold)."""
    from ..calibration import load_slm_geometry

    setup = setup_bench(station, runs_dir=runs_dir, lut="nominal", layers=2,
                        fold_distance_m=fold_m, region_px=cfg.region_px, beam_waist_px=beam_waist_px)
    geo = load_slm_geometry(setup.calibrations["slm_geometry"]["calibration_file"])
    old = setup.processor
    cam_shape = tuple(int(v) for v in old.camera.shape)
    freqs = grid_frequencies(geo.map.frequency, cam_shape, cfg.side, cfg.reach)
    regions = regions_at(geo.map.camera, freqs, cam_shape, cfg.region_px)
    layers = old.layout.layers
    regions = CameraRegions(regions.boxes, regions.frequencies / layers)
    processor = SlmCameraProcessor(old.slm, old.camera, old.layout, regions, dark=old.dark)
    twin = SlmTwin(old.layout, regions, np.asarray(geo.map.matrix) / layers, geo.map.offset,
                   beam_waist_px or geo.beam_waist_px / layers, fold_distance_m=fold_m,
                   pixel_pitch_m=float(old.slm.pixel_pitch_m), wavelength_m=float(old.slm.wavelength_m))
    return SlmCameraBench(processor, twin, setup.calibrations)


# -- images, loss, training ----------------------------------------------------------------------


def target_images(x: np.ndarray, side: int) -> np.ndarray:
    """Digits (n, 64) -> their intensity as ``side`` x ``side`` images (n, side*side), pooled."""
    img = torch.as_tensor(np.asarray(x, dtype=np.float64) ** 2).reshape(-1, 1, SIDE, SIDE)
    if side != SIDE:
        if SIDE % side:
            raise ConfigError(f"an image side of {side} does not divide the digits' {SIDE}")
        img = F.avg_pool2d(img, SIDE // side)
    return img.reshape(len(img), -1).numpy()


def image_metrics(out: np.ndarray, x: np.ndarray, y: np.ndarray, cfg: SlmCameraConfig) -> dict[str, float]:
    """The class camera's metrics (PCC, SSIM of target digits; non-target / target energy);
    at ``side`` 8 exactly :func:`~hilt.loops.recipes.class_camera.camera_metrics`, else the
    same on the pooled target images."""
    if cfg.side == SIDE:
        m = camera_metrics(out, x, y, cfg.loss_config(), None, 1.0)
        return {k: m[k] for k in ("pcc_target", "ssim_target", "energy_ratio")}
    is_t = y == cfg.target
    s = cfg.side
    o, t = out.reshape(-1, s, s), target_images(x, s).reshape(-1, s, s)
    energy = out.sum(1)
    return {"pcc_target": float(np.mean(pearson(o[is_t], t[is_t]))),
            "ssim_target": float(np.mean(ssim(o[is_t], t[is_t]))),
            "energy_ratio": float(energy[~is_t].mean() / max(energy[is_t].mean(), 1e-30))}


def balanced_batches(y: np.ndarray, target: int, batch_size: int, rng: np.random.Generator
                     ) -> list[np.ndarray]:
    """One epoch of batches, each half target digits, half others (the class camera's)."""
    tgt, other = np.flatnonzero(y == target), np.flatnonzero(y != target)
    if len(tgt) == 0 or len(other) == 0:
        raise ConfigError(f"training needs digits of class {target} and of other classes")
    half = max(1, batch_size // 2)
    order = rng.permutation(tgt)
    return [np.concatenate([t, rng.choice(other, len(t), replace=len(other) < len(t))])
            for t in (order[k:k + half] for k in range(0, len(order), half))]


def _batch(x: np.ndarray, y: np.ndarray, idx: np.ndarray, cfg: SlmCameraConfig
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    is_t = torch.as_tensor(y[idx] == cfg.target)
    goal = torch.as_tensor(target_images(x[idx], cfg.side), dtype=torch.float32) * is_t[:, None]
    return torch.as_tensor(x[idx], dtype=torch.float32), goal, is_t


def train_twin(twin: SlmTwin, x: np.ndarray, y: np.ndarray, cfg: SlmCameraConfig,
               log: list[dict[str, float]] | None = None) -> SlmTwin:
    """Train both masks on the twin (in silico) with the class camera's loss; returns the twin."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.Adam(twin.masks(), lr=cfg.lr)
    lc = cfg.loss_config()
    for epoch in range(cfg.epochs):
        for idx in balanced_batches(y, cfg.target, cfg.batch_size, rng):
            xb, goal, is_t = _batch(x, y, idx, cfg)
            opt.zero_grad(set_to_none=True)
            loss, parts = camera_loss(twin(xb), goal, is_t, lc)
            loss.backward()
            opt.step()
            if log is not None:
                log.append({"epoch": epoch, "loss": float(loss.detach()), **parts})
    return twin


class FrameRecorder:
    """A run file with the measured images (stream ``outputs``: input digit, measured and twin
    images) and every camera frame they came from (the processor's ``frames`` stream)."""

    def __init__(self, path: Path, processor: SlmCameraProcessor, cfg: SlmCameraConfig,
                 config: dict[str, Any]) -> None:
        from hilt.runfile.layout import CaptureSpec
        from hilt.runfile.writer import RunWriter

        path.parent.mkdir(parents=True, exist_ok=True)
        out = (cfg.side, cfg.side)
        spec = CaptureSpec(input_shape=(SIDE, SIDE), input_dtype="float32", physical_shape=out,
                           twin_shape=out, physical_unit="uniform frame", twin_unit="uniform frame",
                           compression="gzip")
        self.processor = processor
        self.side = cfg.side
        self.writer = RunWriter.create(path, captures={"outputs": spec, **processor.capture_specs()},
                                       config={**config, **processor.frames_info()}, overwrite=True)
        self.path = path
        processor.take_frames()  # frames of earlier runs are not this file's

    def capture(self, step: int, x: np.ndarray, measured: np.ndarray, twin: np.ndarray,
                idx: np.ndarray, epoch: int = 0) -> None:
        s = self.writer
        s.capture("outputs", step=step, epoch=epoch, sample_idx=np.asarray(idx),
                  inputs=(np.asarray(x, dtype=np.float32) ** 2).reshape(-1, SIDE, SIDE),
                  physical=np.asarray(measured).reshape(-1, self.side, self.side),
                  twin=np.asarray(twin).reshape(-1, self.side, self.side))
        # One frame per digit, in the order shown: the frames' rows carry the digits' indices.
        for stream, fields in self.processor.take_frames().items():
            n = len(fields["physical"])
            rows = np.asarray(idx) if n == len(idx) else np.full(n, -1)
            s.capture(stream, step=step, epoch=epoch, sample_idx=rows, **fields)

    def close(self) -> None:
        self.writer.close("completed", "")


def twin_images(twin: SlmTwin, x: np.ndarray, batch: int = 64) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([twin(torch.as_tensor(x[i:i + batch], dtype=torch.float32))
                          for i in range(0, len(x), batch)]).double().numpy()


def measure_images(processor: SlmCameraProcessor, twin: SlmTwin, x: np.ndarray, idx: np.ndarray,
                   recorder: FrameRecorder, step: int, batch: int = 32) -> np.ndarray:
    """The masks now on the twin shown on the bench, one frame per digit; every image and frame
    recorded. Returns the measured images (n, side*side)."""
    processor.load_masks(mask_phases(twin))
    outs = []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        meas = processor.run(xb)[0]
        recorder.capture(step, xb, meas, twin_images(twin, xb), idx[i:i + batch])
        outs.append(meas)
    return np.concatenate(outs).astype(np.float64)



def _shown_and_measured(processor: SlmCameraProcessor, twin: SlmTwin, xb: torch.Tensor) -> torch.Tensor:
    """The twin's masks shown on the bench and a batch's measured images (B, side*side)."""
    processor.load_masks(mask_phases(twin))
    return torch.as_tensor(processor.run(xb.numpy())[0], dtype=torch.float32)


def pat(processor: SlmCameraProcessor, twin: SlmTwin, x: np.ndarray, y: np.ndarray,
        cfg: SlmCameraConfig, recorder: FrameRecorder, log: list[dict[str, float]] | None = None
        ) -> SlmTwin:
    """Physics-aware training on the bench: each balanced batch shown once (one frame per digit),
    the measured images in the loss, the twin's Jacobian backward (:func:`hilt.loops.pat.substitute`)."""
    rng = np.random.default_rng(cfg.seed + 1)
    opt = torch.optim.Adam(twin.masks(), lr=cfg.pat_lr)
    lc = cfg.loss_config()
    step = 0
    for epoch in range(cfg.pat_epochs):
        for idx in balanced_batches(y, cfg.target, cfg.batch_size, rng):
            xb, goal, is_t = _batch(x, y, idx, cfg)
            meas = _shown_and_measured(processor, twin, xb)
            opt.zero_grad(set_to_none=True)
            out = twin(xb)
            loss, parts = camera_loss(substitute(out, meas), goal, is_t, lc)
            loss.backward()
            opt.step()
            recorder.capture(step, xb.numpy(), meas.numpy(), out.detach().numpy(), idx, epoch)
            step += 1
            if log is not None:
                log.append({"epoch": epoch, "loss": float(loss.detach()), **parts})
    return twin


def dat(processor: SlmCameraProcessor, twin: SlmTwin, x: np.ndarray, y: np.ndarray,
        cfg: SlmCameraConfig, recorder: FrameRecorder, log: list[dict[str, float]] | None = None
        ) -> SlmTwin:
    """Dual adaptive training on the bench: one error-prediction network per layer
    (:class:`~hilt.loops.slm_bench.FrameCorrection`, low-order phase and amplitude modes and a
    3 x 3 kernel on the shown phase) fitted to each batch's measured images (``dat_fit_steps``
    steps, ``dat_warmup_steps`` on the first batch), then the masks' step through the corrected
    twin with the measured images substituted (as :func:`hilt.loops.slm_bench.train_slm_dat`)."""
    from torch import nn

    from ..dat import similarity_loss
    from ..slm_bench import FrameCorrection, SlmDATSettings

    layout = twin.layout
    d = SlmDATSettings()  # the bench's DAT predictor, as train_slm_dat builds it by default
    pred = nn.ModuleList([FrameCorrection(layout.region_shape, d.kernel, d.phase_order, d.amp_order)
                          for _ in range(layout.layers)])
    opt_p = torch.optim.Adam(pred.parameters(), lr=d.predictor_lr)
    opt = torch.optim.Adam(twin.masks(), lr=cfg.pat_lr)
    rng = np.random.default_rng(cfg.seed + 1)
    lc = cfg.loss_config()

    step = 0
    for epoch in range(cfg.pat_epochs):
        for idx in balanced_batches(y, cfg.target, cfg.batch_size, rng):
            xb, goal, is_t = _batch(x, y, idx, cfg)
            meas = _shown_and_measured(processor, twin, xb)
            for m in twin.masks():
                m.requires_grad_(False)
            for _ in range(cfg.dat_warmup_steps if step == 0 else cfg.dat_fit_steps):
                opt_p.zero_grad(set_to_none=True)
                fit = similarity_loss(corrected_readings(twin, pred, xb), meas)
                fit.backward()
                opt_p.step()
            for m in twin.masks():
                m.requires_grad_(True)
            pred.requires_grad_(False)
            opt.zero_grad(set_to_none=True)
            out = corrected_readings(twin, pred, xb)
            loss, parts = camera_loss(substitute(out, meas), goal, is_t, lc)
            loss.backward()
            opt.step()
            pred.requires_grad_(True)
            recorder.capture(step, xb.numpy(), meas.numpy(), out.detach().numpy(), idx, epoch)
            step += 1
            if log is not None:
                log.append({"epoch": epoch, "loss": float(loss.detach()), "fit": float(fit.detach()), **parts})
    return twin


# -- the run -------------------------------------------------------------------------------------



def camera_data(cfg: SlmCameraConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training digits (the first ``n_train``) and ``n_test`` test digits, half of them of the
    target class (each bench measurement is a frame: a balanced test set says more per frame)."""
    d = load_digits(cfg.seed).subset(cfg.n_train, None)
    n = len(d.y_test) if cfg.n_test is None else min(cfg.n_test, len(d.y_test))
    pick = station_subset(d.y_test, cfg.loss_config(), n)
    return d.x_train, d.y_train, d.x_test[pick], d.y_test[pick]


#: The in-situ methods a run can use (``SlmCameraConfig.methods``).
IN_SITU = {"pat": pat, "dat": dat}


def run_on_slm_bench(options: RecipeOptions, cfg: SlmCameraConfig | None, out_dir: str | Path
                     ) -> list[dict[str, Any]]:
    """Train, deploy and correct the camera on the folded SLM bench for each error preset of
    ``cfg.errors``; returns the table's rows (also written, with figures and run files, to
    ``out_dir``: see :func:`run_slm_camera`)."""
    return run_slm_camera(options, cfg, out_dir).rows


def run_slm_camera(options: RecipeOptions, cfg: SlmCameraConfig | None = None,
                   out_dir: str | Path | None = None) -> RecipeResult:
    t0 = time.perf_counter()
    cfg = cfg or SlmCameraConfig.for_size(options.size, seed=options.seed)
    out = Path(out_dir if out_dir is not None else options.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr, x_te, y_te = camera_data(cfg)
    idx_te = np.arange(len(y_te))
    rows: list[dict[str, Any]] = []
    run_files: list[Path] = []
    shown: dict[str, np.ndarray] = {}
    logs: dict[str, Any] = {}
    with torch_threads(1):
        for preset in cfg.errors:
            cal_dir = out / "runs" / "calibration" / preset
            waist = (unfolded_waist(preset, options.station, cfg.small_bench, options.seed, cal_dir / "unfolded")
                     if cfg.waist == "unfolded" else None)
            station, fold_m = bench_station(preset, options.station, cfg.small_bench, options.seed)
            with station as st:
                bench = camera_bench(st, fold_m, cfg, cal_dir, waist)
                proc, twin = bench.processor, bench.twin
                t1 = time.perf_counter()
                train_log: list[dict[str, float]] = []
                train_twin(twin, x_tr, y_tr, cfg, train_log)
                train_s = time.perf_counter() - t1
                base = {"recipe": "class-camera-slm", "errors": preset, "target": cfg.target,
                        "labels": [int(v) for v in y_te], "config": config_json(cfg),
                        "calibrations": bench.calibrations}
                img_twin = twin_images(twin, x_te)
                rows.append(_row(preset, "twin", image_metrics(img_twin, x_te, y_te, cfg), 0, float("nan")))
                rec = FrameRecorder(out / "runs" / f"{preset}-deployed.h5", proc, cfg, {**base, "stage": "deployed"})
                q0, c0 = proc.queries.samples, _clock(proc)
                img_dep = measure_images(proc, twin, x_te, idx_te, rec, 0)
                rec.close()
                rows.append(_row(preset, "deployed", image_metrics(img_dep, x_te, y_te, cfg),
                                 proc.queries.samples - q0, _bench_s(proc, c0)))
                pick = (np.arange(len(y_tr)) if cfg.pat_train is None
                        else station_subset(y_tr, cfg.loss_config(), min(cfg.pat_train, len(y_tr))))
                deployed = copy.deepcopy(twin.state_dict())
                after: dict[str, np.ndarray] = {}
                for method in cfg.methods:
                    twin.load_state_dict(deployed)
                    # Its rows' sample indices count in the in-situ training digits: train_index.
                    rec = FrameRecorder(out / "runs" / f"{preset}-{method}.h5", proc, cfg,
                                        {**base, "stage": method, "labels": [int(v) for v in y_tr[pick]],
                                         "train_index": [int(v) for v in pick]})
                    q0, c0 = proc.queries.samples, _clock(proc)
                    m_log: list[dict[str, float]] = []
                    IN_SITU[method](proc, twin, x_tr[pick], y_tr[pick], cfg, rec, m_log)
                    rec.close()
                    n_q, clock = proc.queries.samples - q0, _bench_s(proc, c0)
                    rec = FrameRecorder(out / "runs" / f"{preset}-after-{method}.h5", proc, cfg,
                                        {**base, "stage": f"after {method}"})
                    after[method] = measure_images(proc, twin, x_te, idx_te, rec, 0)
                    rec.close()
                    rows.append(_row(preset, f"after {method.upper()}", image_metrics(after[method], x_te, y_te, cfg),
                                     n_q, clock))
                    run_files += [out / "runs" / f"{preset}-{s}.h5" for s in (method, f"after-{method}")]
                    logs.setdefault(preset, {})[method] = m_log
                run_files.append(out / "runs" / f"{preset}-deployed.h5")
                shown[preset] = {"twin": img_twin, "deployed": img_dep,
                                 **{f"after {m.upper()}": v for m, v in after.items()}}
                logs.setdefault(preset, {}).update({"train": train_log, "train_seconds": round(train_s, 1),
                                                    "bench_per_frame": proc.timing.per_frame()})
    n_t = int(np.sum(y_te == cfg.target))
    _, _, md = write_table(rows, out, f"{TITLE} ({options.size}): target digit {cfg.target}, {n_t} target "
                           f"and {len(y_te) - n_t} other test digits, {cfg.side}x{cfg.side} camera regions")
    figures = [_figure(cfg, shown, x_te, y_te, out)]
    (out / "details.json").write_text(json.dumps(logs, default=float))
    return RecipeResult("class-camera-slm", rows, md, figures, run_files,
                        round(time.perf_counter() - t0, 1), extra={"logs": logs})


def _clock(proc: SlmCameraProcessor) -> tuple[float, int]:
    return proc.timing.bench_s, proc.timing.timed


def _bench_s(proc: SlmCameraProcessor, since: tuple[float, int]) -> float:
    """Bench-clock seconds per frame since ``since`` (:func:`_clock`): SLM settle, exposure,
    readout, from the frames' timestamps."""
    n = proc.timing.timed - since[1]
    return (proc.timing.bench_s - since[0]) / n if n > 0 else float("nan")


def _row(preset: str, stage: str, metrics: dict[str, float], queries: int, bench_s: float) -> dict[str, Any]:
    return {"errors": preset, "stage": stage, **metrics, "physical_queries": int(queries),
            "bench_s_per_query": bench_s}


def _figure(cfg: SlmCameraConfig, shown: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
            out: Path) -> Path:
    tgt = np.flatnonzero(y == cfg.target)[:cfg.show]
    other = np.flatnonzero(y != cfg.target)[:cfg.show]
    pick = np.concatenate([tgt, other]).astype(int)
    is_t = y[pick] == cfg.target
    s = cfg.side
    rows: dict[str, np.ndarray] = {"input": (x[pick] ** 2).reshape(-1, SIDE, SIDE)}
    for preset, images in shown.items():
        for label, img in images.items():
            if label == "twin" and preset != next(iter(shown)):
                continue
            v = img[pick].reshape(-1, s, s)
            ref = float(v[is_t].max()) if np.any(is_t) else float(v.max())
            rows[f"{label} ({preset})" if label != "twin" else "twin"] = np.clip(v / max(ref, 1e-30), 0, 1)
    return image_rows_figure(rows, out / "slm-images.png", titles=[str(int(c)) for c in y[pick]],
                             vrange=(0.0, 1.0), suptitle=f"digit {cfg.target} imaged on the folded "
                             "SLM bench, others erased (rows scaled to their target digits)")


def run(options: RecipeOptions) -> RecipeResult:
    """``hilt recipe run class-camera-slm``: see the module docstring."""
    return run_slm_camera(options)


__all__ = ["FOLDED_STATION", "PAPER", "SUMMARY", "TITLE", "SlmCameraBench", "SlmCameraConfig",
           "bench_station", "camera_bench", "is_slm_station", "grid_frequencies", "image_metrics", "measure_images",
           "pat", "run", "run_on_slm_bench", "run_slm_camera", "target_images", "train_twin", "unfolded_waist"]
