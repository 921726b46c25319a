"""THz bench calibration: lock-in phase and sensitivity, source power versus frequency, and the
detector's dark level and flat field over a raster scan.

Waiting: a lock-in reading is only good once its output filter has settled (about 5 time
constants at 6 dB/oct, longer for steeper slopes) and a stage move must finish. These routines
wait through one function, ``wait(seconds)``: on a simulated station it jumps the world's clock
(the simulators run in simulated time, so a calibration that would take minutes on the bench
takes milliseconds), otherwise it sleeps. Pass ``wait=`` to override.

The quantities are read through the drivers only; the simulator's hidden truth (ripple, pickup,
detector lag) is never looked at, except by the tests that check what the routines find.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hilt.errors import ConfigError, LimitError
from hilt.instruments.heater_calibration import save_npz_atomically
from hilt.runfile.status import ending

from ._common import (
    CalibrationAborted,
    CalibrationResult,
    Context,
    Need,
    ProgressFn,
    find_role,
    finish,
    log,
    make_safe,
    running,
)

#: Time constants a reading needs to settle to ~1e-4 after a step, per filter slope (dB/oct).
SETTLE_TAU = {6: 9.0, 12: 12.0, 18: 14.0, 24: 16.0}


def lockin_settle_s(lockin: Any) -> float:
    """How long a lock-in's output takes to settle after a step (s): its time constant times
    :data:`SETTLE_TAU` for its filter slope. The lock-in kind promises a time constant, not a
    filter slope: 12 dB/oct unless the instrument says otherwise."""
    slope_param = getattr(lockin, "filter_slope", None)
    slope = int(round(float(slope_param.get()))) if slope_param is not None else 12
    return SETTLE_TAU.get(slope, 16.0) * float(lockin.time_constant.get())

Waiter = Callable[[float], None]


def default_waiter(station: Any) -> Waiter:
    """Jump the simulated clock on a simulated station, sleep on a real one (:meth:`Station.wait`)."""
    wait = getattr(station, "wait", None)
    return wait if callable(wait) else time.sleep


#: What the THz routines ask a station for, by the routine's option name (``-o lockin=NAME``).
NEEDS = {
    "multiplier": Need("multiplier", ("frequency_multiplier",)),
    "lockin": Need("lockin", ("lock_in",), also=("detector",)),
    "meter": Need("meter", ("power_meter",), also=("detector",)),
    "stage": Need("stage", ("motion_stage",)),
}


class _Thz:
    """The instruments of a THz bench a routine uses, and the waits between readings."""

    def __init__(self, station: Any, ctx: Context, opts: dict[str, Any], need: Sequence[str]) -> None:
        self.station = station
        self.ctx = ctx
        self.wait: Waiter = opts.get("wait") or default_waiter(station)
        self.names: list[str] = []
        self.multiplier = self.lockin = self.meter = self.stage = None
        # Every instrument is found (by role, else kind) before any is used: a missing one
        # stops the routine in one line with nothing sent.
        found = [(role, find_role(station, NEEDS[role], opts.get(role), ctx.routine)) for role in need]
        for role, name in found:
            setattr(self, role, station[name])
            self.names.append(name)
        if self.multiplier is not None:
            self.names.append(self.multiplier.source.name)

    # -- the source ----------------------------------------------------------------------------
    def source_on(self, frequency: float | None, input_power: float | None) -> tuple[float, float]:
        m = self.multiplier
        if frequency is None:
            frequency = 0.5 * (m.f_min + m.f_max)
        if input_power is None:
            current = float(m.input_power.get())
            lo, hi = m.input_range
            input_power = current if lo <= current <= hi else 0.5 * (lo + hi)
        m.input_power.set(float(input_power))
        m.frequency.set(float(frequency))
        m.output.set(True)
        return float(frequency), float(input_power)

    def source_off(self) -> None:
        self.multiplier.output.set(False)

    def valid_frequencies(self, freqs: np.ndarray) -> tuple[np.ndarray, list[float]]:
        """The frequencies the multiplier and its synthesizer's limits allow (nothing sent)."""
        ok, skipped = [], []
        for f in freqs:
            try:
                self.multiplier.synthesizer_frequency(float(f))
                ok.append(float(f))
            except LimitError:
                skipped.append(float(f))
        return np.array(ok), skipped

    # -- the lock-in -----------------------------------------------------------------------------
    def settle(self) -> None:
        self.wait(lockin_settle_s(self.lockin))

    def phasor(self, averages: int) -> tuple[complex, float]:
        """Mean X + iY over ``averages`` readings one time constant apart, and their spread."""
        tau = float(self.lockin.time_constant.get())
        zs = []
        for k in range(max(1, averages)):
            if k:
                self.wait(tau)
            x, y = self.lockin.snap("x", "y")
            zs.append(complex(x, y))
            self.ctx.queries += 1
        z = np.array(zs)
        return complex(z.mean()), float(np.sqrt(np.mean(np.abs(z - z.mean()) ** 2) / 2)) if z.size > 1 else 0.0

    # -- the meter -------------------------------------------------------------------------------
    def meter_watts(self) -> float:
        """One reading of the power meter's first port (the THz head), W."""
        return float(np.asarray(self.meter.read_all(), dtype=float)[0])

    # -- the stage -------------------------------------------------------------------------------
    def move(self, x: float, y: float, timeout_s: float = 120.0) -> None:
        st = self.stage
        st.move_to(x, y, wait=False)
        waited = 0.0
        while st.is_moving():
            self.ctx.check()
            if waited > timeout_s:
                from hilt.errors import InstrumentTimeout

                raise InstrumentTimeout(f"stage still moving after {timeout_s:g} s", instrument=st.name)
            self.wait(0.05)
            waited += 0.05


