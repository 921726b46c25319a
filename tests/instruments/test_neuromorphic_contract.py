"""The neuromorphic_board kind's contract, on every driver that claims it (against its simulator),
through the kind's members only."""

from __future__ import annotations

import numpy as np
import pytest
from kind_cases import drivers_of

from hilt.errors import LimitError
from hilt.instruments.kinds import NeuromorphicBoard
from hilt.snn_model import SnnLayer, SnnNetwork


def two_neurons() -> SnnNetwork:
    """Input 0 drives neuron 0 (2 a tick, threshold 4), input 1 neuron 1 (3 a tick, threshold 6)."""
    return SnnNetwork(3, [SnnLayer(np.array([[2, 0, 0], [0, 3, 0]]), np.array([4, 6]))], 8, 8)


@pytest.mark.parametrize("name", drivers_of("neuromorphic_board"))
def test_neuromorphic_board_contract(connected, name: str) -> None:
    bench = connected(name)
    board: NeuromorphicBoard = bench.inst
    limits = board.limits
    assert min(limits.neurons, limits.fan_in, limits.weight_bits, limits.threshold_bits) >= 1
    sent = lambda: [e for e in bench.inst.transport.exchanges if e.direction == "->"]  # noqa: E731
    before = sent()
    too_many = SnnNetwork(1, [SnnLayer(np.ones((limits.neurons + 1, 1), int), np.ones(limits.neurons + 1, int))])
    too_wide = SnnNetwork(1, [SnnLayer(np.full((1, 1), 2 ** limits.weight_bits), np.ones(1, int))],
                          weight_bits=limits.weight_bits)
    for net in (too_many, too_wide):
        with pytest.raises(LimitError):
            board.check(net)
        with pytest.raises(LimitError):
            board.load(net)
    assert sent() == before

    net = two_neurons()
    board.check(net)
    board.load(net)
    events = np.zeros((8, 2, 3), np.uint8)
    events[:, 0, 0] = 1  # sample 0: input 0 on every tick; sample 1: silence
    spikes, counts = board.run(events, steps=10)
    assert spikes.shape == (10, 2, 2) and set(np.unique(spikes)) <= {0, 1}
    np.testing.assert_array_equal(counts, spikes.sum(0))
    assert counts[0, 0] >= 1 and counts[0, 1] == 0 and not counts[1].any()
    with pytest.raises(LimitError):
        board.run(np.full((8, 2, 3), limits.max_events + 1))  # more events than a line takes
    with pytest.raises(LimitError):
        board.run(events, steps=4)  # fewer ticks than the events
    c = board.counters()
    assert c["spikes"] >= counts.sum() and c["time_steps"] >= 20 and c["synaptic_ops"] >= 16
    assert c["latency_s"] > 0

    board.safe_state()
    again, _ = board.run(events, steps=10)  # the safe state keeps the network
    np.testing.assert_array_equal(again, spikes)  # integer state, frozen mismatch: the same spikes
