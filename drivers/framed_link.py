"""One request, one reply over hilt's binary frame: the host side shared by the drivers that
speak it (:mod:`hilt.framing`).

Our own protocol documents put every message in the same envelope and answer it the same way
(docs/protocols/board.md, slm-camera.md and photonic-processor.md, section "The frame" and
"Error codes" of each): a request carries a sequence number and its reply repeats it, a reply's
type is the request's with bit 7 set, and type 0xFF is an error reply (code u16, then UTF-8
text). :class:`FramedLink` sends one request frame and returns its reply's payload:

* a late reply to an earlier request (one that timed out) is dropped by its sequence number,
  never returned; after :attr:`~FramedLink.MAX_STALE_FRAMES` of them the link is reopened;
* bytes that are not a frame (magic, version, length, CRC) leave the link stale, so the next
  exchange starts after it found its place again, and raise the driver's :attr:`link_error`;
* an error frame raises the driver's :attr:`device_error` with the device's code;
* requests in :attr:`RETRIED` are sent again after a timeout, a bad frame or a dropped link
  (``query_retries`` times); the others never are.

What differs between the protocols is stated by class attributes and small hooks of the
driver (its error classes, which requests are retried, payload limits, the board protocol's
sequence-0 reply to a frame it could not read). The bytes on the wire are the documents'.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from hilt.errors import InstrumentError, InstrumentTimeout, ProtocolError
from hilt.framing import (
    CRC_SIZE,
    ERROR_TYPE,
    HEADER_SIZE,
    REPLY_BIT,
    Frame,
    FrameError,
    check_frame,
    parse_error,
    parse_header,
)
from hilt.instrument import Instrument

log = logging.getLogger("hilt.drivers.framed_link")


class FramedLink(Instrument):
    """An instrument spoken to in hilt frames, one request and one reply at a time, in order."""

    #: Request types sent again after a timeout, a bad frame or a dropped link (ones that only
    #: read, or whose repetition does no harm); any other request is sent once.
    RETRIED: ClassVar[frozenset[int]] = frozenset()
    #: Late replies to earlier requests dropped before giving up on the link.
    MAX_STALE_FRAMES: ClassVar[int] = 16
    #: Names of the request types, for errors and the log (``type 0x..`` for one not listed).
    MESSAGE_NAMES: ClassVar[Mapping[int, str]] = {}
    #: Raised for a reply the protocol does not allow (not a frame, the wrong type, no reply
    #: among the late ones).
    link_error: ClassVar[type[ProtocolError]] = ProtocolError
    #: Raised for an error frame, with the device's code.
    device_error: ClassVar[type[InstrumentError]] = InstrumentError
    #: The document's meaning of each error code, given for an error frame without a message
    #: ("error" for a code not listed). None: the device's message as it came, even empty.
    error_meanings: ClassVar[Mapping[int, str] | None] = None
    #: Raised instead of the transport's InstrumentTimeout when a reply does not come whole in
    #: time (None: the InstrumentTimeout itself).
    timeout_error: ClassVar[type[ProtocolError] | None] = None
    #: The code of the error a device sends, with sequence 0, for a frame it could not read
    #: (board.md, "frames a board cannot take"). An error frame with sequence 0 then answers
    #: the request in flight, and this code marks the link stale and raises :attr:`link_error`
    #: (the request may not have arrived whole). None: the protocol has no such reply.
    BAD_FRAME_CODE: ClassVar[int | None] = None
    #: Sequence numbers run 1..65535 and start again at 1 (never 0, which a board gives its
    #: reply to a frame it could not read); False: 1..65535, then 0, 1, ...
    SEQ_SKIPS_ZERO: ClassVar[bool] = False

    def __init__(self, address: str | None = None, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self._seq = itertools.count(0)

    # -- hooks -----------------------------------------------------------------------------------
    def check_frame_request(self, ftype: int, payload: bytes, name: str) -> None:
        """Refuse a request (a LimitError) before a byte of it is sent; by default nothing is
        refused. Run before every attempt."""

    def before_send(self, t: Any, ftype: int) -> None:
        """Run inside the exchange's transaction before the request is written (``t`` the
        transport, its lock held)."""

    def max_reply_payload(self) -> int | None:
        """The largest reply payload a header may announce before its bytes are read (a larger
        one is a bad frame: never wait for gigabytes a broken header announces); None: the
        frame's own limit."""
        return None

    # -- the exchange ----------------------------------------------------------------------------
    def request_name(self, ftype: int) -> str:
        return self.MESSAGE_NAMES.get(ftype, f"type {ftype:#04x}")

    def exchange(self, ftype: int, payload: bytes = b"", name: str = "") -> bytes:
        """Send one request frame and return its reply's payload (checked, errors raised, late
        replies dropped). ``name``: what errors call the request (default :meth:`request_name`)."""
        name = name or self.request_name(ftype)
        return self.retrying(lambda: self._exchange_once(ftype, payload, name), name,
                             retries=self.query_retries if ftype in self.RETRIED else 0)

    def _next_seq(self) -> int:
        n = next(self._seq)
        return n % 0xFFFF + 1 if self.SEQ_SKIPS_ZERO else (n + 1) & 0xFFFF

    def _exchange_once(self, ftype: int, payload: bytes, name: str) -> bytes:
        self.check_frame_request(ftype, payload, name)
        seq = self._next_seq()
        request = Frame(ftype, seq, payload).encode()
        with self.transport.transaction() as t:
            self.before_send(t, ftype)
            t.write_raw(request)
            for _ in range(self.MAX_STALE_FRAMES + 1):
                frame = self._read_frame(t, name)
                if frame.seq == seq or (self.BAD_FRAME_CODE is not None and frame.type == ERROR_TYPE
                                        and frame.seq == 0):
                    break
                log.warning("%s: dropped a late reply to request %d (waiting for %d)", self.name, frame.seq, seq)
            else:
                t.mark_broken()
                raise self.link_error(f"no reply to request {seq} among {self.MAX_STALE_FRAMES} late ones",
                                      instrument=self.name, command=name)
        if frame.type == ERROR_TYPE:
            raise self._error_reply(frame.payload, name)
        if frame.type != ftype | REPLY_BIT:
            raise self.link_error(f"reply type {frame.type:#04x} to request {ftype:#04x}", instrument=self.name,
                                  command=name)
        return frame.payload

    def _error_reply(self, payload: bytes, name: str) -> Exception:
        try:
            code, message = parse_error(payload)
        except FrameError as exc:  # a whole, checked frame: the link is in step, the reply is bad
            return self.link_error(str(exc), instrument=self.name, command=name, reply=payload)
        if self.BAD_FRAME_CODE is not None and code == self.BAD_FRAME_CODE:
            self.transport.mark_stale()  # the device saw our request garbled: the link is suspect
            return self.link_error(f"the board could not read the request: {message}", instrument=self.name,
                                   command=name)
        if self.error_meanings is not None:
            message = message or self.error_meanings.get(code, "error")
        return self.device_error(code, message, instrument=self.name, command=name)

    def _read_frame(self, t: Any, name: str) -> Frame:
        head = b""
        try:
            head = t.read_bytes(HEADER_SIZE)
            _, _, length = parse_header(head)
            limit = self.max_reply_payload()
            if limit is not None and length > limit:
                raise FrameError(f"reply of {length} bytes announced, more than the {limit} this link takes")
            rest = t.read_bytes(length + CRC_SIZE)
            return check_frame(head, rest[:length], rest[length:])
        except InstrumentTimeout as exc:
            if self.timeout_error is None:
                raise  # the transport marked the link stale
            t.mark_stale()
            raise self.timeout_error(f"no complete reply ({exc})", instrument=self.name, command=name) from None
        except FrameError as exc:
            t.mark_stale()  # resynchronise: whatever follows is suspect
            raise self.link_error(str(exc), instrument=self.name, command=name, reply=head) from None
