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

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hilt.instruments.snn_network import from_torch
from hilt.sims.physics import SpikingLayer
from hilt.snn_model import encode_network

from .ann2snn import ConvertedSNN
from .core import LoopControl, LoopResult, torch_threads
from .snn_finetune import OPTIMIZERS, FinetuneSettings

__all__ = ["BoardCost", "BoardLayer", "BoardSNN", "SnnBoardSettings", "board_accuracy", "board_predict", "deploy",
           "train_snn", "train_snn_on_station"]


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

    @property
    def driver(self) -> Any:
        """The board's instrument (what the loops' fault policy reconnects after a dropped link)."""
        return self.board

    def safe_state(self) -> None:
        self.board.safe_state()

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
LOOPS = ("insilico", "insitu")
CALIBRATIONS = ("none", "bias", "bias+weights")


@dataclass
class SnnBoardSettings(FinetuneSettings):
    """The fine-tuning's settings (:class:`~hilt.loops.snn_finetune.FinetuneSettings`: ``epochs``,
    ``lr``, ``batch_size``, ...) and what comes before it: ``timesteps`` of the rate code;
    ``mode`` of the layer-wise calibration on the board before fine-tuning (``none``, ``bias``
    or ``bias+weights``; ``insitu`` only); ``n_calib`` training samples it measures; ``steps``
    of its weight stage; the ANN (``hidden`` neurons) trained for ``ann_epochs``."""

    timesteps: int = 32
    mode: str = "bias+weights"
    n_calib: int = 256
    steps: int = 30
    ann_epochs: int = 150
    hidden: int = 128


def station_neuromorphic(station: Any) -> Any | None:
    """The station's neuromorphic board (its ``neuromorphic`` role, else its only instrument of
    the kind), or None."""
    named = getattr(getattr(station, "config", None), "roles", None) or {}
    if "neuromorphic" in named:
        return station.role("neuromorphic")
    found = station.by_kind("neuromorphic_board")
    return found[0] if len(found) == 1 else None


def _rebuilt(ck: Any, data: Any, s: SnnBoardSettings) -> ConvertedSNN:
    """The network a checkpoint holds: the conversion's structure, the checkpoint's weights and
    activation scales (no ANN training: its results are in the checkpoint's history)."""
    from .ann2snn import convert, train_ann

    skeleton = train_ann(data.x_train[:1], data.y_train[:1], sizes=(data.n_features, s.hidden, data.n_classes),
                         epochs=0, seed=s.seed)
    snn = convert(skeleton, None, timesteps=s.timesteps)
    snn.scales = [float(v) for v in ck.extra["scales"]]
    snn.load_state_dict(ck.model_state["snn"])
    return snn


def train_snn(board: Any, data: Any, loop: str, settings: SnnBoardSettings, *, run_path: str | None = None,
              resume: bool = False, control: LoopControl | None = None, progress: Any = None) -> LoopResult:
    """A digits ANN converted to a spiking network, deployed on ``board`` and trained there.

    ``loop``: ``insilico`` (the conversion, fine-tuned on the surrogate-gradient twin alone for
    ``settings.epochs``, then deployed: ``epochs=0`` is the naive deployment) or ``insitu`` (the
    layer-wise calibration of ``settings.mode`` with the board in the loop, then ``epochs`` of
    fine-tuning with the board's counts forward and the twin's gradient,
    :mod:`hilt.loops.snn_finetune`).

    The run file's epoch table: row 0 the deployed network, row 1 the calibrated one (when a
    calibration ran), then one row per fine-tuning epoch, each with the board's
    (``test_accuracy``), the twin's and the ANN's test accuracy and the samples run on the board
    so far (``physical_queries``, test sets included). Step scalars: each calibration
    measurement's rate error (``rate_rmse``, ``layer``), then each fine-tuning step's loss; both
    with the board's cumulative ``board_runs`` and ``board_loads``. A checkpoint follows the
    calibration and every ``checkpoint_every`` fine-tuning steps; ``resume=True`` continues an
    existing run file from its last one (without one, the run starts again in the same file).
    """
    from hilt.errors import ConfigError

    if loop not in LOOPS:
        raise ConfigError(f"loop {loop!r} on a neuromorphic board: insilico (converted, fine-tuned on the twin, "
                          "deployed) or insitu (calibrated and fine-tuned with the board in the loop)")
    if settings.mode not in CALIBRATIONS:
        raise ConfigError(f"mode {settings.mode!r}: {', '.join(CALIBRATIONS)}")
    if settings.optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer {settings.optimizer!r}: {', '.join(OPTIMIZERS)}")
    with torch_threads(1):  # small matrices: more threads on a shared machine are many times slower
        return _train_snn(board, data, loop, settings, run_path=run_path, resume=resume, control=control,
                          progress=progress)


