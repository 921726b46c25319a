"""The ANN-to-SNN calibration and the fine-tuning with a neuromorphic board in the loop
(loops/snn_board.py, loops/snn_finetune.py): the simulated board over TCP through the
hilt_neuromorphic driver, its mismatch hidden; `hilt train` and `hilt resume` on the bundled
station."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from hilt.drivers.hilt_neuromorphic import HiltNeuromorphicBoard
from hilt.loops.ann2snn import calibrate_layerwise, convert, train_ann
from hilt.loops.core import LoopControl
from hilt.loops.data import load_digits
from hilt.loops.recording import Recorder
from hilt.loops.snn_board import board_accuracy, deploy
from hilt.loops.snn_finetune import (
    FinetuneSettings,
    FinetuneState,
    board_forward,
    count_logits,
    finetune,
)
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


def test_the_forward_result_is_the_boards_and_the_gradient_the_surrogate_twins(case) -> None:  # noqa: ANN001
    data, ann, board = case
    snn = convert(ann, data.x_train, timesteps=16)
    deployed, link = deploy(board, snn)
    twin = deployed.twin()
    x, y = data.x_train[:64], torch.as_tensor(data.y_train[:64]).long()
    events = deployed.encode(x, 3)
    counts, board_counts, twin_counts = board_forward(link, twin, events)
    # The board's counts are what the driver returns for the same raster...
    assert torch.equal(counts.detach(), board_counts)
    assert np.array_equal(board_counts.numpy(), board.run(events.numpy().astype(np.uint8))[1])
    # ...and differ from the twin's (the board's neurons are mismatched, the twin's are not).
    assert not torch.equal(board_counts, twin_counts)
    loss = torch.nn.functional.cross_entropy(count_logits(counts, deployed), y)
    assert float(loss.detach()) == pytest.approx(float(torch.nn.functional.cross_entropy(count_logits(board_counts, deployed), y)))
    loss.backward()
    # The gradient reaches every layer's weights through the twin's surrogate spike derivative,
    # and equals the twin's own gradient for the board's output error.
    grads = [la.weight.grad.clone() for la in deployed.layers]
    assert all(g is not None and float(g.abs().sum()) > 0 for g in grads)
    for la in deployed.layers:
        la.weight.grad = None
    upstream = torch.softmax(count_logits(board_counts, deployed), -1) - torch.nn.functional.one_hot(y, 10)
    (twin(events).sum(0) * (upstream * deployed.scales[-1] / 16 / 64)).sum().backward()
    for g, la in zip(grads, deployed.layers, strict=True):
        assert torch.allclose(g, la.weight.grad, atol=1e-6)


def test_with_hidden_layers_probed_every_twin_layer_runs_on_the_boards_spikes(case) -> None:  # noqa: ANN001
    data, ann, board = case
    deployed, link = deploy(board, convert(ann, data.x_train, timesteps=16))
    events = deployed.encode(data.x_train[:32], 3)
    plain = board_forward(link, deployed.twin(), events)[1]
    runs = link.cost.runs
    counts, board_counts, twin_counts = board_forward(link, deployed.twin(), events, probe_hidden=True)
    assert link.cost.runs - runs == 2 and torch.equal(board_counts, plain) and torch.equal(counts.detach(), plain)
    hidden = torch.as_tensor(board.run(events.numpy().astype(np.uint8), layer=0)[0], dtype=torch.float32)
    on_board_hidden = deployed.twin().layers[1](deployed.augment(hidden)).sum(0)
    assert torch.equal(twin_counts, on_board_hidden)  # the output layer's twin fed the board's hidden spikes
    counts.sum().backward()
    assert all(float(la.weight.grad.abs().sum()) > 0 for la in deployed.layers)


def test_a_network_is_loaded_only_when_its_integers_change(case) -> None:  # noqa: ANN001
    data, ann, board = case
    deployed, link = deploy(board, convert(ann, data.x_train, timesteps=8))
    events = deployed.encode(data.x_train[:8])
    link.run(events)
    with torch.no_grad():
        deployed.layers[0].weight.mul_(1.0 + 1e-7)  # the same integers
    link.run(events)
    assert (link.cost.loads, link.cost.runs) == (1, 2)
    with torch.no_grad():
        deployed.layers[0].weight[0, 0] += 0.5
    link.run(events)
    assert (link.cost.loads, link.cost.runs) == (2, 3)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fine_tuning_with_the_board_forward_recovers_the_mismatch_loss(case, optimizer) -> None:  # noqa: ANN001
    """One epoch from the naive deployment: each step one board run of the batch (a load when
    the integers changed), the board's accuracy up, the twin's not what improved."""
    data, ann, board = case
    snn = convert(ann, data.x_train, timesteps=16)
    deployed, link = deploy(board, snn)
    before = board_accuracy(link, data.x_test, data.y_test)
    runs0, samples0 = link.cost.runs, link.cost.samples
    history: list[dict[str, float]] = []
    steps: list[float] = []
    settings = FinetuneSettings(epochs=1, lr=0.002, batch_size=128, optimizer=optimizer)
    aborted, _ = finetune(link, deployed, data.x_train, data.y_train, settings, Recorder(None), history=history,
                          evaluate=lambda: {"test_accuracy": board_accuracy(link, data.x_test, data.y_test)},
                          state=FinetuneState(), progress=lambda p: steps.append(p.loss))
    n_steps = -(-len(data.y_train) // 128)
    assert not aborted and len(steps) == n_steps + 1  # every step, then the epoch's end
    assert link.cost.runs - runs0 == n_steps + 1  # one board run a step, one of the test set
    assert link.cost.samples - samples0 == len(data.y_train) + len(data.y_test)
    assert 2 <= link.cost.loads <= n_steps + 1
    after = history[-1]["test_accuracy"]
    assert after > before + 0.02, (before, after)


def _tiny(**more: object) -> dict[str, object]:
    return {"ann_epochs": 5, "hidden": 32, "timesteps": 8, "n_calib": 32, "mode": "bias", "batch_size": 64,
            "n_train": 128, **more}


@pytest.fixture
def station():  # noqa: ANN201
    from hilt import stations
    from hilt.station import Station

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with Station.from_yaml(stations.path("neuromorphic")) as st:
        yield st
    torch.set_num_threads(threads)


def test_hilt_train_insitu_on_the_bundled_station(station, tmp_path) -> None:  # noqa: ANN001
    """What `hilt train neuromorphic --loop insitu --epochs 2` runs: the conversion, the
    calibration with the board in the loop, two epochs of fine-tuning with the board forward; a
    run file with every board measurement, every step's loss and captured counts, the accuracies."""
    from hilt.loops.station import train_on_station
    from hilt.runfile import RunReader

    result = train_on_station(station, "insitu", runs_dir=tmp_path, epochs=2, lr=0.002, settings=_tiny())
    with pytest.raises(Exception, match="on a neuromorphic board: insilico"):
        train_on_station(station, "dat", runs_dir=tmp_path, settings=_tiny())
    with pytest.raises(Exception, match="unknown for a neuromorphic board: bogus"):
        train_on_station(station, "insitu", runs_dir=tmp_path, settings={"bogus": 1})
    with pytest.raises(Exception, match="optimizer 'lbfgs': adam, sgd"):
        train_on_station(station, "insitu", runs_dir=tmp_path, settings={"optimizer": "lbfgs"})
    assert result.method == "snn-insitu" and not result.aborted
    assert [h["epoch"] for h in result.history] == [0, 1, 2, 3]  # deployed, calibrated, 2 fine-tuning epochs
    # 12 calibration runs of 32 samples, 2 x 2 steps of 64, and the 450 test samples 4 times
    assert result.physical_queries == 12 * 32 + 4 * 64 + 4 * 450 and result.physical_calls == 12 + 4 + 4
    with RunReader(result.run_path) as run:
        assert run.status == "completed" and run.info["config"]["station_run"]["loop"] == "insitu"
        assert run.info["config"]["settings"]["epochs"] == 2 and run.info["config"]["settings"]["lr"] == 0.002
        assert len(run.scalar("rate_rmse")[0]) == 12
        steps, losses = run.scalar("loss")
        assert list(steps) == [12, 13, 14, 15] and np.all(np.isfinite(losses))
        assert list(run.scalar("board_runs")[1][-4:]) == [15, 16, 18, 19]  # a test-set run after each epoch
        cap = run.captures("batches")
        assert cap.physical.shape == (16, 10) and list(cap.step) == [12] * 4 + [13] * 4 + [14] * 4 + [15] * 4
        assert np.all(cap.physical == np.round(cap.physical)) and not np.array_equal(cap.physical, cap.twin)
        epochs = run.epochs()
        assert float(epochs["test_accuracy"][-1]) == pytest.approx(result.accuracy)
        assert float(epochs["test_accuracy"][0]) == pytest.approx(result.extra["start_accuracy"])


