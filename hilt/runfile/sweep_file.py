"""Sweep-shaped run files: readings laid out on the grid of their setpoints.

A training run is organised around steps (:mod:`hilt.runfile.writer`); a sweep (``hilt scan``,
:func:`hilt.loops.scan`) around setpoints. Its file is a plain HDF5 file that netCDF-4 readers
understand as it is:

- one 1-D dataset per swept parameter (``synth.frequency``), holding the planned setpoints, made
  an HDF5 *dimension scale* named after the parameter, with a ``units`` attribute;
- one N-D dataset per reading (``lockin.r``), of the grid's shape (outer axis first; an array
  reading adds its own axes, ``lockin.r:0`` ...), filled with NaN until measured, its dimensions
  attached to the scales, with ``units``;
- ``elapsed`` (s, wall time since the sweep started) per point, and ``points_done``, the number of
  points written so far in sweep order (a point is written only once all its readings are);
- attributes on the root: ``hilt_layout = "sweep"``, ``status`` (``running`` while written, then
  ``completed``, ``aborted`` or ``failed``, and ``crashed`` as read when the writer died),
  ``reason``, ``created``, ``command``, ``station`` (JSON), ``axes`` and ``readings`` (their
  order), ``snake``.

So ``xarray.open_dataset(path, engine="h5netcdf")`` opens it with coordinates and units, and
:func:`open_sweep` does the same from h5py alone (plus the status a crashed writer left). The
writer uses SWMR: another process (the app's Runs tab, ``h5py``) can read it while it grows, and
a killed writer leaves a file whose first ``points_done`` points are all there.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hilt.runfile._errors import RunFileError
from hilt.runfile._files import WriterLock, writer_state
from hilt.runfile.status import ABORTED, COMPLETED, CRASHED, FAILED, RUNNING, ending

LAYOUT = "sweep"
VERSION = 1
_RESERVED = {"elapsed", "points_done"}


@dataclass(frozen=True)
class SweepAxis:
    """A swept parameter: its name, the setpoints in sweep order, their unit."""

    name: str
    values: np.ndarray
    unit: str = ""


@dataclass(frozen=True)
class SweepReading:
    """A parameter read at every point; ``shape`` is () for a number, else the array's shape."""

    name: str
    unit: str = ""
    shape: tuple[int, ...] = ()


