"""Limits hold through every path to an output, and bad values are refused before a byte is sent.

Each case drives a real simulator and checks, after the refusal, both the driver's exchange log
(nothing written) and the simulator's own state (nothing changed).
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from hilt.drivers.keithley_2400 import Keithley2400
from hilt.drivers.keysight_8164b import Keysight8164B
from hilt.drivers.keysight_e8257d import KeysightE8257D
from hilt.drivers.photonic_processor import LIGHT, RUN, SET_HEATERS, PhotonicProcessor
from hilt.drivers.qdevil_qdac2 import QDevilQDac2
from hilt.drivers.qontrol import QontrolQ8iv
from hilt.drivers.rs_sgs100a import RohdeSchwarzSGS100A
from hilt.errors import ConfigError, LimitError, UnitError
from hilt.sims.keithley_2400 import SimKeithley2400
from hilt.sims.keysight_8164b import Sim8164B
from hilt.sims.keysight_e8257d import SimE8257D
from hilt.sims.photonic_processor import SimPhotonicProcessor
from hilt.sims.qdevil_qdac2 import SimQDac2
from hilt.sims.qontrol import SimQontrolQ8iv
from hilt.sims.rs_sgs100a import SimSGS100A


def written(inst) -> list[bytes]:
    return [e.data for e in inst.transport.exchanges if e.direction == "->"]


# -- current drive through the heater's load ------------------------------------------------------

def test_a_voltage_limit_bounds_current_sets_through_the_load(served) -> None:
    sim, address = served(SimQontrolQ8iv, load_ohm=1000.0)
    with QontrolQ8iv(address, limits={"voltage": (0, 8)}, load_ohm=1000.0) as q:
        before = written(q)
        # 10 mA through 1 kOhm is 10 V: over the 8 V soft limit, as a voltage set would be.
        with pytest.raises(LimitError, match="10 mA through 1000 ohm is 10 V"):
            q.channels[0].current.set(10.0)
        assert written(q) == before
        assert sim.v[0] == 0.0
        q.channels[1].current.set(5.0)  # 5 V: inside
        assert sim.v[1] == pytest.approx(5.0, abs=1e-3)
        # The channel's own hardware limit, once known to the driver, bounds currents too.
        q.channels[2].vmax.set(4.0)
        before = written(q)
        with pytest.raises(LimitError, match="above the channel's vmax 4 V"):
            q.channels[2].current.set(4.5)
        assert written(q) == before


def test_without_a_known_load_a_limited_channel_refuses_current_sets(served) -> None:
    """The issue's case: station limits voltage [0, 8], no load_ohm, current 10 mA put 10 V on."""
    sim, address = served(SimQontrolQ8iv)
    with QontrolQ8iv(address, limits={"voltage": (0, 8)}) as q:
        before = written(q)
        with pytest.raises(LimitError, match="load_ohm"):
            q.channels[3].current.set(10.0)
        assert written(q) == before
        assert sim.v[3] == 0.0


def test_a_channel_without_soft_limits_takes_currents_without_a_load(served) -> None:
    sim, address = served(SimQontrolQ8iv, load_ohm=500.0)
    with QontrolQ8iv(address, channel_limits={0: (0, 2)}) as q:
        with pytest.raises(LimitError):
            q.channels[0].current.set(1.0)
        q.channels[1].current.set(10.0)
        assert sim.v[1] == pytest.approx(5.0, abs=1e-3)


@pytest.mark.parametrize("load", [0, -5, math.nan, "1k", True])
def test_a_bad_load_is_a_config_error(load) -> None:
    with pytest.raises(ConfigError, match="load_ohm"):
        QontrolQ8iv("socket://127.0.0.1:1", load_ohm=load)
    with pytest.raises(ConfigError, match="load_ohm"):
        QontrolQ8iv("socket://127.0.0.1:1", load_ohm={9: 100.0})


# -- vector sets --------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    [1.0] * 7 + [math.nan], [1.0] * 7 + [math.inf], [1.0] * 7 + ["1"], [1.0] * 7 + [True], [1.0] * 7 + [None],
    [1.0] * 7 + [9.0], "11111111",
])
def test_qontrol_vector_sets_check_every_element_first(served, bad) -> None:
    sim, address = served(SimQontrolQ8iv)
    with QontrolQ8iv(address, limits={"voltage": (0, 8)}) as q:
        before = written(q)
        with pytest.raises(LimitError):
            q.set_voltages(bad)
        assert written(q) == before
        np.testing.assert_array_equal(sim.v, 0.0)


