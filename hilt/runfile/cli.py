"""``hilt runs``: list, summarise and export run files (the lead wires ``runs`` into ``hilt``)."""

from __future__ import annotations

import collections
import datetime
import json
from pathlib import Path
from typing import Any

import click

from hilt.runfile._errors import RunFileError
from hilt.runfile.reader import RunReader


def format_size(n: int) -> str:
    """Bytes in kB, MB, GB (powers of 1000), as ``hilt runs`` shows them."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


_FAULTS_SHOWN = 20


@click.group("runs")
def runs() -> None:
    """Inspect and export run files (HDF5)."""


@runs.command("list")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def list_runs(directory: Path) -> None:
    """Every run file in DIRECTORY: name, status, steps, size (a sweep file from hilt scan: the
    points measured of its grid).

    \b
    Status:
      running    a writer has the file open and is writing it
      completed  it ran to its end
      aborted    stopped before its end: Ctrl-C, the Abort button, a signal, or a hardware
                 fault or limit the loop gave up on (it can be resumed)
      failed     stopped by an error that is not a hardware fault (it can be resumed)
      crashed    the file says running but no writer holds it (killed, or the machine stopped)
      damaged    not readable as a run file

    HDF5 files that are not run files are skipped.
    """
    rows: list[tuple[str, str, str, str]] = []
    from hilt.runfile.sweep_file import is_sweep_file, open_sweep

    for path in sorted(directory.glob("*.h5")):
        size = format_size(path.stat().st_size)
        if is_sweep_file(path):  # a hilt scan file: points measured of the grid
            try:
                sweep = open_sweep(path)
                done = f"{sweep.points_done}/{sweep.total}pt"
                rows.append((path.name, sweep.status, done, size))
            except RunFileError:
                rows.append((path.name, "damaged", "-", size))
            continue
        try:
            with RunReader(path) as run:
                rows.append((path.name, run.status, str(run.steps().size), size))
        except RunFileError as exc:
            if "not a hilt run file" in str(exc):
                continue
            rows.append((path.name, "damaged", "-", size))
    if not rows:
        click.echo(f"no run files in {directory}")
        return
    width = max(len("name"), *(len(r[0]) for r in rows))
    swidth = max(7, *(len(r[2]) for r in rows))
    click.echo(f"{'name':<{width}}  {'status':<9}  {'steps':>{swidth}}  {'size':>9}")
    for name, status, steps, size in rows:
        click.echo(f"{name:<{width}}  {status:<9}  {steps:>{swidth}}  {size:>9}")


def _unit_text(unit: str) -> str:
    return "" if unit in ("", "1") else f" {unit}"


def _line(label: str, value: Any) -> None:
    click.echo(f"{label + ':':<16}{value}")


def _show_sweep(file: Path, as_json: bool) -> None:
    from hilt.runfile.sweep_file import open_sweep

    try:
        sweep = open_sweep(file)
    except RunFileError as exc:
        raise click.ClickException(str(exc)) from None
    total = sweep.total
    summary = {
        "path": str(file), "kind": "sweep", "status": sweep.status, "reason": sweep.reason,
        "points_done": sweep.points_done, "points": total,
        "axes": {a: {"from": float(sweep.coords[a][0]), "to": float(sweep.coords[a][-1]),
                     "points": len(sweep.coords[a]), "units": sweep.units[a]} for a in sweep.axes},
        "readings": {r: sweep.units[r] for r in sweep.readings},
        "created": sweep.attrs.get("created"), "finished": sweep.attrs.get("finished"),
        "command": sweep.attrs.get("command"), "station_file": sweep.attrs.get("station_file"),
        "clock": sweep.attrs.get("clock"),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    _line("sweep", str(file))
    _line("status", sweep.status)
    if sweep.reason:
        _line("reason", sweep.reason)
    _line("points", f"{sweep.points_done} of {total}")
    for a, ax in summary["axes"].items():
        _line(f"  {a}", f"{ax['from']:.6g} to {ax['to']:.6g}{_unit_text(ax['units'])}, {ax['points']} points")
    _line("readings", ", ".join(f"{r}{_unit_text(u) and ' (' + u + ')'}" for r, u in summary["readings"].items()))
    _line("started", summary["created"])
    _line("ended", summary["finished"] or "-")
    _line("command", summary["command"])
    if summary["station_file"]:
        _line("station", summary["station_file"])


@runs.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON.")
def show(file: Path, as_json: bool) -> None:
    """A summary of one run file (or sweep file)."""
    from hilt.runfile.sweep_file import is_sweep_file

    if is_sweep_file(file):
        _show_sweep(file, as_json)
        return
    try:
        with RunReader(file) as run:
            s = run.summary()
    except RunFileError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(s, indent=2, default=str))
        return
    _line("run", f"{s['path']} ({s['run_id']})")
    _line("status", s["status"])
    if s["reason"]:
        _line("reason", s["reason"])
    _line("layout", f"version {s['layout_version']}.{s['layout_minor']}, written by hilt {s['hilt_version']}")
    _line("started", s["start_time"])
    _line("ended", s["end_time"] or "-")
    _line("command", s["command_line"])
    _line("seeds", json.dumps(s["seeds"]))
    if s["station_file"]:
        _line("station", s["station_file"])
    _line("steps", f"{s['steps']} (last {s['last_step']}), {s['scalar_rows']} scalar rows")
    for name, value in s["last_scalars"].items():
        unit = s["units"].get(name, "")
        _line(f"  {name}", f"{value:.6g}{_unit_text(unit)} (last)")
    last_epoch = dict(s["last_epoch"])
    if s["epochs"]:
        epoch, step = last_epoch.pop("epoch"), last_epoch.pop("step")
        _line("epochs", f"{s['epochs']} summaries (last: epoch {epoch}, step {step})")
        for name, value in last_epoch.items():
            _line(f"  {name}", f"{value:.6g}{_unit_text(s['epoch_units'].get(name, ''))}")
    for stream, c in s["captures"].items():
        shapes = ", ".join(f"{f} {tuple(c[f + '_shape'])} {dt}" for f, dt in c["dtypes"].items())
        _line(f"capture {stream}", f"{c['rows']} rows: {shapes}")
    ck = s["checkpoints"]
    _line("checkpoints", f"{len(ck)}" + (f", last at step {ck[-1]}" if ck else ""))
    _line("calibration", ", ".join(s["calibrations"]) or "-")
    for i, ses in enumerate(s["sessions"]):
        resumed = f", resumed from step {ses['resumed_from_step']}" if i else ""
        why = f" ({ses['reason']})" if ses["reason"] else ""
        _line(f"session {i}", f"pid {ses['pid']} on {ses['host']}: {ses['status']}{resumed}{why}")
    faults = s["faults"]
    outcomes = collections.Counter(f["outcome"] for f in faults)
    _line("faults", f"{len(faults)}" + (f" ({', '.join(f'{n} {o}' for o, n in outcomes.items())})"
                                         if faults else ""))
    shown = faults if len(faults) <= _FAULTS_SHOWN else faults[-_FAULTS_SHOWN:]
    if len(shown) < len(faults):
        click.echo(f"  ... {len(faults) - len(shown)} earlier faults (--json lists all)")
    for f in shown:
        when = datetime.datetime.fromtimestamp(f["time"]).strftime("%H:%M:%S.%f")[:-3]
        where = f["instrument"] + (f" [{f['command']}]" if f["command"] else "")
        step = f"step {f['step']}" if f["step"] >= 0 else "outside a step"
        click.echo(f"  {when} {step}, retry {f['retry']}: {where} {f['error_type']}: "
                   f"{f['message']} -> {f['outcome']}")
    _line("size", f"{format_size(s['size_bytes'])} (+ {format_size(s['companion_bytes'])} companion)")


@runs.command("export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "fmt", type=click.Choice(["npz", "netcdf"]), required=True,
              help="npz (NumPy) or netcdf (needs xarray).")
def export(file: Path, out: Path, fmt: str) -> None:
    """Export the scalars and captures of FILE to OUT."""
    try:
        with RunReader(file) as run:
            written = run.export_npz(out) if fmt == "npz" else run.export_netcdf(out)
    except RunFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {written} ({format_size(written.stat().st_size)})")
