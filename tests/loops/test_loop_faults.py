"""Training loops through hardware faults, on a simulated station (every query over the wire):
faults ridden out and recorded, retries spent -> safe state and the reason recorded, a failing
safe state that does not hide the original error, interrupts, unique run names, and
``hilt resume`` continuing a stopped run to the parameters an uninterrupted run reaches.

Faults come from the simulator's own fault injection (``sim.faults``): the next
``error_count`` frames are answered with the instrument's error frame. The world's error preset
(dat-0.10) has no readout noise, so runs are deterministic and compared bit for bit.

The slow test (``make faults``) kills ``hilt train`` with SIGKILL at random points and resumes it.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hilt import errors, stations
from hilt.errors import ConfigError, InstrumentError, LimitError
from hilt.gui.cli import main
from hilt.instruments.mesh_processor import StationMeshProcessor
from hilt.loops.dat import DATSettings, train_dat
from hilt.loops.data import Dataset, load_digits
from hilt.loops.station import new_run_path, train_on_station
from hilt.runfile import RunFileError, open_run
from hilt.sims.physics import MZINetwork
from hilt.station import Station

torch.set_num_threads(1)

STATION = """\
name: fault-chip
simulate: true
world: {seed: 5, errors: dat-0.10}
instruments:
  chip:
    driver: photonic_processor
    sim: {n: 16, layers: 2}
