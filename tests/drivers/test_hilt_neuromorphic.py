"""Neuromorphic board (hilt board protocol, class 2): frames byte by byte, limits checked before a
byte is sent, error frames, busy polling, and the simulated board over TCP.

The exchanges are written out by hand from docs/protocols/board.md ("Neuromorphic boards
(class 2)", its worked example): every header field, payload and CRC is a literal below, never
bytes made by the codecs under test. The CRCs were computed once with :func:`crc_ccitt_false`,
a bitwise implementation written here from the document's parameters, and
:func:`test_frames_here_are_the_documents` checks every literal against it.
"""

from __future__ import annotations

import numpy as np
import pytest

from hilt.board_protocol import (
    BAD_MODEL,
    BAD_PAYLOAD,
    IDENTIFY,
    LOAD_MODEL,
    NO_MODEL,
    NO_RESULTS,
    OUT_OF_ORDER,
    OUT_OF_RANGE,
    READ_COUNTERS,
    READ_RESULTS,
    RESET,
    RUN_BATCH,
    STATUS,
    UNSUPPORTED,
    decode_counters,
    decode_run_reply,
    decode_status,
    encode_load,
    encode_read,
    encode_run,
)
from hilt.drivers.hilt_neuromorphic import BoardError, HiltNeuromorphicBoard
from hilt.errors import LimitError, ProtocolError
from hilt.sims.neuromorphic_board import LifChip, SimNeuromorphicBoard
from hilt.sims.world import World
from hilt.snn_model import LEAK_SHIFT, SnnLayer, SnnNetwork, encode_network
from hilt.testing import expected_protocol


def crc_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE from the document's parameters (poly 0x1021, init 0xFFFF, no
    reflection, xorout 0), bit by bit."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def frame(ftype: int, seq: int, payload: bytes) -> bytes:
    """A frame laid out as the document's table says (for the text replies below)."""
    body = bytes([0x01, ftype]) + seq.to_bytes(2, "big") + len(payload).to_bytes(4, "big") + payload
    return b"\xa5\x5a" + body + crc_ccitt_false(body).to_bytes(2, "big")


IDENTITY = (b"class=neuromorphic\nvendor=hilt\nmodel=NMB\nserial=1\nfirmware=1.0\nprotocol=1\n"
            b"max_payload=4096\nmax_model_bytes=65536\nmax_batch=16\nneurons=64\nfan_in=16\n"
            b"weight_bits=8\nthreshold_bits=16\nmax_steps=64\n")
ID_REQ = h("a55a 01 01 0001 00000000 64dd")
ID_REP = h("a55a 01 81 0001 000000c0") + IDENTITY + h("1753")
# The document's network: 2 inputs, 2 neurons, subtract reset, leak shift 1.
MODEL = h("02 01 0002 01 08 10  0002 01 01 0001 00  01 FE 03 04  05000000 06000000  00000000 01000000"
          "02000000 00000000")
LOAD_REQ = h("a55a 01 10 0002 00000032 00000000 0000002a") + MODEL + h("e331")
LOAD_REP = h("a55a 01 90 0002 00000009 0000002a 01 1747bc05 ef90")
RUN_REQ = h("a55a 01 20 0003 00000014 00000001 00000008 00000006 03 00 01 01 00 02 02 00 4d95")
RUN_REP = h("a55a 01 a0 0003 00000008 00000001 00000007 37c4")
READ_REQ = h("a55a 01 21 0004 0000000c 00000001 00000000 00000001 cbd3")
READ_REP = h("a55a 01 a1 0004 0000001c 00000001 00000000 00000001 0000000c 01 01 00 01 00 01 00 01 00 00 00 00 e1c2")
COUNT_REQ = h("a55a 01 30 0005 00000000 0c37")
COUNT_REP = h("a55a 01 b0 0005 0000005c 0009 0001 0000000000000001 0002 0000000000000001 0005 0000000000001779"
              "0010 0000000000000005 0011 0000000000000012 0012 0000000000000006 0013 0000000000000005"
              "0014 0000000000000012 0015 0000000000000006 8c16")
