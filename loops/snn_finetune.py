"""Fine-tuning a converted spiking network with the neuromorphic board in the forward pass and a
surrogate-gradient twin in the backward pass (physics-aware training of an SNN).

Each step rate-codes a batch (one raster, from a seeded generator), runs it on the board through
the driver (the network loaded first if its integers changed: the weights are quantised to the
board's integers on every upload) and reads the output spike counts. The loss is the
cross-entropy of those counts read as the ANN's logits (``counts x scale / T``, the converted
network's last activation scale: a count of ``T`` is the ANN's activation ``scale``). Its
gradient comes from the twin, the torch LIF model without mismatch
(:class:`hilt.sims.physics.SpikingLayer`: the same quantised weights, BPTT through the ticks with
the fast-sigmoid surrogate derivative of the spike), run on the same raster::

    counts = counts_twin + (counts_board - counts_twin).detach()

so the loss's value is the board's and its gradient the twin's (:func:`hilt.loops.pat.substitute`,
as the MZI loops do it). ``twin`` mode (``hilt train --loop insilico``) trains on the twin alone
and measures the board only for the test set.

Why not :func:`hilt.loops.core.run_epochs`: it encodes inputs as the photonic processors'
normalised amplitudes (the rate code needs the features in [0, 1]) and checkpoints once an
epoch; a board step is cheap and the network small, so this loop checkpoints every
``checkpoint_every`` steps (and at every epoch's end) and a stopped run resumes at the step after
its last checkpoint. It reuses that module's pieces: :class:`~hilt.loops.core.LoopControl`
(pause, abort), :class:`~hilt.loops.core.Progress`, and its fault policy (a communication fault
retries the step from the state before it, the board's link brought back; a run ending early
leaves the board in its safe state and the run file closed with the reason).

What the run file gets, per step: ``loss`` (the board's), ``epoch``, ``physical_queries``
(samples run on the board, cumulative), ``board_runs`` and ``board_loads`` (cumulative), and a
capture (stream ``batches``) of the first ``capture_samples`` samples of the batch: their features
(``inputs``), the board's (``physical``) and the twin's (``twin``) output spike counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .ann2snn import ConvertedSNN
from .core import LoopAborted, LoopControl, Progress, _end_early, _ending, _FaultPolicy, _StepState
from .data import batch_indices
from .pat import substitute
from .recording import Recorder

__all__ = ["CAPTURE", "OPTIMIZERS", "FinetuneSettings", "FinetuneState", "board_forward", "count_logits", "finetune",
           "finetune_capture_spec", "save_checkpoint"]

#: The capture stream a fine-tuning writes its samples to.
CAPTURE = "batches"
OPTIMIZERS = ("adam", "sgd")


@dataclass
class FinetuneSettings:
    """``epochs`` of fine-tuning (0: none), the ``optimizer`` (``adam``, or ``sgd`` with momentum
    0.9, whose steps shrink with the gradient where Adam's keep their size) and its ``lr`` on the
    weights (model units: a
    neuron's threshold is 1), ``batch_size``; ``probe_hidden``: the twin's layers fed the board's
    hidden spikes (:func:`board_forward`; one board run per layer a step); ``n_train`` training
    samples used (0: all);
    ``checkpoint_every`` steps (and every epoch's end); ``capture_samples`` per step;
    ``max_retries`` of a step after a communication fault, after ``retry_backoff_s`` doubled each
    time up to ``retry_backoff_max_s``."""

    epochs: int = 3
    lr: float = 0.002
    probe_hidden: bool = False
    optimizer: str = "adam"
    batch_size: int = 64
    n_train: int = 0
    checkpoint_every: int = 5
    capture_samples: int = 4
    max_retries: int = 3
    retry_backoff_s: float = 1.0
    retry_backoff_max_s: float = 30.0
    seed: int = 0


def count_logits(counts: torch.Tensor, snn: ConvertedSNN) -> torch.Tensor:
    """Output spike counts (B, classes) read as the ANN's logits: ``counts x scale / T``."""
    return counts * (snn.scales[-1] / snn.timesteps)


def board_forward(link: Any, twin: ConvertedSNN, events: torch.Tensor, probe_hidden: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The board's output counts (B, n_out) with the twin's surrogate gradient, and the board's
    and the twin's counts themselves (detached), for the input raster ``events`` (T, B, n_in).

    ``link``: a :class:`hilt.loops.snn_board.BoardSNN` (it loads the network if its integers
    changed, and counts the board's runs); ``twin`` shares the link's weights.
    ``probe_hidden``: also read every hidden layer's spikes from the board (one more run per
    hidden layer) and feed each twin layer the board's spikes from the layer below, so that
    every layer's gradient is taken where the board's neurons are, not where the twin's would be
    (the twin's counts are then its last layer's on the board's hidden spikes)."""
    if not probe_hidden:
        board = link.run(events).sum(0)
        twin_counts = twin(events).sum(0)
        return substitute(twin_counts, board), board, twin_counts.detach()
    h = events
    n = len(twin.layers)
    for k, layer in enumerate(twin.layers):
        measured = link.run(events, layer=None if k == n - 1 else k)
        out = layer(twin.augment(h))
        h = substitute(out, measured)
    board = measured.sum(0)
    return h.sum(0), board, out.detach().sum(0)


def finetune_capture_spec(n_in: int, n_out: int) -> Any:
    """Capture stream of a fine-tuning step: features (n_in,), board and twin counts (n_out,)."""
    from hilt.runfile.layout import CaptureSpec

    return CaptureSpec(input_shape=(n_in,), physical_shape=(n_out,), twin_shape=(n_out,),
                       physical_unit="spikes", twin_unit="spikes")


@dataclass
class FinetuneState:
    """Where a fine-tuning stands: ``step`` (the next step's number in the run file), the next
    ``epoch`` (its number in the run's epoch table is ``epoch_offset + epoch``) and ``batch``,
    the shuffling generator's state at that epoch's start, the encoder's, ``history`` (the run's
    epoch rows so far) and the board ``cost`` so far."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    epoch_offset: int = 0
    shuffle: torch.Tensor | None = None
    encode: torch.Tensor | None = None
    losses: list[float] | None = None


def save_checkpoint(rec: Recorder, snn: ConvertedSNN, opt: torch.optim.Optimizer | None, st: FinetuneState,
                    history: list[dict[str, float]], cost: dict[str, int], encoder: torch.Generator | None) -> None:
    """A checkpoint of the run at ``st`` (the weights, Adam's state, the generators, the history
    and board cost so far); step ``st.step - 1``, the last one done."""
    rng = {"torch": torch.get_rng_state()}
    if st.shuffle is not None:
        rng["shuffle"] = st.shuffle
    if encoder is not None:
        rng["encode"] = encoder.get_state()
    rec.save_checkpoint(max(st.step - 1, 0), {"snn": snn.state_dict()}, {} if opt is None else {"opt": opt.state_dict()},
                        rng, {"step": st.step, "epoch": st.epoch, "batch": st.batch, "epoch_offset": st.epoch_offset,
                              "losses": list(st.losses or []), "history": history, "cost": cost,
                              "scales": list(snn.scales)})


def finetune(link: Any, snn: ConvertedSNN, x_train: np.ndarray, y_train: np.ndarray,
             settings: FinetuneSettings, rec: Recorder, *, evaluate: Callable[[], dict[str, float]],
             history: list[dict[str, float]], state: FinetuneState, mode: str = "board",
             optimizer_state: dict[str, Any] | None = None,
             control: LoopControl | None = None, progress: Callable[[Progress], None] | None = None
             ) -> tuple[bool, str]:
    """Fine-tune ``snn`` (its weights, in place) for ``settings.epochs`` epochs from ``state``;
    returns (aborted, reason).

    ``link`` runs ``snn`` on the board (:func:`hilt.loops.snn_board.deploy`); ``mode``
    ``board`` (the board's counts forward, the twin's gradient) or ``twin`` (the twin alone).
    ``evaluate()`` measures the test set at every epoch's end (a dict of epoch scalars, appended
    to ``history`` and logged). ``rec`` is the open run file.
    A communication fault retries the step (:class:`~hilt.loops.core.LoopControl`'s wait); an
    abort returns (True, reason) after the board's safe state and the run file closed; any other
    error does the same and is raised. On completion the run file is left open."""
    if mode not in ("board", "twin"):
        raise ValueError(f"mode {mode!r}: board or twin")
    if settings.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {settings.optimizer!r}: {' or '.join(OPTIMIZERS)}")
    s = settings
    t0 = time.perf_counter()
    twin = snn.twin()
    params = [la.weight for la in snn.layers]  # type: ignore[attr-defined]
    opt = torch.optim.Adam(params, lr=s.lr) if s.optimizer == "adam" else torch.optim.SGD(params, lr=s.lr,
                                                                                          momentum=0.9)
    if optimizer_state is not None:
        opt.load_state_dict(optimizer_state)
    shuffle = torch.Generator().manual_seed(int(s.seed))
    encoder = torch.Generator().manual_seed(int(s.seed) + 1)
    if state.shuffle is not None:
        shuffle.set_state(state.shuffle)
    if state.encode is not None:
        encoder.set_state(state.encode)
    policy = _FaultPolicy(s, rec, link, control)  # type: ignore[arg-type]
    step_state = _StepState(snn, {}, {"opt": opt}, {"encode": encoder})
    n = len(y_train) if not s.n_train else min(int(s.n_train), len(y_train))
    x_all = torch.as_tensor(np.asarray(x_train[:n], dtype=np.float32))
    y_all = torch.as_tensor(np.asarray(y_train[:n])).long()
    n_batches = (n + s.batch_size - 1) // s.batch_size
    k = max(0, int(s.capture_samples))

    def step_fn(x: torch.Tensor, y: torch.Tensor) -> tuple[float, np.ndarray | None, np.ndarray]:
        opt.zero_grad(set_to_none=True)
        events = snn.encode(x, encoder)  # type: ignore[arg-type]
        if mode == "board":
            counts, board, twin_counts = board_forward(link, twin, events, s.probe_hidden)
        else:
            counts = twin(events).sum(0)
            board, twin_counts = None, counts.detach()
        loss = F.cross_entropy(count_logits(counts, snn), y)
        loss.backward()
        opt.step()
        return float(loss.detach()), None if board is None else board.numpy(), twin_counts.numpy()

    st = state
    epoch_no = st.epoch_offset + st.epoch
    try:
        while st.epoch < s.epochs:
            epoch_no = st.epoch_offset + st.epoch
            st.shuffle = shuffle.get_state()
            batches = batch_indices(n, s.batch_size, shuffle)
            losses = list(st.losses or []) if st.batch else []
            for b in range(st.batch, len(batches)):
                idx = batches[b]
                if control is not None:
                    control.checkpoint()
                loss, board, twin_counts = policy.call(lambda idx=idx: step_fn(x_all[idx], y_all[idx]),
                                                       step=st.step, epoch=epoch_no,
                                                       state=step_state if mode == "board" else None)
                losses.append(loss)
                cost = link.cost
                rec.log(st.step, loss=loss, epoch=epoch_no, physical_queries=cost.samples,
                        board_runs=cost.runs, board_loads=cost.loads)
                if k:
                    rec.capture(CAPTURE, step=st.step, epoch=epoch_no, sample_idx=idx[:k].numpy(),
                                inputs=x_all[idx[:k]].numpy(), twin=twin_counts[:k].astype(np.float32),
                                physical=None if board is None else board[:k].astype(np.float32))
                st.step, st.batch, st.losses = st.step + 1, b + 1, losses
                if s.checkpoint_every and (b + 1) % s.checkpoint_every == 0 and b + 1 < len(batches):
                    save_checkpoint(rec, snn, opt, st, history, cost.as_dict(), encoder)
                    rec.flush()
                if progress is not None:
                    outputs = {"twin": twin_counts[:max(1, k)]}
                    if board is not None:
                        outputs["physical"] = board[:max(1, k)]
                    progress(Progress(f"snn-{mode}", st.epoch, s.epochs, b, n_batches, st.step - 1, loss,
                                      cost.samples, time.perf_counter() - t0, outputs=outputs))
            row = {"epoch": float(epoch_no), **policy.call(evaluate, step=-1, epoch=epoch_no),
                   "loss_mean": float(np.mean(losses)) if losses else float("nan")}
            history.append(row)
            rec.log_epoch(epoch_no, st.step - 1, **{k_: v for k_, v in row.items() if k_ != "epoch"})
            st.epoch, st.batch, st.losses = st.epoch + 1, 0, []
            st.shuffle = shuffle.get_state()
            save_checkpoint(rec, snn, opt, st, history, link.cost.as_dict(), encoder)
            rec.flush()
            if progress is not None:
                progress(Progress(f"snn-{mode}", st.epoch - 1, s.epochs, n_batches - 1, n_batches, st.step - 1,
                                  row["loss_mean"], link.cost.samples, time.perf_counter() - t0, True, row))
    except LoopAborted:
        return True, _end_early(link, rec, policy, "aborted", "aborted by the operator", None, st.step, epoch_no)
    except BaseException as exc:
        status, why = _ending(exc, policy)
        _end_early(link, rec, policy, status, why, exc, st.step, epoch_no)
        raise
    return False, ""
