"""``hilt runs list/show/export`` through click's CliRunner, and the exports themselves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from hilt.runfile import CaptureSpec, RunWriter, open_run
from hilt.runfile.cli import runs

CHILD = Path(__file__).with_name("runfile_child.py")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("runs")
    with RunWriter.create(d / "done.h5", scalars=["loss"], seeds={"world": 1},
                          captures={"mesh": CaptureSpec(input_shape=(4,), physical_shape=(4,),
                                                        twin_shape=(4,))}) as run:
        for step in range(3):
            run.log_scalars(step, loss=0.5 ** step)
            run.capture("mesh", step=step, epoch=0, sample_idx=np.arange(2),
                        inputs=np.full((2, 4), step), physical=np.full((2, 4), step + 0.5),
                        twin=np.full((2, 4), step + 0.25))
        run.save_checkpoint(2, {"w": np.ones(2)})
    with pytest.raises(KeyboardInterrupt), RunWriter.create(d / "stopped.h5", scalars=["loss"]):
        raise KeyboardInterrupt  # Ctrl-C: aborted (a bug, RuntimeError, would be failed)
    # A crashed run: its writer SIGKILLed after its first batch was flushed.
    proc = subprocess.Popen([sys.executable, str(CHILD), str(d / "killed.h5"), "step"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().startswith("flushed 0")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stdin.close()  # type: ignore[union-attr]
    with h5py.File(d / "foreign.h5", "w") as f:
        f["x"] = 1
    (d / "junk.h5").write_bytes(b"\x00" * 100)
    return d


def test_list(run_dir: Path) -> None:
    res = CliRunner().invoke(runs, ["list", str(run_dir)])
    assert res.exit_code == 0, res.output
    rows = {line.split()[0]: line.split() for line in res.output.splitlines()[1:]}
    assert rows["done.h5"][1:3] == ["completed", "3"]
    assert rows["stopped.h5"][1:3] == ["aborted", "0"]
    assert rows["killed.h5"][1:3] == ["crashed", "1"]
    assert rows["junk.h5"][1] == "damaged"
    assert "foreign.h5" not in rows


def test_show(run_dir: Path) -> None:
    res = CliRunner().invoke(runs, ["show", str(run_dir / "done.h5")])
    assert res.exit_code == 0, res.output
    assert "status:         completed" in res.output
    assert "capture mesh:   6 rows" in res.output
    assert "last at step 2" in res.output
    res = CliRunner().invoke(runs, ["show", "--json", str(run_dir / "killed.h5")])
    assert json.loads(res.output)["status"] == "crashed"


def test_errors_are_one_line(run_dir: Path) -> None:
    for name, reason in (("foreign.h5", "not a hilt run file"), ("junk.h5", "not an HDF5 file")):
        res = CliRunner().invoke(runs, ["show", str(run_dir / name)])
        assert res.exit_code == 1
        assert res.output.startswith("Error: ") and reason in res.output
        assert res.output.count("\n") == 1


def test_export_npz(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "done.npz"
    res = CliRunner().invoke(runs, ["export", str(run_dir / "done.h5"), "--to", "npz", str(out)])
    assert res.exit_code == 0, res.output
    z = np.load(out)
    assert json.loads(str(z["metadata"]))["status"] == "completed"
    np.testing.assert_array_equal(z["scalars/loss"], [1.0, 0.5, 0.25])
    np.testing.assert_array_equal(z["captures/mesh/step"], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(z["captures/mesh/twin"][:, 0], [0.25, 0.25, 1.25, 1.25, 2.25, 2.25])
    assert z["captures/mesh/physical"].dtype == np.float32


def test_export_npz_streams_large_captures(tmp_path: Path) -> None:
    path = tmp_path / "big.h5"
    frames = np.random.default_rng(0).standard_normal((50, 64, 64)).astype(np.float32)
    with RunWriter.create(path, captures={"cam": CaptureSpec(physical_shape=(64, 64),
                                                             chunk_rows=4)}) as run:
        for i in range(0, 50, 10):
            run.capture("cam", step=i, physical=frames[i:i + 10])
    with open_run(path) as r:
        r.export_npz(tmp_path / "big.npz")
    np.testing.assert_array_equal(np.load(tmp_path / "big.npz")["captures/cam/physical"], frames)


def test_export_netcdf(run_dir: Path, tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    out = tmp_path / "done.nc"
    res = CliRunner().invoke(runs, ["export", str(run_dir / "done.h5"), "--to", "netcdf", str(out)])
    assert res.exit_code == 0, res.output
    ds = xr.load_dataset(out)
    np.testing.assert_array_equal(ds["scalar_loss"].values, [1.0, 0.5, 0.25])
    assert ds["mesh_physical"].shape == (6, 4)
    assert ds["mesh_physical"].dims == ("mesh_row", "mesh_physical_d0")
    assert json.loads(ds.attrs["metadata"])["seeds"] == {"world": 1}


def test_export_netcdf_without_xarray_is_a_clear_error(run_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xarray", None)  # import xarray -> ImportError
    res = CliRunner().invoke(runs, ["export", str(run_dir / "done.h5"), "--to", "netcdf",
                                    str(tmp_path / "x.nc")])
    assert res.exit_code == 1 and "needs xarray" in res.output
