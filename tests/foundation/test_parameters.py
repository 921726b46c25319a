"""Parameters and validators: everything about a setpoint is checked before a byte is sent."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hilt import Enum, Instrument, InstrumentChannel, Ints, LimitError, Numbers, Parameter, Sequence
from hilt.testing import expected_protocol


class Channel(InstrumentChannel):
    level = Parameter("LEV{ch}?", "LEV{ch} {value:.3f}", unit="V", vals=Numbers(-10, 10))


class Box(Instrument):
    """A made-up instrument for exercising the base classes (its manual is this test)."""

    model = "box"
    transport_settings = {"timeout": 2.0}
    gain = Parameter("GAIN?", "GAIN {value}", vals=Ints(1, 100), get_parser=int)
    mode = Parameter("MODE?", "MODE {value}", vals=Enum("AC", "DC"), get_parser=str.strip)
    bias = Parameter("BIAS?", "BIAS {value:.2f}", unit="V", vals=Numbers(-5, 5), ramp_step=1.0)
    span = Parameter(None, "SPAN {value:g}", unit="Hz", vals=Numbers(1, 1e9))

    def configure(self) -> None:
        self.channels = [Channel(self, i) for i in (1, 2)]


def test_channels_share_the_link_and_take_limits() -> None:
    with expected_protocol(Box, [(b"LEV2 1.500\n", None), (b"LEV1?\n", b"0.25\n")],
                           limits={"level": (0, 2)}) as box:
        ch1, ch2 = box.channels
        assert ch2.level.full_name == "box.ch2.level"
        ch2.level.set(1.5)
        assert ch1.level.get() == 0.25
        with pytest.raises(LimitError, match="box.ch1.level: 3 V outside the soft limits"):
            ch1.level.set(3)


def test_ramp_walks_in_steps_from_the_read_value() -> None:
    exchanges = [(b"BIAS?\n", b"0.5\n")] + [(f"BIAS {v:.2f}\n".encode(), None) for v in (-0.5, -1.5, -2.5)]
    with expected_protocol(Box, exchanges) as box:
        box.bias.set(-2.5)
        assert box.bias.cache == -2.5


def test_unit_strings_are_converted() -> None:
    with expected_protocol(Box, [(b"SPAN 2.5e+06\n", None)]) as box:
        box.span.set("2.5 MHz")
        with pytest.raises(LimitError, match="cannot read '2 V' as a value in Hz"):
            box.span.set("2 V")


def test_type_and_range_errors_send_nothing() -> None:
    with expected_protocol(Box, []) as box:
        for bad in (0, 101, 2.5, "x", True, None):
            with pytest.raises(LimitError):
                box.gain.set(bad)
        with pytest.raises(LimitError, match=r"'LF' not one of \['AC', 'DC'\]"):
            box.mode.set("LF")
        with pytest.raises(LimitError, match="not finite"):
            box.bias.set(math.nan)
        with pytest.raises(AttributeError, match="cannot be read"):
            box.span.get()


def test_soft_limits_cannot_widen_the_hardware_range() -> None:
    box = Box("tcp://127.0.0.1:1")
    with pytest.raises(LimitError, match="exceed the hardware range"):
        box.bias.set_soft_limits(-10, 1)
    with pytest.raises(LimitError, match="empty"):
        box.bias.set_soft_limits(2, 1)


def test_sequence_validator_names_the_element() -> None:
    vals = Sequence(Numbers(0, 1), length=3)
    assert vals.validate([0, 0.5, 1]) == [0.0, 0.5, 1.0]
    with pytest.raises(LimitError, match="element 1"):
        vals.validate([0, 2, 1])
    with pytest.raises(LimitError, match="expected 3 values"):
        vals.validate([0])


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(-100, 100), st.floats(-100, 100))
def test_numbers_never_pass_a_value_outside(value: float, a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    try:
        out = Numbers(low, high).validate(value)
    except LimitError:
        assert not (low <= value <= high)
    else:
        assert low <= out <= high