"""
# 1347 training samples: 6 steps an epoch; no per-epoch evaluation; retries without waiting.
FAST = {"batch_size": 256, "eval_every_epoch": False, "retry_backoff_s": 0.0, "max_retries": 2}


@pytest.fixture
def station_file(tmp_path: Path) -> Path:
    path = tmp_path / "fault-chip.yaml"
    path.write_text(STATION)
    return path


def only_run(folder: Path) -> Path:
    files = list(folder.glob("*.h5"))
    assert len(files) == 1, files
    return files[0]


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])), k


def arm(sim, count: int) -> None:  # noqa: ANN001
    sim.faults.error = True
    sim.faults.error_count = count


# -- faults ridden out --------------------------------------------------------------------


@pytest.mark.parametrize("loop", ["insitu", "spsa", "dat"])
def test_faults_are_retried_recorded_and_change_nothing(station_file: Path, tmp_path: Path,
                                                       loop: str) -> None:
    """Two refused frames at the first step: the step is retried twice, the run completes, the
    file lists both faults, and the result is bit for bit the fault-free run's (the failed
    attempts had already drawn SPSA's perturbation and DAT's warm-up order: both undone)."""
    with Station.from_yaml(station_file) as st:
        clean = train_on_station(st, loop, epochs=1, runs_dir=tmp_path / "clean", settings=FAST)
        arm(st.simulators["chip"], 2)
        faulty = train_on_station(st, loop, epochs=1, runs_dir=tmp_path / "faulty", settings=FAST)
    assert clean.faults == 0 and faulty.faults == 2
    assert_same_state(clean.model_state, faulty.model_state)
    assert faulty.accuracy == clean.accuracy
    with open_run(faulty.run_path) as run:
        assert run.status == "completed" and run.reason == ""
        faults = run.faults()
        assert [(f.step, f.retry, f.outcome) for f in faults] == [(0, 0, "retried"), (0, 1, "retried")]
        for f in faults:
            assert f.instrument == "chip" and f.error_type == "InstrumentError"
            # the run's first frame: the light switched on before training (LIGHT)
            assert f.command == "type 0x30" and "injected fault" in f.message
        # hilt train's runs record the station they ran on
        assert run.info["station_file_text"] == STATION
        assert run.info["station_file"] == str(station_file.resolve())
        assert run.info["station_snapshot"]["instruments"]["chip"]["driver"] == "photonic_processor"
    shown = CliRunner().invoke(main, ["runs", "show", faulty.run_path])
    assert shown.exit_code == 0, shown.output
    assert "faults:         2 (2 retried)" in shown.output
    assert "step 0, retry 1: chip [type 0x30] InstrumentError" in shown.output


def test_a_simulator_restarted_under_a_run_is_reconnected(tmp_path: Path) -> None:
    """The chip's controller goes away for half a second after step 1 and comes back on the
    same port. The link's own reopening is cut to one attempt, so the loop itself has to back
    off and reconnect: the run completes, the file lists the dropped link, nothing changed."""
    from hilt.sims.server import serve

    station = tmp_path / "flaky.yaml"
    station.write_text(STATION + "    transport: {reconnect_attempts: 1}\n")
    # Back-offs 0.2, 0.4, 0.8 ... s: the controller is back long before 8 retries are spent.
    settings = {**FAST, "retry_backoff_s": 0.2, "max_retries": 8}
    restarted = threading.Event()
    with Station.from_yaml(station) as st:
        clean = train_on_station(st, "insitu", epochs=1, runs_dir=tmp_path / "clean", settings=settings)
        sim = st.simulators["chip"]

        def power_cycle(p) -> None:  # noqa: ANN001
            if p.step == 1:
                port = st.servers["chip"].port
                st.servers["chip"].stop()

                def back() -> None:
                    st.servers["chip"] = serve(sim, port=port)
                    restarted.set()

                threading.Timer(0.5, back).start()

        result = train_on_station(st, "insitu", epochs=1, runs_dir=tmp_path / "runs",
                                  settings=settings, progress=power_cycle)
        assert restarted.wait(10)
    assert_same_state(clean.model_state, result.model_state)
    with open_run(result.run_path) as run:
        assert run.status == "completed"
        faults = run.faults()
    assert result.faults == len(faults) >= 1
    assert {(f.step, f.error_type, f.outcome) for f in faults} == {(2, "ConnectError", "retried")}
    assert [f.retry for f in faults] == list(range(len(faults)))


class FaultAfterRuns(StationMeshProcessor):
    """The station's chip, whose simulator refuses the next ``count`` frames right after this
    processor's ``after``-th batch: a fault in the middle of a step, after the step has already
    updated the loop's state (here: DAT's error predictors and their optimiser)."""

    def __init__(self, driver, sim, after: int, count: int) -> None:  # noqa: ANN001
        super().__init__(driver)
        self.sim, self.after, self.count, self.runs = sim, after, count, 0

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        out = super().run(inputs, internal)
        self.runs += 1
        if self.runs == self.after:
            arm(self.sim, self.count)
        return out


def test_a_step_failing_after_an_update_is_retried_from_before_it(station_file: Path) -> None:
    d = load_digits(seed=0)
    data = Dataset("small", d.x_train[:96], d.y_train[:96], d.x_test[:32], d.y_test[:32], 10)
    settings = DATSettings(epochs=1, batch_size=32, warmup_batches=2, warmup_steps=3,
                           eval_every_epoch=False, retry_backoff_s=0.0)
    twin = MZINetwork.build(16, 2, seed=0).twin()
    with Station.from_yaml(station_file) as st:
        clean = train_dat(StationMeshProcessor(st["chip"]), twin, data, settings)
        # Batch 1 is the first warm-up batch; the predictors are fitted to it, then measuring
        # warm-up batch 2 fails (twice).
        proc = FaultAfterRuns(st["chip"], st.simulators["chip"], after=1, count=2)
        faulty = train_dat(proc, twin, data, settings)
    assert faulty.faults == 2
    assert_same_state(clean.model_state, faulty.model_state)
    assert faulty.history[0]["loss"] == clean.history[0]["loss"]


# -- giving up ----------------------------------------------------------------------------


def test_more_faults_than_retries_abort_to_the_safe_state_with_the_reason(
        station_file: Path, tmp_path: Path) -> None:
    seen = {}
    with Station.from_yaml(station_file) as st:
        sim = st.simulators["chip"]

        def fault_after_step_1(p) -> None:  # noqa: ANN001
            if p.step == 1:
                seen["volts"] = max(sim.state()["max_volts"])
                arm(sim, 3)  # the first try and both retries fail; the safe state gets through

        with pytest.raises(InstrumentError) as caught:
            train_on_station(st, "insitu", epochs=1, runs_dir=tmp_path, settings=FAST,
                             progress=fault_after_step_1)
        # put safe by the loop itself, before the station closes
        assert seen["volts"] > 1.0
        assert sim.state() == {"light_on": False, "max_volts": [0.0, 0.0]}
    assert "gave up after 2 retries" in " ".join(getattr(caught.value, "__notes__", []))
    with open_run(only_run(tmp_path)) as run:
        assert run.status == "aborted"
        assert run.reason.startswith("InstrumentError: chip: error 6: execution error (injected fault)")
        # The last try failed in the recovery (the light switched on again: LIGHT, 0x30).
        assert run.reason.endswith("during 'type 0x30', after 2 retries")
        assert [(f.step, f.retry, f.outcome) for f in run.faults()] == [
            (2, 0, "retried"), (2, 1, "retried"), (2, 2, "aborted")]
        assert run.sessions[-1]["reason"] == run.reason


def test_a_failing_safe_state_does_not_hide_the_original_error(station_file: Path,
                                                               tmp_path: Path) -> None:
    with Station.from_yaml(station_file) as st:
        sim = st.simulators["chip"]

        def everything_fails_after_step_1(p) -> None:  # noqa: ANN001
            if p.step == 1:
                arm(sim, 1000)

        with pytest.raises(InstrumentError) as caught:
            train_on_station(st, "insitu", epochs=1, runs_dir=tmp_path, progress=everything_fails_after_step_1,
                             settings={**FAST, "max_retries": 1})
        assert sim.state()["light_on"]  # the safe state really did fail ...
        sim.faults.clear()  # ... and the station's own exit gets the chip safe
    # The run's own last error (the recovery's LIGHT, 0x30), not the safe state's (SAFE, 0x40).
    assert caught.value.command == "type 0x30"
    notes = " ".join(caught.value.__notes__)
    assert "the safe state failed too: InstrumentError" in notes and "type 0x40" in notes
    with open_run(only_run(tmp_path)) as run:
        assert run.status == "aborted"  # closed, not left "running"
        assert "after 1 retries; the safe state failed too: InstrumentError" in run.reason
        assert [(f.retry, f.command, f.outcome) for f in run.faults()] == [
            (0, "type 0x10", "retried"), (1, "type 0x30", "aborted"), (0, "type 0x40", "safe_state")]


def test_a_limit_is_never_retried(tmp_path: Path) -> None:
    station = tmp_path / "low.yaml"  # heaters capped below what the nominal calibration needs
    station.write_text(STATION.replace("driver: photonic_processor",
                                       "driver: photonic_processor\n    options: {v_max: 3.0}"))
    with Station.from_yaml(station) as st:
        with pytest.raises(LimitError):
            train_on_station(st, "insitu", epochs=1, runs_dir=tmp_path / "runs", settings=FAST)
        assert not st.simulators["chip"].state()["light_on"]
    with open_run(only_run(tmp_path / "runs")) as run:
        assert run.status == "aborted"
        assert run.reason.startswith("LimitError: chip.heaters: mesh 0")
        assert "never retried" in run.reason
        assert [(f.error_type, f.outcome) for f in run.faults()] == [("LimitError", "aborted")]


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_an_interrupt_is_recorded_as_the_reason(station_file: Path, tmp_path: Path,
                                                signame: str) -> None:
    if signame == "SIGINT":
        interrupt: BaseException = KeyboardInterrupt()
    else:
        terminated = getattr(errors, "Terminated", None)
        if terminated is None:
            pytest.skip("hilt.errors.Terminated (SIGTERM as an exception) is not there yet")
        interrupt = terminated(signal.SIGTERM)

    def stop(p) -> None:  # noqa: ANN001
        if p.step == 2:
            raise interrupt

    with Station.from_yaml(station_file) as st:
        with pytest.raises(KeyboardInterrupt):
            train_on_station(st, "insitu", epochs=1, runs_dir=tmp_path, settings=FAST, progress=stop)
        assert not st.simulators["chip"].state()["light_on"]
    with open_run(only_run(tmp_path)) as run:
        assert run.status == "aborted" and run.reason == f"interrupted ({signame})"
        assert run.faults() == []


# -- names, station checks ----------------------------------------------------------------


def test_run_names_never_collide(station_file: Path, tmp_path: Path) -> None:
    names = {new_run_path("st", "dat", tmp_path) for _ in range(1000)}
    assert len(names) == 1000
    with Station.from_yaml(station_file) as st:
        for _ in range(2):  # well within a second of each other
            train_on_station(st, "insilico", epochs=1, runs_dir=tmp_path / "runs",
                             settings={**FAST, "batch_size": 1024})
    files = sorted((tmp_path / "runs").glob("fault-chip-insilico-*.h5"))
    assert len(files) == 2
    for f in files:
        with open_run(f) as run:
            assert run.status == "completed" and run.info["station_file_text"] == STATION


def test_train_on_a_station_without_that_processor_names_what_it_has(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["train", str(stations.path("mzi-lab")), "--instrument",
                                       "heaters", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.exception is None or \
        isinstance(result.exception, SystemExit)
    assert "instrument 'heaters' is a qontrol_q8iv, not a photonic processor" in result.output
    assert ("laser (keysight_8164b), heaters (qontrol_q8iv), modulators (qdevil_qdac2), pm (keysight_n7744a)"
            in result.output)
    assert not list(tmp_path.glob("*.h5"))


def test_unknown_settings_are_refused(station_file: Path, tmp_path: Path) -> None:
    with Station.from_yaml(station_file) as st, pytest.raises(ConfigError, match="'max_retry'"):
        train_on_station(st, "insitu", runs_dir=tmp_path, settings={"max_retry": 5})


# -- hilt resume ----------------------------------------------------------------------------


def test_hilt_resume_finishes_an_aborted_run_as_an_uninterrupted_one(station_file: Path,
                                                                     tmp_path: Path) -> None:
    with Station.from_yaml(station_file) as st:
        full = train_on_station(st, "dat", epochs=2, runs_dir=tmp_path / "full", settings=FAST)
        sim = st.simulators["chip"]

        def give_up_in_epoch_1(p) -> None:  # noqa: ANN001
            if p.epoch == 1 and p.batch == 1 and not p.end_of_epoch:
                arm(sim, 3)

        with pytest.raises(InstrumentError):
            train_on_station(st, "dat", epochs=2, runs_dir=tmp_path / "runs", settings=FAST,
                             progress=give_up_in_epoch_1)
    path = only_run(tmp_path / "runs")
    result = CliRunner().invoke(main, ["resume", str(path)])
    assert result.exit_code == 0, result.output
    assert "dat: accuracy" in result.output and str(path) in result.output
    with open_run(path) as run:
        assert run.status == "completed"
        assert [s["status"] for s in run.sessions] == ["aborted", "completed"]
        assert run.sessions[1]["resumed_from_step"] == 5  # the checkpoint after epoch 0
        ck = run.load_checkpoint()
        assert ck.step == 11 and len(run.faults()) == 3
    assert_same_state(full.model_state, ck.model_state["model"])
    with open_run(full.run_path) as run:
        full_ck = run.load_checkpoint()
    assert_same_state(full_ck.model_state["predictors"], ck.model_state["predictors"])
    assert full_ck.extra["history"] == ck.extra["history"]

    again = CliRunner().invoke(main, ["resume", str(path)])
    assert again.exit_code == 1 and "the run completed; there is nothing to resume" in again.output


def test_resume_uses_the_recorded_station_text_when_the_file_is_gone(station_file: Path,
                                                                     tmp_path: Path) -> None:
    def stop(p) -> None:  # noqa: ANN001
        if p.step == 1:
            raise KeyboardInterrupt

    with Station.from_yaml(station_file) as st, pytest.raises(KeyboardInterrupt):
        train_on_station(st, "insitu", epochs=1, runs_dir=tmp_path, settings=FAST, progress=stop)
    station_file.unlink()
    path = only_run(tmp_path)
    result = CliRunner().invoke(main, ["resume", str(path)])
    assert result.exit_code == 0, result.output
    with open_run(path) as run:
        assert run.status == "completed" and run.sessions[0]["reason"] == "interrupted (SIGINT)"


def test_resume_refuses_files_it_cannot_continue(tmp_path: Path) -> None:
    from hilt.runfile import RunWriter

    plain = tmp_path / "plain.h5"
    RunWriter.create(plain, scalars=["loss"]).close("aborted", "a script's run")
    result = CliRunner().invoke(main, ["resume", str(plain)])
    assert result.exit_code == 1 and "not a run of hilt train" in result.output
    missing = CliRunner().invoke(main, ["resume", str(tmp_path / "nope.h5")])
    assert missing.exit_code == 1 and "no such run file" in missing.output


# -- kill -9 and resume (slow: make faults) -------------------------------------------------


def _hilt(*args: str) -> list[str]:
    return [sys.executable, "-m", "hilt.gui.cli", *args]


def _wait_for(cond, what: str, proc: subprocess.Popen, log: Path,  # noqa: ANN001
              timeout: float = 120.0) -> None:
    """Poll the run file (another process writes it) until ``cond()``."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, \
            f"hilt exited (code {proc.returncode}) before {what}: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _progress(folder: Path) -> tuple[int, int] | None:
    """(sessions, last step) of the one run file in ``folder``, or None while unreadable."""
    files = list(folder.glob("*.h5"))
    if not files:
        return None
    try:
        with open_run(files[0]) as run:
            steps = run.steps()
            return len(run.sessions), int(steps[-1]) if steps.size else -1
    except RunFileError:  # being created, or reopened by a resume
        return None


