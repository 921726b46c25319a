"""Every SLM and camera slmsuite supports, as hilt's SLM and camera kinds.

slmsuite (PyPI ``slmsuite``, an optional extra: ``pip install 'hilt[slm]'``) wraps Holoeye,
Meadowlark, Santec, Hamamatsu, Thorlabs and Texas Instruments SLMs and a dozen camera families
(Basler, FLIR, Allied Vision, Thorlabs, Xenics, pylablib and Micro-Manager cameras, webcams) behind
two base classes. Open the device with slmsuite as its documentation says, then wrap it::

    from slmsuite.hardware.slms.meadowlark import Meadowlark
    slm = SlmsuiteSLM(Meadowlark(...))          # hilt's SLM kind
    camera = SlmsuiteCamera(slmsuite_camera)    # hilt's camera kind

or let the adapter import the class by name (``open_slm("meadowlark.Meadowlark", ...)``,
``open_camera("basler.Basler", ...)``), which is what a station file's options can say.

What is used of slmsuite 0.5's API (the shapes listed in PROTOCOLS.md, read in its source):

* SLM: ``shape`` (rows, cols), ``bitdepth``, ``pitch_um`` (x, y), ``wav_um``, ``settle_time_s``,
  ``dtype``, ``display`` (the integer frame shown), ``set_phase(levels, settle=True)`` with an
  integer array of the SLM's ``dtype``, which slmsuite passes to the hardware unconverted, and
  ``close()``. hilt converts phases itself with its own LUT (:func:`hilt.slm_lut.phase_to_grey`),
  so slmsuite's ``phase_scaling``, its ``lut``/``gamma`` and its wavefront correction
  (``source["phase"]``) are not applied: add a correction to the phase before ``show_phase``.
* Camera: ``sensor_shape``, ``bitdepth``, ``pitch_um``, ``exposure_bounds_s``,
  ``get_exposure``/``set_exposure`` (s), ``get_binning``/``set_binning``,
  ``get_woi``/``set_woi`` ((x, width, y, height)), ``get_image(timeout_s, averaging=False,
  hdr=False)``, ``flush()``, ``close()``. slmsuite's cameras have no gain setting in the base
  class: ``gain`` here is 0 dB and only 0 dB can be set. They have no software trigger either:
  :meth:`SlmsuiteCamera.trigger` captures the frame at once (``get_image``) and queues it for
  :meth:`SlmsuiteCamera.grab`; its timestamp is this computer's monotonic clock at the trigger.

Importing slmsuite imports OpenCV, whose wheel points Qt at its own Qt 5 plugins
(``QT_QPA_PLATFORM_PLUGIN_PATH``): a Qt 6 application started afterwards then fails to load its
platform plugin. The adapter takes those paths (and only those) out of the environment when it imports slmsuite
or wraps an object of it (:func:`drop_opencv_qt_paths`).

Verified: against slmsuite 0.5.0's own simulated SLM and camera (``SimulatedSLM``,
``SimulatedCamera``), tests/drivers/test_slmsuite_adapter.py. Not verified: any vendor SLM or
camera through slmsuite (no hardware here), slmsuite versions other than 0.5.0, cupy-backed SLMs.
"""

from __future__ import annotations

import collections
import importlib
import math
import os
import time
from typing import Any, ClassVar

import numpy as np

from hilt.camera_frame import CameraFrame
from hilt.errors import ConfigError, InstrumentTimeout, LimitError
from hilt.instrument import ParameterOwner
from hilt.parameters import Parameter
from hilt.slm_lut import HostLutSLM, check_lut, grey_dtype, linear_lut
from hilt.validators import Ints, Numbers

__all__ = [
    "FrameQueueEmpty", "SlmsuiteCamera", "SlmsuiteSLM", "drop_opencv_qt_paths", "import_slmsuite", "open_camera",
    "open_slm",
]

MISSING = (
    "slmsuite is not installed: it is an optional extra of hilt, `pip install 'hilt[slm]'` "
    "(or `pip install slmsuite`)"
)
#: What OpenCV (imported by slmsuite) sets for its own Qt 5 and hilt's Qt 6 must not see.
_QT_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")
#: Exposure bounds when a slmsuite camera states none, s.
DEFAULT_EXPOSURE_BOUNDS_S = (1e-6, 3600.0)
#: Largest binning offered when the camera does not say (slmsuite bins in software then).
MAX_BINNING = 16