def _train_snn(board: Any, data: Any, loop: str, settings: SnnBoardSettings, *, run_path: str | None,
               resume: bool, control: LoopControl | None, progress: Any) -> LoopResult:
    from dataclasses import asdict

    from .ann2snn import ann_accuracy, calibrate_layerwise, convert, snn_accuracy, train_ann
    from .core import LoopAborted, _end_early, _ending, _FaultPolicy
    from .recording import Recorder
    from .snn_finetune import (
        CAPTURE,
        FinetuneState,
        finetune,
        finetune_capture_spec,
        save_checkpoint,
    )

    t0 = time.perf_counter()
    s = settings
    rec = Recorder.open(run_path, resume=resume,
                        scalars={"loss": "1", "epoch": "1", "physical_queries": "1", "rate_rmse": "1", "layer": "1",
                                 "board_runs": "1", "board_loads": "1"},
                        epoch_scalars={"test_accuracy": "1", "twin_accuracy": "1", "ann_accuracy": "1",
                                       "physical_queries": "1", "loss_mean": "1"},
                        captures={CAPTURE: finetune_capture_spec(data.n_features, data.n_classes)},
                        config={"method": f"snn-{loop}", "settings": asdict(s), "dataset": data.name,
                                "board": dict(board.limits.as_dict())}, seeds={"seed": int(s.seed)})
    policy = _FaultPolicy(s, rec, board, control)  # type: ignore[arg-type]
    history: list[dict[str, float]] = []
    ck = rec.checkpoint
    step = 0
    try:
        if ck is None:
            ann = train_ann(data.x_train, data.y_train, sizes=(data.n_features, s.hidden, data.n_classes),
                            epochs=s.ann_epochs, seed=s.seed)
            snn = convert(ann, data.x_train, timesteps=s.timesteps)
            deployed, link = deploy(board, snn)
        else:
            ann = None
            snn = _rebuilt(ck, data, s)
            deployed, link = deploy(board, snn)
            for k, v in ck.extra["cost"].items():
                setattr(link.cost, k, int(v))
            history = list(ck.extra["history"])
        ann_acc = history[0]["ann_accuracy"] if history else ann_accuracy(ann, data.x_test, data.y_test)

        def evaluate() -> dict[str, float]:
            return {"test_accuracy": board_accuracy(link, data.x_test, data.y_test),
                    "twin_accuracy": snn_accuracy(deployed.twin(), data.x_test, data.y_test),
                    "ann_accuracy": ann_acc, "physical_queries": float(link.cost.samples)}

        def log_row(e: int, row: dict[str, float]) -> None:
            history.append({"epoch": float(e), **row})
            rec.log_epoch(e, max(step - 1, 0), **row)
            rec.flush()

        if ck is None:
            log_row(0, evaluate())
            if loop == "insitu" and s.mode != "none":
                def measured(p: Any) -> None:
                    nonlocal step
                    rec.log(step, rate_rmse=p.loss, layer=p.epoch, physical_queries=link.cost.samples,
                            board_runs=link.cost.runs, board_loads=link.cost.loads)
                    step += 1
                    if progress is not None:
                        progress(p)
                    if control is not None:
                        control.checkpoint()

                report = calibrate_layerwise(ann, deployed, data.x_train[:s.n_calib], mode=s.mode, steps=s.steps,
                                             seed=s.seed, progress=measured, abort=control)
                if report.aborted:
                    raise LoopAborted()
                log_row(1, evaluate())
            state = FinetuneState(step=step, epoch_offset=len(history))
            if step:  # the calibration's board runs are not repeated by a resumed run
                save_checkpoint(rec, deployed, None, state, history, link.cost.as_dict(), None)
                rec.flush()
            opt_state = None
        else:
            ex = ck.extra
            state = FinetuneState(step=int(ex["step"]), epoch=int(ex["epoch"]), batch=int(ex["batch"]),
                                  epoch_offset=int(ex["epoch_offset"]), shuffle=ck.rng_state.get("shuffle"),
                                  encode=ck.rng_state.get("encode"), losses=list(ex["losses"]))
            if ck.rng_state.get("torch") is not None:
                torch.set_rng_state(ck.rng_state["torch"])
            opt_state = (ck.optim_state or {}).get("opt")
    except LoopAborted:
        _end_early(board, rec, policy, "aborted", "aborted by the operator", None, step, len(history))
        return _result(loop, history, None, rec, t0, aborted=True)
    except BaseException as exc:
        status, why = _ending(exc, policy)
        _end_early(board, rec, policy, status, why, exc, step, len(history))
        raise
    aborted, reason = finetune(link, deployed, data.x_train, data.y_train, s, rec, evaluate=evaluate,
                               history=history, state=state, mode="board" if loop == "insitu" else "twin",
                               optimizer_state=opt_state, control=control, progress=progress)
    if not aborted:
        rec.close("completed")
    return _result(loop, history, link, rec, t0, aborted=aborted, reason=reason, snn=deployed)


