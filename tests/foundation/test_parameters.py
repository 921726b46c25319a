"""Parameters and validators: everything about a setpoint is checked before a byte is sent."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hilt import Enum, Instrument, InstrumentChannel, Ints, LimitError, Numbers, Parameter, Sequence
from hilt.errors import HiltError, UnitError
from hilt.parameters import to_unit
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
    carrier = Parameter(None, "FREQ {value:.0f}", unit="Hz", vals=Numbers(1e6, 20e9))
    level = Parameter(None, "POW {value:.2f}", unit="dBm", vals=Numbers(-130, 20))
    laser = Parameter(None, "LAS {value:.3e}", unit="W", vals=Numbers(0, 0.01))

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
    with expected_protocol(Box, [(b"SPAN 2.5e+06\n", None), (b"FREQ 15000000000\n", None),
                                 (b"FREQ 15000000000\n", None), (b"FREQ 15000000000\n", None),
                                 (b"GAIN 5\n", None)]) as box:
        box.span.set("2.5 MHz")
        box.carrier.set("15e9")      # a plain number as text: in the parameter's unit
        box.carrier.set("15 GHz")
        box.carrier.set("15 ghz")    # no prefix of another meaning: the case does not matter
        box.gain.set("5")            # an integer parameter takes an integer written as text


def test_offset_and_log_units_are_read_in_their_own_unit() -> None:
    with expected_protocol(Box, [(b"POW -3.00\n", None), (b"POW 0.00\n", None), (b"LAS 1.000e-03\n", None),
                                 (b"POW 13.00\n", None)]) as box:
        box.level.set("-3 dBm")
        box.level.set("1 mW")        # 1 mW is 0 dBm
        box.laser.set("0 dBm")       # 0 dBm is 1 mW, not 0 * dBm
        box.level.set("13 DBM")
    assert to_unit("20 degC", "K") == pytest.approx(293.15)
    assert to_unit("1550 nm", "m") == 1.55e-06


def test_prefixes_whose_case_matters_are_never_guessed() -> None:
    assert to_unit("15 mHz", "Hz") == pytest.approx(0.015)
    assert to_unit("15 MHz", "Hz") == 15e6
    assert to_unit("15 Mhz", "Hz") == 15e6   # the upper-case M was typed: mega
    assert to_unit("5 ms", "s") == pytest.approx(0.005)
    with pytest.raises(UnitError, match=r"'15 mhz' is ambiguous: '15 mHz' \(0.015 Hz\) or '15 MHz' \(1.5e\+07 Hz\)"):
        to_unit("15 mhz", "Hz")
    with pytest.raises(UnitError, match="ambiguous"):
        to_unit("5 MS", "s")           # milli- or megaseconds (MS alone is megasiemens)


@pytest.mark.parametrize(("text", "unit", "why"), [
    ("15 foo", "Hz", "'foo' is not a unit"),
    ("2 V", "Hz", r"'V' \(volt\) does not convert to Hz"),
    ("2*GHz", "Hz", "is an expression, not a unit"),
    ("fast", "Hz", "expected '<number> \\[unit\\]'"),
    ("nan", "Hz", "expected"),
    ("1e3 Hz", "", "does not convert to dimensionless"),
])
def test_text_that_cannot_be_read_is_a_unit_error(text: str, unit: str, why: str) -> None:
    with pytest.raises(UnitError, match=why) as info:
        to_unit(text, unit)
    assert not isinstance(info.value, LimitError), "a value never read has no range to be outside of"
    assert isinstance(info.value, HiltError) and isinstance(info.value, ValueError)
    assert info.value.text == text and info.value.unit == unit and info.value.expected


def test_a_unit_error_names_the_parameter_and_sends_nothing() -> None:
    with expected_protocol(Box, []) as box:
        with pytest.raises(UnitError, match=r"box.span: cannot read '2 V' as a value in Hz: .*expected "
                                            r"'<number> \[unit\]' with a unit convertible to Hz, e.g. '1.5e3' or '1.5e3 Hz'") as info:
            box.span.set("2 V")
        assert info.value.parameter == "span" and info.value.instrument == "box"
        with pytest.raises(UnitError, match="ambiguous"):
            box.carrier.set("15 mhz")
        with pytest.raises(LimitError, match="outside"):  # read fine, then out of range
            box.carrier.set("25 GHz")


@given(st.floats(-1e12, 1e12))
def test_a_number_written_as_text_reads_back(value: float) -> None:
    assert to_unit(repr(value), "Hz") == value
    assert to_unit(f"{value!r} Hz", "Hz") == pytest.approx(value, rel=1e-14)


def test_type_and_range_errors_send_nothing() -> None:
    with expected_protocol(Box, []) as box:
        for bad in (0, 101, 2.5, "101", True, None):
            with pytest.raises(LimitError):
                box.gain.set(bad)
        with pytest.raises(UnitError):
            box.gain.set("x")
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
