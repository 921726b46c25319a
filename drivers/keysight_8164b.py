"""Keysight (Agilent) 8164B Lightwave Measurement System with an 816x tunable laser module.

Bytes from the *Keysight 8163A/B, 8164A/B & 8166A/B Mainframes Programming Guide* (pages as
hosted on manualshive / manualsdump), chapter 4 "Measurement Operations & Settings", "The SOURce
Subsystem" (``[:SOURce[n]][:CHANnel[m]]:WAVelength <value>[NM|UM|M]`` and its query, answered in
metres; ``[:SOURce[n]][:CHANnel[m]]:POWer[:LEVel][:IMMediate][:AMPLitude] <value>[MW|UW|W|DBM]``;
``:POWer:UNIT DBM|W``; ``:POWer:STATe 0|1``) and chapter 1 "Introduction to Programming".

Verified in the guide:

* Slot numbering (ch. 1, "Programming and Syntax Diagram Conventions" / "Laser Selection
  Numbers", p. 27): the 8164A/B slot for a back-loadable tunable laser is numbered **zero**;
  without a slot number the 8164A/B defaults to slot 0; single-channel modules are channel 1.
  Hence ``:SOUR0:...`` for the back-loaded TLS, ``:SOUR1``..``:SOUR4`` for front modules.
* Power query (p. 149): answers NR3 in the current power unit, e.g. ``sour2:pow?`` ->
  ``+8.00000000E-004``.
* Error queue (ch. 1, "The Error Queue", p. 14): 30 entries, FIFO; an empty queue reads
  ``+0,"No error"``; an unknown header queues ``-113,"Undefined header"``; overflow
  ``-350,"Queue overflow"``.

Unverified: the reply to ``:SOUR0:POW:STAT?`` (taken as ``0``/``1``), the ``:POW:UNIT`` page, and
the LAN raw-socket port (5025 assumed); GPIB is the documented interface. Commands and replies
end with ``\\n``.

The driver works in SI units: wavelength in metres (sent in nm), power in watts (the laser's
power unit is set to W on connect so that queries answer in watts).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.drivers.scpi import ScpiInstrument
from hilt.errors import ConfigError
from hilt.parameters import Parameter, parse_bool
from hilt.validators import Bool, Numbers


class Keysight8164B(ScpiInstrument):
    """A tunable laser in one slot of an 8164B: wavelength, power, output on/off."""

    model = "keysight_8164b"
    kinds: ClassVar[tuple[str, ...]] = ("tunable_laser",)
    simulator = "keysight_8164b"
    transport_settings: ClassVar[dict[str, Any]] = {
        "read_termination": "\n", "write_termination": "\n", "timeout": 5.0,
    }

    wavelength = Parameter(":SOUR{slot}:WAV?",
                           lambda s, v: s.write(f":SOUR{s.slot}:WAV {v * 1e9:.4f}NM", check_errors=True),
                           unit="m", vals=Numbers(1260e-9, 1640e-9), doc="laser wavelength")
    power = Parameter(":SOUR{slot}:POW?",
                      lambda s, v: s.write(f":SOUR{s.slot}:POW {v * 1e3:.6g}MW", check_errors=True),
                      unit="W", vals=Numbers(1e-6, 20e-3), doc="output power setpoint")
    output = Parameter(":SOUR{slot}:POW:STAT?", ":SOUR{slot}:POW:STAT {value}", get_parser=parse_bool,
                       set_map={True: "1", False: "0"}, vals=Bool(), doc="laser on/off")

    def __init__(self, address: str, *, slot: int = 0,
                 wavelength_range: tuple[float, float] = (1260e-9, 1640e-9),
                 power_range: tuple[float, float] = (1e-6, 20e-3), **kwargs: Any) -> None:
        if slot not in range(5):
            raise ConfigError(f"slot must be 0..4, not {slot!r}")
        self.slot = int(slot)
        self.wavelength_range = tuple(float(x) for x in wavelength_range)
        self.power_range = tuple(float(x) for x in power_range)
        super().__init__(address, **kwargs)

    def format_context(self) -> dict[str, Any]:
        return {"slot": self.slot}

    def configure(self) -> None:
        # The module fitted (e.g. 81606A: 1490-1640 nm) narrows the mainframe's range.
        self.wavelength.vals = Numbers(*self.wavelength_range)
        self.power.vals = Numbers(*self.power_range)

    def on_connect(self) -> None:
        self.write(f":SOUR{self.slot}:POW:UNIT W", check_errors=True)

    def safe_state(self) -> None:
        self.output.set(False)
