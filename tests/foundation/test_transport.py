"""Transports against real simulators: VISA socket, serial socket:// and pty, raw TCP."""

from __future__ import annotations

import os
import signal
import threading

import pytest
import pyvisa

from hilt.drivers.keithley_2400 import Keithley2400
from hilt.drivers.keysight_e8257d import KeysightE8257D
from hilt.errors import (
    ConnectError,
    InstrumentCommunicationError,
    InstrumentError,
    InstrumentTimeout,
    ProtocolError,
)
from hilt.sims.keithley_2400 import SimKeithley2400
from hilt.sims.keysight_e8257d import SimE8257D
from hilt.transport import open_transport, transport_kind


def test_address_picks_the_transport() -> None:
    assert transport_kind("TCPIP::10.0.0.2::5025::SOCKET") == "visa"
    assert transport_kind("GPIB0::8::INSTR") == "visa"
    assert transport_kind("socket://127.0.0.1:5000") == "serial"
    assert transport_kind("/dev/ttyUSB0") == "serial"
    assert transport_kind("tcp://127.0.0.1:1998") == "tcp"
    # Serial settings are dropped for a socket, so one driver serves both.
    t = open_transport("tcp://127.0.0.1:1", baudrate=115200, read_termination="\r")
    assert t.kind == "tcp" and t.read_termination == "\r"


@pytest.mark.parametrize("how", ["visa", "tcp"])
def test_query_over_socket_transports(served, how) -> None:
    sim, address = served(SimE8257D)
    if how == "tcp":
        address = address.replace("TCPIP::", "tcp://").replace("::SOCKET", "").replace("::", ":")
    with open_transport(address, timeout=1.0) as t:
        assert t.query("*IDN?").startswith("Keysight Technologies,E8257D,")
        t.write(":FREQ:CW 1.5 GHz")
        assert float(t.query(":FREQ:CW?")) == 1.5e9
        sent = [x.data for x in t.exchanges if x.direction == "->"]
        got = [x.data for x in t.exchanges if x.direction == "<-"]
        assert sent == [b"*IDN?\n", b":FREQ:CW 1.5 GHz\n", b":FREQ:CW?\n"]
        assert got[-1] == b"+1.50000000E+09\n"


@pytest.mark.parametrize("pty", [False, True])
def test_serial_transport_socket_url_and_pty(served, pty) -> None:
    sim, address = served(SimKeithley2400, pty=pty)
    assert address.startswith("/dev/") if pty else address.startswith("socket://")
    with Keithley2400(address) as k:
        assert k.identify()["model"] == "MODEL 2400"
        k.output.set(True)
        k.voltage.set(0.05)
        v, i = k.measure()
        assert v == pytest.approx(0.05) and i == pytest.approx(0.05 / 1000, rel=1e-4)
    # Leaving the block put the instrument in its safe state.
    assert sim.output is False and sim.voltage == 0.0


def test_plain_pyvisa_client_reads_simulator(served) -> None:
    sim, address = served(SimE8257D)
    rm = pyvisa.ResourceManager("@py")
    res = rm.open_resource(address, read_termination="\n", write_termination="\n", timeout=2000)
    try:
        assert res.query("*IDN?") == sim.idn
    finally:
        res.close()


def test_timeout_raises_instrument_timeout(served) -> None:
    sim, address = served(SimE8257D)
    with KeysightE8257D(address, timeout=0.2) as synth:
        sim.faults.delay = 1.0
        with pytest.raises(InstrumentTimeout, match="no reply within 0.2 s"):
            synth.frequency.get()
        sim.faults.delay = 0.0


@pytest.mark.parametrize("driver,sim_cls,pty", [(KeysightE8257D, SimE8257D, False),
                                                 (Keithley2400, SimKeithley2400, False),
                                                 (Keithley2400, SimKeithley2400, True)])
def test_garbled_reply_is_a_protocol_error(served, driver, sim_cls, pty) -> None:
    sim, address = served(sim_cls, pty=pty)
    with driver(address) as inst:
        sim.faults.garble = True
        with pytest.raises(ProtocolError):
            inst.identify()
        sim.faults.garble = False
        assert inst.identify()["vendor"]  # the link still works afterwards


def test_dropped_connection_reaches_the_caller(served) -> None:
    sim, address = served(SimE8257D)
    # pyvisa-py reports a closed socket as a timeout; the raw TCP transport sees the close.
    synth = KeysightE8257D(address, timeout=0.3)
    synth.connect()
    sim.faults.drop = True
    with pytest.raises(InstrumentCommunicationError):
        synth.frequency.get()
    synth.close()
    tcp = open_transport(address.replace("TCPIP::", "tcp://").replace("::SOCKET", "").replace("::", ":"), timeout=1.0)
    with tcp, pytest.raises(ConnectError, match="closed"):
        tcp.query("*IDN?")


def test_instrument_error_carries_code_and_meaning(served) -> None:
    sim, address = served(SimE8257D)
    with KeysightE8257D(address) as synth:
        sim.faults.error = True
        with pytest.raises(InstrumentError) as info:
            synth.power.set(-10)
        assert info.value.code == -200
        assert "Execution error" in info.value.meaning
        assert sim.power == -135.0  # the failed command did not take
        synth.power.set(-10)  # the queue was drained: the next set is clean
        assert sim.power == -10.0


def test_unknown_command_reported_by_error_queue(served) -> None:
    sim, address = served(SimE8257D)
    with KeysightE8257D(address) as synth:
        with pytest.raises(InstrumentError) as info:
            synth.write(":FREQ:BOGUS 1", check_errors=True)
        assert info.value.code == -113 and info.value.meaning.startswith("Undefined header")


def test_connect_to_nothing_is_a_connect_error() -> None:
    with pytest.raises(ConnectError, match="cannot"):
        KeysightE8257D("TCPIP::127.0.0.1::1::SOCKET", timeout=0.5).connect()


def test_concurrent_callers_never_interleave(served) -> None:
    """Eight threads query one instrument at once; each reply belongs to its own question."""
    sim, address = served(SimE8257D)
    problems: list[str] = []
    with KeysightE8257D(address) as synth:
        synth.frequency.set(12e9)

        def worker(k: int) -> None:
            for _ in range(40):
                if k % 2:
                    if synth.frequency.get() != 12e9:
                        problems.append("frequency")
                elif not synth.query("*IDN?").startswith("Keysight"):
                    problems.append("idn")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert problems == []


@pytest.fixture
def terminal_sigint():
    """What a terminal gives: a shell that runs the suite in the background hands it SIGINT
    ignored, and Python keeps it so (then no Ctrl-C would reach the code under test)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_waits_for_the_transaction(served, terminal_sigint) -> None:
    sim, address = served(SimE8257D)
    with KeysightE8257D(address) as synth:
        replies = []
        with pytest.raises(KeyboardInterrupt):
            with synth.transaction() as t:
                t.write("*IDN?")
                os.kill(os.getpid(), signal.SIGINT)  # lands between the write and the read
                replies.append(t.read())
        assert replies and replies[0] == sim.idn
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        # The link is in step: the next reply answers the next question.
        assert synth.query(":OUTP?") == "0"
