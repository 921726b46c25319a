"""Photodetection: intensity -> readout, with the detector's hidden errors.

A photodiode (or a THz detector behind a lock-in) reports ``responsivity * power`` plus a dark
level plus noise. The twin reads ``responsivity * power`` only; the physical detector carries a
frozen per-channel gain error and dark offset (drawn once, see :mod:`.errors`) and fresh
Gaussian readout noise on every read, drawn from its own seeded generator.
"""

from __future__ import annotations

import torch
from torch import nn

from ._util import SeedLike, make_generator


class Photodetectors(nn.Module):
    """``n`` detector channels: ``I = responsivity * gain_i * P + dark_i + noise * N(0, 1)``.

    ``gain`` (relative, 1 = nominal) and ``dark`` are frozen per channel; ``noise_std`` is in the
    same units as the readout. The twin (``.twin()``) has unit gain, no dark, no noise.
    """

    def __init__(self, n: int, responsivity: float = 1.0, gain: torch.Tensor | None = None,
                 dark: torch.Tensor | None = None, noise_std: float = 0.0,
                 seed: SeedLike = None) -> None:
        super().__init__()
        self.n = n
        self.responsivity = float(responsivity)
        self.noise_std = float(noise_std)
        self.register_buffer("gain", torch.ones(n) if gain is None else gain.float().clone())
        self.register_buffer("dark", torch.zeros(n) if dark is None else dark.float().clone())
        self._seed = seed
        self._gen = make_generator(seed)

    @property
    def ideal(self) -> bool:
        return (self.noise_std == 0.0 and bool(torch.all(self.gain == 1))
                and bool(torch.all(self.dark == 0)))

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        """``power``: (..., n) optical power (|field|^2 summed over the detector area)."""
        out = self.responsivity * self.gain * power + self.dark
        if self.noise_std > 0:
            noise = torch.randn(out.shape, generator=self._gen, dtype=out.dtype)
            out = out + self.noise_std * noise
        return out

    def twin(self) -> Photodetectors:
        return Photodetectors(self.n, self.responsivity)
