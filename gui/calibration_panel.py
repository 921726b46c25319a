"""The Calibration tab: run a calibration routine on the connected station and watch it fit.

Pick a routine (MZI heaters, crosstalk, lock-in phase and range, THz source power, detector dark
and flat field: the same list as ``hilt calibrate --list``). Its options appear as a form, each
with the routine's default; the instruments it uses (heaters, meter, laser...) are pre-filled
from the station's roles. **Run** starts it on its own worker thread, exactly as ``hilt
calibrate`` does: it writes a run file in the runs folder and a candidate calibration file next
to it. While it runs, the plot shows the sweep being measured (one colour per detector port)
and then the fitted curve over it. **Abort** stops it between two readings; the routine then
puts every instrument it used in its safe state (heaters at 0 V, light off).

When it ends, the fit quality and the error before and after the calibration are shown.
**Accept** saves the calibration as the station's: it is copied to the file in "Save to" (the
instrument's ``calibration:`` file from the station file when it has one) and the connected
station uses it from then on; add ``calibration: FILE`` to that instrument in the station file
to keep it next time. **Reject** leaves the station's calibration as it was (the run file stays,
as a record). **Run again** runs the routine once more with the settings of the last run.
"""

from __future__ import annotations

import inspect
import shutil
import threading
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import yaml
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from hilt import roles
from hilt.errors import HiltError
from hilt.gui.jobs import AbortEvent, Job, one_line
from hilt.gui.plots import Ring, fast_plot, pen
from hilt.loops.calibration import describe, get_routine, routine_names, run_calibration

#: The plot redraws at most this often.
REFRESH_HZ = 30
#: The routine's arguments that are not options a person sets in the form.
NOT_OPTIONS = {"station", "out_dir", "progress", "abort", "calibration_file"}
#: Which role's instrument a routine's calibration belongs to (its ``calibration:`` file).
CALIBRATION_ROLE = {"mzi_heaters": "heaters", "mzi_crosstalk": "heaters", "lockin_phase_sensitivity": "lockin",
                    "thz_source_power": "multiplier", "detector_dark_flat": "lockin", "slm_lut": "slm",
                    "camera_dark_flat": "camera"}
#: Colours of the detector ports in the plot.
PORT_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


# -- the live data ---------------------------------------------------------------------------
#: The plot's axes when a routine does not name them (the MZI heater sweeps).
DEFAULT_LABELS = ("swept value (V)", "reading (dark subtracted)")


@dataclass(frozen=True)
class CalibrationSnapshot:
    """What the plot and the progress line draw, copied out of the buffer at one moment."""

    version: int
    done: int
    total: int
    message: str
    #: The sweep being measured: its heater (or other swept item) and its points, one row each
    #: (x, port 0, port 1...).
    item: Any
    points: np.ndarray
    #: The fitted curve over the latest sweep (x, port 0, port 1...), if it is fitted yet.
    fit: np.ndarray | None
    #: Every sweep point received so far in this run.
    points_seen: int
    #: The sweep's own axis labels and title, when it named them (x, y, title).
    labels: tuple[str, str, str] | None = None


