"""What a station needs from the simulators, behind the entry point ``hilt.simulation`` / ``default``.

The core (``hilt.station``, ``hilt.config``) never imports ``hilt.sims``: it asks
:func:`hilt.registry.load_simulation` for this object, so the layers point down (ADR 0008) and a
bench of real instruments runs with no simulator installed. A station file's ``world:`` section
and every instrument's ``sim:`` options are checked against what this backend reports (the error
presets, the world-system classes, the simulators' common base class), and a station started with
``simulate: true`` builds its world and serves its simulators through it.

The simulator classes themselves are still found by name in the ``hilt.sims`` entry-point group,
so a package of your own adds a simulator without a backend of its own.
"""

from __future__ import annotations

from typing import Any

from hilt.sims.base import SimulatedInstrument
from hilt.sims.systems import system_class, system_kinds
from hilt.sims.world import SimClock, World


class SimulationBackend:
    """hilt's loopback simulators: one shared :class:`~hilt.sims.world.World` per station."""

    #: Constructor arguments above this class are the simulators' own options (``sim:`` in a file).
    simulator_base: type = SimulatedInstrument

    def system_kinds(self) -> list[str]:
        """Names of the physical systems a ``world.systems`` entry may ask for (``kind:``)."""
        return system_kinds()

    def system_class(self, kind: str) -> type:
        """The class of a world system; its constructor's signature says which options it takes."""
        return system_class(kind)

    def error_presets(self) -> list[str]:
        """Names accepted by ``world.errors`` (the hidden systematic-error levels)."""
        # Imported here: the physics brings torch, which a station without errors never needs.
        from hilt.sims.physics.errors import PRESETS

        return list(PRESETS)

    def new_world(self, *, seed: int, errors: str, clock: str, speed: float) -> World:
        """An empty world; the station attaches its systems with :meth:`build_system`."""
        return World(seed=seed, errors=errors, clock=SimClock(clock, speed))

    def build_system(self, world: World, kind: str, name: str, **options: Any) -> Any:
        """A world system (``world.systems.NAME``), built but not yet attached."""
        return self.system_class(kind)(world, name=name, **options)

    def start_simulator(self, world: World, sim_cls: type, name: str, options: dict[str, Any]
                        ) -> tuple[Any, Any]:
        """Build the simulator of instrument ``name`` in ``world`` and serve it on loopback.

        Returns ``(simulator, server)``; ``server.address`` is what the driver opens. A
        TypeError means an option the simulator does not take."""
        from hilt.sims.server import serve

        sim = sim_cls(world, name=name, **options)
        return sim, serve(sim)

    def stop(self, server: Any) -> None:
        """Stop serving a simulator (its clients see the link close)."""
        server.stop()


#: The object the ``hilt.simulation`` entry point ``default`` names.
backend = SimulationBackend()
