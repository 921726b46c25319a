"""The pytest plugin (``hilt.sims.pytest_plugin``), run the way a lab runs it: small test files of a
user's own, in a fresh pytest process (pytester), against a real bench's station file.

The station file is a real bench's file (``small_mzi_bench.yaml``: ``simulate: false``, the
instruments' real addresses): the plugin simulates every instrument all the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TIMEOUT = 300  # s, for one pytest process; a normal run takes seconds
#: Plugins of this venv that a lab's run does not need: each costs a second or two at start.
QUIET = ("-p", "no:cacheprovider", "-p", "no:pytestqt", "-p", "no:hypothesispytest")


BENCH = Path(__file__).with_name("small_mzi_bench.yaml")


@pytest.fixture
def lab(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's folder: their real bench's station file, ``bench.yaml``."""
    text = BENCH.read_text()
    assert "\nsimulate: false\n" in text
    (pytester.path / "bench.yaml").write_text(text)
    return pytester


def run(lab: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a process of its own, as a lab runs it."""
    return lab.runpytest_subprocess(*QUIET, *args, timeout=TIMEOUT)


def run_here(lab: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in this process: for runs that stop before any simulator starts."""
    return lab.runpytest_inprocess("-p", "no:cacheprovider", *args)


USER_TESTS = '''
import numpy as np
import pytest

def test_every_instrument_is_simulated(hilt_station, hilt_bench):
    assert set(hilt_station.simulators) == {"laser", "heaters", "pm"}
    assert hilt_station.config.instruments["laser"].address.startswith("TCPIP::192.168.")  # the file's
    assert hilt_station.laser.transport.address.startswith("TCPIP::127.0.0.1::")  # what it opened
    assert hilt_station.role("meter") is hilt_station.pm

def test_the_world_shows_what_the_instruments_really_hold(hilt_station, hilt_bench):
    st = hilt_station
    st.laser.output.set(True)
    sent = hilt_bench.record("heaters.voltages")
    st.heaters.set_voltages(np.linspace(0.0, 3.0, 16))
    np.testing.assert_allclose(hilt_bench.get("heaters.voltages"), np.linspace(0.0, 3.0, 16), atol=1e-3)
    assert sent and np.all(np.diff([v.max() for _, v in sent]) >= 0)  # ramped up, never back
    assert hilt_bench.published("laser")["output"] is True
    watts = st.pm.read_all()
    np.testing.assert_allclose(hilt_bench.get("pm.readings"), watts)  # what the meter really saw
    assert hilt_bench.system("chip").output_powers().sum() <= st.laser.power.get()
    heaters, laser = sorted(hilt_bench.unsafe())
    assert heaters.startswith("heaters.voltages: 15 of 16 not at 0 V (largest ") and laser == "laser.output: on"
    assert float(heaters.split("largest ")[1].split(" V")[0]) == pytest.approx(3.0, abs=1e-3)
    st.safe_state()
    hilt_bench.assert_safe()

def test_left_on_is_put_safe_at_teardown(hilt_station):
    hilt_station.laser.output.set(True)
    hilt_station.heaters.set_voltages(np.full(16, 2.0))

@pytest.fixture
def elsewhere(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)

def test_a_test_that_changes_directory_still_finds_the_file(elsewhere, hilt_station):
    assert hilt_station.name == "small-mzi"

def test_seed_and_errors_come_from_the_options(hilt_station):
    assert (hilt_station.world.seed, hilt_station.world.errors) == (11, "severe")

def test_the_factory_starts_another_world(hilt_station_factory):
    a = hilt_station_factory(seed=1, errors="none")
    b = hilt_station_factory(seed=2)
    assert (a.world.seed, a.world.errors, b.world.seed, b.world.errors) == (1, "none", 2, "severe")
    assert a.world is not b.world
'''


def test_user_tests_run_on_the_simulated_bench(lab: pytest.Pytester) -> None:
    lab.makepyfile(test_bench=USER_TESTS)
    result = run(lab, "--hilt-station", "bench.yaml", "--hilt-seed", "11", "--hilt-errors", "severe", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["hilt: station bench.yaml, every instrument simulated; world seed 11, errors severe"])


def test_the_station_may_come_from_the_ini_file_beside_it(lab: pytest.Pytester) -> None:
    lab.makeini("[pytest]\nhilt_station = bench.yaml\nhilt_seed = 5\n")
    sub = lab.mkdir("sub")
    (sub / "test_here.py").write_text(
        "def test_here(hilt_station):\n"
        "    assert hilt_station.world.seed == 5 and hilt_station.world.errors == 'mild'\n"
        "    assert hilt_station.path.name == 'bench.yaml'\n")
    result = lab.runpytest_subprocess(*QUIET, str(sub), timeout=TIMEOUT)
    result.assert_outcomes(passed=1)


def test_a_conftest_pins_the_file_for_its_folder(lab: pytest.Pytester) -> None:
    other = lab.mkdir("other")
    (other / "other.yaml").write_text(BENCH.read_text().replace("name: small-mzi", "name: other-bench"))
    (other / "conftest.py").write_text(
        "from pathlib import Path\n"
        "import pytest\n\n"
        "@pytest.fixture\n"
        "def hilt_station_file():\n"
        "    return Path(__file__).with_name('other.yaml')\n")
    (other / "test_there.py").write_text(
        "def test_there(hilt_station):\n    assert hilt_station.name == 'other-bench'\n")
    lab.makepyfile(test_here="def test_here(hilt_station):\n    assert hilt_station.name == 'small-mzi'\n")
    result = run(lab, "--hilt-station", "bench.yaml")
    result.assert_outcomes(passed=2)


BROKEN_SAFE_STATE = '''
def test_a_driver_that_forgets_the_laser(monkeypatch, hilt_station):
    # monkeypatch is asked for first, so it is undone after the station closed: the station's safe
    # state then runs this broken one.
    monkeypatch.setattr(type(hilt_station.laser), "safe_state", lambda self: None)
    hilt_station.laser.output.set(True)
'''


def test_something_left_unsafe_is_an_error_at_teardown(lab: pytest.Pytester) -> None:
    lab.makepyfile(test_broken=BROKEN_SAFE_STATE)
    result = run(lab, "--hilt-station", "bench.yaml")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_a_driver_that_forgets_the_laser*",
                                 "*left unsafe after the safe state at teardown: station 'small-mzi': laser.output: on*"])


