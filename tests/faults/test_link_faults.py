"""Every fault on every kind of link: the next call recovers with the right value or raises the
driver's own error, and never returns another request's reply.

Each case reads two different quantities whose values are known and distinct (a synthesizer's
frequency and power, two heater voltages, two heater layers, ...), injects one fault class in the
simulator, reads again, then clears the fault and checks that both reads are back in step. The
simulators run on loopback through the real pyvisa-py / pyserial / socket stacks.

The fast set (``make test``) runs one late reply and one simulator restart per link; ``make
faults`` runs the whole matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from hilt.drivers.keysight_e8257d import KeysightE8257D
from hilt.drivers.photonic_processor import PhotonicProcessor
from hilt.drivers.qontrol import QontrolQ8iv
from hilt.drivers.srs_sr830 import SR830
from hilt.drivers.toptica_dlcpro import TopticaDLCpro
from hilt.errors import InstrumentCommunicationError
from hilt.sims.keysight_e8257d import SimE8257D
from hilt.sims.photonic_processor import SimPhotonicProcessor
from hilt.sims.qontrol import SimQontrolQ8iv
from hilt.sims.server import serve
from hilt.sims.srs_sr830 import SimSR830
from hilt.sims.toptica_dlcpro import SimDLCpro
from hilt.sims.world import World

TIMEOUT = 0.3  # the drivers' timeout here; a late reply comes after 2x this


@dataclass
class Link:
    """One driver on one kind of link, with two reads whose right answers are known."""

    name: str
    sim: Any
    server: Any
    inst: Any
    read_a: Callable[[], Any]
    read_b: Callable[[], Any]
    a: Any
    b: Any
    pty: bool

    def restart(self) -> None:
        """The simulator goes away and comes back on the same port (a power cycle of the box)."""
        port = self.server.port
        self.server.stop()
        self.server = serve(self.sim, port=port)


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, np.ndarray):
        return np.allclose(got, want, atol=1e-3)
    return bool(np.isclose(got, want, rtol=1e-6, atol=1e-4))


def _visa_synth() -> Link:
    sim = SimE8257D(World(seed=0))
    server = serve(sim)
    inst = KeysightE8257D(server.address, timeout=TIMEOUT)
    inst.connect()
    inst.frequency.set(12.5e9)
    inst.power.set(-7.0)
    return Link("visa-socket", sim, server, inst, inst.frequency.get, inst.power.get, 12.5e9, -7.0, False)


def _serial_qontrol(pty: bool) -> Callable[[], Link]:
    def make() -> Link:
        sim = SimQontrolQ8iv(World(seed=0))
        server = serve(sim, pty=pty)
        inst = QontrolQ8iv(server.address, timeout=TIMEOUT)
        inst.connect()
        inst.channels[0].voltage.set(1.5)
        inst.channels[1].voltage.set(2.5)
        return Link("pty" if pty else "serial-socket", sim, server, inst, inst.channels[0].voltage.get,
                    inst.channels[1].voltage.get, 1.5, 2.5, pty)
    return make


def _pty_lockin() -> Link:
    sim = SimSR830(World(seed=0))
    server = serve(sim, pty=True)
    inst = SR830(server.address, timeout=TIMEOUT)
    inst.connect()
    inst.frequency.set(77.7)
    inst.amplitude.set(0.5)
    return Link("pty-scpi", sim, server, inst, inst.frequency.get, inst.amplitude.get, 77.7, 0.5, True)


def _tcp_decof() -> Link:
    sim = SimDLCpro(World(seed=0))
    server = serve(sim)
    inst = TopticaDLCpro(server.address, timeout=TIMEOUT)
    inst.connect()
    inst.bias.set(0.5)
    inst.frequency.set(1e12)
    return Link("raw-tcp", sim, server, inst, inst.frequency.get, inst.bias.get, 1e12, 0.5, False)


def _frame_chip() -> Link:
    sim = SimPhotonicProcessor(World(seed=0), n=4, layers=2)
    server = serve(sim)
    inst = PhotonicProcessor(server.address, timeout=TIMEOUT)
    inst.connect()
    first, second = np.linspace(0.5, 2.0, inst.heaters_per_layer), np.linspace(3.0, 4.5, inst.heaters_per_layer)
    inst.set_heaters(0, first)
    inst.set_heaters(1, second)
    return Link("frame-protocol", sim, server, inst, lambda: inst.get_heaters(0), lambda: inst.get_heaters(1),
                first, second, False)


LINKS: dict[str, Callable[[], Link]] = {
    "visa-socket": _visa_synth,
    "serial-socket": _serial_qontrol(False),
    "pty": _serial_qontrol(True),
    "pty-scpi": _pty_lockin,
    "raw-tcp": _tcp_decof,
    "frame-protocol": _frame_chip,
}


@pytest.fixture
def link(request: pytest.FixtureRequest) -> Iterator[Link]:
    made = LINKS[request.param]()
    yield made
    made.inst.close()
    made.server.stop()


def inject(lk: Link, fault: str) -> None:
    faults = lk.sim.faults
    if fault == "delay":
        faults.delay, faults.delay_count = 2 * TIMEOUT, 1  # one reply, late
    elif fault == "drop":
        faults.drop, faults.drop_count = True, 1  # the link drops once
    elif fault == "garble":
        faults.garble = True
    elif fault == "truncate":
        faults.truncate = True
    elif fault == "error":
        faults.error, faults.error_count = True, 1
    elif fault == "restart":
        lk.restart()


def check_in_step(lk: Link, fault: str) -> dict[str, int]:
    """The read under the fault is right or raises; afterwards both reads are right again."""
    outcome = {"recovered": 0, "raised": 0}
    try:
        got = lk.read_a()
    except InstrumentCommunicationError:
        outcome["raised"] += 1
    else:
        assert _same(got, lk.a), f"{lk.name}/{fault}: read {got!r}, the right answer is {lk.a!r}"
        outcome["recovered"] += 1
    lk.sim.faults.clear()
    for read, want in ((lk.read_b, lk.b), (lk.read_a, lk.a), (lk.read_b, lk.b)):
        got = read()
        assert _same(got, want), f"{lk.name}/{fault} then cleared: read {got!r}, the right answer is {want!r}"
    return outcome


# A fault that must be survived with the right value, not just an error: a single late reply,
# and (on network links) a restart of the instrument; a dropped network link is reopened.
MUST_RECOVER = {"delay", "restart"}

FAST = [(name, fault) for name in LINKS for fault in ("delay", "restart") if not name.startswith("pty")
        or fault == "delay"]
FULL = [(name, fault) for name in LINKS for fault in ("drop", "delay", "garble", "truncate", "error", "restart")
        if not (name.startswith("pty") and fault == "restart")]  # a pty has no port to come back on


def _run(lk: Link, fault: str) -> None:
    inject(lk, fault)
    outcome = check_in_step(lk, fault)
    if fault in MUST_RECOVER or (fault == "drop" and not lk.pty):
        assert outcome["recovered"] == 1, f"{lk.name}/{fault}: expected the right value after recovery"


@pytest.mark.parametrize("link,fault", FAST, indirect=["link"], ids=[f"{n}-{f}" for n, f in FAST])
def test_fault_on_link_fast(link: Link, fault: str) -> None:
    _run(link, fault)


@pytest.mark.slow
@pytest.mark.parametrize("link,fault", FULL, indirect=["link"], ids=[f"{n}-{f}" for n, f in FULL])
def test_fault_on_link(link: Link, fault: str) -> None:
    _run(link, fault)


@pytest.mark.parametrize("link", ["visa-socket", "frame-protocol"], indirect=True)
def test_safe_state_after_the_instrument_restarted(link: Link) -> None:
    """A restart under a connected driver: the safe state reopens the link and still lands."""
    link.restart()
    link.inst.safe_state()
    if isinstance(link.inst, PhotonicProcessor):
        assert not link.sim.light_on and all(v.max() == 0 for v in link.sim.volts)
    else:
        assert link.inst.output.get() is False


def test_a_refused_scpi_query_is_reported_for_itself_not_for_the_next_command(served) -> None:
    """The instrument answers an unknown query with silence and an error-queue entry: the
    driver reports that error for the query (once, after one timeout) and the next set is clean."""
    from hilt.errors import InstrumentError

    sim, address = served(SimE8257D)
    with KeysightE8257D(address, timeout=TIMEOUT) as synth:
        with pytest.raises(InstrumentError) as info:
            synth.query(":FREQ:BOGUS?")
        assert info.value.code == -113 and info.value.command == ":FREQ:BOGUS?"
        assert sum(e.data == b":FREQ:BOGUS?\n" for e in synth.transport.exchanges) == 1  # not asked again
        synth.frequency.set(11e9)  # its error check finds an empty queue
        assert synth.frequency.get() == 11e9


def test_unsolicited_bytes_are_logged_and_never_read_as_a_reply(caplog: pytest.LogCaptureFixture) -> None:
    """Bytes nobody asked for (a second line after a reply) are found before the next command
    is written: the link finds its place with the fence, and the bytes are logged, not lost."""
    from hilt.testing import expected_protocol

    with caplog.at_level("WARNING", logger="hilt.io"), expected_protocol(KeysightE8257D, [
        (b":OUTP?\n", b"0\njunk\n"),
        (b"*IDN?\n*OPC?\n", b"Keysight Technologies,E8257D,US0001,C.06.28\n1\n"),
        (b":OUTP?\n", b"1\n"),
    ]) as synth:
        assert synth.output.get() is False
        assert synth.output.get() is True  # not "junk"
    assert "dropped 5 unread byte(s): b'junk\\n'" in caplog.text
