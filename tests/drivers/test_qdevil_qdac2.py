"""QDevil QDAC-II: exact bytes, compound-message vectors, error queue, the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.drivers.qdevil_qdac2 import QDevilQDac2, _volts
from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.sims.qdevil_qdac2 import SimQDac2
from hilt.sims.world import World
from hilt.testing import expected_protocol

NO_ERROR = (b"syst:err?\n", b'0,"No error"\n')


def test_protocol_channel_and_vectors() -> None:
    values = np.linspace(-1, 1, 24)
    assert (_volts(0.25), _volts(-1 / 3), _volts(0.0), _volts(-1e-9)) == ("0.25", "-0.3333333", "0", "0")
    vector_set = ";:".join(f"sour{k + 1}:volt {_volts(v)}" for k, v in enumerate(values)).encode() + b"\n"
    vector_get = ";:".join(f"sour{k + 1}:volt?" for k in range(24)).encode() + b"\n"
    with expected_protocol(QDevilQDac2, [
        (b"sour3:volt 0.25\n", None), NO_ERROR,
        (b"sour3:volt?\n", b"0.25\n"),
        (vector_set, None), NO_ERROR,
        (vector_get, ";".join(f"{v:.9g}" for v in values).encode() + b"\n"),
        (vector_get, b"1;2\n"),
    ]) as q:
        assert q.channels[2].name == "ch03"
        q.channels[2].voltage.set(0.25)
        assert q.channels[2].voltage.get() == 0.25
        q.set_voltages(values)
        np.testing.assert_allclose(q.get_voltages(), values, atol=1e-6)
        with pytest.raises(ProtocolError):
            q.get_voltages()


def test_protocol_current_readback() -> None:
    currents_query = ";:".join(f"read{k + 1}?" for k in range(24)).encode() + b"\n"
    with expected_protocol(QDevilQDac2, [
        (currents_query, b"1e-3;" + b"0;" * 22 + b"-2.5E-06\n"),
        (currents_query, b"1e-3;nan\n"),
    ]) as q:
        amps = q.get_currents()
        assert amps.shape == (24,) and amps[0] == 1e-3 and amps[-1] == -2.5e-6 and not amps[1:-1].any()
        with pytest.raises(ProtocolError):
            q.get_currents()


def test_protocol_error_queue() -> None:
    with expected_protocol(QDevilQDac2, [
        (b"sour1:volt 5\n", None), (b"syst:err?\n", b'-222,"Data out of range"\n'), NO_ERROR,
    ]) as q, pytest.raises(InstrumentError) as info:
        q.channels[0].voltage.set(5)
    assert info.value.code == -222


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(QDevilQDac2, [], limits={"voltage": (0, 5)}) as q:
        with pytest.raises(LimitError):
            q.channels[0].voltage.set(10.5)
        with pytest.raises(LimitError):
            q.channels[0].voltage.set(-1)
        with pytest.raises(LimitError):
            q.set_voltages([1.0] * 23 + [6.0])
        with pytest.raises(LimitError):
            q.set_voltages([1.0] * 12)


def test_against_simulator(served) -> None:
    world = World(seed=3)
    sim, address = served(SimQDac2, world=world)
    with QDevilQDac2(address, ramp_step=0.5) as q:
        assert q.identify()["model"] == "QDAC-II"
        target = np.linspace(-2, 2, 24)
        q.set_voltages(target)
        np.testing.assert_allclose(q.get_voltages(), target, atol=1e-6)
        np.testing.assert_allclose(world.get(f"{sim.name}.voltages"), target, atol=1e-6)
        q.channels[23].voltage.set(-1.5)
        assert q.channels[23].voltage.get() == -1.5
        with pytest.raises(InstrumentError) as info:
            q.write("sour25:volt 1", check_errors=True)
        assert info.value.code == -113
        sim.faults.error = True
        with pytest.raises(InstrumentError):
            q.channels[0].voltage.set(1.0)
    np.testing.assert_array_equal(sim.v, 0.0)


def test_a_nan_read_back_is_a_protocol_error_not_a_ramp_start() -> None:
    # A safe-state ramp from "nan" would send "sour1:volt nan"; the read is refused instead.
    reply = ";".join(["nan"] + ["0"] * 23).encode() + b"\n"
    command = ";:".join(f"sour{k + 1}:volt?" for k in range(24)).encode() + b"\n"
    with expected_protocol(QDevilQDac2, [(command, reply)]) as q, pytest.raises(ProtocolError):
        q.get_voltages()
