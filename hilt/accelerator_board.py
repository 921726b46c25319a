"""The board side of an int8 accelerator speaking the hilt board protocol (docs/protocols/board.md):
what a board keeps (the model being uploaded, the loaded model and its CRC, the last batch and its
results, the counters) and how it answers each request, over a small seam to the hardware that
computes, a :class:`Datapath`.

Two boards are built on it: the simulated FPGA (:mod:`hilt.sims.fpga_accelerator`, a datapath
running the bit-exact int8 engine on the world's clock) and the PYNQ board server
(:mod:`hilt.drivers.pynq_board_server`, a datapath driving an overlay's registers and buffers).
So the protocol handling the simulator's tests exercise is the one the board runs.

This module needs only numpy (no torch): it runs on the board's ARM cores.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from hilt import board_protocol as bp
from hilt.framing import Frame

log = logging.getLogger("hilt.accelerator_board")

class BoardRefusal(Exception):
    """Raised while answering a request: the reply is an error frame with ``code``."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Datapath(Protocol):
    """The seam between the protocol and the hardware that computes.

    * ``describe()``: the IDENTIFY keys the hardware decides: ``vendor``, ``model``, ``serial``,
      ``firmware`` and the accelerator keys (``rounding``, ``acc_bits``, ``requant``,
      ``per_channel``, ``weight_zero_point``, ``layers``, ``max_layers``, ``max_features``,
      ``max_channels``, ``max_kernel``, ``clock_hz``).
    * ``load(model, data)``: put a checked model (and its payload bytes) into the hardware.
    * ``start(samples)``: begin a batch of int8 samples ``(batch, input size)``; returns the
      expected seconds until done.
    * ``poll()``: the int8 results ``(batch, output size)`` once done, None while running.
    * ``abort()``: stop a running batch (RESET).
    * ``cycles()``: datapath cycles of the last finished batch (0 if the hardware cannot tell).
    * ``now()``: seconds on the board's clock (latency is measured with it).
    """

    def describe(self) -> dict[str, object]: ...

    def load(self, model: bp.AcceleratorModel, data: bytes) -> None: ...

    def start(self, samples: np.ndarray) -> float: ...

    def poll(self) -> np.ndarray | None: ...

    def abort(self) -> None: ...

    def cycles(self) -> int: ...

    def now(self) -> float: ...


