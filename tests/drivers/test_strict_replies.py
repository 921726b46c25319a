"""Garbled replies found by tests/faults/test_fuzz_parsers.py, one exact conversation each.

Every one of these read as a value (``nan``, ``inf``, ``1_5`` as 15) or escaped as a bare
ValueError/OverflowError/struct.error/FrameError before its fix; now each is a ProtocolError naming
the command and the reply. The bytes sent are the drivers' usual ones.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from hilt import Instrument, Parameter
from hilt.drivers.keithley_2400 import Keithley2400
from hilt.drivers.keysight_e8257d import KeysightE8257D
from hilt.drivers.photonic_processor import PhotonicProcessor
from hilt.drivers.qdevil_qdac2 import QDevilQDac2
from hilt.drivers.qontrol import QontrolQ8iv
from hilt.drivers.santec_tsl550 import SantecTSL550
from hilt.errors import ProtocolError
from hilt.framing import Frame
from hilt.parameters import parse_int
from hilt.testing import expected_protocol

GARBLED = [b"nan", b"inf", b"-inf", b"Infinity", b"1e999", b"1_5", b""]


# -- hilt/parameters.py: the default parser and parse_int ------------------------------------------
@pytest.mark.parametrize("reply", GARBLED)
def test_default_parser_refuses_garbled_numbers(reply: bytes) -> None:
    with expected_protocol(KeysightE8257D, [(b":FREQ:CW?\n", reply + b"\n")]) as synth, \
            pytest.raises(ProtocolError) as info:
        synth.frequency.get()
    assert info.value.command == ":FREQ:CW?" and info.value.reply is not None


def test_default_parser_reads_the_scpi_not_a_number_marker() -> None:
    """``+9.91E+37`` is finite: the instrument's own value to report, not a garbled reply."""
    with expected_protocol(KeysightE8257D, [(b":POW:AMPL?\n", b"+9.91E+37\n")]) as synth:
        assert synth.power.get() == 9.91e37


def test_parse_int_is_strict() -> None:
    assert parse_int("5") == 5 and parse_int(" +5.000E+00 ") == 5
    for bad in ("2.7", "inf", "nan", "1e999", "1_5", "", "0x1F"):
        with pytest.raises(ValueError):
            parse_int(bad)


class Counter(Instrument):
    """A made-up instrument whose parser overflows on ``inf`` (as ``int(float(r))`` does)."""

    model = "counter"
    transport_settings = {"timeout": 2.0}
    count = Parameter("COUNT?", get_parser=lambda r: int(float(r)))


def test_get_turns_an_overflowing_parser_into_a_protocol_error() -> None:
    with expected_protocol(Counter, [(b"COUNT?\n", b"inf\n")]) as box, pytest.raises(ProtocolError) as info:
        box.count.get()
    assert info.value.command == "COUNT?" and info.value.reply == "inf"


