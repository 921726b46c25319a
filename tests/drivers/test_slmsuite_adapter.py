"""The slmsuite adapter against slmsuite's own simulated SLM and camera (slmsuite 0.5, the ``slm``
extra); skipped with the reason when slmsuite is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hilt.drivers.slmsuite_adapter import (
    MISSING,
    FrameQueueEmpty,
    SlmsuiteCamera,
    SlmsuiteSLM,
    import_slmsuite,
    open_slm,
)
from hilt.errors import ConfigError, InstrumentTimeout, LimitError
from hilt.instruments import Camera, SpatialLightModulator
from hilt.slm_lut import linear_lut, phase_to_grey

try:  # through the adapter, which keeps OpenCV's Qt 5 paths out of this process's Qt
    import_slmsuite()
except ImportError:
    pytest.skip("slmsuite is not installed (pip install 'hilt[slm]')", allow_module_level=True)


@pytest.fixture
def bench():
    """slmsuite's simulated SLM (64 x 48, 8 bits) and the camera that sees its far field."""
    slms = import_slmsuite("slmsuite.hardware.slms.simulated")
    cams = import_slmsuite("slmsuite.hardware.cameras.simulated")
    slm = slms.SimulatedSLM((64, 48), pitch_um=(8, 8), bitdepth=8, wav_um=0.633, settle_time_s=0)
    cam = cams.SimulatedCamera(slm, pitch_um=(5, 5), exposure_bounds_s=(1e-5, 1.0), gain=1000)
    return slm, cam


def test_slm_frames_pass_through_unconverted(bench) -> None:
    slm, _ = bench
    device = SlmsuiteSLM(slm)
    assert isinstance(device, SpatialLightModulator)
    assert device.shape == (48, 64) and device.bit_depth == 8
    assert device.pixel_pitch_m == pytest.approx(8e-6) and device.wavelength_m == pytest.approx(0.633e-6)
    levels = np.random.default_rng(1).integers(0, 256, device.shape)
    device.show_grey(levels)
    np.testing.assert_array_equal(np.asarray(slm.display), levels)
    np.testing.assert_array_equal(device.shown(), levels)

    # Phases go through hilt's LUT, not slmsuite's phase scaling or sign convention.
    lut = linear_lut(8, phase_range=1.8 * np.pi)
    device.set_lut(lut)
    phase = np.random.default_rng(2).uniform(-7, 7, device.shape)
    device.show_phase(phase)
    np.testing.assert_array_equal(np.asarray(slm.display), phase_to_grey(phase, lut))

    before = device.shown()
    with pytest.raises(ValueError, match="outside 0..255"):
        device.show_grey(np.full(device.shape, 256))
    with pytest.raises(ValueError, match="shape"):
        device.show_grey(np.zeros((48, 63)))
    np.testing.assert_array_equal(device.shown(), before)
    device.safe_state()
    assert not np.asarray(slm.display).any()


def test_a_10_bit_slm(bench) -> None:
    slms = import_slmsuite("slmsuite.hardware.slms.simulated")
    slm = slms.SimulatedSLM((32, 16), pitch_um=(4, 4), bitdepth=10, wav_um=1.064, settle_time_s=0)
    device = SlmsuiteSLM(slm)
    levels = np.random.default_rng(3).integers(0, 1024, device.shape)
    device.show_grey(levels)
    assert slm.display.dtype == np.uint16
    np.testing.assert_array_equal(device.shown(), levels)
    assert device.lut.shape == (1024,)


