"""Free-space diffraction: band-limited angular-spectrum propagation and diffractive layers.

Propagation between parallel planes uses the angular-spectrum method (ASM),
``U_z = IFFT[ FFT[U_0] * H ]`` with ``H(fx, fy) = exp(i 2 pi z sqrt(1/lambda^2 - fx^2 - fy^2))``
(Goodman, *Introduction to Fourier Optics*, Eq. 3-74), on a zero-padded grid, with the band limit
of Matsushima & Shimobaba, "Band-limited angular spectrum method for numerical simulation of
free-space propagation in far and near fields", Opt. Express 17, 19662 (2009).

Band limit and padding (the one real design decision here, see docs/adr/0004):
the local spatial frequency of H along x is ``(1/2pi) dphase/dfx = z fx / sqrt(1/lambda^2 - f^2)``,
the lateral *walk* of the plane wave (fx, fy) over z. Matsushima & Shimobaba keep |walk| <= W/2
(W the padded window) so that H is sampled without aliasing; their 1D limit
``u_limit = 1/(lambda sqrt((2 du z)^2 + 1))``, du = 1/W (their Eq. 13) is this condition at
fy = 0; we apply it in 2D. Only offsets |x - x'| < A (A the aperture) connect two points of the
aperture, so we compute the impulse response once on a large reference grid (8x by default,
edge of the band rolled off where rays walk more than the aperture and never reach it), keep
the offsets that matter, cut them further to the smallest support holding all but ``tol**2`` of
the kernel's energy (the spread of a point leaving the aperture), and convolve circularly on
``W = fft_friendly(A + support)``: nothing wraps into the aperture.
Stated bound: on the aperture the result equals the reference-grid ASM to a relative L2 error
<= ``tol`` (default 1e-3) for fields with uncorrelated pixel phases (a mask-scattered field);
rigorously <= the kernel tail's l1 norm for any field (Young's inequality). Tested in
tests/physics/test_physics_diffraction.py against independently written, heavily padded ASM.
Near-field THz geometries (walk > aperture) keep the full support, W = 2A - 1 -> 2A; the
visible SLM geometry typically needs much less. Textbook 2x-padded BL-ASM with a hard edge
differs from converged results by several % in the THz geometry; this method does not.

Everything is torch, complex64, batched over any leading dimensions, and differentiable.
Transfer functions are computed once per (grid, pitch, wavelength, distance, limits) and cached.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._util import SeedLike, make_generator, quantize_uniform
from .detection import Photodetectors
from .errors import DiffractiveErrors, ErrorLevels, draw_diffractive_errors, error_levels

SPEED_OF_LIGHT = 299_792_458.0
TWO_PI = 2.0 * math.pi

Pitch = float | tuple[float, float]


def _pair(p: Pitch) -> tuple[float, float]:
    return (float(p[0]), float(p[1])) if isinstance(p, tuple) else (float(p), float(p))


def fft_friendly(n: int) -> int:
    """Smallest integer >= n whose only prime factors are 2, 3 and 5 (fast for pocketfft/MKL)."""
    m = max(1, int(n))
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def max_walk(pitch: Pitch, wavelength: float, distance: float,
             max_angle: float | None = None) -> tuple[float, float]:
    """Largest geometric lateral walk (metres, along y and x) of a propagating plane wave on
    this grid: ``z fx / sqrt(1/lambda^2 - fx^2 - fy^2)`` at the grid corner; infinite when the
    corner reaches the evanescent circle (coarse pixels, e.g. THz with 0.4 mm pitch at 0.75 mm).
    """
    dy, dx = _pair(pitch)
    z = abs(float(distance))
    fy, fx = 1.0 / (2.0 * dy), 1.0 / (2.0 * dx)
    rest = 1.0 / wavelength**2 - fx**2 - fy**2
    if rest > 0:
        walk_y, walk_x = z * fy / math.sqrt(rest), z * fx / math.sqrt(rest)
    else:
        walk_y = walk_x = math.inf
    if max_angle is not None:
        cap = z * math.tan(max_angle)
        walk_y, walk_x = min(walk_y, cap), min(walk_x, cap)
    return walk_y, walk_x


def _reference_transfer(big: tuple[int, int], roi: tuple[int, int], pitch: tuple[float, float],
                        wavelength: float, z: float, max_angle: float | None) -> torch.Tensor:
    """Band-limited ASM transfer function on a large grid (float64/complex128).

    Matsushima & Shimobaba's condition |walk| <= W/2 keeps H alias-free. Its hard edge rings in
    space; the rays it removes walk more than the aperture and never reach it, so we roll the
    edge off with a raised cosine between 0.75 and 1 of the limit, which keeps that ringing out
    of the aperture without touching any ray that lands in it (for W >= 4 A).
    """
    (wy, wx), (dy, dx) = big, pitch
    fy = torch.fft.fftfreq(wy, d=dy, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(wx, d=dx, dtype=torch.float64)[None, :]
    rest = 1.0 / wavelength**2 - fx**2 - fy**2
    kz = torch.sqrt(rest.clamp_min(1e-300))
    # The walk along each axis relative to its limit; > 1 is cut.
    rel = torch.maximum((abs(z) * fx / kz).abs() / (wx * dx / 2),
                        (abs(z) * fy / kz).abs() / (wy * dy / 2))
    taper = 0.5 * (1.0 + torch.cos(math.pi * ((rel - 0.75) / 0.25).clamp(0.0, 1.0)))
    weight = torch.where(rest > 0, taper, torch.zeros_like(taper))
    if max_angle is not None:
        inside = (fx**2 + fy**2) <= (math.sin(max_angle) / wavelength) ** 2
        weight = weight * inside
    return torch.polar(weight, TWO_PI * z * kz)


def _support(energy: torch.Tensor, n: int, tol: float) -> int:
    """Smallest half-width s (< n) with the marginal kernel energy beyond |offset| > s at most
    ``tol`` of the total; ``energy`` indexed by offset + n - 1 for offsets -(n-1)..n-1."""
    total = float(energy.sum())
    if total == 0.0:
        return 0
    inner = torch.cumsum(energy[n - 1:], 0) + torch.cumsum(
        torch.cat([energy.new_zeros(1), energy[: n - 1].flip(0)]), 0)
    ok = (total - inner) <= tol * total
    return int(torch.nonzero(ok)[0]) if bool(ok.any()) else n - 1


@functools.lru_cache(maxsize=128)
def _propagation_kernel(roi: tuple[int, int], pitch: tuple[float, float], wavelength: float,
                        distance: float, max_angle: float | None, tol: float,
                        reference_factor: int) -> tuple[torch.Tensor, tuple[int, int]]:
    ny, nx = roi
    big = (fft_friendly(reference_factor * ny), fft_friendly(reference_factor * nx))
    h_big = torch.fft.ifft2(_reference_transfer(big, roi, pitch, wavelength, distance,
                                                max_angle))
    # The only offsets that connect two points of the aperture: -(n-1) .. n-1 on each axis.
    iy = torch.arange(-(ny - 1), ny) % big[0]
    ix = torch.arange(-(nx - 1), nx) % big[1]
    kern = h_big[iy][:, ix]
    e = kern.abs().square()
    # Union bound: the 2D tail outside the rectangle is at most the sum of the two marginal tails.
    sy = _support(e.sum(1), ny, tol**2 / 2)
    sx = _support(e.sum(0), nx, tol**2 / 2)
    padded = (fft_friendly(ny + sy), fft_friendly(nx + sx))
    small = torch.zeros(padded, dtype=torch.complex128)
    oy = torch.arange(-sy, sy + 1)
    ox = torch.arange(-sx, sx + 1)
    small[(oy % padded[0])[:, None], (ox % padded[1])[None, :]] = \
        kern[(oy + ny - 1)[:, None], (ox + nx - 1)[None, :]]
    return torch.fft.fft2(small).to(torch.complex64), padded


def transfer_function(roi: tuple[int, int], pitch: Pitch, wavelength: float, distance: float,
                      max_angle: float | None = None, tol: float = 1e-3,
                      reference_factor: int = 8) -> tuple[torch.Tensor, tuple[int, int]]:
    """Transfer function on the smallest padded grid whose result, on the aperture, matches the
    band-limited ASM on a ``reference_factor`` x padded grid to relative L2 ``tol`` (expected, for
    fields with uncorrelated pixel phases). Returns (H in FFT order, complex64; padded shape).

    How: the reference grid's impulse response is cut to the offsets that matter (at most the
    aperture size) and further to the smallest support that keeps all but ``tol**2`` of its energy;
    a circular convolution on ``A + support`` points then wraps nothing into the aperture.
    Cached per geometry; do not modify the returned tensor in place.
    """
    return _propagation_kernel(
        (int(roi[0]), int(roi[1])), _pair(pitch), float(wavelength), float(distance),
        None if max_angle is None else float(max_angle), float(tol), int(reference_factor))


def choose_padding(shape: tuple[int, int], pitch: Pitch, wavelength: float, distance: float,
                   max_angle: float | None = None, tol: float = 1e-3) -> tuple[int, int]:
    """The padded grid :class:`Propagator` uses for this geometry (see :func:`transfer_function`)."""
    return transfer_function(shape, pitch, wavelength, distance, max_angle, tol)[1]


def plain_transfer_function(padded: tuple[int, int], pitch: Pitch, wavelength: float,
                            distance: float) -> torch.Tensor:
    """Textbook band-limited ASM transfer function (Matsushima & Shimobaba 2009, hard edge
    |walk| <= W/2 per axis) on a given padded grid; complex64. For comparisons and benchmarks."""
    (wy, wx), (dy, dx) = padded, _pair(pitch)
    fy = torch.fft.fftfreq(wy, d=dy, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(wx, d=dx, dtype=torch.float64)[None, :]
    rest = 1.0 / wavelength**2 - fx**2 - fy**2
    kz = torch.sqrt(rest.clamp_min(1e-300))
    z = float(distance)
    keep = ((rest > 0) & ((abs(z) * fx / kz).abs() <= wx * dx / 2)
            & ((abs(z) * fy / kz).abs() <= wy * dy / 2))
    return torch.polar(keep.to(torch.float64), TWO_PI * z * kz).to(torch.complex64)


def asm_propagate(field: torch.Tensor, h: torch.Tensor, crop: bool = True) -> torch.Tensor:
    """Apply a padded transfer function ``h`` (Wy, Wx) to ``field`` (..., ny, nx).

    The field sits in the top-left corner of the zero-padded window (for a circular convolution
    only the gap matters, not where it is). (A pruned FFT that skips the zero rows measured
    slower than pocketfft's contiguous 2D transform on CPU, so we use the plain one.)
    """
    ny, nx = field.shape[-2:]
    spec = torch.fft.fft2(field, s=tuple(h.shape)) * h
    out = torch.fft.ifft2(spec)
    return out if not crop else out[..., :ny, :nx]


class Propagator(nn.Module):
    """Band-limited angular-spectrum propagation over ``distance`` between planes of ``shape``.

    ``tol``: the padding is the smallest that keeps the aperture's result within relative L2
    ``tol`` of a ``reference_factor`` x padded band-limited ASM (see :func:`transfer_function`).
    ``padding``: ``"auto"`` (that rule) or an explicit (Wy, Wx) / int for the textbook method
    (:func:`plain_transfer_function`) on that grid, e.g. to reproduce other simulators.
    ``max_angle``: optional NA cut (rad), removes the light beyond it and shrinks the padding.
    """

    def __init__(self, shape: tuple[int, int], pitch: Pitch, wavelength: float, distance: float,
                 padding: str | int | tuple[int, int] = "auto",
                 max_angle: float | None = None, tol: float = 1e-3,
                 reference_factor: int = 8) -> None:
        super().__init__()
        self.shape = (int(shape[0]), int(shape[1]))
        self.pitch = _pair(pitch)
        self.wavelength = float(wavelength)
        self.distance = float(distance)
        self.max_angle = max_angle
        if padding == "auto":
            h, padded = transfer_function(self.shape, self.pitch, wavelength, distance,
                                          max_angle, tol, reference_factor)
        else:
            padded = (padding, padding) if isinstance(padding, int) else (
                int(padding[0]), int(padding[1]))  # type: ignore[index]
            if padded[0] < self.shape[0] or padded[1] < self.shape[1]:
                raise ValueError(f"padded grid {padded} smaller than the field {self.shape}")
            h = plain_transfer_function(padded, self.pitch, wavelength, distance)
        self.padded = padded
        self.register_buffer("h", h, persistent=False)

    def forward(self, field: torch.Tensor, crop: bool = True) -> torch.Tensor:
        """``field``: (..., ny, nx) complex; returns the field on the output aperture, or on the
        whole padded plane (..., Wy, Wx) with ``crop=False`` (for energy bookkeeping)."""
        if not field.is_complex():
            field = field.to(torch.complex64)
        return asm_propagate(field, self.h, crop=crop)

    def extra_repr(self) -> str:
        return (f"shape={self.shape}, padded={self.padded}, pitch={self.pitch}, "
                f"wavelength={self.wavelength:.4g}, distance={self.distance:.4g}")


# -- materials and modulation layers ------------------------------------------------------


@dataclass(frozen=True)
class Material:
    """A mask material: refractive index n and extinction coefficient kappa at one wavelength.

    A thickness h delays the phase by ``2 pi (n - 1) h / lambda`` relative to air and attenuates
    the amplitude by ``exp(-2 pi kappa h / lambda)`` (complex index n + i kappa, plane wave).
    """

    name: str
    refractive_index: float
    extinction: float

    def phase_and_log_amplitude(self, height: torch.Tensor, wavelength: float
                                ) -> tuple[torch.Tensor, torch.Tensor]:
        phase = TWO_PI * (self.refractive_index - 1.0) * height / wavelength
        log_amp = -TWO_PI * self.extinction * height / wavelength
        return phase, log_amp

    def transmission(self, height: torch.Tensor, wavelength: float) -> torch.Tensor:
        phase, log_amp = self.phase_and_log_amplitude(height, wavelength)
        return torch.polar(torch.exp(log_amp), phase)


# Lin et al., "All-optical machine learning using diffractive deep neural networks", Science 361,
# 1004 (2018), Materials and Methods: the 3D-printing resin (Stratasys VeroBlackPlus RGD875)
# measured by THz time-domain spectroscopy at 0.4 THz, n ~= 1.7227, kappa ~= 0.031 (values as
# reported there; re-measure your own resin, printers and batches differ).
VEROBLACKPLUS_0P4THZ = Material("VeroBlackPlus RGD875 @ 0.4 THz", 1.7227, 0.031)


class Mask(nn.Module):
    """A thin modulation layer. Subclasses return the phase delay and log-amplitude maps
    (unwrapped, real) so that the physical stack can warp them and scale paths under tilt."""

    shape: tuple[int, int]

    def delay(self, wavelength: float, rel_error: torch.Tensor | None = None,
              control_bits: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def transmission(self, wavelength: float) -> torch.Tensor:
        phase, log_amp = self.delay(wavelength)
        return torch.polar(torch.exp(log_amp), phase)


class PhaseMask(Mask):
    """Phase-only modulation ``exp(i phi)`` (an SLM, or an idealised mask). Trainable ``phase``.

    Physical errors: ``rel_error`` adds ``2 pi * rel_error`` (the depth/calibration error of the
    full 2 pi stroke); ``control_bits`` quantises the wrapped phase to 2**bits grey levels.
    """

    def __init__(self, shape: tuple[int, int], init: str = "zeros", seed: SeedLike = None
                 ) -> None:
        super().__init__()
        self.shape = (int(shape[0]), int(shape[1]))
        if init == "zeros":
            phase = torch.zeros(self.shape)
        elif init == "uniform":
            phase = TWO_PI * torch.rand(self.shape, generator=make_generator(seed))
        else:
            raise ValueError(f"init {init!r}: expected 'zeros' or 'uniform'")
        self.phase = nn.Parameter(phase)

    def delay(self, wavelength: float, rel_error: torch.Tensor | None = None,
              control_bits: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        phase = self.phase
        if control_bits is not None:
            phase = quantize_uniform(torch.remainder(phase, TWO_PI), TWO_PI, control_bits)
        if rel_error is not None:
            phase = phase + TWO_PI * rel_error
        return phase, torch.zeros_like(phase)


class ComplexMask(Mask):
    """Complex modulation ``a exp(i phi)`` with ``a = sigmoid(amplitude_logit)`` in (0, 1)."""

    def __init__(self, shape: tuple[int, int], seed: SeedLike = None) -> None:
        super().__init__()
        self.shape = (int(shape[0]), int(shape[1]))
        self.phase = nn.Parameter(torch.zeros(self.shape))
        self.amplitude_logit = nn.Parameter(torch.full(self.shape, 3.0))

    def delay(self, wavelength: float, rel_error: torch.Tensor | None = None,
              control_bits: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        phase, amp = self.phase, torch.sigmoid(self.amplitude_logit)
        if control_bits is not None:
            phase = quantize_uniform(torch.remainder(phase, TWO_PI), TWO_PI, control_bits)
            amp = quantize_uniform(amp, 1.0, control_bits)
        if rel_error is not None:
            phase = phase + TWO_PI * rel_error
        return phase, torch.log(amp.clamp_min(1e-12))


class HeightMask(Mask):
    """A printed layer of ``material``: trainable height map ``h = max_height * sigmoid(raw)``.

    Phase ``2 pi (n-1) h / lambda`` and amplitude ``exp(-2 pi kappa h / lambda)``: thicker pixels
    delay more and absorb more, which is why the twin must know the material (Lin et al. 2018).
    Physical errors: ``rel_error * max_height`` of fabricated height error; ``control_bits``
    quantises heights to the printer's 2**bits steps over ``max_height``.
    """

    def __init__(self, shape: tuple[int, int], material: Material, max_height: float,
                 init: str = "uniform", seed: SeedLike = None) -> None:
        super().__init__()
        self.shape = (int(shape[0]), int(shape[1]))
        self.material = material
        self.max_height = float(max_height)
        if init == "zeros":
            raw = torch.zeros(self.shape)
        elif init == "uniform":
            raw = torch.randn(self.shape, generator=make_generator(seed))
        else:
            raise ValueError(f"init {init!r}: expected 'zeros' or 'uniform'")
        self.raw = nn.Parameter(raw)

    @property
    def height(self) -> torch.Tensor:
        return self.max_height * torch.sigmoid(self.raw)

    def delay(self, wavelength: float, rel_error: torch.Tensor | None = None,
              control_bits: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = quantize_uniform(self.height, self.max_height, control_bits)
        if rel_error is not None:
            h = (h + self.max_height * rel_error).clamp_min(0.0)
        return self.material.phase_and_log_amplitude(h, wavelength)


# -- detectors ----------------------------------------------------------------------------


class DetectorArray(nn.Module):
    """Detector regions on the output plane; each reads the integrated intensity over its area.

    ``regions``: (y0, x0, height, width) in pixels. Power is ``sum |u|^2`` over the region
    (the field is normalised so that ``sum |u|^2`` over a plane is its power).
    """

    def __init__(self, shape: tuple[int, int], regions: Sequence[tuple[int, int, int, int]]
                 ) -> None:
        super().__init__()
        self.shape = (int(shape[0]), int(shape[1]))
        self.regions = [tuple(int(v) for v in r) for r in regions]
        masks = torch.zeros(len(self.regions), *self.shape)
        for i, (y0, x0, h, w) in enumerate(self.regions):
            if y0 < 0 or x0 < 0 or y0 + h > self.shape[0] or x0 + w > self.shape[1]:
                raise ValueError(f"detector region {i} {(y0, x0, h, w)} outside {self.shape}")
            masks[i, y0:y0 + h, x0:x0 + w] = 1.0
        self.register_buffer("masks", masks.flatten(1), persistent=False)

    @property
    def n(self) -> int:
        return len(self.regions)

    @classmethod
    def grid(cls, shape: tuple[int, int], rows: Sequence[int], size: int) -> DetectorArray:
        """Square detectors of ``size`` px laid out in centred rows, e.g. ``rows=(3, 4, 3)`` for
        the ten class detectors of Lin et al. (2018)."""
        ny, nx = shape
        regions = []
        n_rows = len(rows)
        for r, count in enumerate(rows):
            cy = (r + 1) * ny / (n_rows + 1)
            for c in range(count):
                cx = (c + 1) * nx / (count + 1)
                regions.append((round(cy - size / 2), round(cx - size / 2), size, size))
        return cls(shape, regions)

    def forward(self, intensity: torch.Tensor) -> torch.Tensor:
        """(..., ny, nx) intensity -> (..., n) integrated powers."""
        return intensity.flatten(-2) @ self.masks.T


# -- the stack ----------------------------------------------------------------------------


def _warp(maps: torch.Tensor, shift: torch.Tensor, rotation: torch.Tensor,
          foreshorten: torch.Tensor) -> torch.Tensor:
    """Resample real maps (C, ny, nx) of one layer moved by ``shift`` (y, x) pixels, rotated in
    plane by ``rotation`` and foreshortened by ``foreshorten`` (y, x); outside the layer: 0
    (air: no delay, no loss). Bilinear, differentiable."""
    ny, nx = maps.shape[-2:]
    c, s = torch.cos(rotation), torch.sin(rotation)
    # affine_grid maps output coords to input coords in [-1, 1] units: invert the motion.
    sy, sx = 1.0 / foreshorten[0], 1.0 / foreshorten[1]
    theta = torch.stack([
        torch.stack([c * sx, s * sx * ny / nx, -2.0 * shift[1] / nx * sx]),
        torch.stack([-s * sy * nx / ny, c * sy, -2.0 * shift[0] / ny * sy]),
    ]).to(maps.dtype)[None]
    grid = F.affine_grid(theta, [1, maps.shape[0], ny, nx], align_corners=False)
    return F.grid_sample(maps[None], grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)[0]


class DiffractiveStack(nn.Module):
    """Input plane -> mask 1 -> ... -> mask L -> output plane, with optional detectors.

    ``distances`` has L + 1 entries: input->mask 1, ..., mask L->output. Each mask's aperture is
    the grid: light outside it is blocked by the mount (the propagator crops to the aperture).
    With ``errors`` (drawn by :meth:`with_errors`), this is the physical device: misaligned
    (shift, in-plane rotation, out-of-plane tilt, gap errors, drift), mis-fabricated, quantised,
    read by imperfect detectors. :meth:`twin` returns the same masks (shared parameters) without
    errors.
    """

    def __init__(self, masks: Sequence[Mask], distances: Sequence[float], pitch: Pitch,
                 wavelength: float, detectors: DetectorArray | None = None,
                 padding: str | int | tuple[int, int] = "auto", max_angle: float | None = None,
                 errors: DiffractiveErrors | None = None, noise_seed: SeedLike = None) -> None:
        super().__init__()
        if len(distances) != len(masks) + 1:
            raise ValueError(f"{len(masks)} masks need {len(masks) + 1} distances")
        self.masks = nn.ModuleList(masks)
        self.shape = masks[0].shape if masks else (0, 0)
        self.distances = [float(d) for d in distances]
        self.pitch = _pair(pitch)
        self.wavelength = float(wavelength)
        self.padding = padding
        self.max_angle = max_angle
        self.detectors = detectors
        self.errors = errors
        self.time_s = 0.0  # device clock for drift, set by the world
        self._noise_seed = noise_seed
        n_det = detectors.n if detectors is not None else 0
        if errors is not None:
            self.readout = Photodetectors(n_det, gain=errors.detector.gain,
                                          dark=errors.detector.dark,
                                          noise_std=errors.detector.noise_std, seed=noise_seed)
            gaps = [d + float(e) for d, e in zip(self.distances, errors.axial_m, strict=True)]
        else:
            self.readout = Photodetectors(n_det)
            gaps = self.distances
        self.propagators = nn.ModuleList(
            Propagator(self.shape, self.pitch, wavelength, z, padding, max_angle) for z in gaps)

    # ---- construction helpers
    def twin(self) -> DiffractiveStack:
        """The error-free model sharing this stack's masks (same Parameter objects)."""
        return DiffractiveStack(list(self.masks), self.distances, self.pitch, self.wavelength,
                                self.detectors, self.padding, self.max_angle)

    def with_errors(self, levels: str | ErrorLevels, seed: SeedLike) -> DiffractiveStack:
        """A physical device sharing these masks, with errors drawn once from ``seed``."""
        levels = error_levels(levels)
        n_det = self.detectors.n if self.detectors is not None else 0
        g = make_generator(seed)
        errors = draw_diffractive_errors(levels, len(self.masks), self.shape, n_det, g)
        noise_seed = int(torch.randint(0, 2**62, (1,), generator=g))
        return DiffractiveStack(list(self.masks), self.distances, self.pitch, self.wavelength,
                                self.detectors, self.padding, self.max_angle, errors, noise_seed)

    # ---- physics
    def _layer_transmission(self, i: int) -> torch.Tensor:
        mask: Mask = self.masks[i]  # type: ignore[assignment]
        e = self.errors
        if e is None:
            return mask.transmission(self.wavelength)
        phase, log_amp = mask.delay(self.wavelength, e.height_error_rel[i], e.control_bits)
        tilt = e.tilt_rad[i]
        shift = e.shift_px[i] + e.drift_px_per_hour[i] * (self.time_s / 3600.0)
        if bool(torch.any(tilt != 0)) or bool(torch.any(shift != 0)) or float(e.rotation_rad[i]):
            # A tilted slab is crossed over a path 1/cos longer and looks cos shorter.
            path = 1.0 / (torch.cos(tilt[0]) * torch.cos(tilt[1]))
            maps = torch.stack([phase * path, log_amp * path])
            phase, log_amp = _warp(maps, shift, e.rotation_rad[i], torch.cos(tilt))
        return torch.polar(torch.exp(log_amp), phase)

    #: Fields sent through the whole stack at a time. A few padded fields stay in the CPU's
    #: caches from layer to layer; a batch of 64 (82 MB at 400x400) does not, and runs 2.4x
    #: slower per field (BENCHMARKS.md).
    chunk_fields: int = 4

    def output_field(self, field: torch.Tensor) -> torch.Tensor:
        """Complex field on the output plane for input ``field`` (..., ny, nx)."""
        if not field.is_complex():
            field = field.to(torch.complex64)
        layers = [self._layer_transmission(i) for i in range(len(self.masks))]
        lead = field.shape[:-2]
        if field.dim() <= 2 or lead.numel() <= self.chunk_fields:
            return self._through(field, layers)
        flat = field.reshape(-1, *field.shape[-2:])
        out = torch.cat([self._through(c, layers) for c in flat.split(self.chunk_fields)])
        return out.reshape(*lead, *out.shape[-2:])

    def _through(self, field: torch.Tensor, layers: list[torch.Tensor]) -> torch.Tensor:
        u = self.propagators[0](field)
        for i, t in enumerate(layers):
            u = self.propagators[i + 1](u * t)
        return u

    def forward(self, field: torch.Tensor) -> torch.Tensor:
        """Detector readouts (..., n_det) if the stack has detectors, else output intensity."""
        intensity = self.output_field(field).abs().square()
        if self.detectors is None:
            return intensity
        return self.readout(self.detectors(intensity))


@dataclass(frozen=True)
class DiffractiveSetup:
    """A lab geometry: wavelength, pixel pitch, grid, spacing, and (for printed layers) material.

    ``build`` makes a :class:`DiffractiveStack` of ``n_layers`` masks spaced ``spacing`` apart,
    the input plane ``spacing`` before the first and the detector plane ``spacing`` after the last.
    """

    name: str
    wavelength: float
    pitch: float
    shape: tuple[int, int]
    spacing: float
    material: Material | None = None
    max_height: float | None = None

    def build(self, n_layers: int = 5, detectors: DetectorArray | None = None,
              kind: str | None = None, seed: SeedLike = 0, shape: tuple[int, int] | None = None,
              **kwargs: object) -> DiffractiveStack:
        shape = shape or self.shape
        kind = kind or ("height" if self.material is not None else "phase")
        g = make_generator(seed)
        masks: list[Mask] = []
        for _ in range(n_layers):
            if kind == "height":
                if self.material is None or self.max_height is None:
                    raise ValueError(f"setup {self.name} has no material for height masks")
                masks.append(HeightMask(shape, self.material, self.max_height, seed=g))
            elif kind == "phase":
                masks.append(PhaseMask(shape, init="uniform", seed=g))
            elif kind == "complex":
                masks.append(ComplexMask(shape))
            else:
                raise ValueError(f"kind {kind!r}: expected 'height', 'phase' or 'complex'")
        return DiffractiveStack(masks, [self.spacing] * (n_layers + 1), self.pitch,
                                self.wavelength, detectors, **kwargs)  # type: ignore[arg-type]


_THZ_WAVELENGTH = SPEED_OF_LIGHT / 0.4e12
# THz D2NN of Lin et al. (2018): 0.4 THz, 0.4 mm pixels, 200 x 200 neurons (8 cm), 3 cm spacing,
# printed heights up to one full 2 pi of delay.
THZ_0P4 = DiffractiveSetup(
    "thz-0.4", _THZ_WAVELENGTH, 0.4e-3, (200, 200), 0.03, VEROBLACKPLUS_0P4THZ,
    _THZ_WAVELENGTH / (VEROBLACKPLUS_0P4THZ.refractive_index - 1.0))
# A phase-only LCoS SLM (8 um pixels, e.g. Holoeye PLUTO class) imaged at 532 nm; 512 x 512 used
# region, 5 cm free-space gaps (folded setups reflect the SLM several times).
VISIBLE_SLM_532 = DiffractiveSetup("slm-532", 532e-9, 8e-6, (512, 512), 0.05)

SETUPS: dict[str, DiffractiveSetup] = {s.name: s for s in (THZ_0P4, VISIBLE_SLM_532)}
