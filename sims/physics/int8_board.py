"""What an int8 accelerator computes for a model in the board protocol's format: the arithmetic
of docs/protocols/board.md ("Arithmetic"), executed with the bit-exact int8 engine
(:mod:`hilt.sims.physics.int8`: int8 x int8 -> int32 accumulation, fixed-point requantisation,
saturation).

Beyond the engine, a board has an accumulator width below 32 bits (the sum wrapped to A bits),
weight zero points, power-of-two requantisers (shift only) and a ``floor`` rounding mode (an
arithmetic right shift, what a datapath without a rounding adder does); those are here.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from hilt.board_protocol import AcceleratorModel, Layer

from .int8 import int8_conv2d, int8_matmul, requantize, rounding_right_shift


def wrap_bits(acc: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap of integer values to ``bits`` bits (an A-bit accumulator)."""
    if bits >= 32:
        return acc.to(torch.int64)
    half = 1 << (bits - 1)
    return torch.remainder(acc.to(torch.int64) + half, 1 << bits) - half


def shift_round(x: torch.Tensor, shift: torch.Tensor, rounding: str) -> torch.Tensor:
    """``x / 2^shift`` for shift >= 1, rounded by the board's mode (int64)."""
    if rounding == "floor":
        return torch.bitwise_right_shift(x.to(torch.int64), shift)
    return rounding_right_shift(x, shift, rounding)


def _per_channel(values: np.ndarray, shape: list[int]) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.int64)).view(shape)


def requantize_layer(acc: torch.Tensor, layer: Layer, rounding: str, channel_dim: int) -> torch.Tensor:
    """int64 accumulators -> int8 outputs of one layer (multiplier or power-of-two, ReLU)."""
    shape = [1] * acc.dim()
    shape[channel_dim] = -1
    assert layer.shift is not None
    shift = _per_channel(layer.shift, shape)
    zy = layer.out_zero_point
    if not layer.pow2:
        assert layer.multiplier is not None
        m = _per_channel(layer.multiplier, shape)
        if rounding == "floor":
            y = torch.bitwise_right_shift(acc * m, 31 + shift) + zy
            out = y.clamp(-128, 127)
        else:
            out = requantize(acc, m, shift, zy, rounding).to(torch.int64)
    else:
        right = shift_round(acc, shift.clamp_min(1), rounding)
        left = acc * torch.bitwise_left_shift(torch.ones((), dtype=torch.int64), (-shift).clamp_min(0))
        out = (torch.where(shift >= 1, right, left) + zy).clamp(-128, 127)
    if layer.relu:
        out = out.clamp_min(zy)
    return out.to(torch.int8)


def execute(model: AcceleratorModel, samples: np.ndarray) -> np.ndarray:
    """The board's int8 results, (batch, output size), for int8 samples (batch, C*H*W)."""
    x = torch.from_numpy(np.array(samples, dtype=np.int8)).view(-1, *model.input_shape)
    zx = model.input_zero_point
    with torch.no_grad():
        for layer in model.layers:
            if layer.kind == "maxpool2d":
                x = F.max_pool2d(x.to(torch.float32), layer.kernel, layer.stride).to(torch.int8)
                continue
            assert layer.weight is not None and layer.bias is not None
            w = torch.as_tensor(layer.weight.astype(np.int16))
            zw = torch.as_tensor(np.asarray(0 if layer.weight_zero_point is None else layer.weight_zero_point,
                                            dtype=np.int16).reshape(-1))
            bias = torch.as_tensor(np.asarray(layer.bias, dtype=np.int64))
            if layer.kind == "dense":
                acc = int8_matmul(x.reshape(len(x), -1), w - zw.view(-1, 1), bias, x_zero_point=zx)
                y = requantize_layer(wrap_bits(acc, model.acc_bits), layer, model.rounding, 1)
                x = y.view(len(y), -1, 1, 1)
            else:
                acc = int8_conv2d(x, w - zw.view(-1, 1, 1, 1), bias, layer.stride, layer.padding, x_zero_point=zx)
                x = requantize_layer(wrap_bits(acc, model.acc_bits), layer, model.rounding, 1)
            zx = layer.out_zero_point
    return x.reshape(len(x), -1).numpy().astype(np.int8)


def macs(model: AcceleratorModel) -> list[int]:
    """Multiply-accumulates of one sample, per layer (0 for pooling)."""
    out = []
    for layer, (c, hgt, wid) in zip(model.layers, model.shapes()[1:], strict=True):
        if layer.kind == "maxpool2d" or layer.weight is None:
            out.append(0)
        else:
            per_output = int(np.prod(layer.weight.shape[1:]))
            out.append(c * hgt * wid * per_output)
    return out
