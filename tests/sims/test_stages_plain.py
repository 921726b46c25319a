"""ESP301 and SMC100 from a plain pyserial client: motor power, status, states, unknown commands.

Commands our drivers never send: ESP301 ``MO``/``MF``/``MO?``, ``TS``, ``AB``, ``DH``, ``DP?``,
``DV?``, ``ID?``; SMC100 ``MM`` (DISABLE state), ``MM?``, ``TH``, ``TB``. A stage whose motor is
off refuses to move and the world's detector position does not change.
"""

from __future__ import annotations

import logging

from hilt.sims.newport_esp301 import SimESP301
from hilt.sims.newport_smc100 import SimSMC100


def esp_ask(port, text: str) -> bytes:  # type: ignore[no-untyped-def]
    port.write(text.encode() + b"\r")
    line = port.read_until(b"\r\n")
    assert line.endswith(b"\r\n"), f"{text}: no reply (got {line!r})"
    return line[:-2]


def esp_error(port) -> bytes:  # type: ignore[no-untyped-def]
    return esp_ask(port, "TE?")


def test_esp301_motor_off_refuses_to_move(serial_port, world, clock) -> None:
    sim, port = serial_port(SimESP301, name="stage", motors_on=True)
    assert esp_ask(port, "1MO?") == b"1"
    port.write(b"1MF\r")
    assert esp_ask(port, "1MO?") == b"0"
    assert world.get("stage.motor_on")[1] is False
    port.write(b"1PA5.0\r")
    assert esp_ask(port, "TB?").startswith(b"113, ") and esp_ask(port, "TB?").startswith(b"0, ")
    port.write(b"1OR\r")
    assert esp_error(port) == b"113"
    clock.advance(5.0)
    assert esp_ask(port, "1TP?") == b"0.00000"
    assert world.get("stage.position_fn")(clock.now()) == (0.0, 0.0)
    # Motor on: the move runs; TS shows axis 1 moving and motor power on.
    port.write(b"1MO;1PA5.0\r")
    assert esp_error(port) == b"0"
    assert esp_ask(port, "TS") == bytes([0x40 | 0x10 | 0x01])
    assert esp_ask(port, "1DP?") == b"5.00000" and esp_ask(port, "1DV?") == b"5.00000"
    # Motor off mid-move: the axis stops where it is.
    clock.advance(0.5)
    port.write(b"1MF\r")
    stopped = float(esp_ask(port, "1TP?"))
    clock.advance(5.0)
    assert float(esp_ask(port, "1TP?")) == stopped < 5.0
    assert esp_ask(port, "TS") == bytes([0x40 | 0x10])  # axes 2 and 3 still powered
    port.write(b"AB\r")
    assert esp_ask(port, "TS") == b"@" and esp_ask(port, "2MO?") == b"0"


def test_esp301_define_home_keeps_the_physical_position(serial_port, world, clock) -> None:
    sim, port = serial_port(SimESP301, name="stage", motors_on=True)
    port.write(b"1PA2.0\r")
    assert esp_error(port) == b"0"  # the move has started before the clock moves
    clock.advance(5.0)
    port.write(b"1DH10\r")
    assert esp_ask(port, "1TP?") == b"10.00000"
    assert world.get("stage.position_fn")(clock.now())[0] == 2.0
    assert esp_ask(port, "2ID?").startswith(b"ILS100CC")


def test_esp301_motors_are_off_at_power_up(serial_port) -> None:
    sim, port = serial_port(SimESP301)
    assert esp_ask(port, "1MO?;2MO?") == b"0,0"
    assert esp_ask(port, "TS") == b"@"


def test_esp301_unknown_command_is_error_6_logged_once(serial_port, caplog) -> None:
    sim, port = serial_port(SimESP301, motors_on=True)
    with caplog.at_level(logging.WARNING, logger="hilt.sims"):
        port.write(b"1ZZ3\r1ZZ4\r")
        assert esp_ask(port, "TE?") == b"6" and esp_ask(port, "TE?") == b"6"
    assert len([r for r in caplog.records if "'ZZ'" in r.getMessage()]) == 1
    assert sim.unknown_commands == {"ZZ": 2}


def smc_ask(port, text: str) -> bytes:  # type: ignore[no-untyped-def]
    port.write(text.encode() + b"\r\n")
    line = port.read_until(b"\r\n")
    assert line.endswith(b"\r\n"), f"{text}: no reply (got {line!r})"
    return line[:-2]


