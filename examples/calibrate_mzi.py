"""Calibrate the MZI chip of a station from Python: heaters, then thermal crosstalk.

    python examples/calibrate_mzi.py [STATION] [--out runs] [--points 64]

STATION is a station file or a bundled station's name (default ``mzi-lab``, the simulated bench
in ``hilt/stations/mzi-lab.yaml``; ``hilt station list`` shows them all).

Each routine writes a run file (raw sweeps, fits, table) and an .npz that the station file's
``calibration:`` field of the heater driver can point to; the last lines printed show how.
Ctrl-C stops the routine between two readings and leaves the chip safe (heaters ramped to 0 V,
laser off).

The simulated chip has one input fibre, like the bench. With ``--all-inputs`` the example
moves the light to every input in turn (what a fibre switch does on a real bench; on the
simulated station it sets the chip's input in the world), so every internal heater is reached.
"""

from __future__ import annotations

import argparse
import signal
import threading

import numpy as np

from hilt import stations
from hilt.loops.calibration import load_heater_calibration, run_calibration
from hilt.station import Station


def progress(done: int, total: int, message: str) -> None:
    print(f"[{done:3d}/{total}] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("station", nargs="?", default="mzi-lab",
                        help="a station file or a bundled station's name (default: mzi-lab)")
    parser.add_argument("--out", default="runs")
    parser.add_argument("--points", type=int, default=64, help="sweep points per heater")
    parser.add_argument("--all-inputs", action="store_true", help="light every chip input in turn")
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # finish the reading, then stop safely

    with Station.from_yaml(stations.find(args.station)) as station:
        options: dict = {"points": args.points, "abort": stop}
        if args.all_inputs:
            if station.world is None:
                raise SystemExit("--all-inputs needs a simulated station (or write select_input for your switch)")
            chip = next(iter(station.config.world.systems))
            n = int(station.world.system(chip).n)

            def select_input(port: int) -> None:
                station.world.set(f"{chip}.input_amplitudes", np.eye(n)[port])

            options.update(inputs=list(range(n)), select_input=select_input)

        # The crosstalk routine fits the heaters first (in the same run) when no heater
        # calibration is given, then re-reads those sweeps with the crosstalk it measured.
        result = run_calibration(station, "mzi_crosstalk", out_dir=args.out, progress=progress, **options)
        print()
        print(result.summary())
        if not result.ok:
            raise SystemExit(1)

    cal = load_heater_calibration(result.calibration_file)
    fitted = np.nonzero(cal.calibrated)[0]
    print(f"\n{fitted.size} of {cal.n_heaters} heaters fitted; first few:")
    for h in fitted[:5]:
        print(f"  heater {h:2d}: phi0 {cal.phi0[h]:+.4f} rad, alpha {cal.alpha_v2[h]:.5f} rad/V^2, R^2 {cal.r2[h]:.5f}")
    print("\nTo use it, add to the heater driver in the station file:")
    print(f"  calibration: {result.calibration_file}")


if __name__ == "__main__":
    main()
