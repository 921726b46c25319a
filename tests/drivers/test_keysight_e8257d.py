"""Keysight E8257D: the exact bytes, the simulator over pyvisa-py, limits, error replies."""

from __future__ import annotations

import pytest

from hilt.drivers.keysight_e8257d import KeysightE8257D
from hilt.errors import ConfigError, InstrumentError, LimitError, UnitError
from hilt.sims.keysight_e8257d import SimE8257D
from hilt.testing import expected_protocol

NO_ERROR = (b"SYST:ERR?\n", b'+0,"No error"\n')


def test_protocol_get_and_set() -> None:
    with expected_protocol(KeysightE8257D, [
        (b"*IDN?\n", b"Keysight Technologies,E8257D,US12345678,C.06.28\n"),
        (b":FREQ:CW?\n", b"+1.00000000000000E+10\n"),
        (b":FREQ:CW 15000000000.000\n", None), NO_ERROR,
        (b":POW:AMPL -3.50\n", None), NO_ERROR,
        (b":OUTP 1\n", None), NO_ERROR,
        (b":OUTP?\n", b"1\n"),
    ]) as synth:
        assert synth.identify() == {"vendor": "Keysight Technologies", "model": "E8257D",
                                    "serial": "US12345678", "firmware": "C.06.28"}
        assert synth.frequency.get() == 1e10
        synth.frequency.set("15 GHz")
        synth.power.set(-3.5)
        synth.output.set(True)
        assert synth.output.get() is True


def test_protocol_error_reply_becomes_instrument_error() -> None:
    with expected_protocol(KeysightE8257D, [
        (b":POW:AMPL 20.00\n", None),
        (b"SYST:ERR?\n", b'-222,"Data out of range"\n'),
        (b"SYST:ERR?\n", b'+0,"No error"\n'),
    ]) as synth, pytest.raises(InstrumentError) as info:
        synth.power.set(20)
    assert (info.value.code, info.value.meaning) == (-222, "Data out of range")


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(KeysightE8257D, [], limits={"power": (-20, 10)}) as synth:
        with pytest.raises(LimitError, match="outside"):
            synth.frequency.set(21e9)  # option 520 stops at 20 GHz
        with pytest.raises(LimitError, match="soft limits"):
            synth.power.set(12)
        with pytest.raises(LimitError, match="not a number"):
            synth.power.set(None)
        with pytest.raises(UnitError, match="cannot read"):
            synth.frequency.set("3 volts")


def test_frequency_option_sets_the_range() -> None:
    with expected_protocol(KeysightE8257D, [(b":FREQ:CW 40000000000.000\n", None), NO_ERROR],
                           frequency_option="540") as synth:
        synth.frequency.set(40e9)
    with pytest.raises(ConfigError, match="frequency_option"):
        KeysightE8257D("TCPIP::127.0.0.1::1::SOCKET", frequency_option="999")


def test_against_simulator(served) -> None:
    sim, address = served(SimE8257D)
    with KeysightE8257D(address) as synth:
        synth.frequency.set(12.5e9)
        synth.power.set(5)
        synth.output.set(True)
        assert (synth.frequency.get(), synth.power.get(), synth.output.get()) == (12.5e9, 5.0, True)
        assert sim.world.get("keysight_e8257d.output") is True
        assert synth.snapshot()["parameters"]["power"] == {"value": 5.0, "unit": "dBm"}
    assert sim.output is False  # safe state on exit


def test_protocol_power_in_dbm_strings() -> None:
    with expected_protocol(KeysightE8257D, [
        (b":POW:AMPL 0.00\n", None), NO_ERROR,
        (b":POW:AMPL -3.00\n", None), NO_ERROR,
        (b":POW:AMPL -10.00\n", None), NO_ERROR,
    ]) as psg:
        psg.power.set("0 dBm")
        psg.power.set("-3 dBm")
        psg.power.set("100 uW")
        with pytest.raises(UnitError, match="'1 GHz' as a value in dBm"):
            psg.power.set("1 GHz")
        with pytest.raises(LimitError, match="not a boolean"):
            psg.output.set("off please")
