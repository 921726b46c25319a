"""The int8 accelerator driver (hilt board protocol): the document's worked example byte by byte,
limits checked before a byte is sent, error frames, and the simulated FPGA over TCP and a
pseudo-terminal UART with its faults (bad CRC, lost and truncated frames, a busy board, a link
dropped under a loaded model).

The scripted exchanges are the frames of docs/protocols/board.md's worked example, written out by
hand (header fields, payloads, CRCs as literals); :func:`test_frames_here_are_the_documents`
checks them against a bitwise CRC-16 written here from the document's parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

from hilt import board_protocol as bp
from hilt.drivers.hilt_accelerator import (
    BoardBusyError,
    BoardError,
    BoardLinkError,
    BoardTimeout,
    HiltAccelerator,
)
from hilt.errors import LimitError
from hilt.sims.fpga_accelerator import SimFpgaAccelerator
from hilt.sims.physics.int8_board import execute
from hilt.sims.world import SimClock, World
from hilt.testing import expected_protocol


def crc_ccitt_false(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def doc_frame(ftype: int, seq: int, payload: bytes) -> bytes:
    """A frame laid out as the document's table says (for IDENTIFY replies whose text varies)."""
    body = bytes([0x01, ftype]) + seq.to_bytes(2, "big") + len(payload).to_bytes(4, "big") + payload
    return b"\xa5\x5a" + body + crc_ccitt_false(body).to_bytes(2, "big")


# An accelerator's IDENTIFY: the document's common keys and the accelerator's.
IDENT = (b"class=accelerator\nvendor=hilt\nmodel=A8\nserial=1\nfirmware=1.0\nprotocol=1\nmax_payload=4096\n"
         b"max_model_bytes=65536\nmax_batch=64\nrounding=half_away\nacc_bits=32\nrequant=multiplier\n"
         b"per_channel=0\nweight_zero_point=0\nlayers=dense\nmax_layers=4\nmax_features=64\nmax_channels=16\n"
         b"max_kernel=3\nclock_hz=100000000\n")
MODEL = h("01 01 00 20 0003 0001 0001 00 01  01 00 00 00  00000003 00000002  01 02 03 FC 05 FA  00"
          "01000000 FFFFFFFF  00000040  00")
IDENTIFY_REQ = h("A55A 01 01 0001 00000000                                                         64DD")
IDENTIFY_REP = doc_frame(0x81, 1, IDENT)
LOAD_REQ = h("A55A 01 10 0002 00000034   00000000 0000002C") + MODEL + h("7D85")
LOAD_REP = h("A55A 01 90 0002 00000009   0000002C 01 00E89C37                                    A9A1")
RUN_REQ = h("A55A 01 20 0003 0000000F    00000001 00000003 00000000 0A 14 1E                       DEB6")
RUN_REP = h("A55A 01 A0 0003 00000008    00000001 00000019                                         C43B")
READ1_REQ = h("A55A 01 21 0004 0000000C  00000001 00000000 00000001                                CBD3")
BUSY_REP = h("A55A 01 FF 0004 00000006   0005") + b"busy" + h("2136")
READ2_REQ = h("A55A 01 21 0005 0000000C  00000001 00000000 00000001                                DB31")
READ2_REP = h("A55A 01 A1 0005 00000012  00000001 00000000 00000001 00000002 47 C3                 48FE")
STATUS_REQ = h("A55A 01 02 0006 00000000                                                           DB8B")
STATUS_REP = h("A55A 01 82 0006 00000014 02 01 00E89C37 0000002C 0000002C 00000001 0005            419B")
COUNTERS_REQ = h("A55A 01 30 0007 00000000                                                         48B4")
COUNTERS_REP = h("A55A 01 B0 0007 00000020 0003 0001 0000000000000001 0002 0000000000000001"
                 "0003 00000000000009C4                                                            4A22")
RESET_REQ = h("A55A 01 40 0008 00000001 00                                                         3BF2")
RESET_REP = h("A55A 01 C0 0008 00000000                                                            02D5")
LITERAL = [IDENTIFY_REQ, LOAD_REQ, LOAD_REP, RUN_REQ, RUN_REP, READ1_REQ, BUSY_REP, READ2_REQ, READ2_REP,
           STATUS_REQ, STATUS_REP, COUNTERS_REQ, COUNTERS_REP, RESET_REQ, RESET_REP]


def doc_model(rounding: str = "half_away") -> bp.AcceleratorModel:
    return bp.AcceleratorModel((3, 1, 1), [bp.Layer(
        "dense", weight=np.array([[1, 2, 3], [-4, 5, -6]]), bias=np.array([1, -1]),
        multiplier=np.array([2**30]), shift=np.array([0]))], rounding=rounding)


