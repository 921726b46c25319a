"""The one heater calibration table (hilt.instruments.heater_calibration): its files, old and new,
and saves that leave either the old file or the new one, never half of one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hilt.errors import ConfigError
from hilt.instruments.heater_calibration import (
    HeaterCalibration,
    load_heater_calibration,
    load_heater_calibrations,
    save_heater_calibrations,
)
from hilt.instruments.mesh_processor import HeaterCalibration as MeshProcessorHeaterCalibration
from hilt.loops.calibration import MZICalibration


def table(n: int = 6, seed: int = 3) -> HeaterCalibration:
    rng = np.random.default_rng(seed)
    cal = HeaterCalibration.nominal(n)
    cal.phi0[:] = rng.uniform(-np.pi, np.pi, n)
    cal.alpha *= rng.uniform(0.9, 1.1, n)
    cal.calibrated[: n // 2] = True
    cal.crosstalk = np.eye(n) + 0.01 * np.eye(n, k=1)
    cal.crosstalk_measured = np.eye(n, k=1, dtype=bool)
    cal.meta = {"station": "mzi-lab", "routine": "mzi_crosstalk"}
    return cal


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_one_class_for_the_routines_and_the_mesh_processors() -> None:
    assert MZICalibration is HeaterCalibration
    assert MeshProcessorHeaterCalibration is HeaterCalibration


def test_phases_and_voltages_invert_each_other() -> None:
    cal = table()
    phases = np.linspace(0.5, 5.5, cal.n_heaters)
    alone = cal.voltages_for(phases, crosstalk=False)
    np.testing.assert_allclose(np.remainder(cal.phases(alone, crosstalk=False), 2 * np.pi), phases)
    # The crosstalk adds the neighbour's heat: heater i also feels 1 % of heater i+1's power.
    extra = cal.phases(alone) - cal.phases(alone, crosstalk=False)
    np.testing.assert_allclose(extra[:-1], cal.alpha[:-1] * 0.01 * alone[1:] ** 2 / cal.resistance)
    # The crosstalk inverse takes that heat off each heater's own: the phases are met with it.
    v = cal.voltages_for(phases)
    np.testing.assert_allclose(np.remainder(cal.phases(v), 2 * np.pi), phases, atol=1e-12)
    assert np.all(v[:-1] < alone[:-1]) and v[-1] == pytest.approx(alone[-1])


def test_the_crosstalk_inverse_turns_a_heater_its_neighbours_overshoot() -> None:
    cal = HeaterCalibration.nominal(3)
    cal.crosstalk = np.eye(3) + 0.05 * (np.eye(3, k=1) + np.eye(3, k=-1))
    # Heater 1 wants 0.01 rad above phi0, but its hot neighbours alone give it more: it takes a
    # whole turn more (2 pi + 0.01), and the neighbours are solved again with its extra heat.
    phases = np.array([5.0, 0.01, 5.0])
    v = cal.voltages_for(phases)
    assert np.all(v >= 0)
    np.testing.assert_allclose(cal.phases(v), [5.0, 0.01 + 2 * np.pi, 5.0], atol=1e-12)
    assert cal.voltages_for(phases, crosstalk=False)[1] < 0.5 < v[1]


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    cal = table()
    back = load_heater_calibration(cal.save(tmp_path / "c.npz"))
    for name in ("phi0", "alpha", "calibrated", "crosstalk", "crosstalk_measured", "reference"):
        np.testing.assert_array_equal(getattr(back, name), getattr(cal, name))
    assert back.resistance == cal.resistance
    assert back.meta == cal.meta


def test_several_meshes_in_one_file(tmp_path: Path) -> None:
    meshes = [table(4, seed=k) for k in range(3)]
    meshes[2].resistance = 1200.0
    path = save_heater_calibrations(tmp_path / "chip.npz", meshes)
    back = load_heater_calibrations(path)
    assert len(back) == 3
    for a, b in zip(meshes, back, strict=True):
        np.testing.assert_array_equal(a.phi0, b.phi0)
        assert a.resistance == b.resistance
    np.testing.assert_array_equal(load_heater_calibration(path, 1).phi0, meshes[1].phi0)
    with pytest.raises(ConfigError, match="chip.npz.*phi0_3"):
        load_heater_calibrations(path, 4)


def test_files_written_before_the_merge_still_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    phi0, alpha = rng.uniform(-1, 1, 5), np.full(5, 120.0)
    # What StationMeshProcessor.save_calibration wrote: two meshes, one resistance, nothing else.
    np.savez(tmp_path / "processor.npz", resistance=np.float64(1000.0), phi0_0=phi0, alpha_0=alpha,
             phi0_1=-phi0, alpha_1=alpha)
    meshes = load_heater_calibrations(tmp_path / "processor.npz")
    assert [m.resistance for m in meshes] == [1000.0, 1000.0]
    np.testing.assert_array_equal(meshes[1].phi0, -phi0)
    assert meshes[0].calibrated.all() and meshes[0].crosstalk is None
    # What MZICalibration.save wrote (format version 1).
    np.savez(tmp_path / "routine.npz", format=np.array("hilt-mzi-heater-calibration"), version=np.int64(1),
             resistance=np.float64(900.0), phi0_0=phi0, alpha_0=alpha, calibrated_0=np.arange(5) < 2,
             r2_0=np.full(5, 0.99), reference_0=np.full(5, -1, dtype=np.int64), crosstalk_0=np.eye(5),
             crosstalk_measured_0=np.zeros((5, 5), dtype=bool), meta_station=np.array("mzi-lab"))
    cal = load_heater_calibration(tmp_path / "routine.npz")
    assert cal.resistance == 900.0
    assert cal.calibrated.tolist() == [True, True, False, False, False]
    assert cal.meta == {"station": "mzi-lab"}
    np.testing.assert_array_equal(cal.crosstalk, np.eye(5))


@pytest.mark.parametrize(("arrays", "message"), [
    ({"phi0_0": np.zeros(3), "alpha_0": np.ones(4), "resistance": np.float64(1e3)}, "alpha has shape"),
    ({"phi0_0": np.zeros(3), "alpha_0": np.array([1.0, 0.0, 1.0]), "resistance": np.float64(1e3)}, "alpha holds"),
    ({"phi0_0": np.zeros(2), "alpha_0": np.ones(2), "resistance": np.float64(1e3), "crosstalk_0": np.eye(3)},
     "crosstalk has shape"),
    ({"phi0_0": np.zeros(2), "alpha_0": np.ones(2)}, "resistance"),
])
def test_inconsistent_files_are_refused_naming_the_file(tmp_path: Path, arrays: dict, message: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ConfigError, match=message) as info:
        load_heater_calibration(tmp_path / "bad.npz")
    assert "bad.npz" in str(info.value) and "\n" not in str(info.value)


def test_a_failed_save_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    old = table(seed=1)
    old.save(path)
    before = path.read_bytes()
    new = table(seed=2)
    # A value that cannot be written without pickling fails in the middle of the archive,
    # after the tables went in: the file under the station's name must not change.
    new.meta["operator"] = object()
    with pytest.raises(ValueError, match="pickle"):
        new.save(path)
    assert path.read_bytes() == before
    np.testing.assert_array_equal(load_heater_calibration(path).phi0, old.phi0)
    assert files_in(tmp_path) == ["c.npz"]  # no temporary file left behind


def test_a_save_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.npz"
    table(seed=1).save(path)
    new = table(seed=2)
    new.save(path)
    np.testing.assert_array_equal(load_heater_calibration(path).phi0, new.phi0)
    assert files_in(path.parent) == ["c.npz"]
