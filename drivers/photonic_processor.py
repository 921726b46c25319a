"""A programmable MZI photonic processor behind a vector/batch interface (hilt frame protocol).

Large meshes (three 64-port Clements meshes hold 12,096 phase shifters) are not driven one
serial command per heater: the chip's controller takes a whole heater vector per transaction and
streams batches of input vectors through the input modulators, reading every output port (and,
where the chip has tap detectors, the intermediate layers) per sample. The bytes are those of
*hilt frame protocol, photonic processor messages* (docs/protocols/photonic-processor.md, our own
protocol document, written byte by byte so firmware authors can implement it):

=====  ==============  ==========================================================  =============
type   name            request payload                                             reply
=====  ==============  ==========================================================  =============
0x01   INFO            (none)                                                      0x81 JSON
0x10   SET_HEATERS     layer u16, offset u32, count u32 (BE); count x f32 LE volts  0x90 (none)
0x11   GET_HEATERS     layer u16 (BE)                                              0x91 count u32 BE, f32 LE
0x20   RUN             flags u8 (bit0: internal states), batch u32, n u16 (BE);    0xA0 batch u32, n u16,
                       batch x n complex64 LE (re, im)                             states u8 (BE);
                                                                                   (1+states) x batch x n f32 LE
0x30   LIGHT           on u8, power mW f32 (BE)                                    0xB0 (none)
0x40   SAFE            (none): heaters to 0 V, light off                           0xC0 (none)
0xFF   ERROR (reply)   code u16 BE, UTF-8 message
=====  ==============  ==========================================================  =============

The driver speaks volts; :class:`hilt.instruments.mesh_processor.StationMeshProcessor` maps the
loops' phases to volts through the heater calibration and counts physical queries.
"""

from __future__ import annotations

import itertools
import json
import struct
from typing import Any, ClassVar

import numpy as np

from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.framing import (
    CRC_SIZE,
    ERROR_TYPE,
    HEADER_SIZE,
    Frame,
    FrameError,
    check_frame,
    parse_error,
    parse_header,
)
from hilt.instrument import Instrument

INFO, SET_HEATERS, GET_HEATERS, RUN, LIGHT, SAFE = 0x01, 0x10, 0x11, 0x20, 0x30, 0x40