def test_frames_here_are_the_documents() -> None:
    for frame in LITERAL + [IDENTIFY_REP]:
        assert frame[:3] == h("A55A01") and int.from_bytes(frame[6:10], "big") == len(frame) - 12
        assert int.from_bytes(frame[-2:], "big") == crc_ccitt_false(frame[2:-2]), frame.hex()


def test_the_worked_example_byte_by_byte() -> None:
    """connect, load, run (one busy reply waited out), status, counters, safe state: the page's
    frames in order, sequence numbers 1 to 8."""
    with expected_protocol(HiltAccelerator, [
        (IDENTIFY_REQ, IDENTIFY_REP), (LOAD_REQ, LOAD_REP), (RUN_REQ, RUN_REP), (READ1_REQ, BUSY_REP),
        (READ2_REQ, READ2_REP), (STATUS_REQ, STATUS_REP), (COUNTERS_REQ, COUNTERS_REP), (RESET_REQ, RESET_REP),
    ], kind="tcp") as board:
        assert board.identify() == {"vendor": "hilt", "model": "A8", "serial": "1", "firmware": "1.0"}
        assert board.limits["rounding"] == "half_away" and board.limits["requant"] == ("multiplier",)
        assert board.load_model(doc_model()) == 0x00E89C37
        np.testing.assert_array_equal(board.run(np.array([[10, 20, 30]])), [[71, -61]])
        assert board.status() == {"state": "ready", "results_ready": True, "model_crc": 0xE89C37, "received": 44,
                                  "total": 44, "batch_id": 1, "last_error": 5}
        assert board.read_counters() == {"batches": 1, "samples": 1, "cycles_last": 2500}
        board.safe_state()


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: setattr(m, "rounding", "half_even"), "the model rounds half_even, the board half_away"),
    (lambda m: setattr(m, "acc_bits", 24), "24-bit accumulator, the board's is 32-bit"),
    (lambda m: setattr(m.layers[0], "pow2", True), "needs the pow2 requantiser"),
    (lambda m: setattr(m.layers[0], "weight_zero_point", np.array([1])), "non-zero weight zero points"),
    (lambda m: setattr(m.layers[0], "per_channel", True) or setattr(m.layers[0], "shift", np.array([0, 0]))
     or setattr(m.layers[0], "multiplier", np.array([2**30] * 2)), "per-channel parameters"),
    (lambda m: m.layers.append(bp.Layer("conv2d", weight=np.ones((2, 2, 1, 1)), bias=np.zeros(2),
                                        multiplier=np.array([2**30]), shift=np.array([0]))),
     "layer 1 \\(conv2d\\): the board runs dense"),
    (lambda m: setattr(m, "input_shape", (65, 1, 1)) or setattr(m.layers[0], "weight", np.ones((2, 65))),
     "handles 65 values, the board at most 64"),
    (lambda m: setattr(m.layers[0], "weight", np.ones((17, 3))) or setattr(m.layers[0], "bias", np.zeros(17)),
     "17 outputs, the board at most 16"),
    (lambda m: setattr(m.layers[0], "weight", np.array([[1, 2, 300], [0, 0, 0]])), "weights outside -128..127"),
])
def test_a_model_the_board_cannot_run_is_refused_before_a_byte(change, message: str) -> None:  # noqa: ANN001
    with expected_protocol(HiltAccelerator, [(IDENTIFY_REQ, IDENTIFY_REP)], kind="tcp") as board:
        model = doc_model()
        change(model)
        with pytest.raises(LimitError, match=message):
            board.load_model(model)


def test_samples_are_checked_before_a_byte() -> None:
    with expected_protocol(HiltAccelerator, [(IDENTIFY_REQ, IDENTIFY_REP), (LOAD_REQ, LOAD_REP)],
                           kind="tcp") as board:
        with pytest.raises(LimitError, match="no model loaded"):
            board.run(np.zeros((1, 3), np.int8))
        board.load_model(doc_model())
        for samples, message in [(np.array([[1.5, 0, 0]]), "dtype float64"), (np.array([[200, 0, 0]]), "200 outside"),
                                 (np.zeros((2, 4), int), r"shape \(2, 4\)"), (np.array(["a"]), "dtype <U1")]:
            with pytest.raises(LimitError, match=message):
                board.run(samples)
        with pytest.raises(LimitError, match="reset level 2"):
            board.reset(2)


def test_an_error_frame_is_a_board_error_with_its_code() -> None:
    refused = doc_frame(0xFF, 2, h("000C") + b"model needs what this board does not have: x")
    with expected_protocol(HiltAccelerator, [(IDENTIFY_REQ, IDENTIFY_REP), (LOAD_REQ, refused)], kind="tcp") as board:
        with pytest.raises(BoardError) as err:
            board.load_model(doc_model())
        assert err.value.code == 12 and board.loaded is None


