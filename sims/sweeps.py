"""Wavelength (or any quantity) sweeps in simulated time, shared by the tunable-laser simulators.

A sweep is a piecewise-linear trajectory: continuous (the value moves at ``speed`` from start to
stop) or stepped (``step`` at a time, each step held ``dwell`` seconds, moving at ``speed``
between steps), one-way or two-way (there and back), ``cycles`` times with ``delay`` seconds
between, or repeated until stopped. :class:`SweepPlan` answers the value at any simulated time,
whether the run is over and how many one-way passes are done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SweepPlan:
    """One started sweep: a piecewise-linear wavelength trajectory in simulated time."""

    t0: float
    times: np.ndarray  # s after t0, increasing
    values: np.ndarray  # the swept quantity at those times
    sweep_ends: np.ndarray  # s after t0 at which each sweep (one pass) ends
    repeat: bool

    @property
    def period(self) -> float:
        return float(self.times[-1])

    def value(self, t: float) -> float:
        tau = t - self.t0
        if self.repeat and self.period > 0:
            tau = tau % self.period
        return float(np.interp(tau, self.times, self.values))

    def done(self, t: float) -> bool:
        return not self.repeat and t - self.t0 >= self.period

    def sweeps_done(self, t: float) -> int:
        tau = t - self.t0
        if self.repeat and self.period > 0:
            whole, rest = divmod(tau, self.period)
            return int(whole) * self.sweep_ends.size + int(np.sum(self.sweep_ends <= rest))
        return int(np.sum(self.sweep_ends <= tau))


def plan_sweep(t0: float, start: float, stop: float, *, speed: float, step: float | None = None,
               two_way: bool = False, dwell: float = 0.0, cycles: int = 1, delay: float = 0.0,
               repeat: bool = False) -> SweepPlan:
    """The trajectory of a sweep started at simulated time ``t0`` (units of ``start`` and
    ``stop``; ``speed`` in those units per second; ``step`` None for a continuous sweep)."""
    if speed <= 0:
        raise ValueError(f"sweep speed must be positive, not {speed!r}")
    passes = [(start, stop), (stop, start)] if two_way else [(start, stop)]
    times, values, ends = [0.0], [start], []
    t = 0.0
    for n in range(max(1, cycles)):
        for lo, hi in passes:
            if values[-1] != lo:  # one-way: back to the start between sweeps
                times.append(t)
                values.append(lo)
            if step:
                k = max(1, math.ceil(abs(hi - lo) / step - 1e-9))
                for i in range(1, k + 1):
                    target = lo + (hi - lo) * min(1.0, i * step / abs(hi - lo))
                    t += dwell
                    times.append(t)
                    values.append(values[-1])
                    t += abs(target - values[-1]) / speed
                    times.append(t)
                    values.append(target)
                t += dwell
            else:
                t += abs(hi - lo) / speed
            times.append(t)
            values.append(hi)
            ends.append(t)
        if n < max(1, cycles) - 1 or repeat:
            t += delay
            times.append(t)
            values.append(values[-1])
    return SweepPlan(t0, np.array(times), np.array(values), np.array(ends), repeat)
