"""Simulated Toptica DLC pro with two lasers on a THz photomixer, DeCoF command line on TCP.

Speaks the bytes described in :mod:`hilt.drivers.toptica_dlcpro`: the ``DeCoF Command Line\\r\\n> ``
banner on connect, one answer line plus the ``> `` prompt per command, ``#t``/``#f`` booleans,
``0`` for a successful ``param-set!``, ``Error: <code> <text>`` lines for a bad command. The
error codes used here (*unverified*, see the driver): -1 unknown command or syntax, -2 unknown
parameter, -3 wrong value type, -4 value out of range, -5 parameter is read-only, -6 not allowed
in this state (an injected fault answers -6, the instrument's way: an ``Error:`` line).

The monitoring line (the controller's second TCP port, 1999 on the instrument; served by
:func:`hilt.sims.server.serve_extra_ports` and ``hilt sim serve``): no banner; a client sends
``(add 'name)`` or ``(remove 'name)`` lines; the controller answers a subscription with the
parameter's current value and then with every change, one line each, ``(<UTC timestamp>
'name value)`` + CR LF, the timestamp as ``2025-01-01T00:00:05.250000Z`` (the simulated clock,
starting 2025-01-01); a parameter it does not have is answered ``(Error: -2 (<timestamp> 'name)
unknown parameter)``. Line layouts as Toptica's own client library parses them; the error codes
are this simulator's (*unverified*, as above).

Also ``laserN:dl:cc:current-set``/``-act`` (the actual current is the setpoint while the
current is on, else 0), ``laserN:dl:tc:temp-set``/``-act`` (the temperature settles at once) and
``uptime`` (simulated seconds). ``exec`` runs no command (logged as missing, error -2).

Physics: the THz frequency is the lasers' difference frequency; the emitted power is a
photomixer roll-off (RC and carrier-lifetime poles) times the square of the bias voltage, and
only when both lasers and the bias are on, scaled by each laser's current above its threshold
(30 mA; the nominal power at 100 mA). Published world keys (what a THz source publishes):
``{name}.frequency`` (Hz), ``{name}.power_dbm``, ``{name}.output``.
"""

from __future__ import annotations

import datetime
import math
import re
import threading
from typing import Any, ClassVar

from hilt.sims.base import Session, SimulatedInstrument

C = 299_792_458.0

_COMMAND = re.compile(r"^\(\s*([a-z!\-]+)\s+'([A-Za-z0-9:\-_]+)\s*(.*?)\s*\)$")

ERRORS = {
    -1: "unknown command or syntax error",
    -2: "unknown parameter",
    -3: "wrong value type",
    -4: "value out of range",
    -5: "parameter is read-only",
    -6: "not allowed in the current state",
}


#: role -> parameter name of the THz-specific parameters (unverified; same table as the driver's,
#: kept here because simulators do not import drivers).
THZ_NAMES = {
    "bias_enabled": "laser1:thz:bias:enabled",
    "bias": "laser1:thz:bias:voltage-set",
    "photocurrent": "laser1:thz:photocurrent",
}


class DecofError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        super().__init__(f"{ERRORS.get(code, 'error')}{': ' + detail if detail else ''}")


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "#t" if value else "#f"
    if isinstance(value, str):
        return f'"{value}"'
    return format(value, ".10g") if isinstance(value, float) else str(value)


def _parse(text: str) -> Any:
    t = text.strip()
    if t in ("#t", "#T"):
        return True
    if t in ("#f", "#F"):
        return False
    if len(t) >= 2 and t[0] == '"' and t[-1] == '"':
        return t[1:-1]
    try:
        return float(t)
    except ValueError:
        raise DecofError(-3, text) from None


_MONITOR = re.compile(r"^\(\s*(add|remove)\s+'([A-Za-z0-9:\-_]+)\s*\)$")
_EPOCH = datetime.datetime(2025, 1, 1)


