"""Simulators speaking hilt's binary frame (:mod:`hilt.framing`).

A :class:`FramedInstrument` implements :meth:`FramedInstrument.handle_frame`; the session cuts
the byte stream into frames, checks them, and answers each with one frame. A frame that fails
its checks is answered with an error frame (code 1) and the stream is resynchronised by dropping
the buffered bytes, as firmware does.
"""

from __future__ import annotations

from typing import ClassVar

from hilt.framing import ERROR_TYPE, REPLY_BIT, Frame, FrameError, error_payload, split_frames
from hilt.sims.base import DropConnection, Session, SimulatedInstrument

BAD_FRAME, UNKNOWN_TYPE, BAD_PAYLOAD, OUT_OF_RANGE, BUSY, INJECTED = 1, 2, 3, 4, 5, 6
#: The SLM and camera protocol's code for a request before HELLO gave the device's token.
UNAUTHORISED = 7
ERROR_MEANINGS = {
    BAD_FRAME: "bad frame (magic, version, length or CRC)",
    UNKNOWN_TYPE: "unknown message type",
    BAD_PAYLOAD: "payload does not match the message type",
    OUT_OF_RANGE: "value out of range",
    BUSY: "busy",
    INJECTED: "execution error (injected fault)",
    UNAUTHORISED: "token required (send HELLO with the server's token first)",
}


class FrameReplyError(Exception):
    """Raised by handlers: answered with an error frame carrying ``code``."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(detail)


class FramedSession(Session):
    def __init__(self, sim: SimulatedInstrument) -> None:
        super().__init__(sim)
        self._buffer = bytearray()

    def feed(self, data: bytes) -> bytes:
        sim = self.sim
        assert isinstance(sim, FramedInstrument)
        self._buffer += data
        try:
            frames = split_frames(self._buffer)
        except FrameError as exc:
            self._buffer.clear()
            return Frame(ERROR_TYPE, 0, error_payload(BAD_FRAME, str(exc))).encode()
        out = bytearray()
        for frame in frames:
            if sim.faults.take_drop():
                raise DropConnection
            with sim.lock:
                try:
                    if sim.faults.take_error():
                        raise FrameReplyError(INJECTED, "injected fault")
                    rtype, payload = self.handle_frame(frame.type, frame.payload)
                except FrameReplyError as exc:
                    meaning = ERROR_MEANINGS.get(exc.code, "error")
                    text = f"{meaning}: {exc.detail}" if exc.detail else meaning
                    rtype, payload = ERROR_TYPE, error_payload(exc.code, text)
            out += Frame(rtype, frame.seq, payload).encode()
        return bytes(out)

    def handle_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        """This session's answer to one request: the instrument's (a session that keeps state of
        its own, such as whether the client has given its token, overrides this)."""
        sim = self.sim
        assert isinstance(sim, FramedInstrument)
        return sim.handle_frame(ftype, payload)


class FramedInstrument(SimulatedInstrument):
    """Base of simulators that speak hilt frames over a raw TCP socket."""

    transport: ClassVar[str] = "raw"
    session_class: ClassVar[type[Session]] = FramedSession
    reply_terminator: ClassVar[str] = ""

    def handle_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        """(reply type, reply payload) for one request; raise FrameReplyError to refuse it."""
        raise NotImplementedError

    @staticmethod
    def reply_type(ftype: int) -> int:
        return ftype | REPLY_BIT
