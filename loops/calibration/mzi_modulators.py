"""The external (phi) heaters one lit input cannot show, fitted with two inputs lit coherently
through the bench's input modulators (role ``modulators``; docs/calibration.md, "MZI heaters").

On a bench where one laser is split to every chip input, each input behind an amplitude MZI (on
modulator channel ``2p``) and a phase shifter (channel ``2p + 1``):

1. **Input transfers**: with the chip's heaters at 0 V, each input's amplitude MZI alone is swept
   (from just above 0 V to ``modulator_v_max``, even in V^2) while every output port is read;
   their sum (the chip nearly lossless, it hardly depends on the routing) follows
   ``a + Re(c e^{i alpha V^2})`` (:func:`~.fitting.fit_fringe`). Its maximum is the voltage that
   lights the input fully, its minimum the one that darkens it (0 V if that is out of range).
2. **Two inputs lit**: for an MZI on modes ``(k, k + 1)`` of column ``c`` whose phi heater has no
   MZI two columns back to split the light (columns 0 and 1 of a Clements mesh), inputs ``k``
   and ``k + 1`` are lit fully, the others darkened, every phase shifter at 0 V. The MZIs of the
   columns before ``c`` on those two modes are set to bar (light stays on its mode), the MZI
   under test to 50:50: it interferes the two inputs' light.
3. **Sweep and fit**: its phi heater is swept and fitted as every phi heater is
   (:meth:`~.mzi_sweeps.HeaterCalState.fit_phi`, drift term included); the twin is lit with both
   inputs at the measured powers and the phases the phase shifters are believed to give at 0 V
   (zero).

What the offset means: the fringe shows ``phi_m + psi_k - psi_{k+1}`` (``psi``: the phase each
input's light carries, set by its phase shifter and the splitter's paths). An intensity cannot
tell a column-0 offset from that input phase difference: it is one quantity, and the fitted
``phi0`` is the heater's offset *relative to the input phase shifters at 0 V*. A column-1 offset
carries the same gauge (``psi_k - psi_{k+2}``), and so, through their references, do the phi
heaters behind them. The table programs the right unitary up to a phase per input: what a
measurement with one input lit, or the input phase shifters at the settings of the calibration,
sees exactly.

This simulation lights the chip past the modulators, through the fibre switch, while every
modulator channel is at 0 V (``hilt.sims.mzi_chip``): the transfer sweep starts just above 0 V
so it never falls back to the switch, and the modulators are ramped to 0 V before the routine
goes back to one input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._common import Context
from .fitting import fit_fringe
from .mzi_sweeps import HeaterCalState, HeaterSweep


@dataclass
class InputTransfer:
    """One input's amplitude MZI, from the sum of the output ports as it is swept."""

    port: int
    alpha: float  # rad / V^2
    v_on: float  # V: the input fully lit
    v_off: float  # V: the input dark (0 V when the minimum is beyond modulator_v_max)
    p_on: float  # W (dark subtracted, summed over the ports)
    p_off: float
    r2: float


def amplitude_channel(port: int) -> int:
    return 2 * port


def phase_channel(port: int) -> int:
    return 2 * port + 1


def plan_coherent(state: HeaterCalState) -> list[int]:
    """The MZIs whose phi heater needs two inputs lit, column by column; none without modulators
    or with ``phi=False``."""
    if state.modulators is None or not state.opts.get("phi", True):
        return []
    lay = state.mesh.layout
    return sorted((m for m in range(state.mesh.n_mzi) if state.mesh.needs_two_inputs(m)),
                  key=lambda m: (lay.column_of[m], lay.modes[m]))


def ports_of(state: HeaterCalState, mzis: list[int]) -> list[int]:
    """The inputs the two-input sweeps of ``mzis`` light (each MZI's two modes)."""
    return sorted({p for m in mzis for p in (state.mesh.layout.modes[m], state.mesh.layout.modes[m] + 1)})


def set_modulators(state: HeaterCalState, amplitude: dict[int, float]) -> None:
    """Amplitude MZIs at ``amplitude[port]`` (0 V where not given), every phase shifter at 0 V:
    one vector, checked against the driver's ranges and soft limits before it is sent."""
    mod = state.modulators
    vector = np.zeros(int(mod.n_channels))
    for port, v in amplitude.items():
        vector[amplitude_channel(port)] = v
    mod.set_voltages(vector)


def measure_transfer(state: HeaterCalState, port: int, step: int) -> InputTransfer:
    """Sweep input ``port``'s amplitude MZI alone (the chip's heaters at 0 V), fit the summed
    port power, and find the voltages that light and darken the input."""
    ctx = state.bench.ctx
    v2 = np.linspace(0.0, state.modulator_v_max**2, state.points + 1)[1:]  # never all at 0 V: the bypass
    v = np.sqrt(v2)
    chip = state.channel_vector(np.zeros(state.n_heaters))
    state.bench.heaters.set_voltages(chip)
    state.bench.voltages = chip
    rows, inputs = [], []
    for x in v:
        ctx.check()
        set_modulators(state, {port: float(x)})
        rows.append(state.bench.read())
        vector = np.zeros(int(state.modulators.n_channels))
        vector[amplitude_channel(port)] = x
        inputs.append(vector)
        ctx.data(sweep="input_transfer", heater=port, step=step, x=float(x), y=rows[-1].copy(),
                 x_label="amplitude MZI (V)", y_label="port power (W)", title=f"input {port}: amplitude MZI")
    powers = np.array(rows)
    if ctx.run is not None:
        ctx.run.capture("input_transfer", step=step, sample_idx=np.arange(len(rows)), inputs=np.array(inputs),
                        physical=powers)
    total = powers.sum(axis=1)
    fit = fit_fringe(v2, total, state.alpha_range)
    a, c = float(fit.a[0]), complex(fit.c[0])
    turn = 2 * math.pi
    # P = a + |c| cos(alpha V^2 + arg c): brightest where the cosine's phase is 0, darkest at pi.
    v_on = math.sqrt(((-np.angle(c)) % turn) / fit.alpha)
    v_off = math.sqrt(((math.pi - np.angle(c)) % turn) / fit.alpha)
    if v_off > state.modulator_v_max:
        v_off = 0.0
    return InputTransfer(port, fit.alpha, min(v_on, state.modulator_v_max), v_off, a + abs(c), a - abs(c), fit.r2)


