"""The driver and kind reference, generated from the code: an mkdocs hook (``mkdocs.yml``: ``hooks``).

One page per registered driver (``reference/drivers/<model>.md``) and per device kind
(``reference/kinds/<kind>.md``), plus an index. Everything on them is read from the classes: the
parameter tables by introspecting a driver built with its default options (not connected: nothing
is sent), the manual and what was not verified from the module docstring, the safe state from
``safe_state`` (its docstring, or its code when it has none), the API through mkdocstrings
(``::: hilt.drivers...``). A driver added to the ``hilt.drivers`` entry points gets its page with no
edit here.

``python docs/gen_reference.py OUT_DIR`` writes the pages as plain files, to read them without
building the site.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Where griffe (mkdocstrings) finds the package as it is imported: ``hilt`` with its layer
#: folders inside (on disk they sit beside it; setup.py maps them). Symbolic links, under build/.
SOURCE_TREE = ROOT / "build" / "docs-src"
#: Layer folders documented through mkdocstrings (import name under ``hilt``).
LAYERS = ("drivers", "instruments")
#: Virtual drivers are built over a registered driver, as a station's ``uses:`` does.
VIRTUAL_PARTS: dict[str, dict[str, str]] = {"vdi_multiplier": {"source": "keysight_e8257d"}}
#: An address that opens nothing: drivers open their link in ``connect()``, not when built.
NO_ADDRESS = "tcp://127.0.0.1:9"
_NOT_VERIFIED = re.compile(r"unverified|not verified|not retriev|\*verify", re.IGNORECASE)
_ROLE = re.compile(r":(?:class|meth|attr|func|mod|data|exc|obj):`(~?)([^`]+)`")


def _role(m: re.Match[str], ticks: str = "``") -> str:
    """A reST role as code: ``~a.b.C`` shows ``C``, ``a.b.C`` shows it all."""
    target = m.group(2).split(".")[-1] if m.group(1) else m.group(2)
    return f"{ticks}{target}{ticks}"


# -- text --------------------------------------------------------------------------------------------
def markdown(doc: str | None) -> str:
    """A docstring (reST-flavoured, as hilt writes them) as Markdown.

    Roles become code (``:class:`~hilt.errors.LimitError``` -> ``LimitError``), a list gets the
    blank line Markdown needs before it, and ``<`` outside code is escaped (``read<n>?``).
    """
    text = inspect.cleandoc(doc or "")
    text = _ROLE.sub(_role, text)
    out: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith(("* ", "- ")) and out and out[-1].strip() and not _in_list(out):
            out.append("")
        out.append(_escape_outside_code(line))
    return "\n".join(out)


def _in_list(lines: list[str]) -> bool:
    """The lines end inside a list (a bullet, or a continuation under one)."""
    for line in reversed(lines):
        if not line.strip():
            return False
        if line.lstrip().startswith(("* ", "- ")):
            return True
        if not line.startswith(" "):
            return False
    return False


def _escape_outside_code(line: str) -> str:
    parts = re.split(r"(`+[^`]*`+)", line)
    return "".join(p if p.startswith("`") else p.replace("<", "&lt;").replace("|", "\\|") for p in parts)


def first_sentence(doc: str | None) -> str:
    paragraph = inspect.cleandoc(doc or "").split("\n\n")[0].replace("\n", " ")
    return _escape_outside_code(_ROLE.sub(lambda m: _role(m, "`"), paragraph))


def cell(text: Any) -> str:
    """Text for a table cell: one line, pipes escaped."""
    return str(text).replace("\n", " ").replace("|", "\\|")


def code(text: str) -> str:
    """Inline code that survives backticks and pipes inside it (``{value:.3f}``)."""
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`".replace("|", "\\|")


# -- drivers -----------------------------------------------------------------------------------------
def build_driver(name: str, cls: type) -> Any:
    """The driver with its default options, not connected; None if it cannot be built so."""
    try:
        if getattr(cls, "virtual", False):
            from hilt import registry

            parts = {key: build_driver(part, registry.load_driver(part))
                     for key, part in VIRTUAL_PARTS.get(name, {}).items()}
            return cls(name=name, **parts)
        return cls(NO_ADDRESS, name=name)
    except Exception:  # noqa: BLE001 - the page then shows the class's declarations
        return None


def range_text(vals: Any, settable: bool) -> str:
    from hilt.validators import Bool, Enum, Ints, Numbers

    if vals is None:
        return "any number" if settable else "—"
    if isinstance(vals, Bool):
        return "on/off (`True`/`False`)"
    if isinstance(vals, Enum):
        return "one of " + ", ".join(f"`{v}`" for v in vals.values)
    table = getattr(vals, "table", None)
    if table is not None:
        return f"{len(table)} settings, {table[0]:g} … {table[-1]:g}"
    if isinstance(vals, Ints):
        return f"integer {vals.min:g} … {vals.max:g}"
    if isinstance(vals, Numbers):
        return f"{vals.min:g} … {vals.max:g}"
    return cell(repr(vals))


def command_text(cmd: Any) -> str:
    if cmd is None:
        return ""
    if isinstance(cmd, str):
        return code(cmd)
    return "(driver code)"


def parameter_table(owner_params: dict[str, Any]) -> str:
    """A Markdown table of parameters: bound ones (``.spec``) or class declarations."""
    rows = ["| parameter | unit | range / values | access | command (get / set) | in snapshot | what |",
            "|---|---|---|---|---|---|---|"]
    for pname, p in owner_params.items():
        spec = getattr(p, "spec", p)
        vals = getattr(p, "vals", spec.vals)
        settable, gettable = spec.set_cmd is not None, spec.get_cmd is not None
        access = " / ".join(a for a, ok in (("get", gettable), ("set", settable)) if ok)
        if spec.ramp_step is not None:
            rate = f" at {spec.ramp_rate:g} {spec.unit}/s" if spec.ramp_rate else ""
            access += f", ramped in steps ≤ {spec.ramp_step:g} {spec.unit}{rate}"
        get_cmd = getattr(p, "_get_cmd", spec.get_cmd)  # formatted for this instance (``{slot}``)
        commands = " / ".join(t for t in (command_text(get_cmd), command_text(spec.set_cmd)) if t)
        rows.append(f"| `{pname}` | {spec.unit or '—'} | {range_text(vals, settable)} | {access} | "
                    f"{commands} | {'yes' if spec.snapshot else 'no'} | {_escape_outside_code(cell(spec.doc))} |")
    return "\n".join(rows)


def declared_parameters(cls: type) -> dict[str, Any]:
    from hilt.parameters import Parameter

    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        found.update({k: v for k, v in vars(klass).items() if isinstance(v, Parameter)})
    return found


def own_method(cls: type, name: str) -> Any:
    """``cls``'s ``name`` if a driver (not the Instrument base) defines it, else None."""
    from hilt.instrument import Instrument

    for klass in cls.__mro__:
        if klass is Instrument or klass is object:
            return None
        if name in vars(klass):
            return vars(klass)[name]
    return None


