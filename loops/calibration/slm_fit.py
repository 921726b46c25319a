"""The numbers behind the SLM bench calibrations, as plain functions of camera images.

The routines (:mod:`hilt.loops.calibration.slm`, :mod:`hilt.loops.calibration.camera`) show
frames and grab images; everything here turns images into numbers and can be checked against
the physics without a station.

**Grey-to-phase LUT, from the zeroth diffraction order.** A binary grating whose two halves of
each period show grey levels ``a`` and ``b`` (phases ``phi_a``, ``phi_b``) has, in the lens's back
focal plane, a zeroth order whose field is the period's mean field, ``(e^{i phi_a} + e^{i
phi_b}) / 2``; its power, relative to the zeroth order of a uniform frame, is

    I_0(a, b) / I_U = cos^2((phi_b - phi_a) / 2) = (1 + cos(phi_b - phi_a)) / 2.

One grating per level (``a = 0``) gives ``cos(D(g))``, ``D(g) = phi(g) - phi(0)``, which cannot
tell ``D`` from ``-D``. A second grating per level against a reference level ``r`` whose phase
``delta = D(r)`` is near pi/2 gives ``cos(D(g) - delta)`` and so ``sin D(g)``: the two make a
quadrature pair, ``D = atan2(sin, cos)``, unwrapped along the levels. Assumptions: the panel's
phase increases with the level up to ``r`` (true of the LCoS panels we know; it fixes the sign
of ``delta``), neighbouring measured levels differ by less than pi, the grating's period is
many pixels so the fringing field between its halves spoils few of them, the laser's power does
not drift between the uniform reference and the gratings, and the zeroth order's window holds
no other order (the window is a third of the distance to the first orders).

**SLM-to-camera geometry (Fourier plane).** A phase ramp of spatial frequency ``f = (f_y,
f_x)`` cycles per SLM pixel sends its light to one spot whose camera position (row, col) is an
affine function of ``f``, ``p = p_0 + M f`` (the lens's focal length, the camera's pixel pitch
and any rotation or skew between the two are in ``M``; ``p_0`` is the zeroth order). Spots are
located by an intensity-weighted centroid around the brightest pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# -- frames shown on the SLM -------------------------------------------------------------------


def binary_grating(shape: tuple[int, int], period: int, a: int, b: int) -> np.ndarray:
    """Grey levels: columns alternate ``a`` and ``b`` in blocks of ``period // 2`` pixels."""
    if period < 2 or period % 2:
        raise ValueError(f"grating period {period}: expected an even number of pixels >= 2")
    cols = (np.arange(shape[1]) // (period // 2)) % 2
    return np.broadcast_to(np.where(cols == 0, a, b), shape).astype(np.int64)


def phase_ramp(shape: tuple[int, int], f: tuple[float, float]) -> np.ndarray:
    """Phase (rad) of a blazed grating of spatial frequency ``f = (f_y, f_x)`` cycles per pixel."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    return 2 * math.pi * (f[0] * y + f[1] * x)


def lens_phase(shape: tuple[int, int], strength: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    """A quadratic (lens) phase whose local spatial frequency at the panel's edge is ``strength``
    cycles per pixel: it spreads the Fourier plane's spot into a disc (used for flat fields)."""
    h, w = shape
    cy, cx = ((h - 1) / 2, (w - 1) / 2) if centre is None else centre
    y, x = np.mgrid[0:h, 0:w]
    r_edge = max(h, w) / 2
    return math.pi * strength * ((y - cy) ** 2 + (x - cx) ** 2) / r_edge


# -- reading spots -----------------------------------------------------------------------------


def background_level(image: np.ndarray) -> float:
    """The black level of a mostly dark image (the median: in a Fourier-plane image nearly every
    pixel sees only the sidelobes)."""
    return float(np.median(image))


def peak(image: np.ndarray, exclude: list[tuple[tuple[float, float], float]] | None = None) -> tuple[int, int]:
    """(row, col) of the brightest pixel, outside the discs ``(centre, radius)`` of ``exclude``."""
    img = np.asarray(image, dtype=np.float64).copy()
    if exclude:
        yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
        for (cy, cx), r in exclude:
            img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = -np.inf
    k = int(np.argmax(img))
    return k // img.shape[1], k % img.shape[1]


def centroid(image: np.ndarray, near: tuple[float, float], radius: float, background: float) -> tuple[float, float]:
    """Intensity-weighted centroid (row, col) of the background-subtracted image in a disc."""
    img = np.asarray(image, dtype=np.float64) - background
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    inside = (yy - near[0]) ** 2 + (xx - near[1]) ** 2 <= radius * radius
    w = np.where(inside, np.clip(img, 0.0, None), 0.0)
    s = float(w.sum())
    if s <= 0:
        return float(near[0]), float(near[1])
    return float((w * yy).sum() / s), float((w * xx).sum() / s)


def window_power(image: np.ndarray, centre: tuple[float, float], radius: float,
                 background: float | np.ndarray) -> float:
    """Sum over a disc of the image minus ``background`` (a level, or a dark frame), DN."""
    img = np.asarray(image, dtype=np.float64) - background
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    inside = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius * radius
    return float(img[inside].sum())


# -- the LUT ---------------------------------------------------------------------------------


def reference_level(levels: np.ndarray, cos_a: np.ndarray) -> int:
    """The quadrature reference: the first measured level (above 0) where ``cos D`` falls to 0
    or below (``D`` near pi/2); the level with the smallest ``|cos D|`` if it never does."""
    levels = np.asarray(levels)
    below = np.nonzero((cos_a <= 0) & (levels > 0))[0]
    if below.size:
        return int(levels[below[0]])
    return int(levels[np.argmin(np.abs(cos_a))])


def quadrature_phase(cos_a: np.ndarray, cos_b: np.ndarray, delta: float) -> np.ndarray:
    """``D`` from ``cos D`` and ``cos(D - delta)``, unwrapped along the levels, ``D[0]`` = 0
    when the first level is the zero level (its ``cos_a`` is 1)."""
    cos_a = np.clip(np.asarray(cos_a, dtype=np.float64), -1.5, 1.5)
    cos_b = np.asarray(cos_b, dtype=np.float64)
    sin_a = (cos_b - cos_a * math.cos(delta)) / math.sin(delta)
    return np.unwrap(np.arctan2(sin_a, cos_a))


@dataclass
class LutFit:
    """A measured grey-to-phase curve and the smooth table made from it.

    ``levels`` the measured grey levels, ``phase`` their measured phase relative to level 0
    (rad), ``coef`` a Chebyshev series in ``u = 2 g / (n - 1) - 1`` fitted to them, ``lut`` the
    series at every level (what the SLM is given).
    """

    levels: np.ndarray
    phase: np.ndarray
    coef: np.ndarray
    lut: np.ndarray
    reference: int
    delta: float
    residual_rms: float
    residual_max: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stroke(self) -> float:
        """Phase of the top level relative to level 0 (rad): 2 pi on an ideal panel."""
        return float(self.lut[-1] - self.lut[0])


def fit_lut(levels: np.ndarray, phase: np.ndarray, n_levels: int, degree: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev series (at most one coefficient per three points) through measured phases;
    returns ``(coef, table of n_levels phases)``, the table shifted so level 0 is 0."""
    levels = np.asarray(levels, dtype=np.float64)
    u = 2 * levels / (n_levels - 1) - 1
    deg = int(min(degree, max(1, levels.size // 3)))
    coef = np.polynomial.chebyshev.chebfit(u, np.asarray(phase, dtype=np.float64), deg)
    table = np.polynomial.chebyshev.chebval(np.linspace(-1, 1, n_levels), coef)
    return coef, table - table[0]


def lut_from_zeroth_order(levels: np.ndarray, i_uniform: float, i_a: np.ndarray, i_b: np.ndarray,
                          reference: int, n_levels: int, degree: int = 15) -> LutFit:
    """The LUT from zeroth-order powers: ``i_a[k]`` of the grating (0, levels[k]), ``i_b[k]`` of
    (reference, levels[k]), ``i_uniform`` of the uniform level-0 frame (same exposure)."""
    levels = np.asarray(levels)
    cos_a = 2 * np.asarray(i_a, dtype=np.float64) / i_uniform - 1
    cos_b = 2 * np.asarray(i_b, dtype=np.float64) / i_uniform - 1
    k = int(np.nonzero(levels == reference)[0][0])
    delta = float(np.arccos(np.clip(cos_a[k], -1.0, 1.0)))
    if delta < 0.2 or delta > math.pi - 0.2:
        raise ValueError(f"reference level {reference} gives {delta:.2f} rad against level 0: too close to 0 or pi "
                         "for a quadrature measurement (is the laser on and the zeroth order on the camera?)")
    phase = quadrature_phase(cos_a, cos_b, delta)
    phase = phase - phase[0]
    coef, table = fit_lut(levels, phase, n_levels, degree)
    resid = phase - table[levels.astype(int)]
    return LutFit(levels, phase, coef, table, reference, delta, float(np.sqrt(np.mean(resid**2))),
                  float(np.max(np.abs(resid))), {"cos_a": cos_a, "cos_b": cos_b})


def grating_zeroth_order(phi_a: np.ndarray, phi_b: np.ndarray, period: int, fringing: float) -> np.ndarray:
    """Model of a binary grating's zeroth-order power relative to a uniform frame's: one period,
    halves at phases ``phi_a`` and ``phi_b`` (arrays, one grating each), the phase smoothed by the
    fringing field (a Gaussian of ``fringing`` pixels std, periodic), ``|mean e^{i phase}|^2``."""
    from scipy.ndimage import gaussian_filter1d

    phi_a = np.atleast_1d(np.asarray(phi_a, dtype=np.float64))
    phi_b = np.broadcast_to(np.asarray(phi_b, dtype=np.float64), phi_a.shape)
    half = np.arange(period) < period // 2
    profile = np.where(half[None, :], phi_a[:, None], phi_b[:, None])
    if fringing > 0:
        profile = gaussian_filter1d(profile, fringing, axis=1, mode="wrap")
    return np.abs(np.exp(1j * profile).mean(axis=1)) ** 2


def grid_phases(levels: np.ndarray, periods: list[int], r_a: np.ndarray, r_b: np.ndarray, reference: int,
                fringing: float, step: float = 0.01, jump: float = 1.0) -> tuple[np.ndarray, float]:
    """Phases per level (rad, from level 0 at 0) for one fringing width: the reference's phase
    in (0, pi) from its own (0, reference) gratings, then level after level the phase on a grid
    that fits both series at every period best within ``jump`` below and ``1.5 jump`` above the
    previous level's (the fringing smooths the phases themselves, not modulo 2 pi, so a phase
    past 2 pi is not the same as that phase less 2 pi and the grid runs past it). Returns
    ``(phases, rms misfit)``."""
    levels = np.asarray(levels)
    k_ref = int(np.nonzero(levels == reference)[0][0])
    half = np.arange(step, math.pi, step)
    # The reference: phase increasing with the level puts it in (0, pi).
    cost = sum((grating_zeroth_order(np.zeros_like(half), half, period, fringing) - r_a[p, k_ref]) ** 2
               for p, period in enumerate(periods))
    d_ref = float(half[int(np.argmin(cost))])
    grid = np.arange(-jump, 4 * math.pi + jump, step)
    cost = np.zeros((levels.size, grid.size))
    for p, period in enumerate(periods):
        model_a = grating_zeroth_order(np.zeros_like(grid), grid, period, fringing)
        model_b = grating_zeroth_order(np.full_like(grid, d_ref), grid, period, fringing)
        cost += (model_a[None, :] - r_a[p][:, None]) ** 2 + (model_b[None, :] - r_b[p][:, None]) ** 2
    phases = np.zeros(levels.size)
    total = 0.0
    prev = 0.0
    for k in range(levels.size):
        window = np.where((grid >= prev - jump) & (grid <= prev + 1.5 * jump), cost[k], np.inf)
        if k == 0:  # level 0 against itself: a uniform frame
            window = np.where(np.abs(grid) <= step, cost[k], np.inf)
        i = int(np.argmin(window))
        phases[k] = prev = float(grid[i])
        total += float(cost[k, i])
    return phases - phases[0], math.sqrt(total / (levels.size * 2 * len(periods)))


def fringing_and_phases(levels: np.ndarray, periods: list[int], r_a: np.ndarray, r_b: np.ndarray,
                        reference: int, bounds: tuple[float, float] = (0.0, 3.0)) -> tuple[np.ndarray, float]:
    """The fringing width (pixels) whose :func:`grid_phases` fit the ratios best, and those phases:
    the start of :func:`fit_fringed_lut`."""
    from scipy.optimize import minimize_scalar

    def misfit(sigma: float) -> float:
        return grid_phases(levels, periods, r_a, r_b, reference, sigma, step=0.02)[1]

    coarse = np.linspace(bounds[0], bounds[1], 13)
    k = int(np.argmin([misfit(v) for v in coarse]))
    lo, hi = coarse[max(0, k - 1)], coarse[min(len(coarse) - 1, k + 1)]
    sigma = float(minimize_scalar(misfit, bounds=(lo, hi), method="bounded", options={"xatol": 0.01}).x)
    return grid_phases(levels, periods, r_a, r_b, reference, sigma)[0], sigma


def fit_fringed_lut(levels: np.ndarray, periods: list[int], r_a: np.ndarray, r_b: np.ndarray, reference: int,
                    start: np.ndarray, fringing0: float = 0.5, reach: float = 1.0) -> tuple[np.ndarray, float, float]:
    """Refine measured phases ``start`` (rad, per level, relative to level 0) and one fringing
    width (pixels) so the grating model (:func:`grating_zeroth_order`) matches the zeroth-order
    ratios ``r_a[p, k]`` of gratings (0, level k) and ``r_b[p, k]`` of (reference, level k) at
    each period ``periods[p]``. Returns ``(phases, fringing, rms misfit of the ratios)``."""
    from scipy.optimize import least_squares

    levels = np.asarray(levels)
    k_ref = int(np.nonzero(levels == reference)[0][0])
    n = levels.size

    def residuals(x: np.ndarray) -> np.ndarray:
        d, sigma = x[:n], x[n]
        out = []
        for p, period in enumerate(periods):
            out.append(grating_zeroth_order(np.zeros(n), d, period, sigma) - r_a[p])
            out.append(grating_zeroth_order(np.full(n, d[k_ref]), d, period, sigma) - r_b[p])
        return np.concatenate(out)

    # Each phase stays within ``reach`` of its start: the quadrature start is on the right branch,
    # and the model has other minima (a level can slide to another phase whose two gratings
    # give about the same powers).
    x0 = np.r_[np.asarray(start, dtype=np.float64), fringing0]
    lo = np.r_[x0[:n] - reach, 0.0]
    hi = np.r_[x0[:n] + reach, 5.0]
    sol = least_squares(residuals, x0, bounds=(lo, hi), x_scale="jac")
    d = sol.x[:n] - sol.x[0]
    return d, float(sol.x[n]), float(np.sqrt(np.mean(sol.fun**2)))


def grating_phase_error(i_uniform: float, i_zero: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Error (rad) of gratings meant to hold phase differences ``targets`` (in (0, pi]) between
    their halves, from their zeroth-order powers: ``measured - target``, with ``measured =
    arccos(2 I_0 / I_U - 1)`` (the fold at pi is why targets stay at or below pi)."""
    c = np.clip(2 * np.asarray(i_zero, dtype=np.float64) / i_uniform - 1, -1.0, 1.0)
    return np.arccos(c) - np.asarray(targets, dtype=np.float64)


# -- geometry --------------------------------------------------------------------------------


@dataclass
class AffineMap:
    """Camera (row, col) of the spot of SLM spatial frequency ``f = (f_y, f_x)`` cycles/pixel:
    ``p = offset + matrix @ f``."""

    offset: np.ndarray  # (2,)
    matrix: np.ndarray  # (2, 2) camera pixels per (cycle / SLM pixel)

    def camera(self, f: np.ndarray) -> np.ndarray:
        """Camera positions (..., 2) of spatial frequencies (..., 2)."""
        return self.offset + np.asarray(f, dtype=np.float64) @ self.matrix.T

    def frequency(self, p: np.ndarray) -> np.ndarray:
        """Spatial frequencies (..., 2) whose spots land on camera positions (..., 2)."""
        return (np.asarray(p, dtype=np.float64) - self.offset) @ np.linalg.inv(self.matrix).T

    @property
    def scale(self) -> tuple[float, float]:
        """Camera pixels per cycle/pixel along the SLM's rows and columns."""
        return float(np.linalg.norm(self.matrix[:, 0])), float(np.linalg.norm(self.matrix[:, 1]))

    @property
    def rotation_rad(self) -> float:
        """Angle of the SLM's column-frequency axis on the camera (0: along the camera's columns)."""
        return float(math.atan2(self.matrix[0, 1], self.matrix[1, 1]))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"offset": self.offset, "matrix": self.matrix}


def fit_affine(f: np.ndarray, p: np.ndarray) -> tuple[AffineMap, np.ndarray]:
    """Least-squares affine map from frequencies (n, 2) to camera positions (n, 2), n >= 3 and
    not collinear; returns the map and the residuals (n, 2) in camera pixels."""
    f = np.asarray(f, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if f.shape[0] < 3 or np.linalg.matrix_rank(np.c_[f, np.ones(len(f))]) < 3:
        raise ValueError("an affine map needs at least three spatial frequencies not on one line")
    design = np.c_[np.ones(len(f)), f]
    coef, *_ = np.linalg.lstsq(design, p, rcond=None)
    amap = AffineMap(offset=coef[0], matrix=coef[1:].T)
    return amap, p - amap.camera(f)


__all__ = [
    "AffineMap", "LutFit", "background_level", "binary_grating", "centroid", "fit_affine", "fit_lut",
    "grating_phase_error", "lens_phase", "lut_from_zeroth_order", "peak", "phase_ramp", "quadrature_phase",
    "reference_level", "window_power",
]
