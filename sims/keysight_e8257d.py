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
a command the simulator lacks. ``ROSC:SOUR?`` answers ``INT``; ``SYST:DATE?``/``SYST:TIME?`` follow
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
