"""The neuromorphic board's network: integer LIF layers, their limits, and their payload bytes.

What a host loads on a neuromorphic board over the board protocol (docs/protocols/board.md,
section "Neuromorphic model payload", our own document: this module is its reference codec).
Both ends use it: the driver encodes and checks a network before a byte is sent, the board (or
its simulator) decodes and checks it again.

A network is ``n_inputs`` input lines feeding a chain of fully connected layers of integer
leaky integrate-and-fire neurons. Per tick ``t`` and neuron ``i`` of a layer (all integers)::

    I[t]  = sum_j W[i, j] s_in[t, j] + bias[i] + (v_init[i] if t == 0 else 0)
    v[t]  = v[t-1] - decay(v[t-1]) + I[t]        (I not added while refractory)
    s[t]  = 1 if v[t] >= threshold[i]; then v <- 0 (reset "zero") or v - threshold (reset
            "subtract"), and the neuron ignores input for ``refractory`` ticks

with ``v[-1] = 0`` and ``v`` saturating at the board's state width. ``decay`` is the leak:
none (an integrate-and-fire neuron), a bit shift ``k`` (``decay(v) = trunc(v / 2^k)``, the
leak of digital chips such as SynSense Xylo) or a factor ``f / 65536`` kept per tick
(``decay(v) = trunc(v (65536 - f) / 65536)``). Truncation is toward zero.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hilt.errors import LimitError

__all__ = [
    "CLASS_NEUROMORPHIC", "FORMAT_SNN", "LEAK_FACTOR", "LEAK_NONE", "LEAK_SHIFT", "BoardLimits", "ModelFormatError",
    "SnnLayer", "SnnNetwork", "decode_network", "encode_network", "leak_factor", "network_summary",
]

#: The model payload's first two bytes: board class 2 (neuromorphic), format 1 (LIF network).
CLASS_NEUROMORPHIC, FORMAT_SNN = 0x02, 0x01
LEAK_NONE, LEAK_SHIFT, LEAK_FACTOR = 0, 1, 2
_LEAK_NAMES = {LEAK_NONE: "none", LEAK_SHIFT: "shift", LEAK_FACTOR: "factor"}
RESETS = ("zero", "subtract")
_HEAD = struct.Struct(">BBHBBB")     # class, format, n_inputs, n_layers, weight_bits, threshold_bits
_LAYER = struct.Struct(">HBBHB")     # n_out, reset, leak mode, leak value, refractory


class ModelFormatError(ValueError):
    """Bytes that are not a network payload (truncated, bad counts, unknown codes).
    ``unsupported``: a well-formed payload of another board class or format."""

    def __init__(self, message: str, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def leak_factor(mode: int, value: int) -> int:
    """The per-tick retention of a leak as a Q0.16 factor (65536 = no leak)."""
    if mode == LEAK_NONE:
        return 65536
    if mode == LEAK_SHIFT:
        return 65536 - (65536 >> value)
    return int(value)


@dataclass
class SnnLayer:
    """One fully connected layer of integer LIF neurons.

    ``weight`` (n_out, n_in) ints; ``threshold``, ``bias``, ``v_init`` (n_out,) ints;
    ``leak_mode`` :data:`LEAK_NONE`, :data:`LEAK_SHIFT` (``leak`` = k, 1..15) or
    :data:`LEAK_FACTOR` (``leak`` = f, retention f / 65536, 0..65535); ``reset`` "zero" or
    "subtract"; ``refractory`` ticks (0..255).
    """

    weight: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray | None = None
    v_init: np.ndarray | None = None
    leak_mode: int = LEAK_NONE
    leak: int = 0
    reset: str = "subtract"
    refractory: int = 0

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight)
        n_out = self.weight.shape[0] if self.weight.ndim == 2 else 0
        self.threshold = np.broadcast_to(np.asarray(self.threshold), (n_out,)).copy()
        self.bias = np.zeros(n_out, np.int64) if self.bias is None else np.asarray(self.bias)
        self.v_init = np.zeros(n_out, np.int64) if self.v_init is None else np.asarray(self.v_init)

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    @property
    def leak_text(self) -> str:
        return _LEAK_NAMES.get(self.leak_mode, "?") + ("" if self.leak_mode == LEAK_NONE else f" {self.leak}")


@dataclass
class SnnNetwork:
    """``n_inputs`` input lines, then ``layers`` in order; ``weight_bits`` and
    ``threshold_bits`` are the widths the integers were quantised to (weights signed,
    thresholds 1 .. 2^bits - 1). ``meta``: where it came from (not sent to the board)."""

    n_inputs: int
    layers: list[SnnLayer]
    weight_bits: int = 8
    threshold_bits: int = 16
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out if self.layers else 0

    @property
    def n_neurons(self) -> int:
        return sum(layer.n_out for layer in self.layers)

    @property
    def n_synapses(self) -> int:
        return sum(layer.weight.size for layer in self.layers)

    def copy(self) -> SnnNetwork:
        return replace(self, layers=[replace(la, weight=la.weight.copy(), threshold=la.threshold.copy(),
                                             bias=np.array(la.bias), v_init=np.array(la.v_init))
                                     for la in self.layers], meta=dict(self.meta))

    def problems(self) -> list[str]:
        """What makes this network not a network (shapes, non-integers, codes): [] if none.
        The board's limits are :meth:`BoardLimits.check`'s business."""
        out: list[str] = []
        if not isinstance(self.n_inputs, (int, np.integer)) or not 1 <= self.n_inputs <= 0xFFFF:
            out.append(f"n_inputs {self.n_inputs!r}: expected an integer in 1..65535")
        if not 1 <= len(self.layers) <= 255:
            out.append(f"{len(self.layers)} layers: expected 1..255")
        if not 2 <= int(self.weight_bits) <= 16:
            out.append(f"weight_bits {self.weight_bits}: expected 2..16")
        if not 1 <= int(self.threshold_bits) <= 31:
            out.append(f"threshold_bits {self.threshold_bits}: expected 1..31")
        n_in = self.n_inputs
        for i, la in enumerate(self.layers):
            where = f"layer {i}"
            if la.weight.ndim != 2 or la.weight.shape[1] != n_in or not 1 <= la.weight.shape[0] <= 0xFFFF:
                out.append(f"{where}: weight of shape {la.weight.shape}, expected (1..65535, {n_in})")
                break
            for name in ("weight", "threshold", "bias", "v_init"):
                a = getattr(la, name)
                if a.shape[-1:] != (la.n_out,) and name != "weight":
                    out.append(f"{where}: {name} of shape {a.shape}, expected ({la.n_out},)")
                elif a.dtype.kind not in "iu" and not (a.dtype.kind == "f" and np.all(np.isfinite(a))
                                                       and np.all(a == np.round(a))):
                    out.append(f"{where}: {name} holds values that are not integers")
            if la.leak_mode not in _LEAK_NAMES:
                out.append(f"{where}: leak mode {la.leak_mode!r}: expected 0 (none), 1 (shift), 2 (factor)")
            elif la.leak_mode == LEAK_SHIFT and not 1 <= la.leak <= 15:
                out.append(f"{where}: leak shift {la.leak}: expected 1..15")
            elif la.leak_mode == LEAK_FACTOR and not 0 <= la.leak <= 65535:
                out.append(f"{where}: leak factor {la.leak}: expected 0..65535 (x / 65536)")
            if la.reset not in RESETS:
                out.append(f"{where}: reset {la.reset!r}: expected 'zero' or 'subtract'")
            if not 0 <= la.refractory <= 255:
                out.append(f"{where}: refractory {la.refractory}: expected 0..255 ticks")
            n_in = la.n_out
        return out


@dataclass(frozen=True)
class BoardLimits:
    """What a board can hold and run, as its identity reply states it.

    ``neurons`` (all layers together), ``fan_in`` (inputs of one neuron), ``max_layers``,
    ``inputs`` (input lines), ``weight_bits`` (signed), ``threshold_bits`` (unsigned),
    ``state_bits`` (the membrane potential, signed, saturating; bias and v_init must fit),
    ``max_steps`` and ``max_batch`` of one run, ``max_events`` per input line and tick."""

    neurons: int = 4096
    fan_in: int = 1024
    max_layers: int = 8
    inputs: int = 1024
    weight_bits: int = 8
    threshold_bits: int = 16
    state_bits: int = 24
    max_steps: int = 1024
    max_batch: int = 1024
    max_events: int = 15

    FIELDS = ("neurons", "fan_in", "max_layers", "inputs", "weight_bits", "threshold_bits",
              "state_bits", "max_steps", "max_batch", "max_events")

    #: Fields a board must state; the others default to the values above.
    REQUIRED = ("neurons", "fan_in", "weight_bits", "threshold_bits")

    @classmethod
    def from_mapping(cls, info: Mapping[str, Any]) -> BoardLimits:
        """From an IDENTIFY reply's fields (decimal text or ints); ValueError naming a bad or
        missing field. Keys other than :attr:`FIELDS` are ignored."""
        kwargs = {}
        for name in cls.FIELDS:
            if name not in info:
                if name in cls.REQUIRED:
                    raise ValueError(f"the board does not state its limit {name}")
                continue
            v = info[name]
            if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 10:
                v = int(v)
            if type(v) is not int or not 1 <= v <= 2**32 - 1:
                raise ValueError(f"limit {name} {v!r} is not a positive integer")
            kwargs[name] = v
        kwargs.setdefault("inputs", kwargs["fan_in"])  # a board that does not say: its fan-in
        limits = cls(**kwargs)
        if not 2 <= limits.weight_bits <= 16 or not 1 <= limits.threshold_bits <= 31 \
                or not 2 <= limits.state_bits <= 32:
            raise ValueError(f"limit bits out of range (weight {limits.weight_bits}: 2..16, threshold "
                             f"{limits.threshold_bits}: 1..31, state {limits.state_bits}: 2..32)")
        return limits

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def check(self, net: SnnNetwork, instrument: str = "") -> None:
        """LimitError for the first thing in ``net`` this board cannot hold (nothing is sent)."""
        def refuse(message: str, value: Any = None) -> LimitError:
            return LimitError(message, instrument=instrument, parameter="network", value=value)

        problems = net.problems()
        if problems:
            raise refuse(f"not a network: {problems[0]}")
        if net.n_inputs > self.inputs:
            raise refuse(f"{net.n_inputs} input lines, the board has {self.inputs}", net.n_inputs)
        if len(net.layers) > self.max_layers:
            raise refuse(f"{len(net.layers)} layers, the board holds {self.max_layers}", len(net.layers))
        if net.n_neurons > self.neurons:
            raise refuse(f"{net.n_neurons} neurons, the board holds {self.neurons}", net.n_neurons)
        if net.weight_bits > self.weight_bits:
            raise refuse(f"{net.weight_bits}-bit weights, the board stores {self.weight_bits}", net.weight_bits)
        if net.threshold_bits > self.threshold_bits:
            raise refuse(f"{net.threshold_bits}-bit thresholds, the board stores {self.threshold_bits}",
                         net.threshold_bits)
        wmax = 2 ** (net.weight_bits - 1) - 1
        tmax = 2 ** net.threshold_bits - 1
        smax = 2 ** (self.state_bits - 1) - 1
        for i, la in enumerate(net.layers):
            if la.n_in > self.fan_in:
                raise refuse(f"layer {i}: fan-in {la.n_in}, the board allows {self.fan_in}", la.n_in)
            w = np.asarray(la.weight, np.float64)
            if w.size and np.abs(w).max() > wmax:
                raise refuse(f"layer {i}: weight {int(np.abs(w).max())} outside +-{wmax} "
                             f"({net.weight_bits} bits)", int(np.abs(w).max()))
            t = np.asarray(la.threshold, np.float64)
            if t.min() < 1 or t.max() > tmax:
                bad = t.min() if t.min() < 1 else t.max()
                raise refuse(f"layer {i}: threshold {int(bad)} outside 1..{tmax} ({net.threshold_bits} bits)",
                             int(bad))
            for name in ("bias", "v_init"):
                a = np.asarray(getattr(la, name), np.float64)
                if a.size and np.abs(a).max() > smax:
                    raise refuse(f"layer {i}: {name} {int(np.abs(a).max())} outside the "
                                 f"{self.state_bits}-bit state (+-{smax})", int(np.abs(a).max()))


def _wdtype(bits: int) -> str:
    return "<i1" if bits <= 8 else "<i2"


def encode_network(net: SnnNetwork) -> bytes:
    """The LOAD_MODEL payload of ``net`` (docs/protocols/board.md, neuromorphic model payload).

    ValueError if ``net`` is not a network (see :meth:`SnnNetwork.problems`)."""
    problems = net.problems()
    if problems:
        raise ValueError(f"not a network: {problems[0]}")
    out = bytearray(_HEAD.pack(CLASS_NEUROMORPHIC, FORMAT_SNN, net.n_inputs, len(net.layers), net.weight_bits, net.threshold_bits))
    wd = _wdtype(net.weight_bits)
    wlim = 2 ** (net.weight_bits - 1) - 1
    for la in net.layers:
        w = np.asarray(la.weight, np.int64)
        if w.size and np.abs(w).max() > wlim:  # never wrap around silently
            raise ValueError(f"weight {int(np.abs(w).max())} does not fit {net.weight_bits} bits")
        out += _LAYER.pack(la.n_out, RESETS.index(la.reset), la.leak_mode, la.leak, la.refractory)
        out += w.astype(wd).tobytes()
        for name in ("threshold", "bias", "v_init"):
            a = np.asarray(getattr(la, name), np.int64)
            if a.size and np.abs(a).max() >= 2**31:
                raise ValueError(f"{name} {int(np.abs(a).max())} does not fit int32")
            out += a.astype("<i4").tobytes()
    return bytes(out)


def decode_network(payload: bytes) -> SnnNetwork:
    """The network of a LOAD_MODEL payload; :class:`ModelFormatError` if it is not one."""
    if len(payload) < _HEAD.size:
        raise ModelFormatError(f"network payload of {len(payload)} bytes, shorter than its header")
    cls, fmt, n_in, n_layers, wbits, tbits = _HEAD.unpack_from(payload)
    if cls != CLASS_NEUROMORPHIC or fmt != FORMAT_SNN:
        raise ModelFormatError(f"model class {cls} format {fmt}: this board takes class "
                               f"{CLASS_NEUROMORPHIC} format {FORMAT_SNN} (LIF network)", unsupported=True)
    if not 2 <= wbits <= 16 or not 1 <= tbits <= 31 or n_in < 1 or n_layers < 1:
        raise ModelFormatError(f"header: n_inputs {n_in}, layers {n_layers}, weight bits {wbits}, "
                               f"threshold bits {tbits}")
    pos = _HEAD.size
    wd = np.dtype(_wdtype(wbits))
    layers: list[SnnLayer] = []
    fan_in = n_in
    for i in range(n_layers):
        if len(payload) < pos + _LAYER.size:
            raise ModelFormatError(f"layer {i}: header cut short")
        n_out, reset, mode, leak, refractory = _LAYER.unpack_from(payload, pos)
        pos += _LAYER.size
        if n_out < 1 or reset > 1:
            raise ModelFormatError(f"layer {i}: n_out {n_out}, reset code {reset}")
        need = n_out * fan_in * wd.itemsize + 3 * 4 * n_out
        if len(payload) < pos + need:
            raise ModelFormatError(f"layer {i}: {need} bytes of arrays announced, "
                                   f"{len(payload) - pos} left")
        w = np.frombuffer(payload, wd, n_out * fan_in, pos).reshape(n_out, fan_in).astype(np.int32)
        pos += w.size * wd.itemsize
        arrays = []
        for _ in range(3):
            arrays.append(np.frombuffer(payload, "<i4", n_out, pos).astype(np.int64))
            pos += 4 * n_out
        layers.append(SnnLayer(w, arrays[0], arrays[1], arrays[2], mode, leak, RESETS[reset], refractory))
        fan_in = n_out
    if pos != len(payload):
        raise ModelFormatError(f"{len(payload) - pos} bytes after the last layer")
    net = SnnNetwork(n_in, layers, wbits, tbits)
    problems = net.problems()
    if problems:
        raise ModelFormatError(problems[0])
    return net


def network_summary(net: SnnNetwork) -> dict[str, Any]:
    """A JSON-able description (sizes, bits, per-layer leak and reset), for run files and logs."""
    return {"n_inputs": net.n_inputs, "weight_bits": net.weight_bits, "threshold_bits": net.threshold_bits,
            "layers": [{"n_out": la.n_out, "leak": la.leak_text, "reset": la.reset,
                        "refractory": la.refractory} for la in net.layers]}
