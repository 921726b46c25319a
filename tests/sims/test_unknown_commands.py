"""Every simulator answers a command it does not implement the way its instrument answers an
unknown command, and logs it once at WARNING, through a plain client on the wire."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import pytest
import serial

from hilt import registry
from hilt.framing import ERROR_TYPE, Frame, parse_error, split_frames

SCPI_CHECK = "SYST:ERR?"


def _scpi(reply: str) -> bool:
    return reply.startswith("-113,")


#: model -> (unknown command, follow-up query or None, check of the reply, the logged key)
CASES: dict[str, tuple[str, str | None, Callable[[str], bool], str]] = {
    **{m: (":BOGus:HEADer 1", SCPI_CHECK, _scpi, ":BOGUS:HEADER") for m in (
        "keysight_e8257d", "rs_sgs100a", "rs_sma100b", "keysight_8164b", "keysight_n7744a",
        "qdevil_qdac2", "santec_tsl550", "keithley_2400")},
    "srs_sr830": ("BOGUS 1", "*ESR?", lambda r: int(r) & 32 == 32, "BOGUS"),  # CMD bit
    "srs_sr860": ("BOGUS 1", "*ESR?", lambda r: int(r) & 32 == 32, "BOGUS"),
    "newport_esp301": ("1QQ", "TE?", lambda r: r == "6", "QQ"),  # COMMAND DOES NOT EXIST
    "newport_smc100": ("1QQ", "1TE", lambda r: r == "1TEA", "QQ"),  # unknown message code
    "qontrol_q8iv": ("bogus3?", None, lambda r: r == "E10:03", "BOGUS?"),  # unrecognised command
    "qontrol_q8b": ("bogus3?", None, lambda r: r == "E10:03", "BOGUS?"),
    "gentec_maestro": ("*ZZZ", None, lambda r: r == "Invalid Command", "*ZZZ"),
    "toptica_dlcpro": ("(frobnicate 'x)", None, lambda r: r.startswith("Error: -1 "), "(frobnicate ...)"),
}


class PlainClient:
    """A raw TCP socket or a pyserial port, with the instrument's terminators."""

    def __init__(self, sim, address: str) -> None:  # type: ignore[no-untyped-def]
        self.term_in = sim.input_terminators[0] if sim.input_terminators else b"\n"
        self.term_out = sim.reply_terminator.encode()
        if address.startswith("socket://"):
            self.port = serial.serial_for_url(address, timeout=3.0)
            self.sock = None
        else:
            host, port = address.split("::")[1:3] if "::" in address else address[6:].split(":")
            self.sock = socket.create_connection((host, int(port)), timeout=3.0)
        self.buffer = b""

    def send(self, text: str) -> None:
        data = text.encode() + self.term_in
        self.sock.sendall(data) if self.sock else self.port.write(data)

    def read(self, end: bytes) -> bytes:
        while end not in self.buffer:
            chunk = self.sock.recv(4096) if self.sock else self.port.read(1)
            assert chunk, f"no reply (got {self.buffer!r})"
            self.buffer += chunk
        reply, _, self.buffer = self.buffer.partition(end)
        return reply

    def close(self) -> None:
        self.sock.close() if self.sock else self.port.close()


@pytest.mark.parametrize("model", sorted(CASES))
def test_unknown_command_gets_the_instruments_answer_and_one_warning(served, model: str, caplog) -> None:
    command, follow_up, check, key = CASES[model]
    sim, address = served(registry.load_simulator(model))
    client = PlainClient(sim, address)
    try:
        if model == "toptica_dlcpro":
            client.read(client.term_out)  # the banner and the first prompt
        with caplog.at_level(logging.WARNING, logger="hilt.sims"):
            for _ in range(2):
                client.send(command)
                if follow_up is not None:
                    client.send(follow_up)
                reply = client.read(client.term_out).decode()
                assert check(reply), f"{model}: {command!r} -> {reply!r}"
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and repr(key) in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
        assert sim.unknown_commands == {key: 2}
    finally:
        client.close()


def test_photonic_processor_unknown_frame_type(served, caplog) -> None:
    sim, address = served(registry.load_simulator("photonic_processor"))
    host, port = address[len("tcp://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=3.0) as sock, \
            caplog.at_level(logging.WARNING, logger="hilt.sims"):
        for seq in (1, 2):
            sock.sendall(Frame(0x7E, seq).encode())
            buffer = bytearray()
            frames: list[Frame] = []
            while not frames:
                buffer += sock.recv(4096)
                frames = split_frames(buffer)
            assert frames[0].type == ERROR_TYPE and parse_error(frames[0].payload)[0] == 2
    assert sim.unknown_commands == {"frame type 0x7e": 2}
    assert len([r for r in caplog.records if "frame type 0x7e" in r.getMessage()]) == 1
