"""Studies as sweeps: ``hilt sweep STUDY.yaml`` (docs/sweeps.md).

A study is a grid over the DAT benchmark (:mod:`hilt.loops.demo`): error settings, methods,
training seeds and chip draws, with any other :class:`~hilt.loops.demo.DemoConfig` field fixed
or swept. It runs in two stages, each a set of independent trials:

1. ``insilico``: one trial per training seed (and per value of any swept field that changes the
   in-silico model): train the twin, save its state;
2. ``finetune``: one trial per (error setting, method, seed, chip draw, ...): program the
   in-silico model on that chip (``deployed``; ``error_free``: on a chip of the same draw
   without errors) or fine-tune it there (``pat``, ``dat``, ``dat_internal``, ``dat_block``,
   ``spsa``).

Every trial has a name made from its parameters, writes its own run file
(``OUTPUT/runs/NAME.h5``) and, when it finishes, its result (``OUTPUT/trials/NAME.json``). A
sweep started again runs only the trials without a result: finished trials are never run twice,
and a trial that was cut off (Ctrl-C, a killed worker, ``--limit``) starts over. The results
gather into ``OUTPUT/results.csv`` (and ``.parquet`` with pyarrow), ``OUTPUT/summary.csv``
(mean, standard deviation, 95 % confidence interval and count per error setting and method)
and ``OUTPUT/accuracy.png`` (accuracy per error setting and method, error bars one standard
deviation).

A study with ``recipe: NAME`` runs a recipe of :mod:`hilt.loops.recipes` instead (docs/recipes.md):
one stage, one trial per grid point, each calling the recipe's ``trial(params, out_dir)`` with
the grid values and the ``fixed`` settings (the recipe documents its keys) and its own folder
``OUTPUT/runs/NAME/``; ``summary.csv`` holds the mean, standard deviation and count of the
recipe's headline metric (its ``SWEEP_METRIC``) per grid point over the ``seed`` axis.

Executors: ``ray`` (Ray Tune: a local Ray on this machine's cores, or a cluster with
``address``; a trial on a physical station asks for the custom resource ``station:NAME``, so
Ray runs it only on the node that has that bench) and ``local`` (a process pool on this
machine; no Ray needed). Both run the same trial function.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hilt.errors import ConfigError

log = logging.getLogger("hilt.loops")

#: The grid keys every study understands; any other key must be a DemoConfig field.
AXES = ("errors", "method", "seed", "chip")
METHODS = ("error_free", "deployed", "pat", "dat", "dat_internal", "dat_block", "spsa")
#: DemoConfig fields that change the in-silico model (the rest only change fine-tuning).
INSILICO_FIELDS = ("n_ports", "n_meshes", "seed", "input_power", "batch_size", "insilico_epochs",
                   "insilico_lr", "insilico_lr_decay", "n_train", "n_test", "head")
EXECUTORS = ("ray", "local")


@dataclass
class Study:
    """A study file, read (:func:`load_study`)."""

    name: str
    output: Path
    grid: dict[str, list[Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    backend: str = "local"  # "local": the chip in-process; "station": the station's chip
    station: str | None = None  # the station file (backend "station")
    executor: str = "ray"
    workers: int | None = None
    path: Path | None = None
    recipe: str | None = None  # a recipe of hilt.loops.recipes instead of the DAT benchmark

    @property
    def station_resource(self) -> str | None:
        """The Ray custom resource a station trial asks for (``station:NAME``)."""
        if self.backend != "station":
            return None
        return "station:" + Path(self.station or "mzi-large").stem

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["output"] = str(self.output)
        d["path"] = None if self.path is None else str(self.path)
        return d


def load_study(path: str | Path, output: str | Path | None = None) -> Study:
    """Read a study file (YAML; docs/sweeps.md). Unknown keys, grid axes and settings are a
    :class:`~hilt.errors.ConfigError` naming what is allowed, raised before anything runs."""
    import yaml

    from .demo import DemoConfig

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such study file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a study is a mapping (name, grid, fixed, ...)")
    known = {"name", "output", "grid", "fixed", "backend", "station", "executor", "workers",
             "recipe"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; a study has {sorted(known)}")
    if raw.get("recipe") is not None:
        return _load_recipe_study(path, raw, output)
    fields = {f.name for f in dataclasses.fields(DemoConfig)}
    grid = dict(raw.get("grid") or {})
    for k, v in grid.items():
        if k not in AXES and k not in fields:
            raise ConfigError(f"{path}: grid axis {k!r} is neither one of {list(AXES)} nor a "
                              f"benchmark setting ({', '.join(sorted(fields))})")
        if not isinstance(v, list) or not v:
            raise ConfigError(f"{path}: grid axis {k!r} needs a non-empty list of values")
    grid.setdefault("errors", ["dat-0.06"])
    grid.setdefault("method", ["deployed", "pat", "dat"])
    grid.setdefault("seed", [0])
    grid.setdefault("chip", [1])
    for m in grid["method"]:
        if m not in METHODS:
            raise ConfigError(f"{path}: method {m!r}: expected one of {', '.join(METHODS)}")
    from hilt.sims.physics import error_levels

    for e in grid["errors"]:
        try:
            error_levels(e)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    fixed = dict(raw.get("fixed") or {})
    bad = sorted(set(fixed) - fields)
    if bad:
        raise ConfigError(f"{path}: fixed settings {bad} are not benchmark settings "
                          f"({', '.join(sorted(fields))})")
    clash = sorted(set(fixed) & set(grid))
    if clash:
        raise ConfigError(f"{path}: {clash} both fixed and swept")
    backend = str(raw.get("backend", "local"))
    if backend not in ("local", "station"):
        raise ConfigError(f"{path}: backend {backend!r}: expected local or station")
    name, out, executor, workers = _where_and_how(path, raw, output)
    return Study(name, out, grid, fixed, backend, raw.get("station"), executor, workers, path)


def _where_and_how(path: Path, raw: dict[str, Any], output: str | Path | None
                   ) -> tuple[str, Path, str, int | None]:
    """A study file's name, output folder, executor and workers, checked."""
    executor = str(raw.get("executor", "ray"))
    if executor not in EXECUTORS:
        raise ConfigError(f"{path}: executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    name = str(raw.get("name") or path.stem)
    out = Path(output) if output is not None else Path(raw.get("output") or Path("studies") / name)
    if not out.is_absolute() and output is None and raw.get("output"):
        out = path.parent / out  # a relative output in the file is relative to the file
    workers = raw.get("workers")
    return name, out, executor, None if workers is None else int(workers)


def _load_recipe_study(path: Path, raw: dict[str, Any], output: str | Path | None) -> Study:
    """A study over a recipe's ``trial``: any grid keys the recipe takes (it checks them)."""
    from .recipes import recipe_module

    recipe = str(raw["recipe"])
    mod = recipe_module(recipe)  # ConfigError naming the known recipes
    if not callable(getattr(mod, "trial", None)):
        raise ConfigError(f"{path}: recipe {recipe!r} has no trial() to sweep")
    grid = dict(raw.get("grid") or {})
    if not grid:
        raise ConfigError(f"{path}: a recipe study needs a grid (e.g. errors: [none, severe])")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ConfigError(f"{path}: grid axis {k!r} needs a non-empty list of values")
    fixed = dict(raw.get("fixed") or {})
    clash = sorted(set(fixed) & set(grid))
    if clash:
        raise ConfigError(f"{path}: {clash} both fixed and swept")
    if str(raw.get("backend", "local")) != "local":
        raise ConfigError(f"{path}: a recipe study runs on the recipe's simulated bench "
                          "(backend local)")
    name, out, executor, workers = _where_and_how(path, raw, output)
    return Study(name, out, grid, fixed, "local", None, executor, workers, path, recipe)


# -- trials ---------------------------------------------------------------------------------


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", str(value))


def trial_name(params: Mapping[str, Any]) -> str:
    """A file-safe name from a trial's parameters: ``stage__key=value__...`` in a fixed order."""
    parts = [str(params["stage"])]
    for k in sorted(params):
        if k != "stage":
            parts.append(f"{k}={_slug(params[k])}")
    name = "__".join(parts)
    if len(name) > 180:  # long grids: keep it readable and unique
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = name[:160] + "__" + digest
    return name


def _product(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    combos: list[dict[str, Any]] = [{}]
    for k, values in grid.items():
        combos = [{**c, k: v} for c in combos for v in values]
    return combos


def insilico_trials(study: Study) -> list[dict[str, Any]]:
    """The stage-1 trials: one per combination of the swept in-silico settings."""
    axes = {k: v for k, v in study.grid.items() if k in INSILICO_FIELDS}
    return [{"stage": "insilico", **c} for c in _product(axes)]


def finetune_trials(study: Study) -> list[dict[str, Any]]:
    """The stage-2 trials: every combination of the grid."""
    return [{"stage": "finetune", **c} for c in _product(study.grid)]


def recipe_trials(study: Study) -> list[dict[str, Any]]:
    """A recipe study's trials: every combination of the grid, one stage."""
    return [{"stage": "recipe", **c} for c in _product(study.grid)]


def _stages(study: Study) -> list[tuple[str, list[dict[str, Any]]]]:
    if study.recipe is not None:
        return [("recipe", recipe_trials(study))]
    return [("insilico", insilico_trials(study)), ("finetune", finetune_trials(study))]


def _final_trials(study: Study) -> list[dict[str, Any]]:
    """The trials whose results the tables gather."""
    return recipe_trials(study) if study.recipe is not None else finetune_trials(study)


def _config(study: Study, params: Mapping[str, Any]) -> Any:
    from .demo import DemoConfig

    values = {**study.fixed, **{k: v for k, v in params.items()
                                if k not in ("stage", "errors", "method", "chip")}}
    values["local"] = study.backend == "local"
    if study.station is not None:
        values["station"] = study.station
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return DemoConfig(**values)


def _insilico_key(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"stage": "insilico", **{k: v for k, v in params.items() if k in INSILICO_FIELDS}}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)  # a result file is whole or absent: a killed trial leaves none


def run_trial(params: Mapping[str, Any], study: Mapping[str, Any]) -> dict[str, Any]:
    """Run one trial (what every executor's workers call) and write its result file.

    ``params``: the trial's parameters (``stage`` and grid values); ``study``:
    :meth:`Study.to_dict`. Returns the result record."""
    import torch

    from .core import TrainSettings, encode, evaluate_physical, make_model
    from .data import load_digits
    from .demo import chip, run_method
    from .insilico import train_insilico

    st = Study(**{**study, "output": Path(study["output"]),
                  "path": None if study.get("path") is None else Path(study["path"])})
    torch.set_num_threads(1)  # small tensors, shared cores (docs/adr/0006-training-loops.md)
    name = trial_name(params)
    if st.recipe is not None:
        return _run_recipe_trial(st, params, name)
    runs, trials = st.output / "runs", st.output / "trials"
    runs.mkdir(parents=True, exist_ok=True)
    trials.mkdir(parents=True, exist_ok=True)
    run_path = runs / f"{name}.h5"
    run_path.unlink(missing_ok=True)  # a cut-off attempt's file: this attempt starts over
    cfg = _config(st, params)
    t0 = time.perf_counter()
    from hilt.sims.physics import MZINetwork

    data = load_digits(cfg.seed).subset(cfg.n_train, cfg.n_test)
    net = MZINetwork.build(cfg.n_ports, cfg.n_meshes, seed=cfg.seed)
    record: dict[str, Any] = {"trial": name, **{k: v for k, v in params.items()}}
    if params["stage"] == "insilico":
        s = TrainSettings(epochs=cfg.insilico_epochs, lr=cfg.insilico_lr,
                          lr_decay=cfg.insilico_lr_decay, batch_size=cfg.batch_size,
                          seed=cfg.seed, input_power=cfg.power, head=cfg.head)
        r = train_insilico(net.twin(), data, s, run_path=str(run_path))
        torch.save(r.model_state, trials / f"{name}.pt")
        record.update(twin_accuracy=r.twin_accuracy, seconds=round(time.perf_counter() - t0, 2),
                      run_file=str(run_path), state=str(trials / f"{name}.pt"))
        _write_json(trials / f"{name}.json", record)
        return record
    source = trial_name(_insilico_key(params))
    state_file = trials / f"{source}.pt"
    if not state_file.exists():
        raise ConfigError(f"trial {name}: the in-silico model {state_file} is missing "
                          "(stage insilico did not finish)")
    init = torch.load(state_file, weights_only=True)
    model = make_model(net.twin(), data.n_classes, head_name=cfg.head)
    model.load_state_dict(init)
    _, _, x_te, y_te = encode(data, cfg.n_ports, cfg.power)
    method = params["method"]
    preset = "none" if method == "error_free" else params["errors"]
    with chip(cfg, net, preset, params["chip"]) as (fresh, info):
        deployed = evaluate_physical(fresh(), model, x_te, y_te)
        if method in ("deployed", "error_free"):
            accuracy, twin_accuracy, queries, rp = deployed, float("nan"), 0, None
        else:
            r = run_method(method, fresh(), net, data, cfg, init, str(run_path))
            accuracy, twin_accuracy, queries, rp = (r.accuracy, r.twin_accuracy,
                                                    r.physical_queries, r.run_path)
    record.update(accuracy=accuracy, deployed=deployed, twin_accuracy=twin_accuracy,
                  physical_queries=queries, seconds=round(time.perf_counter() - t0, 2),
                  run_file=rp, backend=info.get("backend"), head=cfg.head)
    _write_json(trials / f"{name}.json", record)
    return record


def _run_recipe_trial(st: Study, params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One grid point of a recipe study: the recipe's ``trial`` in ``OUTPUT/runs/NAME/``."""
    import shutil

    from .recipes import recipe_module

    mod = recipe_module(str(st.recipe))
    trials = st.output / "trials"
    trials.mkdir(parents=True, exist_ok=True)
    folder = st.output / "runs" / name
    shutil.rmtree(folder, ignore_errors=True)  # a cut-off attempt's files: start over
    folder.mkdir(parents=True)
    values = {**st.fixed, **{k: v for k, v in params.items() if k != "stage"}}
    t0 = time.perf_counter()
    result = mod.trial(values, folder)
    record: dict[str, Any] = {"trial": name, **params, **result, "recipe": st.recipe,
                              "metric": getattr(mod, "SWEEP_METRIC", None),
                              "by": [k for k in st.grid if k != "seed"]}
    record.setdefault("seconds", round(time.perf_counter() - t0, 2))
    _write_json(trials / f"{name}.json", record)
    return record


def finished(study: Study, params: Mapping[str, Any]) -> bool:
    return (study.output / "trials" / f"{trial_name(params)}.json").exists()


# -- executors ------------------------------------------------------------------------------


def _ray_trainable(config: dict[str, Any]) -> dict[str, Any]:
    """Ray Tune's function trainable: one trial; its last result is the record."""
    rec = run_trial(config["trial"], config["study"])
    return {k: v for k, v in rec.items() if isinstance(v, (int, float, str)) or v is None}


def run_ray(study: Study, pending: list[dict[str, Any]], stage: str, workers: int | None,
            address: str | None) -> list[str]:
    """Run ``pending`` trials with Ray Tune; the names of the trials that failed."""
    import ray
    from ray import tune

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = workers or os.cpu_count() or 1
            if study.station_resource:  # this machine has the bench
                kwargs["resources"] = {study.station_resource: 1}
        ray.init(**kwargs)
    resources: dict[str, float] = {"cpu": 1}
    if study.station_resource:
        resources[study.station_resource] = 1
    trainable = tune.with_resources(_ray_trainable, resources)
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(pending), "study": study.to_dict()},
        tune_config=tune.TuneConfig(max_concurrent_trials=workers or 0),
        run_config=tune.RunConfig(storage_path=str((study.output / "ray").resolve()),
                                  name=f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}", verbose=0),
    )
    grid = tuner.fit()
    failed = []
    for res in grid:
        if res.error is not None:
            params = (res.config or {}).get("trial", {})
            failed.append(trial_name(params) if params else str(res.error))
            log.error("trial %s failed: %s", failed[-1], res.error)
    return failed