def setup_coherent(state: HeaterCalState, m: int, usable: set[int]) -> tuple[np.ndarray, int] | None:
    """Heater voltages that keep inputs ``k`` and ``k + 1`` on their modes up to MZI ``m``
    (bar) and set ``m`` to 50:50; and the phi heater whose believed offset enters the fringe
    (the last bar MZI whose upper arm carries one of the two lights; -1: only the inputs')."""
    lay = state.mesh.layout
    c, k = lay.column_of[m], lay.modes[m]
    paths = {**state.mesh.straight(k, c), **state.mesh.straight(k + 1, c)}
    if not state.cal.calibrated[m] or any(b not in usable for b in paths):
        return None
    v = np.zeros(state.n_heaters)
    for b, theta in paths.items():
        v[b] = state.cal.voltage_for(b, theta, state.wrap_tolerance)
    v[m] = state.cal.voltage_for(m, 0.5 * math.pi, state.wrap_tolerance)
    uppers = [b for b in paths if lay.modes[b] in (k, k + 1)]
    ref = state.mesh.n_mzi + max(uppers, key=lambda b: lay.column_of[b]) if uppers else -1
    return v, ref


def coherent_pass(state: HeaterCalState, ctx: Context, usable: set[int], first_step: int) -> list[str]:
    """Fit the phi heaters of :func:`plan_coherent` (the module doc's steps); leaves the
    modulators ramped to 0 V and the chip lit again as the one-input sweeps expect."""
    mzis = plan_coherent(state)
    if not mzis:
        return []
    notes: list[str] = []
    step = first_step
    transfers: dict[int, InputTransfer] = {}
    # Only the inputs of the set-ups the theta calibration made possible are measured.
    ports = ports_of(state, [m for m in mzis if setup_coherent(state, m, usable) is not None])
    unused = len(ports_of(state, mzis)) - len(ports)
    if unused:
        ctx.report(f"{unused} inputs not needed: no two-input set-up uses them", step=unused)
    try:
        for port in ports:
            t = transfers[port] = measure_transfer(state, port, step)
            step += 1
            ctx.report(f"input {port}: amplitude MZI lights it at {t.v_on:.3f} V ({t.p_on:.3g} W), "
                       f"darkens it at {t.v_off:.3f} V ({t.p_off:.3g} W)")
        dark = {p: t.v_off for p, t in transfers.items()}
        for m in mzis:
            h = state.mesh.n_mzi + m
            k = state.mesh.layout.modes[m]
            set_up = setup_coherent(state, m, usable)
            if set_up is None or k not in transfers or k + 1 not in transfers:
                notes.append(f"phi heater {h}: its MZI or the bar MZIs before it are not calibrated")
                ctx.report(f"heater {h}: no interferometer")
                step += 1
                continue
            v0, ref = set_up
            set_modulators(state, {**dark, k: transfers[k].v_on, k + 1: transfers[k + 1].v_on})
            field = np.zeros(state.mesh.n, dtype=complex)
            field[k] = math.sqrt(max(transfers[k].p_on, 0.0))
            field[k + 1] = math.sqrt(max(transfers[k + 1].p_on, 0.0))
            cfg = state.fit_phi(HeaterSweep(h, k, v0, reference=ref, linear=True, field=field), step)
            if ctx.run is not None:
                ctx.run.log_scalars(step, heater=h, input_port=k, r2=cfg.r2, residual_rel=cfg.residual_rel,
                                    phi0=state.cal.phi0[h], alpha=state.cal.alpha_v2[h], agreement=cfg.agreement)
            step += 1
            against = f"heater {ref} and " if ref >= 0 else ""
            ctx.report(f"heater {h} (phi, column {state.mesh.layout.column_of[m]}, inputs {k}+{k + 1} lit): alpha "
                       f"{state.cal.alpha_v2[h]:.4g} rad/V^2, phi0 {state.cal.phi0[h]:+.3f} rad (relative to "
                       f"{against}the input phase shifters at 0 V), R^2 {cfg.r2:.4f}")
    finally:
        # Back to one input at a time: modulators ramped to 0 V (the switch was not moved).
        state.modulators.safe_state()
    if transfers:
        notes.append("inputs lit through the modulators: " + ", ".join(
            f"{p}: {t.v_on:.2f} V on ({t.p_on:.3g} W), {t.v_off:.2f} V off" for p, t in sorted(transfers.items())))
    return notes


def coherent_steps(state: HeaterCalState) -> int:
    """Progress steps of :func:`coherent_pass`: one per input transfer, one per phi heater."""
    mzis = plan_coherent(state)
    return len(mzis) + len(ports_of(state, mzis)) if mzis else 0
