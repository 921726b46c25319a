"""hilt sweep: study files, trial names, summaries, and a tiny study run on a local process pool
and on a local Ray, interrupted and resumed (finished trials are not run again)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hilt.errors import ConfigError
from hilt.loops import sweep

TINY = """\
name: tiny
grid:
  errors: [dat-0.10]
  method: [deployed, pat]
  seed: [0]
  chip: [1, 2]
fixed:
  n_ports: 16
  n_meshes: 2
  n_train: 48
  n_test: 32
  insilico_epochs: 1
  finetune_epochs: 1
  batch_size: 16
"""


def write_study(tmp_path: Path, text: str = TINY) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_study_file_is_checked_before_anything_runs(tmp_path) -> None:
    bad = {
        "grid:\n  colour: [red]\n": "grid axis 'colour'",
        "grid:\n  method: [magic]\n": "method 'magic'",
        "grid:\n  errors: [dat-0.99]\n": "unknown error preset 'dat-0.99'",
        "fixed:\n  epochs: 3\n": "fixed settings ['epochs']",
        "grid:\n  seed: [0]\nfixed:\n  seed: 1\n": "both fixed and swept",
        "speed: fast\n": "unknown keys ['speed']",
        "executor: slurm\n": "executor 'slurm'",
    }
    for text, message in bad.items():
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            sweep.load_study(write_study(tmp_path, text))
    with pytest.raises(ConfigError, match="no such study file"):
        sweep.load_study(tmp_path / "missing.yaml")


def test_trials_of_a_study_two_stages_with_names_from_their_parameters(tmp_path) -> None:
    study = sweep.load_study(write_study(tmp_path), tmp_path / "out")
    ins = sweep.insilico_trials(study)
    fine = sweep.finetune_trials(study)
    assert ins == [{"stage": "insilico", "seed": 0}]  # one in-silico model per training seed
    assert len(fine) == 1 * 2 * 1 * 2
    names = [sweep.trial_name(p) for p in fine]
    assert len(set(names)) == len(names)
    assert "finetune__chip=1__errors=dat-0.10__method=pat__seed=0" in names
    # the same parameters in another order: the same name
    p = dict(reversed(list(fine[0].items())))
    assert sweep.trial_name(p) == names[0]


def test_summary_mean_std_and_confidence_interval() -> None:
    rows = [{"errors": "e", "method": "m", "accuracy": a} for a in (0.5, 0.7, 0.9)]
    rows.append({"errors": "e", "method": "only", "accuracy": 0.4})
    s = {r["method"]: r for r in sweep.summarize(rows)}
    assert s["m"]["mean"] == pytest.approx(0.7)
    assert s["m"]["std"] == pytest.approx(0.2)
    assert s["m"]["ci95"] == pytest.approx(4.302653 * 0.2 / math.sqrt(3), rel=1e-5)
    assert s["m"]["n"] == 3 and s["only"]["n"] == 1 and math.isnan(s["only"]["std"])
    table = sweep.format_summary(sweep.summarize(rows))
    assert "70.0 +- 20.0 (3)" in table and "40.0 +-  0.0 (1)" in table


def _mtimes(out: Path) -> dict[str, int]:
    return {f.name: f.stat().st_mtime_ns for f in (out / "trials").glob("*.json")}


def _check_results(out: Path, n_finetune: int) -> list[dict]:
    records = [json.loads(f.read_text()) for f in (out / "trials").glob("finetune__*.json")]
    assert len(records) == n_finetune
    for r in records:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["deployed"] <= 1.0
        if r["method"] == "deployed":
            assert r["physical_queries"] == 0 and r["accuracy"] == r["deployed"]
        else:
            assert r["physical_queries"] == 48  # one epoch of the training set on the chip
            assert Path(r["run_file"]).exists()
    assert (out / "results.csv").exists() and (out / "summary.csv").exists()
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return sorted(records, key=lambda r: r["trial"])


def _interrupt_and_resume(tmp_path: Path, executor: str) -> list[dict]:
    study = sweep.load_study(write_study(tmp_path), tmp_path / executor)
    out = study.output
    # Interrupted after the in-silico model and two trials ...
    first = sweep.run_study(study, executor=executor, workers=2, limit=3)
    assert (first.ran, first.skipped, first.pending, first.failed) == (3, 0, 2, [])
    done = _mtimes(out)
    assert len(done) == 3
    # ... and a trial cut off half-way left its run file behind.
    pending = [p for p in sweep.finetune_trials(study) if not sweep.finished(study, p)]
    stale = out / "runs" / f"{sweep.trial_name(pending[-1])}.h5"
    stale.write_bytes(b"not a finished run file")
    second = sweep.run_study(study, executor=executor, workers=2)
    assert (second.ran, second.skipped, second.pending, second.failed) == (2, 3, 0, [])
    after = _mtimes(out)
    assert {k: after[k] for k in done} == done  # finished trials were not run again
    assert stale.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"  # the cut-off trial started over
    third = sweep.run_study(study, executor=executor)
    assert (third.ran, third.skipped) == (0, 5)
    return _check_results(out, 4)


# Worker processes that each import torch: the hang guard allows for a loaded 2-core machine.
@pytest.mark.timeout(400)
def test_tiny_study_on_a_process_pool_resumes_after_an_interruption(tmp_path) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    records = _interrupt_and_resume(tmp_path, "local")
    # the same trial, run again from scratch, gives the same result (seeded end to end)
    again = sweep.run_trial(
        {k: records[-1][k] for k in ("stage", "errors", "method", "seed", "chip")},
        sweep.load_study(write_study(tmp_path), tmp_path / "local").to_dict())
    assert again["accuracy"] == records[-1]["accuracy"]


# In the full suite only (`pytest -m "slow or not slow"`): a local Ray and its Tune runs cost a
# minute or more on two cores, a run of the study without the interruption most of that. The
# resume logic is not Ray's (run_study skips finished trials before an executor sees them): the
# process pool test above covers it in the default run.
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_tiny_study_on_a_local_ray_resumes_after_an_interruption(tmp_path) -> None:
    pytest.importorskip("ray")
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    _interrupt_and_resume(tmp_path, "ray")
    assert (tmp_path / "ray" / "ray").is_dir()  # Ray Tune's own experiment folders


def test_sweep_command_runs_a_study_and_says_what_ran(tmp_path) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from click.testing import CliRunner

    from hilt.gui.cli import main

    study = write_study(tmp_path, TINY.replace("method: [deployed, pat]", "method: [deployed]"))
    res = CliRunner().invoke(main, ["sweep", str(study), "--executor", "local",
                                    "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "tiny: 3 trials run, 0 finished before, 0 failed, 0 left" in res.output
    assert "deployed" in res.output and "(2)" in res.output  # mean over the two chips
    res = CliRunner().invoke(main, ["sweep", str(study), "--executor", "local",
                                    "--output", str(tmp_path / "out")])
    assert "0 trials run, 3 finished before" in res.output
    bad = CliRunner().invoke(main, ["sweep", str(write_study(tmp_path, "speed: 1\n"))])
    assert bad.exit_code == 1 and "unknown keys ['speed']" in bad.output


def test_a_station_study_asks_ray_for_its_bench(tmp_path) -> None:
    """Trials on a physical station ask for the custom resource station:NAME (one unit: one
    trial at a time on that bench; docs/sweeps.md); twin-only studies ask for none."""
    text = TINY + "backend: station\nstation: hilt/stations/mzi-large.yaml\n"
    study = sweep.load_study(write_study(tmp_path, text))
    assert study.station_resource == "station:mzi-large"
    assert sweep.load_study(write_study(tmp_path)).station_resource is None
    with pytest.raises(ConfigError, match="backend 'cloud'"):
        sweep.load_study(write_study(tmp_path, TINY + "backend: cloud\n"))


def test_results_of_other_fixed_settings_are_not_taken_for_this_study(tmp_path) -> None:
    study = sweep.load_study(write_study(tmp_path), tmp_path / "out")
    study.output.mkdir()
    other = dict(study.to_dict(), fixed={**study.fixed, "finetune_epochs": 9})
    (study.output / "study.json").write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="other fixed"):
        sweep.run_study(study, executor="local")
    grown = dict(study.to_dict(), grid={**study.grid, "chip": [1]})  # a grid may grow
    (study.output / "study.json").write_text(json.dumps(grown))
    sweep._check_same_settings(study)
