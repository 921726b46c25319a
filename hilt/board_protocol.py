"""The hilt board protocol: messages between a host and an FPGA accelerator or a neuromorphic
board, on hilt's frame (:mod:`hilt.framing`), over TCP or UART.

Byte by byte in docs/protocols/board.md (our own protocol document, written so a firmware author
can implement it from the page alone); this module is its codec, shared by the host drivers, the
simulators and the PYNQ board server, so both ends encode and decode the same way. Every
``encode_*`` returns a payload (the frame around it is :class:`hilt.framing.Frame`); every
``decode_*`` checks the payload's length and fields and raises :class:`BoardPayloadError` for
anything the document does not allow.

Scalars are big-endian (as the frame header); arrays of int32 are little-endian, int8 arrays
have no byte order.

=====  ==============  ===============================================  ====================================
type   name            request payload                                  reply payload
=====  ==============  ===============================================  ====================================
0x01   IDENTIFY        (none)                                           0x81 ``key=value`` lines (UTF-8)
0x02   STATUS          (none)                                           0x82 state, flags, model CRC, load
                                                                        progress, last batch, last error
0x10   LOAD_MODEL      offset u32, total u32, chunk                     0x90 received u32, complete u8,
                                                                        model CRC-32 u32
0x20   RUN_BATCH       batch u32, sample_bytes u32, arg u32, samples    0xA0 batch id u32, expected us u32
0x21   READ_RESULTS    batch id u32, offset u32, count u32              0xA1 batch id, offset, count,
                                                                        sample_bytes (u32 each), samples
0x30   READ_COUNTERS   (none)                                           0xB0 n u16; n x (id u16, value u64)
0x40   RESET           level u8 (0 abort the batch, 1 forget all)       0xC0 (none)
0xFF   ERROR (reply)   code u16, UTF-8 message
=====  ==============  ===============================================  ====================================

The accelerator's model payload (board class 1: int8 layers with per-tensor or per-channel
zero points, fixed-point multipliers or power-of-two shifts, the board's rounding mode and
accumulator width) is :class:`AcceleratorModel`; the neuromorphic class (2) has its own section
in the document.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hilt.framing import (
    CRC_SIZE,
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

# -- message types -------------------------------------------------------------------------------
IDENTIFY, STATUS, LOAD_MODEL, RUN_BATCH, READ_RESULTS, READ_COUNTERS, RESET = (
    0x01, 0x02, 0x10, 0x20, 0x21, 0x30, 0x40)
MESSAGE_NAMES: dict[int, str] = {IDENTIFY: "IDENTIFY", STATUS: "STATUS", LOAD_MODEL: "LOAD_MODEL",
                                 RUN_BATCH: "RUN_BATCH", READ_RESULTS: "READ_RESULTS",
                                 READ_COUNTERS: "READ_COUNTERS", RESET: "RESET"}

# -- error codes (1..6 are those of every hilt-frame device, sims/framed.py) ---------------------
BAD_FRAME, UNKNOWN_TYPE, BAD_PAYLOAD, OUT_OF_RANGE, BUSY, EXECUTION = 1, 2, 3, 4, 5, 6
TOO_LARGE, NO_MODEL, BAD_MODEL, OUT_OF_ORDER, NO_RESULTS, UNSUPPORTED = 7, 8, 9, 10, 11, 12
ERROR_MEANINGS: dict[int, str] = {
    BAD_FRAME: "bad frame (magic, version, length or CRC)",
    UNKNOWN_TYPE: "unknown message type",
    BAD_PAYLOAD: "payload does not match the message type",
    OUT_OF_RANGE: "value out of range",
    BUSY: "busy",
    EXECUTION: "execution error",
    TOO_LARGE: "frame larger than max_payload",
    NO_MODEL: "no model loaded",
    BAD_MODEL: "model payload malformed",
    OUT_OF_ORDER: "model chunk out of order",
    NO_RESULTS: "no results for that batch",
    UNSUPPORTED: "model needs what this board does not have",
}

#: Board classes: the IDENTIFY ``class`` value and the model payload's first byte.
CLASS_ACCELERATOR, CLASS_NEUROMORPHIC = 1, 2
CLASS_NAMES: dict[int, str] = {CLASS_ACCELERATOR: "accelerator", CLASS_NEUROMORPHIC: "neuromorphic"}

#: Smallest max_payload a board may declare, and the protocol's largest.
MIN_PAYLOAD_LIMIT = 4096
MAX_PAYLOAD_LIMIT = 1 << 24

#: UART framing: a partial frame followed by this much silence is dropped by the board; a host
#: finds its place again by staying silent longer than this (docs/protocols/board.md).
UART_FRAME_GAP_S = 0.1


class BoardPayloadError(ValueError):
    """A payload that is not what the document allows for its message (length, field, range)."""

    def __init__(self, message: str, code: int = BAD_PAYLOAD) -> None:
        super().__init__(message)
        self.code = code


def _need(payload: bytes, size: int, what: str) -> None:
    if len(payload) != size:
        raise BoardPayloadError(f"{what}: {len(payload)} bytes, expected {size}")


def model_crc(model: bytes) -> int:
    """CRC-32/ISO-HDLC (zlib's; check value of b'123456789' is 0xCBF43926) of a model payload."""
    return zlib.crc32(model) & 0xFFFFFFFF


# -- IDENTIFY ------------------------------------------------------------------------------------
#: Keys every board's IDENTIFY reply carries, and the integer ones among them.
IDENTITY_KEYS = ("class", "vendor", "model", "serial", "firmware", "protocol", "max_payload",
                 "max_model_bytes", "max_batch")
IDENTITY_INTEGERS = ("protocol", "max_payload", "max_model_bytes", "max_batch")


def encode_identify(fields: dict[str, object]) -> bytes:
    """``key=value`` lines, each ended by LF, UTF-8; bools as 0/1, lists comma-joined."""
    lines = []
    for key, value in fields.items():
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        text = str(value)
        if not key or "=" in key or "\n" in key or "\n" in text:
            raise BoardPayloadError(f"IDENTIFY field {key!r}={text!r} cannot be written as a line")
        lines.append(f"{key}={text}\n")
    return "".join(lines).encode()


def decode_identify(payload: bytes) -> dict[str, str]:
    """The IDENTIFY reply as text fields; the required keys must be there and the integers
    (:data:`IDENTITY_INTEGERS`) decimal. Unknown keys are kept (a host ignores them)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BoardPayloadError(f"IDENTIFY reply is not UTF-8: {exc}") from None
    if text and not text.endswith("\n"):
        raise BoardPayloadError("IDENTIFY reply: last line not ended by LF")
    fields: dict[str, str] = {}
    for line in text.split("\n")[:-1]:
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise BoardPayloadError(f"IDENTIFY reply: line {line[:60]!r} is not key=value")
        if key in fields:
            raise BoardPayloadError(f"IDENTIFY reply: key {key!r} twice")
        fields[key] = value
    missing = [k for k in IDENTITY_KEYS if k not in fields]
    if missing:
        raise BoardPayloadError(f"IDENTIFY reply lacks {', '.join(missing)}")
    for key in IDENTITY_INTEGERS:
        identity_int(fields, key)
    if fields["class"] not in CLASS_NAMES.values():
        raise BoardPayloadError(f"IDENTIFY reply: class {fields['class']!r} is not accelerator or neuromorphic")
    return fields


def identity_int(fields: dict[str, str], key: str, default: int | None = None,
                 low: int = 0, high: int = 2**63 - 1) -> int:
    """An integer field of an IDENTIFY reply (decimal digits, optional '-'), range-checked."""
    text = fields.get(key)
    if text is None:
        if default is None:
            raise BoardPayloadError(f"IDENTIFY reply lacks {key}")
        return default
    body = text[1:] if text.startswith("-") else text
    if not body.isascii() or not body.isdigit():
        raise BoardPayloadError(f"IDENTIFY reply: {key}={text!r} is not a decimal integer")
    value = int(text)
    if not low <= value <= high:
        raise BoardPayloadError(f"IDENTIFY reply: {key}={value} outside {low}..{high}")
    return value


def identity_list(fields: dict[str, str], key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A comma-separated list field of an IDENTIFY reply (empty items dropped)."""
    text = fields.get(key)
    if text is None:
        return default
    return tuple(item for item in text.split(",") if item)


# -- STATUS --------------------------------------------------------------------------------------
STATE_NO_MODEL, STATE_LOADING, STATE_READY, STATE_RUNNING, STATE_FAULT = 0, 1, 2, 3, 4
STATE_NAMES = {STATE_NO_MODEL: "no_model", STATE_LOADING: "loading", STATE_READY: "ready",
               STATE_RUNNING: "running", STATE_FAULT: "fault"}
FLAG_RESULTS = 0x01
_STATUS = struct.Struct(">BBIIIIH")


@dataclass(frozen=True)
class Status:
    state: int
    results_ready: bool
    model_crc: int
    received: int
    total: int
    batch_id: int
    last_error: int

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]


