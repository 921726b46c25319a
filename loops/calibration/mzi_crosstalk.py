"""Thermal crosstalk between neighbouring heaters (``mzi_crosstalk``): with heater ``i`` routed
as for its own calibration, the sweep is repeated with one design neighbour ``j`` held at
``v_aggressor``; its heat shifts ``i``'s fringe by ``alpha_i C_ij V_j^2``, so
``C_ij = dphi / (alpha_i V_j^2)`` (docs/calibration.md, "Thermal crosstalk")."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hilt.errors import ConfigError
from hilt.instruments.heater_calibration import (
    NOMINAL_ALPHA_W,
    NOMINAL_RESISTANCE,
    load_heater_calibration,
)

from ._common import CalibrationResult, Context, ProgressFn
from .fitting import fit_fringe, offset_from
from .mzi_bench import measure_dark
from .mzi_routine import (
    heater_pass,
    heater_quality,
    heater_steps,
    observability_note,
    run_routine,
    save_table,
)
from .mzi_sweeps import HeaterCalState, HeaterSweep


def _load_existing(state: HeaterCalState, path: str | Path) -> None:
    cal = load_heater_calibration(path)
    if cal.n_heaters != state.n_heaters:
        raise ConfigError(f"heater calibration {path}: {cal.n_heaters} heaters, chip has {state.n_heaters}")
    state.cal = cal


def _body_crosstalk(state: HeaterCalState, ctx: Context, result: CalibrationResult) -> None:
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
    ctx.total = 1 + (0 if targets_known else heater_steps(state, plan)) + sum(1 + len(v) for v in pairs_of.values())
    measure_dark(state)
    ctx.report("dark level measured")
    if not targets_known:
        result.notes.extend(heater_pass(state, ctx))
        result.notes.append(observability_note(state))
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
        cfg = HeaterSweep(m, port, v0)
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
    heater_fit: tuple[dict[str, float], dict[str, float], dict[str, float]] | None = None
    if state.configs:
        state.refine()  # the heater sweeps of this run, re-read with the crosstalk in the twin
        result.notes.append("heater offsets re-derived with the measured crosstalk")
        heater_fit = heater_quality(state)
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
    if heater_fit is not None:
        result.quality.update(heater_fit[0])
        result.before.update(heater_fit[1])
        result.after.update(heater_fit[2])
    save_table(state, ctx, result, opts, "mzi_crosstalk")


def calibrate_mzi_crosstalk(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                            abort: threading.Event | None = None, heater_calibration: str | Path | None = None,
                            v_aggressor: float = 6.0, crosstalk_points: int | None = None,
                            heaters: str | None = None, meter: str | None = None, laser: str | None = None,
                            n_modes: int | None = None, mesh: str = "clements", points: int = 64,
                            v_max: float = 8.0, input_port: int = 0, inputs: Sequence[int] | None = None,
                            select_input: Callable[[int], None] | None = None, switch: str | None = None,
                            switch_channels: dict[int, int] | None = None, modulators: str | None = None,
                            modulator_v_max: float | None = None, averages: int = 1,
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
                input_port=input_port, inputs=inputs,
                select_input=select_input, switch=switch, switch_channels=switch_channels, modulators=modulators,
                modulator_v_max=modulator_v_max, averages=averages, settle_s=settle_s, min_r2=min_r2,
                alpha_nominal=alpha_nominal, resistance=resistance, calibration_file=calibration_file,
                phi=phi, wrap_tolerance=wrap_tolerance,
                heater_calibration=heater_calibration, v_aggressor=v_aggressor,
                crosstalk_points=crosstalk_points if crosstalk_points is not None else max(8, points // 2))
    return run_routine("mzi_crosstalk", station, out_dir, progress, abort, opts, _body_crosstalk)
