"""What every calibration routine shares: the result, progress and abort, the run file, safety."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("hilt.calibration")

#: ``progress(done, total, message)``: called after every physical step of a routine.
ProgressFn = Callable[[int, int, str], None]


class CalibrationAborted(Exception):
    """Raised inside a routine when its abort event is set (the routine then makes the hardware
    safe, closes its run file as ``aborted`` and returns a result with ``status="aborted"``)."""


@dataclass
class CalibrationResult:
    """What a routine found, and how far to trust it.

    ``quality`` holds fit statistics (``r2_min``, ``r2_median``, ``residual_rms``...), ``before``
    and ``after`` the same error measure with the nominal values and with the fitted ones (so a
    person can see what the calibration bought), ``table`` the fitted values themselves.
    """

    routine: str
    status: str  # completed | aborted | failed
    run_file: Path | None = None
    calibration_file: Path | None = None
    table: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    queries: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def summary(self) -> str:
        """A few lines for a person: status, files, fit quality, before/after."""
        lines = [f"{self.routine}: {self.status} in {self.elapsed_s:.1f} s, {self.queries} physical queries"]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.run_file:
            lines.append(f"  run file:         {self.run_file}")
        if self.calibration_file:
            lines.append(f"  calibration file: {self.calibration_file}")
        if self.quality:
            lines.append("  fit: " + ", ".join(f"{k} {_fmt(v)}" for k, v in self.quality.items()))
        for key in sorted(set(self.before) | set(self.after)):
            lines.append(f"  {key}: before {_fmt(self.before.get(key))} -> after {_fmt(self.after.get(key))}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float | np.floating):
        return f"{v:.4g}"
    return str(v)


class Context:
    """A routine's link to the caller: progress, abort, query counting, the run file."""

    def __init__(self, routine: str, progress: ProgressFn | None, abort: threading.Event | None) -> None:
        self.routine = routine
        self.progress_fn = progress
        self.abort = abort or threading.Event()
        self.queries = 0
        self.done = 0
        self.total = 1
        self.t0 = time.monotonic()
        self.run: Any = None
        self.opts: dict[str, Any] = {}

    def check(self) -> None:
        """Raise :class:`CalibrationAborted` if the caller asked to stop."""
        if self.abort.is_set():
            raise CalibrationAborted(f"{self.routine}: aborted")

    def report(self, message: str, step: int = 1) -> None:
        self.done += step
        if self.progress_fn is not None:
            try:
                self.progress_fn(min(self.done, self.total), self.total, message)
            except Exception:  # a broken progress display must not stop the hardware routine
                log.exception("%s: progress callback failed", self.routine)
        self.check()


def run_path(out_dir: str | Path, station_name: str, routine: str) -> Path:
    """``<out_dir>/<station>-<routine>-<YYYYmmdd-HHMMSS>.h5``, made unique if it exists."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{station_name}-{routine}-{time.strftime('%Y%m%d-%H%M%S')}")
    path = out / f"{stem}.h5"
    k = 1
    while path.exists():
        path = out / f"{stem}-{k}.h5"
        k += 1
    return path


def make_safe(station: Any, names: Iterable[str]) -> list[str]:
    """Put the instruments a routine used in their safe state; failures logged and returned."""
    failed = []
    for name in names:
        inst = station.instruments.get(name) if hasattr(station, "instruments") else None
        if inst is None or not getattr(inst, "connected", True):
            continue
        try:
            inst.safe_state()
        except Exception as exc:  # keep going: the other instruments must be made safe too
            log.error("%s: safe state failed: %s", name, exc)
            failed.append(f"{name}: {exc}")
    return failed


def find_instrument(station: Any, given: str | None, test: Callable[[Any], bool], what: str) -> str:
    """The name of the instrument to use: ``given``, else the only one that passes ``test``."""
    from hilt.errors import ConfigError

    if given is not None:
        if given not in station.instruments:
            raise ConfigError(f"station {station.name!r} has no instrument {given!r} (for the {what})")
        return given
    found = [n for n, inst in station.instruments.items() if test(inst)]
    if len(found) != 1:
        raise ConfigError(f"station {station.name!r}: cannot tell which instrument is the {what} "
                          f"(candidates: {found or 'none'}); pass it by name")
    return found[0]


@contextmanager
def running(ctx: Context, station: Any, out_dir: str | Path, *, config: Mapping[str, Any],
            scalars: list[str], captures: Mapping[str, Any], seeds: Mapping[str, int] | None = None
            ) -> Iterator[Any]:
    """Open the routine's run file (closed ``aborted`` if the body raises)."""
    from hilt.runfile import RunWriter

    path = run_path(out_dir, getattr(station, "name", "station"), ctx.routine)
    try:
        snapshot = station.snapshot()
    except Exception as exc:  # a snapshot is a record, not a precondition
        snapshot = {"error": str(exc)}
    seeds = dict(seeds or {})
    world = getattr(station, "world", None)
    if world is not None and "world" not in seeds:
        seeds["world"] = int(world.seed)
    writer = RunWriter.create(path, scalars=scalars, captures=dict(captures), station_snapshot=snapshot,
                              station_file=getattr(station, "path", None), config=_jsonable(config),
                              seeds=seeds, command_line=f"hilt calibrate {getattr(station, 'name', '')} {ctx.routine}")
    ctx.run = writer
    with writer:
        yield writer


def _jsonable(config: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, str | int | float | bool) or v is None:
            out[k] = v
        elif isinstance(v, list | tuple) and all(isinstance(x, str | int | float | bool) for x in v):
            out[k] = list(v)
        else:
            out[k] = repr(v)
    return out


def finish(ctx: Context, result: CalibrationResult) -> CalibrationResult:
    result.elapsed_s = time.monotonic() - ctx.t0
    result.queries = ctx.queries
    if ctx.run is not None:
        result.run_file = Path(ctx.run.path).resolve()
    if result.calibration_file is not None:
        result.calibration_file = Path(result.calibration_file).resolve()
    return result
