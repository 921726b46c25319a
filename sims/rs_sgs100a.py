"""Simulated R&S SGS100A and SMA100B: SCPI over a raw socket, publishing their RF output.

Same bytes as the instruments (see :mod:`hilt.drivers.rs_sgs100a` for the documents): values
answered in plain decimal as R&S prints them (``1000000000``, ``-10``), ``1``/``0`` for states,
the SCPI error queue with R&S's standard texts (``-222,"Data out of range"``). Publishes the same
world keys as the E8257D simulator (``{name}.frequency``, ``{name}.power_dbm``, ``{name}.output``),
so either can feed a multiplier chain and the THz path.

What clients ask at connect (SGS100A / SMA100B user manuals, "Remote control commands": common
commands, SYSTem and DIAGnostic): ``*IDN?``, ``*OPT?`` (installed options, comma separated, the
frequency option first), ``*TST?``, ``SYST:ERR?``, ``SYST:ERR:ALL?``, ``SYST:ERR:COUN?``,
``SYST:VERS?``, ``:DIAGnostic:INFO:OTIMe?`` (operating hours), ``:DIAGnostic:INFO:POCount?``
(power-on count), ``:SYSTem:PRESet``.

Also: ``FREQ:OFFSet`` and ``POW:OFFSet`` (entered and answered values are displayed values, RF +
offset; the world gets the RF), ``POW:LIMit`` (a level above it is refused, -222), ``POW:ALC``
(``ON``/``OFF``/``AUTO``), ``PHAS:REF``, ``OUTP:STAT:PON`` (``OFF``/``UNCH``), ``ROSC:SOUR``
(``INT``/``EXT``) and ``ROSC:EXT:FREQ``, ``LOSC:SOUR``, ``TRIG:SOUR`` kept; ``OPMode?`` answers
``NORM``; ``FREQ:MODE`` accepts ``CW``/``FIXed`` only and ``IQ:STATe`` ``OFF`` only (sweeps and I/Q
modulation are not simulated: refused with -224 and logged at WARNING); ``SYST:DATE?``/``TIME?``
follow the simulated clock from 2025-01-01; ``SYST:COMM:NETW:IPAD?`` answers the loopback address.

Unverified: the option names in ``*OPT?`` (``SGS-B112`` style) and the DIAG reply layouts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.sims.scpi import (
    SCPI_ERRORS,
    RfSourceMixin,
    ScpiInstrument,
    ScpiValueError,
    command,
    parse_bool,
    parse_number,
)

SCPI_ERRORS.setdefault(-114, "Header suffix out of range")


def _rs_number(value: float) -> str:
    """R&S replies: shortest decimal, no exponent for everyday values (``12500000000``)."""
    return f"{value:.12g}" if abs(value) < 1e15 else f"{value:g}"


class SimSGS100A(RfSourceMixin, ScpiInstrument):
    model = "rs_sgs100a"
    description = "R&S SGS100A SGMA RF source (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025
    FREQUENCY_OPTIONS: ClassVar[dict[str, tuple[float, float]]] = {
        "B106": (1e6, 6e9), "B112": (1e6, 12.75e9),
    }
    DEFAULT_OPTION: ClassVar[str] = "B112"
    POWER_RANGE: ClassVar[tuple[float, float]] = (-120.0, 25.0)
    IDN_MODEL: ClassVar[str] = "SGS100A"

    def __init__(self, *args: Any, frequency_option: str | None = None, serial: str = "1416.0505k02/100001",
                 **kwargs: Any) -> None:
        option = frequency_option or self.DEFAULT_OPTION
        if option not in self.FREQUENCY_OPTIONS:
            raise ValueError(f"frequency_option {option!r}: expected one of {sorted(self.FREQUENCY_OPTIONS)}")
        self.min_frequency, self.max_frequency = self.FREQUENCY_OPTIONS[option]
        self.idn = f"Rohde&Schwarz,{self.IDN_MODEL},{serial},4.2.76.0-4.30.046.295"
        prefix = self.IDN_MODEL[:3]
        self.installed_options = ",".join(f"{prefix}-{o}" for o in (option, "B26"))
        super().__init__(*args, **kwargs)

    @command(":DIAGnostic:INFO:OTIMe", query=True)
    def _operating_hours(self, arg: str, query: bool) -> str:
        return self.operating_hours()

    @command(":DIAGnostic:INFO:POCount", query=True)
    def _power_on_count(self, arg: str, query: bool) -> str:
        return "321"

    def reset(self) -> None:
        self.frequency = 1e9
        self.power = -30.0
        self.phase = 0.0
        self.output = False
        self.freq_offset = self.power_offset = 0.0
        self.power_limit = self.POWER_RANGE[1]
        self.alc, self.power_on_state, self.lo_source = "AUTO", "OFF", "INT"
        self.ref_source, self.ref_frequency, self.trigger_source = "INT", 10e6, "AUTO"
        self._publish()

    def _choice(self, arg: str, choices: dict[str, str]) -> str:
        word = arg.strip().upper()
        for key, canonical in choices.items():
            if word == key:
                return canonical
        raise ScpiValueError(-224, f"{arg.strip()!r}: one of {', '.join(sorted(set(choices.values())))}")

    @command("[:SOURce<n>]:FREQuency:OFFSet")
    def _frequency_offset(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return _rs_number(self.freq_offset)
        self.freq_offset = parse_number(arg, "HZ", minimum=-50e9, maximum=50e9)
        return None

    @command("[:SOURce<n>]:FREQuency:MODE")
    def _frequency_mode(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return "CW"
        if arg.strip().upper() not in ("CW", "FIX", "FIXED"):
            self._not_simulated("FREQ:MODE", arg)
        return None

    @command("[:SOURce<n>]:POWer:OFFSet")
    def _power_offset(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return _rs_number(self.power_offset)
        self.power_offset = parse_number(arg, "DBM", minimum=-100.0, maximum=100.0)
        return None

    @command("[:SOURce<n>]:POWer:LIMit[:AMPLitude]")
    def _power_limit(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return _rs_number(self.power_limit)
        self.power_limit = parse_number(arg, "DBM", minimum=self.POWER_RANGE[0], maximum=self.POWER_RANGE[1])
        return None

    @command("[:SOURce<n>]:POWer:ALC[:STATe]")
    def _alc(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return self.alc
        self.alc = self._choice(arg, {"ON": "1", "1": "1", "OFF": "0", "0": "0", "AUTO": "AUTO"})
        return None

    @command("[:SOURce<n>]:PHASe:REFerence", query=False)
    def _phase_reference(self, arg: str, query: bool, hw: str | None = None) -> None:
        self._check_path(hw)
        self.phase = 0.0

    @command(":OUTPut<n>:STATe:PON")
    def _power_on_state(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return self.power_on_state
        self.power_on_state = self._choice(arg, {"OFF": "OFF", "UNCH": "UNCH", "UNCHANGED": "UNCH"})
        return None

    @command("[:SOURce]:ROSCillator:SOURce")
    def _reference_source(self, arg: str, query: bool) -> str | None:
        if query:
            return self.ref_source
        self.ref_source = self._choice(arg, {"INT": "INT", "INTERNAL": "INT", "EXT": "EXT", "EXTERNAL": "EXT"})
        return None

    @command("[:SOURce]:ROSCillator:EXTernal:FREQuency")
    def _reference_frequency(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.ref_frequency / 1e6:g}MHZ"
        value = parse_number(arg, "HZ")
        if value not in (10e6, 100e6, 1000e6):
            raise ScpiValueError(-224, f"{value:g} Hz: 10, 100 or 1000 MHz")
        self.ref_frequency = value
        return None

    @command("[:SOURce<n>]:IQ:STATe")
    def _iq_state(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return "0"
        if parse_bool(arg):
            self._not_simulated("IQ:STATE", arg)
        return None

    @command("[:SOURce<n>]:OPMode", query=True)
    def _operating_mode(self, arg: str, query: bool, hw: str | None = None) -> str:
        self._check_path(hw)
        return "NORM"

    @command("[:SOURce<n>]:LOSCillator:SOURce")
    def _lo_source(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return self.lo_source
        self.lo_source = self._choice(arg, {"INT": "INT", "INTERNAL": "INT", "EXT": "EXT", "EXTERNAL": "EXT"})
        return None

    @command(":TRIGger<n>:SOURce")
    def _trigger_source(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return self.trigger_source
        self.trigger_source = self._choice(arg, {"AUTO": "AUTO", "SING": "SING", "SINGLE": "SING",
                                                 "EXT": "EXT", "EXTERNAL": "EXT"})
        return None

    @command(":SYSTem:COMMunicate:NETWork:IPADdress", query=True)
    def _ip_address(self, arg: str, query: bool) -> str:
        return '"127.0.0.1"'

    @command("[:SOURce<n>]:FREQuency[:CW]")
    @command("[:SOURce<n>]:FREQuency:FIXed")
    def _frequency(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        o = self.freq_offset
        if query:
            return _rs_number(self.frequency + o)
        self.frequency = parse_number(arg, "HZ", minimum=self.min_frequency + o, maximum=self.max_frequency + o) - o
        self._publish()
        return None

    @command("[:SOURce<n>]:POWer[:LEVel][:IMMediate][:AMPLitude]")
    def _power(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        o = self.power_offset
        if query:
            return _rs_number(self.power + o)
        level = parse_number(arg, "DBM", minimum=self.POWER_RANGE[0] + o, maximum=self.POWER_RANGE[1] + o) - o
        if level > self.power_limit:
            raise ScpiValueError(-222, f"{level:g} dBm above the limit {self.power_limit:g} dBm")
        self.power = level
        self._publish()
        return None

    @command("[:SOURce<n>]:PHASe")
    def _phase(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return _rs_number(self.phase)
        self.phase = parse_number(arg, "DEG", minimum=-359.9, maximum=359.9)
        return None

    @command(":OUTPut<n>[:STATe]")
    def _output(self, arg: str, query: bool, hw: str | None = None) -> str | None:
        self._check_path(hw)
        if query:
            return "1" if self.output else "0"
        self.output = parse_bool(arg)
        self._publish()
        return None

    @staticmethod
    def _check_path(hw: str | None) -> None:
        # One RF path: SOURce1/OUTPut1 (or no suffix) only.
        if hw not in (None, "", "1"):
            raise ScpiValueError(-114, f"header suffix out of range: {hw}")

    def state(self) -> dict[str, Any]:
        return {"frequency": self.frequency, "power": self.power, "phase": self.phase, "output": self.output}


class SimSMA100B(SimSGS100A):
    model = "rs_sma100b"
    description = "R&S SMA100B RF and microwave signal generator (SCPI, socket 5025)"
    FREQUENCY_OPTIONS: ClassVar[dict[str, tuple[float, float]]] = {
        "B103": (8e3, 3e9), "B106": (8e3, 6e9), "B112": (8e3, 12.75e9), "B120": (8e3, 20e9),
        "B131": (8e3, 31.8e9), "B140": (8e3, 40e9),
    }
    DEFAULT_OPTION: ClassVar[str] = "B120"
    POWER_RANGE: ClassVar[tuple[float, float]] = (-145.0, 30.0)
    IDN_MODEL: ClassVar[str] = "SMA100B"
