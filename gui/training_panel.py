"""The Training tab: train a classifier on the station's photonic chip and watch it live.

Pick a loop (in silico on the twin only, in situ / physics-aware training, zeroth-order SPSA,
dual adaptive training), a dataset and the settings, then Start. The training runs on its own
worker thread through :func:`hilt.loops.train_on_station`, exactly as ``hilt train`` does, and
writes its run file under the runs folder. Pause holds the loop before its next physical query;
Resume continues; Abort stops it at once and leaves the hardware in its safe state (heaters at
zero, light off).

The plots share their step axis: loss per batch, accuracy on the twin and on the hardware after
every epoch, physical queries (count and rate). Beside them, the latest batch's physical output
next to the twin's, and their difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from hilt.gui.jobs import Job
from hilt.gui.plots import (
    DIFF_COLOR,
    PHYSICAL_COLOR,
    TWIN_COLOR,
    GrowingView,
    OutputView,
    TrainingBuffer,
    TrainingSnapshot,
    fast_plot,
    format_seconds,
    pen,
)
from hilt.loops.station import LOOPS

#: The loops, as the form shows them (the key first, so typing it selects it).
LOOP_LABELS = {
    "insilico": "insilico (twin only, deployed at the end)",
    "insitu": "insitu (physics-aware: forward on the hardware)",
    "spsa": "spsa (zeroth order on the hardware)",
    "dat": "dat (dual adaptive training)",
}
DAT_MODES = ("internal", "output", "block")
#: The plots redraw at most this often (a few per second would do; 30 looks smooth).
REFRESH_HZ = 30


class TrainingPanel(QWidget):
    """The Training tab. ``get_station()`` returns the window's connected station, or None."""

    #: The run file's path, once a training has started.
    run_started = Signal(str)
    #: The run file's path, once the training has ended (completed, aborted or failed).
    run_ended = Signal(str)

    def __init__(self, get_station: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.get_station = get_station
        self.job: Job | None = None
        self.buffer = TrainingBuffer()
        self.run_path: Path | None = None
        self.result: Any = None
        self._drawn_version = -1
        self._build_form()
        self._build_plots()
        # The form on the left; on the right the run's curves above the current batch's outputs.
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plots)
        right.addWidget(self.outputs_box)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.form_widget)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 1000])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REFRESH_HZ))
        self.timer.timeout.connect(self._redraw)
        self._set_state("idle")

    # -- building ------------------------------------------------------------------------------
    def _build_form(self) -> None:
        self.form_widget = QWidget()
        form = QFormLayout()
        self.loop_box = QComboBox()
        for key in LOOPS:
            self.loop_box.addItem(LOOP_LABELS.get(key, key), key)
        self.loop_box.setCurrentIndex(self.loop_box.findData("dat"))
        self.dat_mode_box = QComboBox()
        for mode in DAT_MODES:
            self.dat_mode_box.addItem(mode, mode)
        self.dataset_edit = QLineEdit("digits")
        self.dataset_edit.setToolTip("digits (bundled), mnist:DIR or fashion:DIR (IDX files in DIR)")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 10_000)
        self.epochs_spin.setValue(3)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(1e-5, 10.0)
        self.lr_spin.setSingleStep(0.001)
        self.lr_spin.setValue(0.01)  # as hilt train
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1_000_000)
        self.batch_spin.setValue(32)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.runs_edit = QLineEdit("runs")
        browse = QPushButton("...")
        browse.setToolTip("Choose the folder the run files go to")
        browse.clicked.connect(self._browse_runs)
        runs_row = QHBoxLayout()
        runs_row.addWidget(self.runs_edit)
        runs_row.addWidget(browse)
        form.addRow("Loop", self.loop_box)
        form.addRow("DAT mode", self.dat_mode_box)
        form.addRow("Dataset", self.dataset_edit)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Runs folder", runs_row)
        self.loop_box.currentIndexChanged.connect(self._loop_changed)
        self._loop_changed()

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setToolTip("Stop now; the hardware is put in its safe state")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.abort_button.clicked.connect(self.abort)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.resume_button, self.abort_button):
            buttons.addWidget(b)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_label = QLabel("-")
        self.queries_label = QLabel("-")
        self.time_left_label = QLabel("-")
        info = QFormLayout()
        info.addRow("Progress", self.progress_label)
        info.addRow("Physical queries", self.queries_label)
        info.addRow("Time left", self.time_left_label)

        box = QVBoxLayout(self.form_widget)
        box.addLayout(form)
        box.addLayout(buttons)
        box.addLayout(info)
        box.addWidget(self.status_label)
        box.addStretch(1)

    def _build_plots(self) -> None:
        self.plots = pg.GraphicsLayoutWidget()
        self.loss_plot = fast_plot(self.plots.addPlot(row=0, col=0), y_label="loss")
        self.accuracy_plot = fast_plot(self.plots.addPlot(row=0, col=1), y_label="accuracy (%)")
        self.queries_plot = fast_plot(self.plots.addPlot(row=1, col=0), x_label="step",
                                      y_label="physical queries")
        self.rate_plot = fast_plot(self.plots.addPlot(row=1, col=1), x_label="step",
                                   y_label="queries / s")
        for p in (self.accuracy_plot, self.queries_plot, self.rate_plot):
            p.setXLink(self.loss_plot)  # one step axis: zoom one, all follow
        # The step axis and the y axes move in 1-2-5 steps, not on every frame (GrowingView).
        self.loss_view = GrowingView(self.loss_plot)
        self.queries_view = GrowingView(self.queries_plot, x=False)
        self.rate_view = GrowingView(self.rate_plot, x=False)
        self.accuracy_plot.addLegend(offset=(-10, 10))
        self.accuracy_plot.setYRange(0, 100)
        self.loss_curve = self.loss_plot.plot(pen=pen(PHYSICAL_COLOR))
        sym = dict(symbol="o", symbolSize=6)
        self.twin_accuracy_curve = self.accuracy_plot.plot(
            pen=pen(TWIN_COLOR), symbolBrush=TWIN_COLOR, name="twin", **sym)
        self.physical_accuracy_curve = self.accuracy_plot.plot(
            pen=pen(PHYSICAL_COLOR), symbolBrush=PHYSICAL_COLOR, name="physical", **sym)
        self.queries_curve = self.queries_plot.plot(pen=pen(PHYSICAL_COLOR))
        self.rate_curve = self.rate_plot.plot(pen=pen(DIFF_COLOR))

        self.outputs_box = QWidget()
        self.outputs_title = QLabel("Current batch: physical and twin outputs (sample 0)")
        self.outputs_view = OutputView(side_by_side=True)
        box = QVBoxLayout(self.outputs_box)
        box.addWidget(self.outputs_title)
        box.addWidget(self.outputs_view)

    # -- the form ------------------------------------------------------------------------------
    def _loop_changed(self) -> None:
        self.dat_mode_box.setEnabled(self.loop_box.currentData() == "dat")

    def _browse_runs(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", self.runs_edit.text())
        if folder:
            self.runs_edit.setText(folder)

    def settings(self) -> dict[str, Any]:
        """The form as the keys :meth:`apply_settings` takes."""
        return {"loop": self.loop_box.currentData(), "dat_mode": self.dat_mode_box.currentData(),
                "dataset": self.dataset_edit.text().strip(), "epochs": self.epochs_spin.value(),
                "lr": self.lr_spin.value(), "batch_size": self.batch_spin.value(),
                "seed": self.seed_spin.value(), "runs_dir": self.runs_edit.text().strip()}

    def apply_settings(self, settings: Mapping[str, Any]) -> None:
        """Fill the form (the Runs tab's "Run again with these settings"); keys left out keep
        their values: loop, dat_mode, dataset, epochs, lr, batch_size, seed, runs_dir."""
        if self.running:  # the form is the running job's: it changes when the job has ended
            self._set_status("A training is running: abort it or let it end, then run again.")
            return
        s = dict(settings)
        if "loop" in s and self.loop_box.findData(s["loop"]) >= 0:
            self.loop_box.setCurrentIndex(self.loop_box.findData(s["loop"]))
        if "dat_mode" in s and self.dat_mode_box.findData(s["dat_mode"]) >= 0:
            self.dat_mode_box.setCurrentIndex(self.dat_mode_box.findData(s["dat_mode"]))
        if s.get("dataset"):
            self.dataset_edit.setText(str(s["dataset"]))
        for key, spin in (("epochs", self.epochs_spin), ("batch_size", self.batch_spin),
                          ("seed", self.seed_spin)):
            if s.get(key) is not None:
                spin.setValue(int(s[key]))
        if s.get("lr") is not None:
            self.lr_spin.setValue(float(s["lr"]))
        if s.get("runs_dir"):
            self.runs_edit.setText(str(s["runs_dir"]))
        self._set_status("Settings filled in from a run: press Start to run again.")

    # -- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def start(self) -> None:
        """Start a training with the form's settings on the window's station."""
        if self.running:
            return
        station = self.get_station()
        if station is None:
            self._set_status("No station connected: open and connect one in the Station panel.")
            return
        from hilt.loops.station import new_run_path, train_on_station

        s = self.settings()
        runs_dir = Path(s["runs_dir"] or "runs")
        # Named here, on the UI thread (no instrument involved), so the tab can show it at once.
        self.run_path = new_run_path(station.name, s["loop"], runs_dir)
        run_path = self.run_path
        self.buffer = buffer = TrainingBuffer()
        self.result = None
        self._drawn_version = -1
        self._clear_plots()
        # The panel's own plots pull from the buffer; no signal per batch (see gui/jobs.py).
        overrides = {"batch_size": s["batch_size"]}

        def train(control: Any, report: Callable[[object], None]) -> Any:
            result = None
            try:
                result = train_on_station(
                    station, s["loop"], dataset=s["dataset"], epochs=s["epochs"], lr=s["lr"],
                    seed=s["seed"], dat_mode=s["dat_mode"], control=control,
                    progress=buffer.add, settings=overrides, run_path=run_path)
                return result
            finally:
                # An abort that came while the loop was past its last checkpoint (the final
                # evaluation) let the loop complete: the operator still asked for safe hardware.
                if control.aborted and not getattr(result, "aborted", False):
                    station.safe_state()

        self.job = Job(train, "training", self, exclusive=True)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.start()
        self.timer.start()
        self._set_state("running")
        self._set_status(f"Training ({s['loop']}) on {station.name}; run file {run_path}")
        self.run_started.emit(str(run_path))

    def pause(self) -> None:
        """Hold the loop before its next physical query."""
        if self.running:
            self.job.pause()
            self._set_state("paused")
            self._set_status("Paused: the loop waits before its next physical query.")

    def resume(self) -> None:
        if self.running:
            self.job.resume()
            self._set_state("running")
            self._set_status("Training resumed.")

    def abort(self) -> None:
        """Stop the training now; the hardware is put in its safe state by the worker."""
        if self.running:
            self.job.abort()  # an event set from this thread: heard at the loop's next checkpoint
            self._set_state("aborting")
            self._set_status("Aborting: putting the hardware in its safe state...")

    def _finished(self, result: Any) -> None:
        self.result = result
        if result is None:
            self._set_status(f"Aborted; hardware safe. Run file {self.run_path}")
        elif result.aborted:
            self._set_status(f"Aborted ({result.reason}); hardware safe. Run file "
                             f"{result.run_path}")
        else:
            self._set_status(
                f"Completed: accuracy {100 * result.accuracy:.1f} % on the hardware (twin "
                f"{100 * result.twin_accuracy:.1f} %), {result.physical_queries} physical "
                f"queries, {result.seconds:.1f} s. Run file {result.run_path}")
        self._end()

    def _failed(self, message: str) -> None:
        where = f" Run file {self.run_path}" if self.run_path and self.run_path.exists() else ""
        self._set_status(f"Failed: {message}.{where}")
        self._end()

    def _end(self) -> None:
        """The job is over (its status already shown): last draw, form back, run_ended."""
        self.timer.stop()
        self._redraw()
        self._set_state("idle")
        if self.run_path is not None:
            self.run_ended.emit(str(self.run_path))

    def _set_state(self, state: str) -> None:
        self.state = state
        busy = state != "idle"
        self.start_button.setEnabled(not busy)
        self.pause_button.setEnabled(state == "running")
        self.resume_button.setEnabled(state == "paused")
        self.abort_button.setEnabled(state in ("running", "paused"))
        for w in (self.loop_box, self.dataset_edit, self.epochs_spin, self.lr_spin,
                  self.batch_spin, self.seed_spin, self.runs_edit):
            w.setEnabled(not busy)
        self.dat_mode_box.setEnabled(not busy and self.loop_box.currentData() == "dat")

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)

    # -- drawing -------------------------------------------------------------------------------
    def _clear_plots(self) -> None:
        for c in (self.loss_curve, self.twin_accuracy_curve, self.physical_accuracy_curve,
                  self.queries_curve, self.rate_curve):
            c.setData([], [])
        for view in (self.loss_view, self.queries_view, self.rate_view):
            view.reset()
        self.outputs_view.show_outputs(None, None)
        for label in (self.progress_label, self.queries_label, self.time_left_label):
            label.setText("-")

    def _redraw(self) -> None:
        if self.buffer.version == self._drawn_version:
            return  # nothing new: no copy, no draw
        snap = self.buffer.snapshot()
        self._drawn_version = snap.version
        self.draw(snap)

    def draw(self, snap: TrainingSnapshot) -> None:
        """Draw one snapshot of the buffer (the timer calls this at most 30 times a second)."""
        s = snap.steps
        if len(s):
            self.loss_curve.setData(s[:, 0], s[:, 1])
            self.queries_curve.setData(s[:, 0], s[:, 2])
            rates = snap.query_rate()
            self.rate_curve.setData(s[:, 0], rates, connect="finite")
            self.loss_view.show(s[:, 0], s[:, 1], x_at_least=snap.batches)  # the first epoch
            self.queries_view.show(s[:, 0], s[:, 2])
            self.rate_view.show(s[:, 0], rates)
            rate = rates[-1] if len(s) > 1 else float("nan")
            rate_text = f" ({rate:,.0f} / s)" if np.isfinite(rate) else ""
            self.queries_label.setText(f"{int(s[-1, 2]):,}{rate_text}")
            self.progress_label.setText(
                f"epoch {snap.epoch + 1} of {snap.n_epochs}, batch {snap.batch + 1} of "
                f"{snap.batches} ({100 * snap.done_fraction:.0f} %)")
            self.time_left_label.setText(format_seconds(snap.seconds_left()))
        e = snap.epochs
        if len(e):
            self.twin_accuracy_curve.setData(e[:, 1], 100 * e[:, 2], connect="finite")
            phys = ~np.isnan(e[:, 3])
            self.physical_accuracy_curve.setData(e[phys, 1], 100 * e[phys, 3])
        if snap.outputs:
            phys, twin = snap.outputs.get("physical"), snap.outputs.get("twin")
            self.outputs_view.show_outputs(None if phys is None else phys[0],
                                           None if twin is None else twin[0])
            self.outputs_title.setText(f"Step {snap.outputs_step}: physical and twin outputs "
                                       "(first sample of the batch)")

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Abort a running training and wait for its thread (the window calls this on close);
        True once nothing runs."""
        if self.job is None:
            return True
        self.job.abort()
        ended = self.job.wait(timeout)
        self.timer.stop()
        return ended
