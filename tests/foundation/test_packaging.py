"""hilt as installed: the bundled example stations are package data, found through
importlib.resources, so a wheel installed outside a checkout has them; the command line takes a
bundled station by name; and it ends quietly when its reader goes away."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from hilt import stations
from hilt.config import load_station
from hilt.errors import ConfigError
from hilt.gui.cli import main

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = {"fpga", "mzi-lab", "mzi-large", "neuromorphic", "slm-optics", "thz-imaging", "thz-lab"}


def test_the_bundled_stations_are_package_data_found_through_importlib_resources() -> None:
    found = {f.name for f in resources.files("hilt.stations").iterdir() if f.name.endswith(".yaml")}
    assert found == {f"{name}.yaml" for name in BUNDLED}
    assert stations.names() == sorted(BUNDLED)
    for name in BUNDLED:
        path = stations.path(name)
        assert path.is_file() and path == stations.path(f"{name}.yaml")
        assert path.read_bytes() == (resources.files("hilt.stations") / f"{name}.yaml").read_bytes()
        assert load_station(path).name == name


def test_the_stations_have_one_home_in_the_checkout() -> None:
    """No second copy: no station file outside hilt/stations shares a bundled one's name."""
    copies = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in ("build", "runs")
                         and not d.endswith(".egg-info")]
        copies += [Path(folder) / f for f in files if f.endswith(".yaml") and f[:-5] in BUNDLED]
    assert sorted(copies) == sorted(ROOT / "hilt" / "stations" / f"{n}.yaml" for n in BUNDLED)


def test_find_takes_a_path_or_a_bundled_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert stations.find("mzi-large") == stations.path("mzi-large")
    assert stations.find("thz-lab.yaml") == stations.path("thz-lab")
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\n")
    assert stations.find(mine) == mine and stations.find(str(mine)) == mine
    # A file of yours named like a bundled station is yours.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mzi-lab.yaml").write_text("name: my-mzi\n")
    assert stations.find("mzi-lab.yaml") == Path("mzi-lab.yaml")
    # A path that is not there is given back: reading it says what is wrong.
    assert stations.find("elsewhere/bench.yaml") == Path("elsewhere/bench.yaml")
    with pytest.raises(ConfigError) as info:
        stations.find("mzi-huge")
    assert str(info.value) == ("mzi-huge: no such station file, and no bundled station of that name "
                               "(bundled: fpga, mzi-lab, mzi-large, neuromorphic, slm-optics, thz-imaging, thz-lab; `hilt station list` shows them)")
    with pytest.raises(ConfigError, match=r"no bundled station 'nope' \(bundled: fpga, mzi-lab, mzi-large, neuromorphic, slm-optics, thz-imaging, thz-lab\)"):
        stations.path("nope")


def test_station_check_takes_a_bundled_station_by_name() -> None:
    result = CliRunner().invoke(main, ["station", "check", "mzi-large"])
    assert result.exit_code == 0, result.output
    assert "photonic_processor" in result.output and "mzi-large: all instruments OK" in result.output


def test_train_and_calibrate_take_a_bundled_station_by_name(tmp_path: Path) -> None:
    # Each reaches the station (started from the bundled file) and is refused by what it holds.
    train = CliRunner().invoke(main, ["train", "mzi-lab", "--instrument", "heaters", "--runs-dir", str(tmp_path)])
    assert train.exit_code == 1
    assert "instrument 'heaters' is a qontrol_q8iv, not a photonic processor" in train.output
    calibrate = CliRunner().invoke(main, ["calibrate", "mzi-lab", "lockin_phase_sensitivity",
                                          "--runs-dir", str(tmp_path)])
    assert calibrate.exit_code == 1
    assert "station 'mzi-lab'" in calibrate.output
    assert "lockin_phase_sensitivity needs the role 'multiplier' (a frequency_multiplier)" in calibrate.output
    assert not list(tmp_path.iterdir())


def test_an_unknown_station_name_is_one_line_listing_the_bundled_ones(tmp_path: Path) -> None:
    for args in (["station", "check", "mzi-huge"], ["train", "mzi-huge", "--runs-dir", str(tmp_path)],
                 ["calibrate", "mzi-huge", "mzi_heaters", "--runs-dir", str(tmp_path)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, args
        lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
        assert lines == ["error: mzi-huge: no such station file, and no bundled station of that name "
                         "(bundled: fpga, mzi-lab, mzi-large, neuromorphic, slm-optics, thz-imaging, thz-lab; `hilt station list` shows them)"], args


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """``hilt station list | head -0``: the reader closes before a byte is written."""
    proc = subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", "station", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the only reader: every write from now on is a broken pipe
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141  # 128 + SIGPIPE, as the shell sees a tool killed by it
    assert err == b""


def _copy_checkout(dest: Path) -> Path:
    skip = shutil.ignore_patterns(".*", "build", "runs", "__pycache__", "*.egg-info", "*.h5")
    shutil.copytree(ROOT, dest, ignore=skip)
    return dest


def test_a_wheel_from_the_checkout_carries_the_stations_and_runs_outside_it(tmp_path: Path) -> None:
    # Built from a copy, so the checkout gets no build/ folder.
    source = _copy_checkout(tmp_path / "src")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel")], cwd=source, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "wheel").glob("hilt-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {f"hilt/stations/{n}.yaml" for n in BUNDLED} <= names
    assert not any(n.startswith("examples/") for n in names)

    target = tmp_path / "installed"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target),
                                str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # -S: the venv's site-packages only for the dependencies (put on PYTHONPATH by hand), without
    # its .pth files, so the editable install of this checkout is out of the picture.
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]]),
           "QT_QPA_PLATFORM": "offscreen"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-S", *args], cwd=away, env=env, capture_output=True,
                              text=True, timeout=300)

    where = run("-c", "import hilt, hilt.stations, hilt.sims, hilt.gui.cli; "
                      "print(hilt.__file__, hilt.sims.__file__, hilt.gui.cli.__file__)")
    assert where.returncode == 0, where.stderr
    assert all(Path(f).is_relative_to(target) for f in where.stdout.split())

    listing = run("-m", "hilt.gui.cli", "station", "list")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line.split()[1] for line in listing.stdout.splitlines()}
    assert set(rows) == BUNDLED
    assert all(Path(f).is_relative_to(target / "hilt" / "stations") and Path(f).is_file() for f in rows.values())

    check = run("-m", "hilt.gui.cli", "station", "check", "mzi-large")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "mzi-large: all instruments OK" in check.stdout