@dataclass
class SweepWriter:
    """Create a sweep file and fill it point by point (the caller owns the order)."""

    path: Path
    axes: Sequence[SweepAxis]
    readings: Sequence[SweepReading]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    snake: bool = False

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        names = [a.name for a in self.axes] + [r.name for r in self.readings]
        if not self.axes:
            raise RunFileError("a sweep needs at least one swept parameter")
        dup = sorted({n for n in names if names.count(n) > 1} | (set(names) & _RESERVED))
        if dup:
            raise RunFileError(f"sweep names must be distinct and not {sorted(_RESERVED)}: {dup}")
        if self.path.exists():
            raise RunFileError(f"{self.path}: exists already (a sweep never overwrites a file)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.shape = tuple(len(a.values) for a in self.axes)
        self._lock = WriterLock(self.path)
        self._t0 = time.monotonic()
        self.points_done = 0
        try:
            self._file = h5py.File(self.path, "w", libver="latest")
            self._create()
            self._file.swmr_mode = True
        except BaseException:
            self._lock.release()
            raise

    def _create(self) -> None:
        f = self._file
        f.attrs.update({
            "hilt_layout": LAYOUT, "hilt_sweep_version": VERSION, "status": RUNNING, "reason": "",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": shlex.join(sys.argv),
            "host": platform.node(), "pid": os.getpid(), "snake": bool(self.snake),
            "axes": json.dumps([a.name for a in self.axes]),
            "readings": json.dumps([r.name for r in self.readings]),
        })
        for key, value in self.metadata.items():
            f.attrs[key] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value, default=str)
        scales = []
        for axis in self.axes:
            ds = f.create_dataset(axis.name, data=np.asarray(axis.values, dtype=np.float64))
            ds.attrs["units"] = axis.unit
            ds.attrs["long_name"] = f"{axis.name} (setpoint)"
            ds.make_scale(axis.name)
            scales.append(ds)
        self._data: dict[str, h5py.Dataset] = {}
        for reading in self.readings:
            extra = []
            for i, n in enumerate(reading.shape):
                sname = f"{reading.name}:{i}"
                sc = f.create_dataset(sname, data=np.arange(n, dtype=np.int64))
                sc.make_scale(sname)
                extra.append(sc)
            ds = f.create_dataset(reading.name, shape=self.shape + reading.shape, dtype=np.float64,
                                  fillvalue=np.nan)
            ds.attrs["units"] = reading.unit
            for dim, scale in enumerate(scales + extra):
                ds.dims[dim].attach_scale(scale)
            self._data[reading.name] = ds
        self._elapsed = f.create_dataset("elapsed", shape=self.shape, dtype=np.float64, fillvalue=np.nan)
        self._elapsed.attrs["units"] = "s"
        self._elapsed.attrs["long_name"] = "wall time since the sweep started"
        for dim, scale in enumerate(scales):
            self._elapsed.dims[dim].attach_scale(scale)
        self._done = f.create_dataset("points_done", data=np.int64(0))
        self._done.attrs["long_name"] = "points written, in sweep order"

    def write_point(self, index: tuple[int, ...], values: Mapping[str, Any]) -> None:
        """Store one point's readings (every reading) and commit it (flushed to disk)."""
        for name, ds in self._data.items():
            ds[index] = np.asarray(values[name], dtype=np.float64)
        self._elapsed[index] = time.monotonic() - self._t0
        self.points_done += 1
        self._done[()] = self.points_done
        self._file.flush()

    def close(self, status: str = COMPLETED, reason: str = "") -> None:
        """Finish the file with its status (``completed``, ``aborted``, ``failed``)."""
        if self._file is None:
            return
        if status not in (COMPLETED, ABORTED, FAILED):
            raise ValueError(f"status {status!r}: expected completed, aborted or failed")
        try:
            self._file.flush()
            self._file.close()
            # Attributes cannot change under SWMR: the ending goes in after the data is closed.
            with h5py.File(self.path, "r+", libver="latest") as f:
                f.attrs["status"] = status
                f.attrs["reason"] = reason
                f.attrs["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        finally:
            self._file = None
            self._lock.release()

    def __enter__(self) -> SweepWriter:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.close(COMPLETED)
        else:
            self.close(*ending(exc))


@dataclass
class SweepFile:
    """A sweep file, read (:func:`open_sweep`); everything is loaded into memory."""

    path: Path
    status: str
    reason: str
    axes: list[str]
    readings: list[str]
    points_done: int
    attrs: dict[str, Any]
    units: dict[str, str]
    coords: dict[str, np.ndarray]
    data: dict[str, np.ndarray]
    elapsed: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.coords[a]) for a in self.axes)

    @property
    def total(self) -> int:
        """Points of the whole grid (``points_done`` of them are written)."""
        return int(np.prod(self.shape))

    def to_xarray(self) -> Any:
        """An ``xarray.Dataset``: the swept parameters as coordinates, ``units`` on every variable."""
        try:
            import xarray as xr
        except ImportError:
            raise RunFileError("opening a sweep as xarray needs xarray: pip install 'hilt[netcdf]'") from None
        coords = {a: (a, self.coords[a], {"units": self.units[a]}) for a in self.axes}
        variables = {}
        for name in self.readings:
            arr = self.data[name]
            dims = self.axes + [f"{name}:{i}" for i in range(arr.ndim - len(self.axes))]
            variables[name] = (dims, arr, {"units": self.units[name]})
        variables["elapsed"] = (self.axes, self.elapsed, {"units": "s"})
        return xr.Dataset(variables, coords=coords,
                          attrs={"status": self.status, "reason": self.reason, "points_done": self.points_done,
                                 **{k: v for k, v in self.attrs.items() if k not in ("status", "reason")}})


def is_sweep_file(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is an HDF5 file written by :class:`SweepWriter`."""
    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            return f.attrs.get("hilt_layout") == LAYOUT
    except (OSError, RuntimeError, ValueError):  # not HDF5, or damaged: not a sweep file we can tell
        return False


def open_sweep(path: str | os.PathLike[str]) -> SweepFile:
    """Read a sweep file (also one still being written, or left by a writer that died)."""
    p = Path(path)
    try:
        f = h5py.File(p, "r", libver="latest", swmr=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise RunFileError(f"{p}: not a readable HDF5 file ({exc})") from None
    with f:
        if f.attrs.get("hilt_layout") != LAYOUT:
            raise RunFileError(f"{p}: not a sweep file (no hilt_layout = 'sweep' attribute)")
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        axes, readings = json.loads(attrs["axes"]), json.loads(attrs["readings"])
        status = str(attrs.get("status", RUNNING))
        if status == RUNNING and writer_state(p) == "dead":
            status = CRASHED
        units = {n: str(f[n].attrs.get("units", "")) for n in axes + readings}
        return SweepFile(
            path=p, status=status, reason=str(attrs.get("reason", "")), axes=axes, readings=readings,
            points_done=int(f["points_done"][()]), attrs=attrs, units=units,
            coords={a: f[a][()] for a in axes}, data={r: f[r][()] for r in readings},
            elapsed=f["elapsed"][()])
