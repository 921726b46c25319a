"""Simulated Santec TSL-550 tunable laser (SCPI-style commands, CR delimiter).

Same bytes as the instrument (see :mod:`hilt.drivers.santec_tsl550`): wavelength in nm with four
decimals, power in the unit of ``:POW:UNIT`` (0 dBm, 1 mW), the error queue (-222 out of range,
-113 unknown header). It publishes ``<name>.wavelength`` (m), ``<name>.power_w`` (W, the setpoint;
light leaves the fibre only while ``<name>.output`` is true) and ``<name>.output``.
"""

from __future__ import annotations

import math
from typing import Any

from hilt.sims.scpi import ScpiInstrument, ScpiValueError, command, parse_bool, parse_number


class SimTSL550(ScpiInstrument):
    model = "santec_tsl550"
    description = "Santec TSL-550 tunable laser (SCPI-style, CR)"
    transport = "tcp"
    input_terminators = (b"\r", b"\n")
    reply_terminator = "\r"

    def __init__(self, *args: Any, serial: str = "15020001",
                 wavelength_range: tuple[float, float] = (1500e-9, 1630e-9), **kwargs: Any) -> None:
        self.wavelength_range = (float(wavelength_range[0]), float(wavelength_range[1]))
        self.idn = f"SANTEC,TSL-550,{serial},0001.0000"
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.wavelength = 1550e-9
        self.power_mw = 1.0
        self.unit_mw = False
        self.output = False
        self._publish()

    def _publish(self) -> None:
        self.world.update({
            f"{self.name}.wavelength": self.wavelength,
            f"{self.name}.power_w": self.power_mw * 1e-3,
            f"{self.name}.output": self.output,
        })

    def _show(self, mw: float) -> str:
        if self.unit_mw:
            return f"{mw:.4f}"
        return f"{10 * math.log10(mw):.3f}" if mw > 0 else "-40.000"

    @command(":WAVelength")
    def _wavelength(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.wavelength * 1e9:.4f}"
        lo, hi = self.wavelength_range
        self.wavelength = 1e-9 * parse_number(arg, minimum=lo * 1e9, maximum=hi * 1e9)
        self._publish()
        return None

    @command(":POWer[:LEVel]")
    def _power(self, arg: str, query: bool) -> str | None:
        if query:
            return self._show(self.power_mw)
        value = parse_number(arg)
        mw = value if self.unit_mw else 10 ** (value / 10)
        if not 0.02 <= mw <= 10.0 * (1 + 1e-9):
            raise ScpiValueError(-222, f"{mw:g} mW outside [0.02, 10]")
        self.power_mw = mw
        self._publish()
        return None

    @command(":POWer:ACTual[:LEVel]", query=True)
    def _actual(self, arg: str, query: bool) -> str | None:
        return self._show(self.power_mw if self.output else 0.0)

    @command(":POWer:UNIT")
    def _unit(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.unit_mw else "0"
        word = arg.strip()
        if word not in ("0", "1"):
            raise ScpiValueError(-224, arg)
        self.unit_mw = word == "1"
        return None

    @command(":POWer:STATe")
    def _state(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.output else "0"
        self.output = parse_bool(arg)
        self._publish()
        return None

    def state(self) -> dict[str, Any]:
        return {"wavelength": self.wavelength, "power_mw": self.power_mw, "output": self.output}