class AcceleratorBoard:
    """The protocol state of one accelerator board, shared by all its links.

    ``handle(ftype, payload)`` answers one request (reply type and payload, or BoardRefusal);
    :meth:`answer` wraps it for a whole frame, and :meth:`session` gives a per-link byte handler.
    ``max_payload``, ``max_model_bytes`` and ``max_batch`` are the board's sizes; everything else
    it states comes from the datapath.
    """

    def __init__(self, datapath: Datapath, *, max_payload: int = 65536, max_model_bytes: int = 1 << 20,
                 max_batch: int = 256, frame_gap: float = bp.UART_FRAME_GAP_S) -> None:
        if not bp.MIN_PAYLOAD_LIMIT <= max_payload <= bp.MAX_PAYLOAD_LIMIT:
            raise ValueError(f"max_payload {max_payload}: {bp.MIN_PAYLOAD_LIMIT}..{bp.MAX_PAYLOAD_LIMIT}")
        self.datapath = datapath
        self.max_payload, self.max_model_bytes, self.max_batch = max_payload, max_model_bytes, max_batch
        self.frame_gap = frame_gap
        self.lock = threading.RLock()
        self.power_up()

    def power_up(self) -> None:
        """The state after power-up or RESET level 1."""
        self.model: bp.AcceleratorModel | None = None
        self.loading = bytearray()
        self.load_total = 0
        self.model_crc = 0
        self.results: np.ndarray | None = None
        self.batch_size = 0
        self.running = False
        self.started_at = 0.0
        self.batch_id = 0
        self.last_error = 0
        self.counters: dict[int, int] = dict.fromkeys(bp.COUNTERS, 0)

    # -- what the board says it is -------------------------------------------------------------
    def identity(self) -> dict[str, object]:
        described = self.datapath.describe()
        return {"class": "accelerator", **{k: described[k] for k in ("vendor", "model", "serial", "firmware")},
                "protocol": 1, "max_payload": self.max_payload, "max_model_bytes": self.max_model_bytes,
                "max_batch": self.max_batch,
                **{k: v for k, v in described.items() if k not in ("vendor", "model", "serial", "firmware")}}

    def limits(self) -> dict[str, Any]:
        """The identity's limits, typed as :func:`hilt.board_protocol.model_problem` takes them."""
        ident = self.identity()
        out = {k: v for k, v in ident.items() if isinstance(v, int) and not isinstance(v, bool)}
        out.update({k: bool(ident[k]) for k in ("per_channel", "weight_zero_point") if k in ident})
        for key in ("requant", "layers"):
            if key in ident:
                value = ident[key]
                out[key] = tuple(value.split(",")) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
        if "rounding" in ident:
            out["rounding"] = ident["rounding"]
        return out

    # -- batches ---------------------------------------------------------------------------------
    def _update(self) -> None:
        """Collect the running batch's results if the datapath is done."""
        if not self.running:
            return
        results = self.datapath.poll()
        if results is None:
            return
        self.running = False
        self.results = results
        cycles = self.datapath.cycles()
        self.counters[3] = cycles
        self.counters[4] += cycles
        self.counters[5] = max(0, round((self.datapath.now() - self.started_at) * 1e9))

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
        if offset == 0:
            self.model, self.model_crc, self.results = None, 0, None
            self.loading, self.load_total = bytearray(), total
        elif offset != len(self.loading) or total != self.load_total:
            raise BoardRefusal(bp.OUT_OF_ORDER, f"chunk at {offset} of {total}; {len(self.loading)} of "
                                                f"{self.load_total} received")
        self.loading += chunk
        if len(self.loading) < total:
            return bp.encode_loaded(len(self.loading), False, 0)
        data = bytes(self.loading)
        self.loading, self.load_total = bytearray(), 0
        try:
            model = bp.decode_accelerator_model(data)
        except bp.BoardPayloadError as exc:
            raise BoardRefusal(exc.code, str(exc)) from None
        why = bp.model_problem(model, self.limits())
        if why:
            raise BoardRefusal(bp.UNSUPPORTED, why)
        self.datapath.load(model, data)
        self.model, self.model_crc = model, bp.model_crc(data)
        self.loading, self.load_total = bytearray(data), len(data)
        return bp.encode_loaded(len(data), True, self.model_crc)

    def _run(self, payload: bytes) -> bytes:
        if self.model is None:
            raise BoardRefusal(bp.NO_MODEL, "load a model first")
        batch, sample_bytes, arg, samples = bp.decode_run(payload)
        if not 1 <= batch <= self.max_batch:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"batch {batch}: 1..{self.max_batch}")
        if sample_bytes != self.model.input_size or arg != 0:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"samples of {sample_bytes} bytes with arg {arg}; the model "
                                                f"takes {self.model.input_size} bytes, arg 0")
        x = np.frombuffer(samples, dtype=np.int8).reshape(batch, sample_bytes)
        self.results = None
        self.started_at = self.datapath.now()
        expected = self.datapath.start(x)
        self.running, self.batch_size = True, batch
        self.batch_id = self.batch_id % 0xFFFFFFFF + 1
        self.counters[1] += 1
        self.counters[2] += batch
        self.counters[6] += batch * sum(macs_per_sample(self.model))
        self._update()
        return bp.encode_run_reply(self.batch_id, math.ceil(max(expected, 0.0) * 1e6))

    def _read(self, payload: bytes) -> bytes:
        batch_id, offset, count = bp.decode_read(payload)
        if batch_id != self.batch_id or (self.results is None and not self.running):
            raise BoardRefusal(bp.NO_RESULTS, f"batch {batch_id} (last: {self.batch_id})")
        if self.running:
            raise BoardRefusal(bp.BUSY, f"batch {batch_id} runs")
        assert self.results is not None
        n, size = self.results.shape
        if offset > n:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"offset {offset} of a batch of {n}")
        fit = max(1, (self.max_payload - bp.RESULTS_HEADER) // size)
        rows = self.results[offset:offset + min(count, n - offset, fit)]
        return bp.encode_results(batch_id, offset, size, np.ascontiguousarray(rows, dtype=np.int8).tobytes())

    def _reset(self, payload: bytes) -> bytes:
        level = bp.decode_reset(payload)
        if self.running:
            self.datapath.abort()
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
            self.counters[7] += 1
            try:
                rtype, payload = self.handle(frame.type, frame.payload)
            except BoardRefusal as exc:
                return self.refuse(exc.code, frame.seq, exc.detail)
            except Exception as exc:  # noqa: BLE001 - the hardware failed: an execution error, not a dead link
                log.exception("datapath failed on request %#04x", frame.type)
                self.running = False
                return self.refuse(bp.EXECUTION, frame.seq, f"datapath: {exc}")
            return Frame(rtype, frame.seq, payload).encode()

    def refuse(self, code: int, seq: int, detail: str, *, bad_frame: bool = False) -> bytes:
        with self.lock:
            self.last_error = code
            self.counters[9] += 1
            if bad_frame:
                self.counters[8] += 1
            return bp.error_frame(code, seq, detail)

    def session(self, answer: Callable[[Frame], bytes] | None = None) -> BoardLink:
        """A handler for one link's bytes (``answer`` replaces :meth:`answer`, e.g. to inject faults)."""
        return BoardLink(self, answer or self.answer)


class BoardLink:
    """One link to the board: received bytes in, reply bytes out (the document's framing rules)."""

    def __init__(self, board: AcceleratorBoard, answer: Callable[[Frame], bytes]) -> None:
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


def macs_per_sample(model: bp.AcceleratorModel) -> list[int]:
    """Multiply-accumulates of one sample, per layer (0 for pooling)."""
    out = []
    for layer, (c, hgt, wid) in zip(model.layers, model.shapes()[1:], strict=True):
        out.append(0 if layer.weight is None else c * hgt * wid * int(np.prod(layer.weight.shape[1:])))
    return out