def encode_status(s: Status) -> bytes:
    return _STATUS.pack(s.state, FLAG_RESULTS if s.results_ready else 0, s.model_crc, s.received,
                        s.total, s.batch_id, s.last_error)


def decode_status(payload: bytes) -> Status:
    _need(payload, _STATUS.size, "STATUS reply")
    state, flags, crc, received, total, batch_id, last_error = _STATUS.unpack(payload)
    if state not in STATE_NAMES:
        raise BoardPayloadError(f"STATUS reply: state {state} is not one of 0..4")
    if flags & ~FLAG_RESULTS:
        raise BoardPayloadError(f"STATUS reply: flags {flags:#04x} (only bit 0 is defined)")
    if received > total:
        raise BoardPayloadError(f"STATUS reply: {received} model bytes received of {total}")
    return Status(state, bool(flags & FLAG_RESULTS), crc, received, total, batch_id, last_error)


# -- LOAD_MODEL ----------------------------------------------------------------------------------
_LOAD = struct.Struct(">II")
_LOADED = struct.Struct(">IBI")


def encode_load(offset: int, total: int, chunk: bytes) -> bytes:
    return _LOAD.pack(offset, total) + chunk


def decode_load(payload: bytes) -> tuple[int, int, bytes]:
    """(offset, total, chunk) of a LOAD_MODEL request."""
    if len(payload) < _LOAD.size:
        raise BoardPayloadError(f"LOAD_MODEL: {len(payload)} bytes, shorter than its 8-byte header")
    offset, total = _LOAD.unpack(payload[:_LOAD.size])
    chunk = payload[_LOAD.size:]
    if total == 0 or offset + len(chunk) > total:
        raise BoardPayloadError(f"LOAD_MODEL: chunk {offset}+{len(chunk)} does not fit a model of {total} bytes",
                                OUT_OF_RANGE)
    return offset, total, chunk


