"""Drivers and simulators are found through entry points, so a third-party package adds an
instrument by declaring ``[project.entry-points."hilt.drivers"]`` / ``"hilt.sims"`` and nothing in
hilt changes.

The simulators' side of a station (the shared world, its physical systems, serving a simulator on
loopback) is found the same way, through the group ``hilt.simulation`` (name ``default``) that
``hilt.sims`` registers: the core never imports the simulators, and a bench of real instruments
runs without them installed.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hilt.errors import ConfigError

DRIVER_GROUP = "hilt.drivers"
SIM_GROUP = "hilt.sims"
SIMULATION_GROUP = "hilt.simulation"
NO_SIMULATION = ("no simulation backend is installed (entry point group 'hilt.simulation' is empty): "
                 "install hilt with its simulators (hilt.sims) to simulate instruments, or set "
                 "simulate: false and give real addresses")


@functools.cache
def _group(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def driver_names() -> list[str]:
    return sorted(_group(DRIVER_GROUP))


def simulator_names() -> list[str]:
    return sorted(_group(SIM_GROUP))


def _load(group: str, name: str, what: str) -> Any:
    eps = _group(group)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise ConfigError(f"unknown {what} {name!r} (known: {known})")
    return eps[name].load()


def load_driver(name: str) -> Any:
    """The driver class registered as ``name``."""
    return _load(DRIVER_GROUP, name, "driver")


def load_simulator(name: str) -> Any:
    """The simulator class registered as ``name``."""
    return _load(SIM_GROUP, name, "simulator")


def load_simulation(name: str = "default") -> Any:
    """The simulation back end (``hilt.simulation`` entry point): builds worlds, serves simulators.

    Raises :class:`~hilt.errors.ConfigError` in one line when none is installed."""
    eps = _group(SIMULATION_GROUP)
    if name not in eps:
        if not eps:
            raise ConfigError(NO_SIMULATION)
        raise ConfigError(f"unknown simulation backend {name!r} (installed: {', '.join(sorted(eps))})")
    return eps[name].load()


def has_simulation(name: str = "default") -> bool:
    """Whether a simulation back end is installed (a bench of real instruments needs none)."""
    return name in _group(SIMULATION_GROUP)


def refresh() -> None:
    """Forget cached entry points (after installing a plug-in in a running interpreter)."""
    _group.cache_clear()
