"""Simulated FPGA int8 accelerator behind the hilt board protocol (docs/protocols/board.md).

The bytes are those of the protocol document, decoded and encoded by :mod:`hilt.board_protocol`
(the codec the host shares), answered by :class:`hilt.accelerator_board.AcceleratorBoard` (the
protocol state the PYNQ board server runs too) over :class:`SimDatapath`. Behind them: the int8 datapath of the document's "Arithmetic"
section, executed by the bit-exact engine (:mod:`hilt.sims.physics.int8_board` over
:mod:`hilt.sims.physics.int8`), with the board's rounding mode, accumulator width, requantisers
and sizes as options and stated in its IDENTIFY reply.

Time: a batch takes ``cycles / clock_hz`` of the world's simulated clock, from a latency model
of a systolic datapath: ``batch_overhead`` cycles, then per sample the input transfer
(``bus_bytes`` a cycle), and per layer ``layer_overhead`` cycles plus ``ceil(MACs / pe)``
(``pe`` multiply-accumulate units). Until then READ_RESULTS is answered busy (error 5), as the
document says. The results themselves are computed when the batch is accepted.

Served on TCP (``tcp://``) and, on a pseudo-terminal, as the board's UART, with the faults of
:mod:`hilt.sims.board_session` (``bad_crc``, ``lose_requests``, ``busy`` and the common ones).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hilt import board_protocol as bp
from hilt.accelerator_board import AcceleratorBoard
from hilt.sims.board_session import BoardInstrument
from hilt.sims.physics.int8_board import execute, macs
from hilt.sims.world import World


class SimDatapath:
    """The FPGA's datapath: the bit-exact int8 engine, and a latency model on the world's clock."""

    def __init__(self, world: World, name: str, *, rounding: str, acc_bits: int, requant: tuple[str, ...],
                 per_channel: bool, weight_zero_point: bool, layers: tuple[str, ...], max_layers: int,
                 max_features: int, max_channels: int, max_kernel: int, clock_hz: int, pe: int, bus_bytes: int,
                 batch_overhead: int, layer_overhead: int) -> None:
        self.world, self.name = world, name
        self.keys: dict[str, object] = {
            "vendor": "hilt", "model": "A8 simulated int8 accelerator", "serial": name, "firmware": "1.0",
            "rounding": rounding, "acc_bits": acc_bits, "requant": requant, "per_channel": per_channel,
            "weight_zero_point": weight_zero_point, "layers": layers, "max_layers": max_layers,
            "max_features": max_features, "max_channels": max_channels, "max_kernel": max_kernel,
            "clock_hz": clock_hz}
        self.clock_hz, self.pe, self.bus_bytes = clock_hz, pe, bus_bytes
        self.batch_overhead, self.layer_overhead = batch_overhead, layer_overhead
        self.model: bp.AcceleratorModel | None = None
        self._results: np.ndarray | None = None
        self._ready_at = 0.0
        self._cycles = 0
        self._last_cycles = 0

    def describe(self) -> dict[str, object]:
        return dict(self.keys)

    def load(self, model: bp.AcceleratorModel, data: bytes) -> None:
        self.model = model

    def cycles_of(self, batch: int) -> int:
        """Datapath cycles of a batch: ``batch_overhead``, then per sample the input transfer
        (``bus_bytes`` a cycle) and per layer ``layer_overhead + ceil(MACs / pe)``."""
        assert self.model is not None
        per_sample = math.ceil(self.model.input_size / self.bus_bytes) + sum(
            self.layer_overhead + math.ceil(m / self.pe) for m in macs(self.model))
        return self.batch_overhead + batch * per_sample

    def start(self, samples: np.ndarray) -> float:
        assert self.model is not None
        self._results = execute(self.model, samples)
        self._cycles = self.cycles_of(len(samples))
        latency = self._cycles / self.clock_hz
        self._ready_at = self.now() + latency
        return latency

    def poll(self) -> np.ndarray | None:
        if self._results is None or self.now() < self._ready_at:
            return None
        results, self._results = self._results, None
        self._last_cycles = self._cycles
        return results

    def abort(self) -> None:
        self._results = None

    def cycles(self) -> int:
        return self._last_cycles

    def now(self) -> float:
        return self.world.clock.now()


class SimFpgaAccelerator(BoardInstrument):
    model = "fpga_accelerator"
    description = "FPGA int8 inference accelerator (hilt board protocol, TCP or UART)"
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
        unknown = set(layers) - set(bp.LAYER_NAMES.values())
        if unknown:
            raise ValueError(f"layers {sorted(unknown)}: known are {', '.join(bp.LAYER_NAMES.values())}")
        self.datapath = SimDatapath(
            self.world, self.name, rounding=rounding, acc_bits=int(acc_bits), requant=requant,
            per_channel=bool(per_channel), weight_zero_point=bool(weight_zero_point), layers=tuple(layers),
            max_layers=int(max_layers), max_features=int(max_features), max_channels=int(max_channels),
            max_kernel=int(max_kernel), clock_hz=int(clock_hz), pe=int(pe), bus_bytes=int(bus_bytes),
            batch_overhead=int(batch_overhead), layer_overhead=int(layer_overhead))
        self.board = AcceleratorBoard(self.datapath, max_payload=int(max_payload),
                                      max_model_bytes=int(max_model_bytes), max_batch=int(max_batch),
                                      frame_gap=float(frame_gap))

    def state(self) -> dict[str, Any]:
        s = self.board.status()
        return {"state": s.state_name, "batch_id": s.batch_id, "model_crc": f"{s.model_crc:08x}",
                "counters": {bp.COUNTERS[k]: v for k, v in self.board.counters.items()}}
