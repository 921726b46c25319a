"""Simulated neuromorphic board: the hilt board protocol in front of an integer LIF chip.

Bytes as in docs/protocols/board.md (the common messages, and the section "Neuromorphic board"
for the model payload, RUN_BATCH samples and counters), decoded with :mod:`hilt.board_protocol`
and :mod:`hilt.snn_model`. Behind them a digital spiking chip of ``neurons`` physical neurons:
integer membrane state saturating at ``state_bits``, the per-tick update of
:mod:`hilt.snn_model`, and hidden per-neuron mismatch frozen per world seed: each physical
neuron's threshold is ``round(threshold x threshold_rel)`` and its leak retention
``leak x leak_rel`` (an integrate-and-fire neuron gets a leak too), drawn once with
:func:`hilt.sims.physics.errors.draw_neuron_errors` from the error preset (``errors``, default
the world's; ``threshold_mismatch`` and ``leak_mismatch`` override the preset's relative
spreads). A network's neurons occupy the physical neurons in order, layer after layer, so a
network loaded again meets the same mismatch. Nothing on the wire reveals it; IDENTIFY states
the board's limits.

The latency model: ``tick_ns`` per tick plus ``synop_ns`` per synaptic operation, sample after
sample (reported by RUN_BATCH as expected microseconds and by the latency counter). A batch runs
at once, so READ_RESULTS never answers busy. Served over TCP only; a frame whose payload exceeds
``max_payload`` is refused with error 7 once it has arrived whole (the document's board refuses
on the header and discards the rest as it comes: :mod:`hilt.sims.fpga_accelerator` does that).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hilt import board_protocol as bp
from hilt.sims.framed import FramedInstrument, FrameReplyError
from hilt.snn_model import BoardLimits, ModelFormatError, SnnNetwork, decode_network, leak_factor

#: Counter ids of the neuromorphic class (docs/protocols/board.md): totals since RESET level 1,
#: then the last batch's.
SPIKES_TOTAL, SYNOPS_TOTAL, STEPS_TOTAL, SPIKES_LAST, SYNOPS_LAST, STEPS_LAST = 16, 17, 18, 19, 20, 21


def decode_run_arg(arg: int) -> tuple[int, int]:
    """(steps, probe) of a neuromorphic RUN_BATCH ``arg``: bits 0-15 ticks to run, bits 16-23 the
    layer whose spikes are returned (0: the last layer, k: layer k - 1), bits 24-31 zero."""
    if arg >> 24:
        raise bp.BoardPayloadError(f"RUN_BATCH arg {arg:#010x}: bits 24-31 are reserved (0)", bp.OUT_OF_RANGE)
    return arg & 0xFFFF, (arg >> 16) & 0xFF


class LifChip:
    """The integer LIF dynamics of one loaded network on the chip's physical neurons."""

    def __init__(self, net: SnnNetwork, threshold_rel: np.ndarray, leak_rel: np.ndarray,
                 state_bits: int) -> None:
        self.net = net
        self.smax = 2 ** (state_bits - 1) - 1
        self.thresholds: list[np.ndarray] = []
        self.lost: list[np.ndarray] = []  # Q0.16 part of v lost per tick, per neuron
        start = 0
        for la in net.layers:
            rel_t = threshold_rel[start:start + la.n_out]
            rel_l = leak_rel[start:start + la.n_out]
            start += la.n_out
            self.thresholds.append(np.maximum(1, np.round(la.threshold * rel_t)).astype(np.int64))
            keep = np.clip(np.round(leak_factor(la.leak_mode, la.leak) * rel_l), 0, 65536).astype(np.int64)
            self.lost.append(65536 - keep)

    def run(self, events: np.ndarray, steps: int, probe: int) -> tuple[np.ndarray, int, int]:
        """``events`` (batch, ticks, n_inputs) counts -> (the probed layer's raster (batch, steps,
        n) as uint8, spikes of every layer, synaptic operations)."""
        batch = events.shape[0]
        x = np.zeros((batch, steps, self.net.n_inputs), np.int64)
        x[:, :events.shape[1]] = events
        spikes = synops = 0
        probed = None
        for i, la in enumerate(self.net.layers):
            w = la.weight.astype(np.int64)
            current = x @ w.T  # (batch, steps, n_out)
            synops += int(x.sum()) * la.n_out  # each input event reaches every neuron of the layer
            thr, lost = self.thresholds[i], self.lost[i]
            bias, v_init = la.bias.astype(np.int64), la.v_init.astype(np.int64)
            v = np.zeros((batch, la.n_out), np.int64)
            ref = np.zeros((batch, la.n_out), np.int64)
            out = np.zeros((batch, steps, la.n_out), np.int64)
            for t in range(steps):
                decay = np.sign(v) * ((np.abs(v) * lost) >> 16)  # truncated toward zero
                drive = current[:, t] + bias + (v_init if t == 0 else 0)
                v = np.clip(v - decay + np.where(ref == 0, drive, 0), -self.smax - 1, self.smax)
                fired = v >= thr
                if la.reset == "zero":
                    v = np.where(fired, 0, v)
                else:
                    v = v - fired * thr
                if la.refractory:
                    ref = np.where(fired, la.refractory, np.maximum(ref - 1, 0))
                out[:, t] = fired
            spikes += int(out.sum())
            if i == probe:
                probed = out
            x = out
        assert probed is not None
        return probed.astype(np.uint8), spikes, synops


