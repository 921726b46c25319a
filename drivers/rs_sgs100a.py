"""Rohde & Schwarz SGS100A SGMA RF source and SMA100B RF and microwave signal generator.

Bytes from the R&S user manuals, chapter "Remote Control Commands" (SGS100A: "SOURce
Subsystem" ``[:SOURce<hw>]:FREQuency[:CW|FIXed]``, ``[:SOURce<hw>]:POWer[:LEVel][:IMMediate]
[:AMPLitude]``, ``[:SOURce<hw>]:PHASe``; "OUTPut Subsystem" ``:OUTPut<hw>[:STATe] ON|OFF``;
"SYSTem Subsystem" ``:SYSTem:ERRor[:NEXT]?`` -> ``<code>,"<text>"``, ``0,"No error"`` when
the queue is empty) and chapter "Remote Control Basics" (LAN: raw socket on port 5025, HiSLIP on
4880; commands and replies end with LF). The SMA100B manual uses the same commands.

Ranges per model and option (*verify against your unit's data sheet*): SGS100A 1 MHz to 6 GHz
(SGS-B106) or 12.75 GHz (SGS-B112), level -120 dBm to +25 dBm; SMA100B 8 kHz to 3, 6, 12.75,
20, 31.8 or 40 GHz (SMAB-B103 ... B140), level -145 dBm to +30 dBm. Phase offset -359.9 to
+359.9 degrees (*verify*).

Unverified (the R&S manuals' pages were not retrievable with the search tool): the frequency
and level ranges per option listed above, the phase range, and the ``:SYSTem:ERRor?`` texts
beyond the SCPI-standard ones (``0,"No error"``, ``-222,"Data out of range"``, ``-113,
"Undefined header"``).

In THz benches the source drives a multiplier chain; see :mod:`hilt.drivers.multiplier`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.drivers.scpi import ScpiInstrument
from hilt.errors import ConfigError
from hilt.parameters import Parameter, parse_bool
from hilt.validators import Bool, Numbers


class RohdeSchwarzSGS100A(ScpiInstrument):
    """SGS100A RF source: CW frequency, level, phase offset, RF output."""

    model = "rs_sgs100a"
    kinds: ClassVar[tuple[str, ...]] = ("signal_source",)
    simulator = "rs_sgs100a"
    transport_settings: ClassVar[dict[str, Any]] = {
        "read_termination": "\n", "write_termination": "\n", "timeout": 2.0,
    }
    #: frequency option -> (min Hz, max Hz)
    FREQUENCY_OPTIONS: ClassVar[dict[str, tuple[float, float]]] = {
        "B106": (1e6, 6e9), "B112": (1e6, 12.75e9),
    }
    DEFAULT_OPTION: ClassVar[str] = "B112"
    POWER_RANGE: ClassVar[tuple[float, float]] = (-120.0, 25.0)

    frequency = Parameter("SOUR:FREQ?", "SOUR:FREQ {value:.3f}", unit="Hz", vals=Numbers(1e6, 12.75e9),
                          doc="CW output frequency")
    power = Parameter("SOUR:POW?", "SOUR:POW {value:.2f}", unit="dBm", vals=Numbers(-120.0, 25.0),
                      doc="output level")
    phase = Parameter("SOUR:PHAS?", "SOUR:PHAS {value:.2f}", unit="deg", vals=Numbers(-359.9, 359.9),
                      doc="phase offset of the RF output")
    output = Parameter("OUTP:STAT?", "OUTP:STAT {value}", get_parser=parse_bool,
                       set_map={True: "ON", False: "OFF"}, vals=Bool(), doc="RF output on/off")

    def __init__(self, address: str, *, frequency_option: str | None = None, **kwargs: Any) -> None:
        option = frequency_option or self.DEFAULT_OPTION
        if option not in self.FREQUENCY_OPTIONS:
            raise ConfigError(f"frequency_option {option!r}: expected one of {sorted(self.FREQUENCY_OPTIONS)}")
        self.frequency_option = option
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        self.frequency.vals = Numbers(*self.FREQUENCY_OPTIONS[self.frequency_option])
        self.power.vals = Numbers(*self.POWER_RANGE)

    def safe_state(self) -> None:
        self.output.set(False)


class RohdeSchwarzSMA100B(RohdeSchwarzSGS100A):
    """SMA100B signal generator: same commands, wider frequency and level ranges."""

    model = "rs_sma100b"
    simulator = "rs_sma100b"
    FREQUENCY_OPTIONS: ClassVar[dict[str, tuple[float, float]]] = {
        "B103": (8e3, 3e9), "B106": (8e3, 6e9), "B112": (8e3, 12.75e9), "B120": (8e3, 20e9),
        "B131": (8e3, 31.8e9), "B140": (8e3, 40e9),
    }
    DEFAULT_OPTION: ClassVar[str] = "B120"
    POWER_RANGE: ClassVar[tuple[float, float]] = (-145.0, 30.0)