def encode_loaded(received: int, complete: bool, crc: int) -> bytes:
    return _LOADED.pack(received, 1 if complete else 0, crc)


def decode_loaded(payload: bytes) -> tuple[int, bool, int]:
    """(received, complete, model CRC-32) of a LOAD_MODEL reply."""
    _need(payload, _LOADED.size, "LOAD_MODEL reply")
    received, complete, crc = _LOADED.unpack(payload)
    if complete not in (0, 1):
        raise BoardPayloadError(f"LOAD_MODEL reply: complete byte {complete}")
    if not complete and crc:
        raise BoardPayloadError("LOAD_MODEL reply: a CRC before the model is complete")
    return received, bool(complete), crc


# -- RUN_BATCH / READ_RESULTS --------------------------------------------------------------------
_RUN = struct.Struct(">III")
_RUN_REPLY = struct.Struct(">II")
_READ = struct.Struct(">III")
_RESULTS = struct.Struct(">IIII")
RUN_HEADER, RESULTS_HEADER = _RUN.size, _RESULTS.size


def encode_run(batch: int, sample_bytes: int, arg: int, samples: bytes) -> bytes:
    return _RUN.pack(batch, sample_bytes, arg) + samples


def decode_run(payload: bytes) -> tuple[int, int, int, bytes]:
    """(batch, sample_bytes, arg, samples) of a RUN_BATCH request."""
    if len(payload) < _RUN.size:
        raise BoardPayloadError(f"RUN_BATCH: {len(payload)} bytes, shorter than its 12-byte header")
    batch, sample_bytes, arg = _RUN.unpack(payload[:_RUN.size])
    samples = payload[_RUN.size:]
    if len(samples) != batch * sample_bytes:
        raise BoardPayloadError(f"RUN_BATCH: {batch} x {sample_bytes} bytes announced, {len(samples)} sent")
    return batch, sample_bytes, arg, samples


def encode_run_reply(batch_id: int, expected_us: int) -> bytes:
    return _RUN_REPLY.pack(batch_id, expected_us)


def decode_run_reply(payload: bytes) -> tuple[int, int]:
    _need(payload, _RUN_REPLY.size, "RUN_BATCH reply")
    batch_id, expected_us = _RUN_REPLY.unpack(payload)
    if batch_id == 0:
        raise BoardPayloadError("RUN_BATCH reply: batch id 0 is never used")
    return batch_id, expected_us


