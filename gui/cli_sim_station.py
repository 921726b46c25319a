"""``hilt sim serve-station FILE``: a whole simulated bench for clients that are not Python.

Attached to the ``hilt sim`` group at the bottom of :mod:`hilt.gui.cli_sim`; the work is done by
:mod:`hilt.sims.serve_station`.
"""

from __future__ import annotations

import sys

import click

from hilt.errors import HiltError


@click.command("serve-station")
@click.argument("station_file")
@click.option("--seed", type=int, default=None, help="Seed of the simulated world (default: the file's).")
@click.option("--errors", "errors", default=None, metavar="PRESET",
              help="Hidden systematic errors of the world (default: the file's world.errors).")
@click.option("--pty", is_flag=True, help="Serve serial instruments on pseudo-terminals (/dev/pts/N).")
def serve_station(station_file: str, seed: int | None, errors: str | None, pty: bool) -> None:
    """Serve every simulator of a station file, all sharing one world.

    STATION_FILE is any station file (instruments marked real are simulated too) or a bundled
    station's name. Prints one line per instrument, NAME MODEL ADDRESS (and NAME.PORT MODEL ADDRESS
    for a further port of it), then a line starting with '#' once all are listening; serves until
    Ctrl-C or SIGTERM, then closes every server and exits 0.
    """
    from hilt.sims.serve_station import serving, wait_for_stop

    try:
        with serving(station_file, seed=seed, errors=errors, pty=pty) as (station, served):
            def ready() -> None:
                for one in served:
                    click.echo(one.line())
                world = station.world
                click.echo(f"# {len(station.simulators)} simulators at {len(served)} addresses, station "
                           f"{station.name!r}, one world (seed {world.seed}, errors {world.errors}); "
                           "Ctrl-C or SIGTERM stops")
                sys.stdout.flush()

            wait_for_stop(ready=ready)
    except HiltError as exc:
        raise click.ClickException(str(exc)) from None
