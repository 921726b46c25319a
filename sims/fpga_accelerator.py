"""Simulated FPGA int8 accelerator behind the hilt board protocol (docs/protocols/board.md).

The bytes are those of the protocol document, decoded and encoded by :mod:`hilt.board_protocol`
(the codec the host shares). Behind them: the int8 datapath of the document's "Arithmetic"
section, executed by the bit-exact engine (:mod:`hilt.sims.physics.int8_board` over
:mod:`hilt.sims.physics.int8`), with the board's rounding mode, accumulator width, requantisers
and sizes as options and stated in its IDENTIFY reply.

Time: a batch takes ``cycles / clock_hz`` of the world's simulated clock, from a latency model
of a systolic datapath: ``batch_overhead`` cycles, then per sample the input transfer
(``bus_bytes`` a cycle), and per layer ``layer_overhead`` cycles plus ``ceil(MACs / pe)``
(``pe`` multiply-accumulate units). Until then READ_RESULTS is answered busy (error 5), as the
document says. The results themselves are computed when the batch is accepted.

Served on TCP (``tcp://``); ``also_serial``: served on a pseudo-terminal it is the board's UART
(the same frames; a partial frame followed by 100 ms of silence is dropped, on either link).

Faults: those of :mod:`hilt.sims.faults` (``drop`` closes the link, ``delay``, ``garble``,
``truncate``: the reply's second half never comes, ``error``: an execution error, code 6), and
the board's own: :attr:`SimFpgaAccelerator.bad_crc` (replies whose CRC is wrong),
:attr:`SimFpgaAccelerator.lose_requests` (requests lost on the wire: no reply) and
:attr:`SimFpgaAccelerator.busy` (requests answered busy while no batch runs), each a count of
the next frames it applies to.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from hilt import board_protocol as bp
from hilt.framing import (
    ERROR_TYPE,
    HEADER,
    HEADER_SIZE,
    MAGIC,
    VERSION,
    Frame,
    FrameError,
    check_frame,
    error_payload,
)
from hilt.sims.base import DropConnection, Session
from hilt.sims.framed import FramedInstrument, FrameReplyError
from hilt.sims.physics.int8_board import execute, macs


class BoardSession(Session):
    """One link to the board: frames cut from the byte stream by the document's rules (a
    header announcing more than ``max_payload`` is answered at once and its bytes skipped; bad
    magic, version or CRC drop the input buffer; a partial frame is dropped after the frame
    gap), each answered with one frame."""

    def __init__(self, sim: SimFpgaAccelerator) -> None:
        super().__init__(sim)
        self.board = sim
        self._buffer = bytearray()
        self._skip = 0
        self._last = time.monotonic()

    def feed(self, data: bytes) -> bytes:
        board = self.board
        if (self._buffer or self._skip) and time.monotonic() - self._last > board.frame_gap:
            self._buffer.clear()  # the rest of that frame never came: it is dropped, unanswered
            self._skip = 0
        self._buffer += data
        out = bytearray()
        try:
            while True:
                if self._skip:
                    n = min(self._skip, len(self._buffer))
                    del self._buffer[:n]
                    self._skip -= n
                    if self._skip:
                        break
                if len(self._buffer) < HEADER_SIZE:
                    break
                magic, version, _, seq, length = HEADER.unpack(bytes(self._buffer[:HEADER_SIZE]))
                if magic != MAGIC or version != VERSION:
                    out += self._refuse_bytes(bp.BAD_FRAME, 0, f"bad magic {magic.hex()} or version {version}")
                    self._buffer.clear()
                    break
                if length > board.max_payload:
                    out += self._refuse_bytes(bp.TOO_LARGE, seq, f"{length} bytes, max_payload {board.max_payload}")
                    del self._buffer[:HEADER_SIZE]
                    self._skip = length + 2
                    continue
                end = HEADER_SIZE + length + 2
                if len(self._buffer) < end:
                    break
                raw = bytes(self._buffer[:end])
                try:
                    frame = check_frame(raw[:HEADER_SIZE], raw[HEADER_SIZE:-2], raw[-2:])
                except FrameError as exc:
                    out += self._refuse_bytes(bp.BAD_FRAME, 0, str(exc))
                    self._buffer.clear()
                    break
                del self._buffer[:end]
                out += self._answer(frame)
        finally:
            self._last = time.monotonic()  # measured from the end of the work: bytes that
            # waited in the link's buffer meanwhile did not stay silent
        return bytes(out)

    def _refuse_bytes(self, code: int, seq: int, detail: str) -> bytes:
        with self.board.lock:
            self.board.counters[8] += 1
            return self.board.error_frame(code, seq, detail)

    def _answer(self, frame: Frame) -> bytes:
        board = self.board
        if board.faults.take_drop():
            raise DropConnection
        with board.lock:
            board.counters[7] += 1
            if board.lose_requests > 0:
                board.lose_requests -= 1
                return b""
            try:
                if board.faults.take_error():
                    raise FrameReplyError(bp.EXECUTION, "injected fault")
                if board.busy > 0 and frame.type in (bp.LOAD_MODEL, bp.RUN_BATCH, bp.READ_RESULTS):
                    board.busy -= 1
                    raise FrameReplyError(bp.BUSY, "the datapath is busy")
                rtype, payload = board.handle_frame(frame.type, frame.payload)
                reply = Frame(rtype, frame.seq, payload).encode()
            except FrameReplyError as exc:
                reply = board.error_frame(exc.code, frame.seq, exc.detail)
            if board.bad_crc > 0:
                board.bad_crc -= 1
                reply = reply[:-2] + bytes(b ^ 0xFF for b in reply[-2:])
            return reply


class SimFpgaAccelerator(FramedInstrument):
    model = "fpga_accelerator"
    description = "FPGA int8 inference accelerator (hilt board protocol, TCP or UART)"
    session_class = BoardSession
    also_serial = True
    probe_options: dict[str, Any] = {}

    def __init__(self, *args: Any, rounding: str = "half_away", acc_bits: int = 32,
                 requant: tuple[str, ...] | list[str] | str = ("multiplier", "pow2"),
                 per_channel: bool = True, weight_zero_point: bool = True,
                 layers: tuple[str, ...] | list[str] = ("dense", "conv2d", "maxpool2d"),
                 max_payload: int = 65536, max_model_bytes: int = 1 << 20, max_batch: int = 256,
                 max_layers: int = 16, max_features: int = 16384, max_channels: int = 256,
                 max_kernel: int = 7, clock_hz: int = 100_000_000, pe: int = 64,
                 bus_bytes: int = 8, batch_overhead: int = 2000, layer_overhead: int = 20,
                 frame_gap: float = bp.UART_FRAME_GAP_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if rounding not in bp.ROUNDING_CODES:
            raise ValueError(f"rounding {rounding!r}: one of {', '.join(bp.ROUNDING_CODES)}")
        if not 8 <= int(acc_bits) <= 32:
            raise ValueError(f"acc_bits {acc_bits}: 8..32")
        requant = tuple(requant.split(",")) if isinstance(requant, str) else tuple(requant)
        if not requant or set(requant) - {"multiplier", "pow2"}:
            raise ValueError(f"requant {requant}: multiplier and/or pow2")
        if not bp.MIN_PAYLOAD_LIMIT <= int(max_payload) <= bp.MAX_PAYLOAD_LIMIT:
            raise ValueError(f"max_payload {max_payload}: {bp.MIN_PAYLOAD_LIMIT}..{bp.MAX_PAYLOAD_LIMIT}")
        self.rounding, self.acc_bits, self.requant = rounding, int(acc_bits), requant
        self.per_channel, self.weight_zero_point = bool(per_channel), bool(weight_zero_point)
        self.layer_kinds = tuple(layers)
        self.max_payload, self.max_model_bytes, self.max_batch = int(max_payload), int(max_model_bytes), int(max_batch)
        self.max_layers, self.max_features = int(max_layers), int(max_features)
        self.max_channels, self.max_kernel = int(max_channels), int(max_kernel)
        self.clock_hz, self.pe, self.bus_bytes = int(clock_hz), int(pe), int(bus_bytes)
        self.batch_overhead, self.layer_overhead = int(batch_overhead), int(layer_overhead)
        self.frame_gap = float(frame_gap)
        #: Board faults, each the number of next frames it applies to (see the module docstring).
        self.bad_crc = 0
        self.lose_requests = 0
        self.busy = 0
        self._power_up()

    def _power_up(self) -> None:
        self.model_obj: bp.AcceleratorModel | None = None
        self.loading = bytearray()
        self.load_total = 0
        self.model_crc = 0
        self.results: np.ndarray | None = None
        self.batch_id = 0
        self.ready_at = 0.0
        self.last_error = 0
        self.counters: dict[int, int] = dict.fromkeys(bp.COUNTERS, 0)

    # -- replies -------------------------------------------------------------------------------
    def error_frame(self, code: int, seq: int, detail: str) -> bytes:
        self.last_error = code
        self.counters[9] += 1
        meaning = bp.ERROR_MEANINGS.get(code, "error")
        return Frame(ERROR_TYPE, seq, error_payload(code, f"{meaning}: {detail}" if detail else meaning)).encode()

    def identity(self) -> dict[str, object]:
        return {"class": "accelerator", "vendor": "hilt", "model": "A8 simulated int8 accelerator",
                "serial": self.name, "firmware": "1.0", "protocol": 1, "max_payload": self.max_payload,
                "max_model_bytes": self.max_model_bytes, "max_batch": self.max_batch,
                "rounding": self.rounding, "acc_bits": self.acc_bits, "requant": self.requant,
                "per_channel": self.per_channel, "weight_zero_point": self.weight_zero_point,
                "layers": self.layer_kinds, "max_layers": self.max_layers, "max_features": self.max_features,
                "max_channels": self.max_channels, "max_kernel": self.max_kernel, "clock_hz": self.clock_hz}

    @property
    def running(self) -> bool:
        return self.results is not None and self.world.clock.now() < self.ready_at

    def status(self) -> bp.Status:
        if self.running:
            state = bp.STATE_RUNNING
        elif self.model_obj is not None:
            state = bp.STATE_READY
        elif self.load_total:
            state = bp.STATE_LOADING
        else:
            state = bp.STATE_NO_MODEL
        ready = self.results is not None and not self.running
        return bp.Status(state, ready, self.model_crc, len(self.loading), self.load_total, self.batch_id,
                         self.last_error)

    # -- the model -----------------------------------------------------------------------------
    def check_model(self, model: bp.AcceleratorModel) -> str:
        """Why this board cannot run ``model`` ('' if it can): what the host checks too."""
        if model.rounding != self.rounding:
            return f"rounding {model.rounding}, the board rounds {self.rounding}"
        if model.acc_bits != self.acc_bits:
            return f"a {model.acc_bits}-bit accumulator, the board's is {self.acc_bits}-bit"
        if len(model.layers) > self.max_layers:
            return f"{len(model.layers)} layers, at most {self.max_layers}"
        shapes = model.shapes()
        for i, (layer, shape) in enumerate(zip(model.layers, shapes[1:], strict=True)):
            if layer.kind not in self.layer_kinds:
                return f"layer {i} is {layer.kind}; the board runs {', '.join(self.layer_kinds)}"
            size = max(math.prod(shapes[i]), math.prod(shape))
            if size > self.max_features:
                return f"layer {i} handles {size} values, at most {self.max_features}"
            if layer.weight is None:
                continue
            if layer.weight.shape[0] > self.max_channels:
                return f"layer {i} has {layer.weight.shape[0]} outputs, at most {self.max_channels}"
            if layer.kind == "conv2d" and max(layer.weight.shape[2:]) > self.max_kernel:
                return f"layer {i} has a {layer.weight.shape[2]}x{layer.weight.shape[3]} kernel, at most {self.max_kernel}"
            if ("pow2" if layer.pow2 else "multiplier") not in self.requant:
                return f"layer {i} needs the {'pow2' if layer.pow2 else 'multiplier'} requantiser"
            if layer.per_channel and not self.per_channel:
                return f"layer {i} has per-channel parameters"
            if not self.weight_zero_point and layer.weight_zero_point is not None and layer.weight_zero_point.any():
                return f"layer {i} has non-zero weight zero points"
        return ""

    def _load(self, payload: bytes) -> bytes:
        offset, total, chunk = bp.decode_load(payload)
        if total > self.max_model_bytes:
            raise FrameReplyError(bp.OUT_OF_RANGE, f"a model of {total} bytes, max_model_bytes {self.max_model_bytes}")
        if offset == 0:
            self.model_obj, self.model_crc, self.results = None, 0, None
            self.loading, self.load_total = bytearray(), total
        elif offset != len(self.loading) or total != self.load_total:
            raise FrameReplyError(bp.OUT_OF_ORDER, f"chunk at {offset} of {total}; {len(self.loading)} of "
                                                   f"{self.load_total} received")
        self.loading += chunk
        if len(self.loading) < total:
            return bp.encode_loaded(len(self.loading), False, 0)
        data = bytes(self.loading)
        try:
            model = bp.decode_accelerator_model(data)
            why = self.check_model(model)
        except bp.BoardPayloadError as exc:
            self.loading, self.load_total = bytearray(), 0
            raise FrameReplyError(exc.code, str(exc)) from None
        if why:
            self.loading, self.load_total = bytearray(), 0
            raise FrameReplyError(bp.UNSUPPORTED, why)
        self.model_obj, self.model_crc = model, bp.model_crc(data)
        return bp.encode_loaded(len(data), True, self.model_crc)

    # -- batches -------------------------------------------------------------------------------
    def cycles(self, batch: int) -> tuple[int, int]:
        """(datapath cycles, multiply-accumulates) of a batch: the latency model."""
        assert self.model_obj is not None
        per_layer = macs(self.model_obj)
        per_sample = math.ceil(self.model_obj.input_size / self.bus_bytes) + sum(
            self.layer_overhead + math.ceil(m / self.pe) for m in per_layer)
        return self.batch_overhead + batch * per_sample, batch * sum(per_layer)

    def _run(self, payload: bytes) -> bytes:
        if self.model_obj is None:
            raise FrameReplyError(bp.NO_MODEL, "load a model first")
        batch, sample_bytes, arg, samples = bp.decode_run(payload)
        if not 1 <= batch <= self.max_batch:
            raise FrameReplyError(bp.OUT_OF_RANGE, f"batch {batch}: 1..{self.max_batch}")
        if sample_bytes != self.model_obj.input_size or arg != 0:
            raise FrameReplyError(bp.OUT_OF_RANGE, f"samples of {sample_bytes} bytes with arg {arg}; the model "
                                                   f"takes {self.model_obj.input_size} bytes, arg 0")
        x = np.frombuffer(samples, dtype=np.int8).reshape(batch, sample_bytes)
        self.results = execute(self.model_obj, x)
        cycles, macs = self.cycles(batch)
        latency = cycles / self.clock_hz
        self.ready_at = self.world.clock.now() + latency
        self.batch_id = self.batch_id % 0xFFFFFFFF + 1
        for cid, add in ((1, 1), (2, batch), (4, cycles), (6, macs)):
            self.counters[cid] += add
        self.counters[3], self.counters[5] = cycles, round(latency * 1e9)
        return bp.encode_run_reply(self.batch_id, math.ceil(latency * 1e6))

    def _read(self, payload: bytes) -> bytes:
        batch_id, offset, count = bp.decode_read(payload)
        if self.results is None or batch_id != self.batch_id:
            raise FrameReplyError(bp.NO_RESULTS, f"batch {batch_id} (last: {self.batch_id})")
        if self.running:
            raise FrameReplyError(bp.BUSY, f"batch {batch_id} runs")
        n, size = self.results.shape
        if offset > n:
            raise FrameReplyError(bp.OUT_OF_RANGE, f"offset {offset} of a batch of {n}")
        fit = max(1, (self.max_payload - bp.RESULTS_HEADER) // size)
        rows = self.results[offset:offset + min(count, n - offset, fit)]
        return bp.encode_results(batch_id, offset, size, rows.tobytes())

    # -- the protocol --------------------------------------------------------------------------
    def handle_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        try:
            if ftype == bp.IDENTIFY:
                bp.check_empty(payload, "IDENTIFY")
                return self.reply_type(ftype), bp.encode_identify(self.identity())
            if ftype == bp.STATUS:
                bp.check_empty(payload, "STATUS")
                return self.reply_type(ftype), bp.encode_status(self.status())
            if ftype == bp.READ_COUNTERS:
                bp.check_empty(payload, "READ_COUNTERS")
                return self.reply_type(ftype), bp.encode_counters(self.counters)
            if ftype == bp.RESET:
                level = bp.decode_reset(payload)
                self.results, self.ready_at = None, 0.0
                if level == bp.RESET_ALL:
                    self._power_up()
                return self.reply_type(ftype), b""
            if ftype in (bp.LOAD_MODEL, bp.RUN_BATCH) and self.running:
                raise FrameReplyError(bp.BUSY, f"batch {self.batch_id} runs")
            if ftype == bp.LOAD_MODEL:
                return self.reply_type(ftype), self._load(payload)
            if ftype == bp.RUN_BATCH:
                return self.reply_type(ftype), self._run(payload)
            if ftype == bp.READ_RESULTS:
                return self.reply_type(ftype), self._read(payload)
        except bp.BoardPayloadError as exc:
            raise FrameReplyError(exc.code, str(exc)) from None
        self.unknown_command(f"frame type {ftype:#04x}")
        raise FrameReplyError(bp.UNKNOWN_TYPE, f"type {ftype:#04x}")

    def state(self) -> dict[str, Any]:
        s = self.status()
        return {"state": s.state_name, "batch_id": s.batch_id, "model_crc": f"{s.model_crc:08x}",
                "counters": {bp.COUNTERS[k]: v for k, v in self.counters.items()}}