def run_local(study: Study, pending: list[dict[str, Any]], workers: int | None,
              progress: Callable[[str], None] | None = None) -> list[str]:
    """Run ``pending`` trials on a process pool on this machine; the names that failed."""
    import concurrent.futures as cf
    import multiprocessing as mp

    failed = []
    n = max(1, workers or 1)
    with cf.ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_trial, p, study.to_dict()): trial_name(p) for p in pending}
        for fut in cf.as_completed(futures):
            name = futures[fut]
            try:
                fut.result()
                if progress is not None:
                    progress(name)
            except Exception as exc:  # one failed trial does not stop the others
                failed.append(name)
                log.error("trial %s failed: %s", name, exc)
    return failed


def _check_same_settings(study: Study) -> None:
    """Trial names come from the grid values only: results in ``output`` made with other fixed
    settings (or another backend or station) would pass for this study's. Refused; a grid that
    grows (another seed, chip, method) is fine."""
    previous = study.output / "study.json"
    if not previous.exists():
        return
    old = json.loads(previous.read_text())
    new = study.to_dict()
    changed = [k for k in ("fixed", "backend", "station", "recipe") if old.get(k) != new.get(k)]
    if changed:
        raise ConfigError(f"{study.output} holds results of a study with other {', '.join(changed)} "
                          f"({', '.join(f'{k}: {old.get(k)!r}' for k in changed)}); give this one "
                          "another output folder")


