"""The DAT paper's MZI benchmark on scikit-learn's digits (Zheng et al., arXiv:2212.06141).

Three 64-port Clements meshes with electro-optic activations between them, read by
photodetectors. By default every chip is the bundled simulated station ``mzi-large``
(``hilt/stations/mzi-large.yaml``: the simulated photonic processor behind its frame protocol,
driven through :class:`~hilt.drivers.photonic_processor.PhotonicProcessor` and
:class:`~hilt.instruments.mesh_processor.StationMeshProcessor`), started once per error setting
with the world's error preset overridden; ``local=True`` evaluates the same physics in-process
(:class:`~hilt.instruments.mesh_processor.LocalMeshProcessor`), faster, for development.

Error settings (:data:`hilt.sims.physics.PRESETS`, definitions from the DAT authors' code):
``dat-phase-0.10`` (phase shifters alone), ``dat-bs-0.10`` (beam splitters alone), ``dat-0.06``
(both); also ``dat-0.10``, ``dat-0.04``. Methods, each on the same chip of a setting:

- ``error_free``: the in-silico model on a chip with preset ``none``;
- ``deployed``: the in-silico model programmed onto the erroneous chip and measured;
- ``pat``: physics-aware training; ``dat`` / ``dat_internal`` / ``dat_block``: dual adaptive
  training with the final outputs only / with the internal states / block by block;
  ``spsa`` (optional): zeroth-order on the last mesh. All start from the in-silico model.

Inputs have mean power 1 per port (``input_power = n_ports``), the scale of the DAT authors'
inputs, which sets where the EO activation works (:class:`hilt.sims.physics.EOActivation`).
torch runs single-threaded here: the tensors are small (64 x 64), and two intra-op threads on
two shared, busy cores spend most of their time waiting for each other (measured 6-40x slower
per step under load); see docs/adr/0006-training-loops.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hilt import stations
from hilt.instruments.mesh_processor import LocalMeshProcessor, MeshProcessor, StationMeshProcessor
from hilt.sims.physics import MZINetwork, error_levels

from .core import (
    TrainSettings,
    config_dict,
    encode,
    evaluate_physical,
    make_model,
    publish_result,
    torch_threads,
)
from .dat import DATSettings, train_dat
from .data import Dataset, load_digits
from .head import DEFAULT_HEAD
from .insilico import train_insilico
from .pat import train_pat
from .zeroth_order import ZOSettings, train_zeroth_order

#: The station the demo runs on, bundled with hilt (pass ``DemoConfig.station`` for another).
STATION_FILE = stations.path("mzi-large")

DAT_MODES = {"dat": "output", "dat_internal": "internal", "dat_block": "block"}


@dataclasses.dataclass
class DemoConfig:
    n_ports: int = 64
    n_meshes: int = 3
    seed: int = 0  # network init, data split, training
    error_seed: int = 1  # the chip's frozen errors (local backend; the station's come from its world)
    input_power: float | None = None  # None: n_ports (mean power 1 per port)
    batch_size: int = 32
    insilico_epochs: int = 12
    # With the DAT head (logits in [0, 1]) 0.01 reaches 91.8 % where 0.005 reached 91.1 %.
    insilico_lr: float = 0.01
    insilico_lr_decay: float = 0.85  # per epoch: constant-lr Adam on phases jitters +-5 %
    finetune_epochs: int = 4
    # The DAT authors' lr. 0.005 made PAT and output-only DAT walk away from the in-silico
    # model (below deployed accuracy); see docs/adr/0006-training-loops.md.
    finetune_lr: float = 0.001
    # 0: fine-tuning trains the chip's phases, the digital read-out stays as in silico. A
    # learned temperature collapsed (loss -> log 10, no gradient left) when the deployed model
    # started far off (phase error 0.10).
    finetune_head_lr: float = 0.0
    errors: tuple[str, ...] = ("dat-phase-0.10", "dat-bs-0.10", "dat-0.06", "dat-0.10")
    methods: tuple[str, ...] = ("pat", "dat", "dat_internal", "dat_block")
    n_train: int | None = None
    n_test: int | None = None
    local: bool = False  # True: LocalMeshProcessor in-process instead of the station
    station: str | None = None  # station file or bundled station's name (None: STATION_FILE)
    threads: int = 1
    spsa_lr: float = 0.005
    head: str = DEFAULT_HEAD  # the read-out (hilt.loops.head.HEADS), the same for every method

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(insilico_epochs=8, insilico_lr_decay=0.75, finetune_epochs=2,
                   errors=("dat-0.06",), methods=("pat", "dat", "dat_internal"))

    @property
    def power(self) -> float:
        return float(self.n_ports if self.input_power is None else self.input_power)


def _levels_dict(preset: str) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(error_levels(preset)).items()
            if v not in (0.0, None)}


@contextlib.contextmanager
def chip(cfg: DemoConfig, net: MZINetwork, preset: str, chip_seed: int | None = None
         ) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A factory of fresh-count processors on one chip with error ``preset``, and a description
    of the backend. Local: errors drawn from ``chip_seed`` (default ``cfg.error_seed``).
    Station: the station file started with ``world.errors = preset`` (and ``world.seed =
    chip_seed`` when given: another draw of the same chip)."""
    if cfg.local:
        seed = cfg.error_seed if chip_seed is None else int(chip_seed)
        physical = net.with_errors(preset, seed)
        yield (lambda: LocalMeshProcessor(physical)), {"backend": "local", "error_seed": seed}
        return
    from hilt.station import Station

    path = stations.find(cfg.station) if cfg.station else STATION_FILE
    st = Station.from_yaml(path)
    st.config.world.errors = preset
    if chip_seed is not None:
        st.config.world.seed = int(chip_seed)
    with st:
        inst = st["chip"]
        if (inst.n_ports, inst.n_layers) != (cfg.n_ports, cfg.n_meshes):
            raise ValueError(f"{path}: chip has {inst.n_layers} x {inst.n_ports} ports, the demo "
                             f"needs {cfg.n_meshes} x {cfg.n_ports}")
        inst.set_light(True, 1.0)
        yield (lambda: StationMeshProcessor(inst)), {
            "backend": "station", "station": str(path), "world_seed": st.config.world.seed,
            "chip": inst.identify()}


