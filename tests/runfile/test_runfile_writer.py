"""Round trips: every kind of dataset the run file holds comes back as it went in."""

from __future__ import annotations

import json
import random
from pathlib import Path

import h5py
import numpy as np
import pytest

from hilt.runfile import (
    LAYOUT_VERSION,
    CaptureSpec,
    RunFileError,
    RunWriter,
    capture_rng_state,
    open_run,
    restore_rng_state,
)

SPECS = {
    "mesh_out": CaptureSpec(input_shape=(64,), physical_shape=(64,), twin_shape=(64,)),
    "camera": CaptureSpec(input_shape=(16, 16), physical_shape=(200, 200),
                          input_dtype="uint8", physical_dtype="uint16", compression="lzf"),
}


def make_run(path: Path, **kw: object) -> RunWriter:
    args: dict[str, object] = dict(
        scalars=["loss", "accuracy"], captures=SPECS, seeds={"world": 7, "torch": 0},
        station_snapshot={"laser": {"idn": "Santec,TSL-570", "power_dbm": np.float32(3.0)}},
        config={"lr": 0.01, "epochs": 2}, command_line="hilt train station.yaml",
    )
    args.update(kw)
    return RunWriter.create(path, **args)  # type: ignore[arg-type]


def test_metadata_round_trip(tmp_path: Path) -> None:
    station = tmp_path / "station.yaml"
    station.write_text("instruments: {}\n")
    with make_run(tmp_path / "r.h5", station_file=station) as run:
        run.log_scalars(0, loss=1.0)
    with open_run(tmp_path / "r.h5") as r:
        assert r.status == "completed"
        assert r.layout_version == LAYOUT_VERSION
        assert r.info["seeds"] == {"world": 7, "torch": 0}
        assert r.info["station_snapshot"]["laser"]["power_dbm"] == 3.0
        assert r.info["config"] == {"lr": 0.01, "epochs": 2}
        assert r.info["command_line"] == "hilt train station.yaml"
        assert r.info["station_file_text"] == "instruments: {}\n"
        assert r.end_time is not None and r.end_time >= r.start_time
    # Plain h5py, no hilt: a closed run opens without SWMR and says what it is.
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f.attrs["hilt_format"] == "hilt-run"
        assert f.attrs["layout_version"] == LAYOUT_VERSION
        assert json.loads(f.attrs["seeds"])["world"] == 7
        assert f["run/status"][0] == b"completed"
        assert list(f["scalars/loss"][:]) == [1.0]


def test_scalars_round_trip(tmp_path: Path) -> None:
    with make_run(tmp_path / "r.h5") as run:
        for step in range(5):
            run.log_scalars(step, loss=1.0 / (step + 1), accuracy=np.float32(step / 10))
            run.log_scalars(step, {"timing_s": 0.5}, physical_queries=np.int64(step * 100))
    with open_run(tmp_path / "r.h5") as r:
        assert r.scalar_names == ["loss", "accuracy", "timing_s", "physical_queries"]
        steps, loss = r.scalar("loss")
        assert list(steps) == [0, 1, 2, 3, 4]
        np.testing.assert_allclose(loss, [1.0, 0.5, 1 / 3, 0.25, 0.2])
        steps, q = r.scalar("physical_queries")
        assert list(q) == [0, 100, 200, 300, 400]
        table = r.scalars()
        assert len(table["step"]) == 10 and np.isnan(table["loss"][1])
        np.testing.assert_allclose(r.scalar("accuracy")[1], np.arange(5) / 10, rtol=1e-6)


def test_undeclared_scalars_have_bounded_slots(tmp_path: Path) -> None:
    with make_run(tmp_path / "r.h5", extra_scalar_slots=2) as run:
        run.log_scalars(0, a=1, b=2)
        with pytest.raises(RunFileError, match="declare it"):
            run.log_scalars(1, c=3)
        with pytest.raises(RunFileError, match="reserved"):
            run.log_scalars(1, step=3)
        with pytest.raises(RunFileError, match="not a number"):
            run.log_scalars(1, loss="high")


