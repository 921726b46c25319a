"""How close a calibrated chip comes to a programmed unitary, on the simulated mzi-lab bench.

For a Haar-random 8x8 unitary (seed 0) and for the identity, the unitary is programmed with
``hilt.instruments.mesh_programming.program_unitary`` on the bench processor of ``mzi-lab``
(laser, input modulators, 64 mesh heaters, 8-port meter) three times: with the heaters' design
values (P_pi = 25 mW, phi0 = 0), with the heater fit of ``mzi_heaters`` (through the station's
fibre switch and input modulators), and with that fit plus the crosstalk matrix of
``mzi_crosstalk`` (the crosstalk inverse); as the floor, with the simulated chip's own hidden
heater parameters; and, as a diagnostic, with the fit and crosstalk but the chip's true phi
offsets (what the phi offsets' errors cost). Each time the
intensity transfer is measured (light in each input in turn) and
compared with ``|U|^2``: worst and mean absolute error, intensity fidelity.

Usage: ``.venv/bin/python bench/programming_bench.py [--points 64] [--out DIR] [--json FILE]``.
Results and the command are in BENCHMARKS.md ("Programming a calibrated chip").
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from hilt import stations
from hilt.instruments.bench_processor import BenchMeshProcessor
from hilt.instruments.heater_calibration import HeaterCalibration, load_heater_calibration
from hilt.instruments.mesh_programming import program_unitary
from hilt.loops.calibration import run_calibration
from hilt.sims.physics import haar_unitary
from hilt.station import Station


def true_heaters(station: Station) -> HeaterCalibration:
    """The simulated chip's hidden heater parameters (offsets, efficiencies, crosstalk), read from
    the world: what a perfect calibration would give. What is left with them is the floor no
    heater calibration moves: coupler errors, loss spread, the modulators and the detectors."""
    chip = station.world.system("chip")
    e, heater = chip.errors, chip.device.heater
    cal = HeaterCalibration(e.phase_offset.double().numpy(), heater.alpha * e.efficiency.double().numpy(),
                            heater.resistance)
    cal.crosstalk = chip.device.crosstalk_matrix(e.crosstalk).double().numpy()
    return cal


def n_mzi(station: Station) -> int:
    return int(station.world.system("chip").device.layout.n_mzi)


def true_phi(fitted: HeaterCalibration, truth: HeaterCalibration, mzis: int) -> HeaterCalibration:
    """``fitted`` with the chip's true offsets for every external (phi) heater: how much of what
    separates the fit from the floor is the phi offsets' (a diagnostic; no bench can do this)."""
    out = HeaterCalibration(fitted.phi0.copy(), fitted.alpha.copy(), fitted.resistance)
    out.crosstalk = fitted.crosstalk
    out.phi0[mzis:2 * mzis] = truth.phi0[mzis:2 * mzis]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=64, help="sweep points per heater (calibration)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random unitary")
    parser.add_argument("--averages", type=int, default=4, help="reads averaged in the check")
    parser.add_argument("--out", default=None, help="folder for the calibration runs (a temporary one by default)")
    parser.add_argument("--json", default=None, help="write the table as JSON too")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="hilt-programming-"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.perf_counter()
    # mzi-lab on a manual simulated clock: the chip's drift stands still, so the rows compare
    # calibrations, not the minutes between them (the detector noise is still there, seeded).
    config = yaml.safe_load(stations.path("mzi-lab").read_text())
    config["world"]["clock"] = "manual"
    station_file = out / "mzi-lab-manual-clock.yaml"
    station_file.write_text(yaml.safe_dump(config))
    with Station.from_yaml(station_file) as station:
        heaters = run_calibration(station, "mzi_heaters", out_dir=out, points=args.points)
        assert heaters.ok, heaters.summary()
        crosstalk = run_calibration(station, "mzi_crosstalk", out_dir=out, points=args.points,
                                    heater_calibration=heaters.calibration_file)
        assert crosstalk.ok, crosstalk.summary()
        fit = load_heater_calibration(heaters.calibration_file)
        fit.crosstalk = None  # the heater fit alone
        with_crosstalk = load_heater_calibration(crosstalk.calibration_file)
        truth = true_heaters(station)
        calibrations = {"design values": HeaterCalibration.nominal(fit.n_heaters), "heater fit": fit,
                        "heater fit + crosstalk inverse": with_crosstalk,
                        "the chip's true heaters (floor)": truth,
                        "fit + crosstalk, true phi offsets (diagnostic)": true_phi(with_crosstalk, truth, n_mzi(station))}
        n = int(station.role("meter").n_ports)
        targets = {f"random (Haar, seed {args.seed})": haar_unitary(n, args.seed).numpy(),
                   "identity": np.eye(n, dtype=complex)}
        for target_name, target in targets.items():
            for cal_name, cal in calibrations.items():
                processor = BenchMeshProcessor.from_station(station, calibration=cal)
                try:
                    result = program_unitary(processor, target, averages=args.averages)
                finally:
                    processor.safe_state()
                rows.append({"target": target_name, "calibration": cal_name, "worst_error": result.worst_error,
                             "mean_error": result.mean_error, "fidelity": result.fidelity})
                print(f"{target_name:<22} {cal_name:<32} worst {result.worst_error:.4f}  mean "
                      f"{result.mean_error:.4f}  fidelity {result.fidelity:.5f}", flush=True)
    elapsed = time.perf_counter() - t0
    print(f"\n{heaters.quality.get('heaters_fitted', 0):.0f} heaters fitted; crosstalk pairs "
          f"{crosstalk.quality.get('pairs', 0):.0f}; {elapsed:.0f} s on {platform.machine()} "
          f"({platform.python_version()})")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "elapsed_s": elapsed}, indent=2))


if __name__ == "__main__":
    main()
