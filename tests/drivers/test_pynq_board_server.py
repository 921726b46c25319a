"""The PYNQ board server's protocol handling, with the PYNQ-facing part behind its seam.

``pynq`` cannot run here (no board), so :class:`StandInOverlay` plays the overlay: the register
map of drivers/pynq_board_server.py (start/done/idle, buffer addresses, batch count, mode, cycle
count) over buffers like ``pynq.allocate``'s (``device_address``, ``flush``, ``invalidate``), and
it computes with hilt's int8 engine. It checks that the server's datapath flushes before the
overlay reads and invalidates before it reads the results. The host side is the real
``hilt_accelerator`` driver over TCP, and raw frames over a pseudo-terminal for the UART.
"""

from __future__ import annotations

import os
import select
import threading
import tty

import numpy as np
import pytest
import serial

from hilt import board_protocol as bp
from hilt.accelerator_board import AcceleratorBoard
from hilt.drivers import pynq_board_server as server
from hilt.drivers.hilt_accelerator import BoardError, HiltAccelerator
from hilt.framing import Frame, split_frames
from hilt.sims.physics.int8_board import execute

DESCRIBE = {"rounding": "half_even", "acc_bits": 32, "requant": ["multiplier", "pow2"], "per_channel": 1,
            "weight_zero_point": 0, "layers": ["dense", "conv2d", "maxpool2d"], "max_layers": 8,
            "max_features": 4096, "max_channels": 64, "max_kernel": 5, "clock_hz": 250_000_000}


class Buffer(np.ndarray):
    """What ``pynq.allocate`` returns, as far as the server uses it."""

    device_address: int
    dirty: bool  # written by the PS and not yet flushed
    stale: bool  # written by the overlay and not yet invalidated

    def flush(self) -> None:
        self.dirty = False

    def invalidate(self) -> None:
        self.stale = False


class StandInOverlay:
    """The overlay's register block and memory (``read``/``write`` as PYNQ's MMIO)."""

    def __init__(self, busy_reads: int = 2) -> None:
        self.regs: dict[int, int] = {}
        self.memory: dict[int, Buffer] = {}
        self.next_address = 0x1_2000_0000  # above 4 GiB: the high address words matter
        self.model: bp.AcceleratorModel | None = None
        self.busy_reads = busy_reads
        self._countdown = 0
        self.writes: list[tuple[int, int]] = []

    def allocate(self, shape: tuple[int, ...], dtype: type) -> Buffer:
        buf = np.zeros(shape, dtype).view(Buffer)
        buf.device_address, buf.dirty, buf.stale = self.next_address, True, False
        self.memory[self.next_address] = buf
        self.next_address += 0x10_0000
        return buf

    def _buffer(self, lo: int, hi: int) -> Buffer:
        buf = self.memory[self.regs[lo] | self.regs[hi] << 32]
        assert not buf.dirty, "the overlay read a buffer the PS had not flushed"
        return buf

    def write(self, offset: int, value: int) -> None:
        self.writes.append((offset, value))
        self.regs[offset] = value
        if offset == server.CTRL and value & server.START:
            if self.regs[server.MODE] == server.MODE_LOAD:
                data = self._buffer(server.MODEL_LO, server.MODEL_HI)[:self.regs[server.MODEL_LEN]].tobytes()
                self.model = bp.decode_accelerator_model(data)
            else:
                assert self.model is not None
                batch = self.regs[server.BATCH]
                x = np.asarray(self._buffer(server.IN_LO, server.IN_HI)[:batch * self.model.input_size])
                out = self.memory[self.regs[server.OUT_LO] | self.regs[server.OUT_HI] << 32]
                out[:batch * self.model.output_size] = execute(self.model, x.reshape(batch, -1)).reshape(-1)
                out.stale = True
                self.regs[server.CYCLES] = 1000 + 10 * batch
            self._countdown = self.busy_reads

    def read(self, offset: int) -> int:
        if offset == server.CTRL:
            if self._countdown:
                self._countdown -= 1
                return 0
            return server.DONE | server.IDLE
        return self.regs.get(offset, 0)


def small_cnn() -> bp.AcceleratorModel:
    rng = np.random.default_rng(11)
    return bp.AcceleratorModel((1, 6, 6), [
        bp.Layer("conv2d", relu=True, per_channel=True, weight=rng.integers(-127, 128, (3, 1, 3, 3)),
                 bias=rng.integers(-900, 900, 3), multiplier=rng.integers(2**30, 2**31, 3),
                 shift=np.array([5, 6, 5]), padding=1),
        bp.Layer("maxpool2d", kernel=2, stride=2),
        bp.Layer("dense", weight=rng.integers(-127, 128, (4, 27)), bias=rng.integers(-99, 99, 4),
                 multiplier=np.array([1_500_000_000]), shift=np.array([8])),
    ], rounding="half_even")


