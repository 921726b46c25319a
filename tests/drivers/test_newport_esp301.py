"""Newport ESP301 XY stage: exact bytes, limits before bytes, the simulator in simulated time."""

from __future__ import annotations

import pytest

from hilt.drivers.newport_esp301 import NewportESP301
from hilt.errors import InstrumentError, InstrumentTimeout, LimitError, ProtocolError
from hilt.sims.newport_esp301 import SimESP301, TrapezoidMove
from hilt.sims.world import SimClock, World
from hilt.testing import expected_protocol

NO_ERROR = (b"TB?\r", b"0, 1234, NO ERROR DETECTED\r\n")
# On connect the driver powers both motors (the controller starts with them off).
MOTORS_ON = [(b"1MO;2MO\r", None), NO_ERROR]


def test_protocol_move_wait_and_read() -> None:
    with expected_protocol(NewportESP301, [*MOTORS_ON,
        (b"1PA10.00000;2PA-5.50000\r", None), NO_ERROR,
        (b"1MD?\r", b"0\r\n"),                      # x still moving: poll again
        (b"1MD?\r", b"1\r\n"), (b"2MD?\r", b"1\r\n"),
        (b"1TP?\r", b"10.00000\r\n"), (b"2TP?\r", b"-5.50000\r\n"),
        (b"1VA2.50000;2VA2.50000\r", None), NO_ERROR,
        (b"1VA?\r", b"2.50000\r\n"),
        (b"1OR;2OR\r", None), NO_ERROR,
        (b"VE?\r", b"ESP301 Version 3.0.2 6/5/13\r\n"),
        (b"1ST;2ST\r", None), NO_ERROR,
    ], poll_interval=0.001) as stage:
        stage.move_to(10, -5.5)
        assert stage.position() == (10.0, -5.5)
        stage.velocity.set(2.5)
        assert stage.velocity.get() == 2.5
        stage.home(wait=False)
        assert stage.identify()["model"] == "ESP301"
        stage.safe_state()


FENCE = (b"VE?\r1MD?\r", b"ESP301 Version 3.0.2 6/5/13\r\n1\r\n")


def test_protocol_controller_error_and_garbled_reply() -> None:
    with expected_protocol(NewportESP301, [*MOTORS_ON,
        (b"2PA3.00000\r", None), (b"TB?\r", b"207, 99, NEGATIVE SOFTWARE LIMIT DETECTED\r\n"),
        (b"1TP?\r", b"\xd3\xc1\r\n"), FENCE, (b"1TP?\r", b"\xd3\xc1\r\n"), FENCE,
        (b"1TP?\r", b"\xd3\xc1\r\n"),
        FENCE,  # the next transaction finds its place first
        (b"1MD?\r", b"2\r\n"),
    ], x_axis=1, y_axis=2) as stage:
        with pytest.raises(InstrumentError) as info:
            stage.move_to(y=3.0, wait=False)
        assert (info.value.code, info.value.meaning) == (207, "NEGATIVE SOFTWARE LIMIT DETECTED")
        with pytest.raises(ProtocolError):
            stage.x.get()
        with pytest.raises(ProtocolError):
            stage.is_moving()


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(NewportESP301, MOTORS_ON, travel=(-10.0, 10.0), limits={"y": (-2.0, 2.0)}) as stage:
        with pytest.raises(LimitError):
            stage.move_to(11.0, 0.0)
        with pytest.raises(LimitError, match="soft limits"):
            stage.move_to(0.0, 3.0)
        with pytest.raises(LimitError):
            stage.velocity.set(50)
        with pytest.raises(LimitError):
            stage.x.set(-10.5)


@pytest.mark.parametrize("pty", [False, True])
def test_against_simulator(served, pty) -> None:
    clock = SimClock("manual")
    world = World(clock=clock)
    sim, address = served(SimESP301, pty=pty, world=world, name="stage", velocity=5.0, acceleration=20.0)
    with NewportESP301(address, name="stage", poll_interval=0.001) as stage:
        stage.move_to(10.0, 5.0, wait=False)
        assert stage.is_moving()
        profile = TrapezoidMove(0.0, 10.0, 0.0, 5.0, 20.0)
        assert profile.duration == pytest.approx(2.25)  # 10/5 + 5/20
        clock.advance(1.0)
        x, _ = stage.position()
        assert x == pytest.approx(profile.position(1.0))
        with pytest.raises(InstrumentTimeout):
            stage.wait_until_done(timeout=0.05)  # simulated time stands still
        clock.advance(1.25)
        stage.wait_until_done(timeout=1.0)
        assert stage.position() == pytest.approx((10.0, 5.0))
        assert world.get("stage.position_fn")(clock.now()) == pytest.approx((10.0, 5.0))
        # The controller's own refusal: its software limit is narrower than the driver's travel.
        stage.write("1SR8.0", check_errors=True)
        with pytest.raises(InstrumentError) as info:
            stage.move_to(x=9.0)
        assert info.value.code == 106
        sim.faults.error = True
        with pytest.raises(InstrumentError) as info:
            stage.move_to(x=1.0)
        assert info.value.code == 7
        assert not stage.is_moving()
        stage.move_to(x=0.0, wait=False)
    # Safe state stopped the axes where they were.
    assert not any(ax.moving(clock.now()) for ax in sim.axes.values())
