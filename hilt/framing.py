"""hilt's binary frame: the documented envelope for instruments without a text protocol.

Byte by byte (see docs/protocols/hilt-frame.md)::

    offset size  field
    0      2     magic 0xA5 0x5A
    2      1     version (1)
    3      1     type (request types < 0x80; replies have bit 7 set; 0xFF is an error reply)
    4      2     sequence number, big-endian (a reply repeats its request's)
    6      4     payload length N, big-endian
    10     N     payload (its layout depends on the type)
    10+N   2     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over bytes 2 .. 10+N-1, big-endian

Header fields are big-endian (network order); array payloads are little-endian IEEE-754 (what
ARM and x86 firmware hold in memory), stated in each message's layout.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

MAGIC = b"\xa5\x5a"
VERSION = 1
HEADER = struct.Struct(">2sBBHI")
HEADER_SIZE = HEADER.size  # 10
CRC_SIZE = 2
ERROR_TYPE = 0xFF
REPLY_BIT = 0x80
MAX_PAYLOAD = 256 * 1024 * 1024


class FrameError(ValueError):
    """Bytes that are not a valid frame (bad magic, version, length or CRC).

    Raised by :func:`split_frames`, ``frames`` holds the good frames it had already taken off
    the buffer before the bad bytes (which stay at the buffer's front)."""

    def __init__(self, message: str, frames: list[Frame] | None = None) -> None:
        super().__init__(message)
        self.frames: list[Frame] = frames or []


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (check value of b'123456789' is 0x29B1)."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True, slots=True)
class Frame:
    type: int
    seq: int
    payload: bytes = b""

    def encode(self) -> bytes:
        head = HEADER.pack(MAGIC, VERSION, self.type, self.seq & 0xFFFF, len(self.payload))
        body = head + self.payload
        return body + struct.pack(">H", crc16(body[2:]))


def parse_header(head: bytes) -> tuple[int, int, int]:
    """(type, seq, payload length) of a 10-byte header; FrameError if it is not one."""
    if len(head) != HEADER_SIZE:
        raise FrameError(f"header of {len(head)} bytes, expected {HEADER_SIZE}")
    magic, version, ftype, seq, length = HEADER.unpack(head)
    if magic != MAGIC:
        raise FrameError(f"bad magic {magic.hex()}")
    if version != VERSION:
        raise FrameError(f"unsupported version {version}")
    if length > MAX_PAYLOAD:
        raise FrameError(f"payload length {length} too large")
    return ftype, seq, length


def check_frame(head: bytes, payload: bytes, crc: bytes) -> Frame:
    """The frame of a header, its payload and its CRC; FrameError if they do not make one (a
    payload of another length than the header says, a CRC that does not match)."""
    ftype, seq, length = parse_header(head)
    if len(payload) != length:
        raise FrameError(f"payload of {len(payload)} bytes, header says {length}")
    if len(crc) != CRC_SIZE:
        raise FrameError(f"CRC of {len(crc)} bytes, expected {CRC_SIZE}")
    (expected,) = struct.unpack(">H", crc)
    actual = crc16(bytes(head[2:]) + bytes(payload))
    if actual != expected:
        raise FrameError(f"CRC mismatch (frame says {expected:#06x}, bytes give {actual:#06x})")
    return Frame(ftype, seq, payload)


def split_frames(buffer: bytearray) -> list[Frame]:
    """Take every complete frame off the front of ``buffer`` (incomplete bytes stay).

    Bytes that cannot start a frame raise FrameError; they stay at the front of the buffer, and
    the good frames taken off before them ride on the error (``exc.frames``)."""
    frames: list[Frame] = []
    while len(buffer) >= HEADER_SIZE:
        try:
            _, _, length = parse_header(bytes(buffer[:HEADER_SIZE]))
            end = HEADER_SIZE + length + CRC_SIZE
            if len(buffer) < end:
                break
            frame = check_frame(bytes(buffer[:HEADER_SIZE]), bytes(buffer[HEADER_SIZE:end - CRC_SIZE]),
                                bytes(buffer[end - CRC_SIZE:end]))
        except FrameError as exc:
            raise FrameError(str(exc), frames) from None
        frames.append(frame)
        del buffer[:end]
    return frames


def error_payload(code: int, message: str) -> bytes:
    """Error reply payload: code u16 big-endian, then the message in UTF-8."""
    return struct.pack(">H", code) + message.encode()


def parse_error(payload: bytes) -> tuple[int, str]:
    """(code, message) of an error reply's payload; FrameError if it has no code."""
    if len(payload) < 2:
        raise FrameError("error frame without a code")
    (code,) = struct.unpack(">H", payload[:2])
    return code, payload[2:].decode(errors="replace")
