"""Camera calibration on an SLM bench: the dark frame and the flat field, and the helpers every
SLM-bench routine uses to take an image (full sensor, no binning, exposure chosen from the light).

**Dark.** The light is switched off at its source, the station's laser (role ``laser``: its
``output`` parameter goes False), and ``frames`` images are averaged at each of two exposures:
per pixel, the black level plus DSNU (``offset``, DN) and the dark signal's growth with exposure
(``rate``, DN/s) come out of a straight line through the two means (EMVA 1288: ``mu_y.dark =
K mu_d0 + K I_dark t_exp + offset``). A bench whose light cannot be switched off cannot take a
dark frame: on a phase SLM bench in the Fourier plane every grating sends some light (its
residual zeroth order) onto the sensor, so the routine refuses rather than pretend.

**Flat.** A phase-only SLM cannot illuminate a sensor in its Fourier plane uniformly, so the
flat field is the pixel-to-pixel part only (PRNU): the SLM shows lens phases (a quadratic phase
whose local spatial frequency grows with the radius) that spread the light into a smooth patch
over the sensor; the mean of ``flat_frames`` such images (lens strengths and centres varied so
their diffraction ripples average out), dark-subtracted, divided by its own smoothed copy
(Gaussian of ``smooth_px``), is the flat. Its slow part (the beam's profile, vignetting) is not
measurable this way and is 1; pixels with less than ``min_light`` of the patch's peak get 1 and
are reported.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hilt.errors import ConfigError
from hilt.instruments.slm_processor import parameter_bounds
from hilt.runfile.status import ending

from ._common import (
    CalibrationAborted,
    CalibrationResult,
    Context,
    Need,
    ProgressFn,
    find_role,
    finish,
    log,
    make_safe,
    running,
)

#: What the SLM-bench routines ask a station for, by option name (``-o camera=NAME``).
NEEDS = {
    "slm": Need("slm", ("slm",)),
    "camera": Need("camera", ("camera",)),
    "laser": Need("laser", ("tunable_laser", "signal_source")),
}


class Bench:
    """The SLM, camera (and laser) of a station as a routine uses them: frames in, images out.

    The camera is set to its full sensor without binning for the routine and put back as it was
    afterwards (:meth:`restore`)."""

    def __init__(self, station: Any, ctx: Context, opts: dict[str, Any], need: Sequence[str],
                 optional: Sequence[str] = ()) -> None:
        self.station = station
        self.ctx = ctx
        self.names: list[str] = []
        self.slm: Any = None
        self.camera: Any = None
        self.laser: Any = None
        # Every instrument is found before any is used: a missing one stops the routine in one
        # line with nothing sent.
        found = [(role, find_role(station, NEEDS[role], opts.get(role), ctx.routine)) for role in need]
        for role in optional:  # used when the station has it (the laser, to switch the light on)
            try:
                found.append((role, find_role(station, NEEDS[role], opts.get(role), ctx.routine)))
            except ConfigError:
                if opts.get(role) is not None:
                    raise
        for role, name in found:
            setattr(self, role, station[name])
            self.names.append(name)
        self._saved: dict[str, Any] | None = None
        self.timeout = float(opts.get("timeout") or 5.0)

    def full_sensor(self) -> None:
        cam = self.camera
        self._saved = {"roi": tuple(cam.roi()), "binning": int(cam.binning.get()),
                       "exposure": float(cam.exposure.get())}
        rows, cols = cam.shape
        if int(cam.binning.get()) != 1:
            cam.binning.set(1)
        cam.set_roi(0, 0, int(cols), int(rows))

    def restore(self) -> None:
        """ROI, binning and exposure as they were before the routine (what it fitted is in its
        calibration file, not in the camera's settings)."""
        if self._saved is None or self.camera is None:
            return
        cam, s = self.camera, self._saved
        try:
            cam.binning.set(s["binning"])
            cam.set_roi(*s["roi"])
            cam.exposure.set(s["exposure"])
        except Exception as exc:  # a camera that cannot be put back must not hide the result
            log.error("%s: camera settings not restored: %s", self.ctx.routine, exc)

    def image(self, frames: int = 1) -> np.ndarray:
        """The mean of ``frames`` fresh images (float64 DN), each triggered after the last
        frame shown has settled (show_grey and show_phase block until it has)."""
        cam = self.camera
        cam.flush()
        acc = None
        for _ in range(max(1, int(frames))):
            self.ctx.check()
            cam.trigger()
            img = np.asarray(cam.grab(self.timeout).image, dtype=np.float64)
            acc = img if acc is None else acc + img
            self.ctx.queries += 1
        assert acc is not None
        return acc / max(1, int(frames))

    def show_grey(self, grey: np.ndarray, frames: int = 1) -> np.ndarray:
        self.slm.show_grey(np.asarray(grey))
        return self.image(frames)

    def show_phase(self, phase: np.ndarray, frames: int = 1) -> np.ndarray:
        self.slm.show_phase(np.asarray(phase, dtype=np.float64))
        return self.image(frames)

    @property
    def full_scale(self) -> float:
        return float((1 << int(self.camera.bit_depth)) - 1)

    def auto_exposure(self, take: Callable[[], np.ndarray], fill: float = 0.6, tries: int = 8,
                      background: float | None = None, quantile: float = 100.0) -> float:
        """Set the exposure so the brightest pixel of ``take()`` (or its ``quantile`` percentile)
        sits near ``fill`` of full scale (the camera is linear: scale the exposure by the ratio,
        within the exposure's bounds)."""
        cam = self.camera
        lo, hi = parameter_bounds(cam.exposure)
        t = float(cam.exposure.get())
        for _ in range(tries):
            img = take()
            bg = float(np.median(img)) if background is None else background
            ref = float(np.percentile(img, quantile)) if quantile < 100 else float(img.max())
            top = ref - bg
            if top <= 0:
                factor = 10.0
            else:
                factor = fill * (self.full_scale - bg) / top
                if ref >= self.full_scale:  # clipped: the true level is higher than seen
                    factor = min(factor, 0.3)
            new = float(min(max(t * factor, lo), hi))
            if abs(new / t - 1) < 0.1 or new == t:
                return t
            cam.exposure.set(new)
            t = float(cam.exposure.get())
        return t

    def light_on(self) -> None:
        """The laser's output on, when the station has one (else the light is the bench's own)."""
        if self.laser is not None:
            self.laser.output.set(True)

    def laser_output(self, on: bool) -> None:
        if self.laser is None:
            raise ConfigError(f"{self.ctx.routine}: the light must be switched off for a dark frame and the "
                              "station has no laser role (roles: {laser: NAME} or -o laser=NAME)")
        self.laser.output.set(bool(on))


def run_bench_routine(routine: str, station: Any, out_dir: str | Path, progress: ProgressFn | None,
                      abort: threading.Event | None, opts: dict[str, Any], need: Sequence[str],
                      body: Callable[[Bench, Context, CalibrationResult], None], *, scalars: list[str],
                      captures: dict[str, Any], optional: Sequence[str] = ()) -> CalibrationResult:
    """Run ``body`` on the bench with a run file; the instruments end in their safe state (the
    laser's output off, the SLM's zero frame, the camera stopped), the camera's ROI, binning and
    exposure put back."""
    ctx = Context(routine, progress, abort)
    ctx.opts = opts
    result = CalibrationResult(routine, "failed")
    bench = Bench(station, ctx, opts, need, optional)  # a missing role raises here, before anything is sent
    try:
        with running(ctx, station, out_dir, config={k: v for k, v in opts.items()},
                     scalars=scalars, captures=captures):
            bench.full_sensor()
            body(bench, ctx, result)
        result.status = "completed"
    except CalibrationAborted as exc:
        result.status, result.error = "aborted", str(exc)
    except Exception as exc:
        result.status = ending(exc)[0]  # the run files' rule: a hardware fault or a limit is aborted
        result.error = f"{type(exc).__name__}: {exc}"
        log.exception("%s %s", routine, result.status)
    finally:
        bench.restore()
        failed = make_safe(station, bench.names)
        if failed:
            result.notes.append("safe state failed: " + "; ".join(failed))
    return finish(ctx, result)


def image_spec(shape: tuple[int, int]) -> Any:
    from hilt.runfile import CaptureSpec

    return CaptureSpec(input_shape=(1,), physical_shape=tuple(shape), input_dtype="float64", physical_dtype="float32")


def save_calibration(ctx: Context, path: str | Path | None, kind: str, arrays: dict[str, Any]) -> Path:
    from hilt.instruments.heater_calibration import save_npz_atomically

    path = Path(path) if path is not None else Path(ctx.run.path).with_suffix(".npz")
    return save_npz_atomically(path, {"format": np.array(kind), "version": np.int64(1), **arrays})


# -- dark and flat --------------------------------------------------------------------------------


@dataclass
class CameraDarkFlat:
    """``corrected = (raw - offset - rate * exposure_s) / flat`` per pixel (full sensor, DN).

    ``offset`` (DN) the black level with its DSNU, ``rate`` (DN/s) the dark signal's growth,
    ``flat`` the photo-response non-uniformity (mean 1 over the pixels it was measured on, 1
    elsewhere), ``lit`` where it was measured, ``gain_db`` the gain they hold for."""

    offset: np.ndarray
    rate: np.ndarray
    flat: np.ndarray
    lit: np.ndarray
    gain_db: float

    def dark(self, exposure_s: float) -> np.ndarray:
        """The dark frame (DN) at ``exposure_s``."""
        return self.offset + self.rate * float(exposure_s)

    def correct(self, raw: np.ndarray, exposure_s: float, roi: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """A raw image (full sensor, or the ROI ``(x, y, w, h)`` it was taken with, no binning)."""
        dark, flat = self.dark(exposure_s), self.flat
        if roi is not None:
            x, y, w, h = roi
            dark, flat = dark[y:y + h, x:x + w], flat[y:y + h, x:x + w]
        return (np.asarray(raw, dtype=np.float64) - dark) / flat

    def arrays(self) -> dict[str, Any]:
        return {"offset": self.offset, "rate": self.rate, "flat": self.flat, "lit": self.lit,
                "gain_db": np.float64(self.gain_db)}


def load_camera_dark_flat(path: str | Path) -> CameraDarkFlat:
    """Read a table written by the ``camera_dark_flat`` routine."""
    try:
        with np.load(path) as d:
            if str(d["format"]) != "hilt-camera-dark-flat":
                raise ValueError(f"a {d['format']} file, not a camera dark/flat table")
            return CameraDarkFlat(d["offset"], d["rate"], d["flat"], d["lit"].astype(bool), float(d["gain_db"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"camera dark/flat table {path}: {exc}") from None


def flat_from_mean(mean: np.ndarray, smooth_px: float, min_light: float,
                   clipped: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(flat, lit) from a dark-subtracted mean image of smooth light: the image over its own
    Gaussian-smoothed copy where the light is at least ``min_light`` of its 99th percentile (a
    bright residual zeroth order does not set the scale) and no frame was ``clipped`` near the
    pixel, normalised to mean 1 there; 1 elsewhere."""
    from scipy.ndimage import binary_dilation, gaussian_filter

    smooth = gaussian_filter(mean, smooth_px, mode="nearest")
    lit = smooth >= min_light * float(np.percentile(smooth, 99))
    if clipped is not None and clipped.any():
        lit &= ~binary_dilation(clipped, iterations=int(math.ceil(3 * smooth_px)))
    flat = np.ones_like(mean)
    flat[lit] = mean[lit] / smooth[lit]
    flat[lit] /= float(flat[lit].mean())
    return flat, lit


def _lens_frames(shape: tuple[int, int], n: int, strength: float, seed: int) -> list[np.ndarray]:
    from .slm_fit import lens_phase

    g = np.random.default_rng(seed)
    h, w = shape
    out = []
    for _ in range(n):
        s = strength * g.uniform(0.8, 1.2)
        centre = ((h - 1) / 2 + g.uniform(-0.1, 0.1) * h, (w - 1) / 2 + g.uniform(-0.1, 0.1) * w)
        out.append(lens_phase(shape, s, centre))
    return out


def _body_dark_flat(bench: Bench, ctx: Context, result: CalibrationResult) -> None:
    o = ctx.opts
    cam = bench.camera
    frames = int(o["frames"])
    flat_frames = int(o["flat_frames"]) if bench.slm is not None and o["flat"] else 0
    ctx.total = 2 * frames + flat_frames + 2 * frames
    gain = float(cam.gain.get())
    # 1. The lit patch first (exposure chosen with the light on), then the dark at that exposure
    #    and at a second one, so the dark is known at the exposure the flat was taken with.
    mean_lit = None
    if flat_frames:
        lens = _lens_frames(tuple(bench.slm.shape), flat_frames, float(o["strength"]), int(o["seed"]))
        bench.laser_output(True)
        bench.auto_exposure(lambda: bench.show_phase(lens[0]), fill=float(o["fill"]), quantile=99.0)
        acc = np.zeros(cam.shape)
        clipped = np.zeros(cam.shape, dtype=bool)
        for k, ph in enumerate(lens):
            img = bench.show_phase(ph)
            acc += img
            clipped |= img >= bench.full_scale
            ctx.run.capture("flat", step=k, inputs=np.array([[float(k)]]), physical=img[None].astype(np.float32))
            ctx.report(f"flat frame {k + 1}/{flat_frames}")
        mean_lit = acc / flat_frames
    t1 = float(cam.exposure.get())
    t2 = float(o["second_exposure"]) if o.get("second_exposure") else min(max(4 * t1, 1e-3), parameter_bounds(cam.exposure)[1])
    bench.laser_output(False)
    darks = []
    for t in (t1, t2):
        cam.exposure.set(t)
        img = bench.image(frames)
        darks.append((float(cam.exposure.get()), img))
        ctx.run.capture("dark", step=len(darks) - 1, inputs=np.array([[darks[-1][0]]]),
                        physical=img[None].astype(np.float32))
        ctx.report(f"dark at {darks[-1][0] * 1e3:.3g} ms", step=frames)
    (ta, da), (tb, db) = darks
    rate = (db - da) / (tb - ta) if tb != ta else np.zeros_like(da)
    offset = da - rate * ta
    # Temporal noise: two single frames at t1, their difference / sqrt(2).
    cam.exposure.set(ta)
    n1, n2 = bench.image(1), bench.image(1)
    temporal = float(np.std(n1 - n2) / math.sqrt(2))
    if mean_lit is not None:
        lit_mean = mean_lit - (offset + rate * ta)
        if float(np.median(lit_mean)) <= 0 and float(lit_mean.max()) <= 10 * temporal:
            raise ConfigError("no light on the camera for the flat field (is the laser on and the beam on the SLM?)")
        flat, lit = flat_from_mean(lit_mean, float(o["smooth_px"]), float(o["min_light"]), clipped)
    else:
        flat, lit = np.ones(cam.shape), np.zeros(cam.shape, dtype=bool)
    table = CameraDarkFlat(offset, rate, flat, lit, gain)
    # Before and after, on fresh frames: a dark frame (its spatial spread, raw and corrected) and
    # a lit patch (its pixel-to-pixel spread around its smooth shape, raw and flat-corrected).
    check_dark = bench.image(frames)
    before = {"dark pattern (DN std)": float(np.std(check_dark))}
    after = {"dark pattern (DN std)": float(np.std(check_dark - table.dark(ta)))}
    if mean_lit is not None:
        from scipy.ndimage import gaussian_filter

        bench.laser_output(True)
        lens = _lens_frames(tuple(bench.slm.shape), frames, float(o["strength"]), int(o["seed"]) + 1)
        check = np.mean([bench.show_phase(ph) for ph in lens], axis=0) - table.dark(ta)
        bench.laser_output(False)

        def ripple(img: np.ndarray) -> float:
            sm = gaussian_filter(img, float(o["smooth_px"]), mode="nearest")
            return float(np.std((img / np.maximum(sm, 1e-9))[lit]))

        key = "lit pixel-to-pixel spread (std/mean)"
        before[key] = ripple(check)
        after[key] = ripple(check / flat)
    else:
        ctx.report("no flat", step=frames)
    result.before, result.after = before, after
    result.quality = {"temporal_noise_dn": temporal, "dsnu_dn": float(np.std(offset)),
                      "mean_offset_dn": float(np.mean(offset)), "mean_dark_rate_dn_s": float(np.mean(rate)),
                      "lit_fraction": float(lit.mean()),
                      "prnu": float(np.std(flat[lit])) if lit.any() else math.nan}
    if lit.any() and lit.mean() < 0.5:
        result.notes.append(f"flat measured on {100 * lit.mean():.0f} % of the sensor (1 elsewhere)")
    result.notes.append("dark taken with the laser's output off; the flat holds the pixel-to-pixel response only")
    result.table = {"exposures_s": [ta, tb], "gain_db": gain, "temporal_noise_dn": temporal}
    ctx.run.add_calibration("camera_dark_flat", {k: v for k, v in table.arrays().items() if k != "lit"})
    result.calibration_file = save_calibration(ctx, o.get("calibration_file"), "hilt-camera-dark-flat",
                                               table.arrays())


def calibrate_camera_dark_flat(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                               abort: threading.Event | None = None, frames: int = 8, flat: bool = True,
                               flat_frames: int = 24, strength: float = 0.15, smooth_px: float = 2.0,
                               min_light: float = 0.2, fill: float = 0.6, second_exposure: float | None = None,
                               seed: int = 0, camera: str | None = None, slm: str | None = None,
                               laser: str | None = None, timeout: float = 5.0,
                               calibration_file: str | Path | None = None) -> CalibrationResult:
    """Camera dark frame (laser off, two exposures) and pixel flat field (lens phases on the SLM).

    The dark: ``frames`` images averaged at the exposure the flat used and at ``second_exposure``
    (default four times it), with the laser's output off; per pixel, offset and dark rate. The
    flat (``flat=True``, needs the SLM): ``flat_frames`` lens phases of edge frequency about
    ``strength`` cycles/pixel, averaged, over their ``smooth_px`` Gaussian smoothing (the
    pixel-to-pixel response only; see the module docstring). The laser is left off.
    """
    opts = dict(frames=frames, flat=flat, flat_frames=flat_frames, strength=strength, smooth_px=smooth_px,
                min_light=min_light, fill=fill, second_exposure=second_exposure, seed=seed, camera=camera,
                slm=slm, laser=laser, timeout=timeout, calibration_file=calibration_file)
    need = ["camera", "laser"] + (["slm"] if flat else [])
    probe_shape = _sensor_shape(station, camera)
    return run_bench_routine("camera_dark_flat", station, out_dir, progress, abort, opts, need, _body_dark_flat,
                             scalars=[], captures={"dark": image_spec(probe_shape), "flat": image_spec(probe_shape)})


def _sensor_shape(station: Any, camera: str | None) -> tuple[int, int]:
    """The camera's full sensor shape (read from the driver, nothing sent), for the captures."""
    name = find_role(station, NEEDS["camera"], camera, "camera")
    return tuple(int(n) for n in station[name].shape)  # type: ignore[return-value]


__all__ = ["Bench", "CameraDarkFlat", "NEEDS", "calibrate_camera_dark_flat", "flat_from_mean",
           "load_camera_dark_flat", "run_bench_routine"]
