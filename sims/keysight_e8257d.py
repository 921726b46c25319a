"""Simulated Keysight E8257D PSG: SCPI over a raw socket, publishing its RF output to the world.

Same bytes as the instrument (see :mod:`hilt.drivers.keysight_e8257d` for the documents): NR3
replies (``+2.00000000E+10``), ``0``/``1`` for states, the SCPI error queue with the PSG's
standard codes (-113 undefined header, -222 data out of range, -224 illegal parameter value).

What clients ask at connect (E8257D/E8267D PSG SCPI Command Reference, "System" and
"Diagnostic" subsystems, and IEEE 488.2 common commands): ``*IDN?``, ``*OPT?`` (the installed
options, comma separated: the frequency option first), ``*TST?``, ``SYST:ERR?`` and its SCPI-1999
relatives, ``SYST:VERS?``, ``:DIAGnostic[:CPU]:INFOrmation:OPTions?`` (the same list),
``...:OPTions:DETail?`` (one ``option,revision,description`` line per option),
``...:OTIMe?`` (hours of operation), ``...:SDATe?`` (firmware date), ``...:REVision?``,
``...:CCOunt:PON?`` (power-on cycles) and ``...:BOARds?``, ``:SYSTem:PRESet``.

Front-panel arithmetic (Frequency and Power subsystems): ``FREQ:MULTiplier`` and ``FREQ:OFFSet``
make every frequency entered and answered a *displayed* frequency (output x multiplier +
offset), ``POW:OFFSet`` likewise for the level; the world always gets the true output.
``POW:ALC``, ``POW:ATTenuation`` (step attenuator, dB), ``POW:PROTection``, ``PHASe[:ADJust]``
(radians) and ``PHAS:REF`` are kept; ``FREQ:MODE``/``POW:MODE`` accept ``CW``/``FIXed`` only and
the analog modulations (``AM``, ``FM``, ``PM``, ``PULM``) accept ``OFF`` only: sweeps, lists and
modulation are not simulated, so switching one on is refused with -224 and logged at WARNING as
a command the simulator lacks; their settings are kept and answered back (sweep start/stop/
centre/span, power start/stop, points, dwell, list type, ``INIT:CONT``, ``TRIG:SOUR``, AM depth,
source, internal frequency and shape, FM deviation, pulse source and internal frequency, the LF
output's amplitude and source), ``INIT`` is accepted (nothing to sweep in CW) and
``DIAG:INFO:WLIC?`` answers ``""``. ``ROSC:SOUR?`` answers ``INT``; ``SYST:DATE?``/``SYST:TIME?`` follow
the simulated clock from 2025-01-01 00:00:00; ``SYST:COMM:LAN:IP?`` answers the loopback address.

Unverified: the exact text of the DIAG replies (layouts follow the command reference's
descriptions, contents are this simulator's), the option list of a default unit (``520,1EA,UNT``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.sims.scpi import (
    RfSourceMixin,
    ScpiInstrument,
    ScpiValueError,
    command,
    fmt,
    kept_setting,
    parse_bool,
    parse_number,
)

MAX_FREQUENCY = {"520": 20e9, "532": 31.8e9, "540": 40e9, "550": 50e9, "567": 67e9}


class SimE8257D(RfSourceMixin, ScpiInstrument):
    model = "keysight_e8257d"
    description = "Keysight E8257D PSG analog signal generator (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025

    #: option -> what it is (the PSG data sheet's option names)
    OPTION_TEXT: ClassVar[dict[str, str]] = {
        "520": "Frequency range 250 kHz to 20 GHz", "532": "Frequency range 250 kHz to 31.8 GHz",
        "540": "Frequency range 250 kHz to 40 GHz", "550": "Frequency range 250 kHz to 50 GHz",
        "567": "Frequency range 250 kHz to 67 GHz", "1EA": "High output power",
        "UNT": "AM, FM, phase modulation", "UNU": "Pulse modulation", "1E1": "Step attenuator",
    }

    def __init__(self, *args: Any, frequency_option: str = "520", serial: str = "US00000001",
                 options: tuple[str, ...] = ("1EA", "UNT"), **kwargs: Any) -> None:
        if frequency_option not in MAX_FREQUENCY:
            raise ValueError(f"frequency_option {frequency_option!r}: expected one of {sorted(MAX_FREQUENCY)}")
        self.max_frequency = MAX_FREQUENCY[frequency_option]
        self.idn = f"Keysight Technologies,E8257D,{serial},C.06.28"
        self.installed_options = ",".join((frequency_option, *options))
        super().__init__(*args, **kwargs)

    # -- what a client asks at connect ---------------------------------------------------------
    @command(":DIAGnostic[:CPU]:INFOrmation:OPTions", query=True)
    def _diag_options(self, arg: str, query: bool) -> str:
        return f'"{self.installed_options}"'

    @command(":DIAGnostic[:CPU]:INFOrmation:OPTions:DETail", query=True)
    def _diag_options_detail(self, arg: str, query: bool) -> str:
        return ",".join(f'"{o}","1.0","{self.OPTION_TEXT.get(o, o)}"' for o in self.installed_options.split(","))

    @command(":DIAGnostic[:CPU]:INFOrmation:OTIMe", query=True)
    def _diag_on_time(self, arg: str, query: bool) -> str:
        return self.operating_hours()

    @command(":DIAGnostic[:CPU]:INFOrmation:CCOunt:PON", query=True)
    def _diag_power_ons(self, arg: str, query: bool) -> str:
        return "321"

    @command(":DIAGnostic[:CPU]:INFOrmation:SDATe", query=True)
    def _diag_firmware_date(self, arg: str, query: bool) -> str:
        return '"Jan 15 2020 10:00:00"'

    @command(":DIAGnostic[:CPU]:INFOrmation:REVision", query=True)
    def _diag_revision(self, arg: str, query: bool) -> str:
        return '"C.06.28"'

    @command(":DIAGnostic[:CPU]:INFOrmation:BOARds", query=True)
    def _diag_boards(self, arg: str, query: bool) -> str:
        return '"CPU,1.0","RF,1.0","ALC,1.0","REF,1.0"'

    def reset(self) -> None:
        self.frequency = self.max_frequency
        self.power = -135.0
        self.output = False
        self.modulation = True  # the PSG presets with modulation on (no source selected)
        self.freq_offset, self.freq_multiplier, self.power_offset = 0.0, 1.0, 0.0
        self.power_reference = 0.0
        self.alc, self.protection, self.attenuation = True, False, 0.0
        self.phase = 0.0
        self.kept: dict[str, Any] = {}
        self._publish()

    # -- kept settings and what is not simulated --------------------------------------------------
    @command("[:SOURce]:FREQuency:MODE")
    def _frequency_mode(self, arg: str, query: bool) -> str | None:
        if query:
            return "CW"
        if arg.strip().upper() not in ("CW", "FIX", "FIXED"):
            self._not_simulated("FREQ:MODE", arg)
        return None

    @command("[:SOURce]:POWer:MODE")
    def _power_mode(self, arg: str, query: bool) -> str | None:
        if query:
            return "FIX"
        if arg.strip().upper() not in ("FIX", "FIXED"):
            self._not_simulated("POW:MODE", arg)
        return None

    @command("[:SOURce]:AM[:STATe]")
    @command("[:SOURce]:FM[:STATe]")
    @command("[:SOURce]:PM[:STATe]")
    @command("[:SOURce]:PULM:STATe")
    def _modulation_state(self, arg: str, query: bool) -> str | None:
        if query:
            return "0"
        if parse_bool(arg):
            self._not_simulated("MODULATION", arg)
        return None

    @command("[:SOURce]:FREQuency:OFFSet")
    def _frequency_offset(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.freq_offset)
        self.freq_offset = parse_number(arg, "HZ", minimum=-200e9, maximum=200e9)
        return None

    @command("[:SOURce]:FREQuency:MULTiplier")
    def _frequency_multiplier(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.freq_multiplier)
        self.freq_multiplier = parse_number(arg, minimum=-1000.0, maximum=1000.0)
        if self.freq_multiplier == 0:
            self.freq_multiplier = 1.0
            raise ScpiValueError(-222, "multiplier 0")
        return None

    @command("[:SOURce]:POWer:OFFSet")
    def _power_offset(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.power_offset)
        self.power_offset = parse_number(arg, "DBM", minimum=-200.0, maximum=200.0)
        return None

    @command("[:SOURce]:POWer:REFerence")
    def _power_reference(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.power_reference)
        self.power_reference = parse_number(arg, "DBM", minimum=-400.0, maximum=300.0)
        return None

    @command("[:SOURce]:POWer:ALC[:STATe]")
    def _alc(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.alc else "0"
        self.alc = parse_bool(arg)
        return None

    @command("[:SOURce]:POWer:PROTection[:STATe]")
    def _protection(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.protection else "0"
        self.protection = parse_bool(arg)
        return None

    @command("[:SOURce]:POWer:ATTenuation")
    def _attenuation(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.attenuation)
        self.attenuation = float(round(parse_number(arg, minimum=0.0, maximum=115.0) / 5) * 5)
        return None

    @command("[:SOURce]:PHASe[:ADJust]")
    def _phase(self, arg: str, query: bool) -> str | None:
        if query:
            return fmt(self.phase)
        self.phase = parse_number(arg, minimum=-3.14, maximum=3.14)
        return None

    @command("[:SOURce]:PHASe:REFerence", query=False)
    def _phase_reference(self, arg: str, query: bool) -> None:
        self.phase = 0.0

    # -- sweep, list and modulation settings: kept while the modes themselves are refused --------
    _freq_start = command("[:SOURce]:FREQuency:STARt")(
        kept_setting("FREQ:STAR", 250e3, unit="HZ", minimum=250e3, maximum=67e9))
    _freq_stop = command("[:SOURce]:FREQuency:STOP")(
        kept_setting("FREQ:STOP", 20e9, unit="HZ", minimum=250e3, maximum=67e9))
    _freq_reference = command("[:SOURce]:FREQuency:REFerence")(
        kept_setting("FREQ:REF", 0.0, unit="HZ", minimum=0.0, maximum=67e9))
    _power_start = command("[:SOURce]:POWer:STARt")(
        kept_setting("POW:STAR", -20.0, unit="DBM", minimum=-135.0, maximum=30.0))
    _power_stop = command("[:SOURce]:POWer:STOP")(
        kept_setting("POW:STOP", 0.0, unit="DBM", minimum=-135.0, maximum=30.0))
    _sweep_points = command("[:SOURce]:SWEep:POINts")(
        kept_setting("SWE:POIN", 101, minimum=2, maximum=65535, integer=True))
    _sweep_dwell = command("[:SOURce]:SWEep:DWELl<n>")(
        kept_setting("SWE:DWEL", 2e-3, unit="S", minimum=1e-3, maximum=60.0))
    _list_type = command("[:SOURce]:LIST:TYPE")(
        kept_setting("LIST:TYPE", "STEP", choices={"LIST": "LIST", "STEP": "STEP"}))
    _init_continuous = command(":INITiate:CONTinuous[:ALL]")(
        kept_setting("INIT:CONT", "0", choices={"ON": "1", "1": "1", "OFF": "0", "0": "0"}))
    _trigger_source = command(":TRIGger[:SEQuence]:SOURce")(
        kept_setting("TRIG:SOUR", "IMM", choices={w: w[:3] if w != "IMMEDIATE" else "IMM" for w in (
            "IMM", "IMMEDIATE", "BUS", "EXT", "EXTERNAL", "KEY", "TIM", "TIMER")}))
    _am_depth = command("[:SOURce]:AM[:DEPTh]")(
        kept_setting("AM:DEPT", 0.1, minimum=0.0, maximum=100.0))
    _am_source = command("[:SOURce]:AM:SOURce")(
        kept_setting("AM:SOUR", "INT", choices={"INT": "INT", "INTERNAL": "INT", "EXT": "EXT",
                                                "EXTERNAL": "EXT"}))
    _am_frequency = command("[:SOURce]:AM:INTernal:FREQuency")(
        kept_setting("AM:INT:FREQ", 400.0, unit="HZ", minimum=0.5, maximum=1e6))
    _am_shape = command("[:SOURce]:AM:INTernal:FUNCtion:SHAPe")(
        kept_setting("AM:INT:FUNC:SHAP", "SINE", choices={w: w[:4] if w.startswith(("SINE", "RAMP", "NOIS")) else w[:3]
                                                          for w in ("SINE", "TRI", "TRIANGLE", "SQU", "SQUARE",
                                                                    "RAMP", "NOIS", "NOISE")}))
    _fm_deviation = command("[:SOURce]:FM[:DEViation]")(
        kept_setting("FM:DEV", 1e3, unit="HZ", minimum=0.0, maximum=80e6))
    _pulse_source = command("[:SOURce]:PULM:SOURce")(
        kept_setting("PULM:SOUR", "INT", choices={"INT": "INT", "INTERNAL": "INT", "EXT": "EXT",
                                                  "EXTERNAL": "EXT"}))
    _pulse_internal = command("[:SOURce]:PULM:SOURce:INTernal")(
        kept_setting("PULM:SOUR:INT", "SQU", choices={"SQU": "SQU", "SQUARE": "SQU", "FRUN": "FRUN",
                                                      "FREERUN": "FRUN", "TRIG": "TRIG", "TRIGGERED": "TRIG",
                                                      "DOUB": "DOUB", "DOUBLET": "DOUB", "GATE": "GATE",
                                                      "GATED": "GATE"}))
    _pulse_frequency = command("[:SOURce]:PULM:INTernal:FREQuency")(
        kept_setting("PULM:INT:FREQ", 500.0, unit="HZ", minimum=0.1, maximum=10e6))
    _lfo_amplitude = command("[:SOURce]:LFOutput:AMPLitude")(
        kept_setting("LFO:AMPL", 0.0, unit="V", minimum=0.0, maximum=3.5))
    _lfo_source = command("[:SOURce]:LFOutput:SOURce")(
        kept_setting("LFO:SOUR", "INT", choices={"INT": "INT", "INTERNAL": "INT", "FUNC": "FUNC",
                                                 "FUNCTION1": "FUNC", "FUNCTION": "FUNC"}))

    @command("[:SOURce]:FREQuency:CENTer")
    def _freq_center(self, arg: str, query: bool) -> str | None:
        start, stop = self.kept.get("FREQ:STAR", 250e3), self.kept.get("FREQ:STOP", 20e9)
        if query:
            return fmt((start + stop) / 2)
        center, half = parse_number(arg, "HZ", minimum=250e3, maximum=67e9), (stop - start) / 2
        self.kept["FREQ:STAR"], self.kept["FREQ:STOP"] = center - half, center + half  # span kept
        return None

    @command("[:SOURce]:FREQuency:SPAN")
    def _freq_span(self, arg: str, query: bool) -> str | None:
        start, stop = self.kept.get("FREQ:STAR", 250e3), self.kept.get("FREQ:STOP", 20e9)
        if query:
            return fmt(stop - start)
        span, center = parse_number(arg, "HZ", minimum=0.0, maximum=67e9), (start + stop) / 2
        self.kept["FREQ:STAR"], self.kept["FREQ:STOP"] = center - span / 2, center + span / 2  # centre kept
        return None

    @command(":INITiate[:IMMediate][:ALL]", query=False)
    def _initiate(self, arg: str, query: bool) -> None:
        """Arms a sweep; in CW mode (the only one simulated) there is nothing to sweep."""

    @command(":DIAGnostic[:CPU]:INFOrmation:WLICence", query=True)
    def _diag_licences(self, arg: str, query: bool) -> str:
        return '""'  # no waveform licences installed

    @command("[:SOURce]:ROSCillator:SOURce", query=True)
    def _reference_source(self, arg: str, query: bool) -> str:
        return "INT"

    @command(":SYSTem:PRESet:TYPE")
    def _preset_type(self, arg: str, query: bool) -> str | None:
        if query:
            return "NORM"
        if arg.strip().upper() not in ("NORM", "NORMAL"):
            self._not_simulated("SYST:PRES:TYPE", arg)
        return None

    @command(":SYSTem:COMMunicate:LAN:IP", query=True)
    def _lan_ip(self, arg: str, query: bool) -> str:
        return '"127.0.0.1"'

    @command(":DIAGnostic[:CPU]:INFOrmation:CCOunt:ATTenuator", query=True)
    def _diag_attenuator_cycles(self, arg: str, query: bool) -> str:
        return "0"

    @command("[:SOURce]:FREQuency[:CW]")
    @command("[:SOURce]:FREQuency:FIXed")
    def _frequency(self, arg: str, query: bool) -> str | None:
        m, o = self.freq_multiplier, self.freq_offset
        if query:
            return fmt(self.frequency * m + o)
        lo, hi = sorted((250e3 * m + o, self.max_frequency * m + o))
        shown = parse_number(arg, "HZ", minimum=lo, maximum=hi)
        self.frequency = (shown - o) / m
        self._publish()
        return None

    @command("[:SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude]")
    def _power(self, arg: str, query: bool) -> str | None:
        o = self.power_offset
        if query:
            return fmt(self.power + o)
        self.power = parse_number(arg, "DBM", minimum=-135.0 + o, maximum=25.0 + o) - o
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
