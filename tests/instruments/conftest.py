"""Drivers connected to their simulators, for the kind meta test and the contract tests.

``connected(name)`` starts the driver's simulator (found through the driver's ``simulator`` entry
point) on loopback in a world whose clock stands still (tests move simulated time themselves),
connects the driver and returns a :class:`Bench`. A virtual driver is built over the instrument it
needs (the multiplier chain over a synthesizer). Everything is closed after the test.

Drivers of a kind are computed from the registry, so a new driver that declares a kind gets its
contract cases without touching these tests. ``SIM_OPTIONS`` only makes a simulator small (fast).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kind_cases import SIM_OPTIONS, VIRTUAL_OVER

from hilt import registry
from hilt.instrument import Instrument
from hilt.sims.world import SimClock, World


@dataclass
class Bench:
    """A connected instrument, its simulator (None for a virtual one) and what it is built over."""

    inst: Any
    sim: Any
    world: World
    parts: dict[str, Bench] = field(default_factory=dict)

    @property
    def clock(self) -> SimClock:
        return self.world.clock


@pytest.fixture
def connected(served: Callable[..., Any]) -> Iterator[Callable[[str], Bench]]:
    opened: list[Instrument] = []

    def connect(name: str, world: World | None = None) -> Bench:
        world = world or World(seed=0, clock=SimClock("manual"))
        cls = registry.load_driver(name)
        if cls.virtual:
            parts = {key: connect(part, world) for key, part in VIRTUAL_OVER[name].items()}
            inst = cls(name=name, **{key: bench.inst for key, bench in parts.items()})
            inst.connect()
            opened.append(inst)
            return Bench(inst, None, world, parts)
        sim, address = served(registry.load_simulator(cls.simulator), world=world, name=name,
                              **SIM_OPTIONS.get(name, {}))
        inst = cls(address, name=name)
        inst.connect()
        opened.append(inst)
        return Bench(inst, sim, world)

    yield connect
    for inst in reversed(opened):  # a composed instrument closes before what it is built over
        inst.close()
