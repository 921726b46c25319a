"""hilt camera command reference: hilt's own SLM and camera protocol, version 1
(``docs/protocols/slm-camera.md``, the whole contract), the camera's messages. The ERROR frame
(type ``FF``) is a reply only and is not listed.

Probes are hex: the type byte, then the payload.
"""

from hilt.sims.reference import Command, Reference

_ID, _SET, _ACQ, _SAFE = "Identity and access", "Settings", "Acquisition", "Safety"

REFERENCE = Reference(
    model="hilt_camera",
    manual="hilt SLM and camera protocol, version 1 (docs/protocols/slm-camera.md), camera messages",
    syntax="framed",
    commands=tuple(Command(*row) for row in (
        ("INFO", _ID, "01", "shape, pixel pitch, bit depth, bounds, JSON"),
        ("HELLO", _ID, "02" + b"token".hex(), "the server's token"),
        # exposure 1 ms, gain 0 dB, ROI 0, 0, 32 x 16, binning 1
        ("SET_SETTINGS", _SET, "20" "3f50624dd2f1a9fc" "0000000000000000" "0000" "0000" "0020" "0010" "01",
         "exposure, gain, region of interest, binning"),
        ("GET_SETTINGS", _SET, "21", "the settings now"),
        ("TRIGGER", _ACQ, "22", "software trigger: expose one frame"),
        ("GRAB", _ACQ, "23", "the oldest frame, or how long until it is ready"),
        ("FLUSH", _ACQ, "24", "drop the queued frames"),
        ("SAFE", _SAFE, "40", "stop acquisition, drop the queue"),
    )),
)
