"""The board protocol's decoders and the board's framing against arbitrary bytes: every decoder
returns or raises BoardPayloadError (never anything else), a model decoded is one the encoder
writes back byte for byte, and a board's link never fails on what it receives."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hilt import board_protocol as bp
from hilt.accelerator_board import AcceleratorBoard
from hilt.framing import Frame, split_frames

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DECODERS = [bp.decode_identify, bp.decode_status, bp.decode_load, bp.decode_loaded, bp.decode_run,
            bp.decode_run_reply, bp.decode_read, bp.decode_results, bp.decode_counters, bp.decode_reset]

MODEL = bp.AcceleratorModel((1, 4, 4), [
    bp.Layer("conv2d", relu=True, per_channel=True, weight=np.arange(-9, 9).reshape(2, 1, 3, 3),
             bias=np.array([5, -5]), multiplier=np.array([2**30, 2**30 + 7]), shift=np.array([3, 4]), padding=1),
    bp.Layer("maxpool2d", kernel=2, stride=2),
    bp.Layer("dense", pow2=True, weight=np.ones((3, 8)), bias=np.zeros(3), shift=np.array([2])),
]).encode()


@FUZZ
@given(st.binary(max_size=64), st.sampled_from(DECODERS))
@example(b"class=accelerator\n", bp.decode_identify)
def test_decoders_return_or_refuse(data: bytes, decode) -> None:  # noqa: ANN001
    try:
        decode(data)
    except bp.BoardPayloadError:
        pass


@FUZZ
@given(st.integers(0, len(MODEL) * 8 - 1), st.integers(0, len(MODEL)))
def test_a_damaged_model_is_refused_or_reads_back_as_itself(bit: int, cut: int) -> None:
    damaged = bytearray(MODEL)
    damaged[bit // 8] ^= 1 << (bit % 8)
    for data in (bytes(damaged), MODEL[:cut]):
        try:
            model = bp.decode_accelerator_model(data)
        except bp.BoardPayloadError as exc:
            assert exc.code in (bp.BAD_MODEL, bp.UNSUPPORTED)
            continue
        assert model.encode() == data


class _Datapath:
    def describe(self) -> dict[str, object]:
        return {"vendor": "v", "model": "m", "serial": "s", "firmware": "f", "rounding": "half_away",
                "acc_bits": 32, "requant": "multiplier,pow2", "per_channel": 1, "weight_zero_point": 1,
                "layers": "dense,conv2d,maxpool2d", "max_layers": 8, "max_features": 256, "max_channels": 16,
                "max_kernel": 3, "clock_hz": 1}

    def load(self, model, data) -> None:  # noqa: ANN001
        pass

    def start(self, samples: np.ndarray) -> float:
        self.n = len(samples)
        return 0.0

    def poll(self) -> np.ndarray:
        return np.zeros((self.n, 3), np.int8)

    def abort(self) -> None:
        pass

    def cycles(self) -> int:
        return 1

    def now(self) -> float:
        return 0.0


frames = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda t, seq, p: Frame(t, seq, p).encode(), st.sampled_from([1, 2, 0x10, 0x20, 0x21, 0x30, 0x40, 0x7E]),
              st.integers(0, 0xFFFF), st.binary(max_size=40)),
    st.just(Frame(bp.LOAD_MODEL, 1, bp.encode_load(0, len(MODEL), MODEL)).encode()),
    st.just(Frame(bp.RUN_BATCH, 2, bp.encode_run(1, 16, 0, bytes(16))).encode()),
)


@FUZZ
@given(st.lists(frames, max_size=8))
def test_a_board_link_answers_whatever_arrives(chunks: list[bytes]) -> None:
    board = AcceleratorBoard(_Datapath(), max_payload=4096)
    link = board.session()
    out = bytearray()
    for chunk in chunks:
        out += link.feed(chunk)
    replies = split_frames(out)  # whatever the board sends is whole, valid frames
    assert not out
    for reply in replies:
        assert reply.type == 0xFF or reply.type & 0x80