def test_without_a_station_the_fixture_says_what_to_do(lab: pytest.Pytester) -> None:
    lab.makepyfile(test_x="def test_x(hilt_station):\n    pass\n")
    result = run_here(lab)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no station file for the simulated bench: run pytest with --hilt-station FILE*"])


def test_bad_options_are_refused_in_one_line(lab: pytest.Pytester) -> None:
    lab.makepyfile(test_x="def test_x(hilt_station):\n    pass\n")
    result = run_here(lab, "--hilt-station", "bench.yaml", "--hilt-errors", "awful")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown error preset 'awful' (known: none, mild, severe*"])
    result = run_here(lab, "--hilt-station", "nosuchbench")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--hilt-station: nosuchbench: no such station file, and no bundled station*"])
    result = run_here(lab, "--hilt-station", "bench.yaml", "--hilt-seed", "x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hilt-seed / hilt_seed: 'x' is not an integer*"])


def test_a_suite_that_asks_for_no_fixture_gets_nothing_of_hilt(lab: pytest.Pytester) -> None:
    """Installed beside other projects' tests (and hilt's own), the plugin adds options only."""
    lab.makepyfile(test_plain='''
import sys

def test_plain():
    loaded = sorted(m for m in sys.modules if m.startswith(("hilt.station", "hilt.sims.", "torch")))
    assert loaded == ["hilt.sims.pytest_plugin", "hilt.station"]  # hilt.station: hilt's own __init__
    assert "hilt.sims.world" not in sys.modules
''')
    result = run(lab, "-v")
    result.assert_outcomes(passed=1)
    assert "hilt: station" not in result.stdout.str()


def test_a_bundled_station_by_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b="def test_b(hilt_station):\n    assert hilt_station.name == 'mzi-lab'\n")
    result = pytester.runpytest_subprocess(*QUIET, "--hilt-station", "mzi-lab", timeout=TIMEOUT)
    result.assert_outcomes(passed=1)


def test_the_plugin_module_is_the_registered_entry_point() -> None:
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="pytest11") if ep.name == "hilt"]
    assert ep.value == "hilt.sims.pytest_plugin"
    assert Path(ep.load().__file__).name == "pytest_plugin.py"
