"""The MZI chip world system: heater voltages -> mesh physics with frozen errors -> meter ports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hilt import stations
from hilt.sims.mzi_chip import MZIChip
from hilt.sims.physics import HeaterModel, MZIMesh
from hilt.sims.world import SimClock, World

STATION = stations.path("mzi-lab")


def lit_world(seed: int = 7, errors: str = "mild", power: float = 1e-3) -> World:
    world = World(seed=seed, errors=errors, clock=SimClock("manual"))
    world.update({"laser.wavelength": 1550e-9, "laser.power_w": power, "laser.output": True})
    return world


def direct_powers(chip: MZIChip, voltages: np.ndarray, power: float) -> np.ndarray:
    """The same physics computed here from MZIMesh with the chip's frozen error draw."""
    mesh = MZIMesh(8, "clements", 0.1, HeaterModel(alpha=math.pi / 0.025, resistance=1000.0),
                   init="identity").with_errors(chip.levels, chip.errors_seed)
    with torch.no_grad():
        u = mesh.transfer_matrix(torch.as_tensor(voltages, dtype=torch.float32)).numpy()
    return power * np.abs(u[:, 0]) ** 2


def test_layout_64_heaters_and_frozen_reproducible_errors() -> None:
    a = MZIChip(lit_world(seed=7), name="chip")
    b = MZIChip(lit_world(seed=7), name="chip")
    c = MZIChip(lit_world(seed=8), name="chip")
    assert a.n_heaters == 64  # 28 MZIs x (theta, phi) + 8 output phase shifters
    assert a.errors_seed == b.errors_seed != c.errors_seed
    offsets = a.errors.phase_offset.clone()
    assert torch.equal(offsets, b.errors.phase_offset)
    assert not torch.equal(offsets, c.errors.phase_offset)
    for _ in range(3):
        a.port_powers()
        a.world.set("heaters.voltages", np.full(64, 3.0))
    assert torch.equal(a.errors.phase_offset, offsets)  # frozen: reads and settings leave them alone


def test_port_powers_follow_the_mesh_physics() -> None:
    world = lit_world()
    chip = MZIChip(world, name="chip", heaters=["heaters"])
    rng = np.random.default_rng(0)
    previous = None
    for _ in range(3):
        v = rng.uniform(0, 7, 64)
        world.set("heaters.voltages", v)
        got = chip.output_powers()
        np.testing.assert_allclose(got, direct_powers(chip, v, 1e-3), rtol=1e-5, atol=1e-12)
        assert got.sum() <= 1e-3  # losses only: never more light out than in
        noiseless = chip.port_powers(noise=False)
        np.testing.assert_allclose(noiseless, chip.gain * got + chip.dark_w)
        if previous is not None:
            assert np.abs(got - previous).max() > 1e-5  # the heaters steer the light
        previous = got


def test_several_heater_drivers_are_concatenated_in_channel_order() -> None:
    world = lit_world()
    chip = MZIChip(world, name="chip", heaters=["qa", "qb"])
    world.set("qa.voltages", np.arange(40.0) / 10)
    world.set("qb.voltages", np.arange(40.0) / 10 + 4)
    v = chip.voltages()
    np.testing.assert_array_equal(v[:40], np.arange(40.0) / 10)
    np.testing.assert_array_equal(v[40:], np.arange(24.0) / 10 + 4)  # qb's last 16 not connected


def test_transfer_matrix_cached_until_a_voltage_changes() -> None:
    world = lit_world()
    chip = MZIChip(world, name="chip")
    u1 = chip.transfer_matrix()
    assert chip.transfer_matrix() is u1
    world.set("heaters.voltages", np.full(64, 2.0))
    u2 = chip.transfer_matrix()
    assert u2 is not u1 and not np.allclose(u1, u2)
    assert chip.transfer_matrix() is u2


def test_laser_gates_and_grating_coupler_passband() -> None:
    world = lit_world(errors="none")
    chip = MZIChip(world, name="chip", errors="none")
    assert chip.output_powers().sum() == pytest.approx(1e-3 * 10 ** (-0.1 * 8 / 10), rel=0.5)
    world.set("laser.wavelength", 1550e-9 + 35e-9)  # half maximum of the 70 nm passband
    assert chip.input_power_w() == pytest.approx(0.5e-3, rel=1e-6)
    world.set("laser.output", False)
    np.testing.assert_array_equal(chip.output_powers(), 0.0)


