"""Deploying a small CNN to an int8 accelerator, and quantisation-aware training with the board in
the forward pass.

The network (digits, 8x8): conv 1->8 (3x3, padding 1), ReLU, max-pool 2, dense 128->32, ReLU,
dense 32->10. Post-training quantisation (:func:`quantise`) turns it into the board's model
(docs/protocols/board.md) under a :class:`Scheme`: per-channel or per-tensor weight scales,
symmetric or asymmetric activations (zero points), symmetric or asymmetric weights (weight zero
points), free or power-of-two scales, and the board's own rounding and accumulator width (its
IDENTIFY reply). A scheme the board cannot take is refused before anything is sent
(:func:`scheme_problem`, naming the ``hilt train`` flag). Four answers for the same inputs:

* ``float``: the trained float network;
* ``fake-quant`` twin (:class:`FakeQuantCNN`): every weight and activation rounded to its int8
  grid in float arithmetic (round half to even, float requantisation, no accumulator), what
  quantisation-aware training in a framework models;
* ``board`` twin (:class:`BoardTwin`): the board's integer arithmetic on the model the board gets
  (A-bit accumulator that wraps, the board's rounding and requantiser), straight-through
  gradients; it is the board's result bit for bit, so it predicts what the fake-quant twin misses;
* ``board``: the board's int8 results through the driver, with its rounding, saturation,
  accumulator and requantiser.

A board with a narrow accumulator (16 bits) wraps where asymmetric activations (``x - z_x`` up to
255) make the sums large. :func:`calibrate` with the board's ``acc_bits`` fits the grids to it: a
layer whose largest accumulator on the calibration data passes ``headroom`` of the range gets a
wider input scale, so no calibration sample wraps. During training :func:`accumulator_penalty`
(board twin only) keeps the accumulators inside the range between recalibrations.

Loops (``hilt train <station> --loop ...`` on a station with an ``accelerator``; flags
``--quant``, ``--zero-point``, ``--weight-zero-point``, ``--pow2-scales``):

* ``insilico``: quantisation-aware training on the twin only, then deployed;
* ``insitu``: quantisation-aware training whose forward pass runs on the board: each step
  quantises the current weights, loads the model on the board and runs the batch there; the
  loss is taken on the board's outputs and its gradient goes back through the twin
  (``twin + (board - twin).detach()``, as physics-aware training does).

Both start from a float network trained on the task (:func:`train_float`), write a run file
(per-step loss, accumulator penalty and physical queries, per-epoch float / fake-quant twin /
board twin / board accuracy, captures of the board's and the twin's logits), checkpoint every
epoch (weights, optimiser, shuffling generator, grids), and stop between steps on their
:class:`~hilt.loops.core.LoopControl`; ``hilt resume RUNFILE`` continues a stopped run from its
last checkpoint, as an uninterrupted run would have gone on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hilt.board_protocol import AcceleratorModel, Layer
from hilt.errors import ConfigError
from hilt.runfile import status as run_status
from hilt.sims.physics.int8 import quantize_multiplier

from .core import LoopAborted, LoopControl, LoopResult, Progress, ProgressCallback, torch_threads
from .data import Dataset
from .pat import substitute
from .recording import Recorder

SHAPE = (1, 8, 8)


@dataclass(frozen=True)
class Scheme:
    """How a network is quantised for a board."""

    per_channel: bool = True  # weight scales per output channel (else one per layer)
    asymmetric: bool = False  # activations use the full int8 range with a zero point
    pow2: bool = False  # every scale a power of two (a board with shift-only requantisers)
    weight_asymmetric: bool = False  # weights span [min, max] with a zero point (else symmetric)

    @property
    def name(self) -> str:
        parts = ["per-channel" if self.per_channel else "per-tensor",
                 "asymmetric" if self.asymmetric else "symmetric",
                 "pow2" if self.pow2 else "free scales"]
        return "/".join(parts + (["asymmetric weights"] if self.weight_asymmetric else []))


class FloatCNN(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc1 = nn.Linear(8 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each quantised tensor: input, conv+ReLU, (pooled), fc1+ReLU, logits."""
        a = F.relu(self.conv(x))
        b = F.relu(self.fc1(F.max_pool2d(a, 2).flatten(1)))
        return [x, a, b, self.fc2(b)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[-1]


# -- scales -----------------------------------------------------------------------------------------
def _pow2_up(s: torch.Tensor) -> torch.Tensor:
    return torch.pow(2.0, torch.ceil(torch.log2(s)))


def _grid_at(t_min: float, s: float, scheme: Scheme) -> tuple[float, int]:
    """(scale, zero point) of a tensor whose lowest value is ``t_min``, at scale ``s`` (rounded
    up to a power of two on a pow2 scheme)."""
    if scheme.pow2:
        s = float(_pow2_up(torch.tensor(s)))
    z = int(np.clip(round(-128 - min(t_min, 0.0) / s), -128, 127)) if scheme.asymmetric else 0
    return float(s), z


def activation_grid(t_min: float, t_max: float, scheme: Scheme) -> tuple[float, int]:
    """(scale, zero point) of an activation tensor spanning [t_min, t_max]."""
    t_min, t_max = min(t_min, 0.0), max(t_max, 1e-8)
    s = (t_max - t_min) / 255.0 if scheme.asymmetric else max(abs(t_min), t_max) / 127.0
    return _grid_at(t_min, s, scheme)


def weight_grid(w: torch.Tensor, scheme: Scheme) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight scales and zero points, (out,) per channel or (1,) per tensor: symmetric (zero
    points 0, integers in [-127, 127]) or, with ``scheme.weight_asymmetric``, spanning the
    weights' [min, max] over [-128, 127] with a zero point."""
    flat = w.detach().flatten(1)
    if not scheme.weight_asymmetric:
        m = flat.abs().amax(1) if scheme.per_channel else flat.abs().max().reshape(1)
        s = (m / 127.0).clamp_min(1e-12)
        s = _pow2_up(s) if scheme.pow2 else s
        return s, torch.zeros_like(s)
    lo = (flat.amin(1) if scheme.per_channel else flat.min().reshape(1)).clamp_max(0.0)
    hi = (flat.amax(1) if scheme.per_channel else flat.max().reshape(1)).clamp_min(0.0)
    s = ((hi - lo) / 255.0).clamp_min(1e-12)
    s = _pow2_up(s) if scheme.pow2 else s
    return s, torch.round(-128 - lo / s).clamp(-128, 127)


def calibrate(net: FloatCNN, x: torch.Tensor, scheme: Scheme, *, acc_bits: int = 32, rounding: str = "half_away",
              headroom: float = 0.9) -> list[tuple[float, int]]:
    """(scale, zero point) of the input, conv, fc1 and logit tensors, from ``x``.

    With ``acc_bits`` below 32 the grids are fitted to the board's accumulator: where a layer's
    largest integer accumulator on ``x`` passes ``headroom`` of the A-bit range, its input scale
    is widened (doubled on a pow2 scheme) until it fits, so that no sample of ``x`` wraps. That
    costs the layer's input a bit of resolution instead of whole samples lost to the wrap.
    """
    with torch.no_grad():
        feats = net.features(x)
    lows = [float(t.min()) for t in feats]
    grids = [activation_grid(lo, float(t.max()), scheme) for lo, t in zip(lows, feats, strict=True)]
    if acc_bits >= 32:
        return grids
    limit = headroom * (2 ** (acc_bits - 1) - 1)
    probe = BoardTwin(net, grids, scheme, rounding=rounding, acc_bits=32)
    for _ in range(24):
        with torch.no_grad():
            probe(x)
        peaks = [float(a.abs().max()) for a in probe.accumulators]
        if max(peaks) <= limit:
            break
        for k, peak in enumerate(peaks):  # layer k (conv, fc1, fc2) takes the tensor of grids[k]
            if peak > limit:
                grids[k] = _grid_at(lows[k], grids[k][0] * peak / limit, scheme)
        probe.grids = grids
    return grids


# -- the framework's twin ---------------------------------------------------------------------------------
def _fake(t: torch.Tensor, s: float, z: int, low: int = -128) -> torch.Tensor:
    q = t / s + z
    q = q + (torch.round(q) - q).detach()  # round half to even, straight-through gradient
    return (q.clamp(low, 127) - z) * s


def _fake_w(w: torch.Tensor, scheme: Scheme) -> torch.Tensor:
    s, z = weight_grid(w, scheme)
    shape = (-1, *([1] * (w.dim() - 1)))
    sv, zv = s.view(shape), z.view(shape)
    q = w / sv + zv
    q = q + (torch.round(q) - q).detach()
    return (q.clamp(-128 if scheme.weight_asymmetric else -127, 127) - zv) * sv


class FakeQuantCNN(nn.Module):
    """The fake-quantised twin of a :class:`FloatCNN` (shares its parameters): what a framework's
    quantisation-aware training models (no accumulator, float requantisation, round half to even)."""

    def __init__(self, net: FloatCNN, grids: list[tuple[float, int]], scheme: Scheme) -> None:
        super().__init__()
        self.net, self.grids, self.scheme = net, grids, scheme

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, (s0, z0), (s1, z1), (s2, z2), (s3, z3) = self.net, *self.grids
        sc = self.scheme
        x = _fake(x, s0, z0)
        a = _fake(F.relu(F.conv2d(x, _fake_w(n.conv.weight, sc), n.conv.bias, padding=1)), s1, z1)
        a = F.max_pool2d(a, 2).flatten(1)
        b = _fake(F.relu(F.linear(a, _fake_w(n.fc1.weight, sc), n.fc1.bias)), s2, z2)
        return _fake(F.linear(b, _fake_w(n.fc2.weight, sc), n.fc2.bias), s3, z3)


# -- the board's twin ---------------------------------------------------------------------------------------
def _wrap(acc: torch.Tensor, bits: int) -> torch.Tensor:
    """int64 accumulators wrapped to ``bits`` (at most 32) as the board's register wraps them."""
    half = 1 << (min(bits, 32) - 1)
    return torch.remainder(acc + half, 2 * half) - half


def _exact(value: torch.Tensor, surrogate: torch.Tensor) -> torch.Tensor:
    """``value`` with the gradient of ``surrogate`` (the value is exactly ``value``: s - s is 0)."""
    return value + (surrogate - surrogate.detach())


class BoardTwin(nn.Module):
    """The accumulator-aware twin: the board's own integer arithmetic (docs/protocols/board.md,
    "Arithmetic") on the model the board gets, with straight-through gradients.

    Its forward pass is the board's result bit for bit (same integers in, the A-bit accumulator
    wrapped, the board's rounding and requantiser, saturation): it predicts the board, overflow
    included. Its gradient is that of the unrounded, unwrapped computation (weights / scale,
    accumulator x requantisation scale, clipped where the output saturates or the ReLU clamps).
    The wrap's own gradient is 1 almost everywhere and says nothing of the range, so the last
    forward's accumulators (``accumulators``, with their gradient) are kept for
    :func:`accumulator_penalty`, which pushes them back into range.
    """

    def __init__(self, net: FloatCNN, grids: list[tuple[float, int]], scheme: Scheme, *, rounding: str,
                 acc_bits: int) -> None:
        super().__init__()
        self.net, self.grids, self.scheme = net, grids, scheme
        self.rounding, self.acc_bits = rounding, int(acc_bits)
        self.accumulators: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from hilt.sims.physics.int8_board import requantize_layer

        n, g = self.net, self.grids
        model = quantise(n, g, self.scheme, rounding=self.rounding, acc_bits=self.acc_bits)
        q = quantise_input(x, *g[0]).double()
        self.accumulators = []
        s_in, zx = g[0]
        for layer, module, (s_out, z_out) in ((model.layers[0], n.conv, g[1]), (None, None, (0.0, 0)),
                                              (model.layers[2], n.fc1, g[2]), (model.layers[3], n.fc2, g[3])):
            if layer is None:  # the max-pool: the board's max over the window, on the same integers
                q = F.max_pool2d(q, 2).flatten(1)
                continue
            conv = layer.kind == "conv2d"
            shape = (-1, 1, 1, 1) if conv else (-1, 1)
            sw, _ = weight_grid(module.weight, self.scheme)
            sw = sw.double()
            zw = torch.from_numpy(layer.weight_zero_point.astype(np.float64)).view(shape)
            w = _exact(torch.from_numpy(layer.weight.astype(np.float64)) - zw,
                       module.weight.double() / sw.view(shape))
            b = _exact(torch.from_numpy(layer.bias.astype(np.float64)), module.bias.double() / (s_in * sw))
            xs = q - zx
            acc = F.conv2d(xs, w, b, padding=layer.padding) if conv else F.linear(xs, w, b)
            self.accumulators.append(acc)
            wrapped = _wrap(acc.detach().round().to(torch.int64), self.acc_bits)
            out = requantize_layer(wrapped, layer, self.rounding, 1).double()
            real = (s_in * sw / s_out).view(1, -1, *([1] * (acc.dim() - 2)))
            linear = (acc * real + z_out).clamp(z_out if layer.relu else -128, 127)
            q = _exact(out, linear)
            s_in, zx = s_out, z_out
        s3, z3 = g[3]
        return (q.float() - z3) * s3


def accumulator_penalty(twin: BoardTwin, headroom: float = 0.9) -> torch.Tensor:
    """Sum over layers of the mean squared excess of the last forward's accumulators over
    ``headroom`` of the board's A-bit range (in units of that limit); 0 on a 32-bit board."""
    if twin.acc_bits >= 32 or not twin.accumulators:
        return torch.zeros(())
    limit = headroom * (2 ** (twin.acc_bits - 1) - 1)
    return sum(F.relu(a.abs() / limit - 1.0).pow(2).mean() for a in twin.accumulators).float()


# -- the board's model ------------------------------------------------------------------------------------
def quantise_input(x: torch.Tensor, s0: float, z0: int) -> torch.Tensor:
    """The int8 input samples the board gets (round half to even, saturate), float-typed."""
    return torch.clamp(torch.round(x / s0) + z0, -128, 127)


def _layer(kind: str, w: torch.Tensor, b: torch.Tensor, s_in: float, s_out: float, z_out: int, relu: bool,
           scheme: Scheme, **geometry: int) -> Layer:
    sw, zw = weight_grid(w, scheme)
    sw, zw = sw.double(), zw.double()
    shape = (-1, *([1] * (w.dim() - 1)))
    low = -128 if scheme.weight_asymmetric else -127
    wq = torch.round(w.detach().double() / sw.view(shape) + zw.view(shape)).clamp(low, 127)
    bias = torch.round(b.detach().double() / (s_in * sw)).clamp(-2**31, 2**31 - 1)
    real = (s_in * sw / s_out).tolist()
    if scheme.pow2:
        shift = np.array([round(-math.log2(r)) for r in real], np.int64)
        mult = None
    else:
        pairs = [quantize_multiplier(r) for r in real]
        mult = np.array([m for m, _ in pairs], np.int64)
        shift = np.array([s for _, s in pairs], np.int64)
    return Layer(kind, out_zero_point=z_out, relu=relu, pow2=scheme.pow2, weight=wq.numpy().astype(np.int8),
                 weight_zero_point=zw.numpy().astype(np.int8), bias=bias.numpy().astype(np.int64),
                 multiplier=mult, shift=shift, per_channel=scheme.per_channel, **geometry)


def quantise(net: FloatCNN, grids: list[tuple[float, int]], scheme: Scheme, *, rounding: str,
             acc_bits: int) -> AcceleratorModel:
    """The board's model of ``net`` under ``scheme`` (post-training quantisation)."""
    (s0, z0), (s1, z1), (s2, z2), (s3, z3) = grids
    layers = [
        _layer("conv2d", net.conv.weight, net.conv.bias, s0, s1, z1, True, scheme, padding=1),
        Layer("maxpool2d", out_zero_point=z1, kernel=2, stride=2),
        _layer("dense", net.fc1.weight, net.fc1.bias, s1, s2, z2, True, scheme),
        _layer("dense", net.fc2.weight, net.fc2.bias, s2, s3, z3, False, scheme),
    ]
    return AcceleratorModel(SHAPE, layers, rounding=rounding, acc_bits=acc_bits, input_zero_point=z0)


class BoardForward:
    """The network on a board: quantise the inputs, run, dequantise the logits; counts queries."""

    def __init__(self, board: Any, scheme: Scheme) -> None:
        self.board, self.scheme = board, scheme
        self.queries = 0
        self.loads = 0
        self.grids: list[tuple[float, int]] = []

    def load(self, net: FloatCNN, grids: list[tuple[float, int]]) -> None:
        model = quantise(net, grids, self.scheme, rounding=str(self.board.limits["rounding"]),
                         acc_bits=int(self.board.limits["acc_bits"]))
        self.board.load_model(model)
        self.loads += 1
        self.grids = grids

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (s0, z0), *_, (s3, z3) = self.grids
        q = quantise_input(x, s0, z0).to(torch.int8).reshape(len(x), -1).numpy()
        out = self.board.run(q)
        self.queries += len(x)
        return (torch.from_numpy(out.astype(np.float32)) - z3) * s3


# -- training ---------------------------------------------------------------------------------------------
def images(data: Dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    if data.n_features != 64:
        raise ConfigError(f"the int8 CNN takes 8x8 digits (64 features), not {data.n_features}")
    return (torch.as_tensor(data.x_train).view(-1, *SHAPE), torch.as_tensor(data.y_train),
            torch.as_tensor(data.x_test).view(-1, *SHAPE), torch.as_tensor(data.y_test))


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean())


def train_float(data: Dataset, *, epochs: int = 30, lr: float = 0.01, seed: int = 0) -> FloatCNN:
    """The float network trained on the task (Adam, batches of 64)."""
    x, y, _, _ = images(data)
    net = FloatCNN(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=g).split(64):
            opt.zero_grad()
            F.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    return net


def evaluate(net: FloatCNN, scheme: Scheme, grids: list[tuple[float, int]], board: BoardForward | None,
             x: torch.Tensor, y: torch.Tensor, *, twin: str = "fake-quant") -> dict[str, float]:
    """Test accuracy of the float network, the fake-quantised twin (``fake_quant_accuracy``),
    with ``board`` the board twin (``board_twin_accuracy``, for the board's rounding and
    accumulator) and the board (``test_accuracy``); ``twin_accuracy`` is that of ``twin``."""
    with torch.no_grad():
        out = {"float_accuracy": accuracy(net(x), y),
               "fake_quant_accuracy": accuracy(FakeQuantCNN(net, grids, scheme)(x), y)}
        if board is not None:
            limits = board.board.limits
            out["board_twin_accuracy"] = accuracy(BoardTwin(net, grids, scheme, rounding=str(limits["rounding"]),
                                                            acc_bits=int(limits["acc_bits"]))(x), y)
            board.load(net, grids)
            out["test_accuracy"] = accuracy(board(x), y)
    out["twin_accuracy"] = out["board_twin_accuracy" if twin == "board" and board is not None
                               else "fake_quant_accuracy"]
    return out


TWINS = ("board", "fake-quant")


@dataclass
class Int8Settings:
    epochs: int = 3
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    float_epochs: int = 15
    per_channel: bool = True
    asymmetric: bool = False
    pow2: bool = False
    weight_asymmetric: bool = False
    #: The twin the gradient goes through: "board" (:class:`BoardTwin`, the board's arithmetic
    #: and accumulator) or "fake-quant" (:class:`FakeQuantCNN`, what a framework models).
    twin: str = "board"
    #: Widen a layer's input scale where its accumulators would pass the board's width
    #: (:func:`calibrate`), at the start and at every recalibration.
    fit_accumulator: bool = True
    #: Weight of :func:`accumulator_penalty` in the loss (board twin only; 0 on a 32-bit board).
    acc_penalty: float = 1.0
    acc_headroom: float = 0.9
    capture_samples: int = 8
    #: Use only the first N training / test samples (0: all), for quick runs.
    train_samples: int = 0
    test_samples: int = 0

    @property
    def scheme(self) -> Scheme:
        return Scheme(self.per_channel, self.asymmetric, self.pow2, self.weight_asymmetric)


def scheme_problem(scheme: Scheme, limits: Mapping[str, Any]) -> str:
    """Why a board with these IDENTIFY ``limits`` cannot take models quantised under ``scheme``
    ('' if it can), naming the ``hilt train`` flag that asks for it."""
    requant = tuple(limits.get("requant", ("multiplier", "pow2")))
    if scheme.per_channel and not limits.get("per_channel", True):
        return "--quant per-channel: the board takes one scale per layer only (use --quant per-tensor)"
    if scheme.pow2 and "pow2" not in requant:
        return "--pow2-scales: the board has no power-of-two requantiser (use --free-scales)"
    if not scheme.pow2 and "multiplier" not in requant:
        return "--free-scales: the board requantises by power-of-two shifts only (use --pow2-scales)"
    if scheme.weight_asymmetric and not limits.get("weight_zero_point", True):
        return "--weight-zero-point asymmetric: the board takes symmetric weights only"
    return ""


def train_int8(board: Any, data: Dataset, loop: str, settings: Int8Settings, *, run_path: str | None = None,
               resume: bool = False, control: LoopControl | None = None,
               progress: ProgressCallback | None = None) -> LoopResult:
    """QAT of the digits CNN for ``board`` (``loop``: ``insilico`` or ``insitu``); see the module.

    With ``resume=True`` and an existing ``run_path`` the run continues after its last checkpoint
    (the end of an epoch); ``control`` pauses or aborts it between steps (an aborted run is
    closed ``aborted`` and returned with ``aborted=True``); ``progress`` gets a
    :class:`~hilt.loops.core.Progress` after every step and epoch.
    """
    if loop not in ("insilico", "insitu"):
        raise ConfigError(f"loop {loop!r} on an accelerator: insilico (twin only, then deployed) or insitu "
                          "(the board in the forward pass)")
    s = settings
    if s.twin not in TWINS:
        raise ConfigError(f"twin {s.twin!r}: one of {', '.join(TWINS)}")
    scheme = s.scheme
    limits = dict(board.limits)
    why = scheme_problem(scheme, limits)
    if why:
        raise ConfigError(f"scheme {scheme.name}: {why}")
    t0 = time.perf_counter()
    rounding, acc_bits = str(limits["rounding"]), int(limits["acc_bits"])
    data = data.subset(s.train_samples or None, s.test_samples or None)
    x_tr, y_tr, x_te, y_te = images(data)
    method = f"int8-{loop}"
    rec = Recorder.open(run_path, resume=resume,
                        scalars={"loss": "1", "epoch": "1", "physical_queries": "1", "acc_penalty": "1"},
                        epoch_scalars={"loss_mean": "1", "physical_queries": "1", "test_accuracy": "1",
                                       "twin_accuracy": "1", "float_accuracy": "1", "fake_quant_accuracy": "1",
                                       "board_twin_accuracy": "1"},
                        captures={"batches": _capture_spec()},
                        config={"method": method, "settings": asdict(s), "scheme": scheme.name,
                                "dataset": data.name, "board": {k: (list(v) if isinstance(v, tuple) else v)
                                                                for k, v in limits.items()}},
                        seeds={"seed": int(s.seed)})

    def fitted(net: FloatCNN) -> list[tuple[float, int]]:
        return calibrate(net, x_tr, scheme, acc_bits=acc_bits if s.fit_accumulator else 32, rounding=rounding,
                         headroom=s.acc_headroom)

    fwd = BoardForward(board, scheme)
    history: list[dict[str, float]] = []
    g = torch.Generator().manual_seed(s.seed + 1)
    ck = rec.checkpoint
    net = FloatCNN(s.seed)
    step, start_epoch, status, reason = 0, 0, "failed", "the run stopped on an error"
    start: dict[str, float] = {}
    try:
        if ck is None:
            net = train_float(data, epochs=s.float_epochs, seed=s.seed)
        else:
            net.load_state_dict(ck.model_state["model"])
        opt = torch.optim.Adam(net.parameters(), lr=s.lr)
        if ck is None:
            grids = fitted(net)
            start = evaluate(net, scheme, grids, fwd, x_te, y_te, twin=s.twin)
        else:
            opt.load_state_dict(ck.optim_state["opt"])
            g.set_state(ck.rng_state["shuffle"])
            # Checkpoints written before grids and start were kept: the grids from the weights again.
            grids = ([(float(a), int(b)) for a, b in ck.extra["grids"]] if "grids" in ck.extra else fitted(net))
            history = list(ck.extra["history"])
            start = dict(ck.extra.get("start") or history[0])
            fwd.queries, fwd.loads = int(ck.extra["queries"]), int(ck.extra["calls"])
            start_epoch, step = int(ck.extra["epoch"]) + 1, int(ck.step) + 1
        twin: nn.Module = (BoardTwin(net, grids, scheme, rounding=rounding, acc_bits=acc_bits) if s.twin == "board"
                           else FakeQuantCNN(net, grids, scheme))
        n_batches = -(-len(y_tr) // s.batch_size)
        for epoch in range(start_epoch, s.epochs):
            losses = []
            for b, idx in enumerate(torch.randperm(len(y_tr), generator=g).split(s.batch_size)):
                if control is not None:
                    control.checkpoint()
                opt.zero_grad()
                twin_out = twin(x_tr[idx])
                if loop == "insitu":
                    with torch.no_grad():
                        fwd.load(net, grids)
                        measured = fwd(x_tr[idx])
                    out = substitute(twin_out, measured)
                else:
                    out, measured = twin_out, None
                task = F.cross_entropy(out, y_tr[idx])
                penalty = (accumulator_penalty(twin, s.acc_headroom) if isinstance(twin, BoardTwin)
                           else torch.zeros(()))
                (task + s.acc_penalty * penalty).backward()
                opt.step()
                losses.append(float(task.detach()))
                rec.log(step, loss=losses[-1], epoch=epoch, physical_queries=fwd.queries,
                        acc_penalty=float(penalty.detach()))
                if measured is not None and s.capture_samples:
                    k = s.capture_samples
                    rec.capture("batches", step=step, epoch=epoch, sample_idx=idx[:k].numpy(),
                                inputs=x_tr[idx][:k].reshape(-1, 64).numpy(), physical=measured[:k].numpy(),
                                twin=twin_out[:k].detach().numpy())
                if progress is not None:
                    progress(Progress(method, epoch, s.epochs, b, n_batches, step, losses[-1], fwd.queries,
                                      time.perf_counter() - t0))
                step += 1
            grids = fitted(net)  # the ranges follow the weights
            twin.grids = grids
            metrics = {"epoch": float(epoch), "loss": float(np.mean(losses)),
                       **evaluate(net, scheme, grids, fwd, x_te, y_te, twin=s.twin),
                       "physical_queries": float(fwd.queries)}
            history.append(metrics)
            rec.log_epoch(epoch, step - 1, loss_mean=metrics["loss"], physical_queries=fwd.queries,
                          **{k: metrics[k] for k in ("test_accuracy", "twin_accuracy", "float_accuracy",
                                                     "fake_quant_accuracy", "board_twin_accuracy")})
            rec.save_checkpoint(step - 1, {"model": net.state_dict()}, {"opt": opt.state_dict()},
                                {"shuffle": g.get_state()},
                                {"epoch": epoch, "history": history, "queries": fwd.queries, "calls": fwd.loads,
                                 "grids": [list(gr) for gr in grids], "start": start})
            rec.flush()
            if progress is not None:
                progress(Progress(method, epoch, s.epochs, n_batches - 1, n_batches, step - 1, metrics["loss"],
                                  fwd.queries, time.perf_counter() - t0, True, metrics))
        status, reason = "completed", ""
    except LoopAborted:
        status, reason = "aborted", "aborted by the operator"
    except BaseException as exc:  # Ctrl-C, a fault, a bug: closed with its reason, then raised
        status, reason = run_status.ending(exc)
        raise
    finally:
        if status != "completed":
            board.safe_state()
        rec.close(status, reason)
    final = history[-1] if history else start
    return LoopResult(method, final["test_accuracy"], final["twin_accuracy"], fwd.queries, fwd.loads,
                      time.perf_counter() - t0, history, {k: v.detach().clone() for k, v in net.state_dict().items()},
                      None if rec.path is None else str(rec.path), aborted=status == "aborted", reason=reason,
                      extra={"start_accuracy": start["test_accuracy"], "start": start, "scheme": scheme.name})


def _capture_spec() -> Any:
    from hilt.runfile.layout import CaptureSpec

    return CaptureSpec(input_shape=(64,), physical_shape=(10,), twin_shape=(10,))


# -- on a station -----------------------------------------------------------------------------------------
def station_accelerator(station: Any) -> Any | None:
    """The station's accelerator (its ``accelerator`` role, else its only instrument of that kind);
    None for a station without one, or with a photonic processor (trained by the mesh loops)."""
    if station.by_kind("photonic_processor"):
        return None
    named = getattr(getattr(station, "config", None), "roles", None) or {}
    if "accelerator" in named:
        return station.role("accelerator")
    found = station.by_kind("accelerator")
    return found[0] if len(found) == 1 else None


def train_int8_on_station(station: Any, board: Any, loop: str, *, dataset: str, epochs: int, lr: float,
                          seed: int, run_path: str | Path, settings: Mapping[str, Any] | None = None,
                          resume: bool = False, control: LoopControl | None = None,
                          progress: ProgressCallback | None = None) -> LoopResult:
    """:func:`train_int8` on a station's accelerator (what ``hilt train`` runs there): the run
    file records the station and how the run was started, as every training run does, so
    ``hilt resume`` continues it (``resume=True``: from the last checkpoint in ``run_path``).
    ``settings`` sets fields of :class:`Int8Settings` (``per_channel``, ``asymmetric``,
    ``pow2``, ``weight_asymmetric``, ``float_epochs``, ...); other keys are ignored."""

    from .recording import run_context
    from .station import load_dataset, station_run_context

    known = {f.name for f in fields(Int8Settings)}
    given = {k: v for k, v in dict(settings or {}).items() if k in known}
    s = Int8Settings(**{"epochs": epochs, "lr": lr, "seed": seed, **given})
    data = load_dataset(dataset, seed)
    started = {"loop": loop, "instrument": None, "dataset": dataset, "seed": seed, "dat_mode": None}
    context = station_run_context(station, started, run_path=run_path, resume=resume)
    Path(run_path).parent.mkdir(parents=True, exist_ok=True)
    # a small CNN: more threads on a shared machine are slower, and the study uses 1
    with torch_threads(1), run_context(**context):
        return train_int8(board, data, loop, s, run_path=str(run_path), resume=resume, control=control,
                          progress=progress)
