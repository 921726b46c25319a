"""Int8 deployment and quantisation-aware training on an accelerator (hilt.loops.int8_board):
the board's model computes what the twin's grid says where the twin is exact, a narrow
accumulator opens a gap the twin does not see, and both loops write run files through the driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from hilt.drivers.hilt_accelerator import HiltAccelerator
from hilt.loops import int8_board as ib
from hilt.loops.data import Dataset, load_digits
from hilt.runfile import RunReader
from hilt.sims.fpga_accelerator import SimFpgaAccelerator
from hilt.sims.physics.int8_board import execute
from hilt.sims.world import World


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


def test_a_narrow_accumulator_is_a_gap_the_twin_does_not_see(board, net, data) -> None:  # noqa: ANN001
    scheme = ib.Scheme(False, False, True)
    x, _, xt, yt = ib.images(data)
    grids = ib.calibrate(net, x, scheme)
    wide = ib.evaluate(net, scheme, grids, ib.BoardForward(board(requant="pow2"), scheme), xt, yt)
    narrow = ib.evaluate(net, scheme, grids, ib.BoardForward(board(acc_bits=12, requant="pow2"), scheme), xt, yt)
    assert wide["twin_accuracy"] == narrow["twin_accuracy"]  # the twin knows no accumulator
    assert narrow["test_accuracy"] < wide["test_accuracy"] - 0.2


@pytest.mark.parametrize("loop", ["insilico", "insitu"])
def test_both_loops_write_run_files(board, data, loop: str, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    quick = ib.train_float
    monkeypatch.setattr(ib, "train_float", lambda d, **k: quick(d, epochs=2, seed=0))
    acc = board()
    path = tmp_path / f"{loop}.h5"
    result = ib.train_int8(acc, data, loop, ib.Int8Settings(epochs=1, lr=1e-3), run_path=str(path))
    # training (the board in the forward pass: every training sample once) + two test evaluations
    assert result.physical_queries == (400 if loop == "insitu" else 0) + 2 * 200
    assert len(result.history) == 1 and result.accuracy == result.history[0]["test_accuracy"]
    with RunReader(path) as run:
        assert run.status == "completed"
        assert len(run.scalar("loss")[0]) == -(-400 // 64)
        epochs = run.epochs()
        assert float(epochs["test_accuracy"][0]) == pytest.approx(result.accuracy)
        assert run.n_rows("batches") == (7 * 8 if loop == "insitu" else 0)


def test_hilt_train_on_the_bundled_fpga_station_takes_the_int8_loop(tmp_path: Path) -> None:
    from hilt import stations
    from hilt.loops.station import train_on_station
    from hilt.station import Station

    with Station.from_yaml(stations.path("fpga")) as st:
        result = train_on_station(st, "insitu", epochs=1, lr=1e-3, runs_dir=tmp_path,
                                  settings={"float_epochs": 2, "capture_samples": 2})
        with pytest.raises(Exception, match="on an accelerator: insilico"):
            train_on_station(st, "dat", epochs=1, runs_dir=tmp_path, settings={"float_epochs": 1})
    assert result.method == "int8-insitu" and result.physical_queries == 1347 + 2 * 450
    with RunReader(result.run_path) as run:
        assert run.status == "completed" and run.info["config"]["station_run"]["loop"] == "insitu"
