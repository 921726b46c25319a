"""Simulated photonic processor: the hilt frame protocol in front of a multi-layer MZI chip.

Bytes as in docs/protocols/photonic-processor.md (and :mod:`hilt.drivers.photonic_processor`).
Behind them: an :class:`hilt.sims.physics.MZINetwork` of ``layers`` meshes (``kind``:
``clements`` or ``reck``) of ``n`` ports with the electro-optic activation between them
(``activation``: its ``alpha``, ``g``, ``phi_b``; the :class:`~hilt.sims.physics.EOActivation`
defaults otherwise), carrying hidden systematic errors drawn once from the world's seed and
error preset (``errors`` overrides the world's). Heater voltages set the phases through the
chip's true heater physics (offsets, efficiency spread, crosstalk); the loops' twin does not
know any of it. The INFO reply states the architecture (mesh, activation, detectors, taps), the
nominal design a twin is built from, never the hidden errors.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import torch

from hilt.sims.framed import (
    BAD_PAYLOAD,
    OUT_OF_RANGE,
    UNKNOWN_TYPE,
    FramedInstrument,
    FrameReplyError,
)

INFO, SET_HEATERS, GET_HEATERS, RUN, LIGHT, SAFE = 0x01, 0x10, 0x11, 0x20, 0x30, 0x40


class SimPhotonicProcessor(FramedInstrument):
    model = "photonic_processor"
    description = "MZI photonic processor, vector/batch interface (hilt frame protocol, TCP)"

    probe_options = {"n": 4, "layers": 2}
    #: Activation parameters the ``activation`` option may set (those of EOActivation).
    ACTIVATION_PARAMETERS = ("alpha", "g", "phi_b")

    def __init__(self, *args: Any, n: int = 64, layers: int = 3, kind: str = "clements",
                 activation: dict[str, Any] | None = None, errors: str | None = None,
                 measures_internal: bool = True, max_batch: int = 1024, v_max: float = 8.0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from hilt.sims.physics import EOActivation, MZINetwork

        self.n = int(n)
        self.n_layers = int(layers)
        self.kind = kind
        spec = dict(activation or {})
        if spec.pop("kind", "electro_optic") != "electro_optic":
            raise ValueError("activation: the simulated chip has the electro-optic activation "
                             "(kind electro_optic) only")
        unknown = sorted(set(spec) - set(self.ACTIVATION_PARAMETERS))
        if unknown:
            raise ValueError(f"activation: unknown parameter(s) {', '.join(unknown)} "
                             f"(known: {', '.join(self.ACTIVATION_PARAMETERS)})")
        self.errors = errors or self.world.errors
        self.measures_internal = measures_internal
        self.max_batch = max_batch
        self.v_max = v_max
        seed = int(self.world.rng(f"{self.name}.chip").integers(2**62))
        nominal = MZINetwork.build(self.n, self.n_layers, kind, seed=seed)
        nominal.activation = EOActivation(**{k: float(v) for k, v in spec.items()})
        self.network = nominal.with_errors(self.errors, seed + 1)
        for p in self.network.parameters():
            p.requires_grad_(False)
        self.heaters_per_layer = self.network.meshes[0].layout.n_heaters
        self.volts = [np.zeros(self.heaters_per_layer) for _ in range(self.n_layers)]
        self._matrices: list[torch.Tensor | None] = [None] * self.n_layers
        self.light_on = True
        self.light_mw = 1.0
        self.world.attach(self.name, self)

    def describe(self) -> dict[str, Any]:
        """The architecture keys of the INFO reply: what a twin of this chip is built from."""
        act = self.network.activation
        return {"mesh": self.kind,
                "activation": {"kind": "electro_optic", "alpha": act.alpha, "g": act.g, "phi_b": act.phi_b},
                "detectors": {"kind": "photodiode", "n": self.n,
                              "responsivity": self.network.detectors.responsivity}}

    def _matrix(self, layer: int) -> torch.Tensor:
        if self._matrices[layer] is None:
            v = torch.as_tensor(self.volts[layer], dtype=torch.float32)
            with torch.no_grad():
                self._matrices[layer] = self.network.meshes[layer].transfer_matrix(v)
        return self._matrices[layer]  # type: ignore[return-value]

    def forward(self, x: np.ndarray, internal: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        """Physical outputs for inputs x (B, n) complex: the chip as it really is."""
        z = torch.as_tensor(x)
        if not self.light_on:
            z = torch.zeros_like(z)
        states = []
        with torch.no_grad():
            for layer in range(self.n_layers):
                z = z @ self._matrix(layer).T
                if layer < self.n_layers - 1:
                    if internal:
                        states.append(z.abs().square().numpy())
                    z = self.network.activation(z)
            out = self.network.detectors(z.abs().square()).numpy()
        return out, states

    def handle_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes]:
        if ftype == INFO:
            info = {"vendor": "hilt", "model": "PNP-64 simulated photonic processor", "serial": self.name,
                    "firmware": "1.0", "n_ports": self.n, "n_layers": self.n_layers,
                    "heaters_per_layer": self.heaters_per_layer, "measures_internal": self.measures_internal,
                    "max_batch": self.max_batch, "v_max": self.v_max} | self.describe()
            return self.reply_type(ftype), json.dumps(info).encode()
        if ftype == SET_HEATERS:
            if len(payload) < 10:
                raise FrameReplyError(BAD_PAYLOAD, "SET_HEATERS header")
            layer, offset, count = struct.unpack(">HII", payload[:10])
            if len(payload) != 10 + 4 * count:
                raise FrameReplyError(BAD_PAYLOAD, f"{count} values announced, {(len(payload) - 10) // 4} sent")
            if layer >= self.n_layers or offset + count > self.heaters_per_layer:
                raise FrameReplyError(OUT_OF_RANGE, f"layer {layer} heaters {offset}..{offset + count - 1}")
            v = np.frombuffer(payload[10:], dtype="<f4")
            if np.any(~np.isfinite(v)) or np.any(v < 0) or np.any(v > self.v_max):
                raise FrameReplyError(OUT_OF_RANGE, f"voltage outside [0, {self.v_max:g}] V")
            self.volts[layer][offset:offset + count] = v
            self._matrices[layer] = None
            return self.reply_type(ftype), b""
        if ftype == GET_HEATERS:
            if len(payload) != 2:
                raise FrameReplyError(BAD_PAYLOAD, "GET_HEATERS takes a layer")
            (layer,) = struct.unpack(">H", payload)
            if layer >= self.n_layers:
                raise FrameReplyError(OUT_OF_RANGE, f"layer {layer}")
            v = self.volts[layer].astype("<f4")
            return self.reply_type(ftype), struct.pack(">I", v.size) + v.tobytes()
        if ftype == RUN:
            if len(payload) < 7:
                raise FrameReplyError(BAD_PAYLOAD, "RUN header")
            flags, batch, n = struct.unpack(">BIH", payload[:7])
            if n != self.n or batch > self.max_batch:
                raise FrameReplyError(OUT_OF_RANGE, f"batch {batch} x {n} (chip: <= {self.max_batch} x {self.n})")
            if len(payload) != 7 + 8 * batch * n:
                raise FrameReplyError(BAD_PAYLOAD, "RUN data length")
            x = np.frombuffer(payload[7:], dtype="<c8").reshape(batch, n).copy()
            internal = bool(flags & 1) and self.measures_internal
            out, states = self.forward(x, internal)
            body = np.stack([out, *states]).astype("<f4") if states else out[None].astype("<f4")
            return self.reply_type(ftype), struct.pack(">IHB", batch, n, len(states)) + body.tobytes()
        if ftype == LIGHT:
            if len(payload) != 5:
                raise FrameReplyError(BAD_PAYLOAD, "LIGHT takes on u8 and power f32")
            on, power = struct.unpack(">Bf", payload)
            self.light_on, self.light_mw = bool(on), float(power)
            return self.reply_type(ftype), b""
        if ftype == SAFE:
            for layer in range(self.n_layers):
                self.volts[layer][:] = 0.0
                self._matrices[layer] = None
            self.light_on = False
            return self.reply_type(ftype), b""
        self.unknown_command(f"frame type {ftype:#04x}")
        raise FrameReplyError(UNKNOWN_TYPE, f"type {ftype:#04x}")

    def state(self) -> dict[str, Any]:
        return {"light_on": self.light_on, "max_volts": [float(v.max()) for v in self.volts]}
