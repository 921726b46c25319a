"""SRS SR830: exact bytes (RS-232 and GPIB dialects), the simulator over pyserial, status errors."""

from __future__ import annotations

import pytest

from hilt.drivers.srs_sr830 import SR830
from hilt.errors import InstrumentError, InstrumentTimeout, LimitError, ProtocolError
from hilt.sims.srs_sr830 import SimSR830
from hilt.testing import expected_protocol

CONNECT = [(b"OUTX 0\n", None), (b"*CLS\n", None)]
ESR_OK = (b"*ESR?\n", b"0\r")


def test_protocol_rs232_settings_and_reads() -> None:
    with expected_protocol(SR830, [
        *CONNECT,
        (b"FREQ 13\n", None), ESR_OK,
        (b"SLVL 0.500\n", None), ESR_OK,
        (b"SENS 23\n", None), ESR_OK,  # 100 mV
        (b"OFLT 8\n", None), ESR_OK,  # 100 ms
        (b"OFSL 0\n", None), ESR_OK,
        (b"SENS?\n", b"23\r"),
        (b"OFLT?\n", b"10\r"),
        (b"OUTP? 1\n", b"-1.01026e-03\r"),
        (b"OUTP? 4\n", b"45.5\r"),
        (b"SNAP? 1,2,9\n", b"0.951359,0.0253297,1000.00\r"),
        (b"LIAS?\n", b"4\r"),
        (b"APHS\n", None), ESR_OK,
        (b"AGAN\n", None), ESR_OK,
    ]) as li:
        li.frequency.set(13)
        li.amplitude.set(0.5)
        li.sensitivity.set(0.1)
        li.time_constant.set(0.1)
        li.filter_slope.set(6)
        assert li.sensitivity.get() == pytest.approx(0.1)
        assert li.time_constant.get() == pytest.approx(1.0)
        assert li.x() == pytest.approx(-1.01026e-3)
        assert li.theta() == 45.5
        assert li.snap("x", "y", "frequency") == (0.951359, 0.0253297, 1000.0)
        assert li.overloaded()
        li.auto_phase()
        li.auto_gain()


def test_protocol_gpib_dialect_over_a_socket() -> None:
    # A GPIB-style address: replies go to GPIB (OUTX 1) and end with LF.
    with expected_protocol(SR830, [(b"OUTX 1\n", None), (b"*CLS\n", None), (b"OUTP? 3\n", b"0.25\n")],
                           kind="visa") as li:
        assert li.r() == 0.25


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(SR830, CONNECT, limits={"amplitude": (0.004, 1.0)}) as li:
        for param, value in [(li.sensitivity, 0.15), (li.sensitivity, 2.0), (li.time_constant, 0.2),
                             (li.amplitude, 1.5), (li.amplitude, 0.001), (li.frequency, 200e3),
                             (li.filter_slope, 9), (li.phase, 800)]:
            with pytest.raises(LimitError):
                param.set(value)
        with pytest.raises(LimitError):
            li.snap("x", "bogus")
        with pytest.raises(LimitError):
            li.snap("x")
    assert SR830.sensitivity_for(0.15) == 0.2
    assert SR830.sensitivity_for(3e-9) == 5e-9


def test_status_bits_become_instrument_errors() -> None:
    with expected_protocol(SR830, [
        *CONNECT,
        (b"FREQ 13\n", None), (b"*ESR?\n", b"32\r"),  # CMD: illegal command
        (b"PHAS 10.00\n", None), (b"*ESR?\n", b"16\r"),  # EXE: out of range
        (b"ERRS?\n", b"4\r"),  # RAM error
    ]) as li:
        with pytest.raises(InstrumentError) as info:
            li.frequency.set(13)
        assert info.value.code == 5 and "illegal command" in info.value.meaning
        with pytest.raises(InstrumentError) as info:
            li.phase.set(10)
        assert info.value.code == 4
        with pytest.raises(InstrumentError) as info:
            li.hardware_errors()
        assert info.value.code == 2 and "RAM" in info.value.meaning


FENCE = (b"*IDN?\n*OPC?\n", b"Stanford_Research_Systems,SR830,s/n00001,ver1.07\r1\r")


