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

A wrong file gets one line naming the file, the line, the instrument and the field, e.g.
``thz-lab.yaml:9: instruments.synth.driver: unknown driver 'e8257' (known: ...)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hilt import registry
from hilt.errors import ConfigError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WorldConfig(BaseModel):
    """The simulated world shared by a station's simulators."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    errors: str = "none"
    clock: Literal["real", "manual"] = "real"
    speed: float = Field(1.0, gt=0)
    #: Physical systems coupling the simulators: name -> {kind: ..., options...}
    systems: dict[str, dict[str, Any]] = {}

    @field_validator("systems")
    @classmethod
    def _known_kinds(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from hilt.sims.systems import system_kinds

        for name, spec in value.items():
            kind = spec.get("kind")
            if kind not in system_kinds():
                raise ValueError(f"{name}: kind {kind!r} is not a known system (known: {', '.join(system_kinds())})")
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


class StationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "station"
    simulate: bool = False
    world: WorldConfig = WorldConfig()
    instruments: dict[str, InstrumentConfig]

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

    def is_simulated(self, name: str) -> bool:
        inst = self.instruments[name]
        return self.simulate if inst.simulate is None else inst.simulate


class _FieldError(ValueError):
    """A cross-field error that knows which field it is about."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


def _node_line(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """1-based line of the deepest YAML node along ``loc`` (the loader's marks)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for key in loc:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if str(k.value) == str(key):
                    line = k.start_mark.line + 1
                    nxt = v
                    break
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


def parse_station(text: str, path: str = "<station>") -> StationConfig:
    """Validate a station file's text; any problem is one :class:`ConfigError` line."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"{_where(path, line)}: not valid YAML: {exc.problem or exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a station file is a mapping with an 'instruments' section")
    try:
        return StationConfig.model_validate(data)
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
        field = ".".join(str(p) for p in loc) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{_where(path, _node_line(root, loc))}: {field}: {message}{more}") from None


def load_station(path: str | Path) -> StationConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read station file: {exc.strerror or exc}") from None
    return parse_station(text, str(p))
