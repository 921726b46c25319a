"""A phase SLM behind hilt's SLM protocol (docs/protocols/slm-camera.md, our own protocol document):
hilt's simulated SLM, or hilt's network SLM server in front of a real panel on another computer.

=====  =========  =======================================================  ==========================
type   name       request payload                                          reply
=====  =========  =======================================================  ==========================
0x01   INFO       (none)                                                   0x81 JSON (shape, pitch, ...)
0x02   HELLO      the server's token, UTF-8                                0x82 (none)
0x10   SHOW       array block of grey levels (u8, or u16 above 8 bits)     0x90 counter u32, time f64
0x11   SHOWN      (none)                                                   0x91 array block
0x12   STATUS     (none)                                                   0x92 counter u32, settled u8,
                                                                           remaining f64, time f64
0x13   SET_LUT    count u32; count x f64 LE phases (rad)                   0x93 (none)
0x14   GET_LUT    (none)                                                   0x94 count u32; count x f64 LE
0x40   SAFE       (none): the all-zero frame                               0xC0 (none)
=====  =========  =======================================================  ==========================

Scalars big-endian, arrays little-endian; an array block is rows u16, cols u16, pixel type u8,
compressed length u32, zlib stream (:mod:`hilt.array_payload`).

Phases become grey levels here, through the LUT, with :func:`hilt.slm_lut.phase_to_grey` (the
device stores the LUT so every host sees the same one; it shows the grey levels it is sent).
A LUT this host set with :meth:`HiltSLM.set_lut` is set again when a reconnect finds the device
holding another (a restarted server starts from the linear table).
``show_phase`` and ``show_grey`` block until the panel has settled: after SHOW the driver asks
STATUS and waits the time the device says remains (through :meth:`sleep`, which a fast simulated
clock turns into a jump), at most ``settle_timeout`` s of its own, then raises
:class:`SettleTimeout`.
"""

from __future__ import annotations

import logging
import math
import struct
import time
from typing import Any, ClassVar

import numpy as np

from hilt.array_payload import ArrayPayloadError, pack_array, unpack_array
from hilt.drivers.hilt_device import INFO, HiltDevice
from hilt.errors import InstrumentTimeout, LimitError
from hilt.slm_lut import check_grey, check_lut, grey_to_phase, linear_lut, phase_to_grey

SHOW, SHOWN, STATUS, SET_LUT, GET_LUT = 0x10, 0x11, 0x12, 0x13, 0x14

log = logging.getLogger("hilt.drivers.hilt_slm")


class SettleTimeout(InstrumentTimeout):
    """The SLM did not report its frame settled within the driver's ``settle_timeout``."""


