"""The station file: schema, loading, and one-line error messages.

A station file names the instruments of a bench::

    name: thz-lab
    simulate: true            # start simulators for every instrument (or per instrument)
    world: {seed: 1234, errors: mild}
    instruments:
      synth:
        driver: keysight_e8257d
        address: TCPIP::192.168.1.20::5025::SOCKET
        limits: {frequency: [75e9, 110e9]}
        options: {frequency_option: "520"}
    roles: {source: synth}    # what each instrument is for (hilt.roles); routines ask for roles

A wrong file gets one line naming the file, the line, the instrument and the field, e.g.
``thz-lab.yaml:9: instruments.synth.driver: unknown driver 'e8257' (known: ...)``, before any
simulator starts or any link opens. Refused, besides what the schema below says: a key given twice
in one mapping, NaN or infinity anywhere, an instrument, role or world system that does not exist,
a station role (``roles:``) whose instrument's driver does not declare a kind the role accepts, a
driver, simulator or world-system option that its class does not take (checked against the
constructor's signature), and any value the driver, simulator or system refuses when built on its
own (no link, no server: see :func:`validate_station`).
"""

from __future__ import annotations

import inspect
import math
import re
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hilt import registry, roles
from hilt.errors import ConfigError, HiltError, LimitError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WorldConfig(BaseModel):
    """The simulated world shared by a station's simulators."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    errors: str = "none"
    #: ``real``, ``fast`` or ``manual`` (hilt.sims.world.SimClock); unset, the program chooses:
    #: ``fast`` for scripts, the command line and tests, ``real`` in the app and for
    #: ``hilt sim serve-station`` (a person or an outside program waits in wall-clock time).
    clock: Literal["real", "fast", "manual"] | None = None
    speed: float = Field(1.0, gt=0)
    #: Physical systems coupling the simulators: name -> {kind: ..., options...}
    systems: dict[str, dict[str, Any]] = {}

    @field_validator("systems")
    @classmethod
    def _known_kinds(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if not value:
            return value
        try:
            system_kinds = registry.load_simulation().system_kinds()
        except ConfigError as exc:
            raise _FieldError(("world", "systems"), str(exc)) from None
        for name, spec in value.items():
            kind = spec.get("kind")
            if kind is None:
                raise _FieldError(("world", "systems", name), f"needs a 'kind' (one of: {', '.join(system_kinds)})")
            if kind not in system_kinds:
                raise _FieldError(("world", "systems", name, "kind"),
                                  f"{kind!r} is not a known system (known: {', '.join(system_kinds)})")
        return value


class InstrumentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    driver: str
    address: str | None = None
    simulate: bool | None = None
    limits: dict[str, tuple[float | None, float | None]] = {}
    calibration: str | None = None
    options: dict[str, Any] = {}
    transport: dict[str, Any] = {}
    sim: dict[str, Any] = {}
    uses: dict[str, str] = {}

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value not in registry.driver_names():
            known = ", ".join(registry.driver_names()) or "none installed"
            raise ValueError(f"unknown driver {value!r} (known: {known})")
        return value

    @field_validator("limits")
    @classmethod
    def _ordered_limits(cls, value: dict[str, tuple[float | None, float | None]]) -> dict[str, Any]:
        for name, (low, high) in value.items():
            if low is not None and high is not None and low > high:
                raise ValueError(f"{name}: low limit {low:g} above high limit {high:g}")
        return value


class RoleConfig(BaseModel):
    """One role of a station (``roles:`` in the file): the instrument that fills it, and for a
    role outside the standard table (:data:`hilt.roles.ROLES`) the kind it needs."""

    model_config = ConfigDict(extra="forbid")
    instrument: str
    kind: str | None = None


class StationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "station"
    simulate: bool = False
    world: WorldConfig = WorldConfig()
    instruments: dict[str, InstrumentConfig]
    #: role -> instrument (``detector: lockin``), or ``{instrument: NAME, kind: KIND}``.
    roles: dict[str, RoleConfig] = {}
    #: What a training loop needs to know of the bench that no instrument reports, by bench:
    #: ``slm_bench: {layers: 2, fold_distance_m: 0.005}`` (a folded SLM bench; options of
    #: :func:`hilt.loops.slm_bench.setup_bench`). The loop checks its own part.
    setup: dict[str, dict[str, Any]] = {}

    @field_validator("roles", mode="before")
    @classmethod
    def _role_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {role: {"instrument": spec} if isinstance(spec, str) else spec for role, spec in value.items()}
        return value

    @field_validator("instruments")
    @classmethod
    def _names(cls, value: dict[str, InstrumentConfig]) -> dict[str, InstrumentConfig]:
        if not value:
            raise ValueError("a station needs at least one instrument")
        for name in value:
            if not NAME.match(name):
                raise ValueError(f"instrument name {name!r} must be a Python identifier")
        return value

    @model_validator(mode="after")
    def _addresses_and_uses(self) -> StationConfig:
        for name, inst in self.instruments.items():
            virtual = registry.load_driver(inst.driver).virtual
            if not virtual and not self.is_simulated(name) and not inst.address:
                raise _FieldError(("instruments", name, "address"), "needed unless the instrument is simulated")
            for role, other in inst.uses.items():
                if other not in self.instruments or other == name:
                    raise _FieldError(("instruments", name, "uses", role), f"no other instrument named {other!r}")
        return self

    @model_validator(mode="after")
    def _roles_filled(self) -> StationConfig:
        for role, spec in self.roles.items():
            kinds = roles.accepted_kinds(role, spec.kind)
            if kinds is None:
                raise _FieldError(("roles", role), f"unknown role {role!r} (standard roles: {', '.join(roles.ROLES)}); "
                                                   f"another role names its kind: {{instrument: {spec.instrument}, kind: KIND}}")
            inst = self.instruments.get(spec.instrument)
            if inst is None:
                raise _FieldError(("roles", role), f"no instrument named {spec.instrument!r} in this station "
                                                   f"(has: {', '.join(self.instruments)}); the role needs a "
                                                   f"{roles.either(kinds)}")
            declared = roles.declared_kinds(registry.load_driver(inst.driver))
            if not set(kinds) & set(declared):
                raise _FieldError(("roles", role), f"instrument {spec.instrument!r} (driver {inst.driver}) is not a "
                                                   f"{roles.either(kinds)}, which the role needs (it declares: "
                                                   f"{', '.join(declared) or 'no kinds'})")
        return self

    def is_simulated(self, name: str) -> bool:
        inst = self.instruments[name]
        return self.simulate if inst.simulate is None else inst.simulate


class _FieldError(ValueError):
    """A cross-field error that knows which field it is about."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