def test_captures_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sent = []
    with make_run(tmp_path / "r.h5") as run:
        for step in range(6):
            x, y, t = (rng.standard_normal((8, 64)).astype(np.float32) for _ in range(3))
            run.capture("mesh_out", step=step, epoch=step // 3, sample_idx=np.arange(8) + 8 * step,
                        inputs=x, physical=y, twin=t)
            sent.append((x, y, t))
            x[:] = 0  # the caller reuses its buffer at once; the run keeps what was handed over
        frames = rng.integers(0, 4096, size=(3, 200, 200), dtype=np.uint16)
        slm = rng.integers(0, 256, size=(3, 16, 16), dtype=np.uint8)
        run.capture("camera", step=np.array([0, 0, 1]), sample_idx=[5, 6, 7], inputs=slm,
                    physical=frames)
    with open_run(tmp_path / "r.h5") as r:
        assert r.n_rows("mesh_out") == 48
        batch = r.captures("mesh_out")
        assert batch.inputs.dtype == np.float32 and batch.inputs.shape == (48, 64)
        assert list(batch.sample) == list(range(48))
        assert list(batch.epoch) == [0] * 24 + [1] * 24
        for key, rows in r.iter_captures("mesh_out", by="step"):
            _, y, t = sent[key]
            np.testing.assert_array_equal(rows.physical, y)
            np.testing.assert_array_equal(rows.twin, t)
            assert (rows.step == key).all()
        assert [k for k, _ in r.iter_captures("mesh_out", by="epoch")] == [0, 1]
        cam = r.captures("camera")
        assert cam.physical.dtype == np.uint16 and cam.inputs.dtype == np.uint8
        np.testing.assert_array_equal(cam.physical, frames)
        np.testing.assert_array_equal(cam.inputs, slm)
        assert cam.twin is None and list(cam.step) == [0, 0, 1]
        one = r.captures("camera", rows=[2], fields=["physical"])
        assert one.inputs is None and one.physical.shape == (1, 200, 200)


def test_fields_left_out_read_back_as_nan(tmp_path: Path) -> None:
    with make_run(tmp_path / "r.h5") as run:
        run.capture("mesh_out", step=0, sample_idx=np.arange(2), physical=np.ones((2, 64)))
    with open_run(tmp_path / "r.h5") as r:
        b = r.captures("mesh_out")
        assert np.isnan(b.twin).all() and np.isnan(b.inputs).all() and (b.physical == 1).all()


def test_capture_validates_shapes_and_names(tmp_path: Path) -> None:
    with make_run(tmp_path / "r.h5") as run:
        with pytest.raises(RunFileError, match="expected"):
            run.capture("mesh_out", step=0, physical=np.ones((2, 63)))
        with pytest.raises(RunFileError, match="unknown capture stream"):
            run.capture("nope", step=0, physical=np.ones((2, 64)))
        with pytest.raises(RunFileError, match="disagree"):
            run.capture("mesh_out", step=0, physical=np.ones((2, 64)), twin=np.ones((3, 64)))
        with pytest.raises(RunFileError, match="sample_idx has 3"):
            run.capture("mesh_out", step=0, sample_idx=[1, 2, 3], physical=np.ones((2, 64)))
        with pytest.raises(RunFileError, match="does not record"):
            run.capture("camera", step=0, twin=np.ones((1, 200, 200)))
    with pytest.raises(RunFileError, match="invalid scalar name"):
        RunWriter.create(tmp_path / "x.h5", scalars=["a/b"])
    with pytest.raises(RunFileError, match="reserved"):
        RunWriter.create(tmp_path / "x.h5", scalars=["step"])
    with pytest.raises(RunFileError, match="at least one"):
        CaptureSpec()
    with pytest.raises(RunFileError, match="already exists"):
        make_run(tmp_path / "r.h5")


