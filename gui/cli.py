"""The ``hilt`` command line.

It composes every layer (stations, simulators, calibration routines, training loops), so it sits
at the top with the desktop app, as ``hilt.gui.cli`` (ADR 0008); run it as ``hilt ...`` or
``python -m hilt.gui.cli ...``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import click

from hilt import __version__, stations
from hilt.errors import HiltError
from hilt.gui import cli_stop
from hilt.gui.showcase import SHOWCASE_TABS


class _HiltGroup(click.Group):
    """The top-level command: whatever goes wrong below ends as one line, never a traceback.

    A hilt error (a broken station file, an instrument that does not answer) prints
    ``hilt: error: ...`` and exits 1. Anything else is a bug in hilt: one line saying so and where
    its traceback was written (with ``-vv`` the traceback is printed too), exit 1. Ctrl-C (and
    SIGTERM, SIGHUP) exits 130 after saying what was stopped, which instruments went through
    their safe state, and where the run files are (:mod:`hilt.gui.cli_stop`). A reader that
    stops early (``hilt station list | head -1``) ends the command without a word, exit 141, as a
    Unix tool killed by SIGPIPE reads to the shell.
    """

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        cli_stop.begin(f"hilt {name}")  # until the command says more about what it does
        return name, cmd, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: usage errors (exit 2) and explicit exits speak for themselves
        except KeyboardInterrupt as exc:
            for line in cli_stop.report(exc):
                click.echo(f"hilt: {line}", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            _quiet_stdout()
            ctx.exit(141)
        except HiltError as exc:
            click.echo(f"hilt: error: {_one_line(exc)}", err=True)
            ctx.exit(1)
        except Exception as exc:
            where = _write_traceback(exc)
            if ctx.params.get("verbose", 0) >= 2:
                click.echo(traceback.format_exc().rstrip(), err=True)
            saved = f"traceback in {where}" if where else "the traceback could not be saved"
            click.echo(f"hilt: error: {type(exc).__name__}: {_one_line(exc)} (this is a bug in hilt; "
                       f"{saved}; -vv prints it)", err=True)
            ctx.exit(1)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: whatever is left in its buffer is dropped at exit, not reported
    as a second broken pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (click's test runner)
        pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _write_traceback(exc: BaseException) -> Path | None:
    """Keep an unexpected error's traceback in a file for the bug report; its path, or None."""
    folder = Path(os.environ.get("HILT_LOG_DIR") or Path(tempfile.gettempdir()) / "hilt-logs")
    path = folder / f"traceback-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(f"hilt {__version__}, argv {sys.argv!r}\n"
                        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    except OSError:
        return None
    return path


@click.group(cls=_HiltGroup)
@click.version_option(__version__, prog_name="hilt")
@click.option("-v", "--verbose", count=True, help="-v: info, -vv: every byte exchanged (debug), "
                                                  "and the traceback of an unexpected error.")
def main(verbose: int) -> None:
    """hilt: train physical neural networks with the hardware in the loop."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")


# -- hilt station -----------------------------------------------------------------------------
@main.group()
def station() -> None:
    """Station files."""


def _state_text(snap: dict[str, Any]) -> str:
    parts = []
    for pname, value in snap.get("parameters", {}).items():
        if isinstance(value, dict):
            v, unit = value["value"], value["unit"]
            parts.append(f"{pname}={v:g} {unit}" if isinstance(v, float) else f"{pname}={v} {unit}")
        else:
            parts.append(f"{pname}={value}")
    if "channels" in snap:
        parts.append(f"{len(snap['channels'])} channels")
    return ", ".join(parts)


def print_station(st: Any) -> bool:
    """A table of every instrument's identity and state; False if any reported an error."""
    ok = True
    rows = []
    for name, inst in st.instruments.items():
        snap = inst.snapshot()
        ident = snap["identity"]
        if isinstance(ident, dict):
            ident_text = " ".join(v for v in (ident["vendor"], ident["model"], ident["serial"], ident["firmware"]) if v)
        else:
            ident_text, ok = ident, False
        state = _state_text(snap)
        if "<error" in state:
            ok = False
        sim = " (sim)" if name in st.simulators else ""
        rows.append((name + sim, inst.model, ident_text, state))
    widths = [max(len(r[i]) for r in rows + [("instrument", "driver", "identity", "")]) for i in range(3)]
    header = ("instrument", "driver", "identity", "state")
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return ok


