"""Gentec-EO MAESTRO power and energy meter (pyroelectric THz heads), serial text mode.

Bytes from the *MAESTRO User's Manual* (revision 8.1), section 3.4 "Traditional Communication
Settings" / 3.4.1 "Serial Command format": text commands start with ``*``, a three-letter
mnemonic and fixed-width parameters with no spaces; no terminator is needed (none is sent here);
replies are text lines ending with CR LF. Serial 115200 baud 8N1. Commands used:

* ``*CVU`` query current value (W): ``Current Value : 0.00500095`` (manual's example);
* ``*VER`` firmware version; ``*PWC{nm:05}`` set the wavelength correction (nm, 5 digits);
  ``*GWL`` get it;
* ``*SCS{index:02}`` set range (index 0 .. 41), ``*GCR`` get it (``Range : 10``); ``*SAS{0|1}``
  autoscale, ``*GAS`` (``AutoScale : 1``);
* ``*SOU`` zero offset (with the beam blocked), ``*COU`` clear it, ``*GZO`` (``Zero : 0``).

Verified on the manual's pages (rev. 8.1 as hosted on manualsdir.com, p. 57 "3.4 Traditional
Communication Settings" and pp. 63-64, 70): ``*GCR`` -> ``Range : 10`` + CR LF ("index from 0
to 41", the table is under Set Range ``SCS``), ``*GAS`` -> ``AutoScale : 1``, ``*GZO`` ->
``Zero : 0``, ``*DVS`` lists ``[22] : 100.0 m`` lines; the command tables give **no Return** for
the setting commands ``SSU``, ``SSD``, ``SAS``, ``OFF`` (p. 57: control commands "do not yield
any data"), which is how this driver and the simulator treat every set. The ``SCS`` index table
itself (which index is which full scale) was not retrieved.

Unverified (reported): the exact ``*VER`` and ``*GWL`` reply text (this driver reads the value
after the last ``:`` or the last word, so ``PWC: 1064`` and ``1064`` both parse), whether setting
commands answer anything (treated here as silent, as the public drivers do), and the text of an
error reply (``Invalid Command`` / ``Invalid Parameter`` in the simulator). Because a setting is
silent, every set is verified by reading the setting back; a mismatch raises
:class:`~hilt.errors.InstrumentError`.

The wavelength field is five digits: at most 99 999 nm (100 um, 3 THz). THz heads below 3 THz
cannot be given their true wavelength; the head's own THz calibration then applies.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from hilt.drivers.replies import number
from hilt.errors import InstrumentError, ProtocolError
from hilt.instrument import Instrument
from hilt.parameters import Parameter
from hilt.validators import Bool, Ints

ERROR_REPLIES: dict[str, str] = {
    "Invalid Command": "the MAESTRO did not recognise the command",
    "Invalid Parameter": "parameter out of range for this head",
}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def reply_value(reply: str) -> str:
    """The value part of ``Label : value`` (or of a bare value)."""
    text = reply.strip()
    if ":" in text:
        text = text.rsplit(":", 1)[1].strip()
    return text


def parse_number(reply: str) -> float:
    """The value of ``Label : value``, or the last word of the reply, if it is exactly a finite
    number (``Range : 1O`` or ``1e999`` is a garbled reply, not 1 or infinity)."""
    text = reply_value(reply)
    words = text.split()
    candidate = text if _NUMBER.fullmatch(text) else (words[-1] if words else "")
    return number(candidate)


def parse_whole(reply: str) -> int:
    """A setting that is a whole number (range index, wavelength in nm): ``20.5`` is garbled."""
    value = parse_number(reply)
    if not value.is_integer():
        raise ValueError(f"not a whole number: {reply!r}")
    return int(value)


def parse_flag(reply: str) -> bool:
    """A 0/1 setting (autoscale, zero offset): anything else is garbled."""
    value = parse_whole(reply)
    if value not in (0, 1):
        raise ValueError(f"not 0 or 1: {reply!r}")
    return bool(value)


class GentecMaestro(Instrument):
    """MAESTRO monitor with one head: power reading, wavelength correction, range, zero."""

    model = "gentec_maestro"
    kinds: ClassVar[tuple[str, ...]] = ("power_meter",)
    simulator = "gentec_maestro"
    transport_settings: ClassVar[dict[str, Any]] = {
        "baudrate": 115200, "write_termination": "", "read_termination": "\r\n", "timeout": 2.0,
    }

    wavelength = Parameter("*GWL", lambda inst, v: inst._set_verified(f"*PWC{v:05d}", "wavelength", v),
                           unit="nm", vals=Ints(1, 99999), get_parser=parse_whole,
                           doc="wavelength correction (5-digit nm field)")
    scale_index = Parameter("*GCR", lambda inst, v: inst._set_verified(f"*SCS{v:02d}", "scale_index", v),
                            vals=Ints(0, 41), get_parser=parse_whole,
                            doc="range index (0 .. 41, see the manual's Set Range table)")
    autoscale = Parameter("*GAS", lambda inst, v: inst._set_verified(f"*SAS{int(v)}", "autoscale", v),
                          vals=Bool(), get_parser=parse_flag,
                          doc="autoscale on/off")
    zero_offset = Parameter("*GZO", None, get_parser=parse_flag,
                            doc="zero offset active")

    def check_reply(self, command: str, reply: str) -> str:
        text = reply.strip()
        for err, meaning in ERROR_REPLIES.items():
            if text.startswith(err):
                raise InstrumentError(err, meaning, instrument=self.name, command=command)
        return reply

    def _after_silent(self, command: str, pname: str) -> Any:
        """Send a silent setting command and read ``pname`` back. An error line in place of the
        readback is the setting's own complaint: the readback's reply still follows, read it so
        the next exchange stays in step."""
        with self.transaction():
            self.write(command)
            try:
                return self.parameters[pname].get()
            except InstrumentError as exc:
                self.transport.read()
                raise InstrumentError(exc.code, exc.meaning, instrument=self.name, command=command) from None

    def _set_verified(self, command: str, pname: str, value: Any) -> None:
        """Settings are silent: send, then read the setting back and compare."""
        got = self._after_silent(command, pname)
        if got != value:
            raise InstrumentError("not applied", f"{command!r} sent but the MAESTRO reports {got!r}",
                                  instrument=self.name, command=command)

    #: One head: the power-meter kind's port count.
    n_ports: ClassVar[int] = 1

    power = Parameter("*CVU", unit="W", get_parser=parse_number, snapshot=False,
                      doc="the head's present reading (W; J in energy mode)")
    powers = Parameter(lambda o: np.array([o.power.get()]), unit="W", snapshot=False,
                       doc="the reading as a one-port array, shape (n_ports,) = (1,): the power-meter kind's read")

    def read_all(self) -> np.ndarray:
        """The head's reading as a one-port array (W), one ``*CVU``: the power-meter kind's
        spelling of :attr:`powers`."""
        return self.powers.get()

    def zero(self) -> None:
        """``*SOU``: take the present reading as zero (block the beam first)."""
        if not self._after_silent("*SOU", "zero_offset"):
            raise InstrumentError("not applied", "zero offset not active after *SOU", instrument=self.name,
                                  command="*SOU")

    def clear_zero(self) -> None:
        self._after_silent("*COU", "zero_offset")

    def identify(self) -> dict[str, str]:
        reply = self.query("*VER")
        words = reply.split()
        if not words:
            raise ProtocolError("empty *VER reply", instrument=self.name, command="*VER", reply=reply)
        return {"vendor": "Gentec-EO", "model": words[0], "serial": "", "firmware": words[-1]}
