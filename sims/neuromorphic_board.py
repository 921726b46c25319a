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
at once, so READ_RESULTS never answers busy. The protocol state and the link's framing (a frame
whose header announces more than ``max_payload`` refused at once, its bytes discarded as they
come) are :mod:`hilt.protocol_board`'s, as on the accelerator; served on TCP and, on a
pseudo-terminal, as the board's UART, with the faults of :mod:`hilt.sims.board_session`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hilt import board_protocol as bp
from hilt.protocol_board import BoardRefusal, ProtocolBoard
from hilt.sims.board_session import BoardInstrument
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


class NeuromorphicBoard(ProtocolBoard):
    """The protocol state of the simulated neuromorphic board (class 2): the common protocol of
    :class:`hilt.protocol_board.ProtocolBoard`, the network format of :mod:`hilt.snn_model` on a
    :class:`LifChip` with the board's mismatch, and counters 1, 2, 5 and 16 .. 21."""

    board_class = "neuromorphic"
    counter_ids = (1, 2, 5, SPIKES_TOTAL, SYNOPS_TOTAL, STEPS_TOTAL, SPIKES_LAST, SYNOPS_LAST, STEPS_LAST)

    def __init__(self, serial: str, limits: BoardLimits, threshold_rel: np.ndarray, leak_rel: np.ndarray, *,
                 max_payload: int, tick_ns: int, synop_ns: float) -> None:
        self.serial, self.chip_limits = serial, limits
        self.threshold_rel, self.leak_rel = threshold_rel, leak_rel
        self.tick_ns, self.synop_ns = tick_ns, synop_ns
        self._done: np.ndarray | None = None
        super().__init__(max_payload=max_payload, max_model_bytes=16 << 20, max_batch=limits.max_batch)

    def class_keys(self) -> dict[str, object]:
        return {"vendor": "hilt", "model": "NMB-1 simulated neuromorphic board", "serial": self.serial,
                "firmware": "1.0"} | self.chip_limits.as_dict()

    def decode_model(self, data: bytes) -> LifChip:
        try:
            net = decode_network(data)
            self.chip_limits.check(net)
        except ModelFormatError as exc:
            raise BoardRefusal(bp.UNSUPPORTED if exc.unsupported else bp.BAD_MODEL, str(exc)) from None
        except ValueError as exc:  # LimitError: a network this board cannot hold
            raise BoardRefusal(bp.UNSUPPORTED, str(exc)) from None
        return LifChip(net, self.threshold_rel, self.leak_rel, self.chip_limits.state_bits)

    def start(self, batch: int, sample_bytes: int, arg: int, samples: bytes) -> int:
        chip: LifChip = self.model
        net, lim = chip.net, self.chip_limits
        steps, probe = decode_run_arg(arg)
        if not 1 <= steps <= lim.max_steps:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"{steps} steps (1..{lim.max_steps})")
        if probe > len(net.layers):
            raise BoardRefusal(bp.OUT_OF_RANGE, f"probe {probe}: the network has {len(net.layers)} layers")
        if sample_bytes == 0 or sample_bytes % net.n_inputs or sample_bytes // net.n_inputs > steps:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"sample of {sample_bytes} bytes: expected ticks x "
                                                f"{net.n_inputs} inputs, at most {steps} ticks")
        events = np.frombuffer(samples, np.uint8).reshape(batch, sample_bytes // net.n_inputs, net.n_inputs)
        if events.size and events.max() > lim.max_events:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"{int(events.max())} events on one line in one tick "
                                                f"(at most {lim.max_events})")
        layer = len(net.layers) - 1 if probe == 0 else probe - 1
        raster, spikes, synops = chip.run(events, steps, layer)
        latency_ns = int(batch * steps * self.tick_ns + synops * self.synop_ns)
        self._done = raster.reshape(batch, -1)  # the batch runs at once: READ_RESULTS never answers busy
        c = self.counters
        c[5] = latency_ns
        c[SPIKES_LAST], c[SYNOPS_LAST], c[STEPS_LAST] = spikes, synops, batch * steps
        c[SPIKES_TOTAL] += spikes
        c[SYNOPS_TOTAL] += synops
        c[STEPS_TOTAL] += batch * steps
        return -(-latency_ns // 1000)

    def poll(self) -> np.ndarray | None:
        done, self._done = self._done, None
        return done


class SimNeuromorphicBoard(BoardInstrument):
    model = "hilt_neuromorphic"
    description = "neuromorphic board, integer LIF chip with mismatch (hilt board protocol, TCP or UART)"

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
        self.errors = errors or self.world.errors
        seed = int(self.world.rng(f"{self.name}.chip").integers(2**62))
        over = {k: float(v) for k, v in (("threshold_mismatch", threshold_mismatch),
                                         ("leak_mismatch", leak_mismatch)) if v is not None}
        e = draw_neuron_errors(error_levels(self.errors, **over), neurons, seed)
        self.board = NeuromorphicBoard(self.name, self.limits, e.threshold_rel.double().numpy(),
                                       e.leak_rel.double().numpy(), max_payload=int(max_payload),
                                       tick_ns=int(tick_ns), synop_ns=float(synop_ns))

    @property
    def chip(self) -> LifChip | None:
        """The loaded network on the chip (None without one)."""
        return self.board.model

    def _reset_all(self) -> None:
        """Power-cycle the board: no model, counters and batch id zero."""
        with self.board.lock:
            self.board.power_up()

    def state(self) -> dict[str, Any]:
        net = self.chip.net if self.chip is not None else None
        return {"loaded": net is not None, "neurons_used": net.n_neurons if net else 0,
                "batches": self.board.counters[1], "errors": self.errors}
