"""hilt's SLM server (gui/slm_server.py, ``hilt slm serve``) through the real TCP stack: a display
SLM on Qt's offscreen screen served on loopback, driven by the ``hilt_slm`` client driver; the
token rule off loopback; the command line end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from hilt.drivers.display_slm import DisplaySLM
from hilt.drivers.hilt_slm import HiltSLM
from hilt.errors import ConfigError, InstrumentError
from hilt.gui.cli import main
from hilt.gui.slm_server import is_loopback, serve_device, serve_slm
from hilt.sims.slm import SimSLM
from hilt.sims.world import World
from hilt.slm_lut import linear_lut, phase_to_grey

pytestmark = pytest.mark.skipif(
    not os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"),
    reason="opens full-screen windows: run with QT_QPA_PLATFORM=offscreen",
)


def off_gui_thread(qtbot, fn: Callable[[], Any]) -> Any:
    """``fn()`` on a worker thread while this (the GUI) thread paints the SLM's frames."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # raised below, on the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=30_000)
    if "error" in out:
        raise out["error"]
    return out.get("value")


@pytest.fixture
def display(qapp):
    with DisplaySLM(screen=0, pixel_pitch_m=9.2e-6, wavelength_m=1064e-9) as slm:
        yield slm


def test_a_display_slm_served_and_driven_over_tcp(display, qtbot) -> None:
    server = serve_slm(display)
    try:
        client = HiltSLM(server.address, name="remote")
        off_gui_thread(qtbot, client.connect)
        assert client.shape == display.shape
        assert (client.pixel_pitch_m, client.wavelength_m, client.bit_depth) == (9.2e-6, 1064e-9, 8)
        frame = np.random.default_rng(11).integers(0, 256, display.shape, dtype=np.uint8)
        off_gui_thread(qtbot, lambda: client.show_grey(frame))
        np.testing.assert_array_equal(display.grab(), frame.astype(np.uint32) * 0x010101)
        np.testing.assert_array_equal(off_gui_thread(qtbot, client.shown), frame)

        # The LUT is stored on the served SLM; the client converts phases with it.
        lut = linear_lut(8, phase_range=5.9)
        off_gui_thread(qtbot, lambda: client.set_lut(lut))
        np.testing.assert_array_equal(display.lut, lut)
        phase = np.random.default_rng(12).uniform(0, 2 * np.pi, display.shape)
        off_gui_thread(qtbot, lambda: client.show_phase(phase))
        np.testing.assert_array_equal(display.shown(), phase_to_grey(phase, lut))

        off_gui_thread(qtbot, client.safe_state)
        assert not display.grab().any()
        off_gui_thread(qtbot, client.close)
    finally:
        server.stop()


def test_a_token_is_required_off_loopback_and_checked(qtbot) -> None:
    slm = SimSLM(World(seed=0), name="slm")
    with pytest.raises(ConfigError, match="without a token"):
        serve_slm(slm, host="0.0.0.0")
    with pytest.raises(ConfigError, match="without a token"):
        serve_device(slm, host="0.0.0.0")
    with pytest.raises(ConfigError, match="empty"):
        serve_slm(slm, host="0.0.0.0", token="  ")
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")

    server = serve_device(SimSLM(World(seed=0), name="slm", token="s3cret"), host="0.0.0.0")
    try:
        address = f"tcp://127.0.0.1:{server.port}"
        with pytest.raises(InstrumentError, match="token"):
            HiltSLM(address, name="slm").connect()
        with pytest.raises(InstrumentError, match="token"):
            HiltSLM(address, name="slm", token="guess").connect()
        client = HiltSLM(address, name="slm", token="s3cret")
        client.connect()
        client.show_grey(np.full(client.shape, 3, dtype=np.uint8))
        assert (client.shown() == 3).all()
        client.close()
    finally:
        server.stop()


def test_the_served_slm_refuses_a_bad_frame_and_keeps_its_own(display, qtbot) -> None:
    server = serve_slm(display)
    try:
        client = HiltSLM(server.address, name="remote")
        off_gui_thread(qtbot, client.connect)
        before = display.shown()
        # Past the client's own checks: a frame one row short, straight to the server.
        from hilt.array_payload import pack_array
        from hilt.drivers.hilt_slm import SHOW

        short = pack_array(np.zeros((display.shape[0] - 1, display.shape[1]), dtype=np.uint8))
        with pytest.raises(InstrumentError, match="shape"):
            off_gui_thread(qtbot, lambda: client.exchange(SHOW, short, "SHOW"))
        np.testing.assert_array_equal(display.shown(), before)
        off_gui_thread(qtbot, client.close)
    finally:
        server.stop()


def test_cli_refuses_a_public_interface_without_a_token() -> None:
    result = CliRunner().invoke(main, ["slm", "serve", "sim", "--host", "0.0.0.0"], env={"HILT_SLM_TOKEN": None})
    assert result.exit_code != 0
    assert "without a token" in result.output


def test_cli_lists_the_screens(tmp_path) -> None:
    config = tmp_path / "screens.json"
    config.write_text(json.dumps({"screens": [
        {"name": "Main", "x": 0, "y": 0, "width": 640, "height": 480, "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1},
        {"name": "SLM-1", "x": 640, "y": 0, "width": 1920, "height": 1152, "logicalDpi": 96, "logicalBaseDpi": 96,
         "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}")
    run = subprocess.run([sys.executable, "-m", "hilt.gui.cli", "slm", "screens"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["0  Main  640x480  60 Hz  (primary)", "1  SLM-1  1920x1152  60 Hz"]


def test_cli_serves_a_display_slm_until_ctrl_c(tmp_path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HILT_SLM_TOKEN="tok")
    proc = subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", "slm", "serve", "display", "--screen", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else address
        client = HiltSLM(address, name="remote", token="tok")
        client.connect()
        frame = np.random.default_rng(4).integers(0, 256, client.shape, dtype=np.uint8)
        client.show_grey(frame)
        np.testing.assert_array_equal(client.shown(), frame)
        client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
