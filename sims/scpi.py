"""SCPI simulators: header matching, numeric arguments with units, the error queue.

SCPI (IEEE 488.2 + SCPI-1999) headers have a long and a short form (``FREQuency`` accepts
``FREQ`` and ``FREQUENCY``), optional nodes in brackets (``[:SOURce]``), numeric suffixes
(``SENSe<n>``) and several commands per line separated by ``;``. A simulator declares its commands
with :func:`command` on methods; :class:`ScpiInstrument` does the parsing, the IEEE 488.2 common
commands and the error/event queue (``SYST:ERR?`` answering ``0,"No error"`` when empty).

Common commands (IEEE 488.2 section 10): ``*IDN?``, ``*RST``, ``*CLS``, ``*OPC``/``*OPC?``,
``*WAI``, ``*ESR?``, ``*ESE``/``*ESE?``, ``*SRE``/``*SRE?``, ``*STB?`` (bit 2 error queue not
empty, bit 4 MAV, bit 5 ESB = ESR AND ESE, bit 6 MSS), ``*TST?`` (``0``: self-test passed),
``*OPT?`` (the class's :attr:`ScpiInstrument.installed_options`), ``*PSC``. SCPI-1999 system
queries: ``SYSTem:ERRor[:NEXT]?``, ``SYSTem:ERRor:ALL?``, ``SYSTem:ERRor:COUNt?``,
``SYSTem:ERRor:CODE[:NEXT]?``, ``SYSTem:ERRor:CODE:ALL?``, ``SYSTem:VERSion?``. A header and its
argument are separated by any whitespace; headers are case-insensitive in long or short form.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from hilt.sims.base import Session, SimulatedInstrument

# Standard SCPI error numbers (SCPI-1999 vol. 2, chapter 21).
SCPI_ERRORS = {
    -100: "Command error",
    -102: "Syntax error",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -350: "Queue overflow",
}

UNIT_SCALES: dict[str, dict[str, float]] = {
    "HZ": {"HZ": 1.0, "KHZ": 1e3, "MHZ": 1e6, "MAHZ": 1e6, "GHZ": 1e9, "THZ": 1e12},
    "W": {"W": 1.0, "MW": 1e-3, "UW": 1e-6, "NW": 1e-9, "PW": 1e-12},
    "M": {"M": 1.0, "MM": 1e-3, "UM": 1e-6, "NM": 1e-9, "PM": 1e-12},
    "V": {"V": 1.0, "MV": 1e-3, "UV": 1e-6, "KV": 1e3},
    "A": {"A": 1.0, "MA": 1e-3, "UA": 1e-6, "NA": 1e-9},
    "S": {"S": 1.0, "MS": 1e-3, "US": 1e-6, "NS": 1e-9},
    "DBM": {"DBM": 1.0},
    "DEG": {"DEG": 1.0, "RAD": 180.0 / math.pi},
}

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")


class ScpiValueError(ValueError):
    """Raised by handlers; becomes an error queue entry with ``code``."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


def parse_number(text: str, unit: str | None = None, *, minimum: float | None = None,
                 maximum: float | None = None, default: float | None = None) -> float:
    """A SCPI numeric argument: ``1.5e9``, ``1.5 GHz``, ``MIN``, ``MAX``, ``DEF``."""
    word = text.strip().upper()
    if word in ("MIN", "MINIMUM") and minimum is not None:
        return minimum
    if word in ("MAX", "MAXIMUM") and maximum is not None:
        return maximum
    if word in ("DEF", "DEFAULT") and default is not None:
        return default
    m = _NUMBER.match(text)
    if not m:
        raise ScpiValueError(-104, f"not a number: {text!r}")
    value = float(m.group(1))
    suffix = m.group(2).upper()
    if suffix:
        scales = UNIT_SCALES.get(unit or "", {})
        if suffix not in scales:
            raise ScpiValueError(-131 if unit else -104, f"bad suffix {suffix!r}")
        value *= scales[suffix]
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ScpiValueError(-222, f"{value:g} outside [{minimum:g}, {maximum:g}]")
    return value


