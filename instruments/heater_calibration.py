"""The heater calibration of an MZI mesh: which phase each heater holds at a given voltage.

One table serves everyone who turns phases into heater voltages or back: the calibration
routines that fit it (``hilt calibrate STATION mzi_heaters``, ``mzi_crosstalk``), the mesh
processors that program a chip with it (:class:`~hilt.instruments.mesh_processor.StationMeshProcessor`),
and a lab user reading a file a routine wrote.

The model, for heater ``i`` of one mesh::

    phase_i = phi0_i + alpha_i * (C P)_i        with  P_j = V_j**2 / R

``phi0`` (rad) is the phase at 0 V, ``alpha`` the efficiency in rad/W, ``R`` the heater
resistance (Ohm), ``C`` the thermal crosstalk matrix (identity when it has not been measured:
each heater then feels only its own power). Without crosstalk a port's power as one heater
turns is ``A + B cos(phi0 + alpha V^2 / R)``.

Files are ``.npz`` archives with, for each mesh ``k``, ``phi0_k`` and ``alpha_k`` (rad/W), and
a file-wide ``resistance`` (Ohm); the calibration routines add ``calibrated_k``, ``r2_k``,
``reference_k`` and, once the crosstalk is measured, ``crosstalk_k`` and ``crosstalk_measured_k``.
Point a station's heater driver (or photonic processor) at one with its ``calibration:`` field.
A file is written whole or not at all: a crash or a full disk during a save leaves the
previous file as it was.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hilt.errors import ConfigError

TWO_PI = 2.0 * math.pi
#: Design values of the simulated chips' heaters (P_pi = 25 mW, 1 kOhm): alpha in rad/W.
NOMINAL_ALPHA_W = math.pi / 0.025
NOMINAL_RESISTANCE = 1000.0
#: What the ``format`` entry of a heater calibration file says.
FILE_FORMAT = "hilt-mzi-heater-calibration"
FILE_VERSION = 1


@dataclass
class HeaterCalibration:
    """``phase_i = phi0_i + alpha_i (C P)_i`` with ``P = V^2 / R``, for the heaters of one mesh.

    ``alpha`` is in rad/W (``alpha_v2`` gives rad/V^2); ``calibrated`` marks the heaters a
    routine actually fitted (the others hold design values); ``r2`` is each heater's fit quality
    (NaN if not fitted); ``reference`` is, for an external heater, the heater its offset is
    measured against (an intensity measurement sees phase differences only), else -1;
    ``crosstalk`` is ``C`` (None: not measured), ``crosstalk_measured`` marks measured entries;
    ``meta`` says who made the table (station, routine, run id).
    """

    phi0: np.ndarray
    alpha: np.ndarray
    resistance: float = NOMINAL_RESISTANCE
    calibrated: np.ndarray | None = None
    r2: np.ndarray | None = None
    crosstalk: np.ndarray | None = None
    crosstalk_measured: np.ndarray | None = None
    reference: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.phi0 = np.asarray(self.phi0, dtype=float)
        self.alpha = np.asarray(self.alpha, dtype=float)
        self.resistance = float(self.resistance)
        n = len(self.phi0)
        if self.calibrated is None:
            self.calibrated = np.zeros(n, dtype=bool)
        if self.r2 is None:
            self.r2 = np.full(n, np.nan)
        if self.reference is None:
            self.reference = np.full(n, -1, dtype=np.int64)

    @classmethod
    def nominal(cls, n_heaters: int, alpha: float = NOMINAL_ALPHA_W,
                resistance: float = NOMINAL_RESISTANCE) -> HeaterCalibration:
        """The design values (by default P_pi = 25 mW, 1 kOhm), before any calibration."""
        return cls(np.zeros(n_heaters), np.full(n_heaters, float(alpha)), float(resistance))

    @classmethod
    def load(cls, path: str | Path, mesh: int = 0) -> HeaterCalibration:
        """Mesh ``mesh`` of a calibration file (see the module documentation)."""
        return load_heater_calibration(path, mesh)

    @property
    def n_heaters(self) -> int:
        return len(self.phi0)

    @property
    def alpha_v2(self) -> np.ndarray:
        """The efficiency in rad/V^2."""
        return self.alpha / self.resistance

    def phases(self, voltages: np.ndarray, crosstalk: bool = True) -> np.ndarray:
        """The phases (rad) the heaters hold at ``voltages`` (V), with the crosstalk if known."""
        p = np.asarray(voltages, dtype=float) ** 2 / self.resistance
        if crosstalk and self.crosstalk is not None:
            p = self.crosstalk @ p
        return self.phi0 + self.alpha * p

    def voltage_for(self, heater: int, phase: float, wrap_tolerance: float = 0.0) -> float:
        """The lowest voltage that sets ``phase`` (mod 2 pi) on one heater, ignoring crosstalk.
        Within ``wrap_tolerance`` of a whole turn, 0 V is used instead of nearly 2 pi of heat."""
        d = float(np.remainder(phase - self.phi0[heater], TWO_PI))
        if d > TWO_PI - wrap_tolerance:
            d = 0.0
        return math.sqrt(d / self.alpha[heater] * self.resistance)

    def voltages_for(self, phases: np.ndarray, crosstalk: bool = True) -> np.ndarray:
        """Voltages (V) that set ``phases`` (rad, one per heater, each taken mod 2 pi above its phi0).

        Without a crosstalk matrix (or with ``crosstalk=False``) each heater gets the power
        ``(phase - phi0) / alpha`` of its own. With one, the heat every heater receives from its
        neighbours is taken off its own: the powers solve ``C P = (phase - phi0) / alpha`` (the
        crosstalk inverse). A heater whose own power would come out negative (a target just
        above its phi0, next to hot neighbours: the neighbours alone overshoot it) is given one
        more turn, 2 pi, and the whole system is solved again, so every phase is met exactly.
        """
        d = np.remainder(np.asarray(phases, dtype=float) - self.phi0, TWO_PI)
        if not crosstalk or self.crosstalk is None:
            return np.sqrt(d / self.alpha * self.resistance)
        power = np.linalg.solve(self.crosstalk, d / self.alpha)
        for _ in range(8):  # each round lifts at least one heater a turn; a few suffice
            short = power < 0
            if not short.any():
                break
            d = d + TWO_PI * short
            power = np.linalg.solve(self.crosstalk, d / self.alpha)
        return np.sqrt(np.clip(power, 0.0, None) * self.resistance)

    def as_table(self) -> dict[str, Any]:
        """Plain arrays, named for a person reading a run file's calibration table."""
        table: dict[str, Any] = {"phi0": self.phi0, "alpha_rad_per_w": self.alpha, "alpha_rad_per_v2": self.alpha_v2,
                                 "resistance": float(self.resistance),
                                 "calibrated": np.asarray(self.calibrated).astype(np.int8),
                                 "r2": self.r2, "reference": np.asarray(self.reference, dtype=np.int64)}
        if self.crosstalk is not None:
            table["crosstalk"] = self.crosstalk
            table["crosstalk_measured"] = np.asarray(self.crosstalk_measured, dtype=np.int8)
        return table

    def arrays(self, mesh: int = 0) -> dict[str, np.ndarray]:
        """This mesh's entries of a calibration file (keys ``<name>_<mesh>``)."""
        out: dict[str, np.ndarray] = {
            f"phi0_{mesh}": self.phi0, f"alpha_{mesh}": self.alpha,
            f"resistance_{mesh}": np.float64(self.resistance),
            f"calibrated_{mesh}": np.asarray(self.calibrated, dtype=bool), f"r2_{mesh}": np.asarray(self.r2, dtype=float),
            f"reference_{mesh}": np.asarray(self.reference, dtype=np.int64)}
        if self.crosstalk is not None:
            out[f"crosstalk_{mesh}"] = np.asarray(self.crosstalk, dtype=float)
            measured = self.crosstalk_measured
            out[f"crosstalk_measured_{mesh}"] = (np.zeros(self.crosstalk.shape, dtype=bool) if measured is None
                                                 else np.asarray(measured, dtype=bool))
        return out

    def save(self, path: str | Path) -> Path:
        """Write this table as mesh 0 of a calibration file, atomically; returns the path."""
        return save_heater_calibrations(path, [self])