def test_the_camera_sees_what_the_slm_shows(bench) -> None:
    slm, cam = bench
    device, camera = SlmsuiteSLM(slm), SlmsuiteCamera(cam)
    assert isinstance(camera, Camera)
    assert camera.shape == (48, 64) and camera.bit_depth == 8 and camera.pixel_pitch_m == pytest.approx(5e-6)
    camera.exposure.set(0.01)
    assert camera.exposure.get() == pytest.approx(0.01)

    # A flat phase focuses to the zeroth order at the centre; a blazed grating moves the spot.
    device.show_grey(np.zeros(device.shape))
    camera.trigger()
    flat = camera.grab()
    assert flat.counter == 1 and flat.exposure_s == pytest.approx(0.01) and flat.gain_db == 0.0
    assert np.unravel_index(flat.image.argmax(), flat.image.shape) == (24, 32)
    cols = np.arange(device.shape[1])
    device.show_phase(np.tile(2 * np.pi * cols / 8, (device.shape[0], 1)))  # period 8 px
    camera.trigger()
    blazed = camera.grab()
    peak = np.unravel_index(blazed.image.argmax(), blazed.image.shape)
    assert peak[0] == 24 and abs(peak[1] - 32) == 64 // 8  # the first order, 64/8 columns away
    # The frame is slmsuite's own image of the same state.
    np.testing.assert_array_equal(blazed.image, cam.get_image(averaging=False, hdr=False))


def test_camera_roi_binning_queue_and_limits(bench) -> None:
    _, cam = bench
    camera = SlmsuiteCamera(cam, queue_depth=2)
    camera.set_roi(8, 4, 40, 30)
    assert camera.roi() == (8, 4, 40, 30)
    camera.binning.set(2)
    camera.trigger()
    frame = camera.grab()
    assert frame.image.shape == (15, 20) and frame.roi == (8, 4, 40, 30) and frame.binning == 2

    for _ in range(3):  # a queue of two: the first of three is dropped
        camera.trigger()
    assert [camera.grab().counter for _ in range(2)] == [3, 4]
    with pytest.raises(FrameQueueEmpty) as empty:
        camera.grab()
    assert isinstance(empty.value, InstrumentTimeout)
    camera.trigger()
    camera.flush()
    with pytest.raises(InstrumentTimeout):
        camera.grab()

    with pytest.raises(LimitError):
        camera.exposure.set(2.0)  # the camera's bounds: 1e-5 .. 1 s
    with pytest.raises(LimitError):
        camera.gain.set(6.0)
    with pytest.raises(LimitError, match="not on the 64x48 sensor"):
        camera.set_roi(40, 0, 40, 10)
    assert camera.roi() == (8, 4, 40, 30)


def test_open_by_class_name() -> None:
    device = open_slm("simulated.SimulatedSLM", (16, 8), pitch_um=(8, 8), settle_time_s=0)
    assert device.shape == (8, 16)
    with pytest.raises(ConfigError, match="module.Class"):
        open_slm("SimulatedSLM")
    with pytest.raises(ConfigError, match="no class 'Nope'"):
        open_slm("simulated.Nope")
    with pytest.raises(ConfigError, match="no slm module 'nope'"):
        open_slm("nope.Nope")


def test_missing_slmsuite_names_the_extra(monkeypatch) -> None:
    # As if not installed: the package is None in sys.modules (its submodules gone), restored after.
    for name in [n for n in sys.modules if n.startswith("slmsuite.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "slmsuite", None)
    with pytest.raises(ImportError, match=r"hilt\[slm\]") as missing:
        import_slmsuite("slmsuite.hardware.slms.simulated")
    assert str(missing.value) == MISSING


def test_importing_slmsuite_leaves_qt_alone() -> None:
    # OpenCV (imported by slmsuite) points QT_QPA_PLATFORM_PLUGIN_PATH at its Qt 5 plugins on
    # its first import: a fresh interpreter shows it.
    code = (
        "import json, os\n"
        "from hilt.drivers.slmsuite_adapter import import_slmsuite\n"
        "import_slmsuite('slmsuite.hardware.slms.simulated')\n"
        "print(json.dumps([os.environ.get('QT_QPA_PLATFORM_PLUGIN_PATH'), os.environ.get('QT_QPA_FONTDIR')]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_QPA_")}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [None, None]
