"""Board-side server for PYNQ boards: the hilt board protocol (docs/protocols/board.md, our own
protocol document) in front of an int8 accelerator overlay, over TCP and/or the board's UART.

Runs **on the board** (a PYNQ image, Python 3 on the ARM cores) with hilt installed from source
(``pip install --no-deps`` and its core requirements: numpy, h5py, PyYAML, pyserial; torch is not
needed here)::

    python -m hilt.drivers.pynq_board_server --bitfile int8_accel.bit --ip accel \\
        --port 7970 --describe accel.json

and the host connects with the ``hilt_accelerator`` driver at ``tcp://<board>:7970`` (or the
board's UART, ``--uart /dev/ttyPS1``). The protocol handling is
:class:`hilt.accelerator_board.AcceleratorBoard`, the same code the simulated FPGA runs; this
module adds the links (:func:`serve_tcp`, :func:`serve_uart`) and :class:`PynqDatapath`, the seam
to the hardware.

The overlay contract (:class:`PynqDatapath`), an AXI-lite register block in FINN's style (PYNQ 4
and FINN's driver, ../shared/PROTOCOLS.md "FPGA inference engines") with hilt's additions:

======  ===========================================================================
offset  register
======  ===========================================================================
0x00    control: bit 0 start (write 1), bit 1 done, bit 2 idle (Vivado HLS ap_ctrl)
0x10    input buffer address, low 32 bits   (FINN: the input buffer's address)
0x14    input buffer address, high 32 bits
0x1C    batch count (samples in the input buffer)   (FINN: the batch size)
0x20    output buffer address, low 32 bits  (hilt)
0x24    output buffer address, high 32 bits (hilt)
0x28    model buffer address, low 32 bits   (hilt)
0x2C    model buffer address, high 32 bits  (hilt)
0x30    model length, bytes                 (hilt)
0x34    mode: 0 run a batch, 1 load the model from the model buffer (hilt)
0x38    datapath cycles of the last run     (hilt; 0 if the overlay does not count)
======  ===========================================================================

Buffers come from ``pynq.allocate`` (physically contiguous; ``device_address`` goes into the
registers, ``flush()`` before the overlay reads, ``invalidate()`` before the PS reads). The
model buffer holds the model payload exactly as the host sent it (docs/protocols/board.md,
"Accelerator model"): the overlay parses it. Samples are packed int8, ``input size`` bytes each;
results int8, ``output size`` bytes each. What the overlay computes (rounding mode, accumulator
width, requantisers, sizes) is stated in the ``--describe`` JSON file, which becomes the board's
IDENTIFY reply; the host holds models to it.

**What was not tested without a board.** Nothing in :class:`PynqDatapath` has run against
``pynq`` or an FPGA: ``Overlay``, ``allocate``, MMIO and the register sequence were written from
PYNQ's documentation and FINN's register convention and are tested only against a stand-in
overlay in tests/drivers/test_pynq_board_server.py (it implements the register map above and
computes with hilt's int8 engine). No overlay implementing this register map exists in this
repository; an overlay built with other registers (an AXI DMA pair, FINN's own IODMA layout)
needs its own datapath class behind the same seam. The UART link was tested on a
pseudo-terminal, not on a board's serial port; the 100 ms frame gap is measured with
``time.monotonic`` on the board. The protocol handling itself (:mod:`hilt.accelerator_board`) is
the simulator's and is tested through the host driver.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hilt import board_protocol as bp
from hilt.accelerator_board import AcceleratorBoard

log = logging.getLogger("hilt.pynq_board_server")

CTRL, IN_LO, IN_HI, BATCH, OUT_LO, OUT_HI, MODEL_LO, MODEL_HI, MODEL_LEN, MODE, CYCLES = (
    0x00, 0x10, 0x14, 0x1C, 0x20, 0x24, 0x28, 0x2C, 0x30, 0x34, 0x38)
START, DONE, IDLE = 0x1, 0x2, 0x4
MODE_RUN, MODE_LOAD = 0, 1
#: The IDENTIFY keys a ``--describe`` file must give (what the overlay computes).
DESCRIBE_KEYS = ("rounding", "acc_bits", "requant", "per_channel", "weight_zero_point", "layers",
                 "max_layers", "max_features", "max_channels", "max_kernel", "clock_hz")
DEFAULT_PORT = 7970


class OverlayError(RuntimeError):
    """The overlay did not finish a model load within its timeout."""


class PynqDatapath:
    """The seam to an int8 accelerator overlay (register map in the module docstring).

    ``mmio``: the IP's register block (an object with ``read(offset)`` and ``write(offset,
    value)``: PYNQ's ``MMIO`` or the IP's ``DefaultIP``); ``allocate``: ``pynq.allocate``
    (``(shape, dtype)`` -> a buffer with ``device_address``, ``flush()``, ``invalidate()``);
    ``describe``: the overlay's IDENTIFY keys (:data:`DESCRIBE_KEYS`, plus ``vendor``, ``model``,
    ``serial``, ``firmware`` if it has them). Use :func:`from_bitfile` on a board.
    """

    def __init__(self, mmio: Any, allocate: Callable[..., Any], describe: dict[str, Any], *,
                 load_timeout: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        missing = [k for k in DESCRIBE_KEYS if k not in describe]
        if missing:
            raise ValueError(f"the overlay's description lacks {', '.join(missing)}")
        self.mmio, self.allocate, self.load_timeout, self.clock = mmio, allocate, load_timeout, clock
        self.keys = {"vendor": "hilt", "model": "PYNQ int8 overlay", "serial": socket.gethostname(),
                     "firmware": "hilt pynq_board_server 1", **describe}
        self.model: bp.AcceleratorModel | None = None
        self._model_buf: Any = None
        self._in: Any = None
        self._out: Any = None
        self._batch = 0
        self._running = False
        self._draining = False  # an aborted batch the overlay is still finishing

    def describe(self) -> dict[str, object]:
        return dict(self.keys)

    def _address(self, lo: int, hi: int, buf: Any) -> None:
        address = int(buf.device_address)
        self.mmio.write(lo, address & 0xFFFFFFFF)
        self.mmio.write(hi, address >> 32)

    def load(self, model: bp.AcceleratorModel, data: bytes) -> None:
        if self._draining:
            self._wait_idle("an aborted batch")
            self._draining = False
        buf = self.allocate((len(data),), np.uint8)
        buf[:] = np.frombuffer(data, dtype=np.uint8)
        buf.flush()
        self._address(MODEL_LO, MODEL_HI, buf)
        self.mmio.write(MODEL_LEN, len(data))
        self.mmio.write(MODE, MODE_LOAD)
        self.mmio.write(CTRL, START)
        self._wait_idle(f"loading {len(data)} model bytes")
        self._model_buf, self.model = buf, model

    def _wait_idle(self, what: str) -> None:
        deadline = self.clock() + self.load_timeout
        while not self.mmio.read(CTRL) & (DONE | IDLE):
            if self.clock() > deadline:
                raise OverlayError(f"the overlay did not finish {what} in {self.load_timeout} s")
            time.sleep(1e-4)

    def start(self, samples: np.ndarray) -> float:
        assert self.model is not None
        if self._draining:
            self._wait_idle("an aborted batch")
            self._draining = False
        batch, n_in = samples.shape
        n_out = self.model.output_size
        if self._in is None or self._in.shape[0] < batch * n_in:
            self._in = self.allocate((batch * n_in,), np.int8)
        if self._out is None or self._out.shape[0] < batch * n_out:
            self._out = self.allocate((batch * n_out,), np.int8)
        self._in[:batch * n_in] = samples.reshape(-1)
        self._in.flush()
        self._address(IN_LO, IN_HI, self._in)
        self._address(OUT_LO, OUT_HI, self._out)
        self.mmio.write(BATCH, batch)
        self.mmio.write(MODE, MODE_RUN)
        self.mmio.write(CTRL, START)
        self._batch, self._running = batch, True
        return 0.0  # the overlay gives no estimate: the host polls

    def poll(self) -> np.ndarray | None:
        if not self._running or not self.mmio.read(CTRL) & (DONE | IDLE):
            return None
        self._running = False
        assert self.model is not None
        n = self._batch * self.model.output_size
        self._out.invalidate()
        return np.array(self._out[:n], dtype=np.int8).reshape(self._batch, self.model.output_size)

    def abort(self) -> None:
        # An HLS block under ap_ctrl_hs cannot be stopped mid-batch: it finishes on its own and
        # its results are dropped; the next batch or model waits for it to be idle.
        self._draining = self._running
        self._running = False

    def cycles(self) -> int:
        return int(self.mmio.read(CYCLES))

    def now(self) -> float:
        return self.clock()


def from_bitfile(bitfile: str, ip: str, describe: dict[str, Any]) -> PynqDatapath:
    """The datapath of an overlay on this board (imports ``pynq``: on the board only)."""
    try:
        import pynq
    except ImportError as exc:  # pragma: no cover - a board has it
        raise SystemExit(f"pynq is not installed here ({exc}): this server runs on a PYNQ board") from None
    overlay = pynq.Overlay(bitfile)  # pragma: no cover - needs a board
    return PynqDatapath(getattr(overlay, ip), pynq.allocate, describe)  # pragma: no cover


# -- links -----------------------------------------------------------------------------------------
class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        board: AcceleratorBoard = self.server.board  # type: ignore[attr-defined]
        link = board.session()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            reply = link.feed(data)
            if reply:
                self.request.sendall(reply)


class TcpBoardServer(socketserver.ThreadingTCPServer):
    """The board on TCP: one thread per connection, each with its own input buffer."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, board: AcceleratorBoard, host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> None:
        super().__init__((host, port), _TcpHandler)
        self.board = board

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def serve_tcp(board: AcceleratorBoard, host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> TcpBoardServer:
    """Start serving ``board`` on TCP in a background thread; ``.shutdown()`` stops it."""
    server = TcpBoardServer(board, host, port)
    threading.Thread(target=server.serve_forever, name="board-tcp", daemon=True).start()
    log.info("board protocol on tcp://%s:%d", host, server.port)
    return server


def serve_uart(board: AcceleratorBoard, port: Any, stop: threading.Event) -> threading.Thread:
    """Serve ``board`` on an open serial port (a pyserial ``Serial``, 8N1) until ``stop`` is set."""
    link = board.session()

    def loop() -> None:
        while not stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except Exception:  # noqa: BLE001 - a serial error ends the link, logged
                log.exception("UART read failed")
                return
            if data:
                reply = link.feed(data)
                if reply:
                    port.write(reply)
                    port.flush()

    thread = threading.Thread(target=loop, name="board-uart", daemon=True)
    thread.start()
    return thread


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hilt.drivers.pynq_board_server", description=__doc__.split("\n")[0])
    parser.add_argument("--bitfile", required=True, help="the overlay's .bit (its .hwh beside it)")
    parser.add_argument("--ip", default="accel", help="the accelerator IP's name in the overlay")
    parser.add_argument("--describe", required=True, help="JSON file: what the overlay computes (IDENTIFY keys)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (0: no TCP)")
    parser.add_argument("--uart", help="serial device to serve as well, e.g. /dev/ttyPS1")
    parser.add_argument("--baudrate", type=int, default=115200)
    parser.add_argument("--max-payload", type=int, default=65536)
    parser.add_argument("--max-model-bytes", type=int, default=1 << 20)
    parser.add_argument("--max-batch", type=int, default=256)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with open(args.describe, encoding="utf-8") as f:
        describe = json.load(f)
    board = AcceleratorBoard(from_bitfile(args.bitfile, args.ip, describe), max_payload=args.max_payload,
                             max_model_bytes=args.max_model_bytes, max_batch=args.max_batch)
    stop = threading.Event()
    tcp = serve_tcp(board, args.host, args.port) if args.port else None
    if args.uart:
        import serial

        serve_uart(board, serial.Serial(args.uart, args.baudrate, timeout=0.05), stop)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if tcp is not None:
            with contextlib.suppress(Exception):
                tcp.shutdown()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
