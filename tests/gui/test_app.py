"""The main window: its docks and tabs, the layout it remembers, and closing it over a running job."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox

from hilt.gui.app import TABS, MainWindow, settings_for
from hilt.gui.jobs import Job
from hilt.runfile import open_run


def test_docks_and_tabs(window):
    assert window.station_dock.windowTitle() == "Station"
    assert window.log_dock.windowTitle() == "Log"
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [title for title, _ in TABS]
    assert [title for title, _ in TABS][:4] == ["Calibration", "Training", "Scan", "Runs"]


def test_the_window_remembers_its_layout_and_last_station(qtbot, settings_file):
    first = MainWindow(settings_for(settings_file))
    qtbot.addWidget(first)
    first.show()
    height = first.minimumSizeHint().height() + 17  # a height the window can take, not its default
    first.resize(first.width(), height)
    qtbot.waitUntil(lambda: first.height() == height)
    # the user closes the Log dock with its own close button
    close_log = first.log_dock.findChild(QAbstractButton, "qt_dockwidget_closebutton")
    qtbot.mouseClick(close_log, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not first.log_dock.isVisible())
    first.station_panel.choice.setFocus()
    qtbot.keyClicks(first.station_panel.choice, "thz-lab")
    first.close()

    again = MainWindow(settings_for(settings_file))
    qtbot.addWidget(again)
    again.show()
    assert again.station_panel.chosen() == "thz-lab"
    assert again.height() == height
    assert again.station_dock.isVisible() and not again.log_dock.isVisible()
    again.close()


def test_closing_mid_job_asks_then_stops_the_job_and_puts_the_station_safe(qtbot, window, connect, heater_volts):
    station = connect(window)
    station.heaters.set_voltages([1.0] * 64)  # a job left the heaters on (set here: the test's own doing)
    stopped = threading.Event()

    def long_job(control, report):
        try:
            while True:
                control.checkpoint()
                control.wait(0.02)
        finally:
            stopped.set()

    job = Job(long_job, "a long calibration", window, exclusive=True).start()  # started from the window
    asked = []

    def answer_yes():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer_yes)
            return
        asked.append(box.text())
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer_yes)
    window.close()
    assert asked and "a long calibration" in asked[0]
    assert stopped.is_set() and not job.running
    assert not heater_volts(station).any() and not station.connected


def test_closing_mid_job_can_be_refused(qtbot, window):
    release = threading.Event()
    job = Job(lambda control, report: release.wait(10), "a training", window, exclusive=True).start()

    def answer_no():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer_no)
            return
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.No), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer_no)
    window.close()
    assert window.isVisible() and job.running
    release.set()
    assert job.wait(5)


def test_hilt_gui_screenshot_writes_a_png(tmp_path):
    shot = tmp_path / "window.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HILT_GUI_SETTINGS": str(tmp_path / "s.ini")}
    done = subprocess.run([sys.executable, "-m", "hilt.gui.cli", "-v", "gui", "--screenshot", str(shot),
                           "--after", "0.5"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a window, not an empty picture
    # With no station named, the simulated MZI example connected and a short training started;
    # the screenshot session stopped it and waited for it: a run file it made is closed.
    assert "showcase: Training started on mzi-lab" in done.stderr
    for run_file in (tmp_path / "runs").glob("mzi-lab-insitu-*.h5"):
        with open_run(run_file) as run:
            assert run.status in ("aborted", "completed")


def test_run_again_fills_the_training_form_and_shows_it(window):
    training, runs = window.tab_widgets["Training"], window.tab_widgets["Runs"]
    window.tabs.setCurrentWidget(runs)
    runs.run_again.emit({"loop": "spsa", "epochs": 7, "seed": 3})
    assert window.tabs.currentWidget() is training
    assert training.settings()["loop"] == "spsa"
    assert (training.settings()["epochs"], training.settings()["seed"]) == (7, 3)


def test_closing_over_a_short_job_waits_for_it_without_asking(qtbot, window):
    release = threading.Event()
    job = Job(lambda control, report: release.wait(10), "set heaters.ch0.voltage", window).start()
    threading.Timer(0.3, release.set).start()  # the instrument answers a moment later
    window.close()  # an unanswered box would keep the window open (and the test would see it)
    assert not window.isVisible() and not job.running


def test_help_plugins_shows_a_broken_plugin_first_with_its_error(qtbot, window, tmp_path, monkeypatch):
    from plugin_package import install_fake_plugin

    from hilt import registry

    monkeypatch.syspath_prepend(str(install_fake_plugin(tmp_path / "site")))
    try:
        window.menuBar().setFocus()
        help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
        assert window.plugins_action in help_menu.actions()
        window.plugins_action.trigger()  # what clicking Help > Plugins… does
        dialog = window.plugins_dialog
        qtbot.waitUntil(dialog.isVisible)
        table = dialog.table
        first = [table.item(0, c).text() for c in range(4)]
        assert first[:3] == ["driver", "lab_broken_meter", "lab-plugin 0.3"]
        assert first[3].startswith("did not load: ModuleNotFoundError")
        names = [table.item(r, 1).text() for r in range(table.rowCount())]
        assert "lab_dark_level" in names and "srs_sr830" in names
        assert "1 did not load" in dialog.summary.text()
        dialog.close()
    finally:
        monkeypatch.undo()
        registry.refresh()
