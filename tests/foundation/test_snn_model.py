"""The neuromorphic model payload (docs/protocols/board.md, "Neuromorphic boards (class 2)"):
the page's hand-written bytes, round trips, malformed payloads and the board's limits."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.errors import LimitError
from hilt.snn_model import (
    LEAK_FACTOR,
    LEAK_NONE,
    LEAK_SHIFT,
    BoardLimits,
    ModelFormatError,
    SnnLayer,
    SnnNetwork,
    decode_network,
    encode_network,
    leak_factor,
)

# The page's example, byte by byte.
PAGE_MODEL = bytes.fromhex(
    "02 01 0002 01 08 10"      # class 2, format 1, 2 inputs, 1 layer, 8-bit weights, 16-bit thresholds
    "0002 01 01 0001 00"       # 2 neurons, subtract reset, leak shift 1, no refractory period
    "01 FE 03 04"              # weights [[1, -2], [3, 4]]
    "05000000 06000000"        # thresholds 5, 6 (i32 little-endian)
    "00000000 01000000"        # bias 0, 1
    "02000000 00000000"        # initial charge 2, 0
)


def page_network() -> SnnNetwork:
    layer = SnnLayer(np.array([[1, -2], [3, 4]]), np.array([5, 6]), np.array([0, 1]), np.array([2, 0]),
                     LEAK_SHIFT, 1, "subtract", 0)
    return SnnNetwork(2, [layer], 8, 16)


def test_the_pages_example_bytes() -> None:
    assert len(PAGE_MODEL) == 42
    assert encode_network(page_network()) == PAGE_MODEL
    net = decode_network(PAGE_MODEL)
    (la,) = net.layers
    np.testing.assert_array_equal(la.weight, [[1, -2], [3, 4]])
    np.testing.assert_array_equal(la.threshold, [5, 6])
    np.testing.assert_array_equal(la.bias, [0, 1])
    np.testing.assert_array_equal(la.v_init, [2, 0])
    assert (la.leak_mode, la.leak, la.reset, la.refractory) == (LEAK_SHIFT, 1, "subtract", 0)


def test_a_deep_network_with_16_bit_weights_round_trips() -> None:
    rng = np.random.default_rng(0)
    layers = [SnnLayer(rng.integers(-2000, 2000, (7, 5)), rng.integers(1, 60000, 7), rng.integers(-9, 9, 7),
                       None, LEAK_FACTOR, 60000, "zero", 3),
              SnnLayer(rng.integers(-2000, 2000, (3, 7)), 100, None, None, LEAK_NONE, 0, "subtract", 0)]
    net = SnnNetwork(5, layers, 12, 16)
    payload = encode_network(net)
    assert len(payload) == 7 + (7 + 2 * 35 + 12 * 7) + (7 + 2 * 21 + 12 * 3)  # 16-bit weights above 8 bits
    back = decode_network(payload)
    for a, b in zip(net.layers, back.layers, strict=True):
        for name in ("weight", "threshold", "bias", "v_init"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert (a.leak_mode, a.leak, a.reset, a.refractory) == (b.leak_mode, b.leak, b.reset, b.refractory)


@pytest.mark.parametrize(("payload", "match"), [
    (PAGE_MODEL[:5], "shorter than its header"),
    (PAGE_MODEL[:-1], "arrays announced"),
    (PAGE_MODEL + b"\x00", "after the last layer"),
    (b"\x01" + PAGE_MODEL[1:], "class 1 format 1"),
    (PAGE_MODEL[:9] + b"\x02" + PAGE_MODEL[10:], "reset code 2"),
    (PAGE_MODEL[:10] + b"\x03" + PAGE_MODEL[11:], "leak mode 3"),
    (PAGE_MODEL[:10] + b"\x01\x00\x10" + PAGE_MODEL[13:], "leak shift 16"),
    (PAGE_MODEL[:7] + b"\x00\x00" + PAGE_MODEL[9:], "n_out 0"),
])
def test_malformed_payloads_are_refused_with_what_is_wrong(payload: bytes, match: str) -> None:
    with pytest.raises(ModelFormatError, match=match):
        decode_network(payload)


def test_another_class_is_unsupported_not_malformed() -> None:
    with pytest.raises(ModelFormatError) as info:
        decode_network(b"\x01\x01" + PAGE_MODEL[2:])
    assert info.value.unsupported
    with pytest.raises(ModelFormatError) as info:
        decode_network(PAGE_MODEL[:-1])
    assert not info.value.unsupported


def test_a_weight_that_does_not_fit_its_bits_is_never_wrapped() -> None:
    net = page_network()
    net.layers[0].weight[0, 0] = 128
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        encode_network(net)


def test_leak_factors() -> None:
    assert leak_factor(LEAK_NONE, 0) == 65536
    assert leak_factor(LEAK_SHIFT, 4) == 65536 - 4096
    assert leak_factor(LEAK_FACTOR, 60000) == 60000


LIMITS = BoardLimits(neurons=10, fan_in=4, max_layers=2, inputs=3, weight_bits=8, threshold_bits=8, state_bits=12)


@pytest.mark.parametrize(("change", "match"), [
    (lambda n: setattr(n.layers[0], "threshold", np.array([5, 256])), r"threshold 256 outside 1..255"),
    (lambda n: setattr(n.layers[0], "threshold", np.array([0, 6])), r"threshold 0 outside"),
    (lambda n: setattr(n, "threshold_bits", 9), "9-bit thresholds, the board stores 8"),
    (lambda n: setattr(n, "weight_bits", 12), "12-bit weights"),
    (lambda n: setattr(n.layers[0], "bias", np.array([0, 2048])), r"bias 2048 outside the 12-bit state"),
    (lambda n: n.layers.append(SnnLayer(np.ones((9, 2), int), 1)), "11 neurons, the board holds 10"),
    (lambda n: n.layers.extend([SnnLayer(np.ones((1, 2), int), 1), SnnLayer(np.ones((1, 1), int), 1)]),
     "3 layers, the board holds 2"),
    (lambda n: n.layers.append(SnnLayer(np.ones((2, 3), int), 1)), "weight of shape"),
])
def test_limits_are_checked_with_the_reason(change, match: str) -> None:  # noqa: ANN001
    net = page_network()
    net.threshold_bits = 8
    LIMITS.check(net)
    change(net)
    with pytest.raises(LimitError, match=match):
        LIMITS.check(net, "board")


def test_limits_from_an_identify_reply() -> None:
    fields = {"class": "neuromorphic", "neurons": "1000", "fan_in": "16", "weight_bits": "8",
              "threshold_bits": "16", "max_batch": "64", "vendor": "x"}
    limits = BoardLimits.from_mapping(fields)
    assert (limits.neurons, limits.fan_in, limits.max_batch, limits.max_layers) == (1000, 16, 64, 8)
    with pytest.raises(ValueError, match="does not state its limit fan_in"):
        BoardLimits.from_mapping({k: v for k, v in fields.items() if k != "fan_in"})
    for bad in ("-1", "1e3", "0", " 5", "99999999999"):
        with pytest.raises(ValueError, match="neurons"):
            BoardLimits.from_mapping(fields | {"neurons": bad})
    with pytest.raises(ValueError, match="bits out of range"):
        BoardLimits.from_mapping(fields | {"weight_bits": "17"})
