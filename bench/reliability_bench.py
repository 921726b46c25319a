"""Reliability soak: training runs on a simulated chip while faults are injected at random.

Each run starts a station whose photonic processor is simulated (hilt frame protocol over TCP),
trains a classifier through it (physics-aware in-situ training: every step is a RUN on the
chip) and, from a second thread, injects one fault at a time at seeded random moments: a late
reply, a dropped connection, a garbled or truncated reply, an error reply, or a restart of the
controller on the same port. Afterwards it reads the run file and the simulated chip and counts:

* faults injected, and faults the run file recorded;
* runs that completed (rode out every fault) and runs that ended early (with their reason);
* captured batches lost: batches the loop stepped through minus capture rows in the file;
* exits that left an output on: the chip's light or any heater after the station closed;
* whether the trained parameters equal, bit for bit, those of the same run without faults (the
  chip's errors here are static, with no detector noise, so a fault-free run is reproducible).

    python bench/reliability_bench.py                # 8 runs (about 2 minutes here)
    python bench/reliability_bench.py --runs 20 --json out.json

Prints a table (and JSON) for RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

FAULTS = ("delay", "drop", "garble", "truncate", "error", "restart")

STATION = """
name: soak
simulate: true
world: {{seed: {seed}, errors: dat-0.10}}
instruments:
  chip:
    driver: photonic_processor
    address: tcp://192.0.2.1:7000
    transport: {{timeout: {timeout}, reconnect_attempts: 5, reconnect_backoff: 0.05}}
    sim: {{n: 16, layers: 2}}
"""


class Injector(threading.Thread):
    """One fault at a time, at seeded random moments, until stopped."""

    def __init__(self, station: Any, seed: int, timeout: float, every: tuple[float, float]) -> None:
        super().__init__(daemon=True, name="fault-injector")
        self.station = station
        self.rng = np.random.default_rng(seed)
        self.timeout = timeout
        self.every = every
        self.stop = threading.Event()
        self.injected: dict[str, int] = dict.fromkeys(FAULTS, 0)

    def run(self) -> None:
        from hilt.sims.server import serve

        while not self.stop.wait(self.rng.uniform(*self.every)):
            sim = self.station.simulators["chip"]
            kind = FAULTS[int(self.rng.integers(len(FAULTS)))]
            f = sim.faults
            if kind == "delay":
                f.delay, f.delay_count = 2 * self.timeout, 1
            elif kind == "drop":
                f.drop, f.drop_count = True, 1
            elif kind == "garble":
                f.garble, f.garble_count = True, 1
            elif kind == "truncate":
                f.truncate, f.truncate_count = True, 1
            elif kind == "error":
                f.error, f.error_count = True, 1
            else:
                server = self.station.servers["chip"]
                port = server.port
                server.stop()
                self.station.servers["chip"] = serve(sim, port=port)
            self.injected[kind] += 1


def one_run(seed: int, workdir: Path, timeout: float, every: tuple[float, float] | None,
            epochs: int) -> dict[str, Any]:
    from hilt import Station
    from hilt.loops import train_on_station
    from hilt.runfile import RunReader

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"soak-{seed}.yaml"
    path.write_text(textwrap.dedent(STATION.format(seed=seed, timeout=timeout)))
    run_path = workdir / f"soak-{seed}.h5"
    t0 = time.perf_counter()
    ended, error = "completed", ""
    st = Station.from_yaml(path)
    st.connect()
    sim = st.simulators["chip"]
    injector = Injector(st, seed, timeout, every or (1e9, 1e9))
    if every is not None:
        injector.start()
    result = None
    try:
        result = train_on_station(st, "insitu", epochs=epochs, seed=seed, run_path=run_path,
                         settings={"batch_size": 64, "max_retries": 6, "retry_backoff_s": 0.05,
                                   "eval_every_epoch": False})
    except Exception as exc:  # the run ended early: what the file and the chip say is measured
        ended, error = "ended early", f"{type(exc).__name__}: {exc}"
    finally:
        injector.stop.set()
        if injector.is_alive():
            injector.join()
        sim.faults.clear()
        try:
            st.close()
        except Exception as exc:
            error += f"; close: {exc}"
    recoveries = dict(st.chip.transport.recoveries)
    outputs_on = bool(sim.light_on or any(float(v.max()) > 0 for v in sim.volts))
    if not run_path.exists():
        raise RuntimeError(f"run {seed} wrote no run file: {error}")
    with RunReader(run_path) as run:
        recorded_faults = len(run.faults())
        status = run.status
        steps = len(np.unique(run.scalars()["step"]))  # every step the loop logged
        captured = len(np.unique(run.captures("batches", fields=()).step))  # steps with a capture
    return {"seed": seed, "ended": ended, "status": status, "error": error,
            "injected": sum(injector.injected.values()), "by_kind": injector.injected,
            "recorded_faults": recorded_faults, "link_recoveries": recoveries, "steps": steps, "captured": captured,
            "captures_lost": max(0, steps - captured), "outputs_on_after_exit": outputs_on,
            "seconds": round(time.perf_counter() - t0, 1),
            "model_state": None if result is None else result.model_state}


def _same_state(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    import torch

    if a is None or b is None or a.keys() != b.keys():
        return False
    return all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) for k in a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=0.5, help="the chip link's timeout (s)")
    parser.add_argument("--every", type=float, nargs=2, default=(0.1, 0.6), help="seconds between faults")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.runs):
            clean = one_run(seed, Path(tmp) / "clean", args.timeout, None, args.epochs)
            r = one_run(seed, Path(tmp), args.timeout, tuple(args.every), args.epochs)
            r["same_as_fault_free"] = _same_state(r.pop("model_state"), clean["model_state"])
            rows.append(r)
            print(f"run {seed}: {r['ended']:<11} injected {r['injected']:>3}  loop saw {r['recorded_faults']:>3}  "
                  f"link {r['link_recoveries']}  "
                  f"steps {r['steps']:>4}  captured {r['captured']:>4}  outputs on after exit: "
                  f"{r['outputs_on_after_exit']}  same as fault-free: {r['same_as_fault_free']}  "
                  f"{r['seconds']} s  {r['error'][:100]}", flush=True)
    by_kind = {k: sum(r["by_kind"][k] for r in rows) for k in FAULTS}
    summary = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "runs": len(rows),
        "completed": sum(r["ended"] == "completed" for r in rows),
        "faults_injected": sum(r["injected"] for r in rows),
        "faults_by_kind": by_kind,
        "faults_recorded": sum(r["recorded_faults"] for r in rows),
        "link_resyncs": sum(r["link_recoveries"]["resync"] for r in rows),
        "link_reconnects": sum(r["link_recoveries"]["reconnect"] for r in rows),
        "captures_lost": sum(r["captures_lost"] for r in rows),
        "exits_with_an_output_on": sum(r["outputs_on_after_exit"] for r in rows),
        "bit_identical_to_fault_free": sum(bool(r["same_as_fault_free"]) for r in rows),
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
