"""Training on a station: the glue between a station file and the loops.

``train_on_station(station, loop="dat", ...)`` finds the station's photonic processor, wraps it as a
:class:`~hilt.instruments.mesh_processor.MeshProcessor` (phases -> heater volts through its heater
calibration), builds the digital twin of the same architecture, and runs the chosen loop with its
run file under ``runs_dir``. ``hilt train STATION --loop ...`` is this function on the command line.
A station with no photonic processor but the bench roles ``laser``, ``heaters``, ``modulators`` and
``meter`` (a small MZI bench with input modulators, the bundled ``mzi-lab``) trains on
:class:`~hilt.instruments.bench_processor.BenchMeshProcessor`, built from those roles.

DAT's ``internal`` and ``block`` modes fit the intensities between meshes, which only a processor
with taps measures; on one without (``measures_internal`` False, as every bench) DAT falls back
to ``output`` mode and logs one line saying so (a warning on ``hilt.loops``).

The run file records the station (its snapshot and the station file's text) and how the run was
started, so :func:`resume_run` (``hilt resume RUNFILE``) can continue a crashed or aborted run
from its last checkpoint with the same station, loop, settings and seed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hilt import roles
from hilt.errors import ConfigError, HiltError
from hilt.instruments.bench_processor import ROLES as BENCH_ROLES
from hilt.instruments.bench_processor import BenchMeshProcessor
from hilt.instruments.mesh_processor import StationMeshProcessor

from .core import LoopControl, LoopResult, TrainSettings
from .data import Dataset, load_digits, load_idx_dataset
from .recording import run_context

LOOPS = ("insilico", "insitu", "spsa", "dat")
#: The role a training loop asks the station for, and the kind that fills it (hilt.roles).
PROCESSOR_ROLE = "processor"
PROCESSOR_KIND = "photonic_processor"

log = logging.getLogger("hilt.loops")


def load_dataset(spec: str, seed: int = 0, n_features: int = 64) -> Dataset:
    """``digits`` (bundled), or ``mnist:DIR`` / ``fashion:DIR`` from local IDX files."""
    if spec == "digits":
        return load_digits(seed)
    kind, _, root = spec.partition(":")
    if kind in ("mnist", "fashion") and root:
        return load_idx_dataset(root, n_features=n_features, name="fashion-mnist" if kind == "fashion" else "mnist")
    raise ConfigError(f"dataset {spec!r}: expected 'digits', 'mnist:DIR' or 'fashion:DIR'")


def fit_to_ports(data: Dataset, n_ports: int) -> Dataset:
    """``data`` as a processor with fewer ports than classes can read it (one port per class):
    the first ``n_ports`` classes, and square images average-pooled onto a grid of ``n_ports``
    cells (8 ports: 4 rows x 2 columns). Logged on ``hilt.loops``; other data is returned as is
    (more features than ports are truncated by the encoder, as before)."""
    if data.n_classes <= n_ports:
        return data
    import math

    import torch

    side = math.isqrt(data.n_features)
    cols = max(c for c in range(1, math.isqrt(n_ports) + 1) if n_ports % c == 0)
    rows = n_ports // cols

    def pooled(x: Any) -> Any:
        if side * side != data.n_features or data.n_features <= n_ports:
            return x
        t = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1, side, side)
        return torch.nn.functional.adaptive_avg_pool2d(t, (rows, cols)).reshape(len(x), -1).numpy()

    train, test = data.y_train < n_ports, data.y_test < n_ports
    log.warning("%s: %d classes on %d ports: training on classes 0-%d, images pooled to %dx%d",
                data.name, data.n_classes, n_ports, n_ports - 1, rows, cols)
    return Dataset(f"{data.name}-{n_ports}", pooled(data.x_train[train]), data.y_train[train],
                   pooled(data.x_test[test]), data.y_test[test], n_ports)


def _inventory(station: Any) -> str:
    return ", ".join(f"{n} ({i.model})" for n, i in station.instruments.items()) or "no instruments"


def _is_processor(inst: Any) -> bool:
    return PROCESSOR_KIND in roles.declared_kinds(type(inst))


def find_processor(station: Any, name: str | None = None) -> Any:
    """The station's photonic processor: the instrument named (``hilt train --instrument``), else
    the one the station file's ``processor`` role names, else the only instrument of the
    ``photonic_processor`` kind. Anything else is a one-line ConfigError, raised before a byte
    is sent, that names the role, the kind and what the station has."""
    where = f"station {station.name!r}" + (f" ({station.path})" if getattr(station, "path", None) else "")
    if name is not None:
        inst = station.instruments.get(name)
        if inst is None:
            raise ConfigError(f"{where}: no instrument {name!r}; it has {_inventory(station)}")
        if not _is_processor(inst):
            raise ConfigError(f"{where}: instrument {name!r} is a {inst.model}, not a photonic "
                              f"processor (kind {PROCESSOR_KIND}); the station has {_inventory(station)}")
        return inst
    named = getattr(getattr(station, "config", None), "roles", None) or {}
    if PROCESSOR_ROLE in named:
        inst = station.role(PROCESSOR_ROLE)
        if not _is_processor(inst):
            raise ConfigError(f"{where}: role {PROCESSOR_ROLE!r} is {inst.name!r}, a {inst.model}, not a photonic "
                              f"processor (kind {PROCESSOR_KIND})")
        return inst
    found = station.by_kind(PROCESSOR_KIND)
    if len(found) == 1:
        return found[0]
    which = f"{len(found)} are ({', '.join(i.name for i in found)})" if found else "none is"
    raise ConfigError(f"{where}: training needs the role {PROCESSOR_ROLE!r} (a {PROCESSOR_KIND}): the station file "
                      f"names no such role and, of {_inventory(station)}, {which}; add roles: "
                      f"{{{PROCESSOR_ROLE}: NAME}} to the station file or pass --instrument NAME")


def station_processor(station: Any, name: str | None = None) -> tuple[Any, dict[str, Any], str]:
    """What training runs on: ``(processor, its description, its name)``. The photonic processor
    :func:`find_processor` finds; else, on a station without one whose file names the bench roles
    ``laser``, ``heaters``, ``modulators`` and ``meter``, a
    :class:`~hilt.instruments.bench_processor.BenchMeshProcessor` of them."""
    named = getattr(getattr(station, "config", None), "roles", None) or {}
    bench = all(role in named for role in BENCH_ROLES)
    if name is None and bench and PROCESSOR_ROLE not in named and not station.by_kind(PROCESSOR_KIND):
        processor = BenchMeshProcessor.from_station(station)
        return processor, processor.describe(), processor.name
    try:
        chip = find_processor(station, name)
    except ConfigError as exc:
        if name is not None or bench:
            raise
        missing = ", ".join(r for r in BENCH_ROLES if r not in named)
        raise ConfigError(f"{exc}; or, for a bench of instruments, name the roles {missing}") from None
    return StationMeshProcessor(chip), chip.describe(), chip.name


def new_run_path(station_name: str, loop: str, runs_dir: str | Path = "runs") -> Path:
    """A run-file name that no other run takes: ``<station>-<loop>-<date>-<time>-<ms>-<random>.h5``
    (two runs started in the same millisecond still differ in the random part)."""
    runs = Path(runs_dir)
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{station_name}-{loop}")
    while True:
        now = time.time()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
        path = runs / f"{prefix}-{stamp}-{secrets.token_hex(3)}.h5"
        if not path.exists():
            return path


def _settings_for(cls: type[TrainSettings], base: dict[str, Any], overrides: Mapping[str, Any] | None,
                  strict: bool = True) -> TrainSettings:
    names = {f.name for f in dataclasses.fields(cls)}
    given = dict(overrides or {})
    unknown = sorted(set(given) - names)
    if unknown and strict:
        raise ConfigError(f"settings {', '.join(map(repr, unknown))}: not settings of {cls.__name__} "
                          f"(known: {', '.join(sorted(names))})")
    try:
        return cls(**{**base, **{k: v for k, v in given.items() if k in names}})
    except TypeError as exc:
        raise ConfigError(f"settings: {exc}") from None


def train_on_station(station: Any, loop: str = "dat", *, instrument: str | None = None,
                     dataset: str = "digits", epochs: int = 3, lr: float = 0.005, seed: int = 0,
                     dat_mode: str = "internal", runs_dir: str | Path = "runs",
                     control: LoopControl | None = None, progress: Callable[..., Any] | None = None,
                     progress_bar: bool = False, settings: Mapping[str, Any] | None = None,
                     run_path: str | Path | None = None, resume: bool = False,
                     measure_start: bool = False) -> LoopResult:
    """Train a classifier on the station's MZI chip with one loop; returns the loop's result.

    ``settings`` sets any other field of the loop's settings (e.g. ``{"batch_size": 64,
    "max_retries": 5}``; see :class:`~hilt.loops.core.TrainSettings`). The run file goes to
    ``run_path``, or to a new uniquely named file under ``runs_dir``; ``resume=True`` continues
    the run in an existing ``run_path`` from its last checkpoint (what :func:`resume_run` does).
    ``measure_start``: first measure the untrained model's test accuracy on the hardware (one
    pass over the test set), so the result shows what training won:
    ``result.extra["start_accuracy"]``.
    """
    from hilt.instruments.photonic_twin import twin_from_description

    from .dat import DATSettings
    from .zeroth_order import ZOSettings

    if loop not in LOOPS:
        raise ConfigError(f"loop {loop!r}: expected one of {', '.join(LOOPS)}")
    from .slm_bench import is_slm_bench

    if instrument is None and is_slm_bench(station):
        return _train_slm_bench(station, loop, dataset=dataset, epochs=epochs, lr=lr, seed=seed,
                                runs_dir=runs_dir, control=control, progress=progress,
                                progress_bar=progress_bar, settings=settings, run_path=run_path,
                                resume=resume, measure_start=measure_start, dat_mode=dat_mode)
    from .int8_board import station_accelerator, train_int8_on_station

    board = station_accelerator(station) if instrument is None else None
    if board is not None:  # an int8 accelerator: quantisation-aware training (hilt.loops.int8_board)
        return train_int8_on_station(station, board, loop, dataset=dataset, epochs=epochs, lr=lr, seed=seed,
                                     run_path=run_path or new_run_path(station.name, loop, runs_dir),
                                     settings=settings, resume=resume, control=control, progress=progress)
    from .snn_board import station_neuromorphic, train_snn_on_station

    snn_board = station_neuromorphic(station) if instrument is None else None
    if snn_board is not None:  # a spiking network converted, calibrated and fine-tuned on it (hilt.loops.snn_board)
        return train_snn_on_station(station, snn_board, loop, dataset=dataset, seed=seed, epochs=epochs, lr=lr,
                                    run_path=run_path or new_run_path(station.name, loop, runs_dir),
                                    settings=settings, resume=resume, control=control, progress=progress,
                                    progress_bar=progress_bar)
    processor, description, chip_name = station_processor(station, instrument)
    data = fit_to_ports(load_dataset(dataset, seed, n_features=processor.n_ports), processor.n_ports)
    twin = twin_from_description(description, seed=seed, name=chip_name)  # the chip says what it is
    if loop == "dat" and dat_mode != "output" and not getattr(processor, "measures_internal", True):
        log.warning("%s measures no intensities between meshes: DAT runs in output mode, not %s",
                    chip_name, dat_mode)
        dat_mode_used = "output"
    else:
        dat_mode_used = dat_mode
    if run_path is None:
        run_path = new_run_path(station.name, loop, runs_dir)
    Path(run_path).parent.mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = dict(epochs=epochs, lr=lr, seed=seed, progress_bar=progress_bar,
                                  eval_at_start=measure_start)
    cls = {"spsa": ZOSettings, "dat": DATSettings}.get(loop, TrainSettings)
    if loop == "dat":
        common["mode"] = dat_mode_used
    s = _settings_for(cls, common, settings)
    kwargs: dict[str, Any] = dict(run_path=str(run_path), control=control, progress=progress,
                                  resume=resume)
    # How this run was started: what resume_run needs besides the loop's own settings.
    # A bench is found again from its roles; a processor instrument by its name.
    recorded = None if isinstance(processor, BenchMeshProcessor) else chip_name
    started = {"loop": loop, "instrument": recorded, "dataset": dataset, "seed": seed,
               "dat_mode": dat_mode}
    context = station_run_context(station, started, run_path=run_path, resume=resume)
    with run_context(**context):
        return _run_loop(loop, processor, twin, data, s, kwargs)



def station_run_context(station: Any, started: Mapping[str, Any], *, run_path: str | Path,
                        resume: bool = False) -> dict[str, Any]:
    """The :func:`~hilt.loops.recording.run_context` of a run started from a station: how it was
    started (``started``, what :func:`resume_run` needs besides the loop's settings) and, unless
    the run resumes an existing ``run_path`` (whose file has them already), the station's
    snapshot and file."""
    context: dict[str, Any] = {"config": {"station_run": dict(started)}, "overwrite": False}
    if not (resume and Path(run_path).exists()):
        try:
            context["station_snapshot"] = station.snapshot()
        except HiltError as exc:  # a station that cannot describe itself still trains
            context["station_snapshot"] = {"error": str(exc)}
        path = getattr(station, "path", None)
        if path is not None:
            context["station_file"] = Path(path).resolve()
    return context

def _train_slm_bench(station: Any, loop: str, *, dataset: str, epochs: int, lr: float, seed: int,
                     runs_dir: str | Path, control: LoopControl | None, progress: Callable[..., Any] | None,
                     progress_bar: bool, settings: Mapping[str, Any] | None, run_path: str | Path | None,
                     resume: bool, measure_start: bool, dat_mode: str) -> LoopResult:
    """:func:`train_on_station` on an SLM bench (:mod:`hilt.loops.slm_bench`): the bench is
    calibrated first (geometry, LUT; their run files under ``runs_dir``), PAT and DAT start from
    a model trained on the twin, DAT fits the intensities at the camera only."""
    from .slm_bench import train_slm_on_station

    data = load_dataset(dataset, seed)
    if run_path is None:
        run_path = new_run_path(station.name, loop, runs_dir)
    Path(run_path).parent.mkdir(parents=True, exist_ok=True)
    s = {"epochs": epochs, "lr": lr, "seed": seed, "progress_bar": progress_bar, "eval_at_start": measure_start,
         **dict(settings or {})}
    started = {"loop": loop, "instrument": None, "dataset": dataset, "seed": seed, "dat_mode": dat_mode}
    context = station_run_context(station, started, run_path=run_path, resume=resume)
    with run_context(**context):
        return train_slm_on_station(station, loop, data, settings=s, runs_dir=runs_dir, run_path=str(run_path),
                                    resume=resume, control=control, progress=progress)


def _run_loop(loop: str, processor: Any, twin: Any, data: Dataset, s: TrainSettings,
              kwargs: dict[str, Any]) -> LoopResult:
    from .dat import train_dat
    from .insilico import train_insilico
    from .pat import train_pat
    from .zeroth_order import train_zeroth_order

    if loop == "insilico":
        return train_insilico(twin, data, s, processor=processor, **kwargs)
    if loop == "insitu":
        return train_pat(processor, twin, data, s, **kwargs)
    if loop == "spsa":
        return train_zeroth_order(processor, twin, data, s, **kwargs)  # type: ignore[arg-type]
    return train_dat(processor, twin, data, s, **kwargs)  # type: ignore[arg-type]


def _recorded_station(run_path: Path, info: Mapping[str, Any], station_file: str | Path | None) -> Any:
    from hilt.config import parse_station
    from hilt.station import Station

    if station_file is not None:
        return Station.from_yaml(station_file)
    text = str(info.get("station_file_text") or "")
    recorded = str(info.get("station_file") or "")
    if recorded and Path(recorded).is_file():
        try:
            current = Path(recorded).read_text()
        except (OSError, UnicodeDecodeError):
            current = None
        if not text or current == text:
            return Station.from_yaml(recorded)
        log.warning("%s changed since the run started; using the text the run recorded", recorded)
    if text:
        label = f"{recorded or 'station file'} (as recorded in {run_path})"
        return Station(parse_station(text, label), recorded or None)
    raise ConfigError(f"{run_path}: the run recorded no station file"
                      + (f" and {recorded} is gone" if recorded else "") + "; name one with --station")


def resume_run(run_path: str | Path, *, station_file: str | Path | None = None,
               max_retries: int | None = None, control: LoopControl | None = None,
               progress: Callable[..., Any] | None = None, progress_bar: bool = False) -> LoopResult:
    """Continue a crashed, aborted or failed run of :func:`train_on_station` (``hilt train``)
    from its last checkpoint, and finish it in the same run file.

    The station is started again from the station file the run recorded (its text as it was,
    if the file has changed or gone since; ``station_file`` uses another), with the same loop,
    settings and seed, so the finished run is the one an uninterrupted run would have made.
    ``max_retries`` replaces the recorded number of retries per fault. A completed run, or one
    still running, is refused with a :class:`~hilt.errors.ConfigError`.
    """
    from hilt.runfile import open_run

    path = Path(run_path)
    with open_run(path) as run:
        status = run.status
        info = dict(run.info)
        pid = run.sessions[-1]["pid"] if run.sessions else None
    if status == "completed":
        raise ConfigError(f"{path}: the run completed; there is nothing to resume")
    if status == "running":
        raise ConfigError(f"{path}: the run is still running (pid {pid}); stop it before resuming")
    config = info.get("config") or {}
    started = config.get("station_run")
    if not started:
        raise ConfigError(f"{path}: not a run of hilt train (it records no station run); resume "
                          "it from Python with the loop's resume=True")
    settings = dict(config.get("settings") or {})
    # Runs recorded before heads had names used the sum-normalised head with a temperature.
    settings.setdefault("head", "sum-norm-temperature")
    settings["progress_bar"] = progress_bar
    if max_retries is not None:
        settings["max_retries"] = max_retries
    loop = started["loop"]
    from .dat import DATSettings
    from .zeroth_order import ZOSettings

    cls = {"spsa": ZOSettings, "dat": DATSettings}.get(loop, TrainSettings)
    if str(config.get("method", "")).startswith("snn-"):  # a neuromorphic board's run (hilt.loops.snn_board)
        from .snn_board import SnnBoardSettings

        cls = SnnBoardSettings
    if str(config.get("method", "")).startswith("int8-"):  # an accelerator's run (hilt.loops.int8_board)
        from .int8_board import Int8Settings

        cls = Int8Settings
    # Settings this hilt no longer knows are dropped; new ones keep their defaults.
    known = {f.name for f in dataclasses.fields(cls)}
    settings = {k: v for k, v in settings.items() if k in known}
    with _recorded_station(path, info, station_file) as st:
        return train_on_station(st, loop, instrument=started.get("instrument"),
                                dataset=started.get("dataset", "digits"),
                                seed=int(started.get("seed", settings.get("seed", 0))),
                                dat_mode=started.get("dat_mode", "internal"), settings=settings,
                                run_path=path, resume=True, control=control, progress=progress,
                                progress_bar=progress_bar)
