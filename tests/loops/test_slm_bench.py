"""Training on the SLM bench (hilt.loops.slm_bench, hilt.instruments.slm_processor): the twin
against the simulated bench, and PAT / DAT through the real SLM and camera drivers with every
training frame in the run file. Small runs only (a few batches); the table is bench/'s."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hilt import stations
from hilt.config import parse_station
from hilt.instruments.slm_processor import CameraRegions, SlmLayout
from hilt.loops.core import TrainSettings, encode
from hilt.loops.data import load_digits
from hilt.loops.slm_bench import (
    FrameCorrection,
    SlmDATSettings,
    SlmTwin,
    is_slm_bench,
    polynomial_modes,
    setup_bench,
    station_bench_options,
    train_slm_dat,
    train_slm_pat,
)
from hilt.runfile import open_run
from hilt.station import Station

FOLDED = Path(__file__).resolve().parents[2] / "examples" / "stations" / "slm-optics-folded.yaml"


def slm_station(errors: str, name: str = "slm-optics") -> Station:
    """A bundled station (or a station file) at a world error preset."""
    config = yaml.safe_load(stations.find(name).read_text())
    config["world"]["errors"] = errors
    return Station(parse_station(yaml.safe_dump(config), f"{Path(name).stem}-{errors}.yaml"))


@pytest.fixture(scope="module")
def ideal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Station, object]]:
    """A bench without hidden errors (its LUT is the data sheet's), geometry calibrated."""
    with slm_station("none") as st:
        yield st, setup_bench(st, runs_dir=tmp_path_factory.mktemp("runs"), lut="nominal")


def test_processor_and_twin_encode_the_same_frame(ideal: tuple[Station, object]) -> None:
    _, setup = ideal
    data = load_digits(0).subset(8, 8)
    x = encode(data, 64, 1.0)[0]
    proc, twin = setup.processor, copy.deepcopy(setup.twin)  # type: ignore[attr-defined]
    mask = np.random.default_rng(0).uniform(0, 6, twin.layout.mask_shape)
    proc.load_masks([mask])
    with torch.no_grad():
        twin.mask.copy_(torch.as_tensor(mask, dtype=torch.float32))
        shown = twin.shown_phase(x).numpy()
    assert np.allclose(proc.frame_phase(x.numpy()), shown, atol=1e-5)


def test_twin_predicts_the_ideal_bench(ideal: tuple[Station, object]) -> None:
    """With no hidden errors, the calibrated twin and the bench's camera agree (what is left:
    shot and read noise, the 8-bit phase steps, the measured beam waist)."""
    station, setup = ideal
    assert is_slm_bench(station)
    data = load_digits(0).subset(16, 16)
    x = encode(data, 64, 1.0)[0]
    proc, twin = setup.processor, setup.twin  # type: ignore[attr-defined]
    proc.load_masks([np.zeros(twin.layout.mask_shape)])
    measured, _ = proc.run(x.numpy())
    with torch.no_grad():
        predicted = twin(x).numpy()
    # Relative to each sample's brightest class region (median measured 0.008; a few samples
    # whose brightest region sits on the zeroth order's steep tail are off by up to 0.3).
    err = np.abs(measured - predicted).max(axis=1) / measured.max(axis=1)
    assert np.median(err) < 0.05
    assert proc.queries.samples == 16
    t = proc.timing.per_frame()
    # A frame costs the SLM's settle time and the exposure on the bench's clock.
    assert t["bench_s"] >= t["settle_s"] > 0


@pytest.fixture(scope="module")
def mild(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Station, object]]:
    with slm_station("mild") as st:
        setup = setup_bench(st, runs_dir=tmp_path_factory.mktemp("runs"), lut="nominal")
        setup.processor.prepare()  # the uniform frame's light, once for the module's tests
        yield st, setup


def test_pat_through_the_bench_records_every_frame(mild: tuple[Station, object], tmp_path: Path) -> None:
    _, setup = mild
    data = load_digits(0).subset(16, 8)
    run = tmp_path / "pat.h5"
    proc = setup.processor  # type: ignore[attr-defined]
    q0 = proc.queries.samples
    result = train_slm_pat(proc, setup.twin, data,  # type: ignore[attr-defined]
                           TrainSettings(epochs=1, batch_size=16, lr=0.1, eval_every_epoch=False),
                           run_path=str(run))
    assert not result.aborted
    assert result.physical_queries == 16
    assert proc.queries.samples - q0 == 16 + 8  # the training frames and the test set once
    assert 0.0 <= result.accuracy <= 1.0
    with open_run(run) as r:
        assert r.status == "completed"
        batches = r.captures("batches")
        assert batches.physical.shape == (16, 10)  # every training frame's ten class regions
        assert np.all(np.isfinite(batches.physical)) and np.all(np.isfinite(batches.twin))
        assert r.info["config"]["system"] == "slm_bench"


