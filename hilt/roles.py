"""Station roles: what an instrument is *for* on a bench, and the kinds of instrument that can fill it.

A station file names its roles::

    roles:
      source: synth                 # a standard role: the kinds it accepts are in ROLES below
      detector: lockin
      pump: {instrument: laser2, kind: tunable_laser}   # any other role says its kind

A calibration routine or a training loop asks the station for a role (``station.role("detector")``)
or a kind (``station.by_kind("lock_in")``), never for a driver class, so it runs on every bench
whose file names the role with an instrument of a fitting kind. A driver declares the kinds it
implements by name (``kinds = ("lock_in",)``); the kinds themselves, the interfaces a conforming
instrument offers, are in ``hilt.instruments.kinds``. This module holds names only: the core
never imports the layers above it (ADR 0008).
"""

from __future__ import annotations

from typing import Any

#: The standard roles and the kinds (by name) an instrument needs to fill each.
ROLES: dict[str, tuple[str, ...]] = {
    "source": ("signal_source",),
    "multiplier": ("frequency_multiplier",),
    "detector": ("lock_in", "power_meter"),
    "lockin": ("lock_in",),
    "meter": ("power_meter",),
    "laser": ("tunable_laser",),
    "heaters": ("heater_driver",),
    # the heaters of a chip's input modulators (amplitude and phase per input port)
    "modulators": ("heater_driver",),
    "stage": ("motion_stage",),
    "processor": ("photonic_processor",),
    # the fibre switch that routes the laser to one of a chip's inputs (heater calibration)
    "input_switch": ("optical_switch",),
    # a phase SLM and the camera that watches what it does (an SLM bench)
    "slm": ("slm",),
    "camera": ("camera",),
    # an int8 inference accelerator (an FPGA design behind the hilt board protocol)
    "accelerator": ("accelerator",),
    # a neuromorphic board running spiking networks (hilt board protocol, class 2)
    "neuromorphic": ("neuromorphic_board",),
}


def kind_name(kind: Any) -> str:
    """The name of a kind given as its name or as its interface (a class with a ``kind`` name)."""
    if isinstance(kind, str):
        return kind
    name = getattr(kind, "kind", None)
    if not isinstance(name, str):
        raise TypeError(f"{kind!r} is not a device kind (a kind's name, or a kind Protocol from "
                        "hilt.instruments.kinds)")
    return name


def declared_kinds(driver_cls: type) -> tuple[str, ...]:
    """The kinds a driver class declares it implements (none for a driver that declares none)."""
    return tuple(getattr(driver_cls, "kinds", ()) or ())


def accepted_kinds(role: str, kind: str | None = None) -> tuple[str, ...] | None:
    """Kinds that fill ``role``: the one given, else the standard table's; None for an unknown role."""
    if kind is not None:
        return (kind,)
    return ROLES.get(role)


def either(kinds: tuple[str, ...]) -> str:
    """``lock_in or power_meter``: kinds as a message says them."""
    return " or ".join(kinds)


def how_to_add(role: str, kinds: tuple[str, ...] | None) -> str:
    """What to write in a station file to give it ``role``."""
    if role in ROLES:
        return f"add it to the station file: roles: {{{role}: INSTRUMENT}}"
    kind = kinds[0] if kinds else "KIND"
    return f"add it to the station file: roles: {{{role}: {{instrument: INSTRUMENT, kind: {kind}}}}}"
