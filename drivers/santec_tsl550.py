"""Santec TSL-550 tunable laser.

Bytes from the *Santec TSL-550 Operation Manual*, chapter "Communication commands" (SCPI-style
command set): ``:WAVelength <nm>`` / ``:WAVelength?`` (nm, ``1550.0000``), ``:POWer[:LEVel]
<value>`` / ``:POWer?`` in the unit chosen by ``:POWer:UNIT 0|1`` (0 dBm, 1 mW),
``:POWer:ACTual?`` (monitored output), ``:POWer:STATe 0|1`` (laser diode on/off),
``:SYSTem:ERRor?`` and ``*IDN?``. GPIB or USB; the delimiter is chosen on the front panel
(CR here). Wavelength and power ranges depend on the type (e.g. 1500-1630 nm).

Checked with the search tool: the TSL-550 manual's pages were not retrievable. Santec's own
example scripts say the TSL-550/710 take "Santec commands (command set 2)" while SCPI is
documented for the TSL-570/770, so the SCPI spellings above are **Unverified** for the
TSL-550: ``:WAV``, ``:POW``, ``:POW:STAT``, ``:POW:UNIT 0|1`` (0 dBm, 1 mW, as other projects
use on the TSL-5xx SCPI command set), ``:SYST:ERR?`` support, and the CR delimiter.

The driver works in SI units: metres (sent in nm) and watts (the power unit is set to mW on
connect and converted).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.drivers.replies import number
from hilt.drivers.scpi import ScpiInstrument
from hilt.parameters import Parameter, parse_bool
from hilt.validators import Bool, Numbers


def _nm_to_m(reply: str) -> float:
    return number(reply) * 1e-9


def _mw_to_w(reply: str) -> float:
    return number(reply) * 1e-3


class SantecTSL550(ScpiInstrument):
    """TSL-550: wavelength, power setpoint, measured power, laser diode on/off."""

    model = "santec_tsl550"
    kinds: ClassVar[tuple[str, ...]] = ("tunable_laser",)
    simulator = "santec_tsl550"
    transport_settings: ClassVar[dict[str, Any]] = {
        "read_termination": "\r", "write_termination": "\r", "timeout": 5.0,
    }

    wavelength = Parameter(":WAV?", lambda s, v: s.write(f":WAV {v * 1e9:.4f}", check_errors=True),
                           unit="m", get_parser=_nm_to_m, vals=Numbers(1500e-9, 1630e-9),
                           doc="laser wavelength")
    power = Parameter(":POW?", lambda s, v: s.write(f":POW {v * 1e3:.4f}", check_errors=True),
                      unit="W", get_parser=_mw_to_w, vals=Numbers(0.02e-3, 10e-3),
                      doc="output power setpoint")
    actual_power = Parameter(":POW:ACT?", unit="W", get_parser=_mw_to_w, doc="monitored output power")
    output = Parameter(":POW:STAT?", ":POW:STAT {value}", get_parser=parse_bool,
                       set_map={True: "1", False: "0"}, vals=Bool(), doc="laser diode on/off")

    def __init__(self, address: str, *, wavelength_range: tuple[float, float] = (1500e-9, 1630e-9),
                 **kwargs: Any) -> None:
        self.wavelength_range = (float(wavelength_range[0]), float(wavelength_range[1]))
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        self.wavelength.vals = Numbers(*self.wavelength_range)

    def on_connect(self) -> None:
        self.write(":POW:UNIT 1", check_errors=True)

    def safe_state(self) -> None:
        self.output.set(False)
