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
SCPI command reference), and the other settings of the reference a client reads at connect: the
voltage and resistance ranges, NPLC and auto-range switches, ``:SENS:RES:MODE``, the averaging
filter, source delay, output-off state, auto output-off (``:SOUR:CLE:AUTO ON``: a measurement
with the output off is taken, as the output turns on for it), the ARM and TRIGger layers (count,
source, timer, delay, lines, outputs), ``:SYST:AZER``, ``:SYST:LFR``, ``:DISP:ENAB``,
``:FORM:DATA`` (ASCII only). ``:MEAS:VOLT?`` and ``:MEAS:RES?`` read like ``:READ?`` (the
resistance element is V/I).

The buffer (TRACe): ``:TRAC:POIN`` (1..2500), ``:TRAC:FEED SENS``, ``:TRAC:FEED:CONT NEXT`` arms it,
``:INIT`` (``ARM:COUN`` x ``TRIG:COUN`` readings, taken at once) fills it until full, when the feed
goes back to NEVer and bit 9 (buffer full) of the measurement event register is set; ``:TRAC:DATA?``
answers every stored reading's elements, ``:TRAC:POIN:ACT?`` their number, ``:TRAC:CLE`` empties it,
``:CALC3:FORM MEAN|SDEV|MAX|MIN|PKPK`` and ``:CALC3:DATA?`` the statistic of each element over the
buffer. Status: ``:STAT:PRES``, ``:STAT:MEAS?`` (read and cleared), ``:STAT:MEAS:ENAB``; an enabled
measurement event sets bit 0 of ``*STB?`` (with ``*SRE 1`` also bit 6), as a client waiting for a full
buffer polls.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hilt.sims.scpi import (
    SCPI_ERRORS,
    ScpiInstrument,
    ScpiValueError,
    command,
    fmt,
    kept_setting,
    parse_bool,
    parse_number,
)

