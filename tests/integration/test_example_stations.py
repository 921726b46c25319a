"""The example stations end to end: drivers -> real transports -> simulators -> shared world."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from hilt import stations
from hilt.errors import LimitError
from hilt.gui.cli import main
from hilt.station import Station


@pytest.mark.parametrize("name", ["thz-lab.yaml", "mzi-lab.yaml", "mzi-large.yaml"])
def test_station_check_is_clean(name: str) -> None:
    result = CliRunner().invoke(main, ["station", "check", str(stations.path(name))])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("all instruments OK")


def settle(st: Station, time_constants: float = 10.0) -> None:
    """Let the lock-in's filter settle in simulated time (the world's clock jumps ahead)."""
    st.world.clock.advance(time_constants * st.lockin.time_constant.get())


def test_thz_power_reaches_the_lockin_through_the_multiplier() -> None:
    with Station.from_yaml(stations.path("thz-lab")) as st:
        st.lockin.sensitivity.set(1.0)
        st.multiplier.frequency.set(90e9)
        assert st.synth.frequency.get() == pytest.approx(15e9)
        st.multiplier.input_power.set(5)
        settle(st)
        dark = st.lockin.r()
        st.multiplier.output.set(True)
        settle(st)
        lit = st.lockin.r()
        assert lit > 2 * max(dark, 1e-9)  # dark: pickup and noise of the (mild) detector
        with pytest.raises(LimitError):
            st.multiplier.frequency.set(120e9)  # out of the WR-10 band: nothing sent
        assert st.synth.frequency.get() == pytest.approx(15e9)
        # The detector sees the diffractive stack's output where the stage puts it.
        readings = []
        for x in (-6.0, 0.0, 6.0):
            st.stage.move_to(x, 0.0)
            settle(st)
            readings.append(st.lockin.r())
        assert max(readings) > 1.2 * min(readings)
        sims = st.simulators
    assert sims["synth"].output is False  # safe state on exit


def test_mzi_heater_voltages_change_what_the_power_meter_reads() -> None:
    with Station.from_yaml(stations.path("mzi-lab")) as st:
        st.laser.output.set(True)
        st.heaters.set_voltages(np.zeros(64))
        before = st.pm.read_all()
        assert before.shape == (8,) and before.sum() > 0
        st.heaters.set_voltages(np.full(64, 3.0))
        after = st.pm.read_all()
        assert np.abs(after - before).max() > 0.05 * before.max()
        assert after.sum() <= 1.001 * st.laser.power.get()