def save_heater_calibrations(path: str | Path, meshes: Sequence[HeaterCalibration]) -> Path:
    """Write one table per mesh to ``path`` (.npz), atomically; returns the path.

    The file's ``meta_*`` entries (who made it) come from the first mesh's ``meta``.
    """
    if not meshes:
        raise ValueError("a heater calibration file needs at least one mesh")
    arrays: dict[str, Any] = {"format": np.array(FILE_FORMAT), "version": np.int64(FILE_VERSION),
                              "resistance": np.float64(meshes[0].resistance)}
    for k, cal in enumerate(meshes):
        arrays.update(cal.arrays(k))
    for key, value in meshes[0].meta.items():
        arrays[f"meta_{key}"] = np.asarray(value)
    return save_npz_atomically(path, arrays)


def load_heater_calibrations(path: str | Path, n_meshes: int | None = None) -> list[HeaterCalibration]:
    """Every mesh of a calibration file (``n_meshes`` of them, or as many as it holds).

    Reads files from every hilt version (``phi0_k``, ``alpha_k`` and ``resistance`` are all a
    file needs). A missing, unreadable or inconsistent file raises
    :class:`~hilt.errors.ConfigError` naming it.
    """
    try:
        with np.load(path) as data:
            count = n_meshes
            if count is None:
                count = 0
                while f"phi0_{count}" in data:
                    count += 1
                if count == 0:
                    raise KeyError("phi0_0")
            meta = {k[5:]: data[k].tolist() for k in data.files if k.startswith("meta_")}
            meshes = [_mesh_from(data, k, meta) for k in range(count)]
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"heater calibration {path}: {type(exc).__name__}: {exc}") from None
    for k, cal in enumerate(meshes):
        problem = _inconsistency(cal)
        if problem:
            raise ConfigError(f"heater calibration {path}: mesh {k}: {problem}")
    return meshes


