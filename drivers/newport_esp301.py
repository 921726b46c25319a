"""Newport ESP301 motion controller driving the XY stage that raster-scans the THz detector.

Bytes from the *ESP301 Integrated 3-Axis Motion Controller/Driver User's Manual*, section 3
"Remote Mode" (command syntax ``xxAAnn``: axis number, two-letter mnemonic, parameter; several
commands per line separated by ``;``; a line ends with CR; replies end with CR LF) and its command
reference: ``PA`` move absolute, ``PR`` move relative, ``TP?`` tell position, ``MD?`` motion
done (``1`` when stopped, ``0`` while moving), ``OR`` home search, ``VA`` velocity, ``AC``
acceleration, ``SL``/``SR`` left/right software travel limits, ``ST`` stop, ``TE?`` error code,
``TB?`` error message (``code, timestamp, MESSAGE``), ``VE?`` firmware version, ``MO`` motor
on (sent for both axes on connect: the controller powers up with its motors off). Section 2
"System Setup", RS-232: 921600 baud, 8 data bits, no parity, 1 stop bit, hardware (RTS/CTS) flow
control. Error codes: the manual's appendix "Error Messages" (general 0-41, axis-specific
``axis*100 + n``).

Checked with the search tool: the ESP301 manual's own pages were not retrievable, so nothing here
is verified against the manual text. Corroborated by independent ESP300/ESP301 drivers: the error
code table (general codes 6 COMMAND DOES NOT EXIST, 7 PARAMETER OUT OF RANGE, 9 AXIS NUMBER OUT
OF RANGE, 37 AXIS NUMBER MISSING, 38 COMMAND PARAMETER MISSING; axis codes ``axis*100 + n`` with
n = 1 PARAMETER OUT OF RANGE, 6/7 POSITIVE/NEGATIVE SOFTWARE LIMIT DETECTED, 10/11 MAXIMUM
VELOCITY/ACCELERATION EXCEEDED, 20 HOMING ABORTED), ``TE?`` answering the bare integer code,
``MD?`` answering ``0``/``1``, ``xxTP`` returning a float, commands ending with CR, and the
ESP301's RS-232 at 921600 baud with RTS/CTS.

Unverified: the ``TB?`` reply layout (implemented as ``code, timestamp, MESSAGE``), the ``VE?``
string, the ``TP?`` number format (the driver parses any float), and how replies to several
queries on one line are separated (the driver never puts two queries on one line).

The driver is an XY stage: axes ``x`` and ``y`` (axis numbers configurable), ``move_to(x, y)``
with the travel limits checked before any byte is sent, ``home()``, ``position()``,
``wait_until_done(timeout)`` polling ``MD?``, ``velocity``; its safe state stops all motion.
"""

from __future__ import annotations

import re
import time
from typing import Any, ClassVar

from hilt.drivers.replies import number
from hilt.errors import InstrumentError, InstrumentTimeout, LimitError, ProtocolError
from hilt.instrument import Instrument
from hilt.parameters import Parameter
from hilt.validators import Numbers

_TB_REPLY = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*,\s*(.*?)\s*$")