def test_smc100_disable_state_refuses_moves(serial_port, world, clock) -> None:
    sim, port = serial_port(SimSMC100, name="stage")
    assert smc_ask(port, "1TS") == b"1TS00000A"  # NOT REFERENCED after power-up
    port.write(b"1MM0\r\n")
    assert smc_ask(port, "1TE") == b"1TEH"  # no DISABLE from NOT REFERENCED
    port.write(b"1OR\r\n")
    assert smc_ask(port, "1TE") == b"1TE@"
    clock.advance(10.0)
    assert smc_ask(port, "1TS") == b"1TS000032"  # READY from HOMING
    port.write(b"1MM0\r\n")
    assert smc_ask(port, "1TS") == b"1TS00003C"  # DISABLE from READY
    assert smc_ask(port, "1MM?") == b"1MM3C"
    assert world.get("stage.motor_on")[1] is False
    port.write(b"1PA4\r\n")
    assert smc_ask(port, "1TE") == b"1TEJ"
    clock.advance(5.0)
    assert smc_ask(port, "1TP") == b"1TP0.00000"
    assert world.get("stage.position_fn")(clock.now())[0] == 0.0
    port.write(b"1MM1\r\n")
    assert smc_ask(port, "1TS") == b"1TS000034"  # READY from DISABLE
    port.write(b"1PA4\r\n")
    assert smc_ask(port, "1TH") == b"1TH4.00000"
    assert smc_ask(port, "1TS") == b"1TS000028"  # MOVING
    port.write(b"1MM0\r\n")  # disabling mid-move stops the axis: DISABLE from MOVING
    assert smc_ask(port, "1TS") == b"1TS00003D"
    assert smc_ask(port, "1TBJ") == b"1TBJ Command not allowed in DISABLE state"


def test_smc100_unknown_command_is_error_a_logged_once(serial_port, caplog) -> None:
    sim, port = serial_port(SimSMC100)
    with caplog.at_level(logging.WARNING, logger="hilt.sims"):
        port.write(b"1QQ\r\n2QQ5\r\n")
        assert smc_ask(port, "1TE") == b"1TEA" and smc_ask(port, "2TE") == b"2TEA"
    assert len([r for r in caplog.records if "'QQ'" in r.getMessage()]) == 1


def test_esp301_trajectory_parameters_and_status_characters(serial_port, clock) -> None:
    sim, port = serial_port(SimESP301, motors_on=True)
    port.write(b"1AU50;1AG30;1OH2;1QM3\r")
    assert esp_error(port) == b"0"
    assert esp_ask(port, "1AU?") == b"50.00000" and esp_ask(port, "1QM?") == b"3"
    port.write(b"1AC80\r")  # above AU: MAXIMUM ACCELERATION EXCEEDED
    assert esp_error(port) == b"111"
    port.write(b"1QM2.5\r")
    assert esp_error(port) == b"7"
    port.write(b"1PA10\r")
    assert esp_error(port) == b"0"
    clock.advance(1.0)  # cruising at VA = 5 mm/s
    assert float(esp_ask(port, "1TV?")) == 5.0
    assert esp_ask(port, "1MS") == bytes([0x40 | 0x07])  # moving, motor on, positive direction
    clock.advance(5.0)
    assert esp_ask(port, "1MS") == bytes([0x40 | 0x06]) and esp_ask(port, "TX") == b"@"
    port.write(b"1OR\r")  # home search at OH = 2 mm/s: 10 mm take a little over 5 s
    assert esp_error(port) == b"0"
    clock.advance(4.0)
    assert esp_ask(port, "1MD?") == b"0"
    clock.advance(2.0)
    assert esp_ask(port, "1MD?") == b"1" and esp_ask(port, "1TP?") == b"0.00000"


