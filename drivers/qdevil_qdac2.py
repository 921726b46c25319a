"""QDevil (Quantum Machines) QDAC-II: 24 DC voltage channels, +-10 V, SCPI.

Bytes from the *QDAC-II User Manual* / *QDAC-II Command Reference* (chapter "SOURce subsystem":
``[SOURce]<n>:VOLTage[:LEVel][:IMMediate][:AMPLitude] <V>``, ``[SOURce]<n>:VOLTage?``,
``[SOURce]<n>:VOLTage:MODE FIXed|SWEep|LIST``; "SYSTem subsystem": ``SYSTem:ERRor[:NEXT]?``),
commands and replies ending in ``\\n``; LAN on raw socket port 5025, USB as a virtual serial
port at 921600 baud.

Unverified (the QDAC-II manual and command reference are linked from Quantum Machines' docs
page but their text was not retrievable with the search tool): the channel-list form for many
channels (``sour:volt <v>,(@1:24)`` is not used; compound messages are plain IEEE 488.2), the
reply number format of ``sour<n>:volt?`` (parsed as any float), port 5025 and 921600 baud.
The current readback ``read<n>?`` (an immediate current measurement, amperes) is what QCoDeS'
QDAC-II driver (``read_current_A``) sends; its page in the command reference was not retrieved.

The whole vector moves in one message: IEEE 488.2 compound messages, ``;``-separated program
units each rooted with ``:`` (``sour1:volt 0.1;:sour2:volt 0.2;...``), and one compound query
whose answers come back ``;``-separated on one line. That is one write (or one round trip) plus
one ``SYST:ERR?`` for 24 channels, whatever the manual's channel-list forms offer on top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hilt.drivers.replies import numbers
from hilt.drivers.scpi import ScpiInstrument
from hilt.errors import ConfigError, LimitError, ProtocolError
from hilt.instrument import InstrumentChannel
from hilt.parameters import Parameter
from hilt.validators import Numbers, is_real, real_vector

N_CHANNELS = 24


def _volts(value: float) -> str:
    """Plain decimal to 0.1 uV, finer than the 25-bit DAC's step over +-10 V."""
    text = f"{value:.7f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class QDac2Channel(InstrumentChannel):
    """One output (channels are numbered 1..24 as on the front panel)."""

    voltage = Parameter("sour{ch}:volt?", lambda ch, v: ch.write(f"sour{ch.number}:volt {_volts(v)}",
                                                                  check_errors=True),
                        unit="V", vals=Numbers(-10.0, 10.0), doc="DC output voltage")
    current = Parameter("read{ch}?", unit="A", snapshot=False,
                        doc="output current measured now (read<n>?; its command-reference page was not retrieved)")

    @property
    def number(self) -> int:
        return self.index + 1

    def format_context(self) -> dict[str, Any]:
        return {"ch": self.index + 1}


class QDevilQDac2(ScpiInstrument):
    """QDAC-II as a 24-channel heater / bias driver with vector set and get."""

    model = "qdevil_qdac2"
    kinds: ClassVar[tuple[str, ...]] = ("heater_driver",)
    simulator = "qdevil_qdac2"
    # The serial settings apply over USB and are dropped over LAN.
    transport_settings: ClassVar[dict[str, Any]] = {
        "baudrate": 921600, "read_termination": "\n", "write_termination": "\n", "timeout": 2.0,
    }
    error_query = "syst:err?"

    def __init__(self, address: str, *, ramp_step: float = 1.0, **kwargs: Any) -> None:
        if not is_real(ramp_step) or not math.isfinite(ramp_step) or ramp_step <= 0:
            raise ConfigError(f"ramp_step must be a positive number, not {ramp_step!r}")
        self.ramp_step = float(ramp_step)
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        self.channels = [QDac2Channel(self, i, name=f"ch{i + 1:02d}") for i in range(N_CHANNELS)]

    @property
    def n_channels(self) -> int:
        return N_CHANNELS

    def validate_voltages(self, values: Sequence[float] | np.ndarray) -> list[float]:
        """Every element checked (a finite number, not a bool or a string) against its channel's
        range and soft limits; sends nothing."""
        try:
            vector = real_vector(values, length=N_CHANNELS, what="voltages")
        except LimitError as exc:
            raise LimitError(str(exc), instrument=self.name, parameter="voltages") from None
        return [ch.voltage.validate(float(v)) for ch, v in zip(self.channels, vector, strict=True)]

    def set_voltages(self, values: Sequence[float] | np.ndarray) -> None:
        """Every channel in one compound message, then one error-queue check."""
        self._send_voltages(self.validate_voltages(values))

    def _send_voltages(self, values: list[float]) -> None:
        command = ";:".join(f"sour{k + 1}:volt {_volts(v)}" for k, v in enumerate(values))
        self.write(command, check_errors=True)
        for ch, v in zip(self.channels, values, strict=True):
            ch.voltage.cache = v

    def _compound(self, query: str, what: str) -> np.ndarray:
        """One compound query of ``query`` (with ``{n}``) for every channel: 24 numbers."""
        command = ";:".join(query.format(n=k + 1) for k in range(N_CHANNELS))
        reply = self.query(command)
        try:
            # Strict: "nan", "inf", "1e999" and "1_5" are refused (a ramp from them would send junk).
            values = np.array(numbers(reply, ";"))
            if values.shape != (N_CHANNELS,):
                raise ValueError
            return values
        except ValueError:
            raise ProtocolError(f"expected {N_CHANNELS} ';'-separated {what}", instrument=self.name,
                                command=command, reply=reply) from None

    voltages = Parameter(lambda o: o._compound("sour{n}:volt?", "voltages"), unit="V", snapshot=False,
                         doc="every channel's voltage, shape (24,), from one compound query (set them "
                             "with set_voltages)")
    currents = Parameter(lambda o: o._compound("read{n}?", "currents"), unit="A", snapshot=False,
                         doc="every channel's output current measured now, shape (24,), from one compound "
                             "query of read<n>?")

    def get_voltages(self) -> np.ndarray:
        """Every channel's voltage (V) from one compound query: the heater-driver kind's spelling
        of :attr:`voltages`."""
        return self.voltages.get()

    def get_currents(self) -> np.ndarray:
        """Every channel's output current (A), measured now, from one compound query of
        ``read<n>?``: the heater-driver kind's spelling of :attr:`currents`."""
        return self.currents.get()

    def safe_state(self) -> None:
        """All outputs ramped to 0 V together, at most ``ramp_step`` volts a step."""
        start = self.get_voltages()
        peak = float(np.max(np.abs(start)))
        if peak == 0.0:
            return
        steps = max(1, math.ceil(peak / self.ramp_step - 1e-9))
        for k in range(1, steps + 1):
            self._send_voltages([float(v) * (1 - k / steps) for v in start])
