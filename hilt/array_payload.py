"""Images and grey frames inside hilt frames: a small header, then a zlib stream of the pixels.

The block, byte by byte (docs/protocols/slm-camera.md, "Array block")::

    offset size  field
    0      2     rows, big-endian u16 (1 .. 65535)
    2      2     cols, big-endian u16 (1 .. 65535)
    4      1     pixel type: 1 = u8, 2 = u16 little-endian
    5      4     compressed length L, big-endian u32
    9      L     zlib stream (RFC 1950) of rows x cols pixels, row-major (C order), the row at the
                 top of the image first

Decompression is bounded: a stream that inflates to anything but exactly ``rows x cols x
bytes-per-pixel`` bytes is refused without inflating more than one byte past that size, so a
hostile stream cannot exhaust memory.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

HEAD = struct.Struct(">HHBI")
HEAD_SIZE = HEAD.size  # 9
PIXEL_TYPES: dict[int, np.dtype] = {1: np.dtype("u1"), 2: np.dtype("<u2")}
#: zlib level the senders use: 1 is several times faster than the default 6 and grey frames of a
#: few distinct levels compress almost as well.
LEVEL = 1


class ArrayPayloadError(ValueError):
    """Bytes that are not an array block as documented (hilt.drivers turn it into ProtocolError,
    the simulators into an error reply)."""


def pack_array(image: np.ndarray, level: int = LEVEL) -> bytes:
    """The array block of a 2-D ``uint8`` or ``uint16`` array."""
    arr = np.asarray(image)
    if arr.ndim != 2 or not (1 <= arr.shape[0] <= 0xFFFF and 1 <= arr.shape[1] <= 0xFFFF):
        raise ArrayPayloadError(f"an array block holds a 2-D array of 1..65535 x 1..65535, not shape {arr.shape}")
    if arr.dtype == np.uint8:
        code, data = 1, np.ascontiguousarray(arr).tobytes()
    elif arr.dtype == np.uint16:
        code, data = 2, np.ascontiguousarray(arr, dtype="<u2").tobytes()
    else:
        raise ArrayPayloadError(f"an array block holds uint8 or uint16 pixels, not {arr.dtype}")
    packed = zlib.compress(data, level)
    return HEAD.pack(arr.shape[0], arr.shape[1], code, len(packed)) + packed


def unpack_array(payload: bytes, offset: int = 0, max_pixels: int | None = None) -> tuple[np.ndarray, int]:
    """(array, offset after the block) of the array block at ``offset`` of ``payload``.

    ``max_pixels``: refuse a block announcing more pixels (the receiver's limit). Anything not as
    documented is an :class:`ArrayPayloadError` naming what is wrong."""
    if len(payload) - offset < HEAD_SIZE:
        raise ArrayPayloadError(f"array block header of {max(len(payload) - offset, 0)} bytes, expected {HEAD_SIZE}")
    rows, cols, code, length = HEAD.unpack_from(payload, offset)
    if code not in PIXEL_TYPES:
        raise ArrayPayloadError(f"pixel type {code}: expected 1 (u8) or 2 (u16)")
    if rows == 0 or cols == 0:
        raise ArrayPayloadError(f"array of {rows} x {cols} pixels")
    if max_pixels is not None and rows * cols > max_pixels:
        raise ArrayPayloadError(f"array of {rows} x {cols} pixels, more than the {max_pixels} allowed")
    start = offset + HEAD_SIZE
    end = start + length
    if end > len(payload):
        raise ArrayPayloadError(f"compressed length {length} runs past the payload ({len(payload) - start} bytes left)")
    dtype = PIXEL_TYPES[code]
    size = rows * cols * dtype.itemsize
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(payload[start:end], size + 1)
    except zlib.error as exc:
        raise ArrayPayloadError(f"zlib stream: {exc}") from None
    if len(raw) != size or not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
        raise ArrayPayloadError(f"zlib stream does not hold exactly {rows} x {cols} {dtype.name} pixels "
                                f"({size} bytes) and end there")
    return np.frombuffer(raw, dtype=dtype).reshape(rows, cols).astype(dtype.newbyteorder("="), copy=True), end
