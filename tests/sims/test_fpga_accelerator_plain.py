"""The simulated FPGA accelerator through plain clients (a raw socket, pyserial on its pty), as a
lab's own script or firmware test bench would talk to it: every message of the board protocol
(docs/protocols/board.md) and what the document says a board does with frames it cannot take.
"""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import serial

from hilt.board_protocol import (
    BAD_FRAME,
    BAD_MODEL,
    BUSY,
    IDENTIFY,
    LOAD_MODEL,
    NO_MODEL,
    NO_RESULTS,
    OUT_OF_ORDER,
    OUT_OF_RANGE,
    READ_COUNTERS,
    READ_RESULTS,
    RESET,
    RUN_BATCH,
    STATUS,
    TOO_LARGE,
    UNKNOWN_TYPE,
    UNSUPPORTED,
    AcceleratorModel,
    Layer,
    decode_counters,
    decode_identify,
    decode_loaded,
    decode_results,
    decode_run_reply,
    decode_status,
    encode_load,
    encode_read,
    encode_reset,
    encode_run,
)
from hilt.framing import Frame, parse_error, split_frames
from hilt.sims.fpga_accelerator import SimFpgaAccelerator
from hilt.sims.physics.int8_board import execute
from hilt.sims.world import World


class Client:
    """Frames over a raw socket or a pyserial port; replies cut with hilt.framing."""

    def __init__(self, link: socket.socket | serial.Serial) -> None:
        self.link = link
        self.buffer = bytearray()
        self.seq = 0

    def send_raw(self, data: bytes) -> None:
        if isinstance(self.link, socket.socket):
            self.link.sendall(data)
        else:
            self.link.write(data)

    def recv(self) -> Frame:
        while True:
            frames = split_frames(self.buffer)
            if frames:
                assert not self.buffer, "one reply at a time"
                return frames[0]
            chunk = self.link.recv(65536) if isinstance(self.link, socket.socket) else self.link.read(1)
            assert chunk, "link closed"
            self.buffer += chunk

    def ask(self, ftype: int, payload: bytes = b"") -> Frame:
        self.seq += 1
        self.send_raw(Frame(ftype, self.seq, payload).encode())
        reply = self.recv()
        assert reply.seq in (self.seq, 0)
        return reply

    def ok(self, ftype: int, payload: bytes = b"") -> bytes:
        reply = self.ask(ftype, payload)
        assert reply.type == ftype | 0x80, parse_error(reply.payload)
        return reply.payload

    def error(self, ftype: int, payload: bytes = b"") -> int:
        reply = self.ask(ftype, payload)
        assert reply.type == 0xFF, reply
        return parse_error(reply.payload)[0]


def tcp_client(served, **options) -> tuple[SimFpgaAccelerator, Client]:  # noqa: ANN001, ANN003
    sim, address = served(SimFpgaAccelerator, world=World(seed=4), **options)
    host, port = address[len("tcp://"):].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sim, Client(sock)


def small_model() -> AcceleratorModel:
    return AcceleratorModel((3, 1, 1), [Layer("dense", weight=np.array([[1, 2, 3], [-4, 5, -6]]),
                                              bias=np.array([1, -1]), multiplier=np.array([2**30]),
                                              shift=np.array([0]))])


def test_every_message_over_tcp(served) -> None:  # noqa: ANN001
    sim, c = tcp_client(served)
    ident = decode_identify(c.ok(IDENTIFY))
    assert ident["class"] == "accelerator" and ident["rounding"] == "half_away" and ident["layers"] == \
        "dense,conv2d,maxpool2d"
    assert decode_status(c.ok(STATUS)).state_name == "no_model"
    assert c.error(RUN_BATCH, encode_run(1, 3, 0, b"\x00\x00\x00")) == NO_MODEL
    data = small_model().encode()
    assert decode_loaded(c.ok(LOAD_MODEL, encode_load(0, len(data), data[:20]))) == (20, False, 0)
    assert decode_status(c.ok(STATUS)).state_name == "loading"
    assert c.error(LOAD_MODEL, encode_load(30, len(data), data[30:])) == OUT_OF_ORDER
    received, complete, crc = decode_loaded(c.ok(LOAD_MODEL, encode_load(20, len(data), data[20:])))
    assert (received, complete, crc) == (44, True, 0x00E89C37)
    assert c.error(RUN_BATCH, encode_run(1, 4, 0, b"\x00" * 4)) == OUT_OF_RANGE  # 4-byte samples
    assert c.error(RUN_BATCH, encode_run(1, 3, 0, b"\x00" * 4)) == 3  # payload of the wrong length
    batch_id, expected_us = decode_run_reply(c.ok(RUN_BATCH, encode_run(2, 3, 0, bytes([10, 20, 30, 0, 0, 0]))))
    assert batch_id == 1 and expected_us >= 1
    while (reply := c.ask(READ_RESULTS, encode_read(1, 0, 2))).type == 0xFF:  # real clock: busy a while
        assert parse_error(reply.payload)[0] == BUSY
        time.sleep(expected_us * 1e-6)
    _, offset, count, size, results = decode_results(reply.payload)
    assert (offset, count, size) == (0, 2, 2) and results == bytes([71, 256 - 61, 1, 255])
    assert c.error(READ_RESULTS, encode_read(7, 0, 1)) == NO_RESULTS
    assert c.error(READ_RESULTS, encode_read(1, 3, 1)) == OUT_OF_RANGE
    counters = decode_counters(c.ok(READ_COUNTERS))
    assert counters[1] == 1 and counters[2] == 2 and counters[6] == 12 and counters[3] > 0
    assert c.ok(RESET, encode_reset(0)) == b""
    assert c.error(READ_RESULTS, encode_read(1, 0, 1)) == NO_RESULTS  # results dropped, model kept
    assert decode_status(c.ok(STATUS)).state_name == "ready"
    assert c.error(RESET, b"\x05") == OUT_OF_RANGE
    c.ok(RESET, encode_reset(1))
    status = decode_status(c.ok(STATUS))
    assert status.state_name == "no_model" and status.model_crc == 0 and status.batch_id == 0
    assert c.error(0x7E) == UNKNOWN_TYPE and "frame type 0x7e" in sim.unknown_commands


