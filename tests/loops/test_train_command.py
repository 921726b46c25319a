"""``hilt train`` says what it trains on (the station, simulated or not, and the world's errors,
which ``--errors`` replaces), and shows learning: the untrained model's accuracy on the chip, then
the accuracy after each epoch."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from hilt.gui.cli import main

SMALL = """\
name: small-chip
simulate: true
world: {seed: 5, errors: dat-0.10}
instruments:
  chip:
    driver: photonic_processor
    sim: {n: 16, layers: 2}
"""


def _train(tmp_path: Path, *extra: str) -> str:
    station = tmp_path / "small.yaml"
    station.write_text(SMALL)
    result = CliRunner().invoke(main, ["train", str(station), "--loop", "dat", "--epochs", "2",
                                       "--runs-dir", str(tmp_path / "runs"), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_train_names_the_error_setting_and_prints_accuracy_before_and_after_each_epoch(
        tmp_path: Path) -> None:
    out = _train(tmp_path)
    assert ("training on station 'small-chip', simulated: world errors dat-0.10 "
            "(phase_shifter 0.1, beam_splitter 0.1), world seed 5") in out
    m = re.search(r"physical test accuracy: untrained (\d+\.\d)%, then after each epoch "
                  r"(\d+\.\d)%, (\d+\.\d)%", out)
    assert m is not None, out
    final = re.search(r"dat: accuracy (\d+\.\d)%", out)
    assert final is not None and final.group(1) == m.group(3)  # the last epoch is the result


def test_train_errors_option_replaces_the_simulated_world_errors(tmp_path: Path) -> None:
    out = _train(tmp_path, "--errors", "none")
    assert "world errors none (no errors), world seed 5" in out
    station = tmp_path / "small.yaml"
    bad = CliRunner().invoke(main, ["train", str(station), "--errors", "dat-0.99",
                                    "--runs-dir", str(tmp_path / "runs")])
    assert bad.exit_code == 1 and "unknown error preset 'dat-0.99'" in bad.output
    real = tmp_path / "real.yaml"
    real.write_text(SMALL.replace("simulate: true", "simulate: false").replace(
        "    driver: photonic_processor\n", "    driver: photonic_processor\n    address: tcp://192.0.2.1:7000\n"))
    refused = CliRunner().invoke(main, ["train", str(real), "--errors", "none",
                                        "--runs-dir", str(tmp_path / "runs")])
    assert refused.exit_code == 1 and "is not simulated" in refused.output
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("real*"))
