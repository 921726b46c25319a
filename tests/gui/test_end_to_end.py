"""One session at the bench, through the main window only, by clicks and typed input: open the
bundled simulated `mzi-lab` station and connect it; calibrate the heaters and accept the fit;
train on the calibrated chip, pause, resume, abort; find the heaters at 0 V and the light off;
the run file holds the captures; the finished run opens in the Runs tab."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_actions import blocked_in_pause, choose, click, open_channel, open_tab, points, type_into
from PySide6.QtCore import Qt

from hilt.gui.calibration_panel import CalibrationPanel
from hilt.gui.runs_panel import RunsPanel
from hilt.gui.training_panel import TrainingPanel
from hilt.runfile import open_run

TIMEOUT_MS = 60_000


def test_connect_calibrate_accept_train_pause_resume_abort_and_browse(
        qtbot, window, connect, heater_volts, tmp_path: Path) -> None:  # noqa: ANN001
    station = connect(window, "mzi-lab")
    cal_file = tmp_path / "cal" / "heaters.npz"

    # -- Calibration: the heater sweep, small, then Accept -------------------------------------
    calibration = open_tab(qtbot, window, "Calibration")
    assert isinstance(calibration, CalibrationPanel)
    choose(qtbot, calibration.routine_box, "mzi_heaters")
    assert calibration.routine == "mzi_heaters"
    type_into(qtbot, calibration.runs_edit, str(tmp_path / "runs"))
    type_into(qtbot, calibration.save_edit, str(cal_file))
    type_into(qtbot, calibration.fields["points"].widget, "8")
    click(qtbot, calibration.run_button)
    qtbot.waitUntil(lambda: calibration.state == "decide", timeout=TIMEOUT_MS)
    assert calibration.buffer.points_seen > 0 and calibration.point_curves
    click(qtbot, calibration.accept_button)
    assert cal_file.exists()
    assert station["heaters"].calibration_file == str(cal_file.resolve())
    np.testing.assert_array_equal(heater_volts(station), 0.0)

    # -- Training on the calibrated bench: start, pause, resume, abort --------------------------
    training = open_tab(qtbot, window, "Training")
    assert isinstance(training, TrainingPanel)
    choose(qtbot, training.loop_box, "insitu")
    assert training.loop_box.currentData() == "insitu"
    type_into(qtbot, training.epochs_spin, "2")
    type_into(qtbot, training.batch_spin, "16")
    type_into(qtbot, training.runs_edit, str(tmp_path / "runs"))
    click(qtbot, training.start_button)
    run_path = training.run_path
    assert run_path is not None and run_path.parent == tmp_path / "runs"
    qtbot.waitUntil(lambda: points(training.loss_curve) >= 2, timeout=TIMEOUT_MS)

    click(qtbot, training.pause_button)
    qtbot.waitUntil(lambda: blocked_in_pause(training), timeout=TIMEOUT_MS)
    held = training.buffer.version
    assert blocked_in_pause(training) and training.buffer.version == held  # nothing moves
    click(qtbot, training.resume_button)
    qtbot.waitUntil(lambda: training.buffer.version > held + 1, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(training.run_ended, timeout=TIMEOUT_MS):
        click(qtbot, training.abort_button)
    assert training.result is not None and training.result.aborted
    assert training.status_label.text().startswith("Aborted")

    # The hardware is safe: every mesh heater and input modulator at 0 V (as the simulated chip
    # sees them, not as the drivers remember them), the laser off.
    np.testing.assert_array_equal(heater_volts(station), 0.0)
    np.testing.assert_array_equal(np.asarray(station.world.get("modulators.voltages"), float), 0.0)
    assert station.world.get("laser.output") is False

    # The plots received the data; the run file holds a capture of every batch.
    steps = points(training.loss_curve)
    assert steps >= 3 and points(training.queries_curve) == steps
    assert training.outputs_view.shown["physical"].shape == (8,)
    with open_run(run_path) as run:
        assert run.status == "aborted" and run.reason == "aborted by the operator"
        caps = run.captures("batches")
        assert len(caps.step) >= steps and np.isfinite(caps.physical).all()
        assert caps.physical.shape[1:] == (8,)

    # -- Runs: the window opened the finished run; scrub to its first capture -------------------
    runs = open_tab(qtbot, window, "Runs")
    assert isinstance(runs, RunsPanel)
    assert runs.path == run_path and "aborted by the operator" in runs.header.text()
    runs.capture_slider.setFocus()
    qtbot.keyClick(runs.capture_slider, Qt.Key.Key_Home)
    assert runs.capture_label.text().startswith("step 0 (epoch 0)")
    np.testing.assert_allclose(runs.capture_view.shown["physical"], caps.physical[0])


def test_a_training_holds_hand_control_and_safe_state_stops_it(qtbot, window, connect, heater_volts,
                                                               tmp_path: Path) -> None:  # noqa: ANN001
    station = connect(window, "mzi-lab")
    dock = window.station_panel
    open_channel(qtbot, dock, "heaters.ch3")
    knob = dock.control("heaters.ch3.voltage")
    assert knob.isEnabled() and dock._poller is not None

    training = open_tab(qtbot, window, "Training")
    choose(qtbot, training.loop_box, "insitu")
    type_into(qtbot, training.epochs_spin, "5")
    type_into(qtbot, training.runs_edit, str(tmp_path / "runs"))
    click(qtbot, training.start_button)
    # While it trains, nothing else talks to the instruments: no live readings, no knobs, no
    # disconnect; the safe-state button stays.
    qtbot.waitUntil(lambda: dock.held_by == "training", timeout=5000)
    assert dock._poller is None and not knob.isEnabled()
    assert not dock.disconnect_button.isEnabled() and dock.safe_button.isEnabled()
    assert "training is driving the station" in dock.status.text()
    qtbot.waitUntil(lambda: points(training.loss_curve) >= 1, timeout=TIMEOUT_MS)

    # Safe state in the middle of it stops the training and leaves every heater at 0 V.
    with qtbot.waitSignal(training.run_ended, timeout=TIMEOUT_MS):
        click(qtbot, dock.safe_button)
    assert training.result is not None and training.result.aborted
    qtbot.waitUntil(lambda: dock.held_by is None, timeout=5000)
    np.testing.assert_array_equal(heater_volts(station), 0.0)
    assert station.world.get("laser.output") is False
    # Hand control is back.
    assert knob.isEnabled() and dock.disconnect_button.isEnabled()
    qtbot.waitUntil(lambda: dock._poller is not None, timeout=5000)
