"""Write a run file as the run goes: SWMR, one background thread, flushed after every batch.

The training loop's thread only validates and copies what it hands over (so it may reuse its
buffers at once) and puts it on a bounded queue; a background thread does every HDF5 call. The
thread drains whatever is queued, writes it, and commits: flush the data, then record the
committed row counts in ``/run/committed`` and flush again. Readers trust only committed rows, so
a kill in the middle of a write leaves, at worst, uncommitted rows they ignore.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import platform
import shlex
import shutil
import socket
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hilt.runfile import layout
from hilt.runfile import status as run_status
from hilt.runfile._companion import (
    Checkpoint,
    capture_rng_state,
    snapshot,
    write_atomic,
    write_checkpoint,
)
from hilt.runfile._errors import RunFileError, short_reason
from hilt.runfile._files import WriterLock, clear_write_flags, companion_dir, read_superblock
from hilt.runfile._tree import save_tree
from hilt.runfile.layout import CaptureSpec

log = logging.getLogger(__name__)
_OPEN_WRITERS: weakref.WeakSet[RunWriter] = weakref.WeakSet()
# Batches queued together are written together and committed once: a flush costs about the
# same for one batch as for ten, so a loop that outruns the disk gets fewer, larger commits.
# Half the queue at most, so the loop refills one half while the other is written, and a live
# reader's view stays fresh.
_GROUP_FRACTION = 0.5


@atexit.register
def _close_forgotten_writers() -> None:
    # A script that exits without closing its run did not complete it.
    for w in list(_OPEN_WRITERS):
        try:
            w.close("aborted", "the program exited without closing the run")
        except Exception:  # best effort at interpreter exit
            pass


class _ByteQueue:
    """A FIFO bounded by the bytes it holds: the loop blocks only when the disk is behind by
    more than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self._items: collections.deque[tuple[Any, int]] = collections.deque()
        self._bytes = 0
        self._limit = limit
        self._cond = threading.Condition()

    def put(self, item: Any, nbytes: int, alive: threading.Thread) -> None:
        with self._cond:
            # Oversized items still go through once the queue is empty.
            while self._bytes and self._bytes + nbytes > self._limit:
                if not alive.is_alive():
                    raise RunFileError("the run file's writer thread has stopped")
                self._cond.wait(0.1)
            self._items.append((item, nbytes))
            self._bytes += nbytes
            self._cond.notify_all()

    def get_group(self, timeout: float, max_bytes: int) -> list[Any]:
        """What is queued, up to about ``max_bytes``; waits up to ``timeout`` for a first item."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            items: list[Any] = []
            taken = 0
            while self._items and (not items or taken < max_bytes):
                item, nbytes = self._items.popleft()
                items.append(item)
                taken += nbytes
            self._bytes -= taken
            self._cond.notify_all()
            return items


class _BufferPool:
    """Reused capture buffers. Fresh multi-megabyte arrays come from new pages the kernel must
    fault in and zero; on page-cache-speed disks that halved capture throughput (ADR 5)."""

    def __init__(self, limit: int) -> None:
        self._free: collections.OrderedDict[tuple[Any, ...], list[np.ndarray]] = (
            collections.OrderedDict())
        self._bytes = 0
        self._limit = limit
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        key = (shape, dtype.str)
        with self._lock:
            free = self._free.get(key)
            if free:
                self._free.move_to_end(key)
                buf = free.pop()
                self._bytes -= buf.nbytes
                return buf
        return np.empty(shape, dtype)

    def give(self, buf: np.ndarray) -> None:
        key = (buf.shape, buf.dtype.str)
        with self._lock:
            # Make room by dropping the least recently used other shapes (say, the odd last
            # batch of an epoch); if the pool is full of this shape, let this buffer go.
            for old_key in list(self._free):
                if self._bytes + buf.nbytes <= self._limit:
                    break
                if old_key != key:
                    self._bytes -= sum(b.nbytes for b in self._free.pop(old_key))
            if self._bytes + buf.nbytes <= self._limit:
                self._free.setdefault(key, []).append(buf)
                self._free.move_to_end(key)
                self._bytes += buf.nbytes


class RunWriter:
    """The one writer of a run file. Make it with :meth:`create` or :meth:`resume`; use it as a
    context manager (a clean exit marks the run ``completed``; an exception ``aborted`` or
    ``failed``, by :func:`hilt.runfile.status.ending`, with the exception as the reason)."""

    def __init__(self, path: Path, h5: h5py.File, lock: WriterLock, *, session: int,
                 queue_bytes: int, heartbeat_s: float, checkpoint: Checkpoint | None) -> None:
        self.path = path
        self.session = session
        #: The checkpoint a resumed run continues from (``None`` for a new run or if none).
        self.checkpoint = checkpoint
        self._h5 = h5
        self._lock = lock
        self._heartbeat_s = heartbeat_s
        self._queue = _ByteQueue(queue_bytes)
        self._pool = _BufferPool(queue_bytes)
        self._group_bytes = max(1, int(queue_bytes * _GROUP_FRACTION))
        self._error: BaseException | None = None
        self._closed = False
        self._api_lock = threading.Lock()
        self._companion = companion_dir(path)
        self.run_id = str(h5.attrs["run_id"])
        self._named = {kind: _NamedTable(h5, kind) for kind in layout.NAMED_TABLES}
        self.specs: dict[str, CaptureSpec] = {
            name: CaptureSpec.from_json(g.attrs["spec"]) for name, g in h5["captures"].items()
        }
        self._tables: list[str] = layout.json_attr(h5["run/committed"].attrs, "tables")
        self._rows = dict(zip(self._tables, (int(n) for n in h5["run/committed"][()]), strict=True))
        self.faults_recorded = 0
        self._thread = threading.Thread(target=self._run, name=f"runfile:{path.name}", daemon=True)
        self._thread.start()
        _OPEN_WRITERS.add(self)

    # -- making one --------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        scalars: Sequence[str] | Mapping[str, str | None] = (),
        epoch_scalars: Sequence[str] | Mapping[str, str | None] = (),
        captures: Mapping[str, CaptureSpec] | None = None,
        station_snapshot: Mapping[str, Any] | None = None,
        station_file: str | os.PathLike[str] | None = None,
        config: Mapping[str, Any] | None = None,
        seeds: Mapping[str, int] | None = None,
        calibrations: Mapping[str, Any] | None = None,
        command_line: str | None = None,
        extra_scalar_slots: int = 16,
        overwrite: bool = False,
        queue_bytes: int = 64 << 20,
        heartbeat_s: float = 2.0,
    ) -> RunWriter:
        """Start a new run file at ``path`` and return its writer.

        ``scalars`` (per-step values for :meth:`log_scalars`), ``epoch_scalars`` (end-of-epoch
        summaries for :meth:`log_epoch`) and ``captures`` declare what grows. Scalars are names,
        or a mapping name -> unit (``{"loss": "1", "step_time_s": "s"}``; ``"1"``:
        dimensionless; a name without one takes its suffix's unit, see
        :func:`hilt.runfile.layout.unit_for`). Up to ``extra_scalar_slots`` names not declared
        may still be logged: they get their own dataset when the session ends.
        ``calibrations`` are tables known at the start (stored in the run file itself); later
        ones go through :meth:`add_calibration`.
        """
        path = Path(path)
        named = {"scalars": layout.named_columns("scalars", scalars),
                 "epochs": layout.named_columns("epochs", epoch_scalars)}
        specs = dict(captures or {})
        for name, spec in specs.items():
            layout.check_name("capture stream", name)
            if not isinstance(spec, CaptureSpec):
                raise RunFileError(f"capture stream {name!r}: expected a CaptureSpec, got {spec!r}")
        for name in calibrations or {}:
            layout.check_name("calibration", name)
        if path.exists() and not overwrite:
            raise RunFileError(f"{path}: already exists (pass overwrite=True to replace it)")
        if not path.parent.is_dir():
            raise RunFileError(f"{path.parent}: no such directory")
        meta = {
            "seeds": layout.to_json("seeds", dict(seeds or {})),
            "config": layout.to_json("config", dict(config or {})),
            "station_snapshot": layout.to_json("station_snapshot", dict(station_snapshot or {})),
        }
        station_text = ""
        if station_file is not None:
            try:
                station_text = Path(station_file).read_text()
            except (OSError, UnicodeDecodeError):
                station_text = ""  # the path alone still says which file it was

        lock = WriterLock(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        h5: h5py.File | None = None
        try:
            if overwrite:
                path.unlink(missing_ok=True)
                for sub in ("checkpoints", "calibration"):  # the old run's, not indexed by the new
                    shutil.rmtree(companion_dir(path) / sub, ignore_errors=True)
            now = time.time()
            h5 = h5py.File(tmp, "w", libver=layout.LIBVER, rdcc_nbytes=layout.CHUNK_CACHE_BYTES,
                           rdcc_w0=1.0)
            a = h5.attrs
            a["hilt_format"] = layout.FORMAT
            a["layout_version"] = layout.LAYOUT_VERSION
            a["layout_minor"] = layout.LAYOUT_MINOR
            a["hilt_version"] = _hilt_version()
            a["run_id"] = uuid.uuid4().hex
            a["start_time"] = layout.iso(now)
            a["start_unix"] = now
            a["command_line"] = command_line if command_line is not None else shlex.join(sys.argv)
            a["station_file"] = str(station_file) if station_file is not None else ""
            a["station_file_text"] = station_text
            for k, v in meta.items():
                a[k] = v
            a["environment"] = layout.to_json("environment", _environment())
            for kind, attr in layout.NAMES_ATTR.items():
                a[attr] = layout.to_json(attr, list(named[kind]))
            a["capture_streams"] = layout.to_json("capture_streams", list(specs))
            a["companion"] = companion_dir(path).name
            _build_layout(h5, named, specs, extra_scalar_slots, calibrations or {}, now)
            h5.flush()
            h5.swmr_mode = True
            # Readers never see a half-built layout: the file appears under its name complete.
            os.replace(tmp, path)
        except BaseException:
            if h5 is not None:
                h5.close()
            tmp.unlink(missing_ok=True)
            lock.release()
            raise
        return cls(path, h5, lock, session=0, queue_bytes=queue_bytes, heartbeat_s=heartbeat_s,
                   checkpoint=None)

    @classmethod
    def resume(cls, path: str | os.PathLike[str], *, queue_bytes: int = 64 << 20,
               heartbeat_s: float = 2.0) -> RunWriter:
        """Reopen a crashed or aborted run for appending; ``writer.checkpoint`` is the last
        checkpoint (or ``None``), and the run goes on from the step after it. Rows logged after
        that checkpoint stay in the file (they were measured) but readers treat them as
        superseded by the new session's."""
        from hilt.runfile.reader import RunReader

        path = Path(path)
        lock = WriterLock(path)
        try:
            # We hold the lock, so nobody writes: read it as a closed or crashed file.
            with RunReader(path, _writer_gone=True) as reader:
                stored = reader.stored_status
                if stored == "completed":
                    raise RunFileError(f"{path}: the run completed; there is nothing to resume")
                checkpoint = reader.load_checkpoint() if reader.checkpoints() else None
            if read_superblock(path).open_for_write:
                clear_write_flags(path)
            h5 = _reopen_for_append(path)
            try:
                _upgrade_layout(h5)
                session = _start_session(h5, checkpoint)
                promote_extras(h5)  # names a crashed session logged: their own datasets now
                h5.flush()
                h5.swmr_mode = True
            except BaseException:
                h5.close()
                raise
        except BaseException:
            lock.release()
            raise
        return cls(path, h5, lock, session=session, queue_bytes=queue_bytes,
                   heartbeat_s=heartbeat_s, checkpoint=checkpoint)

    # -- the loop's side ---------------------------------------------------------------------
    @property
    def next_step(self) -> int:
        """The first step to run: 0, or the one after the checkpoint a resume continues from."""
        return 0 if self.checkpoint is None else self.checkpoint.step + 1

    def log_scalars(self, step: int, values: Mapping[str, Any] | None = None, /,
                    **kw: Any) -> None:
        """One row of per-step scalars; names not given in this call read back as NaN."""
        self._log_row("scalars", {"step": int(step)}, {**(values or {}), **kw})

    def log_epoch(self, epoch: int, step: int, values: Mapping[str, Any] | None = None, /,
                  **kw: Any) -> None:
        """One row of the epoch table: the summary of ``epoch``, whose last step was ``step``
        (e.g. ``loss_mean``, ``test_accuracy``); names not given read back as NaN."""
        self._log_row("epochs", {"epoch": int(epoch), "step": int(step)}, {**(values or {}), **kw})

    def _log_row(self, kind: str, index: dict[str, int], merged: dict[str, Any]) -> None:
        self._check_open()
        if not merged:
            return
        table = self._named[kind]
        with self._api_lock:
            declared: dict[int, float] = {}
            extra: dict[int, float] = {}
            new_names: list[tuple[int, str]] = []
            for name, value in merged.items():
                v = _to_float(name, value)
                col = table.column.get(name)
                if col is not None:
                    declared[col] = v
                    continue
                slot = table.extra_slots.get(name)
                if slot is None:
                    slot = table.new_slot(name)
                    new_names.append((slot, name))
                extra[slot] = v
            item = ("row", kind, index, time.time(), declared, extra, new_names)
            self._queue.put(item, 64 + 16 * len(merged), self._thread)

    def capture(
        self,
        stream: str,
        *,
        step: int | np.ndarray,
        epoch: int | np.ndarray = 0,
        sample_idx: int | np.ndarray | Sequence[int] | None = None,
        inputs: Any = None,
        physical: Any = None,
        twin: Any = None,
        copy: bool = True,
    ) -> None:
        """Record one batch: what was sent, what the hardware returned, what the twin predicted.

        Arrays (numpy or torch) have the batch on their first axis; ``step``/``epoch`` are one
        number for the batch or one per row; ``sample_idx`` gives each row's sample (dataset
        index). Fields left out read back as NaN. Returns once the data are copied; the disk is
        written behind the caller. ``copy=False`` hands the arrays over instead (no copy when
        they already have the stream's dtype and are C-contiguous): the caller must then never
        modify them again. It saves one pass over memory per byte captured, which matters only
        when the disk is as fast as memory.
        """
        self._check_open()
        spec = self.specs.get(stream)
        if spec is None:
            raise RunFileError(f"unknown capture stream {stream!r}; declared: {sorted(self.specs)}")
        given = {"inputs": inputs, "physical": physical, "twin": twin}
        arrays: dict[str, np.ndarray] = {}
        pooled: list[np.ndarray] = []
        n: int | None = None
        for field, value in given.items():
            if value is None:
                continue
            shape = spec.shape(field)
            if shape is None:
                raise RunFileError(f"stream {stream!r} does not record {field}")
            src = _as_array(value)
            if src.shape[1:] != shape or src.ndim != len(shape) + 1:
                raise RunFileError(
                    f"stream {stream!r}: {field} has shape {src.shape}, expected (batch, *{shape})"
                )
            if n is not None and src.shape[0] != n:
                raise RunFileError(f"stream {stream!r}: fields disagree on the batch size")
            n = src.shape[0]
            dtype = spec.dtype(field)
            if not copy and src.dtype == dtype and src.flags.c_contiguous:
                arrays[field] = src
                continue
            # A copy, into a recycled buffer: the caller may reuse its own at once.
            arr = self._pool.take(src.shape, dtype)
            np.copyto(arr, src, casting="unsafe")
            arrays[field] = arr
            pooled.append(arr)
        if n is None:
            if sample_idx is None:
                raise RunFileError("capture() needs at least one of inputs/physical/twin or sample_idx")
            n = int(np.size(sample_idx))
        index = {
            "step": _column("step", step, n),
            "epoch": _column("epoch", epoch, n),
            "sample": _column("sample_idx", -1 if sample_idx is None else sample_idx, n),
        }
        nbytes = sum(a.nbytes for a in arrays.values()) + 24 * n
        self._queue.put(("capture", stream, time.time(), index, arrays, pooled), nbytes,
                        self._thread)

    def save_checkpoint(self, step: int, model_state: Any = None, optim_state: Any = None,
                        rng_state: Any = None, extra: Any = None) -> None:
        """Checkpoint for resume. ``rng_state`` defaults to :func:`capture_rng_state`; states are
        copied now and written in the background."""
        self._check_open()
        state = {
            "model": snapshot(model_state),
            "optimizer": snapshot(optim_state),
            "rng": snapshot(capture_rng_state() if rng_state is None else rng_state),
            "extra": snapshot(extra),
        }
        self._queue.put(("checkpoint", int(step), state), 1 << 20, self._thread)

    def add_calibration(self, name: str, table: Any) -> None:
        """Store a calibration table (a dict of arrays and numbers, nesting allowed)."""
        self._check_open()
        layout.check_name("calibration", name)
        self._queue.put(("calibration", name, snapshot(table)), 1 << 20, self._thread)

    def record_fault(self, *, step: int = -1, epoch: int = -1, retry: int = 0, instrument: str = "",
                     command: Any = None, error_type: str = "", message: str = "",
                     outcome: str = "retried", when: float | None = None) -> None:
        """One row of the fault table: what went wrong (``error_type``, ``message``), where
        (``instrument``, the ``command`` or exchange if known, ``step``/``epoch``; -1 outside a
        step), how many retries of that step came before it, and what the loop did next:
        ``retried``, ``aborted`` (the run stopped on it) or ``safe_state`` (it happened while
        making the hardware safe). Texts longer than their column are cut."""
        self._check_open()
        if outcome not in layout.FAULT_OUTCOMES:
            raise RunFileError(f"fault outcome {outcome!r}: expected one of {layout.FAULT_OUTCOMES}")
        if isinstance(command, bytes):
            command = command.decode("utf-8", "backslashreplace")
        cols = layout.FAULT_COLUMNS
        row = {
            "time": time.time() if when is None else float(when), "step": int(step),
            "epoch": int(epoch), "retry": int(retry),
            "instrument": layout.clip_bytes(instrument, cols["instrument"]),
            "command": layout.clip_bytes("" if command is None else command, cols["command"]),
            "error_type": layout.clip_bytes(error_type, cols["error_type"]),
            "message": layout.clip_bytes(message, cols["message"]),
            "outcome": outcome.encode(),
        }
        self.faults_recorded += 1
        self._queue.put(("fault", row), 1024, self._thread)

    def flush(self) -> None:
        """Block until everything handed over so far is written and committed."""
        self._check_open()
        done = threading.Event()
        self._queue.put(("barrier", done), 0, self._thread)
        while not done.wait(0.1):
            if not self._thread.is_alive():
                break
        self._raise_if_failed()

    def close(self, status: str = "completed", reason: str = "") -> None:
        """Drain, mark the run ``completed``, ``aborted`` or ``failed`` with the ``reason`` (one
        line for a person: why it ended), and close. Idempotent."""
        if status not in layout.CLOSE_STATUSES:
            raise RunFileError(f"close status must be one of {layout.CLOSE_STATUSES}, not {status!r}")
        with self._api_lock:
            if self._closed:
                return
            self._closed = True
        _OPEN_WRITERS.discard(self)
        if self._thread.is_alive():
            self._queue.put(("close", status, str(reason)), 0, self._thread)
            self._thread.join()
        self._lock.release()
        self._raise_if_failed()

    def abort(self, reason: str = "") -> None:
        """Close as ``aborted`` (the run was stopped before its end; it can be resumed)."""
        self.close("aborted", reason)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if exc_type is None:
            self.close("completed")
            return
        try:
            ended = run_status.ending(exc) if exc is not None else ("aborted", exc_type.__name__)
            self.close(*ended)
        except RunFileError:
            pass  # the exception already in flight says more

    def _check_open(self) -> None:
        if self._closed:
            raise RunFileError(f"{self.path}: the run writer is closed")
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RunFileError(
                f"{self.path}: writing failed in the background: {self._error!r}"
            ) from self._error

    # -- the background thread ---------------------------------------------------------------
    def _run(self) -> None:
        h5 = self._h5
        try:
            while True:
                items = self._queue.get_group(self._heartbeat_s, self._group_bytes)
                barriers: list[threading.Event] = []
                close_status: str | None = None
                close_reason = ""
                fault_rows: list[dict[str, Any]] = []
                named_rows: dict[str, list[tuple[Any, ...]]] = {}
                captures: dict[str, list[tuple[Any, ...]]] = {}
                for item in items:
                    kind = item[0]
                    if kind == "row":
                        named_rows.setdefault(item[1], []).append(item[2:])
                    elif kind == "capture":
                        captures.setdefault(item[1], []).append(item[2:])
                    elif kind == "checkpoint":
                        self._write_checkpoint(item[1], item[2])
                    elif kind == "calibration":
                        self._write_calibration(item[1], item[2])
                    elif kind == "barrier":
                        barriers.append(item[1])
                    elif kind == "fault":
                        fault_rows.append(item[1])
                    elif kind == "close":
                        close_status, close_reason = item[1], item[2]
                for table, rows in named_rows.items():
                    self._write_named(table, rows)
                if fault_rows:
                    self._write_faults(fault_rows)
                for stream, batches in captures.items():
                    self._write_captures(stream, batches)
                self._commit()
                if close_status is not None:
                    self._finish(close_status, close_reason)
                for b in barriers:
                    b.set()
                if close_status is not None:
                    return
        except BaseException as exc:  # handed to the loop's thread
            self._error = exc
            try:
                h5.close()  # the file keeps "running"; with the lock gone, readers see "crashed"
            except Exception:
                pass

    def _append(self, ds: h5py.Dataset, start: int, data: np.ndarray) -> None:
        end = start + len(data)
        if ds.shape[0] < end:
            ds.resize(end, axis=0)
        ds[start:end] = data

    def _write_named(self, kind: str, rows: list[tuple[Any, ...]]) -> None:
        """Rows of a named table (``scalars`` or ``epochs``): index, time, session, declared
        columns, ``_extra``."""
        g = self._h5[kind]
        table = self._named[kind]
        start = self._rows[kind]
        n = len(rows)
        for _, _, _, _, new_names in rows:
            for slot, name in new_names:
                g["_extra_names"][slot] = name.encode()
        for col in layout.NAMED_TABLES[kind]:
            if col == "time":
                values = np.array([r[1] for r in rows], dtype=np.float64)
            elif col == "session":
                values = np.full(n, self.session, dtype=np.int16)
            else:
                values = np.array([r[0][col] for r in rows], dtype=np.int64)
            self._append(g[col], start, values)
        for col, name in enumerate(table.names):
            if any(col in r[2] for r in rows):
                self._append(g[name], start, np.array([r[2].get(col, np.nan) for r in rows]))
            else:
                g[name].resize(start + n, axis=0)  # NaN fill; nothing to write
        if any(r[3] for r in rows):
            extra = np.full((n, table.n_extra), np.nan)
            for i, r in enumerate(rows):
                for slot, v in r[3].items():
                    extra[i, slot] = v
            self._append(g["_extra"], start, extra)
        else:
            g["_extra"].resize(start + n, axis=0)
        self._rows[kind] = start + n

    def _write_faults(self, rows: list[dict[str, Any]]) -> None:
        g = self._h5["faults"]
        start = self._rows["faults"]
        for name, dtype in layout.FAULT_COLUMNS.items():
            col = np.full(len(rows), self.session, dtype=dtype) if name == "session" else \
                np.array([r[name] for r in rows], dtype=dtype)
            self._append(g[name], start, col)
        self._rows["faults"] = start + len(rows)

    def _write_captures(self, stream: str, batches: list[tuple[Any, ...]]) -> None:
        g = self._h5["captures"][stream]
        start = self._rows[f"captures/{stream}"]
        sizes = [len(b[1]["step"]) for b in batches]
        end = start + sum(sizes)
        for name in (*layout.INDEX_COLUMNS, *self.specs[stream].fields):
            g[name].resize(end, axis=0)
        g["step"][start:end] = np.concatenate([b[1]["step"] for b in batches])
        g["epoch"][start:end] = np.concatenate([b[1]["epoch"] for b in batches])
        g["sample"][start:end] = np.concatenate([b[1]["sample"] for b in batches])
        g["time"][start:end] = np.repeat([b[0] for b in batches], sizes)
        g["session"][start:end] = self.session
        pos = start
        for (_, _, arrays, pooled), n in zip(batches, sizes, strict=True):
            for field, arr in arrays.items():
                g[field][pos:pos + n] = arr
            for arr in pooled:  # only our own copies go back; handed-over arrays are the caller's
                self._pool.give(arr)
            pos += n
        self._rows[f"captures/{stream}"] = end

    def _write_checkpoint(self, step: int, state: dict[str, Any]) -> None:
        rel = f"checkpoints/step_{step:012d}_s{self.session}.h5"
        write_checkpoint(self._companion / rel, step, self.run_id, state)
        row = np.array([(step, time.time(), self.session, rel.encode())], dtype=layout.CHECKPOINT_DTYPE)
        self._append(self._h5["checkpoints/index"], self._rows["checkpoints"], row)
        self._rows["checkpoints"] += 1

    def _write_calibration(self, name: str, table: Any) -> None:
        n = self._rows["calibration"]
        rel = f"calibration/{name}_{n:04d}.h5"
        write_atomic(self._companion / rel, layout.CALIBRATION_FORMAT,
                     {"name": name, "time": time.time(), "run_id": self.run_id}, {"table": table})
        row = np.array([(name.encode(), time.time(), self.session, rel.encode())],
                       dtype=layout.CALIBRATION_DTYPE)
        self._append(self._h5["calibration/added"], n, row)
        self._rows["calibration"] = n + 1

    def _commit(self) -> None:
        h5 = self._h5
        h5.flush()  # the rows' data first ...
        h5["run/committed"][:] = np.array([self._rows[t] for t in self._tables], dtype=np.int64)
        h5["run/heartbeat"][0] = time.time()
        h5.flush()  # ... then the counts that make them visible

    def _finish(self, status: str, reason: str) -> None:
        h5 = self._h5
        now = time.time()
        h5["run/reasons"][self.session] = layout.clip_bytes(reason, layout.REASON_DTYPE)
        h5["run/end_time"][0] = now
        sessions = h5["run/sessions"]
        row = sessions[self.session]
        row["end"] = now
        row["status"] = status.encode()
        sessions[self.session] = row
        h5["run/status"][0] = status.encode()
        h5.flush()
        h5.close()
        if any(t.extra_slots for t in self._named.values()):
            self._promote_after_close()

    def _promote_after_close(self) -> None:
        """Names first logged in this session sat in ``_extra`` (SWMR allows no new datasets):
        give each its own dataset now that the file is closed. Only if nobody has the file open
        (HDF5's own lock says so); otherwise the next resume does it. Readers that try to open
        it meanwhile wait (the writer's lock is still held)."""
        try:
            h5 = h5py.File(self.path, "r+", libver=layout.LIBVER)
        except OSError as exc:
            log.info("%s: undeclared scalars stay in _extra (%s)", self.path, short_reason(exc))
            return
        try:
            promote_extras(h5)
        finally:
            h5.close()


