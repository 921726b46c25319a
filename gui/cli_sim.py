"""``hilt sim ...``: list and serve the instrument simulators (registered on ``hilt`` by
:mod:`hilt.gui.cli`)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

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


def _quiet_simulators() -> contextlib.AbstractContextManager[None]:
    """Probing every command sends the unimplemented ones too: their warnings are the point of
    the coverage table, not news."""
    import logging

    @contextlib.contextmanager
    def quiet() -> Iterator[None]:
        logger = logging.getLogger("hilt.sims")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)
    return quiet()


def _print_coverage() -> None:
    from hilt.sims.coverage import coverage

    with _quiet_simulators():
        _print_coverage_table(coverage)


def _print_coverage_table(coverage: Callable[[str], Any]) -> None:
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
    from pathlib import Path

    from hilt.sims.coverage import write_pages

    with _quiet_simulators():
        written = write_pages(Path(directory))
    for path in written:
        click.echo(path)


@sim.command("serve")
@click.argument("model")
@click.option("--port", type=int, default=0, help="TCP port (default: chosen by the OS).")
@click.option("--pty", is_flag=True, help="Serve a serial instrument (or an instrument's RS-232 port) on a pseudo-terminal.")
@click.option("--serial", is_flag=True,
              help="Serve the RS-232 port of an instrument that also has one, as a socket:// URL.")
@click.option("--seed", type=int, default=0, help="Seed of the simulated world.")
@click.option("--name", default=None, help="Instrument name in the world (default: the model).")
def sim_serve(model: str, port: int, pty: bool, serial: bool, seed: int, name: str | None) -> None:
    """Serve one simulator; the first line printed is the address a client uses.

    An instrument with further network ports (the DLC pro's monitoring line) serves them too,
    one more line each: ``<port name> <address>``.
    """
    from hilt.sims.server import serve, serve_extra_ports
    from hilt.sims.world import World

    try:
        cls = registry.load_simulator(model)
        sim_ = cls(World(seed=seed), name=name)
        server = serve(sim_, port=port, pty=pty, serial=serial)
        extra = serve_extra_ports(sim_) if not (pty or serial) else {}
    except HiltError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    # Before the address is printed: a client that reads it may stop us at once.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(server.address)
    for port_name, extra_server in extra.items():
        click.echo(f"{port_name} {extra_server.address}")
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        server.stop()
        for extra_server in extra.values():
            extra_server.stop()

from hilt.gui.cli_sim_station import serve_station  # noqa: E402

sim.add_command(serve_station)