def parse_bool(text: str) -> bool:
    word = text.strip().upper()
    if word in ("1", "ON"):
        return True
    if word in ("0", "OFF"):
        return False
    raise ScpiValueError(-224, f"not a boolean: {text!r}")


def header_regex(spec: str) -> str:
    """Regex for one SCPI header spec such as ``[:SOURce<n>]:FREQuency[:CW]``."""
    out = []
    i = 0
    while i < len(spec):
        ch = spec[i]
        if ch == "[":
            out.append("(?:")
            i += 1
        elif ch == "]":
            out.append(")?")
            i += 1
        elif ch == ":":
            out.append(":")
            i += 1
        elif spec.startswith("<n>", i):
            out.append(r"(\d*)")
            i += 3
        else:
            j = i
            while j < len(spec) and (spec[j].isalnum() or spec[j] == "*"):
                j += 1
            if j == i:
                raise ValueError(f"bad SCPI header spec {spec!r} at {i}")
            word = spec[i:j]
            # Short form: the upper-case letters (and a trailing number, as in SENSe1).
            short = "".join(c for c in word if c.isupper() or c == "*")
            rest = "".join(c for c in word[len(short):] if c.isalpha())
            digits = "".join(c for c in word if c.isdigit())
            out.append(re.escape(short) + (f"(?:{re.escape(rest.upper())})?" if rest else "") + re.escape(digits))
            i = j
    return "".join(out)


Handler = Callable[..., str | None]


def command(spec: str, *, query: bool | None = None) -> Callable[[Handler], Handler]:
    """Declare a SCPI header on a simulator method.

    The method receives ``(arg, is_query, *suffixes)``: ``arg`` is the text after the header
    (``""`` when none), ``is_query`` whether the header ended in ``?``, and one string per
    ``<n>`` in the spec. ``query`` restricts the method to queries (True) or settings (False).
    """

    def mark(fn: Handler) -> Handler:
        specs = getattr(fn, "_scpi_specs", [])
        specs.append((spec, query))
        fn._scpi_specs = specs  # type: ignore[attr-defined]
        return fn

    return mark


