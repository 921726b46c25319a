"""The app under test: a main window with its settings in a temporary file, closed after the test."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from hilt.gui.app import MainWindow, settings_for
from hilt.gui.jobs import collect_garbage_on_ui_thread, stop_collecting_on_ui_thread

# pytest-qt closes a test's windows before fixtures end: a window closing over a job still asks,
# and nobody answers at teardown; the box gives up as "keep open" after this many seconds.
MainWindow.confirm_timeout_s = 2.0

CONNECT_TIMEOUT_MS = 30_000


@pytest.fixture
def settings_file(tmp_path):
    return str(tmp_path / "hilt-gui.ini")


@pytest.fixture
def window(qtbot, settings_file):
    w = MainWindow(settings_for(settings_file))
    qtbot.addWidget(w)
    w.show()
    yield w
    _stop_jobs()
    w.close()  # a second close is a no-op; a test that closed it already is fine


def _stop_jobs() -> None:
    """Whatever a test left running is stopped before its window closes: a window closing over
    a job asks first (a modal box), and at teardown nobody is there to answer."""
    from hilt.gui.jobs import running_jobs

    for job in running_jobs():
        job.abort()
    for job in running_jobs():
        job.wait(30)


@pytest.fixture(autouse=True)
def _no_job_outlives_its_test(qapp):
    # Python's cycle collector only on this (the UI) thread while Qt objects live: a worker that
    # collected a closed window's widgets deadlocked the suite (hilt.gui.jobs).
    collect_garbage_on_ui_thread()
    yield
    _stop_jobs()
    stop_collecting_on_ui_thread()


@pytest.fixture
def connect(qtbot):
    """``connect(window, name)``: pick a bundled station by typing its name into the list, click
    Connect, wait until the tree shows the instruments; returns the station."""

    def pick_and_connect(window, name: str = "mzi-lab"):
        panel = window.station_panel
        panel.choice.setFocus()
        qtbot.keyClicks(panel.choice, name)
        assert panel.chosen() == name
        qtbot.mouseClick(panel.connect_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.disconnect_button.isEnabled() and panel.tree.topLevelItemCount() > 0,
                        timeout=CONNECT_TIMEOUT_MS)
        return window.station

    return pick_and_connect


@pytest.fixture
def heater_volts():
    """``heater_volts(station)``: what the simulated chip's heaters see (the world, not the driver)."""
    return lambda station: np.asarray(station.world.get("heaters.voltages"), dtype=float)