def encode_read(batch_id: int, offset: int, count: int) -> bytes:
    return _READ.pack(batch_id, offset, count)


def decode_read(payload: bytes) -> tuple[int, int, int]:
    _need(payload, _READ.size, "READ_RESULTS")
    return _READ.unpack(payload)


def encode_results(batch_id: int, offset: int, sample_bytes: int, samples: bytes) -> bytes:
    count = len(samples) // sample_bytes if sample_bytes else 0
    return _RESULTS.pack(batch_id, offset, count, sample_bytes) + samples


def decode_results(payload: bytes) -> tuple[int, int, int, int, bytes]:
    """(batch id, offset, count, sample_bytes, samples) of a READ_RESULTS reply."""
    if len(payload) < _RESULTS.size:
        raise BoardPayloadError(f"READ_RESULTS reply: {len(payload)} bytes, shorter than its 16-byte header")
    batch_id, offset, count, sample_bytes = _RESULTS.unpack(payload[:_RESULTS.size])
    samples = payload[_RESULTS.size:]
    if len(samples) != count * sample_bytes:
        raise BoardPayloadError(f"READ_RESULTS reply: {count} x {sample_bytes} bytes announced, {len(samples)} sent")
    return batch_id, offset, count, sample_bytes, samples


# -- READ_COUNTERS -------------------------------------------------------------------------------
#: Counter ids (u16) and names. 16..31 belong to the neuromorphic class, 0x8000.. to vendors.
COUNTERS: dict[int, str] = {1: "batches", 2: "samples", 3: "cycles_last", 4: "cycles_total",
                            5: "latency_ns_last", 6: "macs_total", 7: "frames_ok", 8: "frames_bad",
                            9: "frames_refused"}


def encode_counters(values: dict[int, int]) -> bytes:
    out = bytearray(struct.pack(">H", len(values)))
    for cid, value in values.items():
        out += struct.pack(">HQ", cid, value)
    return bytes(out)


def decode_counters(payload: bytes) -> dict[int, int]:
    """Counter id -> value of a READ_COUNTERS reply (ids need not be known; none twice)."""
    if len(payload) < 2:
        raise BoardPayloadError("READ_COUNTERS reply without its count")
    (n,) = struct.unpack(">H", payload[:2])
    _need(payload, 2 + 10 * n, f"READ_COUNTERS reply of {n} counters")
    out: dict[int, int] = {}
    for i in range(n):
        cid, value = struct.unpack(">HQ", payload[2 + 10 * i: 12 + 10 * i])
        if cid in out:
            raise BoardPayloadError(f"READ_COUNTERS reply: counter {cid} twice")
        out[cid] = value
    return out


# -- RESET ---------------------------------------------------------------------------------------
RESET_ABORT, RESET_ALL = 0, 1


def encode_reset(level: int) -> bytes:
    return bytes([level])


def decode_reset(payload: bytes) -> int:
    _need(payload, 1, "RESET")
    if payload[0] not in (RESET_ABORT, RESET_ALL):
        raise BoardPayloadError(f"RESET level {payload[0]} (0 or 1)", OUT_OF_RANGE)
    return payload[0]


def check_empty(payload: bytes, what: str) -> None:
    """Check that a request without a payload has none."""
    _need(payload, 0, what)


# -- the accelerator's model (class 1) ------------------------------------------------------------
ROUNDING = {0: "half_away", 1: "half_even", 2: "floor"}
ROUNDING_CODES = {v: k for k, v in ROUNDING.items()}
DENSE, CONV2D, MAXPOOL2D = 1, 2, 3
LAYER_NAMES = {DENSE: "dense", CONV2D: "conv2d", MAXPOOL2D: "maxpool2d"}
FLAG_RELU, FLAG_PER_CHANNEL, FLAG_POW2 = 0x01, 0x02, 0x04
_MODEL_HEAD = struct.Struct(">BBBBHHHbB")
_LAYER_HEAD = struct.Struct(">BBbB")
_DENSE = struct.Struct(">II")
_CONV = struct.Struct(">HHBBBB")
_POOL = struct.Struct(">BBH")


