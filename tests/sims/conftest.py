"""Plain clients for the simulators: pyserial and pyvisa-py as any lab script would use them.

These tests talk to the simulators without hilt's drivers, the way a vendor library or a lab's
own script does, on a world whose clock stands still until the test advances it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import serial

from hilt.sims.world import SimClock, World


@pytest.fixture
def clock() -> SimClock:
    return SimClock("manual")


@pytest.fixture
def world(clock: SimClock) -> World:
    return World(seed=7, clock=clock)


@pytest.fixture
def serial_port(served: Callable[..., Any], world: World) -> Iterator[Callable[..., tuple[Any, serial.Serial]]]:
    """``serial_port(SimClass, **options)`` -> (sim, an open pyserial port on it)."""
    ports: list[serial.Serial] = []

    def open_(sim_cls: type, **options: Any) -> tuple[Any, serial.Serial]:
        sim, address = served(sim_cls, world=world, **options)
        port = serial.serial_for_url(address, timeout=10.0)  # failure detection only
        ports.append(port)
        return sim, port

    yield open_
    for port in ports:
        port.close()


@pytest.fixture
def visa_resource(served: Callable[..., Any], world: World) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """``visa_resource(SimClass, **options)`` -> (sim, a pyvisa-py socket resource on it)."""
    import pyvisa

    rm = pyvisa.ResourceManager("@py")
    resources: list[Any] = []

    def open_(sim_cls: type, **options: Any) -> tuple[Any, Any]:
        sim, address = served(sim_cls, world=world, **options)
        res = rm.open_resource(address, read_termination="\n", write_termination="\n", timeout=10000)
        resources.append(res)
        return sim, res

    yield open_
    for res in resources:
        res.close()
    # Not rm.close(): pyvisa shares one resource manager per backend in the process, and closing
    # it would close the sessions of whatever else uses pyvisa in this test run.

