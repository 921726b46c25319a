"""The documentation site builds with ``mkdocs build --strict`` (as ``make docs`` does), with a
reference page for every registered driver and kind that lists what the driver really has.

A strict build fails on a warning: a page or a link that does not resolve, a ``:::`` reference to
an object that does not exist, a docs page left out of the nav.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hilt import registry
from hilt.instruments.kinds import KINDS
from hilt.parameters import Parameter

ROOT = Path(__file__).resolve().parents[2]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=config.parent, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = build(ROOT / "mkdocs.yml", out)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    return out


def test_every_driver_has_a_page_listing_its_parameters_with_units(site: Path) -> None:
    for name in registry.driver_names():
        page = site / "reference" / "drivers" / f"{name}.html"
        assert page.exists(), f"no reference page for {name}"
        assert 'id="what-was-not-verified"' in page.read_text(encoding="utf-8"), name
        text = page.read_text(encoding="utf-8")
        text = text[text.index('id="parameters"'):text.index('id="safe-state"')]  # the tables
        cls = registry.load_driver(name)
        declared = [pname for klass in cls.__mro__ for pname, spec in vars(klass).items()
                    if isinstance(spec, Parameter)]
        for pname in declared:
            assert f"<td><code>{pname}</code></td>" in text, f"{name}: parameter {pname} not in its table"
        assert "<table>" in text or not declared, name


def test_a_readout_row_shows_unit_and_get_only(site: Path) -> None:
    text = (site / "reference" / "drivers" / "srs_sr830.html").read_text(encoding="utf-8")
    row = text[text.index("<td><code>r</code></td>"):]
    row = row[:row.index("</tr>")]
    assert "<td>V</td>" in row and "<td>get</td>" in row, row


def test_every_kind_has_a_page_naming_its_drivers(site: Path) -> None:
    for kind in KINDS:
        text = (site / "reference" / "kinds" / f"{kind}.html").read_text(encoding="utf-8")
        for name in registry.driver_names():
            if kind in getattr(registry.load_driver(name), "kinds", ()):
                assert f"{name}.html" in text, f"{kind}: driver {name} not listed"


def test_a_broken_docstring_reference_fails_the_strict_build(tmp_path: Path) -> None:
    """The premise of the CI check: ``:::`` to something that is not there is an error."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Broken\n\n::: hilt.parameters.NoSuchThing\n", encoding="utf-8")
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: t\nplugins:\n  - mkdocstrings\n", encoding="utf-8")
    done = build(config, tmp_path / "site")
    assert done.returncode != 0 and "NoSuchThing" in done.stderr, done.stderr[-2000:]


def _generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docstrings_become_markdown_without_losing_text() -> None:
    gen = _generator()
    text = gen.markdown('''Reads:
    * ``read<n>?`` answers amperes; a bad one is a :class:`~hilt.errors.ProtocolError`
      (see :meth:`hilt.parameters.BoundParameter.get`).
    * ``vall?`` for read<n>? | every channel''')
    assert text.splitlines()[1] == ""  # the blank line Markdown needs before a list
    assert "``read<n>?``" in text  # code is left as it is
    assert "``ProtocolError``" in text and "``hilt.parameters.BoundParameter.get``" in text
    assert "for read&lt;n>? \\| every channel" in text  # not an HTML tag, not a table cell