def test_parameters_do_not_import_the_drivers() -> None:
    """Layering: the core's strict parsers live in hilt.replies; hilt.drivers.replies re-exports them."""
    code = ("import sys, hilt.parameters, hilt.replies; "
            "assert not [m for m in sys.modules if m.startswith('hilt.drivers')], sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
    from hilt import replies
    from hilt.drivers import replies as driver_replies

    assert driver_replies.number is replies.number and driver_replies.numbers is replies.numbers


# -- SCPI drivers' own parsers ----------------------------------------------------------------------
@pytest.mark.parametrize("reply", GARBLED)
def test_santec_wavelength_and_power(reply: bytes) -> None:
    with expected_protocol(SantecTSL550, [(b":WAV?\r", reply + b"\r"), (b":POW:ACT?\r", reply + b"\r")],
                           connect=False) as laser:
        laser.transport.open()
        with pytest.raises(ProtocolError):
            laser.wavelength.get()
        with pytest.raises(ProtocolError):
            laser.actual_power.get()


@pytest.mark.parametrize("reply", [b"1_5,1_5", b"nan,1", b"1,inf", b"1e999,0", b"1,2,3", b"1"])
def test_keithley_measure(reply: bytes) -> None:
    with expected_protocol(Keithley2400, [(b":READ?\r", reply + b"\r")], connect=False) as k:
        k.transport.open()
        with pytest.raises(ProtocolError) as info:
            k.measure()
    assert info.value.command == ":READ?"


@pytest.mark.parametrize("field", [b"1_5", b"nan", b"inf", b"1e999"])
def test_qdac2_get_voltages(field: bytes) -> None:
    command = ";:".join(f"sour{k + 1}:volt?" for k in range(24)).encode() + b"\n"
    reply = b";".join([b"0.5"] * 23 + [field]) + b"\n"
    with expected_protocol(QDevilQDac2, [(command, reply)]) as dac, pytest.raises(ProtocolError):
        dac.get_voltages()


# -- Qontrol ------------------------------------------------------------------------------------------
def test_qontrol_values_and_full_scale() -> None:
    with expected_protocol(QontrolQ8iv, [
        (b"v0?\n", b"1e999 V\n"),
        (b"vfull?\n", b"+12.0000 V\n"), (b"ifull?\n", b"+12.0000 V\n"),  # ifull? answered in volts
        (b"vfull?\n", b"+12.0000 V\n"), (b"ifull?\n", b"+24.0000 mA\n"),
        (b"vipall?\n", b"0,0: 1.2.3 V, +1.0 mA\n" + b"0,1: +0.0 V, +0.0 mA\n" * 7),
    ], connect=False) as q:
        q.transport.open()
        with pytest.raises(ProtocolError):
            q.channels[0].voltage.get()
        with pytest.raises(ProtocolError) as info:
            q.full_scale()  # was a bare ValueError
        assert info.value.command == "ifull?" and info.value.reply is not None
        assert q.full_scale() == (12.0, 24.0)
        with pytest.raises(ProtocolError):
            q.get_vip()  # was a bare ValueError from float("1.2.3")


# -- the photonic processor's payloads ----------------------------------------------------------------
INFO = {"vendor": "hilt", "model": "PNP", "serial": "1", "firmware": "1.0", "n_ports": 4, "n_layers": 2,
        "heaters_per_layer": 16, "measures_internal": True, "max_batch": 8}


def _info(seq: int, payload: bytes) -> tuple[bytes, bytes]:
    return Frame(0x01, seq).encode(), Frame(0x81, seq, payload).encode()


@pytest.mark.parametrize(("key", "value"), [
    ("n_ports", float("inf")), ("n_ports", -3), ("n_ports", 2.5), ("n_ports", True), ("n_ports", "4"),
    ("n_ports", 0), ("n_ports", 70000), ("n_layers", None), ("heaters_per_layer", [16]), ("max_batch", 0),
    ("max_batch", 1.5),
])
def test_photonic_info_sizes_are_positive_integers(key: str, value: object) -> None:
    payload = json.dumps(INFO | {key: value}).encode()  # inf is written Infinity, as JSON parsers read it
    with expected_protocol(PhotonicProcessor, [_info(1, payload)], kind="tcp", connect=False) as chip:
        chip.query_retries = 0
        with pytest.raises(ProtocolError, match=key):
            chip.connect()
        assert chip.info == {} and chip.n_ports == 0


@pytest.mark.parametrize("payload", [b"not json", b"\xff\xfe", b"[1, 2]", b"4", b"[" * 100000])
def test_photonic_info_must_be_a_json_object(payload: bytes) -> None:
    with expected_protocol(PhotonicProcessor, [_info(1, payload), _info(2, payload)], kind="tcp",
                           connect=False) as chip:
        chip.query_retries = 0
        chip.transport.open()
        with pytest.raises(ProtocolError):
            chip.on_connect()
        with pytest.raises(ProtocolError):
            chip.identify()  # was json.loads unguarded


def test_photonic_short_payloads_and_error_frames() -> None:
    with expected_protocol(PhotonicProcessor, [
        _info(1, json.dumps(INFO).encode()),
        (Frame(0x11, 2, struct.pack(">H", 0)).encode(), Frame(0x91, 2, b"\x00\x00").encode()),
        (Frame(0x20, 3, struct.pack(">BIH", 0, 1, 4) + b"\x00" * 32).encode(), Frame(0xA0, 3, b"\x00" * 6).encode()),
        (Frame(0x40, 4).encode(), Frame(0xFF, 4, b"\x01").encode()),  # an error frame without a whole code
        (Frame(0x40, 5).encode(), Frame(0xFF, 5, b"").encode()),
    ], kind="tcp") as chip:
        chip.query_retries = 0
        with pytest.raises(ProtocolError, match="GET_HEATERS reply length"):
            chip.get_heaters(0)  # was struct.error
        with pytest.raises(ProtocolError, match="RUN reply shorter"):
            chip.run([[0, 0, 0, 0]])  # was struct.error
        for _ in range(2):
            with pytest.raises(ProtocolError, match="error frame without a code"):
                chip.safe_state()  # was FrameError
