"""MZI chip calibration: heater voltage -> phase per heater, and the thermal crosstalk matrix.

The procedure (docs/calibration.md has the long form):

1. **Dark**: laser off, every heater at 0 V, the meter's ports read and averaged: their dark
   level is subtracted from every reading after.
2. **Routing**: light enters one input port. Every heater is at 0 V (each MZI near its cross
   state, ``theta ~ phi0``) except the internal (theta) heaters of the MZIs on a *path* from the
   input to the MZI under test, which are set to exact bar (theta = pi) or cross (theta = 0) with
   the calibration found so far. MZIs are calibrated column by column, so a path only ever uses
   MZIs already calibrated.
3. **Sweep**: the theta heater of the MZI under test goes from 0 to ``v_max`` in steps even in
   V^2 (even in phase); every output port is read at each step.
4. **Fit**: ``P_q = a_q + Re(c_q e^{i alpha V^2})`` jointly over all ports (:func:`fit_fringe`:
   one ``alpha`` per heater, port amplitudes and offsets eliminated by least squares).
5. **Offset**: the twin (the ideal mesh, with the phases the calibration so far says the other
   heaters hold) predicts each port's fringe ``c'_q`` as a function of this heater's phase; the
   measured ``c_q = g_q c'_q e^{i phi0}`` gives ``phi0``. The twin tells which port gets the
   bar light and which the cross light, so ``phi0`` has no pi ambiguity. Once every heater is
   fitted the offsets are re-derived with the finished calibration in the twin (no new
   measurements), which removes the first-order effect of the downstream MZIs' offsets.
6. **External (phi) heaters**, from column 2 on: the MZI two columns back on the same modes
   splits the light 50:50, the two MZIs of the column between (bar) carry it on both modes, the
   MZI under test (50:50) recombines it; its phi heater is swept and fitted as above, with a
   drift term (its heat reaches its own MZI's theta heater). An intensity measurement sees
   only phase differences: the offset is relative to the phi heater of the lower bar MZI
   (``reference`` in the table), whose value comes from the calibration so far.

What the light cannot show: with light in input ``p`` an MZI on modes (k, k+1) of column ``c``
is reachable only if ``|k - p| <= c + 1`` roughly (light spreads by one mode a column), so with
one fixed input some heaters stay dark; a station with an input switch (or a person moving the
fibre) passes ``select_input`` and ``inputs``. Output phase shifters never change a power
reading, and the phi heaters of columns 0 and 1 cannot be put in an interferometer with one
input lit: they keep their design values, flagged ``calibrated=False`` (docs/calibration.md).

Crosstalk: with heater ``i`` routed as above, the sweep is repeated with one neighbour ``j``
held at ``v_aggressor``; its heat shifts ``i``'s fringe by ``alpha_i C_ij V_j^2``, so
``C_ij = dphi / (alpha_i V_j^2)``. Neighbours are those of the chip design (the theta and phi
heaters of one MZI, the same kind of heater on vertically adjacent MZIs of a column).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hilt.errors import ConfigError

from ._common import (
    CalibrationAborted,
    CalibrationResult,
    Context,
    ProgressFn,
    find_instrument,
    finish,
    log,
    make_safe,
    running,
)
from .fitting import fit_fringe, fringe_of, offset_from

TWO_PI = 2.0 * math.pi
#: Design values of the simulated chip's heaters (P_pi = 25 mW, 1 kOhm): alpha in rad/W.
NOMINAL_ALPHA_W = math.pi / 0.025
NOMINAL_RESISTANCE = 1000.0


# -- the calibration table ------------------------------------------------------------------


@dataclass
class MZICalibration:
    """``phase_i = phi0_i + alpha_i (C P)_i`` with ``P = V^2 / R``, for one mesh.

    ``alpha`` is in rad/W (as :class:`hilt.instruments.mesh_processor.HeaterCalibration`);
    ``calibrated`` marks the heaters actually fitted (the others hold nominal values);
    ``crosstalk`` is ``C`` (identity where unmeasured), ``crosstalk_measured`` marks measured
    entries; ``r2`` is each heater's fit quality (NaN if not fitted).
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
        n = len(self.phi0)
        self.phi0 = np.asarray(self.phi0, dtype=float)
        self.alpha = np.asarray(self.alpha, dtype=float)
        if self.calibrated is None:
            self.calibrated = np.zeros(n, dtype=bool)
        if self.r2 is None:
            self.r2 = np.full(n, np.nan)
        if self.reference is None:
            self.reference = np.full(n, -1, dtype=np.int64)

    @classmethod
    def nominal(cls, n_heaters: int, alpha: float = NOMINAL_ALPHA_W,
                resistance: float = NOMINAL_RESISTANCE) -> MZICalibration:
        return cls(np.zeros(n_heaters), np.full(n_heaters, float(alpha)), float(resistance))

    @property
    def n_heaters(self) -> int:
        return len(self.phi0)

    @property
    def alpha_v2(self) -> np.ndarray:
        """rad / V^2."""
        return self.alpha / self.resistance

    def phases(self, voltages: np.ndarray, crosstalk: bool = True) -> np.ndarray:
        """The phases the heaters hold at ``voltages`` (with the crosstalk matrix if known)."""
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

    def voltages_for(self, phases: np.ndarray) -> np.ndarray:
        """Voltages for ``phases`` (each taken mod 2 pi above its phi0), ignoring crosstalk."""
        d = np.remainder(np.asarray(phases, dtype=float) - self.phi0, TWO_PI)
        return np.sqrt(d / self.alpha * self.resistance)

    def heater_calibration(self) -> Any:
        """As :class:`hilt.instruments.mesh_processor.HeaterCalibration` (what mesh processors use)."""
        from hilt.instruments.mesh_processor import HeaterCalibration

        return HeaterCalibration(self.phi0.copy(), self.alpha.copy(), self.resistance)

    def as_table(self) -> dict[str, Any]:
        """Plain arrays (for the run file)."""
        table: dict[str, Any] = {"phi0": self.phi0, "alpha_rad_per_w": self.alpha, "alpha_rad_per_v2": self.alpha_v2,
                                 "resistance": float(self.resistance), "calibrated": self.calibrated.astype(np.int8),
                                 "r2": self.r2, "reference": np.asarray(self.reference, dtype=np.int64)}
        if self.crosstalk is not None:
            table["crosstalk"] = self.crosstalk
            table["crosstalk_measured"] = np.asarray(self.crosstalk_measured, dtype=np.int8)
        return table

    def save(self, path: str | Path) -> Path:
        """An .npz the station file's ``calibration:`` field can point to. Keys ``phi0_0``,
        ``alpha_0`` and ``resistance`` are those :class:`StationMeshProcessor` reads (mesh 0)."""
        path = Path(path)
        arrays: dict[str, Any] = {"format": np.array("hilt-mzi-heater-calibration"), "version": np.int64(1),
                                  "resistance": np.float64(self.resistance), "phi0_0": self.phi0,
                                  "alpha_0": self.alpha, "calibrated_0": self.calibrated, "r2_0": self.r2,
                                  "reference_0": np.asarray(self.reference, dtype=np.int64)}
        if self.crosstalk is not None:
            arrays["crosstalk_0"] = self.crosstalk
            arrays["crosstalk_measured_0"] = np.asarray(self.crosstalk_measured, dtype=bool)
        for k, v in self.meta.items():
            arrays[f"meta_{k}"] = np.asarray(v)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)  # never a half-written calibration under the name a station reads
        return path


