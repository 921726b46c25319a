"""The beam map on the simulated bench: does it find the beam where the detector really sees it?"""

from __future__ import annotations

import numpy as np
import pytest
from labscripts.beam_map import beam_map, peak

from hilt import LimitError

AXIS = np.linspace(-6.0, 6.0, 5)  # mm


def changes(recorded: list[tuple[float, object]]) -> list[object]:
    """The values a recorded world key took, each change once (a simulator may rewrite a value)."""
    values = [value for _, value in recorded]
    return [v for k, v in enumerate(values) if k == 0 or v != values[k - 1]]


def test_the_map_peaks_where_the_most_light_really_falls(hilt_station, hilt_bench) -> None:
    switched = hilt_bench.record("synth.output")
    reading = beam_map(hilt_station, AXIS, AXIS, frequency=90e9)
    # The source was on for the map and off once it was done.
    assert changes(switched) == [False, True, False]
    # The ground truth: the power the simulated detector receives at each grid point.
    thz = hilt_bench.system("thz")
    hilt_station.synth.output.set(True)  # the truth is read with the source on, as during the map
    truth = np.array([[thz.detector_power(x, y) for x in AXIS] for y in AXIS])
    hilt_station.synth.output.set(False)
    assert peak(reading, AXIS, AXIS) == peak(truth, AXIS, AXIS)
    assert reading.max() > 3 * reading.min()  # a beam, not noise


def test_the_detector_stays_inside_the_stage_limits(hilt_station, hilt_bench) -> None:
    with pytest.raises(LimitError):
        beam_map(hilt_station, np.array([0.0, 12.0]), np.array([0.0]))  # 12 mm: outside x [-10, 10]
    x, y = hilt_bench.get("stage.position_fn")(hilt_bench.clock.now())
    assert abs(x) < 1e-6 and abs(y) < 1e-6  # it never left the first point
    assert hilt_bench.get("synth.output") is False  # and the source went off on the way out