@dataclass
class Layer:
    """One layer of an accelerator model.

    ``kind``: ``"dense"``, ``"conv2d"`` or ``"maxpool2d"``. Dense/conv carry int8 ``weight``
    ((out, in) or (out, in_ch, kh, kw)), int8 ``weight_zero_point`` (1 or out values), int32
    ``bias`` (out), int32 ``multiplier`` (fixed-point M0, 1 or out values; None with ``pow2``)
    and int8 ``shift`` (1 or out values). ``relu``: the output clamps at its zero point.
    """

    kind: str
    out_zero_point: int = 0
    relu: bool = False
    pow2: bool = False
    weight: np.ndarray | None = None
    weight_zero_point: np.ndarray | None = None
    bias: np.ndarray | None = None
    multiplier: np.ndarray | None = None
    shift: np.ndarray | None = None
    stride: int = 1
    padding: int = 0
    kernel: int = 2  # maxpool2d window
    per_channel: bool = False

    @property
    def out_channels(self) -> int:
        assert self.weight is not None
        return int(self.weight.shape[0])

    def params_count(self) -> int:
        return self.out_channels if self.per_channel else 1


@dataclass
class AcceleratorModel:
    """An int8 model as the accelerator takes it (docs/protocols/board.md, model class 1)."""

    input_shape: tuple[int, int, int]  # (C, H, W); an MLP's input is (features, 1, 1)
    layers: list[Layer] = field(default_factory=list)
    rounding: str = "half_away"
    acc_bits: int = 32
    input_zero_point: int = 0

    CLASS: ClassVar[int] = CLASS_ACCELERATOR
    FORMAT: ClassVar[int] = 1

    def shapes(self) -> list[tuple[int, int, int]]:
        """The (C, H, W) of the input and of every layer's output; BoardPayloadError (code 9)
        for a layer that does not fit its input."""
        c, hgt, wid = self.input_shape
        shapes = [(c, hgt, wid)]
        for i, layer in enumerate(self.layers):
            if layer.kind == "dense":
                assert layer.weight is not None
                n_out, n_in = layer.weight.shape
                if n_in != c * hgt * wid:
                    raise BoardPayloadError(f"layer {i} (dense) takes {n_in} inputs, gets {c}x{hgt}x{wid}", BAD_MODEL)
                c, hgt, wid = n_out, 1, 1
            elif layer.kind == "conv2d":
                assert layer.weight is not None
                o, ci, kh, kw = layer.weight.shape
                if ci != c:
                    raise BoardPayloadError(f"layer {i} (conv2d) takes {ci} channels, gets {c}", BAD_MODEL)
                hgt = (hgt + 2 * layer.padding - kh) // layer.stride + 1
                wid = (wid + 2 * layer.padding - kw) // layer.stride + 1
                c = o
            else:
                hgt = (hgt - layer.kernel) // layer.stride + 1
                wid = (wid - layer.kernel) // layer.stride + 1
            if hgt < 1 or wid < 1:
                raise BoardPayloadError(f"layer {i} ({layer.kind}) leaves no output", BAD_MODEL)
            shapes.append((c, hgt, wid))
        return shapes

    @property
    def input_size(self) -> int:
        c, hgt, wid = self.input_shape
        return c * hgt * wid

    @property
    def output_size(self) -> int:
        c, hgt, wid = self.shapes()[-1]
        return c * hgt * wid

    def encode(self) -> bytes:
        return encode_accelerator_model(self)


def _arr(data: bytes, pos: int, count: int, dtype: str, what: str) -> tuple[np.ndarray, int]:
    size = np.dtype(dtype).itemsize * count
    if pos + size > len(data):
        raise BoardPayloadError(f"model ends inside {what} (needs {size} bytes at {pos})", BAD_MODEL)
    return np.frombuffer(data, dtype=dtype, count=count, offset=pos).copy(), pos + size


def _params(values: object, count: int, dtype: str, what: str) -> bytes:
    arr = np.asarray(values).reshape(-1)
    if arr.size == 1 and count > 1:
        arr = np.repeat(arr, count)
    if arr.size != count:
        raise BoardPayloadError(f"{arr.size} {what} for {count} channel(s)")
    info = np.iinfo(np.dtype(dtype))
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise BoardPayloadError(f"{what} outside {info.min}..{info.max}")
    return arr.astype(dtype).tobytes()


