"""The run file: every physical output of a run captured to HDF5, live, crash-safe, resumable.

Write with :class:`RunWriter`, read with :class:`RunReader` (or :func:`open_run`). The layout is
documented in docs/run-file.md and readable with plain h5py.
"""

from hilt.runfile._companion import Checkpoint, capture_rng_state, restore_rng_state
from hilt.runfile._errors import RunFileError
from hilt.runfile.layout import LAYOUT_MINOR, LAYOUT_VERSION, STATUSES, CaptureSpec
from hilt.runfile.reader import CaptureBatch, CheckpointInfo, FaultRecord, RunReader, open_run
from hilt.runfile.writer import RunWriter

__all__ = [
    "LAYOUT_MINOR",
    "LAYOUT_VERSION",
    "STATUSES",
    "CaptureBatch",
    "CaptureSpec",
    "Checkpoint",
    "CheckpointInfo",
    "FaultRecord",
    "RunFileError",
    "RunReader",
    "RunWriter",
    "capture_rng_state",
    "open_run",
    "restore_rng_state",
]