RESET_REQ = h("a55a 01 40 0006 00000001 00 bb51")
RESET_REP = h("a55a 01 c0 0006 00000000 cd7d")
# READ_RESULTS answered "busy" (ERROR 5, 4 bytes of text) once, then the results (sequence 5).
BUSY_REP = h("a55a 01 ff 0004 00000006 0005") + b"busy" + h("2136")
READ2_REQ = h("a55a 01 21 0005 0000000c 00000001 00000000 00000001 db31")
READ2_REP = h("a55a 01 a1 0005 0000001c 00000001 00000000 00000001 0000000c 01 01 00 01 00 01 00 01 00 00 00 00 6c1e")
# LOAD_MODEL refused: ERROR 12, the model needs what the board lacks.
UNSUP_REP = h("a55a 01 ff 0002 0000000e 000c") + b"too big here" + h("6485")
# LOAD_MODEL answered with another CRC-32 than the model's (1747bc05).
BADCRC_REP = h("a55a 01 90 0002 00000009 0000002a 01 1747bc06 dff3")

LITERALS = [ID_REQ, ID_REP, LOAD_REQ, LOAD_REP, RUN_REQ, RUN_REP, READ_REQ, READ_REP, COUNT_REQ, COUNT_REP,
            RESET_REQ, RESET_REP, BUSY_REP, READ2_REQ, READ2_REP, UNSUP_REP, BADCRC_REP]


def page_network() -> SnnNetwork:
    return SnnNetwork(2, [SnnLayer(np.array([[1, -2], [3, 4]]), np.array([5, 6]), np.array([0, 1]),
                                   np.array([2, 0]), LEAK_SHIFT, 1, "subtract")])


#: The example's events, time-major (ticks, batch, inputs), and the spikes the page works out.
EVENTS = np.array([[3, 0], [1, 1], [0, 2], [2, 0]])[:, None, :]
SPIKES = np.array([[1, 1], [0, 1], [0, 1], [0, 1], [0, 0], [0, 0]])[:, None, :]


def test_frames_here_are_the_documents() -> None:
    assert crc_ccitt_false(b"123456789") == 0x29B1
    for lit in LITERALS:
        assert lit[:3] == b"\xa5\x5a\x01"
        assert int.from_bytes(lit[6:10], "big") == len(lit) - 12, lit.hex()
        assert int.from_bytes(lit[-2:], "big") == crc_ccitt_false(lit[2:-2]), lit.hex()
    assert frame(0x81, 1, IDENTITY) == ID_REP and len(MODEL) == 42


def test_the_pages_exchange() -> None:
    with expected_protocol(HiltNeuromorphicBoard, [
        (ID_REQ, ID_REP), (LOAD_REQ, LOAD_REP), (RUN_REQ, RUN_REP), (READ_REQ, READ_REP),
        (COUNT_REQ, COUNT_REP), (RESET_REQ, RESET_REP),
    ], kind="tcp", timeout=3.0) as board:
        assert board.identify() == {"vendor": "hilt", "model": "NMB", "serial": "1", "firmware": "1.0"}
        assert (board.limits.neurons, board.limits.fan_in, board.limits.max_steps, board.max_payload) == \
            (64, 16, 64, 4096)
        board.load(page_network())
        spikes, counts = board.run(EVENTS, steps=6)
        np.testing.assert_array_equal(spikes, SPIKES)
        np.testing.assert_array_equal(counts, [[1, 4]])
        assert board.counters() == {"batches": 1, "samples": 1, "latency_s": pytest.approx(6009e-9), "spikes": 5,
                                    "synaptic_ops": 18, "time_steps": 6, "spikes_last": 5,
                                    "synaptic_ops_last": 18, "time_steps_last": 6}
        board.safe_state()


def test_busy_results_are_polled() -> None:
    with expected_protocol(HiltNeuromorphicBoard, [
        (ID_REQ, ID_REP), (LOAD_REQ, LOAD_REP), (RUN_REQ, RUN_REP), (READ_REQ, BUSY_REP), (READ2_REQ, READ2_REP),
    ], kind="tcp", timeout=3.0) as board:
        board.load(page_network())
        spikes, _ = board.run(EVENTS, steps=6)
        np.testing.assert_array_equal(spikes, SPIKES)


