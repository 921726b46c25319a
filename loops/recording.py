"""The one place the loops talk to the run file (hilt.runfile), and where recording is optional.

A :class:`Recorder` made with ``path=None`` records nothing and has no checkpoint to resume
from; otherwise it owns a :class:`hilt.runfile.writer.RunWriter`: a new run file, or (with
``resume=True`` and an existing file) the crashed / aborted run reopened, whose last checkpoint
the loop continues from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


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
             scalars: Sequence[str] = (), captures: Mapping[str, Any] | None = None,
             config: Mapping[str, Any] | None = None, seeds: Mapping[str, int] | None = None,
             station_snapshot: Mapping[str, Any] | None = None) -> Recorder:
        if path is None:
            return cls(None)
        from hilt.runfile.writer import RunWriter

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists():
            return cls(RunWriter.resume(path))
        return cls(RunWriter.create(path, scalars=list(scalars), captures=dict(captures or {}),
                                    config=dict(config or {}), seeds=dict(seeds or {}),
                                    station_snapshot=dict(station_snapshot or {}),
                                    overwrite=overwrite))

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

    def close(self, status: str = "completed") -> None:
        if self.writer is not None:
            self.writer.close(status)