class SimNeuromorphicBoard(FramedInstrument):
    model = "hilt_neuromorphic"
    description = "neuromorphic board, integer LIF chip with mismatch (hilt board protocol, TCP)"

    probe_options = {"neurons": 64}

    def __init__(self, *args: Any, neurons: int = 4096, fan_in: int = 1024, max_layers: int = 8,
                 inputs: int = 1024, weight_bits: int = 8, threshold_bits: int = 16,
                 state_bits: int = 24, max_steps: int = 1024, max_batch: int = 4096,
                 max_events: int = 15, max_payload: int = 1 << 20, errors: str | None = None,
                 threshold_mismatch: float | None = None, leak_mismatch: float | None = None,
                 tick_ns: int = 1000, synop_ns: float = 0.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from hilt.sims.physics.errors import draw_neuron_errors, error_levels

        self.limits = BoardLimits(neurons, fan_in, max_layers, inputs, weight_bits, threshold_bits,
                                  state_bits, max_steps, max_batch, max_events)
        self.max_payload = int(max_payload)
        self.max_model_bytes = 16 << 20
        self.errors = errors or self.world.errors
        self.tick_ns, self.synop_ns = int(tick_ns), float(synop_ns)
        seed = int(self.world.rng(f"{self.name}.chip").integers(2**62))
        over = {k: float(v) for k, v in (("threshold_mismatch", threshold_mismatch),
                                         ("leak_mismatch", leak_mismatch)) if v is not None}
        e = draw_neuron_errors(error_levels(self.errors, **over), neurons, seed)
        self._threshold_rel = e.threshold_rel.double().numpy()
        self._leak_rel = e.leak_rel.double().numpy()
        self._reset_all()

    # -- state ---------------------------------------------------------------------------------
    def _reset_all(self) -> None:
        self._model = bytearray()
        self._total = 0
        self.chip: LifChip | None = None
        self.model_crc = 0
        self.counters = dict.fromkeys((1, 2, 5, SPIKES_TOTAL, SYNOPS_TOTAL, STEPS_TOTAL, SPIKES_LAST,
                                       SYNOPS_LAST, STEPS_LAST), 0)
        self._forget_results()
        self.last_error = 0
        self.batch_id = 0

    def _forget_results(self) -> None:
        self._results: bytes = b""
        self._result_bytes = 0
        self._result_id = 0

    def identity(self) -> dict[str, Any]:
        return {"class": "neuromorphic", "vendor": "hilt", "model": "NMB-1 simulated neuromorphic board",
                "serial": self.name, "firmware": "1.0", "protocol": 1, "max_payload": self.max_payload,
                "max_model_bytes": self.max_model_bytes} | self.limits.as_dict()

    def status(self) -> bp.Status:
        state = bp.STATE_READY if self.chip is not None else (
            bp.STATE_LOADING if self._total else bp.STATE_NO_MODEL)
        return bp.Status(state, bool(self._result_id), self.model_crc, len(self._model), self._total,
                         self.batch_id, self.last_error)

    # -- frames --------------------------------------------------------------------------------
    def handle_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        try:
            return self.reply_type(ftype), self._handle(ftype, payload)
        except bp.BoardPayloadError as exc:
            self.last_error = exc.code
            raise FrameReplyError(exc.code, str(exc)) from None
        except FrameReplyError as exc:
            self.last_error = exc.code
            raise

    def _refuse(self, code: int, message: str) -> bp.BoardPayloadError:
        return bp.BoardPayloadError(message, code)

    def _handle(self, ftype: int, payload: bytes) -> bytes:
        if len(payload) > self.max_payload:
            raise self._refuse(bp.TOO_LARGE, f"{len(payload)} bytes, max_payload is {self.max_payload}")
        if ftype == bp.IDENTIFY:
            bp.check_empty(payload, "IDENTIFY")
            return bp.encode_identify(self.identity())
        if ftype == bp.STATUS:
            bp.check_empty(payload, "STATUS")
            return bp.encode_status(self.status())
        if ftype == bp.LOAD_MODEL:
            return self._load(payload)
        if ftype == bp.RUN_BATCH:
            return self._run(payload)
        if ftype == bp.READ_RESULTS:
            return self._read(payload)
        if ftype == bp.READ_COUNTERS:
            bp.check_empty(payload, "READ_COUNTERS")
            return bp.encode_counters(self.counters)
        if ftype == bp.RESET:
            if bp.decode_reset(payload) == bp.RESET_ALL:
                self._reset_all()
            else:
                self._forget_results()
            return b""
        self.unknown_command(f"frame type {ftype:#04x}")
        raise self._refuse(bp.UNKNOWN_TYPE, f"type {ftype:#04x}")

    def _load(self, payload: bytes) -> bytes:
        offset, total, chunk = bp.decode_load(payload)
        if total > self.max_model_bytes:
            raise self._refuse(bp.OUT_OF_RANGE, f"model of {total} bytes, max_model_bytes is {self.max_model_bytes}")
        if offset == 0:  # a new model: the old one is gone
            self._model, self._total, self.chip, self.model_crc = bytearray(), total, None, 0
            self._forget_results()
        elif offset != len(self._model) or total != self._total:
            raise self._refuse(bp.OUT_OF_ORDER, f"chunk at {offset} of {total}; expected {len(self._model)} "
                               f"of {self._total}")
        self._model += chunk
        complete = len(self._model) == total
        if complete:
            try:
                net = decode_network(bytes(self._model))
                self.limits.check(net)
            except ModelFormatError as exc:
                self._model, self._total = bytearray(), 0
                raise self._refuse(bp.UNSUPPORTED if exc.unsupported else bp.BAD_MODEL, str(exc)) from None
            except ValueError as exc:  # LimitError: a network this board cannot hold
                self._model, self._total = bytearray(), 0
                raise self._refuse(bp.UNSUPPORTED, str(exc)) from None
            self.chip = LifChip(net, self._threshold_rel, self._leak_rel, self.limits.state_bits)
            self.model_crc = bp.model_crc(bytes(self._model))
        return bp.encode_loaded(len(self._model), complete, self.model_crc)

    def _run(self, payload: bytes) -> bytes:
        batch, sample_bytes, arg, samples = bp.decode_run(payload)
        if self.chip is None:
            raise self._refuse(bp.NO_MODEL, "load a network first")
        net, lim = self.chip.net, self.limits
        steps, probe = decode_run_arg(arg)
        if not 1 <= batch <= lim.max_batch:
            raise self._refuse(bp.OUT_OF_RANGE, f"batch {batch} (1..{lim.max_batch})")
        if not 1 <= steps <= lim.max_steps:
            raise self._refuse(bp.OUT_OF_RANGE, f"{steps} steps (1..{lim.max_steps})")
        if probe > len(net.layers):
            raise self._refuse(bp.OUT_OF_RANGE, f"probe {probe}: the network has {len(net.layers)} layers")
        if sample_bytes == 0 or sample_bytes % net.n_inputs or sample_bytes // net.n_inputs > steps:
            raise self._refuse(bp.OUT_OF_RANGE, f"sample of {sample_bytes} bytes: expected ticks x {net.n_inputs} "
                               f"inputs, at most {steps} ticks")
        events = np.frombuffer(samples, np.uint8).reshape(batch, sample_bytes // net.n_inputs, net.n_inputs)
        if events.size and events.max() > lim.max_events:
            raise self._refuse(bp.OUT_OF_RANGE, f"{int(events.max())} events on one line in one tick "
                               f"(at most {lim.max_events})")
        layer = len(net.layers) - 1 if probe == 0 else probe - 1
        raster, spikes, synops = self.chip.run(events, steps, layer)
        latency_ns = int(batch * steps * self.tick_ns + synops * self.synop_ns)
        self.batch_id = self.batch_id % 0xFFFFFFFF + 1  # 1, 2, ..., 2^32 - 1, 1, ...
        self._results, self._result_bytes, self._result_id = raster.tobytes(), steps * raster.shape[2], self.batch_id
        c = self.counters
        c[1] += 1
        c[2] += batch
        c[5] = latency_ns
        c[SPIKES_LAST], c[SYNOPS_LAST], c[STEPS_LAST] = spikes, synops, batch * steps
        c[SPIKES_TOTAL] += spikes
        c[SYNOPS_TOTAL] += synops
        c[STEPS_TOTAL] += batch * steps
        return bp.encode_run_reply(self.batch_id, -(-latency_ns // 1000))

    def _read(self, payload: bytes) -> bytes:
        batch_id, offset, count = bp.decode_read(payload)
        if not self._result_id or batch_id != self._result_id:
            raise self._refuse(bp.NO_RESULTS, f"batch {batch_id} (the board holds "
                               f"{self._result_id or 'none'})")
        size = self._result_bytes
        n = len(self._results) // size
        if offset >= n:
            raise self._refuse(bp.OUT_OF_RANGE, f"offset {offset}: batch {batch_id} has {n} results")
        # As many as asked and there are, as fit max_payload; at least one.
        count = max(1, min(count, n - offset, (self.max_payload - bp.RESULTS_HEADER) // size))
        return bp.encode_results(batch_id, offset, size, self._results[offset * size:(offset + count) * size])

    def state(self) -> dict[str, Any]:
        net = self.chip.net if self.chip is not None else None
        return {"loaded": net is not None, "neurons_used": net.n_neurons if net else 0,
                "batches": self.counters[1], "errors": self.errors}
