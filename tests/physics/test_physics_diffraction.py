"""Free-space diffraction: padding bound, energy, Gaussian beams, reciprocity, stacks."""

import math

import numpy as np
import pytest
import torch

from hilt.sims.physics import (
    THZ_0P4,
    VISIBLE_SLM_532,
    DetectorArray,
    DiffractiveStack,
    PhaseMask,
    Propagator,
    fft_friendly,
)


def plain_asm_numpy(u: np.ndarray, pitch: float, lam: float, z: float, pad: int) -> np.ndarray:
    """Independent reference: textbook band-limited ASM (Matsushima & Shimobaba 2009) on a
    heavily padded grid, numpy complex128, centred padding."""
    n = u.shape[-1]
    w = pad * n
    big = np.zeros(u.shape[:-2] + (w, w), complex)
    big[..., :n, :n] = u
    f = np.fft.fftfreq(w, pitch)
    fx, fy = np.meshgrid(f, f)
    rest = 1 / lam**2 - fx**2 - fy**2
    kz = np.sqrt(np.maximum(rest, 1e-300))
    keep = (rest > 0) & (np.abs(z * fx / kz) <= w * pitch / 2) & (np.abs(z * fy / kz) <= w * pitch / 2)
    h = np.where(keep, np.exp(2j * np.pi * z * kz), 0)
    return np.fft.ifft2(np.fft.fft2(big) * h)[..., :n, :n]


