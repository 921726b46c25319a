"""Validators: what values a parameter accepts, checked before any byte is sent."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from hilt.errors import LimitError


class Validator:
    """Checks and normalises one value; raises :class:`LimitError` (a ValueError) when refused."""

    def validate(self, value: Any) -> Any:
        raise NotImplementedError

    @property
    def range(self) -> tuple[float, float] | None:
        return None


class Numbers(Validator):
    """A real number in ``[min, max]`` (inclusive). NaN and infinities are refused."""

    def __init__(self, min: float = -math.inf, max: float = math.inf) -> None:
        if min > max:
            raise ValueError(f"min {min} > max {max}")
        self.min, self.max = float(min), float(max)

    def validate(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
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
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value:
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
        if value not in self.values:
            raise LimitError(f"{value!r} not one of {list(self.values)}", value=value)
        return value

    def __repr__(self) -> str:
        return f"Enum{self.values}"


class Bool(Validator):
    def validate(self, value: Any) -> bool:
        if value in (True, False, 0, 1):
            return bool(value)
        raise LimitError(f"{value!r} is not a boolean", value=value)


class Sequence(Validator):
    """A sequence of values each checked by ``element``, with an optional length."""

    def __init__(self, element: Validator, length: int | None = None) -> None:
        self.element, self.length = element, length

    def validate(self, value: Iterable[Any]) -> list[Any]:
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
