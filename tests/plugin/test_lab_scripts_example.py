"""examples/lab-scripts: its tests pass, run exactly as its CI workflow runs them.

The example is copied to a temporary folder (as a lab's own checkout), and the workflow's pytest
step is run there with this interpreter, in a process of its own.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lab-scripts"


def workflow_pytest_command() -> list[str]:
    """The pytest command of the example's CI workflow, as arguments."""
    workflow = yaml.safe_load((EXAMPLE / ".github" / "workflows" / "ci.yml").read_text())
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    (command,) = [line for run in runs for line in run.splitlines() if "-m pytest" in line]
    args = shlex.split(command)
    assert args[:3] == ["python", "-m", "pytest"] and "--hilt-station" in args
    return [sys.executable, *args[1:]]


def test_the_examples_tests_pass_as_its_ci_runs_them(tmp_path: Path) -> None:
    checkout = tmp_path / "lab-scripts"
    shutil.copytree(EXAMPLE, checkout, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([*workflow_pytest_command(), "-p", "no:cacheprovider", "-p", "no:pytestqt", "-p", "no:hypothesispytest"], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "hilt: station bench.yaml, every instrument simulated" in done.stdout
    passed = [line for line in done.stdout.splitlines() if line.endswith("PASSED") or " PASSED " in line]
    assert len(passed) == 4, done.stdout[-4000:]
