"""The bundled neuromorphic bench (hilt/stations/neuromorphic.yaml) end to end: an ANN converted to
a spiking network, deployed through the hilt_neuromorphic driver -> TCP -> the simulated board,
whose hidden mismatch makes its spikes differ from the error-free integer chip's."""

from __future__ import annotations

import numpy as np
import torch
from click.testing import CliRunner

from hilt import stations
from hilt.gui.cli import main
from hilt.instruments.kinds import NeuromorphicBoard
from hilt.instruments.snn_network import from_torch
from hilt.loops.ann2snn import convert
from hilt.sims.neuromorphic_board import LifChip
from hilt.station import Station


def test_station_check_is_clean() -> None:
    result = CliRunner().invoke(main, ["station", "check", "neuromorphic"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("all instruments OK")


def test_a_converted_network_runs_on_the_board_with_its_mismatch() -> None:
    g = torch.Generator().manual_seed(0)
    ann = torch.nn.Sequential(torch.nn.Linear(8, 12), torch.nn.ReLU(), torch.nn.Linear(12, 4))
    with torch.no_grad():
        for p in ann.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.7)
    x = torch.rand(40, 8, generator=g)
    snn = convert(ann, x, timesteps=32)
    net = from_torch(snn)
    events = snn.encode(x, seed=1).numpy().astype(np.uint8)
    ideal = LifChip(net, np.ones(16), np.ones(16), 24).run(events.transpose(1, 0, 2), 32, 1)[0]
    with Station.from_yaml(stations.path("neuromorphic")) as st:
        board = st.role("neuromorphic")
        assert isinstance(board, NeuromorphicBoard)
        board.load(net)
        spikes, counts = board.run(events)
        assert spikes.shape == (32, 40, 4) and counts.sum() > 0
        # The severe preset's mismatch (10 % thresholds, 5 % leak): other spikes than the integer
        # model's, about as many.
        assert (spikes != ideal.transpose(1, 0, 2)).any()
        assert abs(int(counts.sum()) - int(ideal.sum())) < 0.2 * ideal.sum()
        c = board.counters()
        assert c["time_steps"] == 32 * 40 and c["spikes"] >= counts.sum()
