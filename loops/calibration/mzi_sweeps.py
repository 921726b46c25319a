"""One heater at a time: the set-up that routes the light to it, the sweep of its voltage, the
fringe fit and its offset against the twin (the steps of docs/calibration.md, "MZI heaters")."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hilt.errors import ConfigError
from hilt.instruments.heater_calibration import (
    NOMINAL_ALPHA_W,
    NOMINAL_RESISTANCE,
    HeaterCalibration,
    load_heater_calibration,
)

from .fitting import _design as design
from .fitting import _project as project
from .fitting import fit_fringe, offset_from
from .mesh_model import MeshModel
from .mzi_bench import MZIBench, mesh_size
from .mzi_options import check_modulators, check_options, check_switch, selector, switch_channels


@dataclass
class HeaterSweep:
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
    field: np.ndarray | None = None  # input amplitudes when several inputs are lit at once

    @property
    def light(self) -> int | np.ndarray:
        """What lights the chip for the twin: the input port, or the amplitudes of every input."""
        return self.field if self.field is not None else self.port


class HeaterCalState:
    """The state of a heater calibration in progress (shared by the two routines)."""

    def __init__(self, bench: MZIBench, mesh: MeshModel, opts: dict[str, Any]) -> None:
        self.bench = bench
        self.mesh = mesh
        self.n_heaters = mesh.n_heaters
        routine = bench.ctx.routine
        opts = check_options(routine, opts, mesh.n, bench.heaters, self.n_heaters)
        self.opts = opts
        alpha_w = float(opts.get("alpha_nominal", NOMINAL_ALPHA_W))
        self.cal = HeaterCalibration.nominal(self.n_heaters, alpha_w, float(opts.get("resistance", NOMINAL_RESISTANCE)))
        self.alpha_range = (0.5 * self.cal.alpha_v2[0], 2.0 * self.cal.alpha_v2[0])
        self.v_max = float(opts.get("v_max", 8.0))
        self.points = int(opts.get("points", 64))
        self.min_r2 = float(opts.get("min_r2", 0.95))
        self.wrap_tolerance = float(opts.get("wrap_tolerance", 0.15))
        self.configs: dict[int, HeaterSweep] = {}
        self.n_channels = int(bench.heaters.n_channels)
        if self.n_channels < self.n_heaters:
            raise ConfigError(f"{bench.heaters.name}: {self.n_channels} channels for {self.n_heaters} heaters")
        self.select_input: Callable[[int], None] | None = selector(opts, bench.switch, mesh.n)
        given = opts.get("inputs")
        if given is not None:
            self.inputs = list(given)
        elif self.select_input is not None:
            # Every input it takes to light every MZI, the given input first.
            self.inputs = mesh.covering_inputs(opts["input_port"])
        else:
            self.inputs = [opts["input_port"]]
        self.current_port: int | None = None
        # Refuse now what would stop the routine halfway: an input it cannot light.
        others = sorted({port for port, _ in self.plan()} - {self.inputs[0]})
        if others and self.select_input is None:
            raise ConfigError(f"{routine}: inputs {self.inputs}: lighting input(s) {others} needs a fibre switch "
                              "(an optical_switch instrument, station role input_switch) or a select_input function "
                              "from Python; this station has neither (give one input, or add the switch)")
        if bench.switch is not None and opts.get("select_input") is None:
            check_switch(routine, bench.switch, switch_channels(opts, mesh.n), self.inputs)
        # The input modulators light two inputs at once for the phi heaters one input cannot show.
        self.modulators = bench.modulators
        self.modulator_v_max = float(opts.get("modulator_v_max") or self.v_max)
        if self.modulators is not None:
            check_modulators(routine, self.modulators, mesh.n, self.modulator_v_max)

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

    def measure(self, cfg: HeaterSweep, v_sweep: np.ndarray, extra: dict[int, float] | None = None,
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
            self.bench.ctx.data(sweep=stream, heater=cfg.heater, step=step, x=float(v), y=rows[-1].copy())
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

    def calibrate_phi_one(self, port: int, m: int, usable: set[int], step: int) -> HeaterSweep | None:
        set_up = self.setup_phi(port, m, usable)
        if set_up is None:
            return None
        v0, ref = set_up
        self.use_port(port)
        return self.fit_phi(HeaterSweep(self.mesh.n_mzi + m, port, v0, reference=ref, linear=True), step)

    def fit_phi(self, cfg: HeaterSweep, step: int) -> HeaterSweep:
        """Sweep the external heater ``cfg.heater`` in the set-up ``cfg`` (the light already
        there), fit its fringe with a drift term and take its offset against the twin."""
        h, ref = cfg.heater, cfg.reference
        v = self.sweep_v()
        cfg.powers = self.measure(cfg, v, step=step)
        cfg.v2 = v**2
        fit = fit_fringe(cfg.v2, cfg.powers, self.alpha_range, linear=True)
        self.report_fit(cfg, fit.alpha, linear=True)
        cfg.measured, cfg.r2, cfg.residual_rel = fit.c, fit.r2, fit.residual_rel
        self.cal.alpha[h] = fit.alpha * self.cal.resistance
        self.cal.phi0[h], cfg.agreement = self.offset(cfg, fit.c)
        self.cal.r2[h] = fit.r2
        self.cal.calibrated[h] = fit.r2 >= self.min_r2 and cfg.agreement > 0.5
        self.cal.reference[h] = ref
        self.configs[h] = cfg
        return cfg

    def report_fit(self, cfg: HeaterSweep, alpha: float, linear: bool = False, points: int = 200) -> None:
        """The fitted fringe as a smooth curve, for a live plot (only when one listens)."""
        if self.bench.ctx.data_fn is None or cfg.v2 is None or cfg.powers is None:
            return
        coef, _ = project(cfg.v2, cfg.powers, alpha, linear)
        v = self.sweep_v(points)
        x2 = v**2
        d = design(x2, alpha, linear)
        if linear:  # the drift column is scaled by the sweep's own largest V^2
            d[:, 3] = x2 / max(float(np.max(cfg.v2)), 1e-12)
        self.bench.ctx.data(fit=cfg.heater, x=v, y=d @ coef)

    def believed_phases(self, voltages: np.ndarray) -> np.ndarray:
        return self.cal.phases(voltages, crosstalk=True)

    def offset(self, cfg: HeaterSweep, measured: np.ndarray) -> tuple[float, float]:
        """``phi0`` of the swept heater: the fringe's phase against the twin's, less the heat
        its neighbours in the set-up pour into it (when the crosstalk is known)."""
        model = self.mesh.model_fringe(self.believed_phases(cfg.voltages), cfg.heater, cfg.light)
        phase, agreement = offset_from(measured, model)
        if self.cal.crosstalk is not None:
            h = cfg.heater
            power = cfg.voltages**2 / self.cal.resistance  # the swept heater is at 0 here
            phase -= float(self.cal.alpha[h] * (self.cal.crosstalk[h] @ power))
        return phase, agreement

    def calibrate_one(self, port: int, mzi: int, usable: set[int], step: int) -> HeaterSweep | None:
        v0 = self.setup(port, mzi, usable)
        if v0 is None:
            return None
        self.use_port(port)
        cfg = HeaterSweep(mzi, port, v0)
        v = self.sweep_v()
        cfg.powers = self.measure(cfg, v, step=step)
        cfg.v2 = v**2
        fit = fit_fringe(cfg.v2, cfg.powers, self.alpha_range)
        self.report_fit(cfg, fit.alpha)
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

    def model_error(self, cfg: HeaterSweep, phi0: float, alpha_v2: float) -> float:
        """RMS misfit of the sweep, relative to the fringe amplitude, when the heater is taken
        to hold ``phi0 + alpha V^2`` (per-port gains and offsets fitted: unknown detectors)."""
        assert cfg.powers is not None and cfg.v2 is not None
        ph = self.believed_phases(cfg.voltages)
        model = self.mesh.model_fringe(ph, cfg.heater, cfg.light)
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


def prepare(bench: MZIBench, opts: dict[str, Any]) -> HeaterCalState:
    """The state of a heater calibration on ``bench`` (nothing is sent)."""
    n = mesh_size(bench, opts)
    ports = int(getattr(bench.meter, "n_ports", n))
    if n > ports:
        raise ConfigError(f"{bench.ctx.routine}: option n_modes={n}: {bench.meter.name} reads {ports} ports")
    bench.ports = n
    try:
        mesh = MeshModel(n, str(opts.get("mesh", "clements")))
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{bench.ctx.routine}: option mesh={opts.get('mesh')!r}: {exc}") from None
    state = HeaterCalState(bench, mesh, opts)
    known = getattr(bench.heaters, "calibration_file", None)
    if known and Path(known).exists():
        previous = load_heater_calibration(known)
        if previous.crosstalk is not None and previous.n_heaters == state.n_heaters:
            # A crosstalk matrix measured before makes the twin's view of each set-up exact.
            state.cal.crosstalk = previous.crosstalk
            state.cal.crosstalk_measured = previous.crosstalk_measured
    return state
