"""Output images of a printed diffractive camera read on a THz station, as the bench reads them.

:class:`StationCamera` deploys a design to a station (the bundled simulated ``thz-imaging`` by
default, or yours): for each object it has the object mounted in the beam, rasters the detector
over the image pixels with the XY stage (a serpentine :func:`hilt.loops.scan.scan`, the lock-in
settling automatically at every point, role ``stage`` and ``lockin``) and reads the lock-in's
X and Y, then returns one image per object (X + iY less the background read with the source
off, projected on the signal's phase). Every reading is in the scans' sweep files, one per object.

Mounting is the one step no driver can do: a person places the printed object and layers in the
beam. On a simulated station :class:`SimulatedMount` does it through the world's THz path
(``world.system(NAME).mount(object=..., heights=...)``; this is the only access to the world,
the simulated stand-in for a pair of hands). On a real station :class:`ManualMount` writes what
to print (``print/heights.npz``, ``print/object-K.npy``) and waits for you to press Enter.

The station's geometry (wavelength, pixel pitch, grid, layers, gaps) is read from the station
file's THz path options (``world.systems.NAME.optics``), so the recipe designs for the optics
the station holds; :func:`station_geometry`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hilt.errors import ConfigError
from hilt.sims.thz_path import SPEED_OF_LIGHT


@dataclasses.dataclass(frozen=True)
class StationGeometry:
    """The optics a station holds, from its file: what a design must be made for."""

    frequency_hz: float
    pitch_m: float
    shape: tuple[int, int]
    n_layers: int
    spacing_m: float
    kind: str

    @property
    def wavelength_m(self) -> float:
        return SPEED_OF_LIGHT / self.frequency_hz


def _thz_system(config: Any, system: str | None) -> tuple[str, dict[str, Any]]:
    systems = {n: s for n, s in config.world.systems.items() if s.get("kind") == "thz_path"}
    if system is not None:
        systems = {n: s for n, s in systems.items() if n == system}
    if len(systems) != 1:
        raise ConfigError(f"station {config.name}: needs exactly one THz path (world.systems, kind: "
                          f"thz_path{'' if system is None else ', named ' + system}) describing its optics")
    name, spec = next(iter(systems.items()))
    return name, dict(spec)


def station_geometry(station: str | Path, system: str | None = None) -> StationGeometry:
    """The geometry of the station's optics (``world.systems.NAME.optics``: preset, shape,
    layers, spacing_m, kind); the frequency is the preset's design wavelength."""
    from hilt import stations
    from hilt.config import load_station
    from hilt.sims.thz_path import optics_setup

    config = load_station(stations.find(station))
    name, spec = _thz_system(config, system)
    optics = dict(spec.get("optics") or {})
    if not optics:
        raise ConfigError(f"station {config.name}: world.systems.{name} has no optics")
    setup, shape = optics_setup(optics.get("preset", "thz"), optics.get("shape", 32))
    return StationGeometry(SPEED_OF_LIGHT / setup.wavelength, float(setup.pitch), shape,
                           int(optics.get("layers", 3)), float(optics.get("spacing_m", setup.spacing)),
                           str(optics.get("kind") or "height"))


class Mount(Protocol):
    """Who places printed parts in the beam."""

    def layers(self, heights: Sequence[np.ndarray]) -> None: ...

    def object(self, index: int, amplitude: np.ndarray) -> None: ...


class SimulatedMount:
    """Mounts through the simulated world's THz path (the only world access: a person's hands)."""

    def __init__(self, system: Any) -> None:
        self.system = system

    def layers(self, heights: Sequence[np.ndarray]) -> None:
        self.system.mount(heights=[np.asarray(h) for h in heights])

    def object(self, index: int, amplitude: np.ndarray) -> None:
        self.system.mount(object=np.asarray(amplitude))


