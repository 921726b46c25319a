"""hilt SLM driver: the bytes of docs/protocols/slm-camera.md (SLM messages), the simulator over TCP,
limits checked before sending, the token, error frames and garbled replies.

The exchanges are written out by hand from the document: header fields, payloads, array blocks
(zlib streams at level 0, stored blocks, whose bytes RFC 1950/1951 fix exactly) are literals
below, never bytes made by hilt's codecs. Each frame's CRC-16/CCITT-FALSE is computed by
:func:`crc_ccitt_false`, a bitwise implementation written here from the document's parameters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import pytest

from hilt.drivers.hilt_device import DeviceReplyError
from hilt.drivers.hilt_slm import HiltSLM
from hilt.errors import ConnectError, InstrumentError, LimitError
from hilt.sims.server import serve
from hilt.sims.slm import SimSLM
from hilt.sims.world import SimClock, World
from hilt.testing import expected_protocol


def crc_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE as the document gives it: poly 0x1021, init 0xFFFF, MSB first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def frame(fields: str) -> bytes:
    """Magic, then the document's fields in hex (version, type, seq, length, payload), then the CRC."""
    body = bytes.fromhex(fields)
    assert int.from_bytes(body[4:8], "big") == len(body) - 8, f"length field of {fields!r}"
    return b"\xa5\x5a" + body + crc_ccitt_false(body).to_bytes(2, "big")


def json_frame(ftype: int, seq: int, obj: dict) -> bytes:
    payload = json.dumps(obj).encode()
    return frame(f"01 {ftype:02x} {seq:04x} {len(payload):08x}" + payload.hex())


INFO = {"vendor": "hilt", "model": "test SLM", "serial": "7", "firmware": "1.0", "device": "slm",
        "max_payload": 1024, "rows": 2, "cols": 2, "pixel_pitch_m": 8e-6, "bit_depth": 2,
        "wavelength_m": 1.55e-6, "settle_s": 0.01}
INFO_REQ = frame("01 01 0001 00000000")
INFO_REP = json_frame(0x81, 1, INFO)
# GET_LUT: count 4, the linear table 0, pi/2, pi, 3 pi/2 (f64 little-endian)
LUT_HEX = "0000000000000000 182d4454fb21f93f 182d4454fb210940 d221337f7cd91240"
GETLUT_REQ = frame("01 14 0002 00000000")
GETLUT_REP = frame("01 94 0002 00000024 00000004" + LUT_HEX)
# The array block of [[0, 1], [2, 3]] as u8: rows 2, cols 2, type 1, length 15, stored zlib stream
# (header 78 01, final stored block of 4 bytes: 01 0400 fbff, the bytes, Adler-32 000e0007).
BLOCK = "0002 0002 01 0000000f 7801 01 0400 fbff 00010203 000e0007"
SHOW_REQ = frame("01 10 0003 00000018" + BLOCK)
SHOW_REP = frame("01 90 0003 0000000c 00000001 3fd0000000000000")  # counter 1, time 0.25 s
# STATUS: counter 1, not settled, 0.01 s to go, time 0.25; then settled, 0 s, time 0.26
STATUS1_REQ = frame("01 12 0004 00000000")
STATUS1_REP = frame("01 92 0004 00000015 00000001 00 3f847ae147ae147b 3fd0000000000000")
STATUS2_REQ = frame("01 12 0005 00000000")
STATUS2_REP = frame("01 92 0005 00000015 00000001 01 0000000000000000 3fd0a3d70a3d70a4")
SAFE_REQ = frame("01 40 0006 00000000")
SAFE_REP = frame("01 c0 0006 00000000")


def test_frames_follow_the_document() -> None:
    assert crc_ccitt_false(b"123456789") == 0x29B1
    assert INFO_REQ == bytes.fromhex("a55a 0101 0001 00000000 64dd")  # the document's example


def test_connect_show_grey_waits_for_settling_then_safe() -> None:
    with expected_protocol(HiltSLM, [
        (INFO_REQ, INFO_REP),
        (GETLUT_REQ, GETLUT_REP),
        (SHOW_REQ, SHOW_REP),
        (STATUS1_REQ, STATUS1_REP),
        (STATUS2_REQ, STATUS2_REP),
        (SAFE_REQ, SAFE_REP),
    ], kind="tcp", compression=0) as slm:
        slm.sleep = lambda s: None  # the wait the device asked for (0.01 s) is not this test's business
        assert slm.shape == (2, 2) and slm.bit_depth == 2 and slm.settle_s == 0.01
        assert slm.pixel_pitch_m == 8e-6 and slm.wavelength_m == 1.55e-6
        np.testing.assert_allclose(slm.lut, [0, math.pi / 2, math.pi, 3 * math.pi / 2])
        slm.show_grey(np.array([[0, 1], [2, 3]]))
        assert slm.frames_shown == 1
        slm.safe_state()


