"""Programming a calibrated MZI chip: a target unitary -> phases -> heater voltages -> a check.

One call, :func:`program_unitary`, does the whole path on any mesh processor (the bench of
``mzi-lab``, :class:`~hilt.instruments.bench_processor.BenchMeshProcessor`; a chip behind a
controller, :class:`~hilt.instruments.mesh_processor.StationMeshProcessor`; the in-process
:class:`~hilt.instruments.mesh_processor.LocalMeshProcessor`), for a mesh of any size:

1. **Decomposition**: the unitary's phases ``theta``, ``phi`` (one each per MZI) and the output
   phases, for the chip's mesh (Clements or Reck), in the chip's heater order
   (:func:`phases_for_unitary`).
2. **Voltages**: the processor's heater calibration turns each phase into a voltage:
   ``phase = phi0 + alpha (C P)``, ``P = V^2 / R``; with a measured crosstalk matrix ``C`` the
   neighbours' heat is taken off each heater's own (the crosstalk inverse,
   :meth:`~hilt.instruments.heater_calibration.HeaterCalibration.voltages_for`). Every voltage is
   checked against the driver's range and soft limits before the first is sent.
3. **Check**: light in each input in turn (a unit amplitude, through the processor's
   :meth:`run`), every output read: the measured intensity transfer ``T_ij`` (column ``j``
   normalised to the light that came out, so input power, coupling and loss drop out) against
   the target's ``|U_ij|^2``: the worst and mean absolute error and the fidelity
   ``F = mean_j (sum_i sqrt(T_ij |U_ij|^2))^2`` (1 for a perfect match; the classical fidelity of
   each column's output distribution). An intensity measurement sees no phases: two unitaries
   that differ only in phases the detectors cannot see read alike.

docs/programming.md explains the path for a lab user; ``bench/programming_bench.py`` measures it.

Layering: the decomposition is the twin's physics, :func:`hilt.sims.physics.mzi.decompose`.
The layer contract (pyproject ``[tool.importlinter]``, ADR 0008) lets instruments and loops use
``hilt.sims.physics`` (the twins are built from it; only the core and the drivers may not import
the simulators, and the simulators import only the core), so it is used here through the
physics package's public name, not copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hilt.errors import ConfigError, LimitError
from hilt.instruments.mesh_processor import MeshPhases
from hilt.sims.physics import decompose, mesh_layout


def phases_for_unitary(target: np.ndarray, mesh: str = "clements") -> MeshPhases:
    """The phases (rad) of a ``mesh`` ('clements' or 'reck') that implements the unitary
    ``target`` (n, n) with ideal couplers: ``theta`` and ``phi`` per MZI in the chip's MZI order,
    ``out_phase`` per mode. A matrix that is not square and unitary (to 1e-6) is a ConfigError."""
    u = np.asarray(target)
    if u.ndim != 2 or u.shape[0] != u.shape[1] or u.shape[0] < 2:
        raise ConfigError(f"target: expected a square matrix of 2 modes or more, got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ConfigError("target: holds NaN or infinite entries")
    try:
        theta, phi, out = decompose(u.astype(np.complex128), mesh)
    except ValueError as exc:
        raise ConfigError(f"target: {exc}") from None
    return MeshPhases(theta, phi, out)


def identity_phases(n: int, mesh: str = "clements") -> MeshPhases:
    """Every MZI in the bar state (theta = pi), no phase: light goes straight through."""
    layout = mesh_layout(n, mesh)
    return MeshPhases(np.full(layout.n_mzi, math.pi), np.zeros(layout.n_mzi), np.zeros(n))


@dataclass
class ProgrammingResult:
    """What :func:`program_unitary` did and what the check measured."""

    target: np.ndarray  # (n, n) complex: the unitary asked for
    phases: MeshPhases
    measured: np.ndarray | None = None  # (n, n): T_ij, light in input j, column-normalised
    worst_error: float = math.nan  # max |T_ij - |U_ij|^2|
    mean_error: float = math.nan  # mean |T_ij - |U_ij|^2|
    fidelity: float = math.nan  # mean over inputs of the classical fidelity of each column
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        n = self.target.shape[0]
        if self.measured is None:
            return f"{n}-mode unitary programmed; not measured" + "".join(f"\n  note: {x}" for x in self.notes)
        return (f"{n}-mode unitary programmed: intensity fidelity {self.fidelity:.5f}, worst |T - |U|^2| "
                f"{self.worst_error:.4f}, mean {self.mean_error:.4f}" + "".join(f"\n  note: {x}" for x in self.notes))


def target_intensities(target: np.ndarray) -> np.ndarray:
    """``|U_ij|^2``: the share of input ``j``'s light that output ``i`` gets."""
    return np.abs(np.asarray(target)) ** 2


