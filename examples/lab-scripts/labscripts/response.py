"""The chain's frequency response as the detector sees it: lock-in R against THz frequency.

    python -m labscripts.response bench.yaml --start 80e9 --stop 105e9 --points 11
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hilt import Station
from labscripts.beam_map import SETTLE_TIME_CONSTANTS


def frequency_response(station: Station, frequencies: np.ndarray, *, power_dbm: float = 3.0,
                       time_constant: float = 0.003) -> np.ndarray:
    """Lock-in R (V) at each THz frequency, the detector where the stage holds it.

    Every frequency is checked against the chain's band and the synthesizer's limits before the
    source is switched on: a sweep that cannot run entirely does not start."""
    source, detector = station.role("multiplier"), station.role("detector")
    for f in frequencies:
        source.frequency.validate(float(f))
    detector.time_constant.set(time_constant)
    detector.sensitivity.set(1.0)
    source.input_power.set(power_dbm)
    source.output.set(True)
    reading = np.zeros(len(frequencies))
    try:
        for k, f in enumerate(frequencies):
            source.frequency.set(float(f))
            time.sleep(SETTLE_TIME_CONSTANTS * time_constant)
            reading[k] = detector.r()
    finally:
        source.output.set(False)
    return reading


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("station", help="the bench's station file")
    parser.add_argument("--start", type=float, default=80e9)
    parser.add_argument("--stop", type=float, default=105e9)
    parser.add_argument("--points", type=int, default=11)
    args = parser.parse_args(argv)
    frequencies = np.linspace(args.start, args.stop, args.points)
    with Station.from_yaml(args.station) as station:
        reading = frequency_response(station, frequencies)
    for f, r in zip(frequencies, reading, strict=True):
        print(f"{f / 1e9:8.2f} GHz  {r:.4g} V")


if __name__ == "__main__":
    main()
