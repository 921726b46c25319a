"""``hilt train`` on a small simulated chip: the station path from the command line to the run file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hilt import stations
from hilt.errors import ConfigError
from hilt.gui.cli import main
from hilt.loops.station import load_dataset, train_on_station
from hilt.runfile import open_run
from hilt.station import Station

SMALL = """\
name: small-chip
simulate: true
world: {seed: 5, errors: mild}
instruments:
  chip:
    driver: photonic_processor
    sim: {n: 16, layers: 2}
"""


@pytest.fixture
def station_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.mark.parametrize("loop", ["insilico", "insitu", "spsa", "dat"])
def test_train_cli_writes_a_completed_run(station_file: Path, tmp_path: Path, loop: str) -> None:
    runs = tmp_path / "runs"
    result = CliRunner().invoke(main, ["train", str(station_file), "--loop", loop, "--epochs", "1",
                                       "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert f"{loop}: accuracy" in result.output
    files = list(runs.glob("small-chip-*.h5"))
    assert len(files) == 1
    with open_run(files[0]) as run:
        assert run.status == "completed"
        steps, losses = run.scalar("loss")
        assert len(losses) > 0 and steps[-1] > 0


def test_train_on_station_counts_queries_and_leaves_chip_safe(station_file: Path, tmp_path: Path) -> None:
    with Station.from_yaml(station_file) as st:
        result = train_on_station(st, "insitu", epochs=1, runs_dir=tmp_path)
        assert result.physical_queries > 0
        sim = st.simulators["chip"]
    assert not sim.light_on and all(v.max() == 0 for v in sim.volts)


def test_bad_loop_and_dataset_are_config_errors(station_file: Path) -> None:
    with pytest.raises(ConfigError, match="loop 'backprop'"):
        with Station.from_yaml(station_file) as st:
            train_on_station(st, "backprop")
    with pytest.raises(ConfigError, match="dataset 'cifar'"):
        load_dataset("cifar")


def test_calibrate_cli_lists_and_runs(tmp_path: Path) -> None:
    listing = CliRunner().invoke(main, ["calibrate", "--list"])
    assert listing.exit_code == 0 and "mzi_heaters" in listing.output
    station = stations.path("mzi-lab")
    result = CliRunner().invoke(main, ["calibrate", str(station), "mzi_heaters", "-o", "points=8",
                                       "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "mzi_heaters: completed" in result.output
    assert list(tmp_path.glob("*.npz")) and list(tmp_path.glob("*.h5"))
    bad = CliRunner().invoke(main, ["calibrate", str(station), "mzi_heaters", "-o", "colour=red"])
    assert bad.exit_code == 1 and "colour" in bad.output