class MonitoringSession(Session):
    """One client of the DLC pro's monitoring line: subscriptions and their updates."""

    def __init__(self, sim: SimulatedInstrument) -> None:
        super().__init__(sim)
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._sent: dict[str, str | None] = {}  # subscribed name -> last value sent

    def _timestamp(self) -> str:
        moment = _EPOCH + datetime.timedelta(seconds=self.sim.world.clock.now())
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        while (cut := self._buffer.find(b"\n")) >= 0:
            line = self._buffer[:cut].decode("ascii", errors="replace").strip()
            del self._buffer[: cut + 1]
            if line:
                out += self._command(line)
        return bytes(out) + self.poll()

    def _command(self, line: str) -> bytes:
        sim = self.sim
        assert isinstance(sim, SimDLCpro)
        m = _MONITOR.match(line)
        if m is None:
            sim.unknown_command(f"monitoring line: {line[:40]}")
            return f"(Error: -1 ({self._timestamp()} '{line[:40]}) {ERRORS[-1]})\r\n".encode()
        op, name = m.groups()
        with self._lock:
            if op == "remove":
                self._sent.pop(name, None)
                return b""
            with sim.lock:
                known = sim.has_parameter(name)
            if not known:
                sim.unknown_command(f"(param-ref '{name})")
                return f"(Error: -2 ({self._timestamp()} '{name}) {ERRORS[-2]})\r\n".encode()
            self._sent[name] = None  # the next poll sends the current value
        return b""

    def poll(self) -> bytes:
        sim = self.sim
        assert isinstance(sim, SimDLCpro)
        out = []
        with self._lock:
            for name, last in self._sent.items():
                with sim.lock:
                    value = _literal(sim.monitored(name))
                if value != last:
                    self._sent[name] = value
                    out.append(f"({self._timestamp()} '{name} {value})\r\n")
        return "".join(out).encode()


