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

Unverified: the exact text of the DIAG replies (layouts follow the command reference's
descriptions, contents are this simulator's), the option list of a default unit (``520,1EA,UNT``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.sims.scpi import ScpiInstrument, command, fmt, parse_bool, parse_number

MAX_FREQUENCY = {"520": 20e9, "532": 31.8e9, "540": 40e9, "550": 50e9, "567": 67e9}


class SimE8257D(ScpiInstrument):
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
        return str(1234 + int(self.world.clock.now() // 3600))

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

    @command(":SYSTem:PRESet", query=False)
    def _preset(self, arg: str, query: bool) -> None:
        self.reset()

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
