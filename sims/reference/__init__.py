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
    #: ``scpi`` (headers with long/short forms), ``mnemonic`` (SRS, Newport), ``decof`` or
    #: ``framed`` (hilt's binary frames: a probe is hex, the type byte then the payload).
    syntax: str
    commands: tuple[Command, ...]


#: IEEE 488.2 common commands (IEEE 488.2-1992 section 10), as SCPI manuals list them:
#: name -> (probe, summary). Each manual lists its own subset; :func:`common` picks it.
IEEE488_COMMON: dict[str, tuple[str, str]] = {
    "*IDN?": ("*IDN?", "identification"),
    "*OPT?": ("*OPT?", "installed options"),
    "*RST": ("*RST", "reset"),
    "*CLS": ("*CLS", "clear status"),
    "*ESE": ("*ESE?", "standard event status enable"),
    "*ESR?": ("*ESR?", "standard event status register"),
    "*SRE": ("*SRE?", "service request enable"),
    "*STB?": ("*STB?", "status byte"),
    "*OPC": ("*OPC?", "operation complete"),
    "*WAI": ("*WAI", "wait to continue"),
    "*TST?": ("*TST?", "self test"),
    "*PSC": ("*PSC?", "power-on status clear"),
}

#: The SCPI-1999 error queue and version queries (SCPI-1999 vol. 2, SYSTem subsystem).
SCPI_SYSTEM: dict[str, tuple[str, str]] = {
    ":SYSTem:ERRor[:NEXT]?": ("SYST:ERR?", "next error"),
    ":SYSTem:ERRor:ALL?": ("SYST:ERR:ALL?", "all errors"),
    ":SYSTem:ERRor:COUNt?": ("SYST:ERR:COUN?", "number of errors"),
    ":SYSTem:ERRor:CODE[:NEXT]?": ("SYST:ERR:CODE?", "next error code"),
    ":SYSTem:ERRor:CODE:ALL?": ("SYST:ERR:CODE:ALL?", "all error codes"),
    ":SYSTem:VERSion?": ("SYST:VERS?", "SCPI version"),
}


def _pick(table: dict[str, tuple[str, str]], names: tuple[str, ...], subsystem: str) -> tuple[Command, ...]:
    unknown = [n for n in names if n not in table]
    if unknown:
        raise KeyError(f"not a shared entry: {', '.join(unknown)}")
    return tuple(Command(n, subsystem, *table[n]) for n in (names or tuple(table)))


def common(*names: str, subsystem: str = "Common commands") -> tuple[Command, ...]:
    """The IEEE 488.2 common commands a manual lists (all of :data:`IEEE488_COMMON` when no
    names are given), in that order."""
    return _pick(IEEE488_COMMON, names, subsystem)


def scpi_system(*names: str, subsystem: str = "SYSTem") -> tuple[Command, ...]:
    """The SCPI error queue and version queries a manual lists (all when no names are given)."""
    return _pick(SCPI_SYSTEM, names, subsystem)


def rows(subsystem_rows: tuple[tuple[str, ...], ...]) -> tuple[Command, ...]:
    """``Command`` entries from ``(name, subsystem, probe, summary)`` rows."""
    return tuple(Command(*row) for row in subsystem_rows)


def reference_for(model: str) -> Reference | None:
    """The command reference of a simulator model, or None when none is recorded yet."""
    try:
        module = importlib.import_module(f"hilt.sims.reference.{model}")
    except ModuleNotFoundError:
        return None
    return getattr(module, "REFERENCE", None)
