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
one fixed input some heaters stay dark. A station with a fibre switch in front of the chip's
inputs (role ``input_switch``, kind ``optical_switch``) lets the routine light, one at a time,
the inputs that together reach every MZI (options ``inputs``, ``switch``, ``switch_channels``;
from Python ``select_input`` stands in for a switch). Every option is checked before anything is
sent (:mod:`.mzi_options`). Output phase shifters never change a power
reading: they keep their design values, flagged ``calibrated=False``. The phi heaters of
columns 0 and 1 cannot be put in an interferometer with one input lit; on a bench with input
modulators (role ``modulators``) they are fitted with two inputs lit coherently, their offsets
relative to the input phase shifters at 0 V (:mod:`.mzi_modulators`); without, they keep their
design values too (docs/calibration.md).

Crosstalk: with heater ``i`` routed as above, the sweep is repeated with one neighbour ``j``
held at ``v_aggressor``; its heat shifts ``i``'s fringe by ``alpha_i C_ij V_j^2``, so
``C_ij = dphi / (alpha_i V_j^2)``. Neighbours are those of the chip design (the theta and phi
heaters of one MZI, the same kind of heater on vertically adjacent MZIs of a column).

Where the parts live: the table in :mod:`hilt.instruments.heater_calibration` (the mesh
processors use it too); the chip's design in :mod:`.mesh_model`; the bench's instruments and
readings in :mod:`.mzi_bench`; set-ups, sweeps and fits of one heater in :mod:`.mzi_sweeps`; the
pass over all heaters and the routine's frame in :mod:`.mzi_routine`; crosstalk in
:mod:`.mzi_crosstalk`; the fringe fit itself in :mod:`.fitting`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hilt.instruments.heater_calibration import (
    NOMINAL_ALPHA_W,
    NOMINAL_RESISTANCE,
    HeaterCalibration,
    load_heater_calibration,
)

from ._common import CalibrationResult, Context, ProgressFn
from .mesh_model import MeshModel
from .mzi_bench import measure_dark
from .mzi_crosstalk import calibrate_mzi_crosstalk
from .mzi_routine import (
    heater_pass,
    heater_quality,
    heater_steps,
    observability_note,
    run_routine,
    save_table,
)
from .mzi_sweeps import HeaterCalState

#: The heater calibration table under its former name (one class: :class:`HeaterCalibration`).
MZICalibration = HeaterCalibration


def _body_heaters(state: HeaterCalState, ctx: Context, result: CalibrationResult) -> None:
    plan = state.plan()
    ctx.total = heater_steps(state, plan) + 1
    measure_dark(state)
    ctx.report("dark level measured")
    result.notes.extend(heater_pass(state, ctx))
    result.quality, result.before, result.after = heater_quality(state)
    result.notes.append(observability_note(state))
    save_table(state, ctx, result, state.opts, "mzi_heaters")


def calibrate_mzi_heaters(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                          abort: threading.Event | None = None, heaters: str | None = None,
                          meter: str | None = None, laser: str | None = None, n_modes: int | None = None,
                          mesh: str = "clements", points: int = 64, v_max: float = 8.0,
                          input_port: int = 0, inputs: Sequence[int] | None = None,
                          select_input: Callable[[int], None] | None = None, switch: str | None = None,
                          switch_channels: dict[int, int] | None = None, modulators: str | None = None,
                          modulator_v_max: float | None = None, averages: int = 1,
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
                input_port=input_port, inputs=inputs,
                select_input=select_input, switch=switch, switch_channels=switch_channels, modulators=modulators,
                modulator_v_max=modulator_v_max, averages=averages, settle_s=settle_s, min_r2=min_r2,
                alpha_nominal=alpha_nominal, resistance=resistance, calibration_file=calibration_file,
                phi=phi, wrap_tolerance=wrap_tolerance)
    return run_routine("mzi_heaters", station, out_dir, progress, abort, opts, _body_heaters)


__all__ = [
    "NOMINAL_ALPHA_W",
    "NOMINAL_RESISTANCE",
    "HeaterCalibration",
    "MZICalibration",
    "MeshModel",
    "calibrate_mzi_crosstalk",
    "calibrate_mzi_heaters",
    "load_heater_calibration",
]
