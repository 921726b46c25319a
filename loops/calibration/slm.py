"""SLM calibrations on a bench with the camera in the lens's back focal plane (Fourier plane):
the grey-to-phase look-up table and the SLM-to-camera geometry. The methods and their
assumptions are in :mod:`hilt.loops.calibration.slm_fit`; docs/calibration.md says how to run
them and what they report.

``slm_lut`` measures with the camera only: binary gratings (level 0 against every measured level,
then a quadrature reference level against every level) at two periods, their zeroth-order power
relative to a uniform frame's; a model of the grating with the fringing field between pixels
(one Gaussian width, fitted with the phases) turns the powers into phases, and a smooth series
through them into the table the SLM is given. Before/after: gratings meant to hold pi/4 .. pi
between their halves, shown through the SLM's LUT as it was and as fitted.

``slm_geometry`` finds the affine map from SLM spatial frequency (cycles per SLM pixel) to camera
pixels from the spots of blazed gratings (a small probe first, so the grid of spots fills the
sensor whatever the focal length), with the fit's residuals and the prediction error on spots it
was not fitted to; from the zeroth order's width it also reports the beam's waist on the SLM.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hilt.errors import ConfigError

from ._common import CalibrationResult, Context, ProgressFn
from .camera import Bench, load_camera_dark_flat, run_bench_routine, save_calibration
from .slm_fit import (
    AffineMap,
    binary_grating,
    centroid,
    fit_affine,
    fit_fringed_lut,
    fit_lut,
    fringing_and_phases,
    grating_zeroth_order,
    peak,
    phase_ramp,
    reference_level,
    window_power,
)

# -- shared ---------------------------------------------------------------------------------------


def _background(bench: Bench, dark_file: str | Path | None, image: np.ndarray) -> float | np.ndarray:
    """The camera's dark frame at the exposure now (from a ``camera_dark_flat`` table), else the
    image's median (a Fourier-plane image is dark almost everywhere)."""
    if dark_file is None:
        return float(np.median(image))
    table = load_camera_dark_flat(dark_file)
    if table.offset.shape != image.shape:
        raise ConfigError(f"dark table {dark_file} is for a {table.offset.shape} sensor, the camera gives {image.shape}")
    return table.dark(float(bench.camera.exposure.get()))


def spot_sigma(image: np.ndarray, centre: tuple[float, float], background: float | np.ndarray,
               radius: float) -> float:
    """RMS radius / sqrt(2) (the std of one axis, px) of the light in a disc around ``centre``
    (background-subtracted, not clipped at zero, so the noise does not widen it)."""
    img = np.asarray(image, dtype=np.float64) - background
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    r2 = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    w = np.where(r2 <= radius * radius, img, 0.0)
    s = float(w.sum())
    return math.sqrt(max(float((w * r2).sum()) / s / 2, 0.0)) if s > 0 else math.nan


def waist_from_spot(sigma_px: float, disc_px: float, slm_shape: tuple[int, int], amap: AffineMap) -> float:
    """The beam's 1/e^2 intensity radius on the SLM (SLM pixels) whose zeroth order, through the
    panel's aperture and the map ``amap``, has the measured width ``sigma_px`` in a disc of
    ``disc_px`` (the aperture clips the beam's tails, which widens the spot a little: a model,
    not the Gaussian formula, matches them)."""
    from scipy.optimize import brentq

    h, w = slm_shape
    y = np.arange(h) - (h - 1) / 2
    x = np.arange(w) - (w - 1) / 2
    r = int(math.ceil(disc_px))
    dp = np.mgrid[-r:r + 1, -r:r + 1].reshape(2, -1).T.astype(np.float64)
    inside = np.sum(dp**2, axis=1) <= disc_px * disc_px
    dp = dp[inside]
    f = dp @ np.linalg.inv(amap.matrix).T  # (n, 2) cycles/px from the zeroth order
    ey = np.exp(-2j * math.pi * np.outer(f[:, 0], y))
    ex = np.exp(-2j * math.pi * np.outer(f[:, 1], x))
    r2 = np.sum(dp**2, axis=1)

    def sigma(waist: float) -> float:
        gy, gx = np.exp(-y**2 / waist**2), np.exp(-x**2 / waist**2)
        inten = np.abs((ey @ gy) * (ex @ gx)) ** 2
        return math.sqrt(float((inten * r2).sum() / inten.sum()) / 2)

    # Near the Gaussian formula's answer (far from it the clipped beam's sidelobes make the
    # width in the disc non-monotonic in the waist).
    gauss = 1.0 / (2 * math.pi * sigma_px / float(np.sqrt(abs(np.linalg.det(amap.matrix)))))
    try:
        return float(brentq(lambda wst: sigma(wst) - sigma_px, 0.7 * gauss, 1.4 * gauss, xtol=1e-3))
    except ValueError:  # the model cannot give this width nearby: the Gaussian formula
        return gauss