@station.command("check")
@click.argument("file", metavar="STATION", type=click.Path(dir_okay=False))
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the snapshot as JSON.")
def station_check(file: str, json_out: str | None) -> None:
    """Check a station file, connect every instrument, print identity and state.

    STATION is a station file, or the name of a bundled one (`hilt station list`). A broken file
    is refused with one line naming the file, line and field, before any simulator starts or any
    link opens. Non-zero exit on any failure.
    """
    from hilt.station import Station

    try:
        with Station.from_yaml(stations.find(file)) as st:
            ok = print_station(st)
            if json_out:
                Path(json_out).write_text(json.dumps(st.snapshot(), indent=2, default=str))
    except HiltError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if not ok:
        click.echo("error: some instruments reported errors (see above)", err=True)
        sys.exit(1)
    click.echo(f"{file}: all instruments OK")


# -- hilt runs ------------------------------------------------------------------------------
from hilt.runfile.cli import runs  # noqa: E402 - a subcommand group, kept next to its reader

main.add_command(runs)

# -- hilt sim: its own module (simulator commands grow with the simulators) ----------------------
from hilt.gui.cli_sim import sim  # noqa: E402

main.add_command(sim)
from hilt.gui.cli_study import sweep  # noqa: E402

main.add_command(sweep)
from hilt.gui.cli_scan import scan  # noqa: E402

main.add_command(scan)
from hilt.gui.cli_slm import slm  # noqa: E402

main.add_command(slm)
from hilt.gui.cli_camera import camera  # noqa: E402

main.add_command(camera)
from hilt.gui.cli_recipe import recipe  # noqa: E402

main.add_command(recipe)


# -- hilt plugins ---------------------------------------------------------------------------
@main.command()
def plugins() -> None:
    """Every driver, simulator, routine and system installed packages declare, and why any of
    them did not load (exit 1 if one did not)."""
    from hilt.registry import check_plugins

    found = check_plugins()
    for p in found:
        status = "ok" if p.ok else f"FAILED: {p.error}"
        click.echo(f"{p.kind:<20} {p.name:<26} {p.package:<22} {status}")
    broken = [p for p in found if not p.ok]
    if broken:
        click.echo(f"hilt: error: {len(broken)} of {len(found)} plug-ins did not load", err=True)
        sys.exit(1)


# -- hilt train / demo -----------------------------------------------------------------------
@main.command()
@click.argument("station_file", metavar="STATION", type=click.Path(dir_okay=False))
@click.option("--loop", "loop", type=click.Choice(["insilico", "insitu", "spsa", "dat"]), default="dat",
              show_default=True, help="insilico: twin only, then deployed; insitu: physics-aware; "
                                      "spsa: zeroth-order; dat: dual adaptive training.")
@click.option("--epochs", type=int, default=3, show_default=True)
@click.option("--lr", type=float, default=None, help="Learning rate [0.01; 0.002 on a neuromorphic board].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--dataset", default="digits", show_default=True, help="digits, mnist:DIR or fashion:DIR (IDX files).")
@click.option("--dat-mode", type=click.Choice(["output", "internal", "block"]), default="internal", show_default=True)
@click.option("--instrument", default=None, help="The photonic processor's name in the station.")
@click.option("--batch-size", type=int, default=None, help="Samples per step (default: the loop's).")
@click.option("--max-retries", type=int, default=None,
              help="Retries of a step after a hardware fault before the run aborts (default 3).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@click.option("--errors", default=None,
              help="(simulated stations) The world's error preset, e.g. dat-0.06, dat-bs-0.10, none "
                   "(default: the station file's).")