@pytest.mark.parametrize("bad", [
    [0.1] * 23 + [math.nan], [0.1] * 23 + ["0.1"], [0.1] * 23 + [False], [0.1] * 23 + [6.0],
    np.array([0.1] * 23 + [1 + 1j]),
])
def test_qdac_vector_sets_check_every_element_first(served, bad) -> None:
    sim, address = served(SimQDac2)
    with QDevilQDac2(address, limits={"voltage": (0, 5)}) as q:
        before = written(q)
        with pytest.raises(LimitError):
            q.set_voltages(bad)
        assert written(q) == before
        np.testing.assert_array_equal(sim.v, 0.0)


# -- ramps ------------------------------------------------------------------------------------

def test_a_ramp_is_checked_whole_before_its_first_step(served) -> None:
    sim, address = served(SimKeithley2400)
    with Keithley2400(address) as k:
        sim.voltage = 250.0  # a reading outside the instrument's range: the way back is not sure
        before = written(k)
        with pytest.raises(LimitError, match="249.5 outside"):
            k.voltage.set(0.0)
        assert written(k)[len(before):] == [b":SOUR:VOLT?\r"]  # the read, and no set
        assert sim.voltage == 250.0
        sim.voltage = 0.0


def test_a_ramp_brings_an_output_back_inside_narrowed_limits(served) -> None:
    sim, address = served(SimKeithley2400)
    with Keithley2400(address) as k:
        k.voltage.set(3.0)
        k.voltage.set_soft_limits(0, 1.5)
        with pytest.raises(LimitError):
            k.voltage.set(2.0)
        assert sim.voltage == 3.0
        k.voltage.set(1.0)  # 3 -> 2.5 -> ... -> 1: steps outside the limits, but towards them
        assert sim.voltage == 1.0
        sent = [d for d in written(k) if d.startswith(b":SOUR:VOLT ")]
        assert sent[-4:] == [b":SOUR:VOLT 2.5\r", b":SOUR:VOLT 2\r", b":SOUR:VOLT 1.5\r", b":SOUR:VOLT 1\r"]


# -- the photonic processor's methods and frames ---------------------------------------------------

@pytest.fixture
def chip(served):
    sim, address = served(SimPhotonicProcessor, n=4, layers=2)
    with PhotonicProcessor(address) as chip:
        yield sim, chip


def test_set_light_takes_a_real_bool_only(chip) -> None:
    sim, proc = chip
    proc.set_light(False)
    assert not sim.light_on
    before = written(proc)
    for bad in ("off", "on", 1, None, 0.0):
        with pytest.raises(LimitError, match="True or False"):
            proc.set_light(bad)
    for power in (math.nan, math.inf, -1.0, 101.0, "1 mW"):
        with pytest.raises(LimitError):
            proc.set_light(True, power)
    assert written(proc) == before
    assert not sim.light_on


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e6, complex(math.nan, 0), 1e39])
def test_run_refuses_non_finite_and_overpowered_inputs(chip, value) -> None:
    sim, proc = chip
    x = np.zeros((3, 4), np.complex128)
    x[2, 1] = value
    before = written(proc)
    with pytest.raises(LimitError, match="sample 2|\\[2, 1\\]"):
        proc.run(x)
    assert written(proc) == before
    assert proc.samples_run == 0


def test_run_refuses_strings_bools_and_a_truthy_internal_flag(chip) -> None:
    sim, proc = chip
    before = written(proc)
    with pytest.raises(LimitError, match="dtype"):
        proc.run([["1", "0", "0", "0"]])
    with pytest.raises(LimitError, match="dtype"):
        proc.run(np.ones((1, 4), bool))
    with pytest.raises(LimitError, match="internal"):
        proc.run(np.ones((1, 4)), internal="no")
    assert written(proc) == before
    out, _ = proc.run(np.ones((1, 4)) * 0.5)  # power 1: fine
    assert out.shape == (1, 4)


@pytest.mark.parametrize("layer", [1.5, True, "1", None, -1, 2])
def test_set_heaters_refuses_a_bad_layer_without_a_struct_error(chip, layer) -> None:
    sim, proc = chip
    before = written(proc)
    with pytest.raises(LimitError, match="layer"):
        proc.set_heaters(layer, np.ones(4))
    assert written(proc) == before


@pytest.mark.parametrize("volts", [[1.0, math.nan], [1.0, "2"], [True, 1.0], [1.0, 9.0], [1.0, -0.1]])
def test_set_heaters_refuses_bad_volts(chip, volts) -> None:
    sim, proc = chip
    before = written(proc)
    with pytest.raises(LimitError):
        proc.set_heaters(0, volts)
    assert written(proc) == before
    assert all(v.max() == 0 for v in sim.volts)


