"""The small MZI bench (laser, mesh heaters, input modulators, power meter) as a photonic processor.

Everything runs on the bundled simulated station ``mzi-lab``: a 1x8 splitter and per-port
amplitude/phase modulators on a QDAC-II, an 8-port Clements mesh on Qontrol modules, an N7745A.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hilt import stations
from hilt.errors import LimitError
from hilt.gui.cli import main
from hilt.instruments.bench_processor import BenchMeshProcessor
from hilt.instruments.mesh_processor import MeshPhases, MeshProcessor
from hilt.instruments.photonic_twin import twin_from_description
from hilt.loops.station import train_on_station
from hilt.runfile import open_run
from hilt.station import Station

N = 8
N_MZI = 28
# Measured: 0.42 physical accuracy (0.39 twin) on digits 0-7 after this one epoch, 4.3 s of
# loop (1082 samples, one modulator set and one meter read each); chance is 1/8.
FAST = {"batch_size": 32}
MIN_ACCURACY = 0.25


@pytest.fixture(scope="module")
def station() -> Iterator[Station]:
    with Station.from_yaml(stations.path("mzi-lab")) as st:
        yield st


def sent(inst) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [e.data for e in inst.transport.exchanges if e.direction == "->"]


def test_the_bench_describes_itself_as_a_one_mesh_processor(station: Station) -> None:
    bench = BenchMeshProcessor.from_station(station)
    assert isinstance(bench, MeshProcessor)
    desc = bench.describe()
    assert desc == {"mesh": "clements", "n_ports": N, "n_layers": 1, "activation": "none",
                    "measures_internal": False, "heaters_per_layer": 2 * N_MZI + N,
                    "detectors": "photodiode"}
    twin = twin_from_description(desc, seed=0)
    assert len(twin.meshes) == 1 and twin.meshes[0].n == N


def test_a_one_hot_input_reads_the_chip_physics_for_that_port(station: Station) -> None:
    bench = BenchMeshProcessor.from_station(station)
    chip = station.world.system("chip")
    rng = np.random.default_rng(3)
    phases = MeshPhases(rng.uniform(0, 2 * math.pi, N_MZI), rng.uniform(0, 2 * math.pi, N_MZI),
                        rng.uniform(0, 2 * math.pi, N))
    bench.prepare()
    bench.load_phases([phases])
    unit = bench.laser_power_w / N
    for port in (0, 5):
        x = np.zeros((1, N), dtype=complex)
        x[0, port] = 1.0
        out, internal = bench.run(x, internal=True)
        assert internal == [] and out.shape == (1, N)
        # The chip's physics for this input: the modulator fully open on `port` alone (its
        # hidden offsets leave the others a little light), through the mesh, on the detectors.
        volts = station.world.get("modulators.voltages")
        assert volts[2 * port] == pytest.approx(5.0, abs=1e-6)  # phi_a = pi: sqrt(pi / alpha * R)
        field = chip.modulated_field(volts[: 2 * N])
        assert abs(field[port]) ** 2 == pytest.approx(chip.splitter[port], rel=0.01)
        expected = (chip.gain * chip.input_power_w() * np.abs(chip.transfer_matrix() @ field) ** 2
                    + chip.dark_w) / unit
        noise = 4 * chip.noise_w / unit
        np.testing.assert_allclose(out[0], expected, rtol=1e-3, atol=noise)
        # ... and what the error-free twin computes for the same phases, within the chip's errors.
        twin = twin_from_description(bench.describe())
        mesh = twin.meshes[0]
        mesh.theta.data[:] = mesh.theta.new_tensor(phases.theta)
        mesh.phi.data[:] = mesh.phi.new_tensor(phases.phi)
        mesh.out_phase.data[:] = mesh.out_phase.new_tensor(phases.out_phase)
        ideal = twin(mesh.theta.new_tensor(x.real).to(mesh.theta.dtype)).detach().numpy()[0]
        assert np.abs(out[0] / out[0].sum() - ideal / ideal.sum()).max() < 0.1
    bench.safe_state()
    assert station.world.get("laser.output") is False
    assert not np.any(station.world.get("modulators.voltages"))


def test_an_amplitude_the_modulators_cannot_make_is_refused_with_nothing_sent(station: Station) -> None:
    bench = BenchMeshProcessor.from_station(station)
    before = {i.name: len(sent(i)) for i in (station.modulators, station.pm, station.heaters, station.laser)}
    good = np.full((1, N), 0.3, dtype=complex)
    for bad_value in (1.5, math.nan, 2.0j):
        x = np.vstack([good, good])
        x[1, 3] = bad_value
        with pytest.raises(LimitError, match="sample 1, port 3"):
            bench.run(x)  # the good first sample is not sent either
    with pytest.raises(LimitError, match=r"expected \(batch, 8\)"):
        bench.run(np.ones((2, 5)))
    after = {i.name: len(sent(i)) for i in (station.modulators, station.pm, station.heaters, station.laser)}
    assert after == before
    assert bench.queries.samples == 0


def test_pat_trains_on_the_bench_for_one_epoch(station: Station, tmp_path: Path) -> None:
    result = train_on_station(station, "insitu", epochs=1, lr=0.05, runs_dir=tmp_path, settings=FAST)
    assert not result.aborted and result.reason == ""
    assert result.accuracy > MIN_ACCURACY
    assert result.physical_queries == 1082  # every training sample of digits 0-7 once
    files = list(tmp_path.glob("mzi-lab-insitu-*.h5"))
    assert [str(f) for f in files] == [result.run_path]
    with open_run(files[0]) as run:
        assert run.status == "completed"
        assert run.info["config"]["station_run"]["instrument"] is None  # found again by its roles


# An epoch on the bench (about 10 s): the same training as the test above, from the command
# line; the command's own paths are covered on the mzi-large station (tests/integration).
@pytest.mark.slow
def test_hilt_train_runs_on_the_bench(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["train", "mzi-lab", "--loop", "insitu", "--epochs", "1",
                                       "--batch-size", "256", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = list(tmp_path.glob("mzi-lab-insitu-*.h5"))
    assert len(files) == 1
    with open_run(files[0]) as run:
        assert run.status == "completed"