def test_a_refused_model_and_a_wrong_crc() -> None:
    with expected_protocol(HiltNeuromorphicBoard, [(ID_REQ, ID_REP), (LOAD_REQ, UNSUP_REP)], kind="tcp", timeout=3.0) as board:
        with pytest.raises(BoardError) as info:
            board.load(page_network())
        assert info.value.code == 12 and info.value.meaning == "too big here" and board.network is None
    with expected_protocol(HiltNeuromorphicBoard, [(ID_REQ, ID_REP), (LOAD_REQ, BADCRC_REP)], kind="tcp", timeout=3.0) as board:
        with pytest.raises(ProtocolError, match="CRC-32 0x1747bc06 from the board, 0x1747bc05 sent"):
            board.load(page_network())
        assert board.network is None


def test_limits_are_checked_before_a_byte_is_sent() -> None:
    with expected_protocol(HiltNeuromorphicBoard, [(ID_REQ, ID_REP)], kind="tcp", timeout=3.0) as board:
        with pytest.raises(LimitError, match="no network loaded"):
            board.run(EVENTS)
        wide = SnnNetwork(17, [SnnLayer(np.ones((2, 17), int), 1)])
        with pytest.raises(LimitError, match="17 input lines, the board has"):
            board.load(wide)
        board.limits = board.limits.__class__(**board.limits.as_dict() | {"inputs": 64})
        with pytest.raises(LimitError, match="fan-in 17, the board allows 16"):
            board.load(wide)
        with pytest.raises(LimitError, match="65 neurons, the board holds 64"):
            board.load(SnnNetwork(2, [SnnLayer(np.ones((65, 2), int), 1)]))
        with pytest.raises(LimitError, match="weight 200 outside"):
            board.load(SnnNetwork(2, [SnnLayer(np.full((1, 2), 200), 1)]))
        with pytest.raises(LimitError, match="threshold 70000 outside 1..65535"):
            board.load(SnnNetwork(2, [SnnLayer(np.ones((1, 2), int), 70000)]))
        with pytest.raises(LimitError, match="expected an SnnNetwork"):
            board.load({"weights": [1]})
        board.network = page_network()  # as if loaded: the run checks below send nothing either
        for events, steps, match in [
            (EVENTS[:, :, :1], None, r"expected numbers of shape \(ticks, batch, 2\)"),
            (EVENTS * 6, None, "18 events in one tick on one line, outside 0..15"),
            (-EVENTS, None, "outside 0..15"),
            (EVENTS + 0.5, None, "whole counts"),
            (EVENTS, 3, "steps 3: expected an integer in 4..64"),
            (EVENTS, 65, "steps 65"),
            (EVENTS, 5.0, "steps 5.0"),
            (np.array([["a", "b"]]), None, "expected numbers"),
        ]:
            with pytest.raises(LimitError, match=match):
                board.run(events, steps)
        with pytest.raises(LimitError, match="layer 1: the network has layers 0..0"):
            board.run(EVENTS, layer=1)


@pytest.mark.parametrize(("identity", "match"), [
    (IDENTITY.replace(b"class=neuromorphic", b"class=accelerator"), "an accelerator board, not a neuromorphic"),
    (IDENTITY.replace(b"neurons=64\n", b""), "does not state its limit neurons"),
    (IDENTITY.replace(b"fan_in=16", b"fan_in=1.5"), "fan_in '1.5' is not a positive integer"),
    (IDENTITY.replace(b"max_payload=4096", b"max_payload=100"), "max_payload=100 outside"),
])
def test_an_identify_reply_the_host_cannot_use_is_refused_on_connect(identity: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match), \
            expected_protocol(HiltNeuromorphicBoard, [(ID_REQ, frame(0x81, 1, identity))], kind="tcp", timeout=3.0):
        pass


