"""Fits the routines share: the heater fringe ``P = A + B cos(phi0 + alpha V^2)`` and helpers.

The fringe is fitted jointly over every detector port that sees it: for a fixed ``alpha`` the
model ``P_q = a_q + u_q cos(alpha x) + v_q sin(alpha x)`` (``x = V^2``) is linear in each port's
``(a_q, u_q, v_q)``, so they are eliminated by least squares (variable projection) and only
``alpha`` is searched: first on a grid fine enough that no fringe is missed, then refined by a
bounded scalar minimisation (scipy). Port ``q``'s fringe is then ``a_q + R_q cos(alpha x + psi_q)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar


@dataclass
class FringeFit:
    """One heater's fringe fitted over the ports: ``P[:, q] = a[q] + Re(c[q] e^{i alpha x})``."""

    alpha: float  # rad / V^2
    a: np.ndarray  # (ports,) offsets
    c: np.ndarray  # (ports,) complex amplitudes: u - i v, so Re(c e^{i t}) = u cos t + v sin t
    r2: float  # of the whole fit (all ports), against each port's mean
    residual_rms: float  # W (same unit as the data)
    residual_rel: float  # residual RMS / RMS fringe amplitude

    @property
    def amplitude(self) -> np.ndarray:
        return np.abs(self.c)

    def predict(self, x: np.ndarray, alpha: float | None = None) -> np.ndarray:
        al = self.alpha if alpha is None else alpha
        return self.a[None, :] + np.real(self.c[None, :] * np.exp(1j * al * np.asarray(x)[:, None]))


def _design(x: np.ndarray, alpha: float, linear: bool = False) -> np.ndarray:
    t = alpha * x
    cols = [np.ones_like(x), np.cos(t), np.sin(t)]
    if linear:
        cols.append(x / max(float(np.max(x)), 1e-12))
    return np.stack(cols, axis=1)


def _project(x: np.ndarray, p: np.ndarray, alpha: float, linear: bool = False) -> tuple[np.ndarray, float]:
    d = _design(x, alpha, linear)
    coef, *_ = np.linalg.lstsq(d, p, rcond=None)
    resid = p - d @ coef
    return coef, float(np.sum(resid**2))


def fit_fringe(x: np.ndarray, p: np.ndarray, alpha_range: tuple[float, float],
               alpha: float | None = None, linear: bool = False) -> FringeFit:
    """Fit ``p`` (points, ports) against ``x = V^2`` (points,). ``alpha`` fixed if given, else
    searched in ``alpha_range`` (rad/V^2). ``linear`` adds a term proportional to ``V^2`` per
    port: a neighbour's heat drifting a port's mean power (the sweep of an external heater
    warms its own MZI's internal one)."""
    x = np.asarray(x, dtype=float)
    p = np.asarray(p, dtype=float)
    if p.ndim == 1:
        p = p[:, None]
    if alpha is None:
        lo, hi = alpha_range
        # A step that moves the last point's phase by 0.2 rad cannot step over a minimum.
        step = 0.2 / max(float(np.max(x)), 1e-12)
        grid = np.arange(lo, hi + step, step)
        costs = np.array([_project(x, p, a, linear)[1] for a in grid])
        k = int(np.argmin(costs))
        res = minimize_scalar(lambda a: _project(x, p, a, linear)[1], bounds=(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]),
                              method="bounded", options={"xatol": 1e-10})
        alpha = float(res.x)
    coef, sse = _project(x, p, alpha, linear)
    sst = float(np.sum((p - p.mean(axis=0)) ** 2))
    c = coef[1] - 1j * coef[2]
    amp_rms = float(np.sqrt(np.mean(np.abs(c) ** 2) / 2)) if c.size else 0.0
    rms = math.sqrt(sse / p.size)
    return FringeFit(alpha=float(alpha), a=coef[0], c=c, r2=1.0 - sse / sst if sst > 0 else 0.0,
                     residual_rms=rms, residual_rel=rms / amp_rms if amp_rms > 0 else math.inf)


def fringe_of(values: np.ndarray) -> np.ndarray:
    """Complex fringe amplitudes ``c`` of a model sampled at phases 0, pi/2, pi, 3pi/2
    (``values`` (4, ports)): the model is ``a + Re(c e^{i theta})`` exactly when the field is
    linear in ``e^{i theta}``, as it is for one heater."""
    v = np.asarray(values, dtype=float)
    u = (v[0] - v[2]) / 2
    w = (v[1] - v[3]) / 2
    return u - 1j * w


def offset_from(measured: np.ndarray, model: np.ndarray) -> tuple[float, float]:
    """The phase offset ``phi0`` with ``measured_q ~ g_q model_q e^{i phi0}`` (``g_q > 0``: the
    port gains), weighted by the fringe amplitudes; and the agreement (0..1) of the ports."""
    z = np.sum(measured * np.conj(model))
    norm = float(np.sum(np.abs(measured) * np.abs(model)))
    return float(np.angle(z)), (float(abs(z)) / norm if norm > 0 else 0.0)


def wrap(phase: np.ndarray | float) -> np.ndarray | float:
    """Into (-pi, pi]."""
    return -np.remainder(-np.asarray(phase) + math.pi, 2 * math.pi) + math.pi
