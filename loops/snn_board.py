"""A converted spiking network deployed on a neuromorphic board, and its ANN-to-SNN calibration
with the board in the loop.

:func:`deploy` returns a :class:`~hilt.loops.ann2snn.ConvertedSNN` whose layers are
:class:`BoardLayer`: the same weights (the torch parameters the calibration edits), but a forward
pass that loads the whole network on the board (only when its integers changed) and runs the
calibration raster through it, reading back the probed layer's spikes
(``board.run(events, layer=k)``). :func:`hilt.loops.ann2snn.calibrate_layerwise` then measures
the board instead of the torch chip model, unchanged: its ``measure`` is one board run with one
layer probed, and its gradient still comes from the error-free twin (``snn.twin()``).

A layer above the first is fed on the board by the layers below it, not by the raster the
calibration hands it; the two are the same spikes as long as the lower layers are as last
measured, which the sequential calibration guarantees (it measures layer ``k - 1`` last before it
moves to layer ``k``). :class:`BoardLayer` checks that and refuses otherwise.

:class:`BoardCost` counts what the board was asked: network loads, runs, samples, ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hilt.instruments.snn_network import from_torch
from hilt.sims.physics import SpikingLayer
from hilt.snn_model import encode_network

from .ann2snn import ConvertedSNN

__all__ = ["BoardCost", "BoardLayer", "BoardSNN", "board_accuracy", "board_predict", "deploy"]


@dataclass
class BoardCost:
    """Board queries: ``loads`` (networks sent), ``runs`` (run calls), ``samples`` and ``ticks``
    (samples x steps) run."""

    loads: int = 0
    runs: int = 0
    samples: int = 0
    ticks: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"loads": self.loads, "runs": self.runs, "samples": self.samples, "ticks": self.ticks}


class BoardSNN:
    """The link between a converted network's torch weights and the board that runs them."""

    def __init__(self, board: Any, snn: ConvertedSNN) -> None:
        self.board = board
        self.snn = snn
        self.cost = BoardCost()
        self._loaded: bytes | None = None
        self._input: torch.Tensor | None = None  # the network input of the last layer-0 run
        self._last: dict[int, torch.Tensor] = {}  # layer -> its last measured raster

    def sync(self) -> None:
        """Load the network if its integers differ from what the board holds."""
        net = from_torch(self.snn)
        payload = encode_network(net)
        if payload != self._loaded:
            self.board.load(net)
            self._loaded = payload
            self.cost.loads += 1

    def run(self, events: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """The board's spikes (T, B, n) of ``layer`` (default the output) for input ``events``."""
        self.sync()
        x = events.detach().numpy()
        spikes, _ = self.board.run(x.astype(np.uint8), layer=layer)
        self.cost.runs += 1
        self.cost.samples += x.shape[1]
        self.cost.ticks += x.shape[0] * x.shape[1]
        return torch.as_tensor(spikes, dtype=torch.float32)

    def measure(self, index: int, x_in: torch.Tensor) -> torch.Tensor:
        """What layer ``index`` gives for its input raster ``x_in`` (aux lines included)."""
        spikes_in = x_in[..., :-2]  # the always-on and tick-0 lines are the board's bias and v_init
        if index == 0:
            self._input = spikes_in.detach().clone()
        else:
            below = self._last.get(index - 1)
            if self._input is None or below is None or not torch.equal(below, spikes_in):
                raise RuntimeError(f"layer {index} measured with an input the board's layer {index - 1} "
                                   "did not give last: calibrate the layers in order")
        out = self.run(self._input, layer=index)
        self._last[index] = out
        return out


class BoardLayer(SpikingLayer):
    """A layer of a deployed network: its weights are the torch layer's, its forward the board's."""

    def __init__(self, layer: SpikingLayer, index: int, link: BoardSNN) -> None:
        super().__init__(layer.n_in, layer.n_out, layer.threshold, layer.leak, layer.refractory,
                         layer.weight_bits, layer.reset, layer.surrogate_slope)
        self.weight = layer.weight  # shared: calibrating this layer edits the deployed weights
        self.index = index
        self._link = [link]  # in a list: not a submodule

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return self._link[0].measure(self.index, spikes)


def deploy(board: Any, snn: ConvertedSNN) -> tuple[ConvertedSNN, BoardSNN]:
    """``snn`` on ``board``: a ConvertedSNN sharing ``snn``'s weights whose layers run on the
    board (for :func:`~hilt.loops.ann2snn.calibrate_layerwise`), and the link (its ``cost``)."""
    link = BoardSNN(board, snn)
    layers = [BoardLayer(la, i, link) for i, la in enumerate(snn.layers)]  # type: ignore[arg-type]
    on_board = ConvertedSNN(layers, snn.scales, snn.timesteps, snn.encode_seed)
    link.snn = on_board
    return on_board, link


def board_predict(link: BoardSNN, x: np.ndarray, seed: int = 1) -> np.ndarray:
    """Classes read from the board's output spikes for inputs ``x`` (rate-coded with ``seed``):
    most spikes, ties to the class that fired first (the readout of
    :meth:`~hilt.loops.ann2snn.ConvertedSNN.predict`)."""
    r = link.run(link.snn.encode(x, seed))
    steps = r.shape[0]
    ticks = torch.arange(steps, dtype=torch.float32).view(steps, 1, 1)
    first = torch.where(r > 0, ticks, torch.full_like(ticks, float(steps))).amin(0)
    return (r.sum(0) * (steps + 1) + (steps - first)).argmax(-1).numpy()


def board_accuracy(link: BoardSNN, x: np.ndarray, y: np.ndarray, seed: int = 1) -> float:
    return float((board_predict(link, x, seed) == np.asarray(y)).mean())


# -- on a station (what ``hilt train`` runs on a neuromorphic board) ------------------------------
@dataclass
class SnnBoardSettings:
    """``timesteps`` of the rate code; ``mode`` of the calibration (``bias`` or
    ``bias+weights``); ``n_calib`` training samples it measures; ``steps`` weight steps;
    ``ann_epochs`` of the ANN's training."""

    timesteps: int = 32
    mode: str = "bias+weights"
    n_calib: int = 256
    steps: int = 30
    ann_epochs: int = 150
    seed: int = 0


def station_neuromorphic(station: Any) -> Any | None:
    """The station's neuromorphic board (its ``neuromorphic`` role, else its only instrument of
    the kind), or None."""
    named = getattr(getattr(station, "config", None), "roles", None) or {}
    if "neuromorphic" in named:
        return station.role("neuromorphic")
    found = station.by_kind("neuromorphic_board")
    return found[0] if len(found) == 1 else None


def train_snn(board: Any, data: Any, loop: str, settings: SnnBoardSettings, *, run_path: str | None = None,
              progress: Any = None) -> Any:
    """A digits ANN converted to a spiking network and deployed on ``board``. ``loop``:
    ``insilico`` (the conversion alone, as deployed) or ``insitu`` (then the layer-wise
    calibration with the board in the loop). The run file holds each board measurement's rate
    error (step scalars) and the ANN's, the twin's and the board's test accuracy before and after
    (epoch 0: deployed, epoch 1: calibrated)."""
    import time
    from dataclasses import asdict

    from hilt.errors import ConfigError

    from .ann2snn import ann_accuracy, calibrate_layerwise, convert, snn_accuracy, train_ann
    from .core import LoopResult
    from .recording import Recorder

    if loop not in ("insilico", "insitu"):
        raise ConfigError(f"loop {loop!r} on a neuromorphic board: insilico (the converted network as "
                          "deployed) or insitu (calibrated layer by layer with the board in the loop)")
    if settings.mode not in ("bias", "bias+weights"):
        raise ConfigError(f"mode {settings.mode!r}: bias or bias+weights")
    t0 = time.perf_counter()
    s = settings
    ann = train_ann(data.x_train, data.y_train, epochs=s.ann_epochs, seed=s.seed)
    snn = convert(ann, data.x_train, timesteps=s.timesteps)
    deployed, link = deploy(board, snn)
    rec = Recorder.open(run_path, scalars={"rate_rmse": "1", "layer": "1", "physical_queries": "1"},
                        epoch_scalars={"test_accuracy": "1", "twin_accuracy": "1", "ann_accuracy": "1",
                                       "physical_queries": "1"},
                        config={"method": f"snn-{loop}", "settings": asdict(s), "dataset": data.name,
                                "board": dict(board.limits.as_dict())}, seeds={"seed": int(s.seed)})
    status, history, step = "failed", [], 0
    try:
        ann_acc = ann_accuracy(ann, data.x_test, data.y_test)
        twin_acc = snn_accuracy(snn, data.x_test, data.y_test)

        def epoch(e: int) -> dict[str, float]:
            row = {"epoch": float(e), "test_accuracy": board_accuracy(link, data.x_test, data.y_test),
                   "twin_accuracy": twin_acc, "ann_accuracy": ann_acc, "physical_queries": float(link.cost.samples)}
            rec.log_epoch(e, max(step - 1, 0), **{k: v for k, v in row.items() if k != "epoch"})
            rec.flush()
            history.append(row)
            return row

        start = epoch(0)
        if loop == "insitu":
            def measured(p: Any) -> None:
                nonlocal step
                rec.log(step, rate_rmse=p.loss, layer=p.epoch, physical_queries=link.cost.samples)
                step += 1
                if progress is not None:
                    progress(p)

            calibrate_layerwise(ann, deployed, data.x_train[:s.n_calib], mode=s.mode, steps=s.steps,
                                seed=s.seed, progress=measured)
            epoch(1)
        status = "completed"
    finally:
        if status != "completed":
            board.safe_state()
        rec.close(status, "" if status == "completed" else "the run stopped on an error")
    final = history[-1]
    return LoopResult(f"snn-{loop}", final["test_accuracy"], final["twin_accuracy"], link.cost.samples,
                      link.cost.runs, time.perf_counter() - t0, history,
                      {k: v.detach().clone() for k, v in snn.state_dict().items()},
                      None if rec.path is None else str(rec.path),
                      extra={"start_accuracy": start["test_accuracy"], "ann_accuracy": ann_acc,
                             "board_cost": link.cost.as_dict()})


def train_snn_on_station(station: Any, board: Any, loop: str, *, dataset: str, seed: int, run_path: Any,
                         settings: Any = None, progress: Any = None) -> Any:
    """:func:`train_snn` on a station's neuromorphic board, its run file recording the station.
    ``settings`` sets fields of :class:`SnnBoardSettings`."""
    from dataclasses import fields
    from pathlib import Path

    from hilt.errors import ConfigError

    from .recording import run_context
    from .station import load_dataset, station_run_context

    if dataset != "digits":
        raise ConfigError(f"dataset {dataset!r}: the neuromorphic board's study runs on digits")
    known = {f.name for f in fields(SnnBoardSettings)}
    given = dict(settings or {})
    unknown = sorted(set(given) - known - {"epochs", "lr", "batch_size"})
    if unknown:
        raise ConfigError(f"settings: unknown for a neuromorphic board: {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    s = SnnBoardSettings(**{"seed": seed, **{k: v for k, v in given.items() if k in known}})
    data = load_dataset(dataset, seed)
    started = {"loop": loop, "instrument": None, "dataset": dataset, "seed": seed, "dat_mode": None}
    context = station_run_context(station, started)
    Path(run_path).parent.mkdir(parents=True, exist_ok=True)
    with run_context(**context):
        return train_snn(board, data, loop, s, run_path=str(run_path), progress=progress)
