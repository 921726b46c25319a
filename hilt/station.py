"""A station: the instruments of one bench, connected together, put safe together.

``Station.from_yaml(path)`` reads and validates a station file; as a context manager it starts
the simulators the file asks for (all sharing one simulated world, built by the simulation back end
that ``hilt.sims`` registers: see :func:`hilt.registry.load_simulation`), connects every
instrument (in parallel: a bench of serial devices and sockets connects in the time of the slowest),
and on exit (normal, error or Ctrl-C) puts every instrument in its safe state and closes it.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import logging
import platform
import time
import weakref
from pathlib import Path
from typing import Any

import hilt
from hilt import registry, roles
from hilt.config import StationConfig, build_order, load_station, validate_station
from hilt.errors import ConfigError, ConnectError, HiltError, LimitError, SafeStateError
from hilt.instrument import Instrument
from hilt.transport import exit_signals

log = logging.getLogger("hilt.station")

# Stations still connected when the interpreter exits (a script that never closed its station,
# an exception that escaped every block): put safe on the way out.
_open_stations: weakref.WeakSet[Station] = weakref.WeakSet()


@atexit.register
def _close_open_stations() -> None:
    for station in list(_open_stations):
        try:
            station.close()
        except Exception as exc:  # nothing above us to report to
            log.error("station %r: closing at exit: %s", station.name, exc)


class Station:
    """Instruments by name, plus the simulators and world behind the simulated ones."""

    def __init__(self, config: StationConfig, path: str | Path | None = None, *,
                 default_clock: str = "fast") -> None:
        self.config = config
        #: The simulated clock when the station file does not set ``world.clock``: ``fast`` for
        #: scripts, the command line and tests; the app and ``hilt sim serve-station`` pass
        #: ``real``, since a person or an outside program waits there in wall-clock time.
        self.default_clock = default_clock
        self.path = Path(path) if path else None
        self.name = config.name
        self.instruments: dict[str, Instrument] = {}
        self.simulators: dict[str, Any] = {}
        self.servers: dict[str, Any] = {}
        self.world: Any = None
        #: The simulation back end (``hilt.simulation`` entry point) once simulators are started.
        self._simulation: Any = None
        self.connected = False
        self._signals: exit_signals | None = None

    @classmethod
    def from_yaml(cls, path: str | Path, *, default_clock: str = "fast") -> Station:
        """Read and check a station file; a broken one is refused here, before anything starts.

        ``path``: a station file, or the name of a bundled one (``"thz-lab"``; ``hilt station
        list``). ``default_clock``: the simulated clock (``fast``, ``real`` or ``manual``; see
        :class:`hilt.sims.world.SimClock`) when the file's ``world.clock`` is not set.
        """
        from hilt import stations

        path = stations.find(path)
        station = cls(load_station(path), path, default_clock=default_clock)
        station._checked = True
        return station

    # -- access ---------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Instrument:
        try:
            return self.instruments[name]
        except KeyError:
            raise KeyError(f"no instrument {name!r} in station {self.name!r} "
                           f"(has: {', '.join(self.config.instruments)})") from None

    def __getattr__(self, name: str) -> Instrument:
        instruments = self.__dict__.get("instruments", {})
        if name in instruments:
            return instruments[name]
        raise AttributeError(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.instruments.values())

    def role(self, name: str) -> Instrument:
        """The instrument that fills role ``name`` in the station file (``roles: {detector: lia}``).

        A station file that does not name the role is a one-line :class:`ConfigError` saying
        which kinds the role needs and what to add to the file."""
        spec = self.config.roles.get(name)
        if spec is None:
            kinds = roles.accepted_kinds(name)
            needs = f"an instrument of kind {roles.either(kinds)}" if kinds else "an instrument"
            has = ", ".join(self.config.roles) or "none"
            raise ConfigError(f"station {self.name!r}{self._from()} has no role {name!r} ({needs}; roles "
                              f"it has: {has}): {roles.how_to_add(name, kinds)}")
        return self[spec.instrument]

    def by_kind(self, kind: Any) -> list[Instrument]:
        """Every instrument of a kind, in station order: the kind's Protocol (``LockIn``) or its
        name (``"lock_in"``); an instrument is of a kind its driver declares."""
        wanted = roles.kind_name(kind)
        return [inst for inst in self.instruments.values() if wanted in roles.declared_kinds(type(inst))]

    def _from(self) -> str:
        return f" ({self.path})" if self.path else ""

    # -- life cycle -----------------------------------------------------------------------------
    def __enter__(self) -> Station:
        self.connect()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            self.close()
        except SafeStateError as failure:
            if exc is None:
                raise
            # The error that ended the block comes first; the safe-state failure rides on it.
            if hasattr(exc, "add_note"):
                exc.add_note(f"and then: {failure}")

    def _where(self, name: str) -> str:
        return f"{self.path or 'station'}: instruments.{name}"

    def start_simulators(self) -> None:
        """Start a simulator for every simulated instrument, all in one world.

        A station made from a config object (not a file) is checked first, like a file: nothing
        starts unless the whole station can.
        """
        if not self.__dict__.get("_checked"):
            validate_station(self.config, self.path or "station")
            self._checked = True
        wc = self.config.world
        needed = bool(wc.systems) or any(
            self.config.is_simulated(n) and not registry.load_driver(ic.driver).virtual
            for n, ic in self.config.instruments.items())
        if not needed and not registry.has_simulation():
            return  # a bench of real instruments: no world, no simulators
        simulation = self._simulation = registry.load_simulation()
        if self.world is None:
            self.world = simulation.new_world(seed=wc.seed, errors=wc.errors, clock=self.clock_mode,
                                              speed=wc.speed)
            for sname, spec in wc.systems.items():
                options = {k: v for k, v in spec.items() if k != "kind"}
                try:
                    self.world.attach(sname, simulation.build_system(self.world, spec["kind"], name=sname, **options))
                except TypeError as exc:
                    raise ConfigError(f"{self.path or 'station'}: world.systems.{sname}: {exc}") from None
        for name, ic in self.config.instruments.items():
            if not self.config.is_simulated(name) or name in self.servers:
                continue
            driver_cls = registry.load_driver(ic.driver)
            if driver_cls.virtual:
                continue
            if not driver_cls.simulator:
                raise ConfigError(f"{self._where(name)}.simulate: driver {ic.driver!r} has no simulator")
            sim_cls = registry.load_simulator(driver_cls.simulator)
            try:
                sim, server = simulation.start_simulator(self.world, sim_cls, name, ic.sim)
            except TypeError as exc:
                raise ConfigError(f"{self._where(name)}.sim: {exc}") from None
            self.simulators[name] = sim
            self.servers[name] = server

    def _build(self, name: str) -> Instrument:
        ic = self.config.instruments[name]
        driver_cls = registry.load_driver(ic.driver)
        address = self.servers[name].address if name in self.servers else ic.address
        assert address is not None or driver_cls.virtual  # the schema guarantees it
        uses = {role: self.instruments[other] for role, other in ic.uses.items()}
        try:
            return driver_cls(address, name=name, limits=ic.limits or None, calibration=ic.calibration,
                              **uses, **ic.options, **ic.transport)
        except LimitError as exc:
            raise ConfigError(f"{self._where(name)}.limits: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{self._where(name)}.options: {exc}") from None

    def _build_order(self) -> list[str]:
        """Instruments that others use come first (a multiplier needs its synthesizer)."""
        try:
            return build_order(self.config)
        except ValueError as exc:  # circular uses; a checked station never gets here
            field = ".".join(str(p) for p in getattr(exc, "loc", ("instruments",)))
            raise ConfigError(f"{self.path or 'station'}: {field}: {exc}") from None

    def connect(self) -> None:
        """Start simulators, build and connect every instrument; all or nothing.

        From here until :meth:`close`, SIGTERM and SIGHUP unwind the program like a Ctrl-C
        (on the main thread, where nobody else handles them), so the outputs go safe."""
        if self._signals is None:
            self._signals = exit_signals()
            self._signals.__enter__()
        _open_stations.add(self)
        try:
            self.start_simulators()
            order = self._build_order()
            for name in order:
                self.instruments[name] = self._build(name)
                if name in self.simulators and self.clock_mode == "fast":
                    # The driver's polling sleeps move simulated time instead of waiting for it.
                    self.instruments[name].sleep = self.world.clock.advance  # type: ignore[method-assign]
            failures = self._parallel(lambda inst: inst.connect(), self._levels(order))
            if failures:
                lines = "; ".join(f"{n}: {e}" for n, e in failures.items())
                raise ConnectError(f"station {self.name!r}: {len(failures)} instrument(s) failed to connect: {lines}")
        except BaseException as exc:
            try:
                self.close()
            except SafeStateError as failure:
                if hasattr(exc, "add_note"):
                    exc.add_note(f"and then: {failure}")
            raise
        self.connected = True

    @property
    def clock_mode(self) -> str:
        """The simulated clock this station runs on (``real``, ``fast`` or ``manual``)."""
        return self.config.world.clock or self.default_clock

    @property
    def fully_simulated(self) -> bool:
        """True when every instrument is simulated (or virtual, driven through one that is)."""
        return self.world is not None and bool(self.simulators) and all(
            n in self.simulators or getattr(inst, "virtual", False) for n, inst in self.instruments.items())

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of instrument time pass: a settle wait (a lock-in's filter, a heater).

        On a fully simulated station this jumps the simulated clock and returns at once (the
        simulated instruments see the time pass); on a station with any real instrument it sleeps.
        """
        if seconds < 0:
            raise ValueError(f"wait of {seconds:g} s: time does not run backwards")
        if self.fully_simulated:
            self.world.clock.advance(seconds)
        elif seconds:
            time.sleep(seconds)

    def _levels(self, order: list[str]) -> list[list[str]]:
        """Groups that can connect in parallel: an instrument after those it uses."""
        level: dict[str, int] = {}
        for name in order:
            uses = self.config.instruments[name].uses.values()
            level[name] = 1 + max((level[o] for o in uses), default=-1)
        groups: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for name, lv in level.items():
            groups[lv].append(name)
        return groups

    def _parallel(self, fn: Any, groups: list[list[str]]) -> dict[str, BaseException]:
        failures: dict[str, BaseException] = {}
        with cf.ThreadPoolExecutor(max_workers=8, thread_name_prefix="station") as pool:
            for group in groups:
                futures = {pool.submit(fn, self.instruments[n]): n for n in group if n in self.instruments}
                for fut in cf.as_completed(futures):
                    exc = fut.exception()
                    if exc is not None:
                        failures[futures[fut]] = exc
        return failures

    def safe_state(self) -> dict[str, BaseException]:
        """Every open instrument to its safe state, in parallel; failures returned, not raised.

        A link that dropped is reopened by the safe state's first exchange; one instrument
        failing never keeps the others from being tried."""
        opened = [[n for n, i in self.instruments.items() if i.transport.is_open]]
        failures = self._parallel(lambda inst: inst.safe_state(), opened)
        for name, exc in failures.items():
            log.error("%s: safe state failed: %s", name, exc)
        return failures

    def close(self) -> None:
        """Safe state, close every link, stop the simulators. Safe to call twice.

        Raises :class:`~hilt.errors.SafeStateError` (after closing everything) when an
        instrument could not be put safe: its outputs may still be on."""
        failures: dict[str, BaseException] = {}
        try:
            failures = self.safe_state()
        finally:
            for inst in reversed(list(self.instruments.values())):
                inst.close()
            for server in self.servers.values():
                self._simulation.stop(server)
            self.servers.clear()
            self.connected = False
            _open_stations.discard(self)
            if self._signals is not None:
                signals, self._signals = self._signals, None
                signals.__exit__(None, None, None)
        if failures:
            raise SafeStateError(failures)

    # -- records -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Identities, settings and software versions, for run files."""
        instruments: dict[str, Any] = {}
        for name, inst in self.instruments.items():
            try:
                instruments[name] = inst.snapshot()
            except HiltError as exc:
                instruments[name] = {"error": str(exc)}
            instruments[name]["simulated"] = name in self.simulators
        return {
            "station": self.name,
            "station_file": str(self.path) if self.path else None,
            "config": self.config.model_dump(mode="json"),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "world": {"seed": self.world.seed, "errors": self.world.errors} if self.world else None,
            "instruments": instruments,
            # From the installed metadata: importing torch only to read its version costs a second.
            "versions": {
                "hilt": hilt.__version__, "python": platform.python_version(),
                **{name: _installed_version(name) for name in ("numpy", "torch", "pyvisa", "pyvisa-py", "pyserial")},
            },
        }


def _installed_version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
