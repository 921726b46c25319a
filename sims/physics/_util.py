"""Small helpers shared by the physics modules (private)."""

from __future__ import annotations

import torch

SeedLike = int | torch.Generator | None


def make_generator(seed: SeedLike, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator from an int seed (or the generator itself, or a fixed default seed 0).

    Every random draw in hilt.sims.physics goes through an explicit generator so that a device's
    hidden errors and its readout noise are reproducible from the station seed alone.
    """
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device=device)
    g.manual_seed(0 if seed is None else int(seed))
    return g


def randn(shape: tuple[int, ...] | torch.Size, generator: torch.Generator,
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=generator, dtype=dtype)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even in the forward pass, identity gradient (straight-through estimator)."""
    return x + (torch.round(x) - x).detach()


def quantize_uniform(x: torch.Tensor, period: float, bits: int | None) -> torch.Tensor:
    """Quantise ``x`` onto ``2**bits`` levels per ``period`` (e.g. an SLM's 8-bit grey levels
    over 2*pi, a DAC's code steps over its range); identity when ``bits`` is None."""
    if bits is None:
        return x
    step = period / (2**bits)
    return round_ste(x / step) * step