_ON_OFF = {"ON": "1", "1": "1", "OFF": "0", "0": "0"}
_TRIGGER_SOURCES = {"IMM": "IMM", "IMMEDIATE": "IMM", "TLIN": "TLIN", "TLINK": "TLIN", "TIM": "TIM",
                    "TIMER": "TIM", "MAN": "MAN", "MANUAL": "MAN", "BUS": "BUS", "NST": "NST", "PST": "PST",
                    "BST": "BST"}

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
        self.buffer: list[dict[str, float]] = []
        self.buffer_size = 100
        self.buffer_armed = False
        self.measurement_event = self.measurement_enable = 0
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
        if not (self.output or self._auto_output_off_on()):
            raise ScpiValueError(803)
        # ARM:COUN x TRIG:COUN readings (taken at once: the trigger model's delays are kept only).
        readings = [self._reading_values() for _ in range(self.trigger_count * int(self.kept.get("ARM:COUN", 1)))]
        self.fetched = [",".join(fmt(r[e]) for e in self.elements) for r in readings]
        self._store(readings)

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
        if not (self.output or self._auto_output_off_on()):
            raise ScpiValueError(803)
        self.fetched = [self._reading() for _ in range(self.trigger_count)]
        return ",".join(self.fetched)

    def _auto_output_off_on(self) -> bool:
        """``:SOUR:CLE:AUTO ON``: the output turns on for each measurement and off after it, so a
        measurement with the output off is taken (the world sees the output off between them)."""
        return self.kept.get("SOUR:CLE:AUTO", "0") == "1"

    def _reading(self) -> str:
        values = self._reading_values()
        return ",".join(fmt(values[e]) for e in self.elements)

    # -- more of the reference: measurement, ranges, filter, trigger model, buffer, status -----
    @command(":MEASure:VOLTage[:DC]", query=True)
    @command(":MEASure:RESistance", query=True)
    def _measure_other(self, arg: str, query: bool) -> str:
        return self._read(arg, query) or ""

    def _reading_values(self) -> dict[str, float]:
        volts, current = self._operating_point()
        noise = 1e-6 * self.rng.standard_normal()
        current *= 1 + noise
        resistance = volts / current if current else 9.91e37
        return {"VOLT": volts, "CURR": current, "RES": resistance, "TIME": self.world.clock.now(), "STAT": 0.0}

    _sense_volt_range = command(":SENSe:VOLTage[:DC]:RANGe[:UPPer]")(
        kept_setting("SENS:VOLT:RANG", 21.0, unit="V", minimum=0.0, maximum=210.0))
    _sense_volt_nplc = command(":SENSe:VOLTage[:DC]:NPLCycles")(
        kept_setting("SENS:VOLT:NPLC", 1.0, minimum=0.01, maximum=10.0))
    _sense_res_range = command(":SENSe:RESistance:RANGe[:UPPer]")(
        kept_setting("SENS:RES:RANG", 2.1e5, minimum=0.0, maximum=2.1e8))
    _sense_res_nplc = command(":SENSe:RESistance:NPLCycles")(
        kept_setting("SENS:RES:NPLC", 1.0, minimum=0.01, maximum=10.0))
    _sense_res_mode = command(":SENSe:RESistance:MODE")(
        kept_setting("SENS:RES:MODE", "MAN", choices={"MAN": "MAN", "MANUAL": "MAN", "AUTO": "AUTO"}))
    _sense_curr_auto = command(":SENSe:CURRent[:DC]:RANGe:AUTO")(kept_setting("SENS:CURR:RANG:AUTO", "1", choices=_ON_OFF))
    _sense_volt_auto = command(":SENSe:VOLTage[:DC]:RANGe:AUTO")(kept_setting("SENS:VOLT:RANG:AUTO", "1", choices=_ON_OFF))
    _sense_res_auto = command(":SENSe:RESistance:RANGe:AUTO")(kept_setting("SENS:RES:RANG:AUTO", "1", choices=_ON_OFF))
    _source_volt_auto = command(":SOURce:VOLTage:RANGe:AUTO")(kept_setting("SOUR:VOLT:RANG:AUTO", "1", choices=_ON_OFF))
    _source_curr_auto = command(":SOURce:CURRent:RANGe:AUTO")(kept_setting("SOUR:CURR:RANG:AUTO", "1", choices=_ON_OFF))
    _average = command(":SENSe:AVERage[:STATe]")(kept_setting("SENS:AVER", "0", choices=_ON_OFF))
    _average_type = command(":SENSe:AVERage:TCONtrol")(
        kept_setting("SENS:AVER:TCON", "REP", choices={"REP": "REP", "REPEAT": "REP", "MOV": "MOV", "MOVING": "MOV"}))
    _average_count = command(":SENSe:AVERage:COUNt")(
        kept_setting("SENS:AVER:COUN", 10, minimum=1, maximum=100, integer=True))
    _source_delay = command(":SOURce:DELay")(kept_setting("SOUR:DEL", 0.0, unit="S", minimum=0.0, maximum=9999.999))
    _source_delay_auto = command(":SOURce:DELay:AUTO")(kept_setting("SOUR:DEL:AUTO", "1", choices=_ON_OFF))
    _auto_output_off = command(":SOURce:CLEar:AUTO")(kept_setting("SOUR:CLE:AUTO", "0", choices=_ON_OFF))
    _output_off_state = command(":OUTPut:SMODe")(
        kept_setting("OUTP:SMOD", "NORM", choices={"NORM": "NORM", "NORMAL": "NORM", "HIMP": "HIMP",
                                                   "ZERO": "ZERO", "GUAR": "GUAR", "GUARD": "GUAR"}))
    _arm_count = command(":ARM[:SEQuence[1]][:LAYer[1]]:COUNt")(
        kept_setting("ARM:COUN", 1, minimum=1, maximum=2500, integer=True))
    _arm_source = command(":ARM[:SEQuence[1]][:LAYer[1]]:SOURce")(kept_setting("ARM:SOUR", "IMM", choices=_TRIGGER_SOURCES))
    _arm_timer = command(":ARM[:SEQuence[1]][:LAYer[1]]:TIMer")(
        kept_setting("ARM:TIM", 0.1, unit="S", minimum=0.001, maximum=99999.99))
    _arm_output = command(":ARM[:SEQuence[1]][:LAYer[1]][:TCONfigure]:OUTPut")(
        kept_setting("ARM:OUTP", "NONE", choices={"NONE": "NONE", "TENT": "TENT", "TENTER": "TENT",
                                                  "TEX": "TEX", "TEXIT": "TEX"}))
    _arm_iline = command(":ARM[:SEQuence[1]][:LAYer[1]][:TCONfigure]:ILINe")(
        kept_setting("ARM:ILIN", 1, minimum=1, maximum=4, integer=True))
    _arm_oline = command(":ARM[:SEQuence[1]][:LAYer[1]][:TCONfigure]:OLINe")(
        kept_setting("ARM:OLIN", 2, minimum=1, maximum=4, integer=True))
    _trigger_delay = command(":TRIGger[:SEQuence[1]]:DELay")(
        kept_setting("TRIG:DEL", 0.0, unit="S", minimum=0.0, maximum=999.9999))
    _trigger_source = command(":TRIGger[:SEQuence[1]]:SOURce")(
        kept_setting("TRIG:SOUR", "IMM", choices={"IMM": "IMM", "IMMEDIATE": "IMM", "TLIN": "TLIN", "TLINK": "TLIN"}))
    _trigger_output = command(":TRIGger[:SEQuence[1]][:TCONfigure]:OUTPut")(
        kept_setting("TRIG:OUTP", "NONE", choices={"NONE": "NONE", "SOUR": "SOUR", "SOURCE": "SOUR", "DEL": "DEL",
                                                   "DELAY": "DEL", "SENS": "SENS", "SENSE": "SENS"}))
    _trigger_iline = command(":TRIGger[:SEQuence[1]][:TCONfigure]:ILINe")(
        kept_setting("TRIG:ILIN", 1, minimum=1, maximum=4, integer=True))
    _trigger_oline = command(":TRIGger[:SEQuence[1]][:TCONfigure]:OLINe")(
        kept_setting("TRIG:OLIN", 2, minimum=1, maximum=4, integer=True))
    _auto_zero = command(":SYSTem:AZERo[:STATe]")(
        kept_setting("SYST:AZER", "1", choices={**_ON_OFF, "ONCE": "ONCE"}))
    _line_frequency = command(":SYSTem:LFRequency")(
        kept_setting("SYST:LFR", "60", choices={"50": "50", "60": "60"}))
    _line_frequency_auto = command(":SYSTem:LFRequency:AUTO")(kept_setting("SYST:LFR:AUTO", "1", choices=_ON_OFF))
    _display = command(":DISPlay:ENABle")(kept_setting("DISP:ENAB", "1", choices=_ON_OFF))
    _data_format = command(":FORMat[:DATA]")(
        kept_setting("FORM:DATA", "ASC", choices={"ASC": "ASC", "ASCII": "ASC"}))

    # The buffer (TRACe) and its statistics (CALCulate3).
    _buffer_feed = command(":TRACe:FEED")(
        kept_setting("TRAC:FEED", "SENS", choices={"SENS": "SENS", "SENS1": "SENS", "SENSE": "SENS",
                                                   "SENSE1": "SENS", "CALC1": "CALC1", "CALC2": "CALC2"}))
    _statistic = command(":CALCulate3:FORMat")(
        kept_setting("CALC3:FORM", "MEAN", choices={"MEAN": "MEAN", "SDEV": "SDEV", "SDEVIATION": "SDEV",
                                                    "MAX": "MAX", "MAXIMUM": "MAX", "MIN": "MIN", "MINIMUM": "MIN",
                                                    "PKPK": "PKPK"}))

    @command(":TRACe:POINts")
    def _buffer_size(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.buffer_size)
        self.buffer_size = int(parse_number(arg, minimum=1, maximum=2500))
        return None

    @command(":TRACe:POINts:ACTual", query=True)
    def _buffer_count(self, arg: str, query: bool) -> str:
        return str(len(self.buffer))

    @command(":TRACe:FEED:CONTrol")
    def _buffer_control(self, arg: str, query: bool) -> str | None:
        if query:
            return "NEXT" if self.buffer_armed else "NEV"
        word = arg.strip().upper()
        if word not in ("NEXT", "NEV", "NEVER"):
            raise ScpiValueError(-224, f"TRAC:FEED:CONT {arg.strip()!r}: NEXT or NEVer")
        self.buffer_armed = word == "NEXT"
        return None

    @command(":TRACe:CLEar", query=False)
    def _buffer_clear(self, arg: str, query: bool) -> None:
        self.buffer = []
        self.measurement_event &= ~(1 << 9)

    @command(":TRACe:DATA", query=True)
    def _buffer_data(self, arg: str, query: bool) -> str:
        if not self.buffer:
            raise ScpiValueError(-230, "the buffer is empty")
        return ",".join(",".join(fmt(r[e]) for e in self.elements) for r in self.buffer)

    @command(":CALCulate3:DATA", query=True)
    def _statistics(self, arg: str, query: bool) -> str:
        if not self.buffer:
            raise ScpiValueError(-230, "the buffer is empty")
        form = self.kept.get("CALC3:FORM", "MEAN")
        ops = {"MEAN": np.mean, "SDEV": lambda a: np.std(a, ddof=1) if a.size > 1 else 0.0, "MAX": np.max,
               "MIN": np.min, "PKPK": np.ptp}
        return ",".join(fmt(float(ops[form](np.array([r[e] for r in self.buffer])))) for e in self.elements)

    def _store(self, readings: list[dict[str, float]]) -> None:
        """Readings of a trigger-model run go to the buffer while it is armed and not full."""
        if not self.buffer_armed:
            return
        room = self.buffer_size - len(self.buffer)
        self.buffer += readings[:room]
        if len(self.buffer) >= self.buffer_size:
            self.buffer_armed = False  # full: the feed goes back to NEVer
            self.measurement_event |= 1 << 9

    # Status: the measurement event register (bit 9 buffer full) and its summary bit in the STB.
    @command(":STATus:PRESet", query=False)
    def _status_preset(self, arg: str, query: bool) -> None:
        self.measurement_enable = 0

    @command(":STATus:MEASurement[:EVENt]", query=True)
    def _measurement_event_query(self, arg: str, query: bool) -> str:
        value, self.measurement_event = self.measurement_event, 0
        return str(value)

    @command(":STATus:MEASurement:ENABle")
    def _measurement_enable_cmd(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.measurement_enable)
        self.measurement_enable = int(parse_number(arg, minimum=0, maximum=65535))
        return None

    def status_byte(self) -> int:
        """Bit 0 (MSB): an enabled measurement event is set (the buffer filled, with bit 9 enabled)."""
        value = super().status_byte() | (1 if self.measurement_event & self.measurement_enable else 0)
        return value | (64 if value & self.sre else 0)

    def state(self) -> dict[str, Any]:
        return {"voltage": self.voltage, "output": self.output, "compliance": self.compliance}