def test_hilt_train_insilico_fine_tunes_on_the_twin_alone(station, tmp_path) -> None:  # noqa: ANN001
    from hilt.loops.station import train_on_station

    result = train_on_station(station, "insilico", runs_dir=tmp_path, epochs=1, lr=0.002, settings=_tiny(),
                              progress_bar=True)
    assert [h["epoch"] for h in result.history] == [0, 1]
    assert result.physical_queries == 2 * 450 and result.physical_calls == 2  # the test set, twice
    naive = train_on_station(station, "insilico", runs_dir=tmp_path, epochs=0, settings=_tiny())
    assert len(naive.history) == 1 and naive.accuracy == pytest.approx(result.extra["start_accuracy"])


def _stopped_and_resumed(station, tmp_path):  # noqa: ANN001, ANN202
    """A fine-tuning stopped through the loop's control after its first step (a checkpoint
    every step), then `hilt resume`: the run goes on at the next step in the same file."""
    from hilt.loops.station import resume_run, train_on_station
    from hilt.runfile import RunReader

    control = LoopControl()

    def stop_after_first_step(p: object) -> None:
        if getattr(p, "method", "") == "snn-board":
            control.abort()

    settings = _tiny(checkpoint_every=1)
    stopped = train_on_station(station, "insitu", runs_dir=tmp_path, epochs=1, lr=0.002, settings=settings,
                               control=control, progress=stop_after_first_step)
    assert stopped.aborted
    with RunReader(stopped.run_path) as run:
        assert run.status == "aborted" and list(run.scalar("loss")[0]) == [12]
        assert [c.step for c in run.checkpoints()] == [11, 12]  # after the calibration, after step 12
    resumed = resume_run(stopped.run_path)
    assert not resumed.aborted and [h["epoch"] for h in resumed.history] == [0, 1, 2]
    with RunReader(stopped.run_path) as run:
        assert run.status == "completed" and len(run.sessions) == 2
        assert list(run.scalar("loss")[0]) == [12, 13]
        assert len(run.scalar("rate_rmse")[0]) == 12  # the calibration was not run again
        assert float(run.epochs()["test_accuracy"][-1]) == pytest.approx(resumed.accuracy)
    return resumed, settings