def _run(routine: str, station: Any, out_dir: str | Path, progress: ProgressFn | None,
         abort: threading.Event | None, opts: dict[str, Any], need: Sequence[str],
         body: Callable[[_Thz, Context, CalibrationResult], None], *, scalars: list[str],
         captures: Callable[[_Thz], dict[str, Any]]) -> CalibrationResult:
    ctx = Context(routine, progress, abort)
    result = CalibrationResult(routine, "failed")
    bench = _Thz(station, ctx, opts, need)  # a missing role raises here, before anything is sent
    try:
        with running(ctx, station, out_dir, config={k: v for k, v in opts.items() if k != "wait"},
                     scalars=scalars, captures=captures(bench)):
            body(bench, ctx, result)
        result.status = "completed"
    except CalibrationAborted as exc:
        result.status, result.error = "aborted", str(exc)
    except Exception as exc:
        # The run files' rule: a hardware fault or a limit is aborted, a bug failed.
        result.status = ending(exc)[0]
        result.error = f"{type(exc).__name__}: {exc}"
        log.exception("%s %s", routine, result.status)
    finally:
        failed = make_safe(station, bench.names)
        if failed:
            result.notes.append("safe state failed: " + "; ".join(failed))
    return finish(ctx, result)


def _spec(input_shape: tuple[int, ...], physical_shape: tuple[int, ...]) -> Any:
    from hilt.runfile import CaptureSpec

    return CaptureSpec(input_shape=input_shape, physical_shape=physical_shape, input_dtype="float64",
                       physical_dtype="float64")


def _save_npz(ctx: Context, path: str | Path | None, kind: str, arrays: dict[str, Any]) -> Path:
    path = Path(path) if path is not None else Path(ctx.run.path).with_suffix(".npz")
    return save_npz_atomically(path, {"format": np.array(kind), "version": np.int64(1), **arrays})


# -- lock-in phase and sensitivity ---------------------------------------------------------------


def _quadrature(z: complex, dark: complex) -> float:
    s = z - dark
    return abs(s.imag) / abs(s) if abs(s) > 0 else math.nan