def _zero_order(bench: Bench, ctx: Context) -> tuple[np.ndarray, float | np.ndarray, tuple[float, float], float]:
    """Uniform frame (level 0) at an exposure that fills ``fill`` of full scale: (image,
    background, zeroth-order centre, spot radius (px, 1/e^2 of the peak))."""
    o = ctx.opts
    slm = bench.slm
    bench.light_on()
    uniform = np.zeros(tuple(slm.shape), dtype=np.int64)
    bench.auto_exposure(lambda: bench.show_grey(uniform), fill=float(o["fill"]))
    img = bench.show_grey(uniform, int(o["frames"]))
    bg = _background(bench, o.get("dark_file"), img)
    top = float((img - bg).max())
    noise = float(np.std(img[img <= np.percentile(img, 50)]))
    if top <= 20 * max(noise, 1.0):
        raise ConfigError(f"{ctx.routine}: no zeroth order on the camera (peak {top:.0f} DN above the background, "
                          f"noise {noise:.1f} DN): is the laser on and the camera in the lens's focal plane?")
    p = peak(img - bg)
    radius = math.sqrt(float(np.count_nonzero((img - bg) > top * math.exp(-2))) / math.pi)
    c = centroid(img - bg, p, max(2.0, 1.5 * radius), 0.0)
    return img, bg, c, max(radius, 1.0)


