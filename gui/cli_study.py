"""``hilt sweep STUDY.yaml``: run a study (a grid over the DAT benchmark) as independent trials
on Ray Tune or a local process pool (registered on ``hilt`` by :mod:`hilt.gui.cli`;
the runner is :mod:`hilt.loops.sweep`, the design docs/sweeps.md)."""

from __future__ import annotations

import sys

import click

from hilt.errors import HiltError


@click.command("sweep")
@click.argument("study_file", metavar="STUDY", type=click.Path(dir_okay=False))
@click.option("--executor", type=click.Choice(["ray", "local"]), default=None,
              help="ray: Ray Tune (a local Ray on this machine's cores unless --address); "
                   "local: a process pool here, no Ray. Default: the study file's, else ray.")
@click.option("--workers", type=int, default=None,
              help="Trials at once (default: the study file's, else one per core).")
@click.option("--address", default=None,
              help="A Ray cluster to run on (e.g. ray://head:10001 or head:6379).")
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Results folder (default: the study file's output, else studies/NAME).")
@click.option("--limit", type=int, default=None,
              help="Run at most this many trials now; the next `hilt sweep` runs the rest.")
@click.option("--gather-only", is_flag=True,
              help="Only rebuild the tables and the figure from the finished trials.")
def sweep(study_file: str, executor: str | None, workers: int | None, address: str | None,
          output: str | None, limit: int | None, gather_only: bool) -> None:
    """Run STUDY: every trial without a result, each with its own run file, then the tables
    (results.csv, summary.csv) and the figure (accuracy.png) in the results folder.

    Run it again after an interruption: finished trials are not run again.
    """
    from hilt.loops import sweep as runner

    try:
        study = runner.load_study(study_file, output)
        from hilt.gui import cli_stop

        # Ctrl-C: finished trials keep their results; the run files say where each stopped.
        cli_stop.begin(f"study {study.name} (finished trials are kept: run it again to go on)",
                       runs_dir=study.output / "runs")
        if gather_only:
            out = runner.gather(study)
            click.echo(runner.format_summary(runner.summarize(runner.records(study))))
            click.echo(f"results in {out}")
            return
        report = runner.run_study(study, executor=executor, workers=workers, address=address,
                                  limit=limit, progress=lambda name: click.echo(f"done {name}"))
    except HiltError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ImportError as exc:  # ray / pandas / matplotlib: the optional sweep extra
        click.echo(f"error: {exc}; install the sweep extra: pip install 'hilt[sweep]' "
                   "(or run with --executor local)", err=True)
        sys.exit(1)
    if report.results is not None:
        click.echo(runner.format_summary(runner.summarize(runner.records(study))))
    click.echo(f"{study.name}: {report.ran} trials run, {report.skipped} finished before, "
               f"{len(report.failed)} failed, {report.pending} left; {report.seconds:.0f} s; "
               f"results in {study.output}")
    if report.failed:
        for name in report.failed:
            click.echo(f"  failed: {name}", err=True)
        sys.exit(1)
