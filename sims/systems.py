"""Physical systems that couple a station's simulators through the world.

A system is built from the station file's ``world.systems`` section (``name: {kind: ..., ...}``)
before the simulators start, and attached to the world under its name; simulators find it with
``world.system(name)``. Examples: ``thz_path`` (synthesizer -> multiplier -> diffractive optics ->
detector on an XY stage -> lock-in), ``mzi_chip`` (laser -> mesh driven by heater voltages ->
power-meter ports).

Kinds are entry points in the group ``hilt.systems`` (loaded only when a station uses them, so a
station without torch physics does not import torch). Each class is constructed as
``Class(world, name=..., **options)``; a class lists the options that name station instruments
in ``instrument_options`` (a tuple of option names), so a station file naming an instrument that
does not exist is refused before anything starts.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hilt.errors import ConfigError

GROUP = "hilt.systems"


@functools.cache
def _kinds() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def system_kinds() -> list[str]:
    return sorted(_kinds())


def system_class(kind: str) -> Any:
    """The class of a system kind (a station file's checks read its constructor's signature)."""
    if kind not in _kinds():
        raise ConfigError(f"unknown system kind {kind!r} (known: {', '.join(system_kinds()) or 'none'})")
    return _kinds()[kind].load()


def build_system(world: Any, kind: str, **options: Any) -> Any:
    return system_class(kind)(world, **options)