def _result(loop: str, history: list[dict[str, float]], link: BoardSNN | None, rec: Any, t0: float, *,
            aborted: bool = False, reason: str = "", snn: ConvertedSNN | None = None) -> LoopResult:
    final = history[-1] if history and not aborted else {}
    cost = link.cost if link is not None else BoardCost()
    return LoopResult(f"snn-{loop}", final.get("test_accuracy", float("nan")),
                      final.get("twin_accuracy", float("nan")), cost.samples, cost.runs, time.perf_counter() - t0,
                      history, {} if snn is None else {k: v.detach().clone() for k, v in snn.state_dict().items()},
                      None if rec.path is None else str(rec.path), aborted,
                      extra={"start_accuracy": history[0]["test_accuracy"] if history else float("nan"),
                             "ann_accuracy": history[0]["ann_accuracy"] if history else float("nan"),
                             "board_cost": cost.as_dict()}, reason=reason or ("aborted by the operator" if aborted else ""))


def train_snn_on_station(station: Any, board: Any, loop: str, *, dataset: str, seed: int, run_path: Any,
                         epochs: int | None = None, lr: float | None = None, settings: Any = None,
                         resume: bool = False, control: LoopControl | None = None, progress: Any = None,
                         progress_bar: bool = False) -> Any:
    """:func:`train_snn` on a station's neuromorphic board, its run file recording the station
    (so ``hilt resume`` can continue it). ``epochs`` and ``lr`` are the fine-tuning's;
    ``settings`` sets any field of :class:`SnnBoardSettings` (and wins over them: a resumed run
    passes what it recorded). ``progress_bar``: a terminal bar counting board measurements and
    fine-tuning steps (``hilt train``)."""
    from dataclasses import fields
    from pathlib import Path

    from hilt.errors import ConfigError

    from .recording import run_context
    from .station import load_dataset, station_run_context

    if dataset != "digits":
        raise ConfigError(f"dataset {dataset!r}: the neuromorphic board's study runs on digits")
    known = {f.name for f in fields(SnnBoardSettings)}
    given = dict(settings or {})
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(f"settings: unknown for a neuromorphic board: {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    base: dict[str, Any] = {"seed": seed}
    if epochs is not None:
        base["epochs"] = int(epochs)
    if lr is not None:
        base["lr"] = float(lr)
    s = SnnBoardSettings(**{**base, **given})
    data = load_dataset(dataset, seed)
    started = {"loop": loop, "instrument": None, "dataset": dataset, "seed": seed, "dat_mode": None}
    context = station_run_context(station, started, run_path=run_path, resume=resume)
    Path(run_path).parent.mkdir(parents=True, exist_ok=True)
    bar = None
    if progress_bar:
        from hilt.progress_bar import progress_bar

        bar = progress_bar(desc=f"snn-{loop}", unit=" step", leave=False)
        inner = progress

        def progress(p: Any) -> None:  # one tick per board measurement or fine-tuning step
            if not p.end_of_epoch:
                bar.update(1)
                bar.set_postfix(stage=p.method, loss=f"{p.loss:.3g}")
            if inner is not None:
                inner(p)
    try:
        with run_context(**context):
            return train_snn(board, data, loop, s, run_path=str(run_path), resume=resume, control=control,
                             progress=progress)
    finally:
        if bar is not None:
            bar.close()
