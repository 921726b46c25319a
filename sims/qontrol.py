"""Simulated Qontrol Q8iv / Q8b daisy chain on a serial line (``socket://`` URL or pty).

Same bytes as the modules (see :mod:`hilt.drivers.qontrol` for the documents): ``OK`` after a
set, ``+4.5000 V`` / ``+1.2000 mA`` values, one line per channel for ``vall?``/``iall?``/
``vipall?``, ``E<code>:<channel>`` in place of a reply for a command it cannot execute.

Each output drives a resistive heater (``load_ohm``; the world may change one channel's load under
``<name>.load_ohm``). A voltage above the channel's ``vmax`` is clamped to ``vmax`` and answered
``E01``; a current above ``imax`` is limited to ``imax`` (the voltage drops to ``imax * R``) and
answered ``E02``. Setpoints are quantised to the 16-bit DAC. Every change publishes the chain's
voltages as a numpy array under ``<name>.voltages`` (V, channel order), which the MZI chip reads.
Injected faults answer ``E15`` (serial communication error) and change nothing.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from hilt.sims.base import Session, SimulatedInstrument

CHANNELS_PER_MODULE = 8
_COMMAND = re.compile(r"^\s*([A-Za-z]+?)(\d*)\s*([=?])\s*(.*?)\s*$")
_NAMES = ("V", "I", "VMAX", "IMAX", "VALL", "IALL", "VIPALL", "VVEC", "IVEC", "ID", "NCHAN", "VFULL",
          "IFULL", "NUP", "NUPALL", "FIRMWARE", "LIFETIME", "OK")


class _Error(Exception):
    def __init__(self, code: int, channel: int = 0) -> None:
        self.code, self.channel = code, channel


class SimQontrolQ8iv(SimulatedInstrument):
    model = "qontrol_q8iv"
    description = "Qontrol Q8iv heater driver, daisy chain of 8-channel modules (ASCII, 115200 baud)"
    transport = "serial"
    input_terminators = (b"\n",)
    reply_terminator = "\n"
    device_type: ClassVar[str] = "Q8iv"
    v_full: ClassVar[float] = 12.0
    i_full: ClassVar[float] = 24.0  # mA

    def __init__(self, *args: Any, modules: int = 1, load_ohm: float = 1000.0,
                 serials: list[str] | None = None, firmware: str = "v2.4.1", **kwargs: Any) -> None:
        if isinstance(modules, bool) or int(modules) != modules or modules < 1:
            raise ValueError(f"modules must be a positive integer, not {modules!r}")
        super().__init__(*args, **kwargs)
        self.modules = int(modules)
        self.n = CHANNELS_PER_MODULE * self.modules
        self.default_load = float(load_ohm)
        self.serials = serials or [f"{0x01F3 + m:04X}" for m in range(self.modules)]
        self.firmware = firmware
        self.ok_replies = True
        self.v = np.zeros(self.n)
        self.vmax = np.full(self.n, self.v_full)
        self.imax = np.full(self.n, self.i_full)
        self._publish()

    # -- physics ----------------------------------------------------------------------------
    def _loads(self) -> np.ndarray:
        load = self.world.get(f"{self.name}.load_ohm", self.default_load)
        return np.broadcast_to(np.asarray(load, dtype=float), (self.n,)).copy()

    def currents_ma(self) -> np.ndarray:
        return 1e3 * self.v / self._loads()

    def _quantise(self, volts: float) -> float:
        step = self.v_full / 65535
        return round(volts / step) * step

    def _set_voltage(self, ch: int, volts: float) -> int | None:
        """Apply one setpoint the way the module does; the error code it raises, if any."""
        error = None
        if volts > self.vmax[ch]:
            volts, error = float(self.vmax[ch]), 1
        limit_v = self.imax[ch] * 1e-3 * self._loads()[ch]
        if volts > limit_v:
            volts, error = float(limit_v), 2
        self.v[ch] = self._quantise(volts)
        return error

    def _publish(self) -> None:
        self.world.set(f"{self.name}.voltages", self.v.copy())

    # -- protocol ---------------------------------------------------------------------------
    def inject_error(self, line: str, session: Session) -> str | None:
        return "E15:00"

    def handle(self, line: str, session: Session) -> str | None:
        m = _COMMAND.match(line)
        try:
            if m is None:
                raise _Error(10)
            name, ch_text, op, value = m.group(1).upper(), m.group(2), m.group(3), m.group(4)
            if name not in _NAMES:
                self.unknown_command(name + (op if op == "?" else ""))
                raise _Error(10, int(ch_text or 0))
            ch = int(ch_text) if ch_text else None
            reply = self._dispatch(name, ch, op, value)
        except _Error as err:
            return f"E{err.code:02d}:{err.channel:02d}"
        if reply is None:
            return "OK" if self.ok_replies else None
        return reply

    def _channel(self, ch: int | None) -> int:
        if ch is None or not 0 <= ch < self.n:
            raise _Error(12, ch or 0)
        return ch

    @staticmethod
    def _number(text: str, ch: int = 0) -> float:
        try:
            value = float(text)
        except ValueError:
            raise _Error(11, ch) from None
        if not np.isfinite(value) or value < 0:
            raise _Error(11, ch)
        return value

    def _dispatch(self, name: str, ch: int | None, op: str, value: str) -> str | None:
        query = op == "?"
        if name in ("V", "I", "VMAX", "IMAX"):
            c = self._channel(ch)
            if query:
                if name == "V":
                    return f"{self.v[c]:+.4f} V"
                if name == "I":
                    return f"{self.currents_ma()[c]:+.4f} mA"
                return f"{self.vmax[c]:+.4f} V" if name == "VMAX" else f"{self.imax[c]:+.4f} mA"
            x = self._number(value, c)
            if name == "V":
                if x > self.v_full:
                    raise _Error(11, c)
                error = self._set_voltage(c, x)
                self._publish()
                if error:
                    raise _Error(error, c)
            elif name == "I":
                if x > self.i_full:
                    raise _Error(11, c)
                error = self._set_voltage(c, x * 1e-3 * self._loads()[c])
                self._publish()
                if error:
                    raise _Error(error, c)
            elif name == "VMAX":
                if x > self.v_full:
                    raise _Error(11, c)
                self.vmax[c] = x
            else:
                if x > self.i_full:
                    raise _Error(11, c)
                self.imax[c] = x
            return None
        if name in ("VALL", "IALL", "VIPALL"):
            if not query:
                if name == "VIPALL":
                    raise _Error(13)
                x = self._number(value)
                if name == "IALL":
                    x = x * 1e-3 * self.default_load
                errors = [(e, c) for c in range(self.n) if (e := self._set_voltage(c, x))]
                self._publish()
                if errors:
                    raise _Error(*errors[0])
                return None
            i = self.currents_ma()
            if name == "VALL":
                return "\n".join(f"{v:+.4f} V" for v in self.v)
            if name == "IALL":
                return "\n".join(f"{x:+.4f} mA" for x in i)
            return "\n".join(
                f"{c // CHANNELS_PER_MODULE},{c % CHANNELS_PER_MODULE}: {self.v[c]:+.4f} V, {i[c]:+.4f} mA"
                for c in range(self.n))
        if name in ("VVEC", "IVEC"):
            if query:
                raise _Error(13)
            first = self._channel(ch)
            texts = value.split(",")
            if first + len(texts) > self.n:
                raise _Error(11, first)
            values = [self._number(t, first + k) for k, t in enumerate(texts)]
            full = self.v_full if name == "VVEC" else self.i_full
            if any(x > full for x in values):
                raise _Error(11, first)
            errors = []
            for k, x in enumerate(values):
                volts = x if name == "VVEC" else x * 1e-3 * self._loads()[first + k]
                if e := self._set_voltage(first + k, volts):
                    errors.append((e, first + k))
            self._publish()
            if errors:
                raise _Error(*errors[0])
            return None
        if not query:
            if name == "NUP" and value.strip() == "0":
                return None
            if name == "OK":
                self.ok_replies = self._number(value) != 0
                return None
            raise _Error(13, ch or 0)
        if name == "ID":
            return f"{self.device_type}-{self.serials[0]}"
        if name == "NCHAN":
            return str(CHANNELS_PER_MODULE)
        if name == "VFULL":
            return f"{self.v_full:+.4f} V"
        if name == "IFULL":
            return f"{self.i_full:+.4f} mA"
        if name == "NUPALL":
            return "\n".join(f"{self.device_type}-{s}: {m}" for m, s in enumerate(self.serials))
        if name == "NUP":
            return str(self.modules - 1)
        if name == "FIRMWARE":
            return self.firmware
        if name == "LIFETIME":
            return f"{int(self.world.clock.now())} s"
        if name == "OK":
            return "1" if self.ok_replies else "0"
        raise _Error(10, ch or 0)

    def state(self) -> dict[str, Any]:
        return {"voltages": self.v.tolist(), "vmax": self.vmax.tolist(), "modules": self.modules}


class SimQontrolQ8b(SimQontrolQ8iv):
    model = "qontrol_q8b"
    description = "Qontrol Q8b heater driver (83.3 mA), daisy chain of 8-channel modules (ASCII, 115200 baud)"
    device_type: ClassVar[str] = "Q8b"
    i_full: ClassVar[float] = 83.333
