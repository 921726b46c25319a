"""In-situ training on the simulated SLM bench: accuracy and physical queries per method, per error
setting, and what a physical query costs against a twin query.

For each world error preset (``--errors``, default ``mild severe``) the bundled ``slm-optics``
station is started with that preset, calibrated (``slm_lut``, ``slm_geometry``), and a one-layer
phase classifier of sklearn's 8x8 digits (:mod:`hilt.loops.slm_bench`) is trained:

* ``insilico``: on the calibrated twin only, then deployed on the bench (``deployed``);
* ``pat``: physics-aware fine-tuning from the in-silico model, every batch shown on the bench;
* ``dat``: dual adaptive training from the in-silico model (an error-prediction network on the
  layer fitted to the measured readings).

``--layers 2`` trains a two-layer network on the folded bench (``examples/stations/slm-optics-folded.yaml``: region 1 of
the panel, a mirror 5 mm of path, region 2, the lens; hidden misregistration and fold-length
errors): the LUT and the beam's waist are calibrated first on the same panel unfolded (the
``slm-optics`` station with the same seed and preset holds the same hidden panel response and
beam), as a lab measures them before the fold mirror goes in; then ``slm_geometry`` through the
fold, and the twin of both layers.

Every physical query is one SLM frame and one camera frame through the real drivers and
simulators. Printed: a Markdown table (test accuracy on the bench, training queries), the time
per physical query on the bench's clock (SLM settle + exposure + readout) and in wall time, and
the twin's time per sample. ``--json`` writes everything.

    .venv/bin/python bench/slm_training_bench.py --json bench/slm_training.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from hilt import stations
from hilt.config import parse_station
from hilt.loops.core import TrainSettings, encode
from hilt.loops.data import load_digits
from hilt.loops.slm_bench import (
    SlmDATSettings,
    setup_bench,
    train_slm_dat,
    train_slm_insilico,
    train_slm_pat,
)
from hilt.station import Station

#: The folded (two-layer) bench's example station.
FOLDED = Path(__file__).resolve().parents[1] / "examples" / "stations" / "slm-optics-folded.yaml"


def station_config(errors: str, seed: int | None, name: str = "slm-optics") -> dict[str, Any]:
    config = yaml.safe_load(stations.find(name).read_text())
    config["world"]["errors"] = errors
    if seed is not None:
        config["world"]["seed"] = seed
    return config


def station_with(errors: str, seed: int | None, name: str = "slm-optics", lut_file: str | None = None) -> Station:
    config = station_config(errors, seed, name)
    if lut_file is not None:
        config["instruments"]["slm"]["calibration"] = lut_file
    return Station(parse_station(yaml.safe_dump(config), f"{Path(name).stem}-{errors}.yaml"))


def unfolded_calibrations(errors: str, args: argparse.Namespace, runs: Path) -> tuple[str | None, float]:
    """The panel's LUT (with ``--lut measure``) and the beam's waist measured on the unfolded
    bench (same seed: the same panel response and beam), as a lab measures them before the fold
    mirror goes in."""
    from hilt.loops.calibration import load_slm_geometry, run_calibration

    lut_file = None
    with station_with(errors, args.world_seed) as st:
        st["laser"].output.set(True)
        if args.lut == "measure":
            result = run_calibration(st, "slm_lut", out_dir=runs / errors, step=8)
            if not result.ok:
                raise SystemExit(f"slm_lut on the unfolded bench did not complete: {result.error or result.status}")
            lut_file = str(result.calibration_file)
            st["laser"].output.set(True)
        geo = run_calibration(st, "slm_geometry", out_dir=runs / errors)
        if not geo.ok:
            raise SystemExit(f"slm_geometry on the unfolded bench did not complete: {geo.error or geo.status}")
    return lut_file, float(load_slm_geometry(geo.calibration_file).beam_waist_px)


def twin_seconds_per_sample(twin: torch.nn.Module, x: torch.Tensor, repeats: int = 20) -> float:
    with torch.no_grad():
        twin(x)
        t0 = time.perf_counter()
        for _ in range(repeats):
            twin(x)
    return (time.perf_counter() - t0) / (repeats * len(x))


def dat_options(args: argparse.Namespace) -> dict[str, Any]:
    """The error-prediction network's settings from the command line (order -1: per-pixel maps)."""
    def order(v: int) -> int | None:
        return None if v < 0 else v

    return {"phase_order": order(args.phase_order), "amp_order": order(args.amp_order),
            "predictor_lr": args.predictor_lr, "warmup_batches": args.warmup_batches, "kernel": args.kernel}


