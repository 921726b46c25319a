"""ESP301 from a plain pyserial client: moves to the hardware limits, indefinite and index moves,
waits that let simulated time pass, limit configuration, hardware status and reset, the basic
motion commands our driver never sends."""

from __future__ import annotations

import pytest

from hilt.sims.newport_esp301 import SimESP301


def esp_ask(port, text: str) -> bytes:  # type: ignore[no-untyped-def]
    port.write(text.encode() + b"\r")
    line = port.read_until(b"\r\n")
    assert line.endswith(b"\r\n"), f"{text}: no reply (got {line!r})"
    return line[:-2]


def _sync(port) -> None:  # type: ignore[no-untyped-def]
    """The commands written before have run (the controller answers in order)."""
    assert esp_ask(port, "VE?").startswith(b"ESP301")


def test_move_to_hardware_limit_and_hardware_status(serial_port, clock) -> None:
    sim, port = serial_port(SimESP301, name="stage", motors_on=True, travel=(-25.0, 25.0),
                            hardware_travel=(-26.0, 26.5))
    port.write(b"1VA20;1MT+\r")
    assert esp_ask(port, "1MT?") == b"0"  # on its way
    _sync(port)
    clock.advance(10.0)
    assert esp_ask(port, "1MT?") == b"1" and float(esp_ask(port, "1TP?")) == pytest.approx(26.5)
    assert esp_ask(port, "PH") == b"1H, 0H"  # axis 1 at its positive limit
    assert sim.world.get("stage.position_fn")(clock.now())[0] == pytest.approx(26.5)
    port.write(b"2MT-\r")
    _sync(port)
    clock.advance(20.0)
    assert esp_ask(port, "PH") == b"201H, 0H"  # and axis 2 at its negative one (bit 9)
    port.write(b"1MT\r")  # no direction
    assert esp_ask(port, "TE?") == b"38"


def test_indefinite_and_index_moves_stop_where_they_should(serial_port, clock) -> None:
    sim, port = serial_port(SimESP301, motors_on=True, index_pitch=2.0)
    port.write(b"1VA5;1MV+\r")
    _sync(port)
    clock.advance(1.0)
    assert 0.0 < float(esp_ask(port, "1TP?")) < 25.0 and esp_ask(port, "1MD?") == b"0"
    port.write(b"1ST\r")
    stopped = float(esp_ask(port, "1TP?"))
    _sync(port)
    clock.advance(5.0)
    assert float(esp_ask(port, "1TP?")) == stopped  # ST ends an indefinite move
    port.write(b"1MV-\r")
    _sync(port)
    clock.advance(60.0)
    assert float(esp_ask(port, "1TP?")) == pytest.approx(-25.0)  # stops at the software limit
    port.write(b"1PA0.5\r")
    _sync(port)
    clock.advance(60.0)
    port.write(b"1MZ+\r")
    _sync(port)
    clock.advance(5.0)
    assert float(esp_ask(port, "1TP?")) == pytest.approx(2.0)  # the next index above 0.5
    port.write(b"1MZ-\r")
    _sync(port)
    clock.advance(5.0)
    assert float(esp_ask(port, "1TP?")) == pytest.approx(0.0)
    port.write(b"3MF;3MV+\r")
    assert esp_ask(port, "TE?") == b"313"  # motor off: MOTOR NOT ENABLED


def test_waits_let_simulated_time_pass(serial_port, clock) -> None:
    sim, port = serial_port(SimESP301, motors_on=True)
    port.write(b"1VA5;1AC20;1PA10\r")
    # WS holds the next command until the axis stops (and 250 ms more): TP answers the target.
    assert float(esp_ask(port, "1WS250;1TP?")) == pytest.approx(10.0)
    end = sim.axes[1].move.t_end
    assert clock.now() == pytest.approx(end + 0.25)
    port.write(b"WT1500\r")
    assert esp_ask(port, "1MD?") == b"1" and clock.now() == pytest.approx(end + 1.75)
    port.write(b"WT-5\r")
    assert esp_ask(port, "TE?") == b"7"


def test_limit_configuration_and_reset(serial_port, clock) -> None:
    sim, port = serial_port(SimESP301, motors_on=True)
    assert esp_ask(port, "1ZH?") == b"24H" and esp_ask(port, "1ZS?") == b"0H"
    port.write(b"1ZH5H;1ZS3\r")
    assert esp_ask(port, "1ZH?") == b"5H" and esp_ask(port, "1ZS?") == b"3H"
    assert esp_ask(port, "1SN?") == b"2"  # millimetres
    port.write(b"1SN2;1SN3\r")  # micrometres: not simulated, refused
    assert esp_ask(port, "TE?") == b"7" and esp_ask(port, "1SN?") == b"2"
    port.write(b"1ZHXYZ\r")
    assert esp_ask(port, "TE?") == b"7"
    port.write(b"1PA5;1DH0;1SL-3;1VA2\r")
    _sync(port)
    clock.advance(10.0)
    port.write(b"1DH0\r")
    assert float(esp_ask(port, "1TP?")) == pytest.approx(0.0)
    port.write(b"RS\r")
    assert esp_ask(port, "1MO?") == b"0"  # motors off, as at power-up
    assert float(esp_ask(port, "1TP?")) == pytest.approx(5.0)  # DH forgotten: the physical position
    assert float(esp_ask(port, "1SL?")) == pytest.approx(-25.0) and esp_ask(port, "1ZH?") == b"24H"
    assert float(esp_ask(port, "1VA?")) == pytest.approx(5.0) and esp_ask(port, "TE?") == b"0"
