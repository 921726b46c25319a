"""XY stage simulators move in simulated time on trapezoidal profiles and publish the position."""

from __future__ import annotations

import math

import pytest

from hilt.sims.newport_esp301 import SimESP301, TrapezoidMove
from hilt.sims.newport_smc100 import SimSMC100
from hilt.sims.world import SimClock, World


def ask(session, text: str) -> str:  # type: ignore[no-untyped-def]
    return session.feed(text.encode()).decode()


def test_trapezoid_and_triangle_profiles() -> None:
    # Long move: reaches 5 mm/s after 0.25 s (0.625 mm), cruises, decelerates symmetrically.
    long = TrapezoidMove(0.0, 10.0, 2.0, 5.0, 20.0)
    assert long.duration == pytest.approx(2.25)
    assert long.position(2.0 + 0.25) == pytest.approx(0.625)
    assert long.position(2.0 + 1.125) == pytest.approx(5.0)
    assert long.position(2.0 + 2.0) == pytest.approx(10.0 - 0.625)
    assert long.position(100.0) == 10.0 and long.position(0.0) == 0.0
    # Short move never reaches full speed: t = 2 sqrt(d/a), half way at half time.
    short = TrapezoidMove(1.0, 0.0, 0.0, 5.0, 20.0)
    assert short.duration == pytest.approx(2 * math.sqrt(1.0 / 20.0))
    assert short.position(short.duration / 2) == pytest.approx(0.5)
    # Monotonic in between.
    ts = [i * long.duration / 50 + 2.0 for i in range(51)]
    xs = [long.position(t) for t in ts]
    assert all(b >= a for a, b in zip(xs, xs[1:], strict=False))


def test_esp301_move_takes_its_profile_time() -> None:
    clock = SimClock("manual")
    world = World(clock=clock)
    seen: list[object] = []
    world.watch("det.position_fn", lambda key, fn: seen.append(fn))
    sim = SimESP301(world, name="det", velocity=5.0, acceleration=20.0, motors_on=True)
    s = sim.new_session()
    assert ask(s, "1PA10;2PA1\r") == ""
    assert seen, "a move republishes position_fn"
    fn = world.get("det.position_fn")
    assert ask(s, "1MD?\r") == "0\r\n"
    clock.advance(2.2)
    assert ask(s, "1MD?\r") == "0\r\n" and ask(s, "2MD?\r") == "1\r\n"  # y's 1 mm move is done
    x, y = fn(clock.now())
    assert x == pytest.approx(10.0 - 0.5 * 20.0 * 0.05**2) and y == 1.0
    clock.advance(0.05)
    assert ask(s, "1MD?\r") == "1\r\n"
    assert ask(s, "1TP?;2TP?\r") == "10.00000,1.00000\r\n"
    # Travel limit: the controller refuses and the axis stays.
    assert ask(s, "1PA30\r") == ""
    assert ask(s, "TB?\r").startswith("106, ")
    assert ask(s, "1MD?\r") == "1\r\n"
    # Errors for malformed commands, the ESP way.
    ask(s, "9PA1\r")
    ask(s, "1XX\r")
    ask(s, "PA1\r")
    assert [ask(s, "TE?\r") for _ in range(4)] == ["9\r\n", "6\r\n", "37\r\n", "0\r\n"]


def test_smc100_refuses_until_homed_then_moves_in_sim_time() -> None:
    clock = SimClock("manual")
    world = World(clock=clock)
    sim = SimSMC100(world, name="det", start=(3.0, -2.0), velocity=2.0, acceleration=10.0)
    s = sim.new_session()
    assert ask(s, "1TS\r\n") == "1TS00000A\r\n"
    assert ask(s, "1PA5\r\n") == "" and ask(s, "1TE\r\n") == "1TEH\r\n"
    ask(s, "1OR\r\n")
    ask(s, "2OR\r\n")
    homing = TrapezoidMove(3.0, 0.0, 0.0, 2.0, 10.0)
    assert ask(s, "1TS\r\n") == "1TS00001E\r\n"
    assert ask(s, "1PA1\r\n") == "" and ask(s, "1TE\r\n") == "1TEL\r\n"  # not while homing
    clock.advance(homing.duration)
    assert ask(s, "1TS\r\n") == "1TS000032\r\n"
    assert ask(s, "1OR\r\n") == "" and ask(s, "1TE\r\n") == "1TEK\r\n"  # homed already
    t0 = clock.now()
    ask(s, "1PA4\r\n")
    move = TrapezoidMove(0.0, 4.0, t0, 2.0, 10.0)
    clock.advance(move.duration / 2)
    assert float(ask(s, "1TP\r\n")[3:]) == pytest.approx(2.0)
    assert world.get("det.position_fn")(clock.now())[0] == pytest.approx(2.0)
    assert ask(s, "1TS\r\n") == "1TS000028\r\n"
    clock.advance(move.duration / 2 + 1e-9)  # (float sums: land just past the end time)
    assert ask(s, "1TS\r\n") == "1TS000033\r\n"
    assert ask(s, "1TP\r\n") == "1TP4.00000\r\n"
    # Beyond the software limit: G, no motion. A controller not on the bus stays silent.
    assert ask(s, "1PA26\r\n") == "" and ask(s, "1TE\r\n") == "1TEG\r\n"
    assert ask(s, "1TS\r\n") == "1TS000033\r\n"
    assert ask(s, "7TS\r\n") == ""
    # Reset: not referenced again.
    ask(s, "1RS\r\n")
    assert ask(s, "1TS\r\n") == "1TS00000A\r\n"


def test_position_fn_tracks_the_raster() -> None:
    clock = SimClock("manual")
    world = World(clock=clock)
    sim = SimESP301(world, name="det", x_axis=2, y_axis=3, velocity=10.0, acceleration=100.0,
                    motors_on=True)
    s = sim.new_session()
    path = []
    for y in (0.0, 1.0):
        for x in (0.0, 1.0, 2.0):
            ask(s, f"2PA{x};3PA{y}\r")
            clock.advance(1.0)
            path.append(world.get("det.position_fn")(clock.now()))
    assert path == [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (0.0, 1.0), (1.0, 1.0), (2.0, 1.0)]
