"""Checkpoints, calibration tables added mid-run, and random-generator states.

SWMR cannot add a group or dataset to a growing file, so these go to the companion directory,
one small HDF5 file each, written under a temporary name and renamed into place: a checkpoint is
either complete or absent, whatever moment the writer dies. The run file indexes them.
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hilt.runfile import layout
from hilt.runfile._errors import RunFileError, short_reason
from hilt.runfile._tree import load_tree, save_tree


@dataclass(frozen=True)
class Checkpoint:
    """What :meth:`RunWriter.save_checkpoint` stored, loaded back."""

    step: int
    time: float
    model_state: Any = None
    optim_state: Any = None
    rng_state: Any = None
    extra: Any = None
    path: Path | None = field(default=None, compare=False)


def capture_rng_state() -> dict[str, Any]:
    """The global random generators' states: Python's, NumPy's legacy one, and torch's CPU one
    (torch only if it is already imported, so this never pulls torch in)."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state()}
    torch = sys.modules.get("torch")
    if torch is not None:
        state["torch"] = torch.get_rng_state()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng_state` returned (after a resume)."""
    if "python" in state:
        random.setstate(state["python"])
    if "numpy" in state:
        np.random.set_state(state["numpy"])
    if "torch" in state:
        import torch

        torch.set_rng_state(state["torch"])


def snapshot(obj: Any) -> Any:
    """A deep copy of arrays and tensors: training goes on mutating parameters in place while the
    background thread writes the checkpoint."""
    if isinstance(obj, dict):
        return {k: snapshot(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(snapshot(v) for v in obj)
    if isinstance(obj, list):
        return [snapshot(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.copy()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    return obj


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, fmt: str, attrs: dict[str, Any], trees: dict[str, Any]) -> None:
    """Write one companion HDF5 file: complete under ``target``, or not there at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w", libver=layout.LIBVER) as f:
            f.attrs["hilt_format"] = fmt
            f.attrs["layout_version"] = layout.LAYOUT_VERSION
            for k, v in attrs.items():
                f.attrs[k] = v
            for name, obj in trees.items():
                save_tree(f, name, obj)
        with open(tmp, "rb+") as fh:  # a rename must not expose a file whose bytes are not down
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_checkpoint(target: Path, step: int, run_id: str, state: dict[str, Any]) -> None:
    write_atomic(target, layout.CHECKPOINT_FORMAT,
                 {"step": step, "time": time.time(), "run_id": run_id}, state)


def read_checkpoint(path: Path) -> Checkpoint:
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("hilt_format") != layout.CHECKPOINT_FORMAT:
                raise RunFileError(f"{path}: not a hilt checkpoint file")
            parts = {k: load_tree(f[k]) for k in ("model", "optimizer", "rng", "extra") if k in f}
            return Checkpoint(
                step=int(f.attrs["step"]), time=float(f.attrs["time"]),
                model_state=parts.get("model"), optim_state=parts.get("optimizer"),
                rng_state=parts.get("rng"), extra=parts.get("extra"), path=path,
            )
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read checkpoint ({short_reason(exc)})") from None


def read_calibration(path: Path) -> Any:
    try:
        with h5py.File(path, "r") as f:
            return load_tree(f["table"])
    except (OSError, KeyError) as exc:
        raise RunFileError(f"{path}: cannot read calibration table ({short_reason(exc)})") from None

