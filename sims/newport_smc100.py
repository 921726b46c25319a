"""Simulated Newport SMC100CC/PP controllers on one RS-485 bus: an XY stage from two addresses.

Bytes as in :mod:`hilt.drivers.newport_smc100`: ``<addr><CC><value>`` commands, one per line,
CR LF terminated; queries answer ``<addr><CC><value>`` (``1TP5.00000``); ``TS`` answers four hex
digits of positioner error bits plus the two-character controller state (``1TS000033``); ``TE``
answers the last command error letter (``@`` none). A controller that is not on the bus does not
answer at all (the driver times out), as on a real bus.

State machine (SMC100 manual, "Controller states"): after power-up an axis is NOT REFERENCED
(``0A``) and refuses moves (error ``H``); ``OR`` homes it (``1E`` HOMING, then ``32`` READY
from HOMING); a move goes ``28`` MOVING then ``33`` READY from MOVING; ``ST`` stops (``33``);
``RS`` resets to ``0A``. A target beyond the software limits (``SL``/``SR``) is refused with
``G`` and the axis does not move. Moves run in SIMULATED time on trapezoidal profiles (``VA``,
``AC``) and the detector position is published as ``{name}.position_fn`` -> ``fn(t) -> (x, y)``.

DISABLE state (manual, ``MM`` "Enter/Leave DISABLE state"): ``MM0`` from READY goes to ``3C``
DISABLE from READY (from MOVING: the axis stops, ``3D``), the motor is not powered and moves are
refused with ``J``; ``MM1`` returns to ``34`` READY from DISABLE; from NOT REFERENCED ``MM`` is
refused with ``H``. Motor power per address is published as ``{name}.motor_on``. Also ``TH``
(set-point position, ``1TH4.00000``) and ``TBx`` (the text of error letter x; without a letter,
the last error, which it clears like ``TE``).

CONFIGURATION state (``PW1`` from NOT REFERENCED -> ``14``; ``PW0`` stores and returns to
``0A``): the configuration parameters (``BA``, ``BH``, ``DV``, ``FD``, ``FE``, ``FF``, ``HT``, ``JR``,
``KD``, ``KI``, ``KP``, ``KV``, ``OH``, ``OT``, ``QI``, ``SA``, ``SC``, ``SU``, ``VB``, ``ZX``) are
set only there (elsewhere refused with the letter of the state) and read anywhere; they are kept
without acting on the motion model, except ``OH``, the home search velocity. ``PT`` answers the
duration of a relative move on the current profile, ``RA``/``RB`` read the analog and TTL inputs
(nothing is wired: 0), ``SB`` sets the TTL outputs. Not simulated: ``JD`` (jogging), ``JM``
(keypad), ``SE`` (simultaneous start), ``ZT`` (parameter dump).

Unverified: ``MM?`` answering the state code (``1MM3C``) and the ``TB`` reply layout
(``1TBJ Command not allowed in DISABLE state``).
"""

from __future__ import annotations

import re
from typing import Any

from hilt.sims.base import Session, SimulatedInstrument
from hilt.sims.newport_esp301 import SimAxis, TrapezoidMove

# The state codes and error letters are the manual's; hilt.drivers.newport_smc100 keeps its own
# copy because the layering forbids either side importing the other (a shared table would belong
# in the core, see the issue 12 report).
NOT_REFERENCED = ("0A", "0B", "0C", "0D", "0E", "0F", "10", "11")
READY = ("32", "33", "34", "35")
DISABLE = ("3C", "3D", "3E")
#: The SMC100 manual's command error letters (``TE``/``TB``).
SMC_ERRORS = {
    "@": "No error",
    "A": "Unknown message code or floating point controller address",
    "B": "Controller address not correct",
    "C": "Parameter missing or out of range",
    "D": "Command not allowed",
    "E": "Home sequence already started",
    "F": "ESP stage name unknown",
    "G": "Displacement out of limits",
    "H": "Command not allowed in NOT REFERENCED state",
    "I": "Command not allowed in CONFIGURATION state",
    "J": "Command not allowed in DISABLE state",
    "K": "Command not allowed in READY state",
    "L": "Command not allowed in HOMING state",
    "M": "Command not allowed in MOVING state",
    "N": "Current position out of software limit",
    "S": "Communication Time Out",
    "U": "Error during EEPROM access",
    "V": "Error during command execution",
    "W": "Command not allowed for PP version",
    "X": "Command not allowed for CC version",
}