def test_hand_built_frames_are_held_to_the_same_rules(chip) -> None:
    sim, proc = chip
    frames = [
        (SET_HEATERS, struct.pack(">HII", 0, 0, 2) + np.array([1.0, 9.0], "<f4").tobytes()),
        (SET_HEATERS, struct.pack(">HII", 0, 0, 1) + np.array([np.nan], "<f4").tobytes()),
        (SET_HEATERS, struct.pack(">HII", 7, 0, 1) + np.array([1.0], "<f4").tobytes()),
        (SET_HEATERS, struct.pack(">HII", 0, 0, 3) + np.array([1.0], "<f4").tobytes()),
        (LIGHT, struct.pack(">Bf", 2, 1.0)),
        (LIGHT, struct.pack(">Bf", 1, math.inf)),
        (LIGHT, b"\x01"),
        (RUN, struct.pack(">BIH", 0, 1, 4) + np.array([[1e6, 0, 0, 0]], "<c8").tobytes()),
        (RUN, struct.pack(">BIH", 0, 1, 4) + np.array([[np.nan, 0, 0, 0]], "<c8").tobytes()),
        (RUN, struct.pack(">BIH", 0, 2, 4) + np.zeros((1, 4), "<c8").tobytes()),
    ]
    for ftype, payload in frames:
        with pytest.raises(LimitError):
            proc.check_request(ftype, payload)
    proc.check_request(SET_HEATERS, struct.pack(">HII", 1, 2, 1) + np.array([7.5], "<f4").tobytes())
    proc.check_request(LIGHT, struct.pack(">Bf", 0, 1.0))


# -- units with offsets and logarithms; booleans --------------------------------------------------

def test_dbm_parameters_take_dbm_strings(served) -> None:
    sim, address = served(SimE8257D)
    with KeysightE8257D(address, limits={"power": (-60, 10)}) as psg:
        psg.power.set("0 dBm")
        assert sim.power == 0.0
        psg.power.set("-3 dBm")
        assert sim.power == -3.0
        psg.power.set("1 mW")
        assert sim.power == 0.0
        before = written(psg)
        for bad in ("20 dBm", "0 mW"):  # read, then out of range / not finite
            with pytest.raises(LimitError):
                psg.power.set(bad)
        for bad in ("1 GHz", "3 dB", "nan dBm", "2**8 dBm", "dBm"):  # never read as a power
            with pytest.raises(UnitError):
                psg.power.set(bad)
        with pytest.raises(UnitError, match="cannot read '1 GHz' as a value in dBm"):
            psg.power.set("1 GHz")
        assert written(psg) == before
        assert sim.power == 0.0


def test_watt_parameters_take_dbm_strings(served) -> None:
    sim, address = served(Sim8164B)
    with Keysight8164B(address) as laser:
        laser.power.set("0 dBm")
        assert sim.power_w == pytest.approx(1e-3)
        laser.power.set("-3 dBm")
        assert sim.power_w == pytest.approx(10 ** -0.3 * 1e-3, rel=1e-5)
        before = written(laser)
        with pytest.raises(LimitError, match="outside"):
            laser.power.set("20 dBm")  # 100 mW: above the 20 mW range
        assert written(laser) == before


@pytest.mark.parametrize(("word", "state"), [("on", True), ("OFF", False), (" 1 ", True), ("0", False),
                                             ("true", True), (1, True), (np.bool_(False), False)])
def test_booleans_are_read_by_the_documented_rule(served, word, state) -> None:
    sim, address = served(SimSGS100A)
    with RohdeSchwarzSGS100A(address) as sgs:
        sgs.output.set(not state)
        sgs.output.set(word)
        assert sim.output is state


def test_anything_else_is_not_a_boolean(served) -> None:
    sim, address = served(SimSGS100A)
    with RohdeSchwarzSGS100A(address) as sgs:
        before = written(sgs)
        for bad in ("no", "yes", "", 2, 0.5, 1.0, None, [1]):
            with pytest.raises(LimitError, match="not a boolean"):
                sgs.output.set(bad)
        assert written(sgs) == before
        assert sim.output is False


def test_soft_limits_must_be_numbers() -> None:
    q = QontrolQ8iv("socket://127.0.0.1:1")
    for low, high in ((0, math.nan), (math.nan, 1), (True, 5), ("0", 5)):
        with pytest.raises(LimitError, match="not a number"):
            q.channels[0].voltage.set_soft_limits(low, high)
