"""A camera on this computer served over hilt's camera protocol (docs/protocols/slm-camera.md).

The camera half of :mod:`hilt.gui.slm_server`: ``hilt camera serve basler --serial 40123456
--pitch-um 3.45`` on the computer the camera is plugged into, and a station anywhere drives it
with the ``hilt_camera`` driver (:class:`hilt.drivers.hilt_camera.HiltCamera`) at
``tcp://<that computer>:<port>``, with ``token`` when the server has one. Behind the server is any
object of the camera kind: a Basler camera (:class:`hilt.drivers.basler_camera.BaslerCamera`), a
slmsuite camera (:class:`hilt.drivers.slmsuite_adapter.SlmsuiteCamera`). The access rule is the
SLM server's: loopback unless told otherwise, a token for anything else.

How the messages map onto the camera kind:

* INFO: the camera's shape, bit depth and pixel pitch (which must be known: give it when the
  camera does not report it), the bounds of its ``exposure``, ``gain`` and ``binning``
  parameters (every binning in that range is offered), the queue depth given to the server.
* SET_SETTINGS: everything is checked against those bounds and the sensor first (a refused
  request changes nothing); then binning 1, the region, the binning, exposure and gain are set.
* TRIGGER: ``trigger()``; the counter in the reply is the server's count of triggers (the
  frame's own counter, which GRAB returns, is the camera's: the two differ once the camera has
  dropped a frame), the start time the server's monotonic clock.
* GRAB: ``grab(timeout=0)``: a frame if the camera has one; if not and a triggered frame is still
  outstanding, status 1 with the exposure time as the wait; status 2 when none is.
* FLUSH: ``flush()``, and the frames triggered and not grabbed are reported dropped.
* SAFE: ``safe_state()``.
"""

from __future__ import annotations

import math
import struct
import time
from typing import Any, ClassVar

import numpy as np

from hilt.array_payload import pack_array
from hilt.errors import ConfigError, HiltError, InstrumentTimeout
from hilt.gui.slm_server import EXECUTION_ERROR, _start, check_access
from hilt.sims.framed import BAD_PAYLOAD, OUT_OF_RANGE, FrameReplyError
from hilt.sims.hilt_device import HiltDevice
from hilt.sims.server import TcpSimServer

SET_SETTINGS, GET_SETTINGS, TRIGGER, GRAB, FLUSH = 0x20, 0x21, 0x22, 0x23, 0x24
#: exposure f64, gain f64, x, y, width, height u16, binning u8 (big-endian, 25 bytes)
SETTINGS = struct.Struct(">ddHHHHB")
FRAME, PENDING, EMPTY = 0, 1, 2
#: The shortest wait GRAB's status 1 asks for, s.
MIN_WAIT_S = 1e-3

__all__ = ["CameraServer", "serve_camera"]


def _bounds(parameter: Any) -> tuple[float, float]:
    vals = getattr(parameter, "vals", None)
    span = getattr(vals, "range", None) if vals is not None else None
    if span is None:
        raise ConfigError(f"{parameter.full_name} has no bounds to offer in INFO")
    return float(span[0]), float(span[1])


