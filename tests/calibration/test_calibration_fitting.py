"""The fits and the mesh model the MZI routines rest on, on synthetic data (no station)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hilt.loops.calibration import MeshModel, fit_fringe
from hilt.loops.calibration.fitting import fringe_of, offset_from, wrap

ALPHA = math.pi / 0.025 / 1000  # rad / V^2, the nominal heater


def fringe(v2: np.ndarray, phi0: float, alpha: float, gains: np.ndarray, signs: np.ndarray) -> np.ndarray:
    return 0.5 + gains[None, :] * 0.4 * signs[None, :] * np.cos(phi0 + alpha * v2)[:, None]


@pytest.mark.parametrize("phi0", [-3.0, -0.4, 0.0, 1.3, 3.1])
def test_fit_recovers_alpha_and_phase_through_noise(phi0: float) -> None:
    rng = np.random.default_rng(1)
    v2 = np.linspace(0, 64, 32)
    gains = np.array([1.0, 0.9, 0.0])
    p = fringe(v2, phi0, 1.03 * ALPHA, gains, np.array([1, -1, 1]))
    p += 1e-3 * rng.standard_normal(p.shape)
    fit = fit_fringe(v2, p, (0.5 * ALPHA, 2 * ALPHA))
    assert fit.alpha == pytest.approx(1.03 * ALPHA, rel=1e-3)
    # The model says port 0 brightens and port 1 darkens with cos(theta): phi0 without a pi
    # ambiguity, port 2 (no fringe) carries no weight.
    model = np.array([0.4, -0.4, 0.0]) + 0j
    got, agreement = offset_from(fit.c, model)
    assert abs(wrap(got - phi0)) < 5e-3
    assert agreement > 0.99 and fit.r2 > 0.999


def test_a_drift_term_keeps_the_phase_when_a_neighbour_heats_the_port() -> None:
    v2 = np.linspace(0, 64, 24)
    p = fringe(v2, 0.7, ALPHA, np.ones(2), np.array([1, -1])) + np.outer(v2 / 64, [0.02, -0.02])
    plain = fit_fringe(v2, p, (0.5 * ALPHA, 2 * ALPHA))
    drift = fit_fringe(v2, p, (0.5 * ALPHA, 2 * ALPHA), linear=True)
    model = np.array([0.4, -0.4]) + 0j
    assert abs(wrap(offset_from(drift.c, model)[0] - 0.7)) < 1e-6
    assert abs(wrap(offset_from(plain.c, model)[0] - 0.7)) > 10 * abs(wrap(offset_from(drift.c, model)[0] - 0.7))
    assert drift.residual_rms < 1e-7


def test_fringe_of_samples_gives_the_complex_amplitude() -> None:
    theta = np.array([0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi])
    c = 0.3 - 0.2j
    values = (1.0 + np.real(c * np.exp(1j * theta)))[:, None]
    assert fringe_of(values)[0] == pytest.approx(c)


def test_numpy_mesh_matches_the_twin() -> None:
    mesh = MeshModel(8)
    phases = np.random.default_rng(0).uniform(0, 2 * math.pi, mesh.n_heaters)
    t = mesh.twin
    with torch.no_grad():
        t.theta.copy_(torch.as_tensor(phases[:28]))
        t.phi.copy_(torch.as_tensor(phases[28:56]))
        t.out_phase.copy_(torch.as_tensor(phases[56:]))
        u = t.transfer_matrix().numpy()
    for port in range(8):
        np.testing.assert_allclose(mesh.powers(phases, port), np.abs(u[:, port]) ** 2, atol=1e-5)


def test_routes_use_only_calibrated_mzis_and_reach_the_target() -> None:
    mesh = MeshModel(8)
    lay = mesh.layout
    assert len(mesh.reachable(0)) == 19 and len(mesh.reachable(7)) == 19
    assert set.union(*(mesh.reachable(p) for p in range(8))) == set(range(28))
    target = max(range(28), key=lambda m: (lay.column_of[m], -lay.modes[m]))  # last column, top
    everything = set(range(28))
    path = mesh.route(0, target, everything)
    assert path is not None
    # Follow the light: bar keeps the mode, cross swaps; no MZI twice, one per column before.
    mode = 0
    for c in range(lay.column_of[target]):
        m = mesh.at.get((c, mode))
        if m is None:
            continue
        assert m in path
        if path[m] == 0.0:
            mode = 2 * lay.modes[m] + 1 - mode
    assert mode in (lay.modes[target], lay.modes[target] + 1)
    first = mesh.at[(0, 0)]
    assert mesh.route(0, target, everything - {first}) is None  # input 0 must pass MZI (0, 1)


def test_command_line_options_are_read_as_yaml_and_checked() -> None:
    from hilt.errors import ConfigError
    from hilt.loops.calibration import describe, parse_options

    opts = parse_options("mzi_heaters", ["points=16", "inputs=[0, 7]", "v-max=7.5"])
    assert opts == {"points": 16, "inputs": [0, 7], "v_max": 7.5}
    with pytest.raises(ConfigError, match="pointz"):
        parse_options("mzi_heaters", ["pointz=3"])
    assert describe("thz_source_power").startswith("THz source output power")
