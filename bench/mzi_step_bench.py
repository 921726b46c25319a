"""What a training step on an MZI mesh costs, against a dense complex matmul of the same size
(issue 16). Run: ``python bench/mzi_step_bench.py [--n 64] [--batch 1024] [--rounds 7]``.

One thread (``torch.set_num_threads(1)``, as the loops and the demo run). Every case is timed
in the same process and round-robin, so a busy machine slows them alike; each line is the
median over rounds of the median of ``--repeat`` calls (the thread's CPU time, or with
``--wall`` the wall clock), and the ratio is taken per round:

- ``matmul``: ``x @ W`` with x (batch, n) and W (n, n) complex64, W contiguous;
- ``rebuild + apply``: the mesh's transfer matrix built from its phases (no gradient
  recorded, cache invalidated) and applied to x;
- ``cached apply``: the same with the matrix cached (a hardware query, inference);
- ``training step``: forward with the phases recording gradients (``method="matrix"``), loss
  ``sum |y|^2`` (``readout_intensity``, as ``MZINetwork`` detects its output), backward to the
  phases;
- ``training step, columns``: the same through the column-by-column path.
Goals (issue 16): rebuild + apply within 3x of the matmul, a training step within 10x.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch

from hilt.sims.physics import MZIMesh
from hilt.sims.physics.mzi import readout_intensity


def median_call(fn: Callable[[], object], repeat: int, clock: Callable[[], float]) -> float:
    ts = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    return statistics.median(ts)


def cases(n: int, batch: int) -> dict[str, Callable[[], object]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, n, dtype=torch.complex64, generator=g)
    w = torch.randn(n, n, dtype=torch.complex64, generator=g)
    mesh = MZIMesh(n, seed=0)

    def matmul() -> object:
        return x @ w

    def rebuild() -> object:
        with torch.no_grad():
            mesh.theta.add_(0.0)  # bumps the version: the cached matrix is stale
            return mesh(x)

    def cached() -> object:
        with torch.no_grad():
            return mesh(x)

    def step(method: str) -> Callable[[], object]:
        def run() -> object:
            mesh.zero_grad(set_to_none=True)
            loss = readout_intensity(mesh(x, method)).sum()
            loss.backward()
            return loss
        return run

    return {"matmul": matmul, "rebuild + apply": rebuild, "cached apply": cached,
            "training step": step("matrix"), "training step, columns": step("columns")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--wall", action="store_true",
                    help="time with the wall clock instead of the thread's CPU time")
    a = ap.parse_args()
    # The thread's CPU time by default: on a shared machine the wall clock also counts the
    # time other processes hold the core.
    clock = time.perf_counter if a.wall else time.thread_time
    torch.set_num_threads(1)
    fns = cases(a.n, a.batch)
    for fn in fns.values():  # warm-up: allocator, kernels, caches
        fn()
    per_round: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(a.rounds):
        for k, fn in fns.items():
            per_round[k].append(median_call(fn, a.repeat, clock))
    ratios = {k: statistics.median(t / m for t, m in zip(v, per_round["matmul"], strict=True))
              for k, v in per_round.items()}
    print(f"MZI mesh N={a.n} Clements, batch {a.batch}, 1 thread, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}; median of {a.rounds} rounds x "
          f"{a.repeat} calls, {'wall' if a.wall else 'thread CPU'} time")
    print(f"{'case':<26}{'ms':>9}{'x matmul':>10}")
    for k, v in per_round.items():
        print(f"{k:<26}{1e3 * statistics.median(v):>9.3f}{ratios[k]:>10.2f}")


if __name__ == "__main__":
    main()
