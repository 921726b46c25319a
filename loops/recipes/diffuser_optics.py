"""The optics of the diffuser-imaging recipe: random phase diffusers, and a diffractive imager
whose layers can be moved (the "vaccination" of Li et al., arXiv:2205.00428).

Diffusers are thin random phase plates: a height map ``h`` of the layers' resin, transmission
``exp(i 2 pi (n - 1) h / lambda)``, with Gaussian-correlated heights. The correlation length
``L`` follows the papers' definition, the width of the height autocorrelation fitted by
``R(r) = exp(-pi r^2 / L^2)``. White Gaussian noise filtered by a Gaussian kernel of standard
deviation ``s`` has the autocorrelation ``exp(-r^2 / (4 s^2))``, so :func:`random_diffusers`
filters with ``s = L / (2 sqrt(pi))`` and scales the result to the requested height standard
deviation; :func:`correlation_length` measures ``L`` back from maps (tests hold the two
together). The resin's absorption is left out of the diffuser (a thin plate's mean absorption
is a constant factor that the Pearson correlation does not see).

:func:`imager_readout` runs a :class:`~hilt.sims.physics.DiffractiveStack` (its masks, its
propagators, its detectors) on the field leaving the diffuser, optionally with the layers
moved by a :class:`Misalignment`: lateral shifts (sub-pixel, bilinear, air outside the layer
as in the physics' own error model) and axial gap changes (the exact angular-spectrum phase
``exp(i 2 pi dz k_z)`` added to each gap's transfer function, so no new kernel is built per
draw; on the THz grids this lands within a few % (relative L2) of a kernel built for the new
gap, the wide-angle light of the extra gap wrapping on the padded grid: good enough to jostle
the layers in training, not to measure with). Without a misalignment it equals the stack's
twin.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hilt.sims.physics import DiffractiveStack, Propagator, asm_propagate


def _gaussian_filter_gain(shape: tuple[int, int], sigma_px: float) -> torch.Tensor:
    """Fourier transform of a unit-sum Gaussian kernel of ``sigma_px`` on a periodic grid."""
    fy = torch.fft.fftfreq(shape[0], dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(shape[1], dtype=torch.float64)[None, :]
    return torch.exp(-2.0 * math.pi**2 * sigma_px**2 * (fx**2 + fy**2))


def random_diffusers(n: int, shape: tuple[int, int], pitch: float, corr_length: float,
                     height_std: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` random diffuser height maps (n, ny, nx), metres, zero mean: Gaussian-correlated
    with correlation length ``corr_length`` (metres, the papers' definition, module docstring)
    and standard deviation ``height_std`` (metres, over the ensemble)."""
    sigma_px = corr_length / pitch / (2.0 * math.sqrt(math.pi))
    gain = _gaussian_filter_gain(shape, sigma_px)
    # Filtered unit white noise has variance mean(|G|^2) (Parseval on the periodic grid).
    scale = height_std / math.sqrt(float((gain**2).mean()))
    noise = torch.randn((n, *shape), generator=generator, dtype=torch.float64)
    maps = torch.fft.ifft2(torch.fft.fft2(noise) * gain).real * scale
    return (maps - maps.mean(dim=(-2, -1), keepdim=True)).float()


def diffuser_transmission(heights: torch.Tensor, wavelength: float, delta_n: float
                          ) -> torch.Tensor:
    """Phase-only transmission ``exp(i 2 pi delta_n h / lambda)`` of height maps."""
    return torch.polar(torch.ones_like(heights), 2.0 * math.pi * delta_n * heights / wavelength)


def autocorrelation(maps: torch.Tensor | np.ndarray) -> np.ndarray:
    """Normalised autocorrelation (1 at zero lag, centred) of zero-mean maps, averaged over the
    leading dimension; periodic (the generator's maps are periodic)."""
    m = torch.as_tensor(np.asarray(maps), dtype=torch.float64)
    m = m.reshape(-1, *m.shape[-2:])
    m = m - m.mean(dim=(-2, -1), keepdim=True)
    spec = torch.fft.fft2(m)
    ac = torch.fft.ifft2(spec * spec.conj()).real.mean(0)
    return torch.fft.fftshift(ac / ac[0, 0]).numpy()


