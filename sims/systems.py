"""Physical systems that couple a station's simulators through the world.

A system is built from the station file's ``world.systems`` section (``name: {kind: ..., ...}``)
before the simulators start, and attached to the world under its name; simulators find it with
``world.system(name)``. Examples: ``thz_path`` (synthesizer -> multiplier -> diffractive optics ->
detector on an XY stage -> lock-in), ``mzi_chip`` (laser -> mesh driven by heater voltages ->
power-meter ports).

Kinds are registered in :data:`SYSTEM_KINDS` (``kind -> "module:Class"``), imported lazily so a
station without torch-based physics does not pay for importing it. Each class is constructed as
``Class(world, name=..., **options)``.
"""

from __future__ import annotations

import importlib
from typing import Any

SYSTEM_KINDS: dict[str, str] = {}


def register_system(kind: str, target: str) -> None:
    """Register a system class by ``"module:Class"`` path."""
    SYSTEM_KINDS[kind] = target


def system_kinds() -> list[str]:
    return sorted(SYSTEM_KINDS)


def build_system(world: Any, kind: str, **options: Any) -> Any:
    module, _, cls = SYSTEM_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), cls)(world, **options)
