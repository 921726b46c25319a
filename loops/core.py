"""What every training loop shares: settings, the model (twin + head), control (pause / resume /
abort), progress reports, evaluation on twin and hardware, and the epoch driver that
checkpoints every epoch, rides out hardware faults, and resumes bit-exactly from a run file.

A loop is a function of (processor, twin, data, settings) -> :class:`LoopResult` (+ run file);
all randomness comes from generators seeded from ``settings.seed`` and saved in checkpoints, so
a resumed run continues exactly where the uninterrupted one would be.

Faults: when a step (or an evaluation on the hardware) fails with a communication error (a
timeout, a dropped link, a garbled reply, the instrument refusing a command), the run pauses,
records the fault in its run file, waits (``retry_backoff_s``, doubled each time), brings the
link back if it dropped, undoes whatever the failed step had changed and runs the step again;
after ``max_retries`` failed retries it stops. A :class:`~hilt.errors.LimitError` is never
retried: the settings or the model ask for something the hardware must not do. However a run
ends early, the hardware is put in its safe state and the run file is closed with the reason.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from hilt.errors import InstrumentCommunicationError, LimitError
from hilt.instruments.mesh_processor import MeshPhases, MeshProcessor, phases_of
from hilt.interrupts import interrupt_point
from hilt.runfile import status as run_status

from .data import Dataset, amplitude_encode, batch_indices
from .head import DEFAULT_HEAD, ClassifierHead, accuracy, make_head, task_loss
from .recording import Recorder, capture_spec

log = logging.getLogger("hilt.loops")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch on ``n`` threads inside the block, the caller's setting restored after. The loops'
    tensors are small: on a shared two-core machine a second thread waits for the other core at
    every operation (a 4 x 32 x 32 FFT took 26 ms instead of 13 us at load 12), so runs ask for
    one or two (docs/adr/0006-training-loops.md)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class LoopAborted(Exception):
    """Raised inside a loop when its :class:`LoopControl` is aborted."""

    run_status = "aborted"  # what hilt.runfile.status.ending makes of it


class LoopControl:
    """Thread-safe pause / resume / abort for a running loop (a GUI or Ctrl-C handler calls
    these; the loop polls :meth:`checkpoint` before every physical query batch)."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._aborted = threading.Event()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def abort(self) -> None:
        self._aborted.set()
        self._running.set()  # a paused loop must wake up to abort

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def checkpoint(self) -> None:
        """Block while paused; raise :class:`LoopAborted` once aborted (and a Ctrl-C that
        Python swallowed, see :mod:`hilt.interrupts`)."""
        interrupt_point()
        while not self._running.wait(0.1):
            pass
        if self._aborted.is_set():
            raise LoopAborted()

    def wait(self, seconds: float) -> None:
        """Wait ``seconds`` (a back-off after a fault), cut short by :meth:`abort`."""
        if self._aborted.wait(max(0.0, seconds)):
            raise LoopAborted()


@dataclass
class Progress:
    """One progress report (after every batch and at the end of every epoch)."""

    method: str
    epoch: int
    epochs: int
    batch: int
    batches: int
    step: int
    loss: float
    physical_queries: int
    elapsed_s: float
    end_of_epoch: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    #: The batch's outputs when the step measured them (``physical`` and/or ``twin``, the first
    #: ``capture_samples`` rows, as the run file records them), so a live view can show them
    #: without reading the file; None at the end of an epoch and for a step that returned none.
    outputs: dict[str, np.ndarray] | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass
class TrainSettings:
    """Settings shared by all loops (method-specific ones extend this)."""

    epochs: int = 5
    batch_size: int = 32
    lr: float = 0.01  # Adam step on the phases (rad)
    head_lr: float = 0.05  # 0: the head (read-out ports, temperature) stays as loaded
    # The read-out by name (hilt.loops.head.HEADS): "dat-l2", the DAT benchmark's intensities
    # over all ports L2-normalised, no parameter; "sum-norm-temperature", the class ports
    # normalised by their sum times a learned temperature (hilt before issue 16).
    head: str = DEFAULT_HEAD
    lr_decay: float = 1.0  # every learning rate x this after each epoch (kept in checkpoints)
    seed: int = 0
    input_power: float = 1.0  # optical power of one encoded sample (arb. units)
    eval_every_epoch: bool = True
    # Measure the untrained model on the hardware first (fresh runs): LoopResult.extra
    # ["start_accuracy"], so a run shows what training won (hilt train).
    eval_at_start: bool = False
    eval_batch: int = 4096
    capture_every: int = 1  # record a capture every this many batches (0: never)
    capture_samples: int = 8  # rows of each captured batch
    twin_method: str = "columns"  # MZIMesh forward path for training ("columns" or "matrix")
    progress_bar: bool = False
    # A communication fault in a step: retry the step this many times (each after a back-off
    # and, if the link dropped, a reconnect) before aborting the run to the safe state.
    max_retries: int = 3
    retry_backoff_s: float = 1.0  # wait before the first retry; doubled for each further one
    retry_backoff_max_s: float = 30.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class LoopResult:
    method: str
    accuracy: float  # on the physical system (test set), fraction
    twin_accuracy: float  # the twin's own prediction (test set)
    physical_queries: int  # samples sent to the hardware while training
    physical_calls: int
    seconds: float
    history: list[dict[str, float]]
    model_state: dict[str, Any]
    run_path: str | None = None
    aborted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    faults: int = 0  # communication faults met (and ridden out) during the run
    reason: str = ""  # why the run ended early (empty when it completed)

    def summary(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "twin_accuracy": self.twin_accuracy,
                "physical_queries": self.physical_queries, "seconds": round(self.seconds, 2)}


class PhotonicClassifier(nn.Module):
    """The loop's model: a twin MZI network (its phases are what gets programmed) + a head."""

    def __init__(self, twin: nn.Module, head: ClassifierHead) -> None:
        super().__init__()
        self.twin = twin
        self.head = head

    @property
    def n_ports(self) -> int:
        return int(self.twin.meshes[0].n)

    def phases(self) -> list[MeshPhases]:
        return phases_of(self.twin)

    def phase_parameters(self) -> list[nn.Parameter]:
        return [p for m in self.twin.meshes for p in (m.theta, m.phi, m.out_phase)]

    def forward(self, x: torch.Tensor, method: str = "matrix") -> torch.Tensor:
        """Class scores of the twin for encoded inputs ``x``."""
        return self.head(self.twin(x, method))


def make_model(twin: nn.Module, n_classes: int = 10, head: ClassifierHead | None = None,
               head_name: str = DEFAULT_HEAD) -> PhotonicClassifier:
    """A private copy of ``twin`` (the loop never mutates the caller's network) + a head
    (a copy of ``head``, else the head called ``head_name``, :func:`~.head.make_head`)."""
    twin = copy.deepcopy(twin)
    for p in twin.parameters():
        p.requires_grad_(True)
    n = int(twin.meshes[0].n)
    return PhotonicClassifier(twin, copy.deepcopy(head) if head is not None
                              else make_head(head_name, n, n_classes))


def start_model(twin: nn.Module, data: Dataset, settings: TrainSettings,
                head: ClassifierHead | None = None, init_state: dict[str, Any] | None = None,
                make: Callable[..., nn.Module] = make_model) -> Any:
    """Every loop's first step: seed torch, make the loop's private model, load a start state."""
    torch.manual_seed(settings.seed)
    if make is make_model:
        model = make_model(twin, data.n_classes, head, settings.head)
    else:
        model = make(twin, data.n_classes, head)
    if init_state is not None:
        model.load_state_dict(init_state)
    return model