class CalibrationBuffer:
    """Thread-safe record of a running calibration for the live plot.

    The routine's worker calls :meth:`progress` (its progress callback) after every step and
    for every point measured: it only copies a few numbers under a lock and never waits for the
    UI. The UI takes a :meth:`snapshot` at most :data:`REFRESH_HZ` times a second.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._capacity = capacity
        self._points: Ring | None = None
        self._item: Any = None
        self._width = 0
        self._fit: np.ndarray | None = None
        self._labels: tuple[str, str, str] | None = None
        self._done, self._total, self._message = 0, 1, ""
        self.points_seen = 0
        self.version = 0

    def progress(self, done: int, total: int, message: str = "", data: dict[str, Any] | None = None) -> None:
        """The routine's progress callback (on the worker thread)."""
        with self._lock:
            self._done, self._total = int(done), int(total)
            if message:
                self._message = message
            if data is not None:
                self._add(data)
            self.version += 1

    def _add(self, data: dict[str, Any]) -> None:
        if "sweep" in data:
            y = np.atleast_1d(np.asarray(data["y"], dtype=float))
            item = (data.get("sweep"), data.get("heater"), data.get("step"))
            if item != self._item or self._points is None or self._width != 1 + y.size:
                self._item, self._fit, self._width = item, None, 1 + y.size
                self._points = Ring(self._capacity, self._width)
            self._points.append((float(data["x"]), *y))
            self.points_seen += 1
            if "x_label" in data or "title" in data:
                self._labels = (str(data.get("x_label", "")), str(data.get("y_label", "")),
                                str(data.get("title", "")))
        elif "fit" in data:
            x = np.asarray(data["x"], dtype=float)
            y = np.asarray(data["y"], dtype=float).reshape(len(x), -1)
            self._fit = np.column_stack([x, y])

    def snapshot(self) -> CalibrationSnapshot:
        with self._lock:
            points = self._points.array() if self._points is not None else np.zeros((0, 1))
            return CalibrationSnapshot(self.version, self._done, self._total, self._message, self._item, points,
                                       None if self._fit is None else self._fit.copy(), self.points_seen,
                                       self._labels)


# -- the form --------------------------------------------------------------------------------
class OptionField:
    """One routine option in the form: its editor, and its value as the routine takes it."""

    def __init__(self, name: str, kinds: set[type], optional: bool, default: Any, role_kinds: tuple[str, ...] | None,
                 station: Any) -> None:
        self.name = name
        self.default = default
        self.kinds = kinds
        self.optional = optional
        self.role_kinds = role_kinds
        self.widget: QWidget
        if role_kinds is not None:
            combo = QComboBox()
            combo.addItem("(station's choice)", None)
            for inst in _instruments_of(station, role_kinds):
                combo.addItem(inst, inst)
            chosen = _station_role(station, name)
            if chosen is not None and combo.findData(chosen) >= 0:
                combo.setCurrentIndex(combo.findData(chosen))
            combo.setToolTip(f"The instrument used as {name} (a {roles.either(role_kinds)})")
            self.widget = combo
        elif kinds == {bool}:
            box = QCheckBox()
            box.setChecked(bool(default))
            self.widget = box
        elif kinds == {int} and not optional:
            spin = QSpinBox()
            spin.setRange(0 if default >= 0 else -(2**31) + 1, 2**31 - 1)
            spin.setValue(int(default))
            self.widget = spin
        elif kinds <= {float, int} and not optional:
            dspin = QDoubleSpinBox()
            dspin.setDecimals(6)
            dspin.setRange(-1e12, 1e12)
            dspin.setValue(float(default))
            self.widget = dspin
        else:  # text, a list, or a number that may be left to the routine
            edit = QLineEdit("" if default is None else _text(default))
            if optional:
                edit.setPlaceholderText("automatic")
            if list in kinds:
                edit.setToolTip("A list, e.g. [0, 7]")
            self.widget = edit
        self.widget.setObjectName(f"option:{name}")
        #: What the form shows before anyone edits it (an option left there is not passed: the
        #: routine uses its own default, not a spin box's rounding of it).
        self.initial = self.value()

    def value(self) -> Any:
        """The option's value, or :data:`inspect.Parameter.empty` to leave the routine's default."""
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentData() if w.currentData() is not None else inspect.Parameter.empty
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return w.value()
        if isinstance(w, QDoubleSpinBox):
            return w.value()
        text = w.text().strip()
        if not text:
            return inspect.Parameter.empty
        if self.kinds <= {str, Path}:
            return text
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{self.name}: {exc}") from None

    def set_value(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QComboBox):
            i = w.findData(value)
            w.setCurrentIndex(max(i, 0))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))
        else:
            w.setText("" if value is inspect.Parameter.empty or value is None else _text(value))


