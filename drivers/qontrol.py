"""Qontrol Q8iv and Q8b heater drivers (8 channels a module, daisy-chained into one device).

Bytes from the Qontrol *Q8iv / Q8b programming manual* ("Qontroller command reference": ASCII
commands ``[command][channel][operator][value]\\n``) and Qontrol's *Getting Started Guide*
("Configuration of the serial communication": 115200 baud, 8 data bits, 1 stop bit, no parity, no
flow control). Replies, as the devices send them:

* a set (``v3=4.5``, ``i3=1.2`` in mA, ``vmax3=8``, ``VVEC0=a,b,...``) is answered ``OK`` when OK
  replies are on (the default; the ``ok`` setting turns them off, which this driver does not
  support: an unanswered set could not be told from a lost one);
* ``v3?`` -> ``+4.5000 V``; ``i3?`` -> ``+4.5000 mA``; ``vall?`` / ``iall?`` -> one such line per
  channel of the whole chain; ``vipall?`` -> ``<module>,<channel>: +4.5000 V, +4.5000 mA`` lines;
* ``id?`` -> ``Q8iv-01F3``; ``firmware?`` -> ``v2.4.1``; ``vfull?`` -> ``+12.0000 V``;
  ``ifull?`` -> ``+24.0000 mA``; ``nupall?`` -> ``Q8iv-01F3: 0`` per module of the chain;
* errors are lines ``E<code>:<channel>`` (two digits each) that can arrive where a reply was
  expected: 01 over-voltage, 02 over-current, 03 power, 10 unrecognised command, 11 unrecognised
  parameter, 12 unrecognised channel, 13 operation forbidden, 14 serial buffer overflow,
  15 serial communication error, 16 command timed out.

Unverified (no Qontrol manual text was retrievable with the search tool, nor another
project's driver): the ``vipall?`` line format, the ``nupall?`` reply, the ``E<code>:<channel>``
error table, and whether a refused set answers an error line instead of ``OK`` (implemented:
the error line replaces ``OK``).

The vector set ``VVEC<first channel>=v0,...,v7`` addresses one module; a chain of modules is set
with one ``VVEC`` per module inside one locked transaction. Full scale: Q8iv 12 V / 24 mA,
Q8b 12 V / 83.3 mA.

Voltage limits and current drive: a current set ``i3=10`` drives the channel in current mode,
and the voltage it puts on the heater is ``I * R`` of the heater (its load). So the voltage soft
limits (the station's ``limits: {voltage: ...}``, ``channel_limits``) also bound current sets,
through the load resistance the driver is told with the option ``load_ohm`` (one value for every
channel, or ``{channel: ohms}``; give the highest resistance when heaters differ: the bound is
only as good as R). Before any byte is sent a current is refused when ``I * load_ohm`` is
outside the channel's voltage range or soft limits, or above the channel's ``vmax`` as last set
or read through this driver. With no ``load_ohm`` (the default) the driver cannot tell what
voltage a current makes, so while a channel has voltage soft limits its current sets are
refused, with a message asking for ``load_ohm``; without soft limits they go through and the
module's own ``vmax`` clamp (answered ``E01``) is the only bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hilt.drivers.replies import number as read_number
from hilt.errors import ConfigError, InstrumentError, LimitError, ProtocolError
from hilt.instrument import Instrument, InstrumentChannel
from hilt.parameters import Parameter
from hilt.validators import Numbers, is_real, real_vector

CHANNELS_PER_MODULE = 8

ERRORS = {
    0: "unknown error",
    1: "over-voltage",
    2: "over-current",
    3: "power error",
    4: "calibration error",
    5: "output error",
    10: "unrecognised command",
    11: "unrecognised parameter",
    12: "unrecognised channel",
    13: "operation forbidden",
    14: "serial buffer overflow",
    15: "serial communication error",
    16: "command timed out",
    30: "too many errors, some suppressed",
    90: "powered up",
}

_ERROR = re.compile(r"^\s*E(\d+):(\d+)\s*$")
_VALUE = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(V|mA)?\s*$")
_VIP = re.compile(r"^\s*(\d+),(\d+):\s*([-+]?[\d.]+)\s*V,\s*([-+]?[\d.]+)\s*mA\s*$")
_CHAIN = re.compile(r"^\s*(Q\w+?)-([0-9A-Fa-f*]+)\s*:\s*(\d+)\s*$")


class QontrolError(InstrumentError):
    """An ``E<code>:<channel>`` line: the instrument's error code, meaning and channel."""

    def __init__(self, code: int, meaning: str, channel: int, *, instrument: str = "",
                 command: str | None = None) -> None:
        self.channel = channel
        super().__init__(code, f"{meaning} (channel {channel})", instrument=instrument, command=command)


