"""The simulator coverage pages (docs/simulators/) are generated from the references and the
tests; they must match what the generator produces now."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hilt import registry
from hilt.sims.coverage import coverage, pages, probe_implemented
from hilt.sims.reference import reference_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulators"
REFERENCED = [m for m in registry.simulator_names() if reference_for(m) is not None]


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    logging.getLogger("hilt.sims").setLevel(logging.ERROR)
    try:
        return pages()
    finally:
        logging.getLogger("hilt.sims").setLevel(logging.NOTSET)


def _without_tested_by(page: str) -> str:
    """A page without its "Tested by" cells: which tests send a command changes with every test
    anyone edits, while what the simulator implements must never be misreported."""
    return "\n".join(line.rsplit(" | ", 1)[0] if line.startswith("| `") else line
                     for line in page.splitlines())


@pytest.mark.parametrize("name", [*(f"{m}.md" for m in REFERENCED), "README.md"])
def test_coverage_pages_are_up_to_date(generated: dict[str, str], name: str) -> None:
    page = DOCS / name
    assert page.is_file(), f"{page} is missing: run `hilt sim coverage-pages docs/simulators`"
    assert _without_tested_by(page.read_text(encoding="utf-8")) == _without_tested_by(generated[name]), (
        f"{page} is stale: run `hilt sim coverage-pages docs/simulators` and commit the pages")


def test_references_have_unique_names_and_probes_reach_their_command() -> None:
    for model in REFERENCED:
        ref = reference_for(model)
        assert ref is not None and ref.model == model
        names = [c.name for c in ref.commands]
        assert len(names) == len(set(names)), f"{model}: a command listed twice"


def test_implemented_is_measured_by_the_unknown_command_hook() -> None:
    assert probe_implemented("srs_sr830", "SRAT?")
    assert not probe_implemented("srs_sr830", "BOGUS?")  # unknown: the CMD bit and a warning
    assert probe_implemented("keysight_e8257d", "sour:freq:cw?")
    assert not probe_implemented("keysight_e8257d", ":CORRection:FLATness:POINts?")
    assert probe_implemented("photonic_processor", "01")  # a framed probe: hex, type first
    assert not probe_implemented("photonic_processor", "7e")


def test_tests_are_found_by_the_commands_they_send() -> None:
    cov = coverage("srs_sr830")
    rows = {row.command.name: row for row in cov.commands}
    assert "tests/sims/test_srs_sr830_plain.py::test_buffer_fills_at_the_sample_rate_in_simulated_time" \
        in rows["TRCB"].tests
    psg = {row.command.name: row for row in coverage("keysight_e8257d").commands}
    # Short and lower-case forms count for the long-form name.
    assert "tests/sims/test_synthesizers_plain.py::test_psg_connect_queries" \
        in psg[":DIAGnostic[:CPU]:INFOrmation:OPTions?"].tests