class ManualMount:
    """A real bench: write the parts to print and wait until they are mounted (``confirm``:
    a function that shows a message and returns when the user is ready; default
    ``click.confirm`` with abort on "no")."""

    def __init__(self, out_dir: str | Path, confirm: Callable[[str], Any] | None = None) -> None:
        self.dir = Path(out_dir) / "print"
        self.dir.mkdir(parents=True, exist_ok=True)
        if confirm is None:
            import click

            def confirm(text: str) -> Any:
                return click.confirm(text, default=True, abort=True)
        self.confirm = confirm

    def layers(self, heights: Sequence[np.ndarray]) -> None:
        path = self.dir / "heights.npz"
        np.savez(path, **{f"layer{k}": np.asarray(h) for k, h in enumerate(heights)})
        self.confirm(f"Print the {len(heights)} layers in {path} (heights in metres, layer0 "
                     "nearest the object) and mount them; ready?")

    def object(self, index: int, amplitude: np.ndarray) -> None:
        path = self.dir / f"object-{index}.npy"
        np.save(path, np.asarray(amplitude))
        self.confirm(f"Mount object {index} ({path}: amplitude transmission); ready?")


@dataclasses.dataclass
class StationImages:
    """Images read on a station: (n, points) lock-in readings in volts, background removed:
    the in-phase component (``detection="phase"``) or the magnitude (``"magnitude"``)."""

    images: np.ndarray
    sweep_files: list[Path]
    bench_seconds: list[float]  # the station clock's seconds per image (raster only)
    wall_seconds: float
    clock: str
    background: complex
    phase_rad: float = 0.0  # the signal's phase the images are projected on ("phase")



def grid_axes(centres_mm: Sequence[tuple[float, float]], who: str) -> tuple[list[float], list[float]]:
    """The x and y positions (mm, sorted) of raster points on a rectangular grid; a ConfigError
    naming ``who`` when they are not one."""
    xs = sorted({round(float(x), 6) for x, _ in centres_mm})
    ys = sorted({round(float(y), 6) for _, y in centres_mm})
    if len(xs) * len(ys) != len(centres_mm):
        raise ConfigError(f"{who}: the centres must form a rectangular grid")
    return xs, ys


def raster(st: Any, xs: Sequence[float], ys: Sequence[float], read: list[str], path: Path) -> Any:
    """A serpentine raster of the station's detector (role ``stage``) over the grid ``xs`` x
    ``ys``, reading ``read`` with the lock-in's automatic settling at every point
    (:func:`hilt.loops.scan.scan`, its sweep file at ``path``); the completed scan's result, a
    ConfigError if it did not complete."""
    from hilt.loops.scan import Axis, scan

    result = scan(st, Axis("stage.y", values=list(ys)), Axis("stage.x", values=list(xs)), read=read,
                  snake=True, settle="auto", path=path, progress=False, figure=False)
    if result.status != "completed":
        raise ConfigError(f"raster on {st.name}: {result.status} {result.reason}")
    return result