def number(value: float) -> str:
    """Shortest plain decimal, at the DAC's resolution (16 bits of 12 V is 0.18 mV)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _value(unit: str) -> Any:
    """A reader of ``<number> [unit]`` replies; ValueError for another unit or a number out of
    range (``1e999``, which would read as infinity)."""

    def parse(reply: str) -> float:
        m = _VALUE.match(reply)
        if not m or (m.group(2) not in (None, unit)):
            raise ValueError(reply)
        return read_number(m.group(1))

    return parse


class _CurrentThroughLoad(Numbers):
    """A channel's current range, plus the voltage that current makes across the heater."""

    def __init__(self, channel: QontrolChannel, i_full: float) -> None:
        super().__init__(0.0, i_full)
        self.channel = channel

    def validate(self, value: Any) -> float:
        milliamps = super().validate(value)
        self.channel.parent.check_current(self.channel.index, milliamps)
        return milliamps


class QontrolChannel(InstrumentChannel):
    """One output: voltage (V), current (mA), and the channel's hardware voltage limit ``vmax``."""

    voltage = Parameter("v{ch}?", lambda ch, v: ch.write(f"v{ch.ch}={number(v)}"), unit="V",
                        get_parser=_value("V"), vals=Numbers(0.0, 12.0), doc="output voltage")
    current = Parameter("i{ch}?", lambda ch, v: ch.write(f"i{ch.ch}={number(v)}"), unit="mA",
                        get_parser=_value("mA"), vals=Numbers(0.0, 24.0),
                        doc="output current (setting it switches the channel to current drive)")
    vmax = Parameter("vmax{ch}?", lambda ch, v: ch.write(f"vmax{ch.ch}={number(v)}"), unit="V",
                     get_parser=_value("V"), vals=Numbers(0.0, 12.0),
                     doc="hardware voltage limit of the channel (over-voltage error above it)")