def load_heater_calibration(path: str | Path) -> MZICalibration:
    """Read a calibration written by :meth:`MZICalibration.save` (or any .npz with ``phi0_0``,
    ``alpha_0`` and ``resistance``). Raises :class:`~hilt.errors.ConfigError` naming the file."""
    try:
        with np.load(path) as data:
            phi0 = np.asarray(data["phi0_0"], dtype=float)
            n = phi0.size
            cal = MZICalibration(
                phi0, np.asarray(data["alpha_0"], dtype=float), float(data["resistance"]),
                np.asarray(data["calibrated_0"], dtype=bool) if "calibrated_0" in data else np.ones(n, dtype=bool),
                np.asarray(data["r2_0"], dtype=float) if "r2_0" in data else None,
                np.asarray(data["crosstalk_0"], dtype=float) if "crosstalk_0" in data else None,
                np.asarray(data["crosstalk_measured_0"], dtype=bool) if "crosstalk_measured_0" in data else None,
                np.asarray(data["reference_0"], dtype=np.int64) if "reference_0" in data else None,
                {k[5:]: data[k].tolist() for k in data.files if k.startswith("meta_")},
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"heater calibration {path}: {exc}") from None
    if cal.alpha.shape != (n,) or (cal.crosstalk is not None and cal.crosstalk.shape != (n, n)):
        raise ConfigError(f"heater calibration {path}: arrays disagree on the heater count {n}")
    return cal


# -- the mesh: layout, routing, twin ---------------------------------------------------------


