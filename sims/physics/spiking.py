"""A spiking chip: leaky integrate-and-fire (LIF) neurons with 8-bit synaptic weights.

Discrete time, one step per chip tick (Gerstner et al., *Neuronal Dynamics*, Ch. 1.3, Euler form;
the integer-weight, per-tick form of digital neuromorphic cores such as Loihi):

    v[t] = leak * v[t-1] + (W_q s_in[t])      unless refractory
    s[t] = 1 if v[t] >= threshold; then v <- 0 (or v - threshold) and refractory for R ticks

``W_q`` is the weight quantised to int8 (per-layer scale, symmetric, [-127, 127]). The spike
nonlinearity has a fast-sigmoid surrogate derivative ``1 / (1 + slope |v - thr|)^2`` (Zenke &
Ganguli, "SuperSpike", Neural Comput. 30, 1514 (2018)) so that twins can be trained by BPTT.
The physical chip carries frozen per-neuron threshold and leak mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._util import SeedLike, make_generator, round_ste
from .errors import ErrorLevels, NeuronErrors, draw_neuron_errors, error_levels


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * x.abs()).square(), None


def spike(x: torch.Tensor, slope: float = 10.0) -> torch.Tensor:
    """Heaviside(x) with the SuperSpike surrogate gradient."""
    return _Spike.apply(x, slope)


def rate_encode(x: torch.Tensor, steps: int, max_prob: float = 1.0,
                seed: SeedLike = None) -> torch.Tensor:
    """Bernoulli rate code: (..., n) intensities in [0, 1] -> (steps, ..., n) spikes, firing
    with probability ``max_prob * x`` per tick (Poisson-like, from a seeded generator)."""
    g = make_generator(seed)
    p = (x.clamp(0, 1) * max_prob).expand(steps, *x.shape)
    return (torch.rand(p.shape, generator=g) < p).to(torch.float32)


def latency_encode(x: torch.Tensor, steps: int, threshold: float = 0.0) -> torch.Tensor:
    """Time-to-first-spike code: one spike at tick ``round((1 - x) * (steps - 1))``: the brighter,
    the earlier; inputs <= ``threshold`` never fire. (..., n) -> (steps, ..., n)."""
    t = torch.round((1.0 - x.clamp(0, 1)) * (steps - 1)).long()
    ticks = torch.arange(steps).view(steps, *([1] * x.dim()))
    return ((ticks == t) & (x > threshold)).to(torch.float32)


def spike_counts(raster: torch.Tensor) -> torch.Tensor:
    """(T, ..., n) -> (..., n) number of spikes."""
    return raster.sum(0)


def first_spike_times(raster: torch.Tensor) -> torch.Tensor:
    """(T, ..., n) -> (..., n) tick of the first spike, T where a neuron never fired."""
    steps = raster.shape[0]
    ticks = torch.arange(steps, dtype=torch.float32).view(steps, *([1] * (raster.dim() - 1)))
    return torch.where(raster > 0, ticks, torch.full_like(ticks, float(steps))).amin(0).long()


class SpikingLayer(nn.Module):
    """A fully connected layer of LIF neurons with int8 weights.

    ``leak``: multiplicative decay per tick (1 = perfect integrator). ``refractory``: ticks during
    which a neuron that fired ignores input. ``reset``: 'zero' or 'subtract'. Trainable: ``weight``
    (float; quantised to int8 on the way to the chip with a straight-through estimator).
    """

    def __init__(self, n_in: int, n_out: int, threshold: float = 1.0, leak: float = 0.9,
                 refractory: int = 0, weight_bits: int = 8, reset: str = "zero",
                 surrogate_slope: float = 10.0, errors: NeuronErrors | None = None,
                 seed: SeedLike = None) -> None:
        super().__init__()
        if reset not in ("zero", "subtract"):
            raise ValueError(f"reset {reset!r}: expected 'zero' or 'subtract'")
        self.n_in, self.n_out = n_in, n_out
        self.threshold, self.leak = float(threshold), float(leak)
        self.refractory, self.weight_bits = int(refractory), int(weight_bits)
        self.reset, self.surrogate_slope = reset, float(surrogate_slope)
        self.errors = errors
        g = make_generator(seed)
        w = torch.randn(n_out, n_in, generator=g) * (2.0 * threshold / n_in**0.5)
        self.weight = nn.Parameter(w)

    @property
    def qmax(self) -> int:
        return 2 ** (self.weight_bits - 1) - 1

    def weight_scale(self) -> torch.Tensor:
        return (self.weight.detach().abs().amax() / self.qmax).clamp_min(1e-12)

    def int_weight(self) -> torch.Tensor:
        """The integers the chip stores (int8 for 8 bits)."""
        q = torch.round(self.weight.detach() / self.weight_scale()).clamp(-self.qmax, self.qmax)
        return q.to(torch.int8 if self.weight_bits <= 8 else torch.int32)

    def quantized_weight(self) -> torch.Tensor:
        s = self.weight_scale()
        return round_ste(self.weight / s).clamp(-self.qmax, self.qmax) * s

    def neuron_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        thr = torch.full((self.n_out,), self.threshold)
        leak = torch.full((self.n_out,), self.leak)
        if self.errors is not None:
            thr = thr * self.errors.threshold_rel
            leak = (leak * self.errors.leak_rel).clamp(0.0, 1.0)
        return thr, leak

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """(T, ..., n_in) input spikes -> (T, ..., n_out) output raster."""
        w = self.quantized_weight()
        thr, leak = self.neuron_params()
        current = spikes @ w.T  # all ticks at once; the recurrence below is elementwise
        v = torch.zeros(current.shape[1:], dtype=current.dtype)
        ref = torch.zeros(current.shape[1:], dtype=torch.long)
        out = []
        for t in range(current.shape[0]):
            active = (ref == 0).to(v.dtype)
            v = leak * v + active * current[t]
            s = spike(v - thr, self.surrogate_slope)
            # Reset through the detached spike: the surrogate flows through v, not the reset.
            sd = s.detach()
            v = v * (1.0 - sd) if self.reset == "zero" else v - sd * thr
            if self.refractory:
                ref = torch.where(sd > 0, torch.full_like(ref, self.refractory),
                                  (ref - 1).clamp_min(0))
            out.append(s)
        return torch.stack(out)

    def twin(self) -> SpikingLayer:
        t = SpikingLayer(self.n_in, self.n_out, self.threshold, self.leak, self.refractory,
                         self.weight_bits, self.reset, self.surrogate_slope)
        t.weight = self.weight
        return t

    def with_errors(self, levels: str | ErrorLevels, seed: SeedLike) -> SpikingLayer:
        e = draw_neuron_errors(error_levels(levels), self.n_out, seed)
        p = SpikingLayer(self.n_in, self.n_out, self.threshold, self.leak, self.refractory,
                         self.weight_bits, self.reset, self.surrogate_slope, e)
        p.weight = self.weight
        return p


class SpikingNetwork(nn.Module):
    """Layers of :class:`SpikingLayer` in sequence; ``forward`` returns the last raster."""

    def __init__(self, layers: Sequence[SpikingLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    @classmethod
    def build(cls, sizes: Sequence[int], seed: SeedLike = 0, **kwargs: object
              ) -> SpikingNetwork:
        g = make_generator(seed)
        return cls([SpikingLayer(a, b, seed=g, **kwargs)  # type: ignore[arg-type]
                    for a, b in zip(sizes[:-1], sizes[1:], strict=True)])

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            spikes = layer(spikes)
        return spikes

    def twin(self) -> SpikingNetwork:
        return SpikingNetwork([layer.twin() for layer in self.layers])  # type: ignore[attr-defined]

    def with_errors(self, levels: str | ErrorLevels, seed: SeedLike) -> SpikingNetwork:
        g = make_generator(seed)
        return SpikingNetwork([layer.with_errors(levels, g)  # type: ignore[attr-defined]
                               for layer in self.layers])
