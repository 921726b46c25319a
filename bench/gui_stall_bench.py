"""How long the desktop app's UI thread stalls while a training streams live plots.

Opens the main window (offscreen unless a display is set) on a simulated station whose chip is a
16-port, 2-layer photonic processor, connects it through the Station dock, starts a training in
the Training tab (PAT, live plots at 30 Hz) and, on the UI thread, runs a 10 ms timer that
records how late each tick fires. The station's 2 Hz live readings keep polling as they would.
Prints the lateness percentiles for BENCHMARKS.md.

    QT_QPA_PLATFORM=offscreen python bench/gui_stall_bench.py            # 20 s of training
    QT_QPA_PLATFORM=offscreen python bench/gui_stall_bench.py --seconds 60

Goal (issue 11): p99 below 50 ms and maximum below 200 ms on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

STATION = """
name: stall-bench
simulate: true
world: {seed: 1, errors: dat-0.10}
instruments:
  chip:
    driver: photonic_processor
    address: tcp://192.0.2.1:7000
    sim: {n: 16, layers: 2}
roles: {processor: chip}
"""


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of training measured")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from PySide6.QtCore import QElapsedTimer, QTimer

    from hilt.gui.app import MainWindow, application, settings_for

    tmp = Path(tempfile.mkdtemp())
    station_file = tmp / "stall-bench.yaml"
    station_file.write_text(textwrap.dedent(STATION))
    app = application()
    window = MainWindow(settings_for(str(tmp / "gui.ini")), station=str(station_file))
    window.resize(1400, 900)
    window.show()
    panel = window.tab_widgets["Training"]
    late: list[float] = []
    clock = QElapsedTimer()
    state = {"last": 0.0, "measuring": False, "t0": 0.0}

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if state["measuring"]:
            late.append(max(0.0, now - state["last"] - 10.0))
        state["last"] = now

    def start_training(*_: object) -> None:
        panel.epochs_spin.setValue(50)  # longer than the measurement: it is aborted at the end
        panel.batch_spin.setValue(32)
        panel.runs_edit.setText(str(tmp / "runs"))
        window.tabs.setCurrentWidget(panel)
        panel.start()
        clock.start()
        state["last"] = 0.0
        state["measuring"] = True
        state["t0"] = time.perf_counter()
        timer.start()
        QTimer.singleShot(int(args.seconds * 1000), finish)

    def finish() -> None:
        state["measuring"] = False
        timer.stop()
        panel.abort()
        panel.shutdown()
        window.close()

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    window.station_panel.connectEnded.connect(start_training)
    QTimer.singleShot(0, window.station_panel.connect_station)
    app.exec()

    lateness = np.asarray(late)
    steps = panel.buffer.version if getattr(panel, "buffer", None) is not None else None
    result = {
        "seconds": round(time.perf_counter() - state["t0"], 1),
        "ticks": int(lateness.size),
        "p50_ms": round(float(np.percentile(lateness, 50)), 2),
        "p99_ms": round(float(np.percentile(lateness, 99)), 2),
        "max_ms": round(float(lateness.max()), 2),
        "buffer_version": steps,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
