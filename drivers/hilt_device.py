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

import json
from typing import Any, ClassVar

from hilt.drivers.framed_link import FramedLink
from hilt.errors import LimitError, ProtocolError

INFO, HELLO, SAFE = 0x01, 0x02, 0x40
#: Error codes of the document's table.
ERROR_CODES = {1: "bad frame", 2: "unknown message type", 3: "payload does not match the message type",
               4: "value out of range", 5: "busy", 6: "execution error", 7: "token required or wrong"}


class DeviceReplyError(ProtocolError):
    """A reply from an SLM or camera that the protocol document does not allow: garbled, of the
    wrong type, of the wrong length, or missing fields."""


class HiltDevice(FramedLink):
    """Base of the SLM and camera drivers: one request, one reply, in order (TCP).

    ``token``: the server's token, sent in HELLO on every (re)connection before anything else
    (required by a server listening on anything but loopback; None sends no HELLO).
    """

    transport_settings: ClassVar[dict[str, Any]] = {"timeout": 10.0}
    #: The INFO reply's ``device`` this driver speaks to.
    device: ClassVar[str] = ""
    #: Request types that only read (sent again after a timeout, a bad frame or a dropped link).
    RETRIED: ClassVar[frozenset[int]] = frozenset({INFO})
    link_error = DeviceReplyError
    #: An error frame without a message gets the document's meaning of its code.
    error_meanings = ERROR_CODES

    def __init__(self, address: str | None = None, *, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        if token is not None and not isinstance(token, str):
            raise TypeError(f"token must be a string, not {type(token).__name__}")
        self.token = token
        self.info: dict[str, Any] = {}

    # -- frames ----------------------------------------------------------------------------------
    def check_frame_request(self, ftype: int, payload: bytes, name: str) -> None:
        limit = self.info.get("max_payload")
        if type(limit) is int and len(payload) > limit:
            raise LimitError(f"{name} of {len(payload)} bytes, above the device's max_payload of {limit}",
                             instrument=self.name, parameter=name)

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
