"""Declarative instrument parameters: commands, units, validation, soft limits and ramps.

A driver declares its parameters on the class::

    class Synth(Instrument):
        frequency = Parameter("FREQ:CW?", "FREQ:CW {value:.3f}", unit="Hz",
                              vals=Numbers(250e3, 20e9))

Each instrument instance gets its own :class:`BoundParameter` (so soft limits from a station file
belong to one instrument), used as ``synth.frequency.set(10e9)`` / ``synth.frequency.get()``.
Everything about a setpoint (type, hardware range, soft limits) is checked before a byte is sent.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from hilt.errors import LimitError, ProtocolError, UnitError
from hilt.replies import integer, number
from hilt.validators import Numbers, Validator, is_real

if TYPE_CHECKING:
    from hilt.instrument import ParameterOwner

Command = str | Callable[..., Any] | None


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
#: A digit in a unit that is not an exponent ("2*GHz", "GHz 3"): an expression, not a unit.
_NUMBER_IN_UNIT = re.compile(r"(?<![\^*\d])\d")
#: Unit texts longer than this many letters are not tried in every case (2**n spellings).
_MAX_CASED_LETTERS = 8


def to_unit(value: str, unit: str) -> float:
    """A setpoint given as text, as a number in the parameter's ``unit``; sends nothing.

    What is read (pint does the units):

    * a plain number, ``"15e9"``, ``"-3"``, ``" 4.5 "``: in the parameter's own unit;
    * a number and a unit, ``"15 GHz"``, ``"15GHz"``, ``"2.5 mV"``, ``"20 degC"``: converted,
      so ``"10 GHz"`` is 1e10 for a parameter in Hz;
    * units with an offset or a logarithm (dBm, dB, degC) in their own unit: ``"0 dBm"`` is 0
      for a parameter in dBm and 1e-3 for one in W, ``"1 mW"`` is 0 for one in dBm. The number
      and the unit are taken apart before pint sees them, so ``"0 dBm"`` is never the product
      ``0 * dBm``.

    Case: a unit is first read exactly as written, with pint's (SI's) case rules: ``mHz`` is
    millihertz and ``MHz`` megahertz, ``ms`` milliseconds. Written in another case (``"15 ghz"``,
    ``"3 DBM"``, ``"5 KHZ"``), every spelling of its letters is tried, keeping the letters typed in
    upper case as typed, and those of the parameter's dimension are kept: one reading
    (``ghz`` -> GHz, ``dbm`` -> dBm, ``Mhz`` -> MHz) is taken; two that differ (``mhz``: mHz or MHz;
    ``MS`` for a time: ms or Ms) are refused, naming both. So a prefix whose case
    matters (m/M, p/P) is never guessed.

    Anything else is a :class:`~hilt.errors.UnitError` saying what was expected: an unknown
    unit, a unit of another dimension (``"2 V"`` for a frequency), an expression
    (``"2*GHz"``), a word (``"fast"``), NaN or infinity as text. A parameter whose own unit pint
    does not know (``dB/oct``) takes a plain number or its own unit written out.
    """
    expected = (f"'<number> [unit]' with a unit convertible to {unit}, e.g. '1.5e3' or '1.5e3 {unit}'" if unit
                else "'<number>', a plain number")
    m = _QUANTITY.match(value)
    if m is None:
        raise UnitError(f"cannot read {value!r} as a value in {unit or 'no unit'}: expected {expected}",
                        text=value, unit=unit, expected=expected)
    magnitude, text = float(m.group(1)), m.group(2)
    if not text:
        return magnitude
    if unit and text == unit:
        return magnitude
    if _NUMBER_IN_UNIT.search(text) or text[0] in "*/^":
        raise UnitError(f"cannot read {value!r} as a value in {unit or 'no unit'}: {text!r} is an expression, "
                        f"not a unit; expected {expected}", text=value, unit=unit, expected=expected)
    import pint

    ureg = _unit_registry()
    target = unit or "dimensionless"
    try:
        ureg.parse_units(target)
    except (pint.errors.PintError, ValueError, AttributeError, TypeError):
        raise UnitError(f"cannot read {value!r}: this parameter's unit {unit!r} is not one pint knows; give a "
                        f"plain number in {unit} or write the unit as {unit!r}", text=value, unit=unit,
                        expected=f"'<number>' or '<number> {unit}'") from None
    exact = _reading(ureg, magnitude, text, target)
    if isinstance(exact, float):
        return exact
    readings: dict[str, float] = {}
    for spelling in _spellings(text):
        if spelling == text:
            continue
        found = _reading(ureg, magnitude, spelling, target)
        if isinstance(found, float) and math.isfinite(found) and spelling not in readings:
            readings[spelling] = found
    distinct: dict[float, str] = {}
    for spelling, v in readings.items():
        if not any(math.isclose(v, w, rel_tol=1e-12, abs_tol=0.0) for w in distinct):
            distinct[v] = spelling
    if len(distinct) == 1:
        return next(iter(distinct))
    if len(distinct) > 1:
        options = " or ".join(f"'{m.group(1)} {s}' ({v:g} {unit})".replace(" )", ")") for v, s in distinct.items())
        raise UnitError(f"{value!r} is ambiguous: {options}; write the unit's prefix in its own case "
                        "(m milli, M mega, p pico, P peta)", text=value, unit=unit, expected=expected)
    why = exact if isinstance(exact, str) else f"{text!r} is not a unit"
    raise UnitError(f"cannot read {value!r} as a value in {unit or 'no unit'}: {why}; expected {expected}",
                    text=value, unit=unit, expected=expected)


def _reading(ureg: Any, magnitude: float, text: str, target: str) -> float | str:
    """``magnitude`` in unit ``text`` converted to ``target``, or a sentence saying why not."""
    import pint

    try:
        units = ureg.parse_units(text)
    except (pint.errors.PintError, ValueError, AttributeError, TypeError, KeyError):
        return f"{text!r} is not a unit"
    try:
        # Converting to a log unit takes a logarithm: 0 mW is -inf dBm, which the finite check
        # refuses; numpy's warning about it says nothing more.
        with np.errstate(divide="ignore", invalid="ignore"):
            converted = float(ureg.Quantity(magnitude, units).to(target).magnitude)
        # 15 significant digits: "1550 nm" is 1.55e-06 m, not 1.5500000000000002e-06.
        return float(f"{converted:.15g}")
    except pint.errors.DimensionalityError:
        return f"{text!r} ({units}) does not convert to {target}"
    except (pint.errors.PintError, ValueError, ArithmeticError, TypeError) as exc:
        return f"{text!r}: {exc}"


def _spellings(text: str) -> list[str]:
    """``text`` in every case its letters can take, a letter typed in upper case kept so (an
    upper-case letter is a choice; a lower-case one may be a shortcut)."""
    letters = [i for i, ch in enumerate(text) if ch.isalpha() and ch.islower()]
    if len(letters) > _MAX_CASED_LETTERS:
        return [text.lower(), text.upper()]
    out = []
    for mask in range(1 << len(letters)):
        chars = list(text)
        for bit, i in enumerate(letters):
            if mask >> bit & 1:
                chars[i] = chars[i].upper()
        out.append("".join(chars))
    if text.isupper() or not letters:  # "GHZ", "DBM": typed all in capitals, nothing was chosen
        out += [s for s in _spellings(text.lower()) if s not in out]
    return out


_UREG: Any = None


def _unit_registry() -> Any:
    global _UREG
    if _UREG is None:
        import pint

        _UREG = pint.UnitRegistry()
    return _UREG


class Parameter:
    """A settable/gettable quantity of an instrument, declared once on the driver class.

    ``get_cmd``/``set_cmd`` are format strings (``{value}`` and any attribute the owner exposes in
    ``format_context``, such as ``{ch}`` on a channel) or callables ``(owner[, value])``.
    ``ramp_step`` with ``ramp_rate`` (units per second) makes ``set`` walk to the target in steps
    no larger than ``ramp_step``: heaters and high-voltage outputs must not jump.
    ``get_parser`` reads the reply; the default, :func:`hilt.replies.number`, takes a finite
    decimal number only (never ``nan``, ``inf``, ``1e999`` or ``1_5``), so a garbled reply is a
    ProtocolError rather than a value.
    """

    def __init__(
        self,
        get_cmd: Command = None,
        set_cmd: Command = None,
        *,
        unit: str = "",
        get_parser: Callable[[str], Any] = number,
        set_map: dict[Any, str] | None = None,
        vals: Validator | None = None,
        ramp_step: float | None = None,
        ramp_rate: float | None = None,
        check_errors: bool | None = None,
        snapshot: bool = True,
        doc: str = "",
    ) -> None:
        self.get_cmd = get_cmd
        self.set_cmd = set_cmd
        self.unit = unit
        self.get_parser = get_parser
        self.set_map = set_map
        self.vals = vals
        self.ramp_step = ramp_step
        self.ramp_rate = ramp_rate
        self.check_errors = check_errors
        self.snapshot = snapshot
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        # Reached only on the class (instances hold their BoundParameter in __dict__).
        return self


class BoundParameter:
    """One instrument's instance of a :class:`Parameter`."""

    def __init__(self, spec: Parameter, owner: ParameterOwner) -> None:
        self.spec = spec
        self.owner = owner
        self.name = spec.name
        self.unit = spec.unit
        # Per instance: a driver may narrow the hardware range for its options (e.g. a 20 GHz PSG).
        self.vals: Validator | None = spec.vals
        self.soft_limits: tuple[float, float] | None = None
        self.cache: Any = None
        self.cache_time: float | None = None
        self._ramp_abort = threading.Event()
        ctx = owner.format_context()
        # Static commands are formatted once: the hot path is a dict lookup and a write.
        self._get_cmd = spec.get_cmd.format(**ctx) if isinstance(spec.get_cmd, str) else spec.get_cmd
        self._set_ctx = ctx

    @property
    def full_name(self) -> str:
        return f"{self.owner.full_name}.{self.name}"

    @property
    def gettable(self) -> bool:
        return self.spec.get_cmd is not None

    @property
    def settable(self) -> bool:
        return self.spec.set_cmd is not None

    def set_soft_limits(self, low: float | None, high: float | None) -> None:
        """Narrow the accepted range; soft limits may not widen the hardware range."""
        hard = self.vals.range if self.vals is not None else None
        for bound in (low, high):
            if bound is not None and (not is_real(bound) or math.isnan(float(bound))):
                raise LimitError(f"soft limit {bound!r} is not a number", instrument=self.owner.full_name,
                                 parameter=self.name)
        # None: no soft limit on that side, i.e. the hardware bound.
        lo = (hard[0] if hard else -math.inf) if low is None else float(low)
        hi = (hard[1] if hard else math.inf) if high is None else float(high)
        if lo > hi:
            raise LimitError(f"soft limits [{lo:g}, {hi:g}] are empty", instrument=self.owner.full_name, parameter=self.name)
        if hard is not None and (lo < hard[0] or hi > hard[1]):
            raise LimitError(
                f"soft limits [{lo:g}, {hi:g}] exceed the hardware range [{hard[0]:g}, {hard[1]:g}]",
                instrument=self.owner.full_name, parameter=self.name,
            )
        self.soft_limits = (lo, hi)

    def validate(self, value: Any) -> Any:
        """The value that would be sent, or a LimitError saying why not. Sends nothing.

        Numbers may be given as strings, plain or with a unit (``"15e9"``, ``"2.5 MHz"``,
        ``"-3 dBm"``; see :func:`to_unit`); text that cannot be read is a
        :class:`~hilt.errors.UnitError` naming this parameter. Booleans follow
        :class:`hilt.validators.Bool`'s rule.
        """
        # A validator with a numeric range takes numbers (Numbers, Ints, a table of settings).
        if isinstance(value, str) and self.vals is not None and self.vals.range is not None:
            try:
                value = to_unit(value, self.unit)
            except UnitError as exc:
                raise UnitError(str(exc), instrument=self.owner.full_name, parameter=self.name, text=exc.text,
                                unit=exc.unit, expected=exc.expected) from None
        try:
            if self.vals is not None:
                value = self.vals.validate(value)
            if self.soft_limits is not None:
                if self.vals is None:
                    value = Numbers().validate(value)  # type and finiteness before comparing
                lo, hi = self.soft_limits
                if not lo <= value <= hi:
                    raise LimitError(f"{value:g} {self.unit} outside the soft limits [{lo:g}, {hi:g}]".replace("  ", " "), value=value)
        except LimitError as exc:
            raise self._named(exc, value) from None
        return value

    def _named(self, exc: LimitError, value: Any) -> LimitError:
        if exc.parameter:
            return exc
        return LimitError(str(exc), instrument=self.owner.full_name, parameter=self.name, value=value)

    def get(self) -> Any:
        if self._get_cmd is None:
            raise AttributeError(f"{self.full_name} cannot be read")
        if callable(self._get_cmd):
            value = self._get_cmd(self.owner)
        else:
            reply = self.owner.query(self._get_cmd)
            try:
                value = self.spec.get_parser(reply)
            except (ValueError, TypeError, KeyError, IndexError, OverflowError, ZeroDivisionError) as exc:
                raise ProtocolError(
                    f"cannot parse {self.name}", instrument=self.owner.full_name, command=self._get_cmd, reply=reply
                ) from exc
        if isinstance(value, float) and not math.isfinite(value):
            # Finite replies can still give nothing finite once converted (a frequency computed
            # from a wavelength of 1e-308): never hand a NaN or an infinity to the caller.
            raise ProtocolError(f"{self.name} reads as {value} (from replies that are out of any range)",
                                instrument=self.owner.full_name, command=self._get_cmd
                                if isinstance(self._get_cmd, str) else None)
        self.cache, self.cache_time = value, time.time()
        return value

    def set(self, value: Any) -> None:
        value = self.validate(value)
        if self.spec.set_cmd is None:
            raise AttributeError(f"{self.full_name} cannot be set")
        if self.spec.ramp_step is not None:
            self._ramp_to(value)
        else:
            self._write(value)

    def __call__(self, *value: Any) -> Any:
        """QCoDeS-style shorthand: ``p()`` reads, ``p(v)`` sets."""
        if value:
            return self.set(*value)
        return self.get()

    def _write(self, value: Any) -> None:
        spec = self.spec
        if callable(spec.set_cmd):
            spec.set_cmd(self.owner, value)
        else:
            token = spec.set_map[value] if spec.set_map is not None else value
            command = spec.set_cmd.format(value=token, **self._set_ctx)
            check = spec.check_errors if spec.check_errors is not None else self.owner.check_errors_after_set
            self.owner.write(command, check_errors=check)
        self.cache, self.cache_time = value, time.time()

    def abort_ramp(self) -> None:
        self._ramp_abort.set()

    def ramp_points(self, target: float, start: float, *, soft_limits: bool = True) -> list[float]:
        """The setpoints a ramp from ``start`` to ``target`` sends, every one checked; sends nothing.

        Each step is at most ``ramp_step``. Every point must be finite and inside the hardware
        range; inside the soft limits too, except on the way back from an output that is already
        outside them (limits narrowed since it was set): a ramp never goes beyond the present
        output or the limits, so it can always bring an output back into range. ``soft_limits=False``
        (for :meth:`set_safe`) checks the hardware range only.
        """
        try:
            first = Numbers().validate(start)
        except LimitError as exc:
            raise self._named(LimitError(f"cannot ramp from the present value: {exc}"), start) from None
        step = float(self.spec.ramp_step or 0)
        distance = target - first
        n = max(1, math.ceil(abs(distance) / step)) if step > 0 else 1
        points = [first + distance * k / n if k < n else target for k in range(1, n + 1)]
        use_soft = soft_limits and self.soft_limits is not None
        lo, hi = self.soft_limits if use_soft else (-math.inf, math.inf)  # type: ignore[misc]
        lo, hi = min(lo, first), max(hi, first)
        for p in points:
            try:
                value = self.vals.validate(p) if self.vals is not None else Numbers().validate(p)
                if not lo <= value <= hi:
                    raise LimitError(f"ramp point {value:g} {self.unit} outside the soft limits".replace("  ", " "),
                                     value=value)
            except LimitError as exc:
                raise self._named(exc, p) from None
        return points

    def set_safe(self, value: float) -> None:
        """Go to a safe value (e.g. 0 V) for a safe state, ramped like :meth:`set`.

        Soft limits do not bind the way to a safe state (they may exclude 0 V); type,
        finiteness and the hardware range are still checked, every ramp point before the first.
        """
        if self.spec.set_cmd is None:
            raise AttributeError(f"{self.full_name} cannot be set")
        try:
            target = self.vals.validate(value) if self.vals is not None else value
        except LimitError as exc:
            raise self._named(exc, value) from None
        if self.spec.ramp_step is not None:
            self._ramp_to(target, soft_limits=False)
        else:
            self._write(target)

    def _ramp_to(self, target: float, *, soft_limits: bool = True) -> None:
        """Walk to ``target`` in steps of at most ramp_step, ramp_rate units/s apart.

        Every point is computed and checked before the first one is sent.
        """
        start = self.cache if self.cache is not None else (self.get() if self.gettable else target)
        points = self.ramp_points(target, start, soft_limits=soft_limits)
        self._ramp_abort.clear()
        distance = abs(target - float(start))
        dwell = distance / len(points) / self.spec.ramp_rate if self.spec.ramp_rate else 0.0
        for k, value in enumerate(points):
            if self._ramp_abort.is_set():
                break
            self._write(value)
            if dwell and k < len(points) - 1:
                self._ramp_abort.wait(dwell)

    def describe(self) -> dict[str, Any]:
        rng = self.vals.range if self.vals is not None else None
        return {
            "unit": self.unit,
            "range": list(rng) if rng else None,
            "soft_limits": list(self.soft_limits) if self.soft_limits else None,
            "doc": self.spec.doc,
        }

    def __repr__(self) -> str:
        return f"<{self.full_name} [{self.unit}]>"


def parse_bool(reply: str) -> bool:
    """SCPI-ish booleans: '1'/'0', 'ON'/'OFF', '#t'/'#f'."""
    text = reply.strip().upper()
    if text in ("1", "ON", "#T", "TRUE"):
        return True
    if text in ("0", "OFF", "#F", "FALSE"):
        return False
    raise ValueError(reply)


def parse_int(reply: str) -> int:
    """An integer reply (``5``, ``+5``, ``5.000E+00``); ValueError for ``2.7``, ``inf`` or junk."""
    return integer(reply)


def parse_str(reply: str) -> str:
    return reply.strip().strip('"')
