"""Board networks from torch spiking models and NIR graphs, and back (instruments/snn_network.py)."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from hilt.instruments.snn_network import (
    from_nir,
    from_torch,
    leak_code,
    read_nir,
    to_nir,
    to_torch,
    write_nir,
)
from hilt.loops.ann2snn import BIAS, VINIT, convert
from hilt.sims.physics import SpikingNetwork
from hilt.snn_model import (
    LEAK_FACTOR,
    LEAK_NONE,
    LEAK_SHIFT,
    SnnNetwork,
    decode_network,
    encode_network,
)


def small_ann() -> torch.nn.Sequential:
    g = torch.Generator().manual_seed(0)
    ann = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        for p in ann.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return ann


def assert_same(a: SnnNetwork, b: SnnNetwork) -> None:
    assert (a.n_inputs, len(a.layers), a.weight_bits) == (b.n_inputs, len(b.layers), b.weight_bits)
    for x, y in zip(a.layers, b.layers, strict=True):
        for name in ("weight", "threshold", "bias", "v_init"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)
        assert (x.leak_mode, x.leak, x.reset, x.refractory) == (y.leak_mode, y.leak, y.reset, y.refractory)


def test_a_converted_snn_becomes_weights_bias_and_initial_charge() -> None:
    x = torch.rand(50, 6, generator=torch.Generator().manual_seed(1))
    snn = convert(small_ann(), x, timesteps=16, v_init=0.5)
    net = from_torch(snn)
    assert net.n_inputs == 6 and [la.n_out for la in net.layers] == [5, 3]
    for la, layer in zip(net.layers, snn.layers, strict=True):
        q = layer.int_weight().numpy()
        np.testing.assert_array_equal(la.weight, q[:, :-2])
        np.testing.assert_array_equal(la.bias, q[:, BIAS])
        np.testing.assert_array_equal(la.v_init, q[:, VINIT])
        assert np.all(la.threshold == round(layer.threshold / float(layer.weight_scale())))
        assert (la.leak_mode, la.reset) == (LEAK_NONE, "subtract")
    assert net.meta["timesteps"] == 16 and len(net.meta["weight_scales"]) == 2
    assert_same(net, decode_network(encode_network(net)))


def test_a_plain_spiking_network_round_trips_through_torch() -> None:
    snn = SpikingNetwork.build([4, 3, 2], seed=0, leak=1 - 2**-3, reset="zero", refractory=2)
    net = from_torch(snn)
    assert all((la.leak_mode, la.leak, la.refractory) == (LEAK_SHIFT, 3, 2) for la in net.layers)
    assert not any(la.bias.any() or la.v_init.any() for la in net.layers)
    twin = to_torch(net)
    for a, b in zip(snn.layers, twin.layers, strict=True):
        torch.testing.assert_close(a.quantized_weight(), b.quantized_weight())
        assert (a.leak, a.reset, a.refractory) == (b.leak, b.reset, b.refractory)
        assert b.threshold == pytest.approx(a.threshold, rel=0.01)  # an integer threshold in weight units


@pytest.mark.parametrize(("retention", "code"), [
    (1.0, (LEAK_NONE, 0)), (0.5, (LEAK_SHIFT, 1)), (1 - 2**-15, (LEAK_SHIFT, 15)),
    (0.9, (LEAK_FACTOR, 58982)), (0.0, (LEAK_FACTOR, 0)),
])
def test_leak_codes(retention: float, code: tuple[int, int]) -> None:
    assert leak_code(retention) == code


def test_nir_export_and_import_are_exact(tmp_path: Path) -> None:
    snn = convert(small_ann(), torch.rand(50, 6, generator=torch.Generator().manual_seed(1)), timesteps=8,
                  v_init=0.5, leak=0.75, reset="subtract", refractory=1)
    net = from_torch(snn)
    graph = to_nir(net, dt=1e-3)
    assert [type(graph.nodes[k]).__name__ for k in ("input", "fc0", "lif0", "fc1", "lif1", "output")] == \
        ["Input", "Affine", "LIF", "Affine", "LIF", "Output"]
    assert_same(from_nir(graph), net)
    path = write_nir(net, tmp_path / "net.nir")
    assert_same(read_nir(path), net)
    # What NIR 1.0 itself says: tau, r and the threshold between two integers.
    lif = nir.read(str(path)).nodes["lif0"]
    np.testing.assert_allclose(lif.tau, 4e-3)  # retention 0.75 per 1 ms tick
    np.testing.assert_allclose(lif.v_threshold, net.layers[0].threshold - 0.5)


def test_an_if_network_exports_as_if_nodes() -> None:
    net = from_torch(SpikingNetwork.build([3, 2], seed=1, leak=1.0))
    graph = to_nir(net, dt=0.5)
    assert isinstance(graph.nodes["lif0"], nir.IF)
    assert_same(from_nir(graph), net)


def test_a_float_nir_graph_is_quantised_per_layer() -> None:
    w = np.array([[0.5, -1.0], [0.25, 2.0]])
    dt, tau = 1e-3, 16e-3  # retention 1 - 1/16: a 4-bit shift
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2])),
        nir.Affine(weight=w, bias=np.array([0.1, 0.0])),
        nir.LIF(tau=np.full(2, tau), r=np.full(2, tau / dt), v_leak=np.zeros(2), v_threshold=np.array([1.0, 1.0])),
        nir.Output(output_type=np.array([2])))
    net = from_nir(graph, dt)
    (la,) = net.layers
    s = 2.0 / 127
    np.testing.assert_array_equal(la.weight, np.round(w / s))
    np.testing.assert_array_equal(la.bias, np.round(np.array([0.1, 0.0]) / s))
    np.testing.assert_array_equal(la.threshold, np.floor(1.0 / s) + 1)  # fires when v > 1
    assert (la.leak_mode, la.leak, la.reset) == (LEAK_SHIFT, 4, "zero")
    assert net.meta["weight_scales"] == [pytest.approx(s)]


def _graph(*nodes: object, edges: list[tuple[str, str]] | None = None) -> nir.NIRGraph:
    named = dict(nodes)  # type: ignore[arg-type]
    return nir.NIRGraph(nodes=named, edges=edges or [(a, b) for a, b in zip(list(named)[:-1], list(named)[1:], strict=True)],
                        type_check=False)


def _lif(n: int, **over: object) -> nir.LIF:
    kw = {"tau": np.full(n, 2e-3), "r": np.full(n, 2.0), "v_leak": np.zeros(n), "v_threshold": np.ones(n)} | over
    return nir.LIF(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("graph", "match"), [
    (lambda: _graph(("in", nir.Input(input_type=np.array([2]))), ("fc", nir.Linear(weight=np.ones((2, 2)))),
                    ("lif", _lif(2, v_leak=np.ones(2))), ("out", nir.Output(output_type=np.array([2])))),
     "fc -> lif: v_leak other than 0"),
    (lambda: _graph(("in", nir.Input(input_type=np.array([2]))), ("fc", nir.Linear(weight=np.ones((2, 2)))),
                    ("lif", _lif(2, tau=np.array([2e-3, 3e-3]))), ("out", nir.Output(output_type=np.array([2])))),
     "dt / tau differs between neurons"),
    (lambda: _graph(("in", nir.Input(input_type=np.array([2]))), ("fc", nir.Linear(weight=np.ones((2, 2)))),
                    ("lif", _lif(2)), ("out", nir.Output(output_type=np.array([2]))),
                    edges=[("in", "fc"), ("fc", "lif"), ("lif", "out"), ("lif", "fc")]),
     "'lif' feeds 2 nodes"),
    (lambda: _graph(("in", nir.Input(input_type=np.array([2]))), ("fc", nir.Linear(weight=np.ones((2, 2)))),
                    ("lif", nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
                                        v_threshold=np.ones(2))), ("out", nir.Output(output_type=np.array([2])))),
     "expected Affine or Linear then LIF or IF, got Linear then CubaLIF"),
    (lambda: _graph(("in", nir.Input(input_type=np.array([2]))), ("lif", _lif(2)),
                    ("out", nir.Output(output_type=np.array([2])))),
     "expected \\(Affine | Linear, LIF | IF\\) pairs"),
])
def test_graphs_the_board_cannot_run_are_refused_naming_the_node(graph, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        from_nir(graph(), 1e-3)
