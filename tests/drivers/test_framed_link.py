"""The framed exchange the hilt-frame drivers share (drivers/framed_link.py), through what it
puts on the wire: sequence numbers and their wrap, late replies dropped, the board protocol's
sequence-0 reply to a frame it could not read (docs/protocols/board.md, "frames a board cannot
take"), error meanings and the bound on an announced reply.

Each case is a small driver on the shared class against a scripted peer over a real TCP socket;
the frames are built by :class:`hilt.framing.Frame`, whose bytes tests/foundation checks
against the document's literals.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import pytest

from hilt import board_protocol as bp
from hilt.drivers.framed_link import FramedLink
from hilt.drivers.hilt_accelerator import HiltAccelerator
from hilt.drivers.hilt_neuromorphic import HiltNeuromorphicBoard
from hilt.errors import InstrumentError, ProtocolError
from hilt.framing import ERROR_TYPE, Frame, error_payload
from hilt.testing import expected_protocol

PING = 0x01


class LinkError(ProtocolError):
    pass


class Link(FramedLink):
    """A device with one request, PING, answered by 0x81 with the request's payload."""

    transport_settings: ClassVar[dict[str, Any]] = {"timeout": 5.0}
    link_error = LinkError  # PING is not retried: a scripted peer takes one connection


class Board(Link):
    """The board protocol's choices: sequence numbers skip 0, ERROR 1 with sequence 0 answers."""

    SEQ_SKIPS_ZERO = True
    BAD_FRAME_CODE = 1
    error_meanings: ClassVar[dict[int, str]] = {5: "busy"}

    def max_reply_payload(self) -> int | None:
        return 64


def ping(seq: int, payload: bytes = b"") -> bytes:
    return Frame(PING, seq, payload).encode()


def pong(seq: int, payload: bytes = b"") -> bytes:
    return Frame(PING | 0x80, seq, payload).encode()


def error(seq: int, code: int, message: str = "") -> bytes:
    return Frame(ERROR_TYPE, seq, error_payload(code, message)).encode()


@pytest.mark.parametrize(("cls", "after_65535"), [(Link, 0), (Board, 1)])
def test_sequence_numbers_start_at_1_and_wrap(cls: type[Link], after_65535: int) -> None:
    with expected_protocol(cls, [(ping(1), pong(1))], kind="tcp") as link:
        assert link.exchange(PING) == b""
    with expected_protocol(cls, [(ping(65535), pong(65535)), (ping(after_65535), pong(after_65535, b"x"))],
                           kind="tcp") as link:
        link._seq = itertools.count(65534)  # 65534 requests already sent
        link.exchange(PING)
        assert link.exchange(PING) == b"x"


def test_late_replies_are_dropped_by_their_sequence_number() -> None:
    late = pong(7, b"late") + error(0, 1, "bad frame")  # sequence 0 means nothing to this protocol
    with expected_protocol(Link, [(ping(1), late + pong(1, b"mine"))], kind="tcp") as link:
        assert link.exchange(PING) == b"mine"


def test_a_board_that_could_not_read_the_request_answers_with_sequence_0() -> None:
    with expected_protocol(Board, [(ping(1), pong(7, b"late") + error(0, 1, "CRC mismatch"))], kind="tcp") as board, \
            pytest.raises(LinkError, match="the board could not read the request: CRC mismatch") as caught:
        board.exchange(PING)
    assert not isinstance(caught.value, InstrumentError)


@pytest.mark.parametrize(("cls", "meaning"), [(Link, ""), (Board, "busy")])
def test_an_error_frame_is_the_devices_error_with_the_documents_meaning(cls: type[Link], meaning: str) -> None:
    with expected_protocol(cls, [(ping(1), error(1, 5)), (ping(2), error(2, 5, "still running"))],
                           kind="tcp") as link:
        with pytest.raises(InstrumentError) as caught:
            link.exchange(PING)
        assert (caught.value.code, caught.value.meaning) == (5, meaning)
        with pytest.raises(InstrumentError, match="still running"):
            link.exchange(PING)


def test_a_reply_of_another_type_is_a_link_error() -> None:
    with expected_protocol(Link, [(ping(1), Frame(0x82, 1).encode())], kind="tcp") as link, \
            pytest.raises(LinkError, match="reply type 0x82 to request 0x01"):
        link.exchange(PING)


def test_a_reply_announced_above_the_bound_is_refused_without_waiting_for_it() -> None:
    head = pong(1, bytes(65))[:10]  # the header alone: its 65 bytes never come
    with expected_protocol(Board, [(ping(1), head)], kind="tcp") as board, \
            pytest.raises(LinkError, match="reply of 65 bytes announced"):
        board.exchange(PING)


@pytest.mark.parametrize("cls", [HiltAccelerator, HiltNeuromorphicBoard])
def test_both_board_drivers_take_error_1_with_sequence_0_as_the_answer(cls: type[FramedLink]) -> None:
    """board.md: a board answers a frame it could not read with ERROR 1, sequence 0 (not a
    late reply to drop while waiting out the timeout)."""
    reset = bp.encode_reset(bp.RESET_ABORT)
    with expected_protocol(cls, [(Frame(bp.RESET, 1, reset).encode(), error(0, bp.BAD_FRAME, "CRC mismatch"))],
                           kind="tcp", connect=False) as board, \
            pytest.raises(ProtocolError, match="could not read the request: CRC mismatch"):
        board.transport.open()
        board.exchange(bp.RESET, reset)
