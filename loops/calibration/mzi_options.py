"""The MZI routines' options, checked before anything is sent.

``hilt calibrate STATION mzi_heaters -o inputs=[0,7]`` reads each value as YAML; the names are
checked against the routine's signature (:func:`hilt.loops.calibration.parse_options`), and the
values here, against the station they will drive: types and ranges, the chip's input ports, the
sweep voltages against the heater driver's hardware range and the station's soft limits, the
switch outputs against the switch. A bad option is a one-line :class:`~hilt.errors.ConfigError`
naming it, raised before the run file is opened and before a byte goes to an instrument.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hilt.errors import ConfigError, LimitError

#: name -> (low, high, integer): numeric options and their accepted ranges (None: unbounded).
NUMBERS: dict[str, tuple[float | None, float | None, bool]] = {
    "points": (4, 100_000, True),
    "crosstalk_points": (4, 100_000, True),
    "averages": (1, 10_000, True),
    "settle_s": (0.0, 3600.0, False),
    "min_r2": (0.0, 1.0, False),
    "wrap_tolerance": (0.0, math.pi, False),
    "alpha_nominal": (1e-9, None, False),
    "resistance": (1e-6, None, False),
    "v_max": (1e-9, None, False),
    "v_aggressor": (1e-9, None, False),
    "modulator_v_max": (1e-9, None, False),
    "n_modes": (2, 4096, True),
}


def _number(routine: str, name: str, value: Any) -> float | int:
    lo, hi, integer = NUMBERS[name]
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and not math.isfinite(float(value)):
        ok = False
    if ok and integer and float(value) != int(value):
        ok = False
    kind = "a whole number" if integer else "a number"
    span = f"{lo:g}..{hi:g}" if hi is not None else f">= {lo:g}"
    if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{routine}: option {name}={value!r}: expected {kind} {span}")
    return int(value) if integer else float(value)


def _port(routine: str, name: str, value: Any, n: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < n:
        raise ConfigError(f"{routine}: option {name}: {value!r} is not one of the chip's input ports 0..{n - 1}")
    return int(value)


def check_values(routine: str, opts: dict[str, Any]) -> dict[str, Any]:
    """The options that need no station, checked and normalised (numbers as ints/floats)."""
    out = dict(opts)
    for name in NUMBERS:
        if out.get(name) is not None:
            out[name] = _number(routine, name, out[name])
    for name in ("phi",):
        if name in out and not isinstance(out[name], bool):
            raise ConfigError(f"{routine}: option {name}={out[name]!r}: expected true or false")
    for name in ("heaters", "meter", "laser", "switch", "modulators", "mesh"):
        if out.get(name) is not None and not isinstance(out[name], str):
            raise ConfigError(f"{routine}: option {name}={out[name]!r}: expected a name")
    return out


def check_options(routine: str, opts: dict[str, Any], n: int, heaters: Any, n_heaters: int) -> dict[str, Any]:
    """``opts`` checked and normalised for an ``n``-port chip on ``heaters`` (see the module);
    sends nothing. Returns a copy with numbers as ints/floats and ports as ints."""
    out = check_values(routine, opts)
    out["input_port"] = _port(routine, "input_port", out.get("input_port", 0), n)
    inputs = out.get("inputs")
    if isinstance(inputs, (int, np.integer)) and not isinstance(inputs, bool):
        inputs = [inputs]  # -o inputs=7: one port
    if inputs is not None:
        if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence) or not inputs:
            raise ConfigError(f"{routine}: option inputs={inputs!r}: expected a list of input ports, e.g. [0, {n - 1}]")
        ports = [_port(routine, "inputs", p, n) for p in inputs]
        if len(set(ports)) != len(ports):
            raise ConfigError(f"{routine}: option inputs={inputs!r}: a port is given twice")
        out["inputs"] = ports
    select = out.get("select_input")
    if select is not None and not callable(select):
        raise ConfigError(f"{routine}: option select_input: expected a function of the input port")
    channels = out.get("switch_channels")
    if channels is not None:
        if not isinstance(channels, dict):
            raise ConfigError(f"{routine}: option switch_channels={channels!r}: expected {{input port: switch "
                              "output}}, e.g. {0: 1, 7: 8}")
        out["switch_channels"] = {_port(routine, "switch_channels", p, n): c for p, c in channels.items()}
    # The sweep's and the aggressor's voltages on every heater, against the driver's range and the
    # station's soft limits: a v_max the heaters may not take is refused now, not at step 20.
    for name in ("v_max", "v_aggressor"):
        v = out.get(name)
        if v is None:
            continue
        vector = np.zeros(int(heaters.n_channels))
        vector[:n_heaters] = v
        try:
            heaters.validate_voltages(vector)
        except LimitError as exc:
            raise ConfigError(f"{routine}: option {name}={v:g} V: the heaters cannot take it ({exc})") from None
    return out


def check_modulators(routine: str, modulators: Any, n: int, v_max: float) -> None:
    """The input modulators can drive an ``n``-input chip (an amplitude MZI and a phase shifter
    per input: channels ``2p`` and ``2p + 1``) and every amplitude MZI can take ``v_max``, the top
    of its transfer sweep (the driver's range and the station's soft limits); sends nothing."""
    have = int(modulators.n_channels)
    if have < 2 * n:
        raise ConfigError(f"{routine}: modulators {modulators.name}: {have} channels, the chip's {n} inputs need "
                          f"{2 * n} (amplitude MZI on channel 2p, phase shifter on 2p + 1, counting from 0)")
    vector = np.zeros(have)
    vector[0:2 * n:2] = v_max
    try:
        modulators.validate_voltages(vector)
    except LimitError as exc:
        raise ConfigError(f"{routine}: option modulator_v_max={v_max:g} V: the modulators cannot take it ({exc}); "
                          "give a lower modulator_v_max") from None


def switch_channels(opts: dict[str, Any], n: int) -> dict[int, Any]:
    """Which switch output lights each chip input: ``switch_channels`` where given, else input
    ``p`` on output ``p + 1`` (the outputs of a 1xN switch count from 1)."""
    given = opts.get("switch_channels") or {}
    return {p: given.get(p, p + 1) for p in range(n)}


def check_switch(routine: str, switch: Any, channels: dict[int, Any], inputs: list[int]) -> None:
    """Every input the routine will light has a switch output the switch can take; sends nothing."""
    for port in inputs:
        try:
            switch.channel.validate(channels[port])
        except (LimitError, ValueError) as exc:
            raise ConfigError(f"{routine}: input {port} is on switch output {channels[port]!r}, which "
                              f"{switch.name} cannot take ({exc}); give switch_channels") from None


def selector(opts: dict[str, Any], switch: Any, n: int) -> Callable[[int], None] | None:
    """How the routine lights input ``p``: the Python ``select_input`` if given, else the switch
    (its output for ``p``), else None (only the input already lit can be used)."""
    if opts.get("select_input") is not None:
        return opts["select_input"]
    if switch is None:
        return None
    table = switch_channels(opts, n)

    def select(port: int) -> None:
        switch.channel.set(table[port])

    return select
