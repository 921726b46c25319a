"""Phase to grey level through an SLM's look-up table: the one conversion every SLM back end uses.

A phase-only SLM takes integer grey levels ``0 .. 2**bit_depth - 1``; its look-up table (LUT)
says which phase (rad) each level gives, ``lut[g]``. A lab measures the LUT (hilt's LUT
calibration writes it); the data sheet's stand-in is the linear ramp :func:`linear_lut`.

:func:`phase_to_grey` turns any real phases into the grey levels whose LUT phases are nearest
*on the circle* (phases are compared modulo 2 pi): a panel whose stroke is a little more than
2 pi reaches a phase with one of two levels and the closer is taken; one whose stroke falls
short of 2 pi sends a phase in the gap to whichever end of the stroke is closer around the
circle. The LUT need not be monotonic.

This lives in the core (not in ``hilt.instruments``) because drivers, which may not import the
instruments layer, convert phases too.
"""

from __future__ import annotations

import math

import numpy as np

TWO_PI = 2.0 * math.pi
#: Largest bit depth an SLM back end is expected to have (16-bit panels exist; more is a typo).
MAX_BIT_DEPTH = 16


def grey_dtype(bit_depth: int) -> type[np.unsignedinteger]:
    """The smallest unsigned integer type holding every level of ``bit_depth`` bits."""
    return np.uint8 if bit_depth <= 8 else np.uint16


def linear_lut(bit_depth: int, phase_range: float = TWO_PI) -> np.ndarray:
    """The data sheet's LUT: level ``g`` gives ``phase_range * g / 2**bit_depth`` rad.

    With the default ``phase_range`` of 2 pi the ``2**bit_depth`` levels split one wave evenly
    (the top level is one step short of 2 pi, which is 0 again)."""
    check_bit_depth(bit_depth)
    n = 1 << bit_depth
    return np.arange(n, dtype=np.float64) * (float(phase_range) / n)


def check_bit_depth(bit_depth: int) -> int:
    """``bit_depth`` as an int in 1..16; ValueError otherwise."""
    if isinstance(bit_depth, bool) or int(bit_depth) != bit_depth or not 1 <= int(bit_depth) <= MAX_BIT_DEPTH:
        raise ValueError(f"bit depth {bit_depth!r}: expected an integer 1..{MAX_BIT_DEPTH}")
    return int(bit_depth)


def check_lut(lut: np.ndarray | list[float], bit_depth: int) -> np.ndarray:
    """``lut`` as a float64 array of ``2**bit_depth`` finite phases (rad); ValueError otherwise."""
    arr = np.asarray(lut, dtype=np.float64)
    n = 1 << check_bit_depth(bit_depth)
    if arr.shape != (n,):
        raise ValueError(f"LUT of shape {arr.shape}: a {bit_depth}-bit SLM needs {n} phases, one per grey level")
    if not np.all(np.isfinite(arr)):
        raise ValueError("LUT holds a NaN or an infinite phase")
    return arr.copy()


def check_grey(levels: np.ndarray, shape: tuple[int, int], bit_depth: int) -> np.ndarray:
    """``levels`` as an integer frame of ``shape`` in ``0 .. 2**bit_depth - 1`` (the type of
    :func:`grey_dtype`); ValueError naming what is wrong otherwise. Floats are accepted only
    when every value is a whole number."""
    arr = np.asarray(levels)
    if arr.shape != tuple(shape):
        raise ValueError(f"grey frame of shape {arr.shape}, the SLM is {tuple(shape)}")
    top = (1 << check_bit_depth(bit_depth)) - 1
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"grey levels of type {arr.dtype}: expected integers 0..{top}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"grey levels must be whole numbers 0..{top} (got fractional or non-finite values)")
    if arr.size and (arr.min() < 0 or arr.max() > top):
        raise ValueError(f"grey levels {arr.min():g}..{arr.max():g} outside 0..{top} ({bit_depth}-bit SLM)")
    return arr.astype(grey_dtype(bit_depth))


def phase_to_grey(phase: np.ndarray | float, lut: np.ndarray) -> np.ndarray:
    """Grey levels (unsigned ints, the shape of ``phase``) whose LUT phases are nearest to
    ``phase`` (rad, any real values) modulo 2 pi. Ties go to the lower level."""
    lut = np.asarray(lut, dtype=np.float64)
    n = lut.size
    bits = max(1, (n - 1).bit_length())
    if n < 2 or n != 1 << bits:
        raise ValueError(f"LUT of {n} entries: expected 2**bit_depth entries")
    p = np.asarray(phase, dtype=np.float64)
    if not np.all(np.isfinite(p)):
        raise ValueError("phase holds a NaN or an infinite value")
    wrapped = np.mod(p, TWO_PI)
    circle = np.mod(lut, TWO_PI)
    order = np.argsort(circle, kind="stable")
    sorted_phase = circle[order]
    # The two neighbours on the circle of each target: the first LUT phase at or above it and
    # the one before (wrapping around 0 / 2 pi at both ends).
    hi = np.searchsorted(sorted_phase, wrapped, side="left")
    lo = hi - 1
    hi_idx = order[hi % n]
    lo_idx = order[lo % n]
    d_hi = np.abs(_circular(lut[hi_idx] - wrapped))
    d_lo = np.abs(_circular(lut[lo_idx] - wrapped))
    pick = np.where((d_lo < d_hi) | ((d_lo == d_hi) & (lo_idx < hi_idx)), lo_idx, hi_idx)
    return pick.astype(grey_dtype(bits))


def grey_to_phase(levels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """The LUT's phase (rad) of each grey level."""
    return np.asarray(lut, dtype=np.float64)[np.asarray(levels, dtype=np.int64)]


def _circular(d: np.ndarray) -> np.ndarray:
    """Differences of phases brought into [-pi, pi)."""
    return np.mod(d + math.pi, TWO_PI) - math.pi


class HostLutSLM:
    """The SLM kind's LUT members for a back end that turns phase into grey on this computer
    (a display SLM, an slmsuite SLM): ``lut``/``set_lut``, ``show_phase`` and ``show_grey``,
    each frame checked here and handed to the back end's ``_show(levels)``.

    The back end sets ``shape``, ``bit_depth`` and ``_lut`` and implements ``_show``.
    """

    shape: tuple[int, int]
    bit_depth: int
    _lut: np.ndarray

    @property
    def lut(self) -> np.ndarray:
        """The grey level -> phase table in use, rad (a copy)."""
        return self._lut.copy()

    def set_lut(self, lut: np.ndarray) -> None:
        self._lut = check_lut(lut, self.bit_depth)

    def show_phase(self, phase: np.ndarray) -> None:
        phase = np.asarray(phase, dtype=np.float64)
        if phase.shape != self.shape:
            raise ValueError(f"phase of shape {phase.shape}, the SLM is {self.shape}")
        self._show(phase_to_grey(phase, self._lut))

    def show_grey(self, levels: np.ndarray) -> None:
        self._show(check_grey(levels, self.shape, self.bit_depth))

    def _show(self, levels: np.ndarray) -> None:
        raise NotImplementedError
