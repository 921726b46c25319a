"""hilt's camera server (gui/camera_server.py, ``hilt camera serve``) through the real TCP stack,
driven by the ``hilt_camera`` client driver: a Basler camera on pylon's emulation (the real SDK
path) and a slmsuite camera, each behind the protocol; refusals; the command line."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from hilt.drivers.hilt_camera import HiltCamera
from hilt.errors import ConfigError, InstrumentError
from hilt.gui.camera_server import SET_SETTINGS, serve_camera
from hilt.gui.cli import main

os.environ.setdefault("PYLON_CAMEMU", "1")  # before pylon loads: the emulated camera 0815-0000


def pattern(x: int, y: int, width: int, height: int, shift: int) -> np.ndarray:
    """pylon emulation's test image 2 in a region: sensor pixel (r, c) is (r + c + shift) mod 256."""
    rows, cols = np.mgrid[y:y + height, x:x + width]
    return ((rows + cols + shift) % 256).astype(np.uint8)


@pytest.fixture
def basler():
    pytest.importorskip("pypylon", reason="pypylon is not installed (pip install 'hilt[basler]')")
    from hilt.drivers.basler_camera import BaslerCamera

    with BaslerCamera("0815-0000", pixel_pitch_m=3.45e-6) as cam:
        cam.set_roi(0, 0, 64, 48)
        yield cam


def test_a_basler_camera_served_and_driven_over_tcp(basler) -> None:
    server = serve_camera(basler)
    try:
        client = HiltCamera(server.address, name="remote")
        client.connect()
        assert client.shape == (4096, 4096) and client.bit_depth == 8 and client.pixel_pitch_m == 3.45e-6
        assert client.binnings == (1, 2, 3, 4)
        client.exposure.set(2e-3)
        assert basler._camera.ExposureTime.Value == pytest.approx(2000.0)
        client.set_roi(8, 4, 32, 16)
        assert basler.roi() == (8, 4, 32, 16) and client.roi() == (8, 4, 32, 16)
        client.trigger()
        client.trigger()
        first, second = client.grab(timeout=2.0), client.grab(timeout=2.0)
        assert (first.counter, second.counter) == (1, 2)
        np.testing.assert_array_equal(first.image, pattern(8, 4, 32, 16, shift=1))
        np.testing.assert_array_equal(second.image, pattern(8, 4, 32, 16, shift=2))
        assert first.exposure_s == pytest.approx(2e-3) and first.roi == (8, 4, 32, 16)

        client.binning.set(2)
        assert basler.binning.get() == 2 and basler.roi() == (8, 4, 32, 16)
        client.trigger()
        assert client.grab(timeout=2.0).image.shape == (8, 16)

        client.trigger()
        client.flush()
        client.safe_state()
        client.close()
    finally:
        server.stop()


def test_a_refused_setting_changes_nothing(basler) -> None:
    server = serve_camera(basler)
    try:
        client = HiltCamera(server.address, name="remote")
        client.connect()
        before = client.read_settings()
        # Past the client's own checks: exposure 20 s (the emulation stops at 10 s), and a region
        # off the sensor, straight to the server.
        for settings in ((20.0, 0.0, 0, 0, 64, 48, 1), (1e-3, 0.0, 4090, 0, 64, 48, 1), (1e-3, 0.0, 0, 0, 63, 48, 2)):
            with pytest.raises(InstrumentError, match="error 4"):
                client.exchange(SET_SETTINGS, struct.pack(">ddHHHHB", *settings), "SET_SETTINGS")
            assert client.read_settings() == before
        client.close()
    finally:
        server.stop()


def test_a_slmsuite_camera_behind_the_protocol() -> None:
    from hilt.drivers.slmsuite_adapter import SlmsuiteCamera, import_slmsuite

    try:
        slms = import_slmsuite("slmsuite.hardware.slms.simulated")
        cams = import_slmsuite("slmsuite.hardware.cameras.simulated")
    except ImportError:
        pytest.skip("slmsuite is not installed (pip install 'hilt[slm]')")
    slm = slms.SimulatedSLM((64, 48), pitch_um=(8, 8), settle_time_s=0)
    cam = SlmsuiteCamera(cams.SimulatedCamera(slm, pitch_um=(5, 5), exposure_bounds_s=(1e-5, 1.0), gain=1000))
    server = serve_camera(cam)
    try:
        client = HiltCamera(server.address, name="remote")
        client.connect()
        client.trigger()
        frame = client.grab(timeout=1.0)
        assert frame.image.shape == (48, 64)
        assert np.unravel_index(frame.image.argmax(), frame.image.shape) == (24, 32)  # the zeroth order
        client.close()
    finally:
        server.stop()


def test_a_camera_without_a_pixel_pitch_is_refused(basler) -> None:
    basler.pixel_pitch_m = float("nan")
    with pytest.raises(ConfigError, match="pixel pitch is unknown"):
        serve_camera(basler)
    with pytest.raises(ConfigError, match="without a token"):
        serve_camera(basler, host="0.0.0.0")


def test_cli_needs_the_pitch_of_a_basler_camera() -> None:
    result = CliRunner().invoke(main, ["camera", "serve", "basler"])
    assert result.exit_code != 0 and "--pitch-um is required" in result.output


def test_cli_serves_the_simulated_camera_with_a_token() -> None:
    env = dict(os.environ, HILT_CAMERA_TOKEN="tok")
    proc = subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", "camera", "serve", "sim", "--host", "0.0.0.0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("tcp://0.0.0.0:"), proc.stderr.read() if proc.poll() is not None else address
        port = address.rsplit(":", 1)[1]
        with pytest.raises(InstrumentError, match="token"):
            HiltCamera(f"tcp://127.0.0.1:{port}", name="remote").connect()
        client = HiltCamera(f"tcp://127.0.0.1:{port}", name="remote", token="tok")
        client.connect()
        client.trigger()
        assert client.grab(timeout=5.0).counter == 1
        client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
