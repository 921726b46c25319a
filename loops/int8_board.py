"""Deploying a small CNN to an int8 accelerator, and quantisation-aware training with the board in
the forward pass.

The network (digits, 8x8): conv 1->8 (3x3, padding 1), ReLU, max-pool 2, dense 128->32, ReLU,
dense 32->10. Post-training quantisation (:func:`quantise`) turns it into the board's model
(docs/protocols/board.md) under a :class:`Scheme`: per-channel or per-tensor weight scales,
symmetric or asymmetric activations (zero points), free or power-of-two scales, and the board's
own rounding and accumulator width (its IDENTIFY reply). Three answers for the same inputs:

* ``float``: the trained float network;
* ``twin``: the fake-quantised twin (:class:`FakeQuantCNN`): every weight and activation rounded
  to its int8 grid in float arithmetic (round half to even, float requantisation, no
  accumulator), what quantisation-aware training in a framework models;
* ``board``: the board's int8 results through the driver (:class:`hilt.instruments.int8_deploy`
  machinery), with its rounding, saturation, accumulator and requantiser.

Loops (``hilt train <station> --loop ...`` on a station with an ``accelerator``):

* ``insilico``: quantisation-aware training on the twin only, then deployed;
* ``insitu``: quantisation-aware training whose forward pass runs on the board: each step
  quantises the current weights, loads the model on the board and runs the batch there; the
  loss is taken on the board's outputs and its gradient goes back through the twin
  (``twin + (board - twin).detach()``, as physics-aware training does).

Both start from a float network trained on the task (:func:`train_float`), write a run file
(per-step loss and physical queries, per-epoch float/twin/board accuracy, captures of the
board's and the twin's logits), and checkpoint every epoch; ``hilt resume`` is not supported
for them (a stopped run starts again).
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
from hilt.sims.physics.int8 import quantize_multiplier

from .core import LoopResult
from .data import Dataset
from .recording import Recorder

SHAPE = (1, 8, 8)


@dataclass(frozen=True)
class Scheme:
    """How a network is quantised for a board."""

    per_channel: bool = True  # weight scales per output channel (else one per layer)
    asymmetric: bool = False  # activations use the full int8 range with a zero point
    pow2: bool = False  # every scale a power of two (a board with shift-only requantisers)

    @property
    def name(self) -> str:
        return "/".join(("per-channel" if self.per_channel else "per-tensor",
                         "asymmetric" if self.asymmetric else "symmetric",
                         "pow2" if self.pow2 else "free scales"))


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


def activation_grid(t_min: float, t_max: float, scheme: Scheme) -> tuple[float, int]:
    """(scale, zero point) of an activation tensor spanning [t_min, t_max]."""
    t_min, t_max = min(t_min, 0.0), max(t_max, 1e-8)
    if scheme.asymmetric:
        s = (t_max - t_min) / 255.0
        if scheme.pow2:
            s = float(_pow2_up(torch.tensor(s)))
        z = int(np.clip(round(-128 - t_min / s), -128, 127))
    else:
        s = max(abs(t_min), t_max) / 127.0
        if scheme.pow2:
            s = float(_pow2_up(torch.tensor(s)))
        z = 0
    return float(s), z


def weight_scales(w: torch.Tensor, scheme: Scheme) -> torch.Tensor:
    """Symmetric weight scales, (out,) per channel or (1,) per tensor."""
    m = w.detach().flatten(1).abs().amax(1) if scheme.per_channel else w.detach().abs().max().reshape(1)
    s = (m / 127.0).clamp_min(1e-12)
    return _pow2_up(s) if scheme.pow2 else s


def calibrate(net: FloatCNN, x: torch.Tensor, scheme: Scheme) -> list[tuple[float, int]]:
    """(scale, zero point) of the input, conv, fc1 and logit tensors, from ``x``."""
    with torch.no_grad():
        feats = net.features(x)
    return [activation_grid(float(t.min()), float(t.max()), scheme) for t in feats]


# -- the twin -------------------------------------------------------------------------------------------
def _fake(t: torch.Tensor, s: float, z: int, low: int = -128) -> torch.Tensor:
    q = t / s + z
    q = q + (torch.round(q) - q).detach()  # round half to even, straight-through gradient
    return (q.clamp(low, 127) - z) * s


def _fake_w(w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    sv = s.view(-1, *([1] * (w.dim() - 1))) if s.numel() > 1 else s
    q = w / sv
    q = q + (torch.round(q) - q).detach()
    return q.clamp(-127, 127) * sv


class FakeQuantCNN(nn.Module):
    """The fake-quantised twin of a :class:`FloatCNN` (shares its parameters)."""

    def __init__(self, net: FloatCNN, grids: list[tuple[float, int]], scheme: Scheme) -> None:
        super().__init__()
        self.net, self.grids, self.scheme = net, grids, scheme

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, (s0, z0), (s1, z1), (s2, z2), (s3, z3) = self.net, *self.grids
        sc = self.scheme
        x = _fake(x, s0, z0)
        a = _fake(F.relu(F.conv2d(x, _fake_w(n.conv.weight, weight_scales(n.conv.weight, sc)), n.conv.bias,
                                  padding=1)), s1, z1)
        a = F.max_pool2d(a, 2).flatten(1)
        b = _fake(F.relu(F.linear(a, _fake_w(n.fc1.weight, weight_scales(n.fc1.weight, sc)), n.fc1.bias)), s2, z2)
        return _fake(F.linear(b, _fake_w(n.fc2.weight, weight_scales(n.fc2.weight, sc)), n.fc2.bias), s3, z3)


# -- the board's model ------------------------------------------------------------------------------------
def _layer(kind: str, w: torch.Tensor, b: torch.Tensor, s_in: float, s_out: float, z_out: int, relu: bool,
           scheme: Scheme, **geometry: int) -> Layer:
    sw = weight_scales(w, scheme).double()
    wq = torch.round(w.detach().double() / sw.view(-1, *([1] * (w.dim() - 1)))).clamp(-127, 127)
    bias = torch.round(b.detach().double() / (s_in * sw)).clamp(-2**31, 2**31 - 1)
    real = (s_in * sw / s_out).tolist()
    n_out = w.shape[0]
    if scheme.pow2:
        shift = np.array([round(-math.log2(r)) for r in real], np.int64)
        mult = None
    else:
        pairs = [quantize_multiplier(r) for r in real]
        mult = np.array([m for m, _ in pairs], np.int64)
        shift = np.array([s for _, s in pairs], np.int64)
    return Layer(kind, out_zero_point=z_out, relu=relu, pow2=scheme.pow2, weight=wq.numpy().astype(np.int8),
                 weight_zero_point=np.zeros(n_out if scheme.per_channel else 1, np.int8),
                 bias=bias.numpy().astype(np.int64),
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
        self._crc: int | None = None
        self.grids: list[tuple[float, int]] = []

    def load(self, net: FloatCNN, grids: list[tuple[float, int]]) -> None:
        model = quantise(net, grids, self.scheme, rounding=str(self.board.limits["rounding"]),
                         acc_bits=int(self.board.limits["acc_bits"]))
        self.board.load_model(model)
        self.loads += 1
        self.grids = grids

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (s0, z0), *_, (s3, z3) = self.grids
        q = torch.clamp(torch.round(x / s0) + z0, -128, 127).to(torch.int8).reshape(len(x), -1).numpy()
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
             x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Test accuracy of the float network, the twin and (with ``board``) the board."""
    with torch.no_grad():
        out = {"float_accuracy": accuracy(net(x), y),
               "twin_accuracy": accuracy(FakeQuantCNN(net, grids, scheme)(x), y)}
        if board is not None:
            board.load(net, grids)
            out["test_accuracy"] = accuracy(board(x), y)
    return out


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
    capture_samples: int = 8


