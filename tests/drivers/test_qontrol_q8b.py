"""Qontrol Q8b: the Q8iv protocol with an 83.3 mA current range."""

from __future__ import annotations

import pytest

from hilt.drivers.qontrol import QontrolQ8b
from hilt.errors import ConfigError, LimitError
from hilt.sims.qontrol import SimQontrolQ8b
from hilt.testing import expected_protocol


def test_protocol_current_and_full_scale() -> None:
    with expected_protocol(QontrolQ8b, [
        (b"nupall?\n", b"Q8b-0A11: 0\n"),
        (b"i0=50\n", b"OK\n"),
        (b"i0?\n", b"+50.0000 mA\n"),
        (b"vfull?\n", b"+12.0000 V\n"),
        (b"ifull?\n", b"+83.3333 mA\n"),
    ]) as q:
        q.channels[0].current.set(50)  # beyond a Q8iv's 24 mA
        assert q.channels[0].current.get() == 50.0
        assert q.full_scale() == (12.0, 83.3333)
        with pytest.raises(LimitError):
            q.channels[0].current.set(84)


def test_a_q8iv_in_the_chain_is_refused() -> None:
    with pytest.raises(ConfigError), expected_protocol(QontrolQ8b, [(b"nupall?\n", b"Q8iv-01F3: 0\n")]):
        pass


def test_against_simulator(served) -> None:
    sim, address = served(SimQontrolQ8b, load_ohm=100.0)
    with QontrolQ8b(address) as q:
        q.channels[2].current.set(60.0)
        assert q.channels[2].current.get() == pytest.approx(60.0, abs=0.01)
        assert q.channels[2].voltage.get() == pytest.approx(6.0, abs=1e-3)
    assert sim.v[2] == 0.0
