"""The shared simulated world of one station.

Every simulator of a station reads and writes one :class:`World`: the synthesizer publishes what
it emits, the detector behind the lock-in reads what arrives. The world also owns the simulated
clock (stages move and lock-in filters settle in simulated time) and hands each component its own
random generator derived from the station's seed, so a run is reproducible whatever order the
simulators start in.

Physical systems (a diffractive stack, an MZI mesh) are attached by name; the simulators that
drive or read them look them up here. Their hidden systematic errors live in those systems.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np


class SimClock:
    """Simulated seconds.

    - ``real`` follows the wall clock times ``speed`` (a person at the app sees a stage move
      take as long as on the bench, or ``speed`` times less);
    - ``fast`` stands still except while the code that drives the station waits: a routine's
      settle wait (:meth:`hilt.Station.wait`) and a driver's polling sleep (a stage's
      motion-done poll) jump it by the time they would have slept, at once. A sweep over lock-in
      time constants then takes the time of its computation, and what the instruments see
      (filters settling, stages arriving, drift) is the same as on a real clock;
    - ``manual`` stands still until :meth:`advance` is called by hand (tests use it to step a
      lock-in filter or a stage move exactly); driver sleeps do not move it.
    """

    MODES = ("real", "fast", "manual")

    def __init__(self, mode: str = "real", speed: float = 1.0) -> None:
        if mode not in self.MODES:
            raise ValueError(f"clock mode {mode!r}: expected one of {', '.join(self.MODES)}")
        self.mode = mode
        self.speed = speed
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            if self.mode != "real":
                return self._offset
            return (time.monotonic() - self._t0) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (in either mode: a simulator may 'wait' instantly)."""
        if seconds < 0:
            raise ValueError("time does not run backwards")
        with self._lock:
            self._offset += seconds


class World:
    """State shared by the simulators of one station."""

    def __init__(self, seed: int = 0, errors: str = "none", clock: SimClock | None = None) -> None:
        self.seed = int(seed)
        self.errors = errors
        self.clock = clock or SimClock()
        self.lock = threading.RLock()
        self._state: dict[str, Any] = {}
        self._systems: dict[str, Any] = {}
        self._watchers: dict[str, list[Callable[[str, Any], None]]] = {}

    def rng(self, component: str) -> np.random.Generator:
        """A generator for one named component, fixed by (seed, name) alone."""
        digest = hashlib.sha256(f"{self.seed}:{component}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def set(self, key: str, value: Any) -> None:
        with self.lock:
            self._state[key] = value
            watchers = list(self._watchers.get(key, ()))
        for fn in watchers:
            fn(key, value)

    def get(self, key: str, default: Any = None) -> Any:
        with self.lock:
            return self._state.get(key, default)

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self.set(key, value)

    def watch(self, key: str, fn: Callable[[str, Any], None]) -> None:
        """Call ``fn(key, value)`` whenever ``key`` is set."""
        with self.lock:
            self._watchers.setdefault(key, []).append(fn)

    def attach(self, name: str, system: Any) -> None:
        """Register a physical system (diffractive stack, MZI mesh, ...) under a name."""
        with self.lock:
            self._systems[name] = system

    def system(self, name: str, default: Any = None) -> Any:
        with self.lock:
            return self._systems.get(name, default)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return dict(self._state)