def _body_lockin(bench: _Thz, ctx: Context, result: CalibrationResult) -> None:
    opts = ctx.opts
    li = bench.lockin
    averages = int(opts["averages"])
    headroom = float(opts["headroom"])
    ctx.total = 5
    if opts.get("time_constant") is not None:
        li.time_constant.set(float(opts["time_constant"]))
    phase0, sens0 = float(li.phase.get()), float(li.sensitivity.get())
    # 1. Pickup with the source off, at the user's settings.
    bench.source_off()
    bench.settle()
    dark, dark_noise = bench.phasor(averages)
    ctx.report(f"dark (source off): {abs(dark):.3g} V")
    # 2. The user's settings as they were: overload, and how much of the signal sits in Y.
    f, p_in = bench.source_on(opts.get("frequency"), opts.get("input_power"))
    bench.settle()
    li.status()  # clears the latched LIA bits
    z0, _ = bench.phasor(averages)
    over0 = li.overloaded()
    ctx.report("signal at the initial settings")
    # 3. The largest range cannot overload: measure the signal phasor there.
    li.sensitivity.set(max(li.sensitivity_table.table))
    bench.settle()
    z, noise = bench.phasor(averages)
    signal = z - dark
    if abs(signal) < 5 * max(noise, dark_noise, 1e-15):
        raise ConfigError(f"no THz signal at the lock-in ({abs(signal):.3g} V against noise {noise:.3g} V): "
                          "check the source, the chopper and the detector position")
    ctx.report(f"signal {abs(signal):.3g} V at {math.degrees(math.atan2(signal.imag, signal.real)):+.1f} deg")
    # 4. Phase: rotate the signal (not signal + pickup) onto X.
    rot = math.degrees(math.atan2(signal.imag, signal.real))
    new_phase = (phase0 + rot + 180.0) % 360.0 - 180.0
    li.phase.set(round(new_phase, 2))
    applied = float(li.phase.get())
    turn = complex(math.cos(math.radians(applied - phase0)), -math.sin(math.radians(applied - phase0)))
    dark_new = dark * turn
    # 5. Sensitivity: the smallest range holding headroom x (signal + pickup); up if it overloads.
    target = abs(signal * turn + dark_new) * headroom
    sens = li.sensitivity_for(min(target, max(li.sensitivity_table.table)))
    table = sorted(li.sensitivity_table.table)
    while True:
        li.sensitivity.set(sens)
        bench.settle()
        li.status()
        z1, noise1 = bench.phasor(averages)
        if not li.overloaded() or sens >= table[-1]:
            break
        sens = table[table.index(sens) + 1]
    over1 = li.overloaded()
    ctx.report(f"phase {applied:+.2f} deg, sensitivity {sens:g} V")
    s1 = z1 - dark_new
    result.table = {"phase_deg": applied, "sensitivity_v": sens, "time_constant_s": float(li.time_constant.get()),
                    "signal_v": abs(s1), "dark_x": dark_new.real, "dark_y": dark_new.imag,
                    "noise_v": noise1, "frequency_hz": f, "input_power_dbm": p_in,
                    "reference_hz": float(li.frequency.get())}
    result.quality = {"signal_to_noise": abs(s1) / noise1 if noise1 > 0 else math.inf,
                      "fraction_of_full_scale": max(abs(z1.real), abs(z1.imag)) / sens}
    result.before = {"quadrature fraction |Y|/R": _quadrature(z0, dark), "overload": float(over0),
                     "fraction of full scale": max(abs(z0.real), abs(z0.imag)) / sens0}
    result.after = {"quadrature fraction |Y|/R": _quadrature(z1, dark_new), "overload": float(over1),
                    "fraction of full scale": result.quality["fraction_of_full_scale"]}
    ctx.run.log_scalars(0, phase_deg=applied, sensitivity_v=sens, signal_v=abs(s1),
                        quadrature=result.after["quadrature fraction |Y|/R"])
    ctx.run.add_calibration("lockin_phase_sensitivity", result.table)
    result.calibration_file = _save_npz(ctx, opts.get("calibration_file"), "hilt-lockin-settings",
                                        {k: np.asarray(v) for k, v in result.table.items()})