def test_drift_moves_with_simulated_time() -> None:
    world = lit_world(errors="severe")
    chip = MZIChip(world, name="chip")
    before = chip.output_powers()
    world.clock.advance(3600.0)
    assert not np.allclose(chip.output_powers(), before)


def test_noise_is_reproducible_for_a_seed() -> None:
    reads = []
    for _ in range(2):
        chip = MZIChip(lit_world(seed=11, errors="severe"), name="chip")
        reads.append(np.stack([chip.port_powers() for _ in range(3)]))
    np.testing.assert_array_equal(reads[0], reads[1])
    assert not np.allclose(reads[0][0], reads[0][1])  # fresh noise per read


def test_station_heaters_steer_what_the_meter_reads_in_one_query() -> None:
    from hilt.station import Station

    with Station.from_yaml(STATION) as st:
        chip = st.world.system("chip")
        assert isinstance(chip, MZIChip)
        st.laser.wavelength.set(1550e-9)
        st.laser.power.set(1e-3)
        st.laser.output.set(True)
        rng = np.random.default_rng(1)
        for _ in range(2):
            st.heaters.set_voltages(rng.uniform(0, 7.5, 64))
            v = st.heaters.get_voltages()  # what the DAC really holds (quantised)
            before = len(st.pm.transport.exchanges)
            readings = st.pm.read_all()
            assert len(st.pm.transport.exchanges) - before == 2  # 8 ports, one query
            assert readings.shape == (8,)
            expected = chip.gain * direct_powers(chip, v, 1e-3) + chip.dark_w
            noise = chip.noise_w
            np.testing.assert_allclose(readings, expected, atol=8 * noise + 1e-9)
            assert readings.sum() <= 1e-3 * 1.05
        st.laser.output.set(False)
        assert np.abs(st.pm.read_all()).max() < 1e-6
    assert st.world.get("heaters.voltages").max() == 0.0  # ramped down on the way out


def test_a_fibre_switch_picks_the_lit_input() -> None:
    world = lit_world()
    chip = MZIChip(world, name="chip", switch="switch", switch_ports={1: 0, 2: 5, 3: 7})
    u = chip.transfer_matrix()
    for channel, port in ((1, 0), (2, 5), (3, 7)):
        world.set("switch.channel", channel)
        np.testing.assert_allclose(chip.output_powers(), 1e-3 * np.abs(u[:, port]) ** 2, rtol=1e-12)
    for dark in (0, 4):  # no route, or an output not spliced to the chip
        world.set("switch.channel", dark)
        assert np.all(chip.output_powers() == 0)
    # The default splicing: output c on input c - 1; the modulators, once driven, take over.
    chip = MZIChip(world, name="chip", switch="switch")
    world.set("switch.channel", 8)
    np.testing.assert_allclose(chip.output_powers(), 1e-3 * np.abs(u[:, 7]) ** 2, rtol=1e-12)


def test_a_switch_through_the_station_lights_the_input_it_is_set_to() -> None:
    from hilt.station import Station

    with Station.from_yaml(STATION) as st:
        chip = st.world.system("chip")
        st["laser"].power.set("1 mW")
        st["laser"].output.set(True)
        assert chip.input_power_w() > 0
        for channel in (8, 3, 1):
            st["switch"].channel.set(channel)
            u = chip.transfer_matrix()  # (the chip drifts in real simulated time: read it now)
            np.testing.assert_allclose(chip.output_powers(), chip.input_power_w() * np.abs(u[:, channel - 1]) ** 2,
                                       rtol=1e-4)


@pytest.mark.parametrize("ports", [{0: 1}, {1: 8}, {1: -1}, [1, 2], {True: 0}])
def test_bad_switch_splicing_is_refused(ports) -> None:  # type: ignore[no-untyped-def]
    from hilt.errors import ConfigError

    with pytest.raises(ConfigError, match="switch"):
        MZIChip(lit_world(), name="chip", switch="switch", switch_ports=ports)
