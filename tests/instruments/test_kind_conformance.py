"""Meta test: a connected instance of every driver is an instance of each kind it declares, and
every member of the kind is there (methods callable, parameters gettable and settable)."""

from __future__ import annotations

import inspect

import pytest
from kind_cases import driver_kind_pairs

from hilt.instruments.kinds import kind_of, members
from hilt.parameters import BoundParameter


@pytest.mark.parametrize(("name", "kind"), driver_kind_pairs())
def test_connected_driver_conforms_to_its_kind(connected, name: str, kind: str) -> None:
    proto = kind_of(kind)
    inst = connected(name).inst
    assert isinstance(inst, proto), f"{name} declares {kind} but lacks " + ", ".join(
        m for m in members(proto) if not hasattr(inst, m))
    for member in members(proto):
        declared = getattr(proto, member, None)
        value = getattr(inst, member)
        if callable(declared) and not isinstance(declared, BoundParameter):
            assert callable(value), f"{name}.{member} is not callable"
            wanted = [p.name for p in inspect.signature(declared).parameters.values()
                      if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
            got = inspect.signature(value).parameters
            has_var = any(p.kind is p.VAR_POSITIONAL for p in got.values())
            assert has_var or len([p for p in got.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) \
                >= len(wanted), f"{name}.{member}{inspect.signature(value)} takes fewer arguments than the kind's"
        elif isinstance(value, BoundParameter):
            assert value.gettable, f"{name}.{member} cannot be read"
        else:
            assert value is not None, f"{name}.{member} is None"


def test_an_instrument_missing_a_member_is_not_of_the_kind(connected) -> None:
    from hilt.instruments.kinds import LockIn, PowerMeter

    class HalfAMeter:
        n_ports = 1

        def safe_state(self) -> None:
            pass

    assert not isinstance(HalfAMeter(), PowerMeter)
    HalfAMeter.read_all = None  # present but not callable
    assert not isinstance(HalfAMeter(), PowerMeter)
    assert not isinstance(object(), LockIn)