def test_checkpoint_round_trip_with_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    model.register_buffer("scale_bf16", torch.ones(2, dtype=torch.bfloat16))
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    gen = np.random.default_rng(5)
    random.seed(3)
    np.random.seed(4)
    with make_run(tmp_path / "r.h5") as run:
        run.save_checkpoint(10, model.state_dict(), opt.state_dict(),
                            extra={"gen": gen.bit_generator.state, "note": None, "b": b"\x00\x01"})
        expected = (random.random(), np.random.rand(), torch.rand(1).item())
        with torch.no_grad():
            model[0].weight.add_(1.0)  # the checkpoint holds the state at the call, not later
    with open_run(tmp_path / "r.h5") as r:
        assert [c.step for c in r.checkpoints()] == [10]
        ck = r.load_checkpoint()
    assert ck.step == 10
    model[0].weight.data.sub_(1.0)
    for k, v in model.state_dict().items():
        assert ck.model_state[k].dtype == v.dtype
        torch.testing.assert_close(ck.model_state[k], v)
    assert ck.optim_state["param_groups"][0]["betas"] == (0.8, 0.9)
    opt2 = torch.optim.Adam(model.parameters(), lr=0.01)
    opt2.load_state_dict(ck.optim_state)
    assert set(ck.optim_state["state"]) == {0, 1, 2, 3}
    assert ck.extra["gen"] == gen.bit_generator.state  # 128-bit PCG64 state survives
    assert ck.extra["note"] is None and ck.extra["b"] == b"\x00\x01"
    random.seed(99)
    np.random.seed(99)
    restore_rng_state(ck.rng_state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_calibration_tables(tmp_path: Path) -> None:
    start = {"A": np.linspace(0, 1, 8), "alpha": 0.02, "crosstalk": np.eye(8)}
    with make_run(tmp_path / "r.h5", calibrations={"mzi": start}) as run:
        run.add_calibration("slm_lut", {"grey": np.arange(256), "phase": np.linspace(0, 6.28, 256)})
        run.add_calibration("mzi", {**start, "alpha": 0.03})  # a refit later in the run
    with open_run(tmp_path / "r.h5") as r:
        assert r.calibration_names() == ["mzi", "slm_lut"]
        assert r.calibration("mzi")["alpha"] == 0.03
        np.testing.assert_array_equal(r.calibration("slm_lut")["grey"], np.arange(256))
        with pytest.raises(RunFileError, match="no calibration"):
            r.calibration("nope")
    with h5py.File(tmp_path / "r.h5", "r") as f:  # tables given at the start live in the file
        np.testing.assert_array_equal(f["calibration/tables/mzi/crosstalk"][()], np.eye(8))


def test_exit_statuses_and_closed_writer(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), make_run(tmp_path / "a.h5"):
        raise KeyboardInterrupt
    with open_run(tmp_path / "a.h5") as r:
        assert r.status == "aborted"
    run = make_run(tmp_path / "b.h5")
    run.close()
    run.close()  # idempotent
    with pytest.raises(RunFileError, match="closed"):
        run.log_scalars(0, loss=1.0)


def test_rng_state_helpers_round_trip() -> None:
    state = capture_rng_state()
    a = (random.random(), np.random.rand())
    restore_rng_state(state)
    assert (random.random(), np.random.rand()) == a


def test_overwrite_replaces_run_and_its_checkpoints(tmp_path: Path) -> None:
    with make_run(tmp_path / "r.h5") as run:
        run.save_checkpoint(3, {"w": np.ones(2)})
    with make_run(tmp_path / "r.h5", overwrite=True) as run:
        pass
    with open_run(tmp_path / "r.h5") as r:
        assert r.checkpoints() == []
    assert not list((tmp_path / "r.h5.d" / "checkpoints").glob("*.h5"))


def test_recycled_buffers_and_handover_keep_every_batch(tmp_path: Path) -> None:
    # Many batches of varying size go through the writer's recycled copy buffers; the loop
    # overwrites its own buffer after each call. copy=False hands arrays over without a copy.
    rng = np.random.default_rng(2)
    buf = np.empty((7, 64), dtype=np.float32)
    expected = []
    with make_run(tmp_path / "r.h5", queue_bytes=20_000) as run:  # a tiny queue: backpressure
        for step in range(60):
            n = 1 + step % 7
            buf[:n] = rng.standard_normal((n, 64))
            run.capture("mesh_out", step=step, physical=buf[:n])
            own = rng.standard_normal((n, 64)).astype(np.float32)
            run.capture("mesh_out", step=step, physical=own, copy=False)
            expected += [buf[:n].copy(), own]
    with open_run(tmp_path / "r.h5") as r:
        np.testing.assert_array_equal(r.captures("mesh_out").physical, np.concatenate(expected))


def test_capture_accepts_torch_and_converts_dtypes(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    with make_run(tmp_path / "r.h5") as run:
        run.capture("mesh_out", step=0, inputs=torch.ones(2, 64, dtype=torch.bfloat16),
                    physical=torch.full((2, 64), 0.5, dtype=torch.float64, requires_grad=True),
                    twin=np.full((2, 64), 3, dtype=np.int64))
        run.log_scalars(0, loss=torch.tensor(0.25))
    with open_run(tmp_path / "r.h5") as r:
        b = r.captures("mesh_out")
        assert b.physical.dtype == np.float32 and (b.physical == 0.5).all()
        assert (b.inputs == 1).all() and (b.twin == 3).all()
        assert list(r.scalar("loss")[1]) == [0.25]


def test_complex_and_small_dtypes_round_trip(tmp_path: Path) -> None:
    spec = CaptureSpec(input_shape=(3,), input_dtype="complex64", physical_shape=(3,),
                       physical_dtype="uint8", twin_shape=(3,), twin_dtype="float16")
    with RunWriter.create(tmp_path / "r.h5", captures={"field": spec}) as run:
        run.capture("field", step=0, inputs=np.array([[1 + 2j, 3j, 1]]),
                    physical=np.array([[1, 2, 255]]), twin=np.ones((1, 3)))
        run.capture("field", step=1, physical=np.zeros((1, 3)))
    with open_run(tmp_path / "r.h5") as r:
        b = r.captures("field")
        assert b.inputs.dtype == np.complex64 and b.inputs[0, 0] == 1 + 2j
        assert np.isnan(b.inputs[1]).all()  # complex fields left out read back as NaN too
        assert b.physical.dtype == np.uint8 and list(b.physical[0]) == [1, 2, 255]
        assert b.twin.dtype == np.float16 and np.isnan(b.twin[1]).all()
