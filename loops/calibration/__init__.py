"""hilt.loops.calibration: calibration routines run on a station (see docs/calibration.md).

Each routine is ``fn(station, *, out_dir="runs", progress=None, abort=None, **options) ->
CalibrationResult``: it drives the station's instruments (real or simulated alike), writes one
run file (raw data and the fitted table), reports ``progress(done, total, message)``, stops
when the ``abort`` event is set, and leaves the instruments it used in their safe state.

    >>> from hilt.loops.calibration import run_calibration
    >>> result = run_calibration(station, "mzi_heaters", out_dir="runs")
    >>> print(result.summary())
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._common import CalibrationAborted, CalibrationResult, ProgressFn
from .camera import CameraDarkFlat, calibrate_camera_dark_flat, load_camera_dark_flat
from .fitting import FringeFit, fit_fringe
from .mzi import (
    HeaterCalibration,
    MeshModel,
    MZICalibration,
    calibrate_mzi_crosstalk,
    calibrate_mzi_heaters,
    load_heater_calibration,
)
from .slm import (
    SlmGeometry,
    SlmLut,
    calibrate_slm_geometry,
    calibrate_slm_lut,
    load_slm_geometry,
    load_slm_lut,
)
from .thz import (
    DarkFlat,
    SourcePowerCurve,
    calibrate_detector_dark_flat,
    calibrate_lockin_phase_sensitivity,
    calibrate_thz_source_power,
    load_dark_flat,
    load_source_power,
)

#: Routine name -> function (what ``hilt calibrate STATION ROUTINE`` runs).
ROUTINES: dict[str, Callable[..., CalibrationResult]] = {
    "mzi_heaters": calibrate_mzi_heaters,
    "mzi_crosstalk": calibrate_mzi_crosstalk,
    "lockin_phase_sensitivity": calibrate_lockin_phase_sensitivity,
    "thz_source_power": calibrate_thz_source_power,
    "detector_dark_flat": calibrate_detector_dark_flat,
    "slm_lut": calibrate_slm_lut,
    "slm_geometry": calibrate_slm_geometry,
    "camera_dark_flat": calibrate_camera_dark_flat,
}


def routine_names() -> list[str]:
    """hilt's routines and those installed packages declare (entry point group
    ``hilt.routines``; a name hilt has already is hilt's)."""
    from hilt.registry import routine_entry_points

    return sorted(set(ROUTINES) | set(routine_entry_points()))


def describe(routine: str) -> str:
    """The first line of a routine's documentation (for ``hilt calibrate --list``)."""
    fn = get_routine(routine)
    return (fn.__doc__ or "").strip().splitlines()[0]


def get_routine(routine: str) -> Callable[..., CalibrationResult]:
    """The routine called ``routine``: hilt's, or a plug-in's (loaded now; a plug-in that does
    not import is a one-line ConfigError naming it)."""
    from hilt.errors import ConfigError
    from hilt.registry import routine_entry_points

    if routine in ROUTINES:
        return ROUTINES[routine]
    plugin = routine_entry_points().get(routine)
    if plugin is None:
        raise ConfigError(f"unknown calibration routine {routine!r}; known: {', '.join(routine_names())}")
    try:
        return plugin.load()
    except Exception as exc:  # a plug-in's own import error, in one line, naming the package
        raise ConfigError(f"calibration routine {routine!r} ({plugin.value}) did not load: "
                          f"{type(exc).__name__}: {exc} (hilt plugins lists every plug-in)") from None


def parse_options(routine: str, pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["points=16", "inputs=[0, 7]"]`` (a command line's ``-o key=value``) as options for
    ``routine``: values read as YAML, names checked against the routine's signature."""
    import inspect

    import yaml

    from hilt.errors import ConfigError

    fn = get_routine(routine)
    accepted = set(inspect.signature(fn).parameters) - {"station", "out_dir", "progress", "abort"}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in accepted:
            raise ConfigError(f"{routine}: option {pair!r}: expected name=value with a name in {sorted(accepted)}")
        try:
            out[key] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{routine}: option {key}: {exc}") from None
    return out


def run_calibration(station: Any, routine: str, *, out_dir: str | Path = "runs", progress: ProgressFn | None = None,
                    **options: Any) -> CalibrationResult:
    """Run the calibration ``routine`` (a name from :data:`ROUTINES`) on a connected station.

    ``options`` go to the routine (``abort=threading.Event()`` among them); unknown options
    raise :class:`~hilt.errors.ConfigError` before anything is sent to the hardware.
    """
    import inspect

    from hilt.errors import ConfigError

    fn = get_routine(routine)
    accepted = set(inspect.signature(fn).parameters) - {"station", "out_dir", "progress"}
    unknown = set(options) - accepted
    if unknown:
        raise ConfigError(f"{routine}: unknown option(s) {sorted(unknown)}; accepted: {sorted(accepted)}")
    return fn(station, out_dir=out_dir, progress=progress, **options)


__all__ = [
    "ROUTINES",
    "get_routine",
    "CalibrationAborted",
    "CalibrationResult",
    "CameraDarkFlat",
    "DarkFlat",
    "FringeFit",
    "HeaterCalibration",
    "MZICalibration",
    "MeshModel",
    "ProgressFn",
    "SlmGeometry",
    "SlmLut",
    "SourcePowerCurve",
    "calibrate_camera_dark_flat",
    "calibrate_detector_dark_flat",
    "calibrate_lockin_phase_sensitivity",
    "calibrate_mzi_crosstalk",
    "calibrate_mzi_heaters",
    "calibrate_slm_geometry",
    "calibrate_slm_lut",
    "calibrate_thz_source_power",
    "describe",
    "fit_fringe",
    "load_camera_dark_flat",
    "load_dark_flat",
    "load_heater_calibration",
    "load_slm_geometry",
    "load_slm_lut",
    "load_source_power",
    "parse_options",
    "routine_names",
    "run_calibration",
]