def encode_accelerator_model(model: AcceleratorModel) -> bytes:
    """The model payload (class 1, format 1) of docs/protocols/board.md."""
    if model.rounding not in ROUNDING_CODES:
        raise BoardPayloadError(f"rounding {model.rounding!r}: one of {', '.join(ROUNDING_CODES)}")
    if not 1 <= len(model.layers) <= 255:
        raise BoardPayloadError(f"{len(model.layers)} layers: a model has 1..255")
    c, hgt, wid = model.input_shape
    out = bytearray(_MODEL_HEAD.pack(CLASS_ACCELERATOR, 1, ROUNDING_CODES[model.rounding], model.acc_bits,
                                     c, hgt, wid, model.input_zero_point, len(model.layers)))
    for layer in model.layers:
        kind = {v: k for k, v in LAYER_NAMES.items()}.get(layer.kind)
        if kind is None:
            raise BoardPayloadError(f"layer kind {layer.kind!r}: one of {', '.join(LAYER_NAMES.values())}")
        if kind == MAXPOOL2D:
            out += _LAYER_HEAD.pack(kind, 0, layer.out_zero_point, 0)
            out += _POOL.pack(layer.kernel, layer.stride, 0)
            continue
        assert layer.weight is not None and layer.bias is not None and layer.shift is not None
        flags = (FLAG_RELU if layer.relu else 0) | (FLAG_PER_CHANNEL if layer.per_channel else 0) | (
            FLAG_POW2 if layer.pow2 else 0)
        out += _LAYER_HEAD.pack(kind, flags, layer.out_zero_point, 0)
        w = np.asarray(layer.weight)
        if w.ndim != (2 if kind == DENSE else 4):
            raise BoardPayloadError(f"{layer.kind} weights of shape {w.shape}")
        w = np.frombuffer(_params(w, w.size, "i1", "weights"), np.int8).reshape(w.shape)
        if kind == DENSE:
            out += _DENSE.pack(w.shape[1], w.shape[0])
        else:
            out += _CONV.pack(w.shape[1], w.shape[0], w.shape[2], w.shape[3], layer.stride, layer.padding)
        p = layer.params_count()
        wzp = np.zeros(p, np.int8) if layer.weight_zero_point is None else layer.weight_zero_point
        out += w.tobytes()
        out += _params(wzp, p, "i1", "weight zero points")
        out += _params(layer.bias, w.shape[0], "<i4", "bias")
        if not layer.pow2:
            if layer.multiplier is None:
                raise BoardPayloadError("a layer without pow2 needs its multipliers")
            out += _params(layer.multiplier, p, "<i4", "multipliers")
        out += _params(layer.shift, p, "i1", "shifts")
    return bytes(out)


