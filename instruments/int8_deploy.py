"""Deploying an int8 network to an accelerator: the board's model from a quantised torch network,
and the float <-> int8 ends a board leaves to the host.

:func:`board_model` turns an :class:`hilt.sims.physics.int8.Int8Sequential` (calibrated: its
activation scales set) into the :class:`hilt.board_protocol.AcceleratorModel` the board protocol
carries (docs/protocols/board.md): per-output-channel symmetric int8 weights, int32 biases at the
scale input x weight, and each layer's requantisation ``s_in s_w / s_out`` as a fixed-point
multiplier and shift (:func:`hilt.sims.physics.int8.quantize_multiplier`). A ReLU after a layer
becomes the layer's ReLU flag (the clamp at the output zero point, 0 here), a Flatten nothing (a
dense layer takes its input flattened channel-major, as torch's Flatten does), a MaxPool2d the
board's maxpool2d. A board with the same rounding runs the network bit for bit as the engine's
integer forward does; :class:`DeployedInt8` is that network on a board, floats in and out.

Weight zero points are sent as 0: the engine's int8 layers quantise their weights symmetrically,
so a board that takes weight zero points gets none from here. Asymmetric weights (and activation
zero points, power-of-two scales, per-tensor parameters, grids fitted to a narrow accumulator) are
in :mod:`hilt.loops.int8_board`'s quantisation schemes, whose board twin is bit-exact with the
board for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from hilt.board_protocol import AcceleratorModel, Layer
from hilt.sims.physics.int8 import (
    Int8Conv2d,
    Int8Linear,
    Int8Sequential,
    _Int8Layer,
    quantize,
    quantize_multiplier,
)


def board_model(net: Int8Sequential, input_shape: tuple[int, ...], *, acc_bits: int = 32) -> AcceleratorModel:
    """The board model of a calibrated int8 network taking inputs of ``input_shape`` ((C, H, W),
    or (features,) for an MLP). The rounding is the network's (every layer must agree)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        shape = (shape[0], 1, 1)
    if len(shape) != 3:
        raise ValueError(f"input shape {input_shape}: (C, H, W) or (features,)")
    modules = list(net.layers)
    layers: list[Layer] = []
    roundings = {m.rounding for m in modules if isinstance(m, _Int8Layer)}
    if len(roundings) != 1:
        raise ValueError(f"the layers round differently ({sorted(roundings)}): a board has one rounding mode")
    for i, m in enumerate(modules):
        if isinstance(m, (Int8Linear, Int8Conv2d)):
            if not m.fixed_point:
                raise ValueError(f"layer {i}: a float requantiser; a board takes fixed-point multipliers")
            real = (m.in_scale * m.weight_scales() / m.out_scale).tolist()
            mults = [quantize_multiplier(r) for r in real]
            bias = m.int_bias()
            n_out = m.weight.shape[0]
            layer = Layer("dense" if isinstance(m, Int8Linear) else "conv2d",
                          weight=m.int_weight().numpy(), weight_zero_point=np.zeros(n_out, np.int8),
                          bias=np.zeros(n_out, np.int64) if bias is None else bias.numpy().astype(np.int64),
                          multiplier=np.array([a for a, _ in mults], np.int64),
                          shift=np.array([b for _, b in mults], np.int64), per_channel=True)
            if isinstance(m, Int8Conv2d):
                layer.stride, layer.padding = _single(m.stride), _single(m.padding)
            layers.append(layer)
        elif isinstance(m, nn.ReLU):
            if not layers or layers[-1].weight is None:
                raise ValueError(f"layer {i}: a ReLU must follow a dense or conv layer (it becomes its flag)")
            layers[-1].relu = True
        elif isinstance(m, nn.Flatten):
            continue
        elif isinstance(m, nn.MaxPool2d):
            layers.append(Layer("maxpool2d", kernel=_single(m.kernel_size),
                                stride=_single(m.stride if m.stride is not None else m.kernel_size)))
        else:
            raise ValueError(f"layer {i}: {type(m).__name__} has no board counterpart")
    return AcceleratorModel(shape, layers, rounding=roundings.pop(), acc_bits=acc_bits)  # type: ignore[arg-type]


def _single(value: Any) -> int:
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise ValueError(f"{value}: the board takes the same value in both axes")
        value = value[0]
    return int(value)


def output_scale(net: Int8Sequential) -> float:
    """The scale of the network's int8 output (its last int8 layer's)."""
    return float([m for m in net.layers if isinstance(m, _Int8Layer)][-1].out_scale)


class DeployedInt8:
    """An int8 network loaded on an accelerator (the ``accelerator`` kind), floats in and out.

    ``__call__(x)`` quantises ``x`` with the network's input scale (half away from zero, as the
    engine does), runs the board, and dequantises with the output scale; ``queries`` counts the
    samples sent to the board.
    """

    def __init__(self, board: Any, net: Int8Sequential, input_shape: tuple[int, ...]) -> None:
        self.board, self.net = board, net
        self.model = board_model(net, input_shape, acc_bits=int(board.limits.get("acc_bits", 32)))
        self.crc = board.load_model(self.model)
        self.queries = 0

    def quantize(self, x: torch.Tensor) -> np.ndarray:
        return quantize(x, self.net.in_scale).reshape(len(x), -1).numpy()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.board.run(self.quantize(x))
        self.queries += len(x)
        return torch.from_numpy(out.astype(np.float32)) * output_scale(self.net)
