"""How much of a widely used client library's drivers works, unchanged, against hilt's simulators.

For each instrument that PyMeasure (a widely used open-source instrument library, not ours) has a
driver for, serve hilt's simulator on loopback, open PyMeasure's driver on the printed address
with the instrument's documented terminators, and read every readable property the driver defines
(its own and its channels'), one at a time. A property counts as working when it returns a value;
an error or a timeout counts as not working (simulator and client are then started afresh, so a
stale reply cannot spoil the next property). Not counted: properties PyMeasure defines as write-only, and those its
driver itself does not implement (NotImplementedError). Reads only: no setting is written.

A measurement, not a test (pytest does not collect it; PyMeasure is no dependency of hilt)::

    .venv/bin/pip install --target /tmp/clients pymeasure==0.16.0 --no-deps
    PYTHONPATH=/tmp/clients .venv/bin/python tests/plugin/dropin_clients.py
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings

from hilt import registry
from hilt.sims.server import serve
from hilt.sims.world import World

#: (PyMeasure driver, hilt simulator model)
CLIENTS = [
    ("pymeasure.instruments.agilent.Agilent8257D", "keysight_e8257d"),
    ("pymeasure.instruments.srs.SR830", "srs_sr830"),
    ("pymeasure.instruments.srs.SR860", "srs_sr860"),
    ("pymeasure.instruments.keithley.Keithley2400", "keithley_2400"),
    ("pymeasure.instruments.newport.ESP300", "newport_esp301"),
    ("pymeasure.instruments.santec.TSL550", "santec_tsl550"),
]
TIMEOUT_MS = 700


def _client_class(path: str) -> type:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _readable(obj: object) -> list[str]:
    names = []
    for name in dir(type(obj)):
        attr = getattr(type(obj), name, None)
        if isinstance(attr, property) and attr.fget is not None:
            names.append(name)
    return names


class _Bench:
    """One simulator served on loopback and PyMeasure's driver opened on it."""

    def __init__(self, client_cls: type, model: str) -> None:
        sim_cls = registry.load_simulator(model)
        serial = sim_cls.transport == "serial"
        self.server = serve(sim_cls(World(seed=0)), pty=serial)
        address = f"ASRL{self.server.address}::INSTR" if serial else self.server.address
        # The instrument's documented terminators, as a user would pass them.
        self.client = client_cls(address, read_termination=sim_cls.reply_terminator,
                                 write_termination=sim_cls.input_terminators[0].decode(), timeout=TIMEOUT_MS)

    def close(self) -> None:
        self.client.adapter.close()
        self.server.stop()


def _channels(client: object) -> dict[str, object]:
    """The driver's parts with properties of their own: PyMeasure channels, and objects such as
    the ESP300's axes (``x``, ``y``, ``phi``) kept as plain attributes."""
    parts: dict[str, object] = {}
    channels = getattr(client, "channels", None)
    if isinstance(channels, dict):
        parts.update({f"{type(c).__name__}[{getattr(c, 'id', k)}].": c for k, c in channels.items()})
    for name, value in vars(client).items():
        if name != "adapter" and value not in parts.values() and _readable(value) and not isinstance(value, type):
            parts[f"{name}."] = value
    return parts


def measure(path: str, model: str) -> tuple[int, int, list[str]]:
    """(properties that answered, properties tried, the failing ones) for one driver and model.

    After a failure the simulator and the client are started afresh: a late reply left on a serial
    line (a pty keeps it for the next client) must not count against the next property."""
    client_cls = _client_class(path)
    bench = _Bench(client_cls, model)
    targets = [("", name) for name in _readable(bench.client)]
    for prefix, channel in _channels(bench.client).items():
        targets += [(prefix, name) for name in _readable(channel)]
    works, tried, failing = 0, 0, []
    for prefix, name in targets:
        owner = _channels(bench.client)[prefix] if prefix else bench.client
        try:
            getattr(owner, name)
        except NotImplementedError:  # the client's own driver does not implement it
            continue
        except LookupError as exc:  # PyMeasure's write-only settings
            if "can not be read" in str(exc) or "not readable" in str(exc):
                continue
            tried += 1
            failing.append(f"{prefix}{name} ({type(exc).__name__})")
        except Exception as exc:  # noqa: BLE001 - any failure of the client counts
            tried += 1
            failing.append(f"{prefix}{name} ({type(exc).__name__})")
            bench.close()
            bench = _Bench(client_cls, model)
        else:
            tried += 1
            works += 1
    bench.close()
    return works, tried, failing


def main() -> None:
    logging.disable(logging.WARNING)  # each command a simulator lacks is logged: counted here instead
    warnings.simplefilter("ignore", FutureWarning)  # PyMeasure's deprecation notes
    import pymeasure

    print(f"PyMeasure {pymeasure.__version__}; read every readable property of its driver")
    total_works = total_tried = 0
    for path, model in CLIENTS:
        works, tried, failing = measure(path, model)
        total_works, total_tried = total_works + works, total_tried + tried
        print(f"{model:<16} {path.rsplit('.', 1)[1]:<14} {works:3d}/{tried:<3d} {100 * works / tried:5.1f} %"
              f"  failing: {', '.join(failing) or '-'}")
        sys.stdout.flush()
    print(f"{'all':<31} {total_works:3d}/{total_tried:<3d} {100 * total_works / total_tried:5.1f} %")


if __name__ == "__main__":
    main()
