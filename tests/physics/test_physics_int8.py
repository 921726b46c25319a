"""Int8 arithmetic, bit-exact against plain-Python references written independently here."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from hilt.sims.physics import (
    Int8Conv2d,
    Int8Linear,
    Int8Sequential,
    int8_conv2d,
    int8_matmul,
    quantize_multiplier,
    requantize,
    requantize_float,
)


def py_round(fr: Fraction, mode: str) -> int:
    fl = math.floor(fr)
    rem = fr - fl
    if rem > Fraction(1, 2):
        return fl + 1
    if rem < Fraction(1, 2):
        return fl
    if mode == "half_even":
        return fl if fl % 2 == 0 else fl + 1
    return fl + 1 if fr > 0 else fl  # half away from zero


def sat(v: int) -> int:
    return max(-128, min(127, v))


def ref_requant(acc: int, m: int, shift: int, zp: int, mode: str) -> int:
    return sat(py_round(Fraction(acc * m, 2 ** (31 + shift)), mode) + zp)


def ref_matmul(x, w, b, zp):
    out = np.zeros((len(x), len(w)), dtype=np.int64)
    for i, row in enumerate(x):
        for j, wr in enumerate(w):
            acc = sum((int(a) - zp) * int(c) for a, c in zip(row, wr, strict=True)) + (int(b[j]) if b is not None else 0)
            acc = (acc + 2**31) % 2**32 - 2**31
            out[i, j] = acc
    return out


def ref_conv(x, w, b, stride, pad, zp):
    bsz, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.full((bsz, c, h + 2 * pad, wd + 2 * pad), zp, dtype=np.int64)
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((bsz, o, ho, wo), dtype=np.int64)
    for n in range(bsz):
        for oc in range(o):
            for i in range(ho):
                for j in range(wo):
                    acc = 0
                    for ic in range(c):
                        for a in range(kh):
                            for bb in range(kw):
                                acc += (int(xp[n, ic, i * stride + a, j * stride + bb]) - zp) * int(w[oc, ic, a, bb])
                    out[n, oc, i, j] = acc + (int(b[oc]) if b is not None else 0)
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_quantize_multiplier(rng):
    for scale in [1e-4, 0.0123, 0.5, 0.999, 1.0, 3.7]:
        m, s = quantize_multiplier(scale)
        assert 2**30 <= m < 2**31
        assert abs(m * 2.0 ** (-(31 + s)) / scale - 1) < 1e-9


@pytest.mark.parametrize("mode", ["half_away", "half_even"])
def test_requantize_bit_exact_including_ties(rng, mode):
    acc = rng.integers(-2**31, 2**31, size=2000, dtype=np.int64)
    acc[:8] = [0, 1, -1, 3, -3, 5, -5, 2**31 - 1]
    for scale in [2.0**-3, 0.0123, 0.37, 1e-5]:  # 2^-3: every odd multiple of 4 is a tie
        m, s = quantize_multiplier(scale)
        got = requantize(torch.from_numpy(acc).to(torch.int32), m, s, zero_point=3, rounding=mode)
        want = [ref_requant(int(a), m, s, 3, mode) for a in acc]
        assert got.tolist() == want
    ties = torch.tensor([4, 12, -4, -12], dtype=torch.int32)  # /8 -> 0.5, 1.5, -0.5, -1.5
    m, s = quantize_multiplier(2.0**-3)
    expected = [1, 2, -1, -2] if mode == "half_away" else [0, 2, 0, -2]
    assert requantize(ties, m, s, rounding=mode).tolist() == expected


@pytest.mark.parametrize("mode", ["half_away", "half_even"])
def test_requantize_float_bit_exact(rng, mode):
    acc = rng.integers(-2**20, 2**20, size=500)
    scale = 0.0078125  # exact in binary, so ties are real ties
    got = requantize_float(torch.from_numpy(acc).to(torch.int32), scale, -2, mode)
    want = [sat(py_round(Fraction(int(a)) * Fraction(scale), mode) - 2) for a in acc]
    assert got.tolist() == want


def test_int8_matmul_bit_exact_and_wraps(rng):
    x = rng.integers(-128, 128, size=(5, 37), dtype=np.int8)
    w = rng.integers(-128, 128, size=(6, 37), dtype=np.int8)
    b = rng.integers(-2**20, 2**20, size=6).astype(np.int32)
    got = int8_matmul(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), x_zero_point=-3)
    assert got.dtype == torch.int32
    assert np.array_equal(got.numpy(), ref_matmul(x, w, b, -3))
    # int32 accumulator wrap-around, as in hardware.
    big = torch.full((1, 1), 2**31 - 1, dtype=torch.int32)
    one = torch.ones((1, 1), dtype=torch.int8)
    assert int8_matmul(one, one, big[0]).item() == -(2**31)


def test_int8_conv2d_bit_exact(rng):
    x = rng.integers(-128, 128, size=(2, 3, 7, 6), dtype=np.int8)
    w = rng.integers(-128, 128, size=(4, 3, 3, 3), dtype=np.int8)
    b = rng.integers(-1000, 1000, size=4).astype(np.int32)
    for stride, pad, zp in [(1, 1, 5), (2, 0, 0)]:
        got = int8_conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, pad, zp)
        assert np.array_equal(got.numpy(), ref_conv(x, w, b, stride, pad, zp))


def test_int8_network_tracks_its_float_twin():
    g = torch.Generator().manual_seed(0)
    net = Int8Sequential([Int8Conv2d(1, 4, 3, padding=1, generator=g), torch.nn.ReLU(),
                          torch.nn.Flatten(), Int8Linear(4 * 6 * 6, 5, generator=g)])
    x = torch.rand(16, 1, 6, 6, generator=g)
    net.calibrate(x)
    with torch.no_grad():
        y_int, y_float = net(x), net.twin()(x)
    assert y_int.shape == (16, 5)
    err = (y_int - y_float).abs().max() / y_float.abs().max()
    assert 0 < float(err) < 0.05  # quantisation error: present, small
    for layer in net.layers:
        if isinstance(layer, (Int8Linear, Int8Conv2d)):
            assert layer.int_weight().dtype == torch.int8
            assert int(layer.int_weight().abs().max()) == 127
