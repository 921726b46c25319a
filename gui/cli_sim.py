"""``hilt sim ...``: list and serve the instrument simulators (registered on ``hilt`` by
:mod:`hilt.gui.cli`)."""

from __future__ import annotations

import signal
import sys
import threading

import click

from hilt import registry
from hilt.errors import HiltError


@click.group()
def sim() -> None:
    """Instrument simulators."""


@sim.command("list")
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Print how much of each instrument's command reference its simulator implements.")
def sim_list(show_coverage: bool) -> None:
    """Every simulator model, one per line: name, transport, description."""
    if show_coverage:
        _print_coverage()
        return
    for name in registry.simulator_names():
        cls = registry.load_simulator(name)
        click.echo(f"{name:<24} {cls.transport:<7} {cls.description}")


def _print_coverage() -> None:
    import logging

    from hilt.sims.coverage import coverage

    # Probing every command sends the unimplemented ones too: their warnings are the point of
    # the table, not news.
    logging.getLogger("hilt.sims").setLevel(logging.ERROR)
    click.echo(f"{'model':<24} {'implemented':>11}  share  tested")
    for name in registry.simulator_names():
        cov = coverage(name)
        if cov.reference is None:
            click.echo(f"{name:<24} {'-':>11}  {'-':>5}  (no command reference recorded)")
            continue
        tested = sum(bool(c.tests) for c in cov.commands)
        click.echo(f"{name:<24} {cov.implemented:>5} / {len(cov.commands):<3}  {cov.share:>5.0%}  "
                   f"{tested} / {len(cov.commands)}")


@sim.command("coverage-pages")
@click.argument("directory", type=click.Path(file_okay=False), default="docs/simulators")
def sim_coverage_pages(directory: str) -> None:
    """Write one coverage page per simulator model (and an index) into DIRECTORY."""
    import logging
    from pathlib import Path

    from hilt.sims.coverage import write_pages

    logging.getLogger("hilt.sims").setLevel(logging.ERROR)
    for path in write_pages(Path(directory)):
        click.echo(path)


@sim.command("serve")
@click.argument("model")
@click.option("--port", type=int, default=0, help="TCP port (default: chosen by the OS).")
@click.option("--pty", is_flag=True, help="Serve a serial instrument on a pseudo-terminal.")
@click.option("--seed", type=int, default=0, help="Seed of the simulated world.")
@click.option("--name", default=None, help="Instrument name in the world (default: the model).")
def sim_serve(model: str, port: int, pty: bool, seed: int, name: str | None) -> None:
    """Serve one simulator; the first line printed is the address a client uses."""
    from hilt.sims.server import serve
    from hilt.sims.world import World

    try:
        cls = registry.load_simulator(model)
        server = serve(cls(World(seed=seed), name=name), port=port, pty=pty)
    except HiltError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    # Before the address is printed: a client that reads it may stop us at once.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(server.address)
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        server.stop()

from hilt.gui.cli_sim_station import serve_station  # noqa: E402

sim.add_command(serve_station)