def one_setting(errors: str, args: argparse.Namespace, runs: Path) -> dict[str, Any]:
    data = load_digits(args.seed).subset(args.n_train, args.n_test)
    base = dict(batch_size=args.batch_size, seed=args.seed, eval_every_epoch=False)
    out: dict[str, Any] = {"errors": errors, "methods": {}}
    t0 = time.perf_counter()
    if args.layers == 2:
        name = str(FOLDED)
        fold = station_config(errors, args.world_seed, name)["world"]["systems"]["bench"]["fold"]
        lut_file, waist = unfolded_calibrations(errors, args, runs)
        bench = {"layers": 2, "fold_distance_m": float(fold["distance_m"]), "lut": "measure" if lut_file else "nominal",
                 "beam_waist_px": waist}
    else:
        name, lut_file, bench = "slm-optics", None, {"lut": args.lut}
    with station_with(errors, args.world_seed, name, lut_file) as st:
        setup = setup_bench(st, runs_dir=runs / errors, **bench)
        out["calibration_s"] = time.perf_counter() - t0
        out["calibrations"] = setup.calibrations
        proc, twin = setup.processor, setup.twin
        ins = train_slm_insilico(twin, data, TrainSettings(epochs=args.insilico_epochs, lr=args.lr, **base),
                                 processor=proc, run_path=str(runs / errors / "insilico.h5"))
        out["methods"]["insilico (twin)"] = {"accuracy": ins.twin_accuracy, "physical_queries": 0}
        out["methods"]["deployed"] = {"accuracy": ins.accuracy, "physical_queries": 0}
        init = ins.model_state
        ft = dict(epochs=args.finetune_epochs, lr=args.finetune_lr, **base)
        for method in args.methods:
            q0 = proc.queries.samples
            t1 = time.perf_counter()
            if method == "pat":
                r = train_slm_pat(proc, twin, data, TrainSettings(**ft), init_state=init,
                                  run_path=str(runs / errors / "pat.h5"))
            else:
                r = train_slm_dat(proc, twin, data, SlmDATSettings(**ft, **dat_options(args)), init_state=init,
                                  run_path=str(runs / errors / "dat.h5"))
            out["methods"][method] = {"accuracy": r.accuracy, "twin_accuracy": r.twin_accuracy,
                                      "physical_queries": r.physical_queries,
                                      "frames_with_evaluation": proc.queries.samples - q0,
                                      "seconds": time.perf_counter() - t1, "run_file": r.run_path}
        out["per_frame"] = proc.timing.per_frame()
        out["retakes"] = proc.timing.retakes
        x = encode(data, twin.layout.n_features, 1.0)[2][:args.batch_size]
        out["twin_s_per_sample"] = twin_seconds_per_sample(twin, x)
        out["physical_frames"] = proc.queries.samples
    return out


def table(results: list[dict[str, Any]]) -> str:
    names: list[str] = []
    for r in results:
        names += [m for m in r["methods"] if m not in names]
    head = "| method | " + " | ".join(f"{r['errors']}: accuracy % (training queries)" for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]
    for m in names:
        cells = []
        for r in results:
            v = r["methods"].get(m)
            cells.append("" if v is None else f"{100 * v['accuracy']:.1f} ({v['physical_queries']})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| per physical query | " + " | ".join(r["errors"] for r in results) + " |")
    lines.append("|---|" + "---|" * len(results))
    for key, label in (("settle_s", "SLM settle (bench clock)"), ("exposure_s", "exposure (bench clock)"),
                       ("bench_s", "frame to frame (bench clock)"), ("wall_s", "wall time")):
        lines.append(f"| {label} | " + " | ".join(f"{1e3 * r['per_frame'][key]:.1f} ms" for r in results) + " |")
    lines.append("| twin, per sample (wall, batch of 32) | "
                 + " | ".join(f"{1e3 * r['twin_s_per_sample']:.2f} ms" for r in results) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errors", nargs="+", default=["mild", "severe"])
    ap.add_argument("--layers", type=int, default=1, choices=[1, 2], help="2: the folded two-layer bench")
    ap.add_argument("--methods", nargs="+", default=["pat", "dat"], choices=["pat", "dat"])
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--insilico-epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--finetune-epochs", type=int, default=2)
    ap.add_argument("--finetune-lr", type=float, default=0.05)
    ap.add_argument("--phase-order", type=int, default=4, help="DAT: phase correction's polynomial order (-1: a map)")
    ap.add_argument("--amp-order", type=int, default=2, help="DAT: amplitude correction's order (-1: a map)")
    ap.add_argument("--predictor-lr", type=float, default=0.03)
    ap.add_argument("--kernel", type=int, default=3, help="DAT: the correction's kernel (odd; a misregistration of k px needs > 2k)")
    ap.add_argument("--warmup-batches", type=int, default=8)
    ap.add_argument("--lut", default="measure", choices=["measure", "nominal"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world-seed", type=int, default=None, help="(default: the station file's)")
    ap.add_argument("--runs-dir", default="runs/slm-training-bench")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    runs = Path(args.runs_dir)
    t0 = time.perf_counter()
    results = [one_setting(e, args, runs) for e in args.errors]
    text = table(results)
    print(text)
    print(f"\n{sum(r['physical_frames'] for r in results)} physical frames in {time.perf_counter() - t0:.0f} s wall "
          f"({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads)")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results, "table": text},
                                              indent=1, default=lambda o: float(o) if isinstance(o, np.floating) else str(o)))


if __name__ == "__main__":
    main()
