"""The example stations that come with hilt: package data, read through importlib.resources.

Each ``<name>.yaml`` in this package is a complete station file, simulated (``simulate: true``);
its first comment line says what the bench is. ``hilt station list`` shows them, and every
command that takes a station file also takes one of their names (``hilt train mzi-large``,
``hilt station check thz-lab``). Copy one and fill in your bench's addresses to start a real one.

They ship in the wheel (``package_data`` in setup.py), so an installed hilt finds them without a
checkout; this package holds only the files and the lookup, so every layer may use it.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

from hilt.errors import ConfigError

SUFFIX = ".yaml"

# Files extracted from a package that is not on a file system (a zip import), kept for the process.
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def names() -> list[str]:
    """The bundled stations' names (their file names without ``.yaml``), sorted."""
    return sorted(f.name[: -len(SUFFIX)] for f in resources.files(__name__).iterdir()
                  if f.name.endswith(SUFFIX) and f.is_file())


def path(name: str) -> Path:
    """The file of the bundled station ``name`` (``.yaml`` may be given or not).

    An unknown name is a one-line ConfigError that lists the bundled ones.
    """
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    if stem not in names():
        raise ConfigError(f"no bundled station {name!r} (bundled: {', '.join(names())})")
    resource = resources.files(__name__) / f"{stem}{SUFFIX}"
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(resources.as_file(resource))


def find(station: str | Path) -> Path:
    """A station file given as a path or as a bundled station's name.

    An existing file wins (a file of yours named like a bundled station is yours); else a bundled
    station of that name; else the path as given, so that reading it says what is wrong. A bare
    name (no folder, no ``.yaml``) that is neither is refused in one line that lists the bundled
    stations.
    """
    given = Path(station)
    if given.is_file():
        return given
    text = str(station)
    stem = text[: -len(SUFFIX)] if text.endswith(SUFFIX) else text
    if given.name == text and stem in names():
        return path(stem)
    if given.name == text and given.suffix == "":
        raise ConfigError(f"{text}: no such station file, and no bundled station of that name "
                          f"(bundled: {', '.join(names())}; `hilt station list` shows them)")
    return given
