"""The Scan tab: a sweep from the form, by clicks, on a simulated bench; Stop puts it safe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from hilt.gui.scan_panel import ScanPanel, station_parameters
from hilt.runfile.sweep_file import open_sweep
from hilt.station import Station

BENCH = """\
name: panelbench
simulate: true
instruments:
  heater:
    driver: keithley_2400
    limits: {voltage: [0, 5]}
    sim: {load_ohm: 500}
"""


@pytest.fixture()
def bench(tmp_path: Path):
    path = tmp_path / "bench.yaml"
    path.write_text(BENCH)
    with Station.from_yaml(path) as st:
        yield st


def _panel(qtbot, bench: Station, tmp_path: Path) -> ScanPanel:
    panel = ScanPanel(lambda: bench)
    qtbot.addWidget(panel)
    panel.runs_edit.setText(str(tmp_path / "runs"))
    panel.settle.setText("0")
    return panel


def test_the_form_lists_what_can_be_swept_and_read(bench: Station) -> None:
    settable, readable = station_parameters(bench)
    assert "heater.voltage" in settable and "heater.voltage" in readable
    assert "heater.currents" in readable and "heater.currents" not in settable


def test_a_sweep_from_the_form(qtbot, bench: Station, tmp_path: Path) -> None:
    bench.heater.compliance.set(0.1)
    bench.heater.output.set(True)
    panel = _panel(qtbot, bench, tmp_path)
    panel.outer.param.setCurrentText("heater.voltage")
    qtbot.keyClicks(panel.outer.start, "0 V")
    qtbot.keyClicks(panel.outer.stop, "2 V")
    panel.outer.num.setValue(5)
    panel.set_reads(["heater.currents"])
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    assert panel.result.status == "completed" and panel.start_button.isEnabled()
    assert panel.status.text().startswith("Completed: 5 of 5 points")
    sweep = open_sweep(panel.result.path)
    np.testing.assert_allclose(sweep.data["heater.currents"][:, 0], np.linspace(0, 2, 5) / 500, rtol=0.02, atol=1e-5)
    x, y = panel.plot._items["heater.currents"].getData()
    np.testing.assert_allclose(y, sweep.data["heater.currents"][:, 0])


def test_stop_ends_between_points_and_puts_the_station_safe(qtbot, bench: Station, tmp_path: Path) -> None:
    bench.heater.output.set(True)
    panel = _panel(qtbot, bench, tmp_path)
    panel.outer.param.setCurrentText("heater.voltage")
    panel.outer.start.setText("0")
    panel.outer.stop.setText("1")
    panel.outer.num.setValue(100_000)
    panel.set_reads(["heater.voltage"])
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.plot.buffer.snapshot() is not None and panel.plot.buffer.snapshot().done >= 3,
                    timeout=60_000)
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    assert panel.result.status == "aborted" and 3 <= panel.result.points_done < 100_000
    assert "station safe" in panel.status.text()
    assert bench.heater.output.get() is False


def test_a_setpoint_out_of_range_is_refused_and_nothing_moves(qtbot, bench: Station, tmp_path: Path) -> None:
    bench.heater.voltage.set(1.0)
    panel = _panel(qtbot, bench, tmp_path)
    panel.outer.param.setCurrentText("heater.voltage")
    panel.outer.start.setText("0")
    panel.outer.stop.setText("9")
    panel.outer.num.setValue(3)
    panel.set_reads(["heater.voltage"])
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.status.text().startswith("Failed"), timeout=60_000)
    assert "outside the soft limits" in panel.status.text()
    assert bench.heater.voltage.get() == 1.0
