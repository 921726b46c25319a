"""pytest plugin: a lab's own scripts tested on the simulated bench of its own station file.

Installed with hilt (entry point ``pytest11``, name ``hilt``); ``-p no:hilt`` turns it off. It
adds options and fixtures and nothing else: no fixture runs, no simulator starts and nothing of
hilt beyond this module is imported unless a test asks for one of the fixtures below.

Options (command line, or the ini file's ``[pytest]`` section without the dashes)::

    --hilt-station FILE   hilt_station = FILE   station file (or a bundled station's name)
    --hilt-seed N         hilt_seed = N         world seed (default: the file's world.seed)
    --hilt-errors PRESET  hilt_errors = PRESET  hidden systematic errors (default: world.errors)

A relative ``hilt_station`` in an ini file is relative to that file's folder.

Fixtures:

* ``hilt_station``: the station of that file, connected, with *every* instrument simulated (also
  those the file marks ``simulate: false``): the same drivers, limits and roles as on the bench,
  talking to simulators over loopback sockets, all sharing one world. Fresh for every test.
* ``hilt_bench``: a :class:`SimulatedBench`, what the simulated instruments really hold (heater
  voltages, outputs, stage positions, the light on a detector), for assertions.
* ``hilt_station_factory``: ``start(file=None, *, seed=None, errors=None)`` for a test that needs
  another seed, error preset or station file (or two stations).
* ``hilt_station_file``: the file in use; override it in a ``conftest.py`` to pin one per folder.

At teardown every station started is closed (safe state, links closed, simulators stopped) and
the world is checked: a source or laser output left on, a heater or bias not at 0 V, a stage still
moving, a lock-in reference above its minimum or a photonic processor's light on is an error at
teardown that names the instrument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hilt.station import Station

#: A heater at or below this (V) counts as off: the drivers' safe state sets exactly 0 V.
OFF_VOLTS = 1e-6
#: How far ahead (simulated s) a stage's published trajectory is looked at to see it stand still.
STILL_AFTER_S = 3600.0

_OPTIONS = (("station", "FILE", "station file, or a bundled station's name, to simulate in full "
                                "(every instrument, also those marked simulate: false)"),
            ("seed", "N", "seed of the simulated world (default: the station file's world.seed)"),
            ("errors", "PRESET", "hidden systematic errors of the simulated world, e.g. none, mild, "
                                 "severe (default: the station file's world.errors)"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hilt", "hilt: your tests on the simulated bench")
    for name, metavar, text in _OPTIONS:
        group.addoption(f"--hilt-{name}", dest=f"hilt_{name}", metavar=metavar, default=None, help=text)
        parser.addini(f"hilt_{name}", text, default=None)


def _setting(config: pytest.Config, name: str) -> str | None:
    """An option's value: the command line's (a relative station file from where pytest was
    started), else the ini file's (a relative station file from the ini file's folder)."""
    given = config.getoption(f"hilt_{name}")
    base: Path | None = config.invocation_params.dir
    if given is None:
        given = config.getini(f"hilt_{name}") or None
        base = config.inipath.parent if config.inipath is not None else None
    if given is None:
        return None
    value = str(given).strip()
    if name == "station" and base is not None and (base / value).is_file():
        return str(base / value)  # a test that changes directory still finds it
    return value


def _seed(config: pytest.Config) -> int | None:
    text = _setting(config, "seed")
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"--hilt-seed / hilt_seed: {text!r} is not an integer") from None


def pytest_configure(config: pytest.Config) -> None:
    _seed(config)  # a wrong seed is a usage error at once, before any test runs


def pytest_report_header(config: pytest.Config) -> str | None:
    station = config.getoption("hilt_station") or config.getini("hilt_station")  # as given
    if not station:
        return None
    seed, errors = _seed(config), _setting(config, "errors")
    return (f"hilt: station {station}, every instrument simulated; world seed "
            f"{'from the file' if seed is None else seed}, errors {errors or 'from the file'}")


class SimulatedBench:
    """What the simulated instruments of a station really hold, read from their shared world.

    The world is a key/value store that each simulator writes under its instrument's name
    (``heaters.voltages``, ``synth.output``, ``laser.power_w``, ``pm.readings``: see each
    simulator's docstring); physical systems (``world.systems`` in the file) are reached by name.
    Reading it sends no byte to any instrument: it is the ground truth the drivers are tested
    against.
    """

    def __init__(self, station: Station) -> None:
        self.station = station
        self.world: Any = station.world
        self.clock: Any = station.world.clock
        self.simulators: dict[str, Any] = station.simulators

    def __getitem__(self, instrument: str) -> Any:
        """The simulator object of ``instrument`` (its ``state()`` has the rest of its settings)."""
        try:
            return self.simulators[instrument]
        except KeyError:
            raise KeyError(f"no simulated instrument {instrument!r} (has: {', '.join(self.simulators)})") from None

    def get(self, key: str, default: Any = None) -> Any:
        """One world value, e.g. ``get("heaters.voltages")``."""
        return self.world.get(key, default)

    def published(self, instrument: str) -> dict[str, Any]:
        """Every world value ``instrument``'s simulator wrote, by key without the name:
        ``published("synth") == {"frequency": ..., "power_dbm": ..., "output": False}``."""
        prefix = f"{instrument}."
        return {k[len(prefix):]: v for k, v in self.world.state().items() if k.startswith(prefix)}

    def system(self, name: str) -> Any:
        """A physical system of the world (``world.systems.NAME``): e.g. a THz path's
        ``detector_power(x, y)``, an MZI chip's ``output_powers()``."""
        system = self.world.system(name)
        if system is None:
            raise KeyError(f"no world system {name!r} (station file's world.systems)")
        return system

    def advance(self, seconds: float) -> None:
        """Move simulated time on (a lock-in settles, a stage arrives) without waiting."""
        self.clock.advance(seconds)

    def record(self, key: str) -> list[tuple[float, Any]]:
        """A list that fills with ``(simulated time, value)`` every time ``key`` is written from
        now on: every setpoint a heater driver really received, in order."""
        seen: list[tuple[float, Any]] = []
        self.world.watch(key, lambda _key, value: seen.append((self.clock.now(), value)))
        return seen

    def unsafe(self) -> list[str]:
        """What is not in its safe state, one line each; empty when all is safe.

        Judged from the world, not from the drivers: an ``output`` on, a ``voltage`` or any of
        ``voltages`` above :data:`OFF_VOLTS`, a stage whose trajectory still changes, a lock-in
        reference (``amplitude``) above its simulator's minimum, a photonic processor's light on or
        heaters not at 0 V."""
        problems: list[str] = []
        now = self.clock.now()
        for key, value in sorted(self.world.state().items()):
            name, _, quantity = key.rpartition(".")
            if quantity == "output" and value is True:
                problems.append(f"{key}: on")
            elif quantity in ("voltage", "voltages"):
                volts = _floats(value)
                high = [v for v in volts if abs(v) > OFF_VOLTS]
                if high:
                    problems.append(f"{key}: {len(high)} of {len(volts)} not at 0 V "
                                    f"(largest {max(high, key=abs):g} V)")
            elif quantity == "position_fn" and callable(value):
                if tuple(value(now)) != tuple(value(now + STILL_AFTER_S)):
                    problems.append(f"{name}: still moving")
            elif quantity == "amplitude" and name in self.simulators:
                lowest = getattr(self.simulators[name], "amplitude_range", (None,))[0]
                if lowest is not None and float(value) > lowest * (1 + 1e-9):
                    problems.append(f"{key}: {float(value):g} V, above the minimum {lowest:g} V")
        for name, sim in self.simulators.items():
            state = sim.state()
            if state.get("light_on") is True:
                problems.append(f"{name}: light on")
            high = [v for v in state.get("max_volts", ()) if abs(v) > OFF_VOLTS]
            if high:
                problems.append(f"{name}: heaters not at 0 V (largest {max(high, key=abs):g} V)")
        return problems

    def assert_safe(self) -> None:
        """AssertionError listing :meth:`unsafe`, if anything is."""
        problems = self.unsafe()
        assert not problems, "not in the safe state: " + "; ".join(problems)


def _floats(value: Any) -> list[float]:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    return [float(value)]


@pytest.fixture
def hilt_station_file(request: pytest.FixtureRequest) -> Path:
    """The station file (``--hilt-station`` or ``hilt_station``), resolved; bundled names too."""
    from hilt import stations
    from hilt.errors import ConfigError

    given = _setting(request.config, "station")
    if given is None:
        pytest.fail("no station file for the simulated bench: run pytest with --hilt-station FILE, "
                    "set hilt_station = FILE in the ini file, or override the hilt_station_file "
                    "fixture", pytrace=False)
    try:
        return stations.find(given)
    except ConfigError as exc:
        pytest.fail(f"--hilt-station: {exc}", pytrace=False)


@pytest.fixture
def hilt_station_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Station]]:
    """``start(file=None, *, seed=None, errors=None)``: a connected, fully simulated station.

    Defaults come from the options (then the file). Every station started is closed at teardown
    and its world checked for anything left unsafe (see :meth:`SimulatedBench.unsafe`)."""
    from hilt.errors import HiltError, SafeStateError
    from hilt.sims.serve_station import simulated_station

    config = request.config
    started: list[Station] = []

    def start(station_file: str | Path | None = None, *, seed: int | None = None,
              errors: str | None = None) -> Station:
        if station_file is None:  # asked for only now: a test that names its file needs no option
            station_file = request.getfixturevalue("hilt_station_file")
        station = simulated_station(
            station_file,
            seed=seed if seed is not None else _seed(config),
            errors=errors if errors is not None else _setting(config, "errors"))
        try:
            station.connect()
        except HiltError as exc:
            pytest.fail(f"simulated station {station.path}: {exc}", pytrace=False)
        started.append(station)
        return station

    yield start
    problems: list[str] = []
    for station in reversed(started):
        try:
            station.close()
        except SafeStateError as exc:
            problems.append(f"station {station.name!r}: {exc}")
        problems += [f"station {station.name!r}: {p}" for p in SimulatedBench(station).unsafe()]
    if problems:
        pytest.fail("left unsafe after the safe state at teardown: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def hilt_station(hilt_station_factory: Callable[..., Station]) -> Station:
    """The station file's bench, every instrument simulated, connected; safe and closed after."""
    return hilt_station_factory()


@pytest.fixture
def hilt_bench(hilt_station: Station) -> SimulatedBench:
    """The simulated world behind ``hilt_station``, for assertions on what really happened."""
    return SimulatedBench(hilt_station)
