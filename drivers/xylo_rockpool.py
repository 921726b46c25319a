"""SynSense Xylo Audio 2 through rockpool, as hilt's neuromorphic_board kind (not verified on hardware).

Optional: ``pip install "hilt[xylo]"`` installs rockpool (3.1, pure Python, needing numpy and
scipy). The board itself also needs SynSense's hardware package ``samna``, and that cannot be
installed offline: the ``samna`` on PyPI is a stub that fetches the real package from SynSense
when it is first imported. Without it, rockpool 3.1's ``rockpool.devices.xylo`` does not import
at all (``rockpool/devices/xylo/syns65302/afe_samna_pdm.py`` imports samna unguarded), so
:class:`XyloBoard` raises :class:`XyloUnavailable` saying so. Nothing here imports rockpool
until a board is opened.

What works without the board: :func:`xylo_spec` maps a hilt network
(:class:`~hilt.snn_model.SnnNetwork`) onto the Xylo specification that rockpool's
``config_from_specification`` and ``global_quantize`` take (keys and shapes as rockpool 3.1's
``rockpool.devices.xylo.syns61201.xylo_samna.config_from_specification`` documents them) and
refuses, before anything is sent, what the chip cannot run. The Xylo Audio 2 facts used
(PROTOCOLS.md, from rockpool's documentation): 16 input channels, 1000 hidden neurons, 8
output neurons, 8-bit signed weights, 16-bit signed thresholds, leak by bit shift (``dash``,
``v -= v >> dash``), subtract-threshold reset, at most 15 input events per channel and time bin.

The mapping: the first layer is ``weights_in`` (Nin, Nhidden, 1); further hidden layers are
blocks of ``weights_rec`` (Nhidden, Nhidden, 1) below the diagonal, so each hop between hidden
layers costs Xylo one time step (hilt's board computes every layer in the same tick: compare
rasters shifted by the layer count); the last layer is the readout, ``weights_out`` (Nhidden,
Nout), fed by the last hidden layer. A layer's shift leak ``k`` is its ``dash_mem``; synaptic
currents last one step (``dash_syn = 0``). A hilt integrate-and-fire layer has no Xylo
equivalent; ``if_dash`` maps it to the slowest decay given. Refused: factor leaks, zero reset,
refractory periods, initial charges, more than 16 inputs / 1000 hidden / 8 outputs, weights or
thresholds beyond their bits.

Not verified: :class:`XyloBoard`'s calls into rockpool's ``XyloSamna`` (``evolve`` of a (T,
Nin) raster returning (T, Nout) spike counts, per PROTOCOLS.md) never ran here: no board, no
samna. Whether Xylo accepts ``dash_syn = 0`` is not verified either.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from hilt.errors import LimitError
from hilt.snn_model import LEAK_NONE, LEAK_SHIFT, BoardLimits, SnnNetwork

__all__ = ["XYLO_AUDIO2", "XyloBoard", "XyloChip", "XyloUnavailable", "xylo_spec"]


@dataclass(frozen=True)
class XyloChip:
    """A Xylo chip's sizes and widths."""

    name: str
    inputs: int
    hidden: int
    outputs: int
    weight_bits: int
    threshold_bits: int  # signed
    max_events: int

    def limits(self, max_steps: int = 100_000, max_batch: int = 1 << 16) -> BoardLimits:
        """As a :class:`BoardLimits` (``neurons`` = hidden + outputs; thresholds up to 2^15 - 1)."""
        return BoardLimits(neurons=self.hidden + self.outputs, fan_in=max(self.inputs, self.hidden),
                           max_layers=255, inputs=self.inputs, weight_bits=self.weight_bits,
                           threshold_bits=self.threshold_bits - 1, state_bits=16, max_steps=max_steps,
                           max_batch=max_batch, max_events=self.max_events)


#: Xylo Audio 2 (SYNS61201).
XYLO_AUDIO2 = XyloChip("Xylo Audio 2 (SYNS61201)", inputs=16, hidden=1000, outputs=8, weight_bits=8,
                       threshold_bits=16, max_events=15)


class XyloUnavailable(ImportError):
    """rockpool's Xylo support cannot be imported here (rockpool or samna missing)."""


def _refuse(message: str, value: Any = None) -> LimitError:
    return LimitError(message, instrument="xylo", parameter="network", value=value)


