"""Keysight (Agilent) E8257D PSG analog signal generator.

Bytes from the *Keysight E8257D/67D, E8663D PSG Signal Generators SCPI Command Reference*
(chapters "Basic Function Commands": ``[:SOURce]:FREQuency[:CW]``, ``[:SOURce]:POWer[:LEVel]
[:IMMediate][:AMPLitude]``, ``:OUTPut[:STATe]``; "System Commands": ``:SYSTem:ERRor[:NEXT]?``)
and the PSG *Programming Guide* (LAN: raw socket on port 5025, commands and replies end with
``\\n``). Frequency range depends on the frequency option (520: 250 kHz to 20 GHz ... 567: to
67 GHz); the power range on the attenuator option (1E1 takes it down to -135 dBm).

In THz benches the PSG drives a multiplier chain; see :mod:`hilt.drivers.multiplier`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.drivers.scpi import ScpiInstrument
from hilt.errors import ConfigError
from hilt.parameters import Parameter, parse_bool
from hilt.validators import Bool, Numbers

FREQUENCY_OPTIONS = {"520": 20e9, "532": 31.8e9, "540": 40e9, "550": 50e9, "567": 67e9}


class KeysightE8257D(ScpiInstrument):
    """PSG analog signal generator: CW frequency, power, RF output."""

    model = "keysight_e8257d"
    kinds: ClassVar[tuple[str, ...]] = ("signal_source",)
    simulator = "keysight_e8257d"
    transport_settings: ClassVar[dict[str, Any]] = {
        "read_termination": "\n", "write_termination": "\n", "timeout": 2.0,
    }

    frequency = Parameter(":FREQ:CW?", ":FREQ:CW {value:.3f}", unit="Hz", vals=Numbers(250e3, 67e9),
                          doc="CW output frequency")
    power = Parameter(":POW:AMPL?", ":POW:AMPL {value:.2f}", unit="dBm", vals=Numbers(-135.0, 25.0),
                      doc="output power (the maximum reachable depends on frequency and options)")
    output = Parameter(":OUTP?", ":OUTP {value}", get_parser=parse_bool, set_map={True: "1", False: "0"},
                       vals=Bool(), doc="RF output on/off")
    modulation = Parameter(":OUTP:MOD?", ":OUTP:MOD {value}", get_parser=parse_bool,
                           set_map={True: "1", False: "0"}, vals=Bool(), doc="modulation on/off")

    def __init__(self, address: str, *, frequency_option: str = "520", **kwargs: Any) -> None:
        if frequency_option not in FREQUENCY_OPTIONS:
            raise ConfigError(f"frequency_option {frequency_option!r}: expected one of {sorted(FREQUENCY_OPTIONS)}")
        self.frequency_option = frequency_option
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        self.frequency.vals = Numbers(250e3, FREQUENCY_OPTIONS[self.frequency_option])

    def safe_state(self) -> None:
        self.output.set(False)
