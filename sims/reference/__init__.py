"""Machine-readable command references of the simulated instruments.

One module per simulator model (``hilt.sims.reference.<model>``) defines ``REFERENCE``: every
command of the manual's command reference for the subsystems a lab uses, implemented by the
simulator or not, each with a probe line a client could send. Whether a command is implemented
is not written down here: :mod:`hilt.sims.coverage` sends the probe to a fresh simulator and
sees whether the simulator treats it as unknown.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One entry of a manual's command reference."""

    #: As the manual lists it: ``SRAT``, ``[:SOURce]:FREQuency[:CW]``, ``MO``.
    name: str
    #: The manual's subsystem or chapter heading.
    subsystem: str
    #: One line a client could send to exercise it, without the terminator.
    probe: str
    summary: str = ""


@dataclass(frozen=True)
class Reference:
    model: str
    #: The document the list follows, and what was left out.
    manual: str
    #: ``scpi`` (headers with long/short forms), ``mnemonic`` (SRS, Newport) or ``decof``.
    syntax: str
    commands: tuple[Command, ...]


def reference_for(model: str) -> Reference | None:
    """The command reference of a simulator model, or None when none is recorded yet."""
    try:
        module = importlib.import_module(f"hilt.sims.reference.{model}")
    except ModuleNotFoundError:
        return None
    return getattr(module, "REFERENCE", None)
