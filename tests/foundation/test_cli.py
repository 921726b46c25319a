"""The hilt command line: sim list/serve, station check, demo."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pyvisa
import serial
from click.testing import CliRunner

from hilt import registry, stations
from hilt.gui.cli import main


def test_sim_list_names_every_model_first() -> None:
    result = CliRunner().invoke(main, ["sim", "list"])
    assert result.exit_code == 0
    firsts = [line.split()[0] for line in result.output.splitlines()]
    assert firsts == registry.simulator_names()


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", "sim", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


def test_sim_serve_answers_a_plain_pyvisa_client() -> None:
    proc, address = _serve("keysight_e8257d", "--seed", "3")
    try:
        assert address.startswith("TCPIP::127.0.0.1::") and address.endswith("::SOCKET")
        rm = pyvisa.ResourceManager("@py")
        res = rm.open_resource(address, read_termination="\n", write_termination="\n", timeout=3000)
        assert res.query("*IDN?").startswith("Keysight Technologies,E8257D,")
        res.write(":FREQ:CW 3 GHz")
        assert float(res.query(":FREQ:CW?")) == 3e9
        res.close()
    finally:
        _stop(proc)


def test_sim_serve_pty_answers_a_plain_pyserial_client() -> None:
    proc, path = _serve("keithley_2400", "--pty")
    try:
        assert path.startswith("/dev/")
        with serial.Serial(path, 9600, timeout=3) as port:
            port.write(b"*IDN?\r")
            assert port.read_until(b"\r").startswith(b"KEITHLEY INSTRUMENTS INC.,MODEL 2400")
    finally:
        _stop(proc)


def test_sim_serve_refuses_pty_for_a_socket_instrument() -> None:
    result = CliRunner().invoke(main, ["sim", "serve", "keysight_e8257d", "--pty"])
    assert result.exit_code != 0 and "not a serial instrument" in result.output


def test_station_check_passes_on_the_example() -> None:
    result = CliRunner().invoke(main, ["station", "check", str(stations.path("thz-lab"))])
    assert result.exit_code == 0, result.output
    assert "all instruments OK" in result.output
    assert "Keysight Technologies E8257D" in result.output


def test_station_check_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("instruments:\n  synth:\n    driver: keysight_e8257d\n    address: TCPIP::127.0.0.1::1::SOCKET\n"
                   "    transport: {timeout: 0.5}\n")
    result = CliRunner().invoke(main, ["station", "check", str(bad)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: station 'station': 1 instrument(s) failed to connect")


def test_station_list_shows_every_bundled_example_with_its_first_comment_line() -> None:
    result = CliRunner().invoke(main, ["station", "list"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()}
    assert set(rows) == {"thz-lab", "thz-imaging", "mzi-lab", "mzi-large", "slm-optics", "fpga", "neuromorphic"}
    thz = rows["thz-lab"].split(maxsplit=2)
    assert Path(thz[1]).name == "thz-lab.yaml" and Path(thz[1]).is_file()
    assert thz[2].startswith("A THz diffractive-network bench")
