"""The Runs tab, driven by typed input and clicks: a folder of run files listed, a finished run
opened and scrubbed through, "run again" filling the Training form, a plain HDF5 file shown
read-only, and a run still being written followed live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from hilt.gui.runs_panel import RunsPanel
from hilt.gui.training_panel import TrainingPanel
from hilt.loops.station import train_on_station
from hilt.runfile import CaptureSpec, RunWriter, open_run
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


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:  # noqa: ANN001
    """A folder with one finished SPSA run (6 steps), a plain HDF5 file and a damaged one."""
    root = tmp_path_factory.mktemp("runs-tab")
    station = root / "gui-chip.yaml"
    station.write_text(STATION)
    folder = root / "runs"
    with Station.from_yaml(station) as st:
        train_on_station(st, "spsa", epochs=1, lr=0.01, seed=2, runs_dir=folder,
                         settings={"batch_size": 256})
    with h5py.File(folder / "other.h5", "w") as h5:
        h5["frames"] = np.arange(12.0).reshape(3, 4)
        h5.attrs["instrument"] = "camera"
    (folder / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
    return folder


@pytest.fixture
def panel(qtbot) -> Iterator[RunsPanel]:  # noqa: ANN001
    widget = RunsPanel()
    qtbot.addWidget(widget)
    widget.resize(1200, 900)
    widget.show()
    yield widget
    widget.close()


def show_folder(qtbot, panel: RunsPanel, folder: Path) -> None:  # noqa: ANN001
    panel.folder_edit.setFocus()
    qtbot.keyClick(panel.folder_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(panel.folder_edit, str(folder))
    qtbot.keyClick(panel.folder_edit, Qt.Key.Key_Return)


def table_rows(panel: RunsPanel) -> list[list[str]]:
    t = panel.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def double_click_row(qtbot, panel: RunsPanel, row: int) -> None:  # noqa: ANN001
    rect = panel.table.visualItemRect(panel.table.item(row, 0))
    # A real double click: a click, then the double-click event (QTest sends only the latter).
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def choose_file(monkeypatch, path: Path) -> None:  # noqa: ANN001
    """The file dialog answers ``path`` (a native dialog cannot be clicked offscreen)."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


def test_browse_open_scrub_and_run_again(qtbot, panel: RunsPanel, runs: Path) -> None:  # noqa: ANN001
    show_folder(qtbot, panel, runs)
    rows = table_rows(panel)
    # The run and the damaged file; the plain HDF5 file is not a run and is left out.
    assert [r[0] for r in rows][0] == "broken.h5" and rows[0][1] == "damaged"
    name, status, steps, size, reason = rows[1]
    assert name.startswith("gui-chip-spsa-") and status == "completed" and steps == "6"
    assert size.endswith("kB") and reason == ""
    assert len(rows) == 2

    double_click_row(qtbot, panel, 1)
    assert "completed" in panel.header.text()
    run_path = runs / name

    # Scrub: the slider walks the captured steps; the view shows the hardware's outputs.
    slider = panel.capture_slider
    assert slider.maximum() == 5  # one capture per step
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_Home)
    assert panel.capture_label.text().startswith("step 0 (epoch 0)")
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert panel.capture_label.text().startswith("step 2 (epoch 0)")
    panel.sample_spin.setFocus()
    qtbot.keyClick(panel.sample_spin, Qt.Key.Key_Up)  # the step's second captured sample
    with open_run(run_path) as run:
        caps = run.captures("batches")
    row = np.flatnonzero(caps.step == 2)[1]
    assert f"sample {caps.sample[row]}:" in panel.capture_label.text()
    shown = panel.capture_view.shown
    np.testing.assert_allclose(shown["physical"], caps.physical[row])
    assert shown["twin"] is None and shown["difference"] is None  # SPSA records no twin
    np.testing.assert_allclose(panel.capture_view.bars["physical"].opts["height"],
                               caps.physical[row])

    # Scalars: loss per step only (the epoch's mean is in the epoch table), the accuracies of
    # the one epoch at its last step (xData: every point, not only those in view).
    assert list(panel.scalar_curves["loss"].xData) == [0, 1, 2, 3, 4, 5]
    assert list(panel.scalar_curves["epochs/test_accuracy"].xData) == [5]
    assert "epochs/loss_mean" in [panel.scalar_list.item(i).text()
                                  for i in range(panel.scalar_list.count())]

    # Station and settings, as recorded when the run started.
    tops = {panel.tree.topLevelItem(i).text(0): panel.tree.topLevelItem(i)
            for i in range(panel.tree.topLevelItemCount())}
    assert set(tops) == {"Station", "Settings", "Run", "Sessions"}
    station = tops["Station"]
    assert "instruments" in [station.child(i).text(0) for i in range(station.childCount())]
    assert panel.tabs.tabText(2) == "Faults (0)"

    # "Run again" fills the Training form (the window makes this connection).
    training = TrainingPanel(lambda: None)
    qtbot.addWidget(training)
    panel.run_again.connect(training.apply_settings)
    with qtbot.waitSignal(panel.run_again, timeout=2000) as sent:
        qtbot.mouseClick(panel.run_again_button, Qt.MouseButton.LeftButton)
    assert sent.args[0] == {"loop": "spsa", "dat_mode": "internal", "dataset": "digits",
                            "epochs": 1, "lr": 0.01, "batch_size": 256, "seed": 2,
                            "runs_dir": str(runs)}
    assert training.settings() == sent.args[0]