@pytest.mark.slow
def test_kill_9_at_random_points_then_hilt_resume_is_bit_exact(station_file: Path,
                                                               tmp_path: Path) -> None:
    """``hilt train`` killed with SIGKILL at 3 random (seeded) steps, each time continued with
    ``hilt resume``; the final parameters equal an uninterrupted run's, bit for bit."""
    t0 = time.monotonic()
    common = ["--loop", "dat", "--epochs", "3", "--batch-size", "64"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(_hilt("train", str(station_file), *common, "--runs-dir", str(tmp_path / "full")),
                   check=True, env=env, capture_output=True)
    steps = 3 * math.ceil(1347 / 64)
    kills = sorted(random.Random(9).sample(range(1, steps - 1), 3))
    folder = tmp_path / "killed"

    def start(*args: str) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"session-{len(list(tmp_path.glob('session-*')))}.log"
        with log.open("w") as out:
            return subprocess.Popen(_hilt(*args), env=env, stdout=out, stderr=out), log

    proc, log = start("train", str(station_file), *common, "--runs-dir", str(folder))
    try:
        for session, step in enumerate(kills):
            def reached(session: int = session, step: int = step) -> bool:
                got = _progress(folder)
                return got is not None and got[0] == session + 1 and got[1] >= step

            _wait_for(reached, f"step {step} of session {session}", proc, log)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            path = only_run(folder)
            with open_run(path) as run:
                assert run.status == "crashed"
            proc, log = start("resume", str(path))
        assert proc.wait(timeout=300) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with open_run(only_run(folder)) as run, open_run(only_run(tmp_path / "full")) as ref:
        assert run.status == "completed"
        assert [s["status"] for s in run.sessions] == ["crashed"] * 3 + ["completed"]
        got, want = run.load_checkpoint(), ref.load_checkpoint()
        assert got.step == want.step == steps - 1
        for part in ("model", "predictors"):
            assert_same_state(want.model_state[part], got.model_state[part])
        assert got.extra["queries"] == want.extra["queries"]
    print(f"\nkill -9 at steps {kills} of {steps}, 3 resumes: bit-exact, "
          f"{time.monotonic() - t0:.1f} s in all")