# -- against the simulated board ----------------------------------------------------------------
def random_network(sizes: list[int], seed: int, leak: tuple[int, int] = (0, 0)) -> SnnNetwork:
    rng = np.random.default_rng(seed)
    layers = [SnnLayer(rng.integers(-40, 80, (b, a)), rng.integers(60, 120, b), rng.integers(-2, 4, b), None,
                       leak[0], leak[1], "subtract") for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return SnnNetwork(sizes[0], layers)


@pytest.fixture
def board(served):  # noqa: ANN001, ANN201
    def connect(world: World | None = None, **options: object) -> tuple[HiltNeuromorphicBoard, SimNeuromorphicBoard]:
        sim, address = served(SimNeuromorphicBoard, world=world or World(seed=3), **options)
        inst = HiltNeuromorphicBoard(address, name="board")
        inst.connect()
        opened.append(inst)
        return inst, sim

    opened: list[HiltNeuromorphicBoard] = []
    yield connect
    for inst in opened:
        inst.close()


def test_models_and_batches_are_cut_to_the_boards_frames(board) -> None:  # noqa: ANN001
    inst, sim = board(errors="severe", max_payload=4096, max_batch=7)
    short = np.ones((2, 16, 64), np.uint8)  # 128-byte samples: max_batch cuts the batch
    inst.load(random_network([64, 5], seed=0))
    inst.run(short)
    assert sum(e.direction == "->" and e.data[3:4] == b"\x20" for e in inst.transport.exchanges) == 3
    net = random_network([64, 60, 10], seed=0)
    inst.load(net)  # 64 x 60 + 60 x 10 weights and the arrays, 5301 bytes: two LOAD_MODEL chunks
    loads = [e for e in inst.transport.exchanges if e.direction == "->" and e.data[3:4] == b"\x10"]
    assert len(loads) == 1 + 2
    rng = np.random.default_rng(1)
    events = (rng.random((20, 30, 64)) < 0.3).astype(np.uint8)
    spikes, counts = inst.run(events, steps=24)
    runs = [e for e in inst.transport.exchanges if e.direction == "->" and e.data[3:4] == b"\x20"]
    assert len(runs) == 3 + 10  # 30 samples of 20 x 64 bytes: 3 fit a 4096-byte frame (max_batch is 7)
    # The same chip computed in one piece: the split changes nothing.
    direct, _, _ = sim.chip.run(events.transpose(1, 0, 2), 24, 1)
    np.testing.assert_array_equal(spikes, direct.transpose(1, 0, 2))
    hidden, _ = inst.run(events, steps=24, layer=0)
    assert hidden.shape == (24, 30, 60) and hidden.any()
    c = inst.counters()
    assert c["time_steps"] == 2 * 16 + 2 * 30 * 24 and c["batches"] == 23 and c["samples"] == 76
    assert c["synaptic_ops"] == int(short.sum()) * 5 + 2 * (int(events.sum()) * 60 + int(hidden.sum()) * 10)


def test_mismatch_is_hidden_frozen_per_seed_and_per_physical_neuron(board) -> None:  # noqa: ANN001
    net = random_network([16, 40, 8], seed=2, leak=(LEAK_SHIFT, 3))
    events = (np.random.default_rng(4).random((30, 20, 16)) < 0.4).astype(np.uint8)

    def spikes(world: World, errors: str) -> np.ndarray:
        inst, _ = board(world, errors=errors)
        inst.load(net)
        out, _ = inst.run(events, layer=0)
        inst.load(net)  # loaded again: the same physical neurons, the same mismatch
        np.testing.assert_array_equal(inst.run(events, layer=0)[0], out)
        return out

    clean = spikes(World(seed=3), "none")
    a, b = spikes(World(seed=3), "severe"), spikes(World(seed=3), "severe")
    other = spikes(World(seed=4), "severe")
    np.testing.assert_array_equal(a, b)
    assert (a != clean).any() and (a != other).any()
    # The error-free board is the integer model itself: thresholds and leak as loaded.
    ideal = LifChip(net, np.ones(64), np.ones(64), 24).run(events.transpose(1, 0, 2), 30, 0)[0]
    np.testing.assert_array_equal(clean, ideal.transpose(1, 0, 2))


def test_the_simulated_board_refuses_what_the_document_refuses(board) -> None:  # noqa: ANN001
    inst, _ = board(neurons=64)
    model = encode_network(page_network())

    def code(ftype: int, payload: bytes = b"") -> int:
        with pytest.raises(BoardError) as info:
            inst.exchange(ftype, payload)
        return info.value.code

    assert b"class=neuromorphic\nvendor=hilt\n" in inst.exchange(IDENTIFY)
    assert code(IDENTIFY, b"\x00") == BAD_PAYLOAD
    assert code(RUN_BATCH, encode_run(1, 2, 1, b"\x00\x00")) == NO_MODEL
    assert code(LOAD_MODEL, encode_load(0, len(model), model[:-1] + b"\x00\x00")) == OUT_OF_RANGE
    assert code(LOAD_MODEL, encode_load(0, len(model) - 1, model[:-1])) == BAD_MODEL
    inst.exchange(LOAD_MODEL, encode_load(0, len(model), model[:10]))
    assert decode_status(inst.exchange(STATUS)).state_name == "loading"
    assert code(LOAD_MODEL, encode_load(12, len(model), model[12:])) == OUT_OF_ORDER
    big = encode_network(SnnNetwork(2, [SnnLayer(np.ones((65, 2), int), 1)]))
    assert code(LOAD_MODEL, encode_load(0, len(big), big)) == UNSUPPORTED
    assert code(LOAD_MODEL, encode_load(0, len(model), b"\x01" + model[1:])) == UNSUPPORTED  # class 1
    inst.exchange(LOAD_MODEL, encode_load(0, len(model), model))
    assert code(RUN_BATCH, encode_run(1, 3, 4, b"\x00" * 3)) == OUT_OF_RANGE  # not whole ticks
    assert code(RUN_BATCH, encode_run(1, 4, 1, b"\x00" * 4)) == OUT_OF_RANGE  # 2 ticks, 1 step
    assert code(RUN_BATCH, encode_run(1, 2, 1, b"\x10\x00")) == OUT_OF_RANGE  # 16 events
    assert code(RUN_BATCH, encode_run(1, 2, 1 | 2 << 16, b"\x00\x00")) == OUT_OF_RANGE  # no layer 1
    assert code(RUN_BATCH, encode_run(1, 2, 1 | 1 << 24, b"\x00\x00")) == OUT_OF_RANGE  # reserved bits
    assert code(READ_RESULTS, encode_read(1, 0, 1)) == NO_RESULTS
    (batch_id, _) = decode_run_reply(inst.exchange(RUN_BATCH, encode_run(1, 2, 1, b"\x01\x00")))
    assert code(READ_RESULTS, encode_read(batch_id, 1, 1)) == OUT_OF_RANGE
    assert decode_status(inst.exchange(STATUS)).last_error == OUT_OF_RANGE
    assert decode_counters(inst.exchange(READ_COUNTERS))[1] == 1
    assert code(RESET, b"\x02") == OUT_OF_RANGE
    inst.exchange(RESET, b"\x01")
    assert inst.status().state_name == "no_model" and inst.counters()["batches"] == 0


def test_a_board_that_restarted_gets_its_network_again(board) -> None:  # noqa: ANN001
    inst, sim = board()
    net = random_network([8, 6, 3], seed=5)
    events = (np.random.default_rng(6).random((10, 4, 8)) < 0.5).astype(np.uint8)
    inst.load(net)
    before, _ = inst.run(events)
    sim._reset_all()  # the board power-cycled: no model, counters zero
    inst.reconnect()  # the link is reopened (what a dropped link's recovery does)
    after, _ = inst.run(events)  # STATUS shows another model CRC: loaded again before the run
    np.testing.assert_array_equal(after, before)
    loads = [e for e in inst.transport.exchanges if e.direction == "->" and e.data[3:4] == b"\x10"]
    assert len(loads) == 2 and inst.counters()["batches"] == 1
    inst.reconnect()  # a reopened link to a board that kept its model: no second upload
    inst.run(events)
    assert sum(e.direction == "->" and e.data[3:4] == b"\x10" for e in inst.transport.exchanges) == 2
