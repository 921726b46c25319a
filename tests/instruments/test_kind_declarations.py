"""Every registered driver declares its device kinds by known names (ADR 0008, decision 2)."""

from __future__ import annotations

import ast
import inspect
import re
import sys

import pytest

from hilt import registry
from hilt.errors import ConfigError
from hilt.instrument import Instrument
from hilt.instruments import kinds
from hilt.instruments.kinds import KINDS, kind_of, members


def test_every_kind_is_named_and_documented() -> None:
    for name, proto in KINDS.items():
        assert proto.kind == name
        assert kind_of(name) is proto and kind_of(proto) is proto
        doc = inspect.getdoc(proto) or ""
        assert "Safe state" in doc, f"{name}: the docstring says nothing about the safe state"
        for member in members(proto):
            assert re.search(rf"``[^`]*\b{member}\b", doc) or member == "safe_state", f"{name}: {member} undocumented"


def test_an_unknown_kind_is_refused_with_the_known_names() -> None:
    with pytest.raises(ConfigError, match="lock_in"):
        kind_of("lockin")
    with pytest.raises(ConfigError, match="not a device kind"):
        kind_of(int)


def test_the_base_declares_no_kind() -> None:
    assert Instrument.kinds == ()


@pytest.mark.parametrize("name", registry.driver_names())
def test_driver_declares_known_kind_names(name: str) -> None:
    cls = registry.load_driver(name)
    assert isinstance(cls.kinds, tuple), f"{name}: kinds must be a tuple of names"
    for kind in cls.kinds:
        assert isinstance(kind, str), f"{name}: kinds holds names, not {kind!r}"
        assert kind in KINDS, f"{name}: unknown kind {kind!r} (known: {', '.join(KINDS)})"
    assert len(set(cls.kinds)) == len(cls.kinds)


@pytest.mark.parametrize("name", registry.driver_names())
def test_drivers_do_not_import_the_instruments_layer(name: str) -> None:
    module = sys.modules[registry.load_driver(name).__module__]
    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("hilt.instruments"), f"{name} imports {node.module}"
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("hilt.instruments") for a in node.names), name


def test_kinds_module_needs_nothing_above_the_core() -> None:
    tree = ast.parse(inspect.getsource(kinds))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m and m.startswith(("hilt.drivers", "hilt.sims", "hilt.loops", "hilt.gui")) for m in imported)


def test_docs_list_every_driver_under_each_kind_it_claims() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "kinds.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", text, re.M)}
    assert set(rows) == set(KINDS), "docs/kinds.md: one table row per kind"
    for name in registry.driver_names():
        for kind in registry.load_driver(name).kinds:
            assert f"`{name}`" in rows[kind].rsplit("|", 2)[-2], f"docs/kinds.md: {name} missing under {kind}"
