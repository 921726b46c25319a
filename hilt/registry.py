"""Drivers and simulators are found through entry points, so a third-party package adds an
instrument by declaring ``[project.entry-points."hilt.drivers"]`` / ``"hilt.sims"`` and nothing in
hilt changes. A package adds a calibration routine the same way (``"hilt.routines"``: a function
``fn(station, *, out_dir, progress, abort, **options) -> CalibrationResult``), and a physical
system of the simulated world through ``"hilt.systems"``.

:func:`check_plugins` loads every entry point of these groups and says, for each, which package
declared it and why it did not load (``hilt plugins``, and the app's Help > Plugins).

The simulators' side of a station (the shared world, its physical systems, serving a simulator on
loopback) is found the same way, through the group ``hilt.simulation`` (name ``default``) that
``hilt.sims`` registers: the core never imports the simulators, and a bench of real instruments
runs without them installed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hilt.errors import ConfigError

DRIVER_GROUP = "hilt.drivers"
SIM_GROUP = "hilt.sims"
SIMULATION_GROUP = "hilt.simulation"
ROUTINE_GROUP = "hilt.routines"
SYSTEM_GROUP = "hilt.systems"
#: Every group hilt reads, with what an entry in it is.
GROUPS = {DRIVER_GROUP: "driver", SIM_GROUP: "simulator", SIMULATION_GROUP: "simulation back end",
          SYSTEM_GROUP: "physical system", ROUTINE_GROUP: "calibration routine"}
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


def routine_entry_points() -> dict[str, EntryPoint]:
    """Calibration routines that installed packages declare (``hilt.routines``), by name."""
    return dict(_group(ROUTINE_GROUP))


@dataclass(frozen=True)
class PluginStatus:
    """One entry point: where it comes from and whether it loads."""

    group: str
    name: str
    target: str  # "module:attribute"
    package: str  # "name version" of the distribution that declared it
    error: str | None  # None when it loaded; else one line saying why not

    @property
    def kind(self) -> str:
        return GROUPS.get(self.group, self.group)

    @property
    def ok(self) -> bool:
        return self.error is None


def check_plugins() -> list[PluginStatus]:
    """Load every entry point of :data:`GROUPS` and report each, by group and name. A plug-in
    that fails to import (a missing dependency, a typo in its target) is reported here with its
    error instead of failing the station that names it later."""
    out: list[PluginStatus] = []
    for group in GROUPS:
        for name, ep in sorted(_group(group).items()):
            dist = getattr(ep, "dist", None)
            package = f"{dist.name} {dist.version}" if dist is not None else "?"
            try:
                ep.load()
                error = None
            except Exception as exc:  # noqa: BLE001 - every failure is the report's content
                error = f"{type(exc).__name__}: {' '.join(str(exc).split()) or type(exc).__name__}"
            out.append(PluginStatus(group, name, ep.value, package, error))
    return out


def refresh() -> None:
    """Forget cached entry points (after installing a plug-in in a running interpreter)."""
    _group.cache_clear()
