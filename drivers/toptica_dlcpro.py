"""Toptica DLC pro laser controller running a two-laser CW THz (photomixing, TeraScan-class) system.

Bytes from Toptica's *DLC pro Command Reference* / *DeCoF Command Line* manual (chapter "Remote
control over Ethernet"): TCP port 1998 carries the command line (1999 the monitoring line, not
used here). On connect the controller sends ``DeCoF Command Line\\r\\n> ``. One command per line,
``\\n`` terminated: ``(param-ref 'name)``, ``(param-set! 'name value)``, ``(exec 'name args)``;
each answer is one line followed by the ``> `` prompt (``\\r\\n> ``; a bare ``\\n> `` is accepted
too). Booleans are ``#t``/``#f``, strings are quoted, a successful ``param-set!`` answers ``0``
(another integer is the controller refusing the value), and errors are lines beginning with
``Error:`` followed by a numeric code and a text (``Error: -10 ...``; *verify* the code table in
the command reference for your firmware).

Parameter names come from the DLC pro command reference: ``emission`` (read-only, any laser
emitting), ``laser<n>:dl:cc:enabled`` (diode current on/off), ``laser<n>:ctl:wavelength-set`` /
``-act`` (nm). The THz-specific names of the emitter bias and the photocurrent readout depend
on the THz firmware and are *unverified*: they live in :attr:`TopticaDLCpro.NAMES` and a station
overrides any of them with ``names: {bias: ...}``.

Checked with the search tool (the command reference itself was not retrievable): the banner
``DeCoF Command Line\\r\\n> `` is what another project's DLC pro driver, written against real
controllers, waits for after connecting; ``#t``/``#f`` booleans likewise. The parameter names
``laser1:dl:cc:enabled``, ``laser1:ctl:wavelength-set`` and ``laser1:ctl:wavelength-act`` are the
ones in Toptica's own published Python Laser SDK (generated from the firmware's parameter
tables). Unverified: the ``Error:`` code table (only the ``Error: <code> <text>`` shape is
implemented), the name ``emission``, and the TeraScan/TeraBeam emitter-bias and photocurrent
names (overridable per station, see above).

The THz frequency is the difference frequency of the two lasers, tuned symmetrically about
``center_wavelength`` (as a TeraScan tunes its two lasers in opposite directions):
``f_THz = c (1/lambda1 - 1/lambda2)``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from hilt.drivers.replies import number
from hilt.errors import ConfigError, InstrumentError, LimitError, ProtocolError
from hilt.instrument import Instrument
from hilt.parameters import Parameter, parse_bool
from hilt.validators import Bool, Numbers

C = 299_792_458.0  # m/s
BANNER = "DeCoF Command Line"
_ERROR = re.compile(r"^\s*error:?\s*(-?\d+)?\s*:?\s*(.*?)\s*$", re.IGNORECASE)
_VISA_SOCKET = re.compile(r"^TCPIP\d*::([^:]+)::(\d+)::SOCKET$", re.IGNORECASE)


def encode(value: Any) -> str:
    """A DeCoF literal: ``#t``/``#f``, a decimal real, or a quoted string."""
    if isinstance(value, bool):
        return "#t" if value else "#f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = format(value, ".10g")
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"no DeCoF literal for {value!r}")


def parse_real(reply: str) -> float:
    """A DeCoF real: a finite decimal number (``nan``, ``inf``, ``1_5`` are garbled replies)."""
    return number(reply)


def _decof(key: str, *, get_key: str | None = None, parser: Any = parse_real, settable: bool = True,
           **kwargs: Any) -> Parameter:
    """A parameter read with ``param-ref`` and written with ``param-set!`` under ``NAMES[key]``."""
    gk = get_key or key
    return Parameter(
        lambda o: o.read_parsed(o.names[gk], parser),
        (lambda o, v: o.param_set(o.names[key], v)) if settable else None,
        **kwargs,
    )


