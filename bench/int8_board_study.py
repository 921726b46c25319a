"""Int8 deployment study on the simulated FPGA (issue 15): the digits CNN of hilt.loops.int8_board,
post-training quantised under each scheme a board allows, float / fake-quantised twin / board
accuracy side by side; then quantisation-aware training for the board whose gap the twin does not
predict, with the twin only (insilico) and with the board in the forward pass (insitu).

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
           ib.Scheme(False, False, True), ib.Scheme(False, True, True)]


def ptq(seed: int) -> list[dict[str, Any]]:
    data = load_digits(seed)
    x, _, xt, yt = ib.images(data)
    net = ib.train_float(data, epochs=15, seed=seed)
    rows = []
    for board_name, options in BOARDS.items():
        server = serve(SimFpgaAccelerator(World(seed=seed), **options))
        with HiltAccelerator(server.address) as acc:
            for scheme in SCHEMES:
                grids = ib.calibrate(net, x, scheme)
                try:
                    r = ib.evaluate(net, scheme, grids, ib.BoardForward(acc, scheme), xt, yt)
                except Exception as exc:  # noqa: BLE001 - a scheme the board refuses is a row too
                    rows.append({"seed": seed, "board": board_name, "scheme": scheme.name, "refused": str(exc)})
                    continue
                rows.append({"seed": seed, "board": board_name, "scheme": scheme.name, **r})
        server.stop()
    return rows


def qat(seed: int, runs_dir: str | None) -> list[dict[str, Any]]:
    data = load_digits(seed)
    rows = []
    for loop in ("insilico", "insitu"):
        server = serve(SimFpgaAccelerator(World(seed=seed), **BOARDS["B"]))
        with HiltAccelerator(server.address) as acc:
            t0 = time.perf_counter()
            path = None if runs_dir is None else f"{runs_dir}/int8-{loop}-seed{seed}.h5"
            r = ib.train_int8(acc, data, loop, ib.Int8Settings(epochs=4, lr=2e-4, seed=seed, per_channel=False,
                                                               asymmetric=True, pow2=True), run_path=path)
            rows.append({"seed": seed, "loop": loop, "start": r.extra["start"],
                         "epochs": [{k: h[k] for k in ("float_accuracy", "twin_accuracy", "test_accuracy")}
                                    for h in r.history],
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
    print("| board | scheme | float | twin | board |\n|---|---|---|---|---|")
    for r in out["ptq"]:
        if "refused" in r:
            print(f"| {r['board']} | {r['scheme']} | refused: {r['refused'].split(': ', 1)[-1]} | | |")
        else:
            print(f"| {r['board']} | {r['scheme']} | {100 * r['float_accuracy']:.1f} | "
                  f"{100 * r['twin_accuracy']:.1f} | {100 * r['test_accuracy']:.1f} |")
    for r in out["qat"]:
        print(r["loop"], "start board", f"{100 * r['start']['test_accuracy']:.1f}",
              "epochs (float, twin, board):",
              [tuple(round(100 * e[k], 1) for k in ("float_accuracy", "twin_accuracy", "test_accuracy"))
               for e in r["epochs"]], "queries", r["physical_queries"], f"{r['seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
