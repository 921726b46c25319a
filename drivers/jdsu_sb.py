"""JDS Uniphase SB series fibre-optic switch (1xN, single common port) over RS-232.

Bytes from the *SB Series Fiberoptic Switch User's Manual* (JDS Uniphase, SD000153 Rev. J,
May 2000), "Programming Guide", pages 26 and 28 (the SB command set):

* a command ends with a single CR on RS-232 (CR LF on GPIB); several commands may share one
  message, separated by ``;``;
* ``CLOSE i``: "Set Optical Channel", closes the optical path ``i`` (the common port to output
  ``i``); ``RESET``: back to the power-up state, channel 0 (no output), relay drivers off;
* ``LRN?``: "Learn", a string of the commands that would restore the present state, e.g.
  ``CLOSE i;XDRS k;SRE l`` (``i`` the present path); ``STB?``: the status register as a
  three-digit integer; ``LERR?``: "Last Number Error", a three-digit number from the error queue
  (the last error first, at most five), ``000`` when it is empty.

Pages 34-35 describe the SC and SX command sets a unit can be switched to from its front panel;
this driver speaks the SB set, the factory setting.

What was not verified (the manual's pages 27 and 29-33 were not retrievable): the serial
settings (9600 baud, 8N1 assumed), the terminator of a reply (CR LF assumed, as on GPIB),
whether the unit answers an identification query (this driver asks none: :meth:`identify` reads
``LRN?`` and names the model from the driver), the meaning of each ``LERR?`` number (reported as
a number), and whether ``CLOSE 0`` is accepted (the driver parks the switch with ``RESET``
instead). The channel count is the unit's configuration (its model number, SB-C 1xN): give it
as ``channels``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from hilt.errors import ConfigError, InstrumentError, ProtocolError
from hilt.instrument import Instrument
from hilt.parameters import Parameter
from hilt.validators import Ints

#: ``LRN?``: the commands that would restore the present state (manual, "LRN?").
_LEARN = re.compile(r"^\s*CLOSE\s+(\d+)\s*;\s*XDRS\s+(\d+)\s*;\s*SRE\s+(\d+)\s*$", re.IGNORECASE)


def _channel_of(reply: str) -> int:
    m = _LEARN.match(reply)
    if m is None:
        raise ValueError(reply)
    return int(m.group(1))


class JdsuSB(Instrument):
    """A JDS Uniphase SB 1xN fibre switch: the common port to output ``channel`` (1..N).

    Kind ``optical_switch``: ``n_channels``, ``channel`` (parameter), ``safe_state()``.
    """

    model = "jdsu_sb"
    simulator = "jdsu_sb"
    kinds: ClassVar[tuple[str, ...]] = ("optical_switch",)
    transport_settings: ClassVar[dict[str, Any]] = {
        "baudrate": 9600, "write_termination": "\r", "read_termination": "\r\n", "timeout": 2.0,
    }
    check_errors_after_set = True
    # Two queries with known, different answers: the learn string and the status number.
    fence: ClassVar[tuple[tuple[str, str], ...] | None] = (
        ("LRN?", r"^\s*CLOSE\s+\d+\s*;.*SRE\s+\d+\s*$"), ("STB?", r"^\s*\d{3}\s*$"))

    channel = Parameter("LRN?", "CLOSE {value:d}", get_parser=_channel_of, vals=Ints(1, 8),
                        doc="output the common port is connected to (0 reads back after RESET: no output)")

    def __init__(self, address: str | None = None, *, channels: int = 8, **kwargs: Any) -> None:
        if isinstance(channels, bool) or not isinstance(channels, int) or not 2 <= channels <= 64:
            raise ConfigError(f"channels must be the switch's output count, 2..64, not {channels!r}")
        self.n_channels = int(channels)
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        self.channel.vals = Ints(1, self.n_channels)

    def park(self) -> None:
        """``RESET``: the power-up state, no output connected (channel 0), relay drivers off."""
        self.write("RESET", check_errors=True)
        self.channel.cache = 0

    def check_errors(self, command: str | None = None) -> None:
        """``LERR?``: ``000`` or the number of the last error (its meaning is in the manual's
        error table, which hilt does not carry)."""
        reply = self.query("LERR?").strip()
        if not re.fullmatch(r"\d{3}", reply):
            raise ProtocolError("LERR? answers a three-digit number", instrument=self.name, command="LERR?",
                                reply=reply)
        if reply != "000":
            raise InstrumentError(int(reply), "error number reported by the switch (SB manual, error table)",
                                  instrument=self.name, command=command)

    def identify(self) -> dict[str, str]:
        """The SB set has no identification query that could be verified: the vendor and model
        are the driver's; ``LRN?`` proves the link and gives the route."""
        state = self.query("LRN?").strip()
        try:
            _channel_of(state)
        except ValueError:
            raise ProtocolError("not an LRN? reply", instrument=self.name, command="LRN?", reply=state) from None
        return {"vendor": "JDS Uniphase", "model": f"SB 1x{self.n_channels}", "serial": "", "firmware": "",
                "state": state}

    def safe_state(self) -> None:
        """Nothing to do: a switch emits no light and holds no energy; the route stays where it is
        (the laser's safe state is what turns the light off)."""