class TopticaDLCpro(Instrument):
    """DLC pro with two lasers mixed on a photomixer: THz frequency, emitter bias, readouts."""

    model = "toptica_dlcpro"
    simulator = "toptica_dlcpro"
    transport_settings: ClassVar[dict[str, Any]] = {
        "write_termination": "\n", "read_termination": "\n> ", "timeout": 3.0,
    }
    #: role -> DeCoF parameter name; the THz ones (bias, photocurrent) are unverified.
    NAMES: ClassVar[dict[str, str]] = {
        "emission": "emission",
        "laser1_enabled": "laser1:dl:cc:enabled",
        "laser2_enabled": "laser2:dl:cc:enabled",
        "wavelength1": "laser1:ctl:wavelength-set",
        "wavelength1_act": "laser1:ctl:wavelength-act",
        "wavelength2": "laser2:ctl:wavelength-set",
        "wavelength2_act": "laser2:ctl:wavelength-act",
        "bias_enabled": "laser1:thz:bias:enabled",
        "bias": "laser1:thz:bias:voltage-set",
        "photocurrent": "laser1:thz:photocurrent",
    }

    emission = _decof("emission", parser=parse_bool, settable=False, doc="any laser emitting (key switch, interlock, currents)")
    laser1_enabled = _decof("laser1_enabled", parser=parse_bool, vals=Bool(), doc="laser 1 diode current on/off")
    laser2_enabled = _decof("laser2_enabled", parser=parse_bool, vals=Bool(), doc="laser 2 diode current on/off")
    wavelength1 = _decof("wavelength1", get_key="wavelength1_act", unit="nm", vals=Numbers(1510.0, 1630.0),
                         doc="laser 1 wavelength (set value; reads the actual value)")
    wavelength2 = _decof("wavelength2", get_key="wavelength2_act", unit="nm", vals=Numbers(1510.0, 1630.0),
                         doc="laser 2 wavelength (set value; reads the actual value)")
    bias_enabled = _decof("bias_enabled", parser=parse_bool, vals=Bool(), doc="emitter bias on/off")
    bias = _decof("bias", unit="V", vals=Numbers(-2.5, 2.5), ramp_step=0.5, ramp_rate=10.0,
                  doc="emitter (photomixer) bias voltage, ramped")
    photocurrent = _decof("photocurrent", settable=False, unit="mA", doc="emitter DC photocurrent")
    frequency = Parameter(lambda o: o._read_frequency(), lambda o, v: o._write_frequency(v), unit="Hz",
                          vals=Numbers(50e9, 1.2e12), doc="THz difference frequency of the two lasers")

    def __init__(self, address: str, *, names: dict[str, str] | None = None, center_wavelength: float = 1550.0,
                 frequency_range: tuple[float, float] = (50e9, 1.2e12),
                 wavelength_range: tuple[float, float] = (1510.0, 1630.0), **kwargs: Any) -> None:
        unknown = set(names or {}) - set(self.NAMES)
        if unknown:
            raise ConfigError(f"names: unknown role(s) {sorted(unknown)} (known: {sorted(self.NAMES)})")
        self.names = {**self.NAMES, **(names or {})}
        self.center_wavelength = float(center_wavelength)
        self.frequency_range = tuple(float(x) for x in frequency_range)
        self.wavelength_range = tuple(float(x) for x in wavelength_range)
        # The prompt protocol needs a raw socket: a VISA socket address is read as host and port.
        m = _VISA_SOCKET.match(address)
        if m:
            address = f"tcp://{m.group(1)}:{m.group(2)}"
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        self.frequency.vals = Numbers(*self.frequency_range)
        self.wavelength1.vals = Numbers(*self.wavelength_range)
        self.wavelength2.vals = Numbers(*self.wavelength_range)

    # -- the command line -------------------------------------------------------------------------
    def on_connect(self) -> None:
        banner = self.transport.read()
        if BANNER.lower() not in banner.lower():
            raise ProtocolError("no DeCoF command line banner", instrument=self.name, reply=banner)

    def check_reply(self, command: str, reply: str) -> str:
        reply = reply.strip()
        if reply.lower().startswith("error"):
            m = _ERROR.match(reply)
            code = int(m.group(1)) if m and m.group(1) else "?"
            meaning = m.group(2) if m else reply
            raise InstrumentError(code, meaning or reply, instrument=self.name, command=command)
        return reply

    def write(self, command: str, *, check_errors: bool = False) -> None:
        # Every DeCoF command answers; a write that ignored the answer would desynchronise.
        self._once(command)

    def _once(self, command: str) -> str:
        """Send a command that changes something and read its answer: never sent twice (a
        query, which only reads, is asked again after a timeout; see ``Instrument.query``)."""
        return self.check_reply(command, self.transport.query(command))

    def param_ref(self, name: str) -> str:
        """The value of a DeCoF parameter, as the text the controller printed."""
        return self.query(f"(param-ref '{name})")

    def read_parsed(self, name: str, parser: Any) -> Any:
        """``param-ref`` and parse; an answer of the wrong shape is a ProtocolError."""
        reply = self.param_ref(name)
        try:
            return parser(reply)
        except (ValueError, TypeError):
            raise ProtocolError(f"cannot parse {name}", instrument=self.name,
                                command=f"(param-ref '{name})", reply=reply) from None

    def param_set(self, name: str, value: Any) -> None:
        """Set a DeCoF parameter; anything but ``0`` back is the controller refusing it."""
        command = f"(param-set! '{name} {encode(value)})"
        reply = self._once(command)
        if reply != "0":
            try:
                code: int | str = int(reply)
            except ValueError:
                raise ProtocolError("param-set! answers 0 or an error", instrument=self.name,
                                    command=command, reply=reply) from None
            raise InstrumentError(code, "value refused by the controller", instrument=self.name, command=command)

    def exec(self, name: str, *args: Any) -> str:
        """Run a DeCoF command (``(exec 'name args...)``) and return its answer."""
        tail = "".join(" " + encode(a) for a in args)
        return self._once(f"(exec '{name}{tail})")

    def identify(self) -> dict[str, str]:
        def text(name: str) -> str:
            return self.param_ref(name).strip('"')

        return {"vendor": "TOPTICA", "model": text("system-type"), "serial": text("serial-number"),
                "firmware": text("fw-ver")}

    # -- THz frequency ----------------------------------------------------------------------------
    def wavelengths_for(self, frequency: float) -> tuple[float, float]:
        """Laser wavelengths (nm) for a THz frequency, checked against every limit; sends nothing."""
        f = self.frequency.validate(frequency)
        nu_c = C / (self.center_wavelength * 1e-9)
        l1 = C / (nu_c + f / 2) * 1e9
        l2 = C / (nu_c - f / 2) * 1e9
        try:
            return self.wavelength1.validate(l1), self.wavelength2.validate(l2)
        except LimitError as exc:
            raise LimitError(f"{f:g} Hz needs lasers at {l1:.4f}/{l2:.4f} nm: {exc}", instrument=self.name,
                             parameter="frequency", value=f) from None

    def _write_frequency(self, frequency: float) -> None:
        l1, l2 = self.wavelengths_for(frequency)
        self.wavelength1.set(l1)
        self.wavelength2.set(l2)

    def _read_frequency(self) -> float:
        l1, l2 = self.wavelength1.get(), self.wavelength2.get()
        for key, wl in (("wavelength1_act", l1), ("wavelength2_act", l2)):
            if not wl > 0:
                raise ProtocolError("a wavelength is positive", instrument=self.name,
                                    command=f"(param-ref '{self.names[key]})", reply=repr(wl))
        return C * (1 / (l1 * 1e-9) - 1 / (l2 * 1e-9))

    # -- safety -----------------------------------------------------------------------------------
    def safe_state(self) -> None:
        """Bias ramped to 0 V and switched off, then both laser currents off."""
        self.bias.set(0.0)
        self.bias_enabled.set(False)
        self.laser1_enabled.set(False)
        self.laser2_enabled.set(False)
