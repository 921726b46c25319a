"""Conventions every registered driver keeps, checked by running it (PyMeasure-style meta-test).

Each registered driver is connected to its own simulator through its real transport (the
simulator found through the driver's ``simulator`` entry point, served on loopback), and asked
who it is; every setpoint it offers is tried out of range, and nothing may reach the wire. A
new driver is covered by registering it: nothing here names it, except a virtual driver, which
says below which registered driver it is composed over.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hilt import registry
from hilt.errors import InstrumentError, LimitError
from hilt.instrument import Instrument
from hilt.sims.world import SimClock, World
from hilt.snn_model import SnnLayer, SnnNetwork

TESTS = Path(__file__).parent
DOCUMENT = re.compile(r"\b(manual|reference|guide|datasheet|data sheet|specification|protocol document)\b", re.I)
#: Virtual drivers (no link of their own): the registered driver each is built over, by keyword.
VIRTUAL_OVER: dict[str, dict[str, str]] = {"vdi_multiplier": {"source": "keysight_e8257d"}}
#: Simulator options that keep a case small (a 4-port, 2-layer chip instead of 3 x 64 ports).
SIM_OPTIONS: dict[str, dict[str, Any]] = {"photonic_processor": {"n": 4, "layers": 2}}
#: Vector setpoints of a kind, each called far out of range (they are not Parameters).
VECTOR_SETPOINTS: dict[str, Callable[[Any], None]] = {
    "accelerator": lambda inst: inst.run(np.full((1, 1), 10**6)),
    "heater_driver": lambda inst: inst.set_voltages(np.full(inst.n_channels, 1e6)),
    "neuromorphic_board": lambda inst: inst.load(SnnNetwork(1, [SnnLayer(np.full((1, 1), 10**6), [1])])),
    "photonic_processor": lambda inst: inst.set_heaters(0, np.full(inst.heaters_per_layer, 1e6)),
    "slm": lambda inst: inst.show_grey(np.full(inst.shape, 1e6)),
}

DRIVERS = registry.driver_names()


@pytest.fixture
def connect(served: Callable[..., Any]) -> Iterator[Callable[[str], Instrument]]:
    """``connect(name)``: the driver connected to its simulator (a virtual one over its parts)."""
    opened: list[Instrument] = []

    def build(name: str) -> Instrument:
        cls = registry.load_driver(name)
        if cls.virtual:
            assert name in VIRTUAL_OVER, f"{name}: a virtual driver; say in VIRTUAL_OVER what it is built over"
            parts = {key: build(part) for key, part in VIRTUAL_OVER[name].items()}
            inst = cls(name=name, **parts)
        else:
            world = World(seed=1, clock=SimClock("manual"))
            _, address = served(registry.load_simulator(cls.simulator), world=world, name=name,
                                **SIM_OPTIONS.get(name, {}))
            inst = cls(address, name=name)
        inst.connect()
        opened.append(inst)
        return inst

    yield build
    for inst in reversed(opened):  # a composed instrument closes before what it is built over
        inst.close()


@pytest.mark.parametrize("name", DRIVERS)
def test_driver_is_registered_under_its_model_and_names_its_manual(name: str) -> None:
    cls = registry.load_driver(name)
    assert issubclass(cls, Instrument)
    assert cls.model == name, "the entry point name and the driver's model must agree"
    module_doc = sys.modules[cls.__module__].__doc__ or ""
    assert DOCUMENT.search(module_doc + (cls.__doc__ or "")), f"{name}: its docstring names no manual or protocol document"
    assert (TESTS / f"test_{name}.py").exists(), f"{name}: no protocol test test_{name}.py"


@pytest.mark.parametrize("name", DRIVERS)
def test_driver_has_a_simulator_or_is_virtual(name: str) -> None:
    cls = registry.load_driver(name)
    if cls.virtual:
        assert cls.simulator is None, f"{name}: a virtual driver has no simulator of its own"
        return
    assert cls.simulator in registry.simulator_names(), f"{name}: simulator {cls.simulator!r} is not registered"
    assert registry.load_simulator(cls.simulator).model == cls.simulator


@pytest.mark.parametrize("name", DRIVERS)
def test_driver_connects_to_its_simulator_and_identifies(name: str, connect) -> None:  # noqa: ANN001
    inst = connect(name)
    assert inst.connected
    identity = inst.identify()
    assert isinstance(identity, dict) and all(isinstance(v, str) for v in identity.values())
    assert identity.get("vendor") and identity.get("model"), f"{name}: identify() gave {identity}"
    if not inst.virtual:
        sent = [e for e in inst.transport.exchanges if e.direction == "->"]
        assert sent, f"{name}: connected and identified without a byte on its link"


def _ranged_setpoints(inst: Instrument) -> Iterator[tuple[str, Callable[[], None]]]:
    """Every settable parameter with a hardware range (of the instrument and its channels),
    set beyond each end; then the vector setpoints of its kinds."""
    for owner in (inst, *inst.channels):
        for p in owner.parameters.values():
            rng = getattr(p.vals, "range", None) if p.settable and p.vals is not None else None
            if not rng or not all(math.isfinite(v) for v in rng):
                continue
            lo, hi = rng
            span = (hi - lo) or 1.0
            for value in (hi + span, lo - span):
                yield f"{owner.full_name}.{p.name} = {value:g}", lambda p=p, value=value: p.set(value)
    for kind in getattr(inst, "kinds", ()):
        if kind in VECTOR_SETPOINTS:
            yield f"{kind} vector setpoint at 1e6", lambda kind=kind: VECTOR_SETPOINTS[kind](inst)


def _links(inst: Any) -> list[Any]:
    """The links a setpoint of ``inst`` could write on: its own, or those of what it is built over."""
    if not inst.virtual:
        return [inst.transport]
    return [getattr(inst, key).transport for key in VIRTUAL_OVER[inst.model]]


@pytest.mark.parametrize("name", DRIVERS)
def test_a_setpoint_out_of_range_is_refused_with_nothing_written(name: str, connect) -> None:  # noqa: ANN001
    inst = connect(name)
    links = _links(inst)
    before = [[e for e in link.exchanges if e.direction == "->"] for link in links]
    tried = []
    for what, attempt in _ranged_setpoints(inst):
        with pytest.raises(LimitError):
            attempt()
        tried.append(what)
    assert tried, f"{name}: offers no setpoint with a range to check (a Parameter with vals, or a kind's vector setpoint)"
    after = [[e for e in link.exchanges if e.direction == "->"] for link in links]
    assert after == before, f"{name}: bytes written while refusing {tried}: {after[0][len(before[0]):]}"


def _is_quantity(value: Any) -> bool:
    """A value with a physical size: a float, or floats in an array or a tuple (not a bool, an
    index, a set of names or text)."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    if isinstance(value, tuple):
        return bool(value) and all(isinstance(v, float) for v in value)
    return isinstance(value, float)


@pytest.mark.parametrize("name", DRIVERS)
def test_every_parameter_reads_from_the_simulator_and_a_quantity_has_a_unit(name: str, connect) -> None:  # noqa: ANN001
    """Every readout and setting of the driver (and of its first channel) reads against its
    simulator; whatever reads as a physical quantity says its unit (the reference shows it)."""
    inst = connect(name)
    owners = [inst, *inst.channels[:1]]
    read = 0
    for owner in owners:
        for p in owner.parameters.values():
            if not p.gettable:
                continue
            try:
                value = p.get()
            except InstrumentError:
                continue  # the instrument's own answer about its state (a stage not yet homed)
            read += 1
            assert value is not None, f"{p.full_name} read None"
            if _is_quantity(value):
                assert p.unit, f"{p.full_name} reads {value!r} but has no unit"
    assert read or not inst.parameters, f"{name}: no parameter could be read"


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
