"""MZI meshes: layouts, decompositions, unitarity, heaters, errors, EO activation."""

import math

import numpy as np
import pytest
import torch

from hilt.sims.physics import (
    EOActivation,
    MZIMesh,
    MZINetwork,
    decompose,
    haar_unitary,
    mesh_layout,
    mzi_matrix,
)


@pytest.mark.parametrize("kind,depth", [("clements", lambda n: n if n > 2 else 1), ("reck", lambda n: 2 * n - 3)])
@pytest.mark.parametrize("n", [2, 3, 5, 8, 9])
def test_layout_shape(kind, depth, n):
    lay = mesh_layout(n, kind)
    assert lay.n_mzi == n * (n - 1) // 2
    assert len(lay.columns) == max(1, depth(n))
    if kind == "clements":
        for c, (k0, m, _) in enumerate(lay.columns):
            assert k0 == c % 2 and m == (n - k0) // 2


def test_mzi_matrix_is_unitary_and_has_bar_and_cross_states():
    for th, ph in [(0.3, 1.1), (math.pi, 0.0), (0.0, 2.0)]:
        m = mzi_matrix(th, ph)
        assert np.allclose(m.conj().T @ m, np.eye(2))
    assert abs(mzi_matrix(0.0, 0.0)[0, 0]) < 1e-12  # cross
    assert abs(abs(mzi_matrix(math.pi, 0.0)[0, 0]) - 1) < 1e-12  # bar


@pytest.mark.parametrize("kind", ["clements", "reck"])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 8, 16])
def test_decomposition_reconstructs_haar_unitaries(kind, n):
    u = haar_unitary(n, seed=100 + n)
    mesh = MZIMesh.from_unitary(u, kind)
    with torch.no_grad():
        got = mesh.transfer_matrix().to(torch.complex128)
    assert (got - u).abs().max() < 1e-5
    # And back: decomposing the mesh's matrix gives a mesh with the same matrix.
    again = MZIMesh.from_unitary(got, kind)
    with torch.no_grad():
        assert (again.transfer_matrix().to(torch.complex128) - u).abs().max() < 1e-5


def test_decompose_rejects_non_unitary():
    with pytest.raises(ValueError):
        decompose(np.ones((3, 3)))


@pytest.mark.parametrize("kind", ["clements", "reck"])
def test_lossless_mesh_is_unitary_and_lossy_is_not(kind):
    mesh = MZIMesh(6, kind, seed=1)
    with torch.no_grad():
        u = mesh.transfer_matrix()
    assert torch.allclose(u.conj().T @ u, torch.eye(6, dtype=torch.complex64), atol=1e-5)
    lossy = MZIMesh(6, kind, insertion_loss_db=0.5, seed=1)
    with torch.no_grad():
        s = torch.linalg.svdvals(lossy.transfer_matrix())
    assert bool((s < 0.999).all())


def test_matrix_and_column_paths_agree_and_give_gradients():
    mesh = MZIMesh(9, seed=3)
    x = torch.randn(5, 9, dtype=torch.complex64)
    a, b = mesh(x), mesh(x, method="columns")
    assert torch.allclose(a, b, atol=1e-5)
    b.abs().square().sum().backward()
    assert mesh.theta.grad is not None and mesh.theta.grad.abs().sum() > 0


def test_heater_programming_roundtrip_and_crosstalk():
    mesh = MZIMesh(4, seed=0)
    v = mesh.heater_voltages()
    ph = mesh.phases_from_voltages(v)
    assert torch.allclose(torch.remainder(ph, 2 * math.pi), torch.remainder(mesh.target_phases(), 2 * math.pi), atol=1e-4)
    c = mesh.crosstalk_matrix(0.05)
    assert torch.equal(c, c.T) and bool((torch.diag(c) == 1).all())
    phys = mesh.with_errors("none", seed=0)
    levels_x = {"thermal_crosstalk": 0.05}
    from hilt.sims.physics import error_levels

    chip = mesh.with_errors(error_levels("none", **levels_x), seed=0)
    # Crosstalk via the sparse path equals the dense matrix on powers.
    p = v.square() / mesh.heater.resistance
    expected = mesh.heater.alpha * (c @ p)
    assert torch.allclose(chip.phases_from_voltages(v), expected, atol=1e-4)
    with torch.no_grad():
        assert torch.allclose(phys.transfer_matrix(), mesh.transfer_matrix(), atol=1e-4)


