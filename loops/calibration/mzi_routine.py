"""What the two MZI routines share: the pass over every heater, the fit quality, the frame of a
routine (run file, abort, safe state at the end) and the saving of the table."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hilt.instruments.heater_calibration import NOMINAL_ALPHA_W
from hilt.runfile.status import ending

from ._common import (
    CalibrationAborted,
    CalibrationResult,
    Context,
    ProgressFn,
    finish,
    log,
    make_safe,
    running,
)
from .mzi_bench import find_bench
from .mzi_modulators import coherent_pass, coherent_steps
from .mzi_options import check_values
from .mzi_sweeps import HeaterCalState, prepare


def heater_pass(state: HeaterCalState, ctx: Context) -> list[str]:
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
        phi_plan = state.plan_phi(plan)
        for k, (port, m) in enumerate(phi_plan):
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
        # The phi heaters no single input shows, with two inputs lit through the modulators.
        notes.extend(coherent_pass(state, ctx, usable, len(plan) + len(phi_plan)))
    state.refine()
    bad = [h for h, c in state.configs.items() if not state.cal.calibrated[h]]
    if bad:
        notes.append(f"heaters with a poor fit (R^2 < {state.min_r2} or ports disagreeing), left nominal-flagged: {bad}")
    return notes


def heater_steps(state: HeaterCalState, plan: list[tuple[int, int]]) -> int:
    """Progress steps of :func:`heater_pass`: a sweep per heater, one per input transfer."""
    if not state.opts.get("phi", True):
        return len(plan)
    return len(plan) + len(state.plan_phi(plan)) + coherent_steps(state)


def observability_note(state: HeaterCalState) -> str:
    """Which heaters the table leaves at their design values, and why, in one note."""
    mesh = state.mesh
    outputs = list(range(2 * mesh.n_mzi, state.n_heaters))
    two = [mesh.n_mzi + m for m in range(mesh.n_mzi) if mesh.needs_two_inputs(m)]
    two_done = [h for h in two if h in state.configs]
    two_left = [h for h in two if h not in state.configs]
    other = [h for h in range(state.n_heaters) if h not in state.configs and h not in outputs and h not in two]
    parts = []
    if outputs:
        parts.append(f"{len(outputs)} output phase shifters ({outputs[0]}-{outputs[-1]}) never change a power "
                     "reading: not observable")
    if two_left:
        why = ("the station has no modulators role" if state.modulators is None
               else "phi=false" if not state.opts.get("phi", True)
               else "their MZI or the bar MZIs before it were not calibrated")
        parts.append(f"{len(two_left)} phi heaters {two_left} show only with two inputs lit coherently ({why})")
    if other:
        parts.append(f"{len(other)} heaters {other} not reached from inputs {state.inputs}")
    text = f"{len(state.configs)} of {state.n_heaters} heaters measured"
    if two_done:
        text += (f", phi heaters {two_done} with two inputs lit through {state.modulators.name}: their offsets are "
                 "relative to the input phase shifters at 0 V")
    if parts:
        text += "; design values, calibrated=False, for " + "; ".join(parts)
    return text


def heater_quality(state: HeaterCalState) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
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


SCALARS = ["heater", "input_port", "r2", "residual_rel", "phi0", "alpha", "agreement", "aggressor", "crosstalk",
           "phase_shift"]


def run_routine(routine: str, station: Any, out_dir: str | Path, progress: ProgressFn | None,
                abort: threading.Event | None, opts: dict[str, Any],
                body: Callable[[HeaterCalState, Context, CalibrationResult], None]) -> CalibrationResult:
    """Run ``body`` as the routine ``routine``: find the bench (a missing role raises a one-line
    ConfigError before anything is sent), open the run file, and whatever happens leave the
    bench's instruments safe and return the result."""
    ctx = Context(routine, progress, abort)
    result = CalibrationResult(routine, "failed")
    # Every option is checked before a byte is sent (a bad one raises ConfigError here: no run
    # file, no safe state, nothing on any link).
    opts = check_values(routine, opts)
    bench = find_bench(station, ctx, opts)
    state: HeaterCalState | None = prepare(bench, opts)
    assert state is not None
    try:
        nch = state.n_channels
        mods = state.modulators
        captures = capture_specs(nch, state.bench.ports, int(mods.n_channels) if mods is not None else 0)
        with running(ctx, station, out_dir, config=opts, scalars=SCALARS, captures=captures):
            body(state, ctx, result)
        result.status = "completed"
    except CalibrationAborted as exc:
        result.status, result.error = "aborted", str(exc)
    except Exception as exc:
        # The run files' rule: a hardware fault or a limit is aborted, a bug failed.
        result.status = ending(exc)[0]
        result.error = f"{type(exc).__name__}: {exc}"
        log.exception("%s %s", routine, result.status)
    finally:
        if state is not None and state.select_input is not None \
                and state.current_port not in (None, state.inputs[0]):
            try:
                state.select_input(state.inputs[0])
            except Exception as exc:
                result.notes.append(f"could not restore input {state.inputs[0]}: {exc}")
        failed = make_safe(station, bench.names)
        if failed:
            result.notes.append("safe state failed: " + "; ".join(failed))
    return finish(ctx, result)


def capture_specs(n_channels: int, ports: int, modulator_channels: int = 0) -> dict[str, Any]:
    from hilt.runfile import CaptureSpec

    spec = CaptureSpec(input_shape=(n_channels,), physical_shape=(ports,), input_dtype="float64",
                       physical_dtype="float64")
    out = {"sweep": spec, "crosstalk": spec}
    if modulator_channels:  # the input amplitude MZIs' sweeps: modulator voltages in, port powers out
        out["input_transfer"] = CaptureSpec(input_shape=(modulator_channels,), physical_shape=(ports,),
                                            input_dtype="float64", physical_dtype="float64")
    return out


def save_table(state: HeaterCalState, ctx: Context, result: CalibrationResult, opts: dict[str, Any], name: str) -> None:
    cal = state.cal
    cal.meta = {"station": getattr(state.bench.station, "name", ""), "routine": name,
                "run_id": ctx.run.run_id if ctx.run is not None else ""}
    ctx.run.add_calibration("mzi_heaters", cal.as_table())
    path = opts.get("calibration_file")
    if path is None:
        path = Path(ctx.run.path).with_suffix(".npz")
    result.calibration_file = cal.save(path)
    result.table = cal.as_table()
