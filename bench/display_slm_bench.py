"""What a display SLM frame costs in software: building the frame (grey levels -> RGB32 image on
the caller's thread) and handing it to the Qt window until it has painted and flushed it, for a
1920 x 1152 panel (Meadowlark HDMI size) and a 1920 x 1080 one, on Qt's offscreen platform.

The monitor's refresh (one period, 16.7 ms at 60 Hz) and the liquid crystal's settle time come on
top on a real panel and are not measured here: the driver waits them out by the clock.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/display_slm_bench.py [--frames 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, statistics, sys, time
import numpy as np
from hilt.drivers.display_slm import DisplaySLM
from hilt.drivers.slm_window import grey_to_rgb32
frames = int(sys.argv[1])
with DisplaySLM(screen="SLM") as slm:
    slm.refresh_s = 0.0          # the refresh period is a wait by the clock, not measured here
    rng = np.random.default_rng(0)
    levels = [rng.integers(0, 256, slm.shape, dtype=np.uint8) for _ in range(8)]
    build, show = [], []
    for k in range(frames):
        t0 = time.perf_counter(); grey_to_rgb32(levels[k % 8]); t1 = time.perf_counter()
        slm.show_grey(levels[k % 8]); t2 = time.perf_counter()
        build.append(t1 - t0); show.append(t2 - t1)
print(json.dumps({"shape": list(slm.shape), "build_ms": 1e3 * statistics.median(build),
                  "show_ms": 1e3 * statistics.median(show),
                  "show_p90_ms": 1e3 * sorted(show)[int(0.9 * len(show))]}))
"""


def run(rows: int, cols: int, frames: int) -> dict:
    config = {"screens": [
        {"name": "Main", "x": 0, "y": 0, "width": 1280, "height": 800, "logicalDpi": 96, "logicalBaseDpi": 96,
         "dpr": 1},
        {"name": "SLM", "x": 1280, "y": 0, "width": cols, "height": rows, "logicalDpi": 96, "logicalBaseDpi": 96,
         "dpr": 1}]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
    try:
        env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={f.name}")
        out = subprocess.run([sys.executable, "-c", CHILD, str(frames)], env=env, capture_output=True, text=True,
                             check=True, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        os.unlink(f.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    print("| panel | build RGB32 frame (median) | show_grey: hand-off + paint + flush (median, p90) |")
    print("|---|---|---|")
    for rows, cols in ((1152, 1920), (1080, 1920)):
        r = run(rows, cols, args.frames)
        print(f"| {cols} x {rows} | {r['build_ms']:.1f} ms | {r['show_ms']:.1f} ms, {r['show_p90_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