# -- reading the YAML -------------------------------------------------------------------------
_MERGE = "tag:yaml.org,2002:merge"


class _StationLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping and keeps the node tree.

    Plain PyYAML keeps the last of two equal keys without a word: a second ``heaters:`` entry
    silently drops the first one's limits. The composed tree (``self.root``) keeps every node's
    line for the messages.
    """

    root: yaml.Node | None = None

    def construct_document(self, node: yaml.Node) -> Any:
        self.root = node
        _refuse_duplicates(node, (), set())
        return super().construct_document(node)


def _refuse_duplicates(node: yaml.Node, loc: tuple[str | int, ...], seen_nodes: set[int]) -> None:
    if id(node) in seen_nodes:  # an alias: already checked (and may be recursive)
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue  # '<<: *defaults' overrides on purpose
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode):
                ident = (key_node.tag, key_node.value)
                if ident in first:
                    raise _FieldError((*loc, key), f"given twice (first on line {first[ident]}); "
                                                   "YAML would keep only the last one", ) from None
                first[ident] = line
            _refuse_duplicates(value_node, (*loc, key), seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicates(item, (*loc, i), seen_nodes)


def _non_finite(data: Any, loc: tuple[str | int, ...] = ()) -> tuple[tuple[str | int, ...], float] | None:
    """The first NaN or infinity in the data, with where it is."""
    if isinstance(data, float) and not math.isfinite(data):
        return loc, data
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = _non_finite(value, (*loc, key))
        if found:
            return found
    return None


def _node_line(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """1-based line of the deepest YAML node along ``loc`` (the loader's marks)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for key in loc:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            nxt = None
            # The last equal key: the one PyYAML keeps (and the duplicate, when refusing one).
            for k, v in node.value:
                if str(k.value) == str(key):
                    line = k.start_mark.line + 1
                    nxt = v
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    if node is not None and not isinstance(node, yaml.MappingNode):
        line = node.start_mark.line + 1
    return line


def _where(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else path


def _field(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class _Refusal:
    """Makes the one-line :class:`ConfigError` for a field of one file."""

    def __init__(self, path: str, root: yaml.Node | None) -> None:
        self.path, self.root = path, root

    def __call__(self, loc: tuple[str | int, ...], message: str) -> ConfigError:
        return ConfigError(f"{_where(self.path, _node_line(self.root, loc))}: {_field(loc)}: {message}")


def parse_station(text: str | bytes, path: str = "<station>") -> StationConfig:
    """Read and check a station file's text; any problem is one :class:`ConfigError` line.

    Checks everything :func:`validate_station` checks too, so a file that parses can be started.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            raise ConfigError(f"{path}:{line}: not a text file (byte 0x{text[exc.start]:02x} at offset "
                              f"{exc.start} is not UTF-8); a station file is YAML text") from None
    refuse = _Refusal(path, None)
    loader: _StationLoader | None = None
    try:
        loader = _StationLoader(text)  # the reader refuses control characters right here
        data = loader.get_single_data()
    except _FieldError as exc:
        refuse.root = loader.root if loader else None
        raise refuse(exc.loc, str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"{_where(path, line)}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:  # e.g. a control character: the reader refuses it
        position = getattr(exc, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else None
        character = getattr(exc, "character", None)
        detail = f"character {chr(character)!r} is not allowed" if isinstance(character, int) else str(exc)
        raise ConfigError(f"{_where(path, line)}: not valid YAML: {detail}") from None
    finally:
        if loader is not None:
            loader.dispose()
    refuse.root = loader.root
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a station file is a mapping with an 'instruments' section")
    found = _non_finite(data)
    if found:
        loc, value = found
        hint = " (null means no limit)" if "limits" in loc else ""
        raise refuse(loc, f"must be a finite number, not {value}{hint}")
    try:
        config = StationConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        message = err["msg"]
        ctx_error = err.get("ctx", {}).get("error")
        if isinstance(ctx_error, _FieldError):
            loc, message = ctx_error.loc, str(ctx_error)
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
        elif err["type"] == "missing":
            message = "required field missing"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise refuse(loc, message + more) from None
    validate_station(config, path, loader.root)
    return config


def load_station(path: str | Path) -> StationConfig:
    """Read, check and return a station file (see :func:`parse_station`)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read station file: {exc.strerror or exc}") from None
    return parse_station(data, str(p))


# -- checking what the schema cannot: references, options, values -----------------------------
#: Set by the station for every driver; a file gives them as fields of the instrument.
_STATION_ARGUMENTS = {"address", "name", "limits", "calibration", "transport"}


def build_order(config: StationConfig) -> list[str]:
    """Instrument names, those that others use first (a multiplier needs its synthesizer)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise _FieldError(("instruments", name, "uses"), "circular: an instrument ends up using itself")
        visiting.add(name)
        for other in config.instruments[name].uses.values():
            visit(other)
        order.append(name)

    for name in config.instruments:
        visit(name)
    return order


def _keywords(cls: type, stop: type | None = None) -> dict[str, tuple[type, inspect.Parameter]]:
    """Keyword arguments ``cls(...)`` takes, following ``**kwargs`` up the class tree to ``stop``."""
    found: dict[str, tuple[type, inspect.Parameter]] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if klass is object:
            break
        if init is None:
            continue
        passes_on = False
        for p in list(inspect.signature(init).parameters.values())[1:]:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                found.setdefault(p.name, (klass, p))
            elif p.kind is p.VAR_KEYWORD:
                passes_on = True
        if not passes_on or klass is stop:
            break
    return found


def _transport_keywords() -> dict[str, tuple[type, inspect.Parameter]]:
    """Link settings (timeout, terminators, baud rate, ...) any transport takes."""
    from hilt.transport import TRANSPORTS, Transport

    names: dict[str, tuple[type, inspect.Parameter]] = {}
    for cls in TRANSPORTS.values():
        names.update(_keywords(cls, Transport))
    return {k: v for k, v in names.items() if k not in ("address", "name")}


def _type_problem(owner: type, param: inspect.Parameter, value: Any) -> str | None:
    """What is wrong with ``value`` for a constructor argument, from its annotation (if readable)."""
    init = owner.__dict__["__init__"]
    try:
        hint = typing.get_type_hints(init).get(param.name)
    except Exception:  # an annotation this interpreter cannot resolve: the constructor still checks
        return None
    if hint is None:
        return None
    from pydantic import TypeAdapter

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:  # a type pydantic cannot check: left to the constructor
        return None
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        return f"{exc.errors()[0]['msg']} (got {value!r})"
    return None


def _find_key(data: Any, key: str) -> tuple[str | int, ...] | None:
    if isinstance(data, dict):
        if key in data:
            return (key,)
        for k, v in data.items():
            sub = _find_key(v, key)
            if sub:
                return (k, *sub)
    return None


def _blame(exc: BaseException, sections: list[tuple[tuple[str | int, ...], dict[str, Any]]]
           ) -> tuple[tuple[str | int, ...], str]:
    """The field a constructor's complaint is about, and the complaint without the field's name."""
    message = str(exc)
    unexpected = re.search(r"unexpected keyword argument '(\w+)'", message)
    if unexpected:
        for prefix, options in sections:
            sub = _find_key(options, unexpected[1])
            if sub:
                return (*prefix, *sub), f"unknown option {unexpected[1]!r}"
    for prefix, options in sections:
        for key in sorted(options, key=len, reverse=True):
            if message.startswith(key) and message[len(key):len(key) + 1] in (" ", ":"):
                rest = message[len(key):].lstrip(": ").strip()
                return (*prefix, key), rest or message
    for prefix, options in sections:
        for key in options:
            if re.search(rf"\b{re.escape(key)}\b", message):
                return (*prefix, key), message
    for prefix, options in sections:
        for key, value in options.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool) and repr(value) in message:
                return (*prefix, key), message
    return sections[0][0], message


def _check_arguments(refuse: _Refusal, loc: tuple[str | int, ...], options: dict[str, Any],
                     accepted: dict[str, tuple[type, inspect.Parameter]], what: str,
                     also: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    for key, value in options.items():
        if key not in accepted and key not in also:
            known = ", ".join(sorted(accepted)) or "none"
            raise refuse((*loc, key), f"unknown option {key!r} for {what} (known: {known})")
        if key in accepted:
            problem = _type_problem(*accepted[key], value)
            if problem:
                raise refuse((*loc, key), problem)


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _placeholder_address(sim_transport: str) -> str:
    """An address of the kind the simulator will serve (port 1: never opened, only parsed)."""
    return {"serial": "socket://127.0.0.1:1", "raw": "tcp://127.0.0.1:1"}.get(
        sim_transport, "TCPIP::127.0.0.1::1::SOCKET")


_CONSTRUCTOR_ERRORS = (HiltError, TypeError, ValueError, KeyError, IndexError, OverflowError)


def validate_station(config: StationConfig, path: str | Path = "<station>", root: yaml.Node | None = None) -> None:
    """Check a station beyond its schema, starting nothing: the first problem is one ConfigError line.

    References must exist (``uses:`` roles and instruments, the ``system:`` a simulator joins, the
    instruments a world system couples); every option must be one its driver, simulator or world
    system takes, of the annotated type; and each driver, simulator and world system is built once
    on its own (a throwaway world, a link object that is never opened, no server) so that its own
    checks of the values (``modules: -8``, ``input_port: 99``, limits outside the hardware range)
    speak now, with the field, rather than after the simulators started. ``root`` is the file's
    YAML node tree, for line numbers.
    """
    from hilt.instrument import Instrument

    refuse = _Refusal(str(path), root)
    try:
        order = build_order(config)
    except _FieldError as exc:
        raise refuse(exc.loc, str(exc)) from None
    drivers = {name: registry.load_driver(ic.driver) for name, ic in config.instruments.items()}
    simulated = [n for n in order if config.is_simulated(n) and not drivers[n].virtual]
    wc = config.world

    # The simulators' side (world, systems, simulator base class) comes from the simulation back
    # end, never from importing hilt.sims: a bench of real instruments needs none installed.
    simulation: Any = registry.load_simulation() if registry.has_simulation() else None
    if simulation is None and (simulated or wc.systems):
        first = simulated[0] if simulated else None
        where = (("world", "systems") if first is None else ("instruments", first, "simulate")
                 if config.instruments[first].simulate else ("simulate",))
        raise refuse(where, registry.NO_SIMULATION)
    world: Any = None
    if simulated:
        if wc.errors != "none":
            presets = simulation.error_presets()
            if wc.errors not in presets:
                raise refuse(("world", "errors"), f"unknown error preset {wc.errors!r} (known: {', '.join(presets)})")
        world = simulation.new_world(seed=wc.seed, errors=wc.errors, clock=wc.clock or "real", speed=wc.speed)

    if wc.systems:
        for sname, spec in wc.systems.items():
            loc = ("world", "systems", sname)
            cls = simulation.system_class(spec["kind"])
            options = {k: v for k, v in spec.items() if k != "kind"}
            accepted = {k: v for k, v in _keywords(cls).items() if k not in ("world", "name")}
            _check_arguments(refuse, loc, options, accepted, f"a world system of kind {spec['kind']}")
            for key in getattr(cls, "instrument_options", ()):
                for other in _names(options.get(key)):
                    if other not in config.instruments:
                        raise refuse((*loc, key), f"no instrument named {other!r} in this station "
                                                  f"(has: {', '.join(config.instruments)})")
            if world is not None:
                try:
                    world.attach(sname, cls(world, name=sname, **options))
                except _CONSTRUCTOR_ERRORS as exc:
                    raise refuse(*_blame(exc, [(loc, options)])) from None

    transport_keys = _transport_keywords()
    built: dict[str, Any] = {}
    for name in order:
        ic = config.instruments[name]
        loc = ("instruments", name)
        driver_cls = drivers[name]
        accepted = {k: v for k, v in _keywords(driver_cls, Instrument).items() if k not in _STATION_ARGUMENTS}
        _check_arguments(refuse, (*loc, "options"), ic.options, accepted, f"driver {ic.driver}",
                         also=set(transport_keys))
        _check_arguments(refuse, (*loc, "transport"), ic.transport, transport_keys, "a link")
        for role in ic.uses:
            if role not in accepted:
                raise refuse((*loc, "uses", role), f"driver {ic.driver} uses no {role!r}")

        # Without a simulation back end (a bench of real instruments) sim: options cannot be
        # checked, and are refused rather than ignored.
        if driver_cls.simulator and simulation is None and ic.sim:
            raise refuse((*loc, "sim"), registry.NO_SIMULATION)
        sim_cls = (registry.load_simulator(driver_cls.simulator)
                   if driver_cls.simulator and simulation is not None else None)
        if sim_cls is None:
            if ic.sim:
                raise refuse((*loc, "sim"), f"driver {ic.driver!r} has no simulator")
            if name in simulated:
                raise refuse((*loc, "simulate"), f"driver {ic.driver!r} has no simulator")
        else:
            base = simulation.simulator_base if simulation is not None else None
            sim_accepted = {k: v for k, v in _keywords(sim_cls, base).items()
                            if k not in ("world", "name")}
            _check_arguments(refuse, (*loc, "sim"), ic.sim, sim_accepted, f"the {driver_cls.simulator} simulator")
            system = ic.sim.get("system")
            if "system" in sim_accepted and system is not None and system not in wc.systems:
                has = ", ".join(wc.systems) or "none"
                raise refuse((*loc, "sim", "system"), f"no world system named {system!r} (world.systems has: {has})")
            if name in simulated:
                try:
                    sim_cls(world, name=name, **ic.sim)
                except _CONSTRUCTOR_ERRORS as exc:
                    raise refuse(*_blame(exc, [((*loc, "sim"), ic.sim)])) from None

        # The driver as the station will build it, but its link object is never opened.
        address = _placeholder_address(sim_cls.transport) if name in simulated and sim_cls else ic.address
        if address and not driver_cls.virtual and name not in simulated:
            from hilt.transport import open_transport

            try:  # an address the link cannot even parse ('tcp://host:port') is the address's fault
                open_transport(address, name=name, **ic.transport)
            except _CONSTRUCTOR_ERRORS as exc:
                raise refuse((*loc, "address"), f"{address!r}: {exc}") from None
        uses = {role: built[other] for role, other in ic.uses.items()}
        try:
            built[name] = driver_cls(address, name=name, limits=ic.limits or None, calibration=ic.calibration,
                                     **uses, **ic.options, **ic.transport)
        except LimitError as exc:
            parameter = getattr(exc, "parameter", "") or ""
            limit = parameter if parameter in ic.limits else next(
                (k for k in ic.limits if re.search(rf"\b{re.escape(k)}\b", str(exc))), None)
            # The field path already names the instrument and parameter: drop the error's own prefix.
            message = re.sub(rf"^{re.escape(name)}(\.\w+)?: ", "", str(exc))
            raise refuse((*loc, "limits", *([limit] if limit else [])), message) from None
        except _CONSTRUCTOR_ERRORS as exc:
            if ic.address and ic.address in str(exc):
                raise refuse((*loc, "address"), str(exc)) from None
            raise refuse(*_blame(exc, [((*loc, "options"), ic.options), ((*loc, "transport"), ic.transport)])) from None
