"""Int8 inference as an FPGA accelerator computes it: int8 x int8 -> int32 accumulate ->
requantise -> saturate to int8.

Arithmetic (Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018, Eqs. 4-7; gemmlowp's fixed-point multiplier):

    acc   = sum_k (x_q[k] - z_x) * w_q[k] + bias_q          (int32, wraps like the hardware)
    y     = round(acc * M0 / 2^(31 + shift)) + z_y           (fixed point; M0 in [2^30, 2^31))
       or round(acc * scale) + z_y                           (float scale, float64)
    y_q   = clamp(y, -128, 127)

Rounding is selectable and documented: ``"half_away"`` (round half away from zero, the
gemmlowp / TFLite convention) or ``"half_even"`` (banker's rounding, numpy/torch ``round``).
Unlike TFLite's two-step SaturatingRoundingDoublingHighMul + RoundingDivideByPOT, the fixed-point
path rounds the exact 64-bit product once; the two differ only on rare ties.
Weights are symmetric per output channel in [-127, 127]; biases are int32 at scale s_x * s_w.
Products are summed in float64, which is exact for integers below 2^53 (any K < 2^38 here),
then wrapped to int32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._util import round_ste

ROUNDING_MODES = ("half_away", "half_even")


def wrap_int32(x: torch.Tensor) -> torch.Tensor:
    """Two's-complement wrap of int64 values into int32, as a 32-bit accumulator does."""
    return (torch.remainder(x.to(torch.int64) + 2**31, 2**32) - 2**31).to(torch.int32)


