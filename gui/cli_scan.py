"""``hilt scan STATION PARAM START STOP N --read PARAM ...``: a sweep from the shell
(registered on ``hilt`` by :mod:`hilt.gui.cli`; the sweep is :func:`hilt.loops.scan.scan`,
the guide docs/scans.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from hilt.errors import HiltError


def _display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return False
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _apply_sets(station: Any, sets: tuple[str, ...]) -> list[tuple[str, Any, Any]]:
    """``NAME=VALUE`` settings, all checked before the first is sent."""
    from hilt.loops.scan import resolve

    checked = []
    for item in sets:
        name, eq, text = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE (e.g. synth.power=5dBm)", param_hint="--set")
        _, target, _unit = resolve(station, name.strip())
        if not getattr(target, "settable", False):
            raise click.BadParameter(f"{name!r} is not a settable parameter", param_hint="--set")
        checked.append((name.strip(), target, target.validate(text.strip())))
    for _name, target, value in checked:
        target.set(value)
    return checked


@click.command("scan", context_settings={"ignore_unknown_options": True})
@click.argument("station_file", metavar="STATION", type=click.Path(dir_okay=False))
@click.argument("param", metavar="PARAM")
@click.argument("start")
@click.argument("stop")
@click.argument("num", metavar="N", type=click.IntRange(min=1))
@click.option("--read", "-r", "reads", multiple=True, required=True, metavar="PARAM",
              help="A parameter to read at every point (repeat for more), e.g. lockin.r.")
@click.option("--axis", "inner", multiple=True, type=(str, str, str, click.IntRange(min=1)),
              metavar="PARAM START STOP N", help="An inner axis (repeat for more): a 2-D sweep "
              "nests it inside PARAM, e.g. --axis stage.x -10 10 21.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Set before the sweep (repeat), e.g. --set synth.power=5dBm --set synth.output=on.")
@click.option("--settle", default="auto", show_default=True,
              help="Wait after each point's settings: 'auto' (what a read lock-in needs to settle) or seconds.")
@click.option("--snake", is_flag=True, help="Run every other inner line backwards (a stage raster).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="The sweep file (default: a new name under --runs-dir).")
@click.option("--plot/--no-plot", default=None,
              help="A live plot window (default: when a display is available).")
@click.option("--hold", is_flag=True, help="Keep the plot window open at the end until it is closed.")
@click.option("--figure/--no-figure", default=True, show_default=True,
              help="Draw a PNG beside the sweep file at the end (needs matplotlib).")
def scan(station_file: str, param: str, start: str, stop: str, num: int, reads: tuple[str, ...],
         inner: tuple[tuple[str, str, str, int], ...], sets: tuple[str, ...], settle: str, snake: bool,
         runs_dir: str, output: str | None, plot: bool | None, hold: bool, figure: bool) -> None:
    """Sweep PARAM from START to STOP in N points (ends included) on STATION, reading --read at
    every point, into a sweep file that opens as an xarray Dataset (docs/scans.md).

    PARAM and --read are INSTRUMENT.PARAMETER or ROLE.PARAMETER (synth.frequency, detector.r);
    START and STOP take units ("12.5 GHz"). Every setpoint is checked against the instrument's
    range and the station's limits before anything is sent. Ctrl-C stops the sweep, puts the
    station in its safe state, keeps the points measured so far and says where they are.
    """
    from hilt import stations
    from hilt.loops.scan import Axis
    from hilt.loops.scan import scan as run_scan
    from hilt.station import Station

    axes = [Axis(param, start, stop, num)] + [Axis(p, a, b, n) for p, a, b, n in inner]
    observers = []
    if plot is None:
        plot = _display_available()
    if plot:
        from hilt.gui.scan_plot import LiveScanPlot

        observers.append(LiveScanPlot(f"hilt scan {station_file}", hold=hold))
    from hilt.gui import cli_stop
    from hilt.loops.station import new_run_path

    result = None
    try:
        st = Station.from_yaml(stations.find(station_file))
        path = Path(output) if output else new_run_path(st.name, "scan", runs_dir)
        cli_stop.begin(f"scan of {' x '.join(a.param for a in axes)} on station {st.name}", run_file=path)
        with cli_stop.station_session(st):
            for name, _target, value in _apply_sets(st, sets):
                click.echo(f"set {name} = {value}")
            result = run_scan(st, *axes, read=list(reads), settle=settle, path=path, snake=snake,
                              observers=observers, figure=figure)
    except HiltError as exc:
        click.echo(f"error: {exc}", err=True)
        for note in getattr(exc, "__notes__", ()):
            click.echo(f"  {note}", err=True)
        sys.exit(1)
    assert result is not None
    click.echo(f"{result.status}: {result.points_done} of {result.total} points in {result.seconds:.1f} s")
    click.echo(f"sweep file: {result.path}")
    if result.figure:
        click.echo(f"figure: {result.figure}")

