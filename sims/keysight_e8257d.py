"""Simulated Keysight E8257D PSG: SCPI over a raw socket, publishing its RF output to the world.

Same bytes as the instrument (see :mod:`hilt.drivers.keysight_e8257d` for the documents): NR3
replies (``+2.00000000E+10``), ``0``/``1`` for states, the SCPI error queue with the PSG's
standard codes (-113 undefined header, -222 data out of range, -224 illegal parameter value).
"""

from __future__ import annotations

from typing import Any

from hilt.sims.scpi import ScpiInstrument, command, fmt, parse_bool, parse_number

MAX_FREQUENCY = {"520": 20e9, "532": 31.8e9, "540": 40e9, "550": 50e9, "567": 67e9}


class SimE8257D(ScpiInstrument):
    model = "keysight_e8257d"
    description = "Keysight E8257D PSG analog signal generator (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025

    def __init__(self, *args: Any, frequency_option: str = "520", serial: str = "US00000001", **kwargs: Any) -> None:
        self.max_frequency = MAX_FREQUENCY[frequency_option]
        self.idn = f"Keysight Technologies,E8257D,{serial},C.06.28"
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.frequency = self.max_frequency
        self.power = -135.0
        self.output = False
        self.modulation = True  # the PSG presets with modulation on (no source selected)
        self._publish()

    def _publish(self) -> None:
        self.world.update({
            f"{self.name}.frequency": self.frequency,
            f"{self.name}.power_dbm": self.power,
            f"{self.name}.output": self.output,
        })

    @command("[:SOURce]:FREQuency[:CW]")
    @command("[:SOURce]:FREQuency:FIXed")
    def _frequency(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.frequency)
        self.frequency = parse_number(arg, "HZ", minimum=250e3, maximum=self.max_frequency)
        self._publish()
        return None

    @command("[:SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude]")
    def _power(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.power)
        self.power = parse_number(arg, "DBM", minimum=-135.0, maximum=25.0)
        self._publish()
        return None

    @command(":OUTPut[:STATe]")
    def _output(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.output else "0"
        self.output = parse_bool(arg)
        self._publish()
        return None

    @command(":OUTPut:MODulation[:STATe]")
    def _modulation(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.modulation else "0"
        self.modulation = parse_bool(arg)
        return None

    def state(self) -> dict[str, Any]:
        return {"frequency": self.frequency, "power": self.power, "output": self.output}