class PhotonicProcessor(Instrument):
    """Vector/batch controller of a multi-layer MZI chip (hilt frame protocol over TCP)."""

    model = "photonic_processor"
    simulator = "photonic_processor"
    transport_settings: ClassVar[dict[str, Any]] = {"timeout": 30.0}

    def __init__(self, address: str | None = None, *, v_max: float = 8.0, **kwargs: Any) -> None:
        self.v_max = float(v_max)
        super().__init__(address, **kwargs)
        self._seq = itertools.count(1)
        self.info: dict[str, Any] = {}
        self.samples_run = 0
        self.n_ports = 0
        self.n_layers = 0
        self.heaters_per_layer = 0

    # -- frames --------------------------------------------------------------------------------
    def exchange(self, ftype: int, payload: bytes = b"") -> bytes:
        """Send one request frame and return the reply's payload (checked, errors raised)."""
        seq = next(self._seq) & 0xFFFF
        request = Frame(ftype, seq, payload).encode()
        with self.transport.transaction() as t:
            t.write_raw(request)
            head = t.read_bytes(HEADER_SIZE)
            try:
                rtype, rseq, length = parse_header(head)
                rest = t.read_bytes(length + CRC_SIZE)
                frame = check_frame(head, rest[:length], rest[length:])
            except FrameError as exc:
                t.mark_stale()  # resynchronise: whatever follows is suspect
                raise ProtocolError(str(exc), instrument=self.name, command=f"type {ftype:#04x}", reply=head) from None
        if frame.seq != seq:
            raise ProtocolError(f"reply to request {frame.seq}, expected {seq}", instrument=self.name)
        if rtype == ERROR_TYPE:
            code, message = parse_error(frame.payload)
            raise InstrumentError(code, message, instrument=self.name, command=f"type {ftype:#04x}")
        if rtype != ftype | 0x80:
            raise ProtocolError(f"reply type {rtype:#04x} to request {ftype:#04x}", instrument=self.name)
        return frame.payload

    # -- life cycle ----------------------------------------------------------------------------
    def on_connect(self) -> None:
        try:
            self.info = json.loads(self.exchange(INFO))
            self.n_ports = int(self.info["n_ports"])
            self.n_layers = int(self.info["n_layers"])
            self.heaters_per_layer = int(self.info["heaters_per_layer"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f"INFO reply not understood: {exc}", instrument=self.name) from None

    def identify(self) -> dict[str, str]:
        if not self.info:
            self.info = json.loads(self.exchange(INFO))
        return {k: str(self.info.get(k, "")) for k in ("vendor", "model", "serial", "firmware")}

    def snapshot_parameters(self) -> dict[str, Any]:
        keys = ("n_ports", "n_layers", "heaters_per_layer", "measures_internal", "max_batch")
        return {k: self.info.get(k) for k in keys} | {"samples_run": self.samples_run}

    def safe_state(self) -> None:
        self.exchange(SAFE)

    # -- heaters -------------------------------------------------------------------------------
    def set_heaters(self, layer: int, volts: np.ndarray, offset: int = 0) -> None:
        """Set ``len(volts)`` heaters of ``layer`` from ``offset``; every value checked first."""
        v = np.asarray(volts, dtype=np.float64).ravel()
        heaters = self.heaters_per_layer
        if not 0 <= layer < self.n_layers:
            raise LimitError(f"layer {layer} outside 0..{self.n_layers - 1}", instrument=self.name, parameter="heaters")
        if offset < 0 or offset + v.size > heaters:
            raise LimitError(f"heaters {offset}..{offset + v.size - 1} outside 0..{heaters - 1}",
                             instrument=self.name, parameter="heaters")
        bad = np.flatnonzero(~np.isfinite(v) | (v < 0) | (v > self.v_max))
        if bad.size:
            i = int(bad[0])
            raise LimitError(f"heater {offset + i} of layer {layer}: {v[i]:g} V outside [0, {self.v_max:g}]",
                             instrument=self.name, parameter="heaters", value=float(v[i]))
        payload = struct.pack(">HII", layer, offset, v.size) + v.astype("<f4").tobytes()
        self.exchange(SET_HEATERS, payload)

    def get_heaters(self, layer: int) -> np.ndarray:
        reply = self.exchange(GET_HEATERS, struct.pack(">H", layer))
        (count,) = struct.unpack(">I", reply[:4])
        if len(reply) != 4 + 4 * count:
            raise ProtocolError("GET_HEATERS reply length", instrument=self.name)
        return np.frombuffer(reply[4:], dtype="<f4").astype(np.float64)

    def set_light(self, on: bool, power_mw: float = 1.0) -> None:
        if not 0 <= power_mw <= 100:
            raise LimitError(f"{power_mw:g} mW outside [0, 100]", instrument=self.name, parameter="light")
        self.exchange(LIGHT, struct.pack(">Bf", 1 if on else 0, power_mw))

    # -- batches -------------------------------------------------------------------------------
    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Detected output intensities (B, N) for input amplitudes (B, N), in chunks of max_batch."""
        x = np.ascontiguousarray(inputs, dtype="<c8")
        if x.ndim != 2 or x.shape[1] != self.n_ports:
            raise LimitError(f"inputs of shape {x.shape}: expected (batch, {self.n_ports})", instrument=self.name)
        max_batch = int(self.info.get("max_batch", 1024))
        outs: list[np.ndarray] = []
        states: list[list[np.ndarray]] = []
        for start in range(0, len(x), max_batch):
            chunk = x[start:start + max_batch]
            flags = 1 if internal else 0
            reply = self.exchange(RUN, struct.pack(">BIH", flags, len(chunk), self.n_ports) + chunk.tobytes())
            batch, n, n_states = struct.unpack(">IHB", reply[:7])
            expected = (1 + n_states) * batch * n * 4
            if batch != len(chunk) or n != self.n_ports or len(reply) - 7 != expected:
                raise ProtocolError("RUN reply shape does not match the request", instrument=self.name)
            data = np.frombuffer(reply[7:], dtype="<f4").reshape(1 + n_states, batch, n)
            outs.append(data[0])
            states.append(list(data[1:]))
        self.samples_run += len(x)
        out = np.concatenate(outs) if outs else np.zeros((0, self.n_ports), np.float32)
        layer_states = [np.concatenate([s[k] for s in states]) for k in range(len(states[0]))] if states and states[0] else []
        return out, layer_states
