"""Simulated Keysight 8164B with a tunable laser in slot 0 (SCPI on a raw socket, port 5025).

Same bytes as the instrument (see :mod:`hilt.drivers.keysight_8164b`): NR3 replies in metres and
in the power unit set by ``:SOUR0:POW:UNIT`` (0/DBM or 1/W), the SCPI error queue (-222 out of
range, -113 unknown header, -241 "Hardware missing" for an empty slot). It publishes what the
laser emits: ``<name>.wavelength`` (m), ``<name>.power_w`` (W) and ``<name>.output`` (bool).
"""

from __future__ import annotations

import math
from typing import Any

from hilt.sims.scpi import (
    SCPI_ERRORS,
    ScpiInstrument,
    ScpiValueError,
    command,
    fmt,
    parse_bool,
    parse_number,
)

SCPI_ERRORS.setdefault(-241, "Hardware missing")

UNITS = {"0": "DBM", "DBM": "DBM", "1": "W", "WATT": "W", "W": "W"}


def dbm_to_w(dbm: float) -> float:
    return 1e-3 * 10 ** (dbm / 10)


def w_to_dbm(watts: float) -> float:
    return 10 * math.log10(watts / 1e-3) if watts > 0 else -200.0


class Sim8164B(ScpiInstrument):
    model = "keysight_8164b"
    description = "Keysight 8164B lightwave mainframe with a tunable laser in slot 0 (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025

    def __init__(self, *args: Any, slot: int = 0, serial: str = "DE00000001",
                 wavelength_range: tuple[float, float] = (1490e-9, 1640e-9),
                 power_range: tuple[float, float] = (1e-6, 20e-3), **kwargs: Any) -> None:
        self.slot = int(slot)
        self.wavelength_range = (float(wavelength_range[0]), float(wavelength_range[1]))
        self.power_range = (float(power_range[0]), float(power_range[1]))
        self.idn = f"Agilent Technologies,8164B,{serial},V5.25(72637)"
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.wavelength = 1550e-9
        self.power_w = 1e-3
        self.unit = "DBM"
        self.output = False
        self._publish()

    def _publish(self) -> None:
        self.world.update({
            f"{self.name}.wavelength": self.wavelength,
            f"{self.name}.power_w": self.power_w,
            f"{self.name}.output": self.output,
        })

    def _slot(self, n: str) -> None:
        if (int(n) if n else 0) != self.slot:
            raise ScpiValueError(-241, f"no laser in slot {n or 0}")

    @command("[:SOURce<n>]:WAVelength[:CW]")
    def _wavelength(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.wavelength)
        lo, hi = self.wavelength_range
        self.wavelength = parse_number(arg, "M", minimum=lo, maximum=hi)
        self._publish()
        return None

    @command("[:SOURce<n>]:POWer[:LEVel][:IMMediate][:AMPLitude]")
    def _power(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.power_w if self.unit == "W" else w_to_dbm(self.power_w))
        text = arg.strip().upper()
        if text.endswith("DBM"):
            watts = dbm_to_w(parse_number(text[:-3]))
        elif text and text[-1] == "W":
            watts = parse_number(text, "W")
        else:
            value = parse_number(text)
            watts = value if self.unit == "W" else dbm_to_w(value)
        lo, hi = self.power_range
        if not lo * (1 - 1e-9) <= watts <= hi * (1 + 1e-9):
            raise ScpiValueError(-222, f"{watts:g} W outside [{lo:g}, {hi:g}]")
        self.power_w = watts
        self._publish()
        return None

    @command("[:SOURce<n>]:POWer:UNIT")
    def _unit(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return "+1" if self.unit == "W" else "+0"
        word = arg.strip().upper()
        if word not in UNITS:
            raise ScpiValueError(-224, arg)
        self.unit = UNITS[word]
        return None

    @command("[:SOURce<n>]:POWer:STATe")
    def _state(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return "1" if self.output else "0"
        self.output = parse_bool(arg)
        self._publish()
        return None

    def state(self) -> dict[str, Any]:
        return {"wavelength": self.wavelength, "power_w": self.power_w, "output": self.output}
