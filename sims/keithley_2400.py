"""Simulated Keithley 2400 on a serial line (``socket://`` URL or pty), CR-terminated SCPI.

It sources a voltage into a resistive load (a heater, ``load_ohm``; another simulator or the
world may change it under ``<name>.load_ohm``) and reports ``<v>,<i>`` on ``:READ?``. Current
compliance clamps the current the way the instrument does (the voltage then drops to I*R).
Keithley-specific errors: +803 "Output disabled" for ``:READ?`` with the output off.

Current sourcing (``:SOUR:FUNC CURR``, ``:SOUR:CURR``) drives the load with a current; the
voltage it takes is I*R, clamped at the voltage compliance (``:SENS:VOLT:PROT``), and the world
gets that voltage. ``:SOUR:VOLT:PROT`` (overvoltage protection: 20, 40, 60, 80, 100, 120,
160 V or NONE; a value between two levels takes the next one up) bounds what the terminals get,
whatever the source level. ``:INIT`` takes ``:TRIG:COUN`` readings that ``:FETC?`` returns (as does
``:READ?``, comma-joined). Kept without acting on the model: the source and measure ranges,
``:SENS:FUNC``, ``NPLC``, ``:ROUT:TERM``, ``:SYST:RSEN``, ``:SYST:BEEP:STAT`` (Series 2400 manual,
SCPI command reference).
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
SCPI_ERRORS.setdefault(-230, "Data corrupt or stale")


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
        self.current = 0.0
        self.compliance = 105e-6
        self.voltage_compliance = 21.0
        self.protection = 210.0  # overvoltage protection: NONE
        self.output = False
        self.elements = ["VOLT", "CURR", "RES", "TIME", "STAT"]
        self.kept: dict[str, str] = {"SOUR:VOLT:RANG": "2.1E+01", "SOUR:CURR:RANG": "1.05E-04",
                                     "SENS:CURR:RANG": "1.05E-04", "SENS:CURR:NPLC": "1.0E+00",
                                     "SENS:FUNC": '"CURR:DC"', "ROUT:TERM": "FRON", "SYST:RSEN": "0",
                                     "SYST:BEEP:STAT": "1"}
        self.trigger_count = 1
        self.fetched: list[str] = []
        self._publish()

    def _operating_point(self) -> tuple[float, float]:
        """(voltage across the load, current through it) at the present settings."""
        load = self._load()
        if self.function == "CURR":
            volts = self.current * load
            if abs(volts) > self.voltage_compliance:  # in compliance: the voltage limits the current
                volts = self.voltage_compliance if volts > 0 else -self.voltage_compliance
            return volts, volts / load
        # Overvoltage protection: the source never puts more than the OVP level on its terminals.
        volts = max(-self.protection, min(self.protection, self.voltage))
        current = volts / load
        if abs(current) > self.compliance:  # in compliance: the source can only push this much
            current = self.compliance if current > 0 else -self.compliance
            volts = current * load
        return volts, current

    def _publish(self) -> None:
        volts = self._operating_point()[0] if self.function == "CURR" else \
            max(-self.protection, min(self.protection, self.voltage))
        self.world.update({f"{self.name}.voltage": volts if self.output else 0.0,
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
        self._publish()
        return None

    @command(":SOURce:CURRent[:LEVel][:IMMediate][:AMPLitude]")
    def _current(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.current)
        self.current = parse_number(arg, "A", minimum=-1.05, maximum=1.05)
        self._publish()
        return None

    #: The overvoltage protection levels (V); a value between two takes the next one up, above
    #: 160 V it is NONE (the 210 V maximum).
    OVP_LEVELS = (20.0, 40.0, 60.0, 80.0, 100.0, 120.0, 160.0)

    @command(":SOURce:VOLTage:PROTection[:LEVel]")
    def _overvoltage_protection(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.protection)
        word = arg.strip().upper()
        if word in ("NONE", "MAX", "MAXIMUM", "DEF", "DEFAULT"):
            value = 210.0
        else:
            value = 20.0 if word in ("MIN", "MINIMUM") else parse_number(arg, "V", minimum=0.0, maximum=210.0)
        self.protection = next((level for level in self.OVP_LEVELS if value <= level), 210.0)
        self._publish()
        return None

    @command(":SENSe:VOLTage[:DC]:PROTection[:LEVel]")
    def _voltage_compliance(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.voltage_compliance)
        self.voltage_compliance = parse_number(arg, "V", minimum=0.2, maximum=210.0)
        self._publish()
        return None

    def _keep(self, key: str, arg: str, query: bool, parse: Any) -> str | None:
        if query:
            return self.kept[key]
        self.kept[key] = parse(arg)
        return None

    @command(":SOURce:VOLTage:RANGe")
    def _voltage_range(self, arg: str, query: bool) -> str | None:
        return self._keep("SOUR:VOLT:RANG", arg, query, lambda a: fmt(parse_number(a, "V", minimum=0, maximum=210)))

    @command(":SOURce:CURRent:RANGe")
    def _current_range(self, arg: str, query: bool) -> str | None:
        return self._keep("SOUR:CURR:RANG", arg, query, lambda a: fmt(parse_number(a, "A", minimum=0, maximum=1.05)))

    @command(":SENSe:CURRent[:DC]:RANGe[:UPPer]")
    def _sense_range(self, arg: str, query: bool) -> str | None:
        return self._keep("SENS:CURR:RANG", arg, query, lambda a: fmt(parse_number(a, "A", minimum=0, maximum=1.05)))

    @command(":SENSe:CURRent[:DC]:NPLCycles")
    def _nplc(self, arg: str, query: bool) -> str | None:
        return self._keep("SENS:CURR:NPLC", arg, query, lambda a: fmt(parse_number(a, minimum=0.01, maximum=10)))

    @command(":SENSe:FUNCtion[:ON]")
    def _sense_function(self, arg: str, query: bool) -> str | None:
        def parse(a: str) -> str:
            word = a.strip().strip('"').upper()
            if word not in ("CURR", "CURR:DC", "VOLT", "VOLT:DC", "RES"):
                raise ScpiValueError(-224, a)
            return f'"{word if ":" in word or word == "RES" else word + ":DC"}"'
        return self._keep("SENS:FUNC", arg, query, parse)

    @command(":ROUTe:TERMinals")
    def _terminals(self, arg: str, query: bool) -> str | None:
        def parse(a: str) -> str:
            word = a.strip().upper()
            if word not in ("FRON", "FRONT", "REAR"):
                raise ScpiValueError(-224, a)
            return word[:4]
        return self._keep("ROUT:TERM", arg, query, parse)

    @command(":SYSTem:RSENse")
    def _remote_sense(self, arg: str, query: bool) -> str | None:
        return self._keep("SYST:RSEN", arg, query, lambda a: "1" if parse_bool(a) else "0")

    @command(":SYSTem:BEEPer:STATe")
    def _beeper(self, arg: str, query: bool) -> str | None:
        return self._keep("SYST:BEEP:STAT", arg, query, lambda a: "1" if parse_bool(a) else "0")

    @command(":TRIGger:COUNt")
    def _trigger_count(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.trigger_count)
        self.trigger_count = int(parse_number(arg, minimum=1, maximum=2500))
        return None

    @command(":INITiate[:IMMediate]", query=False)
    def _initiate(self, arg: str, query: bool) -> None:
        if not self.output:
            raise ScpiValueError(803)
        self.fetched = [self._reading() for _ in range(self.trigger_count)]

    @command(":FETCh", query=True)
    def _fetch(self, arg: str, query: bool) -> str:
        if not self.fetched:
            raise ScpiValueError(-230, "no readings")
        return ",".join(self.fetched)

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
        self.fetched = [self._reading() for _ in range(self.trigger_count)]
        return ",".join(self.fetched)

    def _reading(self) -> str:
        volts, current = self._operating_point()
        noise = 1e-6 * self.rng.standard_normal()
        values = {"VOLT": volts, "CURR": current * (1 + noise), "RES": 9.91e37, "TIME": self.world.clock.now(), "STAT": 0.0}
        return ",".join(fmt(values[e]) for e in self.elements)

    def state(self) -> dict[str, Any]:
        return {"voltage": self.voltage, "output": self.output, "compliance": self.compliance}