def import_slmsuite(module: str = "slmsuite") -> Any:
    """``module`` (``slmsuite`` or one of its submodules), with an ImportError naming hilt's
    ``slm`` extra when slmsuite is missing, and OpenCV's Qt paths taken out of the environment."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == "slmsuite" and not _slmsuite_installed():
            raise ImportError(MISSING) from exc
        raise
    finally:
        drop_opencv_qt_paths()


def _slmsuite_installed() -> bool:
    try:
        importlib.import_module("slmsuite")
    except ImportError:
        return False
    return True


def drop_opencv_qt_paths() -> None:
    """Remove the Qt plugin and font paths OpenCV's wheel sets to its own Qt 5 (a Qt 6 app
    started afterwards would look for its platform plugin there); other values are kept."""
    marker = os.path.join("cv2", "qt")
    for name in _QT_VARIABLES:
        if marker in os.environ.get(name, ""):
            del os.environ[name]


def _load(kind: str, spec: str) -> type:
    module, _, name = spec.rpartition(".")
    if not module or not name:
        raise ConfigError(f"slmsuite {kind} {spec!r}: give module.Class, e.g. 'meadowlark.Meadowlark'")
    try:
        mod = import_slmsuite(f"slmsuite.hardware.{kind}s.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"slmsuite.hardware.{kind}s.{module}":
            raise  # the vendor SDK slmsuite's module needs, say: its own message says which
        raise ConfigError(f"slmsuite has no {kind} module {module!r} (slmsuite.hardware.{kind}s)") from None
    try:
        return getattr(mod, name)
    except AttributeError:
        raise ConfigError(f"slmsuite.hardware.{kind}s.{module} has no class {name!r}") from None


def open_slm(spec: str, *args: Any, lut: np.ndarray | None = None, **kwargs: Any) -> SlmsuiteSLM:
    """Open slmsuite's SLM class ``spec`` (``module.Class`` under ``slmsuite.hardware.slms``,
    e.g. ``"meadowlark.Meadowlark"``) with ``args``/``kwargs`` and wrap it."""
    return SlmsuiteSLM(_load("slm", spec)(*args, **kwargs), lut=lut)


def open_camera(spec: str, *args: Any, **kwargs: Any) -> SlmsuiteCamera:
    """Open slmsuite's camera class ``spec`` (``module.Class`` under
    ``slmsuite.hardware.cameras``, e.g. ``"basler.Basler"``) with ``args``/``kwargs`` and wrap it."""
    return SlmsuiteCamera(_load("camera", spec)(*args, **kwargs))


def _host(array: Any) -> np.ndarray:
    """A numpy copy of an array slmsuite may hold on the GPU (cupy's ``.get()``)."""
    getter = getattr(array, "get", None)
    return np.array(getter() if callable(getter) else array)


class SlmsuiteSLM(HostLutSLM):
    """A slmsuite SLM object as hilt's SLM kind (see the module docstring for what is used).
    ``lut``: the grey level -> phase table (rad) to start with; the linear one by default."""

    kinds: ClassVar[tuple[str, ...]] = ("slm",)
    model: ClassVar[str] = "slmsuite_slm"

    def __init__(self, slm: Any, *, lut: np.ndarray | None = None, name: str = "slm") -> None:
        drop_opencv_qt_paths()  # slmsuite was imported by whoever opened ``slm``
        self.device = slm
        self.name = self.full_name = name
        self.shape: tuple[int, int] = (int(slm.shape[0]), int(slm.shape[1]))
        self.bit_depth = int(slm.bitdepth)
        pitch = np.atleast_1d(np.asarray(slm.pitch_um, dtype=float))
        # hilt's kind has one pitch; slmsuite's is (x, y), equal on every SLM it lists.
        self.pixel_pitch_m = float(pitch[0]) * 1e-6
        self.wavelength_m = float(slm.wav_um) * 1e-6
        self.settle_s = float(slm.settle_time_s)
        self._dtype = np.dtype(getattr(slm, "dtype", grey_dtype(self.bit_depth)))
        self._lut = linear_lut(self.bit_depth) if lut is None else check_lut(lut, self.bit_depth)


    def _show(self, levels: np.ndarray) -> None:
        # Integers of the SLM's own dtype pass through slmsuite unconverted; settle=True waits
        # settle_time_s after the hardware took the frame.
        self.device.set_phase(levels.astype(self._dtype), settle=True)

    def shown(self) -> np.ndarray:
        return _host(self.device.display)

    def safe_state(self) -> None:
        self.show_grey(np.zeros(self.shape, dtype=self._dtype))

    def close(self) -> None:
        self.device.close()


class FrameQueueEmpty(InstrumentTimeout):
    """grab() with no frame triggered and not yet grabbed."""


class SlmsuiteCamera(ParameterOwner):
    """A slmsuite camera object as hilt's camera kind (see the module docstring for what is
    used). ``pixel_pitch_m`` is taken from the camera (``pitch_um``) or given here when the
    camera does not state it (NaN if neither). ``queue_depth``: frames kept for grab; a trigger
    into a full queue drops the oldest (the counter shows the gap)."""

    kinds: ClassVar[tuple[str, ...]] = ("camera",)
    model: ClassVar[str] = "slmsuite_camera"

    exposure = Parameter(lambda cam: cam.device.get_exposure(), lambda cam, v: cam.device.set_exposure(v),
                         unit="s", vals=Numbers(*DEFAULT_EXPOSURE_BOUNDS_S), doc="exposure time")
    gain = Parameter(lambda cam: 0.0, lambda cam, v: None, unit="dB", vals=Numbers(0.0, 0.0),
                     doc="analogue gain: slmsuite's camera base class has none, so 0 dB only")
    binning = Parameter(lambda cam: int(cam.device.get_binning()[0]), lambda cam, v: cam._set_binning(v),
                        vals=Ints(1, MAX_BINNING), doc="pixels combined per side (1: none)")

    def __init__(self, camera: Any, *, pixel_pitch_m: float | None = None, queue_depth: int = 16,
                 name: str = "camera") -> None:
        drop_opencv_qt_paths()  # slmsuite was imported by whoever opened ``camera``
        self.device = camera
        self.name = self.full_name = name
        self._bind_parameters()
        shape = getattr(camera, "sensor_shape", camera.shape)
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.bit_depth = int(camera.bitdepth)
        pitch = getattr(camera, "pitch_um", None)
        if pitch is not None:
            self.pixel_pitch_m = float(np.atleast_1d(np.asarray(pitch, dtype=float))[0]) * 1e-6
        else:
            self.pixel_pitch_m = math.nan if pixel_pitch_m is None else float(pixel_pitch_m)
        bounds = getattr(camera, "exposure_bounds_s", None)
        if bounds is not None:
            self.exposure.vals = Numbers(float(bounds[0]), float(bounds[1]))
        if queue_depth < 1:
            raise ConfigError(f"queue_depth {queue_depth}: at least 1")
        self._queue: collections.deque[CameraFrame] = collections.deque(maxlen=int(queue_depth))
        self.counter = 0

    def _set_binning(self, value: int) -> None:
        self.device.set_binning(int(value))

    def set_roi(self, x: int, y: int, width: int, height: int) -> None:
        rows, cols = self.shape
        values = (x, y, width, height)
        if any(isinstance(v, bool) or int(v) != v for v in values):
            raise LimitError(f"region {values}: whole pixels expected", instrument=self.name)
        x, y, width, height = (int(v) for v in values)
        if width < 1 or height < 1 or x < 0 or y < 0 or x + width > cols or y + height > rows:
            raise LimitError(f"region x={x} y={y} {width}x{height} is not on the {cols}x{rows} sensor",
                             instrument=self.name)
        self.device.set_woi((x, width, y, height))

    def roi(self) -> tuple[int, int, int, int]:
        x, width, y, height = (int(v) for v in self.device.get_woi())
        return x, y, width, height

    def trigger(self) -> None:
        """Capture one frame now (slmsuite's get_image) and queue it for grab."""
        start = time.monotonic()
        exposure = float(self.device.get_exposure())
        image = np.asarray(_host(self.device.get_image(timeout_s=1.0, averaging=False, hdr=False)))
        self.counter += 1
        self._queue.append(CameraFrame(image=image, counter=self.counter, timestamp_s=start, exposure_s=exposure,
                                       gain_db=0.0, roi=self.roi(), binning=int(self.device.get_binning()[0])))

    def grab(self, timeout: float = 1.0) -> CameraFrame:
        """The oldest frame triggered and not yet grabbed. Frames are captured by trigger(), so
        with none queued there is nothing to wait for: FrameQueueEmpty at once."""
        if not self._queue:
            raise FrameQueueEmpty(f"{self.name}: no frame to grab (trigger() first)")
        return self._queue.popleft()

    def flush(self) -> None:
        """Drop the queued frames and cycle the camera's own buffer (slmsuite's flush)."""
        self._queue.clear()
        self.device.flush()

    def safe_state(self) -> None:
        self._queue.clear()

    def close(self) -> None:
        self._queue.clear()
        self.device.close()
