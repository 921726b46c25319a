"""The Basler driver through the real pylon SDK (pypylon) against pylon's camera emulation
(PYLON_CAMEMU=1): skipped with the reason when pypylon (the ``basler`` extra) is absent."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

# Before pylon's transport layers load: the emulation offers one camera, "Emulation" 0815-0000.
os.environ.setdefault("PYLON_CAMEMU", "1")

pytest.importorskip("pypylon", reason="pypylon is not installed (pip install 'hilt[basler]')")

from hilt.drivers.basler_camera import MISSING, BaslerCamera, GrabTimeout  # noqa: E402
from hilt.errors import ConnectError, InstrumentTimeout, LimitError  # noqa: E402
from hilt.instruments import Camera  # noqa: E402

SERIAL = "0815-0000"


@pytest.fixture
def camera():
    with BaslerCamera(SERIAL, pixel_pitch_m=3.45e-6) as cam:
        cam.set_roi(0, 0, 64, 48)
        yield cam


def emulated_pattern(x: int, y: int, width: int, height: int, shift: int) -> np.ndarray:
    """The emulation's test image 2 (a diagonal ramp that moves one level per frame), as seen in
    the ROI: pixel (r, c) of the sensor is (r + c + shift) mod 256."""
    rows, cols = np.mgrid[y:y + height, x:x + width]
    return ((rows + cols + shift) % 256).astype(np.uint8)


def test_it_is_a_camera_of_the_kind(camera) -> None:
    assert isinstance(camera, Camera)
    assert camera.shape == (4096, 4096) and camera.bit_depth == 8 and camera.pixel_pitch_m == 3.45e-6
    assert camera.serial == SERIAL


def test_software_triggered_frames_in_order_with_a_counter(camera) -> None:
    for _ in range(3):
        camera.trigger()
    frames = [camera.grab(timeout=2.0) for _ in range(3)]
    assert [f.counter for f in frames] == [1, 2, 3]
    for k, frame in enumerate(frames):
        assert frame.image.dtype == np.uint8 and frame.image.shape == (48, 64)
        np.testing.assert_array_equal(frame.image, emulated_pattern(0, 0, 64, 48, shift=k + 1))
    with pytest.raises(GrabTimeout) as late:
        camera.grab(timeout=0.05)
    assert isinstance(late.value, InstrumentTimeout)


def test_exposure_in_seconds_reaches_the_camera_in_microseconds(camera) -> None:
    camera.exposure.set(2.5e-3)
    assert camera._camera.ExposureTime.Value == pytest.approx(2500.0)
    assert camera.exposure.get() == pytest.approx(2.5e-3)
    camera.trigger()
    assert camera.grab(timeout=2.0).exposure_s == pytest.approx(2.5e-3)
    with pytest.raises(LimitError):
        camera.exposure.set(0.5e-6)  # below the emulation's 1 us
    assert camera._camera.ExposureTime.Value == pytest.approx(2500.0)
    camera.gain.set(6.0)
    assert camera._camera.Gain.Value == pytest.approx(6.0, abs=1e-3)
    with pytest.raises(LimitError):
        camera.gain.set(60.0)


def test_roi_and_binning_in_full_sensor_pixels(camera) -> None:
    camera.set_roi(8, 4, 32, 16)
    assert camera.roi() == (8, 4, 32, 16)
    camera.trigger()
    frame = camera.grab(timeout=2.0)
    assert frame.roi == (8, 4, 32, 16) and frame.image.shape == (16, 32)
    np.testing.assert_array_equal(frame.image, emulated_pattern(8, 4, 32, 16, shift=frame.counter))

    camera.binning.set(2)
    assert (camera._camera.Width.Value, camera._camera.OffsetX.Value) == (16, 4)  # binned pixels
    camera.trigger()
    binned = camera.grab(timeout=2.0)
    assert binned.binning == 2 and binned.image.shape == (8, 16) and binned.roi == (8, 4, 32, 16)
    assert binned.counter == frame.counter + 1  # the counter continues over the restart

    with pytest.raises(LimitError, match="multiple of 2"):
        camera.set_roi(1, 0, 32, 16)
    with pytest.raises(LimitError, match="not on the 4096x4096 sensor"):
        camera.set_roi(4090, 0, 32, 16)
    with pytest.raises(LimitError):
        camera.binning.set(5)
    assert camera.roi() == (8, 4, 32, 16) and camera.binning.get() == 2


def test_flush_and_safe_state_drop_pending_frames(camera) -> None:
    camera.trigger()
    camera.trigger()
    camera.flush()
    with pytest.raises(GrabTimeout):
        camera.grab(timeout=0.05)
    camera.trigger()
    camera.safe_state()
    with pytest.raises(GrabTimeout, match="trigger"):
        camera.grab(timeout=0.05)
    camera.trigger()  # acquisition starts again
    assert camera.grab(timeout=2.0).counter == 4


def test_12_bit_frames_are_uint16() -> None:
    with BaslerCamera(SERIAL, pixel_format="Mono12") as cam:
        cam.set_roi(0, 0, 32, 8)
        cam.trigger()
        frame = cam.grab(timeout=2.0)
    assert cam.bit_depth == 12 and frame.image.dtype == np.uint16 and frame.image.max() < 4096


def test_unknown_cameras_and_formats_are_clear_errors() -> None:
    with pytest.raises(ConnectError, match="no Basler camera with serial 'nope'.*Emulation 0815-0000"):
        BaslerCamera("nope")
    with pytest.raises(Exception, match="pixel format 'RGB8'"):
        BaslerCamera(SERIAL, pixel_format="RGB8")


def test_missing_pypylon_names_the_extra(monkeypatch) -> None:
    for name in [n for n in sys.modules if n.startswith("pypylon.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pypylon", None)
    with pytest.raises(ImportError, match=r"hilt\[basler\]") as missing:
        BaslerCamera(SERIAL)
    assert str(missing.value) == MISSING
