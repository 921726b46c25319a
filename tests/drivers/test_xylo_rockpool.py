"""The Xylo back end without a board: the mapping of a hilt network onto the Xylo Audio 2
specification (limits refused before anything is sent), rockpool's own quantiser agreeing with
it, and the error a user gets without SynSense's samna package."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hilt.drivers.xylo_rockpool import XYLO_AUDIO2, XyloBoard, XyloUnavailable, xylo_spec
from hilt.errors import LimitError
from hilt.snn_model import LEAK_FACTOR, LEAK_NONE, LEAK_SHIFT, SnnLayer, SnnNetwork


def network(sizes: list[int], seed: int = 0, **layer: object) -> SnnNetwork:
    rng = np.random.default_rng(seed)
    kw = {"leak_mode": LEAK_SHIFT, "leak": 3} | layer
    layers = [SnnLayer(rng.integers(-127, 128, (b, a)), rng.integers(50, 900, b), rng.integers(-5, 5, b), None,
                       **kw) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]  # type: ignore[arg-type]
    for la in layers:
        la.weight[0, 0] = 127  # full range: rockpool's quantiser then keeps the integers
    return SnnNetwork(sizes[0], layers)


def test_a_three_layer_network_maps_onto_inputs_recurrent_blocks_and_readout() -> None:
    net = network([16, 30, 20, 8])
    spec = xylo_spec(net)
    assert spec["weights_in"].shape == (16, 50, 1) and spec["weights_rec"].shape == (50, 50, 1)
    assert spec["weights_out"].shape == (50, 8)
    np.testing.assert_array_equal(spec["weights_in"][:, :30, 0], net.layers[0].weight.T)
    assert not spec["weights_in"][:, 30:].any()
    np.testing.assert_array_equal(spec["weights_rec"][:30, 30:, 0], net.layers[1].weight.T)
    assert spec["weights_rec"].sum() == net.layers[1].weight.sum()  # nothing else is connected
    np.testing.assert_array_equal(spec["weights_out"][30:], net.layers[2].weight.T)
    assert not spec["weights_out"][:30].any()
    np.testing.assert_array_equal(spec["threshold"], np.concatenate([net.layers[0].threshold, net.layers[1].threshold]))
    assert set(spec["dash_mem"]) == {3} and set(spec["dash_syn"]) == {0}


@pytest.mark.parametrize(("net", "kw", "match"), [
    (lambda: network([17, 4, 2]), {}, "17 inputs: Xylo Audio 2 .* has 16"),
    (lambda: network([4, 600, 401, 2]), {}, "1001 hidden neurons"),
    (lambda: network([4, 5, 9]), {}, "9 output neurons"),
    (lambda: network([4, 5]), {}, "a hidden layer and a readout layer"),
    (lambda: network([4, 5, 2], reset="zero"), {}, "reset zero; Xylo's neurons subtract"),
    (lambda: network([4, 5, 2], refractory=2), {}, "refractory period 2"),
    (lambda: network([4, 5, 2], leak_mode=LEAK_FACTOR, leak=60000), {}, "a factor leak"),
    (lambda: network([4, 5, 2], leak_mode=LEAK_NONE, leak=0), {}, "no leak \\(give if_dash\\)"),
])
def test_what_xylo_cannot_run_is_refused(net, kw: dict, match: str) -> None:  # noqa: ANN001
    with pytest.raises(LimitError, match=match):
        xylo_spec(net(), **kw)


def test_widths_initial_charge_and_an_integrator_layer() -> None:
    net = network([4, 5, 2])
    net.layers[1].threshold[0] = 2**15
    with pytest.raises(LimitError, match="threshold 32768 outside 1..32767"):
        xylo_spec(net)
    net = network([4, 5, 2])
    net.weight_bits = 12
    net.layers[0].weight[1, 1] = 300
    with pytest.raises(LimitError, match="weight 300 outside \\+-127"):
        xylo_spec(net)
    net = network([4, 5, 2])
    net.layers[0].v_init[:] = 3
    with pytest.raises(LimitError, match="initial charge"):
        xylo_spec(net)
    net = network([4, 5, 2], leak_mode=LEAK_NONE, leak=0)
    assert set(xylo_spec(net, if_dash=15)["dash_mem_out"]) == {15}
    assert XYLO_AUDIO2.limits().neurons == 1008


@pytest.mark.skipif(importlib.util.find_spec("rockpool") is None, reason="rockpool is the optional xylo extra")
def test_rockpools_quantiser_reads_the_spec_as_xylo_integers() -> None:
    """rockpool's global_quantize (rockpool.transform, importable without samna) scales the
    input+recurrent and the output weights to 8 bits: fed our spec in float units, it gives back
    our integers, so the keys, shapes and value conventions agree with rockpool's."""
    from rockpool.transform.quantize_methods import global_quantize

    spec = xylo_spec(network([16, 30, 20, 8], seed=1))
    scale, scale_out = 0.013, 0.2
    floats = {k: v * (scale_out if k.endswith("_out") and not k.startswith("dash") else scale)
              if isinstance(v, np.ndarray) and not k.startswith("dash") else v for k, v in spec.items()}
    q = global_quantize(**floats)
    for key in ("weights_in", "weights_rec", "weights_out", "threshold", "threshold_out"):
        np.testing.assert_array_equal(np.asarray(q[key]).reshape(spec[key].shape), spec[key], err_msg=key)
    np.testing.assert_array_equal(q["dash_mem"], spec["dash_mem"])


def test_opening_a_board_without_samna_says_why_and_what_to_do() -> None:
    if importlib.util.find_spec("samna") is not None:
        pytest.skip("samna is installed here")
    with pytest.raises(XyloUnavailable) as info:
        XyloBoard(device=None)
    message = str(info.value)
    if importlib.util.find_spec("rockpool") is None:
        assert 'pip install "hilt[xylo]"' in message
    else:
        assert "samna cannot be installed offline" in message and "No module named 'samna'" in message
    assert isinstance(info.value, ImportError)
