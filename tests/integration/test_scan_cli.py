"""``hilt scan`` from the shell: a finished sweep, refusals, and Ctrl-C / kill -9 in a real child
process (the file says what happened and keeps the points measured)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hilt.gui.cli import main
from hilt.runfile.sweep_file import open_sweep

BENCH = """\
name: clibench
simulate: true
instruments:
  heater:
    driver: keithley_2400
    limits: {voltage: [0, 5]}
    sim: {load_ohm: 500}
"""


@pytest.fixture()
def station(tmp_path: Path) -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(BENCH)
    return path


def test_scan_writes_the_file_and_the_figure(station: Path, tmp_path: Path) -> None:
    out = tmp_path / "iv.h5"
    res = CliRunner().invoke(main, ["scan", str(station), "heater.voltage", "0 V", "2V", "5",
                                    "-r", "heater.currents", "--set", "heater.compliance=0.1",
                                    "--set", "heater.output=on", "-o", str(out), "--no-plot"])
    assert res.exit_code == 0, res.output
    assert "set heater.output = True" in res.output
    assert "completed: 5 of 5 points" in res.output and f"sweep file: {out}" in res.output
    assert out.with_suffix(".png").stat().st_size > 0
    np.testing.assert_allclose(open_sweep(out).data["heater.currents"][:, 0], np.linspace(0, 2, 5) / 500,
                               rtol=0.02, atol=1e-5)


@pytest.mark.parametrize("args,message", [
    (["heater.voltage", "0", "9", "3", "-r", "heater.voltage"], "heater.voltage: 9 V outside the soft limits [0, 5] (setpoint 3 of 3"),
    (["heater.voltage", "0", "1", "3", "-r", "heater.volts"], "has no parameter 'volts'"),
    (["heater.voltage", "-1", "1", "3", "-r", "heater.voltage"], "heater.voltage: -1 V outside the soft limits"),
    (["heater.voltage", "0", "1", "3", "-r", "heater.voltage", "--set", "heater.voltage=7"], "heater.voltage"),
    (["heater.voltage", "zero", "1", "3", "-r", "heater.voltage"], "heater.voltage: "),
])
def test_scan_refuses_before_sending(station: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "never.h5"
    res = CliRunner().invoke(main, ["scan", str(station), *args, "-o", str(out), "--no-plot"])
    assert res.exit_code != 0 and message in res.output, res.output
    assert not out.exists()


def _start_long_scan(station: Path, out: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", "scan", str(station), "heater.voltage", "0", "1",
                             "200000", "-r", "heater.voltage", "--settle", "0", "--set", "heater.output=on",
                             "-o", str(out), "--no-plot", "--no-figure"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_points(out: Path, proc: subprocess.Popen[str], n: int = 5) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if out.exists():
            try:
                if open_sweep(out).points_done >= n:
                    return
            except Exception:  # the file is being created
                pass
        time.sleep(0.05)
    raise AssertionError("the sweep wrote no points")


def test_ctrl_c_stops_the_sweep_says_safe_and_where(station: Path, tmp_path: Path) -> None:
    out = tmp_path / "long.h5"
    proc = _start_long_scan(station, out)
    try:
        _wait_for_points(out, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "hilt: stopped by Ctrl-C (SIGINT): scan of heater.voltage on station clibench" in err
    assert "hilt: station clibench: safe state done on heater" in err
    assert f"hilt: run file {out}: aborted (interrupted (SIGINT));" in err and "of 200000 points kept" in err
    assert "Traceback" not in err
    sweep = open_sweep(out)
    assert sweep.status == "aborted" and sweep.points_done >= 5
    assert np.isfinite(sweep.data["heater.voltage (read back)"].reshape(-1)[: sweep.points_done]).all()


def test_a_killed_sweep_leaves_a_readable_file_marked_crashed(station: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed.h5"
    proc = _start_long_scan(station, out)
    try:
        _wait_for_points(out, proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    sweep = open_sweep(out)
    assert sweep.status == "crashed" and sweep.points_done >= 5
    read = sweep.data["heater.voltage (read back)"]
    assert np.isfinite(read[: sweep.points_done]).all()
    # the 2400 takes six significant digits
    np.testing.assert_allclose(read[: sweep.points_done], sweep.coords["heater.voltage"][: sweep.points_done], rtol=1e-5)
