"""Training on a station: the glue between a station file and the loops.

``train_on_station(station, loop="dat", ...)`` finds the station's photonic processor, wraps it as a
:class:`~hilt.instruments.mesh_processor.MeshProcessor` (phases -> heater volts through its heater
calibration), builds the digital twin of the same architecture, and runs the chosen loop with its
run file under ``runs_dir``. ``hilt train STATION --loop ...`` is this function on the command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hilt.errors import ConfigError
from hilt.instruments.mesh_processor import StationMeshProcessor

from .core import LoopControl, LoopResult, TrainSettings
from .data import Dataset, load_digits, load_idx_dataset

LOOPS = ("insilico", "insitu", "spsa", "dat")


def load_dataset(spec: str, seed: int = 0, n_features: int = 64) -> Dataset:
    """``digits`` (bundled), or ``mnist:DIR`` / ``fashion:DIR`` from local IDX files."""
    if spec == "digits":
        return load_digits(seed)
    kind, _, root = spec.partition(":")
    if kind in ("mnist", "fashion") and root:
        return load_idx_dataset(root, n_features=n_features, name="fashion-mnist" if kind == "fashion" else "mnist")
    raise ConfigError(f"dataset {spec!r}: expected 'digits', 'mnist:DIR' or 'fashion:DIR'")


def find_processor(station: Any, name: str | None = None) -> Any:
    """The station's photonic processor instrument (by name, or the only one there is)."""
    if name is not None:
        return station[name]
    found = [i for i in station.instruments.values() if i.model == "photonic_processor"]
    if len(found) != 1:
        raise ConfigError(f"station {station.name!r}: {len(found)} photonic processors; name one with --instrument")
    return found[0]


def train_on_station(station: Any, loop: str = "dat", *, instrument: str | None = None,
                     dataset: str = "digits", epochs: int = 3, lr: float = 0.005, seed: int = 0,
                     dat_mode: str = "internal", runs_dir: str | Path = "runs",
                     control: LoopControl | None = None, progress: Callable[..., Any] | None = None,
                     progress_bar: bool = False) -> LoopResult:
    """Train a classifier on the station's MZI chip with one loop; returns the loop's result."""
    from hilt.sims.physics import MZINetwork

    from .dat import DATSettings, train_dat
    from .insilico import train_insilico
    from .pat import train_pat
    from .zeroth_order import ZOSettings, train_zeroth_order

    if loop not in LOOPS:
        raise ConfigError(f"loop {loop!r}: expected one of {', '.join(LOOPS)}")
    chip = find_processor(station, instrument)
    processor = StationMeshProcessor(chip)
    data = load_dataset(dataset, seed, n_features=processor.n_ports)
    twin = MZINetwork.build(processor.n_ports, processor.n_layers, seed=seed).twin()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_path = str(Path(runs_dir) / f"{station.name}-{loop}-{stamp}.h5")
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    common = dict(epochs=epochs, lr=lr, seed=seed, progress_bar=progress_bar)
    kwargs = dict(run_path=run_path, control=control, progress=progress)
    if loop == "insilico":
        return train_insilico(twin, data, TrainSettings(**common), processor=processor, **kwargs)
    if loop == "insitu":
        return train_pat(processor, twin, data, TrainSettings(**common), **kwargs)
    if loop == "spsa":
        return train_zeroth_order(processor, twin, data, ZOSettings(**common), **kwargs)
    return train_dat(processor, twin, data, DATSettings(mode=dat_mode, **common), **kwargs)
