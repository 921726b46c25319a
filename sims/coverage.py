"""How much of each instrument's command reference its simulator implements, and which tests
drive each command.

*Implemented* is measured, not declared: each command's probe line (from
:mod:`hilt.sims.reference`) is sent to a fresh simulator on a standing clock, and the command
counts as implemented unless the simulator reports it through
:meth:`~hilt.sims.base.SimulatedInstrument.unknown_command`. *Tested by* lists the test functions
under ``tests/`` whose string literals send the command (in any form the instrument accepts:
SCPI long or short form, any case), in test files that name the simulator's model or class; a
binary frame (``framed`` syntax) by the name of its type constant.

``hilt sim list --coverage`` prints the share per model; ``hilt sim coverage-pages DIR`` writes
one Markdown page per model (``docs/simulators/``), and a test keeps those pages current.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hilt import registry
from hilt.framing import Frame
from hilt.sims.base import SimulatedInstrument
from hilt.sims.reference import Command, Reference, reference_for
from hilt.sims.scpi import header_regex
from hilt.sims.world import SimClock, World

#: The repository's tests (an installed copy without them lists no tests).
TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"


@dataclass(frozen=True)
class CommandCoverage:
    command: Command
    implemented: bool
    tests: tuple[str, ...]


@dataclass(frozen=True)
class ModelCoverage:
    model: str
    reference: Reference | None
    commands: tuple[CommandCoverage, ...]

    @property
    def implemented(self) -> int:
        return sum(c.implemented for c in self.commands)

    @property
    def share(self) -> float | None:
        return self.implemented / len(self.commands) if self.commands else None


# -- implemented? ---------------------------------------------------------------------------------
def probe_bytes(sim: SimulatedInstrument, syntax: str, probe: str) -> bytes:
    """What a client sends for ``probe``: the line and the instrument's terminator, or for the
    ``framed`` syntax (hex: the type byte, then the payload) one hilt frame."""
    if syntax == "framed":
        raw = bytes.fromhex(probe)
        return Frame(raw[0], 1, raw[1:]).encode()
    return probe.encode(sim.encoding) + sim.input_terminators[0]


def probe_implemented(model: str, probe: str) -> bool:
    """Send ``probe`` to a fresh simulator of ``model``; False if it treats it as unknown."""
    cls = registry.load_simulator(model)
    sim = cls(World(seed=0, clock=SimClock("manual")), **cls.probe_options)
    reference = reference_for(model)
    session = sim.new_session()
    session.greeting()
    session.feed(probe_bytes(sim, reference.syntax if reference else "", probe))
    return not sim.unknown_commands


# -- tested by? -----------------------------------------------------------------------------------
def _matcher(reference: Reference, command: Command) -> re.Pattern[str]:
    """A pattern finding ``command`` in one command of a test's string literal."""
    if reference.syntax == "scpi":
        spec = command.name.rstrip("?").replace("<hw>", "<n>")
        if not spec.startswith(("*", ":", "[:")):
            spec = ":" + spec
        return re.compile("^" + header_regex(spec) + r"\??$", re.IGNORECASE)
    return re.compile(r"(?<![A-Za-z*])" + re.escape(command.name) + r"(?![A-Za-z])")


def _literal_commands(reference: Reference, text: str) -> Iterable[str]:
    """The commands in one string literal: lines split at terminators and ``;``."""
    for line in re.split(r"[\r\n]+", text):
        for part in line.split(";"):
            part = part.strip()
            if not part:
                continue
            if reference.syntax == "scpi":
                header = part.split(None, 1)[0]
                yield header if header.startswith("*") else ":" + header.lstrip(":")
            else:
                yield part


def _literals_and_names(node: ast.AST) -> tuple[list[str], set[str]]:
    """The string and bytes literals under ``node`` (its docstring excepted) and the names it uses."""
    doc = ast.get_docstring(node, clean=False) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None
    texts = []
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str | bytes):
            value = sub.value.decode("latin-1") if isinstance(sub.value, bytes) else sub.value
            if value != doc:
                texts.append(value)
        elif isinstance(sub, ast.Name):
            names.add(sub.id)
    return texts, names


