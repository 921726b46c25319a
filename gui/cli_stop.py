"""What ``hilt`` prints when Ctrl-C (or SIGTERM) stops a command: what was stopped, whether the
station is safe, and where the run files are.

A command says what it is doing with :func:`begin` and opens its station with
:func:`station_session`, which puts the instruments in their safe state itself when an interrupt
unwinds through it, so that it knows which instruments that reached and which it did not. The
top-level command catches the interrupt and prints :func:`report`: nothing is claimed that did
not happen. Run files are read back for their status and reason (a training loop closes its run
file only after its processor's safe state ran; a failure there is in the reason).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hilt.errors import SafeStateError
from hilt.interrupts import catch_lost_interrupts


@dataclass
class Stopping:
    """What the running command is doing, for the lines an interrupt prints."""

    what: str
    runs_dir: Path | None = None
    run_file: Path | None = None
    resume_hint: bool = False
    started: float = field(default_factory=time.time)
    station: str | None = None
    #: Instruments whose safe state ran and succeeded / failed (name -> error), once the
    #: station was closed by :func:`station_session`; None while it was not.
    safe: list[str] | None = None
    unsafe: dict[str, str] = field(default_factory=dict)
    #: Instruments whose link was closed when the safe state ran (not reached).
    unreached: list[str] = field(default_factory=list)


_current: Stopping | None = None


def begin(what: str, *, runs_dir: str | Path | None = None, run_file: str | Path | None = None,
          resume_hint: bool = False) -> Stopping:
    """Say what this command is doing (``what``: "calibration mzi_heaters on mzi-lab") and
    where its run files go; returns the record to fill in as the command goes."""
    global _current
    _current = Stopping(what, None if runs_dir is None else Path(runs_dir),
                        None if run_file is None else Path(run_file), resume_hint)
    return _current


def current() -> Stopping | None:
    return _current


@contextlib.contextmanager
def station_session(station: Any, stop: Stopping | None = None) -> Iterator[Any]:
    """``with station:``, and on an interrupt the safe state run here, so ``stop`` knows which
    instruments reached it. Any other error ends as ``with station`` would end it (a failed
    safe state rides on the error as a note)."""
    stop = stop or _current
    station.connect()
    if stop is not None:
        stop.station = station.name
    try:
        with catch_lost_interrupts():
            yield station
    except BaseException as exc:
        opened = [n for n, inst in station.instruments.items() if inst.transport.is_open]
        failures: dict[str, BaseException] = {}
        try:
            station.close()
        except SafeStateError as failure:
            failures = dict(failure.failures)
            if not isinstance(exc, KeyboardInterrupt) and hasattr(exc, "add_note"):
                exc.add_note(f"and then: {failure}")
        if stop is not None:
            stop.safe = [n for n in opened if n not in failures]
            stop.unsafe = {n: " ".join(str(e).split()) for n, e in failures.items()}
            stop.unreached = [n for n in station.instruments if n not in opened]
        raise
    station.close()


def _run_files(stop: Stopping) -> list[Path]:
    if stop.run_file is not None:
        return [stop.run_file] if stop.run_file.exists() else []
    if stop.runs_dir is None or not stop.runs_dir.is_dir():
        return []
    found = []
    for path in stop.runs_dir.rglob("*.h5"):
        if any(part.endswith(".h5.d") for part in path.parts):
            continue  # a run's companion files (checkpoints, calibration tables)
        try:
            if path.stat().st_mtime >= stop.started - 1:
                found.append(path)
        except OSError:
            continue
    return sorted(found, key=lambda p: p.stat().st_mtime)


def _describe_run(path: Path) -> str:
    from hilt.runfile import RunFileError, open_run
    from hilt.runfile.sweep_file import is_sweep_file, open_sweep

    if is_sweep_file(path):
        try:
            sweep = open_sweep(path)
        except RunFileError as exc:
            return f"{path} (cannot be read: {exc})"
        total = sweep.total
        return (f"{path}: {sweep.status}" + (f" ({sweep.reason})" if sweep.reason else "")
                + f"; {sweep.points_done} of {total} points kept")
    try:
        with open_run(path) as run:
            status, reason = run.status, run.reason
            method = (run.info.get("config") or {}).get("method")
    except RunFileError as exc:
        return f"{path} (cannot be read: {exc})"
    text = f"{path}: {status}" + (f" ({reason})" if reason else "")
    if method == "insilico":
        text += "; trained on the twin alone, no hardware"
    elif method and status == "aborted" and "safe state failed" not in reason:
        # The training loops close the run file only after their processor's safe state ran.
        text += "; its processor went through its safe state before the file was closed"
    return text


def report(exc: BaseException, stop: Stopping | None = None) -> list[str]:
    """The lines an interrupt prints (each to be prefixed ``hilt: ``)."""
    from hilt.runfile.status import signal_name

    stop = stop or _current
    sig = signal_name(exc)
    why = "stopped by Ctrl-C (SIGINT)" if sig == "SIGINT" else f"stopped by {sig}"
    if stop is None:
        return [f"{why}"]
    lines = [f"{why}: {stop.what}"]
    if stop.safe is not None:
        if stop.safe:
            lines.append(f"station {stop.station}: safe state done on {', '.join(stop.safe)}")
        for name, err in stop.unsafe.items():
            lines.append(f"station {stop.station}: SAFE STATE FAILED on {name}, its outputs may "
                         f"still be on: {err}")
        if stop.unreached:
            lines.append(f"station {stop.station}: not reached (link closed): "
                         f"{', '.join(stop.unreached)}")
    elif stop.station is not None:
        lines.append(f"station {stop.station}: hilt could not confirm its safe state")
    for note in getattr(exc, "__notes__", ()):
        lines.append(" ".join(str(note).split()))
    files = _run_files(stop)
    for path in files[-10:]:
        lines.append(f"run file {_describe_run(path)}")
    if len(files) > 10:
        lines.append(f"... and {len(files) - 10} more run files in {stop.runs_dir}")
    if not files and (stop.runs_dir is not None or stop.run_file is not None):
        lines.append("no run file was written")
    elif stop.resume_hint:
        lines.append(f"continue it with: hilt resume {files[-1]}")
    return lines
