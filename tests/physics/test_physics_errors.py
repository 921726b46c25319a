"""Error presets and frozen draws."""

import pytest
import torch

from hilt.sims.physics import PRESETS, ErrorLevels, draw_mzi_errors, error_levels


def test_presets_and_dat_settings():
    assert {"none", "mild", "severe", "dat-0.10", "dat-0.06"} <= set(PRESETS)
    assert error_levels("none").is_none
    assert error_levels("dat-0.10").phase_shifter == 0.10 == error_levels("dat-0.10").beam_splitter
    assert error_levels("dat-0.06").phase_shifter == 0.06 == error_levels("dat-0.06").beam_splitter
    mild, severe = error_levels("mild"), error_levels("severe")
    for field in ("shift_px", "phase_shifter", "beam_splitter", "detector_noise", "threshold_mismatch"):
        assert 0 < getattr(mild, field) < getattr(severe, field)
    assert error_levels("mild", beam_splitter=0.2).beam_splitter == 0.2
    with pytest.raises(ValueError):
        error_levels("catastrophic")


def test_draws_are_reproducible_and_independent_of_other_magnitudes():
    a = draw_mzi_errors(error_levels("dat-0.10"), 10, 25, 5, seed=1)
    b = draw_mzi_errors(error_levels("dat-0.10"), 10, 25, 5, seed=1)
    c = draw_mzi_errors(error_levels("dat-0.10", detector_noise=0.1), 10, 25, 5, seed=1)
    assert torch.equal(a.phase_offset, b.phase_offset) and torch.equal(a.bs_error, c.bs_error)
    z = draw_mzi_errors(ErrorLevels(), 10, 25, 5, seed=1)
    assert float(z.phase_offset.abs().max()) == 0.0 and bool((z.efficiency == 1).all())


def test_dat_presets_single_and_combined_errors():
    assert error_levels("dat-phase-0.10") == ErrorLevels(phase_shifter=0.10)
    assert error_levels("dat-bs-0.10") == ErrorLevels(beam_splitter=0.10)
    assert error_levels("dat-0.04") == ErrorLevels(phase_shifter=0.04, beam_splitter=0.04)
    # output phases are a separate magnitude: setting it leaves theta/phi offsets unchanged
    a = draw_mzi_errors(error_levels("dat-0.10"), 10, 25, 5, seed=1)
    b = draw_mzi_errors(error_levels("dat-0.10", output_phase=0.3), 10, 25, 5, seed=1)
    assert torch.equal(a.phase_offset[:20], b.phase_offset[:20])
    assert float(b.phase_offset[20:].abs().min()) > 0
