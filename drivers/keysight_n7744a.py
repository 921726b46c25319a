"""Keysight N7744A / N7745A (and N7744C / N7745C) multiport optical power meter (4 / 8 ports).

Bytes from the *Keysight N774xC Series Multiport Power Meter Programming Guide* (N7744C/N7745C),
chapter 4 "Measurement Operations & Settings", checked against its pages on the manual-hosting
sites (easymanua.ls / manualshive, guide pages 69 and 88), and the *8163A/B, 8164A/B & 8166A/B
Mainframes Programming Guide* (same command family, whose ``[:CHANnel[m]]`` node is optional):

* p. 88 ``:SENSe[n]:POWer:UNIT?`` answers an integer, ``+1`` for W and ``0`` for dBm (the example
  shows ``+1``); ``:SENSe[n]:POWer:WAVelength <value>[PM|NM|UM|MM|M]`` (query answers metres).
  The N774xC guide spells these **without** a ``:CHANnel`` node, so the driver sends
  ``:SENS<n>:POW:...`` (accepted by the A and C models alike: on the A models the channel node
  is optional and defaults to 1).
* p. 69 ``:READ[n]:POWer?`` reads one port, a float, e.g. ``+1.33555600E-006`` (verified
  example); ``:READ[n]:POWer:ALL:CONFig?`` answers a *binary block* of slot/channel pairs (not
  used here).
* p. 13/14 "Units", "Data Types": unit mnemonics (NM, S, DBM, W) and Float = 32-bit IEEE.

Per port ``n`` (1..4 or 1..8): ``:SENS<n>:POW:WAV <nm>NM``, ``:SENS<n>:POW:ATIM <s>``,
``:SENS<n>:POW:UNIT W``, ``:SENS<n>:POW:RANG <dBm>`` / ``:RANG:AUTO 0|1``, ``:READ<n>:POW?``.
All ports at once: ``:READ:POW:ALL:CSV?`` / ``:FETC:POW:ALL:CSV?`` (one NR3 value per port,
comma-separated, port order). Errors: ``:SYSTem:ERRor?``.

Unverified: the ``:FETCh/READ:POWer:ALL:CSV?`` page itself was not retrieved from the guide (its
neighbour ``:READ:POWer:ALL:CONFig?`` and the ``:SENSe:POWer:UNIT:ALL:CSV?`` form were); other
projects driving an N7744 send ``:FETCH:POW:ALL:CSV?`` and split the reply on commas, which
matches what is implemented. ``:SENS<n>:POW:ATIM`` and ``:RANG`` were seen in the 8163/8164
guide (``[:CHANnel[m]]`` optional) but not on an N774xC page; the ATIM limits (1 us .. 10 s) and
the LAN socket port 5025 are unverified.

Every port is put in W on connect, so readings are watts.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from hilt.drivers.replies import number, numbers
from hilt.drivers.scpi import ScpiInstrument
from hilt.errors import ConfigError, ProtocolError
from hilt.instrument import InstrumentChannel
from hilt.parameters import Parameter, parse_bool
from hilt.validators import Bool, Numbers

VARIANTS = {"N7744A": 4, "N7745A": 8, "N7744C": 4, "N7745C": 8}


class PowerMeterPort(InstrumentChannel):
    """One detector port (numbered from 1 as on the front panel)."""

    wavelength = Parameter(":SENS{ch}:POW:WAV?",
                           lambda p, v: p.write(f":SENS{p.number}:POW:WAV {v * 1e9:.3f}NM",
                                                check_errors=True),
                           unit="m", get_parser=number, vals=Numbers(1250e-9, 1650e-9),
                           doc="wavelength the responsivity is calibrated for")
    averaging_time = Parameter(":SENS{ch}:POW:ATIM?", ":SENS{ch}:POW:ATIM {value:.6g}", unit="s", get_parser=number,
                               vals=Numbers(1e-6, 10.0), doc="averaging time of one reading")
    range = Parameter(":SENS{ch}:POW:RANG?", ":SENS{ch}:POW:RANG {value:.6g}", unit="dBm", get_parser=number,
                      vals=Numbers(-30.0, 10.0), doc="upper end of the measurement range")
    auto_range = Parameter(":SENS{ch}:POW:RANG:AUTO?", ":SENS{ch}:POW:RANG:AUTO {value}",
                           get_parser=parse_bool, set_map={True: "1", False: "0"}, vals=Bool(),
                           doc="automatic ranging")
    power = Parameter(":READ{ch}:POW?", unit="W", get_parser=number, snapshot=False, doc="one fresh reading")

    @property
    def number(self) -> int:
        return self.index + 1

    def format_context(self) -> dict[str, Any]:
        return {"ch": self.index + 1}


class KeysightN7744A(ScpiInstrument):
    """Multiport power meter; :attr:`powers` (or :meth:`read_all`) reads every port in one query;
    each port (``channels``, ``port1`` ..) has its own parameters.

    ``variant``: ``N7744A`` (4 ports, default) or ``N7745A`` (8 ports).
    """

    model = "keysight_n7744a"
    kinds: ClassVar[tuple[str, ...]] = ("power_meter",)
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
        self.write(";".join(f":SENS{n}:POW:UNIT W" for n in range(1, self.n_ports + 1)),
                   check_errors=True)

    powers = Parameter(lambda o: o._all(":READ:POW:ALL:CSV?"), unit="W", snapshot=False,
                       doc="a fresh reading of every port, shape (n_ports,), one :READ:POW:ALL:CSV?")
    fetched_powers = Parameter(lambda o: o._all(":FETC:POW:ALL:CSV?"), unit="W", snapshot=False,
                               doc="the latest reading of every port without triggering, shape (n_ports,), "
                                   "one :FETC:POW:ALL:CSV?")

    def read_all(self) -> np.ndarray:
        """A fresh reading of every port (W), one query: the power-meter kind's spelling of
        :attr:`powers`."""
        return self.powers.get()

    def fetch_all(self) -> np.ndarray:
        """The latest reading of every port (W) without triggering, one query (:attr:`fetched_powers`)."""
        return self.fetched_powers.get()

    def _all(self, command: str) -> np.ndarray:
        reply = self.query(command)
        try:
            values = np.array(numbers(reply))
        except ValueError:
            raise ProtocolError("expected comma-separated readings", instrument=self.name, command=command,
                                reply=reply) from None
        if values.shape != (self.n_ports,):
            raise ProtocolError(f"expected {self.n_ports} readings", instrument=self.name, command=command,
                                reply=reply)
        return values