def calibrate_lockin_phase_sensitivity(station: Any, *, out_dir: str | Path = "runs",
                                       progress: ProgressFn | None = None, abort: threading.Event | None = None,
                                       frequency: float | None = None, input_power: float | None = None,
                                       time_constant: float | None = None, headroom: float = 1.5,
                                       averages: int = 8, lockin: str | None = None, multiplier: str | None = None,
                                       wait: Waiter | None = None, calibration_file: str | Path | None = None
                                       ) -> CalibrationResult:
    """Lock-in auto phase (the THz signal in X, Y ~ 0) and a sensitivity that holds it unclipped.

    The pickup phasor (source off) is measured first and kept out of the phase: the phase puts
    the *signal* on X. The sensitivity is the smallest range that holds ``headroom`` times the
    reading, raised while the lock-in reports an overload. The lock-in is left with the new phase
    and sensitivity (its safe state only lowers the sine output); the source is switched off.
    """
    opts = dict(frequency=frequency, input_power=input_power, time_constant=time_constant, headroom=headroom,
                averages=averages, lockin=lockin, multiplier=multiplier, wait=wait,
                calibration_file=calibration_file)
    return _run("lockin_phase_sensitivity", station, out_dir, progress, abort, opts, ["multiplier", "lockin"],
                _bind(_body_lockin, opts), scalars=["phase_deg", "sensitivity_v", "signal_v", "quadrature"],
                captures=lambda b: {})


def _bind(body: Callable[[_Thz, Context, CalibrationResult], None], opts: dict[str, Any]
          ) -> Callable[[_Thz, Context, CalibrationResult], None]:
    def run(bench: _Thz, ctx: Context, result: CalibrationResult) -> None:
        ctx.opts = opts
        body(bench, ctx, result)

    return run


# -- source power versus frequency ---------------------------------------------------------------


@dataclass
class SourcePowerCurve:
    """The source's measured output power: ``power_dbm(f) = nominal(f) + correction(f)``.

    ``correction`` is a Chebyshev series in ``u = (2 f - f_lo - f_hi) / (f_hi - f_lo)`` fitted
    to ``measured - nominal`` (dB); ``nominal`` is the datasheet curve (piecewise linear).
    """

    frequencies: np.ndarray
    measured_dbm: np.ndarray
    nominal_f: np.ndarray
    nominal_dbm: np.ndarray
    coef: np.ndarray
    band: tuple[float, float]
    input_power_dbm: float

    def nominal(self, f: np.ndarray | float) -> np.ndarray:
        return np.interp(np.asarray(f, dtype=float), self.nominal_f, self.nominal_dbm)

    def correction_db(self, f: np.ndarray | float) -> np.ndarray:
        lo, hi = self.band
        u = (2 * np.asarray(f, dtype=float) - lo - hi) / (hi - lo)
        return np.polynomial.chebyshev.chebval(u, self.coef)

    def power_dbm(self, f: np.ndarray | float) -> np.ndarray:
        return self.nominal(f) + self.correction_db(f)

    def arrays(self) -> dict[str, Any]:
        return {"frequencies": self.frequencies, "measured_dbm": self.measured_dbm, "nominal_f": self.nominal_f,
                "nominal_dbm": self.nominal_dbm, "coef": self.coef, "band": np.array(self.band),
                "input_power_dbm": np.float64(self.input_power_dbm)}