def test_a_neuromorphic_board_is_not_taken_for_an_accelerator() -> None:
    other = doc_frame(0x81, 1, IDENT.replace(b"class=accelerator", b"class=neuromorphic"))
    with pytest.raises(BoardLinkError, match="a neuromorphic board, not an accelerator"):
        with expected_protocol(HiltAccelerator, [(IDENTIFY_REQ, other)], kind="tcp"):
            pass


@pytest.mark.parametrize(("text", "message"), [
    (IDENT.replace(b"rounding=half_away", b"rounding=stochastic"), "rounding 'stochastic'"),
    (IDENT.replace(b"acc_bits=32", b"acc_bits=64"), "acc_bits=64 outside 8..32"),
    (IDENT.replace(b"max_payload=4096", b"max_payload=100"), "max_payload=100 outside"),
    (IDENT.replace(b"max_batch=64\n", b""), "lacks max_batch"),
])
def test_an_identity_outside_the_document_is_refused(text: bytes, message: str) -> None:
    with pytest.raises(BoardLinkError, match=message):
        with expected_protocol(HiltAccelerator, [(IDENTIFY_REQ, doc_frame(0x81, 1, text))], kind="tcp") as board:
            board.query_retries = 0


# -- against the simulated FPGA -----------------------------------------------------------------
def cnn_model(rounding: str = "half_away", acc_bits: int = 32) -> bp.AcceleratorModel:
    rng = np.random.default_rng(3)
    return bp.AcceleratorModel((1, 8, 8), [
        bp.Layer("conv2d", out_zero_point=-5, relu=True, per_channel=True,
                 weight=rng.integers(-127, 128, (4, 1, 3, 3)), weight_zero_point=np.array([0, 2, -1, 0]),
                 bias=rng.integers(-3000, 3000, 4), multiplier=rng.integers(2**30, 2**31, 4),
                 shift=np.array([6, 7, 6, 8]), padding=1),
        bp.Layer("maxpool2d", out_zero_point=-5, kernel=2, stride=2),
        bp.Layer("dense", out_zero_point=3, pow2=True, weight=rng.integers(-127, 128, (10, 64)),
                 bias=rng.integers(-500, 500, 10), shift=np.array([9])),
    ], rounding=rounding, acc_bits=acc_bits, input_zero_point=-1)


@pytest.fixture
def board(served):  # noqa: ANN001, ANN201
    """``board(pty=False, **sim options)`` -> (sim, a connected driver)."""
    opened = []

    def make(pty: bool = False, world: World | None = None, **options):  # noqa: ANN003, ANN202
        sim, address = served(SimFpgaAccelerator, pty=pty, world=world or World(seed=2), **options)
        inst = HiltAccelerator(address, timeout=2.0)
        inst.retry_backoff = 0.0
        inst.connect()
        opened.append(inst)
        return sim, inst

    yield make
    for inst in opened:
        inst.close()


@pytest.mark.parametrize("pty", [False, True], ids=["tcp", "uart-pty"])
def test_a_cnn_runs_bit_exact_over_tcp_and_uart(board, pty: bool) -> None:  # noqa: ANN001
    sim, acc = board(pty=pty, max_payload=4096, max_batch=16)
    model = cnn_model()
    acc.load_model(model)
    x = np.random.default_rng(0).integers(-128, 128, (40, 1, 8, 8))
    got = acc.run(x)  # 40 samples, at most 16 a batch: three RUN_BATCH calls
    np.testing.assert_array_equal(got, execute(model, x.reshape(40, -1)))
    assert got.shape == (40, 10) and acc.samples_run == 40
    counters = acc.read_counters()
    assert counters["batches"] == 3 and counters["samples"] == 40 and counters["frames_bad"] == 0
    assert counters["macs_total"] == 40 * (4 * 64 * 9 + 10 * 64)


def test_a_large_model_goes_in_chunks_and_the_crc_is_compared(board) -> None:  # noqa: ANN001
    sim, acc = board(max_payload=4096, max_features=4096)
    rng = np.random.default_rng(1)
    model = bp.AcceleratorModel((4000, 1, 1), [bp.Layer(
        "dense", weight=rng.integers(-127, 128, (3, 4000)), bias=np.zeros(3, int),
        multiplier=np.array([2**30]), shift=np.array([10]))])
    crc = acc.load_model(model)
    assert crc == bp.model_crc(model.encode()) == sim.board.model_crc
    loads = [e for e in acc.transport.exchanges if e.direction == "->" and e.data[3] == bp.LOAD_MODEL]
    assert len(loads) == 3  # 12,052 bytes in chunks of 4088
    x = rng.integers(-128, 128, (2, 4000))
    np.testing.assert_array_equal(acc.run(x), execute(model, x))