@click.option("--quant", type=click.Choice(["per-channel", "per-tensor"]), default=None,
              help="(accelerators) Weight scales per output channel or one per layer [per-channel].")
@click.option("--zero-point", type=click.Choice(["symmetric", "asymmetric"]), default=None,
              help="(accelerators) Activations symmetric, or over the full int8 range with a zero point "
                   "[symmetric].")
@click.option("--weight-zero-point", type=click.Choice(["symmetric", "asymmetric"]), default=None,
              help="(accelerators) Weights symmetric, or with a zero point [symmetric].")
@click.option("--pow2-scales/--free-scales", "pow2", default=None,
              help="(accelerators) Every scale a power of two (shift-only requantisers) [free scales].")
@click.option("--calibration", type=click.Choice(["none", "bias", "bias+weights"]), default=None,
              help="(neuromorphic boards, --loop insitu) The layer-wise calibration on the board before the "
                   "fine-tuning [bias+weights].")
@click.option("--timesteps", type=click.IntRange(1, 1024), default=None,
              help="(neuromorphic boards) Ticks of the spiking network's rate code [32].")
def train(station_file: str, loop: str, epochs: int, lr: float | None, seed: int, dataset: str, dat_mode: str,
          instrument: str | None, batch_size: int | None, max_retries: int | None, runs_dir: str,
          errors: str | None, quant: str | None, zero_point: str | None, weight_zero_point: str | None,
          pow2: bool | None, calibration: str | None, timesteps: int | None) -> None:
    """Train a classifier on a station's physical system; the run file goes under --runs-dir.

    What runs depends on what the station holds: an MZI chip or bench (the four loops), an SLM
    bench (its diffractive layer; insilico, insitu, dat), an int8 accelerator (post-training
    quantisation, then quantisation-aware training; insilico, insitu) or a neuromorphic board
    (conversion, calibration and fine-tuning; insilico, insitu).

    STATION is a station file, or the name of a bundled one (`hilt station list`). A run stopped
    early (a fault it could not ride out, Ctrl-C, a kill) continues with ``hilt resume RUNFILE``.
    """
    from hilt.loops.station import new_run_path, train_on_station
    from hilt.station import Station

    settings = {k: v for k, v in (("batch_size", batch_size), ("max_retries", max_retries)) if v is not None}
    run_path = None
    try:
        st = Station.from_yaml(stations.find(station_file))
        stop = cli_stop.begin(f"training ({loop}) on station {st.name}", resume_hint=True)
        click.echo(_what_it_runs_on(st, errors))
        with cli_stop.station_session(st):
            run_path = stop.run_file = new_run_path(st.name, loop, runs_dir)
            if lr is None:
                lr = _default_lr(st)
            settings.update(_spiking_settings(st, calibration, timesteps))
            settings.update(_quantisation_settings(st, quant, zero_point, weight_zero_point, pow2))
            result = train_on_station(st, loop, instrument=instrument, dataset=dataset, epochs=epochs,
                                      lr=lr, seed=seed, dat_mode=dat_mode, run_path=run_path,
                                      settings=settings, progress_bar=True, measure_start=True)
    except HiltError as exc:
        _report_error(exc)
        _resume_hint(run_path)
        sys.exit(1)
    _report_training(loop, result)


def _default_lr(st: Any) -> float:
    """The learning rate of a run without --lr: 0.01, and 0.002 for the weights of a spiking
    network on a neuromorphic board (0.01 moves a calibrated network's 8-bit weights by several
    steps each update and loses accuracy; BENCHMARKS.md)."""
    from hilt.loops.snn_board import station_neuromorphic

    return 0.002 if station_neuromorphic(st) is not None else 0.01


