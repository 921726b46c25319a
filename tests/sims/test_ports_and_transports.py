"""Every port and transport the instrument has: the DLC pro's monitoring line beside its command
line, the SR860's RS-232 port beside its socket; served in-process and by ``hilt sim serve``."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import serial
from click.testing import CliRunner

from hilt import registry
from hilt.gui.cli import main
from hilt.sims.server import serve, serve_extra_ports
from hilt.sims.srs_sr860 import SimSR860
from hilt.sims.toptica_dlcpro import SimDLCpro
from hilt.sims.world import SimClock, World

MONITOR_LINE = re.compile(r"^\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) '([a-z0-9:\-]+) (.*)\)$")


class LineClient:
    """A plain TCP client reading CR LF lines (how Toptica's own library reads both ports)."""

    def __init__(self, address: str) -> None:
        host, port = address.split("::")[1:3]
        self.sock = socket.create_connection((host, int(port)), timeout=3.0)
        self.buffer = b""

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def read_until(self, end: bytes) -> str:
        while end not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(end)
        return line.decode()

    def close(self) -> None:
        self.sock.close()


def test_dlcpro_monitoring_line_reports_subscribed_parameters() -> None:
    clock = SimClock("manual")
    sim = SimDLCpro(World(clock=clock))
    command_server = serve(sim)
    extra = serve_extra_ports(sim)
    command = LineClient(command_server.address)
    monitor = LineClient(extra["monitoring"].address)
    try:
        assert command.read_until(b"\r\n> ") == "DeCoF Command Line"
        clock.advance(5.25)
        monitor.send("(add 'laser1:dl:cc:enabled)")
        m = MONITOR_LINE.match(monitor.read_until(b"\r\n"))
        assert m is not None and m.groups() == ("2025-01-01T00:00:05.250000Z", "laser1:dl:cc:enabled", "#f")
        # A change made on the command line reaches the subscriber.
        command.send("(param-set! 'laser1:dl:cc:enabled #t)")
        assert command.read_until(b"\r\n> ") == "0"
        m = MONITOR_LINE.match(monitor.read_until(b"\r\n"))
        assert m is not None and m.group(2, 3) == ("laser1:dl:cc:enabled", "#t")
        monitor.send("(add 'laser1:ctl:wavelength-act)")
        m = MONITOR_LINE.match(monitor.read_until(b"\r\n"))
        assert m is not None and m.group(2, 3) == ("laser1:ctl:wavelength-act", "1549")
        # A parameter the controller does not have: an error line, logged as missing.
        monitor.send("(add 'laser1:nlo:shg:power)")
        assert monitor.read_until(b"\r\n") == \
            "(Error: -2 (2025-01-01T00:00:05.250000Z 'laser1:nlo:shg:power) unknown parameter)"
        assert "(param-ref 'laser1:nlo:shg:power)" in sim.unknown_commands
        # Unsubscribed: a change is no longer reported (the next line is laser 2's change).
        monitor.send("(remove 'laser1:dl:cc:enabled)")
        monitor.send("(add 'laser2:dl:cc:enabled)")
        m = MONITOR_LINE.match(monitor.read_until(b"\r\n"))
        assert m is not None and m.group(2, 3) == ("laser2:dl:cc:enabled", "#f")
        for text in ("(param-set! 'laser1:dl:cc:enabled #f)", "(param-set! 'laser2:dl:cc:enabled #t)"):
            command.send(text)
            assert command.read_until(b"\r\n> ") == "0"
        m = MONITOR_LINE.match(monitor.read_until(b"\r\n"))
        assert m is not None and m.group(2, 3) == ("laser2:dl:cc:enabled", "#t")
    finally:
        command.close()
        monitor.close()
        command_server.stop()
        for server in extra.values():
            server.stop()


def test_sr860_rs232_port_on_a_pty() -> None:
    clock = SimClock("manual")
    server = serve(SimSR860(World(clock=clock)), pty=True)
    try:
        with serial.Serial(server.address, 115200, timeout=3) as port:
            port.write(b"*IDN?\n")
            assert port.read_until(b"\n").startswith(b"Stanford_Research_Systems,SR860,")
            port.write(b"CAPTURECFG X;CAPTURELEN 2;CAPTURESTART ONE,IMM;*OPC?\n")
            assert port.read_until(b"\n") == b"1\n"
            clock.advance(60.0)
            port.write(b"CAPTURESTAT?;CAPTUREBYTES?\n")
            assert port.read_until(b"\n") == b"6;2048\n"
            port.write(b"CAPTUREGET? 0,2\n")
            assert port.read(2) == b"#4" and port.read(4) == b"2048"
            assert len(port.read(2048 + 1)) == 2049  # the data and the line feed
    finally:
        server.stop()


def test_sr860_rs232_port_as_a_socket_url() -> None:
    server = serve(SimSR860(World()), serial=True)
    try:
        assert server.address.startswith("socket://127.0.0.1:")
        with serial.serial_for_url(server.address, timeout=3) as port:
            port.write(b"*IDN?\n")
            assert port.read_until(b"\n").startswith(b"Stanford_Research_Systems,SR860,")
    finally:
        server.stop()


def test_hilt_sim_serve_prints_every_port() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", "sim", "serve", "toptica_dlcpro"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        command_address = proc.stdout.readline().strip()
        name, monitor_address = proc.stdout.readline().split()
        assert command_address.startswith("TCPIP::127.0.0.1::") and name == "monitoring"
        monitor = LineClient(monitor_address)
        monitor.send("(add 'system-type)")
        assert MONITOR_LINE.match(monitor.read_until(b"\r\n")).group(2, 3) == ("system-type", '"DLCpro"')
        monitor.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_hilt_sim_list_coverage_prints_the_share_per_model() -> None:
    result = CliRunner().invoke(main, ["sim", "list", "--coverage"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert set(rows) == set(registry.simulator_names())
    for model, row in rows.items():  # every simulator has its command reference now
        assert re.search(r"\d+ / \d+\s+\d+%", row), (model, row)
