"""The phase -> grey conversion every SLM back end shares (hilt.slm_lut)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hilt.slm_lut import check_grey, check_lut, grey_to_phase, linear_lut, phase_to_grey

TWO_PI = 2 * math.pi


def test_linear_lut_splits_one_wave_evenly() -> None:
    lut = linear_lut(8)
    assert lut.shape == (256,) and lut[0] == 0.0
    assert lut[128] == pytest.approx(math.pi)
    assert lut[-1] == pytest.approx(TWO_PI * 255 / 256)


def test_phase_to_grey_on_a_linear_lut_is_rounding_modulo_two_pi() -> None:
    lut = linear_lut(8)
    phase = np.array([[0.0, math.pi, -math.pi / 2], [TWO_PI, 3 * TWO_PI + 0.5 * TWO_PI / 256 * 0.99, 1e-9]])
    grey = phase_to_grey(phase, lut)
    assert grey.dtype == np.uint8 and grey.shape == phase.shape
    assert grey.tolist() == [[0, 128, 192], [0, 0, 0]]
    # just below 2 pi wraps to level 0 (the nearest on the circle), not to 255
    assert phase_to_grey(TWO_PI - 0.1 * TWO_PI / 256, lut) == 0


def test_every_phase_goes_to_the_nearest_level_on_the_circle() -> None:
    rng = np.random.default_rng(3)
    # a bent, over-long stroke (2 pi * 1.1) as a real panel has
    x = np.arange(256) / 255
    lut = TWO_PI * 1.1 * x**1.2
    phase = rng.uniform(-20, 20, 2000)
    grey = phase_to_grey(phase, lut).astype(int)
    dist = np.abs(np.mod(lut[grey] - phase + math.pi, TWO_PI) - math.pi)
    brute = np.min(np.abs(np.mod(lut[None, :] - phase[:, None] + math.pi, TWO_PI) - math.pi), axis=1)
    np.testing.assert_allclose(dist, brute, atol=1e-12)


def test_a_short_stroke_sends_the_gap_to_the_closer_end() -> None:
    lut = linear_lut(4, phase_range=0.5 * TWO_PI)  # 0 .. ~pi
    assert phase_to_grey(0.55 * TWO_PI, lut) == 15  # just past the top
    assert phase_to_grey(0.95 * TWO_PI, lut) == 0  # nearer 2 pi = 0
    assert phase_to_grey(0.0, lut) == 0


def test_sixteen_bit_levels_come_as_uint16() -> None:
    assert phase_to_grey(np.zeros((2, 2)), linear_lut(10)).dtype == np.uint16


def test_bad_input_is_refused_with_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="NaN"):
        phase_to_grey(np.array([np.nan]), linear_lut(8))
    with pytest.raises(ValueError, match="2\\*\\*bit_depth"):
        phase_to_grey(0.0, np.zeros(100))
    with pytest.raises(ValueError, match="256 phases"):
        check_lut(np.zeros(255), 8)
    with pytest.raises(ValueError, match="NaN"):
        check_lut(np.full(256, np.inf), 8)
    with pytest.raises(ValueError, match="bit depth"):
        linear_lut(0)


def test_check_grey_refuses_out_of_range_shape_and_fractions() -> None:
    good = check_grey(np.array([[0, 255]]), (1, 2), 8)
    assert good.dtype == np.uint8 and good.tolist() == [[0, 255]]
    assert check_grey(np.array([[1.0, 2.0]]), (1, 2), 8).tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="outside 0..255"):
        check_grey(np.array([[0, 256]]), (1, 2), 8)
    with pytest.raises(ValueError, match="outside"):
        check_grey(np.array([[-1, 0]]), (1, 2), 8)
    with pytest.raises(ValueError, match="shape"):
        check_grey(np.zeros((2, 2), int), (1, 2), 8)
    with pytest.raises(ValueError, match="whole numbers"):
        check_grey(np.array([[0.5, 1]]), (1, 2), 8)
    with pytest.raises(ValueError, match="type"):
        check_grey(np.array([[True, False]]), (1, 2), 8)


def test_grey_to_phase_reads_the_lut() -> None:
    lut = linear_lut(8)
    assert grey_to_phase(np.array([0, 128]), lut).tolist() == [0.0, pytest.approx(math.pi)]
