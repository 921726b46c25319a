"""``hilt sim serve-station``: a real bench's station file served whole, reached by plain clients.

The station is a real bench's file (``small_mzi_bench.yaml``: ``simulate: false``, the real
addresses): serve-station simulates it all the same. A plain pyvisa client (the laser, the power meter) and a
plain pyserial client (the heater chain) meet in one world: the heaters set over the serial line
change what the meter reads over VISA.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pyvisa
import serial

BENCH = Path(__file__).with_name("small_mzi_bench.yaml")
N_HEATERS = 16  # two Q8iv modules
N_PORTS = 4  # N7744A


class Served:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", "sim", "serve-station", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.rows: list[list[str]] = []
        self.ready = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # ends at EOF if the command fails
            if line.startswith("#"):
                self.ready = line
                break
            self.rows.append(line.split())

    @property
    def addresses(self) -> dict[str, str]:
        return {name: address for name, _model, address in self.rows}

    def stop(self, sig: int) -> tuple[int, str]:
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str) -> Served:
        started.append(Served(*args))
        return started[-1]

    yield start
    for one in started:
        if one.proc.poll() is None:
            one.proc.kill()
            one.proc.wait(timeout=10)


def test_serves_every_instrument_in_one_world_and_stops_on_sigterm(serve) -> None:
    assert "\nsimulate: false\n" in BENCH.read_text()
    served = serve(str(BENCH), "--seed", "7")
    assert served.rows == [
        ["laser", "keysight_8164b", served.addresses["laser"]],
        ["heaters", "qontrol_q8iv", served.addresses["heaters"]],
        ["pm", "keysight_n7744a", served.addresses["pm"]],
    ]
    assert served.addresses["laser"].startswith("TCPIP::127.0.0.1::")
    assert served.addresses["heaters"].startswith("socket://127.0.0.1:")
    assert "seed 7" in served.ready and "3 simulators at 3 addresses" in served.ready

    # pyvisa keeps one resource manager per VISA library for the whole process (hilt's links use it
    # too): close the resources, never the manager.
    rm = pyvisa.ResourceManager("@py")
    visa = {"read_termination": "\n", "write_termination": "\n", "timeout": 5000}
    laser = rm.open_resource(served.addresses["laser"], **visa)
    pm = rm.open_resource(served.addresses["pm"], **visa)
    heaters = serial.serial_for_url(served.addresses["heaters"], baudrate=115200, timeout=5)
    try:
        assert laser.query("*IDN?").split(",")[1] == "8164B"
        assert pm.query("*IDN?").split(",")[1] == "N7744A"
        laser.write(":SOUR0:POW:STAT 1")
        assert laser.query(":SOUR0:POW:STAT?") == "1"
        for port in range(1, N_PORTS + 1):
            pm.write(f":SENS{port}:POW:UNIT W")
        cold_heaters = [float(v) for v in pm.query(":READ:POW:ALL:CSV?").split(",")]
        for channel in range(N_HEATERS):
            heaters.write(f"v{channel}=3\n".encode())
            assert heaters.readline() == b"OK\n"
        heaters.write(b"v5?\n")
        assert heaters.readline().strip().startswith(b"+3.0")
        warm_heaters = [float(v) for v in pm.query(":READ:POW:ALL:CSV?").split(",")]
        # The heaters (serial client) changed the light the meter (VISA client) sees.
        change = max(abs(a - b) for a, b in zip(warm_heaters, cold_heaters, strict=True))
        assert change > 0.05 * max(cold_heaters)
    finally:
        heaters.close()
        laser.close()
        pm.close()
    code, err = served.stop(signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err


DLC_STATION = """
name: cw-thz
instruments:
  dlc:
    driver: toptica_dlcpro
    address: TCPIP::192.168.1.40::1998::SOCKET
"""


def _tcp(address: str) -> socket.socket:
    host, port = address.split("::")[1:3]
    return socket.create_connection((host, int(port)), timeout=5)


def _line(conn: socket.socket, buffer: bytearray, end: bytes) -> bytes:
    while end not in buffer:
        chunk = conn.recv(4096)
        assert chunk, f"closed; got {bytes(buffer)!r}"
        buffer += chunk
    line, _, rest = bytes(buffer).partition(end)
    buffer[:] = rest
    return line


def test_a_second_port_is_served_and_listed_after_its_instrument(serve, tmp_path: Path) -> None:
    station = tmp_path / "cw-thz.yaml"
    station.write_text(DLC_STATION)
    served = serve(str(station))
    assert [row[:2] for row in served.rows] == [["dlc", "toptica_dlcpro"], ["dlc.monitoring", "toptica_dlcpro"]]
    assert "1 simulators at 2 addresses" in served.ready
    with _tcp(served.addresses["dlc"]) as command, _tcp(served.addresses["dlc.monitoring"]) as monitor:
        said, heard = bytearray(), bytearray()
        assert _line(command, said, b"\r\n") == b"DeCoF Command Line"
        monitor.sendall(b"(add 'laser1:dl:cc:enabled)\n")
        assert _line(monitor, heard, b"\r\n").endswith(b"'laser1:dl:cc:enabled #f)")
        # Set on the command line, seen on the monitoring line: one instrument, one world.
        command.sendall(b"(param-set! 'laser1:dl:cc:enabled #t)\n")
        assert _line(monitor, heard, b"\r\n").endswith(b"'laser1:dl:cc:enabled #t)")
    code, err = served.stop(signal.SIGTERM)
    assert code == 0, err


SR860_BESIDE = """
  lockin:
    driver: srs_sr860
    address: TCPIP::192.168.1.60::5025::SOCKET
"""


def test_ctrl_c_stops_it_cleanly(serve, tmp_path: Path) -> None:
    station = tmp_path / "bench.yaml"
    text = BENCH.read_text()
    station.write_text(text.replace("\nroles:", SR860_BESIDE.rstrip() + "\nroles:"))
    served = serve(str(station), "--pty")
    heaters = served.addresses["heaters"]
    assert heaters.startswith("/dev/pts/")  # a serial instrument on a pseudo-terminal
    with serial.Serial(heaters, baudrate=115200, timeout=5) as line:
        line.write(b"id?\n")
        assert line.readline().startswith(b"Q8iv-")
    # A network lock-in's RS-232 port on a pseudo-terminal too, beside its socket.
    assert served.addresses["lockin"].startswith("TCPIP::127.0.0.1::")
    with serial.Serial(served.addresses["lockin.rs232"], baudrate=115200, timeout=5) as line:
        line.write(b"*IDN?\n")
        assert b"SR860" in line.readline()
    code, err = served.stop(signal.SIGINT)
    assert code == 0, err
    assert "Traceback" not in err


def test_a_broken_station_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ninstruments:\n  synth: {driver: keysight_e8257dd}\n")
    done = subprocess.run([sys.executable, "-m", "hilt.gui.cli", "sim", "serve-station", str(broken)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "broken.yaml:3: instruments.synth.driver: unknown driver 'keysight_e8257dd'" in done.stderr


def test_an_unknown_error_preset_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "hilt.gui.cli", "sim", "serve-station", str(BENCH),
                           "--errors", "awful"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "unknown error preset 'awful'" in done.stderr and "mild" in done.stderr