def test_show_phase_goes_through_the_lut_and_shown_reads_the_frame() -> None:
    lut = [0.0, 0.5, 1.0, 1.5]  # rad
    with expected_protocol(HiltSLM, [
        (INFO_REQ, INFO_REP),
        (GETLUT_REQ, GETLUT_REP),
        # SET_LUT count 4, 0.0 0.5 1.0 1.5 (f64 little-endian)
        (frame("01 13 0003 00000024 00000004 0000000000000000 000000000000e03f 000000000000f03f 000000000000f83f"),
         frame("01 93 0003 00000000")),
        # 1.4 rad -> level 3 (1.5), 0.6 -> 1 (0.5), 6.2 (= -0.08 mod 2 pi) -> 0, 1.1 -> 2: [[3, 1], [0, 2]]
        (frame("01 10 0004 00000018 0002 0002 01 0000000f 7801 01 0400 fbff 03010002 00150007"),
         frame("01 90 0004 0000000c 00000002 3fd0000000000000")),
        (frame("01 12 0005 00000000"),
         frame("01 92 0005 00000015 00000002 01 0000000000000000 3fd0000000000000")),
        (frame("01 11 0006 00000000"), frame("01 91 0006 00000018 0002 0002 01 0000000f"
                                             "7801 01 0400 fbff 03010002 00150007")),
    ], kind="tcp", compression=0) as slm:
        slm.set_lut(lut)
        np.testing.assert_array_equal(slm.lut, lut)
        slm.show_phase(np.array([[1.4, 0.6], [6.2, 1.1]]))
        np.testing.assert_array_equal(slm.shown(), [[3, 1], [0, 2]])


def test_hello_carries_the_token_before_anything_else() -> None:
    with expected_protocol(HiltSLM, [
        (frame("01 02 0001 00000006" + b"s3cret".hex()), frame("01 82 0001 00000000")),
        (frame("01 01 0002 00000000"), json_frame(0x81, 2, INFO)),
        (frame("01 14 0003 00000000"), frame("01 94 0003 00000024 00000004" + LUT_HEX)),
    ], kind="tcp", token="s3cret") as slm:
        assert slm.shape == (2, 2)


def test_out_of_range_is_refused_before_a_byte_is_sent() -> None:
    with expected_protocol(HiltSLM, [(INFO_REQ, INFO_REP), (GETLUT_REQ, GETLUT_REP)], kind="tcp") as slm:
        for bad in (np.array([[0, 1], [2, 4]]), np.array([[0, 1], [2, -1]]), np.zeros((3, 2), int),
                    np.array([[0.5, 1], [2, 3]]), np.array([[True, False], [True, False]])):
            with pytest.raises(LimitError):
                slm.show_grey(bad)
        with pytest.raises(LimitError, match="4 phases"):
            slm.set_lut([0.0, 1.0])
        with pytest.raises(LimitError, match="NaN"):
            slm.set_lut([0.0, np.nan, 1.0, 2.0])
        with pytest.raises(LimitError):
            slm.show_phase(np.full((2, 2), np.inf))
        with pytest.raises(LimitError, match="shape"):
            slm.show_phase(np.zeros(4))


def test_error_frame_and_garbled_replies() -> None:
    with expected_protocol(HiltSLM, [
        (INFO_REQ, INFO_REP),
        (GETLUT_REQ, GETLUT_REP),
        # the device refuses the frame: error 4 and its message
        (SHOW_REQ, frame("01 ff 0003 00000014 0004" + b"value out of range".hex())),
        # a SHOWN whose zlib stream inflates to 3 bytes, not 4
        (frame("01 11 0004 00000000"), frame("01 91 0004 00000017 0002 0002 01 0000000e 7801 01 0300 fcff 000102"
                                             "00070004")),
        # a STATUS of the wrong length
        (frame("01 12 0005 00000000"), frame("01 92 0005 00000001 01")),
    ], kind="tcp", compression=0) as slm:
        slm.query_retries = 0
        with pytest.raises(InstrumentError) as info:
            slm.show_grey(np.array([[0, 1], [2, 3]]))
        assert info.value.code == 4 and info.value.meaning == "value out of range"
        with pytest.raises(DeviceReplyError, match="SHOWN reply not understood"):
            slm.shown()
        with pytest.raises(DeviceReplyError, match="STATUS reply not understood"):
            slm.status()


def test_a_frame_above_the_devices_max_payload_is_refused_before_sending() -> None:
    small = {**INFO, "max_payload": 20}  # SHOW of 2 x 2 at level 0 is 24 bytes
    with expected_protocol(HiltSLM, [(INFO_REQ, json_frame(0x81, 1, small)), (GETLUT_REQ, GETLUT_REP)],
                           kind="tcp", compression=0) as slm, pytest.raises(LimitError, match="max_payload of 20"):
        slm.show_grey(np.array([[0, 1], [2, 3]]))