def run_demo(quick: bool = False, json_path: str | None = None, runs_dir: str | None = "runs",
             progress: bool = True, config: DemoConfig | None = None, data: Dataset | None = None,
             local: bool | None = None) -> dict[str, Any]:
    """Run the benchmark; print a table; return (and with ``json_path`` write) the results:
    ``{"methods": {name: {"accuracy", "physical_queries", ...}}, "errors": {...},
    "backend": ..., "dataset": ...}`` where ``methods`` are on the first error setting and
    ``errors["settings"]`` holds every setting's levels, backend and methods. Run files go to
    ``runs_dir`` (None: no files)."""
    cfg = dataclasses.replace(config or (DemoConfig.quick() if quick else DemoConfig()))
    if local is not None:
        cfg.local = local
    with torch_threads(min(2, cfg.threads)):
        return _run(cfg, json_path, runs_dir, progress, data)


def _run(cfg: DemoConfig, json_path: str | None, runs_dir: str | None, progress: bool,
         data: Dataset | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    data = (data or load_digits(cfg.seed)).subset(cfg.n_train, cfg.n_test)
    net = MZINetwork.build(cfg.n_ports, cfg.n_meshes, seed=cfg.seed)
    root = None if runs_dir is None else Path(runs_dir) / f"demo-{data.name}"

    def path(*parts: str) -> str | None:
        return None if root is None else str(root.joinpath(*parts[:-1], parts[-1] + ".h5"))

    base = dict(batch_size=cfg.batch_size, seed=cfg.seed, input_power=cfg.power,
                progress_bar=progress, head=cfg.head)
    ins_settings = TrainSettings(epochs=cfg.insilico_epochs, lr=cfg.insilico_lr,
                                 lr_decay=cfg.insilico_lr_decay, **base)

    # In silico once: the twin does not depend on the chip's errors.
    ins = train_insilico(net.twin(), data, ins_settings, run_path=path("insilico"))
    init = ins.model_state
    model = make_model(net.twin(), data.n_classes, head_name=cfg.head)
    model.load_state_dict(init)
    _, _, x_te, y_te = encode(data, cfg.n_ports, cfg.power)
    with chip(cfg, net, "none") as (fresh, backend):
        error_free = evaluate_physical(fresh(), model, x_te, y_te)

    settings: dict[str, Any] = {}
    for name in cfg.errors:
        t_setting = time.perf_counter()
        methods: dict[str, Any] = {"error_free": {"accuracy": error_free, "physical_queries": 0}}
        with chip(cfg, net, name) as (fresh, chip_info):
            methods["deployed"] = {"accuracy": evaluate_physical(fresh(), model, x_te, y_te),
                                   "physical_queries": 0}
            for m in cfg.methods:
                r = run_method(m, fresh(), net, data, cfg, init, path(name, m), progress)
                methods[m] = {**r.summary(), "run_file": r.run_path}
        settings[name] = {"levels": _levels_dict(name), **chip_info, "methods": methods,
                          "seconds": round(time.perf_counter() - t_setting, 1)}

    first = cfg.errors[0]
    result = {
        "dataset": data.name,
        "n_train": int(len(data.y_train)), "n_test": int(len(data.y_test)),
        "backend": backend,
        "methods": settings[first]["methods"],
        "errors": {"preset": first, "levels": settings[first]["levels"], "settings": settings},
        "insilico": {**ins.summary(), "run_file": ins.run_path},
        "config": config_dict(cfg),
        # One chip draw and one training seed per setting: a spread over draws is a study
        # (hilt sweep, BENCHMARKS.md).
        "draws": {"chips": 1, "training_seeds": 1, "head": cfg.head},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return publish_result(result, format_table(result), json_path)


def finetune_settings(cfg: DemoConfig, progress: bool = False) -> dict[str, Any]:
    """The fine-tuning settings every method of the benchmark shares."""
    return dict(epochs=cfg.finetune_epochs, lr=cfg.finetune_lr, head_lr=cfg.finetune_head_lr,
                eval_every_epoch=False, batch_size=cfg.batch_size, seed=cfg.seed,
                input_power=cfg.power, progress_bar=progress, head=cfg.head)


def run_method(method: str, processor: MeshProcessor, net: MZINetwork, data: Dataset,
               cfg: DemoConfig, init: dict[str, Any], run_path: str | None,
               progress: bool = False) -> Any:
    """Fine-tune the in-silico model ``init`` on ``processor`` with one of the benchmark's
    methods (``pat``, ``dat``, ``dat_internal``, ``dat_block``, ``spsa``); its LoopResult."""
    ft = finetune_settings(cfg, progress)
    twin = net.twin()
    if method == "pat":
        return train_pat(processor, twin, data, TrainSettings(**ft), init_state=init,
                         run_path=run_path)
    if method in DAT_MODES:
        return train_dat(processor, twin, data, DATSettings(mode=DAT_MODES[method], **ft),
                         init_state=init, run_path=run_path)
    if method == "spsa":
        return train_zeroth_order(processor, twin, data, ZOSettings(**dict(ft, lr=cfg.spsa_lr)),
                                  init_state=init, run_path=run_path)
    raise ValueError(f"unknown method {method!r}: expected pat, {', '.join(DAT_MODES)} or spsa")


def format_table(result: dict[str, Any]) -> str:
    """Accuracy (%) and physical queries per method (rows) and error setting (columns)."""
    settings = result["errors"]["settings"]
    names = list(settings)
    rows = []
    for s in names:
        for m in settings[s]["methods"]:
            if m not in rows:
                rows.append(m)
    head = f"{'method':<14}" + "".join(f"{n:>22}" for n in names)
    backend = result.get("backend", {}).get("backend", "?")
    lines = [f"{result['dataset']} on the {backend} chip: test accuracy % (physical queries)",
             head, "-" * len(head)]
    for m in rows:
        cells = []
        for s in names:
            r = settings[s]["methods"].get(m)
            cells.append(f"{'':>22}" if r is None else
                         f"{100 * r['accuracy']:>12.1f} ({r['physical_queries']:>7d})")
        lines.append(f"{m:<14}" + "".join(cells))
    return "\n".join(lines)
