"""The board side of the hilt board protocol (docs/protocols/board.md), whatever the board class:
what a board keeps (the model being uploaded, the loaded model and its CRC-32, the last batch and
its results, the counters) and how it answers each request; :class:`BoardLink` cuts one link's
bytes into requests by the document's framing rules (a header announcing more than
``max_payload`` refused at once, a partial frame dropped after the UART silence).

A board class (accelerator, neuromorphic) is a subclass deciding what the document leaves to the
class: :meth:`ProtocolBoard.class_keys` (its IDENTIFY keys), :meth:`ProtocolBoard.decode_model`
(its model payload, checked against the board), :meth:`ProtocolBoard.start` (RUN_BATCH's samples
and ``arg``, and running them), :meth:`ProtocolBoard.poll` (the results once done) and
:attr:`ProtocolBoard.counter_ids` (the counters it has). Built on it:
:class:`hilt.accelerator_board.AcceleratorBoard` (the simulated FPGA and the PYNQ board server)
and the simulated neuromorphic board (:mod:`hilt.sims.neuromorphic_board`).

This module needs only numpy (no torch): it runs on a board's ARM cores.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from hilt import board_protocol as bp
from hilt.framing import Frame

log = logging.getLogger("hilt.protocol_board")


class BoardRefusal(Exception):
    """Raised while answering a request: the reply is an error frame with ``code``."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ProtocolBoard:
    """The protocol state of one board, shared by all its links.

    ``handle(ftype, payload)`` answers one request (reply type and payload, or BoardRefusal);
    :meth:`answer` wraps it for a whole frame, and :meth:`session` gives a per-link byte handler.
    ``max_payload``, ``max_model_bytes`` and ``max_batch`` are the board's sizes. Counters the
    class does not list in :attr:`counter_ids` are neither kept nor sent.
    """

    board_class: ClassVar[str] = ""
    #: The READ_COUNTERS ids this board has (docs/protocols/board.md, "READ_COUNTERS").
    counter_ids: ClassVar[tuple[int, ...]] = tuple(bp.COUNTERS)

    def __init__(self, *, max_payload: int, max_model_bytes: int, max_batch: int,
                 frame_gap: float = bp.UART_FRAME_GAP_S) -> None:
        if not bp.MIN_PAYLOAD_LIMIT <= max_payload <= bp.MAX_PAYLOAD_LIMIT:
            raise ValueError(f"max_payload {max_payload}: {bp.MIN_PAYLOAD_LIMIT}..{bp.MAX_PAYLOAD_LIMIT}")
        self.max_payload, self.max_model_bytes, self.max_batch = max_payload, max_model_bytes, max_batch
        self.frame_gap = frame_gap
        self.lock = threading.RLock()
        self.power_up()

    def power_up(self) -> None:
        """The state after power-up or RESET level 1."""
        self.model: Any = None
        self.loading = bytearray()
        self.load_total = 0
        self.model_crc = 0
        self.results: np.ndarray | None = None
        self.batch_size = 0
        self.running = False
        self.batch_id = 0
        self.last_error = 0
        self.counters: dict[int, int] = dict.fromkeys(self.counter_ids, 0)

    def count(self, counter: int, n: int = 1) -> None:
        """Add ``n`` to a counter the board has."""
        if counter in self.counters:
            self.counters[counter] += n

    # -- the board class's hooks -----------------------------------------------------------------
    def class_keys(self) -> dict[str, object]:
        """IDENTIFY's ``vendor``, ``model``, ``serial``, ``firmware`` and the class's own keys."""
        raise NotImplementedError

    def decode_model(self, data: bytes) -> Any:
        """The model a whole LOAD_MODEL payload holds, checked against this board and put into
        its hardware; BoardRefusal (or BoardPayloadError) if it cannot be."""
        raise NotImplementedError

    def start(self, batch: int, sample_bytes: int, arg: int, samples: bytes) -> int:
        """Check RUN_BATCH's samples and ``arg`` against the loaded model (BoardRefusal) and start
        the batch; the expected microseconds until its results (RUN_BATCH's reply). Counts its
        class's counters."""
        raise NotImplementedError

    def poll(self) -> np.ndarray | None:
        """The running batch's results ``(batch, sample_bytes)`` once done (counting the class's
        counters of a finished batch), None while it runs."""
        raise NotImplementedError

    def abort(self) -> None:
        """Stop the running batch (RESET)."""

    # -- what the board says it is ---------------------------------------------------------------
    def identity(self) -> dict[str, object]:
        keys = self.class_keys()
        head = ("vendor", "model", "serial", "firmware")
        out: dict[str, object] = {"class": self.board_class, **{k: keys[k] for k in head}, "protocol": 1,
                                  "max_payload": self.max_payload, "max_model_bytes": self.max_model_bytes}
        if "max_batch" not in keys:  # a class stating it among its own keys keeps its place there
            out["max_batch"] = self.max_batch
        return out | {k: v for k, v in keys.items() if k not in head}

    # -- batches ---------------------------------------------------------------------------------
    def _update(self) -> None:
        """Collect the running batch's results if it is done."""
        if not self.running:
            return
        results = self.poll()
        if results is not None:
            self.running, self.results = False, results

    def status(self) -> bp.Status:
        self._update()
        if self.running:
            state = bp.STATE_RUNNING
        elif self.model is not None:
            state = bp.STATE_READY
        elif self.load_total:
            state = bp.STATE_LOADING
        else:
            state = bp.STATE_NO_MODEL
        return bp.Status(state, self.results is not None, self.model_crc, len(self.loading), self.load_total,
                         self.batch_id, self.last_error)

    def _load(self, payload: bytes) -> bytes:
        offset, total, chunk = bp.decode_load(payload)
        if total > self.max_model_bytes:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"a model of {total} bytes, max_model_bytes {self.max_model_bytes}")
        if offset == 0:  # a new model: the old one and its results are gone
            self.model, self.model_crc, self.results = None, 0, None
            self.loading, self.load_total = bytearray(), total
        elif offset != len(self.loading) or total != self.load_total:
            raise BoardRefusal(bp.OUT_OF_ORDER, f"chunk at {offset} of {total}; {len(self.loading)} of "
                                                f"{self.load_total} received")
        self.loading += chunk
        if len(self.loading) < total:
            return bp.encode_loaded(len(self.loading), False, 0)
        data = bytes(self.loading)
        self.loading, self.load_total = bytearray(), 0  # a refused model leaves no model (state 0)
        try:
            model = self.decode_model(data)
        except bp.BoardPayloadError as exc:
            raise BoardRefusal(exc.code, str(exc)) from None
        self.model, self.model_crc = model, bp.model_crc(data)
        self.loading, self.load_total = bytearray(data), len(data)
        return bp.encode_loaded(len(data), True, self.model_crc)

    def _run(self, payload: bytes) -> bytes:
        if self.model is None:
            raise BoardRefusal(bp.NO_MODEL, "load a model first")
        batch, sample_bytes, arg, samples = bp.decode_run(payload)
        if not 1 <= batch <= self.max_batch:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"batch {batch}: 1..{self.max_batch}")
        self.results = None
        expected_us = self.start(batch, sample_bytes, arg, samples)
        self.running, self.batch_size = True, batch
        self.batch_id = self.batch_id % 0xFFFFFFFF + 1  # 1, 2, ..., 2^32 - 1, 1, ...
        self.count(1)
        self.count(2, batch)
        self._update()
        return bp.encode_run_reply(self.batch_id, expected_us)

    def _read(self, payload: bytes) -> bytes:
        batch_id, offset, count = bp.decode_read(payload)
        if batch_id != self.batch_id or (self.results is None and not self.running):
            raise BoardRefusal(bp.NO_RESULTS, f"batch {batch_id} (last: {self.batch_id})")
        if self.running:
            raise BoardRefusal(bp.BUSY, f"batch {batch_id} runs")
        assert self.results is not None
        n, size = self.results.shape
        if offset >= n:  # no result there (results are numbered 0 .. n - 1)
            raise BoardRefusal(bp.OUT_OF_RANGE, f"offset {offset} of a batch of {n}")
        fit = max(1, (self.max_payload - bp.RESULTS_HEADER) // size)
        rows = self.results[offset:offset + min(count, n - offset, fit)]
        return bp.encode_results(batch_id, offset, size, np.ascontiguousarray(rows).tobytes())

    def _reset(self, payload: bytes) -> bytes:
        level = bp.decode_reset(payload)
        if self.running:
            self.abort()
        self.running, self.results = False, None
        if level == bp.RESET_ALL:
            self.power_up()
        return b""

    # -- requests --------------------------------------------------------------------------------
    def handle(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        """(reply type, reply payload) of one request; BoardRefusal for an error reply."""
        try:
            if ftype == bp.IDENTIFY:
                bp.check_empty(payload, "IDENTIFY")
                return ftype | 0x80, bp.encode_identify(self.identity())
            if ftype == bp.STATUS:
                bp.check_empty(payload, "STATUS")
                return ftype | 0x80, bp.encode_status(self.status())
            if ftype == bp.READ_COUNTERS:
                bp.check_empty(payload, "READ_COUNTERS")
                self._update()
                return ftype | 0x80, bp.encode_counters(self.counters)
            if ftype == bp.RESET:
                return ftype | 0x80, self._reset(payload)
            self._update()
            if ftype in (bp.LOAD_MODEL, bp.RUN_BATCH) and self.running:
                raise BoardRefusal(bp.BUSY, f"batch {self.batch_id} runs")
            if ftype == bp.LOAD_MODEL:
                return ftype | 0x80, self._load(payload)
            if ftype == bp.RUN_BATCH:
                return ftype | 0x80, self._run(payload)
            if ftype == bp.READ_RESULTS:
                return ftype | 0x80, self._read(payload)
        except bp.BoardPayloadError as exc:
            raise BoardRefusal(exc.code, str(exc)) from None
        raise BoardRefusal(bp.UNKNOWN_TYPE, f"type {ftype:#04x}")

    def answer(self, frame: Frame) -> bytes:
        """The reply frame to a whole request frame (an error frame for a refused one)."""
        with self.lock:
            self.count(7)
            try:
                rtype, payload = self.handle(frame.type, frame.payload)
            except BoardRefusal as exc:
                return self.refuse(exc.code, frame.seq, exc.detail)
            except Exception as exc:  # noqa: BLE001 - the hardware failed: an execution error, not a dead link
                log.exception("board failed on request %#04x", frame.type)
                self.running = False
                return self.refuse(bp.EXECUTION, frame.seq, f"datapath: {exc}")
            return Frame(rtype, frame.seq, payload).encode()

    def refuse(self, code: int, seq: int, detail: str, *, bad_frame: bool = False) -> bytes:
        with self.lock:
            self.last_error = code
            self.count(9)
            if bad_frame:
                self.count(8)
            return bp.error_frame(code, seq, detail)

    def session(self, answer: Callable[[Frame], bytes] | None = None) -> BoardLink:
        """A handler for one link's bytes (``answer`` replaces :meth:`answer`, e.g. to inject faults)."""
        return BoardLink(self, answer or self.answer)


class BoardLink:
    """One link to the board: received bytes in, reply bytes out (the document's framing rules)."""

    def __init__(self, board: ProtocolBoard, answer: Callable[[Frame], bytes]) -> None:
        self.board = board
        self.reader = bp.RequestReader(board.max_payload, board.frame_gap)
        self._answer = answer

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        try:
            for item in self.reader.feed(data):
                if isinstance(item, bp.Refusal):
                    out += self.board.refuse(item.code, item.seq, item.detail, bad_frame=True)
                else:
                    out += self._answer(item)
        finally:
            self.reader.idle()
        return bytes(out)