def train_int8(board: Any, data: Dataset, loop: str, settings: Int8Settings, *, run_path: str | None = None
               ) -> LoopResult:
    """QAT of the digits CNN for ``board`` (``loop``: ``insilico`` or ``insitu``); see the module."""
    if loop not in ("insilico", "insitu"):
        raise ConfigError(f"loop {loop!r} on an accelerator: insilico (twin only, then deployed) or insitu "
                          "(the board in the forward pass)")
    t0 = time.perf_counter()
    s = settings
    scheme = Scheme(s.per_channel, s.asymmetric, s.pow2)
    x_tr, y_tr, x_te, y_te = images(data)
    net = train_float(data, epochs=s.float_epochs, seed=s.seed)
    grids = calibrate(net, x_tr, scheme)
    fwd = BoardForward(board, scheme)
    rec = Recorder.open(run_path, scalars={"loss": "1", "epoch": "1", "physical_queries": "1"},
                        epoch_scalars={"loss_mean": "1", "physical_queries": "1", "test_accuracy": "1",
                                       "twin_accuracy": "1", "float_accuracy": "1"},
                        captures={"batches": _capture_spec()},
                        config={"method": f"int8-{loop}", "settings": asdict(s), "scheme": scheme.name,
                                "dataset": data.name, "board": {k: (list(v) if isinstance(v, tuple) else v)
                                                                for k, v in board.limits.items()}},
                        seeds={"seed": int(s.seed)})
    start = evaluate(net, scheme, grids, fwd, x_te, y_te)
    history: list[dict[str, float]] = []
    opt = torch.optim.Adam(net.parameters(), lr=s.lr)
    g = torch.Generator().manual_seed(s.seed + 1)
    twin = FakeQuantCNN(net, grids, scheme)
    step, status = 0, "failed"
    try:
        for epoch in range(s.epochs):
            losses = []
            for idx in torch.randperm(len(y_tr), generator=g).split(s.batch_size):
                opt.zero_grad()
                twin_out = twin(x_tr[idx])
                if loop == "insitu":
                    with torch.no_grad():
                        fwd.load(net, grids)
                        measured = fwd(x_tr[idx])
                    out = twin_out + (measured - twin_out).detach()
                else:
                    out, measured = twin_out, None
                loss = F.cross_entropy(out, y_tr[idx])
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                rec.log(step, loss=float(loss.detach()), epoch=epoch, physical_queries=fwd.queries)
                if measured is not None and s.capture_samples:
                    k = s.capture_samples
                    rec.capture("batches", step=step, epoch=epoch, sample_idx=idx[:k].numpy(),
                                inputs=x_tr[idx][:k].reshape(-1, 64).numpy(), physical=measured[:k].numpy(),
                                twin=twin_out[:k].detach().numpy())
                step += 1
            grids = calibrate(net, x_tr, scheme)  # the ranges follow the weights
            twin.grids = grids
            metrics = {"epoch": float(epoch), "loss": float(np.mean(losses)),
                       **evaluate(net, scheme, grids, fwd, x_te, y_te), "physical_queries": float(fwd.queries)}
            history.append(metrics)
            rec.log_epoch(epoch, step - 1, loss_mean=metrics["loss"], physical_queries=fwd.queries,
                          test_accuracy=metrics["test_accuracy"], twin_accuracy=metrics["twin_accuracy"],
                          float_accuracy=metrics["float_accuracy"])
            rec.save_checkpoint(step - 1, {"model": net.state_dict()}, {"opt": opt.state_dict()},
                                {"shuffle": g.get_state()}, {"epoch": epoch, "history": history,
                                                              "queries": fwd.queries, "calls": fwd.loads})
            rec.flush()
        status = "completed"
    finally:
        if status != "completed":
            board.safe_state()
        rec.close(status, "" if status == "completed" else "the run stopped on an error")
    final = history[-1] if history else start
    return LoopResult(f"int8-{loop}", final["test_accuracy"], final["twin_accuracy"], fwd.queries, fwd.loads,
                      time.perf_counter() - t0, history, {k: v.detach().clone() for k, v in net.state_dict().items()},
                      None if rec.path is None else str(rec.path),
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
                          seed: int, run_path: str | Path, settings: Mapping[str, Any] | None = None
                          ) -> LoopResult:
    """:func:`train_int8` on a station's accelerator (what ``hilt train`` runs there): the run
    file records the station as every training run does. ``settings`` sets fields of
    :class:`Int8Settings` (``per_channel``, ``asymmetric``, ``pow2``, ``float_epochs``, ...)."""

    from .recording import run_context
    from .station import load_dataset, station_run_context

    known = {f.name for f in fields(Int8Settings)}
    given = {k: v for k, v in dict(settings or {}).items() if k in known}
    s = Int8Settings(**{"epochs": epochs, "lr": lr, "seed": seed, **given})
    data = load_dataset(dataset, seed)
    started = {"loop": loop, "instrument": None, "dataset": dataset, "seed": seed, "dat_mode": None}
    context = station_run_context(station, started)
    Path(run_path).parent.mkdir(parents=True, exist_ok=True)
    with run_context(**context):
        return train_int8(board, data, loop, s, run_path=str(run_path))