class HiltSLM(HiltDevice):
    """Phase-only SLM (kind ``slm``) over hilt's SLM protocol; see the module docstring.

    Sizes come from the device's INFO reply: ``shape`` (rows, cols), ``pixel_pitch_m``,
    ``bit_depth``, ``wavelength_m``, ``settle_s``. ``lut`` is the device's LUT (read on connect,
    replaced with :meth:`set_lut`).
    """

    model = "hilt_slm"
    kinds: ClassVar[tuple[str, ...]] = ("slm",)
    simulator = "hilt_slm"
    device: ClassVar[str] = "slm"
    RETRIED = frozenset({INFO, SHOWN, STATUS, GET_LUT})

    def __init__(self, address: str | None = None, *, settle_timeout: float = 10.0, compression: int = 1,
                 **kwargs: Any) -> None:
        """``settle_timeout``: longest wait (s) for the panel to report a frame settled;
        ``compression``: the zlib level of SHOW's frames (0 stores them uncompressed, 1 is fast,
        9 small; the device reads any)."""
        if isinstance(compression, bool) or compression not in range(10):
            raise ValueError(f"compression {compression!r}: a zlib level 0..9")
        super().__init__(address, **kwargs)
        self.settle_timeout = float(settle_timeout)
        self.compression = int(compression)
        self.shape: tuple[int, int] = (0, 0)
        self.pixel_pitch_m = 0.0
        self.bit_depth = 8
        self.wavelength_m = 0.0
        self.settle_s = 0.0
        self.frames_shown = 0
        self._lut = linear_lut(8)
        #: The LUT this host set (None: it uses the device's), restored after a reconnect.
        self._host_lut: np.ndarray | None = None

    def apply_info(self, info: dict[str, Any]) -> None:
        self.shape = (self.info_int(info, "rows", 1, 0xFFFF), self.info_int(info, "cols", 1, 0xFFFF))
        self.bit_depth = self.info_int(info, "bit_depth", 1, 16)
        self.pixel_pitch_m = self.info_number(info, "pixel_pitch_m", 1e-9, 1.0)
        self.wavelength_m = self.info_number(info, "wavelength_m", 1e-9, 1e-2)
        self.settle_s = self.info_number(info, "settle_s", 0.0, 3600.0)
        device_lut = self._read_lut()
        if self._host_lut is not None and not np.array_equal(device_lut, self._host_lut):
            if self._host_lut.size != device_lut.size:
                raise self.malformed("INFO", f"the SLM now has {device_lut.size} grey levels; the LUT this host "
                                     f"set has {self._host_lut.size}")
            # A reconnect found the device with another LUT (it restarted): the table this host
            # set is what its phases mean, so it goes back before any frame is shown.
            log.warning("%s: the SLM's LUT changed while the link was down; setting this host's again", self.name)
            self.exchange(SET_LUT, struct.pack(">I", self._host_lut.size) + self._host_lut.astype("<f8").tobytes(),
                          "SET_LUT")
            device_lut = self._host_lut.copy()
        self._lut = device_lut

    # -- the LUT ---------------------------------------------------------------------------------
    @property
    def lut(self) -> np.ndarray:
        """The grey-level -> phase table (rad), ``2**bit_depth`` entries (a copy)."""
        return self._lut.copy()

    def _read_lut(self) -> np.ndarray:
        reply = self.exchange(GET_LUT, b"", "GET_LUT")
        n = 1 << self.bit_depth
        if len(reply) != 4 + 8 * n or struct.unpack(">I", reply[:4])[0] != n:
            raise self.malformed("GET_LUT", f"expected a count of {n} and {n} f64 phases", reply)
        lut = np.frombuffer(reply[4:], dtype="<f8").astype(np.float64)
        if not np.all(np.isfinite(lut)):
            raise self.malformed("GET_LUT", "a phase is NaN or infinite", reply)
        return lut

    def set_lut(self, lut: np.ndarray) -> None:
        """Replace the LUT (rad per grey level, ``2**bit_depth`` finite values); checked first."""
        try:
            table = check_lut(lut, self.bit_depth)
        except ValueError as exc:
            raise LimitError(str(exc), instrument=self.name, parameter="lut") from None
        self.exchange(SET_LUT, struct.pack(">I", table.size) + table.astype("<f8").tobytes(), "SET_LUT")
        self._lut = table
        self._host_lut = table.copy()

    # -- frames ----------------------------------------------------------------------------------
    def validate_grey(self, levels: np.ndarray) -> np.ndarray:
        """``levels`` as the frame that would be sent; LimitError if not (sends nothing)."""
        try:
            return check_grey(levels, self.shape, self.bit_depth)
        except ValueError as exc:
            raise LimitError(str(exc), instrument=self.name, parameter="grey") from None

    def show_grey(self, levels: np.ndarray) -> None:
        """Show grey levels (integers of ``shape`` in ``0 .. 2**bit_depth - 1``), checked before
        anything is sent; blocks until the panel has settled."""
        frame = self.validate_grey(levels)
        reply = self.exchange(SHOW, pack_array(frame, self.compression), "SHOW")
        if len(reply) != 12:
            raise self.malformed("SHOW", f"{len(reply)} bytes, expected counter u32 and time f64", reply)
        self.frames_shown = struct.unpack(">I", reply[:4])[0]
        self.wait_settled()

    def show_phase(self, phase: np.ndarray) -> None:
        """Show a phase pattern (rad, real, of ``shape``): wrapped, converted to the nearest grey
        levels through :attr:`lut`, shown; blocks until the panel has settled."""
        p = np.asarray(phase)
        if p.shape != self.shape or p.dtype.kind not in "iuf":
            raise LimitError(f"phase of shape {p.shape} and type {p.dtype}: expected real numbers of shape {self.shape}",
                             instrument=self.name, parameter="phase")
        try:
            grey = phase_to_grey(p, self._lut)
        except ValueError as exc:
            raise LimitError(str(exc), instrument=self.name, parameter="phase") from None
        self.show_grey(grey)

    def shown(self) -> np.ndarray:
        """The grey levels on the panel now (read from the device)."""
        reply = self.exchange(SHOWN, b"", "SHOWN")
        try:
            grey, end = unpack_array(reply, 0, max_pixels=self.shape[0] * self.shape[1])
        except ArrayPayloadError as exc:
            raise self.malformed("SHOWN", str(exc), reply) from None
        if end != len(reply) or grey.shape != self.shape:
            raise self.malformed("SHOWN", f"a frame of {grey.shape} (+{len(reply) - end} bytes), panel {self.shape}")
        return grey

    def shown_phase(self) -> np.ndarray:
        """The LUT's phase (rad) of what is shown now."""
        return grey_to_phase(self.shown(), self._lut)

    def status(self) -> tuple[int, bool, float, float]:
        """(frame counter, settled, seconds until settled, device time s) from STATUS."""
        reply = self.exchange(STATUS, b"", "STATUS")
        if len(reply) != 21:
            raise self.malformed("STATUS", f"{len(reply)} bytes, expected 21", reply)
        counter, settled, remaining, now = struct.unpack(">IBdd", reply)
        if settled not in (0, 1) or not (math.isfinite(remaining) and remaining >= 0) or not math.isfinite(now):
            raise self.malformed("STATUS", f"settled {settled}, remaining {remaining!r}, time {now!r}", reply)
        return counter, bool(settled), remaining, now

    def wait_settled(self) -> None:
        """Block until STATUS says settled (sleeping the time it says remains)."""
        deadline = time.monotonic() + self.settle_timeout
        while True:
            _, settled, remaining, _ = self.status()
            if settled:
                return
            if time.monotonic() > deadline:
                raise SettleTimeout(f"the panel had not settled after {self.settle_timeout:g} s "
                                    f"({remaining:g} s to go by its own account)", instrument=self.name)
            self.sleep(min(max(remaining, 1e-4), 0.5))

    def safe_state(self) -> None:
        """Show the all-zero frame (SAFE)."""
        super().safe_state()

    def snapshot_parameters(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "pixel_pitch_m": {"value": self.pixel_pitch_m, "unit": "m"},
                "bit_depth": self.bit_depth, "wavelength_m": {"value": self.wavelength_m, "unit": "m"},
                "settle_s": {"value": self.settle_s, "unit": "s"}, "frames_shown": self.frames_shown}
