"""THz calibration routines on the simulated thz-lab station (manual clock: every wait is a jump
of simulated time), checked against the THz path's hidden truth (read here, never by the routines)."""

from __future__ import annotations

import cmath
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from hilt import stations
from hilt.loops.calibration import load_dark_flat, load_source_power, run_calibration
from hilt.runfile import open_run
from hilt.sims.thz_path import dbm_to_w
from hilt.station import Station

PHASE_TOL_DEG = 1.0  # measured: 0.3 deg with 32 readings at 10 s
POINT_TOL_DB = 0.05  # measured: 0.005 dB
CURVE_TOL_DB = 0.1  # between the measured points (Chebyshev fit of the deviation)


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    config = yaml.safe_load((stations.path("thz-lab")).read_text())
    config["world"]["clock"] = "manual"  # nothing moves unless a routine waits
    path = tmp_path_factory.mktemp("station") / "thz-lab-manual.yaml"
    path.write_text(yaml.safe_dump(config))
    with Station.from_yaml(path) as st:
        yield st


def thz(st: Station):  # type: ignore[no-untyped-def]
    return st.world.system("thz")


def test_lockin_phase_puts_the_signal_on_x_and_range_fits(station: Station, tmp_path: Path) -> None:
    t0 = station.world.clock.now()
    result = run_calibration(station, "lockin_phase_sensitivity", out_dir=tmp_path, time_constant=10.0, averages=32)
    assert result.status == "completed", result.summary()
    assert station.world.clock.now() - t0 > 100  # it waited minutes of simulated time
    path = thz(station)
    truth = math.degrees(cmath.phase(path._response(station.lockin.frequency.get())) + path._chopper_phase)
    assert abs((result.table["phase_deg"] - truth + 180) % 360 - 180) < PHASE_TOL_DEG
    assert station.lockin.phase.get() == pytest.approx(result.table["phase_deg"])
    assert result.after["overload"] == 0
    assert 0.2 < result.after["fraction of full scale"] < 0.7
    assert result.after["quadrature fraction |Y|/R"] < 0.05 < result.before["quadrature fraction |Y|/R"]
    # The range it chose holds the lit signal without overload, on the instrument itself.
    station.multiplier.output.set(True)
    station.world.clock.advance(150.0)
    station.lockin.status()
    x, y = station.lockin.snap("x", "y")
    assert not station.lockin.overloaded() and x > 5 * abs(y)
    station.multiplier.output.set(False)
    with open_run(result.run_file) as run:
        assert run.status == "completed"
        assert run.calibration("lockin_phase_sensitivity")["sensitivity_v"] == result.table["sensitivity_v"]
    assert station.simulators["synth"].output is False


def test_source_power_finds_the_hidden_ripple(station: Station, tmp_path: Path) -> None:
    path = thz(station)

    # The path from the chain to the MAESTRO head (the diffractive stack), known on a bench from
    # a separate measurement; here from the simulator, called once the routine has set f.
    def transmission(f: float) -> float:
        return path.detector_power(*path.position(), aperture_mm=12.0) / path.thz_power()

    result = run_calibration(station, "thz_source_power", out_dir=tmp_path, points=12, transmission=transmission)
    assert result.status == "completed", result.summary()
    curve = load_source_power(result.calibration_file)
    p_in = dbm_to_w(curve.input_power_dbm)
    f = curve.frequencies
    true_dbm = np.array([10 * math.log10(path.multiplier.true_power(x, p_in) / 1e-3) for x in f])
    assert np.abs(curve.measured_dbm - true_dbm).max() < POINT_TOL_DB
    fine = np.linspace(f[0], f[-1], 101)
    true_fine = np.array([10 * math.log10(path.multiplier.true_power(x, p_in) / 1e-3) for x in fine])
    assert np.abs(curve.power_dbm(fine) - true_fine).max() < CURVE_TOL_DB
    # The shape of the deviation from the datasheet is the hidden ripple (the drive-level offset
    # is a constant).
    ripple = np.array([path.multiplier.ripple_db(x) for x in fine])
    found = curve.correction_db(fine)
    assert np.abs((found - found.mean()) - (ripple - ripple.mean())).max() < CURVE_TOL_DB
    assert np.ptp(ripple) > 0.3  # there was something to find
    assert result.after[next(iter(result.after))] < 0.05
    with open_run(result.run_file) as run:
        assert run.captures("sweep").physical.shape == (f.size, 3)
    assert station.simulators["synth"].output is False


def test_dark_and_flat_field_over_a_raster(station: Station, tmp_path: Path) -> None:
    result = run_calibration(station, "detector_dark_flat", out_dir=tmp_path, extent=(-2, 2, -2, 2), grid=(3, 3),
                             time_constant=10.0, averages=8)
    assert result.status == "completed", result.summary()
    table = load_dark_flat(result.calibration_file)
    path = thz(station)
    # Dark: the detector's hidden pickup phasor, seen at every position.
    assert np.abs(np.abs(table.dark) - abs(path._dark)).max() < 0.3 * abs(path._dark)
    # Flat: the beam's power through the detector aperture at each position, relative.
    station.multiplier.output.set(True)
    power = np.array([[path.detector_power(x, y) for x in table.x] for y in table.y])
    station.multiplier.output.set(False)
    np.testing.assert_allclose(table.flat, power / power.mean(), rtol=0.05)
    assert result.after["flat non-uniformity (std/mean)"] < 0.2 * result.before["flat non-uniformity (std/mean)"]
    assert station.stage.position() == pytest.approx((0.0, 0.0), abs=1e-3)  # back where it started
    with open_run(result.run_file) as run:
        assert run.captures("raster").physical.shape == (27, 2)  # dark, flat and verify rasters
    assert station.simulators["synth"].output is False


def test_abort_mid_raster_leaves_the_source_off(station: Station, tmp_path: Path) -> None:
    stop = threading.Event()

    def progress(done: int, total: int, message: str) -> None:
        if message.startswith("flat"):
            stop.set()  # the source is on now

    result = run_calibration(station, "detector_dark_flat", out_dir=tmp_path, grid=(3, 3), averages=1,
                             abort=stop, progress=progress)
    assert result.status == "aborted"
    assert station.simulators["synth"].output is False
    assert not station.stage.is_moving()
    with open_run(result.run_file) as run:
        assert run.status == "aborted"

