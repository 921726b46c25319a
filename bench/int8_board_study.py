"""Int8 deployment study on the simulated FPGA (issue 15): the digits CNN of hilt.loops.int8_board,
post-training quantised under each scheme a board allows, float / fake-quantised twin / board twin
/ board accuracy side by side, with plain grids and with grids fitted to the board's accumulator;
then quantisation-aware training for the board whose gap the fake-quantised twin does not predict
(:data:`QAT_RUNS`: the fake-quant twin with plain grids, the board twin with the accumulator
penalty alone, the board twin with penalty and fitted grids), with the twin only (insilico) and
with the board in the forward pass (insitu).

Every board query goes through the hilt_accelerator driver and the board protocol over TCP to
the simulated FPGA. Two boards:

* ``A``: the bundled station's (half_away rounding, 32-bit accumulator, multiplier and pow2
  requantisers, per-channel parameters);
* ``B``: a cheaper datapath (floor rounding, 16-bit accumulator, pow2 requantisers only,
  per-tensor parameters).

    .venv/bin/python bench/int8_board_study.py [--seeds 0 1] [--json out.json] [--runs-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import torch

from hilt.drivers.hilt_accelerator import HiltAccelerator
from hilt.loops import int8_board as ib
from hilt.loops.data import load_digits
from hilt.sims.fpga_accelerator import SimFpgaAccelerator
from hilt.sims.server import serve
from hilt.sims.world import World

BOARDS: dict[str, dict[str, Any]] = {
    "A": {},
    "B": {"rounding": "floor", "acc_bits": 16, "requant": "pow2", "per_channel": False},
}
SCHEMES = [ib.Scheme(True, False, False), ib.Scheme(False, False, False), ib.Scheme(True, True, False),
           ib.Scheme(True, True, False, True), ib.Scheme(False, False, True), ib.Scheme(False, True, True),
           ib.Scheme(False, True, True, True)]
#: QAT for board B's overflowing case: (name, loop, settings beyond the common ones)
QAT_RUNS = [
    ("fake-quant twin, plain grids", "insilico", {"twin": "fake-quant", "fit_accumulator": False}),
    ("fake-quant twin, plain grids", "insitu", {"twin": "fake-quant", "fit_accumulator": False}),
    ("board twin + penalty 100, plain grids", "insilico", {"fit_accumulator": False, "acc_penalty": 100.0}),
    ("board twin + penalty, fitted grids", "insilico", {}),
    ("board twin + penalty, fitted grids", "insitu", {}),
]


def ptq(seed: int) -> list[dict[str, Any]]:
    data = load_digits(seed)
    x, _, xt, yt = ib.images(data)
    net = ib.train_float(data, epochs=15, seed=seed)
    rows = []
    for board_name, options in BOARDS.items():
        server = serve(SimFpgaAccelerator(World(seed=seed), **options))
        with HiltAccelerator(server.address) as acc:
            limits = acc.limits
            for scheme in SCHEMES:
                why = ib.scheme_problem(scheme, limits)
                if why:  # the loop refuses it before a byte; so does the driver
                    rows.append({"seed": seed, "board": board_name, "scheme": scheme.name, "refused": why})
                    continue
                grids = ib.calibrate(net, x, scheme)
                r = ib.evaluate(net, scheme, grids, ib.BoardForward(acc, scheme), xt, yt)
                fitted = ib.calibrate(net, x, scheme, acc_bits=int(limits["acc_bits"]),
                                      rounding=str(limits["rounding"]))
                f = ib.evaluate(net, scheme, fitted, ib.BoardForward(acc, scheme), xt, yt)
                rows.append({"seed": seed, "board": board_name, "scheme": scheme.name, **r,
                             "fitted_board_accuracy": f["test_accuracy"],
                             "fitted_board_twin_accuracy": f["board_twin_accuracy"], "fitted_grids": fitted})
        server.stop()
    return rows


def qat(seed: int, runs_dir: str | None) -> list[dict[str, Any]]:
    data = load_digits(seed)
    rows = []
    for i, (name, loop, extra) in enumerate(QAT_RUNS):
        server = serve(SimFpgaAccelerator(World(seed=seed), **BOARDS["B"]))
        with HiltAccelerator(server.address) as acc:
            t0 = time.perf_counter()
            path = None if runs_dir is None else f"{runs_dir}/int8-{i}-{loop}-seed{seed}.h5"
            settings = ib.Int8Settings(epochs=4, lr=2e-4, seed=seed, per_channel=False, asymmetric=True, pow2=True,
                                       **extra)
            r = ib.train_int8(acc, data, loop, settings, run_path=path)
            keys = ("float_accuracy", "twin_accuracy", "test_accuracy")
            rows.append({"seed": seed, "name": name, "loop": loop, "start": r.extra["start"],
                         "epochs": [{k: h[k] for k in keys} for h in r.history],
                         "physical_queries": r.physical_queries, "model_loads": r.physical_calls,
                         "seconds": time.perf_counter() - t0, "run_file": r.run_path})
        server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--json", default=None)
    parser.add_argument("--runs-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = {"machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}",
           "torch_threads": 1, "ptq": [], "qat": []}
    for seed in args.seeds:
        out["ptq"] += ptq(seed)
        out["qat"] += qat(seed, args.runs_dir)
    print("| board | scheme | float | fake-quant twin | board twin | board | fitted grids: board |\n"
          "|---|---|---|---|---|---|---|")
    for r in out["ptq"]:
        if "refused" in r:
            print(f"| {r['board']} | {r['scheme']} | refused: {r['refused']} | | | | |")
        else:
            print(f"| {r['board']} | {r['scheme']} | {100 * r['float_accuracy']:.1f} | "
                  f"{100 * r['fake_quant_accuracy']:.1f} | {100 * r['board_twin_accuracy']:.1f} | "
                  f"{100 * r['test_accuracy']:.1f} | {100 * r['fitted_board_accuracy']:.1f} |")
    for r in out["qat"]:
        print(r["seed"], r["name"], r["loop"], "start (twin, board)",
              (round(100 * r["start"]["twin_accuracy"], 1), round(100 * r["start"]["test_accuracy"], 1)),
              "epochs (twin, board):",
              [tuple(round(100 * e[k], 1) for k in ("twin_accuracy", "test_accuracy")) for e in r["epochs"]],
              "queries", r["physical_queries"], f"{r['seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
