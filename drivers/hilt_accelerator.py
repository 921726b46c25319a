"""An int8 inference accelerator (an FPGA design) speaking the hilt board protocol, over TCP or
UART.

The bytes are those of *hilt board protocol, version 1* (docs/protocols/board.md, our own
protocol document, written byte by byte so firmware authors can implement it), encoded and
decoded by :mod:`hilt.board_protocol`:

=====  ==============  =============================================  ==============================
type   name            request                                        reply
=====  ==============  =============================================  ==============================
0x01   IDENTIFY        (none)                                         0x81 ``key=value`` lines
0x02   STATUS          (none)                                         0x82 state, model CRC, ...
0x10   LOAD_MODEL      offset u32, total u32, chunk                   0x90 received, complete, CRC-32
0x20   RUN_BATCH       batch u32, sample_bytes u32, arg u32, samples  0xA0 batch id, expected us
0x21   READ_RESULTS    batch id u32, offset u32, count u32            0xA1 header, int8 results
0x30   READ_COUNTERS   (none)                                         0xB0 id/value pairs
0x40   RESET           level u8                                       0xC0 (none)
0xFF   ERROR (reply)   code u16, UTF-8 message
=====  ==============  =============================================  ==============================

An address ``tcp://host:port`` is the board's network port; a serial device path
(``/dev/ttyUSB0``, a pty) or ``socket://`` URL its UART (8N1, ``baudrate`` option, 115200 by
default). The board says what it can do in its IDENTIFY reply (rounding mode, accumulator width,
requantisers, per-channel parameters, layer types, sizes); :meth:`HiltAccelerator.check_model`
holds a model to that before a byte is sent, and :meth:`HiltAccelerator.run` holds every batch
to the model. Models and batches are cut to the board's ``max_payload`` and ``max_batch``.

A reply that is not a valid frame (bad CRC, magic or length), has the wrong type or a payload the
document does not allow is a :class:`BoardLinkError`; no reply at all a :class:`BoardTimeout`
(both :class:`~hilt.errors.ProtocolError`). The link then finds its place again before the next
request: a TCP link opens a new connection, a UART is drained until it stays quiet (longer than
the board's 100 ms frame gap, so a half-received frame is dropped at the board too). Requests
that only read (IDENTIFY, STATUS, READ_RESULTS, READ_COUNTERS) are sent again; RUN_BATCH is too
(its results do not depend on being run twice; the board's counters count both); an interrupted
model upload starts again from offset 0. An error reply is a :class:`BoardError` with the board's
code. After a reopened link the board may have restarted: the next run compares the board's
model CRC with the loaded model's and uploads the model again if they differ.

What was not verified: no FPGA board has spoken this protocol to this driver yet; it is tested
against the simulator (:mod:`hilt.sims.fpga_accelerator`) over TCP and a pseudo-terminal, and
against hand-written byte literals from the document.
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

import numpy as np

from hilt import board_protocol as bp
from hilt.drivers.framed_link import FramedLink
from hilt.errors import InstrumentError, InstrumentTimeout, LimitError, ProtocolError

log = logging.getLogger("hilt.drivers.hilt_accelerator")


class BoardLinkError(ProtocolError):
    """A reply the protocol does not allow (garbled, truncated, wrong type or shape) or none."""


class BoardTimeout(BoardLinkError, InstrumentTimeout):
    """No complete reply within the link's timeout (a lost frame, a board that stopped)."""


class BoardError(InstrumentError):
    """The board answered with an error frame: ``code`` (docs/protocols/board.md) and its text."""


class BoardBusyError(BoardError):
    """The board stayed busy longer than ``result_timeout`` (its batch never finished)."""


#: Accelerator IDENTIFY keys that are integers: key -> (lowest, highest) accepted.
LIMIT_INTEGERS: dict[str, tuple[int, int]] = {
    "max_payload": (bp.MIN_PAYLOAD_LIMIT, bp.MAX_PAYLOAD_LIMIT), "max_model_bytes": (1, 2**32 - 1),
    "max_batch": (1, 2**32 - 1), "acc_bits": (8, 32), "per_channel": (0, 1), "weight_zero_point": (0, 1),
    "max_layers": (1, 255), "max_features": (1, 2**32 - 1), "max_channels": (1, 2**32 - 1),
    "max_kernel": (1, 255), "clock_hz": (1, 2**63 - 1),
}

