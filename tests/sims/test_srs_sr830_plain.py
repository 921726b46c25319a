"""SR830 from a plain pyserial client: the data buffer, status registers, unknown commands.

Commands our driver never sends (SRAT, SEND, TSTR, STRT, PAUS, REST, TRIG, SPTS?, TRCA?, TRCB?,
TRCL?, DDEF, OUTR?, *ESE, *SRE, LIAE, ERRE, *STB?), bytes as in the SR830 manual, chapter 5.
"""

from __future__ import annotations

import logging
import struct

import pytest

from hilt.sims.srs_sr830 import SR830_BUFFER_POINTS, SimSR830, trcl_bytes


def ask(port, text: str) -> bytes:  # type: ignore[no-untyped-def]
    """Send a line and read one CR-terminated reply per query on it (joined with CR)."""
    port.write(text.encode() + b"\r")
    lines = []
    for _ in range(text.count("?")):
        line = port.read_until(b"\r")
        assert line.endswith(b"\r"), f"{text}: no reply (got {line!r})"
        lines.append(line[:-1])
    return b"\r".join(lines)


def send(port, text: str) -> None:  # type: ignore[no-untyped-def]
    """Send settings, then wait for *OPC? so they have run before the test moves the clock."""
    assert ask(port, text + ";*OPC?") == b"1"


def test_buffer_fills_at_the_sample_rate_in_simulated_time(serial_port, clock) -> None:
    sim, port = serial_port(SimSR830)
    send(port, "OUTX 0")
    assert ask(port, "SRAT?;SEND?;TSTR?") == b"4\r1\r0"  # 1 Hz, loop, no trigger start
    send(port, "SRAT 8;SEND 0;REST;STRT")  # 16 Hz, one shot
    assert int(ask(port, "*STB?")) & 1 == 0  # SCN: a scan is in progress
    clock.advance(2.0)
    assert ask(port, "SPTS?") == b"33"  # a point at t = 0, 1/16, ..., 2
    text = ask(port, "TRCA? 1,0,33")
    assert text.endswith(b",") and text.count(b",") == 33
    ascii_points = [float(v) for v in text.split(b",")[:-1]]
    port.write(b"TRCB? 1,0,33\r")
    binary = struct.unpack("<33f", port.read(4 * 33))
    assert binary == pytest.approx(ascii_points, rel=1e-6)
    port.write(b"TRCL? 1,0,2\r")
    raw = port.read(8)
    for i in range(2):
        m, e, zero = struct.unpack("<hBB", raw[4 * i:4 * i + 4])
        assert zero == 0 and m * 2.0 ** (e - 124) == pytest.approx(ascii_points[i], rel=1e-4)
    # Pause: simulated time passes, nothing is stored; STRT resumes.
    send(port, "PAUS")
    clock.advance(10.0)
    assert ask(port, "SPTS?") == b"33"
    assert int(ask(port, "*STB?")) & 1 == 1
    send(port, "STRT")
    clock.advance(1.0)
    assert ask(port, "SPTS?") == b"50"
    # Reading past the stored points is an execution error (ESR bit 4) with no reply.
    port.write(b"TRCA? 1,40,20\r")
    assert ask(port, "*ESR?") == b"144"  # EXE, and PON from power-up


def test_one_shot_stops_at_a_full_buffer_and_loop_keeps_the_newest(serial_port, clock) -> None:
    sim, port = serial_port(SimSR830)
    send(port, "OUTX 0;SRAT 13;SEND 0;REST;STRT")  # 512 Hz
    clock.advance(60.0)
    assert ask(port, "SPTS?") == str(SR830_BUFFER_POINTS).encode()
    assert int(ask(port, "*STB?")) & 1 == 1  # the scan is over
    send(port, "SEND 1;REST;STRT")
    clock.advance(100.0)
    assert ask(port, "SPTS?") == str(SR830_BUFFER_POINTS).encode()
    assert int(ask(port, "*STB?")) & 1 == 0  # a loop never ends


def test_triggered_sampling_and_trigger_start(serial_port, clock) -> None:
    sim, port = serial_port(SimSR830)
    send(port, "OUTX 0;*CLS;SRAT 14;REST;STRT")
    clock.advance(5.0)
    assert ask(port, "SPTS?") == b"0"  # triggered mode: time alone stores nothing
    send(port, "TRIG;TRIG;TRIG")
    assert ask(port, "SPTS?") == b"3"
    assert ask(port, "LIAS? 6") == b"1"  # TRIG bit
    # Trigger starts the scan (TSTR 1) at an internal rate: armed until the trigger.
    send(port, "SRAT 4;TSTR 1;REST;STRT")
    clock.advance(5.0)
    assert ask(port, "SPTS?") == b"0"
    send(port, "TRIG")
    clock.advance(2.0)
    assert ask(port, "SPTS?") == b"3"


def test_displays_follow_ddef(serial_port, clock) -> None:
    sim, port = serial_port(SimSR830)
    send(port, "OUTX 0")
    assert ask(port, "DDEF? 1") == b"0,0"
    send(port, "DDEF 2,1,0;SRAT 4;REST;STRT")  # CH2 shows theta
    clock.advance(3.0)
    send(port, "PAUS")
    thetas = [float(v) for v in ask(port, "TRCA? 2,0,4").split(b",")[:-1]]
    assert all(-180.0 <= t <= 180.0 for t in thetas) and any(abs(t) > 1.0 for t in thetas)
    assert -180.0 <= float(ask(port, "OUTR? 2")) <= 180.0


