"""A software-triggered camera behind hilt's camera protocol (docs/protocols/slm-camera.md, our own
protocol document): hilt's simulated camera, or a camera served by a host that speaks it.

=====  ============  ===================================================  ===========================
type   name          request payload                                      reply
=====  ============  ===================================================  ===========================
0x01   INFO          (none)                                               0x81 JSON (shape, bounds, ...)
0x02   HELLO         the server's token, UTF-8                            0x82 (none)
0x20   SET_SETTINGS  exposure f64 s, gain f64 dB, x, y, width, height     0xA0 (none)
                     u16, binning u8
0x21   GET_SETTINGS  (none)                                               0xA1 the 25 bytes of SET_SETTINGS
0x22   TRIGGER       (none)                                               0xA2 counter u32, start f64 s
0x23   GRAB          (none)                                               0xA3 status u8, then a frame
                                                                          (0), seconds to wait f64 (1),
                                                                          or nothing (2: none queued)
0x24   FLUSH         (none)                                               0xA4 frames dropped u32
0x40   SAFE          (none): acquisition stopped, queue dropped           0xC0 (none)
=====  ============  ===================================================  ===========================

A GRAB frame (status 0) is: counter u32, timestamp f64 (exposure start, device clock), the 25
settings bytes it was taken with, an array block (rows u16, cols u16, pixel type u8, compressed
length u32, zlib stream; :mod:`hilt.array_payload`). Scalars big-endian, pixels little-endian.

``grab(timeout)`` asks GRAB and, while the device says the oldest frame is still exposing, waits
the time it says (through :meth:`sleep`, which a fast simulated clock turns into a jump); after
``timeout`` s of waiting it raises :class:`GrabTimeout`. Settings this host sent are sent again
when a reconnect finds the camera holding others (a restarted camera starts from its defaults).
"""

from __future__ import annotations

import logging
import math
import struct
import time
from typing import Any, ClassVar

import numpy as np

from hilt.array_payload import ArrayPayloadError, unpack_array
from hilt.camera_frame import CameraFrame
from hilt.drivers.hilt_device import INFO, HiltDevice
from hilt.errors import InstrumentTimeout, LimitError
from hilt.parameters import Parameter
from hilt.validators import Ints, Numbers, is_real

SET_SETTINGS, GET_SETTINGS, TRIGGER, GRAB, FLUSH = 0x20, 0x21, 0x22, 0x23, 0x24
SETTINGS = struct.Struct(">ddHHHHB")
#: How often grab() asks again while no frame is queued at all (s of waiting).
EMPTY_POLL_S = 0.01

log = logging.getLogger("hilt.drivers.hilt_camera")


class GrabTimeout(InstrumentTimeout):
    """No frame was ready within ``grab``'s timeout."""



