"""DLC pro command line from a plain TCP client: laser current and temperature control, uptime,
and the THz power following the lasers' currents (published to the world)."""

from __future__ import annotations

import math
import socket

import pytest

from hilt.sims.toptica_dlcpro import SimDLCpro

PROMPT = b"\r\n> "


def test_current_temperature_and_uptime(served, world, clock) -> None:
    sim, address = served(SimDLCpro, world=world, name="dlc")
    host, port = address.split("::")[1:3]
    with socket.create_connection((host, int(port)), timeout=10.0) as sock:
        buffer = b""

        def ask(text: str) -> str:
            nonlocal buffer
            sock.sendall(text.encode() + b"\n")
            while PROMPT not in buffer:
                buffer += sock.recv(4096)
            reply, _, buffer = buffer.partition(PROMPT)
            return reply.decode()

        while PROMPT not in buffer:
            buffer += sock.recv(4096)
        banner, _, buffer = buffer.partition(PROMPT)
        assert banner == b"DeCoF Command Line"
        assert ask("(param-ref 'laser1:dl:cc:current-act)") == "0"  # current off
        for text in ("(param-set! 'laser1:dl:cc:enabled #t)", "(param-set! 'laser2:dl:cc:enabled #t)",
                     "(param-set! 'laser1:thz:bias:enabled #t)", "(param-set! 'laser1:thz:bias:voltage-set 1.0)"):
            assert ask(text) == "0"
        assert ask("(param-ref 'laser1:dl:cc:current-act)") == "100"
        full = world.get("dlc.power_dbm")
        assert ask("(param-set! 'laser1:dl:cc:current-set 65.0)") == "0"  # half the power above threshold
        assert world.get("dlc.power_dbm") == pytest.approx(full - 10 * math.log10(2))
        assert ask("(param-set! 'laser1:dl:cc:current-set 300.0)").startswith("Error: -4 ")
        assert ask("(param-set! 'laser1:dl:cc:current-act 50.0)").startswith("Error: -5 ")  # read-only
        assert ask("(param-ref 'serial-number)").startswith('"') and ask("(param-ref 'fw-ver)").startswith('"')
        assert ask("(param-set! 'laser1:dl:tc:temp-set 24.0)") == "0"
        assert ask("(param-ref 'laser1:dl:tc:temp-set)") == "24" and ask("(param-ref 'laser1:dl:tc:temp-act)") == "24"
        assert ask("(param-set! 'laser2:dl:tc:temp-set 27.5)") == "0"
        assert ask("(param-ref 'laser2:dl:tc:temp-act)") == "27.5"
        clock.advance(42.0)
        assert ask("(param-ref 'uptime)") == "42"
        assert ask("(exec 'laser1:dl:cc:store)").startswith("Error: -2 ")
        assert "(exec 'laser1:dl:cc:store)" in sim.unknown_commands
