"""A whole station's simulators, sharing one world, from the station file a lab already has.

Two users need this: the pytest plugin (:mod:`hilt.sims.pytest_plugin`), which connects hilt's
drivers to the simulated bench, and ``hilt sim serve-station FILE``, which only serves it, for
clients that are not Python (LabVIEW, MATLAB, a vendor GUI) and open the printed addresses.

:func:`simulated_config` turns any station file into the simulated bench: every instrument
simulated, including those the file marks ``simulate: false`` (a real bench's file), with the
world's seed and error preset optionally overridden. Everything else (the world's systems, each
instrument's ``sim:`` options, limits, roles) is the file's own, so the simulated bench is the
bench the file describes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hilt import registry, stations
from hilt.config import StationConfig, load_station
from hilt.errors import ConfigError
from hilt.station import Station


def simulated_config(station_file: str | Path, *, seed: int | None = None,
                     errors: str | None = None) -> tuple[StationConfig, Path]:
    """The station file (a path, or a bundled station's name) with every instrument simulated.

    ``seed`` and ``errors`` replace ``world.seed`` and ``world.errors`` when given. Returns the
    config, not yet checked as a simulated station (``Station(config, path)`` checks it before
    anything starts), and the file's path. An unknown error preset is refused here, in one line.
    """
    path = stations.find(station_file)
    config = load_station(path)
    if errors is not None:
        presets = registry.load_simulation().error_presets()
        if errors not in presets:
            raise ConfigError(f"unknown error preset {errors!r} (known: {', '.join(presets)})")
    world = config.world.model_copy(update={k: v for k, v in (("seed", seed), ("errors", errors))
                                            if v is not None})
    instruments = {name: ic.model_copy(update={"simulate": True})
                   for name, ic in config.instruments.items()}
    return config.model_copy(update={"simulate": True, "world": world, "instruments": instruments}), path


def simulated_station(station_file: str | Path, *, seed: int | None = None,
                      errors: str | None = None) -> Station:
    """A :class:`~hilt.station.Station` of the file's bench, all simulated, not yet started."""
    config, path = simulated_config(station_file, seed=seed, errors=errors)
    return Station(config, path, default_clock="real")


@dataclass(frozen=True)
class Served:
    """One served simulator: the instrument's name in the file, its simulator model, its address."""

    name: str
    model: str
    address: str

    def line(self) -> str:
        """``NAME MODEL ADDRESS``: three fields without spaces, one line per instrument."""
        return f"{self.name} {self.model} {self.address}"


@contextmanager
def serving(station_file: str | Path, *, seed: int | None = None, errors: str | None = None,
            pty: bool = False) -> Iterator[tuple[Station, list[Served]]]:
    """Serve every simulator of the station, all in one world, until the block ends.

    Virtual instruments (a multiplier chain over a synthesizer) have no wire of their own and are
    not served. With ``pty``, serial instruments are served on a pseudo-terminal as well and their
    path is the address listed (a program that opens serial ports by path opens it); their
    ``socket://`` server keeps running beside it, and a network instrument's RS-232 port (the
    SR860's) is listed as ``NAME.rs232``. An instrument's further network ports (the DLC pro's
    monitoring line) are served too, each listed as ``NAME.PORT`` after the instrument.
    """
    from hilt.sims.server import serve, serve_extra_ports

    station = simulated_station(station_file, seed=seed, errors=errors)
    extra: list[Any] = []
    try:
        station.start_simulators()
        served = []
        for name, sim in station.simulators.items():
            address = station.servers[name].address
            if pty and sim.transport == "serial":
                extra.append(serve(sim, pty=True))
                address = extra[-1].address
            served.append(Served(name, sim.model, address))
            if pty and sim.transport != "serial" and sim.also_serial:  # a network instrument's RS-232 port
                extra.append(serve(sim, pty=True))
                served.append(Served(f"{name}.rs232", sim.model, extra[-1].address))
            for port_name, server in serve_extra_ports(sim).items():
                extra.append(server)
                served.append(Served(f"{name}.{port_name}", sim.model, server.address))
        yield station, served
    finally:
        for server in extra:
            server.stop()
        station.close()


def wait_for_stop(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
                  ready: Callable[[], None] | None = None) -> int:
    """Block until one of ``signals`` arrives; returns its number. Main thread only.

    The handlers are installed before ``ready`` runs (it prints the addresses: a client that reads
    them may stop us at once) and the previous ones are put back before returning.
    """
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        if ready is not None:
            ready()
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]
