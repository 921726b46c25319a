"""JDS Uniphase SB 1xN fibre switch: exact bytes, errors, limits, and the simulator in the world."""

from __future__ import annotations

import pytest

from hilt.drivers.jdsu_sb import JdsuSB
from hilt.errors import ConfigError, InstrumentError, LimitError, ProtocolError, UnitError
from hilt.instruments.kinds import OpticalSwitch
from hilt.sims.jdsu_sb import BAD_ARGUMENT, SimJdsuSB
from hilt.sims.world import World
from hilt.testing import expected_protocol

NO_ERROR = (b"LERR?\r", b"000\r\n")


def test_protocol_route_read_and_park() -> None:
    with expected_protocol(JdsuSB, [
        (b"CLOSE 3\r", None), NO_ERROR,
        (b"LRN?\r", b"CLOSE 3;XDRS 0;SRE 0\r\n"),
        (b"CLOSE 8\r", None), NO_ERROR,
        (b"RESET\r", None), NO_ERROR,
        (b"LRN?\r", b"CLOSE 0;XDRS 0;SRE 0\r\n"),
    ]) as switch:
        switch.channel.set(3)
        assert switch.channel.get() == 3
        switch.channel.set("8")  # text is read as a number too
        switch.park()
        assert switch.channel.get() == 0
        switch.safe_state()  # the route stays: nothing on the wire


def test_protocol_identify_reads_the_learn_string() -> None:
    with expected_protocol(JdsuSB, [(b"LRN?\r", b"CLOSE 2;XDRS 5;SRE 0\r\n")], channels=4) as switch:
        assert switch.identify() == {"vendor": "JDS Uniphase", "model": "SB 1x4", "serial": "", "firmware": "",
                                     "state": "CLOSE 2;XDRS 5;SRE 0"}


def test_protocol_an_error_number_and_a_garbled_reply() -> None:
    with expected_protocol(JdsuSB, [
        (b"CLOSE 5\r", None), (b"LERR?\r", b"101\r\n"),
        (b"LRN?\r", b"PATH 5\r\n"),
        (b"LRN?\r", b"CLOSE 5;XDRS 0;SRE 0\r\n"),
        (b"CLOSE 6\r", None), (b"LERR?\r", b"OK\r\n"),
    ]) as switch:
        with pytest.raises(InstrumentError) as info:
            switch.channel.set(5)
        assert info.value.code == 101
        with pytest.raises(ProtocolError, match="cannot parse channel"):
            switch.channel.get()
        assert switch.channel.get() == 5
        with pytest.raises(ProtocolError, match="three-digit"):
            switch.channel.set(6)


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(JdsuSB, [], channels=4) as switch:
        for bad in (0, 5, 2.5, True, None, -1):
            with pytest.raises(LimitError):
                switch.channel.set(bad)
        with pytest.raises(UnitError):
            switch.channel.set("third")
    for bad in (1, 65, 4.0, True):
        with pytest.raises(ConfigError, match="channels"):
            JdsuSB("socket://127.0.0.1:1", channels=bad)


def test_against_simulator(served) -> None:
    world = World(seed=1)
    sim, address = served(SimJdsuSB, world=world, name="switch", channels=8, channel=1)
    with JdsuSB(address, name="switch", channels=8) as switch:
        assert isinstance(switch, OpticalSwitch)
        assert switch.channel.get() == 1
        assert world.get("switch.channel") == 1
        switch.channel.set(7)
        assert switch.channel.get() == 7 and world.get("switch.channel") == 7
        switch.safe_state()
        assert world.get("switch.channel") == 7  # the safe state leaves the route
        switch.park()
        assert switch.channel.get() == 0 and world.get("switch.channel") == 0
        # A route the unit does not have, sent by hand: the switch queues an error and stays.
        switch.write("CLOSE 9")
        with pytest.raises(InstrumentError) as info:
            switch.check_errors("CLOSE 9")
        assert info.value.code == BAD_ARGUMENT and world.get("switch.channel") == 0
        switch.write("CLOSE 2;XDR 3 1")
        assert switch.query("XDRS?") == "4" and switch.channel.get() == 2
    assert sim.moves == 2


def test_against_simulator_on_a_pty(served) -> None:
    _, path = served(SimJdsuSB, pty=True, channels=4)
    with JdsuSB(path, channels=4) as switch:
        switch.channel.set(4)
        assert switch.channel.get() == 4
