"""Sweeps of a station's parameters: set, settle, read, write, plot (``hilt scan``, docs/scans.md).

::

    from hilt import Station
    from hilt.loops import Axis, scan

    with Station.from_yaml("thz-lab") as station:
        result = scan(station, Axis("synth.frequency", "12.5 GHz", "18.33 GHz", 59),
                      read=["lockin.r", "lockin.theta"])
    print(result.to_xarray())

A sweep of several axes nests them, the first outermost (``snake=True`` runs every other inner
line backwards, as a raster scan on a stage does). Each point sets the axes that change, through
the parameter (its ramp and soft limits apply), waits until what is read has settled, reads every
``read`` parameter and writes the point to a sweep file (:mod:`hilt.runfile.sweep_file`).

Names are ``INSTRUMENT.PARAMETER``, or ``ROLE.PARAMETER`` with a role of the station file
(``source.frequency``, ``detector.r``). A parameter is anything the instrument has under that
name: a :class:`~hilt.parameters.BoundParameter` (``.get()``/``.set()``) or, for a reading, a
method without arguments.

Before anything is sent, every name is looked up and every setpoint is checked against the
parameter's range and the station's soft limits (:class:`~hilt.errors.LimitError` naming the
first one that is out). Settling: ``settle="auto"`` waits, after each point's sets, the time a
lock-in that is read needs for its output filter to settle after a step (time constants per
filter slope), plus each axis's own ``settle``; a number is seconds. Waiting goes through
:meth:`hilt.Station.wait`, so a fully simulated station jumps its simulated clock instead.

Stopping: a ``stop`` event, Ctrl-C or an error ends the sweep with the file closed as
``aborted`` (or ``failed``) and the station put in its safe state; points already written stay.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hilt.errors import ConfigError, HiltError, LimitError
from hilt.interrupts import catch_lost_interrupts, interrupt_point
from hilt.parameters import BoundParameter, to_unit
from hilt.runfile import sweep_file
from hilt.runfile.status import ending
from hilt.runfile.sweep_file import SweepAxis, SweepReading, SweepWriter

from .calibration.thz import lockin_settle_s

log = logging.getLogger("hilt.loops.scan")


@dataclass
class Axis:
    """One swept parameter: ``Axis("synth.frequency", "12.5 GHz", "18.33 GHz", 59)`` (start, stop,
    number of points, ends included; numbers or text with units) or ``Axis(name, values=[...])``.
    ``settle``: seconds to wait after this axis changed, on top of the sweep's own settle."""

    param: str
    start: float | str | None = None
    stop: float | str | None = None
    num: int | None = None
    values: Sequence[float | str] | np.ndarray | None = None
    settle: float = 0.0

    def setpoints(self, unit: str) -> np.ndarray:
        if self.values is not None:
            if self.start is not None or self.stop is not None or self.num is not None:
                raise ConfigError(f"{self.param}: give start, stop and num, or values, not both")
            vals = np.array([_number(v, unit, self.param) for v in self.values], dtype=np.float64)
        else:
            if self.start is None or self.stop is None or self.num is None:
                raise ConfigError(f"{self.param}: needs start, stop and num (or values)")
            if int(self.num) < 1:
                raise ConfigError(f"{self.param}: num must be at least 1, not {self.num}")
            vals = np.linspace(_number(self.start, unit, self.param), _number(self.stop, unit, self.param),
                               int(self.num))
        if vals.size == 0:
            raise ConfigError(f"{self.param}: no setpoints")
        if self.settle < 0:
            raise ConfigError(f"{self.param}: settle must not be negative, not {self.settle}")
        return vals


def _number(value: float | str, unit: str, name: str) -> float:
    if isinstance(value, str):
        try:
            return to_unit(value, unit)
        except HiltError as exc:
            raise type(exc)(f"{name}: {exc}") from None
    return float(value)


class ScanObserver(Protocol):
    """Something that follows a sweep as it runs (a live plot, a progress display)."""

    def start(self, plan: ScanPlan) -> None: ...

    def point(self, index: tuple[int, ...], setpoints: Mapping[str, float], values: Mapping[str, Any]) -> None: ...

    def finish(self, result: ScanResult) -> None: ...


