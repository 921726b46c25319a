"""The Calibration tab, driven by clicks and typed input on the bundled simulated `mzi-lab` bench:
a heater calibration runs with a small form, the plot receives the sweep and the fit, Accept
saves a calibration file the station then uses, Run again repeats the same settings, Reject
keeps the station's calibration, Abort leaves the heaters at 0 V."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_actions import click, type_into
from gui_actions import open_tab as open_calibration
from PySide6.QtCore import Qt

from hilt.gui.calibration_panel import CalibrationPanel
from hilt.instruments.heater_calibration import load_heater_calibration
from hilt.runfile import open_run

RUN_TIMEOUT_MS = 30_000


def open_tab(qtbot, window) -> CalibrationPanel:  # noqa: ANN001
    panel = open_calibration(qtbot, window, "Calibration")
    assert isinstance(panel, CalibrationPanel)
    return panel


def choose_heaters(qtbot, panel: CalibrationPanel, tmp_path: Path, points: str, phi: bool) -> None:  # noqa: ANN001
    panel.routine_box.setFocus()
    qtbot.keyClicks(panel.routine_box, "mzi_heaters")  # the combo box's keyboard search
    assert panel.routine == "mzi_heaters"
    type_into(qtbot, panel.runs_edit, str(tmp_path / "runs"))
    type_into(qtbot, panel.save_edit, str(tmp_path / "cal" / "heaters.npz"))
    type_into(qtbot, panel.fields["points"].widget, points)
    phi_box = panel.fields["phi"].widget
    if phi_box.isChecked() != phi:
        phi_box.setFocus()
        qtbot.keyClick(phi_box, Qt.Key.Key_Space)
    assert phi_box.isChecked() == phi


def test_heater_calibration_runs_plots_and_is_accepted(qtbot, window, connect, heater_volts, tmp_path):  # noqa: ANN001
    station = connect(window, "mzi-lab")
    panel = open_tab(qtbot, window)
    # The form comes from the routine's options, its instruments pre-filled from the station's roles.
    qtbot.keyClicks(panel.routine_box, "mzi_heaters")
    assert panel.fields["heaters"].widget.currentData() == "heaters"
    assert panel.fields["meter"].widget.currentData() == "pm"
    assert panel.fields["laser"].widget.currentData() == "laser"
    assert panel.fields["points"].widget.value() == 64
    choose_heaters(qtbot, panel, tmp_path, "8", phi=False)
    assert not panel.accept_button.isEnabled()

    click(qtbot, panel.run_button)
    qtbot.waitUntil(lambda: panel.state == "decide", timeout=RUN_TIMEOUT_MS)

    # The plot received the sweep (one scatter per meter port) and the fit over it.
    assert panel.buffer.points_seen == 28 * 8  # every MZI, lit through the station's switch; 8 points each
    assert len(panel.point_curves) == 8
    x, y = panel.point_curves[0].getData()
    assert len(x) == 8 and np.all(np.isfinite(y))
    fx, fy = panel.fit_curves[0].getData()
    assert fx is not None and len(fx) > len(x)
    # The result: fit quality, before and after; the routine left the heaters at 0 V.
    text = panel.result_text.toPlainText()
    assert "completed" in text and "r2_min" in text and "before" in text and "after" in text
    assert panel.result.after and next(iter(panel.result.after.values())) < next(iter(panel.result.before.values()))
    np.testing.assert_array_equal(heater_volts(station), 0.0)

    click(qtbot, panel.accept_button)
    saved = (tmp_path / "cal" / "heaters.npz").resolve()
    assert saved.exists()
    cal = load_heater_calibration(saved)
    assert cal.calibrated.sum() == 28  # every theta heater (phi off)
    np.testing.assert_allclose(cal.phi0, panel.result.table["phi0"])
    assert station["heaters"].calibration_file == str(saved)  # the connected station uses it now
    assert "Accepted" in panel.status_label.text()
    assert not panel.accept_button.isEnabled()

    # Run again with the same settings (the form changed meanwhile), then Reject.
    type_into(qtbot, panel.fields["points"].widget, "12")
    first_run = panel.result.run_file
    before = saved.read_bytes()
    click(qtbot, panel.again_button)
    qtbot.waitUntil(lambda: panel.state == "decide", timeout=RUN_TIMEOUT_MS)
    assert panel.fields["points"].widget.value() == 8
    assert panel.buffer.points_seen == 28 * 8
    assert panel.result.run_file != first_run
    click(qtbot, panel.reject_button)
    assert saved.read_bytes() == before  # the station's calibration is unchanged
    assert "Rejected" in panel.status_label.text()
    np.testing.assert_array_equal(heater_volts(station), 0.0)


def test_abort_stops_the_sweep_and_leaves_the_heaters_at_zero(qtbot, window, connect, heater_volts, tmp_path):  # noqa: ANN001
    station = connect(window, "mzi-lab")
    panel = open_tab(qtbot, window)
    choose_heaters(qtbot, panel, tmp_path, "64", phi=True)
    click(qtbot, panel.run_button)
    qtbot.waitUntil(lambda: panel.buffer.points_seen > 20, timeout=RUN_TIMEOUT_MS)
    click(qtbot, panel.abort_button)
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=RUN_TIMEOUT_MS)
    assert panel.result.status == "aborted"
    assert "Aborted" in panel.status_label.text()
    assert not panel.accept_button.isEnabled()
    np.testing.assert_array_equal(heater_volts(station), 0.0)
    with open_run(panel.result.run_file) as run:
        assert run.status == "aborted"


def test_a_thz_source_sweep_draws_against_frequency_with_its_fit(qtbot, window, connect, tmp_path):  # noqa: ANN001
    connect(window, "thz-lab")
    panel = open_tab(qtbot, window)
    panel.routine_box.setFocus()
    qtbot.keyClicks(panel.routine_box, "thz_source_power")
    assert panel.routine == "thz_source_power"
    type_into(qtbot, panel.runs_edit, str(tmp_path / "runs"))
    type_into(qtbot, panel.fields["points"].widget, "6")
    click(qtbot, panel.run_button)
    qtbot.waitUntil(lambda: panel.state == "decide", timeout=RUN_TIMEOUT_MS)
    # The sweep named its axes: power against frequency, not volts; the fitted curve over it.
    assert panel.plot.getAxis("bottom").labelText == "frequency (GHz)"
    assert panel.plot.getAxis("left").labelText == "power at the head (dBm)"
    assert panel.plot.titleLabel.text == "THz source power"
    x, y = panel.point_curves[0].getData()
    assert len(x) == panel.buffer.points_seen >= 5 and np.all((x > 70) & (x < 115))
    fx, fy = panel.fit_curves[0].getData()
    assert len(fx) == 200 and np.all(np.isfinite(fy))