def _text(value: Any) -> str:
    if isinstance(value, str | Path):
        return str(value)
    if isinstance(value, range | tuple):
        value = list(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _instruments_of(station: Any, kinds: tuple[str, ...]) -> list[str]:
    if station is None:
        return []
    return [name for name, inst in station.instruments.items()
            if any(k in roles.declared_kinds(type(inst)) for k in kinds)]


def _station_role(station: Any, role: str) -> str | None:
    """The instrument the station file names for ``role`` (or the only one of its kinds)."""
    if station is None:
        return None
    named = dict(getattr(getattr(station, "config", None), "roles", None) or {})
    entry = named.get(role)
    if isinstance(entry, dict):
        entry = entry.get("instrument")
    entry = getattr(entry, "instrument", entry)  # a station file's role: its instrument's name
    if isinstance(entry, str) and entry:
        return entry
    fits = _instruments_of(station, roles.ROLES.get(role, ()))
    return fits[0] if len(fits) == 1 else None


def routine_options(routine: str) -> list[tuple[str, set[type], bool, Any]]:
    """The options of ``routine`` a form can set: (name, value types, may be None, default).
    Options that take a Python function (``select_input``, ``transmission``...) are left out:
    they are for scripts."""
    fn = get_routine(routine)
    hints = typing.get_type_hints(fn)
    out = []
    for name, param in inspect.signature(fn).parameters.items():
        if name in NOT_OPTIONS or param.default is inspect.Parameter.empty:
            continue
        hint = hints.get(name)
        args = typing.get_args(hint) if _is_union(hint) else (hint,)
        optional = type(None) in args or param.default is None
        kinds: set[type] = set()
        for a in args:
            if a is type(None):
                continue
            origin = typing.get_origin(a) or a
            if origin in (bool, int, float, str, Path):
                kinds.add(origin)
            elif isinstance(origin, type) and issubclass(origin, Sequence) and origin is not str:
                kinds.add(list)
            else:
                kinds.add(object)
        if object in kinds or not kinds:
            continue
        out.append((name, kinds, optional, param.default))
    return out


def _is_union(hint: Any) -> bool:
    import types

    return typing.get_origin(hint) in (typing.Union, types.UnionType)


# -- the tab ---------------------------------------------------------------------------------
class CalibrationPanel(QWidget):
    """The Calibration tab. ``get_station()`` returns the window's connected station, or None."""

    def __init__(self, get_station: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.get_station = get_station
        self.job: Job | None = None
        self.buffer = CalibrationBuffer()
        self.result: Any = None
        self.saved_to: Path | None = None
        self.last_settings: dict[str, Any] | None = None
        self.fields: dict[str, OptionField] = {}
        self._drawn_version = -1
        self._routine_loads = True  # False while the chosen routine is a plug-in that does not load
        self._build_form()
        self._build_plot()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        scroll = QScrollArea()  # a routine with many options scrolls; the window stays any size
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form_widget)
        splitter.addWidget(scroll)
        splitter.addWidget(self.plot_widget)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([400, 800])  # the form readable without scrolling sideways
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REFRESH_HZ))
        self.timer.timeout.connect(self._redraw)
        changed = getattr(parent, "stationChanged", None)
        if changed is not None:  # the roles to pre-fill come with the station
            changed.connect(lambda _station: self._routine_changed())
        self._set_state("idle")

    # -- building ------------------------------------------------------------------------------
    def _build_form(self) -> None:
        self.form_widget = QWidget()
        top = QFormLayout()
        self.routine_box = QComboBox()
        self.routine_box.setObjectName("routine")
        for name in routine_names():
            self.routine_box.addItem(name, name)
            self.routine_box.setItemData(self.routine_box.count() - 1, describe(name), Qt.ItemDataRole.ToolTipRole)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.runs_edit = QLineEdit("runs")
        self.runs_edit.setObjectName("runsFolder")
        self.save_edit = QLineEdit()
        self.save_edit.setObjectName("saveTo")
        self.save_edit.setToolTip("Where Accept saves the calibration (the instrument's calibration: file "
                                  "from the station file when it has one)")
        top.addRow("Routine", self.routine_box)
        top.addRow(self.description)
        top.addRow("Runs folder", self.runs_edit)
        top.addRow("Save to", self.save_edit)
        self.options_box = QWidget()
        self.options_form = QFormLayout(self.options_box)
        self.options_form.setContentsMargins(0, 0, 0, 0)

        self.run_button = QPushButton("Run")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setToolTip("Stop between two readings; the instruments are put in their safe state")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Save this calibration as the station's")
        self.reject_button = QPushButton("Reject")
        self.again_button = QPushButton("Run again")
        self.again_button.setToolTip("Run the routine once more with the last run's settings")
        self.run_button.clicked.connect(self.run)
        self.abort_button.clicked.connect(self.abort)
        self.accept_button.clicked.connect(self.accept)
        self.reject_button.clicked.connect(self.reject)
        self.again_button.clicked.connect(self.run_again)
        run_row = QHBoxLayout()
        for b in (self.run_button, self.abort_button, self.again_button):
            run_row.addWidget(b)
        decide_row = QHBoxLayout()
        for b in (self.accept_button, self.reject_button):
            decide_row.addWidget(b)

        self.progress_label = QLabel("-")
        self.progress_label.setWordWrap(True)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_text = QPlainTextEdit()
        self.result_text.setObjectName("result")
        self.result_text.setReadOnly(True)
        self.result_text.setPlaceholderText("The fit quality and the error before and after appear here.")

        box = QVBoxLayout(self.form_widget)
        box.addLayout(top)
        box.addWidget(QLabel("Options"))
        box.addWidget(self.options_box)
        box.addLayout(run_row)
        box.addWidget(self.progress_label)
        box.addWidget(self.result_text, 1)
        box.addLayout(decide_row)
        box.addWidget(self.status_label)
        self.routine_box.currentIndexChanged.connect(self._routine_changed)
        self._routine_changed()

    def _build_plot(self) -> None:
        self.plot_widget = pg.GraphicsLayoutWidget()
        self.plot = fast_plot(self.plot_widget.addPlot(row=0, col=0), x_label=DEFAULT_LABELS[0],
                              y_label=DEFAULT_LABELS[1])
        self._labels_shown: tuple[str, str, str] | None = None
        self.point_curves: list[Any] = []
        self.fit_curves: list[Any] = []

    def _curves(self, ports: int) -> None:
        """One scatter (the points) and one line (the fit) per port."""
        if len(self.point_curves) == ports:
            return
        self.plot.clear()
        self.point_curves, self.fit_curves = [], []
        for q in range(ports):
            color = PORT_COLORS[q % len(PORT_COLORS)]
            self.point_curves.append(self.plot.plot(pen=None, symbol="o", symbolSize=5, symbolPen=None,
                                                    symbolBrush=color))
            self.fit_curves.append(self.plot.plot(pen=pen(color)))

    # -- the form ------------------------------------------------------------------------------
    @property
    def routine(self) -> str:
        return str(self.routine_box.currentData())

    def _routine_changed(self) -> None:
        """Rebuild the options for the chosen routine (with the station's roles pre-filled)."""
        if self.running:
            return  # the form is the running routine's
        routine = self.routine
        while self.options_form.rowCount():
            self.options_form.removeRow(0)
        station = self.get_station()
        self.fields = {}
        try:
            self.description.setText(describe(routine))
            options = routine_options(routine)
        except HiltError as exc:  # a plug-in routine that does not load: say why, offer nothing
            self.description.setText(one_line(exc))
            self._routine_loads = False
            self.run_button.setEnabled(False)
            return
        self._routine_loads = True
        self.run_button.setEnabled(not self.running)
        for name, kinds, optional, default in options:
            role_kinds = roles.ROLES.get(name) if kinds <= {str} else None
            field = OptionField(name, kinds, optional, default, role_kinds, station)
            self.fields[name] = field
            self.options_form.addRow(name.replace("_", " "), field.widget)
        self.save_edit.setText(self._default_target(station) or "")

    def _default_target(self, station: Any) -> str | None:
        """The instrument's ``calibration:`` file, else ``<runs folder>/<station>-<routine>.npz``."""
        if station is None:
            return None
        role = CALIBRATION_ROLE.get(self.routine)
        inst = self._calibrated_instrument(station, role)
        known = getattr(inst, "calibration_file", None) if inst is not None else None
        if known:
            return str(known)
        return str(Path(self.runs_edit.text().strip() or "runs") / f"{station.name}-{self.routine}.npz")

    def _calibrated_instrument(self, station: Any, role: str | None) -> Any:
        if role is None:
            return None
        field = self.fields.get(role)
        name = field.value() if field is not None else inspect.Parameter.empty
        if name is inspect.Parameter.empty:
            name = _station_role(station, role)
        return station.instruments.get(name) if name else None

    def settings(self) -> dict[str, Any]:
        """The form: routine, runs folder, save-to file and the options changed from what the
        form first showed (``options``; the others are the routine's defaults)."""
        options = {}
        for name, field in self.fields.items():
            value = field.value()
            if value is not inspect.Parameter.empty and value != field.initial:
                options[name] = value
        return {"routine": self.routine, "runs_dir": self.runs_edit.text().strip() or "runs",
                "save_to": self.save_edit.text().strip(), "options": options}

    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Fill the form from :meth:`settings` (keys left out keep their values; options left
        out of ``options`` go back to what the form first showed)."""
        if settings.get("routine") and self.routine_box.findData(settings["routine"]) >= 0:
            self.routine_box.setCurrentIndex(self.routine_box.findData(settings["routine"]))
        if settings.get("runs_dir"):
            self.runs_edit.setText(str(settings["runs_dir"]))
        if settings.get("save_to"):
            self.save_edit.setText(str(settings["save_to"]))
        if "options" in settings:
            given = settings["options"] or {}
            for name, field in self.fields.items():
                field.set_value(given.get(name, field.initial))

    # -- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def run(self) -> None:
        """Run the chosen routine with the form's options on the window's station."""
        if self.running:
            return
        station = self.get_station()
        if station is None:
            self._set_status("No station connected: open and connect one in the Station panel.")
            return
        try:
            s = self.settings()
        except ValueError as exc:
            self._set_status(f"Check the options: {exc}")
            return
        self.last_settings = s
        self.result = None
        self.buffer = buffer = CalibrationBuffer()
        self._drawn_version = -1
        self._clear()
        routine, runs_dir, options = s["routine"], s["runs_dir"], dict(s["options"])

        def calibrate(control: Any, report: Callable[[object], None]) -> Any:
            # The routine's own finally puts every instrument it used in its safe state.
            return run_calibration(station, routine, out_dir=runs_dir, progress=buffer.progress,
                                   abort=AbortEvent(control), **options)

        self.job = Job(calibrate, f"calibration {routine}", self, exclusive=True)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.start()
        self.timer.start()
        self._set_state("running")
        self._set_status(f"Running {routine} on {station.name}...")

    def run_again(self) -> None:
        """Run once more with the last run's settings (the form is set back to them)."""
        if self.last_settings is None or self.running:
            return
        self.apply_settings(self.last_settings)
        self.run()

    def abort(self) -> None:
        """Stop between two readings; the routine leaves its instruments safe."""
        if self.running:
            self.job.abort()  # an event set from this thread: heard before the next reading
            self._set_state("aborting")
            self._set_status("Aborting: putting the instruments in their safe state...")

    def _finished(self, result: Any) -> None:
        self.result = result
        self.timer.stop()
        self._redraw()
        if result is None:
            self._set_state("idle")
            self._set_status("Aborted; instruments safe.")
            return
        self.result_text.setPlainText(result.summary())
        if result.ok and result.calibration_file is not None:
            self._set_state("decide")
            self._set_status("Completed: Accept saves this calibration as the station's; Reject keeps the old one.")
        else:
            self._set_state("idle")
            self._set_status(f"{result.status.capitalize()}; instruments safe. Run file {result.run_file}")

    def _failed(self, message: str) -> None:
        self.timer.stop()
        self._redraw()
        self._set_state("idle")
        self._set_status(f"Failed: {message}")

    def accept(self) -> None:
        """Save the result as the station's calibration (the Save to file) and use it from now on."""
        result = self.result
        if self.state != "decide" or result is None or result.calibration_file is None:
            return
        station = self.get_station()
        text = self.save_edit.text().strip() or (self._default_target(station) or "")
        if not text:
            self._set_status("Say where to save the calibration (Save to).")
            return
        target = Path(text).expanduser()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if Path(result.calibration_file).resolve() != target.resolve():
                shutil.copyfile(result.calibration_file, target)
        except OSError as exc:
            self._set_status(f"Could not save the calibration to {target}: {exc}")
            return
        self.saved_to = target.resolve()
        inst = self._calibrated_instrument(station, CALIBRATION_ROLE.get(result.routine)) if station else None
        where = ""
        if inst is not None:
            inst.calibration_file = str(self.saved_to)  # the connected station uses it from now on
            where = (f" for {inst.name}; add 'calibration: {self.saved_to}' to {inst.name} in the station "
                     "file to keep it next time")
        self._set_state("idle")
        self._set_status(f"Accepted: saved to {self.saved_to}{where}.")

    def reject(self) -> None:
        """Keep the station's calibration as it was (the run file stays, as a record)."""
        if self.state != "decide":
            return
        self._set_state("idle")
        run_file = getattr(self.result, "run_file", None)
        self._set_status(f"Rejected: the station's calibration is unchanged. Run file {run_file}")

    def _set_state(self, state: str) -> None:
        self.state = state
        busy = state in ("running", "aborting")
        self.run_button.setEnabled(not busy and self._routine_loads)
        self.again_button.setEnabled(not busy and self.last_settings is not None)
        self.abort_button.setEnabled(state == "running")
        self.accept_button.setEnabled(state == "decide")
        self.reject_button.setEnabled(state == "decide")
        for w in (self.routine_box, self.runs_edit, self.save_edit, self.options_box):
            w.setEnabled(not busy)

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)

    # -- drawing -------------------------------------------------------------------------------
    def _clear(self) -> None:
        for c in self.point_curves + self.fit_curves:
            c.setData([], [])
        if self._labels_shown is not None:  # the last routine named its axes; this one may not
            self.plot.setLabel("bottom", DEFAULT_LABELS[0])
            self.plot.setLabel("left", DEFAULT_LABELS[1])
            self._labels_shown = None
        self.progress_label.setText("-")
        self.result_text.clear()

    def _redraw(self) -> None:
        if self.buffer.version == self._drawn_version:
            return  # nothing new
        snap = self.buffer.snapshot()
        self._drawn_version = snap.version
        self.draw(snap)

    def draw(self, snap: CalibrationSnapshot) -> None:
        """Draw one snapshot of the buffer (the timer calls this at most 30 times a second)."""
        self.progress_label.setText(f"Step {snap.done} of {snap.total}: {snap.message or '...'}")
        p = snap.points
        if p.shape[1] > 1:
            self._curves(p.shape[1] - 1)
            for q, curve in enumerate(self.point_curves):
                curve.setData(p[:, 0], p[:, 1 + q])
            heater = snap.item[1] if snap.item else None
            if snap.labels is not None:
                x_label, y_label, title = snap.labels
                if snap.labels != self._labels_shown:
                    self.plot.setLabel("bottom", x_label)
                    self.plot.setLabel("left", y_label)
                    self._labels_shown = snap.labels
                self.plot.setTitle(title)
            else:
                self.plot.setTitle(f"heater {heater}" if heater is not None else "")
        fit = snap.fit
        for q, curve in enumerate(self.fit_curves):
            if fit is not None and fit.shape[1] > 1 + q:
                curve.setData(fit[:, 0], fit[:, 1 + q])
            else:
                curve.setData([], [])

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Abort a running calibration and wait for its thread; True once nothing runs."""
        if self.job is None:
            return True
        self.job.abort()
        ended = self.job.wait(timeout)
        self.timer.stop()
        return ended
