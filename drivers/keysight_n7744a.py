"""Keysight N7744A / N7745A multiport optical power meter (4 / 8 ports).

Bytes from the *Keysight N77xx Series Programming Guide* (N774x multiport power meters), chapter
"Measurement Operations & Settings": per port ``n`` (the slot number, 1..4 or 1..8, each with one
channel) ``:SENSe<n>[:CHANnel1]:POWer:WAVelength <value>[NM|M]`` (query answers metres),
``:SENSe<n>[:CHANnel1]:POWer:ATIMe <s>`` (averaging time), ``:SENSe<n>[:CHANnel1]:POWer:UNIT
DBM|W`` (query ``+0``/``+1``), ``:SENSe<n>[:CHANnel1]:POWer:RANGe[:UPPer] <dBm>`` and
``:RANGe:AUTO 0|1``, ``:FETCh<n>[:CHANnel1]:POWer?`` / ``:READ<n>[:CHANnel1]:POWer?`` (one
reading, NR3, e.g. ``+1.33555600E-006``), and the all-ports readings
``:FETCh:POWer:ALL:CSV?`` / ``:READ:POWer:ALL:CSV?`` (one NR3 value per port, comma-separated,
in port order; ``:READ`` triggers a fresh measurement itself) next to
``:READ:POWer:ALL:CONFig?`` (which slot each value belongs to). Errors: ``:SYSTem:ERRor?``.
LAN on a raw socket (port 5025), ``\\n`` terminated.

Every port is put in W on connect, so readings are watts.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from hilt.drivers.scpi import ScpiInstrument
from hilt.errors import ConfigError, ProtocolError
from hilt.instrument import InstrumentChannel
from hilt.parameters import Parameter, parse_bool
from hilt.validators import Bool, Numbers

VARIANTS = {"N7744A": 4, "N7745A": 8, "N7744C": 4, "N7745C": 8}


class PowerMeterPort(InstrumentChannel):
    """One detector port (numbered from 1 as on the front panel)."""

    wavelength = Parameter(":SENS{ch}:CHAN1:POW:WAV?",
                           lambda p, v: p.write(f":SENS{p.number}:CHAN1:POW:WAV {v * 1e9:.3f}NM",
                                                check_errors=True),
                           unit="m", vals=Numbers(1250e-9, 1650e-9),
                           doc="wavelength the responsivity is calibrated for")
    averaging_time = Parameter(":SENS{ch}:CHAN1:POW:ATIM?", ":SENS{ch}:CHAN1:POW:ATIM {value:.6g}", unit="s",
                               vals=Numbers(1e-6, 10.0), doc="averaging time of one reading")
    range = Parameter(":SENS{ch}:CHAN1:POW:RANG?", ":SENS{ch}:CHAN1:POW:RANG {value:.6g}", unit="dBm",
                      vals=Numbers(-30.0, 10.0), doc="upper end of the measurement range")
    auto_range = Parameter(":SENS{ch}:CHAN1:POW:RANG:AUTO?", ":SENS{ch}:CHAN1:POW:RANG:AUTO {value}",
                           get_parser=parse_bool, set_map={True: "1", False: "0"}, vals=Bool(),
                           doc="automatic ranging")
    power = Parameter(":READ{ch}:CHAN1:POW?", unit="W", snapshot=False, doc="one fresh reading")

    @property
    def number(self) -> int:
        return self.index + 1

    def format_context(self) -> dict[str, Any]:
        return {"ch": self.index + 1}


class KeysightN7744A(ScpiInstrument):
    """Multiport power meter; :meth:`read_all` reads every port in one query.

    ``variant``: ``N7744A`` (4 ports, default) or ``N7745A`` (8 ports).
    """

    model = "keysight_n7744a"
    simulator = "keysight_n7744a"
    transport_settings: ClassVar[dict[str, Any]] = {
        "read_termination": "\n", "write_termination": "\n", "timeout": 5.0,
    }

    def __init__(self, address: str, *, variant: str = "N7744A", **kwargs: Any) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"variant {variant!r}: expected one of {sorted(VARIANTS)}")
        self.variant = variant
        super().__init__(address, **kwargs)

    @property
    def n_ports(self) -> int:
        return VARIANTS[self.variant]

    def configure(self) -> None:
        self.channels = [PowerMeterPort(self, i, name=f"port{i + 1}") for i in range(self.n_ports)]

    def on_connect(self) -> None:
        # One message for every port: readings in watts, whatever the front panel last chose.
        self.write(";".join(f":SENS{n}:CHAN1:POW:UNIT W" for n in range(1, self.n_ports + 1)),
                   check_errors=True)

    def read_all(self) -> np.ndarray:
        """A fresh reading of every port (W), one query."""
        return self._all(":READ:POW:ALL:CSV?")

    def fetch_all(self) -> np.ndarray:
        """The latest reading of every port (W) without triggering, one query."""
        return self._all(":FETC:POW:ALL:CSV?")

    def _all(self, command: str) -> np.ndarray:
        reply = self.query(command)
        try:
            values = np.array([float(x) for x in reply.split(",")])
        except ValueError:
            raise ProtocolError("expected comma-separated readings", instrument=self.name, command=command,
                                reply=reply) from None
        if values.shape != (self.n_ports,):
            raise ProtocolError(f"expected {self.n_ports} readings", instrument=self.name, command=command,
                                reply=reply)
        return values
