"""The Runs tab: browse a folder of run files and look inside one, finished or still running.

The table lists every run file in the folder (what ``hilt runs list`` prints: name, status,
steps, size, and why a run ended early). Double-click a run to open it: scrub through its
captures with the slider (port outputs as bars, 2-D outputs as images; the hardware's beside
the twin's), plot its scalars (per step, and each epoch's summary as ``epochs/<name>`` at the
epoch's last step), read its faults and the station as it was when the run started.
A run still being written refreshes by itself every second. "Open file..." opens any HDF5 file
read-only: a run file from anywhere, or another HDF5 file, shown as a tree.

"Run again with these settings" fills the Training tab's form with the run's loop, dataset
and settings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hilt.gui.plots import PHYSICAL_COLOR, OutputView, fast_plot, pen
from hilt.gui.scan_plot import ScanPlotWidget
from hilt.runfile import RunFileError, RunReader, open_run
from hilt.runfile.cli import format_size
from hilt.runfile.status import MEANINGS as STATUS_MEANINGS
from hilt.runfile.sweep_file import is_sweep_file, open_sweep

#: A live run is looked at again this often (ms).
LIVE_REFRESH_MS = 1000
#: What a loop's recorded method name was started as (for "Run again" of runs made from Python).
METHOD_LOOPS = {"insilico": "insilico", "pat": "insitu", "dat": "dat", "dat_internal": "dat",
                "dat_block": "dat"}
COLUMNS = ("name", "status", "steps", "size", "reason")


@dataclass(frozen=True)
class RunRow:
    """One line of the runs table."""

    path: Path
    status: str
    steps: str
    size: str
    reason: str


def list_runs(folder: Path) -> list[RunRow]:
    """Every run file in ``folder``, by name: HDF5 files that are not run files are left out,
    damaged ones listed as such (as ``hilt runs list`` does)."""
    rows = []
    for path in sorted(folder.glob("*.h5")):
        try:
            size = format_size(path.stat().st_size)
        except OSError:  # removed since the folder was read
            continue
        if is_sweep_file(path):
            try:
                sweep = open_sweep(path)
            except RunFileError as exc:
                rows.append(RunRow(path, "damaged", "-", size, str(exc).split(": ", 1)[-1]))
                continue
            total = sweep.total
            rows.append(RunRow(path, sweep.status, f"{sweep.points_done}/{total} pts", size, sweep.reason))
            continue
        try:
            with RunReader(path) as run:
                rows.append(RunRow(path, run.status, str(run.steps().size), size, run.reason))
        except RunFileError as exc:
            if "not a hilt run file" in str(exc):
                continue
            rows.append(RunRow(path, "damaged", "-", size, str(exc).split(": ", 1)[-1]))
    return rows


def run_settings(info: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """The Training form's settings that would run this run again (None if it cannot say)."""
    cfg = info.get("config") or {}
    started = cfg.get("station_run") or {}
    s = cfg.get("settings") or {}
    method = str(cfg.get("method") or "")
    loop = started.get("loop") or METHOD_LOOPS.get(method)
    if loop is None and method.startswith("spsa"):
        loop = "spsa"
    if loop is None:
        return None
    return {"loop": loop, "dat_mode": started.get("dat_mode") or s.get("mode"),
            "dataset": started.get("dataset") or cfg.get("dataset"), "epochs": s.get("epochs"),
            "lr": s.get("lr"), "batch_size": s.get("batch_size"),
            "seed": started.get("seed", s.get("seed")), "runs_dir": str(path.parent)}


