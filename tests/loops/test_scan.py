"""Sweeps (hilt.loops.scan): a simulated bench through the real drivers, files read back with
h5py and xarray, limits checked before anything is sent, aborts leaving a safe bench."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from hilt.errors import ConfigError, LimitError
from hilt.loops.scan import Axis, grid_order, scan
from hilt.runfile.sweep_file import open_sweep
from hilt.station import Station

BENCH = """\
name: scanbench
simulate: true
world: {seed: 3}
instruments:
  synth:
    driver: keysight_e8257d
    limits: {frequency: [1e9, 2e10]}
  heater:
    driver: keithley_2400
    limits: {voltage: [0, 5]}
    sim: {load_ohm: 250}
  lockin:
    driver: srs_sr830
roles:
  source: synth
"""


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Station:
    path = tmp_path_factory.mktemp("scan") / "bench.yaml"
    path.write_text(BENCH)
    with Station.from_yaml(path) as st:
        yield st


class Recorder:
    def __init__(self, stop_after: int | None = None, event: threading.Event | None = None,
                 raise_after: int | None = None) -> None:
        self.points: list[tuple[tuple[int, ...], dict]] = []
        self.plan = self.result = None
        self.stop_after, self.event, self.raise_after = stop_after, event, raise_after

    def start(self, plan) -> None:
        self.plan = plan

    def point(self, index, setpoints, values) -> None:
        self.points.append((index, dict(setpoints)))
        if self.stop_after is not None and len(self.points) == self.stop_after:
            self.event.set()
        if self.raise_after is not None and len(self.points) == self.raise_after:
            raise KeyboardInterrupt

    def finish(self, result) -> None:
        self.result = result


def test_grid_order_nests_outer_first_and_snakes() -> None:
    assert list(grid_order((2, 3))) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert list(grid_order((2, 3), snake=True)) == [(0, 0), (0, 1), (0, 2), (1, 2), (1, 1), (1, 0)]
    assert len(list(grid_order((2, 2, 2), snake=True))) == 8


def test_a_voltage_sweep_measures_ohms_law_into_a_file_with_units(bench: Station, tmp_path: Path) -> None:
    bench.heater.voltage.set(0.0)
    bench.heater.compliance.set(0.1)  # the 2400's default, 105 uA, would clip the current
    bench.heater.output.set(True)
    result = scan(bench, Axis("heater.voltage", "0 V", "4 V", 9), read=["heater.currents", "heater.voltage"],
                  settle=0.0, path=tmp_path / "iv.h5", progress=False)
    assert (result.status, result.points_done, result.total) == ("completed", 9, 9)
    sweep = open_sweep(result.path)
    assert sweep.status == "completed" and sweep.axes == ["heater.voltage"]
    np.testing.assert_allclose(sweep.coords["heater.voltage"], np.linspace(0, 4, 9))
    assert sweep.units == {"heater.voltage": "V", "heater.currents": "A", "heater.voltage (read back)": "V"}
    np.testing.assert_allclose(sweep.data["heater.voltage (read back)"], np.linspace(0, 4, 9))
    current = sweep.data["heater.currents"][:, 0]  # an array reading keeps its own axis
    np.testing.assert_allclose(current, np.linspace(0, 4, 9) / 250, rtol=0.02, atol=1e-5)
    assert np.all(np.diff(sweep.elapsed) >= 0)
    import json

    settings = json.loads(sweep.attrs["station_snapshot"])["instruments"]["heater"]["parameters"]
    assert settings["compliance"] == {"value": pytest.approx(0.1), "unit": "A"}


def test_the_file_opens_in_xarray_with_coordinates_and_units(bench: Station, tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    result = scan(bench, Axis("synth.power", -10, -5, 3), Axis("synth.frequency", values=["10 GHz", "12 GHz"]),
                  read=["synth.power", "synth.frequency"], settle=0, path=tmp_path / "grid.h5", progress=False)
    ds = result.to_xarray()
    assert dict(ds.sizes) == {"synth.power": 3, "synth.frequency": 2}
    assert ds["synth.frequency"].attrs["units"] == "Hz" and ds["synth.power"].attrs["units"] == "dBm"
    # the instrument read back what was set, point by point
    np.testing.assert_allclose(ds["synth.frequency (read back)"].values[:, 0], 10e9)
    # a netCDF-4 reader that knows nothing of hilt sees the same (dimension scales)
    with xr.open_dataset(result.path, engine="h5netcdf") as plain:
        assert plain["synth.power (read back)"].dims == ("synth.power", "synth.frequency")
        assert plain["synth.power (read back)"].attrs["units"] == "dBm"
        assert plain.coords["synth.frequency"].attrs["units"] == "Hz"
        np.testing.assert_allclose(plain.coords["synth.frequency"].values, [10e9, 12e9])


def test_auto_settle_waits_the_lock_ins_time_in_simulated_time(bench: Station, tmp_path: Path) -> None:
    bench.lockin.time_constant.set(0.3)
    bench.lockin.filter_slope.set(12)
    clock = bench.world.clock
    t0 = clock.now()
    result = scan(bench, Axis("synth.frequency", 1e9, 2e9, 5), read=["lockin.r"], settle="auto",
                  path=tmp_path / "settle.h5", progress=False)
    assert result.status == "completed"
    # 12 time constants per point at 12 dB/oct, on the fast clock: the bench saw the time pass
    assert clock.now() - t0 == pytest.approx(5 * 12 * 0.3)
    assert bench.clock_mode == "fast"


def test_an_out_of_range_setpoint_is_refused_before_anything_is_sent(bench: Station, tmp_path: Path) -> None:
    bench.synth.frequency.set(5e9)
    with pytest.raises(LimitError, match=r"synth.frequency: 2.5e\+10 outside .*\(setpoint 3 of 3 of the sweep\); nothing was sent"):
        scan(bench, Axis("synth.frequency", "15 GHz", "25 GHz", 3), read=["synth.power"],
             path=tmp_path / "never.h5", progress=False)
    assert bench.synth.frequency.get() == 5e9
    assert not (tmp_path / "never.h5").exists()


@pytest.mark.parametrize("name,message", [
    ("nobody.frequency", "no instrument or role 'nobody'"),
    ("synth.colour", "has no parameter 'colour'"),
    ("synthfrequency", "expected INSTRUMENT.PARAMETER"),
])
def test_a_wrong_name_is_refused_naming_it(bench: Station, tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scan(bench, Axis(name, 1, 2, 2), read=["synth.power"], path=tmp_path / "x.h5", progress=False)


def test_a_role_names_the_instrument(bench: Station, tmp_path: Path) -> None:
    result = scan(bench, Axis("source.power", -3, -1, 3), read=["source.power"], settle=0,
                  path=tmp_path / "role.h5", progress=False)
    np.testing.assert_allclose(open_sweep(result.path).data["source.power (read back)"], [-3, -2, -1])


def test_stopping_keeps_the_points_and_puts_the_bench_safe(bench: Station, tmp_path: Path) -> None:
    bench.synth.output.set(True)
    stop = threading.Event()
    rec = Recorder(stop_after=4, event=stop)
    result = scan(bench, Axis("heater.voltage", 0, 5, 11), read=["heater.voltage"], settle=0,
                  path=tmp_path / "stopped.h5", progress=False, observers=[rec], stop=stop)
    assert (result.status, result.points_done) == ("aborted", 4)
    sweep = open_sweep(result.path)
    assert sweep.status == "aborted" and sweep.points_done == 4
    read = sweep.data["heater.voltage (read back)"]
    assert np.isfinite(read[:4]).all() and np.isnan(read[4:]).all()
    assert rec.result is result and "synth" in result.safe
    assert bench.synth.output.get() is False and bench.heater.voltage.get() == 0.0


def test_ctrl_c_closes_the_file_as_aborted_and_says_where_it_is(bench: Station, tmp_path: Path) -> None:
    bench.synth.output.set(True)
    with pytest.raises(KeyboardInterrupt) as info:
        scan(bench, Axis("synth.power", -10, 0, 11), read=["synth.power"], settle=0,
             path=tmp_path / "ctrl-c.h5", progress=False, observers=[Recorder(raise_after=3)])
    assert any("stopped after 3 of 11 points" in n and "ctrl-c.h5" in n for n in info.value.__notes__)
    sweep = open_sweep(tmp_path / "ctrl-c.h5")
    assert (sweep.status, sweep.points_done) == ("aborted", 3)
    assert "SIGINT" in sweep.reason
    assert bench.synth.output.get() is False


def test_axis_needs_a_range_or_values() -> None:
    with pytest.raises(ConfigError, match="start, stop and num"):
        Axis("synth.power", 1, None, 3).setpoints("dBm")
    with pytest.raises(ConfigError, match="not both"):
        Axis("synth.power", 1, 2, 3, values=[1]).setpoints("dBm")


def test_the_ten_line_example_runs(tmp_path: Path) -> None:
    """examples/scan_thz.py, as a user runs it: the simulated THz bench, a live window
    (offscreen here), and the file printed as an xarray Dataset with units."""
    import os
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "scan_thz.py"
    assert len(example.read_text().splitlines()) <= 10
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(example)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "synth.frequency" in done.stdout and "points_done:         59" in done.stdout
    [path] = (tmp_path / "runs").glob("thz-lab-scan-*.h5")
    sweep = open_sweep(path)
    assert sweep.status == "completed" and sweep.units["lockin.r"] == "V"
    # the multiplier chain's output peaks inside the band, not at its edges
    r = sweep.data["lockin.r"]
    assert r[20:45].mean() > 1.5 * r[:5].mean()