def test_any_hdf5_file_opens_read_only_as_a_tree(qtbot, panel: RunsPanel, runs: Path,  # noqa: ANN001
                                                 monkeypatch) -> None:  # noqa: ANN001
    other = runs / "other.h5"
    before = other.read_bytes()
    choose_file(monkeypatch, other)
    qtbot.mouseClick(panel.open_file_button, Qt.MouseButton.LeftButton)
    assert "not a hilt run file" in panel.header.text()
    root = panel.tree.topLevelItem(0)
    children = {root.child(i).text(0): root.child(i).text(1) for i in range(root.childCount())}
    assert children == {"@instrument": "camera", "frames": "(3, 4) float64"}
    assert not panel.tabs.isTabEnabled(0) and not panel.run_again_button.isEnabled()
    assert other.read_bytes() == before

    choose_file(monkeypatch, runs / "broken.h5")
    qtbot.mouseClick(panel.open_file_button, Qt.MouseButton.LeftButton)
    assert "damaged" in panel.header.text()


def test_a_run_being_written_is_followed_live(qtbot, panel: RunsPanel, tmp_path: Path,  # noqa: ANN001
                                              monkeypatch) -> None:  # noqa: ANN001
    """A camera-like stream (3 x 4 frames) written while the tab watches: new captures appear
    by themselves, drawn as images; the tab sees the run complete."""
    path = tmp_path / "live.h5"
    spec = CaptureSpec(physical_shape=(3, 4), twin_shape=(3, 4))
    frame = np.arange(12, dtype=np.float32).reshape(3, 4)
    writer = RunWriter.create(path, scalars=["loss"], captures={"frames": spec},
                              config={"method": "custom"})
    try:
        for step in range(2):
            writer.log_scalars(step, {"loss": 1.0 / (step + 1)})
            writer.capture("frames", step=step, physical=frame[None] + step, twin=frame[None])
        writer.flush()
        choose_file(monkeypatch, path)
        qtbot.mouseClick(panel.open_file_button, Qt.MouseButton.LeftButton)
        assert "running" in panel.header.text() and "live" in panel.header.text()
        assert panel.capture_slider.maximum() == 1
        assert panel.capture_view.images["physical"].image.shape == (3, 4)
        np.testing.assert_allclose(panel.capture_view.shown["difference"], np.ones((3, 4)))
        assert not panel.run_again_button.isEnabled()  # not a loop it knows how to start

        for step in range(2, 4):
            writer.log_scalars(step, {"loss": 1.0 / (step + 1)})
            writer.capture("frames", step=step, physical=frame[None] + step, twin=frame[None])
        writer.flush()
        qtbot.waitUntil(lambda: panel.capture_slider.maximum() == 3, timeout=10_000)
        # The slider was on the latest capture, so it follows the run.
        assert panel.capture_label.text().startswith("step 3")
        np.testing.assert_allclose(panel.capture_view.shown["difference"], np.full((3, 4), 3.0))
        assert len(panel.scalar_curves["loss"].xData) == 4
    finally:
        writer.close("completed")
    qtbot.waitUntil(lambda: "completed" in panel.header.text(), timeout=10_000)
    assert not panel.live_timer.isActive()
