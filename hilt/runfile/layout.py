"""The run file's layout, version 1.2: names, dtypes and chunking shared by writer and reader.

docs/run-file.md is the reference a plain-h5py user reads; this module is its executable form.

Versioning: ``layout_version`` (the major) changes only when a reader of the old layout would
misread the new one; readers refuse a major they do not know. ``layout_minor`` counts
compatible additions (new datasets, attributes, status words): a reader ignores what it does not
know, and reads a file of a lower minor by treating what that minor lacks as empty. A file
without ``layout_minor`` is minor 0. Resuming an older-minor file upgrades it in place.
Everything that grows during a run is created before SWMR starts, as a resizable chunked
dataset; what cannot be created up front (checkpoints, calibration tables added mid-run) lives
in the companion directory ``<run>.h5.d/`` and is indexed by a growing table in the run file.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np

from hilt.runfile._errors import RunFileError

# The status words and what they mean are defined once, in hilt.runfile.status.
from hilt.runfile.status import CLOSE_STATUSES, STATUSES  # noqa: F401

FORMAT = "hilt-run"
CHECKPOINT_FORMAT = "hilt-checkpoint"
CALIBRATION_FORMAT = "hilt-calibration"
LAYOUT_VERSION = 1
#: 1: the fault table (``/faults``), the reason of every session's end (``/run/reasons``) and the
#: ``failed`` status. 2: the epoch table (``/epochs``: end-of-epoch summaries, no longer rows of
#: ``/scalars``), a ``units`` attribute on every dataset, and every scalar its own dataset (names
#: first logged during a session are moved out of ``_extra`` when the session ends).
LAYOUT_MINOR = 2

# h5py's libver bounds: SWMR needs the 1.10 format; capping it there keeps files readable by
# every HDF5 since 1.10 even when written by a newer library.
LIBVER = ("v110", "v110")

CAPTURE_FIELDS = ("inputs", "physical", "twin")
INDEX_COLUMNS = ("step", "epoch", "sample", "time", "session")
SCALAR_COLUMNS = ("step", "time", "session")
#: The index columns of the epoch table (minor 2): the epoch, its last step, when and in which
#: session its summary was logged.
EPOCH_COLUMNS = ("epoch", "step", "time", "session")
RESERVED_SCALARS = frozenset({*SCALAR_COLUMNS, "_extra", "_extra_names"})
RESERVED_EPOCH_SCALARS = frozenset({*EPOCH_COLUMNS, "_extra", "_extra_names"})
#: The growing tables of named float columns: their group and their index columns.
NAMED_TABLES = {"scalars": SCALAR_COLUMNS, "epochs": EPOCH_COLUMNS}
#: The root attribute listing each named table's declared columns.
NAMES_ATTR = {"scalars": "scalar_names", "epochs": "epoch_names"}
#: Names a named table's columns cannot take (its index columns and its spare columns).
RESERVED = {"scalars": RESERVED_SCALARS, "epochs": RESERVED_EPOCH_SCALARS}

STATUS_DTYPE = np.dtype("S16")
NAME_DTYPE = np.dtype("S64")
SESSION_DTYPE = np.dtype(
    [("start", "f8"), ("end", "f8"), ("pid", "i8"), ("host", "S64"),
     ("resumed_from_step", "i8"), ("status", "S16")]
)
CHECKPOINT_DTYPE = np.dtype([("step", "i8"), ("time", "f8"), ("session", "i2"), ("file", "S256")])
REASON_DTYPE = np.dtype("S1024")
#: One row per fault a loop met (layout minor 1); each column is its own growing dataset.
FAULT_COLUMNS: dict[str, np.dtype] = {
    "time": np.dtype("f8"), "session": np.dtype("i2"), "step": np.dtype("i8"),
    "epoch": np.dtype("i8"), "retry": np.dtype("i8"), "instrument": np.dtype("S64"),
    "command": np.dtype("S128"), "error_type": np.dtype("S64"), "message": np.dtype("S512"),
    "outcome": np.dtype("S16"),
}
FAULT_OUTCOMES = ("retried", "aborted", "safe_state")
CALIBRATION_DTYPE = np.dtype([("name", "S64"), ("time", "f8"), ("session", "i2"), ("file", "S256")])
INDEX_DTYPES = {"step": np.dtype("i8"), "epoch": np.dtype("i8"), "sample": np.dtype("i8"),
                "time": np.dtype("f8"), "session": np.dtype("i2")}

# -- units (minor 2) -------------------------------------------------------------------------
#: Every dataset carries an attribute ``units``: a unit as the instrument parameters write them
#: ("V", "Hz", "dBm", "s", "deg"), ``"1"`` for a dimensionless number (a loss, an accuracy, a
#: count, an index), ``""`` where no unit applies (text, tables of several columns) or the
#: writer was not told one (arbitrary units).
UNITS_ATTR = "units"
DIMENSIONLESS = "1"
#: Units of the fixed columns; ``time`` and ``heartbeat`` are unix times (s since 1970 UTC).
INDEX_UNITS = {"step": DIMENSIONLESS, "epoch": DIMENSIONLESS, "sample": DIMENSIONLESS,
               "time": "s", "session": DIMENSIONLESS, "retry": DIMENSIONLESS}
#: A scalar declared without a unit takes the one its name ends in (``step_time_s``,
#: ``frequency_hz``, ``measured_dbm``); otherwise it has none (``""``).
UNIT_SUFFIXES = {"s": "s", "ms": "ms", "us": "us", "hz": "Hz", "khz": "kHz", "mhz": "MHz",
                 "ghz": "GHz", "v": "V", "mv": "mV", "a": "A", "ma": "mA", "w": "W", "mw": "mW",
                 "dbm": "dBm", "db": "dB", "deg": "deg", "rad": "rad", "nm": "nm", "m": "m",
                 "mm": "mm", "um": "um"}


def unit_for(name: str, given: str | None = None) -> str:
    """The unit stored for the column ``name``: ``given`` if any, else its name's suffix's."""
    if given is not None:
        if not isinstance(given, str):
            raise RunFileError(f"the unit of {name!r} must be text (\"V\", \"1\"), not {given!r}")
        return given
    _, sep, suffix = name.rpartition("_")
    return UNIT_SUFFIXES.get(suffix.lower(), "") if sep else ""


def named_columns(table: str, declared: Sequence[str] | Mapping[str, str | None]
                  ) -> dict[str, str]:
    """Declared names of the named table ``table`` (a list, or a mapping name -> unit) as
    ``{name: unit}``, checked."""
    kind = "scalar" if table == "scalars" else "epoch scalar"
    items = list(declared.items()) if isinstance(declared, Mapping) else \
        [(n, None) for n in declared]
    names = [check_name(kind, n) for n, _ in items]
    if len(set(names)) != len(names):
        raise RunFileError(f"duplicate {kind} names in {names}")
    if reserved := set(names) & RESERVED[table]:
        raise RunFileError(f"{kind} names {sorted(reserved)} are reserved")
    return {n: unit_for(n, u) for n, u in items}

# Chunks near 1 MiB amortise HDF5's per-chunk cost for big rows (a 200x200 float32 frame is
# 160 kB, so 6 frames a chunk); the row cap keeps small tables (8-byte scalars) from
# allocating a megabyte each on their first row.
CHUNK_TARGET_BYTES = 1 << 20
CHUNK_MAX_ROWS = 1024
# Each open dataset gets a chunk cache this big: enough for the partly filled last chunk that
# the next batch completes, so it is not re-read from disk.
CHUNK_CACHE_BYTES = 8 << 20

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")


def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise RunFileError(
            f"invalid {kind} name {name!r}: use letters, digits, '_', '.', '-' (start with a "
            "letter or '_', at most 64 characters)"
        )
    return name


def clip_bytes(text: object, dtype: np.dtype) -> bytes:
    """UTF-8 ``text`` cut to fit a fixed-length string column (never mid-character)."""
    data = str(text).encode("utf-8", "backslashreplace")
    size = np.dtype(dtype).itemsize
    if len(data) <= size:
        return data
    return data[: size - 3].decode("utf-8", "ignore").encode() + b"..."


def chunk_rows(row_shape: tuple[int, ...], dtype: np.dtype) -> int:
    row_bytes = max(1, math.prod(row_shape) * np.dtype(dtype).itemsize)
    return max(1, min(CHUNK_MAX_ROWS, CHUNK_TARGET_BYTES // row_bytes))


def fill_value(dtype: np.dtype) -> Any:
    # NaN marks rows that were allocated but never written; integers have no NaN, so -1.
    # A scalar of the dataset's own dtype: HDF5 cannot convert a float fill to complex.
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return np.array(complex(np.nan, np.nan), dtype=dtype)[()]
    if dtype.kind == "f":
        return np.array(np.nan, dtype=dtype)[()]
    if dtype.kind == "i":
        return np.array(-1, dtype=dtype)[()]
    if dtype.kind == "S":  # text never written reads as empty
        return np.array(b"", dtype=dtype)[()]
    return np.array(0, dtype=dtype)[()]


@dataclass(frozen=True)
class CaptureSpec:
    """Shapes (per sample, without the batch axis) and dtypes of one capture stream.

    A field whose shape is ``None`` is not recorded. ``compression`` is ``None`` (the default,
    see docs/adr/0005-run-file.md: noisy float frames do not compress), ``"lzf"`` or ``"gzip"``,
    worth it for low-entropy data such as 8- or 12-bit camera frames.
    """

    input_shape: tuple[int, ...] | None = None
    physical_shape: tuple[int, ...] | None = None
    twin_shape: tuple[int, ...] | None = None
    input_dtype: str = "float32"
    physical_dtype: str = "float32"
    twin_dtype: str = "float32"
    compression: str | None = None
    chunk_rows: int | None = None
    #: Units of each field (layout minor 2), as the instrument parameters write them; ``""``:
    #: not stated (arbitrary units).
    input_unit: str = ""
    physical_unit: str = ""
    twin_unit: str = ""

    def __post_init__(self) -> None:
        for field in CAPTURE_FIELDS:
            shape = self.shape(field)
            if shape is not None:
                shape = tuple(int(n) for n in shape)
                if any(n <= 0 for n in shape):
                    raise RunFileError(f"CaptureSpec: {field} shape {shape} has a non-positive size")
                object.__setattr__(self, _SHAPE_ATTR[field], shape)
            dt = np.dtype(self.dtype(field))
            if dt.kind not in "biufc":
                raise RunFileError(f"CaptureSpec: {field} dtype {dt} is not numeric")
            object.__setattr__(self, _DTYPE_ATTR[field], dt.name)
        if all(self.shape(f) is None for f in CAPTURE_FIELDS):
            raise RunFileError("CaptureSpec: declare at least one of input/physical/twin shape")
        if self.compression not in (None, "lzf", "gzip"):
            raise RunFileError(f"CaptureSpec: compression {self.compression!r} is not None, lzf or gzip")
        if self.chunk_rows is not None and int(self.chunk_rows) < 1:
            raise RunFileError("CaptureSpec: chunk_rows must be at least 1")
        for field in CAPTURE_FIELDS:
            if not isinstance(self.unit(field), str):
                raise RunFileError(f"CaptureSpec: {field} unit {self.unit(field)!r} is not text")

    def shape(self, field: str) -> tuple[int, ...] | None:
        return getattr(self, _SHAPE_ATTR[field])

    def dtype(self, field: str) -> np.dtype:
        return np.dtype(getattr(self, _DTYPE_ATTR[field]))

    def unit(self, field: str) -> str:
        return getattr(self, _UNIT_ATTR[field])

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for f in CAPTURE_FIELDS if self.shape(f) is not None)

    def rows_per_chunk(self) -> int:
        if self.chunk_rows is not None:
            return int(self.chunk_rows)
        return min(chunk_rows(self.shape(f), self.dtype(f)) for f in self.fields)  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps({
            "input_shape": self.input_shape, "physical_shape": self.physical_shape,
            "twin_shape": self.twin_shape, "input_dtype": self.input_dtype,
            "physical_dtype": self.physical_dtype, "twin_dtype": self.twin_dtype,
            "compression": self.compression, "chunk_rows": self.chunk_rows,
            "input_unit": self.input_unit, "physical_unit": self.physical_unit,
            "twin_unit": self.twin_unit,
        })

    @classmethod
    def from_json(cls, text: str) -> CaptureSpec:
        d = json.loads(text)
        for k in ("input_shape", "physical_shape", "twin_shape"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


_SHAPE_ATTR = {"inputs": "input_shape", "physical": "physical_shape", "twin": "twin_shape"}
_DTYPE_ATTR = {"inputs": "input_dtype", "physical": "physical_dtype", "twin": "twin_dtype"}
_UNIT_ATTR = {"inputs": "input_unit", "physical": "physical_unit", "twin": "twin_unit"}


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "backslashreplace")
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_json(what: str, obj: Any) -> str:
    """JSON text for a metadata attribute; numpy values, paths, dates and enums are converted."""
    try:
        return json.dumps(obj, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise RunFileError(f"{what} cannot be stored as JSON: {exc}") from None


def json_attr(attrs: Mapping[str, Any], key: str, default: Any = None) -> Any:
    raw = attrs.get(key)
    if raw is None:
        return default
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(raw)


def iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds")
