"""The layers point down (ADR 0008): the import-linter contract holds, and it really reads every layer.

``.ci/lint_imports.py`` (run by ``make test``) checks the contract in pyproject.toml over the
installed package; these tests run it, show that it catches a driver that imports a simulator
(so the layer folders are analysed, not only ``hilt/``), that the core contract lists every core
module, and that loading the core does not load the simulators, loops or app.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"drivers", "instruments", "loops", "gui", "sims"}


def _lint_imports() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lint_imports", ROOT / ".ci" / "lint_imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _contract(contract_id: str) -> dict:
    settings = _lint_imports().tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in settings["contracts"] if c.get("id") == contract_id)


def test_the_layering_contract_holds() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / ".ci" / "lint_imports.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 5 kept, 0 broken." in proc.stdout


@pytest.mark.parametrize("layer,module,forbidden", [
    ("drivers", "import hilt.sims.world\n", "hilt.drivers is not allowed to import hilt.sims"),
    ("sims", "from hilt.drivers import srs_sr830\n", "hilt.sims is not allowed to import hilt.drivers"),
    ("instruments", "import hilt.loops.core\n", "hilt.instruments.reaches_up -> hilt.loops.core"),
])
def test_a_layer_that_reaches_up_or_across_breaks_the_contract(tmp_path: Path, layer: str, module: str,
                                                                forbidden: str) -> None:
    lint = _lint_imports()
    tree = lint.build_tree(tmp_path)
    (tree / "hilt" / layer / "reaches_up.py").write_text(module)
    proc = lint.run(tree, [], capture=True)
    assert proc.returncode != 0
    assert forbidden in proc.stdout, proc.stdout


def test_the_core_contract_lists_every_core_module() -> None:
    core = ROOT / "hilt"
    modules = {f"hilt.{p.stem}" for p in core.glob("*.py") if p.name != "__init__.py"}
    modules |= {f"hilt.{p.parent.name}" for p in core.glob("*/__init__.py")}
    assert not modules & {f"hilt.{layer}" for layer in LAYERS}
    assert set(_contract("core")["source_modules"]) == modules
    assert set(_contract("core")["forbidden_modules"]) == {f"hilt.{layer}" for layer in LAYERS}


def test_loading_the_core_loads_no_simulator_loop_or_app_module() -> None:
    code = ("import sys, hilt, hilt.station, hilt.config, hilt.roles, hilt.registry, hilt.runfile.cli\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[:2] in "
            "(['hilt', 'sims'], ['hilt', 'loops'], ['hilt', 'gui'], ['hilt', 'instruments']))))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_the_simulators_are_found_through_their_entry_point() -> None:
    from hilt import registry
    from hilt.sims.station_backend import SimulationBackend

    assert isinstance(registry.load_simulation(), SimulationBackend)


def _without_simulators(tmp_path: Path) -> dict[str, str]:
    """An environment in which hilt's metadata declares drivers but no simulators (as a package
    that installs hilt's core and drivers alone would): a dist-info found before the real one."""
    from importlib.metadata import distribution

    installed = distribution("hilt")
    dist = tmp_path / "hilt-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hilt\nVersion: 0.1.0\n")
    sections = installed.read_text("entry_points.txt").split("\n[")
    kept = [s for s in sections if s.lstrip("[").startswith("hilt.drivers]")]
    (dist / "entry_points.txt").write_text("[" + kept[0].lstrip("["))
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


NO_SIMS_SCRIPT = r"""
import sys
from hilt import registry
from hilt.config import parse_station
from hilt.errors import ConfigError
from hilt.station import Station

assert registry.driver_names() and not registry.simulator_names()
real = "instruments:\n  synth:\n    driver: keysight_e8257d\n    address: TCPIP::127.0.0.1::1::SOCKET\n"
station = Station(parse_station(real, "real.yaml"))
station.start_simulators()
print("hardware:", station.world, station.servers)
try:
    parse_station("simulate: true\ninstruments:\n  synth:\n    driver: keysight_e8257d\n", "sim.yaml")
except ConfigError as exc:
    print(exc)
print(sorted(m for m in sys.modules if m.startswith("hilt.sims")))
"""


def test_without_a_simulation_backend_a_real_bench_loads_and_a_simulated_one_is_told_why(
        tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", NO_SIMS_SCRIPT], capture_output=True, text=True, timeout=60,
                          env=_without_simulators(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "hardware: None {}",
        "sim.yaml:1: simulate: no simulation backend is installed (entry point group 'hilt.simulation' "
        "is empty): install hilt with its simulators (hilt.sims) to simulate instruments, or set "
        "simulate: false and give real addresses",
        "[]",
    ]
