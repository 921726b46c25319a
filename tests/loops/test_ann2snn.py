"""ANN-to-SNN conversion and layer-wise calibration on the spiking chip (hilt.loops.ann2snn).

One small ANN (digits, 64-32-10, a few epochs) is trained once per module; chips are short
(T = 16) and the calibration set small, so the whole file runs in a few seconds."""

from __future__ import annotations

import copy

import pytest
import torch

from hilt.loops.ann2snn import (
    BIAS,
    VINIT,
    ConvertedSNN,
    ann_accuracy,
    calibrate_layerwise,
    convert,
    run_ann2snn_demo,
    snn_accuracy,
    train_ann,
)
from hilt.loops.core import LoopControl
from hilt.loops.data import load_digits
from hilt.sims.physics import SpikingLayer
from hilt.sims.physics.errors import error_levels

torch.set_num_threads(1)

# A chip whose neurons are badly matched (30 % threshold, 10 % leak spread): the naive copy
# loses accuracy there, so calibration has something to recover.
HEAVY = error_levels("severe", threshold_mismatch=0.3, leak_mismatch=0.1)


@pytest.fixture(scope="module")
def setup():
    data = load_digits(0)
    ann = train_ann(data.x_train, data.y_train, sizes=(64, 32, 10), epochs=25, seed=0)
    return data, ann


def test_converted_network_is_a_chip_network_with_bias_and_v_init_lines():
    lin = torch.nn.Linear(3, 1)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.fill_(0.25)
    snn = convert(torch.nn.Sequential(lin), timesteps=16)
    assert isinstance(snn.layers[0], SpikingLayer) and snn.layers[0].n_in == 3 + 2
    assert snn.layers[0].int_weight().dtype == torch.int8
    # Zero synapses, bias 0.25 theta per tick through the always-on line: one spike in four.
    assert snn(torch.zeros(16, 1, 3)).sum().item() == 4
    # An initial potential of 0.9 theta (tick-0 line) brings the first spike forward.
    with torch.no_grad():
        snn.layers[0].weight[:, VINIT] = 0.9
    r = snn(torch.zeros(16, 1, 3))[:, 0, 0]
    assert r.nonzero().flatten().tolist()[0] == 0 and r.sum().item() == 4
    # Twin and device keep the class and the shared weights; the mismatch stays hidden.
    chip = snn.with_errors(HEAVY, 3)
    assert isinstance(chip, ConvertedSNN) and isinstance(chip.twin(), ConvertedSNN)
    assert chip.layers[0].weight is snn.layers[0].weight
    assert chip.twin().layers[0].errors is None and chip.layers[0].errors is not None


def test_conversion_preserves_predictions_on_an_error_free_chip(setup):
    data, ann = setup
    x, y = data.x_test[:200], data.y_test[:200]
    with torch.no_grad():
        ann_pred = ann(torch.as_tensor(x)).argmax(-1)
    snn = convert(ann, data.x_train, timesteps=64)
    agree = float((snn.predict(x, seed=1) == ann_pred).float().mean())
    assert agree >= 0.95
    assert snn_accuracy(snn, x, y) >= ann_accuracy(ann, x, y) - 0.04


def _chip(setup, T: int = 16):
    data, ann = setup
    return convert(ann, data.x_train, timesteps=T).with_errors(HEAVY, 1)


def test_bias_calibration_reduces_every_layers_rate_error(setup):
    data, ann = setup
    chip = _chip(setup)
    rep = calibrate_layerwise(ann, chip, data.x_train[:128], mode="bias")
    assert rep.mode == "bias" and not rep.aborted and len(rep.layers) == 2
    for c in rep.layers:
        assert c.rmse_after_bias < 0.9 * c.rmse_before
        assert c.mean_after_bias < c.mean_before  # the bias removes (most of) the mean error
        assert c.rmse_after_weights is None
    assert torch.allclose(chip.layers[0].weight[:, VINIT], torch.tensor(0.5))
    # The programmed bias is still an int8 weight of the chip.
    assert chip.layers[0].int_weight().dtype == torch.int8