def random_phase_field(n: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.polar(torch.ones(batch, n, n), 2 * math.pi * torch.rand(batch, n, n, generator=g))


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_fft_friendly():
    assert fft_friendly(399) == 400
    assert fft_friendly(401) == 405
    assert fft_friendly(97) == 100
    assert all(fft_friendly(n) >= n for n in range(1, 300))


@pytest.mark.parametrize("z", [0.001, 0.002])
def test_padding_bound_against_heavily_padded_reference(z):
    # Visible SLM geometry, where the kernel support is cut: the cut result stays within tol of
    # the same method with full support, and close to an independent 16x-padded textbook ASM.
    n, tol = 128, 1e-3
    s = VISIBLE_SLM_532
    p = Propagator((n, n), s.pitch, s.wavelength, z, tol=tol)
    assert p.padded[0] < 2 * n  # the bound buys a smaller grid than 2x
    full = Propagator((n, n), s.pitch, s.wavelength, z, tol=0.0)
    assert full.padded[0] >= 2 * n - 1
    u = random_phase_field(n)
    assert rel(p(u), full(u)) <= 1.5 * tol
    ref = plain_asm_numpy(u.numpy().astype(complex), s.pitch, s.wavelength, z, 16)
    assert rel(p(u).numpy(), ref) < 2e-3


def test_thz_near_field_keeps_full_support_and_beats_plain_2x():
    s = THZ_0P4
    n, z = 64, 0.03
    p = Propagator((n, n), s.pitch, s.wavelength, z)
    assert p.padded == (128, 128)  # walk > aperture: 2A - 1 -> FFT-friendly 128
    u = random_phase_field(n, batch=1)
    ref = plain_asm_numpy(u.numpy().astype(complex), s.pitch, s.wavelength, z, 16)
    ours = rel(p(u).numpy(), ref)
    plain2 = rel(Propagator((n, n), s.pitch, s.wavelength, z, padding=2 * n)(u).numpy(), ref)
    assert ours < 2.5e-2
    assert ours < plain2 / 3


def test_energy_conserved_within_band():
    # A smooth field (all of its spectrum in band) on the whole padded plane keeps its energy.
    s = VISIBLE_SLM_532
    n = 64
    y, x = torch.meshgrid(torch.arange(n) - n / 2, torch.arange(n) - n / 2, indexing="ij")
    u = torch.exp(-(x**2 + y**2) / (2 * 6.0**2)).to(torch.complex64)[None]
    p = Propagator((n, n), s.pitch, s.wavelength, 0.002)
    out = p(u, crop=False)
    e_in, e_out = u.abs().square().sum(), out.abs().square().sum()
    assert abs(float(e_out / e_in) - 1) < 1e-4


def test_no_gain_for_any_field():
    s = THZ_0P4
    p = Propagator((32, 32), s.pitch, s.wavelength, 0.03)
    u = random_phase_field(32, batch=4)
    assert float(p(u, crop=False).abs().square().sum()) <= float(u.abs().square().sum()) * (1 + 1e-5)


def test_gaussian_beam_width_matches_analytic():
    lam, pitch, n = THZ_0P4.wavelength, THZ_0P4.pitch, 192
    w0 = 10 * pitch
    zr = math.pi * w0**2 / lam
    y, x = torch.meshgrid((torch.arange(n) - n / 2) * pitch, (torch.arange(n) - n / 2) * pitch,
                          indexing="ij")
    u = torch.exp(-(x**2 + y**2) / w0**2).to(torch.complex64)[None]
    for z in (0.5 * zr, zr, 2 * zr):
        i = Propagator((n, n), pitch, lam, z)(u).abs().square()[0]
        # 1/e^2 radius from the second moment: <x^2> = w^2 / 4 for I ~ exp(-2 x^2 / w^2).
        w = 2 * math.sqrt(float((i * x**2).sum() / i.sum()))
        expected = w0 * math.sqrt(1 + (z / zr) ** 2)
        assert abs(w / expected - 1) < 0.01, (z, w, expected)


def test_reciprocity_of_propagation_and_of_stacks():
    s = THZ_0P4
    n = 12
    p = Propagator((n, n), s.pitch, s.wavelength, 0.01)
    a, b = (2, 3), (9, 7)
    ea = torch.zeros(1, n, n, dtype=torch.complex64)
    ea[0, a[0], a[1]] = 1
    eb = torch.zeros_like(ea)
    eb[0, b[0], b[1]] = 1
    assert torch.allclose(p(ea)[0, b[0], b[1]], p(eb)[0, a[0], a[1]], atol=1e-7)
    # A stack is reciprocal: its transfer matrix transposed is the reversed stack's matrix.
    masks = [PhaseMask((n, n), init="uniform", seed=i) for i in range(3)]
    fwd = DiffractiveStack(masks, [0.01, 0.02, 0.015, 0.01], s.pitch, s.wavelength)
    rev = DiffractiveStack(masks[::-1], [0.01, 0.015, 0.02, 0.01], s.pitch, s.wavelength)
    basis = torch.eye(n * n, dtype=torch.complex64).view(n * n, n, n)
    with torch.no_grad():
        m_f = fwd.output_field(basis).reshape(n * n, n * n)
        m_r = rev.output_field(basis).reshape(n * n, n * n)
    assert torch.allclose(m_f, m_r.T, atol=2e-5)


def test_material_layer_phase_and_absorption():
    s = THZ_0P4
    stack = s.build(n_layers=1, shape=(8, 8))
    mask = stack.masks[0]
    with torch.no_grad():
        mask.raw.fill_(1.0)
    t = mask.transmission(s.wavelength)
    h = s.max_height / (1 + math.exp(-1.0))
    n_, k_ = s.material.refractive_index, s.material.extinction
    amp = math.exp(-2 * math.pi * k_ * h / s.wavelength)
    phase = 2 * math.pi * (n_ - 1) * h / s.wavelength
    expected = torch.full((8, 8), complex(amp * math.cos(phase), amp * math.sin(phase)))
    assert torch.allclose(t, expected.to(torch.complex64), atol=1e-6)


def test_stack_twin_and_errors_and_detectors():
    s = THZ_0P4
    det = DetectorArray.grid((32, 32), rows=(3, 4, 3), size=4)
    assert det.n == 10
    twin = s.build(n_layers=3, shape=(32, 32), detectors=det, seed=1)
    phys = twin.with_errors("severe", seed=7)
    again = twin.with_errors("severe", seed=7)
    u = random_phase_field(32, batch=3).abs()  # amplitude-encoded input
    out_t = twin(u)
    assert out_t.shape == (3, 10)
    # Same parameters, different (hidden) physics; the draw is reproducible from the seed.
    assert set(map(id, phys.parameters())) == set(map(id, twin.parameters()))
    assert not torch.allclose(phys(u), out_t, rtol=1e-2)
    assert torch.equal(phys.errors.shift_px, again.errors.shift_px)
    assert torch.allclose(twin.twin()(u), out_t)
    none = twin.with_errors("none", seed=3)
    assert torch.allclose(none(u), out_t, atol=1e-6)
    # Gradients reach the masks through the twin.
    out_t.sum().backward()
    assert all(p.grad is not None for p in twin.parameters())


def test_thz_preset_geometry():
    assert abs(THZ_0P4.wavelength - 0.7495e-3) < 1e-6
    assert THZ_0P4.pitch == 0.4e-3 and THZ_0P4.shape == (200, 200)
    assert VISIBLE_SLM_532.wavelength == 532e-9 and VISIBLE_SLM_532.pitch == 8e-6
