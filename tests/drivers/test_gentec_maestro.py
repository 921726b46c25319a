"""Gentec-EO MAESTRO: exact bytes (no terminator out, CR LF back), verified sets, the simulator."""

from __future__ import annotations

import pytest

from hilt.drivers.gentec_maestro import GentecMaestro
from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.sims.gentec_maestro import SimMaestro
from hilt.testing import expected_protocol


def test_protocol_read_all_is_one_reading_of_the_one_port() -> None:
    with expected_protocol(GentecMaestro, [(b"*CVU", b"Current Value : 0.00500095\r\n")]) as pm:
        assert pm.n_ports == 1
        assert pm.read_all().tolist() == [0.00500095]


def test_protocol_reads_and_verified_sets() -> None:
    with expected_protocol(GentecMaestro, [
        (b"*VER", b"MAESTRO Version 1.00.12\r\n"),
        (b"*CVU", b"Current Value : 0.00500095\r\n"),
        (b"*CVU", b"1.25e-06\r\n"),
        (b"*PWC01064", None), (b"*GWL", b"PWC: 1064\r\n"),
        (b"*SCS20", None), (b"*GCR", b"Range : 20\r\n"),
        (b"*SAS1", None), (b"*GAS", b"AutoScale : 1\r\n"),
        (b"*SOU", None), (b"*GZO", b"Zero : 1\r\n"),
    ]) as pm:
        assert pm.identify() == {"vendor": "Gentec-EO", "model": "MAESTRO", "serial": "", "firmware": "1.00.12"}
        assert pm.power() == 0.00500095
        assert pm.power() == 1.25e-6
        pm.wavelength.set(1064)
        pm.scale_index.set(20)
        pm.autoscale.set(True)
        pm.zero()


def test_error_reply_and_silent_refusal() -> None:
    with expected_protocol(GentecMaestro, [
        # The error line arrives in place of the readback; the readback's own reply follows.
        (b"*PWC00100", None), (b"*GWL", b"Invalid Parameter\r\nPWC: 1064\r\n"),
        (b"*SCS05", None), (b"*GCR", b"Range : 18\r\n"),  # silently ignored
        (b"*GWL", b"PWC: 1064\r\n"),
    ]) as pm:
        with pytest.raises(InstrumentError) as info:
            pm.wavelength.set(100)
        assert info.value.code == "Invalid Parameter" and info.value.command == "*PWC00100"
        with pytest.raises(InstrumentError) as info:
            pm.scale_index.set(5)
        assert info.value.code == "not applied"
        assert pm.wavelength.get() == 1064  # still in step


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(GentecMaestro, []) as pm:
        with pytest.raises(LimitError):
            pm.wavelength.set(100000)  # the field has five digits
        with pytest.raises(LimitError):
            pm.wavelength.set(0)
        with pytest.raises(LimitError):
            pm.scale_index.set(42)


def test_garbled_reply_is_a_protocol_error() -> None:
    with expected_protocol(GentecMaestro, [(b"*CVU", b"Current Value : n/a\r\n"), (b"*CVU", b"\xff\xfe\r\n")]) as pm:
        with pytest.raises(ProtocolError):
            pm.power()
        with pytest.raises(ProtocolError):
            pm.power()


@pytest.mark.parametrize("pty", [False, True])
def test_against_simulator(served, pty) -> None:
    sim, address = served(SimMaestro, pty=pty)
    with GentecMaestro(address) as pm:
        assert pm.identify()["model"] == "MAESTRO"
        assert abs(pm.power()) < 2e-6  # no system: the head's noise only
        pm.wavelength.set(99999)
        assert sim.wavelength_nm == 99999
        with pytest.raises(InstrumentError):
            pm.wavelength.set(100)  # below this head's range
        pm.scale_index.set(20)
        assert pm.autoscale.get() is False
        pm.autoscale.set(True)
        sim.faults.error = True
        with pytest.raises(InstrumentError):
            pm.scale_index.set(22)
        assert pm.scale_index.get() == 20
        pm.zero()
        assert sim.zero_w is not None
        pm.clear_zero()
        sim.faults.garble = True
        with pytest.raises(ProtocolError):
            pm.power()