@dataclass
class SweepReport:
    ran: int
    skipped: int
    failed: list[str]
    pending: int  # left for the next run (``limit``)
    seconds: float
    results: Path | None


def run_study(study: Study, *, executor: str | None = None, workers: int | None = None,
              address: str | None = None, limit: int | None = None,
              progress: Callable[[str], None] | None = None) -> SweepReport:
    """Run the study's trials that have no result yet, stage by stage, then gather the results.

    ``limit``: run at most that many trials in this call (the rest on the next); ``executor``
    and ``workers`` override the study file's."""
    executor = executor or study.executor
    if executor not in EXECUTORS:
        raise ConfigError(f"executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    workers = workers or study.workers
    t0 = time.perf_counter()
    study.output.mkdir(parents=True, exist_ok=True)
    _check_same_settings(study)
    (study.output / "study.json").write_text(json.dumps(study.to_dict(), indent=1))
    ran = skipped = left = 0
    failed: list[str] = []
    budget = math.inf if limit is None else int(limit)
    for stage, trials in _stages(study):
        pending = [p for p in trials if not finished(study, p)]
        skipped += len(trials) - len(pending)
        if stage == "finetune" and not all(finished(study, p) for p in insilico_trials(study)):
            left += len(pending)  # they need every in-silico model: the next run
            break
        take = pending[:int(min(budget, len(pending)))]
        left += len(pending) - len(take)
        if take:
            log.info("%s: %d trials to run (%d finished before)", stage, len(take),
                     len(trials) - len(pending))
            if executor == "ray":
                failed += run_ray(study, take, stage, workers, address)
            else:
                failed += run_local(study, take, workers, progress)
            ran += len(take)
            budget -= len(take)
    if executor == "ray":
        import ray

        if ray.is_initialized() and address is None:
            ray.shutdown()
    last = "recipe" if study.recipe is not None else "finetune"
    results = gather(study) if any((study.output / "trials").glob(f"{last}__*.json")) else None
    return SweepReport(ran - len(failed), skipped, failed, left,
                       round(time.perf_counter() - t0, 1), results)


# -- results --------------------------------------------------------------------------------


def records(study: Study) -> list[dict[str, Any]]:
    out = []
    for p in _final_trials(study):
        f = study.output / "trials" / f"{trial_name(p)}.json"
        if f.exists():
            out.append(json.loads(f.read_text()))
    return out


def summarize(records: Iterable[Mapping[str, Any]], by: tuple[str, ...] = ("errors", "method")
              ) -> list[dict[str, Any]]:
    """Mean, sample standard deviation, 95 % confidence interval of the mean (Student t) and
    count of ``accuracy`` per group, groups in the order first met. A recipe study's records
    name their own metric and grouping (``metric``, ``by``): its rows also carry ``metric``."""
    from scipy import stats

    records = list(records)
    value, recipe = "accuracy", None
    if records and records[0].get("recipe") is not None:
        recipe = records[0]
        value = str(recipe.get("metric") or "accuracy")
        by = tuple(recipe.get("by") or ())
    groups: dict[tuple, list[float]] = {}
    for r in records:
        groups.setdefault(tuple(_hashable(r[k]) for k in by), []).append(float(r[value]))
    rows = []
    for key, acc in groups.items():
        n = len(acc)
        mean = sum(acc) / n
        std = math.sqrt(sum((a - mean) ** 2 for a in acc) / (n - 1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else float("nan")
        rows.append({**dict(zip(by, key, strict=True)), "mean": mean, "std": std,
                     "ci95": half, "n": n, "min": min(acc), "max": max(acc),
                     **({"metric": value} if recipe is not None else {})})
    return rows


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def gather(study: Study) -> Path:
    """Write results.csv (+ .parquet), summary.csv and accuracy.png under the study's output;
    returns the folder."""
    import pandas as pd

    rows = records(study)
    table = pd.DataFrame(rows)
    out = study.output
    table.to_csv(out / "results.csv", index=False)
    try:
        table.to_parquet(out / "results.parquet", index=False)
    except ImportError:  # pyarrow is optional (it comes with the sweep extra)
        log.info("no pyarrow: results.csv only")
    summary = pd.DataFrame(summarize(rows))
    summary.to_csv(out / "summary.csv", index=False)
    if study.recipe is not None:
        return out  # the recipe's own figures are per trial; the table says the rest
    plot_summary(summary, out / "accuracy.png",
                 title=f"{study.name}: test accuracy, mean +- std over seeds and chips")
    return out


def plot_summary(summary: Any, path: Path, title: str = "") -> None:
    """Accuracy (%) per error setting (x, in study order) and method (one line each), error
    bars one standard deviation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = list(dict.fromkeys(summary["errors"]))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(settings), 4.2))
    methods = list(dict.fromkeys(summary["method"]))
    for i, m in enumerate(methods):
        rows = summary[summary["method"] == m].set_index("errors").reindex(settings)
        offset = (i - (len(methods) - 1) / 2) * 0.06  # keep error bars apart
        ax.errorbar([x + offset for x in range(len(settings))], 100 * rows["mean"],
                    yerr=100 * rows["std"].fillna(0.0), marker="o", capsize=3, label=m)
    ax.set_xticks(range(len(settings)), settings)
    ax.set_xlabel("error setting")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_summary(rows: Iterable[Mapping[str, Any]]) -> str:
    """The summary as a table: method rows, error-setting columns, ``mean +- std (n)`` in %
    (a recipe study's: one line per grid point, its metric's ``mean +- std (n)``)."""
    rows = list(rows)
    if rows and "metric" in rows[0]:
        skip = {"mean", "std", "ci95", "n", "min", "max", "metric"}
        lines = [f"{rows[0]['metric']}: mean +- std (n) per grid point"]
        for r in rows:
            std = 0.0 if math.isnan(r["std"]) else r["std"]
            point = ", ".join(f"{k}={v}" for k, v in r.items() if k not in skip)
            lines.append(f"  {point}: {r['mean']:.3f} +- {std:.3f} ({r['n']})")
        return "\n".join(lines)
    settings = list(dict.fromkeys(r["errors"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {(r["method"], r["errors"]): r for r in rows}
    head = f"{'method':<14}" + "".join(f"{s:>22}" for s in settings)
    lines = [head, "-" * len(head)]
    for m in methods:
        cells = []
        for s in settings:
            r = cell.get((m, s))
            if r is None:
                cells.append(f"{'':>22}")
            else:
                std = 0.0 if math.isnan(r["std"]) else r["std"]
                cells.append(f"{100 * r['mean']:>11.1f} +- {100 * std:4.1f} ({r['n']})")
        lines.append(f"{m:<14}" + "".join(cells))
    return "\n".join(lines)
