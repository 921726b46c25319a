"""Which drivers claim which kinds (from the registry), and how to make their simulators small."""

from __future__ import annotations

from typing import Any

from hilt import registry

#: Simulator options that keep a case fast (a 4-port, 2-layer chip instead of 3 x 64 ports).
SIM_OPTIONS: dict[str, dict[str, Any]] = {
    "photonic_processor": {"n": 4, "layers": 2},
}
#: Virtual drivers: the registered driver each one is composed over, by keyword.
VIRTUAL_OVER: dict[str, dict[str, str]] = {
    "vdi_multiplier": {"source": "keysight_e8257d"},
}


def drivers_of(kind: str) -> list[str]:
    """Registered drivers that declare ``kind``."""
    return [name for name in registry.driver_names() if kind in registry.load_driver(name).kinds]


def driver_kind_pairs() -> list[tuple[str, str]]:
    return [(name, kind) for name in registry.driver_names() for kind in registry.load_driver(name).kinds]