def _spiking_settings(st: Any, calibration: str | None, timesteps: int | None) -> dict[str, Any]:
    """The neuromorphic loop's settings (hilt.loops.snn_board.SnnBoardSettings) the flags give;
    a ConfigError naming the flags on a station without a neuromorphic board."""
    from hilt.errors import ConfigError
    from hilt.loops.snn_board import station_neuromorphic

    given = {k: v for k, v in (("mode", calibration), ("timesteps", timesteps)) if v is not None}
    if given and station_neuromorphic(st) is None:
        raise ConfigError(f"--calibration and --timesteps are for a neuromorphic board; station {st.name!r} "
                          "has none")
    return given


def _quantisation_settings(st: Any, quant: str | None, zero_point: str | None,
                           weight_zero_point: str | None, pow2: bool | None) -> dict[str, bool]:
    """The int8 loop's scheme settings (hilt.loops.int8_board.Int8Settings) the flags give; the
    loop checks them against the board's IDENTIFY before it sends a model, naming the flag. A
    ConfigError naming the flags on a station without an accelerator."""
    from hilt.errors import ConfigError
    from hilt.loops.int8_board import station_accelerator

    given = {"per_channel": None if quant is None else quant == "per-channel",
             "asymmetric": None if zero_point is None else zero_point == "asymmetric",
             "weight_asymmetric": None if weight_zero_point is None else weight_zero_point == "asymmetric",
             "pow2": pow2}
    given = {k: v for k, v in given.items() if v is not None}
    if given and station_accelerator(st) is None:
        raise ConfigError("--quant, --zero-point, --weight-zero-point and --pow2-scales/--free-scales are "
                          f"for an int8 accelerator; station {st.name!r} has none")
    return given


def _what_it_runs_on(st: Any, errors: str | None) -> str:
    """One line naming the chip a training runs on: simulated with which errors, or real.
    ``errors`` replaces a simulated station's world error preset (refused on a real one)."""
    from hilt.errors import ConfigError
    from hilt.sims.physics import error_levels

    cfg = st.config
    if not cfg.simulate:
        if errors is not None:
            raise ConfigError(f"station {st.name!r} is not simulated: --errors sets a simulated "
                              "world's errors")
        return f"training on station {st.name!r} (real instruments)"
    if errors is not None:
        try:
            error_levels(errors)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        cfg.world.errors = errors
    levels = {k: v for k, v in error_levels(cfg.world.errors).__dict__.items() if v not in (0.0, None)}
    what = ", ".join(f"{k} {v:g}" for k, v in levels.items()) or "no errors"
    return (f"training on station {st.name!r}, simulated: world errors {cfg.world.errors} ({what}), "
            f"world seed {cfg.world.seed}")


def _report_error(exc: BaseException) -> None:
    click.echo(f"error: {exc}", err=True)
    for note in getattr(exc, "__notes__", ()):  # e.g. "the safe state failed too: ..."
        click.echo(f"  {note}", err=True)


def _resume_hint(run_path: Path | None) -> None:
    if run_path is not None and run_path.exists():
        click.echo(f"run file {run_path}; continue it with: hilt resume {run_path}", err=True)


def _report_training(loop: str, result: Any) -> None:
    per_epoch = [h["test_accuracy"] for h in result.history if "test_accuracy" in h]
    start = result.extra.get("start_accuracy")
    if per_epoch:
        before = "" if start is None else f"untrained {100 * start:.1f}%, then "
        click.echo(f"physical test accuracy: {before}after each epoch "
                   + ", ".join(f"{100 * a:.1f}%" for a in per_epoch))
    faults = f", {result.faults} hardware faults ridden out" if result.faults else ""
    click.echo(f"{loop}: accuracy {100 * result.accuracy:.1f}% on the physical system "
               f"(twin {100 * result.twin_accuracy:.1f}%), {result.physical_queries} physical queries, "
               f"{result.seconds:.1f} s{faults}; run file {result.run_path}")


