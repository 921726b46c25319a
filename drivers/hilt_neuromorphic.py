"""A neuromorphic board on the hilt board protocol (class 2, ``neuromorphic``).

The bytes are those of *hilt board protocol, version 1* (docs/protocols/board.md, our own
protocol document: the common messages, and its section "Neuromorphic boards (class 2)" for the
model payload, RUN_BATCH's ``arg``, the event samples, the spike results and counters 16-21),
encoded with :mod:`hilt.board_protocol` and :mod:`hilt.snn_model`, the codecs the board side
uses too. Over TCP (``tcp://host:port``) or a UART (a serial address).

What the driver does before a byte goes out: the network is checked against the limits the
board stated in IDENTIFY (neurons, fan-in, layers, inputs, weight and threshold bits, state
width) and against ``max_model_bytes``; an event raster against the loaded network's inputs,
``max_steps`` and ``max_events``. A model goes in chunks that fit ``max_payload`` and its CRC-32
is compared with the board's; a batch is cut to fit ``max_batch`` and ``max_payload``; results
are polled through busy replies with the board's estimate.

Errors: an error frame from the board is a :class:`BoardError` (an
:class:`~hilt.errors.InstrumentError` with the protocol's code and meaning); a reply that is not
a valid frame or payload a :class:`~hilt.errors.ProtocolError`; no reply an
:class:`~hilt.errors.InstrumentTimeout`. Requests that only read (IDENTIFY, STATUS,
READ_RESULTS, READ_COUNTERS) are sent again after a timeout, a bad frame or a dropped link.
After a reopened link the board may have restarted: the next run first compares the board's
model CRC-32 (STATUS) with the loaded network's and loads the network again if they differ.

Safe state: RESET level 0 (the running batch stopped and its results dropped; the model stays).

What was not verified: no hardware speaks this protocol yet; the driver is tested against
hilt's simulator (:mod:`hilt.sims.neuromorphic_board`) and hand-written bytes from the page.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from hilt import board_protocol as bp
from hilt.drivers.framed_link import FramedLink
from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.snn_model import BoardLimits, SnnNetwork, encode_network

log = logging.getLogger("hilt.drivers.hilt_neuromorphic")

#: READ_COUNTERS ids of docs/protocols/board.md: name -> id (16-21 are the neuromorphic class's).
COUNTER_IDS: dict[str, int] = {"batches": 1, "samples": 2, "latency_ns_last": 5, "spikes": 16,
                               "synaptic_ops": 17, "time_steps": 18, "spikes_last": 19,
                               "synaptic_ops_last": 20, "time_steps_last": 21}


class BoardError(InstrumentError):
    """The board refused a request with an error frame: ``code`` (docs/protocols/board.md,
    "Error codes") and the board's message."""


def run_arg(steps: int, probe: int) -> int:
    """RUN_BATCH ``arg`` of a neuromorphic board: ticks in bits 0-15, the probed layer in bits
    16-23 (0: the last layer; k: layer k - 1)."""
    return (probe << 16) | steps


