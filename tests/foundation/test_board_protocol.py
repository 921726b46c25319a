"""The board protocol codec (hilt/board_protocol.py) against docs/protocols/board.md.

Every frame below is written out by hand from the document's worked example: header fields,
payloads and CRCs are literals, never bytes made by the codec under test. The CRC-16 values were
checked with :func:`crc_ccitt_false` (bitwise, from the document's parameters) and the model's
CRC-32 with :func:`crc32_iso_hdlc`; :func:`test_literals_follow_the_document` checks every
literal against both, and :func:`test_the_document_shows_these_bytes` that the page carries them.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

from hilt import board_protocol as bp
from hilt.framing import Frame, split_frames

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocols" / "board.md"


def crc_ccitt_false(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def crc32_iso_hdlc(data: bytes) -> int:
    """Bitwise CRC-32 (reflected poly 0xEDB88320, init and xorout 0xFFFFFFFF), independent of zlib."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# The worked example's model, field by field (44 bytes).
MODEL = h("01 01 00 20 0003 0001 0001 00 01"  # header
          "01 00 00 00"                       # dense, no flags, zy 0
          "00000003 00000002"                 # in 3, out 2
          "01 02 03 FC 05 FA"                 # weights
          "00"                                # weight zero point
          "01000000 FFFFFFFF"                 # biases 1, -1 (LE)
          "00000040"                          # M0 = 2^30 (LE)
          "00")                               # shift 0
IDENT_TEXT = (b"class=accelerator\nvendor=hilt\nmodel=A8\nserial=1\nfirmware=1.0\nprotocol=1\n"
              b"max_payload=4096\nmax_model_bytes=65536\nmax_batch=64\n")

#                    magic ver type seq  length   | payload                                    | CRC
IDENTIFY_REQ = h("A55A 01 01 0001 00000000                                                         64DD")
IDENTIFY_REP = h("A55A 01 81 0001 0000007C") + IDENT_TEXT + h("A032")
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
FRAMES = [IDENTIFY_REQ, IDENTIFY_REP, LOAD_REQ, LOAD_REP, RUN_REQ, RUN_REP, READ1_REQ, BUSY_REP, READ2_REQ,
          READ2_REP, STATUS_REQ, STATUS_REP, COUNTERS_REQ, COUNTERS_REP, RESET_REQ, RESET_REP]


def payload(frame: bytes) -> bytes:
    return frame[10:-2]


def test_literals_follow_the_document() -> None:
    assert crc_ccitt_false(b"123456789") == 0x29B1
    assert crc32_iso_hdlc(b"123456789") == 0xCBF43926 == bp.model_crc(b"123456789")
    for frame in FRAMES:
        assert frame[:3] == h("A55A01")
        assert int.from_bytes(frame[6:10], "big") == len(frame) - 12
        assert int.from_bytes(frame[-2:], "big") == crc_ccitt_false(frame[2:-2]), frame.hex()
    assert len(MODEL) == 44 and crc32_iso_hdlc(MODEL) == 0x00E89C37


def test_the_document_shows_these_bytes() -> None:
    """The page's worked example carries the frames above (hex, spaces and case aside)."""
    text = DOC.read_text()
    flat = re.sub(r"\s+", "", text).upper()
    for frame in FRAMES:
        if frame in (IDENTIFY_REP, LOAD_REQ, BUSY_REP):
            continue  # shown with their text or model in words
        head, body, crc = frame[:10].hex().upper(), payload(frame).hex().upper(), frame[-2:].hex().upper()
        assert f"{head}|{body}|{crc}" in flat, head
    assert "A5 5A 01 01 00 01 00 00 00 00 64 DD" in text  # the frame section's example
    assert "00E89C37" in text and "7D85" in text and "2136" in text and "A032" in text