def test_garbled_replies_are_protocol_errors() -> None:
    with expected_protocol(SR830, [
        *CONNECT,
        # A reply that is not text: the link finds its place (fence) and asks once more.
        (b"OUTP? 1\n", b"\xff\xfe\r"), FENCE, (b"OUTP? 1\n", b"0.25\r"),
        # Garbled every time: after two more tries the first error reaches the caller.
        (b"OUTP? 1\n", b"\xff\xfe\r"), FENCE, (b"OUTP? 1\n", b"\xff\xfe\r"), FENCE,
        (b"OUTP? 1\n", b"\xff\xfe\r"),
        FENCE,  # the next transaction starts by finding its place again
        (b"OUTP? 2\n", b"abc\r"),
        (b"SNAP? 1,2\n", b"0.1\r"),
        (b"SENS?\n", b"99\r"),
    ]) as li:
        assert li.x() == 0.25
        for read in (li.x, li.y, li.snap, li.sensitivity.get):
            with pytest.raises(ProtocolError):
                read()


def test_late_reply_is_never_taken_for_the_next_one() -> None:
    """A reply that comes after the timeout is dropped by the fence, not read as the next."""
    with expected_protocol(SR830, [
        *CONNECT,
        (b"OUTP? 1\n", None),  # no reply in time ...
        # ... the retry's fence: the late reply (0.5) arrives first and is dropped.
        (b"*IDN?\n*OPC?\n", b"0.5\rStanford_Research_Systems,SR830,s/n00001,ver1.07\r1\r"),
        (b"OUTP? 1\n", b"0.25\r"),
        (b"OUTP? 2\n", b"-0.125\r"),
    ], timeout=0.3) as li:
        assert li.x() == 0.25
        assert li.y() == -0.125


@pytest.mark.parametrize("pty", [False, True])
def test_against_simulator(served, pty) -> None:
    sim, address = served(SimSR830, pty=pty)
    with SR830(address) as li:
        assert li.identify()["model"] == "SR830"
        li.frequency.set(77.7)
        li.sensitivity.set(5e-6)
        li.time_constant.set(0.3)
        li.amplitude.set(0.123)
        assert li.frequency.get() == pytest.approx(77.7)
        assert li.sensitivity.get() == pytest.approx(5e-6)
        assert li.time_constant.get() == pytest.approx(0.3)
        assert li.amplitude.get() == pytest.approx(0.124)  # 2 mV steps
        x, y = li.snap("x", "y")
        assert abs(x) < 1e-6 and abs(y) < 1e-6  # no system: a quiet input
        assert not li.overloaded()
        sim.faults.error = True
        with pytest.raises(InstrumentError) as info:
            li.phase.set(30)
        assert info.value.code == 4
        li.write("BOGUS 1")
        with pytest.raises(InstrumentError) as info:
            li.check_errors("BOGUS 1")
        assert info.value.code == 5
        sim.faults.garble = True
        with pytest.raises(ProtocolError):
            li.x()
        sim.faults.garble = False
    assert sim.amplitude == pytest.approx(0.004)  # safe state on the way out


def test_outx_gpib_silences_the_rs232_port(served) -> None:
    sim, address = served(SimSR830)
    li = SR830(address, timeout=0.3)
    li.connect()
    try:
        li.write("OUTX 1")
        with pytest.raises(InstrumentTimeout):
            li.transport.query("OUTP? 1")  # the bare link: the lock-in answers on GPIB only
        # The driver finds no fence answer, reopens the link and its on_connect selects the
        # RS-232 port again (OUTX 0): the read succeeds.
        assert isinstance(li.x(), float)
        assert li.transport.recoveries["reconnect"] == 1
    finally:
        li.close()


def test_readouts_are_get_only_parameters_and_calls_still_read() -> None:
    """``li.r.get()`` and ``li.r()`` send the same query; a readout has a unit and cannot be set."""
    with expected_protocol(SR830, [
        *CONNECT,
        (b"OUTP? 3\n", b"0.25\r"),
        (b"OUTP? 3\n", b"0.5\r"),
        (b"LIAS?\n", b"9\r"),  # bits 0 and 3: input overload and unlock, read once and cleared
    ]) as li:
        assert li.r.get() == 0.25
        assert li.r() == 0.5
        assert (li.r.unit, li.theta.unit, li.x.gettable, li.x.settable) == ("V", "deg", True, False)
        with pytest.raises(AttributeError, match="cannot be set"):
            li.r.set(1.0)
        assert li.status.get() == {"input", "unlock"}
        assert "r" in li.parameters and not li.r.spec.snapshot  # a reading, not a setting