def safe_state_text(cls: type) -> str:
    from hilt.instruments.kinds import kinds_of

    method = own_method(cls, "safe_state")
    parts = []
    if method is None:
        parts.append("The instrument base's: nothing to do (no output to switch off).")
    elif method.__doc__:
        parts.append(markdown(method.__doc__))
    else:
        source = textwrap.dedent(inspect.getsource(method))
        parts.append("What `safe_state()` does (it has no docstring; its code):\n\n```python\n"
                     f"{source.rstrip()}\n```")
    for proto in kinds_of(cls):
        m = re.search(r"Safe state:(.*?)(?:\n\n|$)", inspect.getdoc(proto) or "", re.S)
        if m:
            parts.append(f"The [`{proto.kind}`](../kinds/{proto.kind}.md) kind promises: "
                         f"{_escape_outside_code(' '.join(m.group(1).split()))}")
    return "\n\n".join(parts)


def link_text(cls: type) -> str:
    if getattr(cls, "virtual", False):
        return "virtual: no link of its own (every byte goes through the instruments it is built over)"
    settings = getattr(cls, "transport_settings", {}) or {}
    return ", ".join(f"`{k}={v!r}`" for k, v in settings.items()) or "the transport's defaults"


def options_text(cls: type) -> str:
    """The constructor's own keyword options (a station file's ``options:``)."""
    skip = {"self", "address", "name", "limits", "calibration", "transport"}
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return "—"
    shown = [f"`{p.name}={p.default!r}`" if p.default is not p.empty else f"`{p.name}`"
             for p in params if p.name not in skip and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return ", ".join(shown) or "—"


def api_members(cls: type) -> list[str]:
    """Public methods and properties a driver module defines for ``cls`` (its own and inherited
    from other driver classes; the instrument base is documented once, in ``hilt.instrument``)."""
    from hilt.instrument import Instrument
    from hilt.parameters import Parameter

    # The base's hooks a driver fills in (on_connect, configure, check_reply, ...) are how it is
    # built, not what a lab calls; identify() is both.
    hooks = {k for klass in Instrument.__mro__ for k in vars(klass)} - {"identify"}
    names: dict[str, None] = {}
    for klass in cls.__mro__:
        if klass is Instrument or not klass.__module__.startswith("hilt.drivers"):
            break
        for k, v in vars(klass).items():
            if k.startswith("_") or k in hooks or isinstance(v, Parameter):
                continue
            if inspect.isfunction(v) or isinstance(v, (property, classmethod, staticmethod)):
                names[k] = None
    return sorted(names)


def driver_page(name: str, cls: type) -> str:
    module = sys.modules[cls.__module__]
    inst = build_driver(name, cls)
    kinds = getattr(cls, "kinds", ())
    kind_links = ", ".join(f"[`{k}`](../kinds/{k}.md)" for k in kinds) or "none"
    sim = getattr(cls, "simulator", None)
    sim_page = ROOT / "docs" / "simulators" / f"{sim}.md"
    sim_text = (f"[`{sim}`](../../simulators/{sim}.md)" if sim and sim_page.exists()
                else f"`{sim}`" if sim else "none (virtual)")
    lines = [
        f"# `{name}`: {cls.__name__}",
        "",
        first_sentence(cls.__doc__),
        "",
        "| | |",
        "|---|---|",
        f"| class | `{cls.__module__}.{cls.__qualname__}` |",
        f"| kinds | {kind_links} |",
        f"| simulator | {sim_text} |",
        f"| link | {link_text(cls)} |",
        f"| options | {options_text(cls)} |",
        "",
        "## Parameters",
        "",
    ]
    if inst is not None:
        lines += ["With the default options; options narrow some ranges, and a station's `limits:` "
                  "narrows them further (soft limits). Units are SI unless the table says otherwise; "
                  "`—`: no unit (on/off, an index, a set of names). A readout is a parameter with "
                  "`get` only: `inst.r.get()`, or `inst.r()`.", ""]
        own = inst.parameters
    else:
        lines += ["As declared on the class (the driver could not be built without a link to read "
                  "its options): ranges may be narrowed by options and `configure()`.", ""]
        own = declared_parameters(cls)
    lines.append(parameter_table(own) if own else "No parameters of its own (see the methods below).")
    channels = list(getattr(inst, "channels", []) or [])
    by_class: dict[type, list[Any]] = {}
    for ch in channels:
        by_class.setdefault(type(ch), []).append(ch)
    for ch_cls, chs in by_class.items():
        names = f"`{chs[0].name}` … `{chs[-1].name}`" if len(chs) > 1 else f"`{chs[0].name}`"
        lines += ["", f"### Per channel: {ch_cls.__name__} ({len(chs)}: {names})", "",
                  f"{first_sentence(ch_cls.__doc__)} In `inst.channels`; a station's `limits:` on a "
                  "channel parameter applies to every channel. The commands shown are channel "
                  f"{chs[0].name}'s.", "", parameter_table(chs[0].parameters)]
    not_verified = [p for p in inspect.cleandoc(module.__doc__ or "").split("\n\n") if _NOT_VERIFIED.search(p)]
    lines += ["", "## Safe state", "", safe_state_text(cls), "",
              "## What was not verified", ""]
    if not_verified:
        lines += ["The paragraphs of the module docstring that say so:", ""]
        lines += [markdown(p) + "\n" for p in not_verified]
    else:
        lines += ["The module docstring names nothing as unverified.", ""]
    lines += ["## The manual and the protocol", "",
              f"The module docstring of `{cls.__module__}`, in full:", "",
              markdown(module.__doc__), "",
              "## Methods", "",
              f"::: {cls.__module__}.{cls.__qualname__}",
              "    options:",
              "      show_root_heading: false",
              "      show_root_toc_entry: false",
              "      show_bases: true",
              "      heading_level: 3",
              "      inherited_members: true",
              f"      members: [{', '.join(api_members(cls))}]" if api_members(cls) else "      members: false",
              ""]
    return "\n".join(lines)


# -- kinds -------------------------------------------------------------------------------------------
def kind_page(kind: str, proto: type, drivers: dict[str, type]) -> str:
    from hilt.instruments.kinds import members

    rows = ["| member | what | signature |", "|---|---|---|"]
    hints = getattr(proto, "__annotations__", {})
    for m in members(proto):
        value = getattr(proto, m, None)
        if callable(value):
            signature = str(inspect.signature(value)).replace("(self, ", "(").replace("(self)", "()").replace("'", "")
            rows.append(f"| `{m}` | method | {code(m + signature)} |")
        else:
            hint = hints.get(m, "")
            what = "parameter" if "BoundParameter" in str(hint) else "attribute"
            rows.append(f"| `{m}` | {what} | {code(str(hint))} |")
    implementing = [n for n, c in drivers.items() if kind in getattr(c, "kinds", ())]
    lines = [f"# Kind `{kind}`: {proto.__name__}", "",
             f"`hilt.instruments.kinds.{proto.__name__}`: a runtime-checkable Protocol "
             f"(`isinstance(inst, {proto.__name__})`); `kind_of(\"{kind}\")` gives it.", "",
             markdown(inspect.getdoc(proto)), "",
             "## Members", "", "\n".join(rows), "",
             "## Drivers of this kind", ""]
    lines += [f"- [`{n}`](../drivers/{n}.md): {first_sentence(drivers[n].__doc__)}" for n in implementing] or ["None yet."]
    return "\n".join(lines) + "\n"


# -- index -------------------------------------------------------------------------------------------
def index_page(drivers: dict[str, type], kinds: dict[str, type]) -> str:
    lines = ["# Reference", "",
             "Generated from the code at every build (`docs/gen_reference.py`): one page per "
             "registered driver and one per device kind. A driver's page lists its parameters "
             "(unit, range, get/set, command, snapshot), its safe state, the manual its bytes come "
             "from and what was not verified, then its methods.", "",
             "## Drivers", "", "| driver | class | kinds | what |", "|---|---|---|---|"]
    for n, c in drivers.items():
        ks = ", ".join(f"[`{k}`](kinds/{k}.md)" for k in getattr(c, "kinds", ())) or "—"
        lines.append(f"| [`{n}`](drivers/{n}.md) | `{c.__name__}` | {ks} | {cell(first_sentence(c.__doc__))} |")
    lines += ["", "## Kinds", "", "What each kind promises is in [Device kinds](../kinds.md).", "",
              "| kind | Protocol | drivers |", "|---|---|---|"]
    for k, proto in kinds.items():
        ds = ", ".join(f"[`{n}`](drivers/{n}.md)" for n, c in drivers.items() if k in getattr(c, "kinds", ()))
        lines.append(f"| [`{k}`](kinds/{k}.md) | `{proto.__name__}` | {ds or '—'} |")
    lines += ["", "## The core", "", "The pieces every driver is built from.", "",
              "::: hilt.parameters.BoundParameter", "    options:", "      heading_level: 3",
              "      members: [get, set, validate, set_soft_limits, ramp_points, set_safe]", "",
              "::: hilt.instruments.kinds", "    options:", "      heading_level: 3",
              "      members: [kind_of, kinds_of, members]", ""]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """Every generated page, by its path under the docs folder."""
    from hilt import registry
    from hilt.instruments.kinds import KINDS

    drivers = {n: registry.load_driver(n) for n in sorted(registry.driver_names())}
    out = {"reference/index.md": index_page(drivers, KINDS)}
    out.update({f"reference/drivers/{n}.md": driver_page(n, c) for n, c in drivers.items()})
    out.update({f"reference/kinds/{k}.md": kind_page(k, p, drivers) for k, p in KINDS.items()})
    return out


def nav() -> list[Any]:
    from hilt import registry
    from hilt.instruments.kinds import KINDS

    return [{"Overview": "reference/index.md"},
            {"Drivers": [{n: f"reference/drivers/{n}.md"} for n in sorted(registry.driver_names())]},
            {"Kinds": [{k: f"reference/kinds/{k}.md"} for k in KINDS]}]


def link_source_tree() -> Path:
    """``build/docs-src/hilt``: the core's files and the layer folders, linked, as imported."""
    import importlib

    import hilt

    tree = SOURCE_TREE / "hilt"
    tree.mkdir(parents=True, exist_ok=True)
    targets = {p.name: p for p in Path(hilt.__file__).parent.iterdir() if p.name != "__pycache__"}
    for layer in LAYERS:
        targets[layer] = Path(importlib.import_module(f"hilt.{layer}").__path__[0])
    for entry in tree.iterdir():
        if entry.name not in targets or not entry.exists():  # gone from the source: a dangling link
            entry.unlink()
    for entry_name, target in targets.items():
        link = tree / entry_name
        if not link.is_symlink():
            try:
                link.symlink_to(target)
            except FileExistsError:  # another build made it meanwhile
                pass
    return SOURCE_TREE


# -- the mkdocs hook ---------------------------------------------------------------------------------
_PAGES: dict[str, str] = {}


def home_page() -> str:
    """The site's front page: the README's opening paragraph and where to go from there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    opening = readme.split("\n\n")[1] if readme.startswith("# ") else readme.split("\n\n")[0]
    return "\n".join([
        "# hilt", "", opening, "",
        "This site is built from `docs/` and from the code's docstrings (`make docs`; the README in "
        "the repository says how to install and run). Where to look:", "",
        "- [Device kinds](kinds.md): what a routine may rely on, whatever the instrument;",
        "- [Reference](reference/index.md): every driver's parameters (unit, range, get/set), safe "
        "state, manual and what was not verified, and every kind, generated from the code;",
        "- [Calibration](calibration.md), [Programming a chip](programming.md), [Sweeps](sweeps.md), "
        "[Run files](run-file.md), [Testing your lab code](testing-your-lab-code.md);",
        "- [Simulators](simulators/README.md): how much of each manual every simulator implements;",
        "- the decisions behind the design: [ADRs](adr/0001-layout-and-layers.md).", ""])


def on_startup(command: str, dirty: bool) -> None:
    # Before any plugin's config event: mkdocstrings drops a search path that does not exist yet.
    link_source_tree()


def on_config(config: Any) -> Any:
    _PAGES.clear()
    _PAGES["index.md"] = home_page()
    _PAGES.update(pages())
    nav_ = list(config["nav"] or [])
    sims = sorted(p.name for p in (ROOT / "docs" / "simulators").glob("*.md") if p.name != "README.md")
    for entry in nav_:
        if isinstance(entry, dict) and isinstance(entry.get("Simulators"), list):
            entry["Simulators"] += [{p[:-3]: f"simulators/{p}"} for p in sims]
    listed = set(_nav_paths(nav_))
    docs = Path(config["docs_dir"])
    # A page added to docs/ without a nav entry still gets one (a strict build would fail on it).
    others = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    others = [p for p in others if p not in listed and not p.startswith("reference/")]
    config["nav"] = [*nav_, *([{"More": others}] if others else []), {"Reference": nav()}]
    return config


def _nav_paths(entries: Any) -> list[str]:
    """Every page path a nav (or a part of one) names."""
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, dict):
        return [p for v in entries.values() for p in _nav_paths(v)]
    if isinstance(entries, list):
        return [p for e in entries for p in _nav_paths(e)]
    return []


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, text in _PAGES.items():
        files.append(File.generated(config, path, content=text))
    return files


_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def on_page_markdown(markdown_text: str, page: Any, config: Any, files: Any) -> str:
    """A link from a page in docs/ to a file of the repository outside docs/ (``../BENCHMARKS.md``,
    right when the page is read on a code host) names that file instead: it is not on the site.
    Any other link is left for mkdocs to check (``--strict`` fails on a broken one)."""
    docs = Path(config["docs_dir"]).resolve()
    if page.file.abs_src_path is None:
        return markdown_text
    here = Path(page.file.abs_src_path).resolve().parent

    def replace(m: re.Match[str]) -> str:
        text, target = m.group(1), m.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return m.group(0)
        path = (here / target.split("#")[0]).resolve()
        if path.is_relative_to(docs) or not path.exists() or not path.is_relative_to(ROOT):
            return m.group(0)
        name = path.relative_to(ROOT).as_posix()
        return f"`{name}`" if text.strip("`") == name else f"{text} (`{name}` in the repository)"

    return _LINK.sub(replace, markdown_text)


_HTML_ROLE = re.compile(r":(?:class|meth|attr|func|mod|data|exc|obj):<code>(~?)([^<]+)</code>")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Docstrings rendered by mkdocstrings keep their reST roles (``:attr:`snap_max```): shown as
    plain code, ``~a.b.C`` as ``C``."""
    return _HTML_ROLE.sub(lambda m: f"<code>{m.group(2).split('.')[-1] if m.group(1) else m.group(2)}</code>", html)


if __name__ == "__main__":
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "build/reference")
    for path, text in pages().items():
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"{len(pages())} pages in {out_dir}")