def test_status_registers_and_enables(serial_port) -> None:
    sim, port = serial_port(SimSR830)
    send(port, "OUTX 0")
    assert ask(port, "*ESR?") == b"128"  # PON: just powered on; reading clears it
    assert ask(port, "*ESR?") == b"0"
    assert ask(port, "*STB?") == b"3"  # SCN (no scan) and IFC (idle)
    send(port, "SENS 0;OFLT 0")  # 2 nV full scale, 10 us: the input noise overloads the output
    ask(port, "OUTP? 1")
    assert ask(port, "LIAS? 2") == b"1"
    assert int(ask(port, "*STB?")) & 8 == 0  # LIA summary is masked until LIAE enables it
    send(port, "LIAE 2,1")
    assert ask(port, "LIAE?") == b"4"
    assert int(ask(port, "*STB?")) & 8 == 8
    send(port, "*ESE 32;*SRE 32")
    send(port, "NOSUCH 3")
    status = int(ask(port, "*STB?"))
    assert status & 32 and status & 64  # ESB from the CMD bit, SRQ from *SRE
    send(port, "SENS 26;*CLS")  # 1 V full scale: no more overload
    assert ask(port, "*ESR?;LIAS?;ERRS?") == b"0\r0\r0"
    assert ask(port, "*ESE?;*SRE?;ERRE?") == b"32\r32\r0"  # *CLS keeps the enables


def test_unknown_command_sets_cmd_and_is_logged_once(serial_port, caplog) -> None:
    sim, port = serial_port(SimSR830)
    send(port, "OUTX 0;*CLS")
    with caplog.at_level(logging.WARNING, logger="hilt.sims"):
        send(port, "ZZZZ 5")
        send(port, "ZZZZ 6")
        assert ask(port, "*ESR?") == b"32"  # CMD, and no reply to ZZZZ itself
    warnings = [r for r in caplog.records if "ZZZZ" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert sim.unknown_commands == {"ZZZZ": 2}


def test_trcl_format_round_trips() -> None:
    for value in (0.0, 1.0, -3.5e-9, 0.2, 123.456):
        m, e, zero = struct.unpack("<hBB", trcl_bytes(value))
        assert zero == 0 and 0 <= e <= 248
        assert m * 2.0 ** (e - 124) == pytest.approx(value, rel=1 / 16384, abs=1e-30)


def test_settings_setups_aux_and_harmonic(serial_port, world) -> None:
    sim, port = serial_port(SimSR830, name="li")
    send(port, "OUTX 0;*CLS")
    send(port, "ISRC 1;IGND 1;ICPL 1;ILIN 3;RMOD 2;SYNC 1;FMOD 1;RSLP 2")
    assert ask(port, "ISRC?;IGND?;ICPL?;ILIN?;RMOD?;SYNC?;FMOD?;RSLP?") == b"1\r1\r1\r3\r2\r1\r1\r2"
    send(port, "ISRC 7")  # out of range: execution error, the setting stays
    assert ask(port, "*ESR?;ISRC?") == b"16\r1"
    send(port, "AUXV 3,-2.5")
    assert float(ask(port, "AUXV? 3")) == -2.5 and world.get("li.aux_out")[2] == -2.5
    assert float(ask(port, "OAUX? 4")) == 0.0  # nothing is wired to the aux inputs
    send(port, "OEXP 2,-50,2")
    assert ask(port, "OEXP? 2") == b"-50.00,2"
    # HARM: detecting above 102 kHz is refused; FREQ x HARM is checked both ways.
    send(port, "FREQ 1000;HARM 3")
    send(port, "FREQ 40000")
    assert ask(port, "*ESR?;FREQ?") == b"16\r1000"
    # Save and recall a setup.
    send(port, "SENS 20;SSET 4;SENS 5;HARM 1")
    send(port, "RSET 4")
    assert ask(port, "SENS?;HARM?;ISRC?") == b"20\r3\r1"
    send(port, "RSET 9")  # never saved
    assert ask(port, "*ESR?") == b"16"
    send(port, "*RST")
    assert ask(port, "ISRC?;HARM?;AUXV? 3") == b"0\r1\r0"


def test_delayed_start_front_panel_and_interface_settings(serial_port, clock) -> None:
    sim, port = serial_port(SimSR830)
    send(port, "OUTX 0;*CLS;SRAT 13;SEND 0;REST;STRD")  # storage starts 0.5 s after STRD
    clock.advance(0.4)
    assert ask(port, "SPTS?") == b"0"
    clock.advance(0.2)
    assert ask(port, "SPTS?") == str(int(0.1 * 512) + 1).encode()
    send(port, "FAST 2")  # kept; fast transfer streams on GPIB only, nothing arrives here
    assert ask(port, "FAST?") == b"2"
    send(port, "FPOP 2,1;KCLK 0;ALRM 0;LOCL 1;OVRM 1;*PSC 0;ARSV")
    assert ask(port, "FPOP? 2;KCLK?;ALRM?;LOCL?;OVRM?;*PSC?") == b"1\r0\r0\r1\r1\r0"
    send(port, "AOFF 3")  # auto offset of R: the offset that zeroes R now (a quiet input: ~0 %)
    offset, expand = ask(port, "OEXP? 3").split(b",")
    assert abs(float(offset)) < 0.01 and expand == b"0"
    assert ask(port, "*ESR?") == b"0"  # every command above was accepted
