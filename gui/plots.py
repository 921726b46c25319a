"""Plot helpers shared by the Training and Runs tabs: a ring buffer that a training job fills
from its worker thread, and the views that draw a batch's physical and twin outputs.

The live plots never wait for the hardware or read the run file: the worker writes each
progress report into a :class:`TrainingBuffer` (a lock and a few array writes), and the UI
takes a :meth:`TrainingBuffer.snapshot` about 30 times a second, only when something changed.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

#: Colours: the hardware, the twin, and their difference (same in every tab).
PHYSICAL_COLOR = (31, 119, 180)
TWIN_COLOR = (255, 127, 14)
DIFF_COLOR = (214, 39, 40)


def fast_plot(plot: pg.PlotItem, *, x_label: str = "", y_label: str = "") -> pg.PlotItem:
    """pyqtgraph's settings for plots that grow while you watch: peak downsampling (a million
    points draw as fast as a thousand), only what is in view is drawn, a grid, labels, and axes
    kept as pixmaps (an axis is a Python-painted item: redrawn on every frame it cost the UI
    thread more than the curves; cached, it is redrawn only when its range changes)."""
    plot.setDownsampling(auto=True, mode="peak")
    plot.setClipToView(True)
    plot.showGrid(x=True, y=True, alpha=0.2)
    for side in ("left", "bottom"):
        plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    if x_label:
        plot.setLabel("bottom", x_label)
    if y_label:
        plot.setLabel("left", y_label)
    return plot


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is at least ``value`` (> 0)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    base = 10.0 ** math.floor(math.log10(value))
    return next(m * base for m in (1.0, 2.0, 5.0, 10.0) if m * base >= value * (1 - 1e-12))


class GrowingView:
    """Keep a live plot's data in view without moving its axes on every frame.

    pyqtgraph's auto-range follows the data exactly, so a plot that gains a point a frame gets a
    new range, new ticks and a redrawn axis a frame. Here the range moves in steps: the x range
    from 0 to the next 1-2-5 number above the last x, the y range to 1-2-5 multiples around the
    data, and only when the data leaves it. Once the user zooms or pans the plot is theirs; the
    plot's "A" button (auto-range) hands it back.
    """

    def __init__(self, plot: pg.PlotItem, *, x: bool = True, y: bool = True) -> None:
        self.plot, self.x, self.y = plot, x, y
        self.following = True
        self._x: tuple[float, float] | None = None
        self._y: tuple[float, float] | None = None
        vb = plot.getViewBox()
        vb.sigRangeChangedManually.connect(self._user_moved)
        self._own_axes()

    def _own_axes(self) -> None:
        """Switch off pyqtgraph's auto-range on the axes this view moves (and only those: a
        plot whose x is linked to another keeps following it)."""
        vb = self.plot.getViewBox()
        if self.x:
            vb.enableAutoRange(axis=pg.ViewBox.XAxis, enable=False)
        if self.y:
            vb.enableAutoRange(axis=pg.ViewBox.YAxis, enable=False)

    def _user_moved(self, *_: object) -> None:
        self.following = False

    def reset(self) -> None:
        self._x = self._y = None
        self.following = True

    def show(self, x: np.ndarray, y: np.ndarray | None = None, *, x_at_least: float = 0.0) -> None:
        """Fit the view to these data, moving it only when they leave it. ``x_at_least``: the
        x range reaches at least this far (a training's first epoch: known from the start, so
        the step axis does not move while it runs)."""
        vb = self.plot.getViewBox()
        auto_x, auto_y = vb.autoRangeEnabled()
        if (self.x and auto_x) or (self.y and auto_y):  # the user pressed "A": follow again
            self.reset()
            self._own_axes()
        if not self.following or len(x) == 0:
            return
        if self.x:
            hi = nice_ceiling(max(float(np.nanmax(x)) + 1.0, x_at_least))
            if self._x != (0.0, hi):
                self._x = (0.0, hi)
                self.plot.setXRange(0.0, hi, padding=0.02)
        if self.y and y is not None:
            finite = y[np.isfinite(y)]
            if finite.size == 0:
                return
            lo, hi = float(finite.min()), float(finite.max())
            # A few points barely apart would get a range as narrow as they are, and a new one
            # a frame later: the range spans at least a fifth of the values' size.
            span = max(hi - lo, 0.2 * max(abs(lo), abs(hi)))
            if self._y is not None:
                shown = self._y[1] - self._y[0]
                inside = self._y[0] <= lo and hi <= self._y[1]
                if inside and span >= 0.25 * shown:
                    return  # still in view and not lost in it
            step = nice_ceiling(span / 5.0) if span > 0 else 1.0
            self._y = (math.floor(lo / step) * step, math.ceil(hi / step) * step)
            if self._y[0] == self._y[1]:
                self._y = (self._y[0] - step, self._y[1] + step)
            self.plot.setYRange(*self._y, padding=0.02)


def pen(color: tuple[int, int, int]) -> Any:
    """A one-pixel pen: wider pens are much slower to draw."""
    return pg.mkPen(color=color, width=1)


class Ring:
    """The last ``capacity`` rows of a table of floats (older rows are dropped)."""

    def __init__(self, capacity: int, columns: int) -> None:
        self._data = np.full((capacity, columns), np.nan)
        self._n = 0  # rows ever written

    def __len__(self) -> int:
        return min(self._n, len(self._data))

    def append(self, row: tuple[float, ...]) -> None:
        self._data[self._n % len(self._data)] = row
        self._n += 1

    def array(self) -> np.ndarray:
        """A copy of the rows kept, oldest first."""
        cap = len(self._data)
        if self._n <= cap:
            return self._data[: self._n].copy()
        i = self._n % cap
        return np.concatenate([self._data[i:], self._data[:i]])


@dataclass(frozen=True)
class TrainingSnapshot:
    """What the live plots draw, copied out of the buffer at one moment."""

    version: int
    #: One row per batch: step, loss, physical queries so far, seconds since the start.
    steps: np.ndarray
    #: One row per finished epoch: epoch, step, twin accuracy, physical accuracy, mean loss.
    epochs: np.ndarray
    #: The latest batch's outputs (``physical``, ``twin``: rows x outputs), and its step.
    outputs: dict[str, np.ndarray]
    outputs_step: int
    #: The latest report: method, epoch, epochs, batch, batches, step, elapsed.
    method: str = ""
    epoch: int = 0
    n_epochs: int = 0
    batch: int = 0
    batches: int = 0
    elapsed_s: float = 0.0
    start_step: int = 0  # the first step of this session (a resumed run starts later)

    @property
    def done_fraction(self) -> float:
        total = self.n_epochs * self.batches
        if total <= 0 or not len(self.steps):
            return 0.0
        return min(1.0, (self.epoch * self.batches + self.batch + 1) / total)

    def seconds_left(self) -> float | None:
        """The time left at the pace so far (None before the first batch)."""
        total = self.n_epochs * self.batches
        done = self.epoch * self.batches + self.batch + 1
        this_session = len(self.steps) and (self.steps[-1, 0] - self.start_step + 1)
        if total <= 0 or not this_session or self.elapsed_s <= 0:
            return None
        return max(0.0, (total - done) * self.elapsed_s / this_session)

    def query_rate(self, window: int = 10) -> np.ndarray:
        """Physical queries per second, per step, over the last ``window`` steps."""
        s = self.steps
        if len(s) < 2:
            return np.zeros(len(s))
        w = min(window, len(s) - 1)
        dq = s[w:, 2] - s[:-w, 2]
        dt = s[w:, 3] - s[:-w, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(dt > 0, dq / dt, np.nan)
        return np.concatenate([np.full(w, np.nan), rate])


class TrainingBuffer:
    """Thread-safe in-memory record of a training run for the live plots.

    The worker calls :meth:`add` with each :class:`hilt.loops.Progress` (it only copies a few
    numbers and the batch outputs: it never slows the loop); the UI calls :meth:`snapshot`.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._steps = Ring(capacity, 4)
        self._epochs: list[tuple[float, ...]] = []
        self._outputs: dict[str, np.ndarray] = {}
        self._outputs_step = -1
        self._last: Any = None
        self._start_step: int | None = None
        self.version = 0  # bumped by every add(); a UI with the same version has nothing to draw

    def add(self, progress: Any) -> None:
        """Record one progress report (called on the worker thread)."""
        outputs = getattr(progress, "outputs", None)
        copied = {k: np.array(v, dtype=np.float64) for k, v in outputs.items()} if outputs else None
        with self._lock:
            self._last = progress
            if progress.end_of_epoch:
                m = progress.metrics
                self._epochs.append((progress.epoch, progress.step,
                                     m.get("twin_accuracy", np.nan),
                                     m.get("test_accuracy", np.nan), m.get("loss", np.nan)))
            else:
                if self._start_step is None:
                    self._start_step = int(progress.step)
                self._steps.append((progress.step, progress.loss, progress.physical_queries,
                                    progress.elapsed_s))
                if copied:
                    self._outputs, self._outputs_step = copied, int(progress.step)
            self.version += 1

    def snapshot(self) -> TrainingSnapshot:
        with self._lock:
            p = self._last
            epochs = np.array(self._epochs, dtype=float).reshape(-1, 5)
            common = dict(version=self.version, steps=self._steps.array(), epochs=epochs,
                          outputs=dict(self._outputs), outputs_step=self._outputs_step,
                          start_step=self._start_step or 0)
        if p is None:
            return TrainingSnapshot(**common)
        return TrainingSnapshot(**common, method=p.method, epoch=p.epoch, n_epochs=p.epochs,
                                batch=p.batch, batches=p.batches, elapsed_s=p.elapsed_s)


