"""How long the desktop app's UI thread stalls while a training streams live plots.

Opens the main window (offscreen unless a display is set) on a simulated station whose chip is a
16-port, 2-layer photonic processor, connects it through the Station dock, starts a training in
the Training tab (PAT, live plots at 30 Hz) and, on the UI thread, runs a 10 ms timer that
records how late each tick fires, first for ``--baseline`` seconds with the station connected and
idle (what the machine's other load costs), then while the training runs. The station's 2 Hz live
readings keep polling as they would. Prints the lateness percentiles of both phases for
BENCHMARKS.md.

    QT_QPA_PLATFORM=offscreen python bench/gui_stall_bench.py            # 20 s of training
    QT_QPA_PLATFORM=offscreen python bench/gui_stall_bench.py --seconds 60

Goal (issue 11): p99 below 50 ms and maximum below 200 ms on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import faulthandler
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
    parser.add_argument("--baseline", type=float, default=10.0,
                        help="seconds measured idle (connected, no training) first")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--dump-stalls", type=Path, metavar="FILE",
                        help="write every thread's stack to FILE whenever the UI thread is 200 ms "
                             "late (faulthandler: a C thread, it needs no GIL), to see what stalls it")
    args = parser.parse_args()

    from PySide6.QtCore import QElapsedTimer, QTimer

    from hilt.gui.app import MainWindow, application, preload, settings_for

    tmp = Path(tempfile.mkdtemp())
    station_file = tmp / "stall-bench.yaml"
    station_file.write_text(textwrap.dedent(STATION))
    app = application()
    preload()  # as hilt gui does
    window = MainWindow(settings_for(str(tmp / "gui.ini")), station=str(station_file))
    window.resize(1400, 900)
    window.show()
    panel = window.tab_widgets["Training"]
    # Two phases, same window, same timer: first idle (connected, live readings polling, no
    # training: what the machine's own load costs the UI thread), then training.
    phases: dict[str, dict[str, list[float]]] = {
        "idle": {"late": [], "when": []}, "training": {"late": [], "when": []}}
    clock = QElapsedTimer()
    state: dict[str, object] = {"last": 0.0, "phase": None, "t0": 0.0}

    dump = open(args.dump_stalls, "w") if args.dump_stalls else None  # noqa: SIM115 - kept open while measuring

    def tick() -> None:
        if dump is not None and state["phase"] == "training":
            faulthandler.dump_traceback_later(0.2, file=dump)  # re-armed each tick: fires on a stall
        now = clock.nsecsElapsed() / 1e6
        phase = state["phase"]
        if phase is not None:
            phases[phase]["late"].append(max(0.0, now - state["last"] - 10.0))
            phases[phase]["when"].append(now)
        state["last"] = now

    def restart_clock(phase: str) -> None:
        clock.start()
        state["last"] = 0.0
        state["phase"] = phase

    def measure_idle(*_: object) -> None:
        window.tabs.setCurrentWidget(panel)
        restart_clock("idle")
        timer.start()
        QTimer.singleShot(int(args.baseline * 1000), start_training)

    def start_training() -> None:
        state["phase"] = None
        panel.epochs_spin.setValue(50)  # longer than the measurement: it is aborted at the end
        panel.batch_spin.setValue(32)
        panel.runs_edit.setText(str(tmp / "runs"))
        panel.start()
        restart_clock("training")
        state["t0"] = time.perf_counter()
        QTimer.singleShot(int(args.seconds * 1000), finish)

    def finish() -> None:
        if dump is not None:
            faulthandler.cancel_dump_traceback_later()
        state["phase"] = None
        state["seconds"] = time.perf_counter() - float(state["t0"])
        timer.stop()
        panel.abort()
        panel.shutdown()
        window.close()

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    window.station_panel.connectEnded.connect(measure_idle)
    QTimer.singleShot(0, window.station_panel.connect_station)
    app.exec()

    def summary(phase: str) -> dict[str, object]:
        late, when = np.asarray(phases[phase]["late"]), phases[phase]["when"]
        if late.size == 0:
            return {"ticks": 0}
        return {
            "ticks": int(late.size),
            "p50_ms": round(float(np.percentile(late, 50)), 2),
            "p99_ms": round(float(np.percentile(late, 99)), 2),
            "max_ms": round(float(late.max()), 2),
            # The five longest stalls: (ms after the phase started, ms late).
            "worst": [(round(when[i]), round(float(late[i]), 1)) for i in np.argsort(late)[-5:][::-1]],
        }

    result = {
        "training_seconds": round(float(state.get("seconds", 0.0)), 1),
        "steps_trained": panel.buffer.version if getattr(panel, "buffer", None) is not None else None,
        "idle": summary("idle"),
        "training": summary("training"),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
