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
def sim_list() -> None:
    """Every simulator model, one per line: name, transport, description."""
    for name in registry.simulator_names():
        cls = registry.load_simulator(name)
        click.echo(f"{name:<24} {cls.transport:<7} {cls.description}")


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