def xylo_spec(net: SnnNetwork, chip: XyloChip = XYLO_AUDIO2, *, if_dash: int | None = None) -> dict[str, Any]:
    """The Xylo specification of ``net`` (integer arrays; rockpool's keys); LimitError for what
    the chip cannot run. ``if_dash``: the ``dash_mem`` an integrate-and-fire layer gets (none:
    refused)."""
    problems = net.problems()
    if problems:
        raise _refuse(f"not a network: {problems[0]}")
    if len(net.layers) < 2:
        raise _refuse("Xylo needs a hidden layer and a readout layer (2 layers or more)", len(net.layers))
    hidden, out = net.layers[:-1], net.layers[-1]
    n_hidden = sum(la.n_out for la in hidden)
    for what, n, most in (("inputs", net.n_inputs, chip.inputs), ("hidden neurons", n_hidden, chip.hidden),
                          ("output neurons", out.n_out, chip.outputs)):
        if n > most:
            raise _refuse(f"{n} {what}: {chip.name} has {most}", n)
    wmax, tmax = 2 ** (chip.weight_bits - 1) - 1, 2 ** (chip.threshold_bits - 1) - 1
    dashes = []
    for i, la in enumerate(net.layers):
        where = f"layer {i}"
        if la.reset != "subtract":
            raise _refuse(f"{where}: reset {la.reset}; Xylo's neurons subtract the threshold")
        if la.refractory:
            raise _refuse(f"{where}: refractory period {la.refractory}; Xylo has none")
        if np.any(la.v_init):
            raise _refuse(f"{where}: an initial charge; Xylo starts every neuron at 0")
        if la.leak_mode == LEAK_SHIFT:
            dashes.append(la.leak)
        elif la.leak_mode == LEAK_NONE and if_dash is not None:
            dashes.append(int(if_dash))
        else:
            what = "no leak (give if_dash)" if la.leak_mode == LEAK_NONE else f"a factor leak ({la.leak}/65536)"
            raise _refuse(f"{where}: {what}; Xylo leaks by bit shift only")
        w = np.asarray(la.weight, np.int64)
        if w.size and np.abs(w).max() > wmax:
            raise _refuse(f"{where}: weight {int(np.abs(w).max())} outside +-{wmax}", int(np.abs(w).max()))
        t = np.asarray(la.threshold, np.int64)
        if t.min() < 1 or t.max() > tmax:
            raise _refuse(f"{where}: threshold {int(t.max() if t.max() > tmax else t.min())} outside 1..{tmax}")
    w_in = np.zeros((net.n_inputs, n_hidden, 1), np.int64)
    w_rec = np.zeros((n_hidden, n_hidden, 1), np.int64)
    w_out = np.zeros((n_hidden, out.n_out), np.int64)
    w_in[:, :hidden[0].n_out, 0] = hidden[0].weight.T
    start = 0
    for prev, la in zip(hidden[:-1], hidden[1:], strict=True):
        # rows: presynaptic neurons (prev layer), columns: postsynaptic (this layer)
        w_rec[start:start + prev.n_out, start + prev.n_out:start + prev.n_out + la.n_out, 0] = la.weight.T
        start += prev.n_out
    w_out[start:start + hidden[-1].n_out] = out.weight.T
    per_neuron = np.concatenate([np.full(la.n_out, d) for la, d in zip(hidden, dashes[:-1], strict=True)])
    return {
        "weights_in": w_in, "weights_rec": w_rec, "weights_out": w_out,
        "threshold": np.concatenate([la.threshold for la in hidden]).astype(np.int64),
        "threshold_out": np.asarray(out.threshold, np.int64),
        "bias": np.concatenate([la.bias for la in hidden]).astype(np.int64),
        "bias_out": np.asarray(out.bias, np.int64),
        "dash_mem": per_neuron, "dash_mem_out": np.full(out.n_out, dashes[-1]),
        "dash_syn": np.zeros(n_hidden, np.int64), "dash_syn_2": np.zeros(n_hidden, np.int64),
        "dash_syn_out": np.zeros(out.n_out, np.int64),
        "weight_shift_in": 0, "weight_shift_rec": 0, "weight_shift_out": 0,
    }


