"""Validators: what values a parameter accepts, checked before any byte is sent.

The rules, the same for every driver:

* a number is a real number (``int``, ``float``, numpy integer or float), never a ``bool`` and
  never a string: text (``"15e9"``, ``"15 GHz"``, ``"-3 dBm"``) is read by the parameter before
  its validator sees it, for every validator with a numeric :attr:`Validator.range` (see
  :func:`hilt.parameters.to_unit`), and text that cannot be read is a
  :class:`~hilt.errors.UnitError`; NaN and infinities are refused;
* a boolean is ``True``/``False`` (Python or numpy), the integers ``0``/``1``, or one of the
  strings ``"on"``/``"off"``/``"1"``/``"0"``/``"true"``/``"false"`` (any case, surrounding
  spaces ignored). Nothing else: never the truthiness of an arbitrary value, so ``"off"`` is
  off and ``"no"``, ``2`` or ``0.5`` are refused;
* a vector (:func:`real_vector`) is a flat run of such numbers, every element checked.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from hilt.errors import LimitError


def is_real(value: Any) -> bool:
    """A real number that is not a bool (``True`` is an int in Python, never a setpoint here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


class Validator:
    """Checks and normalises one value; raises :class:`LimitError` (a ValueError) when refused."""

    def validate(self, value: Any) -> Any:
        raise NotImplementedError

    @property
    def range(self) -> tuple[float, float] | None:
        """The hardware range of a validator that takes numbers; None for one that does not
        (a parameter reads text as a number only for a validator with a range)."""
        return None


class Numbers(Validator):
    """A real number in ``[min, max]`` (inclusive). NaN and infinities are refused."""

    def __init__(self, min: float = -math.inf, max: float = math.inf) -> None:
        if min > max:
            raise ValueError(f"min {min} > max {max}")
        self.min, self.max = float(min), float(max)

    def validate(self, value: Any) -> float:
        if not is_real(value):
            raise LimitError(f"{value!r} is not a number")
        v = float(value)
        if not math.isfinite(v):
            raise LimitError(f"{v} is not finite")
        if not self.min <= v <= self.max:
            raise LimitError(f"{v:g} outside [{self.min:g}, {self.max:g}]", value=v)
        return v

    @property
    def range(self) -> tuple[float, float]:
        return (self.min, self.max)

    def __repr__(self) -> str:
        return f"Numbers({self.min:g}, {self.max:g})"


class Ints(Numbers):
    """An integer in ``[min, max]``."""

    def validate(self, value: Any) -> int:
        if not is_real(value) or not math.isfinite(float(value)) or int(value) != value:
            raise LimitError(f"{value!r} is not an integer")
        v = int(value)
        if not self.min <= v <= self.max:
            raise LimitError(f"{v} outside [{self.min:g}, {self.max:g}]", value=v)
        return v


class Enum(Validator):
    """One of a fixed set of values."""

    def __init__(self, *values: Any) -> None:
        self.values = tuple(values)

    def validate(self, value: Any) -> Any:
        # `1 in (True,)` and `1.0 in (1,)` are true in Python: compare type as well as value.
        for allowed in self.values:
            if value == allowed and isinstance(value, bool) == isinstance(allowed, bool) \
                    and isinstance(value, str) == isinstance(allowed, str):
                return allowed
        raise LimitError(f"{value!r} not one of {list(self.values)}", value=value)

    def __repr__(self) -> str:
        return f"Enum{self.values}"


#: The strings :class:`Bool` reads (lower case, after stripping spaces).
BOOL_WORDS = {"on": True, "off": False, "1": True, "0": False, "true": True, "false": False}


def parse_bool_value(value: Any) -> bool:
    """A setpoint read as a boolean by the documented rule (module docstring); LimitError if not."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in BOOL_WORDS:
        return BOOL_WORDS[value.strip().lower()]
    raise LimitError(f"{value!r} is not a boolean (True/False, 0/1 or 'on'/'off'/'1'/'0'/'true'/'false')",
                     value=value)


class Bool(Validator):
    """On/off: ``True``/``False``, ``0``/``1`` or ``"on"``/``"off"``/``"1"``/``"0"``/``"true"``/``"false"``."""

    def validate(self, value: Any) -> bool:
        return parse_bool_value(value)


class Sequence(Validator):
    """A sequence of values each checked by ``element``, with an optional length."""

    def __init__(self, element: Validator, length: int | None = None) -> None:
        self.element, self.length = element, length

    def validate(self, value: Iterable[Any]) -> list[Any]:
        if isinstance(value, (str, bytes)):
            raise LimitError(f"{value!r} is not a sequence of values")
        values = list(value)
        if self.length is not None and len(values) != self.length:
            raise LimitError(f"expected {self.length} values, got {len(values)}")
        out = []
        for i, v in enumerate(values):
            try:
                out.append(self.element.validate(v))
            except LimitError as exc:
                raise LimitError(f"element {i}: {exc}", value=v) from None
        return out


def real_vector(values: Any, *, length: int | None = None, what: str = "values") -> np.ndarray:
    """``values`` as a flat float64 array, every element a finite real number; sends nothing.

    Refused (LimitError naming the first bad element): strings, bools, complex numbers, None,
    NaN, infinities, and a length other than ``length``. A numpy array of a real dtype is taken
    as is; anything else is checked element by element, because ``np.asarray(["1", True],
    dtype=float)`` would quietly turn a string and a bool into numbers.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, (Iterable, np.ndarray)):
        raise LimitError(f"{what}: {values!r} is not a sequence of numbers", value=values)
    arr = values if isinstance(values, np.ndarray) else None
    if arr is None or arr.dtype.kind not in "iuf":
        flat = list(np.asarray(values, dtype=object).ravel()) if arr is None else list(arr.ravel())
        for i, v in enumerate(flat):
            if not is_real(v):
                raise LimitError(f"{what}: element {i}: {v!r} is not a number", value=v)
        arr = np.array([float(v) for v in flat], dtype=np.float64)
    out = np.asarray(arr, dtype=np.float64).ravel()
    if length is not None and out.size != length:
        raise LimitError(f"expected {length} {what}, got {out.size}")
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        i = int(bad[0])
        raise LimitError(f"{what}: element {i}: {out[i]} is not finite", value=float(out[i]))
    return out