def measure_intensities(processor: Any, averages: int = 1) -> np.ndarray:
    """The chip's intensity transfer ``T`` (n, n): light in input ``j`` alone (a unit amplitude
    through :meth:`run`, one sample per input, ``averages`` times), every output read, less the
    dark level where the processor can read it (``read_dark()``), column ``j`` divided by its sum.
    Columns that read no light are NaN."""
    n = int(processor.n_ports)
    eye = np.eye(n, dtype=complex)
    runs = [np.asarray(processor.run(eye)[0], dtype=float) for _ in range(max(1, int(averages)))]
    readings = np.mean(runs, axis=0).T  # (outputs, inputs)
    if hasattr(processor, "read_dark"):
        readings = readings - np.asarray(processor.read_dark(), dtype=float)[:, None]
    # A power is not negative: noise around a dark output reads as no light, not as less.
    readings = np.clip(readings, 0.0, None)
    total = readings.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, readings / total, np.nan)


def compare(measured: np.ndarray, target: np.ndarray) -> tuple[float, float, float]:
    """(worst error, mean error, fidelity) of a measured intensity transfer against ``target``
    (a unitary): see the module documentation."""
    want = target_intensities(target)
    diff = np.abs(measured - want)
    fidelity = float(np.mean(np.sum(np.sqrt(np.clip(measured, 0, None) * want), axis=0) ** 2))
    return float(np.nanmax(diff)), float(np.nanmean(diff)), fidelity


def program_phases(processor: Any, phases: MeshPhases | list[MeshPhases]) -> None:
    """Program the chip with phases (one :class:`MeshPhases` for a one-mesh chip, or one per
    mesh); the processor's calibration makes them voltages (crosstalk inverse included), all
    checked before the first is sent."""
    layers = [phases] if isinstance(phases, MeshPhases) else list(phases)
    processor.load_phases(layers)


def program_unitary(processor: Any, target: np.ndarray, *, layer: int = 0, check: bool = True,
                    prepare: bool = True, averages: int = 1) -> ProgrammingResult:
    """Program the unitary ``target`` on mesh ``layer`` of ``processor`` (the others, if any, at
    the identity) and, with ``check``, measure how close the chip came (module documentation;
    ``averages`` repeats the check's reads).

    ``processor`` is any mesh processor (``n_ports``, ``n_layers``, ``load_phases``, ``run``;
    ``prepare()`` switches its light on first when ``prepare``). The mesh kind comes from the
    processor's ``mesh`` (or ``describe()``), Clements by default. A target of another size, a
    matrix that is not unitary, or voltages the heaters cannot take raise before anything is
    sent (ConfigError, LimitError).
    """
    n = int(processor.n_ports)
    layers = int(getattr(processor, "n_layers", 1))
    u = np.asarray(target)
    if u.shape != (n, n):
        raise ConfigError(f"target of shape {u.shape}: the chip has {n} ports, expected ({n}, {n})")
    if not 0 <= layer < layers:
        raise ConfigError(f"layer {layer}: the chip has {layers} mesh(es), 0..{layers - 1}")
    mesh = _mesh_kind(processor)
    phases = phases_for_unitary(u, mesh)
    program = [phases if k == layer else identity_phases(n, mesh) for k in range(layers)]
    try:
        processor.load_phases(program)
    except LimitError as exc:
        raise LimitError(f"cannot program this unitary: {exc}", instrument=getattr(exc, "instrument", ""),
                         parameter=getattr(exc, "parameter", ""), value=getattr(exc, "value", None)) from None
    result = ProgrammingResult(u.astype(np.complex128), phases)
    if not check:
        return result
    if layers > 1:
        result.notes.append("not measured: the chip has an activation between its meshes, so its outputs are "
                            "not an intensity transfer of one unitary")
        return result
    if prepare and hasattr(processor, "prepare"):
        processor.prepare()
    result.measured = measure_intensities(processor, averages)
    result.worst_error, result.mean_error, result.fidelity = compare(result.measured, u)
    return result


def _mesh_kind(processor: Any) -> str:
    kind = getattr(processor, "mesh", None)
    if kind is None and hasattr(processor, "describe"):
        kind = processor.describe().get("mesh")
    return str(kind or "clements")


__all__ = [
    "ProgrammingResult",
    "compare",
    "identity_phases",
    "measure_intensities",
    "phases_for_unitary",
    "program_phases",
    "program_unitary",
    "target_intensities",
]