def test_codec_encodes_the_documents_frames() -> None:
    model = bp.AcceleratorModel((3, 1, 1), [bp.Layer(
        "dense", weight=np.array([[1, 2, 3], [-4, 5, -6]]), bias=np.array([1, -1]),
        multiplier=np.array([2**30]), shift=np.array([0]))])
    assert model.encode() == MODEL
    ident = {"class": "accelerator", "vendor": "hilt", "model": "A8", "serial": "1", "firmware": "1.0",
             "protocol": 1, "max_payload": 4096, "max_model_bytes": 65536, "max_batch": 64}
    built = [
        Frame(bp.IDENTIFY, 1), Frame(0x81, 1, bp.encode_identify(ident)),
        Frame(bp.LOAD_MODEL, 2, bp.encode_load(0, 44, MODEL)), Frame(0x90, 2, bp.encode_loaded(44, True, 0xE89C37)),
        Frame(bp.RUN_BATCH, 3, bp.encode_run(1, 3, 0, h("0A141E"))), Frame(0xA0, 3, bp.encode_run_reply(1, 25)),
        Frame(bp.READ_RESULTS, 4, bp.encode_read(1, 0, 1)),
        Frame(0xFF, 4, struct.pack(">H", bp.BUSY) + b"busy"),
        Frame(bp.READ_RESULTS, 5, bp.encode_read(1, 0, 1)), Frame(0xA1, 5, bp.encode_results(1, 0, 2, h("47C3"))),
        Frame(bp.STATUS, 6),
        Frame(0x82, 6, bp.encode_status(bp.Status(bp.STATE_READY, True, 0xE89C37, 44, 44, 1, 5))),
        Frame(bp.READ_COUNTERS, 7), Frame(0xB0, 7, bp.encode_counters({1: 1, 2: 1, 3: 2500})),
        Frame(bp.RESET, 8, bp.encode_reset(bp.RESET_ABORT)), Frame(0xC0, 8),
    ]
    assert [f.encode() for f in built] == FRAMES


def test_codec_decodes_the_documents_frames() -> None:
    stream = bytearray(b"".join(FRAMES))
    frames = split_frames(stream)
    assert not stream and [f.seq for f in frames] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]
    ident = bp.decode_identify(frames[1].payload)
    assert ident["class"] == "accelerator" and bp.identity_int(ident, "max_payload") == 4096
    assert bp.decode_load(frames[2].payload) == (0, 44, MODEL)
    assert bp.decode_loaded(frames[3].payload) == (44, True, 0xE89C37)
    assert bp.decode_run(frames[4].payload) == (1, 3, 0, h("0A141E"))
    assert bp.decode_run_reply(frames[5].payload) == (1, 25)
    assert bp.decode_read(frames[6].payload) == (1, 0, 1)
    assert bp.decode_results(frames[9].payload) == (1, 0, 1, 2, h("47C3"))
    status = bp.decode_status(frames[11].payload)
    assert status == bp.Status(2, True, 0xE89C37, 44, 44, 1, 5) and status.state_name == "ready"
    assert bp.decode_counters(frames[13].payload) == {1: 1, 2: 1, 3: 2500}
    assert bp.decode_reset(frames[14].payload) == 0
    model = bp.decode_accelerator_model(MODEL)
    layer = model.layers[0]
    assert model.input_shape == (3, 1, 1) and model.rounding == "half_away" and model.acc_bits == 32
    assert layer.kind == "dense" and layer.weight.tolist() == [[1, 2, 3], [-4, 5, -6]]
    assert layer.bias.tolist() == [1, -1] and layer.multiplier.tolist() == [2**30] and layer.shift.tolist() == [0]
    assert model.output_size == 2


def test_error_codes_agree_with_every_framed_device() -> None:
    from hilt.sims import framed

    for code in (1, 2, 3, 4, 5):
        assert bp.ERROR_MEANINGS[code] == framed.ERROR_MEANINGS[code]
    text = DOC.read_text()
    for code in bp.ERROR_MEANINGS:
        assert re.search(rf"^\| {code} \|", text, re.M), code


def test_a_cnn_model_round_trips_with_every_option() -> None:
    rng = np.random.default_rng(0)
    conv = bp.Layer("conv2d", out_zero_point=-3, relu=True, per_channel=True,
                    weight=rng.integers(-127, 128, (4, 1, 3, 3)), weight_zero_point=np.array([0, 1, -1, 2]),
                    bias=rng.integers(-1000, 1000, 4), multiplier=rng.integers(2**30, 2**31, 4),
                    shift=np.array([3, 4, 5, -2]), stride=1, padding=1)
    pool = bp.Layer("maxpool2d", out_zero_point=-3, kernel=2, stride=2)
    dense = bp.Layer("dense", out_zero_point=5, pow2=True, weight=rng.integers(-127, 128, (10, 4 * 4 * 4)),
                     bias=rng.integers(-100, 100, 10), shift=np.array([7]))
    model = bp.AcceleratorModel((1, 8, 8), [conv, pool, dense], "half_even", 24, input_zero_point=-128)
    data = model.encode()
    back = bp.decode_accelerator_model(data)
    assert back.encode() == data
    assert back.shapes() == [(1, 8, 8), (4, 8, 8), (4, 4, 4), (10, 1, 1)]
    assert back.layers[0].per_channel and back.layers[0].relu and back.layers[2].pow2
    assert back.layers[2].multiplier is None