def test_weight_calibration_reduces_it_further_and_recovers_accuracy(setup):
    data, ann = setup
    chip = _chip(setup)
    naive = snn_accuracy(chip, data.x_test, data.y_test)
    bias_only = copy.deepcopy(chip)
    rep_b = calibrate_layerwise(ann, bias_only, data.x_train[:128], mode="bias")
    rep = calibrate_layerwise(ann, chip, data.x_train[:128], mode="bias+weights", steps=15)
    for cb, c in zip(rep_b.layers, rep.layers, strict=True):
        assert c.rmse_after_weights is not None and len(c.weight_losses) == 15
        assert c.rmse_after_weights < 0.9 * c.rmse_after_bias
        assert c.rmse_after_weights < 0.9 * cb.rmse_after_bias
    # Counted chip runs: naive + bias iterations + final + restore, then steps + restore.
    assert rep.layers[0].physical_runs == 1 + 3 + 2 + 15 + 1
    assert rep.physical_samples == rep.physical_runs * 128
    assert snn_accuracy(chip, data.x_test, data.y_test) > naive + 0.02


def test_calibration_is_deterministic(setup):
    data, ann = setup
    a, b = _chip(setup), _chip(setup)
    ra = calibrate_layerwise(ann, a, data.x_train[:64], mode="bias+weights", steps=3)
    rb = calibrate_layerwise(ann, b, data.x_train[:64], mode="bias+weights", steps=3)
    assert ra.summary() == rb.summary()
    assert torch.equal(a.layers[1].weight, b.layers[1].weight)


def test_surrogate_gradient_also_calibrates(setup):
    data, ann = setup
    chip = _chip(setup)
    rep = calibrate_layerwise(ann, chip, data.x_train[:64], mode="bias+weights", steps=5,
                              grad="surrogate")
    assert all(c.rmse_after_weights < c.rmse_after_bias for c in rep.layers)


def test_abort_stops_between_layers_and_progress_is_reported(setup):
    data, ann = setup
    chip = _chip(setup)
    untouched = chip.layers[1].weight.detach().clone()
    reports = []
    calls = []

    def abort() -> bool:
        calls.append(1)
        return len(calls) > 1  # let the first layer finish, stop before the second

    rep = calibrate_layerwise(ann, chip, data.x_train[:64], mode="bias+weights", steps=2,
                              progress=reports.append, abort=abort)
    assert rep.aborted and [c.layer for c in rep.layers] == [0]
    assert torch.equal(chip.layers[1].weight, untouched)
    assert not torch.equal(chip.layers[0].weight[:, BIAS], torch.zeros(32))
    assert len(reports) == rep.physical_runs == rep.layers[0].physical_runs
    assert {p.epoch for p in reports} == {0} and reports[-1].physical_queries == rep.physical_samples

    ctl = LoopControl()
    ctl.abort()
    rep = calibrate_layerwise(ann, _chip(setup), data.x_train[:64], abort=ctl)
    assert rep.aborted and rep.layers == [] and rep.physical_runs == 0


def test_bad_settings_are_refused(setup):
    data, ann = setup
    with pytest.raises(ValueError):
        calibrate_layerwise(ann, _chip(setup), data.x_train[:8], mode="weights")
    with pytest.raises(ValueError):
        calibrate_layerwise(ann, _chip(setup), data.x_train[:8], grad="bptt")
    with pytest.raises(ValueError, match="Conv1d"):
        convert(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3), torch.nn.ReLU()))


def test_demo_shape():
    res = run_ann2snn_demo(timesteps=(8,), n_calib=32, steps=2, errors=HEAVY,
                           ann_epochs=10)
    assert 0.9 < res["ann_accuracy"] <= 1.0 and res["errors"] == "custom"
    (row,) = res["results"]
    for key in ("twin_naive", "physical_naive", "physical_bias", "physical_weights"):
        assert 0.0 <= row[key] <= 1.0
    assert row["timesteps"] == 8 and row["bias_s"] >= 0 and len(row["weights_layers"]) == 2
