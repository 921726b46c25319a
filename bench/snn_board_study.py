"""SNN deployment study: a digits ANN converted, deployed on the simulated neuromorphic board
through the hilt_neuromorphic driver (TCP), calibrated layer by layer with the board in the loop
(bias, then bias+weights) and fine-tuned with the board in the forward pass and the
surrogate-gradient twin in the backward pass, for several time-step budgets.

    .venv/bin/python bench/snn_board_study.py [--timesteps 16 32 64] [--threshold-mismatch 0.3]
        [--leak-mismatch 0.1] [--world-seed 1] [--finetune-epochs 3] [--lr 0.002]
        [--batch-size 64] [--optimizer adam|sgd] [--json]

The board is the bundled neuromorphic station's simulator (4096 neurons, 8-bit weights, 16-bit
thresholds) with the given per-neuron mismatch, hidden from the calibration and the fine-tuning,
which only see the board's spikes. Accuracies are on the 450 digits test samples (rate code seed
1); the calibration uses the first 256 training samples, the fine-tuning all 1347 (batches of
``--batch-size``, ``--finetune-epochs`` epochs; 0 leaves it out). Board cost of each method's
training alone (test-set runs not counted): networks loaded, runs, samples.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from typing import Any

import torch

from hilt.drivers.hilt_neuromorphic import HiltNeuromorphicBoard
from hilt.loops.ann2snn import ann_accuracy, calibrate_layerwise, convert, snn_accuracy, train_ann
from hilt.loops.data import load_digits
from hilt.loops.recording import Recorder
from hilt.loops.snn_board import BoardCost, board_accuracy, deploy
from hilt.loops.snn_finetune import FinetuneSettings, FinetuneState, finetune
from hilt.sims.neuromorphic_board import SimNeuromorphicBoard
from hilt.sims.server import serve
from hilt.sims.world import World

#: Methods in table order: (name, calibration before, fine-tuned).
METHODS = (("naive", None, False), ("bias", "bias", False), ("bias+weights", "bias+weights", False),
           ("finetune", None, True), ("bias+finetune", "bias", True),
           ("bias+weights+finetune", "bias+weights", True))


def _minus(a: dict[str, int], b: BoardCost) -> dict[str, int]:
    return {k: v - getattr(b, k) for k, v in a.items()}


def study(timesteps: list[int], threshold_mismatch: float, leak_mismatch: float, world_seed: int,
          seed: int = 0, n_calib: int = 256, steps: int = 30, finetune_epochs: int = 3, lr: float = 0.002,
          batch_size: int = 64, optimizer: str = "adam") -> dict[str, Any]:
    data = load_digits(seed)
    ann = train_ann(data.x_train, data.y_train, seed=seed)
    out: dict[str, Any] = {"ann": ann_accuracy(ann, data.x_test, data.y_test), "rows": [],
                           "threshold_mismatch": threshold_mismatch, "leak_mismatch": leak_mismatch,
                           "world_seed": world_seed, "n_calib": n_calib, "n_test": len(data.y_test),
                           "finetune_epochs": finetune_epochs, "lr": lr, "batch_size": batch_size,
                           "optimizer": optimizer}
    sim = SimNeuromorphicBoard(World(seed=world_seed), errors="none", threshold_mismatch=threshold_mismatch,
                               leak_mismatch=leak_mismatch, max_payload=1 << 22)
    server = serve(sim)
    board = HiltNeuromorphicBoard(server.address, name="board")
    board.connect()
    calib = data.x_train[:n_calib]
    methods = [m for m in METHODS if finetune_epochs or not m[2]]
    try:
        for T in timesteps:
            snn = convert(ann, data.x_train, timesteps=T)
            row: dict[str, Any] = {"T": T, "twin": snn_accuracy(snn, data.x_test, data.y_test), "methods": {}}
            for name, calibration, tuned in methods:
                t0 = time.perf_counter()
                deployed, link = deploy(board, copy.deepcopy(snn))
                if calibration is not None:
                    calibrate_layerwise(ann, deployed, calib, mode=calibration, steps=steps, seed=seed)
                curve: list[float] = []
                if tuned:
                    test_cost = BoardCost()

                    def evaluate(link: Any = link, test_cost: BoardCost = test_cost,
                                 curve: list[float] = curve) -> dict[str, float]:
                        before = link.cost.as_dict()
                        curve.append(board_accuracy(link, data.x_test, data.y_test))
                        for k, v in _minus(link.cost.as_dict(), BoardCost(**before)).items():
                            setattr(test_cost, k, getattr(test_cost, k) + v)
                        return {"test_accuracy": curve[-1]}

                    settings = FinetuneSettings(epochs=finetune_epochs, lr=lr, batch_size=batch_size, seed=seed,
                                                optimizer=optimizer)
                    finetune(link, deployed, data.x_train, data.y_train, settings, Recorder(None),
                             evaluate=evaluate, history=[], state=FinetuneState())
                    cost = _minus(link.cost.as_dict(), test_cost)
                else:
                    cost = link.cost.as_dict()
                acc = curve[-1] if curve else board_accuracy(link, data.x_test, data.y_test)
                row["methods"][name] = {"board": acc, "twin": snn_accuracy(deployed.twin(), data.x_test, data.y_test),
                                        "cost": cost, "curve": curve, "s": round(time.perf_counter() - t0, 1)}
                print(table_row(T, name, row["methods"][name]), file=sys.stderr, flush=True)
            out["rows"].append(row)
    finally:
        board.close()
        server.stop()
    return out


def table_row(T: int, name: str, m: dict[str, Any]) -> str:
    c = m["cost"]
    curve = " / ".join(f"{a:.4f}" for a in m["curve"]) or "-"
    return (f"| {T} | {name} | {m['board']:.4f} | {m['twin']:.4f} | {c['runs']} / {c['loads']} / {c['samples']} | "
            f"{curve} | {m['s']} |")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timesteps", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--threshold-mismatch", type=float, default=0.3)
    ap.add_argument("--leak-mismatch", type=float, default=0.1)
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--finetune-epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = study(a.timesteps, a.threshold_mismatch, a.leak_mismatch, a.world_seed, finetune_epochs=a.finetune_epochs,
                lr=a.lr, batch_size=a.batch_size, optimizer=a.optimizer)
    print(f"ANN accuracy {res['ann']:.4f} (threshold/leak mismatch {a.threshold_mismatch}/{a.leak_mismatch}, "
          f"world seed {a.world_seed}, n_calib {res['n_calib']}, n_test {res['n_test']}, fine-tuning "
          f"{a.finetune_epochs} epochs, {a.optimizer} lr {a.lr}, batch {a.batch_size})")
    print("| T | method | board | twin | board cost: runs / loads / samples | board after each fine-tuning epoch | s |")
    print("|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        print(f"| {r['T']} | twin, no mismatch (converted) | - | {r['twin']:.4f} | - | - | - |")
        for name, m in r["methods"].items():
            print(table_row(r["T"], name, m))
    if a.json:
        print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
