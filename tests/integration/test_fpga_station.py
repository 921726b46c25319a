"""The bundled FPGA bench (hilt/stations/fpga.yaml) end to end: a small int8 CNN deployed through
the hilt_accelerator driver -> TCP -> the simulated FPGA gives the bit-exact int8 engine's answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from hilt import stations
from hilt.gui.cli import main
from hilt.instruments.int8_deploy import DeployedInt8, board_model
from hilt.instruments.kinds import Accelerator
from hilt.sims.physics.int8 import Int8Conv2d, Int8Linear, Int8Sequential
from hilt.station import Station


def small_cnn(rounding: str = "half_away") -> Int8Sequential:
    g = torch.Generator().manual_seed(0)
    net = Int8Sequential([Int8Conv2d(1, 4, 3, padding=1, generator=g), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), Int8Linear(4 * 4 * 4, 16, generator=g), nn.ReLU(),
                          Int8Linear(16, 10, generator=g)])
    with torch.no_grad():
        for m in net.layers:
            if isinstance(m, (Int8Conv2d, Int8Linear)):
                m.bias.uniform_(-0.2, 0.2, generator=g)
    for m in net.layers:
        if isinstance(m, (Int8Conv2d, Int8Linear)):
            m.rounding = rounding
    return net


def test_station_check_is_clean() -> None:
    result = CliRunner().invoke(main, ["station", "check", "fpga"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("all instruments OK")


def test_a_deployed_cnn_gives_the_bit_exact_engines_answer() -> None:
    x = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    net = small_cnn()
    net.calibrate(x)
    with torch.no_grad():
        expected = net(x)  # the engine's integer forward, dequantised
    with Station.from_yaml(stations.path("fpga")) as st:
        board = st.role("accelerator")
        assert isinstance(board, Accelerator)
        deployed = DeployedInt8(board, net, (1, 8, 8))
        got = deployed(x)
        assert torch.equal(got, expected)  # bit for bit, not approximately
        assert deployed.queries == 64
        counters = board.read_counters()
        assert counters["samples"] == 64 and counters["latency_ns_last"] > 0
        # The station's clock is fast: the board's latency passed in simulated time.
        assert st.world.clock.now() >= counters["latency_ns_last"] * 1e-9 - 1e-12


@pytest.mark.parametrize("rounding", ["half_away", "half_even"])
def test_a_board_of_another_rounding_refuses_the_model_before_a_byte(rounding: str) -> None:
    net = small_cnn(rounding)
    net.calibrate(torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(2)))
    model = board_model(net, (1, 8, 8))
    assert model.rounding == rounding and [layer.kind for layer in model.layers] == [
        "conv2d", "maxpool2d", "dense", "dense"]
    assert model.layers[0].relu and model.layers[2].relu and not model.layers[3].relu
    with Station.from_yaml(stations.path("fpga")) as st:
        board = st.role("accelerator")
        sent = len(board.transport.exchanges)
        if rounding == "half_even":
            with pytest.raises(Exception, match="the model rounds half_even, the board half_away"):
                board.load_model(model)
            assert len(board.transport.exchanges) == sent
        else:
            board.load_model(model)
            x = np.zeros((1, 64), np.int8)
            assert board.run(x).shape == (1, 10)
