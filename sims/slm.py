"""Simulated phase SLM: hilt's SLM protocol (docs/protocols/slm-camera.md) in front of the SLM of an
``slm_optics`` world system (:mod:`hilt.sims.slm_optics`).

The panel behind the bytes has the hidden response of :class:`hilt.sims.physics.slm.SLMPanel`
(full-scale phase not 2 pi, a bent curve, fringing, liquid-crystal settling on the simulated
clock, aberration). Its LUT (SET_LUT / GET_LUT) is what a host stores on the device: the data
sheet's linear ramp until a calibration writes a measured one; the panel's true response does
not change with it (as on a real SLM driven by hilt, which converts phases itself).

Option ``system``: the name of the ``slm_optics`` system the panel belongs to; without one the
simulator builds a bench of its own (a fixed laser, the default optics), so ``hilt sim serve
hilt_slm`` works alone.
"""

from __future__ import annotations

import math
import struct
from typing import Any, ClassVar

import numpy as np

from hilt.array_payload import HEAD, HEAD_SIZE, ArrayPayloadError, pack_array, unpack_array
from hilt.sims.framed import BAD_PAYLOAD, OUT_OF_RANGE, FrameReplyError
from hilt.sims.hilt_device import HiltDevice
from hilt.slm_lut import linear_lut

SHOW, SHOWN, STATUS, SET_LUT, GET_LUT = 0x10, 0x11, 0x12, 0x13, 0x14
#: The settle time reported: the liquid crystal within 1 % of its target (ln 100 time constants).
SETTLE_TIME_CONSTANTS = math.log(100.0)


def bench_of(sim: Any, system: str | None) -> Any:
    """The ``slm_optics`` system named ``system`` in the simulator's world, or a bench of the
    simulator's own (fixed laser) when it names none."""
    from hilt.sims.slm_optics import SlmOptics

    if system is not None:
        bench = sim.world.system(system)
        if not isinstance(bench, SlmOptics):
            raise ValueError(f"{sim.name}: no slm_optics system named {system!r} in the world")
        return bench
    return SlmOptics(sim.world, name=f"{sim.name}.bench", laser=None)


class SimSLM(HiltDevice):
    model = "hilt_slm"
    description = "phase-only LCoS SLM (hilt SLM protocol, TCP)"
    device: ClassVar[str] = "slm"

    def __init__(self, *args: Any, system: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bench = bench_of(self, system)
        spec = self.bench.slm_spec
        self.shape = tuple(spec.shape)
        self.bits = spec.bits
        self.lut = linear_lut(self.bits)
        self.counter = 0
        self.settle_s = SETTLE_TIME_CONSTANTS * spec.settle_tau
        self.t_shown = -math.inf
        self.publish("shown", self.bench.shown())

    def info(self) -> dict[str, Any]:
        spec = self.bench.slm_spec
        return {"rows": self.shape[0], "cols": self.shape[1], "pixel_pitch_m": spec.pixel_pitch,
                "bit_depth": self.bits, "wavelength_m": spec.wavelength, "settle_s": self.settle_s}

    def show(self, grey: np.ndarray) -> None:
        now = self.world.clock.now()
        self.bench.show(grey, now)
        self.counter = (self.counter + 1) & 0xFFFFFFFF
        self.t_shown = now
        self.publish("shown", grey)

    def safe(self) -> None:
        self.show(np.zeros(self.shape, dtype=np.int64))

    def handle_device_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes] | None:
        if ftype == SHOW:
            if len(payload) >= HEAD_SIZE:
                rows, cols = HEAD.unpack_from(payload)[:2]
                if (rows, cols) != self.shape:  # refused before anything is inflated
                    raise FrameReplyError(OUT_OF_RANGE, f"frame of {rows} x {cols}, "
                                          f"the panel is {self.shape[0]} x {self.shape[1]}")
            try:
                grey, end = unpack_array(payload, 0, max_pixels=self.shape[0] * self.shape[1])
            except ArrayPayloadError as exc:
                raise FrameReplyError(BAD_PAYLOAD, str(exc)) from None
            if end != len(payload):
                raise FrameReplyError(BAD_PAYLOAD, f"{len(payload) - end} bytes after the array block")
            if grey.size and int(grey.max()) >= 1 << self.bits:
                raise FrameReplyError(OUT_OF_RANGE, f"grey level {int(grey.max())} above {(1 << self.bits) - 1}")
            self.show(grey)
            return self.reply_type(ftype), struct.pack(">Id", self.counter, self.t_shown)
        if ftype == SHOWN:
            self.expect_empty(ftype, payload)
            shown = self.bench.shown().astype(np.uint8 if self.bits <= 8 else np.uint16)
            return self.reply_type(ftype), pack_array(shown)
        if ftype == STATUS:
            self.expect_empty(ftype, payload)
            now = self.world.clock.now()
            remaining = max(0.0, self.t_shown + self.settle_s - now) if math.isfinite(self.t_shown) else 0.0
            return self.reply_type(ftype), struct.pack(">IBdd", self.counter, 0 if remaining > 0 else 1,
                                                                remaining, now)
        if ftype == SET_LUT:
            if len(payload) < 4:
                raise FrameReplyError(BAD_PAYLOAD, "SET_LUT starts with a count u32")
            (count,) = struct.unpack(">I", payload[:4])
            if len(payload) != 4 + 8 * count:
                raise FrameReplyError(BAD_PAYLOAD, f"{count} phases announced in {len(payload) - 4} bytes")
            if count != 1 << self.bits:
                raise FrameReplyError(OUT_OF_RANGE, f"a LUT of {count} phases; the panel has {1 << self.bits} levels")
            lut = np.frombuffer(payload[4:], dtype="<f8")
            if not np.all(np.isfinite(lut)):
                raise FrameReplyError(OUT_OF_RANGE, "a LUT phase is NaN or infinite")
            self.lut = lut.astype(np.float64)
            return self.reply_type(ftype), b""
        if ftype == GET_LUT:
            self.expect_empty(ftype, payload)
            return self.reply_type(ftype), struct.pack(">I", self.lut.size) + self.lut.astype("<f8").tobytes()
        return None

    def state(self) -> dict[str, Any]:
        return {"frames_shown": self.counter, "settle_s": self.settle_s}