def test_pat_stores_every_frame_the_readings_came_from(mild: tuple[Station, object], tmp_path: Path) -> None:
    """The run file's frames stream: one camera crop per physical query (training and the final
    test), whose region sums, dark-corrected as the processor does, are the recorded readings."""
    _, setup = mild
    data = load_digits(0).subset(16, 8)
    run = tmp_path / "frames.h5"
    proc = setup.processor  # type: ignore[attr-defined]
    q0 = proc.queries.samples
    train_slm_pat(proc, setup.twin, data,  # type: ignore[attr-defined]
                  TrainSettings(epochs=1, batch_size=8, lr=0.1, eval_every_epoch=False), run_path=str(run))
    with open_run(run) as r:
        frames = r.captures("frames")
        batches = r.captures("batches")
        info = r.info["config"]["frames"]
    x, y, w, h = info["crop_xywh"]
    assert frames.physical.dtype == np.uint16 and frames.physical.shape[1:] == (h, w)
    assert len(frames.physical) == proc.queries.samples - q0 == 16 + 8  # training frames, then the test set
    counter, _, exposure, _ = frames.inputs.T
    assert np.all(np.diff(counter) > 0)
    train = frames.step >= 0
    assert train.sum() == 16 and np.all(frames.step[~train] == -1)
    # Each training frame against the readings recorded for the same step and sample.
    key = {(int(s), int(i)): row for s, i, row in zip(batches.step, batches.sample, batches.physical, strict=True)}
    roi = (x, y, w, h)
    for img, s, i, t in zip(frames.physical[train], frames.step[train], frames.sample[train], exposure[train],
                            strict=True):
        sums = proc.regions.read(img.astype(np.float64) - proc._dark(roi), roi)
        np.testing.assert_allclose(sums / (proc._rate * t), key[(int(s), int(i))], rtol=1e-5, atol=1e-7)


def test_frames_can_be_left_out(mild: tuple[Station, object], tmp_path: Path) -> None:
    _, setup = mild
    proc = copy.copy(setup.processor)  # type: ignore[attr-defined]
    proc.record_frames = False
    run = tmp_path / "noframes.h5"
    train_slm_pat(proc, setup.twin, load_digits(0).subset(16, 8),  # type: ignore[attr-defined]
                  TrainSettings(epochs=1, batch_size=16, eval_every_epoch=False), run_path=str(run))
    with open_run(run) as r:
        assert "frames" not in r.streams
        assert "frames" not in r.info["config"]


@pytest.mark.slow
def test_train_on_station_runs_the_bench(tmp_path: Path) -> None:
    """What hilt train does on slm-optics: calibrate, train the twin, fine-tune on the bench.
    (Slow: a station of its own, calibrated; the default run covers PAT through the bench and
    its run file in the tests above; the station-run record is one function for every station
    run, tested with the MZI bench in tests/instruments/test_bench_processor.py.)"""
    from hilt.loops.station import train_on_station

    run = tmp_path / "insitu.h5"
    with slm_station("mild") as st:
        result = train_on_station(st, "insitu", epochs=1, lr=0.05, runs_dir=tmp_path, run_path=run,
                                  settings={"n_train": 64, "n_test": 32, "insilico_epochs": 1,
                                            "bench": {"lut": "nominal"}})
    assert not result.aborted and result.physical_queries == 64
    assert "slm_geometry" in result.extra["calibrations"]
    assert result.extra["bench_per_frame"]["settle_s"] > 0
    with open_run(run) as r:
        assert r.status == "completed"
        assert r.info["config"]["station_run"]["loop"] == "insitu"
        assert r.info["station_snapshot"]  # the station it ran on


@pytest.mark.slow
def test_dat_fits_the_bench(mild: tuple[Station, object], tmp_path: Path) -> None:
    _, setup = mild
    data = load_digits(0).subset(96, 32)
    result = train_slm_dat(setup.processor, setup.twin, data,  # type: ignore[attr-defined]
                           SlmDATSettings(epochs=1, batch_size=32, lr=0.1, warmup_batches=2, warmup_steps=10,
                                          eval_every_epoch=False), run_path=str(tmp_path / "dat.h5"))
    assert not result.aborted
    with open_run(tmp_path / "dat.h5") as r:
        rows = r.scalars()
    # Each similarity step brings the corrected twin nearer the measured readings.
    assert np.nanmean(rows["sim_after"]) < np.nanmean(rows["sim_before"])