def test_smc100_configuration_state(serial_port, clock) -> None:
    sim, port = serial_port(SimSMC100)
    port.write(b"1KP10\r\n")  # configuration parameters are set in CONFIGURATION only
    assert smc_ask(port, "1TE") == b"1TEH"
    port.write(b"1PW1\r\n")
    assert smc_ask(port, "1TS") == b"1TS000014" and smc_ask(port, "1PW?") == b"1PW1"
    port.write(b"1KP10\r\n1OH0.5\r\n1HT1\r\n")
    assert smc_ask(port, "1TE") == b"1TE@"
    port.write(b"1HT1.5\r\n")
    assert smc_ask(port, "1TE") == b"1TEC"
    port.write(b"1OR\r\n")
    assert smc_ask(port, "1TE") == b"1TEI"  # no homing in CONFIGURATION
    port.write(b"1PW0\r\n")
    assert smc_ask(port, "1TS") == b"1TS00000A"
    assert smc_ask(port, "1KP?") == b"1KP10" and smc_ask(port, "1HT?") == b"1HT1"
    port.write(b"1OR\r\n")  # home search from 3 mm at OH = 0.5 mm/s: about 6 s
    assert smc_ask(port, "1TE") == b"1TE@"
    clock.advance(5.0)
    assert smc_ask(port, "1TS") == b"1TS00001E"
    clock.advance(2.0)
    assert smc_ask(port, "1TS") == b"1TS000032"
    assert smc_ask(port, "1PT5") == b"1PT1.25000"  # 5 mm at VA 5, AC 20: 1 s + 0.25 s
    assert smc_ask(port, "1RA") == b"1RA0"
    port.write(b"1SB5\r\n")
    assert smc_ask(port, "1SB?") == b"1SB5"


def test_esp301_relative_moves_limits_and_kept_parameters(serial_port, clock) -> None:
    sim, port = serial_port(SimESP301, motors_on=True)
    port.write(b"1SL-5;1SR5;1VU8;1OM3;1QV24;1OL0.5;1JH6;1JW0.2;1JK500\r")
    assert esp_error(port) == b"0"
    assert [esp_ask(port, f"1{c}?") for c in ("SL", "SR", "VU", "OM", "QV", "OL", "JH", "JW", "JK")] == \
        [b"-5.00000", b"5.00000", b"8.00000", b"3", b"24.00000", b"0.50000", b"6.00000", b"0.20000",
         b"500.00000"]
    port.write(b"1PR3\r")
    assert esp_error(port) == b"0"
    clock.advance(5.0)
    port.write(b"1PR3\r")  # 6 mm is past the right limit: refused, the axis stays at 3
    assert esp_error(port) == b"106"
    assert esp_ask(port, "1TP?") == b"3.00000"


def test_smc100_configuration_parameters_round_trip(serial_port, clock) -> None:
    sim, port = serial_port(SimSMC100)
    values = {"BA": "0.01", "BH": "0.02", "FD": "100", "FE": "0.1", "FF": "0.5", "JR": "0.05",
              "KD": "1.5", "KI": "2.5", "KV": "0.3", "OT": "50", "QI": "1.2", "SA": "1", "SC": "1",
              "SU": "0.0001", "VB": "0.1", "ZX": "3"}
    port.write(b"1PW1\r\n")
    for code, value in values.items():
        port.write(f"1{code}{value}\r\n".encode())
        assert smc_ask(port, "1TE") == b"1TE@", code
    port.write(b"1PW0\r\n")
    for code, value in values.items():
        assert smc_ask(port, f"1{code}?") == f"1{code}{value}".encode()
    port.write(b"1SL-4\r\n1OR\r\n")
    assert smc_ask(port, "1TE") == b"1TE@"
    clock.advance(10.0)
    port.write(b"1PR-5\r\n")  # to -2 - 5 ... from 0 after homing: -5 is past SL -4
    assert smc_ask(port, "1TE") == b"1TEG" and smc_ask(port, "1SL?") == b"1SL-4"
    assert smc_ask(port, "1RB") == b"1RB0" and smc_ask(port, "1VE").startswith(b"1VE SMC_CC")


def test_smc100_acceleration_identity_driver_voltage_and_error_text(serial_port) -> None:
    sim, port = serial_port(SimSMC100)
    port.write(b"1AC50\r\n")
    assert smc_ask(port, "1AC?") == b"1AC50"
    assert smc_ask(port, "1ID?") == b"1IDILS100CC"
    assert smc_ask(port, "1DV?") == b"1DV48"  # a configuration parameter, read in any state
    port.write(b"1AC-3\r\n")  # out of range: error C
    assert smc_ask(port, "1TB") == b"1TBC Parameter missing or out of range"
    assert smc_ask(port, "1TBG") == b"1TBG Displacement out of limits"  # the text of a given letter
