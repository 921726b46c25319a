"""The frequency response on the simulated bench: against the chain's true output power."""

from __future__ import annotations

import numpy as np
import pytest
from labscripts.response import frequency_response

from hilt import LimitError

FREQUENCIES = np.linspace(80e9, 105e9, 6)


def test_the_response_follows_the_power_the_chain_really_delivers(hilt_station, hilt_bench) -> None:
    reading = frequency_response(hilt_station, FREQUENCIES, power_dbm=3.0)
    chain = hilt_bench.system("thz").multiplier
    true_watts = np.array([chain.true_power(f, 10 ** (3.0 / 10) * 1e-3) for f in FREQUENCIES])
    # The detector is fixed: what it reads is proportional to what the chain delivers.
    ratio = reading / true_watts
    assert ratio.std() < 0.05 * ratio.mean()
    assert hilt_bench.get("synth.output") is False


def test_a_sweep_that_leaves_the_band_does_not_start(hilt_station, hilt_bench) -> None:
    settings = hilt_bench.record("synth.frequency")
    with pytest.raises(LimitError):
        frequency_response(hilt_station, np.array([90e9, 120e9]))  # 120 GHz: outside WR-10
    assert settings == []  # not one frequency reached the synthesizer
    assert hilt_bench.get("synth.output") is False