def encode(data: Dataset, n_ports: int, power: float
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return (amplitude_encode(data.x_train, n_ports, power), torch.as_tensor(data.y_train),
            amplitude_encode(data.x_test, n_ports, power), torch.as_tensor(data.y_test))


def measure(processor: MeshProcessor, x: torch.Tensor, internal: bool = False,
            batch: int = 4096) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run encoded inputs on the hardware (already programmed), in chunks of ``batch``."""
    outs, states = [], []
    for xs in x.split(batch):
        out, st = processor.run(xs.numpy(), internal=internal)
        outs.append(torch.as_tensor(np.asarray(out, dtype=np.float32)))
        states.append([torch.as_tensor(np.asarray(s, dtype=np.float32)) for s in st])
    internal_states = [torch.cat([s[i] for s in states]) for i in range(len(states[0]))] \
        if states and states[0] else []
    return torch.cat(outs), internal_states


def evaluate_physical(processor: MeshProcessor, model: PhotonicClassifier, x: torch.Tensor,
                      y: torch.Tensor, batch: int = 4096) -> float:
    """Program the model's phases and measure the accuracy on the hardware."""
    processor.load_phases(model.phases())
    out, _ = measure(processor, x, batch=batch)
    with torch.no_grad():
        return accuracy(model.head(out), y)


def evaluate_twin(model: PhotonicClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return accuracy(model(x), y)


def _queries(processor: MeshProcessor | None) -> tuple[int, int]:
    if processor is None:
        return 0, 0
    return int(processor.queries.samples), int(processor.queries.calls)


StepFn = Callable[[torch.Tensor, torch.Tensor, int], tuple[dict[str, float], dict[str, Any] | None]]


def recover_processor(processor: Any) -> bool:
    """Bring a processor's link back after a fault, if it dropped; True if it reconnected.

    A processor with its own ``recover()`` does it itself; otherwise the instrument behind it
    (``processor.driver``) is reconnected when it reports ``connected`` False. The instrument's
    settings are not trusted afterwards: the retried step programs every phase again."""
    recover = getattr(processor, "recover", None)
    if callable(recover):
        return bool(recover())
    inst = getattr(processor, "driver", None)
    if inst is None or getattr(inst, "connected", True):
        return False
    if hasattr(inst, "reconnect"):
        inst.reconnect()
    else:  # drivers without reconnect(): a fresh link and the instrument's first words again
        inst.close()
        inst.connect()
    return True


def describe_error(exc: BaseException) -> str:
    """One line for a run file's reason: the error's type, then its text."""
    return run_status.describe(exc)


class _StepState:
    """Everything a training step may change, copied before it runs, so that a step that failed
    half-way (after, say, a predictor update) is retried from exactly where it started: the
    model, extra modules, optimisers (moments and step counts), random generators."""

    def __init__(self, model: nn.Module, modules: Mapping[str, nn.Module],
                 optimizers: Mapping[str, torch.optim.Optimizer],
                 generators: Mapping[str, torch.Generator]) -> None:
        self.model, self.modules = model, modules
        self.optimizers, self.generators = optimizers, generators
        self._saved: dict[str, Any] | None = None

    def save(self) -> None:
        def copy_state(m: nn.Module) -> dict[str, torch.Tensor]:
            return {k: v.detach().clone() for k, v in m.state_dict().items()}

        self._saved = {
            "model": copy_state(self.model),
            "modules": {k: copy_state(m) for k, m in self.modules.items()},
            # deepcopy: state_dict() hands out the live moment tensors, which step() updates
            "optimizers": {k: copy.deepcopy(o.state_dict()) for k, o in self.optimizers.items()},
            "generators": {k: g.get_state() for k, g in self.generators.items()},
            "torch": torch.get_rng_state(),
        }

    def restore(self) -> None:
        saved = self._saved
        assert saved is not None
        self.model.load_state_dict(saved["model"])
        for k, m in self.modules.items():
            m.load_state_dict(saved["modules"][k])
        for k, o in self.optimizers.items():
            # a copy again: load_state_dict adopts the tensors it is given, and a second
            # retry must start from the same saved state
            o.load_state_dict(copy.deepcopy(saved["optimizers"][k]))
        for k, g in self.generators.items():
            g.set_state(saved["generators"][k])
        torch.set_rng_state(saved["torch"])


class _FaultPolicy:
    """Retries a hardware call (a step, an evaluation) through communication faults, recording
    each one, and knows the fault the run finally gave up on."""

    def __init__(self, settings: TrainSettings, rec: Recorder, processor: Any,
                 control: LoopControl | None) -> None:
        self.settings, self.rec, self.processor, self.control = settings, rec, processor, control
        self.faults = 0
        self.gave_up: BaseException | None = None  # the fault the run stopped on
        self.gave_up_after = 0
        self.recorded: set[int] = set()  # ids of errors already in the fault table

    def record(self, error: BaseException, step: int, epoch: int, retry: int,
               outcome: str) -> None:
        self.recorded.add(id(error))
        try:
            self.rec.fault(error, step=step, epoch=epoch, retry=retry, outcome=outcome)
        except Exception as exc:  # the run file failing must not hide the fault
            log.error("could not record a fault in the run file: %s", exc)

    def call(self, fn: Callable[[], Any], *, step: int, epoch: int,
             state: _StepState | None = None) -> Any:
        s = self.settings
        retry = 0
        if state is not None:
            state.save()
        while True:
            try:
                return fn()
            except LimitError:
                raise
            except InstrumentCommunicationError as exc:
                error: BaseException = exc
            while True:  # back off and recover; a fault while recovering counts as a retry
                self.faults += 1
                if retry >= s.max_retries:
                    self.record(error, step, epoch, retry, "aborted")
                    self.gave_up, self.gave_up_after = error, retry
                    if hasattr(error, "add_note"):
                        error.add_note(f"hilt: the run gave up after {retry} retries "
                                       f"(max_retries={s.max_retries})")
                    raise error
                self.record(error, step, epoch, retry, "retried")
                retry += 1
                delay = min(s.retry_backoff_s * 2 ** (retry - 1), s.retry_backoff_max_s)
                log.warning("step %d: %s; retry %d of %d in %.3g s", step,
                            describe_error(error), retry, s.max_retries, delay)
                if self.control is not None:
                    self.control.wait(delay)
                elif delay > 0:
                    time.sleep(delay)
                if state is not None:
                    state.restore()
                try:
                    if recover_processor(self.processor):
                        log.warning("reconnected to the processor")
                except LimitError:
                    raise
                except InstrumentCommunicationError as exc:
                    error = exc
                    continue
                break
            if self.control is not None:
                self.control.checkpoint()


#: What the epoch driver logs every step (name -> unit; "1": dimensionless).
STEP_SCALARS = {"loss": "1", "epoch": "1", "physical_queries": "1"}
#: What it logs at the end of every epoch: the mean of the steps' losses, the cumulative physical
#: queries, and the accuracies on the test set (twin, and hardware when it evaluates on it).
EPOCH_SCALARS = {"loss_mean": "1", "physical_queries": "1", "test_accuracy": "1",
                 "twin_accuracy": "1"}


def _ending(exc: BaseException, policy: _FaultPolicy) -> tuple[str, str]:
    """The status (hilt.runfile.status's one rule) and the one-line reason a run ends with when
    ``exc`` stops it; a limit and a fault say more than the error itself."""
    status, reason = run_status.ending(exc)
    if isinstance(exc, LimitError):
        reason = (f"{describe_error(exc)} (a limit is never retried: check the settings "
                  "and the calibration)")
    elif isinstance(exc, InstrumentCommunicationError):
        where = getattr(exc, "command", None)
        where = f" during {where!r}" if where else ""
        n = policy.gave_up_after if exc is policy.gave_up else 0
        reason = f"{describe_error(exc)}{where}, after {n} retries"
    return status, reason


def _end_early(processor: Any, rec: Recorder, policy: _FaultPolicy, status: str, reason: str,
               error: BaseException | None, step: int, epoch: int) -> str:
    """Safe state, then close the run file with ``status`` and ``reason``, whatever fails.

    With an ``error`` in flight nothing here raises (the caller re-raises the error, with any
    safe-state failure attached as a note); without one (an operator's abort), a safe-state
    failure is raised once the file is closed. Returns the reason as recorded."""
    if error is not None and isinstance(error, (InstrumentCommunicationError, LimitError)) \
            and id(error) not in policy.recorded:
        policy.record(error, step, epoch, 0, "aborted")
    safe_error: BaseException | None = None
    if processor is not None:
        try:
            processor.safe_state()
        except BaseException as exc:  # a second Ctrl-C included: the file still gets closed
            safe_error = exc
            log.error("safe state failed: %s", describe_error(exc))
            policy.record(exc, -1, epoch, 0, "safe_state")
            reason = f"{reason}; the safe state failed too: {describe_error(exc)}"
            if error is not None and hasattr(error, "add_note"):
                error.add_note(f"hilt: the safe state failed too: {describe_error(exc)}")
    try:
        rec.close(status, reason)
    except Exception as exc:
        log.error("could not close the run file: %s", describe_error(exc))
        if error is None and safe_error is None:
            raise
        if error is not None and hasattr(error, "add_note"):
            error.add_note(f"hilt: closing the run file failed: {describe_error(exc)}")
    if error is None and safe_error is not None:
        raise safe_error
    return reason


def _processor_streams(processor: Any) -> dict[str, Any]:
    """Capture streams a processor declares for what it measured besides the readings (the SLM
    bench's camera frames): ``processor.capture_specs()``, if it has one."""
    specs = getattr(processor, "capture_specs", None)
    return dict(specs()) if callable(specs) else {}


def _record_processor(rec: Recorder, processor: Any, *, step: int, epoch: int,
                      sample_idx: np.ndarray | None = None, keep: bool = True) -> None:
    """Into the run file, what the processor measured since the last call
    (``processor.take_frames()``: stream -> capture fields). Rows get ``sample_idx`` when they
    are one per sample of it, else -1 (a retried step, an evaluation: ``step`` -1). A stream
    the run file does not declare (a resumed older file) is left out; ``keep=False`` drops all."""
    take = getattr(processor, "take_frames", None)
    if not callable(take):
        return
    streams = take()
    declared = getattr(rec.writer, "specs", {}) if keep else {}
    for stream, fields in streams.items():
        if stream not in declared:
            continue
        n = len(next(iter(fields.values())))
        idx = sample_idx if sample_idx is not None and len(sample_idx) == n else np.full(n, -1)
        rec.capture(stream, step=step, epoch=epoch, sample_idx=idx, **fields)


def run_epochs(method: str, step_fn: StepFn, *, model: PhotonicClassifier,
               optimizers: Mapping[str, torch.optim.Optimizer], data: Dataset,
               settings: TrainSettings, processor: MeshProcessor | None,
               run_path: str | None = None, resume: bool = False,
               control: LoopControl | None = None, progress: ProgressCallback | None = None,
               modules: Mapping[str, nn.Module] | None = None,
               generators: Mapping[str, torch.Generator] | None = None,
               config: Mapping[str, Any] | None = None, deploy_eval: bool = True,
               step_scalars: Sequence[str] = ()) -> LoopResult:
    """The epoch driver shared by every loop.

    ``step_fn(x, y, step)`` does one training step on an encoded batch and returns scalars to
    log and optionally a capture ``{"inputs", "physical", "twin"}``. Checkpoints (model, extra
    ``modules`` such as DAT's error predictors, optimisers, the shuffling generator and any
    ``generators``) are written at the end of every epoch; with ``resume=True`` and an existing
    run file the loop continues after its last checkpoint. ``step_scalars`` names what else
    ``step_fn`` returns besides ``loss`` (dimensionless), so that the run file declares it.
    The run file gets every step's scalars (:data:`STEP_SCALARS`) in ``/scalars`` and every
    epoch's summary (:data:`EPOCH_SCALARS`) in ``/epochs``.

    A step that fails with a communication fault is retried from the state before it (see the
    module docstring); a run stopped by :meth:`LoopControl.abort` returns with ``aborted``; any
    other early end (faults beyond ``max_retries``, a limit, Ctrl-C, a bug) puts the processor
    in its safe state, closes the run file as ``aborted`` or ``failed`` with the reason, and
    raises the error that ended it.
    """
    t_start = time.perf_counter()
    modules = dict(modules or {})
    gens = {"shuffle": torch.Generator().manual_seed(int(settings.seed)), **(generators or {})}
    n = model.n_ports
    x_tr, y_tr, x_te, y_te = encode(data, n, settings.input_power)
    cfg = {"method": method, "settings": settings.to_dict(), "dataset": data.name,
           "n_train": len(y_tr), "n_test": len(y_te), **(config or {})}
    rec = Recorder.open(run_path, resume=resume,
                        scalars={**STEP_SCALARS, **{k: "1" for k in step_scalars}},
                        epoch_scalars=EPOCH_SCALARS,
                        captures={"batches": capture_spec(n, getattr(model, "n_outputs", None)),
                                  **_processor_streams(processor)},
                        config=cfg,
                        seeds={"seed": int(settings.seed)})
    policy = _FaultPolicy(settings, rec, processor, control)
    state = _StepState(model, modules, optimizers, gens)
    start_epoch, step, history, prior_q, prior_calls = 0, 0, [], 0, 0
    epoch = 0
    train_q, train_calls = prior_q, prior_calls
    bar = None
    aborted = False
    reason = ""
    twin_acc, phys_acc = float("nan"), float("nan")
    extra: dict[str, Any] = {}
    try:
        ck = rec.checkpoint
        if ck is not None:
            model.load_state_dict(ck.model_state["model"])
            for name, m in modules.items():
                m.load_state_dict(ck.model_state[name])
            for name, opt in optimizers.items():
                opt.load_state_dict(ck.optim_state[name])
            for name, g in gens.items():
                g.set_state(ck.rng_state[name])
            start_epoch = int(ck.extra["epoch"]) + 1
            step = int(ck.step) + 1
            history = list(ck.extra["history"])
            prior_q, prior_calls = int(ck.extra["queries"]), int(ck.extra["calls"])
        train_q, train_calls = prior_q, prior_calls
        _record_processor(rec, processor, step=-1, epoch=start_epoch, keep=False)  # not this run's
        prepare = getattr(processor, "prepare", None)
        if callable(prepare):
            # The light may be off (a previous run's safe state, a restarted controller): on,
            # before the first query, with the same fault handling as every step.
            policy.call(prepare, step=step, epoch=start_epoch)
        if settings.eval_at_start and processor is not None and deploy_eval and ck is None:
            extra["start_accuracy"] = policy.call(
                lambda: evaluate_physical(processor, model, x_te, y_te, settings.eval_batch),
                step=-1, epoch=0)
            _record_processor(rec, processor, step=-1, epoch=0)
        n_batches = (len(y_tr) + settings.batch_size - 1) // settings.batch_size
        if settings.progress_bar:
            from hilt.progress_bar import progress_bar

            bar = progress_bar(total=(settings.epochs - start_epoch) * n_batches, desc=method,
                               leave=False)
        for epoch in range(start_epoch, settings.epochs):
            losses = []
            for b, idx in enumerate(batch_indices(len(y_tr), settings.batch_size, gens["shuffle"])):
                if control is not None:
                    control.checkpoint()
                q0, c0 = _queries(processor)
                scalars, cap = policy.call(
                    lambda idx=idx, step=step: step_fn(x_tr[idx], y_tr[idx], step),
                    step=step, epoch=epoch,
                    state=state if processor is not None else None)  # no hardware, no faults
                q1, c1 = _queries(processor)
                _record_processor(rec, processor, step=step, epoch=epoch, sample_idx=idx.numpy())
                train_q += q1 - q0  # failed attempts too: they were made on the hardware
                train_calls += c1 - c0
                losses.append(scalars.get("loss", float("nan")))
                rec.log(step, epoch=epoch, physical_queries=train_q, **scalars)
                if cap is not None and settings.capture_every and step % settings.capture_every == 0:
                    k = settings.capture_samples
                    rec.capture("batches", step=step, epoch=epoch, sample_idx=idx[:k].numpy(),
                                **{f: (None if v is None else np.asarray(v)[:k])
                                   for f, v in cap.items()})
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{losses[-1]:.3f}", queries=train_q,
                                    **({"faults": policy.faults} if policy.faults else {}))
                if progress is not None:
                    outputs = None if cap is None else {
                        f: np.asarray(v)[:max(1, settings.capture_samples)]
                        for f, v in cap.items() if f != "inputs" and v is not None}
                    progress(Progress(method, epoch, settings.epochs, b, n_batches, step,
                                      losses[-1], train_q, time.perf_counter() - t_start,
                                      outputs=outputs))
                step += 1
            metrics: dict[str, float] = {"epoch": float(epoch),
                                         "loss": float(np.mean(losses)) if losses else float("nan"),
                                         "physical_queries": float(train_q)}
            if settings.eval_every_epoch:
                metrics["twin_accuracy"] = evaluate_twin(model, x_te, y_te)
                if processor is not None and deploy_eval:
                    metrics["test_accuracy"] = policy.call(
                        lambda: evaluate_physical(processor, model, x_te, y_te,
                                                  settings.eval_batch),
                        step=-1, epoch=epoch)
                    _record_processor(rec, processor, step=-1, epoch=epoch)
            history.append(metrics)
            if settings.lr_decay != 1.0:
                # In the optimisers' own state, so checkpoints carry it and resume is exact.
                for opt in optimizers.values():
                    for group in opt.param_groups:
                        group["lr"] *= settings.lr_decay
            # Its own table, not a row of the per-step scalars: a loss-against-step plot of
            # /scalars/loss stays the per-step loss.
            rec.log_epoch(epoch, step - 1, loss_mean=metrics["loss"],
                          **{k: v for k, v in metrics.items() if k not in ("epoch", "loss")})
            rec.save_checkpoint(
                step - 1,
                {"model": model.state_dict(), **{k: m.state_dict() for k, m in modules.items()}},
                {k: o.state_dict() for k, o in optimizers.items()},
                {k: g.get_state() for k, g in gens.items()},
                {"epoch": epoch, "history": history, "queries": train_q, "calls": train_calls})
            rec.flush()
            if progress is not None:
                progress(Progress(method, epoch, settings.epochs, n_batches - 1, n_batches,
                                  step - 1, metrics["loss"], train_q,
                                  time.perf_counter() - t_start, True, metrics))
        twin_acc = evaluate_twin(model, x_te, y_te)
        if processor is not None and deploy_eval:
            # Before the run file is closed: a fault here is recorded and retried like any other.
            phys_acc = policy.call(
                lambda: evaluate_physical(processor, model, x_te, y_te, settings.eval_batch),
                step=-1, epoch=epoch)
            _record_processor(rec, processor, step=-1, epoch=epoch)
    except LoopAborted:
        aborted = True
        reason = _end_early(processor, rec, policy, "aborted", "aborted by the operator", None,
                            step, epoch)
        twin_acc = evaluate_twin(model, x_te, y_te)
    except BaseException as exc:
        status, why = _ending(exc, policy)
        _end_early(processor, rec, policy, status, why, exc, step, epoch)
        raise
    finally:
        if bar is not None:
            bar.close()
    if not aborted:
        rec.close("completed")
    return LoopResult(method, phys_acc, twin_acc, train_q, train_calls,
                      time.perf_counter() - t_start, history,
                      {k: v.detach().clone() for k, v in model.state_dict().items()},
                      None if rec.path is None else str(rec.path), aborted, extra=extra,
                      faults=policy.faults, reason=reason)


def head_and_phase_optimizer(model: PhotonicClassifier, settings: TrainSettings
                             ) -> torch.optim.Optimizer:
    groups = [{"params": model.phase_parameters(), "lr": settings.lr}]
    head = list(model.head.parameters())
    if head and settings.head_lr > 0:
        groups.append({"params": head, "lr": settings.head_lr})
    return torch.optim.Adam(groups)


__all__ = [
    "LoopAborted", "LoopControl", "LoopResult", "PhotonicClassifier", "Progress",
    "ProgressCallback", "TrainSettings", "describe_error", "encode", "evaluate_physical",
    "evaluate_twin", "head_and_phase_optimizer", "make_model", "measure", "recover_processor",
    "run_epochs", "task_loss", "torch_threads",
]


def config_dict(cfg: Any) -> dict[str, Any]:
    """A demo configuration dataclass as JSON-ready values (tuples as lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def publish_result(result: dict[str, Any], table: str, json_path: str | None) -> dict[str, Any]:
    """Print a demo's comparison table and, with ``json_path``, write the result as JSON."""
    import json
    from pathlib import Path

    print(table)
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2))
    return result
