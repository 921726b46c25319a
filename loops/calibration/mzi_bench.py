"""The instruments of an MZI bench (heater driver, laser, multi-port power meter; optionally a
fibre switch and input modulators in front of the chip) and how a calibration reads it: set the
heaters, read every port at once, subtract the dark level."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hilt.errors import ConfigError

from ._common import Context, Need, find_role


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
    #: Sets one channel alone, when the driver can (see :func:`one_channel_setter`).
    set_channel: Callable[[int, float], None] | None = None
    #: The last voltages sent to every channel.
    voltages: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: The fibre switch that picks the lit chip input (an ``optical_switch``), if the bench has one.
    switch: Any = None
    #: The input modulators (a ``heater_driver``: per chip input an amplitude MZI and a phase
    #: shifter), if the bench has them: they light two inputs at once, coherently.
    modulators: Any = None

    def read(self, voltages: np.ndarray | None = None, channel: int | None = None, value: float = 0.0) -> np.ndarray:
        """Set every channel (``voltages``) or one (``channel``: a single short command, the
        rest stays), then read every port, dark subtracted."""
        if voltages is not None:
            self.heaters.set_voltages(voltages)
            self.voltages = np.asarray(voltages, dtype=float).copy()
        if channel is not None:
            self.voltages[channel] = float(value)
            if self.set_channel is not None:
                self.set_channel(channel, float(value))
            else:
                self.heaters.set_voltages(self.voltages)
        if self.settle_s > 0:
            import time

            time.sleep(self.settle_s)  # real heaters' thermal settling; 0 for the simulators
        acc = np.zeros(self.ports)
        for _ in range(self.averages):
            acc += np.asarray(self.meter.read_all(), dtype=float)[: self.ports]
        self.ctx.queries += 1
        return acc / self.averages - self.dark


#: What the MZI routines ask a station for (``-o heaters=NAME`` and so on name others).
HEATERS = Need("heaters", ("heater_driver",))
METER = Need("meter", ("power_meter",), also=("detector",))
LASER = Need("laser", ("tunable_laser",))
#: The fibre switch in front of the chip's inputs (optional: a bench without one lights one input).
SWITCH = Need("input_switch", ("optical_switch",))
#: The input modulators (optional): one laser split to every input, each with an amplitude MZI and
#: a phase shifter. Only ever the instrument an option or the station's role names: the heaters
#: are a heater_driver too, so "the only one of the kind" cannot stand for it.
MODULATORS = Need("modulators", ("heater_driver",))


def find_bench(station: Any, ctx: Context, opts: dict[str, Any]) -> MZIBench:
    """The bench's heater driver, power meter and laser, by role or kind (nothing is sent);
    a missing one is a one-line ConfigError naming the role and the kind it needs."""
    heaters = find_role(station, HEATERS, opts.get("heaters"), ctx.routine)
    meter = find_role(station, METER, opts.get("meter"), ctx.routine)
    laser = find_role(station, LASER, opts.get("laser"), ctx.routine)
    driver = station[heaters]
    switch = find_switch(station, opts.get("switch"), ctx.routine)
    modulators = find_modulators(station, opts.get("modulators"), ctx.routine)
    if modulators is not None and modulators is driver:
        raise ConfigError(f"{ctx.routine}: the modulators ({modulators.name}) are the heater driver too: name the "
                          "driver of the chip's input amplitude MZIs and phase shifters (-o modulators=NAME)")
    names = [heaters, laser, meter] + [x.name for x in (switch, modulators) if x is not None]
    return MZIBench(station, driver, station[meter], station[laser], names,
                    0, np.zeros(0), ctx, float(opts.get("settle_s", 0.0)), int(opts.get("averages", 1)),
                    one_channel_setter(driver), np.zeros(int(driver.n_channels)), switch, modulators)


def find_switch(station: Any, given: str | None, routine: str) -> Any:
    """The bench's input switch, or None: the option ``switch=NAME``, else the station's role
    ``input_switch``, else its only ``optical_switch``; several and no role is a ConfigError
    (nothing is sent). ``switch=none`` says: do not use one."""
    if given is not None and str(given).lower() == "none":
        return None
    named = dict(getattr(getattr(station, "config", None), "roles", None) or {})
    if given is None and SWITCH.role not in named and not station.by_kind("optical_switch"):
        return None
    return station[find_role(station, SWITCH, given, routine)]


def find_modulators(station: Any, given: str | None, routine: str) -> Any:
    """The bench's input modulators, or None: the option ``modulators=NAME``, else the station's
    role ``modulators``; never guessed by kind (``modulators=none``: do not use them)."""
    if given is not None and str(given).lower() == "none":
        return None
    named = dict(getattr(getattr(station, "config", None), "roles", None) or {})
    if given is None and MODULATORS.role not in named:
        return None
    return station[find_role(station, MODULATORS, given, routine)]


def one_channel_setter(heaters: Any) -> Callable[[int, float], None] | None:
    """A function that moves one channel of ``heaters`` alone, or None to send whole vectors.

    The heater-driver kind sets vectors; a driver whose channels are parameters (Qontrol,
    QDAC-II) can move one channel with one short command, which keeps a sweep of one heater at
    one command a step on a daisy chain of many modules instead of one per module.
    """
    channels = getattr(heaters, "channels", None)
    if channels is None:
        return None

    def set_one(channel: int, value: float) -> None:
        channels[channel].voltage.set(value)

    return set_one


def mesh_size(bench: MZIBench, opts: dict[str, Any]) -> int:
    n = opts.get("n_modes")
    if n is None:
        n = int(getattr(bench.meter, "n_ports", 0))
    if not n:
        raise ConfigError("cannot tell the mesh size: pass n_modes")
    return int(n)


def measure_dark(state: Any) -> None:
    bench = state.bench
    if bench.modulators is not None:
        # Modulators left driven would light the chip themselves: ramped to 0 V first, so the
        # one-input sweeps see the input the switch picks.
        bench.modulators.safe_state()
    bench.laser.output.set(False)
    bench.heaters.set_voltages(np.zeros(state.n_channels))
    bench.dark = np.zeros(bench.ports)
    reads = [bench.read(np.zeros(state.n_channels)) for _ in range(max(4, bench.averages))]
    bench.dark = np.mean(reads, axis=0)
    bench.laser.output.set(True)
