"""Programming a unitary on an MZI chip: decomposition, calibrated voltages, the measured check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hilt import stations
from hilt.errors import ConfigError, LimitError
from hilt.instruments.bench_processor import BenchMeshProcessor
from hilt.instruments.heater_calibration import HeaterCalibration
from hilt.instruments.mesh_processor import LocalMeshProcessor
from hilt.instruments.mesh_programming import (
    compare,
    identity_phases,
    phases_for_unitary,
    program_unitary,
)
from hilt.sims.physics import MZIMesh, MZINetwork, haar_unitary
from hilt.station import Station


def ideal_chip(n: int, kind: str = "clements") -> LocalMeshProcessor:
    return LocalMeshProcessor(MZINetwork([MZIMesh(n, kind, init="identity")]))


@pytest.mark.parametrize(("n", "kind"), [(2, "clements"), (5, "clements"), (8, "clements"), (16, "clements"),
                                         (6, "reck")])
def test_an_ideal_chip_takes_any_unitary_exactly(n: int, kind: str) -> None:
    target = haar_unitary(n, seed=n).numpy()
    chip = ideal_chip(n, kind)
    result = program_unitary(chip, target)
    assert result.worst_error < 1e-5 and result.fidelity == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(chip.network.meshes[0].transfer_matrix().numpy(), target, atol=1e-5)
    assert chip.queries.programming_calls == 1 and chip.queries.samples == n  # one check sample per input
    assert "fidelity 1.0000" in result.summary()


def test_phases_come_in_the_chips_heater_order() -> None:
    ph = phases_for_unitary(np.eye(4))
    mesh = MZIMesh(4, init="identity")
    with torch.no_grad():
        mesh.theta.copy_(torch.as_tensor(ph.theta))
        mesh.phi.copy_(torch.as_tensor(ph.phi))
        mesh.out_phase.copy_(torch.as_tensor(ph.out_phase))
    np.testing.assert_allclose(np.abs(mesh.transfer_matrix().detach().numpy()), np.eye(4), atol=1e-6)
    bar = identity_phases(4)
    assert np.all(bar.theta == np.pi) and bar.theta.size == 6 and bar.out_phase.size == 4


@pytest.mark.parametrize(("target", "why"), [
    (np.ones((4, 4)), "not unitary"),
    (np.eye(3), r"the chip has 4 ports, expected \(4, 4\)"),
    (np.full((4, 4), np.nan), "NaN"),
])
def test_a_target_the_chip_cannot_take_is_refused_before_programming(target: np.ndarray, why: str) -> None:
    chip = ideal_chip(4)
    with pytest.raises(ConfigError, match=why):
        program_unitary(chip, target)
    assert chip.queries.programming_calls == 0 and chip.queries.samples == 0


def test_compare_scores_intensities() -> None:
    u = haar_unitary(4, seed=1).numpy()
    assert compare(np.abs(u) ** 2, u) == (pytest.approx(0.0), pytest.approx(0.0), pytest.approx(1.0))
    worst, mean, fidelity = compare(np.full((4, 4), 0.25), u)
    assert worst == pytest.approx(np.abs(0.25 - np.abs(u) ** 2).max()) and fidelity < 1


@pytest.fixture(scope="module")
def station():  # type: ignore[no-untyped-def]
    with Station.from_yaml(stations.path("mzi-lab")) as st:
        yield st


def true_heaters(st: Station, crosstalk: bool) -> HeaterCalibration:
    chip = st.world.system("chip")
    e, heater = chip.errors, chip.device.heater
    cal = HeaterCalibration(e.phase_offset.double().numpy(), heater.alpha * e.efficiency.double().numpy(),
                            heater.resistance)
    if crosstalk:
        cal.crosstalk = chip.device.crosstalk_matrix(e.crosstalk).double().numpy()
    return cal


def test_on_the_bench_the_crosstalk_inverse_brings_the_chip_closer(station: Station) -> None:
    target = haar_unitary(8, seed=0).numpy()
    errors = {}
    for name, cal in (("design", HeaterCalibration.nominal(64)), ("heaters", true_heaters(station, False)),
                      ("crosstalk inverse", true_heaters(station, True))):
        bench = BenchMeshProcessor.from_station(station, calibration=cal)
        try:
            result = bench.program_unitary(target, averages=2)
        finally:
            bench.safe_state()
        assert result.measured is not None and result.measured.shape == (8, 8)
        np.testing.assert_allclose(result.measured.sum(axis=0), 1.0)
        errors[name] = result.worst_error
    # The measured numbers (bench/programming_bench.py): design ~0.05, true heaters with the
    # crosstalk inverse ~0.02 (the rest is the couplers' errors, which no voltage corrects).
    assert errors["crosstalk inverse"] < errors["heaters"] < errors["design"]
    assert errors["crosstalk inverse"] < 0.6 * errors["design"]
    assert np.all(np.asarray(station.world.get("heaters.voltages")) == 0)  # left safe


def test_voltages_the_heaters_cannot_take_are_refused_with_nothing_sent(station: Station) -> None:
    weak = HeaterCalibration.nominal(64, alpha=HeaterCalibration.nominal(1).alpha[0] / 4)  # 4x the power
    bench = BenchMeshProcessor.from_station(station, calibration=weak)
    before = {name: inst.transport.exchanges for name, inst in station.instruments.items()}
    with pytest.raises(LimitError, match="cannot program this unitary"):
        program_unitary(bench, haar_unitary(8, seed=3).numpy())
    assert {name: inst.transport.exchanges for name, inst in station.instruments.items()} == before
