"""Training loops: data, PAT gradient, DAT error prediction, resume, abort, query counting,
and the demo's JSON shape. Small networks (8 ports) and few samples keep this fast."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

from hilt.instruments.mesh_processor import LocalMeshProcessor, phases_of
from hilt.loops.core import (
    LoopControl,
    TrainSettings,
    encode,
    evaluate_physical,
    evaluate_twin,
    make_model,
)
from hilt.loops.dat import (
    DATSettings,
    corrected_forward,
    make_predictors,
    similarity_loss,
    train_dat,
)
from hilt.loops.data import (
    Dataset,
    amplitude_encode,
    downsample,
    int8_encode,
    load_digits,
    load_idx_dataset,
    phase_encode,
    read_idx,
    spike_encode,
    write_idx,
)
from hilt.loops.head import ClassifierHead
from hilt.loops.insilico import train_insilico
from hilt.loops.pat import physical_forward, substitute, train_pat
from hilt.loops.zeroth_order import ZOSettings, train_zeroth_order
from hilt.sims.physics import EOActivation, MZINetwork

torch.set_num_threads(1)
N = 8


def tiny_data(n_train: int = 48, n_test: int = 24) -> Dataset:
    d = load_digits(seed=0)
    pool = lambda a: a.reshape(-1, 8, 8)[:, 2:6, 2:6].reshape(-1, 4, 2, 2, 2).mean((2, 4))  # noqa: E731
    return Dataset("tiny", pool(d.x_train[:n_train]).reshape(-1, 4).repeat(2, 1),
                   d.y_train[:n_train] % 4, pool(d.x_test[:n_test]).reshape(-1, 4).repeat(2, 1),
                   d.y_test[:n_test] % 4, n_classes=4)


def network(seed: int = 0) -> MZINetwork:
    net = MZINetwork.build(N, 2, seed=seed)
    assert isinstance(net.activation, EOActivation)  # the default operating point trains
    return net


# -- data ---------------------------------------------------------------------------------


def test_digits_split_is_deterministic_and_stratified() -> None:
    a, b, c = load_digits(seed=3), load_digits(seed=3), load_digits(seed=4)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_train, c.y_train)
    assert a.x_train.shape[1] == 64 and len(a.y_train) + len(a.y_test) == 1797
    frac = np.bincount(a.y_test) / np.bincount(np.concatenate([a.y_train, a.y_test]))
    assert np.all(np.abs(frac - 0.25) < 0.02)
    assert a.x_train.min() >= 0 and a.x_train.max() <= 1


def test_idx_parser_round_trip_and_mnist_loader(tmp_path) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", imgs)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", imgs[:2])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:2])
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03" and raw[4:8] == (5).to_bytes(4, "big")
    np.testing.assert_array_equal(read_idx(tmp_path / "train-images-idx3-ubyte"), imgs)
    floats = np.linspace(-1, 1, 6, dtype=">f4").reshape(2, 3)
    write_idx(tmp_path / "f.idx", floats.astype(np.float32))
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)
    d = load_idx_dataset(tmp_path, n_features=16)
    assert d.x_train.shape == (5, 16) and d.x_test.shape == (2, 16)
    np.testing.assert_allclose(d.x_train[0, 0], imgs[0, :7, :7].mean() / 255, rtol=1e-5)
    np.testing.assert_array_equal(d.y_train, labels)
    (tmp_path / "bad").write_bytes(b"\x01\x00\x08\x01")
    with pytest.raises(ValueError):
        read_idx(tmp_path / "bad")
    assert downsample(imgs, 64, crop=2).shape == (5, 64)


def test_encodings() -> None:
    x = np.array([[3.0, 4.0, -1.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    a = amplitude_encode(x, 4, power=2.0)
    assert a.dtype == torch.complex64 and a.shape == (2, 4)
    np.testing.assert_allclose(a[0].abs().square().sum(), 2.0, rtol=1e-6)
    assert float(a[0, 2].abs()) == 0 and float(a[1].abs().sum()) == 0
    p = phase_encode(np.full((1, 4), 0.5), (4, 6))
    np.testing.assert_allclose(p.abs(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p[0, 1, 2].angle(), math.pi / 2, rtol=1e-6)
    s = spike_encode(np.array([[0.0, 1.0]]), steps=5, seed=1)
    assert s.shape == (5, 1, 2) and s[:, 0, 0].sum() == 0 and s[:, 0, 1].sum() == 5
    assert int8_encode(np.array([1.0, 0.5])).tolist() == [127, 64]


def test_head_ports_and_groups() -> None:
    h = ClassifierHead(6, 2, groups=[[0, 1], [2, 3]], scale=1.0, learn_scale=False)
    out = h(torch.tensor([[1.0, 1.0, 2.0, 0.0, 9.0, 9.0]]))
    np.testing.assert_allclose(out.detach(), [[0.5, 0.5]])
    h2 = ClassifierHead(6, 2, ports=[4, 5], scale=2.0)
    np.testing.assert_allclose(h2(torch.tensor([[0, 0, 0, 0, 1.0, 3.0]])).detach(), [[0.5, 1.5]])


# -- PAT ----------------------------------------------------------------------------------


def test_pat_gradient_equals_twin_gradient_when_hardware_is_twin() -> None:
    net = network()
    model = make_model(net.twin(), 4)
    proc = LocalMeshProcessor(net.with_errors("none", seed=1))
    x = amplitude_encode(np.random.default_rng(0).random((6, N)), N)
    w = torch.randn(6, N, generator=torch.Generator().manual_seed(0))
    params = model.phase_parameters()

    def grads(out: torch.Tensor) -> list[torch.Tensor]:
        return torch.autograd.grad((out * w).sum(), params)

    g_twin = grads(model.twin(x, "columns"))
    proc.load_phases(model.phases())
    measured = torch.as_tensor(proc.run(x.numpy())[0])
    g_sub = grads(substitute(model.twin(x, "columns"), measured))
    g_fn = grads(physical_forward(proc, model.twin, x))
    for a, b, c in zip(g_twin, g_sub, g_fn, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-6)
    # and the forward value is the measured one, not the twin's, on an erroneous chip
    bad = LocalMeshProcessor(net.with_errors("dat-0.10", seed=1))
    out = physical_forward(bad, model.twin, x)
    bad.load_phases(model.phases())
    np.testing.assert_allclose(out.detach().numpy(), bad.run(x.numpy())[0])


# -- DAT ----------------------------------------------------------------------------------


def test_dat_error_predictor_reduces_similarity_loss() -> None:
    net = network()
    twin = net.twin()
    proc = LocalMeshProcessor(net.with_errors("dat-0.10", seed=2))
    proc.load_phases(phases_of(twin))
    x = amplitude_encode(np.random.default_rng(1).random((64, N)), N)
    meas, states = proc.run(x.numpy(), internal=True)
    meas, states = torch.as_tensor(meas), [torch.as_tensor(s) for s in states]
    for p in twin.parameters():
        p.requires_grad_(False)
    preds = make_predictors(N, 2, "linear")
    opt = torch.optim.Adam(preds.parameters(), lr=0.02)

    def loss() -> torch.Tensor:
        out, st = corrected_forward(twin, preds, x, "matrix")
        return similarity_loss(out, meas) + similarity_loss(st[0], states[0])

    with torch.no_grad():
        before = float(loss())
    for _ in range(150):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        after = float(loss())
    assert before > 0.05
    assert after < 0.2 * before


def test_dat_modes_run_and_count_queries() -> None:
    data = tiny_data(24, 12)
    net = network()
    for mode in ("output", "internal", "block"):
        proc = LocalMeshProcessor(net.with_errors("dat-0.10", seed=1))
        s = DATSettings(epochs=1, batch_size=8, mode=mode, warmup_batches=1, warmup_steps=2,
                        predictor="mlp" if mode == "block" else "linear")
        r = train_dat(proc, net.twin(), data, s)
        # warm-up batch (8) + 3 training batches (24), each measured once
        assert r.physical_queries == 32 and r.physical_calls == 4
        assert 0.0 <= r.accuracy <= 1.0


# -- zeroth order and query counting -------------------------------------------------------


def test_query_counting_spsa_fd_pat() -> None:
    data = tiny_data(16, 8)
    net = network()
    proc = LocalMeshProcessor(net.with_errors("dat-0.06", seed=1))
    r = train_zeroth_order(proc, net.twin(), data,
                           ZOSettings(epochs=1, batch_size=8, eval_every_epoch=False))
    assert r.physical_queries == 2 * 16 and r.physical_calls == 4  # +- per batch
    proc = LocalMeshProcessor(net.with_errors("dat-0.06", seed=1))
    r = train_zeroth_order(proc, net.twin(), data,
                           ZOSettings(epochs=1, batch_size=8, estimator="fd", fd_coords=3,
                                      eval_every_epoch=False))
    assert r.physical_queries == 2 * 3 * 16
    proc = LocalMeshProcessor(net.with_errors("dat-0.06", seed=1))
    r = train_pat(proc, net.twin(), data, TrainSettings(epochs=2, batch_size=8))
    assert r.physical_queries == 32 and r.physical_calls == 4
    # per-epoch evaluation on the hardware is not counted as training queries, but is made
    assert proc.queries.samples == 32 + 2 * 8 + 8
    r = train_insilico(net.twin(), data, TrainSettings(epochs=1, batch_size=8))
    assert r.physical_queries == 0 and math.isnan(r.accuracy)


# -- control, checkpoints, resume ---------------------------------------------------------


class _Crash(Exception):
    pass


@pytest.mark.parametrize("method", ["pat", "dat", "spsa"])
def test_resume_after_crash_is_bit_exact(tmp_path, method: str) -> None:
    data = tiny_data(24, 8)
    net = network()

    def run(path, epochs: int, resume: bool = False, progress=None):  # noqa: ANN001, ANN202
        proc = LocalMeshProcessor(net.with_errors("dat-0.10", seed=1))
        kw = dict(epochs=epochs, batch_size=8, eval_every_epoch=False, lr_decay=0.5)
        if method == "pat":
            return train_pat(proc, net.twin(), data, TrainSettings(**kw), run_path=path,
                             resume=resume, progress=progress)
        if method == "dat":
            return train_dat(proc, net.twin(), data,
                             DATSettings(warmup_batches=1, warmup_steps=2, **kw),
                             run_path=path, resume=resume, progress=progress)
        return train_zeroth_order(proc, net.twin(), data, ZOSettings(**kw), run_path=path,
                                  resume=resume, progress=progress)

    full = run(str(tmp_path / "full.h5"), 2)

    def crash_after_first_epoch(p) -> None:  # noqa: ANN001
        if p.end_of_epoch and p.epoch == 0:
            raise _Crash()

    path = str(tmp_path / "crashed.h5")
    with pytest.raises(_Crash):
        run(path, 2, progress=crash_after_first_epoch)
    resumed = run(path, 2, resume=True)
    assert resumed.physical_queries == full.physical_queries
    assert len(resumed.history) == 2
    for k, v in full.model_state.items():
        assert torch.equal(v, resumed.model_state[k]), k


class _SpyProcessor(LocalMeshProcessor):
    safe_calls = 0

    def safe_state(self) -> None:
        self.safe_calls += 1


def test_abort_calls_safe_state() -> None:
    data = tiny_data(32, 8)
    net = network()
    proc = _SpyProcessor(net.with_errors("dat-0.10", seed=1))
    control = LoopControl()
    seen = []

    def progress(p) -> None:  # noqa: ANN001
        seen.append(p.batch)
        if p.step == 1:
            control.abort()

    r = train_pat(proc, net.twin(), data, TrainSettings(epochs=3, batch_size=8),
                  control=control, progress=progress)
    assert r.aborted and proc.safe_calls == 1 and seen == [0, 1]


def _wait_until_paused(thread: threading.Thread, deadline_s: float = 30.0) -> None:
    """Return once ``thread`` is inside :meth:`LoopControl.checkpoint` (its stack, as the
    interpreter sees it), where a paused loop blocks: a condition, not a fixed wait."""
    import sys
    import time

    code = LoopControl.checkpoint.__code__
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and thread.is_alive():
        frame = sys._current_frames().get(thread.ident)
        while frame is not None:
            if frame.f_code is code:
                return
            frame = frame.f_back
        time.sleep(0.001)  # how often the condition above is polled; no timing is assumed
    raise AssertionError("the loop never blocked in LoopControl.checkpoint()")


def test_a_paused_loop_makes_no_query_until_resumed() -> None:
    """Paused before its first query, and again from its own progress report after two steps,
    the loop blocks before the next physical query: the chip counts no query while it is
    paused, and the run makes every one of its queries once resumed."""
    data = tiny_data(32, 8)
    net = network()
    proc = LocalMeshProcessor(net.with_errors("none", seed=1))
    control = LoopControl()
    paused_again = threading.Event()
    at_pause: list[int] = []

    def progress(p) -> None:  # noqa: ANN001
        if p.step == 1 and not paused_again.is_set():
            control.pause()  # in the loop's own thread: no query can slip in after this
            at_pause.append(proc.queries.calls)
            paused_again.set()

    result = {}
    control.pause()
    th = threading.Thread(target=lambda: result.setdefault("r", train_pat(
        proc, net.twin(), data, TrainSettings(epochs=1, batch_size=8), control=control,
        progress=progress)))
    th.start()
    _wait_until_paused(th)
    assert proc.queries.calls == 0 and proc.queries.samples == 0  # none before the first
    control.resume()
    assert paused_again.wait(60)
    _wait_until_paused(th)  # the only checkpoint it can be in now is the blocking one
    assert at_pause == [2] and proc.queries.calls == 2  # two steps; none since the pause
    control.resume()
    th.join(60)
    assert not th.is_alive()
    r = result["r"]
    assert not r.aborted and r.physical_queries == 32 and r.physical_calls == 4


def test_pat_and_dat_beat_the_deployed_model_on_an_erroneous_chip() -> None:
    """The point of training with the chip in the loop: a model trained in silico loses accuracy
    when deployed on a chip with phase-shifter and beam-splitter errors (sigma 0.10); physics-
    aware training and DAT (with internal states) on that chip win most of it back.

    Measured with these seeds (8 ports, 2 meshes, 4 classes, 240 training and 200 test
    samples): twin 64.0 %, deployed 37.5 %, PAT 64.5 %, DAT 65.0 %. Two other network seeds
    and another chip kept both margins above 14 points; the test asks for 10. With the
    sum-normalised head it was measured with: with the DAT benchmark's head ("dat-l2") this
    tiny network loses little on deployment (twin 61 %, deployed 51-63 % on three chips), so
    there is nothing to win back; the benchmark's own numbers are in BENCHMARKS.md.
    """
    data = tiny_data(240, 200)
    net = network(seed=0)
    power = float(N)  # mean power 1 per port: where the EO activation works
    head = "sum-norm-temperature"
    insilico = train_insilico(net.twin(), data, TrainSettings(
        epochs=10, batch_size=16, lr=0.01, input_power=power, eval_every_epoch=False, head=head))
    model = make_model(net.twin(), data.n_classes, head_name=head)
    model.load_state_dict(insilico.model_state)
    _, _, x_test, y_test = encode(data, N, power)
    chip = net.with_errors("dat-0.10", seed=2)
    twin_accuracy = evaluate_twin(model, x_test, y_test)
    deployed = evaluate_physical(LocalMeshProcessor(chip), model, x_test, y_test)
    assert deployed < twin_accuracy - 0.15, "the chip's errors should cost the deployed model accuracy"
    fine = dict(epochs=3, batch_size=16, lr=0.005, head_lr=0.0, input_power=power,
                eval_every_epoch=False, head=head)
    pat = train_pat(LocalMeshProcessor(chip), net.twin(), data, TrainSettings(**fine),
                    init_state=insilico.model_state)
    dat = train_dat(LocalMeshProcessor(chip), net.twin(), data, DATSettings(mode="internal", **fine),
                    init_state=insilico.model_state)
    assert pat.accuracy >= deployed + 0.10, (deployed, pat.accuracy)
    assert dat.accuracy >= deployed + 0.10, (deployed, dat.accuracy)


def test_run_file_records_captures_and_checkpoints(tmp_path) -> None:
    h5py = pytest.importorskip("h5py")
    data = tiny_data(16, 8)
    net = network()
    proc = LocalMeshProcessor(net.with_errors("dat-0.10", seed=1))
    path = tmp_path / "pat.h5"
    train_pat(proc, net.twin(), data, TrainSettings(epochs=1, batch_size=8, capture_samples=4),
              run_path=str(path))
    with h5py.File(path, "r") as f:
        assert f["run/status"][0] in (b"completed", "completed")
        caps = f["captures/batches"]
        n = int(f["run/committed"][list(
            __import__("json").loads(f["run/committed"].attrs["tables"])).index(
            "captures/batches")])
        assert n == 8  # 2 batches x 4 samples
        phys = caps["physical"][:n]
        assert np.isfinite(phys).all() and np.isfinite(caps["twin"][:n]).all()
        inputs = caps["inputs"][:n]
        assert inputs.dtype == np.complex64 and inputs.shape == (n, N)
        # the recorded inputs are the encoded amplitudes of the recorded samples
        idx = caps["sample"][:n]
        expected = amplitude_encode(data.x_train, N).numpy()[idx]
        np.testing.assert_allclose(inputs, expected, rtol=1e-6)


# -- demo ---------------------------------------------------------------------------------


def test_demo_tiny_configuration_json_shape(tmp_path) -> None:
    from hilt.loops.demo import DemoConfig, run_demo

    cfg = DemoConfig(n_ports=N, n_meshes=2, insilico_epochs=1, finetune_epochs=1, batch_size=16,
                     errors=("dat-0.10",), methods=("pat", "dat", "dat_internal", "spsa"),
                     local=True)
    out = tmp_path / "demo.json"
    data = tiny_data(32, 16)
    res = run_demo(json_path=str(out), runs_dir=None, progress=False, config=cfg, data=data)
    import json

    on_disk = json.loads(out.read_text())
    assert on_disk["dataset"] == "tiny"
    assert on_disk["backend"]["backend"] == "local"
    assert set(on_disk["methods"]) == {"error_free", "deployed", "pat", "dat", "dat_internal",
                                       "spsa"}
    for m in on_disk["methods"].values():
        assert 0.0 <= m["accuracy"] <= 1.0 and isinstance(m["physical_queries"], int)
    assert on_disk["methods"]["error_free"]["physical_queries"] == 0
    assert on_disk["methods"]["pat"]["physical_queries"] > 0
    assert on_disk["errors"]["preset"] == "dat-0.10"
    assert on_disk["errors"]["levels"] == {"phase_shifter": 0.10, "beam_splitter": 0.10}
    assert res["methods"]["dat"]["accuracy"] == on_disk["methods"]["dat"]["accuracy"]


def test_demo_runs_on_the_simulated_station(tmp_path) -> None:
    """The default backend: the mzi-large station, its world's error preset overridden per
    setting, every query through the driver and the simulator's bytes."""
    from hilt.loops.demo import DemoConfig, run_demo

    cfg = DemoConfig(insilico_epochs=1, finetune_epochs=1, batch_size=16, n_train=16,
                     n_test=16, errors=("dat-bs-0.10",), methods=("dat_internal",))
    res = run_demo(runs_dir=None, progress=False, config=cfg)
    assert res["backend"]["backend"] == "station"
    setting = res["errors"]["settings"]["dat-bs-0.10"]
    assert setting["backend"] == "station" and setting["levels"] == {"beam_splitter": 0.10}
    assert setting["chip"]["model"].startswith("PNP-64")
    # 16 training samples: one warm-up batch of 16 (the whole set) + one step of 16
    assert res["methods"]["dat_internal"]["physical_queries"] == 32


def test_station_chip_and_twin_share_the_nominal_physics() -> None:
    """With preset 'none' the simulated station chip (default activation, nominal heaters)
    measures what the twin predicts: the twin is the chip without its hidden errors."""
    from hilt.instruments.mesh_processor import StationMeshProcessor
    from hilt.loops.demo import STATION_FILE
    from hilt.station import Station

    net = MZINetwork.build(64, 3, seed=3)
    x = amplitude_encode(np.random.default_rng(0).random((5, 64)), 64, power=64.0)
    st = Station.from_yaml(STATION_FILE)
    st.config.world.errors = "none"
    with st:
        proc = StationMeshProcessor(st["chip"])
        proc.load_phases(phases_of(net))
        out, states = proc.run(x.numpy(), internal=True)
    with torch.no_grad():
        twin = net.twin()(x).numpy()
    np.testing.assert_allclose(out, twin, rtol=2e-3, atol=1e-6 * float(twin.max()))
    assert len(states) == 2
