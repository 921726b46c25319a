"""A sweep's live plot: a pyqtgraph window from a plain script, or a panel in the app.

From a script (the sweep runs on the main thread)::

    from hilt.gui.scan_plot import LiveScanPlot
    scan(station, Axis("synth.frequency", "12.5 GHz", "18.33 GHz", 59), read=["lockin.r"],
         observers=[LiveScanPlot()])

:class:`LiveScanPlot` is a :class:`hilt.loops.scan.ScanObserver`: each point goes into a
:class:`ScanBuffer` (a lock and a few array writes, safe from any thread), and the
:class:`ScanPlotWidget` redraws from a snapshot of it at most 30 times a second, only when
something changed. When the sweep runs on the UI thread (a script), the observer lets Qt draw
between points; in the app the sweep runs on a job's thread and the widget's own timer draws.
One panel per reading: a curve against the swept parameter (1-D), an image over the last two
swept parameters at the current setpoint of the outer ones (2-D and more).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from hilt.gui.plots import PHYSICAL_COLOR, fast_plot, pen

#: Readings drawn at most (a sweep may read more; the file has them all).
MAX_PANELS = 4


@dataclass
class ScanSnapshot:
    axes: list[tuple[str, np.ndarray, str]]
    readings: list[tuple[str, str]]
    data: dict[str, np.ndarray]
    index: tuple[int, ...] | None
    done: int
    total: int
    status: str


class ScanBuffer:
    """What the plot shows, filled by the sweep's thread, read by the UI thread.

    It is itself a :class:`~hilt.loops.scan.ScanObserver`: a sweep on a job's thread is given the
    buffer (never the widget), and the widget's timer draws it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.version = 0
        self._snap: ScanSnapshot | None = None

    def start(self, plan: Any) -> None:
        with self._lock:
            self._snap = ScanSnapshot(
                axes=[(a.name, np.asarray(a.values, dtype=float), a.unit) for a in plan.axes],
                readings=[(r.name, r.unit) for r in plan.readings],
                data={r.name: np.full(plan.shape, np.nan) for r in plan.readings},
                index=None, done=0, total=plan.total, status="running")
            self.version += 1

    def point(self, index: tuple[int, ...], setpoints: dict[str, float], values: dict[str, Any]) -> None:
        with self._lock:
            s = self._snap
            if s is None:
                return
            for name, _unit in s.readings:
                s.data[name][index] = float(np.asarray(values[name], dtype=float).reshape(-1)[0])
            s.index, s.done = index, s.done + 1
            self.version += 1

    def finish(self, result: Any) -> None:
        with self._lock:
            if self._snap is not None:
                self._snap.status = result.status
                self.version += 1

    def load(self, sweep: Any) -> None:
        """Show a sweep file as read (:class:`hilt.runfile.sweep_file.SweepFile`): the Runs tab."""
        with self._lock:
            data = {n: np.asarray(sweep.data[n], dtype=float).reshape(sweep.shape + (-1,))[..., 0].copy()
                    for n in sweep.readings}
            done = int(sweep.points_done)
            index = None
            if done:
                measured = np.argwhere(np.isfinite(data[sweep.readings[0]])) if sweep.readings else []
                index = tuple(int(i) for i in measured[-1]) if len(measured) else None
            self._snap = ScanSnapshot(
                axes=[(a, np.asarray(sweep.coords[a], dtype=float), sweep.units[a]) for a in sweep.axes],
                readings=[(n, sweep.units[n]) for n in sweep.readings], data=data, index=index,
                done=done, total=sweep.total, status=sweep.status)
            self.version += 1

    def snapshot(self) -> ScanSnapshot | None:
        with self._lock:
            s = self._snap
            if s is None:
                return None
            return ScanSnapshot(s.axes, s.readings, {k: v.copy() for k, v in s.data.items()}, s.index,
                                s.done, s.total, s.status)


