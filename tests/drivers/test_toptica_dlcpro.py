"""Toptica DLC pro (DeCoF command line): banner, prompt-framed replies, errors, THz frequency."""

from __future__ import annotations

import pytest

from hilt.drivers.toptica_dlcpro import TopticaDLCpro
from hilt.errors import ConfigError, InstrumentError, InstrumentTimeout, LimitError, ProtocolError
from hilt.sims.toptica_dlcpro import SimDLCpro
from hilt.testing import expected_protocol

BANNER = b"DeCoF Command Line\r\n> "
P = b"\r\n> "  # every answer ends with the prompt


def dlc(exchanges, **kwargs):  # type: ignore[no-untyped-def]
    return expected_protocol(TopticaDLCpro, exchanges, greeting=BANNER, kind="tcp", **kwargs)


def test_protocol_thz_frequency_and_bias() -> None:
    with dlc([
        (b"(param-ref 'emission)\n", b"#f" + P),
        # 1 THz about 1550 nm: the two lasers tuned in opposite directions.
        (b"(param-set! 'laser1:ctl:wavelength-set 1546.003393)\n", b"0" + P),
        (b"(param-set! 'laser2:ctl:wavelength-set 1554.017324)\n", b"0" + P),
        (b"(param-set! 'laser1:dl:cc:enabled #t)\n", b"0" + P),
        (b"(param-set! 'laser1:thz:bias:voltage-set 0.5)\n", b"0" + P),
        (b"(param-ref 'laser1:ctl:wavelength-act)\n", b"1546.003393" + P),
        (b"(param-ref 'laser2:ctl:wavelength-act)\n", b"1554.017324" + P),
        (b"(param-ref 'laser1:thz:photocurrent)\n", b"0.4912" + P),
    ]) as laser:
        assert laser.emission.get() is False
        laser.frequency.set(1e12)
        laser.laser1_enabled.set(True)
        laser.bias.cache = 0.0  # ramp from a known 0 V: one step of 0.5 V
        laser.bias.set(0.5)
        assert laser.frequency.get() == pytest.approx(1e12, rel=1e-7)
        assert laser.photocurrent.get() == pytest.approx(0.4912)


def test_protocol_errors() -> None:
    with dlc([
        (b"(param-ref 'laser1:thz:photocurrent)\n", b"Error: -2 unknown parameter" + P),
        (b"(param-set! 'laser2:dl:cc:enabled #t)\n", b"-6" + P),
        (b"(param-ref 'emission)\n", b"maybe" + P),
    ]) as laser:
        with pytest.raises(InstrumentError) as info:
            laser.photocurrent.get()
        assert (info.value.code, info.value.meaning) == (-2, "unknown parameter")
        with pytest.raises(InstrumentError) as info:
            laser.laser2_enabled.set(True)
        assert info.value.code == -6
        with pytest.raises(ProtocolError):
            laser.emission.get()


def test_protocol_safe_state_ramps_bias_down() -> None:
    with dlc([
        (b"(param-set! 'laser1:thz:bias:voltage-set 0.5)\n", b"0" + P),
        (b"(param-set! 'laser1:thz:bias:voltage-set 0.0)\n", b"0" + P),
        (b"(param-set! 'laser1:thz:bias:enabled #f)\n", b"0" + P),
        (b"(param-set! 'laser1:dl:cc:enabled #f)\n", b"0" + P),
        (b"(param-set! 'laser2:dl:cc:enabled #f)\n", b"0" + P),
    ]) as laser:
        laser.bias.cache = 1.0
        laser.safe_state()


def test_missing_banner_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="banner"), \
            expected_protocol(TopticaDLCpro, [], greeting=b"Welcome\r\n> ", kind="tcp"):
        pass


def test_limits_refused_before_any_byte() -> None:
    with dlc([], limits={"bias": (-1.0, 1.0)}) as laser:
        with pytest.raises(LimitError):
            laser.frequency.set(2e12)  # beyond the THz range
        with pytest.raises(LimitError, match="soft limits"):
            laser.bias.set(1.5)
        with pytest.raises(LimitError):
            laser.wavelength1.set(1700)
    # A frequency inside the THz range but needing lasers outside their tuning range.
    with dlc([], wavelength_range=(1547.0, 1553.0)) as laser:
        with pytest.raises(LimitError, match="needs lasers"):
            laser.frequency.set(1.0e12)
    with pytest.raises(ConfigError, match="unknown role"):
        TopticaDLCpro("tcp://127.0.0.1:1", names={"nonsense": "x"})


def test_against_simulator(served) -> None:
    sim, address = served(SimDLCpro, name="thz")
    assert address.startswith("TCPIP::")  # the driver reads a VISA socket address as host:port
    with TopticaDLCpro(address, name="thz") as laser:
        assert laser.transport.kind == "tcp"
        assert laser.identify()["model"] == "DLCpro"
        laser.frequency.set(0.3e12)
        assert laser.frequency.get() == pytest.approx(0.3e12, rel=1e-6)
        assert sim.world.get("thz.output") is False
        laser.laser1_enabled.set(True)
        laser.laser2_enabled.set(True)
        laser.bias_enabled.set(True)
        laser.bias.set(1.0)
        world = sim.world
        assert world.get("thz.output") is True
        assert world.get("thz.frequency") == pytest.approx(0.3e12, rel=1e-6)
        p_300 = world.get("thz.power_dbm")
        assert -30 < p_300 < 0
        laser.frequency.set(1.0e12)
        assert world.get("thz.power_dbm") < p_300 - 10  # photomixer roll-off
        assert laser.photocurrent.get() == pytest.approx(1.0, rel=0.01)
        assert laser.emission.get() is True
        # The controller's own errors: read-only parameter, out-of-range value.
        with pytest.raises(InstrumentError) as info:
            laser.param_set("emission", False)
        assert info.value.code == -5
        with pytest.raises(InstrumentError) as info:
            laser.param_set("laser1:ctl:wavelength-set", 1700.0)
        assert info.value.code == -4
        sim.faults.error = True
        with pytest.raises(InstrumentError):
            laser.bias_enabled.set(True)
        sim.faults.garble = True
        with pytest.raises(ProtocolError):
            laser.emission.get()
        sim.faults.clear()
    # Safe state on exit: bias ramped to 0 and off, both lasers off, nothing emitted.
    assert sim.values["laser1:thz:bias:voltage-set"] == 0.0
    assert sim.world.get("thz.output") is False and sim.thz_power_w() == 0.0
    # A reply that comes too late is a timeout (a separate link: the late reply is in flight).
    late = TopticaDLCpro(address, timeout=0.2)
    late.connect()
    try:
        sim.faults.delay = 0.5
        with pytest.raises(InstrumentTimeout):
            late.emission.get()
    finally:
        sim.faults.clear()
        late.close()
