"""Qontrol Q8iv daisy chain: exact bytes, OK/error replies, vector transactions, the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from hilt.drivers.qontrol import QontrolError, QontrolQ8iv
from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.sims.qontrol import SimQontrolQ8iv
from hilt.sims.world import World
from hilt.testing import expected_protocol

CONNECT = (b"nupall?\n", b"Q8iv-01F3: 0\n")


def test_protocol_set_get_and_vectors() -> None:
    with expected_protocol(QontrolQ8iv, [
        CONNECT,
        (b"v3=4.5\n", b"OK\n"),
        (b"v3?\n", b"+4.5000 V\n"),
        (b"i2?\n", b"+4.5000 mA\n"),
        (b"vmax0=8\n", b"OK\n"),
        (b"VVEC0=0,0.5,1,1.5,2,2.5,3,3.5\n", b"OK\n"),
        (b"vall?\n", b"".join(f"{v:+.4f} V\n".encode() for v in np.arange(8) * 0.5)),
        (b"vipall?\n", b"".join(f"0,{c}: +1.0000 V, +{c}.0000 mA\n".encode() for c in range(8))),
        (b"id?\n", b"Q8iv-01F3\n"),
        (b"firmware?\n", b"v2.4.1\n"),
    ]) as q:
        q.channels[3].voltage.set(4.5)
        assert q.channels[3].voltage.get() == 4.5
        assert q.channels[2].current.get() == 4.5
        q.channels[0].vmax.set(8)
        q.set_voltages(np.arange(8) * 0.5)
        np.testing.assert_allclose(q.get_voltages(), np.arange(8) * 0.5)
        v, i = q.get_vip()
        np.testing.assert_allclose(v, 1.0)
        np.testing.assert_allclose(i, np.arange(8))
        assert q.identify() == {"vendor": "Qontrol", "model": "Q8iv", "serial": "01F3", "firmware": "v2.4.1"}


def test_protocol_daisy_chain_sets_one_vector_per_module() -> None:
    chain = b"Q8iv-01F3: 0\nQ8iv-01F4: 1\n"
    with expected_protocol(QontrolQ8iv, [
        (b"nupall?\n", chain),
        (b"VVEC0=1,1,1,1,1,1,1,1\n", b"OK\n"),
        (b"VVEC8=2,2,2,2,2,2,2,2\n", b"OK\n"),
    ], modules=2) as q:
        assert len(q.channels) == 16
        q.set_voltages([1.0] * 8 + [2.0] * 8)


def test_error_line_instead_of_a_reply_is_an_instrument_error() -> None:
    with expected_protocol(QontrolQ8iv, [
        CONNECT,
        (b"v3=7\n", b"E01:03\n"),
        # After an error line the rest of the reply may still come: the fence finds the place.
        (b"id?\nnchan?\n", b"Q8iv-0001\n8\n"),
        (b"vall?\n", b"+0.0000 V\n+0.0000 V\nE10:00\n"),
    ]) as q:
        with pytest.raises(QontrolError) as info:
            q.channels[3].voltage.set(7)
        assert (info.value.code, info.value.channel) == (1, 3)
        assert "over-voltage" in info.value.meaning
        with pytest.raises(InstrumentError) as info2:
            q.get_voltages()
        assert info2.value.code == 10


def test_garbled_replies_are_protocol_errors() -> None:
    with expected_protocol(QontrolQ8iv, [
        CONNECT,
        (b"v1=1\n", b"KO\n"),
        (b"v1?\n", b"+1.0000 mA\n"),
    ]) as q:
        with pytest.raises(ProtocolError):
            q.channels[1].voltage.set(1)
        with pytest.raises(ProtocolError):
            q.channels[1].voltage.get()


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(QontrolQ8iv, [CONNECT], limits={"voltage": (0, 8)},
                           channel_limits={5: (0, 3)}) as q:
        with pytest.raises(LimitError):
            q.channels[0].voltage.set(8.5)
        with pytest.raises(LimitError):
            q.channels[0].voltage.set(-0.1)
        with pytest.raises(LimitError):
            q.channels[0].current.set(25)  # Q8iv full scale is 24 mA
        with pytest.raises(LimitError):
            q.channels[5].voltage.set(4)  # this channel's own limit
        with pytest.raises(LimitError):
            q.set_voltages([1, 1, 1, 1, 1, 4, 1, 1])  # one bad element: nothing is sent
        with pytest.raises(LimitError):
            q.set_voltages([1] * 7)
        with pytest.raises(LimitError):
            q.set_channel_limits(8, 0, 1)


def test_chain_mismatch_is_refused() -> None:
    from hilt.errors import ConfigError

    with pytest.raises(ConfigError), expected_protocol(QontrolQ8iv, [(b"nupall?\n", b"Q8b-0001: 0\n")]):
        pass


@pytest.mark.parametrize("pty", [False, True])
def test_against_simulator(served, pty) -> None:
    world = World(seed=1)
    sim, address = served(SimQontrolQ8iv, pty=pty, world=world, modules=2, load_ohm=500.0)
    with QontrolQ8iv(address, modules=2, ramp_step=2.0) as q:
        target = np.linspace(0, 7.5, 16)
        q.set_voltages(target)
        np.testing.assert_allclose(q.get_voltages(), target, atol=2e-4)
        np.testing.assert_allclose(world.get(f"{sim.name}.voltages"), target, atol=2e-4)
        np.testing.assert_allclose(q.get_currents(), target / 500.0, atol=1e-6)  # amperes
        q.channels[9].voltage.set(1.25)
        assert q.channels[9].voltage.get() == pytest.approx(1.25, abs=2e-4)
        # The channel's hardware limit: the module clamps and answers E01.
        q.channels[4].vmax.set(2.0)
        with pytest.raises(QontrolError) as info:
            q.channels[4].voltage.set(3.0)
        assert (info.value.code, info.value.channel) == (1, 4)
        assert sim.v[4] == pytest.approx(2.0, abs=2e-4)
        assert q.channels[4].voltage.get() == pytest.approx(2.0, abs=2e-4)  # back in step
        sim.faults.error = True
        with pytest.raises(InstrumentError) as info:
            q.channels[0].voltage.set(1.0)
        assert info.value.code == 15
        assert q.channels[1].voltage.get() == pytest.approx(target[1], abs=2e-4)  # link still in step
        sent_before = len(q.transport.exchanges)
    # Safe state: vall? then 7.5 V -> 0 V in steps of at most 2 V, one VVEC per module each.
    np.testing.assert_array_equal(sim.v, 0.0)
    sent = [e.data for e in q.transport.exchanges][sent_before:]
    vecs = [d for d in sent if d.startswith(b"VVEC")]
    assert len(vecs) == 2 * 4


def test_garbled_simulator_reply_is_a_protocol_error(served) -> None:
    sim, address = served(SimQontrolQ8iv)
    with QontrolQ8iv(address) as q:
        sim.faults.garble = True
        with pytest.raises(ProtocolError):
            q.channels[0].voltage.get()
        sim.faults.garble = False


def test_protocol_current_sets_are_bounded_through_the_load() -> None:
    # 6 mA through 1 kOhm is 6 V, inside [0, 8]: sent. 9 mA would be 9 V: refused, nothing sent.
    with expected_protocol(QontrolQ8iv, [CONNECT, (b"i2=6\n", b"OK\n")],
                           limits={"voltage": (0, 8)}, load_ohm=1000.0) as q:
        q.channels[2].current.set(6)
        with pytest.raises(LimitError, match="9 mA through 1000 ohm is 9 V"):
            q.channels[2].current.set(9)
        with pytest.raises(LimitError, match="not a number"):
            q.channels[2].current.set(True)


def test_protocol_per_channel_loads() -> None:
    # Channel 1's heater is 2 kOhm: 5 mA there is 10 V; channel 0 has no declared load.
    with expected_protocol(QontrolQ8iv, [CONNECT, (b"i1=3\n", b"OK\n")],
                           limits={"voltage": (0, 8)}, load_ohm={1: 2000.0}) as q:
        q.channels[1].current.set(3)
        with pytest.raises(LimitError, match="10 V"):
            q.channels[1].current.set(5)
        with pytest.raises(LimitError, match="load_ohm"):
            q.channels[0].current.set(1)
