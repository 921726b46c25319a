"""The board side of an int8 accelerator speaking the hilt board protocol (docs/protocols/board.md):
the common protocol state of :mod:`hilt.protocol_board` with the accelerator class's model format,
samples and counters, over a small seam to the hardware that computes, a :class:`Datapath`.

Two boards are built on it: the simulated FPGA (:mod:`hilt.sims.fpga_accelerator`, a datapath
running the bit-exact int8 engine on the world's clock) and the PYNQ board server
(:mod:`hilt.drivers.pynq_board_server`, a datapath driving an overlay's registers and buffers).
So the protocol handling the simulator's tests exercise is the one the board runs.

This module needs only numpy (no torch): it runs on the board's ARM cores.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from hilt import board_protocol as bp
from hilt.protocol_board import BoardLink, BoardRefusal, ProtocolBoard

__all__ = ["AcceleratorBoard", "BoardLink", "BoardRefusal", "Datapath", "macs_per_sample"]


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


class AcceleratorBoard(ProtocolBoard):
    """The protocol state of one accelerator board (class 1), shared by all its links: the
    common protocol of :class:`hilt.protocol_board.ProtocolBoard`, the accelerator's model format
    and batches over a :class:`Datapath`. ``max_payload``, ``max_model_bytes`` and ``max_batch``
    are the board's sizes; everything else it states comes from the datapath.
    """

    board_class = "accelerator"

    def __init__(self, datapath: Datapath, *, max_payload: int = 65536, max_model_bytes: int = 1 << 20,
                 max_batch: int = 256, frame_gap: float = bp.UART_FRAME_GAP_S) -> None:
        self.datapath = datapath
        self.started_at = 0.0
        super().__init__(max_payload=max_payload, max_model_bytes=max_model_bytes, max_batch=max_batch,
                         frame_gap=frame_gap)

    def class_keys(self) -> dict[str, object]:
        return self.datapath.describe()

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

    def decode_model(self, data: bytes) -> bp.AcceleratorModel:
        model = bp.decode_accelerator_model(data)
        why = bp.model_problem(model, self.limits())
        if why:
            raise BoardRefusal(bp.UNSUPPORTED, why)
        self.datapath.load(model, data)
        return model

    def start(self, batch: int, sample_bytes: int, arg: int, samples: bytes) -> int:
        model: bp.AcceleratorModel = self.model
        if sample_bytes != model.input_size or arg != 0:
            raise BoardRefusal(bp.OUT_OF_RANGE, f"samples of {sample_bytes} bytes with arg {arg}; the model "
                                                f"takes {model.input_size} bytes, arg 0")
        x = np.frombuffer(samples, dtype=np.int8).reshape(batch, sample_bytes)
        self.started_at = self.datapath.now()
        expected = self.datapath.start(x)
        self.count(6, batch * sum(macs_per_sample(model)))
        return math.ceil(max(expected, 0.0) * 1e6)

    def poll(self) -> np.ndarray | None:
        results = self.datapath.poll()
        if results is None:
            return None
        cycles = self.datapath.cycles()
        self.counters[3] = cycles
        self.count(4, cycles)
        self.counters[5] = max(0, round((self.datapath.now() - self.started_at) * 1e9))
        return np.asarray(results).astype(np.int8, copy=False)

    def abort(self) -> None:
        self.datapath.abort()


def macs_per_sample(model: bp.AcceleratorModel) -> list[int]:
    """Multiply-accumulates of one sample, per layer (0 for pooling)."""
    out = []
    for layer, (c, hgt, wid) in zip(model.layers, model.shapes()[1:], strict=True):
        out.append(0 if layer.weight is None else c * hgt * wid * int(np.prod(layer.weight.shape[1:])))
    return out
