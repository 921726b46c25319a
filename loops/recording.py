"""The one place the loops talk to the run file (hilt.runfile), and where recording is optional.

A :class:`Recorder` made with ``path=None`` records nothing and has no checkpoint to resume
from; otherwise it owns a :class:`hilt.runfile.writer.RunWriter`: a new run file, or (with
``resume=True`` and an existing file) the crashed / aborted run reopened, whose last checkpoint
the loop continues from.

A loop knows its settings but not the bench it runs on. What the run file must also hold about
the bench (the station snapshot and station file, and how the run was started, so that
``hilt resume`` can start it again) is handed down with :func:`run_context`, which
:func:`hilt.loops.train_on_station` uses around the loop it calls.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RunContext:
    """What the run files of the loops started inside :func:`run_context` also record."""

    station_snapshot: Mapping[str, Any] | None = None
    station_file: str | Path | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    overwrite: bool = True


_CONTEXT: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "hilt_run_context", default=None)


@contextlib.contextmanager
def run_context(*, station_snapshot: Mapping[str, Any] | None = None,
                station_file: str | Path | None = None, config: Mapping[str, Any] | None = None,
                overwrite: bool = True) -> Iterator[RunContext]:
    """Inside this block, every new run file also stores ``station_snapshot`` (e.g.
    ``station.snapshot()``), the ``station_file``'s path and text, and ``config`` (merged into
    the run's ``config``); ``overwrite=False`` refuses to replace an existing file.

    Only this thread's loops see it; it ends with the block."""
    ctx = RunContext(station_snapshot, station_file, dict(config or {}), overwrite)
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


def capture_spec(n_ports: int, n_outputs: int | None = None) -> Any:
    """The capture stream of a network with N inputs: input amplitudes (N,) complex64 (NaN + NaN j
    marks unwritten rows), physical and twin readings (``n_outputs``, default N) float32."""
    from hilt.runfile.layout import CaptureSpec

    m = n_ports if n_outputs is None else n_outputs
    return CaptureSpec(input_shape=(n_ports,), input_dtype="complex64",
                       physical_shape=(m,), twin_shape=(m,))


class Recorder:
    """Scalars, captures and checkpoints of one run; every method is a no-op without a file."""

    def __init__(self, writer: Any = None) -> None:
        self.writer = writer

    @classmethod
    def open(cls, path: str | Path | None, *, resume: bool = False, overwrite: bool = True,
             scalars: Sequence[str] | Mapping[str, str] = (),
             epoch_scalars: Sequence[str] | Mapping[str, str] = (),
             captures: Mapping[str, Any] | None = None,
             config: Mapping[str, Any] | None = None, seeds: Mapping[str, int] | None = None,
             station_snapshot: Mapping[str, Any] | None = None) -> Recorder:
        if path is None:
            return cls(None)
        from hilt.runfile.writer import RunWriter

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists():
            return cls(RunWriter.resume(path))
        ctx = _CONTEXT.get() or RunContext()
        return cls(RunWriter.create(
            path, scalars=scalars, epoch_scalars=epoch_scalars, captures=dict(captures or {}),
            config={**dict(config or {}), **ctx.config}, seeds=dict(seeds or {}),
            station_snapshot=dict(station_snapshot or ctx.station_snapshot or {}),
            station_file=ctx.station_file, overwrite=overwrite and ctx.overwrite))

    @property
    def enabled(self) -> bool:
        return self.writer is not None

    @property
    def path(self) -> Path | None:
        return None if self.writer is None else Path(self.writer.path)

    @property
    def checkpoint(self) -> Any:
        """The checkpoint a resumed run continues from (``model_state``, ``optim_state``,
        ``rng_state``, ``extra``, ``step``), or None."""
        return None if self.writer is None else self.writer.checkpoint

    def log(self, step: int, **values: float) -> None:
        if self.writer is not None:
            self.writer.log_scalars(step, **{k: float(v) for k, v in values.items()})

    def log_epoch(self, epoch: int, step: int, **values: float) -> None:
        """One row of the epoch table: ``epoch``'s summary, ``step`` its last step."""
        if self.writer is not None:
            self.writer.log_epoch(epoch, step, **{k: float(v) for k, v in values.items()})

    def capture(self, stream: str, *, step: int, epoch: int, sample_idx: np.ndarray,
                inputs: np.ndarray | None = None, physical: np.ndarray | None = None,
                twin: np.ndarray | None = None) -> None:
        if self.writer is not None:
            self.writer.capture(stream, step=step, epoch=epoch, sample_idx=sample_idx,
                                inputs=inputs, physical=physical, twin=twin)

    def save_checkpoint(self, step: int, model_state: Any, optim_state: Any, rng_state: Any,
                        extra: Any = None) -> None:
        if self.writer is not None:
            self.writer.save_checkpoint(step, model_state, optim_state, rng_state, extra)

    def add_calibration(self, name: str, table: Any) -> None:
        if self.writer is not None:
            self.writer.add_calibration(name, table)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def fault(self, error: BaseException, *, step: int, epoch: int, retry: int,
              outcome: str) -> None:
        """One row of the run's fault table for ``error`` (see docs/run-file.md)."""
        if self.writer is not None:
            self.writer.record_fault(
                step=step, epoch=epoch, retry=retry, outcome=outcome,
                instrument=getattr(error, "instrument", "") or "",
                command=getattr(error, "command", None), error_type=type(error).__name__,
                message=str(error))

    def close(self, status: str = "completed", reason: str = "") -> None:
        if self.writer is not None:
            self.writer.close(status, reason)
