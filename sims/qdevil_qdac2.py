"""Simulated QDevil QDAC-II: 24 channels, +-10 V, SCPI on a raw socket (LAN port 5025).

Same bytes as the instrument (see :mod:`hilt.drivers.qdevil_qdac2`): ``sour<n>:volt <V>``,
``sour<n>:volt?`` in plain decimal, compound messages, the SCPI error queue (-222 "Data out of
range" for more than 10 V, -113 for an unknown header or a channel outside 1..24). Every change
publishes the 24 voltages as a numpy array under ``<name>.voltages``, which the MZI chip reads.
``read<n>?`` answers the channel's current (A) through its heater (``load_ohm``, 1 kOhm).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hilt.sims.scpi import ScpiInstrument, ScpiValueError, command, parse_number

N_CHANNELS = 24


class SimQDac2(ScpiInstrument):
    model = "qdevil_qdac2"
    description = "QDevil QDAC-II 24-channel +-10 V DAC (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025

    def __init__(self, *args: Any, serial: str = "00042", load_ohm: float = 1000.0, **kwargs: Any) -> None:
        self.idn = f"QDevil,QDAC-II,{serial},13-1.57"
        self.default_load = float(load_ohm)
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.v = np.zeros(N_CHANNELS)
        self.mode = ["FIX"] * N_CHANNELS
        self._publish()

    def _publish(self) -> None:
        self.world.set(f"{self.name}.voltages", self.v.copy())

    @staticmethod
    def _channel(suffix: str) -> int:
        if not suffix or not 1 <= int(suffix) <= N_CHANNELS:
            raise ScpiValueError(-113, f"channel {suffix or '(none)'}")
        return int(suffix) - 1

    @command("[:SOURce<n>]:VOLTage[:LEVel][:IMMediate][:AMPLitude]")
    def _voltage(self, arg: str, query: bool, n: str) -> str | None:
        k = self._channel(n)
        if query:
            return f"{self.v[k]:.9g}"
        self.v[k] = parse_number(arg, "V", minimum=-10.0, maximum=10.0)
        self._publish()
        return None

    @command("[:SOURce<n>]:VOLTage:MODE")
    def _mode(self, arg: str, query: bool, n: str) -> str | None:
        k = self._channel(n)
        if query:
            return self.mode[k]
        word = arg.strip().upper()
        modes = {"FIX": "FIX", "FIXED": "FIX", "SWE": "SWE", "SWEEP": "SWE", "LIST": "LIST"}
        if word not in modes:
            raise ScpiValueError(-224, arg)
        self.mode[k] = modes[word]
        return None

    @command("READ<n>", query=True)
    def _read_current(self, arg: str, query: bool, n: str) -> str:
        """An immediate current measurement (A): the voltage over the heater's load
        (``<name>.load_ohm`` in the world, else the ``load_ohm`` option)."""
        k = self._channel(n)
        load = np.broadcast_to(np.asarray(self.world.get(f"{self.name}.load_ohm", self.default_load), float),
                               (N_CHANNELS,))
        return f"{self.v[k] / load[k]:.9g}"

    def state(self) -> dict[str, Any]:
        return {"voltages": self.v.tolist()}
