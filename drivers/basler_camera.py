"""Basler cameras (ace, ace 2, boost, dart, ...) through pypylon, as hilt's camera kind.

pypylon (PyPI ``pypylon``, an optional extra: ``pip install 'hilt[basler]'``) is Basler's Python
binding of its pylon SDK; the wheel bundles the pylon runtime, so nothing else is installed.
It is imported when a camera is opened, with a message naming the extra when it is missing.

The GenICam features used (Basler's product documentation, docs.baslerweb.com: *Exposure Time*,
*Gain*, *Image ROI*, *Binning*, *Pixel Format*, *Trigger Mode/Source/Software*, *Timestamp*):

* ``ExposureTime`` (float, **microseconds**; ace Classic GigE cameras: ``ExposureTimeAbs``),
  ``ExposureAuto`` set to ``Off``; hilt's ``exposure`` is in seconds, bounded by the feature's
  own minimum and maximum.
* ``Gain`` (float, dB), ``GainAuto`` ``Off``. Cameras with only ``GainRaw`` (ace Classic GigE)
  keep their gain and report it as 0 dB; only 0 dB can be set on them.
* ``Width``/``Height``/``OffsetX``/``OffsetY``, changed only while the camera is idle: a change of
  region or binning stops grabbing, which drops the frames not yet grabbed. With binning on, these
  features count *binned* rows and columns (docs.baslerweb.com/image-roi), so hilt's region (in
  full-sensor pixels) must be a multiple of the binning.
* ``BinningHorizontal``/``BinningVertical`` (set together; absent: binning 1 only).
* ``PixelFormat``: ``Mono8`` (8 bits, uint8) or ``Mono10``/``Mono12``/``Mono16`` (uint16).
* ``TriggerSelector`` ``FrameStart``, ``TriggerMode`` ``On``, ``TriggerSource`` ``Software``; a
  trigger is ``ExecuteSoftwareTrigger`` once the camera says it is ready for one
  (``WaitForFrameTriggerReady``), and frames are fetched oldest first with
  ``RetrieveResult(timeout in ms)`` (grab strategy ``OneByOne``, ``MaxNumBuffer`` buffers).
* The frame's ``BlockID`` (the device's frame number since grabbing started) makes hilt's counter,
  so a frame the camera dropped shows as a gap; its ``TimeStamp`` is in ticks: 1 ns on USB3 and
  ace 2 cameras, 1 / ``GevTimestampTickFrequency`` s on GigE cameras that have that feature.
* The pixel pitch is not a GenICam feature of these cameras: give ``pixel_pitch_m`` from the data
  sheet (NaN otherwise).

Verified: the real pylon SDK path against pylon's camera emulation (``PYLON_CAMEMU=1``, device
``Emulation``, pypylon 26.10): tests/drivers/test_basler_camera.py. Not verified without a
camera: real exposure and gain effects (the emulation draws a test pattern), timestamps (the
emulation reports 0), GigE transport settings (packet size, inter-packet delay: pylon's defaults),
ace Classic cameras' ``ExposureTimeAbs``/``GainRaw`` path, frames dropped by a real camera.
"""

from __future__ import annotations

import math
import threading
from typing import Any, ClassVar

import numpy as np

from hilt.camera_frame import CameraFrame
from hilt.errors import ConfigError, ConnectError, InstrumentError, InstrumentTimeout, LimitError
from hilt.instrument import ParameterOwner
from hilt.parameters import Parameter
from hilt.validators import Ints, Numbers

__all__ = ["BaslerCamera", "GrabTimeout", "MISSING"]

MISSING = "pypylon is not installed: it is an optional extra of hilt, `pip install 'hilt[basler]'` (or `pip install pypylon`)"
#: Bits per pixel of the monochrome formats hilt takes.
PIXEL_FORMATS = {"Mono8": 8, "Mono10": 10, "Mono12": 12, "Mono16": 16}
#: Tick length of USB3 Vision and ace 2 timestamps, s.
NANOSECOND = 1e-9


