"""Mach-Zehnder interferometer meshes: Clements (rectangular) and Reck (triangular).

One MZI on modes (k, k+1) is, in the order light meets them: an external phase shifter phi on
the upper arm, a directional coupler, an internal phase shifter theta on the upper arm, a second
coupler. With ideal 50:50 couplers ``B = [[1, i], [i, 1]] / sqrt(2)`` and ``P(a) = diag(e^{ia}, 1)``:

    M(theta, phi) = B P(theta) B P(phi)
                  = i e^{i theta/2} [[e^{i phi} sin(theta/2),  cos(theta/2)],
                                     [e^{i phi} cos(theta/2), -sin(theta/2)]]

(the convention of Clements et al., Optica 3, 1460 (2016), Eq. 1, up to the global phase that a
physical MZI carries). A coupler with splitting-ratio error eps is
``[[sqrt(1 + eps), i sqrt(1 - eps)], [i sqrt(1 - eps), sqrt(1 + eps)]] / sqrt(2)`` (bar power
transmission (1 + eps) / 2): the beam-splitter error of the DAT paper's MZI experiments, as its
authors' code defines it (Neurophox convention; see :mod:`.errors`). Each of an MZI's two couplers
has its own eps. Output phase shifters (one per mode) complete the mesh.

Decompositions (implemented from the papers' math):
- Clements 2016: null the lower-left triangle by alternating column operations (U T^-1, odd
  diagonals) and row operations (T U, even diagonals), then move every row operation through the
  diagonal (T^-1 D = D' T'), which yields the rectangular mesh of N columns.
- Reck et al., PRL 73, 58 (1994): null each row from the bottom with column operations only,
  which yields the triangular mesh of 2N - 3 columns.

Heaters: ``phase = phi0 + alpha * P_eff`` with ``P = V^2 / R`` and ``P_eff = C P``, C the
thermal crosstalk matrix (identity plus ``kappa`` on nearest-neighbour heaters). The twin uses
the phases directly; the physical chip is programmed with the nominal calibration
(phi0 = 0, nominal alpha, no crosstalk) and evolves with its true, hidden ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._util import SeedLike, make_generator, quantize_uniform
from .detection import Photodetectors
from .errors import ErrorLevels, MZIErrors, draw_mzi_errors, error_levels
from .mzi_kernels import (
    abs2,
    abs2_backward,
    abs2_backward_uniform,
    transfer_t,
    transfer_t_backward,
    twin_entries,
    twin_entries_backward,
)

TWO_PI = 2.0 * math.pi

def intensity(z: torch.Tensor) -> torch.Tensor:
    """``|z|^2`` of a complex tensor as the real part of ``z conj(z)``: no square root, and a
    cheap backward (``abs().square()`` costs a hypot forward and a sign backward, together 2.5
    times a 64 x 64 mesh's matmul at batch 1024; measured with bench/mzi_step_bench.py)."""
    return (z * z.conj()).real


def readout_intensity(z: torch.Tensor) -> torch.Tensor:
    """:func:`intensity` of a field that nothing else uses (the detected output), by compiled
    loops (:class:`_ReadoutIntensity`): the same values, and, as the field's only consumer, the
    same gradient bit for bit (``2 g z``, which autograd forms as ``g z + g z``) at a fifth of
    the cost (0.2 ms of a 1024 x 64 training step, bench/mzi_step_bench.py). Where the field
    also feeds something else, autograd would add that gradient in another order (a last-bit
    difference): use :func:`intensity` there."""
    if not z.is_complex():
        return intensity(z)
    return _ReadoutIntensity.apply(z)


class _ReadoutIntensity(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: torch.Tensor) -> torch.Tensor:
        z = z.detach().resolve_conj().contiguous()
        out = torch.empty(z.shape, dtype=torch.float64 if z.dtype == torch.complex128
                          else torch.float32)
        abs2(z.numpy().reshape(-1), out.numpy().reshape(-1))
        ctx.save_for_backward(z)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (z,) = ctx.saved_tensors
        out = torch.empty_like(z)
        zf, of = z.numpy().reshape(-1), out.numpy().reshape(-1)
        grad = grad.to(torch.float64 if z.dtype == torch.complex128 else torch.float32)
        if grad.numel() > 0 and not any(grad.stride()):  # a sum's backward: one value
            abs2_backward_uniform(zf, grad.reshape(-1)[0].item(), of)
        else:
            abs2_backward(zf, grad.expand(z.shape).contiguous().numpy().reshape(-1), of)
        return out


# -- layout -------------------------------------------------------------------------------


def _clements_sequence(n: int) -> list[tuple[str, int, int, int]]:
    """(side, k, row, col) of each nulling step; side 'R' acts on columns k, k+1 and nulls
    U[row, k], side 'L' acts on rows k, k+1 and nulls U[k+1, col] (Clements 2016, Sec. 2)."""
    seq = []
    for i in range(1, n):
        if i % 2 == 1:
            for j in range(i):
                seq.append(("R", i - 1 - j, n - 1 - j, i - 1 - j))
        else:
            for j in range(1, i + 1):
                seq.append(("L", n + j - i - 2, n + j - i - 1, j - 1))
    return seq


def _reck_sequence(n: int) -> list[tuple[str, int, int, int]]:
    return [("R", c, r, c) for r in range(n - 1, 0, -1) for c in range(r)]


def _application_order(seq: list[tuple[str, int, int, int]]) -> list[int]:
    """Indices into ``seq`` in the order light meets the MZIs: column operations as performed,
    then the row operations in reverse (U = D T'_1 ... T'_p R_q ... R_1)."""
    right = [i for i, s in enumerate(seq) if s[0] == "R"]
    left = [i for i, s in enumerate(seq) if s[0] == "L"]
    return right + left[::-1]


@dataclass(frozen=True)
class MeshLayout:
    """Where each MZI sits. Parameters are stored column by column, top to bottom.

    ``columns[c] = (k0, m, start)``: column c holds m MZIs on modes (k0 + 2j, k0 + 2j + 1),
    parameters ``start .. start + m - 1``. ``order[i]``: parameter index of the i-th nulling step.
    """

    n: int
    kind: str
    columns: tuple[tuple[int, int, int], ...]
    modes: tuple[int, ...]  # upper mode k of each MZI, parameter order
    column_of: tuple[int, ...]
    order: tuple[int, ...]

    @property
    def n_mzi(self) -> int:
        return len(self.modes)

    @property
    def n_heaters(self) -> int:
        return 2 * self.n_mzi + self.n


def mesh_layout(n: int, kind: str = "clements") -> MeshLayout:
    if kind == "clements":
        seq = _clements_sequence(n)
    elif kind == "reck":
        seq = _reck_sequence(n)
    else:
        raise ValueError(f"mesh kind {kind!r}: expected 'clements' or 'reck'")
    app = _application_order(seq)
    last = [0] * n
    placed = []  # (column, k, seq index)
    for i in app:
        k = seq[i][1]
        col = max(last[k], last[k + 1])
        last[k] = last[k + 1] = col + 1
        placed.append((col, k, i))
    placed.sort()
    columns = []
    modes, column_of = [], []
    order = [0] * len(seq)
    for p, (col, k, i) in enumerate(placed):
        order[i] = p
        modes.append(k)
        column_of.append(col)
    n_cols = (max(column_of) + 1) if placed else 0
    start = 0
    for c in range(n_cols):
        ks = [k for col, k, _ in placed if col == c]
        if any(b - a != 2 for a, b in zip(ks, ks[1:], strict=False)):
            raise AssertionError(f"column {c} of {kind} mesh is not a stride-2 run: {ks}")
        columns.append((ks[0] if ks else 0, len(ks), start))
        start += len(ks)
    return MeshLayout(n, kind, tuple(columns), tuple(modes), tuple(column_of), tuple(order))


# -- decomposition (numpy, complex128) ----------------------------------------------------


def mzi_matrix(theta: float, phi: float) -> np.ndarray:
    """Ideal 2x2 MZI transfer matrix (module docstring)."""
    s, c = math.sin(theta / 2), math.cos(theta / 2)
    g = 1j * np.exp(1j * theta / 2)
    e = np.exp(1j * phi)
    return g * np.array([[e * s, c], [e * c, -s]], dtype=np.complex128)


def _split_u2(v: np.ndarray) -> tuple[float, float, float, float]:
    """Write a 2x2 unitary as ``diag(e^{ia}, e^{ib}) M(theta, phi)``; returns (theta, phi, a, b)."""
    theta = 2.0 * math.atan2(abs(v[0, 0]), abs(v[0, 1]))
    g = np.angle(1j * np.exp(1j * theta / 2))
    s, c = math.sin(theta / 2), math.cos(theta / 2)
    if s < 1e-12:  # cross state: phi is free
        phi = 0.0
        a = np.angle(v[0, 1]) - g
        b = np.angle(v[1, 0]) - g
    else:
        a = (np.angle(v[0, 1]) - g) if c > 1e-12 else (np.angle(v[0, 0]) - g)
        phi = np.angle(v[0, 0]) - a - g
        b = np.angle(-v[1, 1]) - g
    return theta, float(phi), float(a), float(b)


def decompose(u: np.ndarray | torch.Tensor, kind: str = "clements"
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phases (theta, phi, out_phase) of a ``kind`` mesh that implements the unitary ``u``,
    in the parameter order of :func:`mesh_layout` (Clements 2016 / Reck 1994)."""
    u = np.array(u.detach().cpu().numpy() if isinstance(u, torch.Tensor) else u,
                 dtype=np.complex128)
    n = u.shape[0]
    if u.shape != (n, n):
        raise ValueError(f"expected a square matrix, got {u.shape}")
    if not np.allclose(u.conj().T @ u, np.eye(n), atol=1e-6):
        raise ValueError("matrix is not unitary (to 1e-6)")
    layout = mesh_layout(n, kind)
    seq = _clements_sequence(n) if kind == "clements" else _reck_sequence(n)
    steps: list[tuple[str, int, float, float]] = []
    for side, k, row, col in seq:
        if side == "R":
            ua, ub = u[row, k], u[row, k + 1]
            theta = 2.0 * math.atan2(abs(ub), abs(ua))
            phi = np.angle(ua) - np.angle(ub) - math.pi
            m = mzi_matrix(theta, phi)
            u[:, k:k + 2] = u[:, k:k + 2] @ m.conj().T
        else:
            ua, ub = u[k, col], u[k + 1, col]
            theta = 2.0 * math.atan2(abs(ua), abs(ub))
            phi = np.angle(ub) - np.angle(ua)
            m = mzi_matrix(theta, phi)
            u[k:k + 2, :] = m @ u[k:k + 2, :]
        steps.append((side, k, theta, float(phi)))
    d = np.diag(u).copy()
    thetas = np.zeros(layout.n_mzi)
    phis = np.zeros(layout.n_mzi)
    # U = L_1^+ ... L_p^+ D R: move each L^+ through D, innermost (last performed) first.
    for i in range(len(steps) - 1, -1, -1):
        side, k, theta, phi = steps[i]
        if side == "L":
            v = mzi_matrix(theta, phi).conj().T @ np.diag(d[k:k + 2])
            theta, phi, a, b = _split_u2(v)
            d[k], d[k + 1] = np.exp(1j * a), np.exp(1j * b)
        thetas[layout.order[i]] = theta
        phis[layout.order[i]] = phi
    return (np.remainder(thetas, TWO_PI), np.remainder(phis, TWO_PI),
            np.remainder(np.angle(d), TWO_PI))


def haar_unitary(n: int, seed: SeedLike = None) -> torch.Tensor:
    """A Haar-random unitary (QR of a complex Ginibre matrix with the phase fix of Mezzadri,
    Notices AMS 54, 592 (2007)), complex128, from a seeded generator."""
    g = make_generator(seed)
    z = torch.complex(torch.randn(n, n, generator=g, dtype=torch.float64),
                      torch.randn(n, n, generator=g, dtype=torch.float64)) / math.sqrt(2)
    q, r = torch.linalg.qr(z)
    ph = torch.diagonal(r) / torch.diagonal(r).abs()
    return q * ph[None, :]


# -- heaters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaterModel:
    """Nominal thermo-optic phase shifter: ``phase = phi0 + alpha * V^2 / R``.

    Defaults: P_pi = 25 mW (alpha = pi / 25 mW, typical of TiN heaters on silicon), R = 1 kOhm,
    so a full 2 pi needs 50 mW = 7.1 V; DAC range 0..8 V.
    """

    alpha: float = math.pi / 0.025  # rad / W
    resistance: float = 1000.0  # ohm
    v_max: float = 8.0  # V

    def voltage_for(self, phase: torch.Tensor) -> torch.Tensor:
        """Voltage that sets ``phase`` (mod 2 pi) on a nominal heater with phi0 = 0."""
        power = torch.remainder(phase, TWO_PI) / self.alpha
        # sqrt has an infinite slope at 0; the clamp keeps gradients finite.
        return torch.sqrt((power * self.resistance).clamp_min(1e-12))


# -- the mesh -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _ColumnIndex:
    """Static index tensors of a layout: column, upper mode and partner mode of every MZI."""

    col: torch.Tensor  # (n_mzi,) column of each MZI
    upper: torch.Tensor  # (n_mzi,) upper mode k
    partner: torch.Tensor  # (n_cols, n): the mode each output mode mixes with (itself if idle)


def _column_index(layout: MeshLayout) -> _ColumnIndex:
    col = torch.tensor(layout.column_of, dtype=torch.long)
    upper = torch.tensor(layout.modes, dtype=torch.long)
    partner = torch.arange(layout.n).repeat(max(1, len(layout.columns)), 1)
    partner[col, upper] = upper + 1
    partner[col, upper + 1] = upper
    return _ColumnIndex(col, upper, partner)


def _column_factors(idx: _ColumnIndex, n_cols: int, n: int, a: torch.Tensor, b: torch.Tensor,
                    c: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each column as ``y = D * x + O * x[partner]``: D, O (n_cols, n) complex. An MZI on
    modes (k, k+1) with entries a..d gives D[k] = a, O[k] = b, D[k+1] = d, O[k+1] = c; idle
    modes pass (D = 1, O = 0)."""
    dtype = a.dtype
    diag = torch.ones(n_cols, n, dtype=dtype).index_put((idx.col, idx.upper), a) \
        .index_put((idx.col, idx.upper + 1), d)
    off = torch.zeros(n_cols, n, dtype=dtype).index_put((idx.col, idx.upper), b) \
        .index_put((idx.col, idx.upper + 1), c)
    return diag, off


def _apply_columns(x: torch.Tensor, partner: torch.Tensor, diag: torch.Tensor,
                   off: torch.Tensor) -> torch.Tensor:
    """Apply the mesh column by column to ``x`` (..., n): memory O(batch * n) per column."""
    for k in range(diag.shape[0]):
        x = x * diag[k] + x[..., partner[k]] * off[k]
    return x


def _column_product(partner: torch.Tensor, diag: torch.Tensor, off: torch.Tensor
                    ) -> torch.Tensor:
    """``M_{C-1} ... M_1 M_0`` of the dense column matrices, by pairwise (tree) products:
    log2(C) batched matmuls instead of C sequential column updates. (Reference for
    :class:`_Transfer`, which :meth:`MZIMesh.transfer_matrix` uses.)"""
    n_cols, n = diag.shape
    mats = torch.diag_embed(diag) + torch.zeros(n_cols, n, n, dtype=diag.dtype).scatter(
        2, partner.unsqueeze(-1), off.unsqueeze(-1))
    while mats.shape[0] > 1:
        odd = mats[-1:] if mats.shape[0] % 2 else None
        pairs = mats[: mats.shape[0] // 2 * 2]
        mats = pairs[1::2] @ pairs[0::2]  # later column on the left
        if odd is not None:
            mats = torch.cat([mats, odd])
    return mats[0]


@dataclass(frozen=True)
class _ProductPlan:
    """Static arrays of a layout for :class:`_Transfer`: each MZI's upper mode (parameter
    order), where each column's parameters start (C + 1 entries), and the backward's segment
    length (about sqrt(C): C / seg checkpoints of the running product, seg states recomputed
    at a time)."""

    n: int
    seg: int
    modes: np.ndarray  # (n_mzi,) int64
    col_start: np.ndarray  # (C + 1,) int64


def _product_plan(layout: MeshLayout) -> _ProductPlan:
    n_cols = len(layout.columns)
    col_start = np.array([s for _, _, s in layout.columns] + [layout.n_mzi], dtype=np.int64)
    return _ProductPlan(layout.n, max(1, round(math.sqrt(n_cols))),
                        np.array(layout.modes, dtype=np.int64), col_start)


def _numpy(t: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    """A detached, contiguous numpy view (or copy) of ``t`` in ``dtype``, for the kernels."""
    return t.detach().to(dtype).resolve_conj().contiguous().numpy()


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype in (torch.complex128, torch.float64) else torch.float32


def _complex_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype in (torch.complex128, torch.float64) else torch.complex64


@dataclass
class _Saved:
    """What :func:`_transfer_backward` needs from a forward (copies: the inputs may share
    memory with parameters that an optimiser changes in place)."""

    plan: _ProductPlan
    entries: tuple[np.ndarray, ...]
    out: np.ndarray
    checkpoints: np.ndarray
    ut: np.ndarray
    phasors: np.ndarray | None = None  # the twin's e^{i theta}, e^{i phi} (2, n_mzi)


def _transfer(plan: _ProductPlan, entries: tuple[np.ndarray, ...], out: np.ndarray,
              keep: bool) -> tuple[torch.Tensor, _Saved | None]:
    """``U^T`` by :func:`.mzi_kernels.transfer_t`; with ``keep``, what the backward needs."""
    n, n_cols = plan.n, plan.col_start.shape[0] - 1
    n_checkpoints = -(-n_cols // plan.seg) + 1 if keep else 0
    checkpoints = np.empty((n_checkpoints, 2 * n * n), dtype=out.dtype)
    ut = torch.empty(n, n, dtype=torch.complex128 if out.dtype == np.float64
                     else torch.complex64)
    transfer_t(*entries, out, plan.modes, plan.col_start, plan.seg, checkpoints, ut.numpy())
    if not keep:
        return ut, None
    # entries are arrays of the caller's own; out may share a parameter's memory, and ut is
    # handed out: copies.
    return ut, _Saved(plan, entries, out.copy(), checkpoints, ut.numpy().copy())


def _general_transfer(plan: _ProductPlan, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                      d: torch.Tensor, out: torch.Tensor, keep: bool
                      ) -> tuple[torch.Tensor, _Saved | None]:
    dtype = _complex_dtype(torch.promote_types(
        torch.promote_types(a.dtype, b.dtype), torch.promote_types(c.dtype, d.dtype)))
    # Copies: a..d may be views of tensors that outlive this call.
    entries = tuple(np.array(_numpy(t, dtype)) for t in (a, b, c, d))
    return _transfer(plan, entries, _numpy(out, _real_dtype(dtype)), keep)


def _twin_transfer(plan: _ProductPlan, theta: torch.Tensor, phi: torch.Tensor,
                   out: torch.Tensor, keep: bool) -> tuple[torch.Tensor, _Saved | None]:
    real = _real_dtype(torch.promote_types(theta.dtype, phi.dtype))
    th, ph = _numpy(theta, real), _numpy(phi, real)
    cplx = np.complex128 if real == torch.float64 else np.complex64
    entries = np.empty((4, th.shape[0]), dtype=cplx)
    phasors = np.empty((2, th.shape[0]), dtype=cplx)
    twin_entries(th, ph, *entries, phasors)
    ut, saved = _transfer(plan, tuple(entries), _numpy(out, real), keep)
    if saved is not None:
        saved.phasors = phasors
    return ut, saved


def _transfer_backward(saved: _Saved, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Gradients of the entries a..d and of the output phases."""
    plan = saved.plan
    complex_t = torch.complex128 if saved.ut.dtype == np.complex128 else torch.complex64
    grads = tuple(torch.empty(plan.modes.shape[0], dtype=complex_t) for _ in range(4))
    g_out = torch.empty(plan.n, dtype=_real_dtype(complex_t))
    transfer_t_backward(*saved.entries, saved.out, plan.modes, plan.col_start, plan.seg,
                        saved.checkpoints, saved.ut, _numpy(grad, complex_t),
                        *(g.numpy() for g in grads), g_out.numpy())
    return (*grads, g_out)


class _Transfer(torch.autograd.Function):
    """``U^T`` of a mesh, ``U = diag(e^{i out}) M_{C-1} ... M_0``, from its MZIs' entries
    (a, b, c, d) and output phases, built and differentiated by the compiled loops of
    :mod:`.mzi_kernels`: row updates of the running product in the band it occupies; the
    backward walks the columns in reverse from checkpoints. N = 64 Clements: ~0.1 ms, a third
    of a 1024 x 64 x 64 complex matmul (BENCHMARKS.md, bench/mzi_step_bench.py)."""

    @staticmethod
    def forward(ctx: Any, plan: _ProductPlan, a: torch.Tensor, b: torch.Tensor,
                c: torch.Tensor, d: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        ut, ctx.saved = _general_transfer(plan, a, b, c, d, out, any(ctx.needs_input_grad[1:]))
        return ut

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        return (None, *_transfer_backward(ctx.saved, grad))


class _TwinTransfer(torch.autograd.Function):
    """:class:`_Transfer` of the twin (ideal couplers, no loss) from its phases, with the
    MZIs' entries and their derivatives computed in the same compiled code
    (:func:`.mzi_kernels.twin_entries`): no torch operation between the phases and ``U^T``."""

    @staticmethod
    def forward(ctx: Any, plan: _ProductPlan, theta: torch.Tensor, phi: torch.Tensor,
                out: torch.Tensor) -> torch.Tensor:
        ut, ctx.saved = _twin_transfer(plan, theta, phi, out, any(ctx.needs_input_grad[1:]))
        return ut

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        saved: _Saved = ctx.saved
        ga, gb, gc, gd, g_out = _transfer_backward(saved, grad)
        g_theta, g_phi = (torch.empty(ga.shape, dtype=g_out.dtype) for _ in range(2))
        twin_entries_backward(saved.phasors, ga.numpy(), gb.numpy(), gc.numpy(), gd.numpy(),
                              g_theta.numpy(), g_phi.numpy())
        return None, g_theta, g_phi, g_out


class _TwinEntries(torch.autograd.Function):
    """The ideal MZI's entries (a, b, c, d) from (theta, phi) with 50:50 couplers and no loss:
    ``a = (e^{i(theta+phi)} - e^{i phi}) / 2``, ``b = i (e^{i theta} + 1) / 2``,
    ``c = i (e^{i(theta+phi)} + e^{i phi}) / 2``, ``d = (1 - e^{i theta}) / 2`` (module
    docstring), with the derivatives written out: autograd's polar backward cost more than
    the whole forward. The column path's; the matrix path computes the same entries inside
    its kernels (:func:`.mzi_kernels.twin_entries`)."""

    @staticmethod
    def forward(ctx: Any, theta: torch.Tensor, phi: torch.Tensor) -> tuple[torch.Tensor, ...]:
        et = torch.polar(torch.ones_like(theta), theta)
        ep = torch.polar(torch.ones_like(phi), phi)
        ept = et * ep
        ctx.save_for_backward(et, ep, ept)
        return 0.5 * (ept - ep), 0.5j * (et + 1), 0.5j * (ept + ep), 0.5 * (1 - et)

    @staticmethod
    def backward(ctx: Any, ga: torch.Tensor, gb: torch.Tensor, gc: torch.Tensor,
                 gd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        et, ep, ept = ctx.saved_tensors
        # A real input x of a complex output y gets Re(conj(dy/dx) g) (torch's convention).
        # d/dtheta: a -> i ept / 2, b -> -et / 2, c -> -ept / 2, d -> -i et / 2;
        # d/dphi: a -> i (ept - ep) / 2, c -> -(ept + ep) / 2.
        zero = torch.zeros((), dtype=et.dtype)
        ga = ga if ga is not None else zero
        gb = gb if gb is not None else zero
        gc = gc if gc is not None else zero
        gd = gd if gd is not None else zero
        eptc, etc, epc = ept.conj(), et.conj(), ep.conj()
        g_theta = 0.5 * (eptc * (-1j * ga - gc) - etc * (gb - 1j * gd)).real
        g_phi = 0.5 * (-1j * (eptc - epc) * ga - (eptc + epc) * gc).real
        return g_theta, g_phi


class MZIMesh(nn.Module):
    """An N-mode MZI mesh (``kind`` = 'clements' or 'reck') with output phase shifters.

    Trainable: ``theta``, ``phi`` (n_mzi,) and ``out_phase`` (n,). ``forward(x)`` maps input
    amplitudes (..., n) to output amplitudes ``x @ U^T``. Nominal insertion loss per MZI is part
    of the twin's physics; with ``errors`` this module is the physical chip (heater offsets,
    efficiency, crosstalk, coupler errors, loss spread, DAC quantisation, drift).
    """

    def __init__(self, n: int, kind: str = "clements", insertion_loss_db: float = 0.0,
                 heater: HeaterModel | None = None, errors: MZIErrors | None = None,
                 init: str = "random", seed: SeedLike = None) -> None:
        super().__init__()
        self.n = int(n)
        self.kind = kind
        self.layout = mesh_layout(self.n, kind)
        self.insertion_loss_db = float(insertion_loss_db)
        self.heater = heater or HeaterModel()
        self.errors = errors
        self.time_s = 0.0
        nm = self.layout.n_mzi
        if init == "random":
            g = make_generator(seed)
            th, ph, out = (TWO_PI * torch.rand(k, generator=g) for k in (nm, nm, self.n))
        elif init == "identity":
            # theta = pi is the bar state: every MZI passes light straight through.
            th, ph, out = torch.full((nm,), math.pi), torch.zeros(nm), torch.zeros(self.n)
        else:
            raise ValueError(f"init {init!r}: expected 'random' or 'identity'")
        self.theta = nn.Parameter(th)
        self.phi = nn.Parameter(ph)
        self.out_phase = nn.Parameter(out)
        self._neighbours = self._heater_neighbours()
        self._index = _column_index(self.layout)
        self._plan = _product_plan(self.layout)
        self._cache: tuple[tuple, torch.Tensor] | None = None

    # ---- construction
    @classmethod
    def from_unitary(cls, u: np.ndarray | torch.Tensor, kind: str = "clements",
                     **kwargs: object) -> MZIMesh:
        mesh = cls(u.shape[0], kind, **kwargs)  # type: ignore[arg-type]
        mesh.set_unitary(u)
        return mesh

    def set_unitary(self, u: np.ndarray | torch.Tensor) -> None:
        th, ph, out = decompose(u, self.kind)
        with torch.no_grad():
            self.theta.copy_(torch.from_numpy(th))
            self.phi.copy_(torch.from_numpy(ph))
            self.out_phase.copy_(torch.from_numpy(out))

    def twin(self) -> MZIMesh:
        """Error-free model sharing this mesh's parameters (same Parameter objects)."""
        t = MZIMesh(self.n, self.kind, self.insertion_loss_db, self.heater, init="identity")
        t.theta, t.phi, t.out_phase = self.theta, self.phi, self.out_phase
        return t

    def with_errors(self, levels: str | ErrorLevels, seed: SeedLike) -> MZIMesh:
        """The physical chip: shares parameters, carries errors drawn once from ``seed``."""
        e = draw_mzi_errors(error_levels(levels), self.layout.n_mzi, self.layout.n_heaters,
                            self.n, seed)
        p = MZIMesh(self.n, self.kind, self.insertion_loss_db, self.heater, e, init="identity")
        p.theta, p.phi, p.out_phase = self.theta, self.phi, self.out_phase
        return p

    # ---- heaters
    def _heater_neighbours(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest-neighbour heater pairs (both directions). Heater order: theta_0..theta_m,
        phi_0..phi_m, out_0..out_n. Neighbours: the theta and phi heaters of one MZI, the
        same kind of heater on vertically adjacent MZIs of a column, adjacent output shifters."""
        nm = self.layout.n_mzi
        src, dst = [], []

        def link(i: int, j: int) -> None:
            src.extend((i, j))
            dst.extend((j, i))

        for p in range(nm):
            link(p, nm + p)
        for _k0, m, start in self.layout.columns:
            for j in range(m - 1):
                link(start + j, start + j + 1)
                link(nm + start + j, nm + start + j + 1)
        for j in range(self.n - 1):
            link(2 * nm + j, 2 * nm + j + 1)
        return torch.tensor(src, dtype=torch.long), torch.tensor(dst, dtype=torch.long)

    def crosstalk_matrix(self, kappa: float) -> torch.Tensor:
        """Dense (n_heaters, n_heaters) ``C = I + kappa * adjacency`` (P_eff = C P)."""
        nh = self.layout.n_heaters
        c = torch.eye(nh)
        src, dst = self._neighbours
        c[dst, src] += kappa
        return c

    def target_phases(self) -> torch.Tensor:
        return torch.cat([self.theta, self.phi, self.out_phase])

    def heater_voltages(self) -> torch.Tensor:
        """Voltages a user with the nominal calibration sends to set the current parameters
        (quantised to the chip's DAC if it has ``control_bits``)."""
        v = self.heater.voltage_for(self.target_phases())
        if self.errors is not None and self.errors.control_bits is not None:
            v = quantize_uniform(v, self.heater.v_max, self.errors.control_bits)
        return v

    def phases_from_voltages(self, voltages: torch.Tensor) -> torch.Tensor:
        """The phases the chip really applies for ``voltages`` (n_heaters,): true offsets,
        efficiencies, thermal crosstalk and drift (nominal physics if the chip has no errors)."""
        power = voltages.square() / self.heater.resistance
        e = self.errors
        if e is None:
            return self.heater.alpha * power
        if e.crosstalk:
            src, dst = self._neighbours
            power = power.index_add(0, dst, e.crosstalk * power[src])
        drift = e.drift_rad_per_hour * (self.time_s / 3600.0)
        return e.phase_offset + drift + self.heater.alpha * e.efficiency * power

    # ---- optics
    def _is_twin(self) -> bool:
        return self.errors is None and self.insertion_loss_db == 0.0

    def _mzi_entries(self, theta: torch.Tensor, phi: torch.Tensor
                     ) -> tuple[torch.Tensor, ...]:
        nm = self.layout.n_mzi
        if self._is_twin():
            # Ideal 50:50 couplers, no loss (the twin): the closed form with c = s = 1/sqrt 2.
            return _TwinEntries.apply(theta, phi)
        bs = self.errors.bs_error if self.errors is not None else torch.zeros(nm, 2)
        # Coupler k: bar amplitude sqrt((1 + eps_k) / 2), cross amplitude sqrt((1 - eps_k) / 2).
        c1, s1 = torch.sqrt((1 + bs[:, 0]) / 2), torch.sqrt((1 - bs[:, 0]) / 2)
        c2, s2 = torch.sqrt((1 + bs[:, 1]) / 2), torch.sqrt((1 - bs[:, 1]) / 2)
        loss_db = self.insertion_loss_db + (self.errors.loss_db if self.errors is not None else 0)
        amp = torch.as_tensor(10.0 ** (-torch.as_tensor(loss_db) / 20.0), dtype=torch.float32)
        one = torch.ones_like(theta)
        ep, et, ept = (torch.polar(one, phi), torch.polar(one, theta),
                       torch.polar(one, phi + theta))
        j = 1j
        # B(e2) P(theta) B(e1) P(phi), multiplied out (module docstring).
        a = (c2 * c1) * ept - (s2 * s1) * ep
        b = j * (c2 * s1) * et + j * (s2 * c1)
        c = j * (s2 * c1) * ept + j * (c2 * s1) * ep
        d = c2 * c1 - (s2 * s1) * et
        return a * amp, b * amp, c * amp, d * amp

    def _phases(self, voltages: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.errors is None and voltages is None:
            return self.theta, self.phi, self.out_phase
        v = self.heater_voltages() if voltages is None else voltages
        ph = self.phases_from_voltages(v)
        nm = self.layout.n_mzi
        return ph[:nm], ph[nm:2 * nm], ph[2 * nm:]

    def _factors(self, voltages: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        theta, phi, out = self._phases(voltages)
        n_cols = max(1, len(self.layout.columns))
        diag, off = _column_factors(self._index, n_cols, self.n, *self._mzi_entries(theta, phi))
        return diag, off, out

    def apply(self, x: torch.Tensor, voltages: torch.Tensor | None = None) -> torch.Tensor:
        """Column-by-column application to ``x`` (..., n): memory O(batch * n) per column,
        the efficient path for gradients with respect to inputs and phases on small batches."""
        diag, off, out = self._factors(voltages)
        if not x.is_complex():
            x = x.to(torch.complex64)
        y = _apply_columns(x, self._index.partner, diag, off)
        return y * torch.polar(torch.ones_like(out), out)

    def _cache_key(self) -> tuple:
        return (self.theta._version, self.phi._version, self.out_phase._version,
                id(self.theta), id(self.phi), id(self.out_phase), self.time_s)

    def transfer_matrix(self, voltages: torch.Tensor | None = None) -> torch.Tensor:
        """U (n, n) with ``y = U x``. Built once per parameter set: cached when no gradient is
        being recorded (inference, hardware queries)."""
        return self.transfer_matrix_t(voltages).T

    def transfer_matrix_t(self, voltages: torch.Tensor | None = None) -> torch.Tensor:
        """``U^T`` (n, n), contiguous: what ``x @ U^T`` multiplies (cached like
        :meth:`transfer_matrix`, which is its transpose)."""
        recording = torch.is_grad_enabled() and (
            self.theta.requires_grad or self.phi.requires_grad or self.out_phase.requires_grad)
        if voltages is None and not recording and self._cache is not None \
                and self._cache[0] == self._cache_key():
            return self._cache[1]
        theta, phi, out = self._phases(voltages)
        twin = self._is_twin()
        if torch.is_grad_enabled() and any(t.requires_grad for t in (theta, phi, out)):
            ut = (_TwinTransfer.apply(self._plan, theta, phi, out) if twin
                  else _Transfer.apply(self._plan, *self._mzi_entries(theta, phi), out))
        else:  # no graph to record: the kernels directly (autograd.Function costs ~40 us)
            ut = (_twin_transfer(self._plan, theta, phi, out, False) if twin
                  else _general_transfer(self._plan, *self._mzi_entries(theta, phi), out,
                                         False))[0]
        if voltages is None and not recording:
            self._cache = (self._cache_key(), ut)
        return ut

    def forward(self, x: torch.Tensor, method: str = "matrix") -> torch.Tensor:
        """Output amplitudes for input amplitudes ``x`` (..., n). ``method='matrix'`` builds U
        once and does one batched matmul (fast for large batches); ``'columns'`` applies the
        mesh column by column."""
        if not x.is_complex():
            x = x.to(torch.complex64)
        if method == "columns":
            return self.apply(x)
        # A contiguous U^T: complex matmul on a transposed view is ~10x slower on CPU.
        return x @ self.transfer_matrix_t()


class EOActivation(nn.Module):
    """Electro-optic activation of Williamson et al., IEEE JSTQE 26, 7700412 (2020)
    ("Reprogrammable electro-optic nonlinear activation functions for optical neural
    networks", arXiv:1903.04579), Eq. 7, as used between meshes in the DAT paper:
    a fraction ``alpha`` of the power is tapped to a photodiode whose amplified signal drives a
    phase modulator (gain ``g`` rad per unit |z|^2, bias ``phi_b``) in an MZI on the rest:

        f(z) = i sqrt(1 - alpha) exp(-i (g |z|^2 + phi_b) / 2) cos((g |z|^2 + phi_b) / 2) z

    Defaults: ``alpha = 0.1`` and ``g = 0.05 pi`` as in the DAT authors' code
    (THPCILab/DAT_MPNN ``model.py`` ``ElectroopticNonlinearity``), meant for inputs of mean
    power ~1 per port (they scale each sample to mean |x| = 1), and ``phi_b = pi / 2``: the
    modulator's MZI biased at half transmission, so the activation passes light at any power
    and the tapped power bends it (``g |z|^2`` ~ 0.16 rad at the mean port power, more on the
    bright ports). Their bias ``phi_b = pi`` (dark at zero power: ``|f(z)| ~ sqrt(1 - alpha)
    (g / 2) |z|^3``, a cubic threshold) does not train in our pipeline: with the benchmark's
    read-out, pixel or Fourier inputs, input powers 1-30 per port and lr 1e-2 or 1e-3 the loss
    stays at ln 10 for 8-12 epochs; the gradients are as large and as consistent as with
    pi / 2, but the loss moves 4-5x less per phase step (docs/adr/0004-physics-and-twins.md,
    6b).
    """

    def __init__(self, alpha: float = 0.1, g: float = 0.05 * math.pi,
                 phi_b: float = math.pi / 2) -> None:
        super().__init__()
        self.alpha, self.g, self.phi_b = float(alpha), float(g), float(phi_b)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        dphi = 0.5 * (self.g * intensity(z) + self.phi_b)
        return (1j * math.sqrt(1.0 - self.alpha)) * torch.polar(torch.cos(dphi), -dphi) * z

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, g={self.g:.4g}, phi_b={self.phi_b:.4g}"


class MZINetwork(nn.Module):
    """Meshes with activations between them and photodetectors at the end (the MZI PNN of the
    DAT paper): ``x -> mesh_1 -> act -> mesh_2 -> ... -> mesh_L -> |.|^2 -> detectors``."""

    def __init__(self, meshes: Sequence[MZIMesh], activation: nn.Module | None = None,
                 detectors: Photodetectors | None = None) -> None:
        super().__init__()
        self.meshes = nn.ModuleList(meshes)
        self.activation = activation if activation is not None else EOActivation()
        n = meshes[-1].n
        self.detectors = detectors if detectors is not None else Photodetectors(n)

    @classmethod
    def build(cls, n: int, n_meshes: int = 3, kind: str = "clements", seed: SeedLike = 0,
              **kwargs: object) -> MZINetwork:
        g = make_generator(seed)
        return cls([MZIMesh(n, kind, seed=g, **kwargs)  # type: ignore[arg-type]
                    for _ in range(n_meshes)])

    def output_field(self, x: torch.Tensor, method: str = "matrix") -> torch.Tensor:
        for i, mesh in enumerate(self.meshes):
            x = mesh(x, method)
            if i < len(self.meshes) - 1:
                x = self.activation(x)
        return x

    def forward(self, x: torch.Tensor, method: str = "matrix") -> torch.Tensor:
        return self.detectors(readout_intensity(self.output_field(x, method)))

    def twin(self) -> MZINetwork:
        return MZINetwork([m.twin() for m in self.meshes],  # type: ignore[attr-defined]
                          self.activation, self.detectors.twin())

    def with_errors(self, levels: str | ErrorLevels, seed: SeedLike) -> MZINetwork:
        levels = error_levels(levels)
        g = make_generator(seed)
        meshes = [m.with_errors(levels, g) for m in self.meshes]  # type: ignore[attr-defined]
        det = meshes[-1].errors.detector  # type: ignore[union-attr]
        noise_seed = int(torch.randint(0, 2**62, (1,), generator=g))
        detectors = Photodetectors(self.meshes[-1].n, self.detectors.responsivity,  # type: ignore[attr-defined]
                                   det.gain, det.dark, det.noise_std, noise_seed)
        return MZINetwork(meshes, self.activation, detectors)

    def set_time(self, t: float) -> None:
        for m in self.meshes:
            m.time_s = t  # type: ignore[assignment]
