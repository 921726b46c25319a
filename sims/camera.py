"""Simulated camera: hilt's camera protocol (docs/protocols/slm-camera.md) in front of the sensor
of an ``slm_optics`` world system (:mod:`hilt.sims.slm_optics`).

Software-triggered, as hilt uses cameras: TRIGGER exposes one frame with the settings of that
moment, starting at the simulated time it arrives (or when the previous exposure ends, if it is
still running); the frame is ready ``exposure + readout_s`` later and waits in a queue of
``queue_depth`` frames (a trigger into a full queue drops the oldest frame: the counter shows the
gap). GRAB hands out the oldest frame once it is ready, or says how long until it is. The image
is computed when the trigger arrives, from the bench as it is then (a frame the SLM shows during
the exposure is not seen). The region of interest crops the full sensor; binning averages b x b
blocks (rounded).

Option ``system``: the name of the ``slm_optics`` system the camera belongs to; without one it
looks at a bench of its own (a fixed laser on a blank SLM).
"""

from __future__ import annotations

import math
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hilt.array_payload import pack_array
from hilt.sims.framed import BAD_PAYLOAD, OUT_OF_RANGE, FrameReplyError
from hilt.sims.hilt_device import HiltDevice
from hilt.sims.slm import bench_of

SET_SETTINGS, GET_SETTINGS, TRIGGER, GRAB, FLUSH = 0x20, 0x21, 0x22, 0x23, 0x24
#: exposure f64, gain f64, x, y, width, height u16, binning u8 (big-endian, 25 bytes)
SETTINGS = struct.Struct(">dd")
ROI = struct.Struct(">HHHHB")
BINNINGS = (1, 2, 4)
#: GRAB status byte.
FRAME, PENDING, EMPTY = 0, 1, 2


@dataclass(frozen=True)
class Settings:
    exposure_s: float
    gain_db: float
    roi: tuple[int, int, int, int]
    binning: int

    def pack(self) -> bytes:
        return SETTINGS.pack(self.exposure_s, self.gain_db) + ROI.pack(*self.roi, self.binning)


@dataclass
class Exposed:
    counter: int
    start: float
    ready: float
    settings: Settings
    image: np.ndarray


class SimCamera(HiltDevice):
    model = "hilt_camera"
    description = "software-triggered camera (hilt camera protocol, TCP)"
    device: ClassVar[str] = "camera"

    def __init__(self, *args: Any, system: str | None = None, queue_depth: int = 16, readout_s: float = 1e-3,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bench = bench_of(self, system)
        spec = self.bench.sensor_spec
        self.shape = tuple(spec.shape)
        self.queue_depth = int(queue_depth)
        self.readout_s = float(readout_s)
        rows, cols = self.shape
        self.settings = Settings(1e-3, 0.0, (0, 0, cols, rows), 1)
        self.queue: deque[Exposed] = deque()
        self.counter = 0
        self.busy_until = -math.inf

    def info(self) -> dict[str, Any]:
        spec = self.bench.sensor_spec
        return {"rows": self.shape[0], "cols": self.shape[1], "pixel_pitch_m": spec.pixel_pitch,
                "bit_depth": spec.bits, "exposure_min_s": spec.exposure_range[0],
                "exposure_max_s": spec.exposure_range[1], "gain_min_db": spec.gain_db_range[0],
                "gain_max_db": spec.gain_db_range[1], "binning": list(BINNINGS), "queue_depth": self.queue_depth}

    def safe(self) -> None:
        self.queue.clear()

    def _check(self, s: Settings) -> None:
        spec = self.bench.sensor_spec
        lo, hi = spec.exposure_range
        if not (math.isfinite(s.exposure_s) and lo <= s.exposure_s <= hi):
            raise FrameReplyError(OUT_OF_RANGE, f"exposure {s.exposure_s:g} s outside [{lo:g}, {hi:g}]")
        glo, ghi = spec.gain_db_range
        if not (math.isfinite(s.gain_db) and glo <= s.gain_db <= ghi):
            raise FrameReplyError(OUT_OF_RANGE, f"gain {s.gain_db:g} dB outside [{glo:g}, {ghi:g}]")
        x, y, w, h = s.roi
        rows, cols = self.shape
        if w < 1 or h < 1 or x + w > cols or y + h > rows:
            raise FrameReplyError(OUT_OF_RANGE, f"ROI x={x} y={y} {w} x {h} outside the {cols} x {rows} sensor")
        if s.binning not in BINNINGS:
            raise FrameReplyError(OUT_OF_RANGE, f"binning {s.binning}: expected one of {BINNINGS}")
        if w % s.binning or h % s.binning:
            raise FrameReplyError(OUT_OF_RANGE, f"ROI {w} x {h} is not a multiple of the binning {s.binning}")

    def trigger(self) -> tuple[int, float]:
        now = self.world.clock.now()
        start = max(now, self.busy_until)
        s = self.settings
        full = self.bench.expose(start, s.exposure_s, s.gain_db)
        x, y, w, h = s.roi
        image = full[y:y + h, x:x + w]
        b = s.binning
        if b > 1:
            image = np.rint(image.reshape(h // b, b, w // b, b).mean(axis=(1, 3)))
        self.counter = (self.counter + 1) & 0xFFFFFFFF
        self.busy_until = start + s.exposure_s
        if len(self.queue) >= self.queue_depth:
            self.queue.popleft()
        self.queue.append(Exposed(self.counter, start, start + s.exposure_s + self.readout_s, s,
                                  image.astype(np.uint16)))
        return self.counter, start

    def handle_device_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes] | None:
        if ftype == SET_SETTINGS:
            if len(payload) != SETTINGS.size + ROI.size:
                raise FrameReplyError(BAD_PAYLOAD, f"SET_SETTINGS takes {SETTINGS.size + ROI.size} bytes")
            exposure, gain = SETTINGS.unpack_from(payload)
            x, y, w, h, b = ROI.unpack_from(payload, SETTINGS.size)
            s = Settings(exposure, gain, (x, y, w, h), b)
            self._check(s)
            self.settings = s
            return self.reply_type(ftype), b""
        if ftype == GET_SETTINGS:
            self.expect_empty(ftype, payload)
            return self.reply_type(ftype), self.settings.pack()
        if ftype == TRIGGER:
            self.expect_empty(ftype, payload)
            counter, start = self.trigger()
            return self.reply_type(ftype), struct.pack(">Id", counter, start)
        if ftype == GRAB:
            self.expect_empty(ftype, payload)
            if not self.queue:
                return self.reply_type(ftype), bytes([EMPTY])
            frame = self.queue[0]
            now = self.world.clock.now()
            if frame.ready > now:
                return self.reply_type(ftype), struct.pack(">Bd", PENDING, frame.ready - now)
            self.queue.popleft()
            head = struct.pack(">BId", FRAME, frame.counter, frame.start)
            return self.reply_type(ftype), head + frame.settings.pack() + pack_array(frame.image)
        if ftype == FLUSH:
            self.expect_empty(ftype, payload)
            dropped = len(self.queue)
            self.queue.clear()
            return self.reply_type(ftype), struct.pack(">I", dropped)
        return None

    def state(self) -> dict[str, Any]:
        s = self.settings
        return {"frames": self.counter, "queued": len(self.queue), "exposure_s": s.exposure_s,
                "gain_db": s.gain_db, "roi": s.roi, "binning": s.binning}
