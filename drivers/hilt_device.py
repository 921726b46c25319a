"""The host side of hilt's SLM and camera protocol (docs/protocols/slm-camera.md, our own protocol
document): frames, HELLO with the token, INFO, SAFE and error replies, shared by
:mod:`hilt.drivers.hilt_slm` and :mod:`hilt.drivers.hilt_camera`.

Every request is one hilt frame (:mod:`hilt.framing`) and gets one reply carrying its sequence
number; a late reply to an earlier request is dropped by that number. A reply that is not a
valid frame, has the wrong type or a payload the document does not allow is a
:class:`DeviceReplyError` (a :class:`~hilt.errors.ProtocolError`), an error frame an
:class:`~hilt.errors.InstrumentError` with the device's code, no reply an
:class:`~hilt.errors.InstrumentTimeout`. Requests that only read are sent again after a
timeout, a bad frame or a dropped link; settings never are.

What was not verified: there is no hardware speaking this protocol yet; it is tested against
hilt's simulators and hand-written byte literals from the document.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any, ClassVar

from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.framing import (
    CRC_SIZE,
    ERROR_TYPE,
    HEADER_SIZE,
    Frame,
    FrameError,
    check_frame,
    parse_error,
    parse_header,
)
from hilt.instrument import Instrument

INFO, HELLO, SAFE = 0x01, 0x02, 0x40
#: Error codes of the document's table.
ERROR_CODES = {1: "bad frame", 2: "unknown message type", 3: "payload does not match the message type",
               4: "value out of range", 5: "busy", 6: "execution error", 7: "token required or wrong"}

log = logging.getLogger("hilt.drivers.hilt_device")


class DeviceReplyError(ProtocolError):
    """A reply from an SLM or camera that the protocol document does not allow: garbled, of the
    wrong type, of the wrong length, or missing fields."""


class HiltDevice(Instrument):
    """Base of the SLM and camera drivers: one request, one reply, in order (TCP).

    ``token``: the server's token, sent in HELLO on every (re)connection before anything else
    (required by a server listening on anything but loopback; None sends no HELLO).
    """

    transport_settings: ClassVar[dict[str, Any]] = {"timeout": 10.0}
    #: The INFO reply's ``device`` this driver speaks to.
    device: ClassVar[str] = ""
    #: Request types that only read (sent again after a timeout or a dropped link).
    IDEMPOTENT: ClassVar[frozenset[int]] = frozenset({INFO})
    MAX_STALE_FRAMES: ClassVar[int] = 16

    def __init__(self, address: str | None = None, *, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        if token is not None and not isinstance(token, str):
            raise TypeError(f"token must be a string, not {type(token).__name__}")
        self.token = token
        self._seq = itertools.count(1)
        self.info: dict[str, Any] = {}

    # -- frames ----------------------------------------------------------------------------------
    def exchange(self, ftype: int, payload: bytes = b"", name: str = "") -> bytes:
        """Send one request and return its reply's payload (errors raised, late replies dropped)."""
        what = name or f"type {ftype:#04x}"
        limit = self.info.get("max_payload")
        if type(limit) is int and len(payload) > limit:
            raise LimitError(f"{what} of {len(payload)} bytes, above the device's max_payload of {limit}",
                             instrument=self.name, parameter=what)
        return self.retrying(lambda: self._exchange_once(ftype, payload, what), what,
                             retries=self.query_retries if ftype in self.IDEMPOTENT else 0)

    def _exchange_once(self, ftype: int, payload: bytes, what: str) -> bytes:
        seq = next(self._seq) & 0xFFFF
        with self.transport.transaction() as t:
            t.write_raw(Frame(ftype, seq, payload).encode())
            for _ in range(self.MAX_STALE_FRAMES + 1):
                frame = self._read_frame(t, what)
                if frame.seq == seq:
                    break
                log.warning("%s: dropped a late reply to request %d (waiting for %d)", self.name, frame.seq, seq)
            else:
                t.mark_broken()
                raise DeviceReplyError(f"no reply to request {seq} among {self.MAX_STALE_FRAMES} late ones",
                                       instrument=self.name, command=what)
        if frame.type == ERROR_TYPE:
            try:
                code, message = parse_error(frame.payload)
            except FrameError as exc:
                raise DeviceReplyError(str(exc), instrument=self.name, command=what, reply=frame.payload) from None
            raise InstrumentError(code, message or ERROR_CODES.get(code, "error"), instrument=self.name, command=what)
        if frame.type != ftype | 0x80:
            raise DeviceReplyError(f"reply type {frame.type:#04x} to request {ftype:#04x}", instrument=self.name,
                                   command=what)
        return frame.payload

    def _read_frame(self, t: Any, what: str) -> Frame:
        head = t.read_bytes(HEADER_SIZE)
        try:
            _, _, length = parse_header(head)
            rest = t.read_bytes(length + CRC_SIZE)
            return check_frame(head, rest[:length], rest[length:])
        except FrameError as exc:
            t.mark_stale()  # resynchronise: whatever follows is suspect
            raise DeviceReplyError(str(exc), instrument=self.name, command=what, reply=head) from None

    def malformed(self, what: str, why: str, reply: bytes | None = None) -> DeviceReplyError:
        return DeviceReplyError(f"{what} reply not understood: {why}", instrument=self.name, command=what,
                                reply=None if reply is None else reply[:64])

    # -- life cycle ------------------------------------------------------------------------------
    def on_connect(self) -> None:
        if self.token is not None:
            self.exchange(HELLO, self.token.encode(), "HELLO")
        info = self._read_info()
        if info.get("device") != self.device:
            raise self.malformed("INFO", f"device {info.get('device')!r}, this driver speaks to a {self.device!r}")
        if "max_payload" in info:
            self.info_int(info, "max_payload", 16, 256 * 1024 * 1024)
        self.apply_info(info)
        self.info = info

    def apply_info(self, info: dict[str, Any]) -> None:
        """Take the device's description (checked; DeviceReplyError for a value not allowed)."""

    def _read_info(self) -> dict[str, Any]:
        payload = self.exchange(INFO, b"", "INFO")
        try:
            info = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise self.malformed("INFO", str(exc), payload) from None
        if not isinstance(info, dict):
            raise self.malformed("INFO", "not a JSON object", payload)
        return info

    def info_int(self, info: dict[str, Any], key: str, lo: int, hi: int) -> int:
        value = info.get(key)
        if type(value) is not int or not lo <= value <= hi:
            raise self.malformed("INFO", f"{key} {value!r} is not an integer in {lo}..{hi}")
        return value

    def info_number(self, info: dict[str, Any], key: str, lo: float, hi: float) -> float:
        value = info.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise self.malformed("INFO", f"{key} {value!r} is not a number in [{lo:g}, {hi:g}]")
        return float(value)

    def identify(self) -> dict[str, str]:
        if not self.info:
            self.info = self._read_info()
        return {k: str(self.info.get(k, "")) for k in ("vendor", "model", "serial", "firmware")}

    def safe_state(self) -> None:
        self.exchange(SAFE, b"", "SAFE")
