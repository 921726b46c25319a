"""How long a measured output image takes on a THz bench, timed through the bench's own drivers.

On a THz diffractive bench the output plane is read by one detector moved over it on an XY stage
and read through a lock-in, point by point. :func:`time_raster` runs exactly that readout on a
station (the bundled simulated ``thz-lab`` by default: Newport ESP301 stage, SRS SR830 lock-in,
pyroelectric detector, all through their real drivers): a serpentine :func:`hilt.loops.scan.scan`
over a camera's image-pixel centres with the lock-in's settling at every point, and reports the
time the bench's clock saw pass (simulated time on a simulated station, wall time on a real one).

What the detector reads there is the station's own optics (its Gaussian beam through its own
layers, at its source's frequency), not a recipe's design; the readings are kept in the scan's
sweep file all the same. To read a design's images on a station that can hold it (the bundled
``thz-imaging``), see :mod:`hilt.loops.recipes.thz_station`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class RasterTiming:
    """One timed raster: its points, the bench's seconds and the wall seconds it took here."""

    station: str
    points: int
    bench_seconds: float
    wall_seconds: float
    clock: str  # the station's clock: "fast" (simulated), "real", ...
    sweep_file: Path
    time_constant_s: float
    slope_db: int


def time_raster(centres_mm: Sequence[tuple[float, float]], out_path: str | Path, *,
                station: str = "thz-lab", time_constant_s: float = 0.1, slope_db: int = 12,
                source: dict[str, Any] | None = None) -> RasterTiming:
    """Raster the station's detector over ``centres_mm`` (x, y in mm, on a rectangular grid)
    through its stage and lock-in (roles ``stage`` and ``lockin``), the lock-in set to
    ``time_constant_s`` and ``slope_db``, settling automatically at each point; ``source``:
    parameters of role ``source`` to set first (default: on at 16.5 GHz, 3 dBm)."""
    from hilt import Station, stations
    from hilt.loops.scan import resolve

    from .thz_station import grid_axes, raster

    xs, ys = grid_axes(centres_mm, "time_raster")
    settings = {"frequency": 16.5e9, "power": 3.0, "output": True} if source is None else source
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with Station.from_yaml(stations.find(station)) as st:
        for name, value in settings.items():
            resolve(st, f"source.{name}")[1].set(value)
        resolve(st, "lockin.time_constant")[1].set(float(time_constant_s))
        resolve(st, "lockin.filter_slope")[1].set(int(slope_db))
        clock = st.world.clock if st.world is not None else None
        t0 = clock.now() if clock is not None else time.monotonic()
        w0 = time.perf_counter()
        raster(st, xs, ys, ["lockin.r"], out_path)
        bench = (clock.now() if clock is not None else time.monotonic()) - t0
        mode = st.clock_mode if st.world is not None else "real"
    return RasterTiming(station, len(xs) * len(ys), float(bench), time.perf_counter() - w0, mode,
                        out_path, float(time_constant_s), int(slope_db))


__all__ = ["RasterTiming", "time_raster"]