#: What an accelerator that leaves a key out is taken to have (the sizes: no limit of its own).
LIMIT_DEFAULTS: dict[str, int] = {"per_channel": 0, "weight_zero_point": 0, "max_layers": 255,
                                  "max_features": 2**32 - 1, "max_channels": 2**32 - 1, "max_kernel": 255,
                                  "clock_hz": 1}


class HiltAccelerator(FramedLink):
    """An int8 accelerator behind the hilt board protocol (TCP or UART).

    It declares no parameters: what it does takes arguments (a model, a batch) and what it is
    comes from IDENTIFY once (:attr:`limits`). ``run`` takes and gives int8 values: quantising
    float inputs and dequantising outputs is the model's business (its scales), not the board's.
    """

    model = "hilt_accelerator"
    kinds: ClassVar[tuple[str, ...]] = ("accelerator",)
    simulator = "fpga_accelerator"
    transport_settings: ClassVar[dict[str, Any]] = {"timeout": 10.0, "baudrate": 115200}
    #: Requests sent again after a link failure (see the module docstring).
    RETRIED: ClassVar[frozenset[int]] = frozenset({bp.IDENTIFY, bp.STATUS, bp.READ_RESULTS, bp.READ_COUNTERS,
                                                   bp.RUN_BATCH})
    MESSAGE_NAMES = bp.MESSAGE_NAMES
    link_error = BoardLinkError
    device_error = BoardError
    timeout_error = BoardTimeout
    #: The board answers a frame it could not read with ERROR 1 and sequence 0 (board.md).
    BAD_FRAME_CODE = bp.BAD_FRAME
    #: Uploads of a model tried after a link failure cut one short.
    LOAD_ATTEMPTS: ClassVar[int] = 3

    def __init__(self, address: str | None = None, *, result_timeout: float = 10.0, **kwargs: Any) -> None:
        """``result_timeout``: seconds of instrument time a batch may take (busy replies are
        waited out that long, then :class:`BoardBusyError`)."""
        self.result_timeout = float(result_timeout)
        super().__init__(address, **kwargs)
        self.info: dict[str, str] = {}
        self.limits: dict[str, Any] = {}
        self.loaded: bp.AcceleratorModel | None = None
        self.loaded_crc = 0
        self._model_bytes = b""
        self._check_board_model = False
        self.samples_run = 0

    # -- frames --------------------------------------------------------------------------------
    def check_frame_request(self, ftype: int, payload: bytes, name: str) -> None:
        max_payload = self.limits.get("max_payload", bp.MIN_PAYLOAD_LIMIT)
        if len(payload) > max_payload:
            raise LimitError(f"{name} of {len(payload)} bytes, the board takes {max_payload}",
                             instrument=self.name, parameter="frame")

    def _decoded(self, decode: Any, payload: bytes, name: str) -> Any:
        try:
            return decode(payload)
        except bp.BoardPayloadError as exc:
            raise BoardLinkError(f"{name} reply not understood: {exc}", instrument=self.name, command=name,
                                 reply=payload[:64]) from None

    # -- life cycle ----------------------------------------------------------------------------
    def on_connect(self) -> None:
        info = self._decoded(bp.decode_identify, self.exchange(bp.IDENTIFY), "IDENTIFY")
        if info["class"] != "accelerator":
            raise BoardLinkError(f"the board is a {info['class']} board, not an accelerator", instrument=self.name,
                                 command="IDENTIFY")
        limits: dict[str, Any] = {}
        try:
            for key, (low, high) in LIMIT_INTEGERS.items():
                limits[key] = bp.identity_int(info, key, LIMIT_DEFAULTS.get(key), low, high)
        except bp.BoardPayloadError as exc:
            raise BoardLinkError(str(exc), instrument=self.name, command="IDENTIFY") from None
        limits["rounding"] = info.get("rounding", "")
        if limits["rounding"] not in bp.ROUNDING_CODES:
            raise BoardLinkError(f"IDENTIFY reply: rounding {limits['rounding']!r} is not one of "
                                 f"{', '.join(bp.ROUNDING_CODES)}", instrument=self.name, command="IDENTIFY")
        limits["requant"] = bp.identity_list(info, "requant", ("multiplier",))
        limits["layers"] = bp.identity_list(info, "layers", ("dense",))
        self.info, self.limits = info, limits

    def identify(self) -> dict[str, str]:
        return {k: self.info.get(k, "") for k in ("vendor", "model", "serial", "firmware")}

    def describe(self) -> dict[str, Any]:
        """What the board can run, from IDENTIFY: rounding, acc_bits, requant, per_channel,
        weight_zero_point, layers and the sizes (a copy)."""
        return dict(self.limits)

    def snapshot_parameters(self) -> dict[str, Any]:
        keys = ("rounding", "acc_bits", "max_batch", "max_payload", "clock_hz")
        return {k: self.limits.get(k) for k in keys} | {"model_crc": f"{self.loaded_crc:08x}",
                                                       "samples_run": self.samples_run}

    def safe_state(self) -> None:
        """RESET level 0: the running batch aborted, results dropped; the model stays."""
        self.reset(bp.RESET_ABORT)

    def _on_reopen(self) -> None:
        super()._on_reopen()
        self._check_board_model = True  # the board may have restarted and lost the model

    # -- what the board reports ----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        s = self._decoded(bp.decode_status, self.exchange(bp.STATUS), "STATUS")
        return {"state": s.state_name, "results_ready": s.results_ready, "model_crc": s.model_crc,
                "received": s.received, "total": s.total, "batch_id": s.batch_id, "last_error": s.last_error}

    def read_counters(self) -> dict[str, int]:
        """The board's counters by name (cycles, latency_ns_last, ...; unknown ids as ``id_N``)."""
        values = self._decoded(bp.decode_counters, self.exchange(bp.READ_COUNTERS), "READ_COUNTERS")
        return {bp.COUNTERS.get(cid, f"id_{cid}"): v for cid, v in values.items()}

    def reset(self, level: int = bp.RESET_ABORT) -> None:
        if level not in (bp.RESET_ABORT, bp.RESET_ALL):
            raise LimitError(f"reset level {level!r}: 0 (abort the batch) or 1 (forget everything)",
                             instrument=self.name, parameter="reset", value=level)
        self.exchange(bp.RESET, bp.encode_reset(level))
        if level == bp.RESET_ALL:
            self.loaded, self.loaded_crc, self._model_bytes = None, 0, b""

    # -- the model -----------------------------------------------------------------------------
    def _refuse(self, message: str, parameter: str = "model", value: Any = None) -> LimitError:
        return LimitError(message, instrument=self.name, parameter=parameter, value=value)

    def check_model(self, model: bp.AcceleratorModel) -> bytes:
        """The model's payload if this board can run it; LimitError naming the first thing it
        cannot (nothing is sent)."""
        if not isinstance(model, bp.AcceleratorModel):
            raise self._refuse(f"{type(model).__name__} is not an AcceleratorModel")
        problem = bp.model_problem(model, self.limits)
        if problem:
            raise self._refuse(problem)
        return model.encode()

    def load_model(self, model: bp.AcceleratorModel) -> int:
        """Check ``model`` against the board, upload it in chunks and compare the board's CRC-32
        with ours; returns the CRC. The board keeps it until RESET level 1 or a power cycle."""
        data = self.check_model(model)
        crc = self._upload(data)
        self.loaded, self.loaded_crc, self._model_bytes = model, crc, data
        self._check_board_model = False
        return crc

    def _upload(self, data: bytes) -> int:
        chunk = self.limits["max_payload"] - 8
        expected = bp.model_crc(data)
        for attempt in range(self.LOAD_ATTEMPTS):
            try:
                for offset in range(0, len(data), chunk):
                    part = data[offset:offset + chunk]
                    reply = self._busy_wait(lambda o=offset, p=part: self.exchange(
                        bp.LOAD_MODEL, bp.encode_load(o, len(data), p)), "LOAD_MODEL")
                    received, complete, crc = self._decoded(bp.decode_loaded, reply, "LOAD_MODEL")
                    if received != offset + len(part) or complete != (received == len(data)):
                        raise BoardLinkError(f"LOAD_MODEL reply: {received} bytes received after {offset + len(part)}",
                                             instrument=self.name, command="LOAD_MODEL")
                if crc != expected:
                    raise BoardLinkError(f"the board's model CRC {crc:08x} is not the model's {expected:08x}",
                                         instrument=self.name, command="LOAD_MODEL")
                return crc
            except (BoardLinkError, InstrumentTimeout) as exc:
                if attempt == self.LOAD_ATTEMPTS - 1:
                    raise
                log.warning("%s: model upload failed (%s); starting again from offset 0", self.name, exc)
                self.transport.recover()
            except BoardError as exc:
                if exc.code != bp.OUT_OF_ORDER or attempt == self.LOAD_ATTEMPTS - 1:
                    raise
                log.warning("%s: the board lost the upload's place (%s); starting again", self.name, exc)
        raise AssertionError("unreachable")

    def _busy_wait(self, call: Any, what: str, hint_s: float = 1e-3) -> bytes:
        """``call()``, asked again while the board answers busy, waiting ``hint_s`` and then
        longer, up to ``result_timeout`` of instrument time in all."""
        waited = 0.0
        pause = max(hint_s, 1e-4)
        while True:
            try:
                return call()
            except BoardError as exc:
                if exc.code != bp.BUSY:
                    raise
                if waited >= self.result_timeout:
                    raise BoardBusyError(bp.BUSY, f"still busy after {waited:.3g} s ({what})", instrument=self.name,
                                         command=what) from None
                self.sleep(pause)
                waited += pause
                pause = min(pause * 2, 0.1, max(self.result_timeout - waited, 1e-4))

    # -- batches -------------------------------------------------------------------------------
    def _check_samples(self, samples: Any) -> np.ndarray:
        raw = np.asarray(samples)
        if raw.dtype.kind not in "iu":
            raise self._refuse(f"samples of dtype {raw.dtype}: the board takes int8 values (quantise first)",
                               "samples")
        if raw.size and (raw.min() < -128 or raw.max() > 127):
            bad = raw.min() if raw.min() < -128 else raw.max()
            raise self._refuse(f"sample value {int(bad)} outside the int8 range -128..127", "samples", int(bad))
        if self.loaded is None:
            raise self._refuse("no model loaded: load_model() first", "samples")
        n = self.loaded.input_size
        if raw.ndim < 1 or raw.size != len(raw) * n or (raw.ndim > 1 and math.prod(raw.shape[1:]) != n):
            raise self._refuse(f"samples of shape {raw.shape}: the model takes (batch, {n}) or "
                               f"(batch, {', '.join(map(str, self.loaded.input_shape))})", "samples")
        return np.ascontiguousarray(raw.reshape(len(raw), n), dtype=np.int8)

    def run(self, samples: np.ndarray) -> np.ndarray:
        """int8 results ``(batch, output size)`` of the loaded model for int8 ``samples`` (batch,
        input size) or (batch, C, H, W), in as many RUN_BATCH calls as ``max_batch`` and
        ``max_payload`` need. Every value is checked before the first frame goes out."""
        x = self._check_samples(samples)
        assert self.loaded is not None
        self._ensure_board_has_model()
        n_in, n_out = x.shape[1], self.loaded.output_size
        per_call = max(1, min(self.limits["max_batch"], (self.limits["max_payload"] - bp.RUN_HEADER) // n_in))
        out = np.empty((len(x), n_out), dtype=np.int8)
        for start in range(0, len(x), per_call):
            chunk = x[start:start + per_call]
            reply = self._busy_wait(lambda c=chunk: self.exchange(
                bp.RUN_BATCH, bp.encode_run(len(c), n_in, 0, c.tobytes())), "RUN_BATCH")
            batch_id, expected_us = self._decoded(bp.decode_run_reply, reply, "RUN_BATCH")
            if expected_us:
                self.sleep(expected_us * 1e-6)
            out[start:start + len(chunk)] = self._read_results(batch_id, len(chunk), n_out, expected_us * 1e-6)
        self.samples_run += len(x)
        return out

    def _read_results(self, batch_id: int, batch: int, n_out: int, hint_s: float) -> np.ndarray:
        rows: list[np.ndarray] = []
        got = 0
        while got < batch:
            reply = self._busy_wait(lambda g=got: self.exchange(bp.READ_RESULTS, bp.encode_read(batch_id, g, batch - g)),
                                    "READ_RESULTS", hint_s / 4)
            rid, offset, count, size, data = self._decoded(bp.decode_results, reply, "READ_RESULTS")
            if rid != batch_id or offset != got or size != n_out or not 1 <= count <= batch - got:
                raise BoardLinkError(f"READ_RESULTS reply for batch {rid} at {offset}, {count} x {size} bytes "
                                     f"(asked batch {batch_id} at {got}, results of {n_out} bytes)",
                                     instrument=self.name, command="READ_RESULTS")
            rows.append(np.frombuffer(data, dtype=np.int8).reshape(count, size))
            got += count
        return np.concatenate(rows)

    def _ensure_board_has_model(self) -> None:
        if not self._check_board_model:
            return
        state = self.status()
        if state["model_crc"] != self.loaded_crc or state["state"] not in ("ready", "running"):
            log.warning("%s: after a reconnect the board holds model %08x, not %08x: loading it again",
                        self.name, state["model_crc"], self.loaded_crc)
            self._upload(self._model_bytes)
        self._check_board_model = False