@pytest.fixture
def pynq_board():  # noqa: ANN201
    overlay = StandInOverlay()
    datapath = server.PynqDatapath(overlay, overlay.allocate, DESCRIBE)
    board = AcceleratorBoard(datapath, max_payload=4096, max_batch=8)
    tcp = server.serve_tcp(board, "127.0.0.1", 0)
    yield overlay, board, f"tcp://127.0.0.1:{tcp.port}"
    tcp.shutdown()
    tcp.server_close()


def test_the_driver_runs_a_model_on_the_pynq_server(pynq_board) -> None:  # noqa: ANN001
    overlay, board, address = pynq_board
    with HiltAccelerator(address, timeout=5.0) as acc:
        assert acc.limits["rounding"] == "half_even" and acc.limits["requant"] == ("multiplier", "pow2")
        assert acc.limits["max_batch"] == 8 and acc.limits["clock_hz"] == 250_000_000
        model = small_cnn()
        acc.load_model(model)
        x = np.random.default_rng(2).integers(-128, 128, (20, 36))
        got = acc.run(x)  # 20 samples, 8 a batch: three batches through the registers
        np.testing.assert_array_equal(got, execute(model, x))
        counters = acc.read_counters()
        assert counters["batches"] == 3 and counters["cycles_last"] == 1000 + 10 * 4
        assert counters["cycles_total"] == 3000 + 10 * 20
    # The register sequence of one batch: addresses (high words above 4 GiB), count, mode, start.
    starts = [i for i, (off, val) in enumerate(overlay.writes) if off == server.CTRL and val & server.START]
    last = overlay.writes[starts[-2] + 1:starts[-1] + 1]
    assert [off for off, _ in last] == [server.IN_LO, server.IN_HI, server.OUT_LO, server.OUT_HI, server.BATCH,
                                        server.MODE, server.CTRL]
    assert dict(last)[server.IN_HI] == 1 and dict(last)[server.BATCH] == 4 and dict(last)[server.MODE] == 0
    assert not any(buf.stale for buf in overlay.memory.values())  # results invalidated before they were read


def test_a_model_the_overlay_does_not_run_is_refused_by_the_board(pynq_board) -> None:  # noqa: ANN001
    overlay, board, address = pynq_board
    model = small_cnn()
    model.rounding = "half_away"
    data = model.encode()
    link = board.session()
    reply = split_frames(bytearray(link.feed(Frame(bp.LOAD_MODEL, 1, bp.encode_load(0, len(data), data)).encode())))
    assert reply[0].type == 0xFF and reply[0].payload[:2] == b"\x00\x0c" and overlay.model is None


def test_an_overlay_that_never_finishes_is_an_execution_error(pynq_board) -> None:  # noqa: ANN001
    overlay, board, address = pynq_board
    overlay.busy_reads = 10**9
    board.datapath.load_timeout = 0.05
    with HiltAccelerator(address, timeout=5.0) as acc:
        with pytest.raises(BoardError) as err:
            acc.load_model(small_cnn())
        assert err.value.code == bp.EXECUTION and "did not finish loading" in str(err.value)
        overlay.busy_reads = 0
        acc.load_model(small_cnn())


def test_the_uart_link_on_a_pty() -> None:
    overlay = StandInOverlay()
    board = AcceleratorBoard(server.PynqDatapath(overlay, overlay.allocate, DESCRIBE))
    master, slave = os.openpty()
    tty.setraw(slave)
    port = serial.Serial(os.ttyname(slave), 115200, timeout=0.05)
    stop = threading.Event()
    thread = server.serve_uart(board, port, stop)
    try:
        os.write(master, Frame(bp.IDENTIFY, 1).encode())
        buffer = bytearray()
        while not (frames := split_frames(buffer)):
            assert select.select([master], [], [], 5)[0], "no reply on the UART"
            buffer += os.read(master, 4096)
        ident = bp.decode_identify(frames[0].payload)
        assert frames[0].seq == 1 and ident["class"] == "accelerator" and ident["layers"] == "dense,conv2d,maxpool2d"
    finally:
        stop.set()
        thread.join(2)
        port.close()
        os.close(master)
        os.close(slave)


def test_the_description_must_say_what_the_overlay_computes() -> None:
    overlay = StandInOverlay()
    with pytest.raises(ValueError, match="lacks rounding"):
        server.PynqDatapath(overlay, overlay.allocate, {k: v for k, v in DESCRIBE.items() if k != "rounding"})