class HiltCamera(HiltDevice):
    """Software-triggered camera (kind ``camera``) over hilt's camera protocol; see the module
    docstring. ``shape``, ``bit_depth``, ``pixel_pitch_m`` and the bounds of ``exposure``,
    ``gain`` and ``binning`` come from the device's INFO reply."""

    model = "hilt_camera"
    kinds: ClassVar[tuple[str, ...]] = ("camera",)
    simulator = "hilt_camera"
    device: ClassVar[str] = "camera"
    RETRIED = frozenset({INFO, GET_SETTINGS})

    exposure = Parameter(lambda cam: cam.read_settings()[0], lambda cam, v: cam.write_settings(exposure=v),
                         unit="s", vals=Numbers(1e-6, 10.0), doc="exposure time")
    gain = Parameter(lambda cam: cam.read_settings()[1], lambda cam, v: cam.write_settings(gain=v),
                     unit="dB", vals=Numbers(0.0, 48.0), doc="analogue gain")
    binning = Parameter(lambda cam: cam.read_settings()[6], lambda cam, v: cam.write_settings(binning=v),
                        vals=Ints(1, 4), doc="pixels averaged per side (1: none)")

    def __init__(self, address: str | None = None, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self.shape: tuple[int, int] = (0, 0)
        self.bit_depth = 8
        self.pixel_pitch_m = 0.0
        self.binnings: tuple[int, ...] = (1,)
        self._settings: tuple[float, float, int, int, int, int, int] = (1e-3, 0.0, 0, 0, 1, 1, 1)
        #: The settings this host last sent (None: none yet), restored after a reconnect.
        self._host_settings: tuple[float, float, int, int, int, int, int] | None = None

    def apply_info(self, info: dict[str, Any]) -> None:
        self.shape = (self.info_int(info, "rows", 1, 0xFFFF), self.info_int(info, "cols", 1, 0xFFFF))
        self.bit_depth = self.info_int(info, "bit_depth", 1, 16)
        self.pixel_pitch_m = self.info_number(info, "pixel_pitch_m", 1e-9, 1.0)
        lo = self.info_number(info, "exposure_min_s", 0.0, 3600.0)
        hi = self.info_number(info, "exposure_max_s", lo, 3600.0)
        glo = self.info_number(info, "gain_min_db", -100.0, 100.0)
        ghi = self.info_number(info, "gain_max_db", glo, 100.0)
        binnings = info.get("binning", [1])
        if (not isinstance(binnings, list) or not binnings
                or not all(type(b) is int and 1 <= b <= 255 for b in binnings)):
            raise self.malformed("INFO", f"binning {binnings!r} is not a list of integers 1..255")
        self.binnings = tuple(sorted(set(binnings)))
        self.exposure.vals = Numbers(lo, hi)
        self.gain.vals = Numbers(glo, ghi)
        self.binning.vals = Ints(self.binnings[0], self.binnings[-1])
        device = self.read_settings()
        if self._host_settings is not None and device != self._host_settings:
            # A reconnect found the camera with other settings (it restarted): this host's go back.
            log.warning("%s: the camera's settings changed while the link was down; setting this host's again",
                        self.name)
            self.exchange(SET_SETTINGS, SETTINGS.pack(*self._host_settings), "SET_SETTINGS")
            self._settings = self._host_settings

    # -- settings --------------------------------------------------------------------------------
    def read_settings(self) -> tuple[float, float, int, int, int, int, int]:
        """(exposure s, gain dB, x, y, width, height, binning) from the device (GET_SETTINGS)."""
        reply = self.exchange(GET_SETTINGS, b"", "GET_SETTINGS")
        self._settings = self._parse_settings(reply, "GET_SETTINGS")
        return self._settings

    def _parse_settings(self, data: bytes, what: str) -> tuple[float, float, int, int, int, int, int]:
        if len(data) != SETTINGS.size:
            raise self.malformed(what, f"settings of {len(data)} bytes, expected {SETTINGS.size}", data)
        exposure, gain, x, y, w, h, b = SETTINGS.unpack(data)
        if not (math.isfinite(exposure) and exposure > 0 and math.isfinite(gain)) or w < 1 or h < 1 or b < 1:
            raise self.malformed(what, f"settings exposure {exposure!r}, gain {gain!r}, ROI {w} x {h}, binning {b}",
                                 data)
        return exposure, gain, x, y, w, h, b

    def _refuse(self, message: str, parameter: str) -> LimitError:
        return LimitError(message, instrument=self.name, parameter=parameter)

    def write_settings(self, *, exposure: float | None = None, gain: float | None = None,
                       roi: tuple[int, int, int, int] | None = None, binning: int | None = None) -> None:
        """Send the settings now with the ones given changed; every value checked first."""
        e, g, x, y, w, h, b = self._settings
        e = e if exposure is None else float(self.exposure.validate(exposure))
        g = g if gain is None else float(self.gain.validate(gain))
        if binning is not None:
            b = int(self.binning.validate(binning))
            if b not in self.binnings:
                raise self._refuse(f"binning {b}: the camera offers {', '.join(map(str, self.binnings))}", "binning")
        if roi is not None:
            x, y, w, h = roi
        rows, cols = self.shape
        if w % b or h % b:
            raise self._refuse(f"ROI {w} x {h} is not a multiple of the binning {b}", "roi")
        if x + w > cols or y + h > rows:
            raise self._refuse(f"ROI x={x} y={y} {w} x {h} outside the {cols} x {rows} sensor", "roi")
        self.exchange(SET_SETTINGS, SETTINGS.pack(e, g, x, y, w, h, b), "SET_SETTINGS")
        self._settings = self._host_settings = (e, g, x, y, w, h, b)

    def set_roi(self, x: int, y: int, width: int, height: int) -> None:
        """Region of interest in full-sensor pixels (x: left column, y: top row), checked against
        the sensor and the binning first."""
        values = (x, y, width, height)
        if not all(is_real(v) and not isinstance(v, (bool, np.bool_)) and float(v) == int(v) for v in values):
            raise self._refuse(f"ROI {values!r}: expected four integers", "roi")
        x, y, width, height = (int(v) for v in values)
        if x < 0 or y < 0 or width < 1 or height < 1:
            raise self._refuse(f"ROI x={x} y={y} {width} x {height}: offsets >= 0, sizes >= 1", "roi")
        self.write_settings(roi=(x, y, width, height))

    def roi(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the region of interest now."""
        _, _, x, y, w, h, _ = self.read_settings()
        return x, y, w, h

    # -- frames ----------------------------------------------------------------------------------
    def trigger(self) -> None:
        """Software trigger: one frame is exposed now with the settings now."""
        reply = self.exchange(TRIGGER, b"", "TRIGGER")
        if len(reply) != 12:
            raise self.malformed("TRIGGER", f"{len(reply)} bytes, expected counter u32 and start f64", reply)

    def grab(self, timeout: float = 1.0) -> CameraFrame:
        """The oldest frame exposed and not yet grabbed; waits up to ``timeout`` s for it."""
        if not is_real(timeout) or not timeout >= 0 or not math.isfinite(timeout):
            raise self._refuse(f"timeout {timeout!r}: expected seconds >= 0", "timeout")
        waited = 0.0
        wall_deadline = time.monotonic() + timeout + self.transport.timeout
        while True:
            reply = self.exchange(GRAB, b"", "GRAB")
            if not reply:
                raise self.malformed("GRAB", "no status byte")
            status = reply[0]
            if status == 0:
                return self._parse_frame(reply[1:])
            if status == 1:
                if len(reply) != 9:
                    raise self.malformed("GRAB", f"pending status with {len(reply) - 1} bytes, expected f64", reply)
                (ready_in,) = struct.unpack(">d", reply[1:])
                if not (math.isfinite(ready_in) and ready_in >= 0):
                    raise self.malformed("GRAB", f"ready in {ready_in!r} s", reply)
            elif status == 2 and len(reply) == 1:
                ready_in = EMPTY_POLL_S
            else:
                raise self.malformed("GRAB", f"status {status} with {len(reply) - 1} bytes", reply)
            if waited >= timeout or time.monotonic() > wall_deadline:
                what = "no frame queued (trigger first)" if status == 2 else f"the frame needs {ready_in:g} s more"
                raise GrabTimeout(f"no frame within {timeout:g} s: {what}", instrument=self.name, command="GRAB")
            step = min(max(ready_in, 1e-6), timeout - waited)
            self.sleep(step)
            waited += step

    def _parse_frame(self, data: bytes) -> CameraFrame:
        if len(data) < 12 + SETTINGS.size:
            raise self.malformed("GRAB", f"frame header of {len(data)} bytes", data)
        counter, stamp = struct.unpack(">Id", data[:12])
        exposure, gain, x, y, w, h, b = self._parse_settings(data[12:12 + SETTINGS.size], "GRAB")
        if not math.isfinite(stamp):
            raise self.malformed("GRAB", f"timestamp {stamp!r}", data)
        try:
            image, end = unpack_array(data, 12 + SETTINGS.size, max_pixels=self.shape[0] * self.shape[1])
        except ArrayPayloadError as exc:
            raise self.malformed("GRAB", str(exc), data) from None
        if end != len(data):
            raise self.malformed("GRAB", f"{len(data) - end} bytes after the image")
        if w % b or h % b or image.shape != (h // b, w // b):
            raise self.malformed("GRAB", f"image of {image.shape} for ROI {w} x {h} binned {b}")
        if image.size and int(image.max()) >= 1 << self.bit_depth:
            raise self.malformed("GRAB", f"pixel {int(image.max())} above the {self.bit_depth}-bit range")
        return CameraFrame(image=image, counter=counter, timestamp_s=stamp, exposure_s=exposure, gain_db=gain,
                           roi=(x, y, w, h), binning=b)

    def flush(self) -> int:
        """Drop every frame exposed and not yet grabbed; returns how many were dropped."""
        reply = self.exchange(FLUSH, b"", "FLUSH")
        if len(reply) != 4:
            raise self.malformed("FLUSH", f"{len(reply)} bytes, expected u32", reply)
        return int(struct.unpack(">I", reply)[0])

    def snap(self, timeout: float = 1.0) -> CameraFrame:
        """Flush, trigger and grab: one fresh frame of the bench as it is now."""
        self.flush()
        self.trigger()
        return self.grab(timeout)

    def safe_state(self) -> None:
        """Acquisition stopped, pending frames dropped (SAFE)."""
        super().safe_state()
