"""Networks for the neuromorphic board: from a torch spiking model, from and to a NIR graph.

The board loads an :class:`~hilt.snn_model.SnnNetwork` (integer weights, thresholds, bias and
initial charge, a leak per layer as a bit shift or a factor, the reset rule). This module builds
one from what users have:

* :func:`from_torch`: a :class:`hilt.sims.physics.SpikingNetwork` (the torch LIF chip model),
  including the :class:`hilt.loops.ann2snn.ConvertedSNN` that the ANN-to-SNN conversion makes
  (its two aux input lines per layer, always-on and tick-0, become the board's ``bias`` and
  ``v_init``). The integers are the model's own int8 weights (``int_weight()``); thresholds are
  the model's threshold in units of the layer's weight scale, rounded.
* :func:`from_nir` / :func:`to_nir` (and :func:`read_nir` / :func:`write_nir` for files): NIR 1.0,
  the Neuromorphic Intermediate Representation (``nir`` on PyPI, Pedersen et al., Nat. Commun.
  15, 8122 (2024); its node definitions are the specification followed here). A chain
  ``Input -> (Affine | Linear) -> (LIF | IF) -> ... -> Output`` maps to the board.
  NIR is continuous-time; a board tick is a forward-Euler step of ``dt`` seconds (the graph's
  ``metadata["dt"]`` if it has one):

      LIF  v += dt / tau * (v_leak - v + r I)     retention per tick 1 - dt / tau, gain r dt / tau
      IF   v += r I dt                            gain r dt

  ``v_leak`` must be 0. NIR fires when ``v > v_threshold``; the board fires when ``v >=
  threshold`` on integers, so an integer threshold ``k`` is written as ``k - 0.5`` and read back
  as ``floor(v_threshold / scale) + 1``. A graph whose per-tick weights and biases are integers
  within the weight width is read exactly (scale 1); any other is quantised symmetrically per
  layer (scale = largest |weight| / (2^(bits-1) - 1)). What NIR 1.0 cannot say (subtract reset,
  initial charge, refractory period, a shift leak) is written to the neuron node's
  ``metadata`` (``reset``, ``v_init``, ``refractory``, ``leak``), which hilt reads back and other
  tools ignore: they then see a reset-to-``v_reset`` neuron.

``nir`` is an optional dependency (``pip install "hilt[nir]"``, a 27 kB wheel needing only
numpy and h5py); it is imported when a NIR function is called.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hilt.sims.physics import SpikingLayer, SpikingNetwork
from hilt.snn_model import LEAK_FACTOR, LEAK_NONE, LEAK_SHIFT, SnnLayer, SnnNetwork, leak_factor

if TYPE_CHECKING:
    import nir

__all__ = ["from_nir", "from_torch", "leak_code", "read_nir", "to_nir", "to_torch", "write_nir"]

#: Aux input lines of a ConvertedSNN layer (hilt.loops.ann2snn): [always-on (bias), tick-0 (v_init)].
_BIAS, _VINIT = -2, -1


def _import_nir() -> Any:
    try:
        import nir
    except ImportError as exc:
        raise ImportError("reading or writing NIR graphs needs the nir package: "
                          "pip install \"hilt[nir]\" (or pip install nir)") from exc
    return nir


def leak_code(retention: float) -> tuple[int, int]:
    """(leak mode, value) of a per-tick retention in [0, 1]: none for 1, a bit shift ``k`` when
    ``1 - retention`` is exactly ``2^-k`` (k in 1..15), else a Q0.16 factor."""
    if not 0.0 <= retention <= 1.0 or not math.isfinite(retention):
        raise ValueError(f"leak retention {retention!r} outside [0, 1]")
    if retention == 1.0:
        return LEAK_NONE, 0
    lost = 1.0 - retention
    k = -math.log2(lost)
    if k == round(k) and 1 <= round(k) <= 15:
        return LEAK_SHIFT, int(round(k))
    return LEAK_FACTOR, min(int(round(retention * 65536)), 65535)


def _is_converted(snn: Any) -> bool:
    # ConvertedSNN lives in hilt.loops (above this layer): recognised by what it has.
    return hasattr(snn, "augment") and hasattr(snn, "scales") and hasattr(snn, "timesteps")


def from_torch(snn: SpikingNetwork, *, threshold_bits: int = 16, aux_lines: bool | None = None) -> SnnNetwork:
    """The board network of a torch spiking model, layer by layer.

    Weights are each layer's ``int_weight()`` (the integers the model's chip stores); the
    threshold is ``round(threshold / weight_scale)``, at least 1; the leak is
    :func:`leak_code` of the layer's ``leak``. ``aux_lines``: the last two inputs of every layer
    are the ConvertedSNN's bias (always-on) and initial-charge (tick-0) lines (default: detected
    from the model). ``meta`` keeps the weight scales (board integers x scale = model units).
    """
    aux = _is_converted(snn) if aux_lines is None else aux_lines
    layers: list[SnnLayer] = []
    scales: list[float] = []
    for layer in snn.layers:
        assert isinstance(layer, SpikingLayer)
        w = layer.int_weight().numpy().astype(np.int32)
        s = float(layer.weight_scale())
        thr = max(1, int(round(layer.threshold / s)))
        bias = v_init = None
        if aux:
            bias, v_init, w = w[:, _BIAS].astype(np.int64), w[:, _VINIT].astype(np.int64), w[:, :_BIAS]
        mode, value = leak_code(layer.leak)
        layers.append(SnnLayer(np.ascontiguousarray(w), np.full(layer.n_out, thr), bias, v_init, mode, value,
                               layer.reset, layer.refractory))
        scales.append(s)
    bits = max(int(la.weight_bits) for la in snn.layers)  # type: ignore[attr-defined]
    meta: dict[str, Any] = {"source": type(snn).__name__, "weight_scales": scales}
    if aux:
        meta |= {"timesteps": int(snn.timesteps), "activation_scales": list(snn.scales)}  # type: ignore[attr-defined]
    return SnnNetwork(layers[0].n_in, layers, bits, threshold_bits, meta)


def to_torch(net: SnnNetwork, scales: list[float] | None = None) -> SpikingNetwork:
    """A torch twin of a board network (:class:`SpikingLayer` per layer, error-free).

    ``scales`` (default ``net.meta["weight_scales"]``, else 1): model units per integer. Each
    layer's neurons must share one threshold (the torch layer has one). Bias and initial charge
    are dropped unless zero (the torch layer has neither): ValueError otherwise."""
    scales = scales or net.meta.get("weight_scales") or [1.0] * len(net.layers)
    out = []
    for i, (la, s) in enumerate(zip(net.layers, scales, strict=True)):
        if np.unique(la.threshold).size != 1:
            raise ValueError(f"layer {i}: per-neuron thresholds; the torch layer has one threshold")
        if np.any(la.bias) or np.any(la.v_init):
            raise ValueError(f"layer {i}: bias or initial charge; the torch layer has neither")
        layer = SpikingLayer(la.n_in, la.n_out, threshold=float(la.threshold[0]) * s,
                             leak=leak_factor(la.leak_mode, la.leak) / 65536, refractory=la.refractory,
                             weight_bits=net.weight_bits, reset=la.reset)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(la.weight, dtype=torch.float32) * s)
        out.append(layer)
    return SpikingNetwork(out)


# -- NIR ---------------------------------------------------------------------------------------
def to_nir(net: SnnNetwork, dt: float = 1e-3) -> nir.NIRGraph:
    """A NIR graph of ``net`` in board units (weights and charges as integers, thresholds
    ``k - 0.5``): ``input -> fc0 -> lif0 -> ... -> output``; ``metadata["dt"] = dt``."""
    nir = _import_nir()
    if not dt > 0:
        raise ValueError(f"dt {dt!r}: expected a positive time step (s)")
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([net.n_inputs]))}
    edges = []
    prev = "input"
    for i, la in enumerate(net.layers):
        n = la.n_out
        meta = {"reset": la.reset, "v_init": np.asarray(la.v_init, np.int64),
                "refractory": int(la.refractory), "leak": [int(la.leak_mode), int(la.leak)]}
        fc = nir.Affine(weight=np.asarray(la.weight, np.float64), bias=np.asarray(la.bias, np.float64))
        thr = np.asarray(la.threshold, np.float64) - 0.5
        retention = leak_factor(la.leak_mode, la.leak) / 65536
        if la.leak_mode == LEAK_NONE:
            neuron = nir.IF(r=np.full(n, 1.0 / dt), v_threshold=thr, v_reset=np.zeros(n), metadata=meta)
        else:
            tau = dt / (1.0 - retention) if retention < 1 else math.inf
            neuron = nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=np.zeros(n),
                             v_threshold=thr, v_reset=np.zeros(n), metadata=meta)
        nodes[f"fc{i}"], nodes[f"lif{i}"] = fc, neuron
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([net.n_outputs]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": float(dt)})


def _chain(graph: Any) -> list[str]:
    """Node names from the Input to the Output, in order; ValueError unless the graph is one
    chain."""
    nir = _import_nir()
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    starts = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(starts) != 1:
        raise ValueError(f"the graph has {len(starts)} Input nodes; the board takes one input layer")
    order = [starts[0]]
    while not isinstance(graph.nodes[order[-1]], nir.Output):
        nxt = succ.get(order[-1], [])
        if len(nxt) != 1:
            raise ValueError(f"node {order[-1]!r} feeds {len(nxt)} nodes: the board runs a chain of layers")
        if nxt[0] in order:
            raise ValueError(f"node {nxt[0]!r} closes a loop: the board has no recurrent connections")
        order.append(nxt[0])
    if len(order) != len(graph.nodes):
        raise ValueError("the graph holds nodes outside the Input -> Output chain")
    return order


def _uniform(values: np.ndarray, what: str, where: str) -> float:
    v = np.asarray(values, np.float64).ravel()
    if v.size and not np.allclose(v, v[0], rtol=1e-9, atol=0):
        raise ValueError(f"{where}: {what} differs between neurons; the board has one per layer")
    return float(v[0]) if v.size else 0.0


def from_nir(graph: Any, dt: float | None = None, *, weight_bits: int = 8,
             threshold_bits: int = 16) -> SnnNetwork:
    """The board network of a NIR graph (see the module docstring for the mapping).

    ``dt``: seconds per board tick (default: the graph's ``metadata["dt"]``, else 1 ms).
    ValueError, saying which node, for what the board cannot run: branches, recurrence, other
    node types, ``v_leak`` other than 0, different time constants within a layer."""
    nir = _import_nir()
    if dt is None:
        dt = float(np.asarray((getattr(graph, "metadata", None) or {}).get("dt", 1e-3)))
    order = _chain(graph)
    body = order[1:-1]
    n_in = int(np.prod(graph.nodes[order[0]].input_type["input"]))
    wmax = 2 ** (weight_bits - 1) - 1
    layers: list[SnnLayer] = []
    scales: list[float] = []
    if len(body) % 2 or not body:
        raise ValueError("expected (Affine | Linear, LIF | IF) pairs between Input and Output, "
                         f"got {[type(graph.nodes[k]).__name__ for k in body]}")
    for i in range(0, len(body), 2):
        fc, neuron = graph.nodes[body[i]], graph.nodes[body[i + 1]]
        where = f"{body[i]} -> {body[i + 1]}"
        if not isinstance(fc, (nir.Affine, nir.Linear)) or not isinstance(neuron, (nir.LIF, nir.IF)):
            raise ValueError(f"{where}: expected Affine or Linear then LIF or IF, got "
                             f"{type(fc).__name__} then {type(neuron).__name__}")
        w = np.asarray(fc.weight, np.float64)
        b = np.asarray(fc.bias, np.float64) if isinstance(fc, nir.Affine) else np.zeros(w.shape[0])
        r = np.asarray(neuron.r, np.float64)
        if isinstance(neuron, nir.LIF):
            if np.any(np.asarray(neuron.v_leak) != 0):
                raise ValueError(f"{where}: v_leak other than 0; the board leaks toward 0")
            tau = np.asarray(neuron.tau, np.float64)
            gain = r * dt / tau
            retention = 1.0 - _uniform(dt / tau, "dt / tau", where)
        else:
            gain = r * dt
            retention = 1.0
        meta = dict(getattr(neuron, "metadata", None) or {})
        w_eff, b_eff = gain[:, None] * w, gain * b
        v_reset = np.asarray(neuron.v_reset if neuron.v_reset is not None else 0.0)
        if np.any(v_reset != 0):
            raise ValueError(f"{where}: v_reset other than 0; the board resets to 0 or subtracts")
        exact = np.all(w_eff == np.round(w_eff)) and np.all(b_eff == np.round(b_eff)) \
            and (not w_eff.size or np.abs(w_eff).max() <= wmax)
        s = 1.0 if exact else max(float(np.abs(w_eff).max()) / wmax, 1e-30)
        thr = np.floor(np.asarray(neuron.v_threshold, np.float64) / s) + 1
        if "leak" in meta:
            mode, value = (int(x) for x in np.asarray(meta["leak"]).ravel()[:2])
        else:
            mode, value = leak_code(min(max(retention, 0.0), 1.0))
        v_init = np.round(np.asarray(meta["v_init"], np.float64) / s) if "v_init" in meta else None
        reset = str(meta.get("reset", "zero"))
        layers.append(SnnLayer(np.round(w_eff / s).astype(np.int32), np.clip(thr, 1, None).astype(np.int64),
                               np.round(b_eff / s).astype(np.int64),
                               None if v_init is None else v_init.astype(np.int64), mode, value, reset,
                               int(np.asarray(meta.get("refractory", 0)))))
        scales.append(s)
    net = SnnNetwork(n_in, layers, weight_bits, threshold_bits, {"source": "nir", "dt": dt, "weight_scales": scales})
    problems = net.problems()
    if problems:
        raise ValueError(f"the graph does not make a board network: {problems[0]}")
    return net


def write_nir(net: SnnNetwork, path: str | Path, dt: float = 1e-3) -> Path:
    """Write ``net`` as a NIR file (HDF5, ``nir.write``)."""
    nir = _import_nir()
    nir.write(str(path), to_nir(net, dt))
    return Path(path)


def read_nir(path: str | Path, dt: float | None = None, **kwargs: Any) -> SnnNetwork:
    """A board network from a NIR file (``nir.read``, then :func:`from_nir`)."""
    nir = _import_nir()
    return from_nir(nir.read(str(path)), dt, **kwargs)
