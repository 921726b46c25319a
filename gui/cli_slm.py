"""``hilt slm serve``: put an SLM on this computer on the network (registered on ``hilt`` by
:mod:`hilt.gui.cli`; the server is :mod:`hilt.gui.slm_server`)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click

from hilt.errors import HiltError

BACKENDS = ("display", "sim")


@click.group()
def slm() -> None:
    """Spatial light modulators."""


@slm.command("screens")
def slm_screens() -> None:
    """The screens this computer has, one per line: index, name, size in device pixels, refresh
    rate, and which is the primary one. A display SLM is one of them (``--screen``)."""
    from PySide6.QtGui import QGuiApplication

    from hilt.drivers.slm_window import screen_pixels

    app = QGuiApplication.instance() or QGuiApplication(["hilt"])
    primary = app.primaryScreen()
    for index, screen in enumerate(app.screens()):
        rows, cols = screen_pixels(screen)
        mark = "  (primary)" if screen is primary else ""
        click.echo(f"{index}  {screen.name() or '(no name)'}  {cols}x{rows}  {screen.refreshRate():g} Hz{mark}")


@slm.command("serve")
@click.argument("backend", type=click.Choice(BACKENDS))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but loopback needs --token.")
@click.option("--port", type=int, default=0, help="TCP port (default: chosen by the OS).")
@click.option("--token", envvar="HILT_SLM_TOKEN", default=None,
              help="Secret clients must send first (HELLO); also read from HILT_SLM_TOKEN, "
                   "which keeps it out of the process list.")
@click.option("--screen", default=None,
              help="display: the SLM's screen, by index or name (default: the one screen that is "
                   "not the primary).")
@click.option("--pitch-um", type=float, default=8.0, show_default=True, help="display: pixel pitch, um.")
@click.option("--wavelength-nm", type=float, default=633.0, show_default=True,
              help="display: the wavelength the SLM is used at, nm.")
@click.option("--settle-ms", type=float, default=0.0, show_default=True,
              help="display: liquid-crystal settle time after a frame, ms (data sheet or measured).")
@click.option("--bit-depth", type=click.IntRange(1, 8), default=8, show_default=True,
              help="display: bits per grey level.")
@click.option("--seed", type=int, default=0, show_default=True, help="sim: seed of the simulated world.")
def slm_serve(backend: str, host: str, port: int, token: str | None, screen: str | None, pitch_um: float,
              wavelength_nm: float, settle_ms: float, bit_depth: int, seed: int) -> None:
    """Serve an SLM over hilt's SLM protocol until Ctrl-C; the first line printed is the address
    a client (the ``hilt_slm`` driver) opens.

    BACKEND: ``display``, a display SLM on this computer's screen (a full-screen window);
    ``sim``, hilt's simulated SLM.
    """
    from hilt.gui.slm_server import serve_device, serve_slm

    device: Any = None
    try:
        if backend == "display":
            from hilt.drivers.display_slm import DisplaySLM

            device = DisplaySLM(screen=screen, pixel_pitch_m=pitch_um * 1e-6, wavelength_m=wavelength_nm * 1e-9,
                                settle_s=settle_ms * 1e-3, bit_depth=bit_depth)
            server = serve_slm(device, host=host, port=port, token=token)
        else:
            from hilt.sims.slm import SimSLM
            from hilt.sims.world import World

            server = serve_device(SimSLM(World(seed=seed), name="slm", token=token), host=host, port=port)
    except HiltError as exc:
        if device is not None:
            device.close()
        raise click.ClickException(str(exc)) from None
    serve_until_stopped(server, device)


def serve_until_stopped(server: Any, device: Any | None) -> None:
    """Print the server's address, serve until SIGINT or SIGTERM, then stop serving and put the
    served device (if this process opened one) in its safe state and close it."""
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
        if device is not None:
            device.safe_state()
            device.close()
