r"""Compiled (numba) exact lasso per sample: LARS–homotopy with incremental Cholesky, from Gram quantities.

Solves, for every row :math:`b_i` of ``B = X Dᵀ`` with ``G = D Dᵀ`` (computed once by BLAS),

.. math::  \min_z \tfrac12 z G z^\top - z\cdot b_i + \lambda_i \|z\|_1
           \;(= \tfrac12\|x_i - zD\|^2 + \lambda_i\|z\|_1 - \tfrac12\|x_i\|^2), \quad\text{optionally } z \ge 0,

by following the lasso solution path from :math:`\lambda_{\max} = \|b_i\|_\infty` (one-sided max for
:math:`z\ge0`) down to :math:`\lambda_i` (LARS with the lasso modification: Efron, Hastie, Johnstone &
Tibshirani 2004, "Least angle regression", §3.1; Osborne, Presnell & Turlach 2000, the homotopy method).
On a segment with active set :math:`A` and signs :math:`s_A` the optimality condition
:math:`z_A G_{AA} = b_A - \mu s_A` gives :math:`dz_A/d(-\mu) = u = s_A G_{AA}^{-1}`, and the correlations
:math:`c = b - zG` move as :math:`dc/d(-\mu) = -a`, :math:`a = u\,G_{A,:}`. The step :math:`\gamma` is the
smallest of: an inactive :math:`j` reaching :math:`|c_j| = \mu - \gamma` (it joins, with the sign of
:math:`c_j`), an active coordinate crossing zero (it is dropped — the lasso modification), or
:math:`\mu - \gamma = \lambda_i` (end). The Cholesky factor of :math:`G_{AA}` is updated in
:math:`O(|A|^2)`: a row is appended when a variable joins, and a deletion is restored to triangular form
by Givens rotations.

Degenerate cases: an atom whose Cholesky pivot vanishes (a duplicate or a linear combination of active
atoms) is excluded for that sample; zero rows and :math:`\lambda_i \ge \lambda_{\max}` give the zero
code. Each sample ends with the exact solve :math:`z_A = (b_A - \lambda_i s_A)G_{AA}^{-1}` (kept where its
signs agree), and returns a status: 0 finished, 1 step limit, 2 support larger than ``max_support``.
The caller certifies every sample with the duality gap and re-solves failures by a slower certified method.

Orientation: rows are samples; in Efron et al. the design matrix is our ``D.T`` and the response our ``x``.

The Cholesky kernels (:func:`chol_solve`, :func:`chol_delete`), :func:`gram_combo`, :func:`lars_one` and the
certificate statistics :func:`cert_stats` / :func:`gap_from_stats` are shared with
:mod:`simcode.sparse._coordinate_descent` (its LARS fallback runs in the same compiled pass).
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

__all__: list[str] = []


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc", "nsz"})
def chol_solve(L, s, rhs, out):
    """Solve (L Lᵀ) out = rhs for the leading s×s block of the lower-triangular L."""
    for i in range(s):
        v = rhs[i]
        for k in range(i):
            v -= L[i, k] * out[k]
        out[i] = v / L[i, i]
    # Lᵀ x = y, row-oriented (axpy on the contiguous rows of L, not a strided column walk)
    for i in range(s - 1, -1, -1):
        xi = out[i] / L[i, i]
        out[i] = xi
        for k in range(i):
            out[k] -= L[i, k] * xi


@njit(cache=True, nogil=True)
def chol_delete(L, s, r):
    """Remove row/column r from the Cholesky factor of an s×s matrix (Givens rotations); returns s − 1."""
    for i in range(r, s - 1):
        for k in range(s):
            L[i, k] = L[i + 1, k]
    for k in range(r, s - 1):
        a = L[k, k]
        b = L[k, k + 1]
        h = np.hypot(a, b)
        if h == 0.0:
            continue
        ct = a / h
        st = b / h
        for i in range(k, s - 1):
            x = L[i, k]
            y = L[i, k + 1]
            L[i, k] = ct * x + st * y
            L[i, k + 1] = -st * x + ct * y
        L[k, k + 1] = 0.0
    for i in range(s - 1):
        L[i, s - 1] = 0.0
    return s - 1


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc", "nsz"})
def gram_combo(G, act, u, s, a):
    """a = Σ_i u_i G[act_i, :] (rows four at a time, so that ``a`` is loaded and stored once per four rows)."""
    K = a.shape[0]
    for j in range(K):
        a[j] = 0.0
    i = 0
    while i + 4 <= s:
        r0, r1, r2, r3 = act[i], act[i + 1], act[i + 2], act[i + 3]
        u0, u1, u2, u3 = u[i], u[i + 1], u[i + 2], u[i + 3]
        for j in range(K):
            a[j] += u0 * G[r0, j] + u1 * G[r1, j] + u2 * G[r2, j] + u3 * G[r3, j]
        i += 4
    while i < s:
        r0 = act[i]
        u0 = u[i]
        for j in range(K):
            a[j] += u0 * G[r0, j]
        i += 1


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc", "nsz"})
def lars_one(b, G, lam, nonneg, z, L, act, sgn, u, a, c, rhs, tmp, pos, excl, max_support, max_steps):
    """Lasso path for one sample; writes z (length K). Returns (status, steps)."""
    K = b.shape[0]
    for j in range(K):
        z[j] = 0.0
        c[j] = b[j]
        pos[j] = -1
        excl[j] = False
    # first variable
    mu = -1.0
    jbest = -1
    for j in range(K):
        v = c[j] if nonneg else abs(c[j])
        if v > mu:
            mu = v
            jbest = j
    if mu <= lam or G[jbest, jbest] <= 0.0:
        return 0, 0
    s = 1
    L[0, 0] = np.sqrt(G[jbest, jbest])
    act[0] = jbest
    sgn[0] = 1.0 if c[jbest] > 0 else -1.0
    pos[jbest] = 0
    just_added = jbest
    just_dropped = -1
    steps = 0
    status = 1
    piv_tol = 1e-10
    while steps < max_steps:
        steps += 1
        # direction u = s_A G_AA^{-1}, and a = u G_{A,:}
        for i in range(s):
            rhs[i] = sgn[i]
        chol_solve(L, s, rhs, u)
        gram_combo(G, act, u, s, a)
        # step length
        gamma = mu - lam
        kind = 0  # 0 end, 1 join, 2 drop
        jj = -1
        sj = 0.0
        for j in range(K):
            if pos[j] >= 0 or excl[j] or j == just_dropped:
                continue
            cj = c[j]
            aj = a[j]
            # join with sign σ when σ(c_j − γ a_j) = μ − γ, i.e. γ = (μ − σc_j)/(1 − σa_j); σ = +1 only
            # for z ≥ 0 (the test against the current γ needs no division)
            for t in range(1 if nonneg else 2):
                sg = 1.0 - 2.0 * t
                d = 1.0 - sg * aj
                num = mu - sg * cj
                if d > 1e-12 and num < gamma * d:
                    g = num / d
                    if g < 0.0:
                        g = 0.0
                    gamma = g
                    kind = 1
                    jj = j
                    sj = sg
        for i in range(s):
            if act[i] == just_added:
                continue
            zi = z[act[i]]
            ui = u[i]
            if ui != 0.0 and zi * ui < 0.0:
                g = -zi / ui
                if g < gamma:
                    gamma = g
                    kind = 2
                    jj = i
        # move
        for i in range(s):
            z[act[i]] += gamma * u[i]
        for j in range(K):
            c[j] -= gamma * a[j]
        mu -= gamma
        for i in range(s):
            c[act[i]] = sgn[i] * mu
        just_added = -1
        just_dropped = -1
        if kind == 0:
            status = 0
            break
        if kind == 1:
            # append a row to the Cholesky factor: L y = G_{A,j}
            for i in range(s):
                rhs[i] = G[act[i], jj]
            for i in range(s):
                v = rhs[i]
                for k in range(i):
                    v -= L[i, k] * tmp[k]
                tmp[i] = v / L[i, i]
            d = G[jj, jj]
            for i in range(s):
                d -= tmp[i] * tmp[i]
            if d <= piv_tol * G[jj, jj]:
                excl[jj] = True  # linearly dependent on the active atoms
                continue
            if s >= max_support:
                status = 2
                break
            for i in range(s):
                L[s, i] = tmp[i]
            L[s, s] = np.sqrt(d)
            act[s] = jj
            sgn[s] = sj
            pos[jj] = s
            s += 1
            just_added = jj
        else:
            jv = act[jj]
            z[jv] = 0.0
            pos[jv] = -1
            s = chol_delete(L, s, jj)
            for i in range(jj, s):
                act[i] = act[i + 1]
                sgn[i] = sgn[i + 1]
                pos[act[i]] = i
            just_dropped = jv
            if s == 0:
                # restart from the empty set: the next variable is the most correlated one
                mu2 = -1.0
                jbest = -1
                for j in range(K):
                    if excl[j]:
                        continue
                    v = c[j] if nonneg else abs(c[j])
                    if v > mu2:
                        mu2 = v
                        jbest = j
                if mu2 <= lam or jbest < 0:
                    status = 0
                    break
                mu = mu2
                L[0, 0] = np.sqrt(G[jbest, jbest])
                act[0] = jbest
                sgn[0] = 1.0 if c[jbest] > 0 else -1.0
                pos[jbest] = 0
                s = 1
                just_added = jbest
        if steps % 16 == 0:
            # refresh the correlations c = b − zG against drift
            for j in range(K):
                c[j] = b[j]
            for i in range(s):
                zi = z[act[i]]
                row = act[i]
                for j in range(K):
                    c[j] -= zi * G[row, j]
    # exact solve on the final support at λ; keep it when the signs agree
    if s > 0:
        for i in range(s):
            rhs[i] = b[act[i]] - lam * sgn[i]
        chol_solve(L, s, rhs, u)
        ok = True
        for i in range(s):
            if u[i] * sgn[i] <= 0.0:
                ok = False
        if ok:
            for i in range(s):
                z[act[i]] = u[i]
        if nonneg:
            for i in range(s):
                if z[act[i]] < 0.0:
                    z[act[i]] = 0.0
    return status, steps


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc", "nsz"})
def cert_stats(b, G, z, nonneg, a, out):
    """Duality-gap quantities from Gram terms: out = (z·c, ‖z‖₁, z·b, max_j c_j or |c_j|), c = b − zG."""
    K = b.shape[0]
    for j in range(K):
        a[j] = b[j]
    zb = 0.0
    l1 = 0.0
    for i in range(K):
        zi = z[i]
        if zi != 0.0:
            zb += zi * b[i]
            l1 += abs(zi)
            for j in range(K):
                a[j] -= zi * G[i, j]
    zc = 0.0
    cmax = 0.0
    for j in range(K):
        zc += z[j] * a[j]
        v = a[j] if nonneg else abs(a[j])
        if v > cmax:
            cmax = v
    out[0] = zc
    out[1] = l1
    out[2] = zb
    out[3] = cmax


@njit(parallel=True, cache=True, nogil=True)
def _lars_batch(B, G, lam, nonneg, max_support, max_steps, nchunk, Z, status, steps, stats):
    n, K = B.shape
    smax = max_support
    for ci in prange(nchunk):
        start = ci * n // nchunk
        stop = (ci + 1) * n // nchunk
        L = np.zeros((smax + 1, smax + 1))
        act = np.zeros(smax + 1, np.int64)
        sgn = np.zeros(smax + 1)
        u = np.zeros(smax + 1)
        rhs = np.zeros(smax + 1)
        tmp = np.zeros(smax + 1)
        a = np.zeros(K)
        c = np.zeros(K)
        pos = np.zeros(K, np.int64)
        excl = np.zeros(K, np.bool_)
        for i in range(start, stop):
            st, ns = lars_one(B[i], G, lam[i], nonneg, Z[i], L, act, sgn, u, a, c, rhs, tmp, pos, excl,
                               smax, max_steps)
            status[i] = st
            cert_stats(B[i], G, Z[i], nonneg, a, stats[i])
            steps[i] = ns


def lars_lasso(B, G, lam, nonneg: bool, max_support: int | None = None, max_steps: int | None = None,
               n_features: int | None = None):
    """Exact lasso codes from Gram quantities: ``(Z, status, steps, stats)`` (NumPy arrays).

    ``B`` (n × K) = X Dᵀ, ``G`` (K × K) = D Dᵀ, ``lam`` a float or an (n,) array, ``nonneg`` for z ≥ 0.
    ``status[i]``: 0 finished, 1 step limit reached, 2 support would exceed ``max_support``
    (default min(K, n_features): G_AA is singular beyond rank D ≤ n_features, so this only bounds the
    workspace). ``stats[i]`` = (z·c, ‖z‖₁, z·b, ‖c‖∞ or max c) with c = b − zG, from which
    :func:`gap_from_stats` certifies each sample.
    """
    B = np.ascontiguousarray(B, dtype=np.float64)
    G = np.ascontiguousarray(G, dtype=np.float64)
    n, K = B.shape
    lam_a = np.broadcast_to(np.asarray(lam, dtype=np.float64).reshape(-1), (n,)).copy() if np.ndim(lam) else \
        np.full(n, float(lam))
    p = n_features if n_features is not None else K
    smax = min(K, p) if max_support is None else int(min(max_support, K))
    msteps = 8 * K + 100 if max_steps is None else int(max_steps)
    Z = np.zeros((n, K))
    status = np.zeros(n, np.int64)
    steps = np.zeros(n, np.int64)
    nchunk = max(1, min(n, 8 * get_num_threads()))
    stats = np.zeros((n, 4))
    _lars_batch(B, G, lam_a, bool(nonneg), smax, msteps, nchunk, Z, status, steps, stats)
    return Z, status, steps, stats


def gap_from_stats(xx, stats, lam):
    r"""Primal objective and duality gap per sample from :func:`lars_lasso`'s ``stats`` and ``xx = ‖x‖²``.

    With :math:`c = b - zG = rD^\top`: :math:`\|r\|^2 = \|x\|^2 - z\cdot b - z\cdot c`,
    :math:`r\cdot x = \|x\|^2 - z\cdot b`; the dual point :math:`\theta = \sigma r`,
    :math:`\sigma = \min(1, \lambda/\|c\|_\infty)`, gives gap :math:`P - \sigma\, r\cdot x + \tfrac12\sigma^2\|r\|^2`,
    which for :math:`\sigma = 1` is :math:`\lambda\|z\|_1 - z\cdot c` (no cancellation against :math:`\|x\|^2`).
    """
    zc, l1, zb, cmax = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    rr = np.maximum(xx - zb - zc, 0.0)
    rx = xx - zb
    P = 0.5 * rr + lam * l1
    sig = np.where(cmax <= lam, 1.0, lam / np.where(cmax <= lam, 1.0, cmax))
    gap = np.where(sig >= 1.0, lam * l1 - zc, P - sig * rx + 0.5 * sig * sig * rr)
    return P, np.maximum(gap, 0.0)
