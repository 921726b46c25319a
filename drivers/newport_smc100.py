"""Newport SMC100CC/PP single-axis controllers, two on one RS-485 bus, as the detector's XY stage.

Bytes from the *SMC100CC & SMC100PP Single-Axis DC or Stepper Motion Controller User's Manual*,
section 6 "Command set": ``nnAAxx`` (controller address 1..31, two-letter command, value or
``?``), one command per line, terminated by CR LF; no concatenation. ``PA`` move absolute,
``PR`` move relative, ``TP`` tell position (``1TP5.00000``), ``TS`` positioner error and
controller state (``1TS000033``: four hex digits of error bits, then the state code: ``0A``..``11``
NOT REFERENCED, ``14`` CONFIGURATION, ``1E`` HOMING, ``28`` MOVING, ``32``..``35`` READY,
``3C``..``3E`` DISABLE; full table below), ``OR`` home search, ``ST`` stop, ``RS`` reset, ``VA`` velocity, ``AC``
acceleration, ``SL``/``SR`` software limits, ``TE`` last command error (``@`` none, ``A``..``X``
as tabled below). Section 5 "Communication": RS-232/RS-485 at 57600 baud, 8 data bits, no
parity, 1 stop bit, XON/XOFF flow control.

Checked with the search tool: the SMC100 manual's own pages were not retrievable, so nothing here
is verified against the manual text. Corroborated by several independent SMC100 drivers that cite
the manual's command and state pages (they agree with each other and with these bytes): the
``TS`` reply layout ``1TSabcdef`` (four hex digits of positioner-error bits, then the two-digit
state), the state table (``0A``..``11`` NOT REFERENCED, ``14`` CONFIGURATION, ``1E``/``1F``
HOMING from RS-232 / from the SMC-RC remote, ``28`` MOVING, ``32``..``35`` READY, ``3C``..``3E``
DISABLE, ``46``/``47`` JOGGING), the ``TE`` letters ``@`` and ``A``..``X`` (tabled below), the
``1TE@`` + CR LF reply form, 57600 baud. The same ``TS`` layout is printed in Newport's NPC1USB
manual ("TS -- Get Positioner Error and Controller State"), which shares the SMC command set.

Unverified: the ``TP`` reply precision (taken as ``1TP5.00000``; the driver parses any float),
XON/XOFF flow control and 8N1 (only the 57600 rate is corroborated).

A set command has no answer; the driver reads ``TE`` after each one (one round trip) so a
refused command raises :class:`~hilt.errors.InstrumentError` with the letter and its meaning.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.drivers.newport_esp301 import XYStage
from hilt.drivers.replies import number
from hilt.errors import ConfigError, InstrumentError, ProtocolError
from hilt.parameters import Parameter
from hilt.validators import Numbers

SMC_ERRORS = {
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
NOT_REFERENCED = {"0A", "0B", "0C", "0D", "0E", "0F", "10", "11"}
READY = {"32", "33", "34", "35"}
MOVING = {"1E", "1F", "28", "46", "47"}


class NewportSMC100(XYStage):
    """Two SMC100 controllers (x and y addresses) sharing one serial port."""

    model = "newport_smc100"
    simulator = "newport_smc100"
    transport_settings: ClassVar[dict[str, Any]] = {
        "baudrate": 57600, "xonxoff": True, "write_termination": "\r\n", "read_termination": "\r\n",
        "timeout": 1.0,
    }
    check_errors_after_set = True

    velocity = Parameter(lambda o: o._value(o.addresses["x"], "VA?"), lambda o, v: o._both("VA", v),
                         unit="mm/s", vals=Numbers(1e-6, 20.0), doc="move velocity of both axes")
    acceleration = Parameter(lambda o: o._value(o.addresses["x"], "AC?"), lambda o, v: o._both("AC", v),
                             unit="mm/s^2", vals=Numbers(1e-6, 1e12), doc="acceleration of both axes")

    def __init__(self, address: str, *, x_address: int = 1, y_address: int = 2, max_velocity: float = 20.0,
                 **kwargs: Any) -> None:
        for a in (x_address, y_address):
            if not 1 <= int(a) <= 31:
                raise ConfigError(f"controller address {a}: 1..31")
        if x_address == y_address:
            raise ConfigError("x_address and y_address must differ")
        self.addresses = {"x": int(x_address), "y": int(y_address)}
        self.max_velocity = float(max_velocity)
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        super().configure()
        self.velocity.vals = Numbers(1e-6, self.max_velocity)

    # -- one controller ---------------------------------------------------------------------------
    def ask(self, addr: int, command: str) -> str:
        """Query controller ``addr`` (``ask(1, "TP")``) and return the value after its echo."""
        full = f"{addr}{command}"
        reply = self.query(full)
        prefix = f"{addr}{command[:2].upper()}"
        if not reply.upper().startswith(prefix):
            raise ProtocolError(f"expected a reply starting {prefix!r}", instrument=self.name, command=full, reply=reply)
        return reply[len(prefix):].strip()

    def _value(self, addr: int, command: str) -> float:
        text = self.ask(addr, command)
        try:
            return number(text)
        except ValueError:
            raise ProtocolError("not a number", instrument=self.name, command=f"{addr}{command}", reply=text) from None

    def check_errors(self, command: str | None = None) -> None:
        """``TE`` of the controller the command went to: ``@`` or the letter of its error."""
        digits = ""
        for ch in command or "":
            if not ch.isdigit():
                break
            digits += ch
        addresses = [int(digits)] if digits else list(self.addresses.values())
        for addr in addresses:
            letter = self.ask(addr, "TE")
            if letter != "@":
                raise InstrumentError(letter, SMC_ERRORS.get(letter, "unknown error"), instrument=self.name,
                                      command=command)

    def send(self, addr: int, command: str) -> None:
        """A set command to one controller, checked with ``TE``."""
        self.write(f"{addr}{command}", check_errors=True)

    def status(self, addr: int) -> tuple[int, str]:
        """(positioner error bits, controller state code) from ``TS`` of controller ``addr``.

        A method, not a parameter: it reads one controller of the bus, named by its address;
        :attr:`is_moving` is the parameter that reads both."""
        text = self.ask(addr, "TS")
        if len(text) != 6:
            raise ProtocolError("TS answers 4 hex error digits and a 2-character state", instrument=self.name,
                                command=f"{addr}TS", reply=text)
        try:
            bits = int(text[:4], 16)
        except ValueError:
            raise ProtocolError("TS error bits are hex", instrument=self.name, command=f"{addr}TS", reply=text) from None
        return bits, text[4:].upper()

    def _both(self, mnemonic: str, value: float) -> None:
        for addr in self.addresses.values():
            self.send(addr, f"{mnemonic}{value:g}")

    # -- motion -----------------------------------------------------------------------------------
    def _start_move(self, targets: dict[str, float]) -> None:
        for name, value in targets.items():
            self.send(self.addresses[name], f"PA{value:.5f}")

    def _start_home(self) -> None:
        for addr in self.addresses.values():
            _, state = self.status(addr)
            if state in NOT_REFERENCED:
                self.send(addr, "OR")

    def axis_position(self, axis: str) -> float:
        return self._value(self.addresses[axis], "TP")

    def _is_moving(self) -> bool:
        moving = False
        for name, addr in self.addresses.items():
            _, state = self.status(addr)
            if state in MOVING:
                moving = True
            elif state not in READY:
                # A move that ends anywhere but READY (not referenced, disabled) did not happen.
                raise InstrumentError(state, f"{name} axis (controller {addr}) is not ready: state {state}",
                                      instrument=self.name)
        return moving

    def stop(self) -> None:
        # TE after each stop: the stop is then known to have arrived.
        for addr in self.addresses.values():
            self.send(addr, "ST")

    def identify(self) -> dict[str, str]:
        version = self.ask(self.addresses["x"], "VE")
        return {"vendor": "Newport", "model": "SMC100", "serial": "",
                "firmware": version, "stages": ",".join(self.ask(a, "ID?") for a in self.addresses.values())}

