"""Layout minor 2, for plain readers: epoch summaries in their own table, every scalar its own
dataset, a ``units`` attribute on every dataset, one set of status words; and files of minor 1
(epoch summaries as rows of /scalars) read and upgraded when resumed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from hilt.errors import InstrumentTimeout, LimitError, Terminated
from hilt.runfile import LAYOUT_MINOR, CaptureSpec, RunWriter, open_run
from hilt.runfile import status as run_status


def _every_dataset(f: h5py.File) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}
    f.visititems(lambda name, obj: found.__setitem__(name, obj)
                 if isinstance(obj, h5py.Dataset) else None)
    return found


def test_epoch_summaries_have_their_own_table(tmp_path: Path) -> None:
    path = tmp_path / "r.h5"
    with RunWriter.create(path, scalars={"loss": "1", "epoch": "1"},
                          epoch_scalars={"loss_mean": "1", "test_accuracy": "1"}) as run:
        for step in range(6):
            run.log_scalars(step, loss=6.0 - step, epoch=step // 3)
            if step % 3 == 2:
                run.log_epoch(step // 3, step, loss_mean=6.0 - step + 1, test_accuracy=0.5)
    # Plain h5py: per-step loss against step is monotonic, no summary rows in between.
    with h5py.File(path, "r") as f:
        n = dict(zip(json.loads(f["run/committed"].attrs["tables"]), f["run/committed"][:], strict=True))
        assert list(f["scalars/step"][: n["scalars"]]) == [0, 1, 2, 3, 4, 5]
        assert list(f["scalars/loss"][: n["scalars"]]) == [6, 5, 4, 3, 2, 1]
        assert list(f["epochs/epoch"][: n["epochs"]]) == [0, 1]
        assert list(f["epochs/step"][: n["epochs"]]) == [2, 5]
        assert list(f["epochs/loss_mean"][: n["epochs"]]) == [5.0, 2.0]
        assert json.loads(f.attrs["epoch_names"]) == ["loss_mean", "test_accuracy"]
    with open_run(path) as r:
        assert r.layout_minor == LAYOUT_MINOR == 2
        assert list(r.scalar("loss")[0]) == [0, 1, 2, 3, 4, 5]
        ep = r.epochs()
        assert list(ep["epoch"]) == [0, 1] and list(ep["test_accuracy"]) == [0.5, 0.5]
        assert r.summary()["last_epoch"] == {"epoch": 1, "step": 5, "loss_mean": 2.0,
                                             "test_accuracy": 0.5}


def test_every_dataset_has_units(tmp_path: Path) -> None:
    path = tmp_path / "r.h5"
    spec = CaptureSpec(input_shape=(2,), physical_shape=(3,), physical_unit="V")
    with RunWriter.create(path, scalars=["loss", "frequency_hz", "measured_dbm", "r2"],
                          captures={"lockin": spec}, calibrations={"phase": {"a": np.ones(2)}}) as run:
        run.log_scalars(0, loss=1.0, frequency_hz=1e9)
        run.capture("lockin", step=0, inputs=np.ones((1, 2)), physical=np.ones((1, 3)))
        run.record_fault(step=0, instrument="lockin", error_type="InstrumentTimeout",
                         message="late", outcome="retried")
    with h5py.File(path, "r") as f:
        missing = [name for name, ds in _every_dataset(f).items() if "units" not in ds.attrs]
        assert missing == []
        units = {name: ds.attrs["units"] for name, ds in _every_dataset(f).items()}
    assert units["scalars/frequency_hz"] == "Hz" and units["scalars/measured_dbm"] == "dBm"
    assert units["scalars/loss"] == "" and units["scalars/r2"] == ""  # not told: none
    assert units["scalars/step"] == "1" and units["scalars/time"] == "s"
    assert units["captures/lockin/physical"] == "V" and units["captures/lockin/inputs"] == ""
    assert units["faults/time"] == "s" and units["faults/message"] == ""
    assert units["run/heartbeat"] == "s"
    with open_run(path) as r:
        assert r.unit("frequency_hz") == "Hz"
        ds = r.to_xarray()
        assert ds["scalar_frequency_hz"].attrs["units"] == "Hz"
        assert ds["lockin_physical"].attrs["units"] == "V"


def test_undeclared_scalars_get_their_own_dataset_when_the_session_ends(tmp_path: Path) -> None:
    path = tmp_path / "r.h5"
    with RunWriter.create(path, scalars=["loss"]) as run:
        run.log_scalars(0, loss=1.0, sim_before=0.2)
        run.log_scalars(1, loss=0.5, sim_before=0.3, step_time_s=0.01)
        run.log_epoch(0, 1, loss_mean=0.75)  # not declared either
    with h5py.File(path, "r") as f:
        assert list(f["scalars/sim_before"][:2]) == [0.2, 0.3]
        assert np.isnan(f["scalars/step_time_s"][0]) and f["scalars/step_time_s"][1] == 0.01
        assert f["scalars/step_time_s"].attrs["units"] == "s"
        assert list(f["epochs/loss_mean"][:1]) == [0.75]
        assert json.loads(f.attrs["scalar_names"]) == ["loss", "sim_before", "step_time_s"]
        assert not any(f["scalars/_extra_names"][:])  # the slots are free again
        assert np.all(np.isnan(f["scalars/_extra"][:]))
    with open_run(path) as r:
        assert r.scalar_names == ["loss", "sim_before", "step_time_s"]
        assert list(r.scalar("sim_before")[1]) == [0.2, 0.3]


def test_a_reader_in_this_process_sees_them_move(tmp_path: Path) -> None:
    path = tmp_path / "r.h5"
    run = RunWriter.create(path, scalars=["loss"])
    run.log_scalars(0, loss=1.0, extra_a=2.0)
    run.flush()
    with open_run(path) as live:  # the app's Runs tab follows a run its own Training tab writes
        assert live.live and list(live.scalar("extra_a")[1]) == [2.0]
        run.close("completed")
        live.refresh()
        assert live.scalar_names == ["loss", "extra_a"]
        assert list(live.scalar("extra_a")[1]) == [2.0]
    with h5py.File(path, "r") as f:
        assert list(f["scalars/extra_a"][:1]) == [2.0]


HOLDER = """
import sys, h5py
f = h5py.File(sys.argv[1], "r", swmr=True)
print("open", flush=True)
sys.stdin.readline()
"""


def test_another_program_holding_the_file_leaves_them_in_extra_until_a_resume(
        tmp_path: Path) -> None:
    path = tmp_path / "r.h5"
    run = RunWriter.create(path, scalars=["loss"])
    run.log_scalars(0, loss=1.0, extra_a=2.0)
    run.save_checkpoint(0, {"w": np.ones(1)})
    run.flush()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        run.close("aborted", "stopped")  # HDF5's lock: someone has it open, nothing moves
    finally:
        holder.communicate("\n", timeout=30)
    with h5py.File(path, "r") as f:
        assert "extra_a" not in f["scalars"]
    with open_run(path) as r:
        assert r.status == "aborted" and list(r.scalar("extra_a")[1]) == [2.0]
    run = RunWriter.resume(path)  # a resume has the file to itself: done here
    run.log_scalars(1, loss=0.5, extra_a=3.0)
    run.close()
    with h5py.File(path, "r") as f:
        assert list(f["scalars/extra_a"][:2]) == [2.0, 3.0]
    with open_run(path) as r:
        assert r.scalar_names == ["loss", "extra_a"]
        assert list(r.scalar("extra_a")[1]) == [2.0, 3.0]


def _as_minor_1(path: Path) -> None:
    """Strip what minor 2 added, leaving the file as hilt wrote it before."""
    with h5py.File(path, "r+") as f:
        del f["epochs"], f.attrs["epoch_names"]
        f.attrs["layout_minor"] = 1
        tables = json.loads(f["run/committed"].attrs["tables"])
        counts = f["run/committed"][:]
        keep = [i for i, t in enumerate(tables) if t != "epochs"]
        del f["run/committed"]
        ds = f["run"].create_dataset("committed", data=counts[keep])
        ds.attrs["tables"] = json.dumps([tables[i] for i in keep])


def test_a_minor_1_file_shows_its_epoch_rows_as_the_epoch_table(tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    # As the loops wrote it before minor 2: each epoch's summary a row of /scalars, logged at
    # the epoch's last step without "epoch", its mean loss under "loss".
    run = RunWriter.create(path, scalars=["loss", "epoch", "physical_queries", "test_accuracy"])
    for step in range(4):
        run.log_scalars(step, loss=4.0 - step, epoch=step // 2, physical_queries=10 * step)
        if step % 2 == 1:
            run.log_scalars(step, loss=4.5 - step, physical_queries=10 * step, test_accuracy=0.25)
    run.save_checkpoint(3, {"w": np.ones(1)})
    run.close("aborted", "stopped")
    _as_minor_1(path)
    with open_run(path) as r:
        assert r.layout_minor == 1
        steps, loss = r.scalar("loss")
        assert list(steps) == [0, 1, 2, 3] and list(loss) == [4, 3, 2, 1]  # no zigzag
        assert r.epoch_names == ["loss_mean", "physical_queries", "test_accuracy"]
        ep = r.epochs()
        assert list(ep["epoch"]) == [0, 1] and list(ep["step"]) == [1, 3]
        assert list(ep["loss_mean"]) == [3.5, 1.5] and list(ep["test_accuracy"]) == [0.25, 0.25]
        assert "test_accuracy" not in r.summary()["last_scalars"]
    run = RunWriter.resume(path)  # upgraded in place; the old rows are told apart still
    run.log_scalars(4, loss=0.5, epoch=2)
    run.log_epoch(2, 4, loss_mean=0.5, test_accuracy=0.75)
    run.close()
    with open_run(path) as r:
        assert r.layout_minor == LAYOUT_MINOR
        assert list(r.scalar("loss")[0]) == [0, 1, 2, 3, 4]
        ep = r.epochs()
        assert list(ep["epoch"]) == [0, 1, 2] and list(ep["loss_mean"]) == [3.5, 1.5, 0.5]
    with h5py.File(path, "r") as f:
        assert f["scalars"].attrs["legacy_rows"] == 6
        assert all("units" in ds.attrs for ds in _every_dataset(f).values())


@pytest.mark.parametrize(("error", "status", "reason"), [
    (KeyboardInterrupt(), "aborted", "interrupted (SIGINT)"),
    (InstrumentTimeout("no reply", instrument="chip"), "aborted", "InstrumentTimeout: chip: no reply"),
    (LimitError("5 V above 4 V"), "aborted", "LimitError: 5 V above 4 V"),
    (RuntimeError("a bug"), "failed", "RuntimeError: a bug"),
])
def test_one_rule_for_the_status_a_run_ends_with(tmp_path: Path, error: BaseException,
                                                 status: str, reason: str) -> None:
    assert run_status.ending(error) == (status, reason)
    path = tmp_path / "r.h5"
    with pytest.raises(type(error)), RunWriter.create(path):
        raise error
    with open_run(path) as r:
        assert (r.status, r.reason) == (status, reason)
        assert r.status in run_status.STATUSES


def test_an_operators_stop_and_a_signal_are_aborted() -> None:
    class CalibrationAborted(Exception):
        pass

    class Stop(Exception):
        run_status = "aborted"

    assert run_status.ending(CalibrationAborted("heaters: aborted"))[0] == "aborted"
    assert run_status.ending(Stop())[0] == "aborted"
    terminated = Terminated(15) if Terminated.__init__ is not KeyboardInterrupt.__init__ else None
    if terminated is not None:
        assert run_status.ending(terminated) == ("aborted", "interrupted (SIGTERM)")


def test_runs_list_explains_every_status_word_and_show_prints_units_and_epochs(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hilt.runfile.cli import runs

    helped = CliRunner().invoke(runs, ["list", "--help"]).output
    for word in run_status.STATUSES:
        assert f"\n    {word} " in helped
    path = tmp_path / "r.h5"
    with RunWriter.create(path, scalars={"loss": "1", "step_time_s": None},
                          epoch_scalars={"test_accuracy": "1"}) as run:
        run.log_scalars(0, loss=0.5, step_time_s=0.25)
        run.log_epoch(0, 0, test_accuracy=0.75)
    shown = CliRunner().invoke(runs, ["show", str(path)]).output
    assert "  loss:         0.5 (last)" in shown
    assert "  step_time_s:  0.25 s (last)" in shown
    assert "epochs:         1 summaries (last: epoch 0, step 0)" in shown
    assert "  test_accuracy:0.75" in shown
