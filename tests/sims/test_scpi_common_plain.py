"""The IEEE 488.2 common commands and the SCPI-1999 error queue on every SCPI simulator, from a
plain socket or pyserial client with the instrument's terminators: status registers, the error
queue, self test, identification, operation complete."""

from __future__ import annotations

import socket

import pytest
import serial

from hilt import registry

SCPI_MODELS = ["keysight_e8257d", "rs_sgs100a", "rs_sma100b", "keysight_8164b", "keysight_n7744a",
               "qdevil_qdac2", "santec_tsl550", "keithley_2400"]


class _Client:
    def __init__(self, sim, address: str) -> None:  # type: ignore[no-untyped-def]
        self.out = sim.input_terminators[0]
        self.end = sim.reply_terminator.encode()
        if address.startswith("socket://"):
            self.port: serial.Serial | None = serial.serial_for_url(address, timeout=10.0)
            self.sock = None
        else:
            host, port = address.split("::")[1:3]
            self.sock = socket.create_connection((host, int(port)), timeout=10.0)
            self.port = None
        self.buffer = b""

    def write(self, text: str) -> None:
        data = text.encode() + self.out
        self.sock.sendall(data) if self.sock else self.port.write(data)  # type: ignore[union-attr]

    def query(self, text: str) -> str:
        self.write(text)
        while self.end not in self.buffer:
            chunk = self.sock.recv(4096) if self.sock else self.port.read(1)  # type: ignore[union-attr]
            assert chunk, f"{text}: no reply"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(self.end)
        return line.decode()

    def close(self) -> None:
        self.sock.close() if self.sock else self.port.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("model", SCPI_MODELS)
def test_common_commands_status_and_error_queue(served, model: str) -> None:
    sim, address = served(registry.load_simulator(model))
    client = _Client(sim, address)
    try:
        assert client.query("*IDN?").count(",") >= 3
        client.write("*RST;*CLS")
        client.write("*ESE 36;*SRE 32;*PSC 1")
        assert client.query("*ESE?;*SRE?;*PSC?") == "36;32;1"
        assert client.query("*STB?") == "0" and client.query("*ESR?") == "0"
        client.write(":BOGus:HEADer 1")  # a command error: the queue, then ESB through *ESE
        assert client.query("SYST:ERR:COUN?") == "1"
        status = int(client.query("*STB?"))
        assert status & 4 and status & 32 and status & 64  # queue, ESB, MSS (ESB enabled by *SRE)
        assert client.query("*ESR?") == "32" and client.query("*ESR?") == "0"  # read clears it
        assert client.query("SYST:ERR:ALL?").startswith("-113,")
        assert client.query("SYST:ERR?").endswith('"No error"')
        assert client.query("SYST:ERR:CODE?") == "0" and client.query("SYST:ERR:CODE:ALL?") == "0"
        assert client.query("SYST:VERS?") == "1999.0"
        client.write("*WAI")
        assert client.query("*OPC?") == "1" and client.query("*TST?") == "0"
        assert client.query("*OPT?") == sim.installed_options
    finally:
        client.close()
