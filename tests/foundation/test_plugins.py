"""Plug-ins: a package installed beside hilt adds a calibration routine through the
``hilt.routines`` entry point group, and one whose module does not import is reported with its
error by ``hilt plugins`` (and the app's Help > Plugins) instead of failing later."""

from __future__ import annotations

import subprocess
import sys

import pytest
from plugin_package import install_fake_plugin

from hilt import registry


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch):  # noqa: ANN001
    folder = install_fake_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(folder))
    registry.refresh()
    yield folder
    monkeypatch.undo()
    registry.refresh()


def test_a_routine_from_an_installed_package_runs_by_name(fake_plugin) -> None:  # noqa: ANN001
    from hilt.loops.calibration import describe, parse_options, routine_names, run_calibration

    assert "lab_dark_level" in routine_names() and "mzi_heaters" in routine_names()
    assert describe("lab_dark_level") == "Read the dark level (a lab plug-in)."
    assert parse_options("lab_dark_level", ["repeats=5"]) == {"repeats": 5}
    assert run_calibration(None, "lab_dark_level", repeats=7) == 7


def test_a_plugin_that_does_not_import_is_reported_with_its_error(fake_plugin) -> None:  # noqa: ANN001
    found = {(p.group, p.name): p for p in registry.check_plugins()}
    good = found[("hilt.routines", "lab_dark_level")]
    assert good.ok and good.package == "lab-plugin 0.3" and good.kind == "calibration routine"
    broken = found[("hilt.drivers", "lab_broken_meter")]
    assert not broken.ok and broken.package == "lab-plugin 0.3"
    assert broken.error == "ModuleNotFoundError: No module named 'a_vendor_sdk_that_is_not_installed'"
    assert found[("hilt.drivers", "srs_sr830")].ok  # hilt's own still load


def test_hilt_plugins_lists_them_and_fails_on_a_broken_one(fake_plugin) -> None:  # noqa: ANN001
    done = subprocess.run([sys.executable, "-m", "hilt.gui.cli", "plugins"], capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(fake_plugin), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    [good] = [line for line in done.stdout.splitlines() if " lab_dark_level " in line]
    [broken] = [line for line in done.stdout.splitlines() if " lab_broken_meter " in line]
    assert good.startswith("calibration routine") and good.endswith(" ok") and "lab-plugin 0.3" in good
    assert broken.startswith("driver") and "FAILED: ModuleNotFoundError" in broken
    assert "1 of" in done.stderr and "did not load" in done.stderr
