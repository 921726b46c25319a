"""What the simulated boards of the hilt board protocol (docs/protocols/board.md) share: a link
answered by a :class:`hilt.protocol_board.ProtocolBoard` with the simulator's faults injected
(:class:`BoardSession`), and the instrument around it (:class:`BoardInstrument`), served on TCP
and, on a pseudo-terminal, as the board's UART (the same frames; a partial frame followed by
100 ms of silence is dropped, on either link).

Faults: those of :mod:`hilt.sims.faults` (``drop`` closes the link, ``delay``, ``garble``,
``truncate``: the reply's second half never comes, ``error``: an execution error, code 6), and
the board's own: :attr:`BoardInstrument.bad_crc` (replies whose CRC is wrong),
:attr:`BoardInstrument.lose_requests` (requests lost on the wire: no reply) and
:attr:`BoardInstrument.busy` (requests answered busy while no batch runs), each a count of the
next frames it applies to.
"""

from __future__ import annotations

from typing import Any

from hilt import board_protocol as bp
from hilt.framing import Frame
from hilt.protocol_board import BoardLink, BoardRefusal, ProtocolBoard
from hilt.sims.base import DropConnection, Session
from hilt.sims.framed import FramedInstrument, FrameReplyError


class BoardSession(Session):
    """One link to a simulated board: the board's framing rules, and the faults injected."""

    def __init__(self, sim: BoardInstrument) -> None:
        super().__init__(sim)
        self.board_sim = sim
        self.link: BoardLink = sim.board.session(self._answer)

    def feed(self, data: bytes) -> bytes:
        return self.link.feed(data)

    def _answer(self, frame: Frame) -> bytes:
        sim = self.board_sim
        if sim.faults.take_drop():
            raise DropConnection
        with sim.lock:
            if sim.lose_requests > 0:
                sim.lose_requests -= 1
                return b""
            if frame.type not in bp.MESSAGE_NAMES:
                sim.unknown_command(f"frame type {frame.type:#04x}")
            refusal: tuple[int, str] | None = None
            if sim.faults.take_error():
                refusal = (bp.EXECUTION, "injected fault")
            elif sim.busy > 0 and frame.type in (bp.LOAD_MODEL, bp.RUN_BATCH, bp.READ_RESULTS):
                sim.busy -= 1
                refusal = (bp.BUSY, "the datapath is busy")
            if refusal is not None:
                with sim.board.lock:
                    sim.board.count(7)
                reply = sim.board.refuse(refusal[0], frame.seq, refusal[1])
            else:
                reply = sim.board.answer(frame)
            if sim.bad_crc > 0:
                sim.bad_crc -= 1
                reply = reply[:-2] + bytes(b ^ 0xFF for b in reply[-2:])
            return reply


class BoardInstrument(FramedInstrument):
    """A simulated board: a subclass sets :attr:`board` in its ``__init__``."""

    session_class = BoardSession
    also_serial = True
    board: ProtocolBoard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Board faults, each the number of next frames it applies to (see the module docstring).
        self.bad_crc = 0
        self.lose_requests = 0
        self.busy = 0

    def handle_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        """One request without the link's framing (what :mod:`hilt.sims.coverage` probes)."""
        if ftype not in bp.MESSAGE_NAMES:
            self.unknown_command(f"frame type {ftype:#04x}")
        try:
            with self.board.lock:
                return self.board.handle(ftype, payload)
        except BoardRefusal as exc:
            with self.board.lock:
                self.board.last_error = exc.code
            raise FrameReplyError(exc.code, exc.detail) from None
