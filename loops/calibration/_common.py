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

from hilt.interrupts import interrupt_point

log = logging.getLogger("hilt.calibration")

#: ``progress(done, total, message)``: called after every physical step of a routine. A callback
#: that also takes a ``data`` keyword (``progress(done, total, message, data=None)``) receives
#: what the routine measures as it goes, each a dict: a sweep point (``{"sweep": stream,
#: "heater": h, "x": volts, "y": port powers}``) or a fitted curve (``{"fit": h, "x": volts,
#: "y": powers (points, ports)}``); the app's Calibration tab plots them live. A sweep point may
#: name its axes and plot (``"x_label"``, ``"y_label"``, ``"title"``): the THz routines sweep
#: frequency and stage position, not volts.
ProgressFn = Callable[..., None]


def _takes_data(fn: Any) -> bool:
    """True if the progress callback ``fn`` accepts a ``data`` keyword."""
    import inspect

    if fn is None:
        return False
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin such as print: text only
        return False
    return any(p.name == "data" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


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
        self.data_fn = progress if _takes_data(progress) else None
        self.abort = abort or threading.Event()
        self.queries = 0
        self.done = 0
        self.total = 1
        self.t0 = time.monotonic()
        self.run: Any = None
        self.opts: dict[str, Any] = {}

    def check(self) -> None:
        """Raise :class:`CalibrationAborted` if the caller asked to stop (and a Ctrl-C that
        Python swallowed, see :mod:`hilt.interrupts`)."""
        interrupt_point()
        if self.abort.is_set():
            raise CalibrationAborted(f"{self.routine}: aborted")

    def data(self, **payload: Any) -> None:
        """Send a measured point or a fitted curve to a progress callback that takes ``data``
        (see :data:`ProgressFn`); nothing is computed or sent when none does."""
        if self.data_fn is None:
            return
        try:
            self.data_fn(min(self.done, self.total), self.total, "", data=payload)
        except Exception:  # a broken live plot must not stop the hardware routine
            log.exception("%s: progress callback failed", self.routine)

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
        inst = getattr(station, "instruments", {}).get(name)
        if inst is None or not getattr(inst, "connected", True):
            continue
        try:
            inst.safe_state()
        except Exception as exc:  # keep going: the other instruments must be made safe too
            log.error("%s: safe state failed: %s", name, exc)
            failed.append(f"{name}: {exc}")
    return failed


@dataclass(frozen=True)
class Need:
    """What a routine needs from a station: the role it asks for, the kinds that can fill it for
    this routine, and other roles that may hold such an instrument (a ``detector`` that is a
    lock-in serves a routine that asks for the ``lockin``)."""

    role: str
    kinds: tuple[str, ...]
    also: tuple[str, ...] = ()


def find_role(station: Any, need: Need, given: str | None, routine: str) -> str:
    """The name of the instrument that fills ``need`` for ``routine``, found without sending a byte.

    In this order: ``given`` (the routine's option, ``-o heaters=NAME``), the station file's role
    (``roles: {heaters: NAME}``), one of the ``also`` roles whose instrument is of a needed kind,
    the only instrument of a needed kind. Anything else is a one-line
    :class:`~hilt.errors.ConfigError` naming the role, the kinds it needs and how to give it.
    """
    from hilt import roles
    from hilt.errors import ConfigError

    where = f"station {getattr(station, 'name', '?')!r}" + (f" ({station.path})" if getattr(station, "path", None) else "")
    kinds = roles.either(need.kinds)

    def kinds_of(name: str) -> tuple[str, ...]:
        return roles.declared_kinds(type(station.instruments[name]))

    def fits(name: str) -> bool:
        return any(k in kinds_of(name) for k in need.kinds)

    if given is not None:
        if given not in station.instruments:
            raise ConfigError(f"{where}: {routine}: option {need.role}={given}: no such instrument "
                              f"(it has: {', '.join(station.instruments) or 'none'})")
        if not fits(given):
            raise ConfigError(f"{where}: {routine}: option {need.role}={given}: {given!r} is not a {kinds} "
                              f"(its driver declares: {', '.join(kinds_of(given)) or 'no kinds'})")
        return given
    named = dict(getattr(getattr(station, "config", None), "roles", None) or {})
    if need.role in named:
        inst = station.role(need.role)
        if not fits(inst.name):
            raise ConfigError(f"{where}: {routine}: role {need.role!r} is {inst.name!r}, not a {kinds} "
                              f"(its driver declares: {', '.join(kinds_of(inst.name)) or 'no kinds'})")
        return inst.name
    for other in need.also:
        if other in named:
            inst = station.role(other)
            if fits(inst.name):
                return inst.name
    found: list[str] = []
    for kind in need.kinds:
        found += [inst.name for inst in station.by_kind(kind) if inst.name not in found]
    if len(found) == 1:
        return found[0]
    also = "".join(f" or {other!r}" for other in need.also)
    if found:
        why = f"the station file names no role {need.role!r}{also} and {len(found)} instruments are a {kinds} ({', '.join(found)})"
    else:
        why = f"the station file names no role {need.role!r}{also} and no instrument is a {kinds}"
    raise ConfigError(f"{where}: {routine} needs the role {need.role!r} (a {kinds}): {why}; add "
                      f"roles: {{{need.role}: NAME}} to the station file or pass -o {need.role}=NAME")


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
