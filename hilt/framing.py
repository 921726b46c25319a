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
    """Bytes that are not a valid frame (bad magic, version, length or CRC)."""


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
    magic, version, ftype, seq, length = HEADER.unpack(head)
    if magic != MAGIC:
        raise FrameError(f"bad magic {magic.hex()}")
    if version != VERSION:
        raise FrameError(f"unsupported version {version}")
    if length > MAX_PAYLOAD:
        raise FrameError(f"payload length {length} too large")
    return ftype, seq, length


def check_frame(head: bytes, payload: bytes, crc: bytes) -> Frame:
    ftype, seq, _ = parse_header(head)
    (expected,) = struct.unpack(">H", crc)
    actual = crc16(head[2:] + payload)
    if actual != expected:
        raise FrameError(f"CRC mismatch (frame says {expected:#06x}, bytes give {actual:#06x})")
    return Frame(ftype, seq, payload)


def split_frames(buffer: bytearray) -> list[Frame]:
    """Take every complete frame off the front of ``buffer`` (incomplete bytes stay)."""
    frames = []
    while len(buffer) >= HEADER_SIZE:
        _, _, length = parse_header(bytes(buffer[:HEADER_SIZE]))
        end = HEADER_SIZE + length + CRC_SIZE
        if len(buffer) < end:
            break
        frames.append(check_frame(bytes(buffer[:HEADER_SIZE]), bytes(buffer[HEADER_SIZE:end - CRC_SIZE]),
                                  bytes(buffer[end - CRC_SIZE:end])))
        del buffer[:end]
    return frames


def error_payload(code: int, message: str) -> bytes:
    """Error reply payload: code u16 big-endian, then the message in UTF-8."""
    return struct.pack(">H", code) + message.encode()


def parse_error(payload: bytes) -> tuple[int, str]:
    if len(payload) < 2:
        raise FrameError("error frame without a code")
    (code,) = struct.unpack(">H", payload[:2])
    return code, payload[2:].decode(errors="replace")
