"""The simulator framework: several clients, the shared world, the simulated clock, framing."""

from __future__ import annotations

import threading

import pytest

from hilt.drivers.keysight_e8257d import KeysightE8257D
from hilt.framing import Frame, FrameError, split_frames
from hilt.sims.keysight_e8257d import SimE8257D
from hilt.sims.world import SimClock, World
from hilt.transport import open_transport


def test_several_clients_at_once_share_one_instrument(served) -> None:
    sim, address = served(SimE8257D)
    a, b = KeysightE8257D(address, name="a"), KeysightE8257D(address, name="b")
    with a, b:
        a.frequency.set(3e9)
        assert b.frequency.get() == 3e9  # one instrument, two links
        errors: list[Exception] = []

        def hammer(inst: KeysightE8257D) -> None:
            try:
                for _ in range(30):
                    assert inst.identify()["model"] == "E8257D"
            except Exception as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=hammer, args=(i,)) for i in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []


def test_each_client_has_its_own_session(served) -> None:
    sim, address = served(SimE8257D)
    with open_transport(address) as one, open_transport(address) as two:
        one.write_raw(b"*IDN")  # half a command on one link ...
        assert two.query(":OUTP?") == "0"  # ... does not disturb the other
        one.write_raw(b"?\n")
        assert one.read().startswith("Keysight")


def test_world_rng_depends_on_seed_and_name_only() -> None:
    w1, w2 = World(seed=5), World(seed=5)
    assert w1.rng("a").integers(1 << 30) == w2.rng("a").integers(1 << 30)
    assert World(seed=5).rng("a").integers(1 << 30) != World(seed=6).rng("a").integers(1 << 30)
    assert World(seed=5).rng("a").integers(1 << 30) != World(seed=5).rng("b").integers(1 << 30)


def test_world_watchers_and_manual_clock() -> None:
    world = World(clock=SimClock("manual"))
    seen = []
    world.watch("synth.output", lambda k, v: seen.append(v))
    world.set("synth.output", True)
    assert seen == [True] and world.get("synth.output") is True
    assert world.clock.now() == 0.0
    world.clock.advance(2.5)
    assert world.clock.now() == 2.5
    with pytest.raises(ValueError):
        world.clock.advance(-1)


def test_split_frames_keeps_partial_bytes_and_rejects_garbage() -> None:
    data = Frame(0x01, 7, b"abc").encode() + Frame(0x02, 8).encode()
    buffer = bytearray(data[:-3])
    frames = split_frames(buffer)
    assert [(f.type, f.seq, f.payload) for f in frames] == [(1, 7, b"abc")]
    buffer += data[-3:]
    assert [f.seq for f in split_frames(buffer)] == [8] and buffer == b""
    with pytest.raises(FrameError, match="bad magic"):
        split_frames(bytearray(b"\x00" * 12))
    corrupt = bytearray(Frame(0x01, 1, b"xyz").encode())
    corrupt[11] ^= 1
    with pytest.raises(FrameError, match="CRC"):
        split_frames(corrupt)
