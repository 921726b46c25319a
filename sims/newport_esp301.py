"""Simulated Newport ESP301 motion controller carrying the THz detector's XY stage.

Bytes as in :mod:`hilt.drivers.newport_esp301`: ASCII ``xxAAnn`` commands, several per line
separated by ``;``, CR terminated; replies end with CR LF. Errors go to the controller's error
buffer and are read with ``TE?`` (code) or ``TB?`` (``code, timestamp, MESSAGE``); codes as in
the ESP301 manual's error table (general errors 0-38, axis errors ``axis*100 + n``; *verify*).

Axes move in SIMULATED time (the world's :class:`~hilt.sims.world.SimClock`) on trapezoidal
velocity profiles (``VA`` velocity, ``AC`` acceleration = deceleration): ``TP?`` follows the
profile, ``MD?`` answers 0 until the move's end time. A move whose target lies beyond the
software travel limits (``SL``/``SR``) is refused with the axis' software-limit error and does
not start. ``ST`` stops an axis where it is (the deceleration ramp is not modelled).

The detector position is published as ``world.set(f"{name}.position_fn", fn)`` with
``fn(t) -> (x_mm, y_mm)`` (axes ``x_axis``/``y_axis``), republished at every move so watchers see
the change.

Motor power (ESP301 manual, section 3 command reference): ``xxMO`` motor on, ``xxMF`` motor off
(an axis moving stops where it is), ``xxMO?`` answers ``1``/``0``. A move or home search on an
axis whose motor is off is refused with the axis error ``xx13`` MOTOR NOT ENABLED and the stage
stays where it is; the motor states are published as ``{name}.motor_on`` ({axis: bool}). ``AB``
aborts: every axis stops and every motor is switched off. ``TS`` answers the controller status
byte as one ASCII character: bits 0..2 axis 1..3 in motion, bit 4 motor power of at least one
axis on, bit 6 always set so the character is printable (the manual's example ``[P``). Also
``xxDH[pos]`` (define home: the current position becomes ``pos``, default 0), ``xxDP?`` (the
target), ``xxDV?`` (the programmed velocity), ``xxID?`` (the stage model). The simulator's motors
start off (``motors_on=False``), as the controller powers up (hilt's driver turns them on when it
connects); ``motors_on=True`` starts them on, as after a lab's setup sequence.

Trajectory and set-up parameters kept per axis (``AG`` deceleration, ``AU`` maximum
acceleration: ``AC`` above it is refused with ``xx11``; ``JH``/``JW`` jog speeds, ``JK`` jerk,
``OH``/``OL`` home search speeds: ``OR`` runs at ``OH``; ``OM`` home mode, ``QM`` motor type, ``QV``
motor voltage); the profile uses ``AC`` for both ramps. ``xxTV`` answers the actual velocity of
the profile, ``xxMS`` the motor status character (bit 0 in motion, 1 motor on, 2 moving in the
positive direction, bit 6 set), ``TX`` the controller activity character (bit 6 set, no program
running).

Limits, moves to them and waits (ESP301 manual, section 3 command reference; reply layouts
**unverified**): each axis has hardware travel limits (the option ``hardware_travel``, 1 mm beyond
the software limits by default). ``xxMT+``/``xxMT-`` moves to the hardware limit in that
direction (past the software limits: that is what the command is for), ``xxMT?`` answers ``1``
once the axis stands at a hardware limit; ``xxMV+``/``xxMV-`` moves at the ``VA`` velocity until
``ST``/``AB`` or the software limit in that direction; ``xxMZ+``/``xxMZ-`` moves to the next encoder
index in that direction (one every ``index_pitch`` mm, 1 mm by default). A move of any kind with
the motor off is refused with ``xx13``. ``xxWS[ms]`` waits for the axis to stop (then ``ms``
milliseconds) and ``WTms`` waits ``ms``: the controller holds the next commands that long, which
the simulator does by advancing the simulated clock (a wait takes no wall time; every simulator of
the station sees the time pass). ``xxZH``/``xxZS`` (hardware/software limit configuration) are
kept and answered in hex with an ``H`` suffix (``24H``); ``PH`` answers the hardware status as two
hex words (``xxxxxxxxH, xxH``): bit ``n-1`` of the first set while axis ``n`` stands at its
positive hardware limit, bit ``n+7`` at its negative one. ``xxSN?`` answers ``2`` (millimetres):
other displacement units are refused with error 7 and logged as not simulated. ``RS`` resets the controller as at power
up: motion stops, motors off, error buffer, kept parameters, limits and home offsets to defaults.

Unverified: bit 6 of the ``TS`` character, the ``ID?`` reply layout (``model, serial``), and
whether ``MF`` during a move stops the axis at once (here: yes).
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

from hilt.sims.base import Session, SimulatedInstrument


@dataclass(frozen=True)
class TrapezoidMove:
    """A point-to-point move with a trapezoidal (or triangular) velocity profile."""

    start: float
    end: float
    t0: float
    velocity: float
    acceleration: float

    @property
    def distance(self) -> float:
        return abs(self.end - self.start)

    @property
    def duration(self) -> float:
        d, v, a = self.distance, self.velocity, self.acceleration
        if d == 0:
            return 0.0
        if d >= v * v / a:  # reaches full speed
            return d / v + v / a
        return 2.0 * math.sqrt(d / a)

    @property
    def t_end(self) -> float:
        return self.t0 + self.duration

    def position(self, t: float) -> float:
        tau = t - self.t0
        total = self.duration
        if tau <= 0 or total == 0:
            return self.start
        if tau >= total:
            return self.end
        d, v, a = self.distance, self.velocity, self.acceleration
        ramp = v / a if d >= v * v / a else total / 2.0
        if tau < ramp:
            x = 0.5 * a * tau * tau
        elif tau <= total - ramp:
            x = 0.5 * a * ramp * ramp + v * (tau - ramp)
        else:
            x = d - 0.5 * a * (total - tau) ** 2
        return self.start + math.copysign(x, self.end - self.start)


class SimAxis:
    """One motor axis: position follows the latest move; limits, velocity, acceleration."""

    def __init__(self, *, position: float = 0.0, velocity: float = 5.0, acceleration: float = 20.0,
                 max_velocity: float = 20.0, left: float = -25.0, right: float = 25.0) -> None:
        self.velocity = velocity
        self.acceleration = acceleration
        self.max_velocity = max_velocity
        self.motor_on = True
        #: controller coordinate minus physical position (``DH`` redefines the coordinate only)
        self.offset = 0.0
        self.left, self.right = left, right
        self.move = TrapezoidMove(position, position, 0.0, velocity, acceleration)

    def position(self, t: float) -> float:
        return self.move.position(t)

    def moving(self, t: float) -> bool:
        return t < self.move.t_end

    def start_move(self, target: float, t: float) -> TrapezoidMove:
        # A new target mid-move starts from where the axis is, from rest (good enough for a raster).
        self.move = TrapezoidMove(self.position(t), target, t, self.velocity, self.acceleration)
        return self.move

    def stop(self, t: float) -> None:
        here = self.position(t)
        self.move = TrapezoidMove(here, here, t, self.velocity, self.acceleration)


ESP_ERRORS = {
    0: "NO ERROR DETECTED",
    6: "COMMAND DOES NOT EXIST",
    7: "PARAMETER OUT OF RANGE",
    9: "AXIS NUMBER OUT OF RANGE",
    37: "AXIS NUMBER MISSING",
    38: "COMMAND PARAMETER MISSING",
}
ESP_AXIS_ERRORS = {
    1: "PARAMETER OUT OF RANGE",
    8: "MOTOR / STAGE NOT CONNECTED",
    13: "MOTOR NOT ENABLED",
    6: "POSITIVE SOFTWARE LIMIT DETECTED",
    7: "NEGATIVE SOFTWARE LIMIT DETECTED",
    10: "MAXIMUM VELOCITY EXCEEDED",
    11: "MAXIMUM ACCELERATION EXCEEDED",
    20: "HOMING ABORTED",
}

_ESP_COMMAND = re.compile(r"^\s*(\d*)\s*([A-Za-z]{2})\s*(.*?)\s*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class EspError(Exception):
    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(code)


class SimESP301(SimulatedInstrument):
    model = "newport_esp301"
    description = "Newport ESP301 3-axis motion controller, XY detector stage (RS-232, CR)"
    transport = "serial"
    input_terminators = (b"\r",)
    reply_terminator = "\r\n"
    n_axes = 3

    def __init__(self, *args: Any, x_axis: int = 1, y_axis: int = 2, velocity: float = 5.0,
                 acceleration: float = 20.0, travel: tuple[float, float] = (-25.0, 25.0),
                 hardware_travel: tuple[float, float] | None = None, index_pitch: float = 1.0,
                 start: tuple[float, float] = (0.0, 0.0), motors_on: bool = False,
                 stage_model: str = "ILS100CC", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stage_model = stage_model
        self.x_axis, self.y_axis = int(x_axis), int(y_axis)
        self.velocity, self.acceleration = velocity, acceleration
        self.travel = (float(travel[0]), float(travel[1]))
        hw = hardware_travel or (self.travel[0] - 1.0, self.travel[1] + 1.0)
        if not hw[0] <= self.travel[0] < self.travel[1] <= hw[1]:
            raise ValueError(f"hardware_travel {hw!r} must enclose travel {travel!r}")
        self.hardware_travel = (float(hw[0]), float(hw[1]))
        if index_pitch <= 0:
            raise ValueError(f"index_pitch must be positive, not {index_pitch!r}")
        self.index_pitch = float(index_pitch)
        self.axes = {n: SimAxis(velocity=velocity, acceleration=acceleration, left=travel[0], right=travel[1])
                     for n in range(1, self.n_axes + 1)}
        for n, p in ((self.x_axis, start[0]), (self.y_axis, start[1])):
            self.axes[n].move = TrapezoidMove(p, p, 0.0, velocity, acceleration)
        for ax in self.axes.values():
            ax.motor_on = bool(motors_on)
        self.errors: deque[int] = deque(maxlen=10)
        self.kept: dict[int, dict[str, float]] = {}
        self.limit_config: dict[int, dict[str, int]] = {}
        self._publish()

    # -- world ----------------------------------------------------------------------------------
    def position_fn(self, t: float) -> tuple[float, float]:
        x, y = self.axes[self.x_axis], self.axes[self.y_axis]
        return (x.position(t) - x.offset, y.position(t) - y.offset)

    def _publish(self) -> None:
        self.world.set(f"{self.name}.position_fn", self.position_fn)
        self.world.set(f"{self.name}.motor_on", {n: ax.motor_on for n, ax in self.axes.items()})

    def now(self) -> float:
        return self.world.clock.now()

    # -- protocol -------------------------------------------------------------------------------
    def handle(self, line: str, session: Session) -> str | None:
        replies = []
        for part in line.split(";"):
            if not part.strip():
                continue
            try:
                reply = self._execute(part)
            except EspError as exc:
                self.errors.append(exc.code)
                continue
            if reply is not None:
                replies.append(reply)
        # Several queries on one line answer on one line, comma separated (*verify*).
        return ",".join(replies) if replies else None

    def inject_error(self, line: str, session: Session) -> str | None:
        self.errors.append(7)  # the command is refused as PARAMETER OUT OF RANGE
        return None

    def _execute(self, text: str) -> str | None:
        m = _ESP_COMMAND.match(text)
        if not m:
            raise EspError(6)
        axis_text, cmd, arg = m.group(1), m.group(2).upper(), m.group(3)
        query = arg == "?"
        handler = getattr(self, f"_cmd_{cmd}", None)
        if handler is None and cmd in self.KEPT:
            def handler(axis: int, arg: str, query: bool, mnemonic: str = cmd) -> str | None:
                return self._kept(mnemonic, axis, arg, query)
        if handler is None:
            self.unknown_command(cmd + ("?" if query else ""))
            raise EspError(6)
        if cmd in ("TB", "TE", "VE", "ST", "TS", "AB", "TX", "WT", "PH", "RS") and not axis_text:
            return handler(None, arg, query)
        if not axis_text:
            raise EspError(37)
        axis = int(axis_text)
        if axis not in self.axes:
            raise EspError(9)
        return handler(axis, arg, query)

    @staticmethod
    def _number(arg: str) -> float:
        if arg == "":
            raise EspError(38)
        if not _NUMBER.match(arg):
            raise EspError(7)
        return float(arg)

    def _move(self, axis: int, target: float) -> None:
        ax = self.axes[axis]
        if not ax.motor_on:
            raise EspError(axis * 100 + 13)
        if target > ax.right:
            raise EspError(axis * 100 + 6)
        if target < ax.left:
            raise EspError(axis * 100 + 7)
        ax.start_move(target, self.now())
        self._publish()

    def _cmd_PA(self, axis: int, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.axes[axis].move.end:.5f}"
        self._move(axis, self._number(arg))
        return None

    def _cmd_PR(self, axis: int, arg: str, query: bool) -> str | None:
        step = self._number(arg)
        self._move(axis, self.axes[axis].position(self.now()) + step)
        return None

    def _cmd_TP(self, axis: int, arg: str, query: bool) -> str | None:
        return f"{self.axes[axis].position(self.now()):.5f}"

    def _cmd_MD(self, axis: int, arg: str, query: bool) -> str | None:
        return "0" if self.axes[axis].moving(self.now()) else "1"

    def _cmd_OR(self, axis: int, arg: str, query: bool) -> str | None:
        # Home search: the stage finds its home switch, which defines position 0.
        ax = self.axes[axis]
        if not ax.motor_on:
            raise EspError(axis * 100 + 13)
        # The home search runs at the OH speed.
        speed = self.kept.get(axis, {}).get("OH", self.KEPT["OH"][2])
        ax.move = TrapezoidMove(ax.position(self.now()), 0.0, self.now(), speed, ax.acceleration)
        self._publish()
        return None

    def _cmd_ST(self, axis: int | None, arg: str, query: bool) -> str | None:
        for n in ([axis] if axis else list(self.axes)):
            self.axes[n].stop(self.now())
        self._publish()
        return None

    def _cmd_VA(self, axis: int, arg: str, query: bool) -> str | None:
        ax = self.axes[axis]
        if query:
            return f"{ax.velocity:.5f}"
        v = self._number(arg)
        if v <= 0:
            raise EspError(7)
        if v > ax.max_velocity:
            raise EspError(axis * 100 + 10)
        ax.velocity = v
        return None

    def _cmd_VU(self, axis: int, arg: str, query: bool) -> str | None:
        ax = self.axes[axis]
        if query:
            return f"{ax.max_velocity:.5f}"
        v = self._number(arg)
        if v <= 0:
            raise EspError(7)
        ax.max_velocity = v
        ax.velocity = min(ax.velocity, v)
        return None

    def _cmd_AC(self, axis: int, arg: str, query: bool) -> str | None:
        ax = self.axes[axis]
        if query:
            return f"{ax.acceleration:.5f}"
        a = self._number(arg)
        if a <= 0:
            raise EspError(7)
        if a > self.kept.get(axis, {}).get("AU", self.KEPT["AU"][2]):
            raise EspError(axis * 100 + 11)
        ax.acceleration = a
        return None

    def _cmd_SL(self, axis: int, arg: str, query: bool) -> str | None:
        ax = self.axes[axis]
        if query:
            return f"{ax.left:.5f}"
        value = self._number(arg)
        if value > ax.right:
            raise EspError(7)
        ax.left = value
        return None

    def _cmd_SR(self, axis: int, arg: str, query: bool) -> str | None:
        ax = self.axes[axis]
        if query:
            return f"{ax.right:.5f}"
        value = self._number(arg)
        if value < ax.left:
            raise EspError(7)
        ax.right = value
        return None

    def _cmd_MO(self, axis: int, arg: str, query: bool) -> str | None:
        ax = self.axes[axis]
        if query:
            return "1" if ax.motor_on else "0"
        ax.motor_on = True
        self._publish()
        return None

    def _cmd_MF(self, axis: int, arg: str, query: bool) -> str | None:
        ax = self.axes[axis]
        if query:
            return "1" if not ax.motor_on else "0"
        ax.stop(self.now())
        ax.motor_on = False
        self._publish()
        return None

    def _cmd_AB(self, axis: int | None, arg: str, query: bool) -> str | None:
        for ax in self.axes.values():
            ax.stop(self.now())
            ax.motor_on = False
        self._publish()
        return None

    def _cmd_TS(self, axis: int | None, arg: str, query: bool) -> str | None:
        t = self.now()
        bits = sum(1 << (n - 1) for n, ax in self.axes.items() if ax.moving(t))
        if any(ax.motor_on for ax in self.axes.values()):
            bits |= 1 << 4
        return chr(0x40 | bits)

    def _cmd_DH(self, axis: int, arg: str, query: bool) -> str | None:
        ax = self.axes[axis]
        if query:
            raise EspError(7)
        if ax.moving(self.now()):
            raise EspError(axis * 100 + 1)
        here = self._number(arg) if arg else 0.0
        ax.offset += here - ax.position(self.now())
        ax.move = TrapezoidMove(here, here, self.now(), ax.velocity, ax.acceleration)
        self._publish()
        return None

    #: Kept per-axis parameters: mnemonic -> (lowest, highest, default, integer).
    KEPT: ClassVar[dict[str, tuple[float, float, float, bool]]] = {
        "AG": (1e-6, 1e12, 20.0, False), "AU": (1e-6, 1e12, 200.0, False), "JH": (1e-6, 1e12, 10.0, False),
        "JW": (1e-6, 1e12, 1.0, False), "JK": (1e-6, 1e12, 800.0, False), "OH": (1e-6, 1e12, 5.0, False),
        "OL": (1e-6, 1e12, 1.0, False), "OM": (0, 6, 0, True), "QM": (0, 4, 2, True),
        "QV": (0.0, 48.0, 48.0, False),
    }

    def _kept(self, mnemonic: str, axis: int, arg: str, query: bool) -> str | None:
        lo, hi, default, integer = self.KEPT[mnemonic]
        values = self.kept.setdefault(axis, {k: v[2] for k, v in self.KEPT.items()})
        if query:
            return str(int(values[mnemonic])) if integer else f"{values[mnemonic]:.5f}"
        value = self._number(arg)
        if not lo <= value <= hi or (integer and value != int(value)):
            raise EspError(7)
        values[mnemonic] = value
        return None

    def _cmd_TV(self, axis: int, arg: str, query: bool) -> str | None:
        ax, t, h = self.axes[axis], self.now(), 1e-6
        return f"{(ax.position(t + h) - ax.position(t - h)) / (2 * h) if ax.moving(t) else 0.0:.5f}"

    def _cmd_MS(self, axis: int, arg: str, query: bool) -> str | None:
        ax, t = self.axes[axis], self.now()
        bits = (1 if ax.moving(t) else 0) | (2 if ax.motor_on else 0) | (4 if ax.move.end > ax.move.start else 0)
        return chr(0x40 | bits)

    def _cmd_TX(self, axis: int | None, arg: str, query: bool) -> str | None:
        return chr(0x40)  # no program running, no wait, no trajectory executing from a program

    def _cmd_DP(self, axis: int, arg: str, query: bool) -> str | None:
        return f"{self.axes[axis].move.end:.5f}"

    def _cmd_DV(self, axis: int, arg: str, query: bool) -> str | None:
        return f"{self.axes[axis].velocity:.5f}"

    def _cmd_ID(self, axis: int, arg: str, query: bool) -> str | None:
        return f"{self.stage_model}, SN{axis:05d}"

    def _cmd_TE(self, axis: int | None, arg: str, query: bool) -> str | None:
        return str(self.errors.popleft() if self.errors else 0)

    def _cmd_TB(self, axis: int | None, arg: str, query: bool) -> str | None:
        code = self.errors.popleft() if self.errors else 0
        if code >= 100:
            meaning = ESP_AXIS_ERRORS.get(code % 100, "UNKNOWN ERROR")
        else:
            meaning = ESP_ERRORS.get(code, "UNKNOWN ERROR")
        return f"{code}, {int(self.now() * 1000)}, {meaning}"

    def _cmd_VE(self, axis: int | None, arg: str, query: bool) -> str | None:
        return "ESP301 Version 3.0.2 6/5/13"

    # -- limits, moves to them, waits -----------------------------------------------------------
    @staticmethod
    def _direction(arg: str) -> int:
        if arg == "+":
            return 1
        if arg == "-":
            return -1
        raise EspError(38 if arg == "" else 7)

    def _go(self, axis: int, target: float, velocity: float | None = None) -> None:
        """Start a move to ``target`` (no software-limit check: the callers decide)."""
        ax = self.axes[axis]
        if not ax.motor_on:
            raise EspError(axis * 100 + 13)
        here = ax.position(self.now())
        ax.move = TrapezoidMove(here, target, self.now(), velocity or ax.velocity, ax.acceleration)
        self._publish()

    def _cmd_MT(self, axis: int, arg: str, query: bool) -> str | None:
        ax, t = self.axes[axis], self.now()
        if query:
            here = ax.position(t) - ax.offset  # the hardware limits are where the stage is built
            at_limit = not ax.moving(t) and any(abs(here - x) < 1e-9 for x in self.hardware_travel)
            return "1" if at_limit else "0"
        direction = self._direction(arg)
        limit = self.hardware_travel[1] if direction > 0 else self.hardware_travel[0]
        self._go(axis, limit + ax.offset)
        return None

    def _cmd_MV(self, axis: int, arg: str, query: bool) -> str | None:
        if query:
            raise EspError(7)
        direction = self._direction(arg)
        ax = self.axes[axis]
        self._go(axis, ax.right if direction > 0 else ax.left)
        return None

    def _cmd_MZ(self, axis: int, arg: str, query: bool) -> str | None:
        if query:
            raise EspError(7)
        direction = self._direction(arg)
        ax = self.axes[axis]
        here = ax.position(self.now())
        k = math.floor(here / self.index_pitch + 1e-9) + 1 if direction > 0 else \
            math.ceil(here / self.index_pitch - 1e-9) - 1
        target = k * self.index_pitch
        if not ax.left <= target <= ax.right:
            raise EspError(axis * 100 + (6 if direction > 0 else 7))
        self._go(axis, target)
        return None

    def _wait(self, seconds: float) -> None:
        """The controller holds the next commands ``seconds``: simulated time passes at once."""
        if seconds > 0:
            self.world.clock.advance(seconds)

    def _cmd_WS(self, axis: int, arg: str, query: bool) -> str | None:
        if query:
            raise EspError(7)
        delay = self._number(arg) / 1000 if arg else 0.0
        if delay < 0:
            raise EspError(7)
        self._wait(max(0.0, self.axes[axis].move.t_end - self.now()) + delay)
        return None

    def _cmd_WT(self, axis: int | None, arg: str, query: bool) -> str | None:
        if query:
            raise EspError(7)
        ms = self._number(arg)
        if ms < 0:
            raise EspError(7)
        self._wait(ms / 1000)
        return None

    def _limit_config(self, mnemonic: str, axis: int, arg: str, query: bool) -> str | None:
        values = self.limit_config.setdefault(axis, {"ZH": 0x24, "ZS": 0x00})
        if query:
            return f"{values[mnemonic]:X}H"
        text = arg.upper()
        try:
            value = int(text[:-1], 16) if text.endswith("H") else int(self._number(arg))
        except ValueError:
            raise EspError(7) from None
        if not 0 <= value <= 0xFFFF:
            raise EspError(7)
        values[mnemonic] = value
        return None

    def _cmd_SN(self, axis: int, arg: str, query: bool) -> str | None:
        # Displacement units: the simulated stages work in millimetres (2) only.
        if query:
            return "2"
        if self._number(arg) != 2:
            self.unknown_command(f"SN {arg}")
            raise EspError(7)
        return None

    def _cmd_ZH(self, axis: int, arg: str, query: bool) -> str | None:
        return self._limit_config("ZH", axis, arg, query)

    def _cmd_ZS(self, axis: int, arg: str, query: bool) -> str | None:
        return self._limit_config("ZS", axis, arg, query)

    def _cmd_PH(self, axis: int | None, arg: str, query: bool) -> str | None:
        t = self.now()
        word = 0
        for n, ax in self.axes.items():
            if ax.moving(t):
                continue
            here = ax.position(t) - ax.offset
            if here >= self.hardware_travel[1] - 1e-9:
                word |= 1 << (n - 1)
            elif here <= self.hardware_travel[0] + 1e-9:
                word |= 1 << (n + 7)
        return f"{word:X}H, 0H"

    def _cmd_RS(self, axis: int | None, arg: str, query: bool) -> str | None:
        t = self.now()
        for ax in self.axes.values():
            here = ax.position(t) - ax.offset  # where the stage physically is
            ax.motor_on = False
            ax.velocity, ax.acceleration, ax.max_velocity = self.velocity, self.acceleration, 20.0
            ax.left, ax.right = self.travel
            ax.offset = 0.0  # a reset forgets DH: the coordinate is the physical one again
            ax.move = TrapezoidMove(here, here, t, ax.velocity, ax.acceleration)
        self.errors.clear()
        self.kept.clear()
        self.limit_config.clear()
        self._publish()
        return None

    def state(self) -> dict[str, Any]:
        t = self.now()
        return {f"axis{n}": {"position": ax.position(t), "moving": ax.moving(t), "target": ax.move.end}
                for n, ax in self.axes.items()}