class MeshModel:
    """The chip's design: layout, heater roles and neighbours, and the ideal twin's powers."""

    def __init__(self, n: int, kind: str = "clements") -> None:
        from hilt.sims.physics.mzi import MZIMesh

        self.n = int(n)
        self.twin = MZIMesh(self.n, kind, 0.0, init="identity")  # for its layout and neighbours
        self.layout = self.twin.layout
        self.n_mzi = self.layout.n_mzi
        self.n_heaters = self.layout.n_heaters
        self.at: dict[tuple[int, int], int] = {}  # (column, mode) -> MZI
        for m, (k, c) in enumerate(zip(self.layout.modes, self.layout.column_of, strict=True)):
            self.at[(c, k)] = self.at[(c, k + 1)] = m
        src, dst = self.twin._heater_neighbours()
        self.neighbours: dict[int, list[int]] = {h: [] for h in range(self.n_heaters)}
        for s, d in zip(src.tolist(), dst.tolist(), strict=True):
            self.neighbours[d].append(s)

    @property
    def n_columns(self) -> int:
        return len(self.layout.columns)

    def route(self, port: int, mzi: int, usable: set[int]) -> dict[int, float] | None:
        """Theta (0 cross, pi bar) of the MZIs on a path from input ``port`` to an input of
        ``mzi``, using only ``usable`` MZIs; None if there is no such path."""
        col, k = self.layout.column_of[mzi], self.layout.modes[mzi]
        frontier: dict[int, dict[int, float]] = {port: {}}
        for c in range(col):
            nxt: dict[int, dict[int, float]] = {}
            for j, path in frontier.items():
                m = self.at.get((c, j))
                if m is None:
                    nxt.setdefault(j, path)
                    continue
                if m not in usable:
                    continue
                other = 2 * self.layout.modes[m] + 1 - j
                nxt.setdefault(j, {**path, m: math.pi})
                nxt.setdefault(other, {**path, m: 0.0})
            frontier = nxt
        for j in (k, k + 1):
            if j in frontier:
                return frontier[j]
        return None

    def reachable(self, port: int) -> set[int]:
        """MZIs that light from input ``port`` can reach at all."""
        modes, out = {port}, set()
        for c in range(self.n_columns):
            nxt = set()
            for j in modes:
                m = self.at.get((c, j))
                if m is None:
                    nxt.add(j)
                else:
                    out.add(m)
                    nxt.update((self.layout.modes[m], self.layout.modes[m] + 1))
            modes = nxt
        return out

    def powers(self, phases: np.ndarray, port: int) -> np.ndarray:
        """Ideal output powers (unit input) for ``phases`` (..., n_heaters) in heater order,
        light in ``port``: the twin's physics (ideal couplers, no loss), in numpy."""
        ph = np.asarray(phases, dtype=float)
        batch = ph.shape[:-1]
        nm = self.n_mzi
        x = np.zeros((*batch, self.n), dtype=complex)
        x[..., port] = 1.0
        for k0, m, start in self.layout.columns:
            if m == 0:
                continue
            theta = ph[..., start:start + m]
            phi = ph[..., nm + start:nm + start + m]
            g = 1j * np.exp(0.5j * theta)
            s, c, e = np.sin(0.5 * theta), np.cos(0.5 * theta), np.exp(1j * phi)
            x0, x1 = x[..., k0:k0 + 2 * m:2].copy(), x[..., k0 + 1:k0 + 2 * m:2].copy()
            x[..., k0:k0 + 2 * m:2] = g * (e * s * x0 + c * x1)
            x[..., k0 + 1:k0 + 2 * m:2] = g * (e * c * x0 - s * x1)
        return np.abs(x) ** 2

    def model_fringe(self, phases: np.ndarray, heater: int, port: int) -> np.ndarray:
        """Complex fringe amplitude of every port as ``heater``'s phase turns (others fixed)."""
        ph = np.repeat(np.asarray(phases, dtype=float)[None, :], 4, axis=0)
        ph[:, heater] = (0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi)
        return fringe_of(self.powers(ph, port))


# -- talking to the station --------------------------------------------------------------


@dataclass
class _Bench:
    """The instruments of an MZI bench and how to read it."""

    station: Any
    heaters: Any
    meter: Any
    laser: Any
    names: list[str]
    ports: int
    dark: np.ndarray
    ctx: Context
    settle_s: float = 0.0
    averages: int = 1

    def read(self, voltages: np.ndarray | None = None, channel: int | None = None, value: float = 0.0) -> np.ndarray:
        """Set every channel (``voltages``) or one (``channel``: a single short command, the
        rest stays), then read every port, dark subtracted."""
        if voltages is not None:
            self.heaters.set_voltages(voltages)
        if channel is not None:
            self.heaters.channels[channel].voltage.set(float(value))
        if self.settle_s > 0:
            import time

            time.sleep(self.settle_s)  # real heaters' thermal settling; 0 for the simulators
        acc = np.zeros(self.ports)
        for _ in range(self.averages):
            acc += np.asarray(self.meter.read_all(), dtype=float)[: self.ports]
        self.ctx.queries += 1
        return acc / self.averages - self.dark


def _bench(station: Any, ctx: Context, opts: dict[str, Any]) -> _Bench:
    heaters = find_instrument(station, opts.get("heaters"), lambda i: hasattr(i, "set_voltages"), "heater driver")
    meter = find_instrument(station, opts.get("meter"), lambda i: hasattr(i, "read_all"), "power meter")
    laser = find_instrument(station, opts.get("laser"),
                            lambda i: hasattr(i, "wavelength") and hasattr(i, "output") and hasattr(i, "power"), "laser")
    return _Bench(station, station[heaters], station[meter], station[laser], [heaters, laser, meter],
                  0, np.zeros(0), ctx, float(opts.get("settle_s", 0.0)), int(opts.get("averages", 1)))


@dataclass
class _Config:
    """One heater's measurement set-up and what its sweep gave."""

    heater: int
    port: int
    voltages: np.ndarray  # every heater's voltage, the swept one at 0
    v2: np.ndarray | None = None
    powers: np.ndarray | None = None
    measured: np.ndarray | None = None  # complex fringe per port
    r2: float = float("nan")
    residual_rel: float = float("nan")
    agreement: float = float("nan")
    reference: int = -1  # the heater whose offset this one's is measured against (phi heaters)
    linear: bool = False  # fit a drift term (the swept heater warms a lit neighbour)