def _first_order(bench: Bench, ctx: Context, period: int, bg: float | np.ndarray, c0: tuple[float, float],
                 radius: float) -> float:
    """Distance (camera px) from the zeroth order to the first orders of a binary grating of
    ``period`` pixels at the nominal half wave."""
    levels = 1 << int(bench.slm.bit_depth)
    img = bench.show_grey(binary_grating(tuple(bench.slm.shape), period, 0, levels // 2))
    p1 = peak(img - bg, [(c0, 2 * radius)])
    d = math.hypot(p1[0] - c0[0], p1[1] - c0[1])
    if d < 3 * radius:
        raise ConfigError(f"{ctx.routine}: the first orders of a {period}-pixel grating are {d:.1f} px from the zeroth "
                          f"order, not clear of its {radius:.1f} px spot: use a smaller period (option periods)")
    return d


# -- the LUT --------------------------------------------------------------------------------------


@dataclass
class SlmLut:
    """A measured LUT: ``lut[g]`` phase (rad) of level ``g`` relative to level 0, with the
    measured points and the fringing width the grating model needed (SLM pixels)."""

    lut: np.ndarray
    levels: np.ndarray
    phase: np.ndarray
    fringing_px: float

    def arrays(self) -> dict[str, Any]:
        return {"lut": self.lut, "levels": self.levels, "phase": self.phase,
                "fringing_px": np.float64(self.fringing_px)}


def load_slm_lut(path: str | Path) -> SlmLut:
    """Read a table written by the ``slm_lut`` routine (give ``lut`` to ``slm.set_lut``)."""
    try:
        with np.load(path) as d:
            if str(d["format"]) != "hilt-slm-lut":
                raise ValueError(f"a {d['format']} file, not an SLM LUT")
            return SlmLut(d["lut"], d["levels"], d["phase"], float(d["fringing_px"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"SLM LUT {path}: {exc}") from None


def _invert_grating(ratio: float, period: int, fringing: float) -> float:
    """The phase difference in [0, pi] whose fringed grating gives zeroth-order ``ratio``."""
    grid = np.linspace(0.0, math.pi, 2001)
    model = grating_zeroth_order(np.zeros_like(grid), grid, period, fringing)
    return float(np.interp(-ratio, -model, grid))  # the model falls from 1 to its minimum


def _grating_errors(bench: Bench, ctx: Context, period: int, fringing: float, c0: tuple[float, float],
                    r: float, bg: float | np.ndarray, iu: float, targets: np.ndarray, label: str) -> np.ndarray:
    """Measured minus target phase difference of gratings shown through the SLM's LUT now."""
    shape = tuple(bench.slm.shape)
    half = binary_grating(shape, period, 0, 1).astype(bool)
    errors = []
    for t in targets:
        img = bench.show_phase(np.where(half, float(t), 0.0), int(ctx.opts["frames"]))
        errors.append(_invert_grating(window_power(img, c0, r, bg) / iu, period, fringing) - float(t))
        ctx.report(f"{label}: grating of {t:.2f} rad")
    return np.array(errors)


def _body_lut(bench: Bench, ctx: Context, result: CalibrationResult) -> None:
    o = ctx.opts
    slm = bench.slm
    shape = tuple(slm.shape)
    n = 1 << int(slm.bit_depth)
    periods = sorted(int(p) for p in o["periods"])
    step = int(o["step"])
    levels = np.unique(np.r_[np.arange(0, n, step), n - 1])
    targets = np.array([math.pi / 4, math.pi / 2, 3 * math.pi / 4, math.pi])
    ctx.total = 2 + 2 * len(periods) * levels.size + (2 * targets.size if o["verify"] else 0)
    frames = int(o["frames"])
    u, bg, c0, radius = _zero_order(bench, ctx)
    d = _first_order(bench, ctx, periods[-1], bg, c0, radius)
    r = float(o["window"]) * d
    iu = window_power(u, c0, r, bg)
    ctx.report(f"zeroth order at ({c0[0]:.1f}, {c0[1]:.1f}) px, window {r:.1f} px, exposure "
               f"{float(bench.camera.exposure.get()) * 1e3:.3g} ms", step=2)
    r_a = np.zeros((len(periods), levels.size))
    r_b = np.zeros((len(periods), levels.size))

    def series(out: np.ndarray, base: int, name: str, stream: int) -> None:
        for p, period in enumerate(periods):
            for k, g in enumerate(levels):
                img = bench.show_grey(binary_grating(shape, period, base, int(g)), frames)
                out[p, k] = window_power(img, c0, r, bg) / iu
                ctx.run.capture("gratings", step=stream, sample_idx=p * levels.size + k,
                                inputs=np.array([[float(period), float(base), float(g)]]),
                                physical=np.array([[out[p, k]]]))
                ctx.data(sweep=f"{name}, period {period}", heater=None, step=stream * len(periods) + p, x=float(g),
                         y=np.array([out[p, k]]), x_label="grey level", y_label="zeroth order / uniform",
                         title=f"SLM LUT: gratings ({name})")
                ctx.report(f"{name}, period {period}: level {g}: {out[p, k]:.3f}")

    series(r_a, 0, "0 against g", 0)
    ref = reference_level(levels, 2 * r_a[-1] - 1)
    series(r_b, ref, f"{ref} against g", 1)
    # Start: each level's phase on a grid for the fringing width that fits best; then every
    # phase and the width refined together (least squares, each phase near its start).
    start, sigma0 = fringing_and_phases(levels, periods, r_a, r_b, ref)
    phase, fringing, misfit = fit_fringed_lut(levels, periods, r_a, r_b, ref, start, sigma0, reach=0.3)
    coef, table = fit_lut(levels, phase, n, int(o["degree"]))
    ctx.data(fit="lut", x=np.arange(n, dtype=float), y=table[:, None])
    resid = phase - table[levels]
    old = np.asarray(slm.lut, dtype=np.float64).copy()
    result.quality = {"levels": float(levels.size), "fringing_px": fringing, "grating_misfit": misfit,
                      "residual_rms_rad": float(np.sqrt(np.mean(resid**2))),
                      "residual_max_rad": float(np.max(np.abs(resid))), "stroke_rad": float(table[-1] - table[0]),
                      "reference_level": float(ref)}
    lut = SlmLut(table, levels, phase, fringing)
    key = "grating phase error (rad RMS)"
    if o["verify"]:
        before = _grating_errors(bench, ctx, periods[-1], fringing, c0, r, bg, iu, targets, "before")
        slm.set_lut(table)
        after = _grating_errors(bench, ctx, periods[-1], fringing, c0, r, bg, iu, targets, "after")
        result.before = {key: float(np.sqrt(np.mean(before**2)))}
        result.after = {key: float(np.sqrt(np.mean(after**2)))}
        result.table["grating_targets_rad"] = targets.tolist()
        result.table["grating_errors_before_rad"] = before.tolist()
        result.table["grating_errors_after_rad"] = after.tolist()
    if o["apply"]:
        slm.set_lut(table)
    else:
        slm.set_lut(old)
    nominal = old - old[0]
    result.before["LUT in use vs measured (rad RMS)"] = float(np.sqrt(np.mean((nominal - table) ** 2)))
    result.after["LUT in use vs measured (rad RMS)"] = 0.0 if o["apply"] else result.before[
        "LUT in use vs measured (rad RMS)"]
    result.table.update({"stroke_rad": result.quality["stroke_rad"], "fringing_px": fringing, "reference_level": ref,
                         "periods": periods, "applied": bool(o["apply"])})
    if abs(result.quality["stroke_rad"] - 2 * math.pi) > 0.3:
        result.notes.append(f"the panel's stroke is {result.quality['stroke_rad']:.2f} rad, not 2 pi: "
                            "phases it cannot reach go to the nearer end of its stroke")
    arrays = {**lut.arrays(), "coef": coef, "ratio_a": r_a, "ratio_b": r_b, "periods": np.array(periods),
              "reference_level": np.int64(ref), "exposure_s": np.float64(bench.camera.exposure.get())}
    ctx.run.add_calibration("slm_lut", {"lut": table, "levels": levels, "phase": phase,
                                        "fringing_px": fringing})
    result.calibration_file = save_calibration(ctx, o.get("calibration_file"), "hilt-slm-lut", arrays)


def calibrate_slm_lut(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                      abort: threading.Event | None = None, step: int = 4, periods: Sequence[int] = (16, 32),
                      frames: int = 1, fill: float = 0.6, window: float = 0.25, degree: int = 15,
                      verify: bool = True, apply: bool = True, dark_file: str | Path | None = None,
                      slm: str | None = None, camera: str | None = None, laser: str | None = None,
                      timeout: float = 5.0, calibration_file: str | Path | None = None) -> CalibrationResult:
    """SLM grey-to-phase LUT from the zeroth order of binary gratings, camera only (Fourier plane).

    Every ``step``-th grey level (and the top one) against level 0 and against a quadrature
    reference level, at each grating period of ``periods`` (SLM pixels, even; the longest one's
    first orders must clear the zeroth order's spot on the camera); ``frames`` images averaged
    per grating, the zeroth order summed over a disc of ``window`` times the distance to the
    first orders. With ``apply`` the fitted LUT is given to the SLM (``set_lut``); ``verify``
    shows gratings of pi/4 .. pi through the LUT before and after. ``dark_file``: a
    ``camera_dark_flat`` table (else the image's median is the background).
    """
    if step < 1:
        raise ConfigError(f"slm_lut: step {step}: expected a positive number of levels")
    for p in periods:
        if int(p) < 4 or int(p) % 2:
            raise ConfigError(f"slm_lut: grating period {p}: expected an even number of pixels >= 4")
    opts = dict(step=step, periods=[int(p) for p in periods], frames=frames, fill=fill, window=window, degree=degree,
                verify=verify, apply=apply, dark_file=dark_file, slm=slm, camera=camera, laser=laser, timeout=timeout,
                calibration_file=calibration_file)
    from hilt.runfile import CaptureSpec

    spec = CaptureSpec(input_shape=(3,), physical_shape=(1,), input_dtype="float64", physical_dtype="float64")
    return run_bench_routine("slm_lut", station, out_dir, progress, abort, opts, ["slm", "camera"], _body_lut,
                             scalars=[], captures={"gratings": spec}, optional=["laser"])


# -- geometry -------------------------------------------------------------------------------------


@dataclass
class SlmGeometry:
    """Fourier-plane geometry: ``map`` (SLM spatial frequency -> camera pixel), the camera it was
    measured on (``camera_shape``), the beam's 1/e^2 intensity radius on the SLM (SLM pixels)."""

    map: AffineMap
    camera_shape: tuple[int, int]
    beam_waist_px: float

    def arrays(self) -> dict[str, Any]:
        return {**self.map.arrays(), "camera_shape": np.array(self.camera_shape),
                "beam_waist_px": np.float64(self.beam_waist_px)}


def load_slm_geometry(path: str | Path) -> SlmGeometry:
    """Read a table written by the ``slm_geometry`` routine."""
    try:
        with np.load(path) as d:
            if str(d["format"]) != "hilt-slm-geometry":
                raise ValueError(f"a {d['format']} file, not an SLM geometry")
            return SlmGeometry(AffineMap(d["offset"], d["matrix"]), tuple(int(v) for v in d["camera_shape"]),
                               float(d["beam_waist_px"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"SLM geometry {path}: {exc}") from None


def _spot(bench: Bench, ctx: Context, f: tuple[float, float], c0: tuple[float, float], radius: float,
          bg: float | np.ndarray) -> tuple[float, float]:
    shape = tuple(bench.slm.shape)
    img = bench.show_phase(phase_ramp(shape, f), int(ctx.opts["frames"]))
    exclude = [] if f == (0.0, 0.0) else [(c0, 2 * radius)]
    p = peak(img - bg, exclude)
    sub = img - bg
    return centroid(sub, p, 1.5 * radius, 0.0)


def _body_geometry(bench: Bench, ctx: Context, result: CalibrationResult) -> None:
    o = ctx.opts
    slm, cam = bench.slm, bench.camera
    rows, cols = (int(v) for v in cam.shape)
    u, bg, c0, radius = _zero_order(bench, ctx)
    reach = float(o["reach"])
    # A probe: two small frequencies give a rough map, which places the grid of spots.
    probe = float(o["probe"]) if o.get("probe") else 4.0 / max(slm.shape)
    fit_points: list[tuple[float, float]] = [(0.0, 0.0), (0.0, probe), (probe, 0.0)]
    seen = [c0] + [_spot(bench, ctx, f, c0, radius, bg) for f in fit_points[1:]]
    rough, _ = fit_affine(np.array(fit_points), np.array(seen))
    ctx.total = 3 + 8 + 4  # probe, grid, hold-out
    ctx.report(f"probe: {rough.scale[0]:.0f} x {rough.scale[1]:.0f} camera px per cycle/px", step=3)
    margin = 2 * radius
    half = np.array([(rows - 1) / 2 - margin, (cols - 1) / 2 - margin]) * reach
    centre = np.array([(rows - 1) / 2, (cols - 1) / 2])
    grid = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)]
    holdout = [(0.5, 0.5), (-0.5, 0.5), (0.5, -0.5), (-0.5, -0.5)]

    def measure(targets: list[tuple[float, float]], label: str) -> tuple[np.ndarray, np.ndarray]:
        fs, ps = [], []
        for a, b in targets:
            f = rough.frequency(centre + half * np.array([a, b]))
            if np.any(np.abs(f) >= 0.5):
                continue  # beyond the SLM's Nyquist frequency: the camera sees past the SLM's orders
            spot = _spot(bench, ctx, (float(f[0]), float(f[1])), c0, radius, bg)
            fs.append(f)
            ps.append(spot)
            ctx.run.capture("spots", step=0 if label == "fit" else 1, sample_idx=len(fs) - 1,
                            inputs=np.array([f]), physical=np.array([spot]))
            ctx.report(f"{label}: f = ({f[0]:+.4f}, {f[1]:+.4f}) -> ({spot[0]:.1f}, {spot[1]:.1f}) px")
        return np.array(fs), np.array(ps)

    f_fit, p_fit = measure(grid, "fit")
    # The zeroth order and the grid (the probe spots placed the grid; they are not fitted).
    f_fit = np.r_[np.zeros((1, 2)), f_fit]
    p_fit = np.r_[np.array([c0]), p_fit]
    amap, resid = fit_affine(f_fit, p_fit)
    f_hold, p_hold = measure(holdout, "hold-out")
    hold_err = np.linalg.norm(p_hold - amap.camera(f_hold), axis=1) if len(f_hold) else np.array([math.nan])
    # The beam's waist: the zeroth order is the illumination's Fourier transform (a Gaussian of
    # std 1 / (2 pi w0) cycles/pixel for a beam of 1/e^2 intensity radius w0, widened a little
    # by the panel's edges, which the model includes).
    sig_px = spot_sigma(u, c0, bg, 2.5 * radius)
    waist = waist_from_spot(sig_px, 2.5 * radius, tuple(int(v) for v in slm.shape), amap)
    geometry = SlmGeometry(amap, (rows, cols), waist)
    rms = float(np.sqrt(np.mean(np.sum(resid**2, axis=1))))
    result.quality = {"spots": float(len(f_fit)), "residual_rms_px": rms,
                      "residual_max_px": float(np.max(np.linalg.norm(resid, axis=1))),
                      "holdout_rms_px": float(np.sqrt(np.mean(hold_err**2))),
                      "scale_rows_px": amap.scale[0], "scale_cols_px": amap.scale[1],
                      "rotation_deg": math.degrees(amap.rotation_rad), "beam_waist_px": waist}
    key = "hold-out spot error (px RMS)"
    if o.get("focal_length_m"):
        k = float(slm.wavelength_m) * float(o["focal_length_m"]) / (float(slm.pixel_pitch_m) * float(cam.pixel_pitch_m))
        nominal = AffineMap(centre.copy(), np.diag([k, k]))
        result.before = {key: float(np.sqrt(np.mean(np.sum((p_hold - nominal.camera(f_hold)) ** 2, axis=1))))}
    else:
        result.notes.append("no nominal focal length given (-o focal_length_m=...): no 'before' map to compare")
    result.after = {key: result.quality["holdout_rms_px"]}
    result.table = {"offset": amap.offset.tolist(), "matrix": amap.matrix.tolist(), "beam_waist_px": waist}
    ctx.run.add_calibration("slm_geometry", {"offset": amap.offset, "matrix": amap.matrix,
                                             "residuals": resid, "frequencies": f_fit, "positions": p_fit})
    result.calibration_file = save_calibration(ctx, o.get("calibration_file"), "hilt-slm-geometry",
                                               {**geometry.arrays(), "frequencies": f_fit, "positions": p_fit,
                                                "residuals": resid})


def calibrate_slm_geometry(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                           abort: threading.Event | None = None, reach: float = 0.8, probe: float | None = None,
                           frames: int = 1, fill: float = 0.6, focal_length_m: float | None = None,
                           dark_file: str | Path | None = None, slm: str | None = None, camera: str | None = None,
                           laser: str | None = None, timeout: float = 5.0,
                           calibration_file: str | Path | None = None) -> CalibrationResult:
    """SLM-to-camera geometry (Fourier plane): affine map from SLM spatial frequency to camera pixels.

    From the spots of blazed gratings.
    A ``probe`` frequency (default four cycles over the panel) along each axis gives a rough map;
    then a 3 x 3 grid of spots out to ``reach`` of the sensor's half-size is fitted and four spots
    between them are predicted (the hold-out error). ``focal_length_m``: the lens's nominal
    focal length, for the before/after comparison with the nominal map.
    """
    opts = dict(reach=reach, probe=probe, frames=frames, fill=fill, focal_length_m=focal_length_m,
                dark_file=dark_file, slm=slm, camera=camera, laser=laser, timeout=timeout,
                calibration_file=calibration_file)
    from hilt.runfile import CaptureSpec

    spec = CaptureSpec(input_shape=(2,), physical_shape=(2,), input_dtype="float64", physical_dtype="float64")
    return run_bench_routine("slm_geometry", station, out_dir, progress, abort, opts, ["slm", "camera"],
                             _body_geometry, scalars=[], captures={"spots": spec}, optional=["laser"])


__all__ = ["SlmGeometry", "SlmLut", "calibrate_slm_geometry", "calibrate_slm_lut",
           "load_slm_geometry", "load_slm_lut", "spot_sigma", "waist_from_spot"]
