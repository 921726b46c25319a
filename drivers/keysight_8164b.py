"""Keysight (Agilent) 8164B Lightwave Measurement System with an 816x tunable laser module.

Bytes from the *Keysight 8164B Lightwave Measurement System Programming Guide*, chapter
"Tunable Laser Source Commands" (``:SOURce[n]:WAVelength <value>[NM|UM|M]`` and its query,
answered in metres; ``:SOURce[n]:POWer[:LEVel][:IMMediate][:AMPLitude] <value>[MW|UW|W|DBM]``;
``:SOURce[n]:POWer:UNIT DBM|W``; ``:SOURce[n]:POWer:STATe 0|1``) and "System Commands"
(``:SYSTem:ERRor?`` -> ``<code>,"<message>"``). Slot numbering: ``n`` is the mainframe slot, 0
for the back-loadable tunable laser (81600B/81640B/81680B...), 1..4 for front modules. GPIB, or
LAN on a raw socket (port 5025); commands and replies end with ``\\n``.

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
