"""A phase-only liquid-crystal SLM as the light sees it: grey levels in, a complex field out.

What a real LCoS SLM does between the frame a computer sends and the field that leaves it, with
the errors a bench has to calibrate (each frozen from the seed):

- **the grey-to-phase response** is not the linear ramp the data sheet promises: the phase at
  full scale is ``2 pi (1 + range_error)`` (a panel used off its design wavelength, or aged), and
  the curve bends (``phase = span x^gamma`` plus a small ripple, ``x = g / (2^bits - 1)``);
- **grey levels** are integers of the panel's bit depth;
- **pixel crosstalk** (the fringing field): the liquid crystal under a pixel feels its
  neighbours' voltages, so the phase pattern is the ideal one smoothed by a Gaussian of
  ``fringing`` pixels (std);
- **the liquid crystal settles**: after a new frame the phase moves exponentially from the old
  pattern to the new one with time constant ``settle_tau`` (s, on the simulated clock);
- **a fixed aberration** of the panel and the optics (a low-order Zernike phase: defocus,
  astigmatism, coma, in radians RMS ``aberration``);
- **illumination**: a Gaussian beam of waist ``beam_waist`` (m) at the panel's centre.

:meth:`SLMPanel.field` returns the field at a simulated time; :meth:`SLMPanel.phase_of` the
panel's true grey-to-phase curve, which a LUT calibration measures and the tests compare with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter


@dataclass(frozen=True)
class SLMSpec:
    """An SLM's data-sheet numbers and the sizes of its hidden errors (std of their draws)."""

    shape: tuple[int, int] = (64, 64)
    pixel_pitch: float = 8e-6       # m
    bits: int = 8
    wavelength: float = 532e-9      # m, the design wavelength
    settle_tau: float = 10e-3       # s, liquid-crystal response time constant
    fringing: float = 0.6           # pixels, std of the crosstalk kernel
    range_error: float = 0.08       # std of the relative error of the full-scale phase
    gamma_error: float = 0.15       # std of the curve's exponent around 1
    ripple: float = 0.05            # rad, std of the response's ripple amplitude
    aberration: float = 0.3         # rad RMS of the fixed low-order aberration
    beam_waist: float | None = None  # m (1/e^2 radius); None: uniform illumination

    @property
    def levels(self) -> int:
        return 1 << self.bits


@dataclass
class SLMPanel:
    """One SLM with its hidden errors frozen from ``seed`` (an int or a numpy Generator)."""

    spec: SLMSpec = field(default_factory=SLMSpec)
    seed: int | np.random.Generator = 0

    def __post_init__(self) -> None:
        g = self.seed if isinstance(self.seed, np.random.Generator) else np.random.default_rng(self.seed)
        s = self.spec
        self.span = 2 * math.pi * (1.0 + g.normal(0.0, s.range_error))
        self.gamma = float(np.exp(g.normal(0.0, s.gamma_error)))
        self.ripple_amp = float(g.normal(0.0, s.ripple))
        self.ripple_phase = float(g.uniform(0.0, 2 * math.pi))
        self.aberration_map = self._zernike(g.normal(0.0, 1.0, 5))
        self._shown = np.zeros(s.shape, dtype=np.int64)   # grey levels now on the panel
        self._old = self._settled_phase(self._shown)       # the phase before the last frame
        self._t_frame = -math.inf                          # when the last frame arrived

    def _zernike(self, coeffs: np.ndarray) -> np.ndarray:
        h, w = self.spec.shape
        y, x = np.mgrid[-1:1:h * 1j, -1:1:w * 1j]
        r2 = x * x + y * y
        modes = np.stack([2 * r2 - 1, x * x - y * y, 2 * x * y, (3 * r2 - 2) * x, (3 * r2 - 2) * y])
        modes = modes - modes.mean(axis=(1, 2), keepdims=True)
        raw = np.tensordot(coeffs, modes, axes=1)
        rms = float(np.sqrt(np.mean(raw**2))) or 1.0
        return raw * (self.spec.aberration / rms)

    def phase_of(self, grey: np.ndarray | int) -> np.ndarray:
        """The panel's true phase (rad) for grey levels, one pixel alone (no crosstalk)."""
        x = np.asarray(grey, dtype=np.float64) / (self.spec.levels - 1)
        return self.span * x**self.gamma + self.ripple_amp * np.sin(2 * math.pi * 3 * x + self.ripple_phase)

    def _settled_phase(self, grey: np.ndarray) -> np.ndarray:
        phase = self.phase_of(grey)
        if self.spec.fringing > 0:
            phase = gaussian_filter(phase, self.spec.fringing, mode="nearest")
        return phase

    def show(self, grey: np.ndarray, t: float) -> None:
        """A new frame of grey levels arrives at simulated time ``t``."""
        grey = np.asarray(grey)
        if grey.shape != self.spec.shape:
            raise ValueError(f"frame of shape {grey.shape}, the panel is {self.spec.shape}")
        if grey.min() < 0 or grey.max() >= self.spec.levels:
            raise ValueError(f"grey levels outside 0..{self.spec.levels - 1}")
        self._old = self.phase_at(t)
        self._shown = grey.astype(np.int64)
        self._t_frame = t

    @property
    def shown(self) -> np.ndarray:
        return self._shown.copy()

    def phase_at(self, t: float) -> np.ndarray:
        """The liquid crystal's phase (rad, without the aberration) at simulated time ``t``."""
        target = self._settled_phase(self._shown)
        dt = t - self._t_frame
        if not math.isfinite(dt) or self.spec.settle_tau <= 0:
            return target
        w = math.exp(-max(dt, 0.0) / self.spec.settle_tau)
        return target + (self._old - target) * w

    def illumination(self) -> np.ndarray:
        s = self.spec
        if s.beam_waist is None:
            return np.ones(s.shape)
        h, w = s.shape
        y = (np.arange(h) - (h - 1) / 2) * s.pixel_pitch
        x = (np.arange(w) - (w - 1) / 2) * s.pixel_pitch
        return np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / s.beam_waist**2)

    def field(self, t: float, amplitude: float = 1.0) -> np.ndarray:
        """The complex field leaving the panel at simulated time ``t`` (sqrt(W) per pixel units
        when ``amplitude`` is one pixel's sqrt(power) at the beam's centre)."""
        phase = self.phase_at(t) + self.aberration_map
        return amplitude * self.illumination() * np.exp(1j * phase)


def fourier_plane(field: np.ndarray, pad: int = 2) -> np.ndarray:
    """The field in the back focal plane of a lens behind the SLM (zero-padded FFT, centred,
    power conserved: the sum of ``|out|^2`` equals the sum of ``|field|^2``)."""
    h, w = field.shape
    big = np.zeros((h * pad, w * pad), dtype=np.complex128)
    big[:h, :w] = field
    out = np.fft.fftshift(np.fft.fft2(big, norm="ortho"))
    return out
