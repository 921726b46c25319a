"""An SLM on this computer served to others over hilt's SLM protocol (docs/protocols/slm-camera.md).

A lab whose SLM hangs off another computer (the one with the second monitor, or the vendor SDK)
runs ``hilt slm serve display --screen 1 --token SECRET --host 0.0.0.0`` there; anywhere else a
station drives it with the ``hilt_slm`` driver (:class:`hilt.drivers.hilt_slm.HiltSLM`) at
``tcp://<that computer>:<port>`` and ``token: SECRET``. The server is the device side of the same
protocol hilt's simulated SLM speaks (:class:`hilt.sims.hilt_device.HiltDevice`: frames, INFO,
HELLO with the token, SAFE, error codes); behind it is any object of the SLM kind: the display
SLM, an slmsuite SLM through :class:`hilt.drivers.slmsuite_adapter.SlmsuiteSLM`, or a simulated
one.

Access (the protocol's rule): the server listens on loopback unless told otherwise, and refuses to
listen anywhere else without a token; with a token every connection must send HELLO with it
before anything is done. The token travels in clear: keep the server on a lab network you trust
or tunnel it (SSH).

How SHOW is answered: the local SLM's ``show_grey`` returns once its frame is displayed and
settled, so SHOW's reply comes after the settle time and STATUS always reports the frame settled.
The time in SHOW's reply is the server's monotonic clock when the frame was displayed (its return
less ``settle_s``). Requests are served one at a time (the protocol's one reply per request; a
second client waits its turn).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from typing import Any, ClassVar

import numpy as np

from hilt.array_payload import ArrayPayloadError, pack_array, unpack_array
from hilt.errors import ConfigError, HiltError
from hilt.sims.framed import BAD_PAYLOAD, OUT_OF_RANGE, FrameReplyError
from hilt.sims.hilt_device import HiltDevice
from hilt.sims.server import TcpSimServer
from hilt.slm_lut import check_grey, check_lut

SHOW, SHOWN, STATUS, SET_LUT, GET_LUT = 0x10, 0x11, 0x12, 0x13, 0x14
#: The protocol's "execution error": the SLM itself failed (its window did not paint, its SDK
#: raised).
EXECUTION_ERROR = 6

__all__ = ["SlmServer", "check_access", "is_loopback", "serve_device", "serve_slm"]


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve host {host!r}: {exc}") from None
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


class SlmServer(HiltDevice):
    """The device side of the SLM protocol in front of a local SLM-kind object ``slm``."""

    model = "slm_server"
    description = "SLM served over hilt's SLM protocol"
    device: ClassVar[str] = "slm"

    def __init__(self, slm: Any, *, token: str | None = None, name: str = "slm", model: str | None = None) -> None:
        super().__init__(None, name=name, token=token)
        self.slm = slm
        # INFO's model: what is behind the server (display_slm, slmsuite:Meadowlark, ...).
        self.description = model or getattr(slm, "model", type(slm).__name__)
        self.counter = 0
        self.t_shown = time.monotonic()

    def info(self) -> dict[str, Any]:
        slm = self.slm
        rows, cols = slm.shape
        return {"rows": int(rows), "cols": int(cols), "pixel_pitch_m": float(slm.pixel_pitch_m),
                "bit_depth": int(slm.bit_depth), "wavelength_m": float(slm.wavelength_m),
                "settle_s": float(slm.settle_s)}

    def safe(self) -> None:
        self._run(self.slm.safe_state)
        self._count()

    def _count(self) -> None:
        self.counter = (self.counter + 1) & 0xFFFFFFFF
        self.t_shown = time.monotonic() - float(self.slm.settle_s)

    def _run(self, action: Any, *args: Any) -> Any:
        try:
            return action(*args)
        except ValueError as exc:
            raise FrameReplyError(OUT_OF_RANGE, str(exc)) from None
        except HiltError as exc:
            raise FrameReplyError(EXECUTION_ERROR, str(exc)) from None

    def handle_device_frame(self, ftype: int, payload: bytes) -> tuple[int, bytes] | None:
        slm = self.slm
        if ftype == SHOW:
            rows, cols = slm.shape
            try:
                grey, end = unpack_array(payload, 0, max_pixels=rows * cols)
            except ArrayPayloadError as exc:
                raise FrameReplyError(BAD_PAYLOAD, str(exc)) from None
            if end != len(payload):
                raise FrameReplyError(BAD_PAYLOAD, f"{len(payload) - end} bytes after the array block")
            # Checked here, before the SLM sees it: a refused request changes nothing.
            grey = self._run(check_grey, grey, tuple(slm.shape), int(slm.bit_depth))
            self._run(slm.show_grey, grey)
            self._count()
            return self.reply_type(ftype), struct.pack(">Id", self.counter, self.t_shown)
        if ftype == SHOWN:
            self.expect_empty(ftype, payload)
            shown = np.asarray(slm.shown())
            return self.reply_type(ftype), pack_array(shown.astype(np.uint8 if slm.bit_depth <= 8 else np.uint16))
        if ftype == STATUS:
            self.expect_empty(ftype, payload)
            return self.reply_type(ftype), struct.pack(">IBdd", self.counter, 1, 0.0, time.monotonic())
        if ftype == SET_LUT:
            if len(payload) < 4:
                raise FrameReplyError(BAD_PAYLOAD, "SET_LUT starts with a count u32")
            (count,) = struct.unpack(">I", payload[:4])
            if len(payload) != 4 + 8 * count:
                raise FrameReplyError(BAD_PAYLOAD, f"{count} phases announced in {len(payload) - 4} bytes")
            lut = self._run(check_lut, np.frombuffer(payload[4:], dtype="<f8"), int(slm.bit_depth))
            self._run(slm.set_lut, lut)
            return self.reply_type(ftype), b""
        if ftype == GET_LUT:
            self.expect_empty(ftype, payload)
            lut = np.asarray(slm.lut, dtype="<f8")
            return self.reply_type(ftype), struct.pack(">I", lut.size) + lut.tobytes()
        return None


def serve_slm(slm: Any, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
              name: str = "slm", model: str | None = None) -> TcpSimServer:
    """Start serving ``slm`` (an SLM-kind object) on ``host:port`` (port 0: the OS picks one);
    returns the running server (``.address``, ``.stop()``). Listening anywhere but loopback
    without a ``token`` is a ConfigError, and so is an empty token."""
    check_access(host, token)
    return _start(SlmServer(slm, token=token, name=name, model=model), host, port)


def serve_device(device: HiltDevice, *, host: str = "127.0.0.1", port: int = 0) -> TcpSimServer:
    """Serve a device that speaks the protocol already (hilt's simulated SLM), with the same
    access rule: its ``token`` is required off loopback."""
    check_access(host, device.token)
    return _start(device, host, port)


def _start(device: HiltDevice, host: str, port: int) -> TcpSimServer:
    server = TcpSimServer(device, port=port, host=host)
    try:
        server.start()
    except HiltError as exc:
        raise ConfigError(str(exc)) from None
    return server


def check_access(host: str, token: str | None) -> None:
    """The protocol's access rule: a token (not empty) for anything but loopback."""
    if token is not None and not token.strip():
        raise ConfigError("the token is empty: give a secret string")
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host!r} without a token: anyone on that network could drive the "
            "device. Give --token (clients then send it), or serve on 127.0.0.1."
        )
