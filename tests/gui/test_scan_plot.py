"""The sweep's live plot: drawn from a script's sweep on the UI thread, and from a job's thread
through its buffer; what it shows is what the file holds."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from hilt.gui.scan_plot import LiveScanPlot, ScanPlotWidget
from hilt.loops.scan import Axis, scan
from hilt.runfile.sweep_file import open_sweep
from hilt.station import Station

BENCH = """\
name: plotbench
simulate: true
instruments:
  heater:
    driver: keithley_2400
    limits: {voltage: [0, 5]}
  synth:
    driver: keysight_e8257d
"""


@pytest.fixture()
def bench(tmp_path: Path):
    path = tmp_path / "bench.yaml"
    path.write_text(BENCH)
    with Station.from_yaml(path) as st:
        yield st


def test_a_script_sweep_draws_what_it_writes(qtbot, bench: Station, tmp_path: Path) -> None:
    live = LiveScanPlot()
    result = scan(bench, Axis("heater.voltage", 0, 2, 6), read=["heater.voltage"], settle=0,
                  path=tmp_path / "a.h5", progress=False, figure=False, observers=[live])
    qtbot.addWidget(live.widget)
    curve = live.widget._items["heater.voltage (read back)"]
    x, y = curve.getData()
    sweep = open_sweep(result.path)
    np.testing.assert_allclose(x, sweep.coords["heater.voltage"])
    np.testing.assert_allclose(y, sweep.data["heater.voltage (read back)"])
    assert live.widget.status.text().startswith("completed: 6 of 6 points")


def test_a_sweep_on_another_thread_draws_through_the_timer(qtbot, bench: Station, tmp_path: Path) -> None:
    widget = ScanPlotWidget()
    qtbot.addWidget(widget)

    done = threading.Event()
    out = tmp_path / "b.h5"

    def work() -> None:
        try:
            scan(bench, Axis("synth.power", -5, -1, 3), Axis("synth.frequency", 1e9, 3e9, 4),
                 read=["synth.power", "synth.frequency"], settle=0, path=out, progress=False, figure=False,
                 observers=[widget.buffer])  # what the app's scan job does: the buffer, never the widget
        finally:
            done.set()

    t = threading.Thread(target=work)
    t.start()
    qtbot.waitUntil(done.is_set, timeout=60_000)
    t.join()
    qtbot.waitUntil(lambda: widget.status.text().startswith("completed: 12 of 12"), timeout=10_000)
    image = widget._items["synth.power (read back)"]
    np.testing.assert_allclose(image.image, open_sweep(out).data["synth.power (read back)"])


def test_the_runs_tab_lists_and_draws_a_sweep_file(qtbot, bench: Station, tmp_path: Path) -> None:
    from hilt.gui.runs_panel import RunsPanel, list_runs

    out = tmp_path / "runs" / "grid.h5"
    scan(bench, Axis("synth.power", -5, -1, 3), Axis("synth.frequency", 1e9, 3e9, 4),
         read=["synth.power"], settle=0, path=out, progress=False, figure=False)
    [row] = list_runs(out.parent)
    assert (row.status, row.steps) == ("completed", "12/12 pts")
    panel = RunsPanel()
    qtbot.addWidget(panel)
    assert panel.open_run(out)
    assert panel.tabs.currentWidget() is panel.sweep_plot
    image = panel.sweep_plot._items["synth.power (read back)"]
    np.testing.assert_allclose(image.image, open_sweep(out).data["synth.power (read back)"])
    assert "sweep of synth.power x synth.frequency, completed" in panel.header.text()