class _HeaterCal:
    """The state of a heater calibration in progress (shared by the two routines)."""

    def __init__(self, bench: _Bench, mesh: MeshModel, opts: dict[str, Any]) -> None:
        self.bench = bench
        self.mesh = mesh
        self.opts = opts
        self.n_heaters = mesh.n_heaters
        alpha_w = float(opts.get("alpha_nominal", NOMINAL_ALPHA_W))
        self.cal = MZICalibration.nominal(self.n_heaters, alpha_w, float(opts.get("resistance", NOMINAL_RESISTANCE)))
        self.alpha_range = (0.5 * self.cal.alpha_v2[0], 2.0 * self.cal.alpha_v2[0])
        self.v_max = float(opts.get("v_max", 8.0))
        self.points = int(opts.get("points", 64))
        self.min_r2 = float(opts.get("min_r2", 0.95))
        self.wrap_tolerance = float(opts.get("wrap_tolerance", 0.15))
        self.configs: dict[int, _Config] = {}
        self.select_input: Callable[[int], None] | None = opts.get("select_input")
        self.inputs = [int(p) for p in (opts.get("inputs") or [int(opts.get("input_port", 0))])]
        self.current_port: int | None = None
        self.n_channels = len(bench.heaters.channels)
        if self.n_channels < self.n_heaters:
            raise ConfigError(f"{bench.heaters.name}: {self.n_channels} channels for {self.n_heaters} heaters")

    def sweep_v(self, points: int | None = None) -> np.ndarray:
        return np.sqrt(np.linspace(0.0, self.v_max**2, points or self.points))

    def channel_vector(self, heater_v: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n_channels)
        out[: self.n_heaters] = heater_v
        return out

    def use_port(self, port: int) -> None:
        if port == self.current_port:
            return
        if port != self.inputs[0] and self.select_input is None:
            raise ConfigError(f"input {port} needs select_input")
        if self.select_input is not None:
            self.select_input(port)
        self.current_port = port

    def plan(self) -> list[tuple[int, int]]:
        """(input port, MZI) in the order they are calibrated; MZIs no input reaches are left."""
        order: list[tuple[int, int]] = []
        taken: set[int] = set()
        for port in self.inputs:
            reach = self.mesh.reachable(port) - taken
            for m in sorted(reach, key=lambda m: (self.mesh.layout.column_of[m], self.mesh.layout.modes[m])):
                order.append((port, m))
                taken.add(m)
        return order

    def setup(self, port: int, mzi: int, usable: set[int]) -> np.ndarray | None:
        path = self.mesh.route(port, mzi, usable)
        if path is None:
            return None
        v = np.zeros(self.n_heaters)
        for m, theta in path.items():
            v[m] = self.cal.voltage_for(m, theta, self.wrap_tolerance)
        return v

    def measure(self, cfg: _Config, v_sweep: np.ndarray, extra: dict[int, float] | None = None,
                stream: str = "sweep", step: int = 0) -> np.ndarray:
        rows, inputs = [], []
        volts = cfg.voltages.copy()
        for h, vh in (extra or {}).items():
            volts[h] = vh
        for i, v in enumerate(v_sweep):
            self.bench.ctx.check()
            volts[cfg.heater] = v
            chan = self.channel_vector(volts)
            # The set-up once as a vector, then only the swept channel moves.
            rows.append(self.bench.read(chan) if i == 0 else self.bench.read(channel=cfg.heater, value=v))
            inputs.append(chan)
        powers = np.array(rows)
        if self.bench.ctx.run is not None:
            self.bench.ctx.run.capture(stream, step=step, sample_idx=np.arange(len(rows)),
                                       inputs=np.array(inputs), physical=powers)
        return powers

    def plan_phi(self, theta_plan: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """(input port, MZI) for the external heaters, column by column: an MZI of column c >= 2
        whose twin two columns back (same modes) splits the light for it."""
        port_of = {m: p for p, m in theta_plan}
        lay = self.mesh.layout
        out = []
        for m in sorted(range(self.mesh.n_mzi), key=lambda m: (lay.column_of[m], lay.modes[m])):
            c, k = lay.column_of[m], lay.modes[m]
            s = self.mesh.at.get((c - 2, k)) if c >= 2 else None
            if s is not None and lay.modes[s] == k and s in port_of:
                out.append((port_of[s], m))
        return out

    def setup_phi(self, port: int, m: int, usable: set[int]) -> tuple[np.ndarray, int] | None:
        """Light split 50:50 by the MZI two columns back, carried on both modes by the MZIs of
        the column between (bar), recombined by MZI ``m`` at 50:50: an interferometer whose
        fringe is ``m``'s external phase minus that of the lower bar MZI (its ``reference``)."""
        lay = self.mesh.layout
        c, k = lay.column_of[m], lay.modes[m]
        s = self.mesh.at[(c - 2, k)]
        upper, lower = self.mesh.at.get((c - 1, k)), self.mesh.at.get((c - 1, k + 1))
        needed = [s, m] + [b for b in (upper, lower) if b is not None]
        if any(not self.cal.calibrated[h] for h in needed):
            return None
        v = self.setup(port, s, usable)
        if v is None:
            return None
        v[s] = self.cal.voltage_for(s, 0.5 * math.pi, self.wrap_tolerance)
        v[m] = self.cal.voltage_for(m, 0.5 * math.pi, self.wrap_tolerance)
        for b in (upper, lower):
            if b is not None:
                v[b] = self.cal.voltage_for(b, math.pi, self.wrap_tolerance)
        # Light on mode k + 1 crosses the lower bar MZI on its upper arm, behind its phi heater.
        ref = self.mesh.n_mzi + lower if lower is not None and lay.modes[lower] == k + 1 else -1
        return v, ref

    def calibrate_phi_one(self, port: int, m: int, usable: set[int], step: int) -> _Config | None:
        set_up = self.setup_phi(port, m, usable)
        if set_up is None:
            return None
        v0, ref = set_up
        self.use_port(port)
        h = self.mesh.n_mzi + m
        cfg = _Config(h, port, v0, reference=ref, linear=True)
        v = self.sweep_v()
        cfg.powers = self.measure(cfg, v, step=step)
        cfg.v2 = v**2
        fit = fit_fringe(cfg.v2, cfg.powers, self.alpha_range, linear=True)
        cfg.measured, cfg.r2, cfg.residual_rel = fit.c, fit.r2, fit.residual_rel
        self.cal.alpha[h] = fit.alpha * self.cal.resistance
        self.cal.phi0[h], cfg.agreement = self.offset(cfg, fit.c)
        self.cal.r2[h] = fit.r2
        self.cal.calibrated[h] = fit.r2 >= self.min_r2 and cfg.agreement > 0.5
        self.cal.reference[h] = ref
        self.configs[h] = cfg
        return cfg

    def believed_phases(self, voltages: np.ndarray) -> np.ndarray:
        return self.cal.phases(voltages, crosstalk=True)

    def offset(self, cfg: _Config, measured: np.ndarray) -> tuple[float, float]:
        """``phi0`` of the swept heater: the fringe's phase against the twin's, less the heat
        its neighbours in the set-up pour into it (when the crosstalk is known)."""
        model = self.mesh.model_fringe(self.believed_phases(cfg.voltages), cfg.heater, cfg.port)
        phase, agreement = offset_from(measured, model)
        if self.cal.crosstalk is not None:
            h = cfg.heater
            power = cfg.voltages**2 / self.cal.resistance  # the swept heater is at 0 here
            phase -= float(self.cal.alpha[h] * (self.cal.crosstalk[h] @ power))
        return phase, agreement

    def calibrate_one(self, port: int, mzi: int, usable: set[int], step: int) -> _Config | None:
        v0 = self.setup(port, mzi, usable)
        if v0 is None:
            return None
        self.use_port(port)
        cfg = _Config(mzi, port, v0)
        v = self.sweep_v()
        cfg.powers = self.measure(cfg, v, step=step)
        cfg.v2 = v**2
        fit = fit_fringe(cfg.v2, cfg.powers, self.alpha_range)
        cfg.measured, cfg.r2, cfg.residual_rel = fit.c, fit.r2, fit.residual_rel
        self.cal.alpha[mzi] = fit.alpha * self.cal.resistance
        phi0, cfg.agreement = self.offset(cfg, fit.c)
        self.cal.phi0[mzi] = phi0
        self.cal.r2[mzi] = fit.r2
        good = fit.r2 >= self.min_r2 and cfg.agreement > 0.5
        self.cal.calibrated[mzi] = good
        self.configs[mzi] = cfg
        return cfg

    def refine(self, rounds: int = 3) -> None:
        """Re-derive every offset with the finished calibration in the twin (no measurements)."""
        # In measurement order, each offset updated at once: an external heater's reference
        # comes before it, so a chain of references settles in one round.
        for _ in range(rounds):
            for h, cfg in self.configs.items():
                if cfg.measured is not None:
                    self.cal.phi0[h] = self.offset(cfg, cfg.measured)[0]

    def model_error(self, cfg: _Config, phi0: float, alpha_v2: float) -> float:
        """RMS misfit of the sweep, relative to the fringe amplitude, when the heater is taken
        to hold ``phi0 + alpha V^2`` (per-port gains and offsets fitted: unknown detectors)."""
        assert cfg.powers is not None and cfg.v2 is not None
        ph = self.believed_phases(cfg.voltages)
        model = self.mesh.model_fringe(ph, cfg.heater, cfg.port)
        theta = phi0 + alpha_v2 * cfg.v2
        shape = np.real(model[None, :] * np.exp(1j * theta[:, None]))  # (points, ports)
        resid, amp = [], []
        for q in range(cfg.powers.shape[1]):
            cols = [np.ones_like(theta), shape[:, q]] + ([cfg.v2] if cfg.linear else [])
            d = np.stack(cols, axis=1)
            coef, *_ = np.linalg.lstsq(d, cfg.powers[:, q], rcond=None)
            resid.append(cfg.powers[:, q] - d @ coef)
            amp.append(abs(cfg.measured[q]) if cfg.measured is not None else 0.0)
        r = np.array(resid)
        amp_rms = math.sqrt(np.mean(np.square(amp)) / 2)
        return float(np.sqrt(np.mean(r**2)) / amp_rms) if amp_rms > 0 else math.inf


def _n_modes(bench: _Bench, opts: dict[str, Any]) -> int:
    n = opts.get("n_modes")
    if n is None:
        n = int(getattr(bench.meter, "n_ports", 0))
    if not n:
        raise ConfigError("cannot tell the mesh size: pass n_modes")
    return int(n)


def _prepare(station: Any, ctx: Context, opts: dict[str, Any]) -> _HeaterCal:
    bench = _bench(station, ctx, opts)
    n = _n_modes(bench, opts)
    bench.ports = n
    mesh = MeshModel(n, str(opts.get("mesh", "clements")))
    state = _HeaterCal(bench, mesh, opts)
    known = getattr(bench.heaters, "calibration_file", None)
    if known and Path(known).exists():
        previous = load_heater_calibration(known)
        if previous.crosstalk is not None and previous.n_heaters == state.n_heaters:
            # A crosstalk matrix measured before makes the twin's view of each set-up exact.
            state.cal.crosstalk = previous.crosstalk
            state.cal.crosstalk_measured = previous.crosstalk_measured
    return state


def _dark(state: _HeaterCal) -> None:
    bench = state.bench
    bench.laser.output.set(False)
    bench.heaters.set_voltages(np.zeros(state.n_channels))
    bench.dark = np.zeros(bench.ports)
    reads = [bench.read(np.zeros(state.n_channels)) for _ in range(max(4, bench.averages))]
    bench.dark = np.mean(reads, axis=0)
    bench.laser.output.set(True)


def _heater_pass(state: _HeaterCal, ctx: Context) -> list[str]:
    notes: list[str] = []
    usable: set[int] = set()
    plan = state.plan()
    for step, (port, m) in enumerate(plan):
        cfg = state.calibrate_one(port, m, usable, step)
        if cfg is None:
            notes.append(f"MZI {m}: no calibrated path from input {port}")
            ctx.report(f"heater {m}: unreachable")
            continue
        if state.cal.calibrated[m]:
            usable.add(m)
        if ctx.run is not None:
            ctx.run.log_scalars(step, heater=m, input_port=port, r2=cfg.r2, residual_rel=cfg.residual_rel,
                                phi0=state.cal.phi0[m], alpha=state.cal.alpha_v2[m], agreement=cfg.agreement)
        ctx.report(f"heater {m} (theta, column {state.mesh.layout.column_of[m]}): alpha "
                   f"{state.cal.alpha_v2[m]:.4g} rad/V^2, phi0 {state.cal.phi0[m]:+.3f} rad, R^2 {cfg.r2:.4f}")
    if state.opts.get("phi", True):
        for k, (port, m) in enumerate(state.plan_phi(plan)):
            step = len(plan) + k
            h = state.mesh.n_mzi + m
            cfg = state.calibrate_phi_one(port, m, usable, step)
            if cfg is None:
                notes.append(f"phi heater {h}: its interferometer has an uncalibrated MZI")
                ctx.report(f"heater {h}: no interferometer")
                continue
            if ctx.run is not None:
                ctx.run.log_scalars(step, heater=h, input_port=port, r2=cfg.r2, residual_rel=cfg.residual_rel,
                                    phi0=state.cal.phi0[h], alpha=state.cal.alpha_v2[h], agreement=cfg.agreement)
            ctx.report(f"heater {h} (phi, column {state.mesh.layout.column_of[m]}): alpha "
                       f"{state.cal.alpha_v2[h]:.4g} rad/V^2, phi0 {state.cal.phi0[h]:+.3f} rad "
                       f"(relative to heater {cfg.reference}), R^2 {cfg.r2:.4f}")
    state.refine()
    bad = [h for h, c in state.configs.items() if not state.cal.calibrated[h]]
    if bad:
        notes.append(f"heaters with a poor fit (R^2 < {state.min_r2} or ports disagreeing), left nominal-flagged: {bad}")
    return notes


def _quality(state: _HeaterCal) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    fitted = [c for h, c in state.configs.items() if state.cal.calibrated[h]]
    r2 = np.array([c.r2 for c in fitted]) if fitted else np.array([np.nan])
    res = np.array([c.residual_rel for c in fitted]) if fitted else np.array([np.nan])
    quality = {"heaters_fitted": float(len(fitted)), "heaters_total": float(state.n_heaters),
               "r2_min": float(np.min(r2)), "r2_median": float(np.median(r2)),
               "residual_rel_median": float(np.median(res)), "residual_rel_max": float(np.max(res))}
    nominal_alpha = NOMINAL_ALPHA_W / state.cal.resistance
    before = [state.model_error(c, 0.0, nominal_alpha) for c in fitted]
    after = [state.model_error(c, state.cal.phi0[c.heater], state.cal.alpha_v2[c.heater]) for c in fitted]
    key = "fringe model error (rel. amplitude, median)"
    return quality, {key: float(np.median(before)) if before else math.nan}, \
        {key: float(np.median(after)) if after else math.nan}


_SCALARS = ["heater", "input_port", "r2", "residual_rel", "phi0", "alpha", "agreement", "aggressor", "crosstalk",
            "phase_shift"]


def _run(routine: str, station: Any, out_dir: str | Path, progress: ProgressFn | None,
         abort: threading.Event | None, opts: dict[str, Any],
         body: Callable[[_HeaterCal, Context, CalibrationResult], None]) -> CalibrationResult:
    ctx = Context(routine, progress, abort)
    result = CalibrationResult(routine, "failed")
    state: _HeaterCal | None = None
    try:
        state = _prepare(station, ctx, opts)
        nch = state.n_channels
        captures = _captures(nch, state.bench.ports)
        with running(ctx, station, out_dir, config=opts, scalars=_SCALARS, captures=captures):
            body(state, ctx, result)
        result.status = "completed"
    except CalibrationAborted as exc:
        result.status, result.error = "aborted", str(exc)
    except Exception as exc:
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("%s failed", routine)
    finally:
        if state is not None:
            if state.select_input is not None and state.current_port not in (None, state.inputs[0]):
                try:
                    state.select_input(state.inputs[0])
                except Exception as exc:
                    result.notes.append(f"could not restore input {state.inputs[0]}: {exc}")
            failed = make_safe(station, state.bench.names)
            if failed:
                result.notes.append("safe state failed: " + "; ".join(failed))
    return finish(ctx, result)


def _captures(n_channels: int, ports: int) -> dict[str, Any]:
    from hilt.runfile import CaptureSpec

    spec = CaptureSpec(input_shape=(n_channels,), physical_shape=(ports,), input_dtype="float64",
                       physical_dtype="float64")
    return {"sweep": spec, "crosstalk": spec}


def _save(state: _HeaterCal, ctx: Context, result: CalibrationResult, opts: dict[str, Any], name: str) -> None:
    cal = state.cal
    cal.meta = {"station": getattr(state.bench.station, "name", ""), "routine": name,
                "run_id": ctx.run.run_id if ctx.run is not None else ""}
    ctx.run.add_calibration("mzi_heaters", cal.as_table())
    path = opts.get("calibration_file")
    if path is None:
        path = Path(ctx.run.path).with_suffix(".npz")
    result.calibration_file = cal.save(path)
    result.table = cal.as_table()


def _body_heaters(state: _HeaterCal, ctx: Context, result: CalibrationResult) -> None:
    plan = state.plan()
    ctx.total = len(plan) + 1 + (len(state.plan_phi(plan)) if state.opts.get("phi", True) else 0)
    _dark(state)
    ctx.report("dark level measured")
    result.notes.extend(_heater_pass(state, ctx))
    result.quality, result.before, result.after = _quality(state)
    unobservable = state.n_heaters - len(state.configs)
    result.notes.append(f"{unobservable} heaters not observable by intensity from inputs {state.inputs} "
                        "(output phase shifters, phi heaters of columns 0-1, MZIs no input reaches): design values, "
                        "calibrated=False")
    _save(state, ctx, result, state.opts, "mzi_heaters")


def calibrate_mzi_heaters(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                          abort: threading.Event | None = None, heaters: str | None = None,
                          meter: str | None = None, laser: str | None = None, n_modes: int | None = None,
                          mesh: str = "clements", points: int = 64, v_max: float = 8.0,
                          input_port: int = 0, inputs: Sequence[int] | None = None,
                          select_input: Callable[[int], None] | None = None, averages: int = 1,
                          settle_s: float = 0.0, min_r2: float = 0.95,
                          alpha_nominal: float = NOMINAL_ALPHA_W, resistance: float = NOMINAL_RESISTANCE,
                          phi: bool = True, wrap_tolerance: float = 0.15,
                          calibration_file: str | Path | None = None) -> CalibrationResult:
    """Fit ``phase = phi0 + alpha V^2`` for every MZI heater the light can reach (module doc).

    Writes a run file (raw sweeps in capture stream ``sweep``, per-heater fits as scalars, the
    table as calibration ``mzi_heaters``) and an .npz (``calibration_file``, by default next to
    the run file) for the station file's ``calibration:`` field. Safe state at the end.
    """
    opts = dict(heaters=heaters, meter=meter, laser=laser, n_modes=n_modes, mesh=mesh, points=points, v_max=v_max,
                input_port=input_port, inputs=list(inputs) if inputs is not None else None,
                select_input=select_input, averages=averages, settle_s=settle_s, min_r2=min_r2,
                alpha_nominal=alpha_nominal, resistance=resistance, calibration_file=calibration_file,
                phi=phi, wrap_tolerance=wrap_tolerance)
    return _run("mzi_heaters", station, out_dir, progress, abort, opts, _body_heaters)


# -- crosstalk ------------------------------------------------------------------------------


def _load_existing(state: _HeaterCal, path: str | Path) -> None:
    cal = load_heater_calibration(path)
    if cal.n_heaters != state.n_heaters:
        raise ConfigError(f"heater calibration {path}: {cal.n_heaters} heaters, chip has {state.n_heaters}")
    state.cal = cal


def _body_crosstalk(state: _HeaterCal, ctx: Context, result: CalibrationResult) -> None:
    opts = state.opts
    given = opts.get("heater_calibration") or getattr(state.bench.heaters, "calibration_file", None)
    targets_known = given is not None and Path(given).exists()
    if targets_known:
        _load_existing(state, given)
        result.notes.append(f"heater calibration from {given}")
    plan = state.plan()
    v_aggr = float(opts.get("v_aggressor", 6.0))
    xt_points = int(opts.get("crosstalk_points", max(8, state.points // 2)))
    # Every (target, aggressor) pair: a target is a theta heater the light reaches.
    pairs_of: dict[int, list[int]] = {m: [j for j in state.mesh.neighbours[m]] for _, m in plan}
    heater_steps = len(plan) + (len(state.plan_phi(plan)) if opts.get("phi", True) else 0)
    ctx.total = 1 + (0 if targets_known else heater_steps) + sum(1 + len(v) for v in pairs_of.values())
    _dark(state)
    ctx.report("dark level measured")
    if not targets_known:
        result.notes.extend(_heater_pass(state, ctx))
    n = state.n_heaters
    C = np.eye(n)
    measured = np.zeros((n, n), dtype=bool)
    usable = {h for h in range(state.mesh.n_mzi) if state.cal.calibrated[h]}
    step = 0
    spread: list[float] = []
    noise: list[float] = []
    for port, m in plan:
        if not state.cal.calibrated[m]:
            continue
        v0 = state.setup(port, m, usable)
        if v0 is None:
            continue
        state.use_port(port)
        cfg = _Config(m, port, v0)
        v = state.sweep_v(xt_points)
        alpha = state.cal.alpha_v2[m]
        ref = fit_fringe(v**2, state.measure(cfg, v, stream="crosstalk", step=step), state.alpha_range, alpha=alpha)
        step += 1
        ctx.report(f"heater {m}: reference sweep")
        for j in pairs_of[m]:
            # The aggressor's own voltage only matters through its heat when its MZI carries no
            # light: true for the same MZI's phi heater and for the column's other MZIs.
            fit = fit_fringe(v**2, state.measure(cfg, v, {j: v_aggr}, stream="crosstalk", step=step),
                             state.alpha_range, alpha=alpha)
            step += 1
            dphi, agree = offset_from(fit.c, ref.c)
            # Phase noise of one fringe fit ~ residual / amplitude * sqrt(2 / points), two fits.
            noise.append(math.sqrt(fit.residual_rel**2 + ref.residual_rel**2) * math.sqrt(2 / len(v)) / math.sqrt(2))
            C[m, j] = dphi / (alpha * v_aggr**2)
            measured[m, j] = True
            spread.append(agree)
            if ctx.run is not None:
                ctx.run.log_scalars(step, heater=m, aggressor=j, crosstalk=C[m, j], phase_shift=dphi, r2=fit.r2)
            ctx.report(f"heater {m} <- heater {j}: C = {C[m, j]:+.4f}")
    # A heater whose own phase no light shows (an external heater as victim) takes the coupling
    # of the transposed pair: heat flows alike both ways between two equal heaters.
    filled = measured.T & ~measured
    C[filled] = C.T[filled]
    state.cal.crosstalk = C
    state.cal.crosstalk_measured = measured
    heater_quality: tuple[dict[str, float], dict[str, float], dict[str, float]] | None = None
    if state.configs:
        state.refine()  # the heater sweeps of this run, re-read with the crosstalk in the twin
        result.notes.append("heater offsets re-derived with the measured crosstalk")
        heater_quality = _quality(state)
    off = C[measured]
    result.quality = {"pairs": float(measured.sum()), "crosstalk_mean": float(off.mean()) if off.size else math.nan,
                      "crosstalk_std": float(off.std()) if off.size else math.nan,
                      "port_agreement_min": float(min(spread)) if spread else math.nan}
    # Before: the phase error a model without crosstalk makes when a neighbour sits at
    # v_aggressor (the measured shifts). After: what is left, the shifts' noise floor.
    shifts = np.array([C[m, j] * state.cal.alpha_v2[m] * v_aggr**2 for m, j in zip(*np.nonzero(measured), strict=True)])
    key = f"phase error from neighbour heat at {v_aggr:g} V (rad RMS)"
    result.before = {key: float(np.sqrt(np.mean(shifts**2))) if shifts.size else math.nan}
    result.after = {key: float(np.sqrt(np.mean(np.square(noise)))) if noise else math.nan}
    if heater_quality is not None:
        result.quality.update(heater_quality[0])
        result.before.update(heater_quality[1])
        result.after.update(heater_quality[2])
    _save(state, ctx, result, opts, "mzi_crosstalk")


def calibrate_mzi_crosstalk(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                            abort: threading.Event | None = None, heater_calibration: str | Path | None = None,
                            v_aggressor: float = 6.0, crosstalk_points: int | None = None,
                            heaters: str | None = None, meter: str | None = None, laser: str | None = None,
                            n_modes: int | None = None, mesh: str = "clements", points: int = 64,
                            v_max: float = 8.0, input_port: int = 0, inputs: Sequence[int] | None = None,
                            select_input: Callable[[int], None] | None = None, averages: int = 1,
                            settle_s: float = 0.0, min_r2: float = 0.95,
                            alpha_nominal: float = NOMINAL_ALPHA_W, resistance: float = NOMINAL_RESISTANCE,
                            phi: bool = True, wrap_tolerance: float = 0.15,
                            calibration_file: str | Path | None = None) -> CalibrationResult:
    """The thermal crosstalk matrix ``C`` (``P_eff = C P``) between neighbouring heaters.

    Uses the heater calibration in ``heater_calibration`` (or the heater driver's station
    ``calibration:`` file); without one it first runs the heater calibration in the same run.
    The result (heaters and ``C``) is saved as one .npz.
    """
    opts = dict(heaters=heaters, meter=meter, laser=laser, n_modes=n_modes, mesh=mesh, points=points, v_max=v_max,
                input_port=input_port, inputs=list(inputs) if inputs is not None else None,
                select_input=select_input, averages=averages, settle_s=settle_s, min_r2=min_r2,
                alpha_nominal=alpha_nominal, resistance=resistance, calibration_file=calibration_file,
                phi=phi, wrap_tolerance=wrap_tolerance,
                heater_calibration=heater_calibration, v_aggressor=v_aggressor,
                crosstalk_points=crosstalk_points if crosstalk_points is not None else max(8, points // 2))
    return _run("mzi_crosstalk", station, out_dir, progress, abort, opts, _body_crosstalk)
