"""Simulated Keysight N7744A / N7745A multiport optical power meter (SCPI, socket 5025).

Same bytes as the instrument (see :mod:`hilt.drivers.keysight_n7744a`): NR3 readings in the
port's unit (W or dBm), ``:READ:POW:ALL:CSV?`` / ``:FETC:POW:ALL:CSV?`` answering every port on
one line, the SCPI error queue (-113 unknown header or a port that does not exist, -222 out of
range).

What the ports see: with ``system="chip"`` (the name of an ``mzi_chip`` world system) each reading
asks the chip for the powers at its outputs (``chip.meter_powers(name, ports)``: the chip's
detector gain, dark level and noise included); without a system, ``<name>.port_powers`` from the
world (an array of watts), or darkness.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hilt.sims.scpi import ScpiInstrument, ScpiValueError, command, fmt, parse_bool, parse_number

VARIANTS = {"N7744A": 4, "N7745A": 8, "N7744C": 4, "N7745C": 8}


class SimN7744A(ScpiInstrument):
    model = "keysight_n7744a"
    description = "Keysight N7744A/N7745A multiport optical power meter (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025

    def __init__(self, *args: Any, variant: str = "N7744A", system: str | None = None,
                 serial: str = "MY00000001", **kwargs: Any) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant {variant!r}: expected one of {sorted(VARIANTS)}")
        self.variant = variant
        self.ports = VARIANTS[variant]
        self.system_name = system
        self.idn = f"Keysight Technologies,{variant},{serial},V1.1.0"
        super().__init__(*args, **kwargs)
        if system is not None:
            chip = self.world.system(system)
            if chip is not None and hasattr(chip, "register_meter"):
                chip.register_meter(self.name, self.ports)

    def reset(self) -> None:
        self.wavelength = [1550e-9] * self.ports
        self.atime = [1e-4] * self.ports
        self.unit_w = [False] * self.ports
        self.range_dbm = [0.0] * self.ports
        self.auto = [True] * self.ports
        self.last = np.zeros(self.ports)

    # -- what arrives -----------------------------------------------------------------------
    def measure(self) -> np.ndarray:
        """One reading of every port, in watts."""
        chip = self.world.system(self.system_name) if self.system_name else None
        if chip is not None:
            powers = np.asarray(chip.meter_powers(self.name, self.ports), dtype=float)
        else:
            given = self.world.get(f"{self.name}.port_powers")
            powers = np.zeros(self.ports) if given is None else np.asarray(given, dtype=float)[: self.ports]
            powers = np.pad(powers, (0, self.ports - powers.size))
        self.last = powers
        self.world.set(f"{self.name}.readings", powers.copy())
        return powers

    def _show(self, k: int, watts: float) -> str:
        if self.unit_w[k]:
            return fmt(watts)
        return fmt(10 * math.log10(watts / 1e-3) if watts > 0 else -200.0)

    def _port(self, n: str) -> int:
        k = int(n) - 1 if n else 0
        if not 0 <= k < self.ports:
            raise ScpiValueError(-113, f"no port {n}")
        return k

    @staticmethod
    def _channel(m: str | None) -> None:
        if m not in (None, "", "1"):
            raise ScpiValueError(-113, f"no channel {m}")

    # -- commands ---------------------------------------------------------------------------
    @command(":SENSe<n>[:CHANnel<n>]:POWer:WAVelength")
    def _wavelength(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return fmt(self.wavelength[k])
        self.wavelength[k] = parse_number(arg, "M", minimum=1250e-9, maximum=1650e-9)
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:ATIMe")
    def _atime(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return fmt(self.atime[k])
        self.atime[k] = parse_number(arg, "S", minimum=1e-6, maximum=10.0)
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:UNIT")
    def _unit(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return "+1" if self.unit_w[k] else "+0"
        word = arg.strip().upper()
        if word not in ("0", "1", "DBM", "W", "WATT"):
            raise ScpiValueError(-224, arg)
        self.unit_w[k] = word in ("1", "W", "WATT")
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:RANGe[:UPPer]")
    def _range(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return fmt(self.range_dbm[k])
        self.range_dbm[k] = parse_number(arg, "DBM", minimum=-30.0, maximum=10.0)
        self.auto[k] = False
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:RANGe:AUTO")
    def _auto(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return "1" if self.auto[k] else "0"
        self.auto[k] = parse_bool(arg)
        return None

    @command(":READ<n>[:CHANnel<n>]:POWer", query=True)
    @command(":FETCh<n>[:CHANnel<n>]:POWer", query=True)
    def _one(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        return self._show(k, float(self.measure()[k]))

    @command(":READ[<n>]:POWer:ALL:CSV", query=True)
    @command(":FETCh[<n>]:POWer:ALL:CSV", query=True)
    def _all(self, arg: str, query: bool, n: str) -> str | None:
        powers = self.measure()
        return ",".join(self._show(k, float(p)) for k, p in enumerate(powers))

    def state(self) -> dict[str, Any]:
        return {"variant": self.variant, "last": self.last.tolist()}
