"""MZI calibration routines on the simulated mzi-lab station, checked against the chip's hidden
errors (read from the world here, never by the routines)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from hilt import stations
from hilt.errors import ConfigError
from hilt.instruments import mesh_processor
from hilt.instruments.heater_calibration import load_heater_calibrations
from hilt.loops.calibration import (
    ROUTINES,
    MZICalibration,
    load_heater_calibration,
    run_calibration,
)
from hilt.runfile import open_run
from hilt.station import Station

POINTS = 24
PHI0_TOL = 0.01  # rad (measured: 1e-3 at worst on this chip)
ALPHA_TOL = 0.005  # relative (measured: 5e-5)
CROSSTALK_TOL = 1e-3  # absolute, on kappa = 0.01 (measured: 2.3e-4)
# External (phi) heaters: offsets relative to their reference heater's (the gauge of an
# intensity-only measurement). Limited by the chip's beam-splitter errors, which no per-heater
# phase represents (measured: 0.05 rad at worst, 0.002 on the same chip without them).
PHI_REL_TOL = 0.1
# The phi heaters of columns 0-1, fitted with two inputs lit coherently through the modulators:
# offsets relative to the input phase shifters at 0 V, compared with the truth plus the hidden
# phase difference of the two inputs' light (measured: 0.053 rad at worst, the same coupler-error
# limit as above; 0.018 with ideal couplers, the heat of the 50:50 MZI next to them; 0.002 with
# neither).
PHI_GAUGE_TOL = 0.1
N_MZI = 28
TWO_INPUTS = list(range(N_MZI, N_MZI + 7))  # the phi heaters of columns 0 and 1


def by_hand(st: Station):  # type: ignore[no-untyped-def]
    """A select_input function from Python (a person moving the fibre): light into one chip
    input, written into the simulated world; undo with ``st.world.set("chip.input_amplitudes", None)``."""
    def select(port: int) -> None:
        amplitudes = np.zeros(8)
        amplitudes[port] = 1.0
        st.world.set("chip.input_amplitudes", amplitudes)

    return select


def truth(st: Station) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chip = st.world.system("chip")
    e = chip.errors
    heater = chip.device.heater
    alpha_v2 = e.efficiency.double().numpy() * heater.alpha / heater.resistance
    c = chip.device.crosstalk_matrix(e.crosstalk).double().numpy()
    return e.phase_offset.double().numpy(), alpha_v2, c


def wrapped(d: np.ndarray) -> np.ndarray:
    return (d + np.pi) % (2 * np.pi) - np.pi


def input_gauge(st: Station) -> np.ndarray:
    """What an intensity cannot tell from a column-0/1 phi offset, per heater (0 elsewhere): the
    phase difference of the light of the two inputs it interferes, set by the hidden offsets of
    the input phase shifters at 0 V (modes k, k + 1 in column 0; k, k + 2 in column 1)."""
    chip = st.world.system("chip")
    psi = chip.modulator_offset[:, 1]
    gauge = np.zeros(chip.n_heaters)
    layout = chip.device.layout
    for m in range(N_MZI):
        c, k = layout.column_of[m], layout.modes[m]
        if c < 2:
            gauge[N_MZI + m] = psi[k] - psi[k + 1 + c]
    return gauge


def assert_safe(st: Station) -> None:
    assert np.all(np.asarray(st.world.get("heaters.voltages")) == 0)
    assert np.all(np.asarray(st.world.get("modulators.voltages")) == 0)
    assert st.world.get("laser.output") is False


@pytest.fixture(scope="module")
def station() -> Iterator[Station]:
    with Station.from_yaml(stations.path("mzi-lab")) as st:
        yield st


@pytest.fixture(scope="module")
def heater_run(station: Station, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("runs")
    progress: list[tuple[int, int, str]] = []
    # No inputs given: the routine picks the inputs that reach every MZI and lights each through
    # the station's fibre switch (role input_switch), as `hilt calibrate mzi-lab mzi_heaters` does.
    result = run_calibration(station, "mzi_heaters", out_dir=out, points=POINTS,
                             progress=lambda *a: progress.append(a))
    return result, progress


def test_registry_names_every_routine() -> None:
    assert set(ROUTINES) == {"mzi_heaters", "mzi_crosstalk", "lockin_phase_sensitivity", "thz_source_power",
                             "detector_dark_flat", "slm_lut", "slm_geometry", "camera_dark_flat"}


def test_heaters_recover_the_hidden_offsets_and_efficiencies(heater_run, station: Station) -> None:  # type: ignore[no-untyped-def]
    result, progress = heater_run
    assert result.status == "completed", result.summary()
    phi0, alpha, _ = truth(station)
    cal = load_heater_calibration(result.calibration_file)
    theta, phi, out = slice(0, N_MZI), slice(N_MZI, 2 * N_MZI), slice(2 * N_MZI, None)
    # Every MZI's internal and external heater is fitted (those of columns 0-1 with two inputs
    # lit through the modulators); output phase shifters are never observable.
    assert cal.calibrated[theta].all() and cal.calibrated[phi].all() and not cal.calibrated[out].any()
    assert np.abs(wrapped(cal.phi0[theta] - phi0[theta])).max() < PHI0_TOL
    fitted = cal.calibrated
    assert np.abs(cal.alpha_v2[fitted] / alpha[fitted] - 1).max() < ALPHA_TOL
    err = wrapped(cal.phi0 - phi0)
    for h in np.nonzero(cal.calibrated[phi])[0] + N_MZI:
        if h in TWO_INPUTS:
            continue  # their own test, below
        ref = cal.reference[h]
        expected = err[ref] if ref >= 0 else 0.0  # the reference's own error carries over
        assert abs(wrapped(err[h] - expected)) < PHI_REL_TOL, h
    assert result.quality["r2_min"] > 0.999
    key = next(iter(result.before))
    assert result.after[key] < 0.1 * result.before[key]
    # dark, 28 theta, 21 phi with one input, 8 input transfers, 7 phi with two inputs
    assert progress[-1][0] == progress[-1][1] and len(progress) == 1 + N_MZI + 21 + 8 + 7
    assert_safe(station)
    assert station.world.get("switch.channel") == 1  # the first input put back
    assert any("56 of 64 heaters measured" in n and "8 output phase shifters (56-63)" in n
               and "relative to the input phase shifters at 0 V" in n for n in result.notes), result.notes


def test_two_inputs_lit_through_the_modulators_fit_the_first_columns_phi_heaters(heater_run,  # type: ignore[no-untyped-def]
                                                                                  station: Station) -> None:
    result, _ = heater_run
    phi0, alpha, _ = truth(station)
    cal = load_heater_calibration(result.calibration_file)
    two = np.array(TWO_INPUTS)
    assert cal.calibrated[two].all()
    assert np.abs(cal.alpha_v2[two] / alpha[two] - 1).max() < ALPHA_TOL
    gauge = input_gauge(station)
    assert np.abs(wrapped(cal.phi0[two] - phi0[two] - gauge[two])).max() < PHI_GAUGE_TOL
    # Column 0 is relative to the inputs alone; a column-1 heater's light crosses one column-0
    # phi heater (its reference).
    assert (cal.reference[N_MZI:N_MZI + 4] == -1).all()
    assert cal.reference[N_MZI + 4:N_MZI + 7].tolist() == [N_MZI + 1, N_MZI + 2, N_MZI + 3]


def test_heater_run_file_holds_sweeps_fits_and_table(heater_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = heater_run
    with open_run(result.run_file) as run:
        assert run.status == "completed"
        table = run.calibration("mzi_heaters")
        np.testing.assert_allclose(table["phi0"], result.table["phi0"])
        sweeps = run.captures("sweep")
        assert sweeps.physical.shape == (56 * POINTS, 8) and sweeps.inputs.shape == (56 * POINTS, 64)
        # Each input's amplitude MZI swept alone (modulator voltages in, port powers out).
        transfers = run.captures("input_transfer")
        assert transfers.physical.shape == (8 * POINTS, 8) and transfers.inputs.shape == (8 * POINTS, 24)
        assert np.count_nonzero(transfers.inputs[:POINTS], axis=0).tolist() == [POINTS] + [0] * 23
        steps, r2 = run.scalar("r2")
        assert len(steps) == 56 and np.all(r2 > 0.999)


def test_station_file_calibration_field_loads_it(heater_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result, _ = heater_run
    config = yaml.safe_load((stations.path("mzi-lab")).read_text())
    config["instruments"]["heaters"]["calibration"] = str(result.calibration_file)
    path = tmp_path / "mzi-lab-calibrated.yaml"
    path.write_text(yaml.safe_dump(config))
    st = Station.from_yaml(path)
    st.start_simulators()
    try:
        heaters = st._build("heaters")
        cal = load_heater_calibration(heaters.calibration_file)
    finally:
        for server in st.servers.values():
            server.stop()
    np.testing.assert_allclose(cal.phi0, result.table["phi0"])
    # What a mesh processor reads from the same file: one table, the same voltages.
    (mesh0,) = load_heater_calibrations(result.calibration_file, 1)
    assert isinstance(mesh0, mesh_processor.HeaterCalibration)
    phases = np.linspace(0, 6, 64)
    np.testing.assert_allclose(mesh0.voltages_for(phases), cal.voltages_for(phases))


def test_crosstalk_from_the_stored_heater_calibration(heater_run, station: Station, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result, _ = heater_run
    try:  # inputs chosen from Python here (select_input), not through the station's switch
        xt = run_calibration(station, "mzi_crosstalk", out_dir=tmp_path, points=POINTS, crosstalk_points=8,
                             inputs=range(8), select_input=by_hand(station), heater_calibration=result.calibration_file)
    finally:
        station.world.set("chip.input_amplitudes", None)
    assert xt.status == "completed", xt.summary()
    _, _, c_true = truth(station)
    cal = load_heater_calibration(xt.calibration_file)
    assert cal.crosstalk is not None and cal.crosstalk_measured is not None
    measured = cal.crosstalk_measured
    assert measured.sum() >= 60  # every fitted heater against each of its design neighbours
    assert np.abs(cal.crosstalk[measured] - c_true[measured]).max() < CROSSTALK_TOL
    np.testing.assert_allclose(cal.phi0, result.table["phi0"])  # stored with the heaters
    key = next(iter(xt.before))
    assert xt.after[key] < 0.05 * xt.before[key]
    with open_run(xt.run_file) as run:
        assert run.status == "completed"
        assert run.calibration("mzi_heaters")["crosstalk"].shape == (64, 64)
    assert_safe(station)


def test_crosstalk_without_a_heater_calibration_fits_the_two_input_heaters_too(station: Station,
                                                                                 tmp_path: Path) -> None:
    progress: list[tuple[int, int, str]] = []
    result = run_calibration(station, "mzi_crosstalk", out_dir=tmp_path, points=12, crosstalk_points=6,
                             progress=lambda *a: progress.append(a))
    assert result.status == "completed", result.summary()
    phi0, _, _ = truth(station)
    cal = load_heater_calibration(result.calibration_file)
    assert cal.calibrated[:2 * N_MZI].all() and not cal.calibrated[2 * N_MZI:].any()
    two = np.array(TWO_INPUTS)
    # Re-derived with the measured crosstalk (measured: 0.040 rad at worst)
    assert np.abs(wrapped(cal.phi0[two] - phi0[two] - input_gauge(station)[two])).max() < PHI_GAUGE_TOL
    assert progress[-1][0] == progress[-1][1]
    assert any("56 of 64 heaters measured" in n for n in result.notes), result.notes
    assert_safe(station)


def test_one_fixed_input_calibrates_what_it_reaches(station: Station, tmp_path: Path) -> None:
    result = run_calibration(station, "mzi_heaters", out_dir=tmp_path, points=16, switch="none",
                             calibration_file=tmp_path / "heaters.npz")
    assert result.status == "completed"
    assert result.calibration_file == (tmp_path / "heaters.npz").resolve()
    cal = load_heater_calibration(result.calibration_file)
    phi0, _, _ = truth(station)
    # Light in input 0 reaches the MZIs on modes (k, k+1) of column c with k <= c: 19 of 28.
    theta = cal.calibrated[:N_MZI]
    assert theta.sum() == 19
    assert np.abs(wrapped(cal.phi0[:N_MZI][theta] - phi0[:N_MZI][theta])).max() < PHI0_TOL
    assert any("not reached from inputs [0]" in n for n in result.notes), result.notes


def test_a_station_without_the_modulators_role_fits_what_one_input_shows(tmp_path: Path) -> None:
    """The modulators still wired to the chip, but not named as the role: the routine does not
    touch them and fits what it did before they were used (49 heaters)."""
    config = yaml.safe_load((stations.path("mzi-lab")).read_text())
    config["roles"].pop("modulators")
    path = tmp_path / "mzi-lab-no-modulators-role.yaml"
    path.write_text(yaml.safe_dump(config))
    with Station.from_yaml(path) as st:
        link = st.instruments["modulators"].transport
        before = len(link.exchanges)
        result = run_calibration(st, "mzi_heaters", out_dir=tmp_path, points=16)
        sent = [e.data for e in list(link.exchanges)[before:] if e.direction == "->" and b"?" not in e.data]
    assert result.status == "completed", result.summary()
    assert sent == []  # the run file's snapshot may ask the QDAC who it is; nothing is set
    cal = load_heater_calibration(result.calibration_file)
    assert cal.calibrated.sum() == 49 and not cal.calibrated[TWO_INPUTS].any()
    assert result.quality["heaters_fitted"] == 49
    assert any(f"7 phi heaters {TWO_INPUTS} show only with two inputs lit coherently (the station has no "
               "modulators role)" in n for n in result.notes), result.notes


def test_abort_while_two_inputs_are_lit_ramps_the_modulators_down(station: Station, tmp_path: Path) -> None:
    stop = threading.Event()

    def progress(done: int, total: int, message: str) -> None:
        if "inputs 0+1 lit" in message:
            assert np.asarray(station.world.get("modulators.voltages"))[[0, 2]].min() > 4  # both lit
            stop.set()

    result = run_calibration(station, "mzi_heaters", out_dir=tmp_path, points=8, abort=stop, progress=progress)
    assert result.status == "aborted" and stop.is_set()
    assert_safe(station)


def test_abort_mid_sweep_leaves_the_chip_safe(station: Station, tmp_path: Path) -> None:
    stop = threading.Event()

    def progress(done: int, total: int, message: str) -> None:
        if done >= 3:
            stop.set()

    result = run_calibration(station, "mzi_heaters", out_dir=tmp_path, points=16, abort=stop, progress=progress)
    assert result.status == "aborted"
    assert result.calibration_file is None
    assert_safe(station)
    with open_run(result.run_file) as run:
        assert run.status == "aborted"


def test_unknown_options_are_refused_before_anything_is_sent(station: Station) -> None:
    with pytest.raises(ConfigError, match="unknown option"):
        run_calibration(station, "mzi_heaters", pointz=3)
    with pytest.raises(ConfigError, match="unknown calibration routine"):
        run_calibration(station, "mzi_everything")


@pytest.mark.parametrize(("options", "why"), [
    (["inputs=[0, 9]"], "9 is not one of the chip's input ports 0..7"),
    (["inputs=x"], "expected a list of input ports"),
    (["inputs=[0, 0]"], "given twice"),
    (["v_max=10"], r"v_max=10 V: the heaters cannot take it .*outside the soft limits \[0, 8\]"),
    (["points=abc"], "points='abc': expected a whole number 4..100000"),
    (["points=2.5"], "expected a whole number"),
    (["min_r2=2"], "min_r2=2: expected a number 0..1"),
    (["phi=maybe"], "phi='maybe': expected true or false"),
    (["mesh=foo"], "mesh='foo'"),
    (["n_modes=12"], "n_modes=12: pm reads 8 ports"),
    (["switch_channels={0: 9}"], r"input 0 is on switch output 9, which switch cannot take"),
    (["switch=pm"], "'pm' is not a optical_switch"),
    # Without the switch only the lit input can be used: refused now, not at step 20.
    (["inputs=[0, 7]", "switch=none"], r"lighting input\(s\) \[7\] needs a fibre switch"),
    (["v_aggressor=9"], "v_aggressor=9 V: the heaters cannot take it"),
    # The input modulators: their sweep against their own soft limits, and the right instrument.
    (["modulator_v_max=9"], r"modulator_v_max=9 V: the modulators cannot take it .*soft limits \[0, 8\]"),
    (["modulators=pm"], "'pm' is not a heater_driver"),
    (["modulators=heaters"], "the modulators \\(heaters\\) are the heater driver too"),
    (["modulators=7"], "modulators=7: expected a name"),
])
def test_bad_options_are_refused_before_anything_is_sent(station: Station, tmp_path: Path, options: list[str],
                                                         why: str) -> None:
    from hilt.loops.calibration import parse_options

    routine = "mzi_crosstalk" if options[0].startswith("v_aggressor") else "mzi_heaters"
    links = {name: inst.transport for name, inst in station.instruments.items()}
    before = {name: link.exchanges for name, link in links.items()}
    with pytest.raises(ConfigError, match=why):
        run_calibration(station, routine, out_dir=tmp_path, **parse_options(routine, options))
    assert {name: link.exchanges for name, link in links.items()} == before  # not a byte, not even safe state
    assert not list(tmp_path.iterdir())  # no run file


def test_calibration_file_round_trip(tmp_path: Path) -> None:
    cal = MZICalibration.nominal(4)
    cal.phi0[:] = [0.1, -0.2, 0.0, 3.0]
    cal.calibrated[:2] = True
    cal.crosstalk = np.eye(4) + 0.01 * np.eye(4, k=1)
    cal.crosstalk_measured = np.eye(4, k=1, dtype=bool)
    back = load_heater_calibration(cal.save(tmp_path / "c.npz"))
    np.testing.assert_allclose(back.phi0, cal.phi0)
    np.testing.assert_allclose(back.crosstalk, cal.crosstalk)
    assert back.calibrated.tolist() == [True, True, False, False]
    np.testing.assert_allclose(back.phases(back.voltages_for(np.array([1.0, 2.0, 3.0, 4.0]), crosstalk=False),
                                           crosstalk=False), [1.0, 2.0, 3.0, 4.0])
    # With the crosstalk inverse the phases are met with the neighbours' heat counted.
    np.testing.assert_allclose(back.phases(back.voltages_for(np.array([1.0, 2.0, 3.0, 4.0]))), [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ConfigError, match="c.npz"):
        load_heater_calibration(tmp_path / "missing" / "c.npz")


@pytest.mark.parametrize(("n", "kind"), [(4, "clements"), (8, "clements"), (12, "clements"), (6, "reck")])
def test_the_inputs_picked_reach_every_mzi(n: int, kind: str) -> None:
    from hilt.loops.calibration import MeshModel

    mesh = MeshModel(n, kind)
    inputs = mesh.covering_inputs(0)
    assert inputs[0] == 0 and inputs[1:] == sorted(inputs[1:]) and len(set(inputs)) == len(inputs)
    reached = set().union(*(mesh.reachable(p) for p in inputs))
    assert reached == set(range(mesh.n_mzi))
    for dropped in inputs[1:]:  # none is there for nothing
        rest = set().union(*(mesh.reachable(p) for p in inputs if p != dropped))
        assert rest != reached
    if (n, kind) == (8, "clements"):
        assert inputs == [0, 2, 4, 6]