def test_a_fine_tuning_stopped_after_one_step_resumes_from_its_checkpoint(station, tmp_path) -> None:  # noqa: ANN001
    _stopped_and_resumed(station, tmp_path)


@pytest.mark.slow
def test_a_resumed_fine_tuning_ends_as_the_uninterrupted_one(station, tmp_path) -> None:  # noqa: ANN001
    """The stopped-and-resumed run of the test above ends with the weights and accuracy of the
    same run uninterrupted (a third training: slow on a loaded machine)."""
    from hilt.loops.station import train_on_station

    resumed, settings = _stopped_and_resumed(station, tmp_path)
    whole = train_on_station(station, "insitu", runs_dir=tmp_path, epochs=1, lr=0.002, settings=settings)
    assert whole.accuracy == pytest.approx(resumed.accuracy)
    for k, v in whole.model_state.items():
        assert torch.equal(v, resumed.model_state[k]), k


@pytest.mark.slow
def test_hilt_train_and_resume_neuromorphic_from_the_command_line(tmp_path) -> None:  # noqa: ANN001
    """`hilt train neuromorphic --loop insitu --epochs 1 --calibration bias --timesteps 16` at its
    defaults otherwise (lr 0.002 on a neuromorphic board, the ANN's 150 epochs: about a minute);
    `hilt resume` of the completed run is refused. The fast tests above cover the same path with tiny settings."""
    from click.testing import CliRunner

    from hilt.gui.cli import main
    from hilt.runfile import RunReader

    result = CliRunner().invoke(main, ["train", "neuromorphic", "--loop", "insitu", "--epochs", "1",
                                       "--calibration", "bias", "--timesteps", "16", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("*.h5")
    with RunReader(path) as run:
        assert run.status == "completed" and len(run.epochs()["test_accuracy"]) == 3
        settings = run.info["config"]["settings"]
        assert (settings["lr"], settings["mode"], settings["timesteps"]) == (0.002, "bias", 16)
    again = CliRunner().invoke(main, ["resume", str(path)])
    assert again.exit_code == 1 and "nothing to resume" in again.output


def test_the_spiking_flags_of_hilt_train_are_refused_on_a_station_without_a_neuromorphic_board(tmp_path) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from hilt.gui.cli import main

    station = tmp_path / "chip.yaml"
    station.write_text("name: chip\nsimulate: true\ninstruments:\n  chip:\n    driver: photonic_processor\n"
                       "    sim: {n: 4, layers: 1}\n")
    result = CliRunner().invoke(main, ["train", str(station), "--loop", "insitu", "--calibration", "none",
                                       "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1 and "--calibration and --timesteps are for a neuromorphic board" in result.output
