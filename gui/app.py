"""The hilt desktop app's main window: the Station dock, the Log dock and the tabs.

Start it with ``hilt gui [STATION]``. On the left the **Station** dock opens and connects a
station and sets its instruments; at the bottom the **Log** dock shows what hilt reports; in the
middle the **Calibration**, **Training** and **Runs** tabs. The window remembers its size, where
the docks are and the last station (Qt's settings, organisation ``hilt``, application ``hilt``).

Every instrument call runs on a worker thread (:mod:`hilt.gui.jobs`), so the window never
freezes. Closing it while a job runs (a calibration, a training) asks first; then the job is
stopped, its thread waited for, and the station put in its safe state and closed.

The tabs come from :data:`TABS`: a tab is one line there, a title and a function that builds
its widget from the window (``window.station`` is the connected station or None, and
``window.stationChanged`` is emitted on every connect and disconnect).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from hilt.gui.jobs import collect_garbage_on_ui_thread, job_board, running_jobs
from hilt.gui.log_panel import LogPanel
from hilt.gui.station_panel import StationPanel

log = logging.getLogger("hilt.gui")

ORGANISATION = "hilt"
APPLICATION = "hilt"
#: Seconds the window waits for a stopped job's thread when it closes.
CLOSE_TIMEOUT = 30.0


def _panel(module: str, cls: str, make: Callable[[Any, type], QWidget]) -> Callable[[MainWindow], QWidget]:
    """A tab built by ``make(window, PanelClass)`` from ``hilt.gui.<module>``, or a placeholder
    saying the tab is not there yet when that module does not exist."""

    def build(window: MainWindow) -> QWidget:
        name = f"hilt.gui.{module}"
        try:
            panel_cls = getattr(importlib.import_module(name), cls)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise  # the module is there but something it needs is not: a real error
            label = QLabel(f"This tab is not built yet ({name}).")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label
        return make(window, panel_cls)

    return build


#: The central tabs, in order: (title, builder). Adding a tab is one line here.
TABS: list[tuple[str, Callable[[MainWindow], QWidget]]] = [
    ("Calibration", _panel("calibration_panel", "CalibrationPanel", lambda w, c: c(lambda: w.station, w))),
    ("Training", _panel("training_panel", "TrainingPanel", lambda w, c: c(lambda: w.station, w))),
    ("Scan", _panel("scan_panel", "ScanPanel", lambda w, c: c(lambda: w.station, w))),
    ("Runs", _panel("runs_panel", "RunsPanel", lambda w, c: c(w))),
]


def settings_for(path: str | None = None) -> QSettings:
    """The app's settings: the user's own, or an INI file at ``path`` (tests, ``HILT_GUI_SETTINGS``)."""
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


class MainWindow(QMainWindow):
    """The main window. :attr:`station` is the connected station (or None)."""

    stationChanged = Signal(object)  # noqa: N815 - Qt's naming
    #: Seconds the "still running, close?" box waits for an answer before keeping the window open.
    confirm_timeout_s = 120.0

    def __init__(self, settings: QSettings | None = None, station: str | None = None) -> None:
        super().__init__()
        collect_garbage_on_ui_thread()  # Qt objects must never be destroyed on a job's thread
        self.setWindowTitle("hilt")
        self.setObjectName("hiltMainWindow")
        self.settings = settings if settings is not None else settings_for()

        self.log_panel = LogPanel()
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)

        self.station_panel = StationPanel()
        self.station_dock = QDockWidget("Station", self)
        self.station_dock.setObjectName("stationDock")
        self.station_dock.setWidget(self.station_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.station_dock)
        self.station_panel.stationChanged.connect(self._station_changed)
        self.station_panel.safeStateRequested.connect(self._stop_station_jobs)
        job_board().changed.connect(self._jobs_changed)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tab_widgets: dict[str, QWidget] = {}
        for title, build in TABS:
            widget = build(self)
            self.tab_widgets[title] = widget
            self.tabs.addTab(widget, title)
        self.setCentralWidget(self.tabs)
        self._link_tabs()
        self._build_menus()
        self.statusBar()
        self._closed = False

        self._restore(station)

    def _link_tabs(self) -> None:
        """Runs -> Training: "Run again with these settings" fills the form and shows it;
        Training -> Runs: a finished training's file opens in the Runs tab."""
        training = self.tab_widgets.get("Training")
        runs = self.tab_widgets.get("Runs")
        if training is None or runs is None or not hasattr(runs, "run_again"):
            return

        def run_again(settings: dict[str, Any]) -> None:
            training.apply_settings(settings)
            self.tabs.setCurrentWidget(training)

        def run_ended(path: str) -> None:
            if path:
                runs.open_run(path)

        runs.run_again.connect(run_again)
        training.run_ended.connect(run_ended)

    def _build_menus(self) -> None:
        view = self.menuBar().addMenu("&View")
        for dock in (self.station_dock, self.log_dock):
            view.addAction(dock.toggleViewAction())  # a closed dock comes back from here
        help_menu = self.menuBar().addMenu("&Help")
        self.plugins_action = help_menu.addAction("&Plugins…")
        self.plugins_action.setObjectName("plugins")
        self.plugins_action.triggered.connect(self.show_plugins)

    def show_plugins(self) -> None:
        """Help > Plugins: what installed packages add, and why any of it did not load."""
        from hilt.gui.plugins_dialog import PluginsDialog

        self.plugins_dialog = PluginsDialog(self)
        self.plugins_dialog.show()

    # -- the station ---------------------------------------------------------------------------
    @property
    def station(self) -> Any:
        """The connected station, or None."""
        return self.station_panel.station

    def _station_changed(self, station: Any) -> None:
        if station is not None:
            self.settings.setValue("station/last", self.station_panel.chosen())
            self.statusBar().showMessage(f"Station {station.name} connected", 5000)
        self.stationChanged.emit(station)

    def _station_jobs(self) -> list[Any]:
        """This window's running jobs that drive the station (calibrations, trainings)."""
        return [j for j in running_jobs(background=False) if j.exclusive and self._owns(j)]

    def _jobs_changed(self) -> None:
        if self._closed:
            return
        self.station_panel.hold(", ".join(j.name for j in self._station_jobs()) or None)

    def _stop_station_jobs(self) -> None:
        for job in self._station_jobs():
            log.warning("safe state asked: stopping %s", job.name)
            job.abort()

    # -- layout --------------------------------------------------------------------------------
    def _restore(self, station: str | None) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        else:
            self.resizeDocks([self.station_dock], [560], Qt.Orientation.Horizontal)
            self.resizeDocks([self.log_dock], [180], Qt.Orientation.Vertical)
        chosen = station or self.settings.value("station/last")
        if chosen:
            self.station_panel.choose(str(chosen))

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        if self.station_panel.chosen():
            self.settings.setValue("station/last", self.station_panel.chosen())
        self.settings.sync()

    # -- closing -------------------------------------------------------------------------------
    def _owns(self, job: Any) -> bool:
        """A job started from this window (its panels parent their jobs); another window's job
        (a second window, a script's) is not this window's to ask about or stop."""
        parent = job.parent()
        while parent is not None:
            if parent is self:
                return True
            parent = parent.parent()
        return False

    def stop_own_jobs(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Abort every job this window started and wait for their threads (close, screenshot)."""
        busy = [job for job in running_jobs(background=False) if self._owns(job)]
        for job in busy:
            job.abort()
        for job in busy:
            if not job.wait(timeout):
                log.error("%s did not stop within %g s", job.name, timeout)

    def _confirm_close(self, busy: list[Any]) -> bool:
        names = ", ".join(job.name for job in busy)
        box = QMessageBox(QMessageBox.Icon.Question, "Close hilt",
                          f"Still running: {names}.\n\nStop it, put the station in its safe state and close?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("confirmClose")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        # Unanswered, the box gives up as "No" (keep running): a close that nobody confirms
        # must never block the program, and never stop the job.
        QTimer.singleShot(int(self.confirm_timeout_s * 1000), box.reject)
        return box.exec() == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self._closed:
            event.accept()
            return
        # Ask about what drives the station (a calibration, a training); a short job (a set, a
        # connect) is only waited for.
        asking = self._station_jobs()
        if asking and not self._confirm_close(asking):
            event.ignore()
            return
        self.save_layout()
        self.stop_own_jobs()
        self.station_panel.shutdown(CLOSE_TIMEOUT)
        self.log_panel.detach()
        self._closed = True
        event.accept()


#: The station ``hilt gui`` opens when none is named: the simulated small MZI chip.
DEFAULT_STATION = "mzi-lab"


def preload() -> None:
    """Import now, before the window shows, what the first calibration or training would import
    on its worker thread: torch's optimizers pull in torch._dynamo (and sympy) on first use, the
    digits dataset scikit-learn (and pandas), seconds of Python holding the interpreter lock,
    which the UI thread felt as 300-500 ms stalls at the start of the first training
    (``bench/gui_stall_bench.py --dump-stalls``), and the MZI mesh's compiled kernels.
    """
    import sklearn.datasets  # noqa: F401 - the bundled digits (and pandas under it)
    import torch._dynamo  # noqa: F401

    import hilt.loops.calibration  # noqa: F401
    import hilt.loops.station  # noqa: F401

    # The mesh's compiled kernels load from numba's cache on their first call (about 0.8 s
    # holding the interpreter lock, 10 s on a machine's very first run): take that here.
    try:
        from hilt.sims.physics import MZIMesh

        MZIMesh(4).transfer_matrix()
    except Exception as exc:  # a preload is an optimisation, never a reason not to start
        log.warning("preloading the mesh kernels: %s", exc)


def run_app(station: str | None = None, *, screenshot: str | None = None, after: float = 3.0,
            settings: QSettings | None = None, show: str | None = None,
            runs_dir: str = "runs") -> int:
    """Open the main window on ``station`` (a file or a bundled station's name; the simulated
    MZI example if None) and connect it; run until the window is closed.

    ``show`` names a tab whose showcase starts once connected (:mod:`hilt.gui.showcase`: a short
    training, a heater calibration, the newest run in ``runs_dir``); with no station it is the
    Training tab's. With ``screenshot``, save the window as a PNG ``after`` seconds after the
    station connected (or failed to), then close; the exit status says whether the picture was
    written."""
    import os

    from PySide6.QtCore import QTimer

    root = logging.getLogger()
    for handler in root.handlers:
        # The terminal keeps the level `hilt -v` chose; the Log dock lowers hilt's own loggers.
        if handler.level == logging.NOTSET:
            handler.setLevel(root.level)
    app = application()
    preload()
    window = MainWindow(settings or settings_for(os.environ.get("HILT_GUI_SETTINGS")),
                        station=station or DEFAULT_STATION)
    window.show()
    saved: list[bool] = []
    if show is None and station is None:
        show = "Training"
    if show:
        from hilt.gui import showcase

        window.station_panel.connectEnded.connect(
            lambda ok: showcase.start(window, show, runs_dir) if ok else None)

    if screenshot:
        def shoot() -> None:
            saved.append(window.grab().save(screenshot))
            window.stop_own_jobs()  # a screenshot session ends what it started, without asking
            window.close()

        def connected_or_not(*_: object) -> None:
            QTimer.singleShot(int(max(0.0, after) * 1000), shoot)

        window.station_panel.connectEnded.connect(connected_or_not)
    QTimer.singleShot(0, window.station_panel.connect_station)
    app.exec()
    if screenshot:
        return 0 if saved and saved[0] else 1
    return 0


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, made if there is none yet."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv or ["hilt"])
        app.setOrganizationName(ORGANISATION)
        app.setApplicationName(APPLICATION)
    return app  # type: ignore[return-value]