class GrabTimeout(InstrumentTimeout):
    """No frame arrived within grab's timeout."""


def _pylon() -> Any:
    try:
        from pypylon import pylon
    except ImportError as exc:
        raise ImportError(MISSING) from exc
    return pylon


def _readable(node: Any) -> bool:
    from pypylon import genicam

    return node is not None and genicam.IsReadable(node)


def _writable(node: Any) -> bool:
    from pypylon import genicam

    return node is not None and genicam.IsWritable(node)


class BaslerCamera(ParameterOwner):
    """One Basler camera, opened by ``serial`` (None: the first camera pylon finds), software
    triggered. ``pixel_format``: a Mono format of :data:`PIXEL_FORMATS`; ``buffers``: frames
    pylon keeps for grab (a camera triggered faster than it is grabbed drops frames beyond
    that, the counter shows the gap)."""

    kinds: ClassVar[tuple[str, ...]] = ("camera",)
    model: ClassVar[str] = "basler_camera"

    exposure = Parameter(lambda cam: cam._feature(cam._exposure_node) * 1e-6,
                         lambda cam, v: cam._set_feature(cam._exposure_node, float(v) * 1e6),
                         unit="s", vals=Numbers(1e-6, 10.0), doc="exposure time")
    gain = Parameter(lambda cam: cam._read_gain(), lambda cam, v: cam._write_gain(v), unit="dB",
                     vals=Numbers(0.0, 0.0), doc="analogue gain")
    binning = Parameter(lambda cam: cam._binning, lambda cam, v: cam._set_binning(int(v)),
                        vals=Ints(1, 1), doc="pixels binned per side (1: none)")

    def __init__(self, serial: str | None = None, *, pixel_format: str = "Mono8",
                 pixel_pitch_m: float | None = None, buffers: int = 16, name: str = "camera") -> None:
        if pixel_format not in PIXEL_FORMATS:
            raise ConfigError(f"pixel format {pixel_format!r}: one of {', '.join(PIXEL_FORMATS)}")
        if buffers < 1:
            raise ConfigError(f"buffers {buffers}: at least 1")
        pylon = _pylon()
        self.name = self.full_name = name
        self._lock = threading.RLock()
        self._bind_parameters()
        self._camera = self._open(pylon, serial)
        cam = self._camera
        try:
            self.serial = cam.GetDeviceInfo().GetSerialNumber()
            self.model_name = cam.GetDeviceInfo().GetModelName()
            self._set_feature("PixelFormat", pixel_format)
            self.bit_depth = PIXEL_FORMATS[pixel_format]
            for feature, value in (("ExposureAuto", "Off"), ("GainAuto", "Off"), ("TriggerSelector", "FrameStart"),
                                   ("TriggerMode", "On"), ("TriggerSource", "Software")):
                if _writable(cam.GetNodeMap().GetNode(feature)):
                    self._set_feature(feature, value)
            cam.MaxNumBuffer.Value = int(buffers)
            self._binning = 1
            self._init_bounds()
            self.shape: tuple[int, int] = self._sensor_shape()
            self.pixel_pitch_m = math.nan if pixel_pitch_m is None else float(pixel_pitch_m)
            self._tick_s = self._tick_length()
            self._roi = (0, 0, self.shape[1], self.shape[0])
            self._apply_roi(self._roi, self._binning)
        except BaseException:
            cam.Close()
            raise
        self._triggers = 0
        self._counter_base = 0

    # --- opening ----------------------------------------------------------------------------

    def _open(self, pylon: Any, serial: str | None) -> Any:
        factory = pylon.TlFactory.GetInstance()
        devices = list(factory.EnumerateDevices())
        found = ", ".join(f"{d.GetModelName()} {d.GetSerialNumber()}" for d in devices) or "none"
        chosen = [d for d in devices if serial is None or d.GetSerialNumber() == str(serial)]
        if not chosen:
            what = "no Basler camera" if serial is None else f"no Basler camera with serial {serial!r}"
            raise ConnectError(f"{what} (found: {found}); with no camera, PYLON_CAMEMU=1 offers emulated ones",
                               instrument=self.name)
        camera = pylon.InstantCamera(factory.CreateDevice(chosen[0]))
        try:
            camera.Open()
        except Exception as exc:
            raise ConnectError(f"cannot open {chosen[0].GetFullName()}: {exc}", instrument=self.name) from exc
        return camera

    def _init_bounds(self) -> None:
        nodes = self._camera.GetNodeMap()
        self._exposure_node = "ExposureTime" if _readable(nodes.GetNode("ExposureTime")) else "ExposureTimeAbs"
        node = nodes.GetNode(self._exposure_node)
        self.exposure.vals = Numbers(node.GetMin() * 1e-6, node.GetMax() * 1e-6)
        gain = nodes.GetNode("Gain")
        self._has_gain = _writable(gain) and "dB" in (gain.GetUnit() or "dB")
        if self._has_gain:
            self.gain.vals = Numbers(gain.GetMin(), gain.GetMax())
        h, v = nodes.GetNode("BinningHorizontal"), nodes.GetNode("BinningVertical")
        if _writable(h) and _writable(v):
            self.binning.vals = Ints(1, int(min(h.GetMax(), v.GetMax())))

    def _sensor_shape(self) -> tuple[int, int]:
        nodes = self._camera.GetNodeMap()
        if _readable(nodes.GetNode("SensorHeight")) and _readable(nodes.GetNode("SensorWidth")):
            return int(self._feature("SensorHeight")), int(self._feature("SensorWidth"))
        return int(self._feature("HeightMax")), int(self._feature("WidthMax"))

    def _tick_length(self) -> float:
        node = self._camera.GetNodeMap().GetNode("GevTimestampTickFrequency")
        return 1.0 / float(node.GetValue()) if _readable(node) else NANOSECOND

    # --- features ---------------------------------------------------------------------------

    def _feature(self, name: str) -> Any:
        with self._lock:
            return self._camera.GetNodeMap().GetNode(name).GetValue()

    def _set_feature(self, name: str, value: Any) -> None:
        with self._lock:
            try:
                self._camera.GetNodeMap().GetNode(name).SetValue(value)
            except Exception as exc:  # genicam's exceptions: out of range, not writable now
                raise InstrumentError("GenICam", f"{name} = {value!r} refused: {exc}", instrument=self.name,
                                      command=name) from exc

    def _read_gain(self) -> float:
        return float(self._feature("Gain")) if self._has_gain else 0.0

    def _write_gain(self, value: float) -> None:
        if self._has_gain:
            self._set_feature("Gain", float(value))

    # --- region of interest and binning (camera idle) ----------------------------------------

    def set_roi(self, x: int, y: int, width: int, height: int) -> None:
        self._apply_roi(self._checked_roi((x, y, width, height), self._binning), self._binning)

    def roi(self) -> tuple[int, int, int, int]:
        return self._roi

    def _checked_roi(self, roi: tuple[Any, ...], binning: int) -> tuple[int, int, int, int]:
        rows, cols = self.shape
        if any(isinstance(v, bool) or not isinstance(v, (int, np.integer, float)) or int(v) != v for v in roi):
            raise LimitError(f"region {roi}: whole pixels expected", instrument=self.name)
        x, y, width, height = (int(v) for v in roi)
        if width < 1 or height < 1 or x < 0 or y < 0 or x + width > cols or y + height > rows:
            raise LimitError(f"region x={x} y={y} {width}x{height} is not on the {cols}x{rows} sensor",
                             instrument=self.name)
        if any(v % binning for v in (x, y, width, height)):
            raise LimitError(f"region x={x} y={y} {width}x{height}: with binning {binning} every value must be "
                             f"a multiple of {binning}", instrument=self.name)
        return x, y, width, height

    def _set_binning(self, binning: int) -> None:
        roi = self._checked_roi(self._roi, binning)  # the region must stay whole in binned pixels
        self._apply_roi(roi, binning)

    def _apply_roi(self, roi: tuple[int, int, int, int], binning: int) -> None:
        x, y, width, height = roi
        with self._lock:
            self._stop_grabbing()
            nodes = self._camera.GetNodeMap()
            if _writable(nodes.GetNode("BinningHorizontal")):
                self._set_feature("BinningHorizontal", binning)
                self._set_feature("BinningVertical", binning)
            # Offsets to 0 first, so the new size is always within range; features count binned
            # pixels when binning is on.
            self._set_feature("OffsetX", 0)
            self._set_feature("OffsetY", 0)
            self._set_feature("Width", width // binning)
            self._set_feature("Height", height // binning)
            self._set_feature("OffsetX", x // binning)
            self._set_feature("OffsetY", y // binning)
            self._roi, self._binning = roi, binning

    # --- acquisition ------------------------------------------------------------------------

    def _start_grabbing(self) -> None:
        if not self._camera.IsGrabbing():
            # BlockID restarts with every grab: hilt's counter continues from the triggers so far.
            self._counter_base = self._triggers
            self._camera.StartGrabbing(_pylon().GrabStrategy_OneByOne)

    def _stop_grabbing(self) -> None:
        if self._camera.IsGrabbing():
            self._camera.StopGrabbing()

    def trigger(self) -> None:
        pylon = _pylon()
        with self._lock:
            self._start_grabbing()
            timeout_ms = round(1000 * (2.0 + self.exposure.get()))
            if not self._camera.WaitForFrameTriggerReady(timeout_ms, pylon.TimeoutHandling_Return):
                raise InstrumentTimeout(f"{self.name}: not ready for a trigger within {timeout_ms} ms",
                                        instrument=self.name)
            self._camera.ExecuteSoftwareTrigger()
            self._triggers += 1

    def grab(self, timeout: float = 1.0) -> CameraFrame:
        pylon = _pylon()
        with self._lock:
            if not self._camera.IsGrabbing():
                raise GrabTimeout(f"{self.name}: no frame to grab (trigger() first)", instrument=self.name)
            exposure, gain = self.exposure.get(), self._read_gain()
            result = self._camera.RetrieveResult(max(0, round(timeout * 1000)), pylon.TimeoutHandling_Return)
            if result is None or not result.IsValid():
                raise GrabTimeout(f"{self.name}: no frame within {timeout:g} s", instrument=self.name)
            try:
                if not result.GrabSucceeded():
                    raise InstrumentError(int(result.GetErrorCode()), result.GetErrorDescription(),
                                          instrument=self.name, command="RetrieveResult")
                image = np.array(result.GetArray(), copy=True)
                counter = self._counter_base + int(result.BlockID) + 1
                timestamp = float(result.TimeStamp) * self._tick_s
            finally:
                result.Release()
        # Exposure and gain are those set when the frame was fetched; the region and binning
        # cannot change while grabbing.
        return CameraFrame(image=image, counter=counter, timestamp_s=timestamp, exposure_s=exposure,
                           gain_db=gain, roi=self._roi, binning=self._binning)

    def flush(self) -> None:
        """Drop every frame exposed and not yet grabbed, those still on their way included:
        grabbing stops (pylon drops its queued and in-flight buffers) and starts again at the
        next trigger. The counter of the next frame skips the frames dropped."""
        with self._lock:
            self._stop_grabbing()

    def safe_state(self) -> None:
        """Acquisition stopped (frames not grabbed are dropped)."""
        with self._lock:
            self._stop_grabbing()

    def close(self) -> None:
        with self._lock:
            self._stop_grabbing()
            self._camera.Close()

    def __enter__(self) -> BaslerCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
