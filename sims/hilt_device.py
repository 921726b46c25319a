"""What hilt's SLM and camera simulators share: INFO, HELLO (the token), SAFE and the error codes of
docs/protocols/slm-camera.md, over hilt's binary frame (:mod:`hilt.sims.framed`).

A device started with a ``token`` answers every request but HELLO with error 7 until the
connection has sent HELLO with that token (compared in constant time). The protocol requires a
token of any server listening on an interface other than loopback; the simulators listen on
loopback and take a token only when asked (to test a client's HELLO).
"""

from __future__ import annotations

import hmac
import json
from typing import Any, ClassVar

from hilt.sims.base import Session
from hilt.sims.framed import (
    BAD_PAYLOAD,
    OUT_OF_RANGE,
    UNAUTHORISED,
    UNKNOWN_TYPE,
    FramedInstrument,
    FramedSession,
    FrameReplyError,
)

INFO, HELLO, SAFE = 0x01, 0x02, 0x40
#: Largest payload a device accepts or sends (the frame's length field allows 256 MiB).
MAX_PAYLOAD = 64 * 1024 * 1024


class TokenSession(FramedSession):
    """A connection that has (or has not yet) given the device's token."""

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.authorised = sim.token is None

    def handle_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        sim = self.sim
        assert isinstance(sim, HiltDevice)
        if ftype == HELLO:
            if sim.token is not None and not hmac.compare_digest(payload, sim.token.encode()):
                self.authorised = False
                raise FrameReplyError(UNAUTHORISED, "wrong token")
            self.authorised = True
            return sim.reply_type(ftype), b""
        if not self.authorised:
            raise FrameReplyError(UNAUTHORISED, f"type {ftype:#04x} before HELLO")
        return sim.handle_frame(ftype, payload)


class HiltDevice(FramedInstrument):
    """Base of the SLM and camera simulators: INFO from :meth:`info`, SAFE through
    :meth:`safe`, the rest in :meth:`handle_device_frame`."""

    session_class: ClassVar[type[Session]] = TokenSession
    device: ClassVar[str] = ""

    def __init__(self, *args: Any, token: str | None = None, serial: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = token
        self.serial = serial or self.name

    def info(self) -> dict[str, Any]:
        raise NotImplementedError

    def safe(self) -> None:
        raise NotImplementedError

    def handle_device_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes] | None:
        """The reply to a device-specific request, None for a type the device does not know."""
        raise NotImplementedError

    def handle_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        if len(payload) > MAX_PAYLOAD:
            raise FrameReplyError(OUT_OF_RANGE, f"payload of {len(payload)} bytes, above max_payload {MAX_PAYLOAD}")
        if ftype == INFO:
            self.expect_empty(ftype, payload)
            body = {"vendor": "hilt", "model": self.description, "serial": self.serial, "firmware": "1.0",
                    "device": self.device, "max_payload": MAX_PAYLOAD} | self.info()
            return self.reply_type(ftype), json.dumps(body).encode()
        if ftype == SAFE:
            self.expect_empty(ftype, payload)
            self.safe()
            return self.reply_type(ftype), b""
        reply = self.handle_device_frame(ftype, payload)
        if reply is None:
            self.unknown_command(f"frame type {ftype:#04x}")
            raise FrameReplyError(UNKNOWN_TYPE, f"type {ftype:#04x}")
        return reply

    @staticmethod
    def expect_empty(ftype: int, payload: bytes) -> None:
        if payload:
            raise FrameReplyError(BAD_PAYLOAD, f"type {ftype:#04x} takes no payload ({len(payload)} bytes sent)")