def test_a_model_the_board_cannot_run_leaves_it_without_one(served) -> None:  # noqa: ANN001
    sim, c = tcp_client(served, rounding="floor", requant="pow2")
    data = small_model().encode()
    assert c.error(LOAD_MODEL, encode_load(0, len(data), data)) == UNSUPPORTED  # half_away on a floor board
    floor = small_model()
    floor.rounding = "floor"
    data = floor.encode()
    assert c.error(LOAD_MODEL, encode_load(0, len(data), data)) == UNSUPPORTED  # a multiplier on a pow2 board
    assert c.error(LOAD_MODEL, encode_load(0, 5, data[:5])) == BAD_MODEL
    assert decode_status(c.ok(STATUS)).state_name == "no_model"
    assert c.error(LOAD_MODEL, encode_load(0, 2**21, data)) == OUT_OF_RANGE  # above max_model_bytes


def test_frames_a_board_cannot_take(served) -> None:  # noqa: ANN001
    """Too large: answered at once with its sequence, its bytes skipped, the link in step after.
    Bad magic or CRC: error 1 with sequence 0, the input dropped."""
    sim, c = tcp_client(served, max_payload=4096)
    big = Frame(LOAD_MODEL, 9, b"\x00" * 5000).encode()
    c.send_raw(big[:2000])
    reply = c.recv()
    assert reply.type == 0xFF and reply.seq == 9 and parse_error(reply.payload)[0] == TOO_LARGE
    c.send_raw(big[2000:])  # the rest of it arrives and is skipped
    assert decode_status(c.ok(STATUS)).last_error == TOO_LARGE
    c.send_raw(b"\x00\x01" + Frame(STATUS, 1).encode()[2:])
    reply = c.recv()
    assert reply.seq == 0 and parse_error(reply.payload)[0] == BAD_FRAME
    bad_crc = bytearray(Frame(STATUS, 2).encode())
    bad_crc[-1] ^= 0x01
    c.send_raw(bytes(bad_crc))
    reply = c.recv()
    assert reply.seq == 0 and parse_error(reply.payload)[0] == BAD_FRAME
    assert decode_status(c.ok(STATUS)).state_name == "no_model"
    assert decode_counters(c.ok(READ_COUNTERS))[8] == 3


def test_uart_on_a_pty_drops_a_partial_frame_after_the_gap(served) -> None:  # noqa: ANN001
    sim, path = served(SimFpgaAccelerator, pty=True, world=World(seed=4), frame_gap=0.05)
    port = serial.serial_for_url(path, timeout=5, baudrate=115200)
    try:
        c = Client(port)
        assert decode_identify(c.ok(IDENTIFY))["class"] == "accelerator"
        half = Frame(STATUS, 5).encode()[:7]
        c.send_raw(half)
        port.flush()
        time.sleep(0.3)  # silence longer than the gap: the board drops those 7 bytes
        assert decode_status(c.ok(STATUS)).state_name == "no_model"
        x = np.array([[10, 20, 30]], np.int8)
        data = small_model().encode()
        c.ok(LOAD_MODEL, encode_load(0, len(data), data))
        batch_id, _ = decode_run_reply(c.ok(RUN_BATCH, encode_run(1, 3, 0, x.tobytes())))
        while (reply := c.ask(READ_RESULTS, encode_read(batch_id, 0, 1))).type == 0xFF:
            time.sleep(1e-4)
        assert decode_results(reply.payload)[4] == execute(small_model(), x).tobytes()
    finally:
        port.close()


@pytest.mark.parametrize("max_payload", [4096, 4100])
def test_results_are_cut_to_max_payload(served, max_payload: int) -> None:  # noqa: ANN001
    sim, c = tcp_client(served, max_payload=max_payload, max_features=4096, max_channels=1000)
    model = AcceleratorModel((1, 1, 1), [Layer("dense", weight=np.ones((1000, 1)), bias=np.zeros(1000),
                                               multiplier=np.array([2**30]), shift=np.array([0]))])
    data = model.encode()
    for offset in range(0, len(data), max_payload - 8):
        c.ok(LOAD_MODEL, encode_load(offset, len(data), data[offset:offset + max_payload - 8]))
    batch_id, _ = decode_run_reply(c.ok(RUN_BATCH, encode_run(10, 1, 0, bytes(range(10)))))
    while (reply := c.ask(READ_RESULTS, encode_read(batch_id, 0, 10))).type == 0xFF:
        time.sleep(1e-4)
    _, offset, count, size, _ = decode_results(reply.payload)
    assert (offset, size) == (0, 1000) and count == (max_payload - 16) // 1000
