"""Sweep files without a bench: the writer's layout, a writer that stops half-way, and how
`hilt runs` and the Runs tab list and show them."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from hilt.runfile import RunFileError
from hilt.runfile.cli import runs
from hilt.runfile.sweep_file import SweepAxis, SweepReading, SweepWriter, is_sweep_file, open_sweep


def _write(path: Path, points: int | None = None, status: str = "completed") -> Path:
    axes = [SweepAxis("y", np.array([0.0, 1.0]), "mm"), SweepAxis("x", np.array([0.0, 1.0, 2.0]), "mm")]
    reads = [SweepReading("r", "V"), SweepReading("spectrum", "W", (4,))]
    writer = SweepWriter(path, axes, reads, metadata={"station": "bench", "note": {"a": 1}})
    for k, (i, j) in enumerate([(i, j) for i in range(2) for j in range(3)]):
        if points is not None and k == points:
            break
        writer.write_point((i, j), {"r": 10 * i + j, "spectrum": np.arange(4) + k})
    writer.close(status, "" if status == "completed" else "stopped")
    return path


def test_layout_is_plain_hdf5_with_scales_and_units(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.h5")
    with h5py.File(path, "r") as f:
        assert f.attrs["hilt_layout"] == "sweep" and f.attrs["status"] == "completed"
        assert f["r"].shape == (2, 3) and f["r"].attrs["units"] == "V"
        assert f["spectrum"].shape == (2, 3, 4)
        assert [d.label or d[0].name for d in f["r"].dims] == ["/y", "/x"]
        assert f["x"].attrs["units"] == "mm" and int(f["points_done"][()]) == 6
        assert json.loads(f.attrs["note"]) == {"a": 1}
    sweep = open_sweep(path)
    np.testing.assert_array_equal(sweep.data["r"], [[0, 1, 2], [10, 11, 12]])
    np.testing.assert_array_equal(sweep.data["spectrum"][1, 2], np.arange(4) + 5)


def test_a_stopped_writer_keeps_its_points_and_nans_the_rest(tmp_path: Path) -> None:
    sweep = open_sweep(_write(tmp_path / "s.h5", points=4, status="aborted"))
    assert (sweep.status, sweep.reason, sweep.points_done) == ("aborted", "stopped", 4)
    assert np.isnan(sweep.data["r"][1, 1:]).all() and np.isfinite(sweep.data["r"][0]).all()


def test_names_and_paths_are_checked(tmp_path: Path) -> None:
    axes = [SweepAxis("x", np.arange(3.0))]
    with pytest.raises(RunFileError, match="distinct"):
        SweepWriter(tmp_path / "a.h5", axes, [SweepReading("x")])
    with pytest.raises(RunFileError, match="elapsed"):
        SweepWriter(tmp_path / "b.h5", axes, [SweepReading("elapsed")])
    path = _write(tmp_path / "c.h5")
    with pytest.raises(RunFileError, match="never overwrites"):
        SweepWriter(path, axes, [SweepReading("r")])
    with pytest.raises(RunFileError, match="not a sweep file"):
        with h5py.File(tmp_path / "plain.h5", "w") as f:
            f["a"] = 1
        open_sweep(tmp_path / "plain.h5")
    assert not is_sweep_file(tmp_path / "plain.h5") and is_sweep_file(path)


def test_hilt_runs_lists_and_shows_sweeps(tmp_path: Path) -> None:
    _write(tmp_path / "done.h5")
    _write(tmp_path / "half.h5", points=3, status="aborted")
    listed = CliRunner().invoke(runs, ["list", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[0]: line.split()[1:3] for line in listed.output.splitlines()[1:]}
    assert lines == {"done.h5": ["completed", "6/6pt"], "half.h5": ["aborted", "3/6pt"]}
    shown = CliRunner().invoke(runs, ["show", str(tmp_path / "half.h5")])
    assert shown.exit_code == 0, shown.output
    assert "points:         3 of 6" in shown.output and "x:" in shown.output and "0 to 2 mm, 3 points" in shown.output
    as_json = json.loads(CliRunner().invoke(runs, ["show", "--json", str(tmp_path / "done.h5")]).output)
    assert as_json["readings"] == {"r": "V", "spectrum": "W"} and as_json["points_done"] == 6