def load_source_power(path: str | Path) -> SourcePowerCurve:
    """Read a curve written by the ``thz_source_power`` routine."""
    try:
        with np.load(path) as d:
            return SourcePowerCurve(d["frequencies"], d["measured_dbm"], d["nominal_f"], d["nominal_dbm"], d["coef"],
                                    (float(d["band"][0]), float(d["band"][1])), float(d["input_power_dbm"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"source power curve {path}: {exc}") from None


def _body_source(bench: _Thz, ctx: Context, result: CalibrationResult) -> None:
    opts = ctx.opts
    m = bench.multiplier
    freqs = opts.get("frequencies")
    freqs = np.linspace(m.f_min, m.f_max, int(opts["points"])) if freqs is None else np.asarray(freqs, dtype=float)
    freqs, skipped = bench.valid_frequencies(freqs)
    if skipped:
        result.notes.append(f"skipped {len(skipped)} frequencies outside the source's limits: "
                            + ", ".join(f"{f / 1e9:.2f} GHz" for f in skipped))
    if freqs.size < 3:
        raise ConfigError("fewer than 3 frequencies inside the source's limits")
    averages = int(opts["averages"])
    settle = float(opts["settle_s"])
    transmission = opts.get("transmission")
    ctx.total = freqs.size + 1
    bench.source_off()
    bench.wait(settle)
    dark = float(np.mean([bench.meter_watts() for _ in range(averages)]))
    ctx.queries += averages
    ctx.report(f"meter dark {dark:.3g} W")
    _, p_in = bench.source_on(float(freqs[0]), opts.get("input_power"))
    measured = np.zeros(freqs.size)
    for i, f in enumerate(freqs):
        m.frequency.set(float(f))
        bench.wait(settle)
        reads = np.array([bench.meter_watts() for _ in range(averages)])
        ctx.queries += averages
        head_w = float(reads.mean()) - dark
        t = float(np.squeeze(transmission(f))) if transmission is not None else 1.0
        measured[i] = head_w / t
        ctx.run.capture("sweep", step=i, inputs=np.array([[f, p_in]]),
                        physical=np.array([[head_w, reads.std(), t]]))
        dbm = 10 * math.log10(max(measured[i], 1e-15) / 1e-3)
        ctx.run.log_scalars(i, frequency_hz=f, measured_dbm=dbm, nominal_dbm=m.expected_output_power(f))
        ctx.data(sweep="source_power", heater=None, step=0, x=f / 1e9, y=np.array([dbm]),
                 x_label="frequency (GHz)", y_label="power at the head (dBm)",
                 title="THz source power")
        ctx.report(f"{f / 1e9:.2f} GHz: {dbm:.2f} dBm (nominal {m.expected_output_power(f):.2f})")
    bench.source_off()
    measured_dbm = 10 * np.log10(np.maximum(measured, 1e-15) / 1e-3)
    nominal_dbm = np.array([m.expected_output_power(f) for f in freqs])
    corr = measured_dbm - nominal_dbm
    lo, hi = float(m.f_min), float(m.f_max)
    u = (2 * freqs - lo - hi) / (hi - lo)
    # At most one coefficient per two points: a higher order would chase the noise between them.
    deg = int(min(opts["degree"], (freqs.size - 1) // 2))
    coef = np.polynomial.chebyshev.chebfit(u, corr, deg)
    curve = SourcePowerCurve(freqs, measured_dbm, np.asarray(m._curve_f), np.asarray(m._curve_p), coef, (lo, hi), p_in)
    fine = np.linspace(float(freqs.min()), float(freqs.max()), 200)
    ctx.data(fit="source_power", x=fine / 1e9, y=curve.power_dbm(fine))
    resid = corr - curve.correction_db(freqs)
    sst = float(np.sum((corr - corr.mean()) ** 2))
    result.quality = {"points": float(freqs.size), "degree": float(deg),
                      "r2": 1 - float(np.sum(resid**2)) / sst if sst > 0 else 1.0,
                      "residual_rms_db": float(np.sqrt(np.mean(resid**2))),
                      "mean_offset_db": float(corr.mean()), "ripple_pp_db": float(np.ptp(corr - corr.mean()))}
    key = "datasheet vs measured power (dB RMS)"
    result.before = {key: float(np.sqrt(np.mean(corr**2)))}
    result.after = {key: result.quality["residual_rms_db"]}
    if transmission is None:
        result.notes.append("power at the meter head (no path transmission given): this is the source curve only "
                            "if the head sits at the source output")
    if abs(corr.mean()) > 3:
        result.notes.append(f"mean offset {corr.mean():+.1f} dB: the datasheet curve is the saturated output; "
                            f"check the drive level ({p_in:g} dBm) and the path to the head")
    result.table = curve.arrays()
    ctx.run.add_calibration("thz_source_power", result.table)
    result.calibration_file = _save_npz(ctx, opts.get("calibration_file"), "hilt-source-power", curve.arrays())


def calibrate_thz_source_power(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                               abort: threading.Event | None = None, frequencies: Sequence[float] | None = None,
                               points: int = 36, input_power: float | None = None, averages: int = 4,
                               settle_s: float = 1.0, degree: int = 8,
                               transmission: Callable[[float], float] | None = None,
                               multiplier: str | None = None, meter: str | None = None,
                               wait: Waiter | None = None, calibration_file: str | Path | None = None
                               ) -> CalibrationResult:
    """THz source output power versus frequency through the multiplier chain, read by the meter.

    Sweeps the multiplier's output across its band (``points`` frequencies, or ``frequencies``),
    reads the power meter (dark-subtracted, ``averages`` readings after ``settle_s``), divides by
    the path's ``transmission(f)`` if given, and fits the deviation from the datasheet curve
    (:meth:`VdiMultiplier.expected_output_power`) with a smooth Chebyshev series.
    """
    opts = dict(frequencies=list(frequencies) if frequencies is not None else None, points=points,
                input_power=input_power, averages=averages, settle_s=settle_s, degree=degree,
                transmission=transmission, multiplier=multiplier, meter=meter, wait=wait,
                calibration_file=calibration_file)
    return _run("thz_source_power", station, out_dir, progress, abort, opts, ["multiplier", "meter"],
                _bind(_body_source, opts), scalars=["frequency_hz", "measured_dbm", "nominal_dbm"],
                captures=lambda b: {"sweep": _spec((2,), (3,))})


# -- detector dark and flat field ------------------------------------------------------------------


@dataclass
class DarkFlat:
    """Dark phasor and flat field of a raster scan: ``corrected = Re((z - dark) e^{-i phase}) / flat``.

    ``dark`` (ny, nx) complex (V), ``flat`` (ny, nx) normalised to mean 1 over the grid,
    ``signal_phase`` (rad) the mean phase of the lit signal, ``scale_v`` the mean signal (V).
    """

    x: np.ndarray
    y: np.ndarray
    dark: np.ndarray
    flat: np.ndarray
    signal_phase: float
    scale_v: float

    def correct(self, z: np.ndarray) -> np.ndarray:
        """A raw scan (ny, nx) of complex X + iY readings on the same grid, corrected."""
        s = np.real((np.asarray(z) - self.dark) * np.exp(-1j * self.signal_phase))
        return s / self.flat

    def arrays(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "dark_x": self.dark.real, "dark_y": self.dark.imag, "flat": self.flat,
                "signal_phase": np.float64(self.signal_phase), "scale_v": np.float64(self.scale_v)}


def load_dark_flat(path: str | Path) -> DarkFlat:
    """Read a table written by the ``detector_dark_flat`` routine."""
    try:
        with np.load(path) as d:
            return DarkFlat(d["x"], d["y"], d["dark_x"] + 1j * d["dark_y"], d["flat"], float(d["signal_phase"]),
                            float(d["scale_v"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"dark/flat table {path}: {exc}") from None


def _raster(bench: _Thz, ctx: Context, xs: np.ndarray, ys: np.ndarray, averages: int, label: str,
            stream_step: int) -> tuple[np.ndarray, np.ndarray]:
    """Serpentine raster; complex mean and noise per position, each (ny, nx)."""
    z = np.zeros((ys.size, xs.size), dtype=complex)
    noise = np.zeros((ys.size, xs.size))
    for iy, y in enumerate(ys):
        cols = range(xs.size) if iy % 2 == 0 else range(xs.size - 1, -1, -1)
        for ix in cols:
            bench.move(float(xs[ix]), float(y))
            # One discarded read once the stage has stopped: the simulated lock-in takes a new
            # input only at events (a read, a setting), so without it the filter would settle on
            # the start of the move. On hardware it costs one query.
            bench.lockin.snap("x", "y")
            bench.settle()
            z[iy, ix], noise[iy, ix] = bench.phasor(averages)
            ctx.run.capture("raster", step=stream_step, sample_idx=iy * xs.size + ix,
                            inputs=np.array([[xs[ix], y]]), physical=np.array([[z[iy, ix].real, z[iy, ix].imag]]))
            # Live: the row being scanned, one line a row (a new row starts a new sweep).
            ctx.data(sweep=label, heater=None, step=iy, x=float(xs[ix]), y=np.array([abs(z[iy, ix])]),
                     x_label="stage x (mm)", y_label="lock-in |R| (V)",
                     title=f"{label}: row y = {y:+.2f} mm")
            ctx.report(f"{label} ({xs[ix]:+.2f}, {y:+.2f}) mm: {abs(z[iy, ix]):.3g} V")
    return z, noise


def _body_dark_flat(bench: _Thz, ctx: Context, result: CalibrationResult) -> None:
    opts = ctx.opts
    x0, x1, y0, y1 = (float(v) for v in opts["extent"])
    nx, ny = (int(v) for v in opts["grid"])
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    bench.stage.check_targets(min(x0, x1), min(y0, y1))
    bench.stage.check_targets(max(x0, x1), max(y0, y1))  # the whole raster inside the travel first
    averages = int(opts["averages"])
    verify = bool(opts["verify"])
    ctx.total = nx * ny * (3 if verify else 2)
    li = bench.lockin
    if opts.get("time_constant") is not None:
        li.time_constant.set(float(opts["time_constant"]))
    start = bench.stage.position()
    bench.source_off()
    dark, dark_noise = _raster(bench, ctx, xs, ys, averages, "dark", 0)
    bench.source_on(opts.get("frequency"), opts.get("input_power"))
    lit, lit_noise = _raster(bench, ctx, xs, ys, averages, "flat", 1)
    s = lit - dark
    phase = float(np.angle(np.sum(s)))
    signal = np.real(s * np.exp(-1j * phase))
    scale = float(signal.mean())
    if scale <= 0:
        raise ConfigError("no THz signal over the raster")
    table = DarkFlat(xs, ys, dark, signal / scale, phase, scale)
    result.quality = {"flat_min": float(table.flat.min()), "flat_max": float(table.flat.max()),
                      "signal_to_noise_median": float(np.median(signal / np.maximum(lit_noise, 1e-18))),
                      "dark_noise_v": float(np.median(dark_noise))}
    before = {"dark / mean signal": float(np.mean(np.abs(dark))) / scale,
              "flat non-uniformity (std/mean)": float(np.std(np.abs(lit)) / np.mean(np.abs(lit)))}
    result.before = before
    if verify:
        again, _ = _raster(bench, ctx, xs, ys, averages, "verify", 2)
        corrected = table.correct(again)
        result.after = {"dark / mean signal": float(abs(np.mean(again - lit).real)) / scale,
                        "flat non-uniformity (std/mean)": float(np.std(corrected) / np.mean(corrected))}
    bench.source_off()
    bench.move(*start)
    result.table = table.arrays()
    ctx.run.add_calibration("detector_dark_flat", result.table)
    result.calibration_file = _save_npz(ctx, opts.get("calibration_file"), "hilt-dark-flat", table.arrays())


def calibrate_detector_dark_flat(station: Any, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                                 abort: threading.Event | None = None,
                                 extent: Sequence[float] = (-6.0, 6.0, -6.0, 6.0), grid: Sequence[int] = (9, 9),
                                 averages: int = 4, time_constant: float | None = None,
                                 frequency: float | None = None, input_power: float | None = None,
                                 verify: bool = True, lockin: str | None = None, multiplier: str | None = None,
                                 stage: str | None = None, wait: Waiter | None = None,
                                 calibration_file: str | Path | None = None) -> CalibrationResult:
    """Detector dark level (source off) and flat field over a raster scan of the stage.

    Rasters ``grid`` = (nx, ny) positions over ``extent`` = (x0, x1, y0, y1) mm twice: source
    off (the dark phasor at each position: pickup, offsets) and source on (the reference beam:
    the flat field, normalised to mean 1). With ``verify`` a third raster, corrected with the
    table, shows what is left (noise). The stage returns where it started; the source goes off.
    """
    opts = dict(extent=list(extent), grid=list(grid), averages=averages, time_constant=time_constant,
                frequency=frequency, input_power=input_power, verify=verify, lockin=lockin, multiplier=multiplier,
                stage=stage, wait=wait, calibration_file=calibration_file)
    return _run("detector_dark_flat", station, out_dir, progress, abort, opts, ["multiplier", "lockin", "stage"],
                _bind(_body_dark_flat, opts), scalars=[],
                captures=lambda b: {"raster": _spec((2,), (2,))})
