"""Map the THz beam: move the detector over a grid with the XY stage, read the lock-in at each point.

    python -m labscripts.beam_map bench.yaml --frequency 90e9 --span 6 --points 7

Prints the map (lock-in R, V) and where its maximum is. Ctrl-C stops between two points and the
station leaves every instrument safe (source off, stage stopped).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hilt import Station

#: Time constants to wait after each move before reading: a 12 dB/oct filter is within 0.1 %.
SETTLE_TIME_CONSTANTS = 10.0


def beam_map(station: Station, xs: np.ndarray, ys: np.ndarray, *, frequency: float = 90e9,
             power_dbm: float = 3.0, time_constant: float = 0.003) -> np.ndarray:
    """Lock-in R (V) with the detector at every (x, y) of the grid, as an array [len(ys), len(xs)].

    The source is switched on for the map and off after it, also when the map stops early."""
    source, detector, stage = station.role("multiplier"), station.role("detector"), station.role("stage")
    detector.time_constant.set(time_constant)
    detector.sensitivity.set(1.0)
    source.frequency.set(frequency)
    source.input_power.set(power_dbm)
    source.output.set(True)
    reading = np.zeros((len(ys), len(xs)))
    try:
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                stage.move_to(float(x), float(y))
                time.sleep(SETTLE_TIME_CONSTANTS * time_constant)
                reading[i, j] = detector.r()
    finally:
        source.output.set(False)
    return reading


def peak(reading: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
    """(x, y) of the map's largest reading."""
    i, j = np.unravel_index(int(np.argmax(reading)), reading.shape)
    return float(xs[j]), float(ys[i])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("station", help="the bench's station file")
    parser.add_argument("--frequency", type=float, default=90e9, help="THz frequency after the chain, Hz")
    parser.add_argument("--span", type=float, default=6.0, help="map from -span to +span, mm")
    parser.add_argument("--points", type=int, default=7, help="points per axis")
    args = parser.parse_args(argv)
    axis = np.linspace(-args.span, args.span, args.points)
    with Station.from_yaml(args.station) as station:
        reading = beam_map(station, axis, axis, frequency=args.frequency)
    np.set_printoptions(precision=3, linewidth=120)
    print(reading)
    print("peak at x = {:.2f} mm, y = {:.2f} mm".format(*peak(reading, axis, axis)))


if __name__ == "__main__":
    main()