def decode_accelerator_model(data: bytes) -> AcceleratorModel:
    """The model of a class-1 payload; BoardPayloadError with code 9 (malformed) or 12 (another
    class or format) for anything the document does not allow."""
    if len(data) < _MODEL_HEAD.size:
        raise BoardPayloadError(f"model of {len(data)} bytes, shorter than its 12-byte header", BAD_MODEL)
    cls, fmt, rounding, acc_bits, c, hgt, wid, zx, n_layers = _MODEL_HEAD.unpack(data[:_MODEL_HEAD.size])
    if cls != CLASS_ACCELERATOR or fmt != 1:
        raise BoardPayloadError(f"model class {cls} format {fmt}: this is an accelerator (class 1, format 1)",
                                UNSUPPORTED)
    if rounding not in ROUNDING:
        raise BoardPayloadError(f"rounding code {rounding} (0, 1 or 2)", BAD_MODEL)
    if not 8 <= acc_bits <= 32:
        raise BoardPayloadError(f"accumulator width {acc_bits} bits (8..32)", BAD_MODEL)
    if min(c, hgt, wid) < 1 or n_layers < 1:
        raise BoardPayloadError(f"input {c}x{hgt}x{wid} with {n_layers} layers", BAD_MODEL)
    model = AcceleratorModel((c, hgt, wid), [], ROUNDING[rounding], acc_bits, zx)
    pos = _MODEL_HEAD.size
    for i in range(n_layers):
        if pos + _LAYER_HEAD.size > len(data):
            raise BoardPayloadError(f"model ends before layer {i}", BAD_MODEL)
        kind, flags, zy, reserved = _LAYER_HEAD.unpack(data[pos:pos + _LAYER_HEAD.size])
        pos += _LAYER_HEAD.size
        if kind not in LAYER_NAMES or reserved:
            raise BoardPayloadError(f"layer {i}: type {kind} reserved {reserved}", BAD_MODEL)
        if flags & ~(FLAG_RELU | FLAG_PER_CHANNEL | FLAG_POW2):
            raise BoardPayloadError(f"layer {i}: flags {flags:#04x} (bits 0..2 are defined)", BAD_MODEL)
        if kind == MAXPOOL2D:
            if pos + _POOL.size > len(data):
                raise BoardPayloadError(f"model ends inside layer {i}", BAD_MODEL)
            k, stride, res = _POOL.unpack(data[pos:pos + _POOL.size])
            pos += _POOL.size
            if flags or res or k < 1 or stride < 1:
                raise BoardPayloadError(f"layer {i} (maxpool2d): flags {flags} kernel {k} stride {stride}", BAD_MODEL)
            model.layers.append(Layer("maxpool2d", zy, kernel=k, stride=stride))
            continue
        geometry = _DENSE if kind == DENSE else _CONV
        if pos + geometry.size > len(data):
            raise BoardPayloadError(f"model ends inside layer {i}", BAD_MODEL)
        if kind == DENSE:
            n_in, n_out = _DENSE.unpack(data[pos:pos + _DENSE.size])
            shape: tuple[int, ...] = (n_out, n_in)
            stride, padding = 1, 0
        else:
            ci, co, kh, kw, stride, padding = _CONV.unpack(data[pos:pos + _CONV.size])
            shape = (co, ci, kh, kw)
            if stride < 1:
                raise BoardPayloadError(f"layer {i} (conv2d): stride 0", BAD_MODEL)
        pos += geometry.size
        if min(shape) < 1:
            raise BoardPayloadError(f"layer {i}: weight shape {shape}", BAD_MODEL)
        n_out = shape[0]
        p = n_out if flags & FLAG_PER_CHANNEL else 1
        w, pos = _arr(data, pos, int(np.prod(shape, dtype=np.int64)), "i1", f"layer {i} weights")
        wzp, pos = _arr(data, pos, p, "i1", f"layer {i} weight zero points")
        bias, pos = _arr(data, pos, n_out, "<i4", f"layer {i} bias")
        mult = None
        if not flags & FLAG_POW2:
            mult, pos = _arr(data, pos, p, "<i4", f"layer {i} multipliers")
            if (mult < 0).any():
                raise BoardPayloadError(f"layer {i}: negative multiplier", BAD_MODEL)
        shift, pos = _arr(data, pos, p, "i1", f"layer {i} shifts")
        if mult is not None and ((shift < -30) | (shift > 31)).any():
            raise BoardPayloadError(f"layer {i}: shift outside -30..31", BAD_MODEL)
        if mult is None and ((shift < -31) | (shift > 31)).any():
            raise BoardPayloadError(f"layer {i}: shift outside -31..31", BAD_MODEL)
        model.layers.append(Layer(LAYER_NAMES[kind], zy, bool(flags & FLAG_RELU), bool(flags & FLAG_POW2),
                                  w.reshape(shape), wzp, bias, mult, shift, stride, padding,
                                  per_channel=bool(flags & FLAG_PER_CHANNEL)))
    if pos != len(data):
        raise BoardPayloadError(f"{len(data) - pos} byte(s) after the last layer", BAD_MODEL)
    model.shapes()  # the layers must chain
    return model


