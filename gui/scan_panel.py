"""The Scan tab: sweep parameters of the connected station and watch the readings come in.

The same sweep as ``hilt scan`` and :func:`hilt.loops.scan.scan` (docs/scans.md), run as an
exclusive job (the Station dock holds its hand controls while it runs), its points drawn by a
:class:`~hilt.gui.scan_plot.ScanPlotWidget`; Stop ends it between points and puts the station in
its safe state; the sweep file and its PNG go under the runs folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from hilt.gui.jobs import AbortEvent, Job
from hilt.gui.scan_plot import ScanPlotWidget


def station_parameters(station: Any) -> tuple[list[str], list[str]]:
    """(settable, readable) parameter names of a station, ``INSTRUMENT.PARAMETER``, sorted."""
    settable, readable = [], []
    for name, inst in sorted(getattr(station, "instruments", {}).items()):
        for pname, param in sorted(getattr(inst, "parameters", {}).items()):
            full = f"{name}.{pname}"
            if getattr(param, "settable", False) and getattr(param, "unit", None) is not None:
                settable.append(full)
            if getattr(param, "gettable", False):
                readable.append(full)
    return settable, readable


class _AxisRow(QWidget):
    """PARAM from START to STOP in N points."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = QComboBox()
        self.param.setEditable(True)
        self.start = QLineEdit()
        self.start.setPlaceholderText("start, e.g. 12.5 GHz")
        self.stop = QLineEdit()
        self.stop.setPlaceholderText("stop")
        self.num = QSpinBox()
        self.num.setRange(1, 1_000_000)
        self.num.setValue(21)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w, stretch in ((self.param, 3), (self.start, 2), (self.stop, 2), (self.num, 1)):
            lay.addWidget(w, stretch)

    def axis(self) -> Any:
        from hilt.loops.scan import Axis

        return Axis(self.param.currentText().strip(), self.start.text().strip(), self.stop.text().strip(),
                    int(self.num.value()))


class ScanPanel(QWidget):
    """A sweep form over the station's parameters, Start and Stop, and the live plot."""

    def __init__(self, get_station: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.get_station = get_station
        self.job: Job | None = None
        self.result: Any = None
        self.outer = _AxisRow()
        self.inner_on = QCheckBox("and inside it")
        self.inner = _AxisRow()
        self.inner.setEnabled(False)
        self.inner_on.toggled.connect(self.inner.setEnabled)
        self.reads = QListWidget()
        self.reads.setMaximumHeight(140)
        self.settle = QLineEdit("auto")
        self.settle.setToolTip("Wait after each point's settings: 'auto' (what a read lock-in needs) or seconds")
        self.snake = QCheckBox("snake (every other inner line backwards)")
        self.runs_edit = QLineEdit("runs")
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("scan-start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("scan-stop")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.abort)
        self.status = QLabel("Connect a station, choose what to sweep and what to read, then Start.")
        self.status.setWordWrap(True)
        self.plot = ScanPlotWidget()

        form = QFormLayout()
        form.addRow("Sweep", self.outer)
        form.addRow(self.inner_on, self.inner)
        form.addRow("Read", self.reads)
        form.addRow("Settle", self.settle)
        form.addRow("", self.snake)
        form.addRow("Runs folder", self.runs_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        top = QWidget()
        top_lay = QVBoxLayout(top)
        top_lay.addLayout(form)
        top_lay.addLayout(buttons)
        top_lay.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.plot)
        split.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(split)
        changed = getattr(parent, "stationChanged", None)
        if changed is not None:
            changed.connect(lambda _station: self.refresh_parameters())
        self.refresh_parameters()

    def refresh_parameters(self) -> None:
        """Fill the choices from the connected station (keeps what was typed or ticked)."""
        station = self.get_station()
        settable, readable = station_parameters(station) if station is not None else ([], [])
        for row in (self.outer, self.inner):
            text = row.param.currentText()
            row.param.clear()
            row.param.addItems(settable)
            row.param.setCurrentText(text)
        ticked = set(self.read_names())
        self.reads.clear()
        for name in readable:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in ticked else Qt.CheckState.Unchecked)
            self.reads.addItem(item)

    def read_names(self) -> list[str]:
        return [self.reads.item(i).text() for i in range(self.reads.count())
                if self.reads.item(i).checkState() == Qt.CheckState.Checked]

    def set_reads(self, names: list[str]) -> None:
        for i in range(self.reads.count()):
            item = self.reads.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def run(self) -> None:
        """Start the sweep on the window's station (checked first: nothing is sent if it fails)."""
        if self.running:
            return
        station = self.get_station()
        if station is None:
            self.status.setText("No station connected: open and connect one in the Station panel.")
            return
        axes = [self.outer.axis()] + ([self.inner.axis()] if self.inner_on.isChecked() else [])
        reads = self.read_names()
        if not reads:
            self.status.setText("Tick at least one parameter to read.")
            return
        settle = self.settle.text().strip() or "auto"
        runs_dir = self.runs_edit.text().strip() or "runs"
        buffer = self.plot.buffer
        snake = self.snake.isChecked()

        def sweep(control: Any, report: Callable[[object], None]) -> Any:
            from hilt.loops.scan import scan

            return scan(station, *axes, read=reads, settle=settle, runs_dir=runs_dir, snake=snake,
                        observers=[buffer], progress=False, stop=AbortEvent(control))  # the buffer, never the widget

        self.result = None
        self.job = Job(sweep, f"scan {axes[0].param}", self, exclusive=True)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.start()
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(f"Sweeping {' x '.join(a.param for a in axes)} on {station.name}...")

    def abort(self) -> None:
        if self.running:
            self.job.abort()
            self.status.setText("Stopping: between two points, then the station goes to its safe state...")

    def _idle(self) -> None:
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.plot.refresh()

    def _finished(self, result: Any) -> None:
        self.result = result
        self._idle()
        if result is None:
            self.status.setText("Stopped.")
            return
        safe = "; station safe" if result.status != "completed" else ""
        self.status.setText(f"{result.status.capitalize()}: {result.points_done} of {result.total} points in "
                            f"{result.seconds:.1f} s{safe}. File {result.path}")

    def _failed(self, message: str) -> None:
        self._idle()
        self.status.setText(f"Failed: {message}")
