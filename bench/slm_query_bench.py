"""What one physical query costs on the simulated SLM bench (hilt/stations/slm-optics.yaml).

A physical query is: show a phase pattern on the SLM (SHOW, then STATUS until the panel has
settled) and take one camera frame (FLUSH, TRIGGER, GRAB until ready). On the station's fast
simulated clock the settle and exposure waits are clock jumps, so the wall time is hilt's own
cost plus the simulators' physics; the simulated time is what the same query takes on a bench.

    .venv/bin/python bench/slm_query_bench.py [--queries 40] [--exposure 1e-3]

Prints one table: wall ms per query (median and 90th percentile) for the whole query and for its
two halves, the process CPU ms per query (client and in-process simulators together; less
sensitive than wall time to other jobs on the machine), and the simulated seconds per query.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hilt import stations
from hilt.station import Station


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--exposure", type=float, default=1e-3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with Station.from_yaml(stations.path("slm-optics")) as st:
        slm, cam = st.role("slm"), st.role("camera")
        st.laser.output.set(True)
        cam.exposure.set(args.exposure)
        slm.show_phase(np.zeros(slm.shape))
        cam.snap()  # warm up (the first exposure builds its DFT matrices)
        show_ms, snap_ms, sim_s, cpu_ms = [], [], [], []
        for _ in range(args.queries):
            phase = rng.uniform(0, 2 * np.pi, slm.shape)
            t_sim = st.world.clock.now()
            c0 = time.process_time()
            t0 = time.perf_counter()
            slm.show_phase(phase)
            t1 = time.perf_counter()
            cam.snap()
            t2 = time.perf_counter()
            cpu_ms.append(1e3 * (time.process_time() - c0))
            show_ms.append(1e3 * (t1 - t0))
            snap_ms.append(1e3 * (t2 - t1))
            sim_s.append(st.world.clock.now() - t_sim)
    total = np.add(show_ms, snap_ms)
    print(f"SLM {slm.shape[0]} x {slm.shape[1]}, camera {cam.shape[0]} x {cam.shape[1]}, exposure "
          f"{args.exposure:g} s, {args.queries} queries")
    print("| part | wall median (ms) | wall p90 (ms) |")
    print("|---|---:|---:|")
    for name, values in (("show_phase (SHOW + STATUS)", show_ms), ("snap (FLUSH + TRIGGER + GRAB)", snap_ms),
                         ("physical query", total)):
        print(f"| {name} | {np.median(values):.1f} | {np.percentile(values, 90):.1f} |")
    print(f"process CPU per query: median {np.median(cpu_ms):.1f} ms")
    print(f"simulated time per query: {np.median(sim_s) * 1e3:.2f} ms (settle {slm.settle_s * 1e3:.2f} ms + "
          f"exposure + readout)")


if __name__ == "__main__":
    main()