def quantize_multiplier(scale: float) -> tuple[int, int]:
    """Split a positive real ``scale`` into (M0, shift) with ``scale ~= M0 * 2^-(31 + shift)``,
    M0 in [2^30, 2^31) (gemmlowp's normalised int32 multiplier). ``shift`` may be negative."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    mant, exp = math.frexp(scale)  # scale = mant * 2^exp, mant in [0.5, 1)
    m0 = round(mant * 2**31)
    if m0 == 2**31:
        m0 //= 2
        exp += 1
    return int(m0), int(-exp)


def rounding_right_shift(x: torch.Tensor, shift: int | torch.Tensor,
                         rounding: str = "half_away") -> torch.Tensor:
    """``x / 2^shift`` (int64) rounded per ``rounding``; shift >= 1 (per element broadcast)."""
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding {rounding!r}: expected one of {ROUNDING_MODES}")
    x = x.to(torch.int64)
    s = torch.as_tensor(shift, dtype=torch.int64)
    one = torch.ones((), dtype=torch.int64)
    half = torch.bitwise_left_shift(one, s - 1)
    if rounding == "half_away":
        mag = torch.bitwise_right_shift(x.abs() + half, s)
        return torch.where(x < 0, -mag, mag)
    q = torch.bitwise_right_shift(x, s)  # floor
    r = x - torch.bitwise_left_shift(q, s)
    up = (r > half) | ((r == half) & (torch.remainder(q, 2) == 1))
    return q + up.to(torch.int64)


def requantize(acc: torch.Tensor, multiplier: int | torch.Tensor, shift: int | torch.Tensor,
               zero_point: int = 0, rounding: str = "half_away") -> torch.Tensor:
    """int32 accumulators -> int8 with a fixed-point multiplier (per tensor or per last-axis
    channel). Saturates to [-128, 127]."""
    m = torch.as_tensor(multiplier, dtype=torch.int64)
    total = 31 + torch.as_tensor(shift, dtype=torch.int64)
    prod = acc.to(torch.int64) * m
    if bool((total < 1).any()):
        raise ValueError("scale too large for a right shift (scale >= 2^30)")
    y = rounding_right_shift(prod, total, rounding) + zero_point
    return y.clamp(-128, 127).to(torch.int8)


def requantize_float(acc: torch.Tensor, scale: float | torch.Tensor, zero_point: int = 0,
                     rounding: str = "half_away") -> torch.Tensor:
    """int32 accumulators -> int8 with a float64 scale. Saturates to [-128, 127]."""
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding {rounding!r}: expected one of {ROUNDING_MODES}")
    y = acc.to(torch.float64) * torch.as_tensor(scale, dtype=torch.float64)
    if rounding == "half_away":
        y = torch.sign(y) * torch.floor(y.abs() + 0.5)
    else:
        y = torch.round(y)
    return (y + zero_point).clamp(-128, 127).to(torch.int8)


def int8_matmul(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None,
                x_zero_point: int = 0) -> torch.Tensor:
    """(..., K) int8 @ (N, K) int8 -> (..., N) int32 accumulators (plus int32 bias)."""
    xf = x.to(torch.float64) - x_zero_point
    acc = (xf @ w.to(torch.float64).T).to(torch.int64)
    if bias is not None:
        acc = acc + bias.to(torch.int64)
    return wrap_int32(acc)


def int8_conv2d(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None,
                stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                x_zero_point: int = 0) -> torch.Tensor:
    """(B, C, H, W) int8 * (O, C, kh, kw) int8 -> (B, O, H', W') int32. Padding pads the
    *real* value 0, i.e. the input zero point, as integer-only kernels do."""
    xf = x.to(torch.float64) - x_zero_point
    acc = F.conv2d(xf, w.to(torch.float64), stride=stride, padding=padding).to(torch.int64)
    if bias is not None:
        acc = acc + bias.to(torch.int64).view(1, -1, 1, 1)
    return wrap_int32(acc)


def quantize(x: torch.Tensor, scale: float, zero_point: int = 0,
             rounding: str = "half_away") -> torch.Tensor:
    """float -> int8 (saturating)."""
    y = x.to(torch.float64) / scale
    y = torch.sign(y) * torch.floor(y.abs() + 0.5) if rounding == "half_away" else torch.round(y)
    return (y + zero_point).clamp(-128, 127).to(torch.int8)


def dequantize(q: torch.Tensor, scale: float, zero_point: int = 0) -> torch.Tensor:
    return (q.to(torch.float32) - zero_point) * scale


class _Int8Layer(nn.Module):
    """Shared machinery: float parameters (trainable), per-channel symmetric int8 weights,
    activation scales set by :meth:`Int8Sequential.calibrate`."""

    weight: nn.Parameter
    bias: nn.Parameter | None

    def __init__(self) -> None:
        super().__init__()
        self.in_scale = 1.0
        self.out_scale = 1.0
        self.rounding = "half_away"
        self.fixed_point = True

    def weight_scales(self) -> torch.Tensor:
        w = self.weight.detach().flatten(1)
        return (w.abs().amax(1) / 127.0).clamp_min(1e-12).to(torch.float64)

    def int_weight(self) -> torch.Tensor:
        s = self.weight_scales().view(-1, *([1] * (self.weight.dim() - 1)))
        return torch.round(self.weight.detach().double() / s).clamp(-127, 127).to(torch.int8)

    def int_bias(self) -> torch.Tensor | None:
        if self.bias is None:
            return None
        s = self.in_scale * self.weight_scales()
        return torch.round(self.bias.detach().double() / s).to(torch.int32)

    def fake_quant_weight(self) -> torch.Tensor:
        s = self.weight_scales().float().view(-1, *([1] * (self.weight.dim() - 1)))
        return round_ste(self.weight / s).clamp(-127, 127) * s

    def _requant(self, acc: torch.Tensor, channel_dim: int) -> torch.Tensor:
        real = (self.in_scale * self.weight_scales() / self.out_scale).tolist()
        shape = [1] * acc.dim()
        shape[channel_dim] = -1
        if self.fixed_point:
            ms = [quantize_multiplier(r) for r in real]
            m = torch.tensor([a for a, _ in ms], dtype=torch.int64).view(shape)
            sh = torch.tensor([b for _, b in ms], dtype=torch.int64).view(shape)
            return requantize(acc, m, sh, 0, self.rounding)
        return requantize_float(acc, torch.tensor(real, dtype=torch.float64).view(shape), 0,
                                self.rounding)


class Int8Linear(_Int8Layer):
    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(
            (torch.rand(out_features, in_features, generator=generator) * 2 - 1) * bound)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor, fake_quant: bool = False) -> torch.Tensor:
        w = self.fake_quant_weight() if fake_quant else self.weight
        return F.linear(x, w, self.bias)

    def integer_forward(self, xq: torch.Tensor) -> torch.Tensor:
        return self._requant(int8_matmul(xq, self.int_weight(), self.int_bias()), -1)


class Int8Conv2d(_Int8Layer):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        fan_in = in_channels * kernel_size**2
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter((torch.rand(out_channels, in_channels, kernel_size,
                                               kernel_size, generator=generator) * 2 - 1) * bound)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor, fake_quant: bool = False) -> torch.Tensor:
        w = self.fake_quant_weight() if fake_quant else self.weight
        return F.conv2d(x, w, self.bias, self.stride, self.padding)

    def integer_forward(self, xq: torch.Tensor) -> torch.Tensor:
        acc = int8_conv2d(xq, self.int_weight(), self.int_bias(), self.stride, self.padding)
        return self._requant(acc, 1)


class Int8Sequential(nn.Module):
    """An int8 network: Int8Linear / Int8Conv2d layers with ReLU and Flatten between them.

    ``integer=True`` is the accelerator (quantise input, integer layers, dequantise output);
    ``.twin()`` is the float model with the same parameters (``fake_quant=True`` for a
    quantisation-aware twin). Call :meth:`calibrate` on representative inputs first.
    """

    def __init__(self, layers: Sequence[nn.Module], integer: bool = True,
                 fake_quant: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.integer = integer
        self.fake_quant = fake_quant
        self.in_scale = 1.0

    def _quant_layers(self) -> list[_Int8Layer]:
        return [m for m in self.layers if isinstance(m, _Int8Layer)]

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor) -> None:
        """Set symmetric activation scales from the max |activation| seen on ``x``."""
        self.in_scale = float(x.abs().max().clamp_min(1e-12)) / 127.0
        scale = self.in_scale
        for m in self.layers:
            x = m(x)
            if isinstance(m, _Int8Layer):
                m.in_scale = scale
                scale = float(x.abs().max().clamp_min(1e-12)) / 127.0
                m.out_scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.integer:
            for m in self.layers:
                x = m(x, fake_quant=self.fake_quant) if isinstance(m, _Int8Layer) else m(x)
            return x
        q = quantize(x, self.in_scale)
        scale = self.in_scale
        for m in self.layers:
            if isinstance(m, _Int8Layer):
                q = m.integer_forward(q)
                scale = m.out_scale
            elif isinstance(m, nn.ReLU):
                q = q.clamp_min(0)  # zero point is 0 (symmetric activations)
            else:
                q = m(q)
        return dequantize(q, scale)

    def twin(self, fake_quant: bool = False) -> Int8Sequential:
        t = Int8Sequential(list(self.layers), integer=False, fake_quant=fake_quant)
        t.in_scale = self.in_scale
        return t