def test_errors_are_frozen_seeded_and_hidden_from_twin():
    net = MZINetwork.build(6, n_meshes=2, seed=0)
    chip = net.with_errors("dat-0.10", seed=42)
    chip2 = net.with_errors("dat-0.10", seed=42)
    x = torch.randn(4, 6, dtype=torch.complex64)
    with torch.no_grad():
        y_chip, y_chip2, y_twin = chip(x), chip2(x), net.twin()(x)
        assert torch.equal(y_chip, y_chip2)
        assert torch.equal(chip(x), y_chip)  # frozen: same answer every query
        assert not torch.allclose(y_chip, y_twin, atol=1e-3)
        assert torch.allclose(net(x), y_twin)
    mesh = chip.meshes[0]
    assert float(mesh.errors.phase_offset.std()) == pytest.approx(0.10, rel=0.3)
    assert set(map(id, chip.parameters())) == set(map(id, net.parameters()))


def test_drift_moves_the_chip_over_time():
    chip = MZIMesh(4, seed=0).with_errors("severe", seed=1)
    with torch.no_grad():
        u0 = chip.transfer_matrix().clone()
        chip.time_s = 3600.0
        u1 = chip.transfer_matrix()
    assert not torch.allclose(u0, u1, atol=1e-4)


def test_eo_activation_matches_williamson_form():
    act = EOActivation(alpha=0.1, g=math.pi, phi_b=math.pi)
    z = torch.tensor([0.0, 0.5, 1.0 + 0.5j], dtype=torch.complex64)
    out = act(z)
    dphi = (math.pi * z.abs() ** 2 + math.pi) / 2
    expected = 1j * math.sqrt(0.9) * torch.exp(-1j * dphi) * torch.cos(dphi) * z
    assert torch.allclose(out, expected.to(torch.complex64), atol=1e-6)
    assert float(out[0].abs()) == 0.0
    assert bool((out.abs() <= math.sqrt(0.9) * z.abs() + 1e-6).all())  # passive


def test_photodetector_noise_and_dark_on_physical_network():
    net = MZINetwork.build(4, n_meshes=1, seed=0)
    chip = net.with_errors("severe", seed=5)
    x = torch.zeros(2, 4, dtype=torch.complex64)
    with torch.no_grad():
        r1, r2 = chip(x), chip(x)
    assert not torch.equal(r1, r2)  # fresh readout noise per read
    with torch.no_grad():
        assert float(net(x).abs().max()) == 0.0


def _coupler(eps: float) -> np.ndarray:
    return np.array([[np.sqrt(1 + eps), 1j * np.sqrt(1 - eps)],
                     [1j * np.sqrt(1 - eps), np.sqrt(1 + eps)]]) / np.sqrt(2)


def test_beam_splitter_error_is_a_splitting_ratio_deviation_of_each_coupler():
    """DAT / Neurophox definition: coupler bar power (1 + eps) / 2, eps per coupler."""
    from hilt.sims.physics import ErrorLevels

    mesh = MZIMesh(2, seed=4)
    chip = mesh.with_errors(ErrorLevels(beam_splitter=0.2), seed=9)
    e1, e2 = (float(v) for v in chip.errors.bs_error[0])
    assert e1 != e2  # two couplers, two independent draws
    th, ph = float(mesh.theta.detach()[0]), float(mesh.phi.detach()[0])
    out, out2 = (float(v) for v in mesh.out_phase.detach())
    p = lambda a: np.diag([np.exp(1j * a), 1.0])  # noqa: E731
    expected = np.diag([np.exp(1j * out), np.exp(1j * out2)]) @ _coupler(e2) @ p(th) \
        @ _coupler(e1) @ p(ph)
    with torch.no_grad():
        got = chip.transfer_matrix().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # one coupler alone: a 50:50 splitter becomes (1 + eps) / 2 : (1 - eps) / 2
    assert abs(_coupler(0.1)[0, 0]) ** 2 == pytest.approx(0.55)