class ScpiInstrument(SimulatedInstrument):
    """A simulated SCPI instrument: subclasses declare commands with :func:`command`."""

    idn: ClassVar[str] = "hilt,Simulated SCPI instrument,0,0"
    #: ``*OPT?`` reply: the installed options, comma separated (``0`` when none).
    installed_options: str = "0"
    error_queue_size: ClassVar[int] = 30
    _table: ClassVar[list[tuple[re.Pattern[str], bool | None, str]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = []
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                for spec, query in getattr(fn, "_scpi_specs", ()):
                    if not spec.startswith((":", "[:", "*")):
                        spec = ":" + spec
                    pattern = re.compile("^" + header_regex(spec) + "$", re.IGNORECASE)
                    table.append((pattern, query, attr))
        cls._table = table

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.errors: deque[tuple[int, str]] = deque()
        self.esr = 0
        self.ese = self.sre = 0
        self.psc = 1
        self.reset()

    def reset(self) -> None:
        """``*RST``: the instrument's preset state."""

    # -- error queue --------------------------------------------------------------------------
    def push_error(self, code: int, detail: str = "") -> None:
        if len(self.errors) >= self.error_queue_size:
            self.errors[-1] = (-350, SCPI_ERRORS[-350])
            return
        meaning = SCPI_ERRORS.get(code, "Error")
        self.errors.append((code, f"{meaning};{detail}" if detail else meaning))
        # ESR bits: 5 command error (-1xx), 4 execution error (-2xx), 3 device error.
        self.esr |= 0x20 if -199 <= code <= -100 else 0x10 if -299 <= code <= -200 else 0x08

    def pop_error(self) -> str:
        if not self.errors:
            return '0,"No error"'
        code, text = self.errors.popleft()
        return f'{code},"{text}"'

    def inject_error(self, line: str, session: Session) -> str | None:
        self.push_error(-200, "injected fault")
        return None

    # -- parsing ------------------------------------------------------------------------------
    def handle(self, line: str, session: Session) -> str | bytes | None:
        replies: list[str | bytes] = []
        for part in (p.strip() for p in line.split(";")):
            if not part:
                continue
            reply = self.execute(part, session)
            if reply is not None:
                replies.append(reply)
        if not replies:
            return None
        if any(isinstance(r, bytes) for r in replies):
            # A binary block (IEEE 488.2 definite length) goes out as built, then the terminator.
            parts = [r if isinstance(r, bytes) else r.encode(self.encoding) for r in replies]
            return b";".join(parts) + self.reply_terminator.encode(self.encoding)
        return ";".join(r for r in replies if isinstance(r, str))

    def execute(self, text: str, session: Session) -> str | bytes | None:
        header, arg = (text.split(None, 1) + [""])[:2]
        is_query = header.endswith("?")
        if is_query:
            header = header[:-1]
        common = self._common(header.upper(), is_query, arg.strip())
        if common is not False:
            return common
        normal = header if header.startswith("*") else ":" + header.lstrip(":")
        for pattern, query, attr in self._table:
            m = pattern.match(normal)
            if m is None or (query is not None and query != is_query):
                continue
            try:
                return getattr(self, attr)(arg.strip(), is_query, *m.groups())
            except ScpiValueError as exc:
                self.push_error(exc.code, exc.detail)
                return None
        self.unknown_command(header.upper() + ("?" if is_query else ""))
        self.push_error(-113, header)
        return None

    def _common(self, header: str, is_query: bool, arg: str) -> str | None | bool:
        if header == "*IDN" and is_query:
            return self.idn
        if header == "*RST":
            self.reset()
            return None
        if header == "*CLS":
            self.errors.clear()
            self.esr = 0
            return None
        if header == "*OPC":
            return "1" if is_query else None
        if header == "*ESR" and is_query:
            value, self.esr = self.esr, 0
            return str(value)
        if header == "*STB" and is_query:
            return str(self.status_byte())
        if header in ("*ESE", "*SRE", "*PSC"):
            attr = header[1:].lower()
            if is_query:
                return str(getattr(self, attr))
            try:
                value = int(float(arg))
            except ValueError:
                self.push_error(-104, f"{header} {arg!r}")
                return None
            if not 0 <= value <= 255:
                self.push_error(-222, f"{header} {value}")
                return None
            setattr(self, attr, value)
            return None
        if header == "*TST" and is_query:
            return "0"
        if header == "*OPT" and is_query:
            return self.installed_options
        if header == "*WAI":
            return None
        if is_query and re.fullmatch(r":?SYST(EM)?:ERR(OR)?(:NEXT)?", header):
            return self.pop_error()
        if is_query and re.fullmatch(r":?SYST(EM)?:ERR(OR)?:ALL", header):
            return ",".join(self.pop_error() for _ in range(max(1, len(self.errors))))
        if is_query and re.fullmatch(r":?SYST(EM)?:ERR(OR)?:COUN(T)?", header):
            return str(len(self.errors))
        if is_query and re.fullmatch(r":?SYST(EM)?:ERR(OR)?:CODE(:NEXT)?", header):
            return self.pop_error().split(",")[0]
        if is_query and re.fullmatch(r":?SYST(EM)?:ERR(OR)?:CODE:ALL", header):
            return ",".join(self.pop_error().split(",")[0] for _ in range(max(1, len(self.errors))))
        if is_query and re.fullmatch(r":?SYST(EM)?:VERS(ION)?", header):
            return "1999.0"
        return False

    def status_byte(self) -> int:
        """IEEE 488.2 status byte: error queue (bit 2), ESB (bit 5), MSS (bit 6)."""
        value = (4 if self.errors else 0) | (32 if self.esr & self.ese else 0)
        return value | (64 if value & self.sre else 0)


class RfSourceMixin:
    """What the RF signal generators (E8257D, SGS100A, SMA100B) share: ``:SYSTem:PRESet``,
    ``:SYSTem:DATE?``/``:SYSTem:TIME?`` on the simulated clock from 2025-01-01 00:00:00, hours of
    operation that grow with it, the world keys of the RF output, and the refusal of a mode the
    simulator does not model. Mixed in before :class:`ScpiInstrument`; the class keeps
    ``frequency`` (Hz), ``power`` (dBm) and ``output`` (bool) and a ``reset``."""

    name: str
    world: Any
    frequency: float
    power: float
    output: bool

    @command(":SYSTem:PRESet", query=False)
    def _preset(self, arg: str, query: bool) -> None:
        self.reset()  # type: ignore[attr-defined]

    @command(":SYSTem:DATE", query=True)
    def _date(self, arg: str, query: bool) -> str:
        return f"2025,1,{1 + int(self.world.clock.now() // 86400) % 28}"

    @command(":SYSTem:TIME", query=True)
    def _time(self, arg: str, query: bool) -> str:
        t = int(self.world.clock.now())
        return f"{t // 3600 % 24},{t // 60 % 60},{t % 60}"

    def operating_hours(self) -> str:
        """Hours of operation: a unit's past hours plus the simulated time since power-on."""
        return str(1234 + int(self.world.clock.now() // 3600))

    def _not_simulated(self, what: str, arg: str) -> None:
        """Refuse a setting the simulator does not model: -224, and the WARNING of a command it
        lacks (a client switching on a sweep or modulation learns at once it is not there)."""
        self.unknown_command(f"{what} {arg.strip().upper()}")  # type: ignore[attr-defined]
        raise ScpiValueError(-224, f"{what} {arg.strip()} is not simulated")

    def _publish(self) -> None:
        self.world.update({
            f"{self.name}.frequency": self.frequency,
            f"{self.name}.power_dbm": self.power,
            f"{self.name}.output": self.output,
        })


def kept_setting(key: str, default: Any, *, unit: str | None = None, minimum: float | None = None,
                 maximum: float | None = None, choices: dict[str, str] | None = None,
                 integer: bool = False) -> Handler:
    """A handler for a setting the instrument keeps and answers back, which changes nothing the
    simulator models (a sweep's points while sweeps are not simulated, a modulation depth while
    modulation stays off): a number (with ``unit``, refused -222 outside ``minimum``..``maximum``,
    answered NR3, or NR1 when ``integer``), or a word from ``choices`` (any accepted spelling ->
    the short form answered; -224 otherwise). Kept in ``self.kept[key]``."""

    def handler(self: Any, arg: str, query: bool, *suffixes: str) -> str | None:
        kept = self.__dict__.setdefault("kept", {})
        if query:
            value = kept.get(key, default)
            if choices is not None:
                return str(value)
            return f"{int(value):+d}" if integer else fmt(float(value))
        if choices is not None:
            word = arg.strip().upper()
            if word not in choices:
                raise ScpiValueError(-224, f"{key} {arg.strip()!r}: one of {', '.join(sorted(set(choices.values())))}")
            kept[key] = choices[word]
            return None
        value = parse_number(arg, unit, minimum=minimum, maximum=maximum)
        if integer and value != int(value):
            raise ScpiValueError(-224, f"{key} {value:g}: a whole number")
        kept[key] = int(value) if integer else value
        return None

    return handler


def ieee_block(data: bytes) -> bytes:
    """IEEE 488.2 definite-length block: ``#``, the digit count, the byte count, the bytes."""
    count = str(len(data))
    return b"#" + str(len(count)).encode() + count.encode() + data


def fmt(value: float) -> str:
    """SCPI NR3 as most instruments print it: ``+1.00000000E+09``."""
    return f"{value:+.8E}"