def _import_xylo() -> tuple[Any, Any]:
    """rockpool's Xylo Audio 2 classes, or XyloUnavailable saying why and what to do."""
    try:
        import rockpool  # noqa: F401
    except ImportError as exc:
        raise XyloUnavailable('the Xylo back end needs rockpool: pip install "hilt[xylo]"') from exc
    try:
        from rockpool.devices.xylo.syns61201 import XyloSamna, config_from_specification
    except ImportError as exc:
        raise XyloUnavailable(
            "rockpool.devices.xylo does not import without SynSense's samna package "
            f"({exc}). samna cannot be installed offline: the 'samna' on PyPI is a stub that "
            "downloads the real package from SynSense on first import. Install it with network "
            "access (see SynSense's samna documentation), then open the board again. Without a "
            "board, hilt.drivers.xylo_rockpool.xylo_spec still checks and maps a network.") from exc
    return XyloSamna, config_from_specification


class XyloBoard:
    """A Xylo Audio 2 dev kit as the neuromorphic_board kind, through rockpool's ``XyloSamna``.

    ``device``: the samna device handle (``samna.device.open_device(...)``, as rockpool's Xylo
    tutorials open it); ``dt``: seconds per time step; ``if_dash``: see :func:`xylo_spec`.
    Opening imports rockpool's Xylo support (:class:`XyloUnavailable` without samna).
    """

    kinds = ("neuromorphic_board",)

    def __init__(self, device: Any, dt: float = 1e-3, *, if_dash: int | None = None,
                 chip: XyloChip = XYLO_AUDIO2) -> None:
        self._XyloSamna, self._config = _import_xylo()
        self.device, self.dt, self.if_dash, self.chip = device, float(dt), if_dash, chip
        self.limits = chip.limits()
        self.network: SnnNetwork | None = None
        self._module: Any = None
        self._counts = {"spikes": 0, "synaptic_ops": 0, "time_steps": 0, "latency_s": 0.0}

    def check(self, network: SnnNetwork) -> None:
        xylo_spec(network, self.chip, if_dash=self.if_dash)

    def load(self, network: SnnNetwork) -> None:
        spec = xylo_spec(network, self.chip, if_dash=self.if_dash)
        config, valid, message = self._config(**spec)
        if not valid:
            raise _refuse(f"samna refused the configuration: {message}")
        self._module = self._XyloSamna(self.device, config, self.dt)
        self.network = network.copy()

    def run(self, events: np.ndarray, steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As the kind says; each sample is one ``evolve`` of a (steps, Nin) raster on the chip."""
        net = self.network
        if net is None or self._module is None:
            raise _refuse("no network loaded (load() first)")
        x = np.asarray(events)
        if x.ndim != 3 or x.shape[2] != net.n_inputs or x.min() < 0 or x.max() > self.chip.max_events:
            raise _refuse(f"events of shape {x.shape}: expected (ticks, batch, {net.n_inputs}) counts 0..15")
        steps = x.shape[0] if steps is None else int(steps)
        if steps < x.shape[0]:
            raise _refuse(f"steps {steps}: fewer than the events' {x.shape[0]} ticks")
        raster = np.zeros((steps, x.shape[1], net.n_inputs), np.int64)
        raster[:x.shape[0]] = x
        out = np.zeros((steps, x.shape[1], net.n_outputs), np.uint8)
        t0 = time.perf_counter()
        for b in range(x.shape[1]):
            self._module.reset_state()
            spikes, _, _ = self._module.evolve(raster[:, b, :], record=False)
            out[:, b] = np.minimum(np.asarray(spikes), 1)
        self._counts["latency_s"] = time.perf_counter() - t0
        self._counts["spikes"] += int(out.sum())
        self._counts["time_steps"] += steps * x.shape[1]
        self._counts["synaptic_ops"] += int(raster.sum()) * net.layers[0].n_out
        return out, out.sum(0, dtype=np.int64)

    def counters(self) -> dict[str, float]:
        """Counted on the host: ``spikes`` (outputs only), ``time_steps``, ``synaptic_ops`` (input
        events times the first layer's neurons), ``latency_s`` (wall time of the last run)."""
        return dict(self._counts)

    def safe_state(self) -> None:
        if self._module is not None:
            self._module.reset_state()