@main.command()
@click.argument("run_file", type=click.Path(dir_okay=False))
@click.option("--station", "station_file", default=None, type=click.Path(dir_okay=False),
              help="Use this station (a file or a bundled station's name) instead of the one the "
                   "run recorded.")
@click.option("--max-retries", type=int, default=None,
              help="Retries of a step after a hardware fault (default: what the run recorded).")
def resume(run_file: str, station_file: str | None, max_retries: int | None) -> None:
    """Continue a crashed or aborted run of ``hilt train`` from its last checkpoint.

    The station is started from the station file the run recorded (as it was when the run
    started), with the same loop, settings and seed; the run goes on in RUN_FILE. A completed
    run is refused.
    """
    from hilt.errors import ConfigError
    from hilt.loops.station import resume_run

    path = Path(run_file)
    cli_stop.begin(f"resumed run {path}", run_file=path, resume_hint=True)
    try:
        with_loop = _recorded_loop(path)
        if station_file is not None:
            station_file = str(stations.find(station_file))
        result = resume_run(path, station_file=station_file, max_retries=max_retries, progress_bar=True)
    except HiltError as exc:
        _report_error(exc)
        if not isinstance(exc, ConfigError):  # refused before it started: nothing new to resume
            _resume_hint(path)
        sys.exit(1)
    _report_training(with_loop, result)


def _recorded_status(run_file: Path | None, status: str) -> str:
    """The status the run file was closed with (hilt.runfile.status's words, as ``hilt runs``
    shows them), so that a command's summary never says otherwise."""
    from hilt.runfile import RunFileError, open_run

    if run_file is None:
        return status
    try:
        with open_run(run_file) as run:
            return run.status
    except RunFileError:
        return status


def _recorded_loop(path: Path) -> str:
    from hilt.runfile import open_run

    with open_run(path) as run:
        return str((run.info.get("config") or {}).get("station_run", {}).get("loop", "run"))


@main.command()
@click.argument("station_file", metavar="STATION", type=click.Path(dir_okay=False), required=False)
@click.argument("routine", required=False)
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A routine option (value read as YAML), e.g. -o points=16 -o inputs=[0,7].")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@click.option("--list", "list_routines", is_flag=True, help="List the calibration routines.")
def calibrate(station_file: str | None, routine: str | None, options: tuple[str, ...], runs_dir: str,
              list_routines: bool) -> None:
    """Run a calibration ROUTINE on a station; writes a run file and a calibration file.

    STATION is a station file, or the name of a bundled one (`hilt station list`).
    """
    from tqdm import tqdm

    from hilt.loops.calibration import describe, parse_options, routine_names, run_calibration
    from hilt.station import Station

    if list_routines or not (station_file and routine):
        for name in routine_names():
            click.echo(f"{name:<28} {describe(name)}")
        if not list_routines:
            sys.exit(0 if not (station_file or routine) else 2)
        return
    bar = tqdm(total=1, desc=routine, unit="step")

    def progress(done: int, total: int, message: str = "") -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message[:40])
        bar.refresh()

    try:
        opts = parse_options(routine, list(options))
        st = Station.from_yaml(stations.find(station_file))
        cli_stop.begin(f"calibration {routine} on station {st.name}", runs_dir=runs_dir)
        with cli_stop.station_session(st):
            result = run_calibration(st, routine, out_dir=runs_dir, progress=progress, **opts)
    except HiltError as exc:
        bar.close()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        bar.close()  # before anything else is printed, Ctrl-C included
    result.status = _recorded_status(result.run_file, result.status)
    click.echo(result.summary())
    if result.status != "completed":
        sys.exit(1)


@main.command()
@click.option("--quick", is_flag=True, help="The short version (under 2 minutes).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the comparison table as JSON.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@click.option("--system", type=click.Choice(["mzi", "diffractive"]), default="mzi", show_default=True,
              help="mzi: the DAT paper's MZI experiment on the simulated station; diffractive: a THz "
                   "diffractive network under misalignment and fabrication errors.")
