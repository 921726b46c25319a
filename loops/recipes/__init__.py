"""Published physical-network experiments as runnable recipes: ``hilt recipe list|run``.

A recipe trains a network the way a paper did, deploys it to a simulated bench through the real
device path, measures what the paper measures and draws what the paper draws, so a lab can run
the same recipe on its own station (``--station``) and compare. Each recipe lives in its own
module of this package, which defines ``TITLE``, ``PAPER``, ``SUMMARY`` and
``run(options: RecipeOptions) -> RecipeResult``; :data:`RECIPES` maps a recipe's command-line
name to its module, imported only when the recipe is listed in detail or run.

Every recipe writes into ``options.out_dir``: its run files (every physical output captured), a
table as JSON and Markdown (``table.json``, ``table.md``) and its figures (PNG).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from hilt.errors import ConfigError

#: Recipe name (as typed on the command line) -> module that implements it.
RECIPES: dict[str, str] = {
    "class-camera": "hilt.loops.recipes.class_camera",
    "class-camera-slm": "hilt.loops.recipes.slm_camera",
    "permutation-camera": "hilt.loops.recipes.permutation_camera",
    "diffuser-imaging": "hilt.loops.recipes.diffuser",
}


@dataclass(frozen=True)
class RecipeOptions:
    """How to run a recipe.

    ``size``: ``"full"`` (the recorded run), ``"quick"`` (under five minutes on two cores) or
    ``"tiny"`` (seconds: what the tests run; the numbers mean nothing). ``station``: a station
    file or bundled station name to deploy to as well: the designs are measured through its
    drivers next to the recipe's own simulated stacks. ``seed``
    fixes data order, initialisation and the simulated benches' hidden errors."""

    out_dir: Path
    size: str = "full"
    station: str | None = None
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        if self.size not in ("full", "quick", "tiny"):
            raise ConfigError(f"recipe size must be full, quick or tiny, not {self.size!r}")


@dataclass
class RecipeResult:
    """What a recipe produced: its table (one dict per row, the same keys in every row), the
    Markdown of that table, the figures and run files it wrote, and its wall time."""

    name: str
    rows: list[dict[str, Any]]
    markdown: str
    figures: list[Path] = field(default_factory=list)
    run_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def recipe_module(name: str) -> ModuleType:
    """The module of recipe ``name``; a clear error naming the known recipes otherwise."""
    try:
        module = RECIPES[name]
    except KeyError:
        raise ConfigError(f"no recipe {name!r}; known: {', '.join(sorted(RECIPES))}") from None
    return importlib.import_module(module)


__all__ = ["RECIPES", "RecipeOptions", "RecipeResult", "recipe_module"]
