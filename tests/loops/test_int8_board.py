"""Int8 deployment and quantisation-aware training on an accelerator (hilt.loops.int8_board):
the board's model computes what the twin's grid says where the twin is exact, a narrow
accumulator opens a gap the framework's fake-quantised twin does not see and the board twin
predicts bit for bit, grids fitted to the accumulator close it, both loops write run files through
the driver, a stopped run resumes, and a scheme the board cannot take is refused naming the flag.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hilt.drivers.hilt_accelerator import HiltAccelerator
from hilt.errors import ConfigError
from hilt.loops import int8_board as ib
from hilt.loops.core import LoopControl
from hilt.loops.data import Dataset, load_digits
from hilt.runfile import RunReader
from hilt.sims.fpga_accelerator import SimFpgaAccelerator
from hilt.sims.physics.int8_board import execute
from hilt.sims.world import World

#: Board B of the study: floor rounding, a 16-bit accumulator, shift-only requantisers, per-tensor.
BOARD_B = {"rounding": "floor", "acc_bits": 16, "requant": "pow2", "per_channel": False}


@pytest.fixture(scope="module")
def data() -> Dataset:
    d = load_digits(0)
    return Dataset(d.name, d.x_train[:400], d.y_train[:400], d.x_test[:200], d.y_test[:200])


@pytest.fixture(scope="module")
def net(data: Dataset) -> ib.FloatCNN:
    return ib.train_float(data, epochs=8, seed=0)


@pytest.fixture
def board(served) -> Iterator[callable]:  # noqa: ANN001
    opened = []

    def make(**options):  # noqa: ANN003, ANN202
        _, address = served(SimFpgaAccelerator, world=World(seed=3), **options)
        acc = HiltAccelerator(address)
        acc.connect()
        opened.append(acc)
        return acc

    yield make
    for acc in opened:
        acc.close()


@pytest.mark.parametrize("scheme", [ib.Scheme(), ib.Scheme(False, True, False), ib.Scheme(False, False, True)],
                         ids=lambda s: s.name)
def test_the_board_model_is_the_engines_arithmetic_of_the_quantised_network(board, net, data, scheme) -> None:  # noqa: ANN001
    acc = board()
    x, _, _, _ = ib.images(data)
    grids = ib.calibrate(net, x, scheme)
    fwd = ib.BoardForward(acc, scheme)
    fwd.load(net, grids)
    model = ib.quantise(net, grids, scheme, rounding="half_away", acc_bits=32)
    q = torch.clamp(torch.round(x[:50] / grids[0][0]) + grids[0][1], -128, 127).to(torch.int8).reshape(50, -1)
    out = fwd(x[:50])
    expected = (torch.from_numpy(execute(model, q.numpy()).astype(np.float32)) - grids[3][1]) * grids[3][0]
    assert torch.equal(out, expected) and fwd.queries == 50
    # On a 32-bit board the twin predicts the board closely: the same class for nearly every sample.
    with torch.no_grad():
        agree = (ib.FakeQuantCNN(net, grids, scheme)(x[:200]).argmax(1) == fwd(x[:200]).argmax(1)).float().mean()
    assert agree >= 0.97


@pytest.mark.parametrize(("scheme", "options"), [
    (ib.Scheme(False, True, True), BOARD_B),
    (ib.Scheme(False, True, True, True), BOARD_B),
    (ib.Scheme(True, True, False, True), {"rounding": "half_even", "acc_bits": 14}),
    (ib.Scheme(True, False, False, True), {"rounding": "half_away", "acc_bits": 32}),
], ids=["B-asym", "B-asym-weights", "half-even-14-bit-asym-weights", "A-asym-weights"])
def test_the_board_twin_is_the_board_bit_for_bit(board, net, data, scheme, options) -> None:  # noqa: ANN001
    acc = board(**options)
    x, _, _, _ = ib.images(data)
    grids = ib.calibrate(net, x, scheme)  # plain grids: on the narrow boards some accumulators wrap
    fwd = ib.BoardForward(acc, scheme)
    fwd.load(net, grids)
    twin = ib.BoardTwin(net, grids, scheme, rounding=options["rounding"], acc_bits=options["acc_bits"])
    with torch.no_grad():
        predicted = twin(x[:120])
    assert torch.equal(predicted, fwd(x[:120]))
    model = ib.quantise(net, grids, scheme, rounding=options["rounding"], acc_bits=options["acc_bits"])
    if scheme.weight_asymmetric:  # the board gets, and applies, weight zero points
        assert all(np.any(layer.weight_zero_point) for layer in model.layers if layer.weight is not None)
    wraps = any(bool((a.abs() >= 2 ** (options["acc_bits"] - 1)).any()) for a in twin.accumulators)
    assert wraps == (options["acc_bits"] < 32)


def test_a_narrow_accumulator_is_a_gap_the_board_twin_predicts_and_fitted_grids_close(board, net, data) -> None:  # noqa: ANN001
    scheme = ib.Scheme(False, False, True)
    x, _, xt, yt = ib.images(data)
    grids = ib.calibrate(net, x, scheme)
    wide = ib.evaluate(net, scheme, grids, ib.BoardForward(board(requant="pow2"), scheme), xt, yt)
    narrow_board = ib.BoardForward(board(acc_bits=12, requant="pow2"), scheme)
    narrow = ib.evaluate(net, scheme, grids, narrow_board, xt, yt)
    assert wide["twin_accuracy"] == narrow["twin_accuracy"]  # the fake-quantised twin knows no accumulator
    assert narrow["test_accuracy"] < wide["test_accuracy"] - 0.2
    assert narrow["board_twin_accuracy"] == narrow["test_accuracy"]  # the board twin does
    # Grids fitted to 12 bits widen the layers' inputs until no training sample wraps: most of it back.
    fitted = ib.calibrate(net, x, scheme, acc_bits=12)
    assert all(f[0] >= g[0] for f, g in zip(fitted, grids, strict=True)) and fitted != grids
    closed = ib.evaluate(net, scheme, fitted, narrow_board, xt, yt)
    assert closed["test_accuracy"] > narrow["test_accuracy"] + 0.5
    assert closed["board_twin_accuracy"] == closed["test_accuracy"]
    # Board B with asymmetric activations (the study's case): fitted grids close the gap.
    asym = ib.Scheme(False, True, True)
    board_b = ib.BoardForward(board(**BOARD_B), asym)
    plain = ib.evaluate(net, asym, ib.calibrate(net, x, asym), board_b, xt, yt)
    fitted_b = ib.evaluate(net, asym, ib.calibrate(net, x, asym, acc_bits=16, rounding="floor"), board_b, xt, yt)
    assert plain["test_accuracy"] < wide["test_accuracy"] - 0.2
    assert fitted_b["test_accuracy"] >= wide["test_accuracy"] - 0.03


def test_the_accumulator_penalty_pushes_overflowing_accumulators_back(net, data) -> None:  # noqa: ANN001
    scheme = ib.Scheme(False, True, True)
    x, _, _, _ = ib.images(data)
    tuned = copy.deepcopy(net)
    grids = ib.calibrate(tuned, x[:48], scheme)
    twin = ib.BoardTwin(tuned, grids, scheme, rounding="floor", acc_bits=16)
    opt = torch.optim.Adam(tuned.parameters(), lr=5e-3)
    penalties = []
    for _ in range(8):  # descent on the penalty alone, the grids held
        opt.zero_grad()
        twin(x[:48])
        penalty = ib.accumulator_penalty(twin)
        penalty.backward()
        opt.step()
        penalties.append(float(penalty.detach()))
    assert penalties[0] > 0 and penalties[-1] < 0.5 * penalties[0]
    wide = ib.BoardTwin(tuned, grids, scheme, rounding="floor", acc_bits=32)
    with torch.no_grad():
        wide(x[:48])
    assert float(ib.accumulator_penalty(wide)) == 0.0


@pytest.mark.parametrize("loop", ["insilico", "insitu"])
def test_both_loops_write_run_files(board, data, loop: str, tmp_path: Path) -> None:  # noqa: ANN001
    acc = board()
    path = tmp_path / f"{loop}.h5"
    s = ib.Int8Settings(epochs=1, lr=1e-3, float_epochs=2, train_samples=128, test_samples=64, asymmetric=True,
                        weight_asymmetric=True)
    result = ib.train_int8(acc, data, loop, s, run_path=str(path))
    # training (the board in the forward pass: every training sample once) + two test evaluations
    assert result.physical_queries == (128 if loop == "insitu" else 0) + 2 * 64
    assert len(result.history) == 1 and result.accuracy == result.history[0]["test_accuracy"]
    assert result.twin_accuracy == result.history[0]["board_twin_accuracy"] == result.accuracy
    with RunReader(path) as run:
        assert run.status == "completed"
        assert len(run.scalar("loss")[0]) == 2
        epochs = run.epochs()
        assert float(epochs["test_accuracy"][0]) == pytest.approx(result.accuracy)
        assert run.n_rows("batches") == (2 * 8 if loop == "insitu" else 0)
        assert run.info["config"]["scheme"] == "per-channel/asymmetric/free scales/asymmetric weights"
        assert run.info["config"]["settings"]["weight_asymmetric"] is True


def test_a_scheme_the_board_cannot_take_is_refused_naming_the_flag(board, data, tmp_path: Path) -> None:  # noqa: ANN001
    acc = board(**BOARD_B)
    for settings, flag in (({"per_channel": True, "pow2": True}, "--quant per-channel"),
                           ({"per_channel": False, "pow2": False}, "--free-scales")):
        with pytest.raises(ConfigError, match=flag):
            ib.train_int8(acc, data, "insitu", ib.Int8Settings(**settings), run_path=str(tmp_path / "r.h5"))
    assert not (tmp_path / "r.h5").exists()  # refused before the run began, and before a model was sent
    assert acc.status()["model_crc"] == 0
    assert ib.scheme_problem(ib.Scheme(False, True, True, True), {**acc.limits, "weight_zero_point": False}) \
        == "--weight-zero-point asymmetric: the board takes symmetric weights only"


def test_hilt_train_refuses_a_flag_the_board_cannot_take(tmp_path: Path) -> None:
    from hilt.gui.cli import main

    station = tmp_path / "b.yaml"
    station.write_text("name: fpga-b\nsimulate: true\ninstruments:\n  fpga:\n    driver: hilt_accelerator\n"
                       "    sim: {rounding: floor, acc_bits: 16, requant: [pow2], per_channel: false}\n"
                       "roles:\n  accelerator: fpga\n")
    result = CliRunner().invoke(main, ["train", str(station), "--loop", "insitu", "--quant", "per-channel",
                                       "--pow2-scales", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    assert "--quant per-channel: the board takes one scale per layer only" in result.output
    assert not list(tmp_path.glob("runs/*.h5"))
    from hilt.gui.cli import _quantisation_settings
    from hilt.station import Station

    with Station.from_yaml(station) as st:
        assert _quantisation_settings(st, "per-tensor", "asymmetric", None, True) == {
            "per_channel": False, "asymmetric": True, "pow2": True}  # flags not given keep the loop's defaults
        assert _quantisation_settings(st, None, None, "asymmetric", False) == {
            "weight_asymmetric": True, "pow2": False}
    # on a station without an accelerator the flags are refused by name, before anything runs
    result = CliRunner().invoke(main, ["train", "mzi-large", "--quant", "per-tensor",
                                       "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    assert "--quant, --zero-point, --weight-zero-point and --pow2-scales/--free-scales are for an int8 " \
           "accelerator; station 'mzi-large' has none" in result.output
    assert not list(tmp_path.glob("runs/*.h5"))


QUICK = {"float_epochs": 1, "train_samples": 64, "test_samples": 32, "batch_size": 64, "capture_samples": 2}


def test_an_int8_run_stopped_after_one_step_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    from hilt import stations
    from hilt.gui.cli import main
    from hilt.loops.station import train_on_station
    from hilt.station import Station

    control = LoopControl()

    def stop_after_the_first_step(p) -> None:  # noqa: ANN001
        if not p.end_of_epoch:
            control.abort()  # the loop stops before its next step (after the epoch's checkpoint)

    with Station.from_yaml(stations.path("fpga")) as st:
        full = train_on_station(st, "insitu", epochs=2, lr=1e-3, runs_dir=tmp_path / "full", settings=QUICK)
        stopped = train_on_station(st, "insitu", epochs=2, lr=1e-3, run_path=tmp_path / "stopped.h5",
                                   settings=QUICK, control=control, progress=stop_after_the_first_step)
        with pytest.raises(ConfigError, match="on an accelerator: insilico"):
            train_on_station(st, "dat", epochs=1, runs_dir=tmp_path, settings=QUICK)
    assert full.method == "int8-insitu" and full.physical_queries == 2 * 64 + 3 * 32
    assert stopped.aborted and len(stopped.history) == 1
    with RunReader(stopped.run_path) as run:
        assert run.status == "aborted" and run.info["config"]["station_run"]["loop"] == "insitu"
    result = CliRunner().invoke(main, ["resume", str(tmp_path / "stopped.h5")])
    assert result.exit_code == 0, result.output
    assert "insitu: accuracy" in result.output and "stopped.h5" in result.output
    with RunReader(tmp_path / "stopped.h5") as run:
        assert run.status == "completed"
        assert [s["status"] for s in run.sessions] == ["aborted", "completed"]
        assert run.sessions[1]["resumed_from_step"] == 0
        assert list(run.scalar("loss")[0]) == [0, 1]
        ck = run.load_checkpoint()
    assert ck.extra["history"] == full.history and ck.extra["queries"] == full.physical_queries
