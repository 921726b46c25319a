"""Conventions every registered driver keeps (PyMeasure-style meta-test)."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

from hilt import registry
from hilt.instrument import Instrument

TESTS = Path(__file__).parent
DOCUMENT = re.compile(r"\b(manual|reference|guide|datasheet|data sheet|specification|protocol document)\b", re.I)


@pytest.mark.parametrize("name", registry.driver_names())
def test_driver_conventions(name: str) -> None:
    cls = registry.load_driver(name)
    assert issubclass(cls, Instrument)
    assert cls.model == name, "the entry point name and the driver's model must agree"
    module_doc = sys.modules[cls.__module__].__doc__ or ""
    assert DOCUMENT.search(module_doc + (cls.__doc__ or "")), f"{name}: docstring names no source document"
    if cls.virtual:
        assert cls.simulator is None
    else:
        assert cls.simulator in registry.simulator_names(), f"{name}: no simulator registered"
        sim = registry.load_simulator(cls.simulator)
        assert sim.model == cls.simulator
    protocol_test = TESTS / f"test_{name}.py"
    assert protocol_test.exists(), f"{name}: no protocol test {protocol_test.name}"
    text = protocol_test.read_text()
    assert "expected_protocol" in text, f"{name}: {protocol_test.name} has no exact-bytes test"
    if not cls.virtual:
        assert "served" in text, f"{name}: {protocol_test.name} does not test against the simulator"
    assert "LimitError" in text, f"{name}: no test that limits are refused before sending"


@pytest.mark.parametrize("name", registry.simulator_names())
def test_simulator_conventions(name: str) -> None:
    sim = registry.load_simulator(name)
    assert sim.transport in ("tcp", "serial", "raw"), f"{name}: transport {sim.transport!r}"
    assert sim.description, f"{name}: no description for `hilt sim list`"
    assert not inspect.isabstract(sim)


@pytest.mark.parametrize("name", registry.simulator_names())
def test_every_simulator_serves_on_its_transport(name: str) -> None:
    """What `hilt sim serve MODEL` does, for every model: an address first, then a link opens."""
    import socket

    import serial

    from hilt.sims.server import serve
    from hilt.sims.world import World

    sim_cls = registry.load_simulator(name)
    servers = [serve(sim_cls(World(seed=1)))]
    if sim_cls.transport == "serial":
        servers.append(serve(sim_cls(World(seed=1)), pty=True))
    try:
        for server in servers:
            address = server.address
            if address.startswith("TCPIP::"):
                _, host, port, _ = address.split("::")
                socket.create_connection((host, int(port)), timeout=2).close()
            elif address.startswith("tcp://"):
                host, port = address[len("tcp://"):].rsplit(":", 1)
                socket.create_connection((host, int(port)), timeout=2).close()
            else:
                assert address.startswith(("socket://", "/dev/")), address
                serial.serial_for_url(address, timeout=2).close()
    finally:
        for server in servers:
            server.stop()
