"""Physics throughput: diffractive propagation and MZI meshes (run: python bench/physics_bench.py).

Diffraction: a batch of 64 fields of 200x200 through 5 phase layers (THz D2NN geometry,
0.4 THz, 0.4 mm pixels, 3 cm gaps), i.e. 6 propagations and 5 modulations per field, compared
with a bare torch.fft implementation of the same math (same padded grid, same transfer
function) in the same run, and with other open-source simulators if they are installed.
MZI: a 64-mode Clements mesh, batch 256.
"""

from __future__ import annotations

import importlib
import math
import platform
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from hilt.sims.physics import THZ_0P4, MZIMesh, MZINetwork, Propagator


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def bench_diffraction(batch: int = 64, n: int = 200, layers: int = 5) -> dict[str, float]:
    s = THZ_0P4
    stack = s.build(n_layers=layers, kind="phase", shape=(n, n), seed=0)
    g = torch.Generator().manual_seed(1)
    field = torch.polar(torch.ones(batch, n, n), 2 * math.pi * torch.rand(batch, n, n, generator=g))
    h = stack.propagators[0].h
    wy, wx = h.shape
    phases = [m.phase.detach() for m in stack.masks]  # type: ignore[union-attr]

    def bare() -> torch.Tensor:
        # The same math written plainly: zero-pad, fft2, multiply, ifft2, crop, modulate.
        u = field
        for i in range(layers + 1):
            u = torch.fft.ifft2(torch.fft.fft2(u, s=(wy, wx)) * h)[..., :n, :n]
            if i < layers:
                u = u * torch.exp(1j * phases[i])
        return u.abs().square()

    def ours() -> torch.Tensor:
        return stack(field)

    res: dict[str, float] = {"padded": float(wy)}
    with torch.no_grad():
        t_ours, t_bare = timeit(ours), timeit(bare)
        res["ours_fields_s"] = batch / t_ours
        res["bare_fields_s"] = batch / t_bare
        out_a, out_b = ours(), bare()
        res["max_rel_diff"] = float((out_a - out_b).abs().max() / out_b.abs().max())
    # Training step (forward + backward through all layers), fields/s.
    def train_step() -> None:
        stack.zero_grad()
        stack(field[:16]).mean().backward()

    res["train_fields_s"] = 16 / timeit(train_step, repeat=3)
    t0 = time.perf_counter()
    Propagator((n, n), s.pitch, s.wavelength, 0.0301)  # uncached geometry
    res["setup_s"] = time.perf_counter() - t0
    return res


def bench_lightpipes(batch: int = 64, n: int = 200, layers: int = 5) -> float | None:
    try:
        lp = importlib.import_module("LightPipes")
    except Exception:
        return None
    import numpy as np

    s = THZ_0P4
    size = 2 * n * s.pitch  # LightPipes has no separate padding: simulate a 2x window
    rng = np.random.default_rng(0)
    masks = [rng.uniform(0, 2 * math.pi, (2 * n, 2 * n)) for _ in range(layers)]
    reps = 2

    def one() -> None:
        f = lp.Begin(size, s.wavelength, 2 * n)
        for i in range(layers + 1):
            f = lp.Forvard(f, s.spacing)
            if i < layers:
                f = lp.SubPhase(f, masks[i])

    t = timeit(lambda: [one() for _ in range(reps)], repeat=2)
    return reps / t


def bench_mzi(n: int = 64, batch: int = 256) -> dict[str, float]:
    mesh = MZIMesh(n, seed=0)
    x = torch.randn(batch, n, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    res = {}
    with torch.no_grad():
        mesh.transfer_matrix()
        res["cached_matrix_samples_s"] = batch / timeit(lambda: mesh(x), repeat=20)
        mesh.theta.add_(0.0)  # bump the version: rebuild the matrix every batch
        def rebuild() -> torch.Tensor:
            mesh.theta.add_(0.0)
            return mesh(x)
        res["rebuild_matrix_samples_s"] = batch / timeit(rebuild, repeat=10)
        res["columns_samples_s"] = batch / timeit(lambda: mesh(x, method="columns"), repeat=5)

    def grad_step() -> None:
        mesh.zero_grad()
        mesh(x).abs().square().sum().backward()

    res["train_samples_s"] = batch / timeit(grad_step, repeat=5)
    net = MZINetwork.build(n, n_meshes=3, seed=0)
    chip = net.with_errors("dat-0.10", seed=1)
    with torch.no_grad():
        chip(x)
        res["chip_3mesh_samples_s"] = batch / timeit(lambda: chip(x), repeat=10)
    return res


def main() -> None:
    torch.manual_seed(0)
    print(f"# python {sys.version.split()[0]}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU: {cpu_model()}")
    d = bench_diffraction()
    print(f"diffraction 64 x 200x200, 5 layers (padded {int(d['padded'])}^2): "
          f"hilt {d['ours_fields_s']:.1f} fields/s, bare torch.fft {d['bare_fields_s']:.1f} "
          f"fields/s, ratio {d['ours_fields_s'] / d['bare_fields_s']:.2f}x, "
          f"max rel diff {d['max_rel_diff']:.1e}")
    print(f"diffraction training (fwd+bwd) {d['train_fields_s']:.1f} fields/s; "
          f"transfer-function setup for a new geometry {d['setup_s']:.2f} s")
    lp = bench_lightpipes()
    print("LightPipes (Forvard, 2x window, 1 field at a time): "
          + (f"{lp:.2f} fields/s" if lp is not None else "not installed"))
    m = bench_mzi()
    print("MZI N=64 Clements, batch 256: "
          + ", ".join(f"{k} {v:,.0f}" for k, v in m.items()))


if __name__ == "__main__":
    main()
