"""The live plots' view: it keeps the data in view but moves in steps, not on every frame, and
leaves a plot alone once the user zoomed it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from hilt.gui.plots import GrowingView, nice_ceiling


def test_nice_ceiling() -> None:
    assert [nice_ceiling(v) for v in (0.3, 1, 1.5, 2, 3, 7, 10, 11, 480)] == [0.5, 1, 2, 2, 5, 10, 10, 20, 500]
    assert nice_ceiling(0) == nice_ceiling(float("nan")) == 1.0


def test_the_view_moves_in_steps_and_keeps_every_point_in_view(qtbot) -> None:  # noqa: ANN001
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    plot = widget.getPlotItem()
    view = GrowingView(plot)
    rng = np.random.default_rng(0)
    loss = 2.3 * np.exp(-np.arange(300) / 80) + 0.05 * rng.random(300)
    ranges = []
    for n in range(1, 301):
        view.show(np.arange(n, dtype=float), loss[:n])
        (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
        assert x0 <= 0 and x1 >= n - 1 and y0 <= loss[:n].min() and y1 >= loss[:n].max()
        ranges.append((view._x, view._y))
    changes = sum(a != b for a, b in zip(ranges[:-1], ranges[1:], strict=True))
    assert changes <= 20  # 300 frames: x at 2, 5, 10, 20, ... and y a few times, not 300 moves


def test_a_zoomed_plot_is_left_alone_until_auto_range(qtbot) -> None:  # noqa: ANN001
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    plot = widget.getPlotItem()
    view = GrowingView(plot)
    view.show(np.arange(10.0), np.arange(10.0))
    vb = plot.getViewBox()
    vb.scaleBy((0.5, 0.5))  # what a mouse wheel does
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
    zoomed = vb.viewRange()
    view.show(np.arange(100.0), np.arange(100.0))
    assert vb.viewRange() == zoomed
    plot.enableAutoRange()  # the plot's "A" button
    view.show(np.arange(100.0), np.arange(100.0))
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x1 >= 99 and y1 >= 99 and not any(vb.autoRangeEnabled())
