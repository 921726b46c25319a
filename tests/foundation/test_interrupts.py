"""A Ctrl-C that Python swallows (raised inside a weakref callback, printed as "Exception
ignored") is raised again at the next safe point, so a long sweep still stops; an interrupt that
propagated is never raised twice. The signals are real (os.kill on this process)."""

from __future__ import annotations

import os
import signal
import sys
import weakref
from pathlib import Path

import pytest

from hilt.interrupts import catch_lost_interrupts, interrupt_point
from hilt.loops.scan import Axis, scan
from hilt.runfile.sweep_file import open_sweep
from hilt.station import Station


class _Thing:
    pass


def _swallowed_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """Deliver SIGINT inside a weakref callback, where Python can only print the exception."""
    swallowed: list[type] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: swallowed.append(u.exc_type))
    thing = _Thing()
    ref = weakref.ref(thing, lambda _ref: os.kill(os.getpid(), signal.SIGINT))
    del thing
    assert ref() is None
    return swallowed


def test_a_swallowed_ctrl_c_is_raised_at_the_next_point(monkeypatch: pytest.MonkeyPatch) -> None:
    with catch_lost_interrupts():
        interrupt_point()  # nothing pending
        swallowed = _swallowed_ctrl_c(monkeypatch)
        assert swallowed == [KeyboardInterrupt]  # Python dropped it ...
        with pytest.raises(KeyboardInterrupt):
            interrupt_point()  # ... and it comes back here
        interrupt_point()  # once
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_that_propagated_is_not_raised_again() -> None:
    with pytest.raises(KeyboardInterrupt), catch_lost_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
    with catch_lost_interrupts():
        interrupt_point()


def test_a_foreign_sigint_handler_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(1))
    try:
        with catch_lost_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            interrupt_point()
        assert caught == [1]
    finally:
        signal.signal(signal.SIGINT, previous)


BENCH = """\
name: lostbench
simulate: true
world: {clock: fast}
instruments:
  heater:
    driver: keithley_2400
    limits: {voltage: [0, 5]}
    sim: {load_ohm: 500}
"""


class _SwallowAt:
    """A sweep observer during whose third point Ctrl-C lands in a weakref callback."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch, self.points, self.swallowed = monkeypatch, 0, []

    def start(self, plan) -> None:
        pass

    def point(self, index, setpoints, values) -> None:
        self.points += 1
        if self.points == 3:
            self.swallowed = _swallowed_ctrl_c(self.monkeypatch)

    def finish(self, result) -> None:
        pass


def test_a_sweep_stops_on_a_swallowed_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(BENCH)
    watcher = _SwallowAt(monkeypatch)
    with Station.from_yaml(path) as st:
        st.instruments["heater"].output.set(True)
        with pytest.raises(KeyboardInterrupt):
            scan(st, Axis("heater.voltage", 0, 1, 1000), read=["heater.voltage"], settle=0,
                 path=tmp_path / "s.h5", observers=[watcher], progress=False, figure=False)
        assert st.instruments["heater"].output.get() is False  # the safe state ran
    assert watcher.swallowed == [KeyboardInterrupt]
    sweep = open_sweep(tmp_path / "s.h5")
    assert sweep.status == "aborted" and sweep.points_done == 3