def test_info_of_another_device_or_a_bad_size_is_refused() -> None:
    for bad in ({**INFO, "device": "camera"}, {**INFO, "rows": 0}, {**INFO, "bit_depth": 2.0},
                {**INFO, "settle_s": -1}, {**INFO, "max_payload": "big"}):
        with pytest.raises(DeviceReplyError, match="INFO reply not understood"), \
                expected_protocol(HiltSLM, [(INFO_REQ, json_frame(0x81, 1, bad))], kind="tcp"):
            pass


# -- against the simulator, over TCP ----------------------------------------------------------------
@pytest.fixture
def sim_slm() -> Iterator[tuple[SimSLM, HiltSLM]]:
    world = World(seed=3, clock=SimClock("manual"))
    sim = SimSLM(world, name="slm")
    server = serve(sim)
    slm = HiltSLM(server.address, name="slm")
    slm.sleep = world.clock.advance  # what a station on a fast clock does
    slm.connect()
    yield sim, slm
    slm.close()
    server.stop()


def test_simulator_shows_settles_on_its_clock_and_keeps_the_lut(sim_slm: tuple[SimSLM, HiltSLM]) -> None:
    sim, slm = sim_slm
    assert slm.shape == (128, 128) and slm.bit_depth == 8
    t0 = sim.world.clock.now()
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, slm.shape)
    slm.show_grey(grey)  # SHOW, then STATUS until settled: the simulated clock moved by settle_s
    assert sim.world.clock.now() - t0 == pytest.approx(slm.settle_s, rel=1e-6)
    np.testing.assert_array_equal(slm.shown(), grey)
    counter, settled, remaining, _ = slm.status()
    assert counter == 1 and settled and remaining == 0.0
    lut = np.linspace(0, 2 * np.pi * 1.05, 256)
    slm.set_lut(lut)
    np.testing.assert_array_equal(slm._read_lut(), lut)
    slm.show_phase(np.full(slm.shape, np.pi))
    assert np.all(slm.shown() == np.argmin(np.abs(lut - np.pi)))
    slm.safe_state()
    assert not slm.shown().any()


def test_simulator_requires_its_token() -> None:
    world = World(seed=0, clock=SimClock("manual"))
    server = serve(SimSLM(world, name="slm", token="abc"))
    try:
        with pytest.raises(InstrumentError) as info:
            HiltSLM(server.address, name="slm").connect()
        assert info.value.code == 7
        with pytest.raises(InstrumentError) as info:
            HiltSLM(server.address, name="slm", token="abd").connect()
        assert info.value.code == 7
        slm = HiltSLM(server.address, name="slm", token="abc")
        slm.connect()
        assert slm.shape == (128, 128)
        slm.close()
    finally:
        server.stop()


def test_a_reconnect_restores_the_lut_this_host_set(sim_slm: tuple[SimSLM, HiltSLM]) -> None:
    sim, slm = sim_slm
    lut = np.linspace(0, 2 * np.pi * 1.05, 256)
    slm.set_lut(lut)
    sim.lut = np.zeros(256)  # the server restarted with another table
    slm.reconnect()
    np.testing.assert_array_equal(sim.lut, lut)
    np.testing.assert_array_equal(slm.lut, lut)


def test_a_read_is_asked_again_after_a_garbled_or_dropped_reply_and_a_show_is_not(
        sim_slm: tuple[SimSLM, HiltSLM]) -> None:
    sim, slm = sim_slm
    grey = np.full(slm.shape, 7)
    slm.show_grey(grey)
    sim.faults.garble, sim.faults.garble_count = True, 1
    np.testing.assert_array_equal(slm.shown(), grey)  # SHOWN only reads: asked again on a fresh link
    sim.faults.drop, sim.faults.drop_count = True, 1
    assert slm.status()[0] == 1  # STATUS too
    sim.faults.drop, sim.faults.drop_count = True, 1
    with pytest.raises(ConnectError):
        slm.show_grey(np.zeros(slm.shape, int))  # a frame is never sent twice behind the caller's back
    assert sim.counter == 1
    slm.show_grey(np.zeros(slm.shape, int))  # the link comes back for the next request
    assert sim.counter == 2


def test_the_simulator_refuses_frames_it_cannot_show_with_the_documents_codes(sim_slm: tuple[SimSLM, HiltSLM]) -> None:
    sim, slm = sim_slm
    slm.query_retries = 0
    for block, code in (
            ("0002 0002 01 0000000f 7801 01 0400 fbff 00010203 000e0007", 4),  # 2 x 2 on a 128 x 128 panel
            ("0080 0080 03 00000000", 3),  # pixel type 3
            ("0080 0080 01 00000004 78010000", 3),  # a zlib stream that is not one
            ("0080", 3)):  # a header cut short
        with pytest.raises(InstrumentError) as info:
            slm.exchange(0x10, bytes.fromhex(block))
        assert info.value.code == code, block
    assert sim.counter == 0  # nothing was shown
    with pytest.raises(InstrumentError) as info:
        slm.exchange(0x20)  # a camera's message
    assert info.value.code == 2