def format_seconds(seconds: float | None) -> str:
    """``1 h 02 min``, ``3 min 20 s``, ``12 s``; a dash when unknown."""
    if seconds is None or not np.isfinite(seconds):
        return "-"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


class OutputView(QWidget):
    """One sample's outputs: the hardware's beside the twin's, and their difference.

    Port outputs (one number per port) are drawn as bars; 2-D outputs (a camera frame, a
    detector plane) as three images with the same fixed levels, so the physical and the twin
    frame compare by eye.
    """

    def __init__(self, parent: QWidget | None = None, *, side_by_side: bool = False) -> None:
        super().__init__(parent)
        #: The difference plot beside the outputs (a wide, low place) rather than below them.
        self.side_by_side = side_by_side
        self.graphics = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self._mode = ""
        #: What is drawn now (``physical``, ``twin``, ``difference``): arrays, or None if absent.
        self.shown: dict[str, np.ndarray | None] = {}
        self._build_bars()

    def _clear(self) -> None:
        self.graphics.clear()
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.images: dict[str, pg.ImageItem] = {}

    def _build_bars(self) -> None:
        self._clear()
        self._mode = "bars"
        self.outputs_plot = fast_plot(self.graphics.addPlot(row=0, col=0), y_label="output")
        self.outputs_plot.addLegend(offset=(-10, 10))
        row, col = (0, 1) if self.side_by_side else (1, 0)
        self.diff_plot = fast_plot(self.graphics.addPlot(row=row, col=col), x_label="port",
                                   y_label="physical - twin")
        if self.side_by_side:
            self.outputs_plot.setLabel("bottom", "port")
        self.diff_plot.setXLink(self.outputs_plot)
        self.outputs_range = GrowingView(self.outputs_plot, x=False)
        self.diff_range = GrowingView(self.diff_plot, x=False)
        for name, color, plot, dx in (("physical", PHYSICAL_COLOR, self.outputs_plot, -0.2),
                                      ("twin", TWIN_COLOR, self.outputs_plot, 0.2),
                                      ("difference", DIFF_COLOR, self.diff_plot, 0.0)):
            item = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.4 if dx else 0.6,
                                   brush=pg.mkBrush(color), pen=pen(color), name=name)
            item._dx = dx  # where this series sits beside its port
            plot.addItem(item)
            self.bars[name] = item

    def _build_images(self) -> None:
        self._clear()
        self._mode = "images"
        for col, name in enumerate(("physical", "twin", "difference")):
            view = self.graphics.addViewBox(row=0, col=col, lockAspect=True)
            item = pg.ImageItem(axisOrder="row-major")
            view.addItem(item)
            self.images[name] = item

    def show_outputs(self, physical: np.ndarray | None, twin: np.ndarray | None) -> None:
        """Draw one sample: ``physical`` and ``twin`` of the same shape (either may be None)."""
        ref = physical if physical is not None else twin
        diff = physical - twin if physical is not None and twin is not None else None
        self.shown = {"physical": physical, "twin": twin, "difference": diff}
        if ref is None:
            for item in self.bars.values():
                item.setOpts(x=np.zeros(0), height=np.zeros(0))
            return
        if np.ndim(ref) >= 2:
            if self._mode != "images":
                self._build_images()
            frames = [a for a in (physical, twin) if a is not None]
            lo = float(min(np.nanmin(a) for a in frames))
            hi = float(max(np.nanmax(a) for a in frames))
            for name, arr in self.shown.items():
                if arr is None:
                    self.images[name].clear()
                    continue
                if name == "difference":
                    span = float(np.nanmax(np.abs(arr))) or 1.0
                    levels = (-span, span)
                else:
                    levels = (lo, hi if hi > lo else lo + 1.0)
                self.images[name].setImage(np.asarray(arr, dtype=float), autoLevels=False,
                                           levels=levels)
            return
        if self._mode != "bars":
            self._build_bars()
        ports = np.arange(len(ref), dtype=float)
        for name, item in self.bars.items():
            arr = self.shown[name]
            if arr is None:
                item.setOpts(x=np.zeros(0), height=np.zeros(0))
            else:
                item.setOpts(x=ports + item._dx, height=np.asarray(arr, dtype=float))
        # Bars stand on zero: zero stays in view.
        heights = [np.asarray(a, float).ravel() for a in (physical, twin) if a is not None]
        self.outputs_range.show(ports, np.concatenate([*heights, [0.0]]))
        if diff is not None:
            self.diff_range.show(ports, np.append(np.asarray(diff, float).ravel(), 0.0))
