"""hilt SLM command reference: hilt's own SLM and camera protocol, version 1
(``docs/protocols/slm-camera.md``, the whole contract), the SLM's messages. The ERROR frame
(type ``FF``) is a reply only and is not listed.

Probes are hex: the type byte, then the payload (the simulator's default panel: 128 x 128, 8 bit).
"""

from hilt.sims.reference import Command, Reference

_ID, _FRAME, _LUT, _SAFE = "Identity and access", "Frames", "Look-up table", "Safety"
#: The all-zero 128 x 128 u8 frame as an array block: rows, cols, type 1, length 95, zlib stream.
_ZEROS = ("0080" "0080" "01" "0000005f"
          "7801edd03101000000c2a0f54f6d0c1f884061c0800103060c183060c0800103060c183060c0800103060c18"
          "3060c0800103060c183060c0800103060c183060c0800103060c183060c0800103060c183060c0800103060c"
          "bc070640000001")

REFERENCE = Reference(
    model="hilt_slm",
    manual="hilt SLM and camera protocol, version 1 (docs/protocols/slm-camera.md), SLM messages",
    syntax="framed",
    commands=tuple(Command(*row) for row in (
        ("INFO", _ID, "01", "shape, pixel pitch, bit depth, wavelength, settle time, JSON"),
        ("HELLO", _ID, "02" + b"token".hex(), "the server's token"),
        ("SHOW", _FRAME, "10" + _ZEROS, "show a frame of grey levels"),
        ("SHOWN", _FRAME, "11", "the frame shown now"),
        ("STATUS", _FRAME, "12", "frame counter, settled, time to settle"),
        # 256 phases, all 0.0
        ("SET_LUT", _LUT, "13" "00000100" + "00" * 2048, "replace the grey-to-phase table"),
        ("GET_LUT", _LUT, "14", "read the grey-to-phase table"),
        ("SAFE", _SAFE, "40", "the all-zero frame"),
    )),
)
