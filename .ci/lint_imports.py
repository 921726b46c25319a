"""Run ``lint-imports`` (the layering contract in pyproject.toml) over the installed hilt package.

import-linter finds a package's modules by walking the folder ``hilt`` is imported from. hilt's
layers live in folders of their own (``drivers/`` is ``hilt.drivers`` through setuptools'
package-dir mapping), so in an editable install that walk would see the core alone and pass
without having read a driver. This script asks the installed package where each subpackage the
contracts name really lives, lays out one ``hilt/`` tree of symbolic links to those files in a
temporary folder, and runs ``lint-imports`` there with this checkout's contracts.

Usage: ``python .ci/lint_imports.py [lint-imports options]`` (``make test`` runs it);
tests/foundation/test_layers.py uses :func:`build_tree` and :func:`run` to see a violation caught.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"


def contract_packages(config: Path = CONFIG) -> list[str]:
    """Every ``hilt.X`` module the import-linter contracts name (the layers among them)."""
    settings = tomllib.loads(config.read_text())["tool"]["importlinter"]
    names: set[str] = set()
    for contract in settings["contracts"]:
        for key in ("layers", "source_modules", "forbidden_modules"):
            names.update(contract.get(key, ()))
    return sorted(n for n in names if n.count(".") == 1 and n.startswith("hilt."))


def _location(name: str) -> Path | None:
    """The folder of package ``name``; None for a plain module (it lies in its parent's folder)."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise SystemExit(f"lint_imports: {name} (named by a contract) is not importable")
    if not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _link_tree(source: Path, target: Path) -> None:
    for folder, subfolders, files in os.walk(source):
        subfolders[:] = [d for d in subfolders if d != "__pycache__" and not d.startswith(".")]
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for file in files:
            if file.endswith((".py", ".pyi")):
                (here / file).symlink_to(Path(folder) / file)


def build_tree(dest: Path) -> Path:
    """Lay out ``dest/hilt`` as the installed package is imported; returns ``dest``."""
    core = _location("hilt")
    if core is None:
        raise SystemExit("lint_imports: hilt is not installed (pip install -e '.[dev]')")
    _link_tree(core, dest / "hilt")
    for name in contract_packages():
        location = _location(name)
        inside = dest / "hilt" / name.split(".", 1)[1]
        if location is not None and not inside.exists():  # a folder of its own (editable install)
            _link_tree(location, inside)
    return dest


def run(tree: Path, args: list[str], capture: bool = False) -> subprocess.CompletedProcess[str]:
    """lint-imports over ``tree`` (run from it, so the tree's ``hilt`` is the one analysed)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run([*command, "--no-cache", "--no-logo", str(CONFIG), *args], cwd=tree, env=env,
                          capture_output=capture, text=True, check=False)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="hilt-lint-imports-") as tmp:
        return run(build_tree(Path(tmp)), argv).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
