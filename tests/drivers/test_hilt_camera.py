"""hilt camera driver: the bytes of docs/protocols/slm-camera.md (camera messages), the simulator over
TCP, limits checked before sending, waiting for a frame, timeouts and garbled replies.

Header fields, payloads and array blocks (zlib at level 0, stored blocks) are literals written from
the document; each frame's CRC comes from the bitwise CRC-16/CCITT-FALSE of test_hilt_slm.py,
written from the document's parameters, never from hilt.framing.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from test_hilt_slm import frame, json_frame

from hilt.camera_frame import CameraFrame
from hilt.drivers.hilt_camera import GrabTimeout, HiltCamera
from hilt.drivers.hilt_device import DeviceReplyError
from hilt.errors import InstrumentError, LimitError
from hilt.sims.camera import SimCamera
from hilt.sims.server import serve
from hilt.sims.world import SimClock, World
from hilt.testing import expected_protocol

INFO = {"vendor": "hilt", "model": "test camera", "serial": "9", "firmware": "1.0", "device": "camera",
        "max_payload": 4096, "rows": 4, "cols": 6, "pixel_pitch_m": 5e-6, "bit_depth": 12,
        "exposure_min_s": 1e-5, "exposure_max_s": 1.0, "gain_min_db": 0.0, "gain_max_db": 24.0,
        "binning": [1, 2], "queue_depth": 4}
# settings blocks: exposure f64, gain f64, x, y, width, height u16, binning u8
S_1MS = "3f50624dd2f1a9fc 0000000000000000 0000 0000 0006 0004 01"   # 1 ms, 0 dB, full 6 x 4
S_2MS = "3f60624dd2f1a9fc 0000000000000000 0000 0000 0006 0004 01"   # exposure 2 ms
S_ROI = "3f60624dd2f1a9fc 0000000000000000 0002 0000 0004 0002 01"   # ROI x 2, y 0, 4 x 2
S_BIN = "3f60624dd2f1a9fc 0000000000000000 0002 0000 0004 0002 02"   # binning 2
CONNECT = [
    (frame("01 01 0001 00000000"), json_frame(0x81, 1, INFO)),
    (frame("01 21 0002 00000000"), frame("01 a1 0002 00000019" + S_1MS)),
]


def test_settings_trigger_grab_flush_and_safe() -> None:
    with expected_protocol(HiltCamera, [
        *CONNECT,
        (frame("01 20 0003 00000019" + S_2MS), frame("01 a0 0003 00000000")),
        (frame("01 20 0004 00000019" + S_ROI), frame("01 a0 0004 00000000")),
        (frame("01 20 0005 00000019" + S_BIN), frame("01 a0 0005 00000000")),
        # TRIGGER: frame 1, exposure starts at 0.5 s
        (frame("01 22 0006 00000000"), frame("01 a2 0006 0000000c 00000001 3fe0000000000000")),
        # GRAB: status 1, ready in 0.5 ms; then status 0 and the frame: counter 1, timestamp 0.5 s,
        # the settings it was taken with, a 1 x 2 u16 image (100, 4095) in a stored zlib stream
        (frame("01 23 0007 00000000"), frame("01 a3 0007 00000009 01 3f40624dd2f1a9fc")),
        (frame("01 23 0008 00000000"), frame("01 a3 0008 0000003e 00 00000001 3fe0000000000000" + S_BIN
                                             + "0001 0002 02 0000000f 7801 01 0400 fbff 6400 ff0f 03a10173")),
        (frame("01 24 0009 00000000"), frame("01 a4 0009 00000004 00000000")),
        (frame("01 40 000a 00000000"), frame("01 c0 000a 00000000")),
    ], kind="tcp") as cam:
        waits: list[float] = []
        cam.sleep = waits.append
        assert cam.shape == (4, 6) and cam.bit_depth == 12 and cam.pixel_pitch_m == 5e-6
        cam.exposure.set(2e-3)
        cam.set_roi(2, 0, 4, 2)
        cam.binning.set(2)
        cam.trigger()
        got = cam.grab(timeout=1.0)
        assert waits == [5e-4]  # the time the camera said the frame needed
        assert got == CameraFrame(image=got.image, counter=1, timestamp_s=0.5, exposure_s=2e-3, gain_db=0.0,
                                  roi=(2, 0, 4, 2), binning=2)
        np.testing.assert_array_equal(got.image, [[100, 4095]])
        assert cam.flush() == 0
        cam.safe_state()


def test_out_of_range_is_refused_before_a_byte_is_sent() -> None:
    with expected_protocol(HiltCamera, CONNECT, kind="tcp") as cam:
        for param, value in ((cam.exposure, 5.0), (cam.exposure, 1e-6), (cam.gain, 30.0), (cam.binning, 3),
                             (cam.binning, 4)):
            with pytest.raises(LimitError):
                param.set(value)
        for roi in ((0, 0, 7, 4), (2, 1, 4, 4), (-1, 0, 2, 2), (0, 0, 0, 2), (0.5, 0, 2, 2)):
            with pytest.raises(LimitError):
                cam.set_roi(*roi)
        with pytest.raises(LimitError):
            cam.grab(timeout=-1)


def test_grab_with_nothing_queued_times_out_with_its_own_error() -> None:
    with expected_protocol(HiltCamera, [
        *CONNECT,
        (frame("01 23 0003 00000000"), frame("01 a3 0003 00000001 02")),
    ], kind="tcp") as cam:
        with pytest.raises(GrabTimeout, match="trigger first"):
            cam.grab(timeout=0.0)


def test_garbled_grab_replies_and_an_error_frame() -> None:
    with expected_protocol(HiltCamera, [
        *CONNECT,
        # status 0 with an image of 2 x 2 for a 6 x 4 ROI binned 1
        (frame("01 23 0003 00000000"), frame("01 a3 0003 0000003e 00 00000001 3fe0000000000000" + S_1MS
                                             + "0001 0002 02 0000000f 7801 01 0400 fbff 6400 ff0f 03a10173")),
        # a pixel above the 12-bit range (65535)
        (frame("01 23 0004 00000000"), frame("01 a3 0004 0000003e 00 00000001 3fe0000000000000" + S_BIN
                                             + "0001 0002 02 0000000f 7801 01 0400 fbff 6400 ffff 04910263")),
        # an unknown status byte
        (frame("01 23 0005 00000000"), frame("01 a3 0005 00000001 05")),
        # the camera refuses a setting: error 4
        (frame("01 20 0006 00000019" + S_2MS), frame("01 ff 0006 00000006 0004" + b"ROI!".hex())),
    ], kind="tcp") as cam:
        with pytest.raises(DeviceReplyError, match="image of"):
            cam.grab()
        with pytest.raises(DeviceReplyError, match="12-bit"):
            cam.grab()
        with pytest.raises(DeviceReplyError, match="status 5"):
            cam.grab()
        with pytest.raises(InstrumentError) as info:
            cam.exposure.set(2e-3)
        assert info.value.code == 4


# -- against the simulator, over TCP ----------------------------------------------------------------
@pytest.fixture
def sim_cam() -> Iterator[tuple[SimCamera, HiltCamera]]:
    world = World(seed=5, clock=SimClock("manual"))
    sim = SimCamera(world, name="cam", queue_depth=3)
    server = serve(sim)
    cam = HiltCamera(server.address, name="cam")
    cam.sleep = world.clock.advance  # what a station on a fast clock does
    cam.connect()
    yield sim, cam
    cam.close()
    server.stop()


def test_simulator_frames_count_queue_and_carry_their_settings(sim_cam: tuple[SimCamera, HiltCamera]) -> None:
    sim, cam = sim_cam
    clock = sim.world.clock
    assert cam.shape == (240, 320) and cam.bit_depth == 12
    cam.exposure.set(2e-3)
    cam.gain.set(6.0)
    cam.set_roi(40, 20, 64, 32)
    cam.binning.set(2)
    t0 = clock.now()
    cam.trigger()
    f = cam.grab(timeout=1.0)
    assert clock.now() - t0 == pytest.approx(2e-3 + sim.readout_s)  # waited exposure + readout
    assert f.image.shape == (16, 32) and f.image.dtype == np.uint16
    assert (f.counter, f.exposure_s, f.gain_db, f.roi, f.binning) == (1, 2e-3, 6.0, (40, 20, 64, 32), 2)
    assert f.timestamp_s == pytest.approx(t0)
    # Four triggers into a queue of three: the oldest is dropped and the counter shows the gap.
    for _ in range(4):
        cam.trigger()
    assert [cam.grab().counter for _ in range(3)] == [3, 4, 5]
    cam.trigger()
    cam.trigger()
    assert cam.flush() == 2
    with pytest.raises(GrabTimeout):
        cam.grab(timeout=0.05)
    cam.trigger()
    cam.safe_state()  # acquisition stopped: the queued frame is gone
    with pytest.raises(GrabTimeout):
        cam.grab(timeout=0.0)


def test_a_frame_is_ready_only_after_its_exposure(sim_cam: tuple[SimCamera, HiltCamera]) -> None:
    sim, cam = sim_cam
    cam.exposure.set(0.5)
    cam.trigger()
    with pytest.raises(GrabTimeout, match="needs"):
        cam.grab(timeout=0.1)  # 0.1 s of simulated waiting: the 0.5 s exposure is not over
    assert cam.grab(timeout=1.0).counter == 1


def test_the_camera_refuses_settings_it_cannot_take(sim_cam: tuple[SimCamera, HiltCamera]) -> None:
    sim, cam = sim_cam
    cam.query_retries = 0
    # Bytes the driver would never send: a binning the INFO reply offers but a ROI not divisible by it.
    with pytest.raises(InstrumentError) as info:
        cam.exchange(0x20, bytes.fromhex("3f50624dd2f1a9fc 0000000000000000 0000 0000 0005 0004 02"))
    assert info.value.code == 4
    assert cam.roi() == (0, 0, 320, 240)  # nothing changed


def test_a_reconnect_restores_the_settings_this_host_sent(sim_cam: tuple[SimCamera, HiltCamera]) -> None:
    sim, cam = sim_cam
    cam.exposure.set(5e-3)
    cam.set_roi(8, 8, 32, 16)
    sent = sim.settings
    sim.settings = type(sent)(1e-3, 0.0, (0, 0, 320, 240), 1)  # the camera restarted with its defaults
    cam.reconnect()
    assert sim.settings == sent
    assert cam.roi() == (8, 8, 32, 16) and cam.exposure.get() == 5e-3
