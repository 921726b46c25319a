"""The instruments of an MZI bench (heater driver, laser, multi-port power meter) and how a
calibration reads it: set the heaters, read every port at once, subtract the dark level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hilt.errors import ConfigError

from ._common import Context, find_instrument


@dataclass
class MZIBench:
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


def find_bench(station: Any, ctx: Context, opts: dict[str, Any]) -> MZIBench:
    heaters = find_instrument(station, opts.get("heaters"), lambda i: hasattr(i, "set_voltages"), "heater driver")
    meter = find_instrument(station, opts.get("meter"), lambda i: hasattr(i, "read_all"), "power meter")
    laser = find_instrument(station, opts.get("laser"),
                            lambda i: hasattr(i, "wavelength") and hasattr(i, "output") and hasattr(i, "power"), "laser")
    return MZIBench(station, station[heaters], station[meter], station[laser], [heaters, laser, meter],
                  0, np.zeros(0), ctx, float(opts.get("settle_s", 0.0)), int(opts.get("averages", 1)))


def mesh_size(bench: MZIBench, opts: dict[str, Any]) -> int:
    n = opts.get("n_modes")
    if n is None:
        n = int(getattr(bench.meter, "n_ports", 0))
    if not n:
        raise ConfigError("cannot tell the mesh size: pass n_modes")
    return int(n)


def measure_dark(state: Any) -> None:
    bench = state.bench
    bench.laser.output.set(False)
    bench.heaters.set_voltages(np.zeros(state.n_channels))
    bench.dark = np.zeros(bench.ports)
    reads = [bench.read(np.zeros(state.n_channels)) for _ in range(max(4, bench.averages))]
    bench.dark = np.mean(reads, axis=0)
    bench.laser.output.set(True)
