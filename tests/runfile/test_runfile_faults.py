"""Layout minor 1: the fault table, the reason each session ended, the ``failed`` status, and
files of minor 0 (written before these existed) read and resumed."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from hilt.runfile import LAYOUT_MINOR, LAYOUT_VERSION, RunFileError, RunWriter, open_run
from hilt.runfile.cli import runs


def test_faults_and_reason_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    run = RunWriter.create(path, scalars=["loss"])
    run.log_scalars(0, loss=1.0)
    run.record_fault(step=3, epoch=0, retry=0, instrument="chip", command=b"type 0x20",
                     error_type="InstrumentTimeout", message="no reply within 30 s",
                     outcome="retried", when=1000.0)
    run.record_fault(step=3, epoch=0, retry=1, instrument="chip", command="type 0x20",
                     error_type="InstrumentTimeout", message="x" * 2000, outcome="aborted")
    with pytest.raises(RunFileError, match="outcome 'maybe'"):
        run.record_fault(outcome="maybe")
    run.close("failed", "InstrumentTimeout: chip: no reply, after 1 retries")
    with open_run(path) as r:
        assert r.status == "failed" and r.stored_status == "failed"
        assert r.reason == "InstrumentTimeout: chip: no reply, after 1 retries"
        assert r.sessions[0]["reason"] == r.reason and r.sessions[0]["status"] == "failed"
        assert (r.layout_version, r.layout_minor) == (LAYOUT_VERSION, LAYOUT_MINOR)
        first, second = r.faults()
        assert (first.time, first.session, first.step, first.epoch, first.retry) == (1000.0, 0, 3, 0, 0)
        assert (first.instrument, first.command, first.error_type, first.outcome) == (
            "chip", "type 0x20", "InstrumentTimeout", "retried")
        assert second.message.endswith("...") and len(second.message) <= 512
        assert second.outcome == "aborted"
        r.export_npz(tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as npz:
        assert list(npz["faults/retry"]) == [0, 1]
        assert json.loads(str(npz["metadata"]))["reason"].startswith("InstrumentTimeout")
    # plain h5py, as docs/run-file.md describes it
    with h5py.File(path, "r") as f:
        counts = dict(zip(json.loads(f["run/committed"].attrs["tables"]), f["run/committed"][:], strict=True))
        assert counts["faults"] == 2
        assert list(f["faults/outcome"][: counts["faults"]]) == [b"retried", b"aborted"]
        assert f["run/reasons"][0].startswith(b"InstrumentTimeout")


def test_runs_show_prints_the_reason_and_the_faults(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    with pytest.raises(RuntimeError), RunWriter.create(path, scalars=["loss"]) as run:
        run.record_fault(step=1, instrument="heaters", command="V3 1.5", error_type="ProtocolError",
                         message="garbled reply", outcome="retried")
        raise RuntimeError("the disk is full")
    shown = CliRunner().invoke(runs, ["show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "reason:         RuntimeError: the disk is full" in shown.output
    assert "faults:         1 (1 retried)" in shown.output
    assert "step 1, retry 0: heaters [V3 1.5] ProtocolError: garbled reply -> retried" in shown.output
    as_json = json.loads(CliRunner().invoke(runs, ["show", str(path), "--json"]).output)
    assert as_json["faults"][0]["instrument"] == "heaters" and as_json["status"] == "failed"


def test_a_crashed_session_gets_its_reason_at_resume(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "run.h5"
    code = ("import os, sys; from hilt.runfile import RunWriter; "
            "run = RunWriter.create(sys.argv[1], scalars=['loss']); run.log_scalars(0, loss=1.0); "
            "run.flush(); os._exit(0)")  # no close, no atexit: as a kill leaves it
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    with open_run(path) as r:
        assert r.status == "crashed" and r.reason == ""
    run = RunWriter.resume(path)
    run.close("completed")
    with open_run(path) as r:
        assert [s["status"] for s in r.sessions] == ["crashed", "completed"]
        assert r.sessions[0]["reason"].startswith("crashed: the writer stopped without closing")
        assert r.reason == ""


def _as_minor_0(path: Path) -> None:
    """Strip what minor 1 added, leaving the file as hilt wrote it before."""
    with h5py.File(path, "r+") as f:
        del f["faults"], f["run/reasons"], f.attrs["layout_minor"]
        tables = json.loads(f["run/committed"].attrs["tables"])
        counts = f["run/committed"][:]
        keep = [i for i, t in enumerate(tables) if t != "faults"]
        del f["run/committed"]
        ds = f["run"].create_dataset("committed", data=counts[keep])
        ds.attrs["tables"] = json.dumps([tables[i] for i in keep])


def test_a_minor_0_file_is_read_and_upgraded_when_resumed(tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    run = RunWriter.create(path, scalars=["loss"])
    run.log_scalars(0, loss=1.0)
    run.save_checkpoint(0, {"w": np.ones(2)})
    run.close("aborted")
    _as_minor_0(path)
    with open_run(path) as r:
        assert r.layout_minor == 0 and r.status == "aborted"
        assert r.faults() == [] and r.reason == "" and r.sessions[0]["reason"] == ""
        assert r.summary()["faults"] == []
    run = RunWriter.resume(path)
    assert run.checkpoint is not None and run.checkpoint.step == 0
    run.log_scalars(1, loss=0.5)
    run.record_fault(step=1, instrument="chip", error_type="ConnectError", message="dropped",
                     outcome="retried")
    run.close("completed")
    with open_run(path) as r:
        assert r.layout_minor == LAYOUT_MINOR and r.status == "completed"
        assert [f.message for f in r.faults()] == ["dropped"] and r.faults()[0].session == 1
        assert list(r.scalar("loss")[1]) == [1.0, 0.5]
        assert [s["reason"] for s in r.sessions] == ["", ""]
