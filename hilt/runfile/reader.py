"""Read a run file, finished, crashed or still growing.

How a file is opened depends on its state, because HDF5 refuses a plain open of a file a SWMR
writer has (or had) open, and its SWMR-read open retries damaged metadata for minutes:

* no writer mark in the superblock -> plain read-only open;
* a writer mark and a live writer (its lock is held) -> SWMR read; :meth:`RunReader.refresh`
  shows what the writer committed since;
* a writer mark and no live writer (crashed) -> plain open through a view of the file with the
  mark cleared in memory; the file itself is not modified.

Only committed rows are shown (``/run/committed``), so a reader never sees a half-written batch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hilt.runfile import layout
from hilt.runfile._companion import Checkpoint, read_calibration, read_checkpoint
from hilt.runfile._errors import RunFileError, short_reason
from hilt.runfile._files import (
    FLAG_SWMR_WRITE,
    ClearedFlagsView,
    companion_dir,
    read_superblock,
    writer_state,
)
from hilt.runfile._tree import load_tree
from hilt.runfile.layout import CaptureSpec

#: A writer on another host is taken for dead when its heartbeat is older than this.
STALE_AFTER_S = 30.0
#: How long opening waits for a writer that has the file open without SWMR (between sessions).
BUSY_WAIT_S = 3.0


class _Busy(Exception):
    """The file is briefly held by its writer outside SWMR."""


@dataclass(frozen=True)
class CaptureBatch:
    """Rows of one capture stream; fields the stream does not record (or not read) are None."""

    stream: str
    step: np.ndarray
    epoch: np.ndarray
    sample: np.ndarray
    time: np.ndarray
    session: np.ndarray
    inputs: np.ndarray | None = None
    physical: np.ndarray | None = None
    twin: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.step)


@dataclass(frozen=True)
class FaultRecord:
    """One fault a run met: when, where, what, and what the loop did next (``outcome``:
    ``retried``, ``aborted`` or ``safe_state``; see docs/run-file.md)."""

    time: float
    session: int
    step: int  # -1: outside a training step (evaluation, safe state)
    epoch: int
    retry: int  # retries of this step made before this fault
    instrument: str
    command: str
    error_type: str
    message: str
    outcome: str


@dataclass(frozen=True)
class CheckpointInfo:
    step: int
    time: float
    session: int
    path: Path


class RunReader:
    """Open a run file for reading (``with RunReader(path) as run: ...``)."""

    def __init__(self, path: str | os.PathLike[str], *, _writer_gone: bool = False) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise RunFileError(f"{self.path}: no such run file")
        self._view: ClearedFlagsView | None = None
        self.live = False
        # A writer between sessions (ending one and moving names out of _extra, or resuming)
        # has the file open without SWMR for a few milliseconds: wait for it, briefly.
        deadline = time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                self._open(_writer_gone)
                break
            except _Busy as busy:
                if time.monotonic() > deadline:
                    raise RunFileError(f"{self.path}: {busy}; try again") from None
                time.sleep(0.02)
        try:
            self._check_format()
            self._load_structure()
        except RunFileError:
            self.close()
            raise
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            self.close()
            raise RunFileError(f"{self.path}: damaged run file ({short_reason(exc)})") from None

    # -- opening -----------------------------------------------------------------------------
    def _open(self, writer_gone: bool) -> None:
        sb = read_superblock(self.path)
        try:
            if sb.open_for_write and not writer_gone and writer_state(self.path) != "dead":
                if not sb.flags & FLAG_SWMR_WRITE:
                    raise _Busy("its writer is (re)opening it")
                self.live = True
                self._h5 = h5py.File(self.path, "r", swmr=True)
            elif sb.open_for_write:
                self._view = ClearedFlagsView(self.path, sb)
                self._h5 = h5py.File(self._view, "r")
            else:
                self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            self._close_view()
            self.live = False
            if "unable to lock file" in str(exc):
                raise _Busy("another program has it open for writing") from None
            raise RunFileError(f"{self.path}: damaged HDF5 file ({short_reason(exc)})") from None

    def _check_format(self) -> None:
        a = self._h5.attrs
        fmt = a.get("hilt_format")
        if fmt != layout.FORMAT:
            raise RunFileError(
                f"{self.path}: an HDF5 file but not a hilt run file (no hilt_format='{layout.FORMAT}' attribute)"
            )
        version = int(a.get("layout_version", -1))
        if version != layout.LAYOUT_VERSION:
            raise RunFileError(
                f"{self.path}: run-file layout version {version}; this hilt reads version "
                f"{layout.LAYOUT_VERSION}"
            )

    def _load_structure(self) -> None:
        h5 = self._h5
        a = h5.attrs
        self.info: dict[str, Any] = {}
        for key, value in a.items():
            if isinstance(value, bytes):
                value = value.decode()
            if key in ("seeds", "config", "station_snapshot", "environment", "scalar_names",
                       "epoch_names", "capture_streams"):
                value = json.loads(value)
            elif isinstance(value, np.generic):
                value = value.item()
            self.info[key] = value
        self.run_id: str = self.info["run_id"]
        self.layout_version: int = int(self.info["layout_version"])
        #: Compatible additions since the major version (0: a file from before minors existed).
        self.layout_minor: int = int(self.info.get("layout_minor", 0))
        self._declared: list[str] = []
        self._epoch_declared: list[str] = []
        self.streams: dict[str, CaptureSpec] = {
            name: CaptureSpec.from_json(g.attrs["spec"]) for name, g in h5["captures"].items()
        }
        self._tables: list[str] = layout.json_attr(h5["run/committed"].attrs, "tables")
        # The counts first, the datasets after: a live writer flushes rows before the counts
        # that make them visible, so datasets opened after the counts were read hold at least
        # that many rows (opened before, they might show fewer).
        self._read_counts()
        self._datasets: list[h5py.Dataset] = []
        h5.visititems(lambda _n, obj: self._datasets.append(obj)
                      if isinstance(obj, h5py.Dataset) else None)

    def _read_counts(self) -> None:
        counts = self._h5["run/committed"][()]
        self._counts = dict(zip(self._tables, (int(n) for n in counts), strict=True))
        # Names move from _extra to their own dataset when a session ends (and are then listed
        # in these attributes): read both again, so a reader that stays open sees them move.
        self._declared = layout.json_attr(self._h5.attrs, "scalar_names", [])
        self._epoch_declared = layout.json_attr(self._h5.attrs, "epoch_names", [])
        self._extra = [n.decode() for n in self._h5["scalars/_extra_names"][()]]
        self._epoch_extra = [n.decode() for n in self._h5["epochs/_extra_names"][()]] \
            if "epochs" in self._h5 else []
        # Before layout minor 2 each epoch's summary was a row of /scalars (the loops logged it
        # without "epoch", its mean loss under "loss"); those rows are shown as the epoch table.
        if self.layout_minor < 2:
            legacy = self._counts["scalars"]
        else:
            legacy = int(self._h5["scalars"].attrs.get("legacy_rows", 0))
        self._legacy_rows = legacy if "epoch" in self._declared else 0

    def _wrap(self, what: str, exc: BaseException) -> RunFileError:
        return RunFileError(f"{self.path}: cannot read {what} ({short_reason(exc)})")

    # -- state -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """See what a live writer committed since the last refresh (no-op for closed runs)."""
        if not self.live:
            return
        try:
            # The counts first (see _load_structure), then every dataset.
            self._h5["run/committed"].refresh()
            self._h5["scalars/_extra_names"].refresh()
            if "epochs" in self._h5:
                self._h5["epochs/_extra_names"].refresh()
            self._read_counts()
            for ds in self._datasets:
                ds.refresh()
        except (OSError, RuntimeError) as exc:
            raise self._wrap("the live file", exc) from None

    @property
    def stored_status(self) -> str:
        """``/run/status`` as written: running, completed, aborted or failed."""
        ds = self._h5["run/status"]
        if self.live:
            ds.refresh()
        return ds[0].decode()

    @property
    def status(self) -> str:
        """running, completed, aborted, failed, or crashed (says running, but no live writer)."""
        status = self.stored_status
        if status != "running":
            return status
        state = writer_state(self.path)
        if state == "unknown":
            age = time.time() - self.heartbeat
            return "running" if age < STALE_AFTER_S else "crashed"
        if state == "alive":
            return "running"
        # The writer may have closed cleanly between our two reads: look again.
        return "crashed" if self.stored_status == "running" else self.stored_status

    @property
    def reason(self) -> str:
        """Why the run ended, in one line (the last session's reason; empty if it gave none, is
        still running, or the file predates reasons)."""
        if "reasons" not in self._h5["run"]:
            return ""
        ds = self._h5["run/reasons"]
        if self.live:
            ds.refresh()
        n = ds.shape[0]
        return ds[n - 1].decode("utf-8", "replace") if n else ""

    def faults(self) -> list[FaultRecord]:
        """Every committed row of the fault table, oldest first (empty for files without one)."""
        n = self._counts.get("faults", 0)
        if not n:
            return []
        g = self._h5["faults"]
        try:
            cols = {c: g[c][:n] for c in layout.FAULT_COLUMNS}
        except (OSError, RuntimeError) as exc:
            raise self._wrap("the fault table", exc) from None
        out = []
        for i in range(n):
            row = {c: v[i] for c, v in cols.items()}
            out.append(FaultRecord(
                time=float(row["time"]), session=int(row["session"]), step=int(row["step"]),
                epoch=int(row["epoch"]), retry=int(row["retry"]),
                **{c: row[c].decode("utf-8", "replace")
                   for c in ("instrument", "command", "error_type", "message", "outcome")}))
        return out

    @property
    def heartbeat(self) -> float:
        ds = self._h5["run/heartbeat"]
        if self.live:
            ds.refresh()
        return float(ds[0])

    @property
    def start_time(self) -> float:
        return float(self.info["start_unix"])

    @property
    def end_time(self) -> float | None:
        ds = self._h5["run/end_time"]
        if self.live:
            ds.refresh()
        t = float(ds[0])
        return None if np.isnan(t) else t

    @property
    def sessions(self) -> list[dict[str, Any]]:
        rows = self._h5["run/sessions"][()]
        reasons = self._h5["run/reasons"][()] if "reasons" in self._h5["run"] else []
        out = []
        for i, r in enumerate(rows):
            out.append({
                "start": float(r["start"]), "end": None if np.isnan(r["end"]) else float(r["end"]),
                "pid": int(r["pid"]), "host": r["host"].decode(),
                "resumed_from_step": int(r["resumed_from_step"]), "status": r["status"].decode(),
                "reason": reasons[i].decode("utf-8", "replace") if i < len(reasons) else "",
            })
        return out

    def _superseded(self, step: np.ndarray, session: np.ndarray) -> np.ndarray:
        """Rows a later session redid: it resumed from a checkpoint before their step."""
        resumed = self._h5["run/sessions"]["resumed_from_step"]
        big = np.iinfo(np.int64).max
        min_later = np.full(len(resumed), big, dtype=np.int64)
        cur = big
        for s in range(len(resumed) - 1, -1, -1):
            min_later[s] = cur
            cur = min(cur, int(resumed[s]))
        idx = np.clip(session.astype(np.int64), 0, len(resumed) - 1)
        return step > min_later[idx]

    # -- scalars and epochs -----------------------------------------------------------------
    @property
    def scalar_names(self) -> list[str]:
        """Per-step scalars: declared names, then names logged but not declared."""
        return self._declared + [n for n in self._extra if n and n not in self._declared]

    @property
    def epoch_names(self) -> list[str]:
        """End-of-epoch summaries (the epoch table): declared, then logged but not declared."""
        names = self._epoch_declared + [n for n in self._epoch_extra
                                        if n and n not in self._epoch_declared]
        if self._legacy_rows:
            old = ["loss_mean" if n == "loss" else n for n in self._declared if n != "epoch"]
            names = [*(n for n in old if n not in names), *names]
        return names

    def unit(self, name: str, table: str = "scalars") -> str:
        """The unit of a scalar (``table="epochs"``: of an epoch summary), as stored in its
        dataset's ``units`` attribute; files before layout minor 2: from the name's suffix."""
        if table not in layout.NAMED_TABLES:
            raise RunFileError(f"table must be 'scalars' or 'epochs', not {table!r}")
        known = self.scalar_names if table == "scalars" else self.epoch_names
        if name not in known:
            raise RunFileError(f"no {table} column {name!r}; known: {known}")
        ds = self._h5[table].get(name) if table in self._h5 else None
        if ds is not None and layout.UNITS_ATTR in ds.attrs:
            unit = ds.attrs[layout.UNITS_ATTR]
            return unit.decode() if isinstance(unit, bytes) else str(unit)
        if name in ("loss", "loss_mean", "epoch", "physical_queries", "test_accuracy",
                    "twin_accuracy"):
            return layout.DIMENSIONLESS  # what the training loops log
        return layout.unit_for(name)

    def _table(self, kind: str) -> dict[str, np.ndarray]:
        """Every committed row of a named table, its declared and _extra columns by name."""
        n = self._counts.get(kind, 0)
        g = self._h5[kind]
        declared = self._declared if kind == "scalars" else self._epoch_declared
        extra_names = self._extra if kind == "scalars" else self._epoch_extra
        try:
            out = {c: g[c][:n] for c in layout.NAMED_TABLES[kind]}
            for name in declared:
                out[name] = g[name][:n]
            used = [(i, name) for i, name in enumerate(extra_names)
                    if name and name not in declared]
            if used:
                extra = g["_extra"][:n]
                for i, name in used:
                    out[name] = extra[:, i]
        except (OSError, RuntimeError) as exc:
            raise self._wrap(kind, exc) from None
        return out

    def _legacy_epoch_mask(self, table: dict[str, np.ndarray]) -> np.ndarray:
        """Rows of an old /scalars table that were epoch summaries (no ``epoch``, some value)."""
        mask = np.zeros(len(table["step"]), dtype=bool)
        if not self._legacy_rows:
            return mask
        k = min(self._legacy_rows, len(mask))
        values = [v[:k] for name, v in table.items()
                  if name not in (*layout.SCALAR_COLUMNS, "epoch")]
        logged = np.any([~np.isnan(v) for v in values], axis=0) if values else np.zeros(k, bool)
        mask[:k] = np.isnan(table["epoch"][:k]) & logged
        return mask

    def scalars(self, include_superseded: bool = False) -> dict[str, np.ndarray]:
        """Every per-step row: ``step``, ``time``, ``session`` and one float array per name (NaN
        where a row did not log that name). End-of-epoch summaries are in :meth:`epochs`."""
        out = self._table("scalars")
        keep = ~self._legacy_epoch_mask(out)
        if not include_superseded:
            keep &= ~self._superseded(out["step"], out["session"])
        return {k: v[keep] for k, v in out.items()}

    def scalar(self, name: str, include_superseded: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of one scalar, only the rows that logged it."""
        if name not in self.scalar_names:
            raise RunFileError(f"no scalar {name!r}; known: {self.scalar_names}")
        table = self.scalars(include_superseded)
        keep = ~np.isnan(table[name])
        return table["step"][keep], table[name][keep]

    def epochs(self, include_superseded: bool = False) -> dict[str, np.ndarray]:
        """The epoch table: ``epoch``, ``step`` (the epoch's last step), ``time``, ``session``
        and one float array per summary (``loss_mean``, ``test_accuracy``, ...)."""
        parts: list[dict[str, np.ndarray]] = []
        if self._legacy_rows:
            old = self._table("scalars")
            mask = self._legacy_epoch_mask(old)
            # The epoch of a summary row: that of the per-step row logged at the same step.
            per_step = ~mask & ~np.isnan(old["epoch"])
            epoch_at = dict(zip(old["step"][per_step].tolist(),
                                old["epoch"][per_step].astype(np.int64).tolist(), strict=True))
            legacy = {"epoch": np.array([epoch_at.get(int(s), -1) for s in old["step"][mask]],
                                        dtype=np.int64),
                      "step": old["step"][mask], "time": old["time"][mask],
                      "session": old["session"][mask]}
            for name, col in old.items():
                if name not in (*layout.SCALAR_COLUMNS, "epoch"):
                    legacy["loss_mean" if name == "loss" else name] = col[mask]
            parts.append(legacy)
        if "epochs" in self._h5:
            parts.append(self._table("epochs"))
        names = self.epoch_names
        out: dict[str, np.ndarray] = {}
        for col in (*layout.EPOCH_COLUMNS, *names):
            pieces = []
            for p in parts:
                n = len(p["step"])
                fill = np.full(n, np.nan) if col not in layout.EPOCH_COLUMNS else None
                pieces.append(p.get(col, fill))
            dtype = layout.INDEX_DTYPES.get(col, np.dtype("f8"))
            out[col] = np.concatenate(pieces).astype(dtype) if pieces else np.zeros(0, dtype)
        if not include_superseded and len(out["step"]):
            keep = ~self._superseded(out["step"], out["session"])
            out = {k: v[keep] for k, v in out.items()}
        return out

    # -- captures ----------------------------------------------------------------------------
    def n_rows(self, stream: str) -> int:
        self._spec(stream)
        return self._counts[f"captures/{stream}"]

    def _spec(self, stream: str) -> CaptureSpec:
        try:
            return self.streams[stream]
        except KeyError:
            raise RunFileError(f"no capture stream {stream!r}; known: {sorted(self.streams)}") from None

    def captures(self, stream: str, rows: slice | Sequence[int] | np.ndarray | None = None,
                 fields: Sequence[str] | None = None) -> CaptureBatch:
        """Committed rows of ``stream`` (all, a slice, or increasing row indices)."""
        spec = self._spec(stream)
        n = self._counts[f"captures/{stream}"]
        if rows is None:
            sel: slice | np.ndarray = slice(0, n)
        elif isinstance(rows, slice):
            sel = slice(*rows.indices(n))
        else:
            sel = np.asarray(rows, dtype=np.int64)
            if sel.size and (sel.min() < 0 or sel.max() >= n):
                raise RunFileError(f"rows out of range for {n} committed rows of {stream!r}")
        wanted = spec.fields if fields is None else tuple(fields)
        for f in wanted:
            if f not in spec.fields:
                raise RunFileError(f"stream {stream!r} does not record {f!r}")
        g = self._h5["captures"][stream]
        try:
            idx = {c: g[c][sel] for c in layout.INDEX_COLUMNS}
            data = {f: g[f][sel] for f in wanted}
        except (OSError, RuntimeError) as exc:
            raise self._wrap(f"captures of {stream!r}", exc) from None
        return CaptureBatch(stream=stream, **idx, **data)

    def iter_captures(self, stream: str, by: str = "step", fields: Sequence[str] | None = None,
                      include_superseded: bool = False) -> Iterator[tuple[int, CaptureBatch]]:
        """``(step, rows)`` (or ``(epoch, rows)``) in order, reading one group at a time."""
        if by not in ("step", "epoch"):
            raise RunFileError(f"by must be 'step' or 'epoch', not {by!r}")
        n = self.n_rows(stream)
        g = self._h5["captures"][stream]
        key = g[by][:n]
        keep = np.ones(n, dtype=bool)
        if not include_superseded:
            keep = ~self._superseded(g["step"][:n], g["session"][:n])
        rows = np.flatnonzero(keep)
        order = np.argsort(key[rows], kind="stable")
        rows, keys = rows[order], key[rows][order]
        bounds = np.flatnonzero(np.diff(keys)) + 1
        for group in np.split(rows, bounds) if len(rows) else []:
            contiguous = group[-1] - group[0] + 1 == len(group)
            sel = slice(int(group[0]), int(group[-1]) + 1) if contiguous else group
            yield int(key[group[0]]), self.captures(stream, sel, fields)

    def steps(self) -> np.ndarray:
        """The distinct steps with scalars or captures (superseded rows left out)."""
        parts = [self.scalars()["step"]]
        for s in self.streams:
            n = self.n_rows(s)
            g = self._h5["captures"][s]
            step = g["step"][:n]
            parts.append(step[~self._superseded(step, g["session"][:n])])
        return np.unique(np.concatenate(parts))

    # -- checkpoints and calibration ---------------------------------------------------------
    def checkpoints(self) -> list[CheckpointInfo]:
        rows = self._h5["checkpoints/index"][: self._counts["checkpoints"]]
        base = companion_dir(self.path)
        return [CheckpointInfo(int(r["step"]), float(r["time"]), int(r["session"]),
                               base / r["file"].decode()) for r in rows]

    def load_checkpoint(self, step: int | None = None) -> Checkpoint:
        """The last checkpoint, or the last one taken at ``step``."""
        infos = self.checkpoints()
        if step is not None:
            infos = [c for c in infos if c.step == step]
        if not infos:
            raise RunFileError(f"{self.path}: no checkpoint" + (f" at step {step}" if step is not None else ""))
        return read_checkpoint(infos[-1].path)

    def calibration_names(self) -> list[str]:
        names = list(self._h5["calibration/tables"])
        added = self._h5["calibration/added"][: self._counts["calibration"]]
        names += [r["name"].decode() for r in added]
        return list(dict.fromkeys(names))

    def calibration(self, name: str) -> Any:
        """A calibration table; if one name was stored more than once, the latest."""
        added = self._h5["calibration/added"][: self._counts["calibration"]]
        for r in added[::-1]:
            if r["name"].decode() == name:
                return read_calibration(companion_dir(self.path) / r["file"].decode())
        if name in self._h5["calibration/tables"]:
            return load_tree(self._h5["calibration/tables"][name])
        raise RunFileError(f"no calibration table {name!r}; known: {self.calibration_names()}")

    # -- summary and export ------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What ``hilt runs show`` prints, as a dict."""
        size = self.path.stat().st_size
        comp = companion_dir(self.path)
        comp_size = sum(p.stat().st_size for p in comp.rglob("*") if p.is_file()) if comp.is_dir() else 0
        sc = self.scalars()
        last = {}
        for name in self.scalar_names:
            col = sc[name][~np.isnan(sc[name])]
            if col.size:
                last[name] = float(col[-1])
        steps = self.steps()
        ep = self.epochs()
        last_epoch = {name: float(ep[name][-1]) for name in self.epoch_names
                      if len(ep[name]) and not np.isnan(ep[name][-1])}
        if len(ep["epoch"]):
            last_epoch = {"epoch": int(ep["epoch"][-1]), "step": int(ep["step"][-1]), **last_epoch}
        return {
            "path": str(self.path), "status": self.status, "reason": self.reason,
            "run_id": self.run_id, "layout_version": self.layout_version,
            "layout_minor": self.layout_minor, "hilt_version": self.info.get("hilt_version"),
            "start_time": self.info.get("start_time"),
            "end_time": None if self.end_time is None else layout.iso(self.end_time),
            "command_line": self.info.get("command_line"), "seeds": self.info.get("seeds"),
            "station_file": self.info.get("station_file"), "steps": int(steps.size),
            "last_step": int(steps[-1]) if steps.size else None,
            "scalar_rows": self._counts["scalars"], "last_scalars": last,
            "units": {n: self.unit(n) for n in self.scalar_names},
            "epochs": int(len(ep["epoch"])), "last_epoch": last_epoch,
            "epoch_units": {n: self.unit(n, "epochs") for n in self.epoch_names},
            "captures": {
                s: {"rows": self.n_rows(s), **{f"{f}_shape": spec.shape(f) for f in spec.fields},
                    "dtypes": {f: spec.dtype(f).name for f in spec.fields}}
                for s, spec in self.streams.items()
            },
            "checkpoints": [c.step for c in self.checkpoints()],
            "calibrations": self.calibration_names(), "sessions": self.sessions,
            "faults": [dataclasses.asdict(f) for f in self.faults()],
            "size_bytes": size, "companion_bytes": comp_size,
        }

    def _metadata_json(self) -> str:
        meta = dict(self.info)
        meta["status"] = self.status
        meta["reason"] = self.reason
        meta["end_time"] = self.end_time
        meta["sessions"] = self.sessions
        return layout.to_json("metadata", meta)

    def export_npz(self, out: str | os.PathLike[str]) -> Path:
        """Every committed row (superseded ones too, with their ``session``) to one ``.npz``.

        Keys: ``metadata`` (JSON text), ``scalars/<name>``, ``epochs/<name>``,
        ``captures/<stream>/<column>``, ``faults/<column>`` (when the run met faults).
        Streams are copied a chunk at a time, so runs bigger than memory export too.
        """
        out = Path(out)
        try:
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                _npz_put(zf, "metadata", np.array(self._metadata_json()))
                for name, col in self.scalars(include_superseded=True).items():
                    _npz_put(zf, f"scalars/{name}", col)
                for name, col in self.epochs(include_superseded=True).items():
                    _npz_put(zf, f"epochs/{name}", col)
                n_faults = self._counts.get("faults", 0)
                for name in layout.FAULT_COLUMNS if n_faults else ():
                    col = self._h5["faults"][name][:n_faults]
                    _npz_put(zf, f"faults/{name}", col.astype(col.dtype.str))  # h5py's metadata off
                for stream, spec in self.streams.items():
                    n = self.n_rows(stream)
                    g = self._h5["captures"][stream]
                    for col in (*layout.INDEX_COLUMNS, *spec.fields):
                        _npz_stream(zf, f"captures/{stream}/{col}", g[col], n)
        except (OSError, RuntimeError) as exc:
            raise self._wrap("data for export", exc) from None
        return out

    def to_xarray(self) -> Any:
        """An ``xarray.Dataset`` of everything (loaded into memory); needs xarray installed."""
        try:
            import xarray as xr
        except ImportError:
            raise RunFileError("NetCDF export needs xarray: pip install xarray") from None
        data_vars: dict[str, Any] = {}
        for name, col in self.scalars(include_superseded=True).items():
            unit = layout.INDEX_UNITS[name] if name in layout.SCALAR_COLUMNS else self.unit(name)
            data_vars[f"scalar_{name}"] = ("scalar_row", col, {"units": unit})
        for name, col in self.epochs(include_superseded=True).items():
            unit = layout.INDEX_UNITS[name] if name in layout.EPOCH_COLUMNS else \
                self.unit(name, "epochs")
            data_vars[f"epoch_{name}"] = ("epoch_row", col, {"units": unit})
        for stream, spec in self.streams.items():
            batch = self.captures(stream)
            row = f"{stream}_row"
            for col in layout.INDEX_COLUMNS:
                data_vars[f"{stream}_{col}"] = (row, getattr(batch, col),
                                                {"units": layout.INDEX_UNITS[col]})
            for field in spec.fields:
                arr = getattr(batch, field)
                dims = (row, *(f"{stream}_{field}_d{i}" for i in range(arr.ndim - 1)))
                data_vars[f"{stream}_{field}"] = (dims, arr, {"units": spec.unit(field)})
        attrs = {"hilt_format": layout.FORMAT, "layout_version": self.layout_version,
                 "metadata": self._metadata_json()}
        return xr.Dataset(data_vars, attrs=attrs)

    def export_netcdf(self, out: str | os.PathLike[str]) -> Path:
        """Everything to a NetCDF file through xarray (optional dependency)."""
        out = Path(out)
        ds = self.to_xarray()
        try:
            ds.to_netcdf(out)
        except (ValueError, TypeError, OSError, ImportError, RuntimeError) as exc:
            raise RunFileError(f"{out}: NetCDF export failed ({short_reason(exc)})") from None
        return out

    # -- closing -----------------------------------------------------------------------------
    def close(self) -> None:
        h5 = getattr(self, "_h5", None)
        if h5 is not None:
            h5.close()
        self._close_view()

    def _close_view(self) -> None:
        if self._view is not None:
            self._view.close()
            self._view = None

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_run(path: str | os.PathLike[str]) -> RunReader:
    """Open a run file for reading; a clear :class:`RunFileError` if it is not a sound one."""
    return RunReader(path)


def _npz_put(zf: zipfile.ZipFile, key: str, arr: np.ndarray) -> None:
    with zf.open(key + ".npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=False)


def _npz_stream(zf: zipfile.ZipFile, key: str, ds: h5py.Dataset, n: int) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(ds.dtype), "fortran_order": False,
              "shape": (n, *ds.shape[1:])}
    step = max(1, ds.chunks[0] if ds.chunks else 1024) * 8
    with zf.open(key + ".npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array_header_2_0(fh, header)
        for start in range(0, n, step):
            fh.write(np.ascontiguousarray(ds[start:min(n, start + step)]).tobytes())