class CameraServer(HiltDevice):
    """The device side of the camera protocol in front of a local camera-kind object."""

    model = "camera_server"
    description = "camera served over hilt's camera protocol"
    device: ClassVar[str] = "camera"

    def __init__(self, camera: Any, *, token: str | None = None, name: str = "camera", queue_depth: int = 16,
                 model: str | None = None) -> None:
        super().__init__(None, name=name, token=token)
        pitch = float(camera.pixel_pitch_m)
        if not (math.isfinite(pitch) and pitch > 0):
            raise ConfigError(f"{name}: the camera's pixel pitch is unknown; give it (the data sheet's)")
        self.camera = camera
        self.description = model or getattr(camera, "model", type(camera).__name__)
        self.queue_depth = int(queue_depth)
        self.triggers = 0
        self.outstanding = 0

    def info(self) -> dict[str, Any]:
        cam = self.camera
        lo, hi = _bounds(cam.exposure)
        glo, ghi = _bounds(cam.gain)
        blo, bhi = _bounds(cam.binning)
        return {"rows": int(cam.shape[0]), "cols": int(cam.shape[1]), "pixel_pitch_m": float(cam.pixel_pitch_m),
                "bit_depth": int(cam.bit_depth), "exposure_min_s": lo, "exposure_max_s": hi, "gain_min_db": glo,
                "gain_max_db": ghi, "binning": list(range(int(blo), int(bhi) + 1)), "queue_depth": self.queue_depth}

    def safe(self) -> None:
        self._run(self.camera.safe_state)
        self.outstanding = 0

    def _run(self, action: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except ValueError as exc:  # LimitError included
            raise FrameReplyError(OUT_OF_RANGE, str(exc)) from None
        except HiltError as exc:
            raise FrameReplyError(EXECUTION_ERROR, str(exc)) from None

    def _settings(self) -> bytes:
        cam = self.camera
        x, y, w, h = cam.roi()
        return SETTINGS.pack(float(cam.exposure.get()), float(cam.gain.get()), x, y, w, h, int(cam.binning.get()))

    def _set(self, payload: bytes) -> None:
        cam = self.camera
        if len(payload) != SETTINGS.size:
            raise FrameReplyError(BAD_PAYLOAD, f"SET_SETTINGS takes {SETTINGS.size} bytes")
        exposure, gain, x, y, w, h, b = SETTINGS.unpack(payload)
        rows, cols = cam.shape
        # Everything checked before anything changes.
        self._run(cam.exposure.validate, exposure)
        self._run(cam.gain.validate, gain)
        self._run(cam.binning.validate, b)
        if w < 1 or h < 1 or x + w > cols or y + h > rows:
            raise FrameReplyError(OUT_OF_RANGE, f"ROI x={x} y={y} {w} x {h} outside the {cols} x {rows} sensor")
        if w % b or h % b:
            raise FrameReplyError(OUT_OF_RANGE, f"ROI {w} x {h} is not a multiple of the binning {b}")
        if (x, y, w, h, b) != (*cam.roi(), int(cam.binning.get())):
            self._run(cam.binning.set, 1)
            self._run(cam.set_roi, x, y, w, h)
            self._run(cam.binning.set, b)
        self._run(cam.exposure.set, exposure)
        self._run(cam.gain.set, gain)

    def handle_device_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes] | None:
        cam = self.camera
        if ftype == SET_SETTINGS:
            self._set(payload)
            return self.reply_type(ftype), b""
        if ftype == GET_SETTINGS:
            self.expect_empty(ftype, payload)
            return self.reply_type(ftype), self._settings()
        if ftype == TRIGGER:
            self.expect_empty(ftype, payload)
            start = time.monotonic()
            self._run(cam.trigger)
            self.triggers = (self.triggers + 1) & 0xFFFFFFFF
            self.outstanding = min(self.outstanding + 1, self.queue_depth)
            return self.reply_type(ftype), struct.pack(">Id", self.triggers, start)
        if ftype == GRAB:
            self.expect_empty(ftype, payload)
            try:
                frame = cam.grab(timeout=0.0)
            except InstrumentTimeout:
                if self.outstanding == 0:
                    return self.reply_type(ftype), bytes([EMPTY])
                wait = max(MIN_WAIT_S, float(cam.exposure.get()))
                return self.reply_type(ftype), struct.pack(">Bd", PENDING, wait)
            except HiltError as exc:
                raise FrameReplyError(EXECUTION_ERROR, str(exc)) from None
            self.outstanding = max(0, self.outstanding - 1)
            x, y, w, h = frame.roi if frame.roi is not None else cam.roi()
            settings = SETTINGS.pack(frame.exposure_s, frame.gain_db, x, y, w, h, int(frame.binning))
            image = np.asarray(frame.image)
            image = image.astype(np.uint8 if image.dtype == np.uint8 else np.uint16)
            head = struct.pack(">BId", FRAME, int(frame.counter) & 0xFFFFFFFF, float(frame.timestamp_s))
            return self.reply_type(ftype), head + settings + pack_array(image)
        if ftype == FLUSH:
            self.expect_empty(ftype, payload)
            self._run(cam.flush)
            dropped, self.outstanding = self.outstanding, 0
            return self.reply_type(ftype), struct.pack(">I", dropped)
        return None


def serve_camera(camera: Any, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 name: str = "camera", queue_depth: int = 16, model: str | None = None) -> TcpSimServer:
    """Start serving ``camera`` (a camera-kind object) on ``host:port``; returns the running
    server. Anywhere but loopback without a ``token`` is a ConfigError."""
    check_access(host, token)
    return _start(CameraServer(camera, token=token, name=name, queue_depth=queue_depth, model=model), host, port)
