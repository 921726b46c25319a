"""A writer in another process: killed mid-write, read live, resumed. Synchronised through its
stdout/stdin (runfile_child.py), never by sleeping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from hilt.errors import InstrumentTimeout
from hilt.runfile import RunFileError, RunWriter, open_run

CHILD = Path(__file__).with_name("runfile_child.py")
sys.path.insert(0, str(CHILD.parent))
import runfile_child  # noqa: E402


def start(path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(CHILD), str(path), mode], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def wait_flushed(proc: subprocess.Popen[str], k: int) -> int:
    """Read the child's reports until batch ``k`` is flushed; the last batch reported."""
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, f"writer exited early (code {proc.wait()})"
        last = int(line.split()[1])
        if last >= k:
            return last


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()
        for stream in (p.stdin, p.stdout):
            if stream is not None:
                stream.close()


def check_rows(path: Path, flushed: int) -> int:
    """Every row of every flushed batch is there, intact; returns the committed batch count."""
    with open_run(path) as r:
        n = r.n_rows("cam")
        assert n >= (flushed + 1) * runfile_child.ROWS
        b = r.captures("cam")
        np.testing.assert_array_equal(b.step, np.arange(n) // runfile_child.ROWS)
        np.testing.assert_array_equal(b.physical, np.broadcast_to(b.step[:, None, None], b.physical.shape))
        np.testing.assert_array_equal(b.twin, b.physical)
        steps, loss = r.scalar("loss")
        assert list(steps) == list(range(len(steps))) and len(steps) >= flushed + 1
        np.testing.assert_allclose(loss, 1.0 / (steps + 1))
        return n // runfile_child.ROWS


@pytest.mark.parametrize("kill_after", [0, 4, 11])
def test_sigkill_mid_write_leaves_a_readable_crashed_run(tmp_path: Path, procs: list, kill_after: int) -> None:
    path = tmp_path / "run.h5"
    proc = start(path, "stream")
    procs.append(proc)
    flushed = wait_flushed(proc, kill_after)
    # The child does not wait for us: it is writing the next batches when the kill lands.
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    check_rows(path, flushed)
    with open_run(path) as r:
        assert r.stored_status == "running"
        assert r.status == "crashed"
        assert r.sessions[0]["end"] is None
        assert all(c.path.is_file() for c in r.checkpoints())
    # Plain h5py opens it too, in SWMR-read mode (the superblock still carries the writer mark).
    with h5py.File(path, "r", swmr=True) as f:
        assert f["run/status"][0] == b"running"
        assert f["captures/cam/physical"].shape[0] >= (flushed + 1) * runfile_child.ROWS


def test_resume_after_crash_continues_from_last_checkpoint(tmp_path: Path, procs: list) -> None:
    path = tmp_path / "run.h5"
    proc = start(path, "stream")
    procs.append(proc)
    flushed = wait_flushed(proc, 7)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    batches = check_rows(path, flushed)

    run = RunWriter.resume(path)
    assert run.checkpoint is not None
    last_ck = run.checkpoint.step
    assert last_ck % 3 == 2 and last_ck <= batches - 1 and run.next_step == last_ck + 1
    assert run.checkpoint.extra == {"k": last_ck}
    np.testing.assert_array_equal(run.checkpoint.model_state["w"], np.full(3, float(last_ck)))
    with open_run(path) as r:
        assert r.status == "running"  # we hold the writer lock now
    for k in range(run.next_step, batches + 3):
        runfile_child.batch(run, k)
    run.close()

    with open_run(path) as r:
        assert r.status == "completed"
        assert [s["status"] for s in r.sessions] == ["crashed", "completed"]
        assert r.sessions[1]["resumed_from_step"] == last_ck
        steps, _ = r.scalar("loss")
        assert list(steps) == list(range(batches + 3))  # redone steps replace the crashed ones
        all_steps, _ = r.scalar("loss", include_superseded=True)
        assert len(all_steps) > len(steps)  # ... which are still in the file
        keys = [k for k, _ in r.iter_captures("cam")]
        assert keys == list(range(batches + 3))
        for k, rows in r.iter_captures("cam"):
            assert len(rows) == runfile_child.ROWS and (rows.session == (k > last_ck)).all()
    with pytest.raises(RunFileError, match="completed"):
        RunWriter.resume(path)


def test_live_reader_sees_batches_while_writer_runs(tmp_path: Path, procs: list) -> None:
    path = tmp_path / "run.h5"
    proc = start(path, "step")
    procs.append(proc)
    assert proc.stdin is not None
    wait_flushed(proc, 0)
    with open_run(path) as r:
        assert r.live and r.status == "running"
        seen = [r.n_rows("cam")]
        for k in range(1, 4):
            proc.stdin.write("next\n")
            proc.stdin.flush()
            wait_flushed(proc, k)
            r.refresh()
            seen.append(r.n_rows("cam"))
            b = r.captures("cam", rows=slice(-runfile_child.ROWS, None))
            assert (b.step == k).all() and (b.physical == k).all()
            assert list(r.scalar("loss")[0]) == list(range(k + 1))
        assert seen == [4, 8, 12, 16]
        with pytest.raises(RunFileError, match="another live writer"):
            RunWriter.resume(path)  # one writer at a time
        proc.stdin.write("end\n")
        proc.stdin.flush()
        assert proc.stdout is not None and proc.stdout.readline().strip() == "closed"
        proc.wait()
        r.refresh()
        assert r.status == "completed"


def test_aborted_run_resumes_without_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    with pytest.raises(InstrumentTimeout), RunWriter.create(path, scalars=["loss"]) as run:
        run.log_scalars(0, loss=1.0)
        raise InstrumentTimeout("no reply", instrument="chip")  # a hardware fault: aborted
    run = RunWriter.resume(path)
    assert run.checkpoint is None and run.next_step == 0
    run.log_scalars(0, loss=2.0)
    run.close()
    with open_run(path) as r:
        assert list(r.scalar("loss")[1]) == [2.0]  # no checkpoint: the rerun replaces everything
        assert [s["status"] for s in r.sessions] == ["aborted", "completed"]


def test_writer_on_another_host_is_judged_by_its_heartbeat(tmp_path: Path, procs: list,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # A lock taken on another machine (run file on a network share) proves nothing here.
    from hilt.runfile import reader

    path = tmp_path / "run.h5"
    proc = start(path, "step")
    procs.append(proc)
    wait_flushed(proc, 0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (tmp_path / "run.h5.d" / "writer.lock").write_text("4242 some-other-host\n")
    with open_run(path) as r:
        assert r.live  # opened SWMR: the remote writer may still be writing
        assert r.status == "running"  # its heartbeat is fresh
        monkeypatch.setattr(reader, "STALE_AFTER_S", 0.0)
        assert r.status == "crashed"
        assert r.n_rows("cam") == runfile_child.ROWS


def test_writer_never_closed_reads_aborted(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    code = ("import sys; from hilt.runfile import RunWriter; "
            "run = RunWriter.create(sys.argv[1], scalars=['loss']); run.log_scalars(0, loss=1.0)")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    with open_run(path) as r:
        assert r.status == "aborted" and list(r.scalar("loss")[1]) == [1.0]
