"""Strict reading of numbers in instruments' text replies, shared by the core and the drivers.

Python's ``float()`` accepts what no instrument sends: ``nan``, ``inf``, ``Infinity``, ``1_5``
(read as 15), digits of other scripts, and numbers that overflow to infinity; ``int(float(r))``
silently truncates ``2.7`` and raises OverflowError on ``inf``. A garbled reply must not read as
a value, so drivers parse with these helpers, which raise ValueError for anything but a plain
decimal number (IEEE 488.2 NR1/NR2/NR3, surrounding blanks allowed); the caller turns that into
a :class:`~hilt.errors.ProtocolError` naming the command and the reply.

A huge but finite number is a number: SCPI instruments answer ``+9.91E+37`` for "not a number"
(IEEE 488.2's NaN marker), and that is the instrument's value to report, not a garbled reply.
``hilt.parameters`` reads with :func:`number` by default; ``hilt.drivers.replies`` re-exports
these helpers for the drivers.
"""

from __future__ import annotations

import math
import re

_DECIMAL = re.compile(r"\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*", re.ASCII)


def number(text: str) -> float:
    """A finite decimal number and nothing else (ValueError otherwise)."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text!r}")
    return value


def integer(text: str) -> int:
    """An integer (``5``, ``+5``, or an integral ``5.000E+00``); ValueError for ``2.7`` or junk."""
    value = number(text)
    if not value.is_integer():
        raise ValueError(f"not an integer: {text!r}")
    return int(value)


def index(text: str, size: int) -> int:
    """An index into a table of ``size`` entries (0 .. size-1); ValueError otherwise (never -1)."""
    i = integer(text)
    if not 0 <= i < size:
        raise ValueError(f"index {i} outside 0..{size - 1}")
    return i


def numbers(text: str, sep: str = ",") -> list[float]:
    """``sep``-separated finite decimal numbers (``'1.5,2e-3'``); ValueError on any bad field."""
    return [number(part) for part in text.split(sep)]