class StationCamera:
    """A printed diffractive camera on a THz station (module docstring). Use as a context::

        with StationCamera("thz-imaging", out_dir) as cam:
            cam.mount_layers(heights)                      # the design, metres
            got = cam.read_images(objects, centres_mm)     # objects (n, ny, nx) in [0, 1]

    ``time_constant_s``/``slope_db``: the lock-in's filter; ``chop_hz``: its internal reference,
    which drives the chopper (a Golay cell wants 10-20 Hz); ``power_dbm``: the synthesizer;
    ``detection``: ``"phase"`` (default) projects every reading on the signal's phase, found
    from all readings together (what setting the lock-in's phase does), ``"magnitude"`` keeps
    R = |X + iY|, which never averages below the noise's magnitude.
    """

    def __init__(self, station: str | Path, out_dir: str | Path, *, system: str | None = None,
                 time_constant_s: float = 0.1, slope_db: int = 12, chop_hz: float = 15.0,
                 sensitivity_v: float = 0.01, power_dbm: float = 3.0,
                 confirm: Callable[[str], Any] | None = None, detection: str = "phase") -> None:
        from hilt import stations
        from hilt.config import load_station

        self.station_file = stations.find(station)
        self.system_name, _ = _thz_system(load_station(self.station_file), system)
        self.geometry = station_geometry(self.station_file, self.system_name)
        self.out_dir = Path(out_dir)
        self.settings = {"lockin.time_constant": float(time_constant_s),
                         "lockin.filter_slope": int(slope_db), "lockin.frequency": float(chop_hz),
                         "lockin.sensitivity": float(sensitivity_v)}
        self.power_dbm = float(power_dbm)
        if detection not in ("phase", "magnitude"):
            raise ConfigError(f"detection {detection!r}: expected 'phase' or 'magnitude'")
        self.detection = detection
        self._confirm = confirm
        self.st: Any = None
        self.mount: Mount | None = None
        self.simulated = False  # whether the detector reads the simulated world (set on entry)

    def __enter__(self) -> StationCamera:
        from hilt import Station
        from hilt.loops.scan import resolve

        self.st = Station.from_yaml(self.station_file)
        self.st.__enter__()
        try:
            system = self.st.world.system(self.system_name) if self.st.world is not None else None
            # The simulated hands only where the detector reads the simulated beam: a real
            # lock-in means real optics, whatever world the station file also describes.
            lockin = resolve(self.st, "lockin.x")[0]
            simulated = self.simulated = self.st.config.is_simulated(lockin.name)
            self.mount = (SimulatedMount(system) if simulated and system is not None
                          and hasattr(system, "mount") else ManualMount(self.out_dir, self._confirm))
            # The design's frequency through the multiplier (it sets the synthesizer).
            resolve(self.st, "multiplier.frequency")[1].set(self.geometry.frequency_hz)
            resolve(self.st, "source.power")[1].set(self.power_dbm)
            for name, value in self.settings.items():
                resolve(self.st, name)[1].set(value)
        except BaseException:
            self.st.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.st.__exit__(*exc)

    @property
    def clock_mode(self) -> str:
        return self.st.clock_mode if self.simulated and self.st.world is not None else "real"

    def _now(self) -> float:
        """The bench's clock: the simulated world's where the detector is simulated."""
        if self.simulated and self.st.world is not None:
            return float(self.st.world.clock.now())
        return time.monotonic()

    def mount_layers(self, heights: Sequence[np.ndarray]) -> None:
        """Have the printed layers (heights, metres, one per layer) mounted."""
        assert self.mount is not None
        self.mount.layers(heights)

    def _raster(self, xs: list[float], ys: list[float], path: Path) -> np.ndarray:
        path.unlink(missing_ok=True)  # a rerun into the same folder replaces its files
        data = raster(self.st, xs, ys, ["lockin.x", "lockin.y"], path).open().data
        return np.asarray(data["lockin.x"]) + 1j * np.asarray(data["lockin.y"])

    def read_images(self, objects: np.ndarray, centres_mm: Sequence[tuple[float, float]],
                    name: str = "station") -> StationImages:
        """For each object (n, ny, nx amplitude in [0, 1]): mount it, raster the detector over
        ``centres_mm`` ((x, y) mm, a rectangular grid), read X and Y. The background (source
        off, detector at the first point) is read once first and taken away; the images are
        the readings along their common phase (class docstring). Sweep files:
        ``runs/NAME-background.h5``, ``runs/NAME-objectK.h5`` (replaced if there)."""
        from hilt.loops.scan import resolve

        assert self.mount is not None, "use StationCamera as a context (with ...)"
        xs, ys = grid_axes(centres_mm, "read_images")
        runs = self.out_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        w0 = time.perf_counter()
        output = resolve(self.st, "source.output")[1]
        output.set(False)
        background = complex(self._raster(xs[:1], ys[:1], runs / f"{name}-background.h5").ravel()[0])
        output.set(True)
        images, files, seconds = [], [], []
        for k, obj in enumerate(np.asarray(objects)):
            self.mount.object(k, obj)
            path = runs / f"{name}-object{k:03d}.h5"
            t0 = self._now()
            z = self._raster(xs, ys, path)
            seconds.append(self._now() - t0)
            images.append((z - background).ravel())
            files.append(path)
        output.set(False)
        phasors = np.asarray(images)
        # Phase-sensitive detection: every pixel's signal has the same phase (the chopper's and
        # the detector's lag), so the images are the component along the mean phasor. The
        # noise then averages to zero in an erased digit, where a magnitude would keep a floor.
        phase = float(np.angle(phasors.sum())) if self.detection == "phase" else 0.0
        values = (np.real(phasors * np.exp(-1j * phase)) if self.detection == "phase"
                  else np.abs(phasors))
        return StationImages(values.astype(np.float64), files, seconds,
                             time.perf_counter() - w0, self.clock_mode, background, phase)


__all__ = ["ManualMount", "SimulatedMount", "StationCamera", "StationGeometry", "StationImages", "grid_axes", "raster",
           "station_geometry"]
