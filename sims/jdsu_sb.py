"""Simulated JDS Uniphase SB series 1xN fibre switch (SB command set, RS-232).

Bytes as in :mod:`hilt.drivers.jdsu_sb` (SB Series Fiberoptic Switch User's Manual, SD000153
Rev. J, Programming Guide pp. 26-28): commands end with CR (a CR LF is taken as well), several
may share a message separated by ``;``, and only the last may be a query. ``CLOSE i`` closes
path ``i`` (1..N); ``RESET`` goes back to the power-up state, channel 0 (no output), relay
drivers off; ``XDR i k`` sets relay driver ``i`` (1..8) on (1) or off (0); ``LRN?`` answers
``CLOSE i;XDRS k;SRE l``; ``STB?`` the status register, three digits; ``SRE?`` the SRQ mask;
``XDRS k`` sets all eight relay drivers at once and ``SRE l`` the SRQ mask (0..255; the forms the
``LRN?`` reply is made of, so a client can send it back to restore the switch);
``XDRS?`` the relay drivers as a binary-coded integer (``STB?`` sets bit 0 "normal" and bit 5
on a queued error, as the manual's table for the SX set; not verified for the SB set); ``LERR?`` the last error number from a
queue of at most five, ``000`` when empty. Replies end with CR LF (not verified, see the driver).

Not from the manual (its error table was not retrievable): a command the switch cannot parse
queues error ``100``, a path beyond N or a bad argument ``101``. The channel at power-up is
the option ``channel`` (0 by default, as the manual says; a station may say where its switch
was left, 1 for a bench that lights the chip's first input).

The world: the route is published as ``<name>.channel`` (0: no output); a system that gets its
light through the switch (:class:`hilt.sims.mzi_chip.MZIChip` with ``switch: <name>``) reads it.
"""

from __future__ import annotations

import re
from typing import Any

from hilt.sims.base import Session, SimulatedInstrument

#: Error numbers this simulation queues (not from the manual; see the module documentation).
UNKNOWN_COMMAND = 100
BAD_ARGUMENT = 101

_CLOSE = re.compile(r"^CLOSE\s+(\d+)$")
_XDR = re.compile(r"^XDR\s+(\d+)\s+([01])$")
_XDRS = re.compile(r"^XDRS\s+(\d+)$")
_SRE = re.compile(r"^SRE\s+(\d+)$")


class SimJdsuSB(SimulatedInstrument):
    model = "jdsu_sb"
    description = "JDS Uniphase SB series 1xN fibre-optic switch, SB command set (RS-232, CR)"
    transport = "serial"
    input_terminators = (b"\r", b"\n")
    reply_terminator = "\r\n"

    def __init__(self, *args: Any, channels: int = 8, channel: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not 1 <= int(channels) <= 64:
            raise ValueError(f"channels must be 1..64, not {channels!r}")
        if not 0 <= int(channel) <= int(channels):
            raise ValueError(f"channel must be 0..{channels}, not {channel!r}")
        self.n_channels = int(channels)
        self.channel = int(channel)
        self.drivers = 0
        self.sre = 0
        self.errors: list[int] = []
        self.moves = 0
        self.publish("channel", self.channel)

    # -- commands --------------------------------------------------------------------------------
    def handle(self, line: str, session: Session) -> str | None:
        reply: str | None = None
        for part in (p.strip() for p in line.split(";")):
            if part:
                reply = self._one(part.upper())
        return reply

    def _one(self, command: str) -> str | None:
        m = _CLOSE.match(command)
        if m:
            channel = int(m.group(1))
            if not 1 <= channel <= self.n_channels:
                self._error(BAD_ARGUMENT)
                return None
            self.channel = channel
            self.moves += 1
            self.publish("channel", channel)
            return None
        m = _XDR.match(command)
        if m:
            driver, on = int(m.group(1)), m.group(2) == "1"
            if not 1 <= driver <= 8:
                self._error(BAD_ARGUMENT)
                return None
            self.drivers = self.drivers | (1 << (driver - 1)) if on else self.drivers & ~(1 << (driver - 1))
            return None
        m = _XDRS.match(command)
        if m:
            value = int(m.group(1))
            if value > 0xFF:
                self._error(BAD_ARGUMENT)
                return None
            self.drivers = value
            return None
        m = _SRE.match(command)
        if m:
            value = int(m.group(1))
            if value > 0xFF:
                self._error(BAD_ARGUMENT)
                return None
            self.sre = value
            return None
        if command == "RESET":
            self.channel, self.drivers = 0, 0
            self.publish("channel", 0)
            return None
        if command == "LRN?":
            return f"CLOSE {self.channel};XDRS {self.drivers};SRE {self.sre}"
        if command == "STB?":
            return f"{(32 if self.errors else 0) + 1:03d}"
        if command == "SRE?":
            return f"{self.sre:03d}"
        if command == "XDRS?":
            return str(self.drivers)
        if command == "LERR?":
            return f"{self.errors.pop() if self.errors else 0:03d}"
        self.unknown_command(command)
        self._error(UNKNOWN_COMMAND)
        return None

    def _error(self, number: int) -> None:
        self.errors = (self.errors + [number])[-5:]

    def inject_error(self, line: str, session: Session) -> str | None:
        self._error(BAD_ARGUMENT)
        return None

    def state(self) -> dict[str, Any]:
        return {"channel": self.channel, "channels": self.n_channels, "moves": self.moves}
