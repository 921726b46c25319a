"""SRS SR860: exact bytes over a VISA socket, the simulator over TCP, 0-based codes, SCAL table."""

from __future__ import annotations

import pytest

from hilt.drivers.srs_sr860 import SR860
from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.sims.srs_sr860 import SimSR860
from hilt.testing import expected_protocol

CONNECT = (b"*CLS\n", None)
ESR_OK = (b"*ESR?\n", b"0\n")


def test_protocol_settings_and_reads() -> None:
    with expected_protocol(SR860, [
        CONNECT,
        (b"SCAL 0\n", None), ESR_OK,  # index 0 is 1 V
        (b"SCAL 27\n", None), ESR_OK,  # 1 nV
        (b"OFLT 0\n", None), ESR_OK,  # 1 us
        (b"SLVL 1e-09\n", None), ESR_OK,
        (b"OUTP? 0\n", b"1.5e-3\n"),
        (b"OUTP? 2\n", b"2e-3\n"),
        (b"SNAP? 0,1,2\n", b"1.0e-3,2.0e-3,2.236e-3\n"),
        (b"SCAL?\n", b"3\n"),
        (b"ASCL\n", None), ESR_OK,
        (b"APHS\n", None), ESR_OK,
    ]) as li:
        li.sensitivity.set(1.0)
        li.sensitivity.set(1e-9)
        li.time_constant.set(1e-6)
        li.amplitude.set(1e-9)
        assert li.x() == 1.5e-3
        assert li.r() == 2e-3
        assert li.snap("x", "y", "r") == (1e-3, 2e-3, 2.236e-3)
        assert li.sensitivity.get() == pytest.approx(0.1)
        li.auto_gain()
        li.auto_phase()


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(SR860, [CONNECT]) as li:
        for param, value in [(li.sensitivity, 2e-3 * 1.5), (li.time_constant, 5e-6),
                             (li.amplitude, 2.5), (li.frequency, 600e3)]:
            with pytest.raises(LimitError):
                param.set(value)
        with pytest.raises(LimitError):
            li.snap("x", "y", "r", "theta")  # the SR860 snaps at most three


def test_errors_and_garbled_replies() -> None:
    with expected_protocol(SR860, [
        CONNECT,
        (b"FREQ 1000\n", None), (b"*ESR?\n", b"32\n"),
        (b"OUTP? 1\n", b"x\n"),
    ]) as li:
        with pytest.raises(InstrumentError) as info:
            li.frequency.set(1000)
        assert info.value.code == 5
        with pytest.raises(ProtocolError):
            li.y()


def test_against_simulator(served) -> None:
    sim, address = served(SimSR860)
    assert address.startswith("TCPIP::")
    with SR860(address) as li:
        assert li.identify()["model"] == "SR860"
        li.sensitivity.set(2e-6)
        assert sim.sens_index == 17
        assert li.sensitivity.get() == pytest.approx(2e-6)
        li.time_constant.set(3e-6)
        assert li.time_constant.get() == pytest.approx(3e-6)
        li.frequency.set(250e3)
        assert li.frequency.get() == pytest.approx(250e3)
        assert li.query("OUTP? X;OUTP? THeta").count(";") == 1  # names and one reply line
        assert abs(li.x()) < 1e-6
        sim.faults.error = True
        with pytest.raises(InstrumentError) as info:
            li.amplitude.set(0.1)
        assert info.value.code == 4
    assert sim.amplitude == pytest.approx(1e-9)