class SimDLCpro(SimulatedInstrument):
    model = "toptica_dlcpro"
    description = "Toptica DLC pro, two lasers on a CW THz photomixer (DeCoF command line, TCP 1998)"
    transport = "tcp"
    default_port = 1998
    input_terminators = (b"\n",)
    reply_terminator = "\r\n> "
    extra_ports: ClassVar[dict[str, tuple[type[Session], int | None]]] = {"monitoring": (MonitoringSession, 1999)}

    #: roll-off of a photomixer emitter: P = P0 (V/Vref)^2 / ((1+(f/f_rc)^2)(1+(f/f_tau)^2))
    P0_W = 60e-6
    V_REF = 1.0
    F_RC = 250e9
    F_TAU = 600e9
    #: laser diode threshold and the current at which P0_W holds, mA
    I_THRESHOLD_MA = 30.0
    I_NOMINAL_MA = 100.0

    def __init__(self, *args: Any, names: dict[str, str] | None = None, serial: str = "DLCpro_000001",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names = {**THZ_NAMES, **(names or {})}
        self.serial = serial
        self.values: dict[str, Any] = {
            "system-type": "DLCpro", "serial-number": serial, "fw-ver": "2.6.3",
            "laser1:dl:cc:enabled": False, "laser2:dl:cc:enabled": False,
            "laser1:ctl:wavelength-set": 1549.0, "laser2:ctl:wavelength-set": 1551.0,
            self.names["bias_enabled"]: False, self.names["bias"]: 0.0,
            "laser1:dl:cc:current-set": self.I_NOMINAL_MA, "laser2:dl:cc:current-set": self.I_NOMINAL_MA,
            "laser1:dl:tc:temp-set": 25.0, "laser2:dl:tc:temp-set": 25.0,
        }
        self.read_only = {"emission", "system-type", "serial-number", "fw-ver", "uptime",
                          "laser1:ctl:wavelength-act", "laser2:ctl:wavelength-act", self.names["photocurrent"],
                          *(f"laser{n}:dl:{p}" for n in (1, 2) for p in ("cc:current-act", "tc:temp-act"))}
        self.ranges: dict[str, tuple[float, float]] = {
            "laser1:ctl:wavelength-set": (1510.0, 1630.0), "laser2:ctl:wavelength-set": (1510.0, 1630.0),
            self.names["bias"]: (-2.5, 2.5),
            "laser1:dl:cc:current-set": (0.0, 250.0), "laser2:dl:cc:current-set": (0.0, 250.0),
            "laser1:dl:tc:temp-set": (15.0, 35.0), "laser2:dl:tc:temp-set": (15.0, 35.0),
        }
        self._publish()

    # -- protocol -------------------------------------------------------------------------------
    def greeting(self, session: Session) -> str:
        return "DeCoF Command Line" + self.reply_terminator

    def handle(self, line: str, session: Session) -> str | None:
        try:
            return self._execute(line.strip())
        except DecofError as exc:
            return f"Error: {exc.code} {exc}"

    def inject_error(self, line: str, session: Session) -> str | None:
        return f"Error: -6 {ERRORS[-6]}: injected fault"

    def _execute(self, line: str) -> str:
        m = _COMMAND.match(line)
        if not m:
            raise DecofError(-1, line)
        op, name, arg = m.groups()
        if op == "param-ref":
            if arg:
                raise DecofError(-1, line)
            return _literal(self._get(name))
        if op == "param-set!":
            if not arg:
                raise DecofError(-1, line)
            self._set(name, _parse(arg))
            return "0"
        if op == "exec":
            self.unknown_command(f"(exec '{name})")
            raise DecofError(-2, name)
        self.unknown_command(f"({op} ...)")
        raise DecofError(-1, op)

    def has_parameter(self, name: str) -> bool:
        return name in self.values or name in self.read_only

    def monitored(self, name: str) -> Any:
        """A parameter's value for the monitoring line: as read, without a fresh noise draw (the
        monitoring line must not move the command line's random sequence)."""
        if name == self.names["photocurrent"]:
            bias = self.values[self.names["bias"]] if self.values[self.names["bias_enabled"]] else 0.0
            lit = 0.5 * (bool(self.values["laser1:dl:cc:enabled"]) + bool(self.values["laser2:dl:cc:enabled"]))
            return abs(bias) * (1.0 * lit + 1e-4)
        return self._get(name)

    def _get(self, name: str) -> Any:
        if name == "emission":
            return self._emitting_any()
        if name == "uptime":
            return int(self.world.clock.now())
        if name.endswith(":ctl:wavelength-act") or name.endswith(":tc:temp-act"):
            return self.values[name.replace("-act", "-set")]
        if name.endswith(":cc:current-act"):
            laser = name.split(":")[0]
            return self.values[f"{laser}:dl:cc:current-set"] if self.values[f"{laser}:dl:cc:enabled"] else 0.0
        if name == self.names["photocurrent"]:
            return self._photocurrent_ma()
        if name not in self.values:
            self.unknown_command(f"(param-ref '{name})")
            raise DecofError(-2, name)
        return self.values[name]

    def _set(self, name: str, value: Any) -> None:
        if name in self.read_only:
            raise DecofError(-5, name)
        if name not in self.values:
            self.unknown_command(f"(param-set! '{name} ...)")
            raise DecofError(-2, name)
        old = self.values[name]
        if isinstance(old, bool) != isinstance(value, bool) or isinstance(old, str) != isinstance(value, str):
            raise DecofError(-3, name)
        if name in self.ranges:
            lo, hi = self.ranges[name]
            if not lo <= value <= hi:
                raise DecofError(-4, f"{value} outside [{lo}, {hi}]")
        self.values[name] = float(value) if isinstance(old, float) else value
        self._publish()

    # -- physics --------------------------------------------------------------------------------
    def _emitting_any(self) -> bool:
        return bool(self.values["laser1:dl:cc:enabled"] or self.values["laser2:dl:cc:enabled"])

    def _both_lasers(self) -> bool:
        return bool(self.values["laser1:dl:cc:enabled"] and self.values["laser2:dl:cc:enabled"])

    def thz_frequency(self) -> float:
        l1 = self.values["laser1:ctl:wavelength-set"] * 1e-9
        l2 = self.values["laser2:ctl:wavelength-set"] * 1e-9
        return abs(C / l1 - C / l2)

    def thz_power_w(self) -> float:
        if not (self._both_lasers() and self.values[self.names["bias_enabled"]]):
            return 0.0
        f = self.thz_frequency()
        v = self.values[self.names["bias"]] / self.V_REF
        # Each laser's power above threshold scales with its current; the beat with their product.
        lasers = 1.0
        for n in (1, 2):
            current = self.values[f"laser{n}:dl:cc:current-set"]
            lasers *= max(0.0, current - self.I_THRESHOLD_MA) / (self.I_NOMINAL_MA - self.I_THRESHOLD_MA)
        return lasers * self.P0_W * v * v / ((1 + (f / self.F_RC) ** 2) * (1 + (f / self.F_TAU) ** 2))

    def _photocurrent_ma(self) -> float:
        # DC photocurrent of the biased emitter: ~1 mA/V with both lasers on, dark current otherwise.
        bias = self.values[self.names["bias"]] if self.values[self.names["bias_enabled"]] else 0.0
        lit = 0.5 * (bool(self.values["laser1:dl:cc:enabled"]) + bool(self.values["laser2:dl:cc:enabled"]))
        return abs(bias) * (1.0 * lit + 1e-4) * (1 + 1e-3 * float(self.rng.standard_normal()))

    def _publish(self) -> None:
        power = self.thz_power_w()
        self.world.update({
            f"{self.name}.frequency": self.thz_frequency(),
            f"{self.name}.power_dbm": 10 * math.log10(power / 1e-3) if power > 0 else -math.inf,
            f"{self.name}.output": power > 0,
        })

    def state(self) -> dict[str, Any]:
        return {"frequency": self.thz_frequency(), "power_w": self.thz_power_w(), **self.values}
