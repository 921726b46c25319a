"""``hilt recipe list`` and ``hilt recipe run NAME``: the published experiments as one command
each (registered on ``hilt`` by :mod:`hilt.gui.cli`; the recipes are :mod:`hilt.loops.recipes`,
the guide docs/recipes.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from hilt.errors import HiltError


@click.group("recipe")
def recipe() -> None:
    """Published physical-network experiments as runnable recipes (docs/recipes.md)."""


@recipe.command("list")
def recipe_list() -> None:
    """Every recipe: its name, what it reproduces and the paper."""
    from hilt.loops.recipes import RECIPES, recipe_module

    for name in RECIPES:
        try:
            mod = recipe_module(name)
        except ImportError as exc:  # a recipe whose module is not there (yet) or lacks a package
            click.echo(f"{name:<20} (not available: {exc})")
            continue
        click.echo(f"{name:<20} {mod.TITLE}")
        click.echo(f"{'':<20} {mod.PAPER}")
        for line in str(mod.SUMMARY).strip().splitlines():
            click.echo(f"{'':<20} {line.strip()}")


@recipe.command("run")
@click.argument("name")
@click.option("--quick", "size", flag_value="quick", help="Under five minutes on two cores.")
@click.option("--tiny", "size", flag_value="tiny",
              help="Seconds: checks that everything runs; the numbers mean nothing.")
@click.option("--full", "size", flag_value="full", default=True,
              help="The recorded configuration (the default).")
@click.option("--station", default=None,
              help="A station file (or bundled station name) to deploy to as well: the designs are "
                   "measured through its drivers next to the recipe's simulated stacks (thz-imaging "
                   "for the camera recipes).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: recipes/NAME).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Data order, initialisation and the simulated benches' hidden errors.")
def recipe_run(name: str, size: str, station: str | None, out_dir: str | None, seed: int) -> None:
    """Run recipe NAME: train, deploy, measure; write the table (table.json, table.md), the
    figures (PNG) and a run file of every measured output under the output folder."""
    from hilt.gui import cli_stop
    from hilt.loops.recipes import RecipeOptions, recipe_module

    out = Path(out_dir) if out_dir else Path("recipes") / name
    try:
        mod = recipe_module(name)
        out.mkdir(parents=True, exist_ok=True)
        cli_stop.begin(f"recipe {name} ({size})", runs_dir=out)
        t0 = time.perf_counter()
        result = mod.run(RecipeOptions(out_dir=out, size=size, station=station, seed=seed,
                                       progress=True))
    except HiltError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(result.markdown.rstrip())
    for fig in result.figures:
        click.echo(f"figure: {fig}")
    if result.run_files:
        click.echo(f"run files: {len(result.run_files)} in {out}")
    seconds = result.seconds or (time.perf_counter() - t0)
    click.echo(f"{name} ({size}): {seconds:.1f} s; results in {out}")
