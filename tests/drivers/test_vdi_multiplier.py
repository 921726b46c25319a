"""VDI-style multiplier chain: a virtual instrument over a synthesizer; its bytes are the synth's."""

from __future__ import annotations

import pytest

from hilt.drivers.keysight_e8257d import KeysightE8257D
from hilt.drivers.multiplier import VdiMultiplier
from hilt.drivers.rs_sgs100a import RohdeSchwarzSGS100A
from hilt.errors import ConfigError, LimitError
from hilt.sims.keysight_e8257d import SimE8257D
from hilt.testing import expected_protocol

NO_ERROR = (b"SYST:ERR?\n", b'+0,"No error"\n')


def test_protocol_drives_the_synthesizer_bytes() -> None:
    # WR-10 x6: 90 GHz out is 15 GHz from the PSG.
    with expected_protocol(KeysightE8257D, [
        (b":FREQ:CW 15000000000.000\n", None), NO_ERROR,
        (b":POW:AMPL 4.50\n", None), NO_ERROR,
        (b":OUTP 1\n", None), NO_ERROR,
        (b":FREQ:CW?\n", b"+1.50000000000000E+10\n"),
        (b":OUTP 0\n", None), NO_ERROR,
    ], frequency_option="520") as synth:
        mult = VdiMultiplier(source=synth, band="WR-10", name="tx")
        assert mult.factor == 6 and mult.transport.kind == "none"
        mult.frequency.set(90e9)
        mult.input_power.set(4.5)
        mult.output.set(True)
        assert mult.frequency.get() == pytest.approx(90e9)
        mult.safe_state()


def test_limits_refused_before_any_byte() -> None:
    with expected_protocol(KeysightE8257D, [], frequency_option="520") as synth:
        mult = VdiMultiplier(source=synth, band="WR-2.2")
        assert mult.factor == 27
        with pytest.raises(LimitError, match="outside"):
            mult.frequency.set(520e9)  # above the WR-2.2 band
        with pytest.raises(LimitError):
            mult.frequency.set(300e9)  # below it
        with pytest.raises(LimitError):
            mult.input_power.set(8)  # would overdrive the chain's first stage
        with pytest.raises(LimitError):
            mult.input_power.set(0)  # would leave the multipliers unsaturated
        with pytest.raises(LimitError):
            mult.expected_output_power(600e9)
    # In band for the chain but beyond the synthesizer: the synthesizer's own range refuses it.
    with expected_protocol(KeysightE8257D, [], frequency_option="520") as synth:
        mult = VdiMultiplier(source=synth, band="WR-10", factor=4)
        with pytest.raises(LimitError, match="outside"):
            mult.frequency.set(100e9)  # 25 GHz > the 20 GHz option


def test_soft_limits_from_a_station_and_custom_curve() -> None:
    with expected_protocol(RohdeSchwarzSGS100A, [
        (b"SOUR:FREQ 16000000000.000\n", None), (b"SYST:ERR?\n", b'0,"No error"\n'),
    ], frequency_option="B112") as sgs:
        with pytest.raises(LimitError):  # the SGS100A stops at 12.75 GHz: 96 GHz/6 = 16 GHz
            VdiMultiplier(source=sgs, band="WR-10").frequency.set(96e9)
        sgs.frequency.vals.max = 20e9  # pretend a wider option, to see the bytes
        mult = VdiMultiplier(source=sgs, band="WR-10", limits={"frequency": (80e9, 100e9)},
                             power_curve=[(75e9, 10.0), (110e9, 20.0)])
        with pytest.raises(LimitError, match="soft limits"):
            mult.frequency.set(105e9)
        mult.frequency.set(96e9)
        assert mult.expected_output_power(92.5e9) == pytest.approx(15.0)


def test_expected_output_power_interpolates_the_curve() -> None:
    with expected_protocol(KeysightE8257D, []) as synth:
        mult = VdiMultiplier(source=synth, band="WR-10")
        assert mult.expected_output_power(90e9) == pytest.approx(15.0)
        assert mult.expected_output_power(86e9) == pytest.approx(14.5)
        assert mult.synthesizer_frequency(99e9) == pytest.approx(16.5e9)
    with pytest.raises(ConfigError, match="synthesizer"):
        VdiMultiplier(band="WR-10")
    with pytest.raises(ConfigError, match="band"):
        VdiMultiplier(source=synth, band="WR-42")


def test_against_the_e8257d_simulator(served) -> None:
    sim, address = served(SimE8257D, name="synth")
    with KeysightE8257D(address, name="synth") as synth, VdiMultiplier(source=synth, band="WR-3.4", name="tx") as tx:
        tx.frequency.set(270e9)
        tx.input_power.set(5)
        tx.output.set(True)
        assert sim.world.get("synth.frequency") == pytest.approx(15e9)
        assert tx.frequency.get() == pytest.approx(270e9)
        assert tx.snapshot()["identity"]["model"] == "WR-3.4 AMC x18"
    # Leaving the multiplier turned the synthesizer's RF off before the synthesizer closed.
    assert sim.output is False



def test_station_builds_the_chain_over_its_synthesizer(tmp_path) -> None:
    from hilt.station import Station

    path = tmp_path / "thz.yaml"
    path.write_text(
        "name: thz\n"
        "simulate: true\n"
        "instruments:\n"
        "  synth: {driver: keysight_e8257d, options: {frequency_option: '520'}}\n"
        "  tx:\n"
        "    driver: vdi_multiplier\n"
        "    uses: {source: synth}\n"
        "    options: {band: WR-10}\n"
        "    limits: {frequency: [80e9, 100e9]}\n"
    )
    with Station.from_yaml(path) as st:
        st["tx"].frequency.set(90e9)
        st["tx"].output.set(True)
        assert st.world.get("synth.frequency") == pytest.approx(15e9)
        with pytest.raises(LimitError, match="soft limits"):
            st["tx"].frequency.set(105e9)
        world = st.world
    assert world.get("synth.output") is False
