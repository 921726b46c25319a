"""Jobs: everything the app asks of an instrument runs on a worker thread, never the UI thread.

A :class:`Job` runs one callable on its own thread, over the same Python API a script uses
(``Station.connect``, ``run_calibration``, ``train_on_station``...). The window stays responsive
while an instrument takes seconds to answer, and abort is always heard::

    def train(control, report):
        try:
            return train_on_station(station, "dat", control=control, progress=report, ...)
        finally:
            station.safe_state()          # the job's own finally leaves the hardware safe

    job = Job(train, "training")
    job.progress.connect(plot.add_point)  # called on the UI thread (queued), one per report(...)
    job.finished.connect(show_result)     # the callable's return value
    job.failed.connect(show_error)        # one line: what went wrong
    job.start()
    ...
    job.abort()                           # from the UI thread, at once: sets an event
    job.wait()                            # joins the thread (the window does this on close)

The callable receives two arguments:

- ``control``, a :class:`hilt.loops.LoopControl`. The UI thread's :meth:`Job.pause`,
  :meth:`Job.resume` and :meth:`Job.abort` set its thread-safe events directly, so a stop request
  reaches a busy worker at its next ``control.checkpoint()`` rather than after the job ends (a
  message queued to the worker would wait for that). Training loops take it as ``control=``; a
  short job (connect, set a parameter) may ignore it.
- ``report(value)``: call it from the worker to send anything to the UI; it is emitted as the
  :attr:`Job.progress` signal, delivered on the UI thread through Qt's queued connection.

Exactly one of :attr:`Job.finished` (with the return value) or :attr:`Job.failed` (with a
one-line message) is emitted when the callable returns, then :attr:`Job.done`. An abort that
ends the callable with :class:`hilt.loops.LoopAborted` counts as finished with ``None``: the user
asked for it. :attr:`Job.error` keeps the exception for a caller that wants more than the line.

:func:`running_jobs` lists every job that has started and not yet ended, in the order they
started; the main window asks before it closes over any of them (``background=True`` jobs, such
as the Station dock's live readouts, are stopped without asking). ``exclusive=True`` marks a job
that drives the station for a while (a calibration, a training): while one runs, the window holds
the Station dock's live readings and hand controls, so nothing else talks to the instruments
between the job's own commands. :func:`job_board` signals every start and end.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from hilt.loops import LoopAborted, LoopControl

log = logging.getLogger("hilt.gui")

JobFn = Callable[[LoopControl, Callable[[object], None]], object]

# Jobs between start() and the end of their callable; guarded by _lock (workers remove themselves).
_running: dict[int, Job] = {}
_lock = threading.Lock()


class AbortEvent:
    """A job's abort as the event a routine or a sweep polls (``is_set``), for code that takes a
    ``threading.Event``-like stop rather than a :class:`~hilt.loops.LoopControl`."""

    def __init__(self, control: LoopControl) -> None:
        self.control = control

    def is_set(self) -> bool:
        return bool(self.control.aborted)


class JobBoard(QObject):
    """Announces that a job started or ended (``changed``, delivered on the UI thread)."""

    changed = Signal()


_board: JobBoard | None = None


def job_board() -> JobBoard:
    """The one board of this process (made on first use, on the UI thread: a Job is made there)."""
    global _board
    if _board is None:
        _board = JobBoard()
    return _board


_collector: QTimer | None = None


def collect_garbage_on_ui_thread(interval_s: float = 0.5) -> None:
    """Run Python's cycle collector on the UI thread only, from now on (once per process).

    The collector runs on whichever thread happens to allocate when a threshold is crossed. If
    that is a job's worker and the garbage holds Qt objects (a closed window's widgets), their
    C++ destructors run there: they take Qt's locks and then wait for the interpreter lock that
    the UI thread holds while it waits for those Qt locks, and both threads stop for good (seen
    in the test suite: a training's import on the worker collected a closed window). So
    automatic collection is switched off and a timer on the UI thread collects instead.
    """
    global _collector
    if _collector is not None:
        return
    _collector = QTimer()
    _collector.setObjectName("uiThreadGarbageCollector")
    _collector.timeout.connect(_collect)
    gc.disable()
    # What exists now (torch, Qt, the modules: most of the heap) is moved out of the collector's
    # sight, so a full collection on the UI thread scans only what came later: without this one
    # took 230 ms during a training (bench/gui_stall_bench.py).
    gc.collect()
    gc.freeze()
    _collector.start(int(interval_s * 1000))


def _collect() -> None:
    threshold = gc.get_threshold()[0]
    if gc.get_count()[0] > threshold:
        gc.collect(0 if gc.get_count()[1] <= gc.get_threshold()[1] else 2)


def stop_collecting_on_ui_thread() -> None:
    """Back to Python's own collection (tests: after a GUI test, for the ones without Qt)."""
    global _collector
    if _collector is None:
        return
    _collector.stop()
    _collector.deleteLater()
    _collector = None
    gc.unfreeze()
    gc.collect()  # here, on the UI thread, what the GUI left
    gc.enable()


def running_jobs(*, background: bool = True) -> list[Job]:
    """Every job started and not yet ended, oldest first; ``background=False`` leaves out the
    background ones (live readouts), i.e. the ones a user would be asked about."""
    with _lock:
        jobs = list(_running.values())
    return [j for j in jobs if background or not j.background]


def one_line(exc: BaseException) -> str:
    """An exception as the one line the app shows beside a control or in the status bar."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class Job(QObject):
    """One callable on its own worker thread; progress, result and failure come back as signals.

    ``fn(control, report)`` runs on the thread; see the module's documentation. A job runs once.
    ``background=True`` marks a job nobody needs to be asked about before it is stopped;
    ``exclusive=True`` one that drives the station (the window holds hand control meanwhile).
    """

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, fn: JobFn, name: str = "job", parent: QObject | None = None, *,
                 background: bool = False, exclusive: bool = False) -> None:
        super().__init__(parent)
        self.fn = fn
        self.name = name
        self.background = background
        self.exclusive = exclusive
        self._board = job_board()
        self.control = LoopControl()
        self.result: object = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()

    # -- the UI thread's side ------------------------------------------------------------------
    def start(self) -> Job:
        """Start the worker thread (once); returns the job."""
        if self._thread is not None:
            raise RuntimeError(f"job {self.name!r} was already started")
        # A daemon thread: a job stuck in an instrument call must not keep a closed app alive;
        # the window's close waits for jobs (with a bound) before it gets that far.
        self._thread = threading.Thread(target=self._run, name=f"hilt-job-{self.name}", daemon=True)
        with _lock:
            _running[id(self)] = self
        self._thread.start()
        self._board.changed.emit()
        return self

    def abort(self) -> None:
        """Ask the job to stop at its next checkpoint; returns at once (thread-safe)."""
        self.control.abort()

    def pause(self) -> None:
        """Hold the job at its next checkpoint until :meth:`resume` (or :meth:`abort`)."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def paused(self) -> bool:
        return self.control.paused

    @property
    def running(self) -> bool:
        """True from :meth:`start` until the callable has returned or raised."""
        return self._thread is not None and not self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Join the worker thread; True once it has ended (False if ``timeout`` ran out first)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the worker's side ---------------------------------------------------------------------
    def _report(self, value: object) -> None:
        self.progress.emit(value)

    def _run(self) -> None:
        try:
            self._call()
        finally:
            with _lock:
                _running.pop(id(self), None)
        self.done.emit()
        self._board.changed.emit()  # queued to the UI thread

    def _call(self) -> None:
        try:
            self.result = self.fn(self.control, self._report)
        except LoopAborted:
            self.result = None
            self._ended.set()
            self.finished.emit(None)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none kills the app
            self.error = exc
            self._ended.set()
            log.warning("%s failed: %s", self.name, one_line(exc))
            self.failed.emit(one_line(exc))
        else:
            self._ended.set()
            self.finished.emit(self.result)