def _test_literals(path: Path) -> dict[str, tuple[list[str], set[str]]]:
    """``test_name`` -> (the string and bytes literals in its body, docstring excepted, and in the
    module's helper functions it calls; the names it uses)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    # A helper (``_sync(inst)`` sending ``*OPC?``) sends its commands for the test that calls it.
    helpers = {f.name: _literals_and_names(f)[0] for f in functions if not f.name.startswith("test")}
    out: dict[str, tuple[list[str], set[str]]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.name.startswith("test"):
            continue
        texts, names = _literals_and_names(node)
        texts += [t for name in sorted(names & set(helpers)) for t in helpers[name]]
        out[node.name] = (texts, names | set(texts))
    return out


def _simulator_names() -> dict[str, set[str]]:
    """model -> the names a test uses for its simulator (the model and the class name)."""
    return {m: {m, registry.load_simulator(m).__name__} for m in registry.simulator_names()}


def _model_test_files(model: str, tests_dir: Path) -> list[Path]:
    cls = registry.load_simulator(model)
    names = (model, cls.__name__)
    files = []
    for path in sorted(tests_dir.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        if "hilt.sims.coverage" in text:  # the coverage tests name commands, they don't send them
            continue
        if any(re.search(rf"\b{re.escape(n)}\b", text) for n in names):
            files.append(path)
    return files


def tests_driving(reference: Reference, tests_dir: Path = TESTS_DIR) -> dict[str, tuple[str, ...]]:
    """Command name -> ``path::test`` of every test whose literals send it."""
    if not tests_dir.is_dir():
        return {}
    matchers = {c.name: _matcher(reference, c) for c in reference.commands}
    found: dict[str, list[str]] = {name: [] for name in matchers}
    root = tests_dir.parent
    sims = _simulator_names()
    own = sims.get(reference.model, {reference.model})
    others = set().union(*(names for model, names in sims.items() if model != reference.model))
    for path in _model_test_files(reference.model, tests_dir):
        for test, (literals, used) in _test_literals(path).items():
            # A test that names another simulator and not this one drives the other one.
            if not used & own and used & others:
                continue
            sent = [cmd for text in literals for cmd in _literal_commands(reference, text)]
            for name, pattern in matchers.items():
                # A frame is sent by its type's name (``SET_HEATERS``), not by a string.
                framed = reference.syntax == "framed" and name in used
                if framed or any(pattern.search(cmd) for cmd in sent):
                    found[name].append(f"{path.relative_to(root).as_posix()}::{test}")
    return {name: tuple(tests) for name, tests in found.items()}


def coverage(model: str, tests_dir: Path = TESTS_DIR) -> ModelCoverage:
    reference = reference_for(model)
    if reference is None:
        return ModelCoverage(model, None, ())
    tested = tests_driving(reference, tests_dir)
    rows = tuple(CommandCoverage(c, probe_implemented(model, c.probe), tested.get(c.name, ()))
                 for c in reference.commands)
    return ModelCoverage(model, reference, rows)


# -- pages ----------------------------------------------------------------------------------------
def render_page(cov: ModelCoverage) -> str:
    lines = [f"# Simulator coverage: `{cov.model}`", ""]
    if cov.reference is None:
        lines += ["No command reference is recorded for this simulator yet "
                  "(`sims/reference/<model>.py`), so its coverage is not measured.", ""]
        return "\n".join(lines)
    share = cov.share or 0.0
    lines += [
        f"Manual: {cov.reference.manual}.", "",
        f"**{cov.implemented} of {len(cov.commands)} commands implemented ({share:.0%}).** "
        "*Implemented* means the simulator does not answer the command's probe as an unknown "
        "command; *tested by* lists the tests whose command strings send it. A command that is "
        "not implemented gets the instrument's unknown-command answer and a WARNING in the "
        "simulator's log.", "",
        "Generated by `hilt sim coverage-pages docs/simulators`; do not edit by hand.", "",
        "| Command | Subsystem | Implemented | Tested by |",
        "| --- | --- | --- | --- |",
    ]
    for row in cov.commands:
        tests = "<br>".join(f"`{t}`" for t in row.tests) or "—"
        lines.append(f"| `{row.command.name}` | {row.command.subsystem} | "
                     f"{'yes' if row.implemented else 'no'} | {tests} |")
    lines.append("")
    return "\n".join(lines)


def render_index(covs: list[ModelCoverage]) -> str:
    lines = ["# Simulator coverage", "",
             "How much of each instrument's command reference its simulator implements, measured "
             "by sending every command of the manual's list to the simulator "
             "(`hilt sim list --coverage` prints the same numbers).", "",
             "| Model | Implemented | Share |", "| --- | --- | --- |"]
    for cov in covs:
        if cov.reference is not None:
            lines.append(f"| [`{cov.model}`]({cov.model}.md) | {cov.implemented} / {len(cov.commands)} "
                         f"| {cov.share:.0%} |")
    if any(cov.reference is None for cov in covs):
        lines += ["", "The other simulators have no command reference recorded yet "
                  "(`sims/reference/<model>.py`); their pages say so."]
    lines += ["", "Each model's list covers the subsystems of its manual a lab uses; its page names the "
              "manual and the module docstring (`sims/reference/<model>.py`) what was left out.", ""]
    return "\n".join(lines)


def pages(tests_dir: Path = TESTS_DIR) -> dict[str, str]:
    """File name -> content of every coverage page (one per model, and ``README.md``)."""
    covs = [coverage(model, tests_dir) for model in registry.simulator_names()]
    out = {f"{cov.model}.md": render_page(cov) for cov in covs}
    out["README.md"] = render_index(covs)
    return out


def write_pages(directory: Path, tests_dir: Path = TESTS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages(tests_dir).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