def model_problem(model: AcceleratorModel, limits: dict[str, Any]) -> str:
    """Why a board with these IDENTIFY ``limits`` cannot run ``model`` ('' if it can): the
    checks the host makes before sending and the board makes when the upload completes.

    ``limits`` holds the accelerator keys of docs/protocols/board.md, typed: ``rounding`` (str),
    ``acc_bits``, ``max_layers``, ``max_features``, ``max_channels``, ``max_kernel``,
    ``max_payload``, ``max_model_bytes`` (ints), ``requant`` and ``layers`` (tuples of names),
    ``per_channel`` and ``weight_zero_point`` (0/1). A key left out sets no limit.
    """
    try:
        data_size = len(model.encode())
        shapes = model.shapes()
    except BoardPayloadError as exc:
        return f"the model cannot be encoded: {exc}"
    big = 2**63
    if "rounding" in limits and model.rounding != limits["rounding"]:
        return f"the model rounds {model.rounding}, the board {limits['rounding']}"
    if "acc_bits" in limits and model.acc_bits != limits["acc_bits"]:
        return f"the model assumes a {model.acc_bits}-bit accumulator, the board's is {limits['acc_bits']}-bit"
    if len(model.layers) > limits.get("max_layers", big):
        return f"{len(model.layers)} layers, the board runs {limits['max_layers']}"
    if data_size > limits.get("max_model_bytes", big):
        return f"a model of {data_size} bytes, the board holds {limits['max_model_bytes']}"
    for size, what in ((model.input_size, "an input sample"), (model.output_size, "a result")):
        if size + RESULTS_HEADER > limits.get("max_payload", big):
            return f"{what} of {size} bytes does not fit the board's max_payload {limits['max_payload']}"
    for i, (layer, shape) in enumerate(zip(model.layers, shapes[1:], strict=True)):
        where = f"layer {i} ({layer.kind})"
        if layer.kind not in limits.get("layers", (layer.kind,)):
            return f"{where}: the board runs {', '.join(limits['layers'])}"
        size = max(int(np.prod(shapes[i])), int(np.prod(shape)))
        if size > limits.get("max_features", big):
            return f"{where} handles {size} values, the board at most {limits['max_features']}"
        if layer.weight is None:
            continue
        if layer.weight.shape[0] > limits.get("max_channels", big):
            return f"{where} has {layer.weight.shape[0]} outputs, the board at most {limits['max_channels']}"
        if layer.kind == "conv2d" and max(layer.weight.shape[2:]) > limits.get("max_kernel", big):
            return (f"{where}: kernel {layer.weight.shape[2]}x{layer.weight.shape[3]}, the board at most "
                    f"{limits['max_kernel']}")
        requant = "pow2" if layer.pow2 else "multiplier"
        if requant not in limits.get("requant", (requant,)):
            return f"{where} needs the {requant} requantiser; the board has {', '.join(limits['requant'])}"
        if layer.per_channel and not limits.get("per_channel", 1):
            return f"{where} has per-channel parameters; the board takes one per layer"
        zw = layer.weight_zero_point
        if zw is not None and np.any(zw) and not limits.get("weight_zero_point", 1):
            return f"{where} has non-zero weight zero points; the board takes symmetric weights"
    return ""


# -- the board side of a link ------------------------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    """Bytes a board answers with an error frame without reading them as a request."""

    code: int
    seq: int
    detail: str


class RequestReader:
    """The board side of one link: requests cut from the received bytes by the document's rules.

    :meth:`feed` returns, in order, each whole request (a :class:`hilt.framing.Frame`) and each
    :class:`Refusal`: bad magic or version, or a bad CRC (code 1, sequence 0; the input buffer is
    dropped) and a header announcing more than ``max_payload`` (code 7 with that header's
    sequence; the frame's bytes are skipped as they arrive). A partial frame followed by
    ``frame_gap`` seconds without a byte is dropped unanswered; the gap is counted from the
    later of the last bytes and :meth:`idle` (called when the board has answered, so bytes that
    waited in the link's buffer while it worked do not count as silence).
    """

    def __init__(self, max_payload: int, frame_gap: float = UART_FRAME_GAP_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_payload = max_payload
        self.frame_gap = frame_gap
        self.clock = clock
        self._buffer = bytearray()
        self._skip = 0
        self._last = clock()

    def idle(self) -> None:
        self._last = self.clock()

    def feed(self, data: bytes) -> list[Frame | Refusal]:
        if (self._buffer or self._skip) and self.clock() - self._last > self.frame_gap:
            self._buffer.clear()
            self._skip = 0
        self._last = self.clock()
        self._buffer += data
        out: list[Frame | Refusal] = []
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
                out.append(Refusal(BAD_FRAME, 0, f"bad magic {magic.hex()} or version {version}"))
                self._buffer.clear()
                break
            if length > self.max_payload:
                out.append(Refusal(TOO_LARGE, seq, f"{length} bytes, max_payload {self.max_payload}"))
                del self._buffer[:HEADER_SIZE]
                self._skip = length + CRC_SIZE
                continue
            end = HEADER_SIZE + length + CRC_SIZE
            if len(self._buffer) < end:
                break
            raw = bytes(self._buffer[:end])
            try:
                frame = check_frame(raw[:HEADER_SIZE], raw[HEADER_SIZE:-CRC_SIZE], raw[-CRC_SIZE:])
            except FrameError as exc:
                out.append(Refusal(BAD_FRAME, 0, str(exc)))
                self._buffer.clear()
                break
            del self._buffer[:end]
            out.append(frame)
        return out


def error_frame(code: int, seq: int, detail: str = "") -> bytes:
    """An ERROR reply: the code, then its meaning and ``detail`` as the message."""
    meaning = ERROR_MEANINGS.get(code, "error")
    return Frame(ERROR_TYPE, seq, error_payload(code, f"{meaning}: {detail}" if detail else meaning)).encode()