@pytest.mark.parametrize("rounding", ["half_away", "half_even", "floor"])
def test_each_rounding_mode_and_a_narrow_accumulator(board, rounding: str) -> None:  # noqa: ANN001
    sim, acc = board(rounding=rounding, acc_bits=20)
    model = cnn_model(rounding, acc_bits=20)
    acc.load_model(model)
    x = np.random.default_rng(5).integers(-128, 128, (8, 64))
    np.testing.assert_array_equal(acc.run(x), execute(model, x))


def test_a_bad_crc_reply_is_a_link_error_and_a_read_is_asked_again(board) -> None:  # noqa: ANN001
    sim, acc = board()
    sim.bad_crc = 1
    assert acc.status()["state"] == "no_model"  # asked again on a new connection
    sim.bad_crc = 1
    acc.query_retries = 0
    with pytest.raises(BoardLinkError, match="CRC mismatch"):
        acc.status()
    assert acc.status()["state"] == "no_model"  # the link found its place


def test_a_lost_request_is_a_board_timeout(board) -> None:  # noqa: ANN001
    sim, acc = board()
    acc.transport.timeout = 0.3
    acc.query_retries = 0
    sim.lose_requests = 1
    with pytest.raises(BoardTimeout):
        acc.read_counters()
    assert acc.read_counters()["frames_ok"] >= 2


def test_a_truncated_reply_is_noticed_and_the_run_still_completes(board) -> None:  # noqa: ANN001
    sim, acc = board()
    acc.transport.timeout = 0.3
    model = cnn_model()
    acc.load_model(model)
    x = np.random.default_rng(7).integers(-128, 128, (4, 64))
    sim.faults.truncate, sim.faults.truncate_count = True, 1
    np.testing.assert_array_equal(acc.run(x), execute(model, x))


def test_a_busy_board_is_waited_out_then_given_up_on(board) -> None:  # noqa: ANN001
    sim, acc = board()
    model = cnn_model()
    acc.load_model(model)
    sim.busy = 3  # RUN_BATCH, READ_RESULTS, READ_RESULTS answered busy: waited out
    x = np.zeros((2, 64), np.int8)
    np.testing.assert_array_equal(acc.run(x), execute(model, x))
    acc.result_timeout = 0.01
    sim.busy = 10**6
    with pytest.raises(BoardBusyError, match="still busy"):
        acc.run(x)
    sim.busy = 0


def test_results_wait_for_the_latency_on_the_simulated_clock(board) -> None:  # noqa: ANN001
    """On a standing clock the batch never finishes: READ_RESULTS is busy, STATUS says running."""
    clock = SimClock("manual")
    sim, acc = board(world=World(seed=2, clock=clock))
    acc.load_model(cnn_model())
    acc.result_timeout = 0.005
    with pytest.raises(BoardBusyError):
        acc.run(np.zeros((3, 64), np.int8))
    assert acc.status()["state"] == "running"
    cycles = sim.datapath.cycles_of(3)
    clock.advance(cycles / sim.datapath.clock_hz)
    assert acc.status() | {"model_crc": 0} == {"state": "ready", "results_ready": True, "model_crc": 0,
                                              "received": sim.board.load_total, "total": sim.board.load_total,
                                              "batch_id": 1, "last_error": bp.BUSY}
    assert acc.read_counters()["latency_ns_last"] == round(cycles / sim.datapath.clock_hz * 1e9)


def test_a_board_that_lost_its_model_gets_it_again_after_a_reconnect(board) -> None:  # noqa: ANN001
    sim, acc = board()
    model = cnn_model()
    acc.load_model(model)
    sim.board.power_up()  # the board restarted (its model is gone) ...
    acc.reconnect()  # ... and the link was reopened
    x = np.random.default_rng(9).integers(-128, 128, (2, 64))
    np.testing.assert_array_equal(acc.run(x), execute(model, x))
    assert sim.board.model_crc == acc.loaded_crc


def test_an_injected_execution_error_and_the_safe_state(board) -> None:  # noqa: ANN001
    sim, acc = board()
    acc.load_model(cnn_model())
    sim.faults.error = True
    with pytest.raises(BoardError) as err:
        acc.run(np.zeros((1, 64), np.int8))
    assert err.value.code == bp.EXECUTION
    acc.safe_state()
    assert sim.board.results is None and sim.board.model is not None
    acc.reset(bp.RESET_ALL)
    assert acc.status()["state"] == "no_model" and acc.loaded is None
