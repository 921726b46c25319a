"""What a training-shaped run file costs besides its captures: creating it, logging per-step
scalars, the end-of-epoch summaries, closing it (with names that were not declared, which are
given their own datasets at the close since layout 1.2), and its size.

    .venv/bin/python bench/runfile_scalars_bench.py [--steps 20000] [--epochs 20] [--repeats 5]

Each case is a fresh file in a temporary directory; the median of ``--repeats`` is printed.
Works against older hilt checkouts too (``PYTHONPATH=OLD_CHECKOUT``): without ``log_epoch`` the
summaries are logged as rows of the scalars, as the loops did before layout 1.2.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from hilt.runfile import RunWriter, layout


def one_run(path: Path, steps: int, epochs: int, undeclared: bool) -> dict[str, float]:
    per_epoch = max(1, steps // epochs)
    t0 = time.perf_counter()
    kw = {"scalars": ["loss", "epoch", "physical_queries"]}
    has_epochs = hasattr(RunWriter, "log_epoch")
    if has_epochs:
        kw["epoch_scalars"] = ["loss_mean", "physical_queries", "test_accuracy", "twin_accuracy"]
    else:
        kw["scalars"] += ["test_accuracy", "twin_accuracy"]
    run = RunWriter.create(path, **kw)
    t_create = time.perf_counter() - t0
    t1 = time.perf_counter()
    for step in range(steps):
        extra = {"sim_before": 0.5, "sim_after": 0.6} if undeclared else {}
        run.log_scalars(step, loss=1.0 / (step + 1), epoch=step // per_epoch,
                        physical_queries=step * 64, **extra)
        if step % per_epoch == per_epoch - 1:
            summary = {"physical_queries": step * 64, "test_accuracy": 0.8, "twin_accuracy": 0.85}
            if has_epochs:
                run.log_epoch(step // per_epoch, step, loss_mean=0.1, **summary)
            else:
                run.log_scalars(step, loss=0.1, **summary)
            run.flush()  # the loops flush once an epoch (with the checkpoint)
    t_log = time.perf_counter() - t1
    t2 = time.perf_counter()
    run.close()
    t_close = time.perf_counter() - t2
    return {"create_ms": 1e3 * t_create, "log_us_per_step": 1e6 * t_log / steps,
            "close_ms": 1e3 * t_close, "size_kB": path.stat().st_size / 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    minor = getattr(layout, "LAYOUT_MINOR", 0)
    print(f"layout {layout.LAYOUT_VERSION}.{minor}, {platform.machine()}, "
          f"{platform.python_version()}, {args.steps} steps, {args.epochs} epochs, "
          f"median of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        for undeclared in (False, True):
            rows = [one_run(Path(tmp) / f"r{i}-{undeclared}.h5", args.steps, args.epochs, undeclared)
                    for i in range(args.repeats)]
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            what = "2 undeclared scalars too" if undeclared else "all declared"
            print(f"  {what:<26} create {med['create_ms']:6.1f} ms, log {med['log_us_per_step']:5.1f} "
                  f"us/step, close {med['close_ms']:6.1f} ms, size {med['size_kB']:7.1f} kB")


if __name__ == "__main__":
    main()
