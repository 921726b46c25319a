"""LIF spiking layers: dynamics, encodings, int8 weights, mismatch, surrogate gradient."""

import torch

from hilt.sims.physics import (
    SpikingLayer,
    SpikingNetwork,
    first_spike_times,
    latency_encode,
    rate_encode,
    spike_counts,
)


def one_neuron(**kw) -> SpikingLayer:
    layer = SpikingLayer(1, 1, **kw)
    with torch.no_grad():
        layer.weight.fill_(0.4)
    return layer


def test_integrate_fire_reset_and_leak():
    x = torch.ones(10, 1, 1)
    # Perfect integrator, 0.4 per tick, threshold 1: fires on ticks 2, 5, 8 (v = 1.2 >= 1).
    r = one_neuron(leak=1.0)(x)
    assert r[:, 0, 0].nonzero().flatten().tolist() == [2, 5, 8]
    # Strong leak: v converges to 0.4 / (1 - 0.5) = 0.8 < 1, never fires.
    assert spike_counts(one_neuron(leak=0.5)(x)).item() == 0


def test_refractory_period_blocks_input():
    x = torch.ones(12, 1, 1)
    with torch.no_grad():
        layer = SpikingLayer(1, 1, leak=1.0, refractory=3)
        layer.weight.fill_(1.0)
        r = layer(x)
    # Fires, then ignores 3 ticks, then fires again.
    assert r[:, 0, 0].nonzero().flatten().tolist() == [0, 4, 8]


def test_subtract_reset_keeps_the_remainder():
    r = one_neuron(leak=1.0, reset="subtract")(torch.ones(10, 1, 1))
    # 0.4 per tick with subtraction: exactly 4 spikes in 10 ticks (rate 0.4).
    assert spike_counts(r).item() == 4


def test_encodings():
    x = torch.tensor([[0.0, 0.5, 1.0]])
    lat = latency_encode(x, steps=5)
    assert lat.shape == (5, 1, 3)
    assert first_spike_times(lat).tolist() == [[5, 2, 0]]
    assert spike_counts(lat).tolist() == [[0, 1, 1]]
    rate = rate_encode(x.expand(200, 3), steps=50, seed=0)
    frac = rate.mean((0, 1))
    assert abs(float(frac[1]) - 0.5) < 0.03 and frac[0] == 0 and frac[2] == 1
    assert torch.equal(rate, rate_encode(x.expand(200, 3), steps=50, seed=0))


def test_weights_are_int8_and_surrogate_gradient_flows():
    net = SpikingNetwork.build([8, 6, 3], seed=0, leak=0.9)
    w = net.layers[0].int_weight()
    assert w.dtype == torch.int8 and int(w.abs().max()) == 127
    x = rate_encode(torch.rand(4, 8, generator=torch.Generator().manual_seed(1)), 20, seed=2)
    out = net(x)
    assert out.shape == (20, 4, 3)
    spike_counts(out).sum().backward()
    assert net.layers[0].weight.grad is not None
    assert float(net.layers[0].weight.grad.abs().sum()) > 0


def test_mismatch_is_frozen_and_hidden_from_twin():
    layer = SpikingLayer(10, 50, seed=0)
    chip = layer.with_errors("severe", seed=3)
    thr, leak = chip.neuron_params()
    assert float(thr.std()) > 0 and float(leak.std()) > 0
    t_thr, _ = chip.twin().neuron_params()
    assert bool((t_thr == 1.0).all())
    x = rate_encode(torch.full((8, 10), 0.6), 30, seed=4)
    with torch.no_grad():
        assert torch.equal(chip(x), chip(x))
        assert not torch.equal(chip(x), layer(x))
