"""Qontrol, Gentec-EO MAESTRO, the JDSU SB switch and the photonic processor from plain clients
(pyserial, a raw socket): every command of their references, including those hilt's drivers do
not send, with the replies the manuals give."""

from __future__ import annotations

import socket
import struct

import numpy as np
import pytest

from hilt.framing import ERROR_TYPE, REPLY_BIT, Frame, parse_error, split_frames
from hilt.sims.gentec_maestro import SimMaestro
from hilt.sims.jdsu_sb import SimJdsuSB
from hilt.sims.photonic_processor import (
    GET_HEATERS,
    INFO,
    LIGHT,
    RUN,
    SAFE,
    SET_HEATERS,
    SimPhotonicProcessor,
)
from hilt.sims.qontrol import SimQontrolQ8b, SimQontrolQ8iv


def _lines(port, command: str, n: int = 1, end: bytes = b"\n") -> list[str]:  # type: ignore[no-untyped-def]
    port.write(command.encode() + b"\n")
    return [port.read_until(end).decode().rstrip("\r\n") for _ in range(n)]


# -- Qontrol ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("cls", "ifull"), [(SimQontrolQ8iv, "+24.0000 mA"), (SimQontrolQ8b, "+83.3330 mA")])
def test_qontrol_information_and_chain_queries(serial_port, cls: type, ifull: str) -> None:
    sim, port = serial_port(cls, modules=2, load_ohm=1000.0)
    assert _lines(port, "id?") == [f"{sim.device_type}-01F3"]
    assert _lines(port, "nchan?") == ["8"]
    assert _lines(port, "vfull?") == ["+12.0000 V"]
    assert _lines(port, "ifull?") == [ifull]
    assert _lines(port, "firmware?") == ["v2.4.1"]
    assert _lines(port, "nup?") == ["1"]
    assert _lines(port, "nupall?", 2) == [f"{sim.device_type}-01F3: 0", f"{sim.device_type}-01F4: 1"]
    sim.world.clock.advance(42.0)
    assert _lines(port, "lifetime?") == ["42 s"]


@pytest.mark.parametrize("cls", [SimQontrolQ8iv, SimQontrolQ8b])
def test_qontrol_vectors_whole_chain_limits_and_ok_replies(serial_port, cls: type) -> None:
    sim, port = serial_port(cls, modules=1, load_ohm=1000.0)
    assert _lines(port, "vvec0=1,2,3") == ["OK"]
    volts = [float(line.split()[0]) for line in _lines(port, "vall?", 8)]
    assert volts[:4] == pytest.approx([1, 2, 3, 0], abs=2e-4)  # the 16-bit DAC's steps
    assert _lines(port, "ivec4=1.5") == ["OK"]  # 1.5 mA through 1 kOhm: 1.5 V
    assert float(_lines(port, "v4?")[0].split()[0]) == pytest.approx(1.5, abs=2e-4)
    assert _lines(port, "i4?")[0].endswith(" mA")
    assert float(_lines(port, "iall?", 8)[1].split()[0]) == pytest.approx(2.0, abs=2e-4)
    assert _lines(port, "vipall?", 8)[2] == "0,2: +3.0000 V, +3.0000 mA"
    assert _lines(port, "vmax1=2.5") == ["OK"]
    assert _lines(port, "vmax1?") == ["+2.5000 V"]
    assert _lines(port, "v1=4") == ["E01:01"]  # clamped to vmax, answered over-voltage
    assert _lines(port, "v1?") == ["+2.5000 V"]
    assert _lines(port, "imax2=1") == ["OK"]
    assert _lines(port, "imax2?") == ["+1.0000 mA"]
    assert _lines(port, "vall=0") == ["OK"]
    assert np.all(sim.world.get(f"{sim.name}.voltages") == 0.0)
    port.write(b"ok=0\n")  # OK replies off: a good set answers nothing from now on
    assert _lines(port, "ok?") == ["0"]
    port.write(b"v0=1\n")
    assert _lines(port, "v0?") == ["+1.0000 V"]  # the set before answered nothing


# -- Gentec-EO MAESTRO --------------------------------------------------------------------------------
def _maestro(port, command: str, n: int = 1) -> list[str]:  # type: ignore[no-untyped-def]
    port.write(command.encode())
    return [port.read_until(b"\r\n").decode().rstrip("\r\n") for _ in range(n)]


def test_maestro_ranges_step_and_list(serial_port) -> None:
    sim, port = serial_port(SimMaestro, head_ranges=(20, 25))
    lines = _maestro(port, "*DVS", 6)
    assert lines[0] == "[20] : 10.0 m" and lines[2] == "[22] : 100.0 m" and lines[5] == "[25] : 3.0"
    port.write(b"*SCS21")
    assert _maestro(port, "*GCR") == ["Range : 21"]
    port.write(b"*SSU")
    assert _maestro(port, "*GCR") == ["Range : 22"]
    port.write(b"*SSD*SSD*SSD")  # stops at the head's lowest range
    assert _maestro(port, "*GCR") == ["Range : 20"]
    assert _maestro(port, "*GAS") == ["AutoScale : 0"]
    assert _maestro(port, "*SCS30") == ["Invalid Parameter"]  # not a range of this head
    port.write(b"*SAS1")
    assert _maestro(port, "*GAS") == ["AutoScale : 1"]


