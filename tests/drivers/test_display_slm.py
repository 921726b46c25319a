"""The display SLM (a full-screen Qt window on a second monitor) on Qt's offscreen platform:
every frame is grabbed back from the window system and compared with the frame pixel for pixel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from hilt.drivers.display_slm import DisplaySLM
from hilt.errors import ConfigError
from hilt.instruments import SpatialLightModulator
from hilt.slm_lut import linear_lut, phase_to_grey

pytestmark = pytest.mark.skipif(
    not os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"),
    reason="opens full-screen windows: run with QT_QPA_PLATFORM=offscreen",
)


def rgb_of(levels: np.ndarray) -> np.ndarray:
    """The colour (g, g, g) of every level, as 0xRRGGBB."""
    return levels.astype(np.uint32) * np.uint32(0x010101)


@pytest.fixture
def slm(qapp):
    with DisplaySLM(screen=0, settle_s=0.0) as device:
        yield device


def test_every_grey_level_reaches_the_screen_unchanged(slm) -> None:
    assert isinstance(slm, SpatialLightModulator)
    rows, cols = slm.shape
    levels = (np.arange(rows * cols) % 256).reshape(rows, cols).astype(np.uint8)
    assert set(np.unique(levels)) == set(range(256))
    slm.show_grey(levels)
    np.testing.assert_array_equal(slm.grab(), rgb_of(levels))
    np.testing.assert_array_equal(slm.shown(), levels)


def test_a_random_frame_sent_from_a_worker_thread(slm, qtbot) -> None:
    # The driver thread prepares the frame and waits for the window's paint acknowledgement
    # while this (the GUI) thread runs the event loop.
    levels = np.random.default_rng(20261202).integers(0, 256, slm.shape, dtype=np.uint8)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            slm.show_grey(levels)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=20_000)
    assert errors == []
    np.testing.assert_array_equal(slm.grab(), rgb_of(levels))


def test_show_phase_goes_through_the_lut(slm) -> None:
    rows, cols = slm.shape
    phase = np.random.default_rng(7).uniform(-10, 10, (rows, cols))
    # A panel whose stroke falls short of 2 pi: the nearest level on the circle is taken.
    slm.set_lut(linear_lut(8, phase_range=0.9 * 2 * np.pi))
    slm.show_phase(phase)
    expected = phase_to_grey(phase, linear_lut(8, phase_range=0.9 * 2 * np.pi))
    np.testing.assert_array_equal(slm.shown(), expected)
    np.testing.assert_array_equal(slm.grab(), rgb_of(expected))


def test_a_bad_frame_is_refused_and_the_screen_keeps_its_frame(slm) -> None:
    levels = np.full(slm.shape, 17, dtype=np.uint8)
    slm.show_grey(levels)
    bad = levels.astype(np.int32)
    bad[3, 4] = 256
    with pytest.raises(ValueError, match="outside 0..255"):
        slm.show_grey(bad)
    with pytest.raises(ValueError, match="shape"):
        slm.show_grey(levels[:, :-1])
    with pytest.raises(ValueError, match="shape"):
        slm.show_phase(np.zeros((2, 2)))
    np.testing.assert_array_equal(slm.grab(), rgb_of(levels))
    slm.safe_state()
    assert not slm.grab().any()


def test_missing_screens_and_wrong_shapes_are_clear_errors(qapp) -> None:
    with pytest.raises(ConfigError, match=r"no screen 5: there are 1 \(0: "):
        DisplaySLM(screen=5)
    with pytest.raises(ConfigError, match="no screen named 'HDMI-9'"):
        DisplaySLM(screen="HDMI-9")
    with pytest.raises(ConfigError, match="choose the SLM's screen"):
        DisplaySLM(screen=None)  # one screen only: no second monitor to pick
    with pytest.raises(ConfigError, match="set the screen's resolution to the panel's"):
        DisplaySLM(screen=0, shape=(1080, 1920))


def test_more_than_8_bits_needs_an_encoder(qapp) -> None:
    with pytest.raises(ConfigError, match="rgb_encoder"):
        DisplaySLM(screen=0, bit_depth=10)

    def encode(levels: np.ndarray) -> np.ndarray:
        # A made-up packing for the test (the low byte in green, the two high bits in red).
        levels = levels.astype(np.uint32)
        return ((levels >> 8) << 16) | ((levels & 0xFF) << 8)

    with DisplaySLM(screen=0, bit_depth=10, rgb_encoder=encode) as slm:
        levels = np.random.default_rng(3).integers(0, 1024, slm.shape, dtype=np.uint16)
        slm.show_grey(levels)
        np.testing.assert_array_equal(slm.grab(), encode(levels))
        assert slm.lut.shape == (1024,)


SCREENS = {
    "synchronousWindowSystemEvents": False,
    "windowFrameMargins": False,
    "screens": [
        {"name": "Main", "x": 0, "y": 0, "width": 640, "height": 480, "logicalDpi": 96,
         "logicalBaseDpi": 96, "dpr": 1},
        {"name": "SLM-1", "x": 640, "y": 0, "width": 160, "height": 120, "logicalDpi": 96,
         "logicalBaseDpi": 96, "dpr": 1},
    ],
}

CHILD = textwrap.dedent("""
    import json, numpy as np
    from hilt.drivers.display_slm import DisplaySLM
    out = {}
    # No Qt application in this process: the driver runs one on a thread of its own.
    with DisplaySLM(screen=None) as slm:        # the one screen that is not the primary
        out["auto"] = [slm.screen_name, list(slm.shape)]
    with DisplaySLM(screen="SLM-1") as slm:     # by name
        levels = np.random.default_rng(5).integers(0, 256, slm.shape, dtype=np.uint8)
        slm.show_grey(levels)
        grab = slm.grab()
        out["named"] = [slm.screen_name, list(slm.shape), list(grab.shape),
                        bool(np.array_equal(grab, levels.astype(np.uint32) * 0x010101))]
    with DisplaySLM(screen=0) as slm:
        out["index"] = [slm.screen_name, list(slm.shape)]
    print(json.dumps(out))
""")


def test_screen_choice_on_two_screens_without_a_qt_application(tmp_path) -> None:
    config = tmp_path / "screens.json"
    config.write_text(json.dumps(SCREENS))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}")
    run = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         timeout=90)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["auto"] == ["SLM-1", [120, 160]]
    assert out["named"] == ["SLM-1", [120, 160], [120, 160], True]
    assert out["index"] == ["Main", [480, 640]]