_SMC_COMMAND = re.compile(r"^\s*(\d{1,2})\s*([A-Za-z]{2})\s*(.*?)\s*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


#: Configuration parameters: code -> (lowest, highest, default). Set in CONFIGURATION only.
CONFIG_PARAMETERS: dict[str, tuple[float, float, float]] = {
    "BA": (0.0, 1e12, 0.0), "BH": (0.0, 1e12, 0.0), "DV": (12.0, 48.0, 48.0), "FD": (1e-6, 2000.0, 2000.0),
    "FE": (1e-6, 1e12, 0.05), "FF": (0.0, 1e12, 0.0), "HT": (0, 4, 2), "JR": (0.001, 1e12, 0.04),
    "KD": (0.0, 1e12, 0.0), "KI": (0.0, 1e12, 0.0), "KP": (0.0, 1e12, 0.0), "KV": (0.0, 1e12, 0.0),
    "OH": (1e-6, 1e12, 2.5), "OT": (1.0, 1e3, 100.0), "QI": (0.05, 3.0, 0.6), "SA": (1, 31, 1),
    "SC": (0, 1, 0), "SU": (1e-6, 1e12, 0.000244), "VB": (0.0, 1e12, 0.0), "ZX": (1, 3, 2),
}
#: The error letter of a command that is not allowed in a state.
STATE_LETTER = {**{s: "H" for s in NOT_REFERENCED}, "14": "I", "1E": "L", "28": "M",
                **{s: "K" for s in READY}, **{s: "J" for s in DISABLE}}


class SmcError(Exception):
    def __init__(self, letter: str) -> None:
        self.letter = letter
        super().__init__(letter)


class SmcController:
    """One SMC100 on the bus: an axis, its state code and its last error letter."""

    def __init__(self, address: int, axis: SimAxis, stage: str = "ILS100CC") -> None:
        self.address = address
        self.axis = axis
        self.stage = stage
        self.base_state = "0A"  # state once any move has ended
        self.error = "@"
        self.homing = False
        self.params = {code: default for code, (_, _, default) in CONFIG_PARAMETERS.items()}
        self.params["SA"] = address
        self.ttl_out = 0

    def state(self, t: float) -> str:
        if self.axis.moving(t):
            return "1E" if self.homing else "28"
        return self.base_state


class SimSMC100(SimulatedInstrument):
    model = "newport_smc100"
    description = "Newport SMC100CC/PP controllers on one RS-485 bus, XY detector stage (57600 8N1 XON/XOFF)"
    transport = "serial"
    input_terminators = (b"\r", b"\n")
    reply_terminator = "\r\n"

    def __init__(self, *args: Any, x_address: int = 1, y_address: int = 2, addresses: tuple[int, ...] | None = None,
                 velocity: float = 5.0, acceleration: float = 20.0, travel: tuple[float, float] = (-25.0, 25.0),
                 start: tuple[float, float] = (3.0, -2.0), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.x_address, self.y_address = int(x_address), int(y_address)
        on_bus = sorted(set(addresses or ()) | {self.x_address, self.y_address})
        self.controllers: dict[int, SmcController] = {}
        for addr in on_bus:
            p = start[0] if addr == self.x_address else start[1] if addr == self.y_address else 0.0
            axis = SimAxis(position=p, velocity=velocity, acceleration=acceleration, max_velocity=velocity * 4,
                           left=travel[0], right=travel[1])
            self.controllers[addr] = SmcController(addr, axis)
        self._publish()

    # -- world ----------------------------------------------------------------------------------
    def position_fn(self, t: float) -> tuple[float, float]:
        return (self.controllers[self.x_address].axis.position(t), self.controllers[self.y_address].axis.position(t))

    def _publish(self) -> None:
        self.world.set(f"{self.name}.position_fn", self.position_fn)
        self.world.set(f"{self.name}.motor_on", {a: c.axis.motor_on for a, c in self.controllers.items()})

    def now(self) -> float:
        return self.world.clock.now()

    # -- protocol -------------------------------------------------------------------------------
    def handle(self, line: str, session: Session) -> str | None:
        m = _SMC_COMMAND.match(line)
        if not m:
            return None  # without an address nobody on the bus answers
        addr, cmd, arg = int(m.group(1)), m.group(2).upper(), m.group(3)
        ctl = self.controllers.get(addr)
        if ctl is None:
            return None
        handler = getattr(self, f"_cmd_{cmd}", None)
        if handler is None and cmd in CONFIG_PARAMETERS:
            def handler(ctl: SmcController, arg: str, code: str = cmd) -> str | None:
                return self._config_parameter(code, ctl, arg)
        try:
            if handler is None:
                self.unknown_command(cmd + ("?" if arg == "?" else ""))
                raise SmcError("A")
            reply = handler(ctl, arg)
        except SmcError as exc:
            ctl.error = exc.letter
            return None
        return f"{addr}{cmd}{reply}" if reply is not None else None

    def inject_error(self, line: str, session: Session) -> str | None:
        m = _SMC_COMMAND.match(line)
        if m and int(m.group(1)) in self.controllers:
            self.controllers[int(m.group(1))].error = "V"  # error during command execution
        return None

    @staticmethod
    def _number(arg: str) -> float:
        if not _NUMBER.match(arg):
            raise SmcError("C")
        return float(arg)

    def _settle(self, ctl: SmcController) -> str:
        """The controller state now; a finished move leaves READY from HOMING / MOVING."""
        t = self.now()
        if not ctl.axis.moving(t) and ctl.homing:
            ctl.homing = False
        return ctl.state(t)

    def _require_ready(self, ctl: SmcController) -> None:
        state = self._settle(ctl)
        if state in NOT_REFERENCED:
            raise SmcError("H")
        if state in DISABLE or state == "14":
            raise SmcError(STATE_LETTER[state])
        if state == "1E":
            raise SmcError("L")

    def _move(self, ctl: SmcController, target: float) -> None:
        self._require_ready(ctl)
        if not ctl.axis.left <= target <= ctl.axis.right:
            raise SmcError("G")
        ctl.axis.start_move(target, self.now())
        ctl.base_state = "33"
        self._publish()

    def _cmd_PA(self, ctl: SmcController, arg: str) -> str | None:
        if arg == "?":
            return f"{ctl.axis.move.end:.5f}"
        self._move(ctl, self._number(arg))
        return None

    def _cmd_PR(self, ctl: SmcController, arg: str) -> str | None:
        step = self._number(arg)
        self._move(ctl, ctl.axis.position(self.now()) + step)
        return None

    def _cmd_TP(self, ctl: SmcController, arg: str) -> str | None:
        return f"{ctl.axis.position(self.now()):.5f}"

    def _cmd_TS(self, ctl: SmcController, arg: str) -> str | None:
        return f"{0:04X}{self._settle(ctl)}"

    def _cmd_TE(self, ctl: SmcController, arg: str) -> str | None:
        letter, ctl.error = ctl.error, "@"
        return letter

    def _cmd_OR(self, ctl: SmcController, arg: str) -> str | None:
        state = self._settle(ctl)
        if state not in NOT_REFERENCED:
            raise SmcError(STATE_LETTER.get(state, "K"))
        ctl.homing = True
        # The home search runs at the OH velocity.
        here, t = ctl.axis.position(self.now()), self.now()
        ctl.axis.move = TrapezoidMove(here, 0.0, t, float(ctl.params["OH"]), ctl.axis.acceleration)
        ctl.base_state = "32"
        self._publish()
        return None

    def _cmd_ST(self, ctl: SmcController, arg: str) -> str | None:
        state = self._settle(ctl)
        ctl.axis.stop(self.now())
        if state == "1E":
            ctl.homing = False
            ctl.base_state = "0B"  # NOT REFERENCED from HOMING
        elif state == "28":
            ctl.base_state = "33"
        self._publish()
        return None

    def _cmd_RS(self, ctl: SmcController, arg: str) -> str | None:
        ctl.axis.stop(self.now())
        ctl.homing = False
        ctl.base_state = "0A"
        ctl.error = "@"
        ctl.axis.motor_on = True
        self._publish()
        return None

    def _cmd_MM(self, ctl: SmcController, arg: str) -> str | None:
        state = self._settle(ctl)
        if arg == "?":
            return state
        if arg not in ("0", "1"):
            raise SmcError("C")
        if state in NOT_REFERENCED or state in ("1E", "14"):
            raise SmcError(STATE_LETTER[state])
        if arg == "0" and state not in DISABLE:
            ctl.axis.stop(self.now())
            ctl.base_state = "3D" if state == "28" else "3C"
            ctl.axis.motor_on = False
        elif arg == "1" and state in DISABLE:
            ctl.base_state = "34"
            ctl.axis.motor_on = True
        self._publish()
        return None

    def _cmd_PW(self, ctl: SmcController, arg: str) -> str | None:
        state = self._settle(ctl)
        if arg == "?":
            return "1" if state == "14" else "0"
        if arg == "1":
            if state not in NOT_REFERENCED:
                raise SmcError(STATE_LETTER.get(state, "D"))
            ctl.base_state = "14"
        elif arg == "0":
            if state != "14":
                raise SmcError(STATE_LETTER.get(state, "D"))
            ctl.base_state = "0A"  # the parameters are stored; the controller restarts unreferenced
        else:
            raise SmcError("C")
        return None

    def _config_parameter(self, code: str, ctl: SmcController, arg: str) -> str | None:
        lo, hi, default = CONFIG_PARAMETERS[code]
        if arg == "?":
            value = ctl.params[code]
            return f"{value:g}" if isinstance(default, float) else str(int(value))
        state = self._settle(ctl)
        if state != "14":
            raise SmcError(STATE_LETTER.get(state, "D"))
        value = self._number(arg)
        if not lo <= value <= hi or (isinstance(default, int) and value != int(value)):
            raise SmcError("C")
        ctl.params[code] = value if isinstance(default, float) else int(value)
        return None

    def _cmd_PT(self, ctl: SmcController, arg: str) -> str | None:
        distance = abs(self._number(arg))
        move = TrapezoidMove(0.0, distance, 0.0, ctl.axis.velocity, ctl.axis.acceleration)
        return f"{move.duration:.5f}"

    def _cmd_RA(self, ctl: SmcController, arg: str) -> str | None:
        return "0"  # nothing is wired to the analog input

    def _cmd_RB(self, ctl: SmcController, arg: str) -> str | None:
        return "0"  # nor to the TTL inputs

    def _cmd_SB(self, ctl: SmcController, arg: str) -> str | None:
        if arg == "?":
            return str(ctl.ttl_out)
        value = self._number(arg)
        if value != int(value) or not 0 <= value <= 15:
            raise SmcError("C")
        ctl.ttl_out = int(value)
        return None

    def _cmd_TH(self, ctl: SmcController, arg: str) -> str | None:
        return f"{ctl.axis.move.end:.5f}"

    def _cmd_TB(self, ctl: SmcController, arg: str) -> str | None:
        letter = arg.strip().upper()
        if not letter:
            letter, ctl.error = ctl.error, "@"
        return f"{letter} {SMC_ERRORS.get(letter, 'Unknown error')}"

    def _cmd_VA(self, ctl: SmcController, arg: str) -> str | None:
        if arg == "?":
            return f"{ctl.axis.velocity:g}"
        v = self._number(arg)
        if not 0 < v <= ctl.axis.max_velocity:
            raise SmcError("C")
        ctl.axis.velocity = v
        return None

    def _cmd_AC(self, ctl: SmcController, arg: str) -> str | None:
        if arg == "?":
            return f"{ctl.axis.acceleration:g}"
        a = self._number(arg)
        if not 0 < a <= 1e12:
            raise SmcError("C")
        ctl.axis.acceleration = a
        return None

    def _cmd_SL(self, ctl: SmcController, arg: str) -> str | None:
        if arg == "?":
            return f"{ctl.axis.left:g}"
        value = self._number(arg)
        if value > 0 or value > ctl.axis.right:
            raise SmcError("C")
        ctl.axis.left = value
        return None

    def _cmd_SR(self, ctl: SmcController, arg: str) -> str | None:
        if arg == "?":
            return f"{ctl.axis.right:g}"
        value = self._number(arg)
        if value < 0 or value < ctl.axis.left:
            raise SmcError("C")
        ctl.axis.right = value
        return None

    def _cmd_ID(self, ctl: SmcController, arg: str) -> str | None:
        return ctl.stage

    def _cmd_VE(self, ctl: SmcController, arg: str) -> str | None:
        return " SMC_CC - Controller-driver version 2.0.0"

    def state(self) -> dict[str, Any]:
        t = self.now()
        return {f"controller{a}": {"position": c.axis.position(t), "state": c.state(t), "error": c.error}
                for a, c in self.controllers.items()}
