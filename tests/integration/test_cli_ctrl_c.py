"""Ctrl-C in a command: a real SIGINT to ``hilt`` in a child process, whose instruments are
simulators served from this test process, so the outputs can be read after the child is gone.
The command must say what it stopped, which instruments went through their safe state (and they
must really be safe), and where its run file is, which must say ``aborted``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hilt import stations
from hilt.runfile import open_run
from hilt.sims.pytest_plugin import SimulatedBench
from hilt.sims.serve_station import serving

INSTRUMENTS = ["laser", "heaters", "modulators", "pm", "switch"]


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[tuple[SimulatedBench, Path]]:
    """mzi-lab's simulators served here; a station file naming their addresses as a real bench's
    file names its instruments' (so the child talks to them over real sockets)."""
    with serving("mzi-lab") as (station, served):
        raw = yaml.safe_load(stations.path("mzi-lab").read_text())
        raw["simulate"] = False
        raw.pop("world")
        for s in served:
            if s.name in raw["instruments"]:
                raw["instruments"][s.name]["address"] = s.address
                raw["instruments"][s.name].pop("sim", None)  # the simulators run here
        path = tmp_path / "bench.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        yield SimulatedBench(station), path


def _until(condition, what: str, timeout: float = 120.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _hilt(*args: str) -> subprocess.Popen[str]:
    # What a terminal gives: SIGINT at its default (a shell that runs the tests in the background
    # hands its children SIGINT ignored, and Python would keep it so).
    return subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _interrupt(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=120)
    finally:
        proc.kill()


def _lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("hilt: ")]


def test_ctrl_c_in_calibrate_says_what_stopped_that_the_bench_is_safe_and_where_the_run_is(
        bench: tuple[SimulatedBench, Path], tmp_path: Path) -> None:
    world, station_file = bench
    runs = tmp_path / "runs"
    proc = _hilt("calibrate", str(station_file), "mzi_heaters", "--runs-dir", str(runs))
    # Once the run file exists and the heaters are driven, the bench is not safe: interrupt then.
    _until(lambda: list(runs.glob("*.h5")) and any("heaters" in p for p in world.unsafe()),
           "the calibration to drive the heaters")
    out, err = _interrupt(proc)
    assert proc.returncode == 130, err
    world.assert_safe()
    (run_file,) = runs.glob("*.h5")
    lines = _lines(err)
    assert lines[0] == "hilt: stopped by Ctrl-C (SIGINT): calibration mzi_heaters on station mzi-lab"
    assert lines[1] == f"hilt: station mzi-lab: safe state done on {', '.join(INSTRUMENTS)}"
    assert lines[2] == f"hilt: run file {run_file}: aborted (interrupted (SIGINT))"
    assert "Traceback" not in err and "Aborted!" not in err + out
    with open_run(run_file) as run:
        assert (run.status, run.reason) == ("aborted", "interrupted (SIGINT)")


@pytest.mark.slow  # half a minute (torch, the data set, an evaluation): in `make faults`
def test_ctrl_c_in_train_names_the_run_to_resume(bench: tuple[SimulatedBench, Path],
                                                tmp_path: Path) -> None:
    world, station_file = bench
    runs = tmp_path / "runs"
    proc = _hilt("train", str(station_file), "--loop", "insitu", "--epochs", "3",
                 "--runs-dir", str(runs))
    _until(lambda: list(runs.glob("*.h5")) and world.system("chip") is not None
           and any("light on" in p or "voltages" in p for p in world.unsafe()),
           "the training to light the chip")
    out, err = _interrupt(proc)
    assert proc.returncode == 130, err
    world.assert_safe()
    (run_file,) = runs.glob("*.h5")
    lines = _lines(err)
    assert lines[0] == "hilt: stopped by Ctrl-C (SIGINT): training (insitu) on station mzi-lab"
    assert lines[1] == f"hilt: station mzi-lab: safe state done on {', '.join(INSTRUMENTS)}"
    assert lines[2].startswith(f"hilt: run file {run_file}: aborted (interrupted (SIGINT))")
    assert lines[-1] == f"hilt: continue it with: hilt resume {run_file}"
    with open_run(run_file) as run:
        assert run.status == "aborted"