def test_dat_phase_error_hits_theta_and_phi_only():
    from hilt.sims.physics import draw_mzi_errors, error_levels

    nm, n = 2016, 64
    e = draw_mzi_errors(error_levels("dat-phase-0.10"), nm, 2 * nm + n, n, seed=0)
    assert float(e.phase_offset[:2 * nm].std()) == pytest.approx(0.10, rel=0.05)
    assert float(e.phase_offset[2 * nm:].abs().max()) == 0.0  # output phase screen: exact
    assert float(e.bs_error.abs().max()) == 0.0
    sev = draw_mzi_errors(error_levels("severe"), nm, 2 * nm + n, n, seed=0)
    assert float(sev.phase_offset[2 * nm:].abs().max()) > 0.0  # uncalibrated chips: all heaters


def test_eo_activation_defaults_pass_light_and_bend_with_power():
    act = EOActivation()
    assert (act.alpha, act.g, act.phi_b) == (0.1, pytest.approx(0.05 * math.pi),
                                              pytest.approx(math.pi / 2))
    z = torch.tensor([1e-3, 1.0, 3.0], dtype=torch.complex64)
    t = (act(z).abs() / z.abs()).square()  # power transmission
    assert float(t[0]) == pytest.approx(0.45, rel=1e-3)  # half of the untapped 90 %
    assert float(t[1]) < float(t[0]) and float(t[2]) < float(t[1])  # the tap closes it


def test_tree_product_matches_column_by_column_application():
    mesh = MZIMesh(7, seed=2).with_errors("dat-0.10", seed=1)
    x = torch.randn(3, 7, dtype=torch.complex64)
    with torch.no_grad():
        np.testing.assert_allclose(mesh(x, "matrix").numpy(), mesh(x, "columns").numpy(),
                                   atol=1e-5)


@pytest.mark.parametrize("n,kind,errors", [(64, "clements", None), (64, "clements", "dat-0.10"),
                                           (7, "clements", None), (6, "reck", "mild"),
                                           (2, "clements", None), (3, "reck", None)])