@dataclass
class ScanPlan:
    """What a sweep will do: its axes (setpoints and units), readings and file."""

    axes: list[SweepAxis]
    readings: list[SweepReading]
    path: Path
    snake: bool
    settle_s: float

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def total(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class ScanResult:
    """How a sweep ended, and where its file is."""

    path: Path
    status: str
    reason: str
    points_done: int
    total: int
    seconds: float
    figure: Path | None = None
    safe: list[str] = field(default_factory=list)

    def open(self) -> sweep_file.SweepFile:
        return sweep_file.open_sweep(self.path)

    def to_xarray(self) -> Any:
        """The file as an ``xarray.Dataset`` (needs xarray)."""
        return self.open().to_xarray()


def resolve(station: Any, name: str) -> tuple[Any, Any, str]:
    """``INSTRUMENT.PARAM`` or ``ROLE.PARAM`` -> (instrument, attribute, unit)."""
    inst_name, dot, attr = name.partition(".")
    if not dot or not attr:
        raise ConfigError(f"{name!r}: expected INSTRUMENT.PARAMETER (e.g. synth.frequency)")
    if inst_name in station.instruments:
        inst = station.instruments[inst_name]
    elif inst_name in station.config.roles:
        inst = station.role(inst_name)
    else:
        raise ConfigError(f"{name!r}: station {station.name!r} has no instrument or role {inst_name!r} "
                          f"(instruments: {', '.join(station.instruments)}; roles: "
                          f"{', '.join(station.config.roles) or 'none'})")
    target = getattr(inst, attr, None)
    if target is None or attr.startswith("_"):
        params = sorted(getattr(inst, "parameters", {}) or ())
        raise ConfigError(f"{name!r}: {inst_name} ({type(inst).__name__}) has no parameter {attr!r}"
                          + (f" (parameters: {', '.join(params)})" if params else ""))
    unit = target.unit if isinstance(target, BoundParameter) else str(getattr(target, "unit", "") or "")
    return inst, target, unit


def _setter(name: str, target: Any) -> Callable[[float], None]:
    if isinstance(target, BoundParameter):
        if not target.settable:
            raise ConfigError(f"{name!r} can be read but not set")
        return target.set
    raise ConfigError(f"{name!r} is not a settable parameter")


def _getter(name: str, target: Any) -> Callable[[], Any]:
    if isinstance(target, BoundParameter):
        if not target.gettable:
            raise ConfigError(f"{name!r} can be set but not read")
        return target.get
    if callable(target):
        return target
    raise ConfigError(f"{name!r} is not a readable parameter")


def _auto_settle(read_instruments: Sequence[Any]) -> float:
    """The longest settling time of the lock-ins among the instruments read."""
    from hilt.instruments.kinds import LockIn

    lockins = {id(inst): inst for inst in read_instruments if isinstance(inst, LockIn)}
    return max((lockin_settle_s(li) for li in lockins.values()), default=0.0)


def grid_order(shape: tuple[int, ...], snake: bool = False) -> Iterator[tuple[int, ...]]:
    """Every index of the grid, outer axis first; with ``snake`` each inner line alternates direction."""
    if not shape:
        return
    if len(shape) == 1:
        yield from ((i,) for i in range(shape[0]))
        return
    for n, outer in enumerate(grid_order(shape[:-1], snake)):
        inner = range(shape[-1])
        if snake and n % 2:
            inner = reversed(inner)
        for i in inner:
            yield (*outer, i)


def scan(station: Any, *axes: Axis, read: Sequence[str], settle: float | str = "auto",
         path: str | Path | None = None, runs_dir: str | Path = "runs", snake: bool = False,
         observers: Sequence[ScanObserver] = (), progress: bool = True, figure: bool = True,
         stop: threading.Event | None = None) -> ScanResult:
    """Sweep ``axes`` on a connected ``station``, reading ``read`` at every point (module doc).

    ``path``: the sweep file (default: a new name under ``runs_dir``); ``figure``: also draw a
    PNG beside it at the end (needs matplotlib); ``progress``: a progress bar on stderr.
    """
    if not axes:
        raise ConfigError("scan: give at least one Axis")
    if not read:
        raise ConfigError("scan: give at least one parameter to read")
    if isinstance(settle, str) and settle != "auto":
        settle = _number(settle, "s", "settle")
    # Look everything up and check every setpoint before a single byte is sent.
    plan_axes, setters, axis_settle = [], [], []
    for ax in axes:
        _, target, unit = resolve(station, ax.param)
        setter = _setter(ax.param, target)
        values = ax.setpoints(unit)
        for k, v in enumerate(values):
            try:
                target.validate(float(v))
            except LimitError as exc:
                raise LimitError(f"{exc} (setpoint {k + 1} of {len(values)} of the sweep); nothing was sent") from None
        plan_axes.append(SweepAxis(ax.param, values, unit))
        setters.append(setter)
        axis_settle.append(float(ax.settle))
    getters, read_insts, units = [], [], []
    for name in read:
        inst, target, unit = resolve(station, name)
        getters.append(_getter(name, target))
        read_insts.append(inst)
        units.append(unit)
    base_settle = _auto_settle(read_insts) if settle == "auto" else float(settle)
    if base_settle < 0:
        raise ConfigError(f"settle must not be negative, not {base_settle}")
    # One reading before anything moves: finds a parameter that cannot be read, and the shape
    # of array readings.
    first = [np.asarray(g(), dtype=np.float64) for g in getters]
    # Reading a swept parameter back (a stage's real position) is its own variable in the file.
    swept = {a.name for a in plan_axes}
    stored = [f"{n} (read back)" if n in swept else n for n in read]
    readings = [SweepReading(n, u, tuple(v.shape)) for n, u, v in zip(stored, units, first, strict=False)]
    if path is None:
        from .station import new_run_path

        path = new_run_path(station.name, "scan", runs_dir)
    plan = ScanPlan(plan_axes, readings, Path(path), snake, base_settle)
    # Every instrument's settings as the sweep starts (a lock-in's sensitivity, a source's
    # power): what a reader needs to interpret the numbers, as a run file keeps them.
    snapshot = station.snapshot() if hasattr(station, "snapshot") else {}
    writer = SweepWriter(plan.path, plan_axes, readings, snake=snake, metadata={
        "station": station.name, "station_file": str(getattr(station, "path", "") or ""),
        "settle_s": base_settle, "clock": getattr(station, "clock_mode", "real"),
        "axis_settle_s": axis_settle, "station_snapshot": snapshot})
    for ob in observers:
        ob.start(plan)
    bar = None
    if progress:
        from hilt.progress_bar import progress_bar

        bar = progress_bar(notebook_aware=False, total=plan.total, unit="pt",
                           desc=f"scan {plan_axes[0].name}", leave=False)
    t0 = time.monotonic()
    status, reason = sweep_file.COMPLETED, ""
    last: list[int | None] = [None] * len(plan_axes)
    error: BaseException | None = None
    try:
        with catch_lost_interrupts():
            for index in grid_order(plan.shape, snake):
                interrupt_point()
                if stop is not None and stop.is_set():
                    status, reason = sweep_file.ABORTED, "stopped"
                    break
                wait = base_settle
                for k, i in enumerate(index):
                    if last[k] != i:
                        setters[k](float(plan_axes[k].values[i]))
                        last[k] = i
                        wait += axis_settle[k]
                if wait > 0:
                    station.wait(wait)
                values = {n: g() for n, g in zip(stored, getters, strict=False)}
                writer.write_point(index, values)
                setpoints = {a.name: float(a.values[i]) for a, i in zip(plan_axes, index, strict=False)}
                for ob in observers:
                    ob.point(index, setpoints, values)
                if bar is not None:
                    bar.update(1)
    except BaseException as exc:  # noqa: BLE001 - every ending is written to the file
        # One rule for every file hilt writes: Ctrl-C, a signal, a hardware fault or a limit is
        # aborted; anything else failed (hilt.runfile.status).
        status, reason = ending(exc)
        error = exc
    finally:
        if bar is not None:
            bar.close()
    safe: list[str] = []
    if status != sweep_file.COMPLETED:
        failures = station.safe_state()
        safe = [n for n in station.instruments if n not in failures]
        if failures:
            reason += "; safe state failed for " + ", ".join(failures)
    writer.close(status, reason)
    result = ScanResult(plan.path, status, reason, writer.points_done, plan.total, time.monotonic() - t0, safe=safe)
    if figure and writer.points_done:
        from .scan_figure import draw_sweep

        result.figure = draw_sweep(plan.path)
    for ob in observers:
        ob.finish(result)
    if error is not None:
        if hasattr(error, "add_note"):
            error.add_note(f"hilt: the sweep stopped after {writer.points_done} of {plan.total} points; "
                           f"file {plan.path} ({status})")
        raise error
    return result