def correlation_length(maps: torch.Tensor | np.ndarray, pitch: float) -> float:
    """The correlation length (metres) of height maps: ``L`` of the least-squares fit of
    ``ln R = -pi r^2 / L^2`` to their autocorrelation where ``R > 0.1``."""
    ac = autocorrelation(maps)
    ny, nx = ac.shape
    yy, xx = np.meshgrid(np.arange(ny) - ny // 2, np.arange(nx) - nx // 2, indexing="ij")
    r2 = (yy**2 + xx**2).astype(np.float64) * pitch**2
    keep = (ac > 0.1) & (r2 > 0)
    if not keep.any():
        return float("nan")
    # ln R = -(pi / L^2) r^2 through the origin: slope = sum(r2 lnR) / sum(r2^2).
    slope = float((r2[keep] * np.log(ac[keep])).sum() / (r2[keep] ** 2).sum())
    return math.sqrt(math.pi / -slope) if slope < 0 else float("inf")


# -- the imager with movable layers ----------------------------------------------------------


@dataclass(frozen=True)
class Misalignment:
    """Where the layers of a stack sit relative to their design: ``shift_px`` (L, 2) lateral
    (y, x) shifts in pixels, ``axial_m`` (L + 1,) changes of each gap (diffuser/input plane to
    layer 1, ..., layer L to output) in metres."""

    shift_px: torch.Tensor
    axial_m: torch.Tensor

    @classmethod
    def uniform(cls, n_layers: int, lateral_px: float, axial_m: float,
                generator: torch.Generator) -> Misalignment:
        """Independent uniform draws in [-lateral_px, lateral_px] and [-axial_m, axial_m], as
        the vaccination of Li et al. draws the layers' positions during training."""
        s = (2.0 * torch.rand((n_layers, 2), generator=generator) - 1.0) * lateral_px
        z = (2.0 * torch.rand((n_layers + 1,), generator=generator) - 1.0) * axial_m
        return cls(s, z)


def shift_maps(maps: torch.Tensor, shift_px: torch.Tensor) -> torch.Tensor:
    """Real maps (C, ny, nx) moved by ``shift_px`` (y, x) pixels, bilinear, zero outside
    (air: no delay, no loss); differentiable in the maps."""
    ny, nx = maps.shape[-2:]
    theta = torch.zeros(1, 2, 3, dtype=maps.dtype)
    theta[0, 0, 0] = theta[0, 1, 1] = 1.0
    # affine_grid maps output to input coordinates in [-1, 1]: sample at x - shift.
    theta[0, 0, 2] = -2.0 * float(shift_px[1]) / nx
    theta[0, 1, 2] = -2.0 * float(shift_px[0]) / ny
    grid = F.affine_grid(theta, [1, maps.shape[0], ny, nx], align_corners=False)
    return F.grid_sample(maps[None], grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)[0]


@functools.lru_cache(maxsize=32)
def _kz(padded: tuple[int, int], pitch: tuple[float, float], wavelength: float) -> torch.Tensor:
    fy = torch.fft.fftfreq(padded[0], d=pitch[0], dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(padded[1], d=pitch[1], dtype=torch.float64)[None, :]
    # Evanescent components carry no weight in the propagator's transfer function already.
    return torch.sqrt((1.0 / wavelength**2 - fx**2 - fy**2).clamp_min(0.0))


def propagate(prop: Propagator, field: torch.Tensor, dz: float = 0.0) -> torch.Tensor:
    """``prop`` over its distance plus ``dz`` metres (exact ASM phase on its padded grid)."""
    if dz == 0.0:
        return prop(field)
    kz = _kz(tuple(prop.padded), tuple(prop.pitch), float(prop.wavelength))
    extra = torch.polar(torch.ones_like(kz), 2.0 * math.pi * dz * kz).to(torch.complex64)
    return asm_propagate(field.to(torch.complex64), prop.h * extra)


def imager_field(stack: DiffractiveStack, field: torch.Tensor,
                 misalignment: Misalignment | None = None) -> torch.Tensor:
    """Complex field on the output plane of ``stack``'s masks for ``field`` (..., ny, nx) on
    its input plane, the layers moved by ``misalignment`` (None: as designed)."""
    u = field if field.is_complex() else field.to(torch.complex64)
    dz = [0.0] * (len(stack.masks) + 1) if misalignment is None else [
        float(v) for v in misalignment.axial_m]
    u = propagate(stack.propagators[0], u, dz[0])
    for i, mask in enumerate(stack.masks):
        phase, log_amp = mask.delay(stack.wavelength)
        if misalignment is not None and bool(torch.any(misalignment.shift_px[i] != 0)):
            phase, log_amp = shift_maps(torch.stack([phase, log_amp]), misalignment.shift_px[i])
        u = propagate(stack.propagators[i + 1], u * torch.polar(torch.exp(log_amp), phase),
                      dz[i + 1])
    return u


def imager_readout(stack: DiffractiveStack, field: torch.Tensor,
                   misalignment: Misalignment | None = None) -> torch.Tensor:
    """The stack's detector powers (..., n_det) for ``field`` on its input plane, the layers
    moved by ``misalignment``; no detector errors (this is the twin's view)."""
    if stack.detectors is None:
        raise ValueError("the imager's stack has no detectors")
    return stack.detectors(imager_field(stack, field, misalignment).abs().square())


__all__ = [
    "Misalignment", "autocorrelation", "correlation_length", "diffuser_transmission",
    "imager_field", "imager_readout", "propagate", "random_diffusers", "shift_maps",
]
