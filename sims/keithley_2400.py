"""Simulated Keithley 2400 on a serial line (``socket://`` URL or pty), CR-terminated SCPI.

It sources a voltage into a resistive load (a heater, ``load_ohm``; another simulator or the
world may change it under ``<name>.load_ohm``) and reports ``<v>,<i>`` on ``:READ?``. Current
compliance clamps the current the way the instrument does (the voltage then drops to I*R).
Keithley-specific errors: +803 "Output disabled" for ``:READ?`` with the output off.
"""

from __future__ import annotations

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

SCPI_ERRORS.setdefault(803, "Output disabled")


class SimKeithley2400(ScpiInstrument):
    model = "keithley_2400"
    description = "Keithley 2400 SourceMeter (SCPI over RS-232, CR)"
    transport = "serial"
    input_terminators = (b"\r", b"\n")
    reply_terminator = "\r"
    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4000001,C32   Oct  4 2010 14:20:11/A02  /S/K"

    def __init__(self, *args: Any, load_ohm: float = 1000.0, **kwargs: Any) -> None:
        self.default_load = load_ohm
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.function = "VOLT"
        self.voltage = 0.0
        self.compliance = 105e-6
        self.output = False
        self.elements = ["VOLT", "CURR", "RES", "TIME", "STAT"]
        self._publish()

    def _publish(self) -> None:
        self.world.update({f"{self.name}.voltage": self.voltage if self.output else 0.0,
                           f"{self.name}.output": self.output})

    def _load(self) -> float:
        return float(self.world.get(f"{self.name}.load_ohm", self.default_load))

    @command(":SOURce:FUNCtion[:MODE]")
    def _function(self, arg: str, query: bool) -> str | None:
        if query:
            return self.function
        word = arg.strip().upper()
        if word not in ("VOLT", "VOLTAGE", "CURR", "CURRENT"):
            raise ScpiValueError(-224, arg)
        self.function = word[:4]
        return None

    @command(":SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]")
    def _voltage(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.voltage)
        self.voltage = parse_number(arg, "V", minimum=-210.0, maximum=210.0)
        self._publish()
        return None

    @command(":SENSe:CURRent[:DC]:PROTection[:LEVel]")
    def _compliance(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.compliance)
        self.compliance = parse_number(arg, "A", minimum=1e-9, maximum=1.05)
        return None

    @command(":OUTPut[:STATe]")
    def _output(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.output else "0"
        self.output = parse_bool(arg)
        self._publish()
        return None

    @command(":FORMat:ELEMents[:SENSe[1]]")
    def _elements(self, arg: str, query: bool) -> str | None:
        if query:
            return ",".join(self.elements)
        words = [w.strip().upper()[:4] for w in arg.split(",") if w.strip()]
        if not words or any(w not in ("VOLT", "CURR", "RES", "TIME", "STAT") for w in words):
            raise ScpiValueError(-224, arg)
        self.elements = words
        return None

    @command(":READ", query=True)
    @command(":MEASure[:CURRent]", query=True)
    def _read(self, arg: str, query: bool) -> str | None:
        if not self.output:
            raise ScpiValueError(803)
        load = self._load()
        current = self.voltage / load
        volts = self.voltage
        if abs(current) > self.compliance:  # in compliance: the source can only push this much
            current = self.compliance if current > 0 else -self.compliance
            volts = current * load
        noise = 1e-6 * self.rng.standard_normal()
        values = {"VOLT": volts, "CURR": current * (1 + noise), "RES": 9.91e37, "TIME": self.world.clock.now(), "STAT": 0.0}
        return ",".join(fmt(values[e]) for e in self.elements)

    def state(self) -> dict[str, Any]:
        return {"voltage": self.voltage, "output": self.output, "compliance": self.compliance}
