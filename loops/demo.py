"""The DAT paper's MZI benchmark on scikit-learn's digits (Zheng et al., arXiv:2212.06141).

Three 64-port Clements meshes with electro-optic activations between them, read by
photodetectors; the physical chip carries the DAT error presets (``dat-0.10``: phase-shifter
and beam-splitter sigma 0.10 rad). Methods, each against the same chip:

- ``error_free``: the in-silico model on a chip with preset ``none`` (the twin's physics);
- ``deployed``: the in-silico model programmed onto the erroneous chip;
- ``pat``: physics-aware training, ``dat`` / ``dat_internal``: dual adaptive training with the
  final outputs only / with the internal states, ``spsa`` (full mode): zeroth-order on the last
  mesh. PAT, DAT and SPSA start from the in-silico model (fine-tuning on the hardware).

The EO activation's bias is ``pi / 2`` here, not the physics module's default ``pi``: with unit
input power that default sits in the threshold regime (power transmission ~1e-3 per layer,
intensities ~1e-10 after three meshes) and the network does not train even in silico
(~20 % on digits, measured); see docs/adr/0006-training-loops.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hilt.instruments.mesh_processor import LocalMeshProcessor, MeshProcessor
from hilt.sims.physics import EOActivation, ErrorLevels, MZINetwork, error_levels

from .core import TrainSettings, encode, evaluate_physical, make_model
from .dat import DATSettings, train_dat
from .data import Dataset, load_digits
from .insilico import train_insilico
from .pat import train_pat
from .zeroth_order import ZOSettings, train_zeroth_order

ProcessorFactory = Callable[[nn.Module], MeshProcessor]

# Named error settings: the DAT pair, each error alone, and a milder pair (our simulated errors
# are harsher than the paper's at the same sigma; see docs/adr/0006-training-loops.md).
ERROR_SETTINGS: dict[str, ErrorLevels] = {
    "dat-0.10": error_levels("dat-0.10"),
    "dat-0.04": ErrorLevels(phase_shifter=0.04, beam_splitter=0.04),
    "phase-0.10": ErrorLevels(phase_shifter=0.10),
    "bs-0.10": ErrorLevels(beam_splitter=0.10),
    "dat-0.06": error_levels("dat-0.06"),
}


@dataclasses.dataclass
class DemoConfig:
    n_ports: int = 64
    n_meshes: int = 3
    seed: int = 0  # network init, data split, training
    error_seed: int = 1  # the chip's frozen errors
    activation_bias: float = math.pi / 2
    input_power: float = 1.0
    batch_size: int = 32
    insilico_epochs: int = 10
    insilico_lr: float = 0.005
    finetune_epochs: int = 3
    finetune_lr: float = 0.005
    errors: tuple[str, ...] = ("dat-0.10", "dat-0.06", "dat-0.04")
    methods: tuple[str, ...] = ("pat", "dat", "dat_internal", "spsa")
    n_train: int | None = None
    n_test: int | None = None

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(insilico_epochs=6, finetune_epochs=2, errors=("dat-0.10",),
                   methods=("pat", "dat", "dat_internal"))


def _levels_dict(levels: ErrorLevels) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(levels).items() if v not in (0.0, None)}


def run_demo(quick: bool = False, json_path: str | None = None, runs_dir: str | None = "runs",
             processor_factory: ProcessorFactory | None = None, progress: bool = True,
             config: DemoConfig | None = None, data: Dataset | None = None) -> dict[str, Any]:
    """Run the benchmark; print a table; return (and with ``json_path`` write) the results:
    ``{"methods": {name: {"accuracy", "physical_queries", ...}}, "errors": {...},
    "dataset": ...}`` where ``methods`` are on the first error setting and ``errors`` holds
    every setting's levels and methods. Run files go to ``runs_dir`` (None: no files)."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    t0 = time.perf_counter()
    cfg = config or (DemoConfig.quick() if quick else DemoConfig())
    factory = processor_factory or LocalMeshProcessor
    data = data or load_digits(cfg.seed)
    data = data.subset(cfg.n_train, cfg.n_test)
    net = MZINetwork.build(cfg.n_ports, cfg.n_meshes, seed=cfg.seed)
    net.activation = EOActivation(phi_b=cfg.activation_bias)
    root = None if runs_dir is None else Path(runs_dir) / f"demo-{data.name}"

    def path(*parts: str) -> str | None:
        return None if root is None else str(root.joinpath(*parts[:-1], parts[-1] + ".h5"))

    base = dict(batch_size=cfg.batch_size, seed=cfg.seed, input_power=cfg.input_power,
                progress_bar=progress)
    ins_settings = TrainSettings(epochs=cfg.insilico_epochs, lr=cfg.insilico_lr, **base)
    ft = dict(epochs=cfg.finetune_epochs, lr=cfg.finetune_lr, **base)
    ft_no_eval = dict(ft, eval_every_epoch=False)

    # In silico once: the twin does not depend on the chip's errors.
    ins = train_insilico(net.twin(), data, ins_settings, run_path=path("insilico"))
    init = ins.model_state
    model = make_model(net.twin(), data.n_classes)
    model.load_state_dict(init)
    _, _, x_te, y_te = encode(data, cfg.n_ports, cfg.input_power)
    ideal = factory(net.with_errors("none", cfg.error_seed))
    error_free = evaluate_physical(ideal, model, x_te, y_te)

    errors: dict[str, Any] = {}
    for name in cfg.errors:
        levels = ERROR_SETTINGS[name] if name in ERROR_SETTINGS else error_levels(name)
        methods: dict[str, Any] = {
            "error_free": {"accuracy": error_free, "physical_queries": 0},
        }
        proc = factory(net.with_errors(levels, cfg.error_seed))
        methods["deployed"] = {"accuracy": evaluate_physical(proc, model, x_te, y_te),
                               "physical_queries": 0}
        for m in cfg.methods:
            proc = factory(net.with_errors(levels, cfg.error_seed))  # a fresh query count
            rp = path(name, m)
            if m == "pat":
                r = train_pat(proc, net.twin(), data, TrainSettings(**ft_no_eval),
                              init_state=init, run_path=rp)
            elif m in ("dat", "dat_internal", "dat_block"):
                mode = {"dat": "output", "dat_internal": "internal", "dat_block": "block"}[m]
                r = train_dat(proc, net.twin(), data, DATSettings(mode=mode, **ft_no_eval),
                              init_state=init, run_path=rp)
            elif m == "spsa":
                r = train_zeroth_order(proc, net.twin(), data,
                                       ZOSettings(**dict(ft_no_eval, lr=0.01)),
                                       init_state=init, run_path=rp)
            else:
                raise ValueError(f"unknown method {m!r}")
            methods[m] = {**r.summary(), "run_file": r.run_path}
        errors[name] = {"levels": _levels_dict(levels), "methods": methods}

    first = cfg.errors[0]
    result = {
        "dataset": data.name,
        "n_train": int(len(data.y_train)), "n_test": int(len(data.y_test)),
        "methods": errors[first]["methods"],
        "errors": {"preset": first, "levels": errors[first]["levels"], "settings": errors},
        "insilico": {**ins.summary(), "run_file": ins.run_path},
        "config": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in dataclasses.asdict(cfg).items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(format_table(result))
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2))
    return result


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
    lines = [f"{result['dataset']}: test accuracy % (physical queries)", head, "-" * len(head)]
    for m in rows:
        cells = []
        for s in names:
            r = settings[s]["methods"].get(m)
            cells.append(f"{'':>22}" if r is None else
                         f"{100 * r['accuracy']:>12.1f} ({r['physical_queries']:>7d})")
        lines.append(f"{m:<14}" + "".join(cells))
    return "\n".join(lines)