def load_heater_calibration(path: str | Path, mesh: int = 0) -> HeaterCalibration:
    """Mesh ``mesh`` of a calibration file written by a calibration routine, a mesh processor or
    :meth:`HeaterCalibration.save`. Raises :class:`~hilt.errors.ConfigError` naming the file."""
    return load_heater_calibrations(path, mesh + 1)[mesh]


def _mesh_from(data: Any, k: int, meta: dict[str, Any]) -> HeaterCalibration:
    def opt(name: str, dtype: Any) -> np.ndarray | None:
        key = f"{name}_{k}"
        return np.asarray(data[key], dtype=dtype) if key in data else None

    phi0 = np.asarray(data[f"phi0_{k}"], dtype=float)
    resistance = data[f"resistance_{k}"] if f"resistance_{k}" in data else data["resistance"]
    calibrated = opt("calibrated", bool)
    # Files that predate the flags hold fitted tables only.
    return HeaterCalibration(phi0, np.asarray(data[f"alpha_{k}"], dtype=float), float(resistance),
                             calibrated if calibrated is not None else np.ones(phi0.size, dtype=bool),
                             opt("r2", float), opt("crosstalk", float), opt("crosstalk_measured", bool),
                             opt("reference", np.int64), dict(meta))


def _inconsistency(cal: HeaterCalibration) -> str | None:
    n = cal.n_heaters
    if cal.phi0.ndim != 1 or n == 0:
        return f"phi0 has shape {cal.phi0.shape}, expected one value per heater"
    for name in ("alpha", "calibrated", "r2", "reference"):
        if np.shape(getattr(cal, name)) != (n,):
            return f"{name} has shape {np.shape(getattr(cal, name))}, phi0 says {n} heaters"
    for name in ("crosstalk", "crosstalk_measured"):
        value = getattr(cal, name)
        if value is not None and np.shape(value) != (n, n):
            return f"{name} has shape {np.shape(value)}, expected ({n}, {n})"
    if not (math.isfinite(cal.resistance) and cal.resistance > 0):
        return f"resistance {cal.resistance} Ohm is not a positive number"
    if not np.all(np.isfinite(cal.phi0)):
        return "phi0 holds NaN or infinite values"
    if not np.all(np.isfinite(cal.alpha) & (cal.alpha > 0)):
        return "alpha holds values that are not positive numbers (no voltage would set a phase)"
    return None


def save_npz_atomically(path: str | Path, arrays: Mapping[str, Any]) -> Path:
    """Write ``arrays`` as an .npz at ``path`` so that ``path`` always holds a whole file.

    The archive goes to a temporary file in the same folder, is flushed to the disk, and only
    then takes ``path``'s name (one rename): a station reading ``path`` sees the old file or the
    new one, never half of one, whatever happens during the write. Values that need pickling
    (Python objects) are refused: the file must load without running code.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder's entry is on the disk; not every
    # platform can open a folder (Windows cannot), and the file is whole either way.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "FILE_FORMAT",
    "NOMINAL_ALPHA_W",
    "NOMINAL_RESISTANCE",
    "HeaterCalibration",
    "load_heater_calibration",
    "load_heater_calibrations",
    "save_heater_calibrations",
    "save_npz_atomically",
]
