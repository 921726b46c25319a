"""The simulated neuromorphic board through plain clients (a raw socket, pyserial on its pty):
what docs/protocols/board.md says a board does with a frame above ``max_payload`` (refused on its
header, its bytes skipped as they come) and its UART link (the same frames on a serial port).
"""

from __future__ import annotations

import socket

import numpy as np
import serial

from hilt.board_protocol import (
    IDENTIFY,
    LOAD_MODEL,
    READ_COUNTERS,
    READ_RESULTS,
    RUN_BATCH,
    STATUS,
    TOO_LARGE,
    decode_counters,
    decode_identify,
    decode_results,
    decode_run_reply,
    decode_status,
    encode_load,
    encode_read,
    encode_run,
)
from hilt.framing import Frame, parse_error, split_frames
from hilt.sims.neuromorphic_board import SimNeuromorphicBoard
from hilt.sims.world import World
from hilt.snn_model import SnnLayer, SnnNetwork, encode_network


def receive(link: socket.socket | serial.Serial, buffer: bytearray) -> Frame:
    """The next whole frame from the link."""
    while not (frames := split_frames(buffer)):
        chunk = link.recv(65536) if isinstance(link, socket.socket) else link.read(1)
        assert chunk, "link closed"
        buffer += chunk
    assert len(frames) == 1 and not buffer, "one reply at a time"
    return frames[0]


def test_a_frame_above_max_payload_is_refused_on_its_header(served) -> None:  # noqa: ANN001
    sim, address = served(SimNeuromorphicBoard, world=World(seed=3), max_payload=4096)
    host, port = address[len("tcp://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        buffer = bytearray()
        big = Frame(LOAD_MODEL, 9, b"\x00" * 5000).encode()
        sock.sendall(big[:2000])  # the header and part of the payload: the reply comes before the rest
        reply = receive(sock, buffer)
        assert reply.type == 0xFF and reply.seq == 9 and parse_error(reply.payload)[0] == TOO_LARGE
        sock.sendall(big[2000:] + Frame(STATUS, 10).encode())  # the rest is skipped; the link is in step
        reply = receive(sock, buffer)
        assert reply.seq == 10 and decode_status(reply.payload).last_error == TOO_LARGE
        assert decode_status(reply.payload).state_name == "no_model"


def test_the_board_answers_on_its_uart(served) -> None:  # noqa: ANN001
    sim, path = served(SimNeuromorphicBoard, pty=True, world=World(seed=3))
    port = serial.serial_for_url(path, timeout=5, baudrate=115200)
    try:
        buffer = bytearray()

        def ok(ftype: int, seq: int, payload: bytes = b"") -> bytes:
            port.write(Frame(ftype, seq, payload).encode())
            reply = receive(port, buffer)
            assert reply.type == ftype | 0x80 and reply.seq == seq, parse_error(reply.payload)
            return reply.payload

        assert decode_identify(ok(IDENTIFY, 1))["class"] == "neuromorphic"
        model = encode_network(SnnNetwork(2, [SnnLayer(np.array([[4, 0], [0, 4]]), 3)]))
        ok(LOAD_MODEL, 2, encode_load(0, len(model), model))
        batch_id, _ = decode_run_reply(ok(RUN_BATCH, 3, encode_run(1, 2, 2, b"\x01\x00")))
        _, offset, count, size, raster = decode_results(ok(READ_RESULTS, 4, encode_read(batch_id, 0, 1)))
        assert (offset, count, size) == (0, 1, 4) and raster[:2] == b"\x01\x00"  # neuron 0 fires on tick 0
        assert decode_counters(ok(READ_COUNTERS, 5))[1] == 1
    finally:
        port.close()
