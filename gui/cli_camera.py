"""``hilt camera serve``: put a camera on this computer on the network (registered on ``hilt`` by
:mod:`hilt.gui.cli`; the server is :mod:`hilt.gui.camera_server`)."""

from __future__ import annotations

from typing import Any

import click

from hilt.errors import HiltError

from .cli_slm import serve_until_stopped

BACKENDS = ("basler", "sim")


@click.group()
def camera() -> None:
    """Cameras."""


@camera.command("serve")
@click.argument("backend", type=click.Choice(BACKENDS))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but loopback needs --token.")
@click.option("--port", type=int, default=0, help="TCP port (default: chosen by the OS).")
@click.option("--token", envvar="HILT_CAMERA_TOKEN", default=None,
              help="Secret clients must send first (HELLO); also read from HILT_CAMERA_TOKEN.")
@click.option("--serial", default=None, help="basler: the camera's serial number (default: the first camera).")
@click.option("--pixel-format", default="Mono8", show_default=True, help="basler: Mono8, Mono10, Mono12 or Mono16.")
@click.option("--pitch-um", type=float, default=None, help="basler: pixel pitch from the data sheet, um (required).")
@click.option("--seed", type=int, default=0, show_default=True, help="sim: seed of the simulated world.")
def camera_serve(backend: str, host: str, port: int, token: str | None, serial: str | None, pixel_format: str,
                 pitch_um: float | None, seed: int) -> None:
    """Serve a camera over hilt's camera protocol until Ctrl-C; the first line printed is the
    address a client (the ``hilt_camera`` driver) opens.

    BACKEND: ``basler``, a Basler camera through pypylon (the ``basler`` extra); ``sim``, hilt's
    simulated camera.
    """
    from hilt.gui.camera_server import serve_camera
    from hilt.gui.slm_server import serve_device

    device: Any = None
    try:
        if backend == "basler":
            if pitch_um is None:
                raise click.UsageError("--pitch-um is required: Basler cameras do not report their pixel pitch")
            from hilt.drivers.basler_camera import BaslerCamera

            device = BaslerCamera(serial, pixel_format=pixel_format, pixel_pitch_m=pitch_um * 1e-6)
            server = serve_camera(device, host=host, port=port, token=token)
        else:
            from hilt.sims.camera import SimCamera
            from hilt.sims.world import World

            server = serve_device(SimCamera(World(seed=seed), name="camera", token=token), host=host, port=port)
    except (HiltError, ImportError) as exc:
        if device is not None:
            device.close()
        raise click.ClickException(str(exc)) from None
    serve_until_stopped(server, device)
