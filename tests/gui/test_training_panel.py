"""The Training tab, driven by clicks and typed input on a small simulated chip (16 ports, 2
layers): a training starts, pauses, resumes and aborts; the plots receive the data; the run file
holds the captures; the chip is left safe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from gui_actions import blocked_in_pause, points, type_into
from PySide6.QtCore import Qt

from hilt.gui.runs_panel import RunsPanel
from hilt.gui.training_panel import TrainingPanel
from hilt.runfile import open_run
from hilt.station import Station

torch.set_num_threads(1)

STATION = """\
name: gui-chip
simulate: true
world: {seed: 5, errors: dat-0.10}
instruments:
  chip:
    driver: photonic_processor
    sim: {n: 16, layers: 2}
roles: {processor: chip}
"""


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    path = tmp_path / "gui-chip.yaml"
    path.write_text(STATION)
    with Station.from_yaml(path) as st:
        yield st


@pytest.fixture
def panel(qtbot, station: Station) -> Iterator[TrainingPanel]:  # noqa: ANN001
    widget = TrainingPanel(lambda: station)
    qtbot.addWidget(widget)
    widget.resize(1400, 800)
    widget.show()
    yield widget
    assert widget.shutdown(30)  # no worker may outlive the station


def fill_form(qtbot, panel: TrainingPanel, loop: str, epochs: int, batch: int,  # noqa: ANN001
              runs: Path) -> None:
    panel.loop_box.setFocus()
    qtbot.keyClicks(panel.loop_box, loop)  # the combo box's keyboard search
    assert panel.loop_box.currentData() == loop
    type_into(qtbot, panel.epochs_spin, str(epochs))
    type_into(qtbot, panel.batch_spin, str(batch))
    type_into(qtbot, panel.seed_spin, "3")
    type_into(qtbot, panel.runs_edit, str(runs))
    assert panel.settings() == {"loop": loop, "dat_mode": "internal", "dataset": "digits",
                                "epochs": epochs, "lr": 0.01, "batch_size": batch, "seed": 3,
                                "runs_dir": str(runs)}


def test_start_pause_resume_abort_leaves_the_chip_safe(qtbot, panel: TrainingPanel,  # noqa: ANN001
                                                       station: Station, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    fill_form(qtbot, panel, "insitu", epochs=1, batch=16, runs=runs)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.run_path is not None and panel.run_path.parent == runs
    assert not panel.start_button.isEnabled() and panel.abort_button.isEnabled()

    # The plots fill from the buffer the worker writes (the timer redraws them).
    qtbot.waitUntil(lambda: points(panel.loss_curve) >= 2, timeout=20_000)
    qtbot.waitUntil(lambda: panel.outputs_view.shown.get("twin") is not None, timeout=10_000)

    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.resume_button.isEnabled() and not panel.pause_button.isEnabled()
    qtbot.waitUntil(lambda: blocked_in_pause(panel), timeout=10_000)
    held = panel.buffer.version
    assert blocked_in_pause(panel) and panel.buffer.version == held  # nothing moves while paused

    qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.buffer.version > held + 1, timeout=10_000)

    with qtbot.waitSignal(panel.run_ended, timeout=20_000) as ended:
        qtbot.mouseClick(panel.abort_button, Qt.MouseButton.LeftButton)
    assert ended.args == [str(panel.run_path)]
    assert panel.start_button.isEnabled() and not panel.abort_button.isEnabled()
    assert panel.result is not None and panel.result.aborted
    assert panel.status_label.text().startswith("Aborted")

    # The chip is safe: every heater at zero, the light off.
    state = station.simulators["chip"].state()
    assert state["light_on"] is False
    assert state["max_volts"] == [0.0, 0.0]

    # The plots received the data: loss and queries per step, the batch's outputs as bars.
    steps = points(panel.loss_curve)
    assert steps >= 3 and points(panel.queries_curve) == steps
    shown = panel.outputs_view.shown
    assert shown["physical"].shape == shown["twin"].shape == (16,)
    np.testing.assert_allclose(shown["difference"], shown["physical"] - shown["twin"])
    heights = panel.outputs_view.bars["physical"].opts["height"]
    np.testing.assert_array_equal(heights, shown["physical"])
    assert panel.queries_label.text() != "-" and panel.progress_label.text().startswith("epoch 1")

    # The run file: aborted by the operator, with a capture of every batch it trained.
    with open_run(panel.run_path) as run:
        assert run.status == "aborted" and run.reason == "aborted by the operator"
        assert run.n_rows("batches") >= steps * 8 - 8  # 8 samples a batch (capture_samples)
        caps = run.captures("batches")
        assert caps.physical.shape[1:] == (16,) and np.isfinite(caps.physical).all()

    # The Runs tab lists it in the runs folder, opens it on a double click and scrubs to its
    # first capture: the hardware's and the twin's outputs of step 0.
    runs_tab = RunsPanel()
    qtbot.addWidget(runs_tab)
    runs_tab.folder_edit.setFocus()
    qtbot.keyClick(runs_tab.folder_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(runs_tab.folder_edit, str(runs))
    qtbot.keyClick(runs_tab.folder_edit, Qt.Key.Key_Return)
    assert [runs_tab.table.item(0, c).text() for c in (0, 1)] == [panel.run_path.name, "aborted"]
    rect = runs_tab.table.visualItemRect(runs_tab.table.item(0, 0))
    qtbot.mouseClick(runs_tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(runs_tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert "aborted by the operator" in runs_tab.header.text()
    runs_tab.capture_slider.setFocus()
    qtbot.keyClick(runs_tab.capture_slider, Qt.Key.Key_Home)
    assert runs_tab.capture_label.text().startswith("step 0 (epoch 0)")
    np.testing.assert_allclose(runs_tab.capture_view.shown["physical"], caps.physical[0])
    np.testing.assert_allclose(runs_tab.capture_view.shown["twin"], caps.twin[0])
    runs_tab.close()


def test_a_completed_training_plots_accuracy_per_epoch(qtbot, panel: TrainingPanel,  # noqa: ANN001
                                                       tmp_path: Path) -> None:
    fill_form(qtbot, panel, "spsa", epochs=1, batch=256, runs=tmp_path / "runs")
    with qtbot.waitSignal(panel.run_ended, timeout=30_000):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    result = panel.result
    assert result is not None and not result.aborted
    assert panel.status_label.text().startswith("Completed")
    assert points(panel.loss_curve) == 6  # 1347 samples, 256 a batch
    # One epoch: its accuracy on the twin and on the hardware, at the epoch's last step.
    curve = panel.physical_accuracy_curve
    assert list(curve.xData) == [5] and 0 <= curve.yData[0] <= 100
    assert points(panel.twin_accuracy_curve) == 1
    assert panel.time_left_label.text() == "0 s"
    # SPSA measures the hardware only: physical bars, no twin, no difference.
    assert panel.outputs_view.shown["twin"] is None
    assert panel.outputs_view.shown["physical"].shape == (16,)


def test_start_without_a_station_says_so(qtbot) -> None:  # noqa: ANN001
    panel = TrainingPanel(lambda: None)
    qtbot.addWidget(panel)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.job is None and "No station" in panel.status_label.text()


def test_a_bad_dataset_fails_in_one_line(qtbot, panel: TrainingPanel, tmp_path: Path) -> None:  # noqa: ANN001
    type_into(qtbot, panel.dataset_edit, "cifar")
    type_into(qtbot, panel.runs_edit, str(tmp_path / "runs"))
    with qtbot.waitSignal(panel.run_ended, timeout=10_000):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    text = panel.status_label.text()
    assert text.startswith("Failed: dataset 'cifar'") and "\n" not in text
    assert panel.start_button.isEnabled()