class XYStage(Instrument):
    """What every XY stage driver offers: ``x``/``y`` with travel limits, moves, homing, waiting.

    ``x`` and ``y`` are parameters (``stage.x.set(3.0)`` moves x and waits), so a station's
    ``limits: {x: [-10, 10]}`` narrows the travel like any other soft limit. The readouts
    ``position`` and ``is_moving`` are get-only parameters (``stage.position()`` reads, as
    ``stage.position.get()``); a subclass implements :meth:`axis_position` and ``_is_moving``.
    """

    kinds: ClassVar[tuple[str, ...]] = ("motion_stage",)
    #: The axes, in the order :meth:`position` answers (the motion-stage kind).
    axis_names: ClassVar[tuple[str, ...]] = ("x", "y")
    #: seconds between two motion-done polls
    poll_interval: float = 0.02

    x = Parameter(lambda o: o.axis_position("x"), lambda o, v: o.move_to(x=v), unit="mm",
                  vals=Numbers(-25.0, 25.0), doc="x position (a set moves x and waits)")
    y = Parameter(lambda o: o.axis_position("y"), lambda o, v: o.move_to(y=v), unit="mm",
                  vals=Numbers(-25.0, 25.0), doc="y position (a set moves y and waits)")
    position = Parameter(lambda o: (o.axis_position("x"), o.axis_position("y")), unit="mm", snapshot=False,
                         doc="(x, y) as a tuple, in axis_names order (the motion-stage kind's read)")
    is_moving = Parameter(lambda o: o._is_moving(), snapshot=False, doc="True while either axis moves")

    def __init__(self, address: str, *, travel: tuple[float, float] = (-25.0, 25.0),
                 x_travel: tuple[float, float] | None = None, y_travel: tuple[float, float] | None = None,
                 move_timeout: float = 120.0, poll_interval: float | None = None, **kwargs: Any) -> None:
        self.x_travel = tuple(float(v) for v in (x_travel or travel))
        self.y_travel = tuple(float(v) for v in (y_travel or travel))
        self.move_timeout = float(move_timeout)
        if poll_interval is not None:
            self.poll_interval = float(poll_interval)
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        self.x.vals = Numbers(*self.x_travel)
        self.y.vals = Numbers(*self.y_travel)

    # -- what a stage implements ----------------------------------------------------------------
    def _start_move(self, targets: dict[str, float]) -> None:
        raise NotImplementedError

    def _start_home(self) -> None:
        raise NotImplementedError

    def axis_position(self, axis: str) -> float:
        raise NotImplementedError

    def _is_moving(self) -> bool:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    # -- the common part --------------------------------------------------------------------------
    def check_targets(self, x: float | None = None, y: float | None = None) -> dict[str, float]:
        """The validated targets; LimitError (nothing sent) if one is outside the travel."""
        targets: dict[str, float] = {}
        if x is not None:
            targets["x"] = self.x.validate(x)
        if y is not None:
            targets["y"] = self.y.validate(y)
        return targets

    def move_to(self, x: float | None = None, y: float | None = None, *, wait: bool = True,
                timeout: float | None = None) -> None:
        """Move to (x, y) in mm (either may be None: that axis stays); limits checked first."""
        targets = self.check_targets(x, y)
        if not targets:
            return
        self._start_move(targets)
        for name, value in targets.items():
            getattr(self, name).cache = value
        if wait:
            self.wait_until_done(timeout)

    def move_by(self, dx: float = 0.0, dy: float = 0.0, *, wait: bool = True, timeout: float | None = None) -> None:
        """Relative move; the resulting targets are checked against the travel before moving."""
        x0, y0 = self.position()
        try:
            self.move_to(x0 + dx if dx else None, y0 + dy if dy else None, wait=wait, timeout=timeout)
        except LimitError as exc:
            raise LimitError(f"relative move ({dx:g}, {dy:g}) from ({x0:g}, {y0:g}): {exc}",
                             instrument=self.name) from None

    def wait_until_done(self, timeout: float | None = None) -> None:
        """Poll until both axes have stopped; InstrumentTimeout after ``timeout`` seconds."""
        limit = self.move_timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + limit
        while self.is_moving():
            if time.monotonic() > deadline:
                raise InstrumentTimeout(f"motion not done within {limit:g} s", instrument=self.name)
            self.sleep(self.poll_interval)

    def home(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Home search on both axes (the stage's home defines position 0)."""
        self._start_home()
        if wait:
            self.wait_until_done(timeout)

    def safe_state(self) -> None:
        self.stop()


class NewportESP301(XYStage):
    """ESP301 with the detector's x and y on two of its three axes."""

    # VE? (firmware version) and 1MD? (motion done, 0 or 1): harmless, with distinct answers.
    fence: ClassVar[tuple[tuple[str, str], ...] | None] = (("VE?", r".*Version.*"), ("1MD?", r"[01]"))
    model = "newport_esp301"
    simulator = "newport_esp301"
    transport_settings: ClassVar[dict[str, Any]] = {
        "baudrate": 921600, "rtscts": True, "write_termination": "\r", "read_termination": "\r\n",
        "timeout": 2.0,
    }
    check_errors_after_set = True

    velocity = Parameter(lambda o: o._number(f"{o.axes['x']}VA?"), lambda o, v: o._both("VA", v),
                         unit="mm/s", vals=Numbers(1e-4, 20.0), doc="move velocity of both axes")
    acceleration = Parameter(lambda o: o._number(f"{o.axes['x']}AC?"), lambda o, v: o._both("AC", v),
                             unit="mm/s^2", vals=Numbers(1e-3, 1000.0), doc="acceleration (and deceleration)")

    def __init__(self, address: str, *, x_axis: int = 1, y_axis: int = 2, max_velocity: float = 20.0,
                 motor_on_connect: bool = True, **kwargs: Any) -> None:
        if x_axis == y_axis or not {x_axis, y_axis} <= {1, 2, 3}:
            raise LimitError(f"x_axis={x_axis}, y_axis={y_axis}: two different axes of 1, 2, 3")
        self.axes = {"x": int(x_axis), "y": int(y_axis)}
        self.max_velocity = float(max_velocity)
        self.motor_on_connect = bool(motor_on_connect)
        super().__init__(address, **kwargs)

    def on_connect(self) -> None:
        # The ESP301 powers up with its motors off and refuses a move then (axis error xx13,
        # MOTOR NOT ENABLED): power both axes, as a lab's setup sequence does. MO on a powered
        # axis changes nothing. motor_on_connect=False leaves motor power to the user.
        if self.motor_on_connect:
            self.write(f"{self.axes['x']}MO;{self.axes['y']}MO", check_errors=True)

    def configure(self) -> None:
        super().configure()
        self.velocity.vals = Numbers(1e-4, self.max_velocity)

    # -- errors -----------------------------------------------------------------------------------
    def check_errors(self, command: str | None = None) -> None:
        """``TB?`` reads (and clears) the oldest error with its message."""
        reply = self.transport.query("TB?")
        m = _TB_REPLY.match(reply)
        if not m:
            raise ProtocolError("not a TB? reply", instrument=self.name, command="TB?", reply=reply)
        code = int(m.group(1))
        if code != 0:
            raise InstrumentError(code, m.group(3), instrument=self.name, command=command)

    def _both(self, mnemonic: str, value: float) -> None:
        self.write(f"{self.axes['x']}{mnemonic}{value:.5f};{self.axes['y']}{mnemonic}{value:.5f}", check_errors=True)

    # -- motion -----------------------------------------------------------------------------------
    def _start_move(self, targets: dict[str, float]) -> None:
        self.write(";".join(f"{self.axes[n]}PA{v:.5f}" for n, v in targets.items()), check_errors=True)

    def _start_home(self) -> None:
        self.write(f"{self.axes['x']}OR;{self.axes['y']}OR", check_errors=True)

    def _number(self, command: str) -> float:
        """A query answered by one number (``1TP?`` -> ``5.00000``)."""
        reply = self.query(command)
        try:
            return number(reply)
        except ValueError:
            raise ProtocolError("expected a number", instrument=self.name, command=command, reply=reply) from None

    def axis_position(self, axis: str) -> float:
        return self._number(f"{self.axes[axis]}TP?")

    def _motion_done(self, axis: str) -> bool:
        command = f"{self.axes[axis]}MD?"
        reply = self.query(command).strip()
        if reply not in ("0", "1"):
            raise ProtocolError("MD? answers 0 or 1", instrument=self.name, command=command, reply=reply)
        return reply == "1"

    def _is_moving(self) -> bool:
        return not (self._motion_done("x") and self._motion_done("y"))

    def stop(self) -> None:
        # Read back the error buffer: the stop is then known to have arrived (and to have taken).
        self.write(f"{self.axes['x']}ST;{self.axes['y']}ST", check_errors=True)

    def identify(self) -> dict[str, str]:
        reply = self.query("VE?")
        parts = reply.split()
        return {"vendor": "Newport", "model": parts[0] if parts else reply, "serial": "",
                "firmware": " ".join(parts[1:])}
