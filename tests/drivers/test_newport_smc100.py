"""Newport SMC100 pair on one bus as an XY stage: exact bytes, states, errors, the simulator."""

from __future__ import annotations

import pytest

from hilt.drivers.newport_smc100 import NewportSMC100
from hilt.errors import ConfigError, InstrumentError, InstrumentTimeout, LimitError, ProtocolError
from hilt.sims.newport_smc100 import SimSMC100
from hilt.sims.world import SimClock, World
from hilt.testing import expected_protocol


def te(addr: int, letter: str = "@") -> tuple[bytes, bytes]:
    return (f"{addr}TE\r\n".encode(), f"{addr}TE{letter}\r\n".encode())


def test_protocol_home_move_wait_read() -> None:
    with expected_protocol(NewportSMC100, [
        (b"1TS\r\n", b"1TS00000A\r\n"), (b"1OR\r\n", None), te(1),
        (b"2TS\r\n", b"2TS000032\r\n"),                      # y already referenced: no OR
        (b"1TS\r\n", b"1TS00001E\r\n"), (b"2TS\r\n", b"2TS000032\r\n"),  # homing: poll again
        (b"1TS\r\n", b"1TS000032\r\n"), (b"2TS\r\n", b"2TS000032\r\n"),
        (b"1PA5.00000\r\n", None), te(1), (b"2PA-2.50000\r\n", None), te(2),
        (b"1TS\r\n", b"1TS000033\r\n"), (b"2TS\r\n", b"2TS000033\r\n"),
        (b"1TP\r\n", b"1TP5.00000\r\n"), (b"2TP\r\n", b"2TP-2.50000\r\n"),
        (b"1VA2\r\n", None), te(1), (b"2VA2\r\n", None), te(2),
        (b"1ST\r\n", None), te(1), (b"2ST\r\n", None), te(2),
    ], poll_interval=0.001) as stage:
        stage.home()
        stage.move_to(5.0, -2.5)
        assert stage.position() == (5.0, -2.5)
        stage.velocity.set(2)
        stage.safe_state()


def test_protocol_errors_and_bad_replies() -> None:
    with expected_protocol(NewportSMC100, [
        (b"1PA5.00000\r\n", None), te(1, "H"),
        (b"2TP\r\n", b"1TP0.00000\r\n"),                     # wrong controller answered
        (b"1TS\r\n", b"1TS00003C\r\n"),                      # DISABLE: the move cannot finish
    ]) as stage:
        with pytest.raises(InstrumentError) as info:
            stage.move_to(x=5.0, wait=False)
        assert info.value.code == "H" and "NOT REFERENCED" in info.value.meaning
        with pytest.raises(ProtocolError):
            stage.y.get()
        with pytest.raises(InstrumentError, match="not ready"):
            stage.is_moving()


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(NewportSMC100, [], x_travel=(0.0, 25.0), y_travel=(-12.5, 12.5),
                           limits={"x": (0.0, 20.0)}) as stage:
        with pytest.raises(LimitError):
            stage.move_to(-1.0, 0.0)
        with pytest.raises(LimitError, match="soft limits"):
            stage.move_to(21.0, 0.0)
        with pytest.raises(LimitError):
            stage.move_to(1.0, 13.0)
        with pytest.raises(LimitError):
            stage.velocity.set(0)
    with pytest.raises(ConfigError):
        NewportSMC100("socket://127.0.0.1:1", x_address=3, y_address=3)


@pytest.mark.parametrize("pty", [False, True])
def test_against_simulator(served, pty) -> None:
    clock = SimClock("manual")
    world = World(clock=clock)
    sim, address = served(SimSMC100, pty=pty, world=world, name="stage", start=(3.0, -2.0))
    with NewportSMC100(address, name="stage", poll_interval=0.001, move_timeout=1.0) as stage:
        # Not referenced after power-up: the controller refuses moves.
        with pytest.raises(InstrumentError) as info:
            stage.move_to(1.0, 1.0)
        assert info.value.code == "H"
        stage.home(wait=False)
        assert stage.status(1) == (0, "1E")
        with pytest.raises(InstrumentTimeout):
            stage.wait_until_done(timeout=0.05)  # homing takes simulated time
        clock.advance(10.0)
        stage.wait_until_done()
        assert stage.status(1)[1] == "32" and stage.position() == (0.0, 0.0)
        stage.move_to(5.0, 5.0, wait=False)
        assert stage.status(2)[1] == "28"
        clock.advance(100.0)
        stage.wait_until_done()
        assert stage.position() == (5.0, 5.0)
        assert world.get("stage.position_fn")(clock.now()) == (5.0, 5.0)
        # Its own software limit, narrower than the driver's travel: error G, no motion.
        stage.send(1, "SR4")
        with pytest.raises(InstrumentError) as info:
            stage.move_to(x=4.5)
        assert info.value.code == "G"
        assert not stage.is_moving()
        sim.faults.error = True
        with pytest.raises(InstrumentError) as info:
            stage.move_to(y=1.0)
        assert info.value.code == "V"
        stage.move_to(y=-1.0, wait=False)
    assert sim.controllers[2].state(clock.now()) == "33"  # stopped by the safe state
