"""A converted spiking network deployed on a neuromorphic board, and its ANN-to-SNN calibration
with the board in the loop.

:func:`deploy` returns a :class:`~hilt.loops.ann2snn.ConvertedSNN` whose layers are
:class:`BoardLayer`: the same weights (the torch parameters the calibration edits), but a forward
pass that loads the whole network on the board (only when its integers changed) and runs the
calibration raster through it, reading back the probed layer's spikes
(``board.run(events, layer=k)``). :func:`hilt.loops.ann2snn.calibrate_layerwise` then measures
the board instead of the torch chip model, unchanged: its ``measure`` is one board run with one
layer probed, and its gradient still comes from the error-free twin (``snn.twin()``).

A layer above the first is fed on the board by the layers below it, not by the raster the
calibration hands it; the two are the same spikes as long as the lower layers are as last
measured, which the sequential calibration guarantees (it measures layer ``k - 1`` last before it
moves to layer ``k``). :class:`BoardLayer` checks that and refuses otherwise.

:class:`BoardCost` counts what the board was asked: network loads, runs, samples, ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hilt.instruments.snn_network import from_torch
from hilt.sims.physics import SpikingLayer
from hilt.snn_model import encode_network

from .ann2snn import ConvertedSNN

__all__ = ["BoardCost", "BoardLayer", "BoardSNN", "board_accuracy", "board_predict", "deploy"]


@dataclass
class BoardCost:
    """Board queries: ``loads`` (networks sent), ``runs`` (run calls), ``samples`` and ``ticks``
    (samples x steps) run."""

    loads: int = 0
    runs: int = 0
    samples: int = 0
    ticks: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"loads": self.loads, "runs": self.runs, "samples": self.samples, "ticks": self.ticks}


class BoardSNN:
    """The link between a converted network's torch weights and the board that runs them."""

    def __init__(self, board: Any, snn: ConvertedSNN) -> None:
        self.board = board
        self.snn = snn
        self.cost = BoardCost()
        self._loaded: bytes | None = None
        self._input: torch.Tensor | None = None  # the network input of the last layer-0 run
        self._last: dict[int, torch.Tensor] = {}  # layer -> its last measured raster

    def sync(self) -> None:
        """Load the network if its integers differ from what the board holds."""
        net = from_torch(self.snn)
        payload = encode_network(net)
        if payload != self._loaded:
            self.board.load(net)
            self._loaded = payload
            self.cost.loads += 1

    def run(self, events: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """The board's spikes (T, B, n) of ``layer`` (default the output) for input ``events``."""
        self.sync()
        x = events.detach().numpy()
        spikes, _ = self.board.run(x.astype(np.uint8), layer=layer)
        self.cost.runs += 1
        self.cost.samples += x.shape[1]
        self.cost.ticks += x.shape[0] * x.shape[1]
        return torch.as_tensor(spikes, dtype=torch.float32)

    def measure(self, index: int, x_in: torch.Tensor) -> torch.Tensor:
        """What layer ``index`` gives for its input raster ``x_in`` (aux lines included)."""
        spikes_in = x_in[..., :-2]  # the always-on and tick-0 lines are the board's bias and v_init
        if index == 0:
            self._input = spikes_in.detach().clone()
        else:
            below = self._last.get(index - 1)
            if self._input is None or below is None or not torch.equal(below, spikes_in):
                raise RuntimeError(f"layer {index} measured with an input the board's layer {index - 1} "
                                   "did not give last: calibrate the layers in order")
        out = self.run(self._input, layer=index)
        self._last[index] = out
        return out


class BoardLayer(SpikingLayer):
    """A layer of a deployed network: its weights are the torch layer's, its forward the board's."""

    def __init__(self, layer: SpikingLayer, index: int, link: BoardSNN) -> None:
        super().__init__(layer.n_in, layer.n_out, layer.threshold, layer.leak, layer.refractory,
                         layer.weight_bits, layer.reset, layer.surrogate_slope)
        self.weight = layer.weight  # shared: calibrating this layer edits the deployed weights
        self.index = index
        self._link = [link]  # in a list: not a submodule

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return self._link[0].measure(self.index, spikes)


def deploy(board: Any, snn: ConvertedSNN) -> tuple[ConvertedSNN, BoardSNN]:
    """``snn`` on ``board``: a ConvertedSNN sharing ``snn``'s weights whose layers run on the
    board (for :func:`~hilt.loops.ann2snn.calibrate_layerwise`), and the link (its ``cost``)."""
    link = BoardSNN(board, snn)
    layers = [BoardLayer(la, i, link) for i, la in enumerate(snn.layers)]  # type: ignore[arg-type]
    on_board = ConvertedSNN(layers, snn.scales, snn.timesteps, snn.encode_seed)
    link.snn = on_board
    return on_board, link


def board_predict(link: BoardSNN, x: np.ndarray, seed: int = 1) -> np.ndarray:
    """Classes read from the board's output spikes for inputs ``x`` (rate-coded with ``seed``):
    most spikes, ties to the class that fired first (the readout of
    :meth:`~hilt.loops.ann2snn.ConvertedSNN.predict`)."""
    r = link.run(link.snn.encode(x, seed))
    steps = r.shape[0]
    ticks = torch.arange(steps, dtype=torch.float32).view(steps, 1, 1)
    first = torch.where(r > 0, ticks, torch.full_like(ticks, float(steps))).amin(0)
    return (r.sum(0) * (steps + 1) + (steps - first)).argmax(-1).numpy()


def board_accuracy(link: BoardSNN, x: np.ndarray, y: np.ndarray, seed: int = 1) -> float:
    return float((board_predict(link, x, seed) == np.asarray(y)).mean())
