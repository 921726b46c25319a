"""The ANN-to-SNN calibration with a neuromorphic board in the loop (loops/snn_board.py): the
simulated board over TCP through the hilt_neuromorphic driver, its mismatch hidden."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from hilt.drivers.hilt_neuromorphic import HiltNeuromorphicBoard
from hilt.loops.ann2snn import calibrate_layerwise, convert, train_ann
from hilt.loops.data import load_digits
from hilt.loops.snn_board import board_accuracy, deploy
from hilt.sims.neuromorphic_board import SimNeuromorphicBoard
from hilt.sims.world import World


@pytest.fixture(scope="module")
def case():  # noqa: ANN201
    from hilt.sims.server import serve

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: two threads on a shared machine take 30x longer
    data = load_digits(0)
    ann = train_ann(data.x_train, data.y_train, sizes=(64, 32, 10), epochs=10, seed=0)
    sim = SimNeuromorphicBoard(World(seed=1), errors="none", threshold_mismatch=0.3, leak_mismatch=0.1)
    server = serve(sim)
    board = HiltNeuromorphicBoard(server.address, name="board")
    board.connect()
    yield data, ann, board
    board.close()
    server.stop()
    torch.set_num_threads(threads)


def test_a_deployed_network_runs_on_the_board_and_shares_its_weights(case) -> None:  # noqa: ANN001
    data, ann, board = case
    snn = convert(ann, data.x_train, timesteps=16)
    deployed, link = deploy(board, snn)
    assert deployed.layers[0].weight is snn.layers[0].weight
    x_in = deployed.augment(deployed.encode(data.x_train[:20]))
    hidden = deployed.layers[0](x_in)
    assert hidden.shape == (16, 20, 32) and link.cost.loads == 1 and link.cost.runs == 1
    out = deployed.layers[1](deployed.augment(hidden))  # fed on the board by the layer below
    assert out.shape == (16, 20, 10) and link.cost.loads == 1 and link.cost.samples == 40
    with pytest.raises(RuntimeError, match="calibrate the layers in order"):
        deployed.layers[1](deployed.augment(torch.zeros_like(hidden)))


def test_calibration_with_the_board_in_the_loop_removes_the_mismatch_error(case) -> None:  # noqa: ANN001
    data, ann, board = case
    snn = convert(ann, data.x_train, timesteps=16)
    naive, naive_link = deploy(board, copy.deepcopy(snn))
    before = board_accuracy(naive_link, data.x_test[:200], data.y_test[:200])
    deployed, link = deploy(board, copy.deepcopy(snn))
    report = calibrate_layerwise(ann, deployed, data.x_train[:128], mode="bias", seed=0)
    assert report.physical_runs == link.cost.runs == 12  # (bias_iters + 3) runs a layer, 2 layers
    assert link.cost.samples == 12 * 128 and 2 <= link.cost.loads <= 12
    for layer in report.layers:
        assert layer.rmse_after_bias < layer.rmse_before
    after = board_accuracy(link, data.x_test[:200], data.y_test[:200])
    assert after > before + 0.02, (before, after)
    # The calibrated integers are the torch weights' own: the twin shares them.
    assert np.array_equal(deployed.twin().layers[0].int_weight().numpy(), deployed.layers[0].int_weight().numpy())


def test_hilt_train_on_the_bundled_neuromorphic_station(tmp_path) -> None:  # noqa: ANN001
    """What `hilt train neuromorphic --loop insitu` runs: the conversion, the calibration with the
    board in the loop, a run file with each board measurement and the accuracies before/after."""
    from hilt import stations
    from hilt.loops.station import train_on_station
    from hilt.runfile import RunReader
    from hilt.station import Station

    settings = {"ann_epochs": 5, "timesteps": 8, "n_calib": 32, "mode": "bias", "batch_size": 64}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with Station.from_yaml(stations.path("neuromorphic")) as st:
            result = train_on_station(st, "insitu", runs_dir=tmp_path, settings=settings)
            with pytest.raises(Exception, match="on a neuromorphic board: insilico"):
                train_on_station(st, "dat", runs_dir=tmp_path, settings=settings)
            with pytest.raises(Exception, match="unknown for a neuromorphic board: bogus"):
                train_on_station(st, "insitu", runs_dir=tmp_path, settings={"bogus": 1})
    finally:
        torch.set_num_threads(threads)
    assert result.method == "snn-insitu" and len(result.history) == 2
    # 12 calibration runs of 32 samples, and the 450 test samples before and after
    assert result.physical_queries == 12 * 32 + 2 * 450 and result.physical_calls == 12 + 2
    with RunReader(result.run_path) as run:
        assert run.status == "completed" and run.info["config"]["station_run"]["loop"] == "insitu"
        assert len(run.scalar("rate_rmse")[0]) == 12
        epochs = run.epochs()
        assert float(epochs["test_accuracy"][1]) == pytest.approx(result.accuracy)
        assert float(epochs["test_accuracy"][0]) == pytest.approx(result.extra["start_accuracy"])