class QontrolQ8iv(Instrument):
    """Qontrol Q8iv modules in a daisy chain: ``8 * modules`` voltage/current channels.

    ``channels[i]`` is channel ``i`` of the chain. :meth:`set_voltages` / :meth:`get_voltages`
    move the whole vector in one transaction. Soft limits apply per channel: the station's
    ``limits: {voltage: [lo, hi]}`` to every channel, ``channel_limits: {3: [0, 5]}`` (an option)
    or :meth:`set_channel_limits` to single ones. The safe state ramps every output to 0 V in
    steps of ``ramp_step`` volts.
    """

    model = "qontrol_q8iv"
    kinds: ClassVar[tuple[str, ...]] = ("heater_driver",)
    simulator = "qontrol_q8iv"
    # id? (device type and serial) then nchan? (a number): harmless, with distinct answers.
    fence: ClassVar[tuple[tuple[str, str], ...] | None] = (("id?", r"Q8\w*-\w+"), ("nchan?", r"\d+"))
    device_type: ClassVar[str] = "Q8iv"
    v_full: ClassVar[float] = 12.0
    i_full: ClassVar[float] = 24.0  # mA
    transport_settings: ClassVar[dict[str, Any]] = {
        "baudrate": 115200, "read_termination": "\n", "write_termination": "\n", "timeout": 1.0,
    }

    def __init__(self, address: str, *, modules: int = 1, ramp_step: float = 1.0,
                 channel_limits: dict[int, Sequence[float | None]] | None = None,
                 load_ohm: float | dict[int, float] | None = None,
                 check_chain: bool = True, **kwargs: Any) -> None:
        if not is_real(modules) or int(modules) != modules or modules < 1:
            raise ConfigError(f"modules must be a positive integer, not {modules!r}")
        if not is_real(ramp_step) or not math.isfinite(ramp_step) or ramp_step <= 0:
            raise ConfigError(f"ramp_step must be a positive number, not {ramp_step!r}")
        self.modules = int(modules)
        self.ramp_step = float(ramp_step)
        self.check_chain = check_chain
        self._channel_limits = dict(channel_limits or {})
        self.load_ohm = self._loads(load_ohm)
        super().__init__(address, **kwargs)

    def _loads(self, load_ohm: float | dict[int, float] | None) -> list[float | None]:
        """``load_ohm`` as one resistance (or None: unknown) per channel."""
        n = CHANNELS_PER_MODULE * self.modules
        if load_ohm is None:
            return [None] * n
        items = load_ohm.items() if isinstance(load_ohm, dict) else ((k, load_ohm) for k in range(n))
        loads: list[float | None] = [None] * n
        for k, ohm in items:
            if not is_real(k) or int(k) != k or not 0 <= k < n:
                raise ConfigError(f"load_ohm: no channel {k!r} (0..{n - 1})")
            if not is_real(ohm) or not math.isfinite(ohm) or ohm <= 0:
                raise ConfigError(f"load_ohm: channel {k}: {ohm!r} is not a positive resistance in ohms")
            loads[int(k)] = float(ohm)
        return loads

    # -- structure -------------------------------------------------------------------------
    @property
    def n_channels(self) -> int:
        return CHANNELS_PER_MODULE * self.modules

    def configure(self) -> None:
        self.channels = [QontrolChannel(self, i) for i in range(self.n_channels)]
        for ch in self.channels:
            ch.voltage.vals = Numbers(0.0, self.v_full)
            ch.vmax.vals = Numbers(0.0, self.v_full)
            ch.current.vals = _CurrentThroughLoad(ch, self.i_full)
        self._apply_channel_limits()

    def apply_limits(self, limits: dict[str, Any]) -> None:
        super().apply_limits(limits)
        # Limits of single channels refine the station's all-channel ones, so they come last.
        self._apply_channel_limits()

    def _apply_channel_limits(self) -> None:
        for index, (low, high) in self._channel_limits.items():
            self.set_channel_limits(int(index), low, high)

    def set_channel_limits(self, channel: int, low: float | None, high: float | None) -> None:
        """Soft voltage limits of one channel (checked before any byte is sent)."""
        if not 0 <= channel < self.n_channels:
            raise LimitError(f"no channel {channel} (0..{self.n_channels - 1})", instrument=self.name)
        self.channels[channel].voltage.set_soft_limits(low, high)

    def check_current(self, channel: int, milliamps: float) -> float | None:
        """Refuse a current set whose voltage across the load breaks a voltage limit; sends nothing.

        Returns the voltage ``I * load_ohm`` (None when the load is unknown). See the module
        docstring for the rule.
        """
        ch = self.channels[channel]
        load = self.load_ohm[channel]
        if load is None:
            if ch.voltage.soft_limits is not None:
                raise LimitError(f"channel {channel} has voltage soft limits {list(ch.voltage.soft_limits)} V but "
                                 "the driver does not know its heater's resistance, so cannot tell what voltage "
                                 "a current puts on it: give the option load_ohm", instrument=self.name,
                                 parameter=f"ch{channel}.current", value=milliamps)
            return None
        volts = milliamps * 1e-3 * load
        try:
            ch.voltage.validate(volts)
        except LimitError as exc:
            raise LimitError(f"{milliamps:g} mA through {load:g} ohm is {volts:g} V: {exc}", instrument=self.name,
                             parameter=f"ch{channel}.current", value=milliamps) from None
        vmax = ch.vmax.cache
        if is_real(vmax) and volts > float(vmax):
            raise LimitError(f"{milliamps:g} mA through {load:g} ohm is {volts:g} V, above the channel's vmax "
                             f"{float(vmax):g} V", instrument=self.name, parameter=f"ch{channel}.current",
                             value=milliamps)
        return volts

    # -- talking ---------------------------------------------------------------------------
    def _raise_if_error(self, command: str, line: str) -> None:
        m = _ERROR.match(line)
        if m is None:
            return
        # Whatever else the device meant to send for this command is still on its way: drop it
        # before the next transaction instead of reading it as the next reply.
        self.transport.mark_stale()
        code, channel = int(m.group(1)), int(m.group(2))
        raise QontrolError(code, ERRORS.get(code, "unrecognised error code"), channel,
                           instrument=self.name, command=command)

    def check_reply(self, command: str, reply: str) -> str:
        self._raise_if_error(command, reply)
        return reply

    def write(self, command: str, *, check_errors: bool = False) -> None:
        """Send a set command and wait for its ``OK`` (or the error that replaces it)."""
        with self.transport.transaction():
            self.transport.write(command)
            reply = self.transport.read()
            self._raise_if_error(command, reply)
            if reply.strip() != "OK":
                raise ProtocolError("expected OK", instrument=self.name, command=command, reply=reply)

    def query_lines(self, command: str, n: int) -> list[str]:
        """A query answered by ``n`` lines (``vall?``, ``vipall?``, ``nupall?``)."""
        with self.transport.transaction():
            self.transport.write(command)
            lines = []
            for _ in range(n):
                line = self.transport.read()
                self._raise_if_error(command, line)
                lines.append(line)
            return lines

    def on_connect(self) -> None:
        if self.check_chain:
            self.chain()

    # -- identity --------------------------------------------------------------------------
    def identify(self) -> dict[str, str]:
        ident = self.query("id?").strip()
        m = re.match(r"^(Q\w+?)-([0-9A-Fa-f*]+)$", ident)
        if m is None:
            raise ProtocolError("not a Qontrol device id", instrument=self.name, command="id?", reply=ident)
        firmware = self.query("firmware?").strip()
        return {"vendor": "Qontrol", "model": m.group(1), "serial": m.group(2), "firmware": firmware}

    def chain(self) -> list[dict[str, Any]]:
        """The modules of the daisy chain (``nupall?``), checked against ``modules`` and the model.

        A method, not a parameter: a check of the wiring (run on connect), which raises when
        the chain is not what the station says."""
        lines = self.query_lines("nupall?", self.modules)
        out = []
        for line in lines:
            m = _CHAIN.match(line)
            if m is None:
                raise ProtocolError("not a daisy-chain line", instrument=self.name, command="nupall?", reply=line)
            if m.group(1) != self.device_type:
                raise ConfigError(f"{self.name}: module {m.group(3)} is a {m.group(1)}, not a {self.device_type}")
            out.append({"type": m.group(1), "serial": m.group(2), "index": int(m.group(3))})
        return out

    # Fixed by the model: read on request, not in every snapshot.
    voltage_full_scale = Parameter("vfull?", unit="V", get_parser=_value("V"), snapshot=False,
                                   doc="the module's voltage full scale as it reports it")
    current_full_scale = Parameter("ifull?", unit="mA", get_parser=_value("mA"), snapshot=False,
                                   doc="the module's current full scale as it reports it")

    def full_scale(self) -> tuple[float, float]:
        """(volts, milliamps) full scale as the device reports them (:attr:`voltage_full_scale`,
        :attr:`current_full_scale`)."""
        return (self.voltage_full_scale.get(), self.current_full_scale.get())

    # -- vectors ---------------------------------------------------------------------------
    def validate_voltages(self, values: Sequence[float] | np.ndarray) -> list[float]:
        """Every element checked (a finite number, not a bool or a string) against its channel's
        range and soft limits; sends nothing."""
        try:
            vector = real_vector(values, length=self.n_channels, what="voltages")
        except LimitError as exc:
            raise LimitError(str(exc), instrument=self.name, parameter="voltages") from None
        return [ch.voltage.validate(float(v)) for ch, v in zip(self.channels, vector, strict=True)]

    def set_voltages(self, values: Sequence[float] | np.ndarray) -> None:
        """All channel voltages, one ``VVEC`` per module, in one transaction."""
        self._send_voltages(self.validate_voltages(values))

    def _send_voltages(self, values: list[float]) -> None:
        n = CHANNELS_PER_MODULE
        with self.transport.transaction():
            for m in range(self.modules):
                chunk = values[m * n:(m + 1) * n]
                self.write(f"VVEC{m * n}=" + ",".join(number(v) for v in chunk))
        for ch, v in zip(self.channels, values, strict=True):
            ch.voltage.cache = v

    voltages = Parameter(lambda o: o._all("vall?", "V"), unit="V", snapshot=False,
                         doc="every channel's voltage, shape (n_channels,), one vall? (set them with set_voltages)")
    currents = Parameter(lambda o: o._all("iall?", "mA") * 1e-3, unit="A", snapshot=False,
                         doc="every channel's current in A (the device answers mA; converted), shape "
                             "(n_channels,), one iall?")

    def get_voltages(self) -> np.ndarray:
        """Every channel's voltage (``vall?``), V: the heater-driver kind's spelling of :attr:`voltages`."""
        return self.voltages.get()

    def get_currents(self) -> np.ndarray:
        """Every channel's current (``iall?``), in **A** (the device answers mA; converted): the
        heater-driver kind's spelling of :attr:`currents`."""
        return self.currents.get()

    def _all(self, command: str, unit: str) -> np.ndarray:
        parse = _value(unit)
        lines = self.query_lines(command, self.n_channels)
        try:
            return np.array([parse(line) for line in lines])
        except ValueError:
            raise ProtocolError(f"expected one '<value> {unit}' line per channel", instrument=self.name,
                                command=command, reply="\n".join(lines)) from None

    def get_vip(self) -> tuple[np.ndarray, np.ndarray]:
        """(volts, milliamps) of every channel from one ``vipall?``.

        A method, not a parameter: two arrays in two units sampled together; :attr:`voltages`
        and :attr:`currents` read them one at a time.
        """
        lines = self.query_lines("vipall?", self.n_channels)
        v, i = np.zeros(self.n_channels), np.zeros(self.n_channels)
        for line in lines:
            m = _VIP.match(line)
            if m is None:
                raise ProtocolError("not a vipall? line", instrument=self.name, command="vipall?", reply=line)
            k = int(m.group(1)) * CHANNELS_PER_MODULE + int(m.group(2))
            if not 0 <= k < self.n_channels:
                raise ProtocolError("channel out of range", instrument=self.name, command="vipall?", reply=line)
            try:
                v[k], i[k] = read_number(m.group(3)), read_number(m.group(4))
            except ValueError:  # e.g. "1.2.3 V": the pattern's [\d.]+ is not a number yet
                raise ProtocolError("not a number in a vipall? line", instrument=self.name, command="vipall?",
                                    reply=line) from None
        return v, i

    # -- safety ----------------------------------------------------------------------------
    def safe_state(self) -> None:
        """Ramp every output to 0 V together, at most ``ramp_step`` volts a step."""
        start = self.get_voltages()
        peak = float(np.max(np.abs(start))) if start.size else 0.0
        steps = max(1, math.ceil(peak / self.ramp_step - 1e-9))
        if peak == 0.0:
            return
        # Going down never leaves the hardware range; soft limits may exclude 0 but do not bind
        # the way to a safe state.
        for k in range(1, steps + 1):
            self._send_voltages([float(v) * (1 - k / steps) for v in start])


class QontrolQ8b(QontrolQ8iv):
    """Qontrol Q8b: the Q8iv's protocol with a 83.3 mA current full scale."""

    model = "qontrol_q8b"
    simulator = "qontrol_q8b"
    device_type: ClassVar[str] = "Q8b"
    i_full: ClassVar[float] = 83.333
