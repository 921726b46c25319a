"""Compiled loops for an MZI mesh's transfer matrix and its backward (issue 16).

A mesh is C columns of MZIs; column ``c`` mixes rows (k, k+1) of the running product
``X_{c+1} = M_c X_c`` (``X_0 = I``) with each MZI's entries ``[[a, b], [c, d]]``, and the output
phases make ``U = diag(e^{i out}) X_C``. Every row update is one loop over a row, which numba
compiles to vector instructions. In torch the same work had to be cut into a few dozen small
operations, and at N = 64 their fixed cost (5-10 us each) was most of a training step
(docs/adr/0004-physics-and-twins.md, 6c).

- :func:`transfer_t` writes ``U^T``. ``X_c`` couples mode i only to modes i - c .. i + c, so the
  first columns' row updates touch that band only. For a backward it keeps ``X`` at the start
  of every segment of ``seg`` columns and at the end (checkpoints, memory O(n^2 C / seg)).
- :func:`transfer_t_backward` takes ``dL/dU^T`` and returns ``dL/da`` .. ``dL/dd`` of every MZI
  and ``dL/dout``, in torch's convention for complex gradients (``dL/dRe + i dL/dIm``). With
  ``G_{c+1} = dL/dX_{c+1}``, an MZI's entry (r, s) gets ``sum_j G_{c+1}[r, j] conj(X_c[s, j])``
  and ``G_c = M_c^H G_{c+1}``. It walks the columns last to first and gets each ``X_c`` back as
  ``M_c^{-1} X_{c+1}`` (the 2 x 2 inverse, row pairs again), restarting from the exact
  checkpoint at every segment's end, so rounding adds up over at most ``seg`` columns.
- :func:`twin_entries` and :func:`twin_entries_backward`: the ideal MZI's entries from its
  phases and the phases' gradients, so that the twin's matrix path has no torch operation.
- :func:`abs2` and its backward: ``|z|^2`` for :func:`.mzi.readout_intensity`, compiled without
  fused multiply-adds so that it equals torch's ``(z * conj(z)).real`` bit for bit.

Matrices are flat ``(2 n n,)`` float arrays: the real plane, then the imaginary plane, row-major,
in the precision of the entries (float32 for complex64). Indices are unsigned so that numba emits
no negative-index wraparound, which would keep the loops from being vectorised. ``fastmath``
allows reassociation and fused multiply-adds only (the backward's sums are vectorised), no
approximate functions: results equal the dense product to rounding
(tests/physics/test_physics_mzi.py). Compiled on first use and cached on disk by numba
(``cache=True``; next to this file, or in the user's cache directory if that is read-only):
about 10 s once per machine, then ~0.8 s to load in a new process.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import uint64

_JIT = {"cache": True, "nogil": True, "error_model": "numpy",
        "fastmath": {"reassoc", "contract", "nsz"}}


@numba.njit(inline="always", **_JIT)
def _band(k, width, n):  # pragma: no cover
    """Entries ``lo .. hi - 1`` of rows k, k + 1 that a product of ``width`` columns can make
    non-zero (|i - j| <= width), widened to multiples of 8: the vector loops then run without
    scalar remainders (measured 15 % faster than the exact band; the extra entries are zeros)."""
    lo = uint64(max(0, k - width)) & ~uint64(7)
    hi = min(n, (uint64(k + 2 + width) + uint64(7)) & ~uint64(7))
    return lo, hi


@numba.njit(**_JIT)
def _apply_columns(x, n_modes, a, b, c, d, modes, col_start, first, last):  # pragma: no cover
    """Columns ``first .. last - 1`` applied to the flat (n, n) matrix x in place."""
    n = uint64(n_modes)
    n2 = n * n
    for col in range(first, last):
        for p in range(col_start[col], col_start[col + 1]):
            k = uint64(modes[p])
            lo, hi = _band(modes[p], col, n)
            ar, ai, br, bi = a[p].real, a[p].imag, b[p].real, b[p].imag
            cr, ci, dr, di = c[p].real, c[p].imag, d[p].real, d[p].imag
            r0 = k * n
            r1 = r0 + n
            i0 = r0 + n2
            i1 = r1 + n2
            for j in range(lo, hi):
                ur, ui, vr, vi = x[r0 + j], x[i0 + j], x[r1 + j], x[i1 + j]
                x[r0 + j] = ar * ur - ai * ui + br * vr - bi * vi
                x[i0 + j] = ar * ui + ai * ur + br * vi + bi * vr
                x[r1 + j] = cr * ur - ci * ui + dr * vr - di * vi
                x[i1 + j] = cr * ui + ci * ur + dr * vi + di * vr


@numba.njit(**_JIT)
def transfer_t(a, b, c, d, out_phase, modes, col_start, seg, checkpoints, out_t
               ):  # pragma: no cover
    """``out_t = U^T`` (n, n) complex, ``U = diag(e^{i out_phase}) M_{C-1} ... M_0``, from the
    MZIs' entries a..d (n_mzi,): parameter p sits on modes (modes[p], modes[p] + 1), column c
    holds parameters ``col_start[c] .. col_start[c + 1] - 1``. ``checkpoints``
    (ceil(C / seg) + 1, 2 n n) receives X before columns 0, seg, 2 seg, ... and X_C (an empty
    first axis skips them)."""
    n = out_t.shape[0]
    n_cols = col_start.shape[0] - 1
    x = np.zeros(2 * n * n, dtype=checkpoints.dtype)
    for i in range(n):
        x[i * n + i] = 1.0
    for first in range(0, n_cols, seg):
        if checkpoints.shape[0] > 0:
            checkpoints[first // seg] = x
        _apply_columns(x, n, a, b, c, d, modes, col_start, first, min(first + seg, n_cols))
    if checkpoints.shape[0] > 0:
        checkpoints[checkpoints.shape[0] - 1] = x
    for i in range(n):
        e = math.cos(out_phase[i]) + 1j * math.sin(out_phase[i])
        for j in range(n):
            out_t[j, i] = e * (x[i * n + j] + 1j * x[n * n + i * n + j])


@numba.njit(**_JIT)
def transfer_t_backward(a, b, c, d, out_phase, modes, col_start, seg, checkpoints, out_t,
                        grad_t, ga, gb, gc, gd, g_out):  # pragma: no cover
    """The gradients ga..gd (n_mzi,) of the entries and g_out (n,) of the output phases from
    ``grad_t = dL/dU^T`` (n, n), the result ``out_t`` and the checkpoints of
    :func:`transfer_t`."""
    n = grad_t.shape[0]
    nu = uint64(n)
    n2 = uint64(n * n)
    n_cols = col_start.shape[0] - 1
    # U[i, j] = e^{i out_i} X[i, j]: dL/dout_i = sum_j Im(G[j, i] conj(U^T[j, i])) and
    # dL/dX[i, j] = e^{-i out_i} G[j, i].
    g = np.empty(2 * n * n, dtype=checkpoints.dtype)
    for i in range(n):
        e = math.cos(out_phase[i]) - 1j * math.sin(out_phase[i])
        s = 0.0
        for j in range(n):
            s += (grad_t[j, i] * np.conj(out_t[j, i])).imag
            v = e * grad_t[j, i]
            g[i * n + j] = v.real
            g[n * n + i * n + j] = v.imag
        g_out[i] = s
    x = np.empty(2 * n * n, dtype=checkpoints.dtype)
    zero = g.dtype.type(0)  # sums in the arrays' precision (a literal 0 would make them double)
    for first in range(((n_cols - 1) // seg) * seg, -1, -seg):
        last = min(first + seg, n_cols)
        # X_c = M_c^{-1} X_{c+1}, from the exact X at the segment's end: at most seg steps of
        # rounding (M is a loss factor times a unitary: well conditioned).
        x[:] = checkpoints[first // seg + 1]
        for col in range(last - 1, first - 1, -1):
            for p in range(col_start[col], col_start[col + 1]):
                k = uint64(modes[p])
                r0 = k * nu
                r1 = r0 + nu
                i0 = r0 + n2
                i1 = r1 + n2
                ar, ai, br, bi = a[p].real, a[p].imag, b[p].real, b[p].imag
                cr, ci, dr, di = c[p].real, c[p].imag, d[p].real, d[p].imag
                # M^{-1} = [[d, -b], [-c, a]] / (a d - b c), on the band of X_{c+1}.
                det = a[p] * d[p] - b[p] * c[p]
                det = det.conjugate() / (det.real * det.real + det.imag * det.imag)
                ia, ib, ic, id_ = d[p] * det, -b[p] * det, -c[p] * det, a[p] * det
                iar, iai, ibr, ibi = g.dtype.type(ia.real), g.dtype.type(ia.imag), \
                    g.dtype.type(ib.real), g.dtype.type(ib.imag)
                icr, ici, idr, idi = g.dtype.type(ic.real), g.dtype.type(ic.imag), \
                    g.dtype.type(id_.real), g.dtype.type(id_.imag)
                lo, hi = _band(modes[p], col + 1, nu)
                for j in range(lo, hi):
                    ur, ui, vr, vi = x[r0 + j], x[i0 + j], x[r1 + j], x[i1 + j]
                    x[r0 + j] = iar * ur - iai * ui + ibr * vr - ibi * vi
                    x[i0 + j] = iar * ui + iai * ur + ibr * vi + ibi * vr
                    x[r1 + j] = icr * ur - ici * ui + idr * vr - idi * vi
                    x[i1 + j] = icr * ui + ici * ur + idr * vi + idi * vr
                # G[r] . conj(X_c[s]) for (r, s) = (k, k), (k, k+1), (k+1, k), (k+1, k+1);
                # X_c is zero outside its band.
                sar = sai = sbr = sbi = scr = sci = sdr = sdi = zero
                lo, hi = _band(modes[p], col, nu)
                for j in range(lo, hi):
                    xr0, xi0, xr1, xi1 = x[r0 + j], x[i0 + j], x[r1 + j], x[i1 + j]
                    gr0, gi0, gr1, gi1 = g[r0 + j], g[i0 + j], g[r1 + j], g[i1 + j]
                    sar += gr0 * xr0 + gi0 * xi0
                    sai += gi0 * xr0 - gr0 * xi0
                    sbr += gr0 * xr1 + gi0 * xi1
                    sbi += gi0 * xr1 - gr0 * xi1
                    scr += gr1 * xr0 + gi1 * xi0
                    sci += gi1 * xr0 - gr1 * xi0
                    sdr += gr1 * xr1 + gi1 * xi1
                    sdi += gi1 * xr1 - gr1 * xi1
                ga[p] = sar + 1j * sai
                gb[p] = sbr + 1j * sbi
                gc[p] = scr + 1j * sci
                gd[p] = sdr + 1j * sdi
                # G_c = M^H G_{c+1} on rows k, k+1: conj(a) u + conj(c) v, conj(b) u + conj(d) v
                for j in range(nu):
                    ur, ui, vr, vi = g[r0 + j], g[i0 + j], g[r1 + j], g[i1 + j]
                    g[r0 + j] = ar * ur + ai * ui + cr * vr + ci * vi
                    g[i0 + j] = ar * ui - ai * ur + cr * vi - ci * vr
                    g[r1 + j] = br * ur + bi * ui + dr * vr + di * vi
                    g[i1 + j] = br * ui - bi * ur + dr * vi - di * vr


@numba.njit(**_JIT)
def twin_entries(theta, phi, a, b, c, d, phasors):  # pragma: no cover
    """The ideal MZI's entries (50:50 couplers, no loss; module docstring of :mod:`.mzi`):
    ``a = (e^{i(theta+phi)} - e^{i phi}) / 2``, ``b = i (e^{i theta} + 1) / 2``,
    ``c = i (e^{i(theta+phi)} + e^{i phi}) / 2``, ``d = (1 - e^{i theta}) / 2``; ``phasors``
    (2, n_mzi) receives ``e^{i theta}`` and ``e^{i phi}`` for the backward."""
    for p in range(theta.shape[0]):
        et = math.cos(theta[p]) + 1j * math.sin(theta[p])
        ep = math.cos(phi[p]) + 1j * math.sin(phi[p])
        ept = et * ep
        a[p] = 0.5 * (ept - ep)
        b[p] = 0.5j * (et + 1)
        c[p] = 0.5j * (ept + ep)
        d[p] = 0.5 * (1 - et)
        phasors[0, p] = et
        phasors[1, p] = ep


@numba.njit(**_JIT)
def twin_entries_backward(phasors, ga, gb, gc, gd, g_theta, g_phi):  # pragma: no cover
    """The phases' gradients from the entries' (a real x of a complex y gets
    ``Re(conj(dy/dx) g)``, torch's convention). d/dtheta: a -> i ept / 2, b -> -et / 2,
    c -> -ept / 2, d -> -i et / 2; d/dphi: a -> i (ept - ep) / 2, c -> -(ept + ep) / 2."""
    for p in range(g_theta.shape[0]):
        etc = np.conj(phasors[0, p])
        epc = np.conj(phasors[1, p])
        eptc = etc * epc
        g_theta[p] = 0.5 * (eptc * (-1j * ga[p] - gc[p]) - etc * (gb[p] - 1j * gd[p])).real
        g_phi[p] = 0.5 * (-1j * (eptc - epc) * ga[p] - (eptc + epc) * gc[p]).real


# |z|^2 without fused multiply-adds: bit for bit torch's (z * conj(z)).real.
_JIT_EXACT = {"cache": True, "nogil": True, "error_model": "numpy"}


@numba.njit(**_JIT_EXACT)
def abs2(z, out):  # pragma: no cover
    """``out = |z|^2`` of flat complex z (real and imaginary parts squared, no square root)."""
    for i in range(z.shape[0]):
        out[i] = z[i].real * z[i].real + z[i].imag * z[i].imag


@numba.njit(**_JIT_EXACT)
def abs2_backward(z, grad, out):  # pragma: no cover
    """``out = 2 grad z`` (flat; torch's complex gradient of ``|z|^2``)."""
    for i in range(z.shape[0]):
        out[i] = (grad[i] + grad[i]) * z[i]


@numba.njit(**_JIT_EXACT)
def abs2_backward_uniform(z, grad, out):  # pragma: no cover
    """:func:`abs2_backward` with one ``grad`` for every entry (a sum's backward)."""
    g2 = grad + grad
    for i in range(z.shape[0]):
        out[i] = g2 * z[i]