class ScanPlotWidget(QWidget):
    """Draws a :class:`ScanBuffer`: one panel per reading, redrawn when the buffer changed."""

    def __init__(self, buffer: ScanBuffer | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buffer = buffer or ScanBuffer()
        self._drawn = -1
        self._layout_key: Any = None
        self.status = QLabel("no sweep yet")
        self.graphics = pg.GraphicsLayoutWidget()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.status)
        lay.addWidget(self.graphics, 1)
        self._items: dict[str, Any] = {}
        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def refresh(self) -> bool:
        """Redraw if the buffer changed since the last draw; True if it drew."""
        if self.buffer.version == self._drawn:
            return False
        self._drawn = self.buffer.version
        snap = self.buffer.snapshot()
        if snap is None:
            return False
        key = (tuple(a[0] for a in snap.axes), tuple(r[0] for r in snap.readings))
        if key != self._layout_key:
            self._build(snap)
            self._layout_key = key
        for name, _unit in snap.readings[:MAX_PANELS]:
            self._draw(snap, name)
        where = ""
        if snap.index is not None:
            where = ", ".join(f"{a[0]} = {a[1][i]:.6g} {a[2]}".rstrip() for a, i in zip(snap.axes, snap.index, strict=False))
        self.status.setText(f"{snap.status}: {snap.done} of {snap.total} points" + (f"  ({where})" if where else ""))
        return True

    def _build(self, snap: ScanSnapshot) -> None:
        self.graphics.clear()
        self._items.clear()
        xa = snap.axes[-1]
        for row, (name, unit) in enumerate(snap.readings[:MAX_PANELS]):
            plot = fast_plot(self.graphics.addPlot(row=row, col=0))
            label = f"{name} ({unit})" if unit else name
            if len(snap.axes) == 1:
                plot.setLabel("bottom", xa[0], units=xa[2] or None)
                plot.setLabel("left", label)
                curve = plot.plot(pen=pen(PHYSICAL_COLOR), symbol="o", symbolSize=4, symbolBrush=PHYSICAL_COLOR)
                self._items[name] = curve
            else:
                ya = snap.axes[-2]
                plot.setLabel("bottom", xa[0], units=xa[2] or None)
                plot.setLabel("left", ya[0], units=ya[2] or None)
                plot.setTitle(label, size="9pt")
                image = pg.ImageItem(axisOrder="row-major")
                image.setColorMap(pg.colormap.get("viridis"))
                plot.addItem(image)
                self._items[name] = image

    @staticmethod
    def _span(values: np.ndarray) -> tuple[float, float]:
        if len(values) == 1:
            return float(values[0]) - 0.5, 1.0
        step = (float(values[-1]) - float(values[0])) / (len(values) - 1)
        return float(values[0]) - step / 2, step * len(values)

    def _draw(self, snap: ScanSnapshot, name: str) -> None:
        data = snap.data[name]
        item = self._items[name]
        if len(snap.axes) == 1:
            measured = np.isfinite(data)
            item.setData(snap.axes[0][1][measured], data[measured])
            return
        outer = snap.index[:-2] if snap.index is not None else (0,) * (len(snap.axes) - 2)
        plane = data[tuple(outer)]
        if not np.isfinite(plane).any():
            return
        lo, hi = np.nanmin(plane), np.nanmax(plane)
        item.setImage(np.nan_to_num(plane, nan=lo), levels=(lo, hi if hi > lo else lo + 1e-30), autoLevels=False)
        x0, w = self._span(snap.axes[-1][1])
        y0, h = self._span(snap.axes[-2][1])
        item.setRect(QRectF(x0, y0, w, h))


class LiveScanPlot:
    """A live window for a sweep run from a script (a :class:`~hilt.loops.scan.ScanObserver`).

    ``hold``: at the end, keep the window open until the user closes it (a script that would
    otherwise exit at once). Without a display, pass ``QT_QPA_PLATFORM=offscreen`` or leave the
    plot out: the sweep's PNG is drawn either way.
    """

    def __init__(self, title: str = "hilt scan", *, hold: bool = False, max_fps: float = 30.0) -> None:
        self.title, self.hold = title, hold
        self._min_dt = 1.0 / max_fps
        self._last = 0.0
        self.app: Any = None
        self.widget: ScanPlotWidget | None = None

    def start(self, plan: Any) -> None:
        self.app = QApplication.instance() or QApplication([])
        self.widget = ScanPlotWidget()
        self.widget.setWindowTitle(f"{self.title}: {plan.path.name}")
        self.widget.resize(720, 260 + 200 * min(len(plan.readings), MAX_PANELS))
        self.widget.buffer.start(plan)
        self.widget.show()
        self._pump(force=True)

    def point(self, index: tuple[int, ...], setpoints: dict[str, float], values: dict[str, Any]) -> None:
        assert self.widget is not None
        self.widget.buffer.point(index, setpoints, values)
        self._pump()

    def finish(self, result: Any) -> None:
        assert self.widget is not None
        self.widget.buffer.finish(result)
        self._pump(force=True)
        if self.hold and self.widget.isVisible():
            self.app.exec()

    def _pump(self, force: bool = False) -> None:
        # Only the UI thread may draw; from a job's thread the widget's timer does it.
        if threading.current_thread() is not threading.main_thread():
            return
        now = time.monotonic()
        if force or now - self._last >= self._min_dt:
            self._last = now
            assert self.widget is not None
            self.widget.refresh()
            self.app.processEvents()