def test_the_error_prediction_network_starts_as_the_identity_on_smooth_modes() -> None:
    """DAT's per-layer correction: orthonormal low-order modes (coefficients in rad RMS), and at
    start the corrected frame is the shown one."""
    modes = polynomial_modes((16, 24), 3).reshape(9, -1).double()
    assert torch.allclose(modes @ modes.T / modes.shape[1], torch.eye(9, dtype=torch.float64), atol=1e-5)
    assert polynomial_modes((16, 24), 2, piston=True).shape == (6, 16, 24)
    phase = torch.rand(2, 16, 24)
    for orders in ((None, None), (3, 1)):
        ph, la = FrameCorrection((16, 24), 3, *orders)(phase)
        assert torch.allclose(ph[:, 1:-1, 1:-1], phase[:, 1:-1, 1:-1]) and torch.all(la == 0)


def test_two_layers_split_the_panel_and_the_twin_shows_what_the_processor_shows() -> None:
    layout = SlmLayout((32, 64), image_side=4, upsample=6, mask_block=4, layers=2)
    assert layout.region_shape == (32, 32) and layout.mask_shape == (8, 8)
    rng = np.random.default_rng(0)
    masks = [rng.uniform(0, 6, layout.mask_shape) for _ in range(2)]
    with pytest.raises(ValueError, match="2 mask"):
        layout.masks_full(masks[:1])
    regions = CameraRegions(np.array([[10, 10, 3, 3], [20, 20, 3, 3]]), np.zeros((2, 2)))
    twin = SlmTwin(layout, regions, np.eye(2) * 100, np.array([15.0, 15.0]), 10.0,
                   fold_distance_m=2e-3, pixel_pitch_m=8e-6, wavelength_m=1.55e-6)
    x = torch.as_tensor(rng.uniform(0, 1, (3, 16)), dtype=torch.float32)
    with torch.no_grad():
        twin.mask.copy_(torch.as_tensor(masks[0]))
        twin.mask2.copy_(torch.as_tensor(masks[1]))
        shown = twin.shown_phase(x).numpy()
    expected = layout.input_phase(layout.features(x.numpy())) + layout.masks_full(masks)[None]
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    # The digit sits on region 1 only; region 2 shows layer 2's mask alone.
    np.testing.assert_allclose(shown[:, :, 32:], np.broadcast_to(layout.mask_full(masks[1]), (3, 32, 32)), atol=1e-5)
    with pytest.raises(ValueError, match="fold_distance_m"):
        SlmTwin(layout, regions, np.eye(2) * 100, np.array([15.0, 15.0]), 10.0)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pat_and_dat_train_both_layers_of_the_folded_bench(tmp_path: Path) -> None:
    """The folded bench (examples/stations/slm-optics-folded.yaml, small): calibrated through the fold, two masks on the
    SLM per frame; PAT and DAT (one correction per layer) run and change both masks."""
    data = load_digits(0).subset(32, 16)
    with slm_station("mild", str(FOLDED)) as st:
        setup = setup_bench(st, runs_dir=tmp_path, lut="nominal", layers=2, fold_distance_m=5e-3)
        proc, twin = setup.processor, setup.twin
        assert proc.n_layers == 2 and twin.layout.layers == 2
        settings = dict(epochs=1, batch_size=16, lr=0.1, eval_every_epoch=False)
        pat = train_slm_pat(proc, twin, data, TrainSettings(**settings), run_path=str(tmp_path / "pat.h5"))
        dat = train_slm_dat(proc, twin, data, SlmDATSettings(**settings, warmup_batches=1, warmup_steps=3),
                            run_path=str(tmp_path / "dat.h5"))
    for result in (pat, dat):
        assert not result.aborted and result.physical_queries >= 32
        masks = [result.model_state[k] for k in ("twin.mask", "twin.mask2")]
        assert all(float(m.abs().sum()) > 0 for m in masks)
    with open_run(tmp_path / "dat.h5") as r:
        assert r.info["config"]["dat"]["layers"] == 2


def test_a_station_file_says_how_its_bench_is_built() -> None:
    """``setup: slm_bench:`` carries what no instrument reports (the folded example's two layers
    and fold path) to hilt train's bench setup; a misspelt option is refused by name."""
    from hilt.errors import ConfigError

    text = FOLDED.read_text()
    assert station_bench_options(Station(parse_station(text, "folded.yaml"))) == {
        "layers": 2, "fold_distance_m": 0.005}
    assert station_bench_options(Station.from_yaml(stations.path("slm-optics"))) == {}
    bad = Station(parse_station(text.replace("fold_distance_m:", "fold_distance:"), "bad.yaml"))
    with pytest.raises(ConfigError, match=r"setup.slm_bench: unknown option\(s\) \['fold_distance'\]"):
        station_bench_options(bad)