# -- helpers ---------------------------------------------------------------------------------
def _hilt_version() -> str:
    try:
        from hilt import __version__
    except ImportError:
        return "unknown"
    return str(__version__)


def _environment() -> dict[str, Any]:
    env = {
        "python": platform.python_version(), "platform": platform.platform(),
        "host": socket.gethostname(), "pid": os.getpid(), "numpy": np.__version__,
        "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        env["torch"] = torch.__version__
    return env


def _growing(g: h5py.Group, name: str, row_shape: tuple[int, ...], dtype: Any, rows: int,
             compression: str | None = None, units: str | None = None) -> h5py.Dataset:
    dtype = np.dtype(dtype)
    ds = g.create_dataset(
        name, shape=(0, *row_shape), maxshape=(None, *row_shape), chunks=(rows, *row_shape),
        dtype=dtype, fillvalue=None if dtype.names else layout.fill_value(dtype),
        compression=compression, shuffle=compression is not None,
    )
    if units is not None:  # else _label_units gives it the fixed column's unit, or none
        ds.attrs[layout.UNITS_ATTR] = units
    return ds


def _build_layout(h5: h5py.File, named: dict[str, dict[str, str]], specs: dict[str, CaptureSpec],
                  extra_slots: int, calibrations: Mapping[str, Any], now: float) -> None:
    run = h5.create_group("run")
    run.create_dataset("status", data=np.array([b"running"], dtype=layout.STATUS_DTYPE))
    run.create_dataset("end_time", data=np.array([np.nan])).attrs[layout.UNITS_ATTR] = "s"
    run.create_dataset("heartbeat", data=np.array([now])).attrs[layout.UNITS_ATTR] = "s"
    tables = ["scalars", "checkpoints", "calibration", *(f"captures/{s}" for s in specs), "faults",
              "epochs"]
    committed = run.create_dataset("committed", data=np.zeros(len(tables), dtype=np.int64))
    committed.attrs["tables"] = layout.to_json("tables", tables)
    committed.attrs[layout.UNITS_ATTR] = layout.DIMENSIONLESS
    sessions = _growing(run, "sessions", (), layout.SESSION_DTYPE, 64)
    sessions.resize(1, axis=0)
    sessions[0] = np.array((now, np.nan, os.getpid(), socket.gethostname().encode()[:64], -1,
                            b"running"), dtype=layout.SESSION_DTYPE)
    _build_minor1(h5)
    _build_named(h5, "scalars", named["scalars"], extra_slots)
    _build_named(h5, "epochs", named["epochs"], extra_slots)

    cap = h5.create_group("captures")
    for name, spec in specs.items():
        g = cap.create_group(name)
        g.attrs["spec"] = spec.to_json()
        rows = spec.rows_per_chunk()
        for col in layout.INDEX_COLUMNS:
            _growing(g, col, (), layout.INDEX_DTYPES[col], max(rows, layout.CHUNK_MAX_ROWS),
                     units=layout.INDEX_UNITS[col])
        for field in spec.fields:
            _growing(g, field, spec.shape(field), spec.dtype(field), rows,  # type: ignore[arg-type]
                     spec.compression, units=spec.unit(field))

    ck = h5.create_group("checkpoints")
    _growing(ck, "index", (), layout.CHECKPOINT_DTYPE, 64)
    cal = h5.create_group("calibration")
    _growing(cal, "added", (), layout.CALIBRATION_DTYPE, 64)
    tables_group = cal.create_group("tables")
    for name, table in calibrations.items():
        save_tree(tables_group, name, table)
    _label_units(h5)


def _build_named(h5: h5py.File, kind: str, columns: Mapping[str, str], extra_slots: int) -> None:
    """A named table (``scalars``, ``epochs``): its index columns, one float64 dataset per
    declared name (with its unit), and the spare ``_extra`` columns for names logged later."""
    g = h5.create_group(kind)
    for col in layout.NAMED_TABLES[kind]:
        _growing(g, col, (), layout.INDEX_DTYPES[col], layout.CHUNK_MAX_ROWS,
                 units=layout.INDEX_UNITS[col])
    for name, unit in columns.items():
        _growing(g, name, (), np.float64, layout.CHUNK_MAX_ROWS, units=unit)
    _growing(g, "_extra", (extra_slots,), np.float64,
             layout.chunk_rows((extra_slots,), np.float64))
    g.create_dataset("_extra_names", data=np.zeros(extra_slots, dtype=layout.NAME_DTYPE))


def _label_units(h5: h5py.File) -> None:
    """Give every dataset that has none a ``units`` attribute: the fixed columns' units (unix
    times in s, counts and indexes ``"1"``), ``""`` for text, tables and what was not told."""
    def label(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and layout.UNITS_ATTR not in obj.attrs:
            column = name.rsplit("/", 1)[-1]
            numeric = obj.dtype.kind in "iuf" and obj.dtype.names is None
            obj.attrs[layout.UNITS_ATTR] = layout.INDEX_UNITS.get(column, "") if numeric else ""

    h5.visititems(label)


class _NamedTable:
    """The writer's view of a named table: its declared columns and its ``_extra`` slots."""

    def __init__(self, h5: h5py.File, kind: str) -> None:
        self.kind = kind
        self.names: list[str] = layout.json_attr(h5.attrs, layout.NAMES_ATTR[kind], [])
        self.column = {n: i for i, n in enumerate(self.names)}
        extra = [n.decode() for n in h5[f"{kind}/_extra_names"][()]]
        self.extra_slots = {n: i for i, n in enumerate(extra) if n}
        self.n_extra = len(extra)

    def new_slot(self, name: str) -> int:
        layout.check_name("scalar", name)
        if name in layout.RESERVED[self.kind]:
            raise RunFileError(f"scalar name {name!r} is reserved")
        if len(self.extra_slots) >= self.n_extra:
            raise RunFileError(
                f"{self.kind[:-1]} {name!r} was not declared and all {self.n_extra} extra slots "
                "are used: declare it in RunWriter.create(" +
                ("scalars" if self.kind == "scalars" else "epoch_scalars") + "=...)")
        slot = len(self.extra_slots)
        self.extra_slots[name] = slot
        return slot


def promote_extras(h5: h5py.File) -> list[str]:
    """Give every name in a named table's ``_extra`` its own dataset (its committed rows
    copied, its unit from its name), list it in the table's names attribute and free its slot.
    Only on a file open without SWMR (a session's end, a resume). Returns the names moved."""
    committed = h5["run/committed"]
    counts = dict(zip(layout.json_attr(committed.attrs, "tables"),
                      (int(n) for n in committed[()]), strict=True))
    moved: list[str] = []
    for kind, attr in layout.NAMES_ATTR.items():
        if kind not in h5:
            continue
        g = h5[kind]
        names_ds = g["_extra_names"]
        used = [(i, n.decode()) for i, n in enumerate(names_ds[()]) if n]
        if not used:
            continue
        n_rows = counts.get(kind, 0)
        extra = g["_extra"]
        declared = layout.json_attr(h5.attrs, attr, [])
        for slot, name in used:
            values = extra[:n_rows, slot]
            if name not in g:
                ds = _growing(g, name, (), np.float64, layout.CHUNK_MAX_ROWS,
                              units=layout.unit_for(name))
                ds.resize(extra.shape[0], axis=0)
                ds[:n_rows] = values
            extra[:, slot] = np.nan  # a later session may give the slot to another name
            names_ds[slot] = b""
            if name not in declared:
                declared.append(name)
            moved.append(f"{kind}/{name}")
        h5.attrs[attr] = layout.to_json(attr, declared)
    return moved


#: How long a resume waits for readers that have the file open (HDF5 locks it while they
#: read) to let go: ``hilt runs list`` or a poll takes milliseconds, a viewer holds it open.
REOPEN_WAIT_S = 5.0


def _reopen_for_append(path: Path) -> h5py.File:
    deadline = time.monotonic() + REOPEN_WAIT_S
    while True:
        try:
            return h5py.File(path, "r+", libver=layout.LIBVER,
                             rdcc_nbytes=layout.CHUNK_CACHE_BYTES, rdcc_w0=1.0)
        except OSError as exc:
            locked = "unable to lock file" in str(exc)
            if locked and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            hint = (f"another program has it open (a viewer?) and did not let go within "
                    f"{REOPEN_WAIT_S:g} s; close it and resume again" if locked else short_reason(exc))
            raise RunFileError(f"{path}: cannot reopen for writing: {hint}") from None


def _build_minor1(h5: h5py.File) -> None:
    """What layout minor 1 added: ``/run/reasons`` (one row per session) and ``/faults``."""
    n_sessions = h5["run/sessions"].shape[0]
    reasons = _growing(h5["run"], "reasons", (), layout.REASON_DTYPE, 64)
    reasons.resize(n_sessions, axis=0)
    faults = h5.create_group("faults")
    for name, dtype in layout.FAULT_COLUMNS.items():
        _growing(faults, name, (), dtype, 256)


def _add_table(h5: h5py.File, table: str) -> None:
    """Append ``table`` (0 rows committed) to ``/run/committed`` (rebuilt: its length is fixed)."""
    committed = h5["run/committed"]
    tables = layout.json_attr(committed.attrs, "tables")
    if table in tables:
        return
    counts = [*committed[()].tolist(), 0]
    del h5["run/committed"]
    committed = h5["run"].create_dataset("committed", data=np.array(counts, dtype=np.int64))
    committed.attrs["tables"] = layout.to_json("tables", [*tables, table])
    committed.attrs[layout.UNITS_ATTR] = layout.DIMENSIONLESS


def _upgrade_layout(h5: h5py.File) -> None:
    """Bring an older-minor file being resumed up to this layout (before SWMR starts, the only
    time datasets can be added)."""
    minor = int(h5.attrs.get("layout_minor", 0))
    if minor >= layout.LAYOUT_MINOR:
        return
    if "faults" not in h5:
        _build_minor1(h5)
    _add_table(h5, "faults")
    if "epochs" not in h5:
        # Before minor 2 the loops logged each epoch's summary as a row of /scalars (its
        # mean loss under "loss"); readers keep telling those rows apart by this count.
        h5["scalars"].attrs["legacy_rows"] = int(
            dict(zip(layout.json_attr(h5["run/committed"].attrs, "tables"),
                     h5["run/committed"][()], strict=True))["scalars"])
        h5.attrs["epoch_names"] = layout.to_json("epoch_names", [])
        _build_named(h5, "epochs", {}, h5["scalars/_extra_names"].shape[0])
    _add_table(h5, "epochs")
    _label_units(h5)
    h5.attrs["layout_minor"] = layout.LAYOUT_MINOR


def _start_session(h5: h5py.File, checkpoint: Checkpoint | None) -> int:
    """Before SWMR restarts: drop uncommitted rows, open a session row, mark running."""
    committed = h5["run/committed"]
    tables = layout.json_attr(committed.attrs, "tables")
    growing = {"checkpoints": ["checkpoints/index"], "calibration": ["calibration/added"]}
    for table, n in zip(tables, committed[()], strict=True):
        names = growing.get(table) or [
            ds.name for ds in h5[table].values()
            if isinstance(ds, h5py.Dataset) and ds.maxshape and ds.maxshape[0] is None
        ]
        for name in names:
            if h5[name].shape[0] > n:
                h5[name].resize(int(n), axis=0)
    sessions = h5["run/sessions"]
    session = sessions.shape[0]
    sessions.resize(session + 1, axis=0)
    now = time.time()
    resumed_from = -1 if checkpoint is None else checkpoint.step
    sessions[session] = np.array((now, np.nan, os.getpid(), socket.gethostname().encode()[:64],
                                  resumed_from, b"running"), dtype=layout.SESSION_DTYPE)
    reasons = h5["run/reasons"]
    reasons.resize(session + 1, axis=0)
    reasons[session] = b""
    if sessions[session - 1]["status"] == b"running":
        prev = sessions[session - 1]
        prev["status"] = b"crashed"
        sessions[session - 1] = prev
        reasons[session - 1] = b"crashed: the writer stopped without closing the run (killed, or the machine stopped)"
    h5["run/status"][0] = b"running"
    h5["run/end_time"][0] = np.nan
    h5["run/heartbeat"][0] = now
    return session


def _to_float(name: str, value: Any) -> float:
    try:
        return float(value)  # numbers, numpy scalars, 0-d arrays and one-element tensors
    except (TypeError, ValueError):
        raise RunFileError(f"scalar {name!r}: {value!r} is not a number") from None


def _as_array(value: Any) -> np.ndarray:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:  # numpy has no bfloat16
            value = value.float()
        value = value.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise RunFileError(f"capture data must be numeric, got {arr.dtype}")
    return arr


def _column(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise RunFileError(f"{name} must be integers, got {arr.dtype}")
    if arr.ndim == 0:
        return np.full(n, int(arr), dtype=np.int64)
    arr = arr.reshape(-1).astype(np.int64)
    if arr.shape[0] != n:
        raise RunFileError(f"{name} has {arr.shape[0]} entries for a batch of {n}")
    return arr