def test_compiled_transfer_matrix_and_its_gradient_match_the_dense_column_product(n, kind, errors):
    """The compiled build and its hand-written backward (``mzi_kernels``) against the plain
    product of dense column matrices differentiated by autograd, in float64."""
    from hilt.sims.physics.mzi import _column_product

    mesh = MZIMesh(n, kind, seed=1)
    if errors:
        mesh = mesh.with_errors(errors, seed=3)
    for p in mesh.parameters():
        p.data = p.data.double()
    w = torch.randn(n, n, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))

    def loss(u: torch.Tensor) -> torch.Tensor:
        return (u * w).real.sum() + (u * w).imag.square().sum()

    diag, off, out = mesh._factors(None)
    dense = torch.polar(torch.ones_like(out), out)[:, None] * _column_product(
        mesh._index.partner, diag, off)
    banded = mesh.transfer_matrix()
    torch.testing.assert_close(banded, dense, rtol=0, atol=1e-12)
    params = list(mesh.parameters())
    for g_banded, g_dense in zip(torch.autograd.grad(loss(banded), params),
                                 torch.autograd.grad(loss(dense), params), strict=True):
        torch.testing.assert_close(g_banded, g_dense, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind,errors", [("clements", None), ("reck", "dat-0.10")])
def test_float32_kernels_are_as_close_to_float64_as_float32_autograd(kind, errors):
    """What training runs, float32 at N = 64: the compiled matrix and gradients are as close to
    the float64 dense reference as the dense float32 product under autograd is (the backward
    rebuilds each column's input by inverting the column from a checkpoint; its rounding must
    stay at float32's level)."""
    from hilt.sims.physics.mzi import _column_product

    mesh = MZIMesh(64, kind, seed=4)
    if errors:
        mesh = mesh.with_errors(errors, seed=5)
    w = torch.randn(64, 64, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    params = list(mesh.parameters())

    def loss(u: torch.Tensor) -> torch.Tensor:
        return (u.to(torch.complex128) * w).real.sum()

    def dense() -> torch.Tensor:
        diag, off, out = mesh._factors(None)
        return torch.polar(torch.ones_like(out), out)[:, None] * _column_product(
            mesh._index.partner, diag, off)

    u_kernel, u_dense32 = mesh.transfer_matrix(), dense()
    g_kernel = torch.autograd.grad(loss(u_kernel), params)
    g_dense32 = torch.autograd.grad(loss(u_dense32), params)
    for p in params:
        p.data = p.data.double()
    u64 = dense()
    g64 = torch.autograd.grad(loss(u64), params)

    def err(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.detach().to(b.dtype) - b.detach()).abs().max())

    assert err(u_kernel, u64) <= 2 * err(u_dense32, u64) + 1e-6
    for gk, gd, g in zip(g_kernel, g_dense32, g64, strict=True):
        assert err(gk, g) <= 2 * err(gd, g) + 1e-6


def test_transfer_backward_passes_gradcheck_for_general_entries_and_the_twin():
    """The compiled backward against finite differences: the twin's phases (entries computed in
    the kernel), and general complex entries, not unitary (the column inverse of the backward
    is the 2 x 2 inverse, not the adjoint) with output phases."""
    from hilt.sims.physics.mzi import _Transfer, _TwinTransfer

    g = torch.Generator().manual_seed(2)
    for kind, n in (("clements", 5), ("reck", 4)):
        plan = MZIMesh(n, kind)._plan
        nm = plan.modes.shape[0]
        theta, phi = (6.3 * torch.rand(nm, generator=g, dtype=torch.float64) for _ in range(2))
        out = 6.3 * torch.rand(n, generator=g, dtype=torch.float64)
        args = [t.requires_grad_() for t in (theta, phi, out)]
        assert torch.autograd.gradcheck(
            lambda *a, plan=plan: torch.view_as_real(_TwinTransfer.apply(plan, *a)), args)
        entries = [(0.5 + torch.rand(nm, generator=g, dtype=torch.float64))
                   * torch.polar(torch.ones(nm, dtype=torch.float64),
                                 6.3 * torch.rand(nm, generator=g, dtype=torch.float64))
                   for _ in range(4)]
        args = [t.requires_grad_() for t in (*entries, out.detach())]
        assert torch.autograd.gradcheck(
            lambda *a, plan=plan: torch.view_as_real(_Transfer.apply(plan, *a)), args)


def test_transfer_matrix_is_the_same_with_and_without_a_graph():
    mesh = MZIMesh(12, seed=6)
    chip = mesh.with_errors("dat-0.10", seed=7)
    for m in (mesh, chip):
        with torch.no_grad():
            plain = m.transfer_matrix().clone()
        recorded = m.transfer_matrix()
        assert recorded.requires_grad
        assert torch.equal(plain, recorded.detach())


def test_readout_intensity_is_intensity_bit_for_bit_with_its_gradient():
    from hilt.sims.physics.mzi import intensity, readout_intensity

    g = torch.Generator().manual_seed(3)
    z = 3 * torch.randn(64, 256, dtype=torch.complex64, generator=g)
    w = torch.rand(64, 256, generator=g)
    assert torch.equal(readout_intensity(z), intensity(z))
    for weight in (None, w):  # a sum's uniform gradient, and a general one
        grads = []
        for f in (intensity, readout_intensity):
            zz = z.clone().requires_grad_()
            y = f(zz)
            (y.sum() if weight is None else (y * weight).sum()).backward()
            grads.append(zz.grad)
        assert torch.equal(*grads)
    z64 = torch.randn(4, 6, dtype=torch.complex128, generator=g).requires_grad_()
    w64 = torch.randn(6, 4, dtype=torch.float64, generator=g)
    assert torch.autograd.gradcheck(readout_intensity, (z64,))
    assert torch.autograd.gradcheck(lambda t: readout_intensity(t.T) * w64, (z64,))
    assert torch.autograd.gradcheck(lambda t: readout_intensity(t.conj()).mean(), (z64,))


def test_twin_mzi_entries_backward_is_the_derivative():
    from hilt.sims.physics.mzi import _TwinEntries

    g = torch.Generator().manual_seed(0)
    theta = (6.3 * torch.rand(6, generator=g, dtype=torch.float64)).requires_grad_()
    phi = (6.3 * torch.rand(6, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t, p: tuple(torch.view_as_real(v) for v in _TwinEntries.apply(t, p)), (theta, phi))
    # and the entries are the general coupler model's at eps = 0 (module docstring)
    mesh = MZIMesh(4, seed=0)
    chip = mesh.with_errors("none", seed=0)
    with torch.no_grad():
        for a, b in zip(mesh._mzi_entries(mesh.theta, mesh.phi),
                        chip._mzi_entries(mesh.theta, mesh.phi), strict=True):
            torch.testing.assert_close(a, b)