@click.option("--local", is_flag=True, help="(mzi) Evaluate the chip in-process instead of through the station.")
def demo(quick: bool, json_path: str | None, runs_dir: str, system: str, local: bool) -> None:
    """Train with every method and print the comparison table (the DAT benchmark)."""
    cli_stop.begin(f"hilt demo ({system}{', quick' if quick else ''})", runs_dir=runs_dir)
    try:
        if system == "diffractive":
            from hilt.loops.diffractive import run_diffractive_demo

            run_diffractive_demo(quick=quick, json_path=json_path, runs_dir=runs_dir)
            return
        from hilt.loops.demo import run_demo

        run_demo(quick=quick, json_path=json_path, runs_dir=runs_dir, local=local)
    except HiltError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@station.command("list")
def station_list() -> None:
    """The example stations that come with hilt, one per line: name, file, what it is.

    Each is a complete station file, simulated (``simulate: true``): every command that takes a
    station takes its name (``hilt station check NAME``, ``hilt train NAME``); or copy the file
    and fill in your bench's addresses.
    """
    import yaml

    files = [stations.path(name) for name in stations.names()]
    if not files:
        raise click.ClickException("no bundled stations found (hilt.stations holds no .yaml file)")
    rows = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        # What it is: its opening comment, up to the first colon or full stop.
        opening = itertools.takewhile(lambda ln: ln.startswith("#"), text.splitlines())
        comment = " ".join(ln.lstrip("#").strip() for ln in opening)
        head = re.split(r"[:.](?:\s|$)", comment, maxsplit=1)[0].strip()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            data = None
        name = str(data.get("name", path.stem)) if isinstance(data, dict) else path.stem
        rows.append((name, str(path), head))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for name, file, description in rows:
        click.echo(f"{name:<{widths[0]}}  {file:<{widths[1]}}  {description}".rstrip())


@station.command("show")
@click.option("--station", "station_file", type=click.Path(dir_okay=False), default="thz-lab",
              show_default=True, help="A station file, or the name of a bundled one.")
def station_show(station_file: str) -> None:
    """Start a (simulated) station and show every instrument's identity and state."""
    from hilt.station import Station

    try:
        with Station.from_yaml(stations.find(station_file)) as st:
            click.echo(f"station {st.name!r} from {station_file}: {len(st.instruments)} instruments")
            print_station(st)
    except HiltError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


# -- hilt gui --------------------------------------------------------------------------------
@main.command()
@click.argument("station_file", metavar="[STATION]", required=False, type=click.Path(dir_okay=False))
@click.option("--screenshot", type=click.Path(dir_okay=False),
              help="Save the window as a PNG after --after seconds of a connected session, then exit.")
@click.option("--after", type=float, default=3.0, show_default=True,
              help="Seconds between connecting and taking the --screenshot.")
@click.option("--show", type=click.Choice(SHOWCASE_TABS, case_sensitive=False),
              default=None, help="Once connected, start this tab's showcase: a short training, a "
                                 "heater calibration, or the newest run of --runs-dir "
                                 "[default: Training when no STATION is given].")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="Where the showcase writes and looks for run files.")
def gui(station_file: str | None, screenshot: str | None, after: float, show: str | None,
        runs_dir: str) -> None:
    """Open the desktop app on STATION and connect it.

    STATION is a station file or a bundled station's name (`hilt station list`); without it the
    simulated MZI example opens and a short training starts, so there is something to watch.
    With --screenshot the window is saved as a PNG and the app exits (it works without a
    display: QT_QPA_PLATFORM=offscreen).
    """
    from hilt.gui.app import run_app

    show = show.capitalize() if show else None
    sys.exit(run_app(station_file, screenshot=screenshot, after=after, show=show, runs_dir=runs_dir))


if __name__ == "__main__":
    main()