def test_maestro_setup_and_measurement_commands(serial_port) -> None:
    sim, port = serial_port(SimMaestro)
    assert _maestro(port, "*VER") == ["MAESTRO Version 1.00.12"]
    port.write(b"*PWC01000")
    assert _maestro(port, "*GWL") == ["PWC: 1000"]
    for setting in (b"*STL12.5", b"*MUL1.000000", b"*OFF0.000000", b"*DBU0", b"*ANO1"):
        port.write(setting)  # settings answer nothing
    assert _maestro(port, "*NVU") == ["New Data Available"]
    assert _maestro(port, "*CVU")[0].startswith("Current Value : ")
    port.write(b"*SOU")
    assert _maestro(port, "*GZO") == ["Zero : 1"]
    port.write(b"*COU")
    assert _maestro(port, "*GZO") == ["Zero : 0"]


# -- JDSU SB switch -----------------------------------------------------------------------------------
def _sb(port, command: str) -> str:  # type: ignore[no-untyped-def]
    port.write(command.encode() + b"\r")
    return port.read_until(b"\r\n").decode().rstrip("\r\n")


def test_jdsu_learn_string_restores_the_switch(serial_port) -> None:
    sim, port = serial_port(SimJdsuSB, channels=8)
    port.write(b"CLOSE 5;XDR 1 1;XDR 3 1;SRE 32\r")
    learned = _sb(port, "LRN?")
    assert learned == "CLOSE 5;XDRS 5;SRE 32"
    port.write(b"RESET;SRE 0\r")
    assert _sb(port, "LRN?") == "CLOSE 0;XDRS 0;SRE 0"
    port.write(learned.encode() + b"\r")  # the learn string sent back as commands
    assert _sb(port, "LRN?") == learned
    assert sim.world.get(f"{sim.name}.channel") == 5
    port.write(b"XDRS 130\r")
    assert _sb(port, "XDRS?") == "130"
    assert _sb(port, "SRE?") == "032"
    assert _sb(port, "STB?") == "001" and _sb(port, "LERR?") == "000"
    port.write(b"XDRS 300\r")  # beyond eight drivers
    assert _sb(port, "STB?") == "033" and _sb(port, "LERR?") == "101"


# -- photonic processor (hilt frames) -----------------------------------------------------------------
class _FrameClient:
    def __init__(self, address: str) -> None:
        host, port = address[len("tcp://"):].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10.0)
        self.buffer = bytearray()
        self.seq = 0

    def ask(self, ftype: int, payload: bytes = b"") -> Frame:
        self.seq += 1
        self.sock.sendall(Frame(ftype, self.seq, payload).encode())
        frames: list[Frame] = []
        while not frames:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buffer += chunk
            frames = split_frames(self.buffer)
        assert frames[0].seq == self.seq
        return frames[0]


def test_photonic_processor_every_frame_type(served) -> None:
    import json

    sim, address = served(SimPhotonicProcessor, n=4, layers=2)
    client = _FrameClient(address)
    try:
        info = client.ask(INFO)
        assert info.type == INFO | REPLY_BIT
        described = json.loads(info.payload)
        assert (described["n_ports"], described["n_layers"], described["heaters_per_layer"]) == (4, 2, 16)
        volts = np.linspace(0.5, 2.0, 4, dtype="<f4")
        reply = client.ask(SET_HEATERS, struct.pack(">HII", 1, 2, 4) + volts.tobytes())
        assert reply.type == SET_HEATERS | REPLY_BIT and reply.payload == b""
        reply = client.ask(GET_HEATERS, struct.pack(">H", 1))
        (count,) = struct.unpack(">I", reply.payload[:4])
        got = np.frombuffer(reply.payload[4:], dtype="<f4")
        assert count == 16 and np.array_equal(got[2:6], volts) and not got[:2].any()
        x = np.zeros((3, 4), dtype="<c8")
        x[:, 0] = 1.0
        reply = client.ask(RUN, struct.pack(">BIH", 1, 3, 4) + x.tobytes())
        batch, n, states = struct.unpack(">IHB", reply.payload[:7])
        out = np.frombuffer(reply.payload[7:], dtype="<f4").reshape(1 + states, batch, n)
        assert (batch, n, states) == (3, 4, 1) and out[0].sum() > 0
        assert client.ask(LIGHT, struct.pack(">Bf", 0, 1.0)).type == LIGHT | REPLY_BIT
        dark = client.ask(RUN, struct.pack(">BIH", 0, 3, 4) + x.tobytes())
        assert not np.frombuffer(dark.payload[7:], dtype="<f4").any()  # light off: darkness
        assert client.ask(SAFE).type == SAFE | REPLY_BIT
        assert not np.frombuffer(client.ask(GET_HEATERS, struct.pack(">H", 1)).payload[4:], dtype="<f4").any()
        refused = client.ask(SET_HEATERS, struct.pack(">HII", 0, 0, 1) + np.float32(99.0).tobytes())
        assert refused.type == ERROR_TYPE and parse_error(refused.payload)[0] == 4  # above v_max
    finally:
        client.sock.close()