class HiltNeuromorphicBoard(FramedLink):
    """A neuromorphic board (hilt board protocol): load a network, run event rasters, read
    spikes and counters.

    It declares no parameters: loading and running take arrays, and the board's limits are read
    once from IDENTIFY (:attr:`limits`). Use it through the ``neuromorphic_board`` kind.
    """

    model = "hilt_neuromorphic"
    kinds: ClassVar[tuple[str, ...]] = ("neuromorphic_board",)
    simulator = "hilt_neuromorphic"
    transport_settings: ClassVar[dict[str, Any]] = {"timeout": 30.0}
    #: Requests that only read (safe to send again after a timeout or a dropped link).
    RETRIED: ClassVar[frozenset[int]] = frozenset({bp.IDENTIFY, bp.STATUS, bp.READ_RESULTS, bp.READ_COUNTERS})
    MESSAGE_NAMES = bp.MESSAGE_NAMES
    device_error = BoardError
    #: An error frame without a message gets the document's meaning of its code.
    error_meanings = bp.ERROR_MEANINGS
    #: 1..65535: a board's reply to a frame it could not read carries sequence 0.
    SEQ_SKIPS_ZERO = True
    #: That reply (ERROR 1, sequence 0, board.md) answers the request in flight: a link error.
    BAD_FRAME_CODE = bp.BAD_FRAME
    #: Busy replies to READ_RESULTS before the batch counts as lost.
    MAX_BUSY_POLLS: ClassVar[int] = 1000

    def __init__(self, address: str | None = None, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self.info: dict[str, str] = {}
        self.limits = BoardLimits()
        self.max_payload = bp.MIN_PAYLOAD_LIMIT
        self.max_model_bytes = 0
        #: The network the board holds (as this driver loaded it), None before a load.
        self.network: SnnNetwork | None = None
        self._verify_model = False  # set by a reopened link: ask the board before the next run

    # -- frames --------------------------------------------------------------------------------
    def max_reply_payload(self) -> int | None:
        return self.max_payload + 64  # never wait for gigabytes a broken header announces

    def _decoded(self, decode: Any, payload: bytes, name: str) -> Any:
        try:
            return decode(payload)
        except bp.BoardPayloadError as exc:
            raise ProtocolError(f"{name} reply not understood: {exc}", instrument=self.name, command=name,
                                reply=payload[:64]) from None

    # -- life cycle ----------------------------------------------------------------------------
    def on_connect(self) -> None:
        fields = self._decoded(bp.decode_identify, self.exchange(bp.IDENTIFY), "IDENTIFY")
        if fields["class"] != "neuromorphic":
            raise ProtocolError(f"the board is an {fields['class']} board, not a neuromorphic one",
                                instrument=self.name, command="IDENTIFY")
        try:
            self.limits = BoardLimits.from_mapping(fields)
            self.max_payload = bp.identity_int(fields, "max_payload", low=bp.MIN_PAYLOAD_LIMIT,
                                               high=bp.MAX_PAYLOAD_LIMIT)
            self.max_model_bytes = bp.identity_int(fields, "max_model_bytes", low=1, high=2**32 - 1)
        except (ValueError, bp.BoardPayloadError) as exc:
            raise ProtocolError(f"IDENTIFY reply not understood: {exc}", instrument=self.name,
                                command="IDENTIFY") from None
        self.info = fields

    def identify(self) -> dict[str, str]:
        return {k: self.info.get(k, "") for k in ("vendor", "model", "serial", "firmware")}

    def describe(self) -> dict[str, Any]:
        """The board's limits (:class:`~hilt.snn_model.BoardLimits` fields) and sizes."""
        return self.limits.as_dict() | {"max_payload": self.max_payload, "max_model_bytes": self.max_model_bytes}

    def snapshot_parameters(self) -> dict[str, Any]:
        net = self.network
        return self.describe() | {"network": None if net is None else
                                  f"{net.n_inputs}-" + "-".join(str(la.n_out) for la in net.layers)}

    def safe_state(self) -> None:
        self.reset()

    def _on_reopen(self) -> None:
        super()._on_reopen()
        # A reopened link may mean a restarted board: the next run first asks STATUS whether the
        # board still holds our network (its CRC-32) and loads it again if not.
        self._verify_model = self.network is not None

    def _ensure_loaded(self) -> None:
        if not self._verify_model or self.network is None:
            return
        self._verify_model = False
        if self.status().model_crc != bp.model_crc(encode_network(self.network)):
            log.warning("%s: the board no longer holds the network (restarted?): loading it again", self.name)
            self.load(self.network)

    # -- the kind ------------------------------------------------------------------------------
    def _refuse(self, message: str, parameter: str, value: Any = None) -> LimitError:
        return LimitError(message, instrument=self.name, parameter=parameter, value=value)

    def check(self, network: SnnNetwork) -> None:
        """LimitError if this board cannot hold ``network`` (the first reason); sends nothing."""
        self._payload(network)

    def _payload(self, network: SnnNetwork) -> bytes:
        """The model payload of ``network`` if this board can hold it; LimitError (nothing sent)."""
        if not isinstance(network, SnnNetwork):
            raise self._refuse(f"expected an SnnNetwork, not {type(network).__name__} (build one with "
                               "hilt.instruments.snn_network.from_torch or from_nir)", "network")
        self.limits.check(network, self.name)
        payload = encode_network(network)
        if len(payload) > self.max_model_bytes:
            raise self._refuse(f"model of {len(payload)} bytes, the board takes {self.max_model_bytes}",
                               "network", len(payload))
        return payload

    def load(self, network: SnnNetwork) -> None:
        """Load ``network`` (checked first), in chunks; the board's CRC-32 must match ours."""
        payload = self._payload(network)
        self.network = None
        chunk = self.max_payload - 8
        received, complete, crc = 0, False, 0
        for offset in range(0, len(payload), chunk):
            reply = self.exchange(bp.LOAD_MODEL, bp.encode_load(offset, len(payload), payload[offset:offset + chunk]))
            received, complete, crc = self._decoded(bp.decode_loaded, reply, "LOAD_MODEL")
            if received != min(offset + chunk, len(payload)):
                raise ProtocolError(f"the board has {received} model bytes after {offset + chunk}",
                                    instrument=self.name, command="LOAD_MODEL")
        if not complete or crc != bp.model_crc(payload):
            raise ProtocolError(f"model CRC-32 {crc:#010x} from the board, {bp.model_crc(payload):#010x} sent "
                                f"(complete: {complete})", instrument=self.name, command="LOAD_MODEL")
        self.network = network.copy()

    def _events(self, events: Any, steps: int | None) -> tuple[np.ndarray, int]:
        net = self.network
        if net is None:
            raise self._refuse("no network loaded (load() first)", "events")
        raw = np.asarray(events)
        if raw.dtype.kind not in "iufb" or raw.ndim != 3 or raw.shape[2] != net.n_inputs or 0 in raw.shape[:2]:
            raise self._refuse(f"events of shape {raw.shape} and dtype {raw.dtype}: expected numbers of shape "
                               f"(ticks, batch, {net.n_inputs})", "events")
        if raw.dtype.kind == "f" and not np.all((raw == np.round(raw)) & np.isfinite(raw)):
            raise self._refuse("events must be whole counts", "events")
        lo, hi = (raw.min(), raw.max())
        if lo < 0 or hi > self.limits.max_events:
            bad = lo if lo < 0 else hi
            raise self._refuse(f"{bad} events in one tick on one line, outside 0..{self.limits.max_events}",
                               "events", float(bad))
        ticks = raw.shape[0]
        steps = ticks if steps is None else steps
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or not ticks <= steps <= \
                min(self.limits.max_steps, 0xFFFF):
            raise self._refuse(f"steps {steps!r}: expected an integer in {ticks}..{self.limits.max_steps} "
                               f"(at least the events' {ticks} ticks)", "steps", steps)
        return raw.astype(np.uint8), int(steps)

    def run(self, events: Any, steps: int | None = None, *, layer: int | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """Run an event raster through the loaded network.

        ``events``: (ticks, batch, n_inputs) event counts (0..``max_events``; a spike raster is
        counts of 0 and 1), time-major as hilt's torch models take them. ``steps``: ticks to
        run (default: the events' ticks; later ticks get no input). ``layer``: whose spikes to
        read (default the output layer). Returns (spikes (steps, batch, n) uint8, counts
        (batch, n) int64). Everything is checked before the first frame goes out.
        """
        x, steps = self._events(events, steps)
        self._ensure_loaded()
        net = self.network
        assert net is not None
        if layer is None:
            probe, n_out = 0, net.n_outputs
        elif isinstance(layer, (int, np.integer)) and not isinstance(layer, bool) and 0 <= layer < len(net.layers):
            probe, n_out = int(layer) + 1, net.layers[int(layer)].n_out
        else:
            raise self._refuse(f"layer {layer!r}: the network has layers 0..{len(net.layers) - 1}", "layer", layer)
        ticks, batch, n_in = x.shape
        sample_bytes, result_bytes = ticks * n_in, steps * n_out
        room = self.max_payload - bp.RUN_HEADER
        if sample_bytes > room or result_bytes > self.max_payload - bp.RESULTS_HEADER:
            raise self._refuse(f"one sample of {ticks} x {n_in} events or {steps} x {n_out} spikes does not fit "
                               f"a frame of {self.max_payload} bytes", "events")
        per_call = max(1, min(self.limits.max_batch, room // sample_bytes))
        samples = np.ascontiguousarray(x.transpose(1, 0, 2))  # (batch, ticks, n_in): one sample per row
        out = np.empty((batch, steps, n_out), np.uint8)
        for start in range(0, batch, per_call):
            part = samples[start:start + per_call]
            reply = self.exchange(bp.RUN_BATCH, bp.encode_run(len(part), sample_bytes, run_arg(steps, probe),
                                                              part.tobytes()))
            batch_id, expected_us = self._decoded(bp.decode_run_reply, reply, "RUN_BATCH")
            out[start:start + len(part)] = self._results(batch_id, len(part), result_bytes, expected_us) \
                .reshape(len(part), steps, n_out)
        if out.size and out.max() > 1:
            raise ProtocolError("a spike result other than 0 or 1", instrument=self.name, command="READ_RESULTS")
        spikes = out.transpose(1, 0, 2)
        return spikes, spikes.sum(0, dtype=np.int64)

    def _results(self, batch_id: int, count: int, size: int, expected_us: int) -> np.ndarray:
        got = bytearray()
        offset = polls = 0
        while offset < count:
            try:
                reply = self.exchange(bp.READ_RESULTS, bp.encode_read(batch_id, offset, count - offset))
            except BoardError as exc:
                polls += 1
                if exc.code != bp.BUSY or polls > self.MAX_BUSY_POLLS:
                    raise
                self.sleep(max(expected_us, 100) * 1e-6)
                continue
            rid, roff, n, rsize, data = self._decoded(bp.decode_results, reply, "READ_RESULTS")
            if rid != batch_id or roff != offset or rsize != size or not 1 <= n <= count - offset:
                raise ProtocolError(f"READ_RESULTS reply for batch {rid} at {roff}, {n} x {rsize} bytes; asked "
                                    f"batch {batch_id} at {offset}, {count - offset} x {size}",
                                    instrument=self.name, command="READ_RESULTS")
            got += data
            offset += n
        return np.frombuffer(bytes(got), np.uint8)

    def counters(self) -> dict[str, float]:
        """Since power-up or ``reset(forget=True)``: ``spikes``, ``synaptic_ops`` (input events
        times the neurons they reach), ``time_steps`` (ticks times samples), ``batches``,
        ``samples``; of the last batch: ``spikes_last``, ``synaptic_ops_last``,
        ``time_steps_last`` and ``latency_s`` (request to results ready, s). A counter the board
        does not keep is absent."""
        values = self._decoded(bp.decode_counters, self.exchange(bp.READ_COUNTERS), "READ_COUNTERS")
        out: dict[str, float] = {name: int(values[cid]) for name, cid in COUNTER_IDS.items() if cid in values}
        if "latency_ns_last" in out:
            out["latency_s"] = out.pop("latency_ns_last") * 1e-9
        return out

    def status(self) -> bp.Status:
        """The board's STATUS (state, model CRC, bytes loaded, last batch id, last error code)."""
        return self._decoded(bp.decode_status, self.exchange(bp.STATUS), "STATUS")

    def reset(self, forget: bool = False) -> None:
        """RESET level 0 (stop the batch, drop results) or, with ``forget``, level 1 (also the
        model and the counters)."""
        self.exchange(bp.RESET, bp.encode_reset(bp.RESET_ALL if forget else bp.RESET_ABORT))
        if forget:
            self.network = None