@pytest.mark.parametrize(("cut", "code"), [(5, bp.BAD_MODEL), (20, bp.BAD_MODEL), (43, bp.BAD_MODEL)])
def test_a_short_model_is_malformed(cut: int, code: int) -> None:
    with pytest.raises(bp.BoardPayloadError) as err:
        bp.decode_accelerator_model(MODEL[:cut])
    assert err.value.code == code


def test_model_fields_outside_the_document_are_refused() -> None:
    def bad(data: bytes, code: int = bp.BAD_MODEL) -> None:
        with pytest.raises(bp.BoardPayloadError) as err:
            bp.decode_accelerator_model(data)
        assert err.value.code == code

    bad(b"\x02" + MODEL[1:], bp.UNSUPPORTED)             # a neuromorphic model
    bad(MODEL[:2] + b"\x07" + MODEL[3:])                 # rounding code 7
    bad(MODEL[:3] + b"\x40" + MODEL[4:])                 # 64-bit accumulator
    bad(MODEL[:13] + b"\x80" + MODEL[14:])               # an undefined flag
    bad(MODEL + b"\x00")                                 # a byte after the last layer
    bad(MODEL[:16] + h("00000004") + MODEL[20:])         # dense of 4 inputs on a 3-input sample (and short)
    bad(MODEL[:-5] + h("000000C0") + MODEL[-1:])         # negative multiplier


def test_identify_lines() -> None:
    ok = bp.decode_identify(IDENT_TEXT + b"vendor_key=a=b\n")
    assert ok["vendor_key"] == "a=b"
    for text in (IDENT_TEXT[:-1], IDENT_TEXT + b"junk\n", IDENT_TEXT + b"model=again\n",
                 IDENT_TEXT.replace(b"4096", b"4k"), IDENT_TEXT.replace(b"accelerator", b"gpu"),
                 IDENT_TEXT.replace(b"max_batch=64\n", b""), b"\xff\n"):
        with pytest.raises(bp.BoardPayloadError):
            bp.decode_identify(text)
    assert bp.identity_list({"layers": "dense,conv2d"}, "layers") == ("dense", "conv2d")


def test_payloads_of_the_wrong_shape_are_refused() -> None:
    cases = [
        (bp.decode_status, payload(STATUS_REP)[:-1]),
        (bp.decode_status, b"\x09" + payload(STATUS_REP)[1:]),        # state 9
        (bp.decode_loaded, payload(LOAD_REP) + b"\x00"),
        (bp.decode_loaded, h("00000001 00 00000001")),               # a CRC before complete
        (bp.decode_run, h("00000002 00000003 00000000 0A141E")),     # 2 x 3 announced, 3 sent
        (bp.decode_run_reply, h("00000000 00000001")),               # batch id 0
        (bp.decode_results, payload(READ2_REP)[:-1]),
        (bp.decode_counters, h("0002 0001 0000000000000001")),
        (bp.decode_counters, h("0002 0001 0000000000000001 0001 0000000000000002")),  # id twice
        (bp.decode_reset, b"\x02"),
        (bp.decode_load, h("00000000 00000002 010203")),             # chunk beyond total
    ]
    for decode, data in cases:
        with pytest.raises(bp.BoardPayloadError):
            decode(data)


def test_encoders_refuse_what_cannot_be_sent() -> None:
    with pytest.raises(bp.BoardPayloadError):
        bp.encode_identify({"model": "two\nlines"})
    layer = bp.Layer("dense", weight=np.array([[200]]), bias=np.array([0]), multiplier=np.array([1]),
                     shift=np.array([0]))
    with pytest.raises(bp.BoardPayloadError, match="weights outside"):
        bp.AcceleratorModel((1, 1, 1), [layer]).encode()
    layer.weight = np.array([[1]])
    layer.multiplier = None
    with pytest.raises(bp.BoardPayloadError, match="multipliers"):
        bp.AcceleratorModel((1, 1, 1), [layer]).encode()
