"""Drivers and simulators are found through entry points, so a third-party package adds an
instrument by declaring ``[project.entry-points."hilt.drivers"]`` / ``"hilt.sims"`` and nothing in
hilt changes.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hilt.errors import ConfigError

DRIVER_GROUP = "hilt.drivers"
SIM_GROUP = "hilt.sims"


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


def refresh() -> None:
    """Forget cached entry points (after installing a plug-in in a running interpreter)."""
    _group.cache_clear()
