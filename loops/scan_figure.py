"""The static figure of a sweep file: a PNG beside it (``run.h5`` -> ``run.png``).

One panel per reading: a line against the swept parameter for a 1-D sweep, an image over the
last two swept parameters for 2-D and more (the first setpoint of every outer axis), the
points not measured left blank. Needs matplotlib (``pip install matplotlib``); without it the
figure is skipped with a note in the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hilt.runfile.sweep_file import open_sweep

log = logging.getLogger("hilt.loops.scan")


def _label(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def draw_sweep(path: str | Path, out: str | Path | None = None) -> Path | None:
    """Draw the sweep file at ``path`` into ``out`` (default: the same name, ``.png``)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("no figure for %s: matplotlib is not installed (pip install matplotlib)", path)
        return None
    sweep = open_sweep(path)
    out = Path(out) if out else Path(path).with_suffix(".png")
    names = sweep.readings
    fig, axes = plt.subplots(len(names), 1, figsize=(6.4, 2.6 * len(names) + 0.6), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=False):
        data = sweep.data[name]
        data = data.reshape(sweep.shape + (-1,))[..., 0]  # an array reading: its first element
        unit = sweep.units[name]
        if len(sweep.axes) == 1:
            a = sweep.axes[0]
            ax.plot(sweep.coords[a], data, ".-")
            ax.set_xlabel(_label(a, sweep.units[a]))
            ax.set_ylabel(_label(name, unit))
        else:
            ya, xa = sweep.axes[-2], sweep.axes[-1]
            plane = data[(0,) * (len(sweep.axes) - 2)]
            x, y = sweep.coords[xa], sweep.coords[ya]
            mesh = ax.pcolormesh(x, y, np.ma.masked_invalid(plane), shading="nearest")
            fig.colorbar(mesh, ax=ax, label=_label(name, unit))
            ax.set_xlabel(_label(xa, sweep.units[xa]))
            ax.set_ylabel(_label(ya, sweep.units[ya]))
    title = f"{Path(path).name}: {sweep.points_done} points, {sweep.status}"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
