"""Calibrate the MZI chip of a station from Python: heaters, then thermal crosstalk.

    python examples/calibrate_mzi.py [STATION] [--out runs] [--points 64]

STATION is a station file or a bundled station's name (default ``mzi-lab``, the simulated bench
in ``hilt/stations/mzi-lab.yaml``; ``hilt station list`` shows them all).

Each routine writes a run file (raw sweeps, fits, table) and an .npz that the station file's
``calibration:`` field of the heater driver can point to; the last lines printed show how.
Ctrl-C stops the routine between two readings and leaves the chip safe (heaters ramped to 0 V,
laser off).

Which chip inputs are lit: the routine's default when the station has a fibre switch under the
``input_switch`` role (mzi-lab does: every input in turn, so every heater that intensities reveal
is reached); ``--inputs 0 3`` names them. A bench without a switch lights one input; give the
routine your own ``select_input(port)`` callable to move the light another way.
"""

from __future__ import annotations

import argparse
import signal
import threading

import numpy as np

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
    parser.add_argument("--inputs", type=int, nargs="+", default=None,
                        help="chip inputs to light in turn through the station's input_switch (default: all)")
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # finish the reading, then stop safely

    with Station.from_yaml(args.station) as station:
        options: dict = {"points": args.points, "abort": stop}
        if args.inputs is not None:
            options["inputs"] = args.inputs  # checked (ports, switch outputs) before anything is sent

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