def fill_tree(parent: QTreeWidgetItem, value: Any) -> None:
    """Nested dicts and lists as tree items (key in the first column, value in the second)."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, v in items:
        item = QTreeWidgetItem(parent, [str(key)])
        if isinstance(v, (dict, list, tuple)) and v:
            fill_tree(item, v)
        else:
            item.setText(1, json.dumps(v) if isinstance(v, (dict, list, tuple)) else str(v))


#: How an end-of-epoch summary is listed beside the per-step scalars (plotted at its epoch's
#: last step): ``epochs/test_accuracy``, the path of its dataset in the run file.
EPOCH_PREFIX = "epochs/"
#: Selected when a run opens.
SHOWN_FIRST = ("loss", "epochs/test_accuracy", "epochs/twin_accuracy")


def plot_names(run: RunReader) -> list[str]:
    """The per-step scalars, then the epoch summaries as ``epochs/<name>``."""
    return [*run.scalar_names, *(EPOCH_PREFIX + n for n in run.epoch_names)]


def split_plot_name(name: str) -> tuple[str, str]:
    """``("epochs", "test_accuracy")`` for ``epochs/test_accuracy``, else ``("scalars", name)``."""
    if name.startswith(EPOCH_PREFIX):
        return "epochs", name[len(EPOCH_PREFIX):]
    return "scalars", name


def _or_none(arr: np.ndarray | None) -> np.ndarray | None:
    """A field the stream records but this row left out reads back as NaN: show it as absent."""
    if arr is None or np.all(np.isnan(np.abs(arr))):
        return None
    return np.abs(arr) if np.iscomplexobj(arr) else np.asarray(arr)


class RunsPanel(QWidget):
    """The Runs tab."""

    #: The settings of the open run, for ``TrainingPanel.apply_settings`` (the window connects it).
    run_again = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reader: RunReader | None = None
        self.path: Path | None = None
        self._rows: list[RunRow] = []
        self._capture_steps = np.zeros(0, dtype=np.int64)
        self._capture_rows: list[np.ndarray] = []
        self._build()
        self.live_timer = QTimer(self)
        self.live_timer.setInterval(LIVE_REFRESH_MS)
        self.live_timer.timeout.connect(self._live_refresh)

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.folder_edit = QLineEdit("runs")
        self.folder_edit.returnPressed.connect(self.refresh_folder)
        browse = QPushButton("Folder...")
        browse.clicked.connect(self._browse_folder)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_folder)
        self.open_file_button = QPushButton("Open file...")
        self.open_file_button.setToolTip("Open any HDF5 file read-only")
        self.open_file_button.clicked.connect(self._open_file_dialog)
        top = QHBoxLayout()
        top.addWidget(QLabel("Runs folder"))
        top.addWidget(self.folder_edit, 1)
        for b in (browse, self.refresh_button, self.open_file_button):
            top.addWidget(b)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(lambda row, _col: self._open_row(row))
        self.folder_message = QLabel()

        self.header = QLabel("Double-click a run to open it.")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_again_button = QPushButton("Run again with these settings")
        self.run_again_button.setEnabled(False)
        self.run_again_button.clicked.connect(self._run_again)
        head = QHBoxLayout()
        head.addWidget(self.header, 1)
        head.addWidget(self.run_again_button)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_captures(), "Captures")
        self.tabs.addTab(self._build_scalars(), "Scalars")
        self.faults_table = QTableWidget(0, 8)
        self.faults_table.setHorizontalHeaderLabels(
            ["time", "step", "epoch", "retry", "instrument", "command", "error", "outcome"])
        self.faults_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.faults_table.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.faults_table, "Faults")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["", "value"])
        self.tabs.addTab(self.tree, "Station and settings")
        # A sweep file (hilt scan) is drawn as the Scan tab draws it live.
        self.sweep_plot = ScanPlotWidget()
        self.sweep_plot.timer.stop()
        self.tabs.addTab(self.sweep_plot, "Sweep")
        self.tabs.setTabEnabled(self.tabs.indexOf(self.sweep_plot), False)

        upper = QWidget()
        ul = QVBoxLayout(upper)
        ul.setContentsMargins(0, 0, 0, 0)
        ul.addLayout(top)
        ul.addWidget(self.table)
        ul.addWidget(self.folder_message)
        lower = QWidget()
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(head)
        ll.addWidget(self.tabs)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(lower)
        splitter.setStretchFactor(1, 3)
        QVBoxLayout(self).addWidget(splitter)

    def _build_captures(self) -> QWidget:
        w = QWidget()
        self.stream_box = QComboBox()
        self.stream_box.currentIndexChanged.connect(self._load_stream)
        self.capture_slider = QSlider(Qt.Orientation.Horizontal)
        self.capture_slider.setRange(0, 0)
        self.capture_slider.setToolTip("Scrub through the captured steps (arrow keys, Home, End)")
        self.capture_slider.valueChanged.connect(self._show_capture)
        self.sample_spin = QSpinBox()
        self.sample_spin.setRange(0, 0)
        self.sample_spin.setToolTip("Which captured sample of the step")
        self.sample_spin.valueChanged.connect(self._show_capture)
        self.capture_label = QLabel("-")
        self.capture_view = OutputView()
        controls = QFormLayout()
        controls.addRow("Stream", self.stream_box)
        row = QHBoxLayout()
        row.addWidget(self.capture_slider, 1)
        row.addWidget(QLabel("sample"))
        row.addWidget(self.sample_spin)
        controls.addRow("Step", row)
        controls.addRow("", self.capture_label)
        layout = QVBoxLayout(w)
        layout.addLayout(controls)
        layout.addWidget(self.capture_view, 1)
        return w

    def _build_scalars(self) -> QWidget:
        import pyqtgraph as pg

        w = QWidget()
        self.scalar_list = QListWidget()
        self.scalar_list.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        self.scalar_list.itemSelectionChanged.connect(self._draw_scalars)
        self.scalar_plots = pg.GraphicsLayoutWidget()
        self.scalar_curves: dict[str, Any] = {}
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.scalar_list)
        split.addWidget(self.scalar_plots)
        split.setStretchFactor(1, 4)
        QVBoxLayout(w).addWidget(split)
        return w

    # -- the folder ----------------------------------------------------------------------------
    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.refresh_folder()

    def set_folder(self, folder: str | Path) -> None:
        """Show the run files of ``folder`` (the Training tab's runs folder, say)."""
        self.folder_edit.setText(str(folder))
        self.refresh_folder()

    def refresh_folder(self) -> None:
        folder = Path(self.folder_edit.text().strip() or ".")
        if not folder.is_dir():
            self._rows = []
            self.table.setRowCount(0)
            self.folder_message.setText(f"{folder}: no such folder")
            return
        self._rows = list_runs(folder)
        self.table.setRowCount(len(self._rows))
        for i, r in enumerate(self._rows):
            for j, text in enumerate((r.path.name, r.status, r.steps, r.size, r.reason)):
                item = QTableWidgetItem(text)
                if j in (2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if j == 1:  # the run file's status words, the same as hilt runs list's
                    item.setToolTip(STATUS_MEANINGS.get(text, "the file cannot be read as a run file"))
                self.table.setItem(i, j, item)
        n = len(self._rows)
        self.folder_message.setText(f"{n} run file{'s' if n != 1 else ''} in {folder}" if n
                                    else f"no run files in {folder}")

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self._rows):
            self.open_run(self._rows[row].path)

    def _open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an HDF5 file (read-only)",
                                              self.folder_edit.text(),
                                              "HDF5 files (*.h5 *.hdf5 *.he5);;All files (*)")
        if path:
            self.open_run(path)

    # -- one run -------------------------------------------------------------------------------
    def _close_reader(self) -> None:
        self.live_timer.stop()
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def open_run(self, path: str | Path) -> bool:
        """Open a run file (read-only; one still being written refreshes every second). Any
        other HDF5 file is shown as a tree. False (and the reason shown) if it cannot be read."""
        self._close_reader()
        self.path = Path(path)
        self.run_again_button.setEnabled(False)
        if is_sweep_file(self.path):
            return self._open_sweep(self.path)
        self.tabs.setTabEnabled(self.tabs.indexOf(self.sweep_plot), False)
        try:
            self.reader = open_run(self.path)
        except RunFileError as exc:
            if "not a hilt run file" in str(exc) and self._show_plain_hdf5(self.path):
                return True
            self._clear_run()
            self.header.setText(str(exc))
            return False
        self._load_run()
        if self.reader.live:
            self.live_timer.start()
        return True

    def _clear_run(self) -> None:
        self.stream_box.blockSignals(True)
        self.stream_box.clear()
        self.stream_box.blockSignals(False)
        self._capture_steps = np.zeros(0, dtype=np.int64)
        self._capture_rows = []
        self.capture_slider.setRange(0, 0)
        self.capture_view.show_outputs(None, None)
        self.capture_label.setText("-")
        self.scalar_list.clear()
        self.scalar_plots.clear()
        self.scalar_curves = {}
        self.faults_table.setRowCount(0)
        self.tree.clear()
        for i in range(3):
            self.tabs.setTabEnabled(i, True)

    def _load_run(self) -> None:
        run = self.reader
        assert run is not None and self.path is not None
        self._clear_run()
        self._update_header()
        self.run_again_button.setEnabled(run_settings(run.info, self.path) is not None)
        self.stream_box.blockSignals(True)
        for name in run.streams:
            self.stream_box.addItem(name)
        self.stream_box.blockSignals(False)
        self._load_stream()
        self.scalar_list.blockSignals(True)
        for name in plot_names(run):
            self.scalar_list.addItem(name)
        for i in range(self.scalar_list.count()):
            item = self.scalar_list.item(i)
            if item.text() in SHOWN_FIRST:
                item.setSelected(True)
        self.scalar_list.blockSignals(False)
        self._draw_scalars()
        self._load_faults()
        self._load_tree()

    def _update_header(self) -> None:
        run = self.reader
        assert run is not None and self.path is not None
        status = run.status
        reason = f" ({run.reason})" if run.reason else ""
        live = ", live" if run.live else ""
        self.header.setText(f"<b>{self.path.name}</b>: {status}{reason}{live}; "
                            f"{run.steps().size} steps, started {run.info.get('start_time', '-')}")

    # captures
    def _load_stream(self) -> None:
        run = self.reader
        stream = self.stream_box.currentText()
        if run is None or not stream:
            return
        index = run.captures(stream, fields=())
        steps = index.step.astype(np.int64)
        order = np.argsort(steps, kind="stable")
        uniq, starts = np.unique(steps[order], return_index=True)
        groups = np.split(order, starts[1:]) if len(order) else []
        # A resumed run may hold a step twice: its last session's rows are the ones that count.
        rows = []
        for g in groups:
            last = index.session[g].max()
            rows.append(g[index.session[g] == last])
        at_end = self.capture_slider.value() >= self.capture_slider.maximum()
        self._capture_steps, self._capture_rows = uniq, rows
        self.capture_slider.blockSignals(True)
        self.capture_slider.setRange(0, max(0, len(uniq) - 1))
        if at_end:  # following a live run: stay on its latest capture
            self.capture_slider.setValue(self.capture_slider.maximum())
        self.capture_slider.blockSignals(False)
        self._show_capture()

    def _show_capture(self) -> None:
        run = self.reader
        stream = self.stream_box.currentText()
        if run is None or not stream or not len(self._capture_steps):
            self.capture_view.show_outputs(None, None)
            self.capture_label.setText("no captures yet")
            return
        i = self.capture_slider.value()
        rows = self._capture_rows[i]
        self.sample_spin.blockSignals(True)
        self.sample_spin.setRange(0, len(rows) - 1)
        self.sample_spin.blockSignals(False)
        row = int(rows[self.sample_spin.value()])
        batch = run.captures(stream, rows=[row])
        self.capture_view.show_outputs(_or_none(None if batch.physical is None else batch.physical[0]),
                                       _or_none(None if batch.twin is None else batch.twin[0]))
        self.capture_label.setText(
            f"step {int(batch.step[0])} (epoch {int(batch.epoch[0])}), sample "
            f"{int(batch.sample[0])}: capture {i + 1} of {len(self._capture_steps)}")

    # scalars
    def _draw_scalars(self) -> None:
        run = self.reader
        self.scalar_plots.clear()
        self.scalar_curves = {}
        if run is None:
            return
        tables = {"scalars": run.scalars(), "epochs": run.epochs()}
        first = plot = None
        for n, item in enumerate(self.scalar_list.selectedItems()):
            name = item.text()
            kind, column = split_plot_name(name)
            table = tables[kind]
            unit = run.unit(column, kind)
            label = name if unit in ("", "1") else f"{name} ({unit})"
            plot = fast_plot(self.scalar_plots.addPlot(row=n, col=0), y_label=label)
            keep = ~np.isnan(table[column])
            many = keep.sum() > 50
            curve = plot.plot(table["step"][keep], table[column][keep], pen=pen(PHYSICAL_COLOR),
                              symbol=None if many else "o", symbolSize=5,
                              symbolBrush=PHYSICAL_COLOR)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.scalar_curves[name] = curve
        if plot is not None:
            plot.setLabel("bottom", "step")  # one step axis for all, under the last plot

    def _update_scalars(self) -> None:
        """New rows of a live run into the curves drawn (the zoom stays as the user left it)."""
        run = self.reader
        assert run is not None
        known = {self.scalar_list.item(i).text() for i in range(self.scalar_list.count())}
        for name in plot_names(run):
            if name not in known:
                self.scalar_list.addItem(name)
        tables = {"scalars": run.scalars(), "epochs": run.epochs()}
        for name, curve in self.scalar_curves.items():
            kind, column = split_plot_name(name)
            table = tables[kind]
            keep = ~np.isnan(table[column])
            curve.setData(table["step"][keep], table[column][keep])

    # faults
    def _load_faults(self) -> None:
        faults = self.reader.faults() if self.reader is not None else []
        self.faults_table.setRowCount(len(faults))
        for i, f in enumerate(faults):
            when = time.strftime("%H:%M:%S", time.localtime(f.time))
            for j, text in enumerate((when, str(f.step), str(f.epoch), str(f.retry), f.instrument,
                                      f.command, f"{f.error_type}: {f.message}", f.outcome)):
                self.faults_table.setItem(i, j, QTableWidgetItem(text))
        self.tabs.setTabText(2, f"Faults ({len(faults)})")

    # station snapshot and settings
    def _load_tree(self) -> None:
        run = self.reader
        assert run is not None
        info = dict(run.info)
        self.tree.clear()
        cfg = info.pop("config", {}) or {}
        snapshot = info.pop("station_snapshot", {}) or {}
        for title, value in (("Station", snapshot), ("Settings", cfg),
                             ("Run", {k: v for k, v in info.items()
                                      if k not in ("station_file_text",)}),
                             ("Sessions", run.sessions)):
            top = QTreeWidgetItem(self.tree, [title])
            if value:
                fill_tree(top, value)
            top.setExpanded(title in ("Station", "Settings"))
        self.tree.resizeColumnToContents(0)

    def _show_plain_hdf5(self, path: Path) -> bool:
        """Any HDF5 file: its groups, datasets (shape, dtype) and attributes as a tree."""
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                self._clear_run()
                root = QTreeWidgetItem(self.tree, [path.name])

                def add(parent: QTreeWidgetItem, obj: Any) -> None:
                    for key, value in obj.attrs.items():
                        QTreeWidgetItem(parent, [f"@{key}", str(value)])
                    if isinstance(obj, h5py.Group):
                        for name, child in obj.items():
                            text = "" if isinstance(child, h5py.Group) else \
                                f"{child.shape} {child.dtype}"
                            add(QTreeWidgetItem(parent, [name, text]), child)

                add(root, h5)
                root.setExpanded(True)
        except OSError as exc:
            self.header.setText(f"{path}: cannot read ({exc})")
            return False
        for i in range(3):
            self.tabs.setTabEnabled(i, False)
        self.tabs.setCurrentWidget(self.tree)
        self.header.setText(f"<b>{path.name}</b>: an HDF5 file, not a hilt run file (read-only)")
        return True

    def _open_sweep(self, path: Path) -> bool:
        """A sweep file: its points drawn on the grid, its settings as a tree; one still being
        written is read again every second."""
        try:
            sweep = open_sweep(path)
        except RunFileError as exc:
            self._clear_run()
            self.header.setText(str(exc))
            return False
        self._clear_run()
        self.sweep_plot.buffer.load(sweep)
        self.sweep_plot.refresh()
        self.tree.clear()
        attrs = dict(sweep.attrs)
        snapshot = attrs.pop("station_snapshot", None)
        fill_tree(QTreeWidgetItem(self.tree, ["Sweep"]), {k: str(v) for k, v in attrs.items()})
        if snapshot:
            try:
                fill_tree(QTreeWidgetItem(self.tree, ["Station"]), json.loads(snapshot))
            except ValueError:
                pass
        for i in range(self.tabs.count()):
            self.tabs.setTabEnabled(i, self.tabs.widget(i) in (self.sweep_plot, self.tree))
        self.tabs.setCurrentWidget(self.sweep_plot)
        total = sweep.total
        reason = f" ({sweep.reason})" if sweep.reason else ""
        self.header.setText(f"<b>{path.name}</b>: sweep of {' x '.join(sweep.axes)}, {sweep.status}{reason}, "
                            f"{sweep.points_done} of {total} points")
        if sweep.status == "running":
            QTimer.singleShot(LIVE_REFRESH_MS, lambda: self.path == path and self._open_sweep(path))
        return True

    # -- live runs and "run again" -------------------------------------------------------------
    def _live_refresh(self) -> None:
        run = self.reader
        if run is None:
            return
        try:
            run.refresh()
            still_running = run.status == "running"
        except RunFileError as exc:
            self.header.setText(str(exc))
            self.live_timer.stop()
            return
        if not still_running:  # the writer closed it: read it as the finished file it is now
            self.open_run(self.path)
            return
        self._update_header()
        self._load_stream()
        self._update_scalars()
        self._load_faults()

    def _run_again(self) -> None:
        if self.reader is None or self.path is None:
            return
        settings = run_settings(self.reader.info, self.path)
        if settings is not None:
            self.run_again.emit(settings)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self._close_reader()
        super().closeEvent(event)
