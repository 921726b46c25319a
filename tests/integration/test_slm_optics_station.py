"""The bundled SLM bench (hilt/stations/slm-optics.yaml) end to end: drivers -> TCP -> simulated SLM
and camera -> the slm_optics world system; the camera sees what the SLM shows."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from hilt import stations
from hilt.gui.cli import main
from hilt.instruments import Camera, SpatialLightModulator
from hilt.station import Station


def centroid(image: np.ndarray) -> tuple[float, float]:
    """(row, col) of the bright spot: the intensity-weighted mean of the pixels above half its peak
    (the background, offset and noise below it do not pull the centre)."""
    im = image.astype(np.float64) - np.median(image)
    im[im < 0.5 * im.max()] = 0.0
    rows, cols = np.indices(im.shape)
    return float((im * rows).sum() / im.sum()), float((im * cols).sum() / im.sum())


def blazed(shape: tuple[int, int], period_px: float) -> np.ndarray:
    """A blazed grating along the columns: the phase ramps 2 pi every ``period_px`` SLM pixels."""
    return np.tile(2 * np.pi * np.arange(shape[1]) / period_px, (shape[0], 1))


def test_station_check_is_clean() -> None:
    result = CliRunner().invoke(main, ["station", "check", "slm-optics"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("all instruments OK")


def test_a_blazed_grating_moves_the_spot_by_the_predicted_pixels() -> None:
    with Station.from_yaml(stations.path("slm-optics")) as st:
        slm, cam = st.role("slm"), st.role("camera")
        assert isinstance(slm, SpatialLightModulator) and isinstance(cam, Camera)
        bench = st.world.system("bench")
        st.laser.power.set(1e-3)
        st.laser.output.set(True)
        cam.exposure.set(1e-3)
        slm.show_phase(np.zeros(slm.shape))
        flat = cam.snap(timeout=1.0)
        assert flat.image.max() > 20 * np.median(flat.image)  # a focused spot above the background
        r0, c0 = centroid(flat.image)
        period = 32.0
        t0 = st.world.clock.now()
        slm.show_phase(blazed(slm.shape, period))
        assert st.world.clock.now() - t0 >= slm.settle_s  # show_phase waited for the panel to settle
        tilted = cam.snap(timeout=1.0)
        assert tilted.counter == flat.counter + 1
        r1, c1 = centroid(tilted.image)
        # What the bench's lens predicts: lambda f / (period x SLM pitch), in camera pixels.
        predicted = 1.55e-6 * 0.05 / (period * slm.pixel_pitch_m * cam.pixel_pitch_m)
        assert predicted == pytest.approx(60.547, abs=1e-3)
        assert abs(r1 - r0) < 0.5
        # The hidden focal-length error (mild: 1 % std) is the only difference from the prediction.
        assert c1 - c0 == pytest.approx(predicted * (1 + bench.focal_error), abs=0.5)
        assert c1 - c0 == pytest.approx(predicted, rel=0.05)
        # Laser off: the camera sees only its dark signal.
        st.laser.output.set(False)
        dark = cam.snap(timeout=1.0)
        assert dark.image.max() < 0.1 * tilted.image.max()
    assert not bench.shown().any()  # safe state on exit: the all-zero frame
