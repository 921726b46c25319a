"""SNN deployment study: a digits ANN converted, deployed on the simulated neuromorphic board
through the hilt_neuromorphic driver (TCP), and calibrated layer by layer with the board in the
loop (bias, then bias+weights), for several time-step budgets.

    .venv/bin/python bench/snn_board_study.py [--timesteps 16 32 64] [--threshold-mismatch 0.3]
        [--leak-mismatch 0.1] [--world-seed 1] [--json]

The board is the bundled neuromorphic station's simulator (4096 neurons, 8-bit weights, 16-bit
thresholds) with the given per-neuron mismatch, hidden from the calibration, which only sees
the board's spikes. Accuracies are on the 450 digits test samples (rate code seed 1); the
calibration uses the first 256 training samples. Board cost: networks loaded, runs, samples.
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
from hilt.loops.snn_board import board_accuracy, deploy
from hilt.sims.neuromorphic_board import SimNeuromorphicBoard
from hilt.sims.server import serve
from hilt.sims.world import World


def study(timesteps: list[int], threshold_mismatch: float, leak_mismatch: float, world_seed: int,
          seed: int = 0, n_calib: int = 256, steps: int = 30) -> dict[str, Any]:
    data = load_digits(seed)
    ann = train_ann(data.x_train, data.y_train, seed=seed)
    out: dict[str, Any] = {"ann": ann_accuracy(ann, data.x_test, data.y_test), "rows": [],
                           "threshold_mismatch": threshold_mismatch, "leak_mismatch": leak_mismatch,
                           "world_seed": world_seed, "n_calib": n_calib, "n_test": len(data.y_test)}
    sim = SimNeuromorphicBoard(World(seed=world_seed), errors="none", threshold_mismatch=threshold_mismatch,
                               leak_mismatch=leak_mismatch, max_payload=1 << 22)
    server = serve(sim)
    board = HiltNeuromorphicBoard(server.address, name="board")
    board.connect()
    calib = data.x_train[:n_calib]
    try:
        for T in timesteps:
            snn = convert(ann, data.x_train, timesteps=T)
            row: dict[str, Any] = {"T": T, "twin": snn_accuracy(snn, data.x_test, data.y_test)}
            for mode in ("naive", "bias", "bias+weights"):
                t0 = time.perf_counter()
                deployed, link = deploy(board, copy.deepcopy(snn))
                if mode != "naive":
                    calibrate_layerwise(ann, deployed, calib, mode=mode, steps=steps, seed=seed)
                cost = link.cost.as_dict()
                row[mode] = board_accuracy(link, data.x_test, data.y_test)
                row[f"{mode}_cost"] = cost  # the calibration's board queries (not the test run)
                row[f"{mode}_s"] = round(time.perf_counter() - t0, 1)
            out["rows"].append(row)
            print(table_row(row), file=sys.stderr)
    finally:
        board.close()
        server.stop()
    return out


def table_row(r: dict[str, Any]) -> str:
    def cost(c: dict[str, int]) -> str:
        return f"{c['runs']} runs / {c['loads']} loads / {c['samples']} samples"

    return (f"| {r['T']} | {r['twin']:.4f} | {r['naive']:.4f} | {r['bias']:.4f} | {r['bias+weights']:.4f} | "
            f"{cost(r['bias_cost'])} | {cost(r['bias+weights_cost'])} | {r['bias+weights_s']} |")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timesteps", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--threshold-mismatch", type=float, default=0.3)
    ap.add_argument("--leak-mismatch", type=float, default=0.1)
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = study(a.timesteps, a.threshold_mismatch, a.leak_mismatch, a.world_seed)
    print(f"ANN accuracy {res['ann']:.4f} (threshold/leak mismatch {a.threshold_mismatch}/{a.leak_mismatch}, "
          f"world seed {a.world_seed}, n_calib {res['n_calib']}, n_test {res['n_test']})")
    print("| T | twin (no mismatch) | board naive | board +bias | board +bias+weights | bias: board cost | "
          "bias+weights: board cost | bias+weights s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        print(table_row(r))
    if a.json:
        print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
