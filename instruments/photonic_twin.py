"""The digital twin of a photonic processor, built from what the processor says it is.

:func:`twin_from_description` takes the description a photonic processor gives
(:meth:`hilt.drivers.photonic_processor.PhotonicProcessor.describe`: mesh type, ports, layers,
the activation between meshes, the output detectors) and builds the same architecture from
:mod:`hilt.sims.physics`, without the chip's hidden errors: the model the loops train through.
A description it cannot build (a mesh type, an activation or a detector it does not know, sizes
that do not add up) is refused in one line, before any training starts: a twin of another
architecture than the chip's would train the wrong model without an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch import nn

from hilt.errors import ConfigError
from hilt.sims.physics import EOActivation, MZINetwork, Photodetectors, mesh_layout

#: Mesh types a twin can be built for.
MESHES = ("clements", "reck")
#: Activations between meshes a twin can be built with, and their parameters.
#: ``none``: nothing between meshes (a one-mesh bench, or meshes joined by waveguides only).
ACTIVATIONS: dict[str, tuple[str, ...]] = {"electro_optic": ("alpha", "g", "phi_b"), "none": ()}
#: Output detectors a twin can be built with, and their parameters.
DETECTORS: dict[str, tuple[str, ...]] = {"photodiode": ("n", "responsivity")}


def _refuse(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: cannot build a twin: {message}")


def _parameters(where: str, what: str, spec: Any, known: Mapping[str, tuple[str, ...]]
                ) -> tuple[str, dict[str, float]]:
    if spec is None:
        raise _refuse(where, f"the processor does not report its {what} (state it in the station "
                             f"file: expect: {{{what}: {next(iter(known))}}})")
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, Mapping):
        raise _refuse(where, f"{what} {spec!r} is not a kind with parameters")
    kind = spec.get("kind")
    if kind not in known:
        raise _refuse(where, f"{what} {kind!r} (known: {', '.join(known)})")
    params = {k: v for k, v in spec.items() if k != "kind"}
    unknown = sorted(set(params) - set(known[kind]))
    if unknown:
        raise _refuse(where, f"{what} {kind}: unknown parameter(s) {', '.join(unknown)} "
                             f"(known: {', '.join(known[kind])})")
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise _refuse(where, f"{what} {kind}: {k} {v!r} is not a finite number")
    return kind, {k: float(v) for k, v in params.items()}


def _size(where: str, desc: Mapping[str, Any], key: str) -> int:
    value = desc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _refuse(where, f"{key} {value!r} is not a positive integer")
    return value


def twin_from_description(desc: Mapping[str, Any], seed: int = 0, *, name: str = "processor") -> MZINetwork:
    """An error-free :class:`~hilt.sims.physics.MZINetwork` of the described architecture.

    ``desc`` is a processor's :meth:`describe` (keys ``mesh``, ``n_ports``, ``n_layers``,
    ``activation``, optionally ``detectors`` and ``heaters_per_layer``). The phases start from
    ``seed``: the same seed gives the same twin, and for a Clements chip with the default
    electro-optic activation the twin ``MZINetwork.build(n_ports, n_layers, seed=seed).twin()``.
    Activation ``none`` joins the meshes with nothing (a one-mesh bench reports it). Activation
    parameters the description leaves out take :class:`~hilt.sims.physics.EOActivation`'s
    defaults; a missing ``detectors`` entry means unit-responsivity photodiodes. Anything it
    cannot build is a one-line :class:`~hilt.errors.ConfigError` that starts with ``name``.
    """
    if not isinstance(desc, Mapping):
        raise _refuse(name, f"a description is a mapping, not {type(desc).__name__}")
    n = _size(name, desc, "n_ports")
    layers = _size(name, desc, "n_layers")
    mesh = desc.get("mesh")
    if mesh is None:
        raise _refuse(name, "the processor does not report its mesh type (state it in the station "
                            "file: expect: {mesh: clements})")
    if mesh not in MESHES:
        raise _refuse(name, f"mesh {mesh!r} (known: {', '.join(MESHES)})")
    if n < 2:
        raise _refuse(name, f"n_ports {n}: a mesh has 2 ports or more")
    heaters = desc.get("heaters_per_layer")
    expected_heaters = mesh_layout(n, mesh).n_heaters
    if heaters is not None and heaters != expected_heaters:
        raise _refuse(name, f"{heaters} heaters per layer; a {n}-port {mesh} mesh has {expected_heaters}")
    act_kind, act = _parameters(name, "activation", desc.get("activation"), ACTIVATIONS)
    _, det = _parameters(name, "detectors", desc.get("detectors") or "photodiode", DETECTORS)
    if det.pop("n", n) != n:
        raise _refuse(name, f"{desc['detectors'].get('n')} detectors on {n} ports")
    # The same generator draws as MZINetwork.build: a given seed keeps giving the same twin.
    built = MZINetwork.build(n, layers, mesh, seed=seed)
    activation = EOActivation(**act) if act_kind == "electro_optic" else nn.Identity()
    network = MZINetwork(list(built.meshes), activation, Photodetectors(n, **det))
    return network.twin()
