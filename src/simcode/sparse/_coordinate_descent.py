r"""Compiled (numba) lasso per sample: working-set coordinate descent in Gram form, certified by the duality gap.

Solves, for every row :math:`b_i` of ``B = X Dᵀ`` with ``G = D Dᵀ`` (computed once by BLAS),

.. math::  \min_z \tfrac12 z G z^\top - z\cdot b_i + \lambda_i \|z\|_1 \quad(\text{optionally } z \ge 0),

the lasso :math:`\tfrac12\|x_i - zD\|^2 + \lambda_i\|z\|_1` up to the constant :math:`\tfrac12\|x_i\|^2`.

Method (per sample; the ingredients are those of glmnet — Friedman, Hastie & Tibshirani 2010 — and of
working-set solvers such as Blitz / celer — Johnson & Guestrin 2015, Massias et al. 2018):

1. **Correlations and certificate.** With :math:`c = b - zG = (x - zD)D^\top`, the dual point
   :math:`\theta = \sigma r`, :math:`\sigma = \min(1, \lambda/\|c\|_\infty)` gives the duality gap
   (:func:`simcode.sparse._lars.gap_from_stats`); the sample is finished when gap ≤ tol · primal.
2. **Working set** :math:`W`. Atoms outside :math:`W` that violate the optimality condition
   (:math:`|c_j| > \lambda`) are added, the largest :math:`|c_j|` first (``p0`` at the start, then half the
   current support, at least 8), and the sub-Gram matrix :math:`G_{WW}` is gathered once per addition.
3. **Coordinate descent on W** with the correlations :math:`c_W` kept current:
   :math:`z_j \leftarrow S_\lambda(c_j + G_{jj} z_j)/G_{jj}` (soft threshold; one-sided for :math:`z\ge0`),
   then :math:`c_W \mathrel{-}= \Delta z_j\, G_{jW}` — :math:`O(|W|)` per update. After a sweep that left no
   zero coordinate of :math:`W` violating, only the non-zero coordinates are swept (glmnet's active cycling).
   The inner solve stops on the sub-problem's own duality gap: at 5 % of the current full gap while many atoms
   are still joining, at the final tolerance otherwise.
4. **Newton polish.** Every 10th sweep in which no coordinate entered or left the support, the exact minimiser
   on that support and sign pattern, :math:`z_S = G_{SS}^{-1}(b_S - \lambda\,\mathrm{sign}(z_S))`, is
   computed by Cholesky and accepted when its signs agree (it then lies on the same orthant face as the current
   point, where it is the minimiser, so the objective cannot increase). This removes coordinate descent's slow
   tail on coherent dictionaries.
5. The full correlations are recomputed from scratch (no drift) at every certificate check.

Samples that exhaust the sweep budget or the working-set capacity return status 1 or 2; the batch kernel
solves them by the LARS–homotopy of :mod:`simcode.sparse._lars` in the same pass.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from ._lars import cert_stats, chol_solve, gram_combo, lars_one

__all__: list[str] = []

_FM = {"contract", "reassoc", "nsz"}


@njit(cache=True, nogil=True)
def top_k(score, idx, n, k):
    """Reorder ``idx[:n]`` so that ``idx[:k]`` index the k largest ``score`` values (quickselect, in place)."""
    lo = 0
    hi = n - 1
    while lo < hi:
        a = score[idx[lo]]
        b = score[idx[(lo + hi) >> 1]]
        c = score[idx[hi]]
        if a < b:
            a, b = b, a
        if b < c:
            b = c if c < a else a  # median of three
        i = lo
        j = hi
        while i <= j:
            while score[idx[i]] > b:
                i += 1
            while score[idx[j]] < b:
                j -= 1
            if i <= j:
                t = idx[i]
                idx[i] = idx[j]
                idx[j] = t
                i += 1
                j -= 1
        if k - 1 <= j:
            hi = j
        elif k - 1 >= i:
            lo = i
        else:
            break


@njit(cache=True, nogil=True, fastmath=_FM)
def _chol_factor(A, s):
    """In-place lower Cholesky factor of the leading s×s block of A; False when not numerically positive definite."""
    for j in range(s):
        d = A[j, j]
        for k in range(j):
            d -= A[j, k] * A[j, k]
        if not d > 1e-10 * A[j, j]:
            return False
        ljj = np.sqrt(d)
        A[j, j] = ljj
        for i in range(j + 1, s):
            v = A[i, j]
            for k in range(j):
                v -= A[i, k] * A[j, k]
            A[i, j] = v / ljj
    return True


@njit(cache=True, nogil=True)
def _primal_and_gap(xx, zb, zc, l1, cmax, lam):
    """Primal objective and duality gap from Gram terms (scalar form of
    :func:`simcode.sparse._lars.gap_from_stats`; same dual point θ = σ r, σ = min(1, λ/cmax))."""
    rr = xx - zb - zc
    if rr < 0.0:
        rr = 0.0
    P = 0.5 * rr + lam * l1
    if cmax <= lam:
        return P, lam * l1 - zc
    sig = lam / cmax
    return P, P - sig * (xx - zb) + 0.5 * sig * sig * rr


@njit(cache=True, nogil=True, fastmath=_FM)
def _polish(b, lam, p, W, GW, zW, cW, S, GS, rhs, sol):
    """Exact solve on the support and sign pattern of zW (Cholesky of G_SS); applied when the signs agree."""
    s = 0
    for i in range(p):
        if zW[i] != 0.0:
            S[s] = i
            s += 1
    if s == 0:
        return False
    for a in range(s):
        ia = S[a]
        for t in range(a + 1):
            GS[a, t] = GW[ia, S[t]]
        rhs[a] = b[W[ia]] - (lam if zW[ia] > 0.0 else -lam)
    if not _chol_factor(GS, s):
        return False
    chol_solve(GS, s, rhs, sol)
    for a in range(s):
        if sol[a] * zW[S[a]] <= 0.0:
            return False
    for a in range(s):
        ia = S[a]
        d = sol[a] - zW[ia]
        if d != 0.0:
            zW[ia] = sol[a]
            for k in range(p):
                cW[k] -= d * GW[ia, k]
    return True


@njit(cache=True, nogil=True, fastmath=_FM)
def _cdws_one(b, xx, G, lam, nonneg, tol, z, c, W, inW, GW, ginv, zW, cW, cand, score, S, GS, rhs, sol, p0,
              max_sweeps, max_support, stats):
    """Working-set coordinate descent for one sample; writes z. Returns (status, sweeps):
    status 0 certified (gap ≤ tol · primal; ``stats`` then hold the certificate quantities), 1 sweep budget
    spent, 2 working set would exceed its capacity or the certified support exceeds ``max_support``."""
    K = b.shape[0]
    wmax = GW.shape[0]
    for j in range(K):
        z[j] = 0.0
        c[j] = b[j]
        inW[j] = False
    p = 0
    sweeps = 0
    work = 0
    status = 1
    while True:
        # certificate from the full correlations c = b − zG, and the violators outside W
        zc = 0.0
        l1 = 0.0
        zb = 0.0
        cmax = 0.0
        for i in range(p):
            zi = zW[i]
            if zi != 0.0:
                zc += zi * c[W[i]]
                zb += zi * b[W[i]]
                l1 += abs(zi)
        nv = 0
        work += 4 * K
        for j in range(K):
            v = c[j] if nonneg else abs(c[j])
            if v > cmax:
                cmax = v
            if v > lam and not inW[j]:
                score[j] = v
                cand[nv] = j
                nv += 1
        P, gap = _primal_and_gap(xx, zb, zc, l1, cmax, lam)
        stats[0] = zc
        stats[1] = l1
        stats[2] = zb
        stats[3] = cmax
        if gap <= tol * P:
            ns = 0
            for i in range(p):
                if zW[i] != 0.0:
                    ns += 1
            status = 0 if ns <= max_support else 2  # a support over the caller's bound is not accepted
            break
        if sweeps >= max_sweeps:
            break
        if nv > 0:
            if p == 0:
                nadd = p0
            else:
                ns = 0
                for i in range(p):
                    if zW[i] != 0.0:
                        ns += 1
                nadd = max(8, ns // 2)
            if nadd > nv:
                nadd = nv
            if p + nadd > wmax:
                status = 2
                break
            if nadd < nv:
                top_k(score, cand, nv, nadd)
            for t in range(nadd):
                j = cand[t]
                W[p + t] = j
                inW[j] = True
                zW[p + t] = 0.0
                cW[p + t] = c[j]
            for t in range(nadd):
                q = p + t
                row = W[q]
                for k in range(p + nadd):
                    g = G[row, W[k]]
                    GW[q, k] = g
                    GW[k, q] = g
                ginv[q] = 1.0 / GW[q, q] if GW[q, q] > 0.0 else 0.0
            work += 4 * nadd * p
            p += nadd
        # inner solve: stop on the W-sub-problem's duality gap
        target = 0.05 * gap if nv > 16 else 0.0
        if target < 0.5 * tol * P:
            target = 0.5 * tol * P
        full = True
        quiet = 0
        while sweeps < max_sweeps:
            sweeps += 1
            work += 2 * p
            changed = False
            for i in range(p):
                zi = zW[i]
                if zi == 0.0 and not full:
                    continue
                gii = GW[i, i]
                if gii <= 0.0:
                    continue
                v = cW[i] + gii * zi
                if v > lam:
                    zn = (v - lam) * ginv[i]
                elif v < -lam and not nonneg:
                    zn = (v + lam) * ginv[i]
                else:
                    zn = 0.0
                d = zn - zi
                work += 16
                if d != 0.0:
                    work += p
                    if zn == 0.0 or zi == 0.0:
                        changed = True
                    zW[i] = zn
                    for k in range(p):
                        cW[k] -= d * GW[i, k]
            quiet = 0 if changed else quiet + 1
            if quiet >= 10:
                quiet = 0
                work += p * p // 4
                _polish(b, lam, p, W, GW, zW, cW, S, GS, rhs, sol)
            zc = 0.0
            l1 = 0.0
            zb = 0.0
            cmax = 0.0
            vz = 0.0
            for i in range(p):
                zi = zW[i]
                ci = cW[i]
                v = ci if nonneg else abs(ci)
                if v > cmax:
                    cmax = v
                if zi != 0.0:
                    zc += zi * ci
                    zb += zi * b[W[i]]
                    l1 += abs(zi)
                elif v > vz:
                    vz = v
            if _primal_and_gap(xx, zb, zc, l1, cmax, lam)[1] <= target:
                break
            full = vz > lam
        # full correlations, recomputed from scratch: c = b − Σ_S z_i G[W_i, :]
        s = 0
        for i in range(p):
            if zW[i] != 0.0:
                S[s] = W[i]
                sol[s] = zW[i]
                s += 1
        work += K * s
        gram_combo(G, S, sol, s, c)
        for j in range(K):
            c[j] = b[j] - c[j]
        for i in range(p):
            cW[i] = c[W[i]]
    for i in range(p):
        z[W[i]] = zW[i]
    return status, sweeps, work


@njit(parallel=True, cache=True, nogil=True)
def _cdws_batch(B, xx, G, lam, nonneg, tol, wmax, p0, max_sweeps, max_support, max_steps, nchunk, Z, status, steps,
                stats, work):
    n, K = B.shape
    for ci in prange(nchunk):
        start = ci * n // nchunk
        stop = (ci + 1) * n // nchunk
        c = np.zeros(K)
        W = np.zeros(K, np.int64)
        inW = np.zeros(K, np.bool_)
        GW = np.zeros((wmax, wmax + 8))  # padded rows: a 4 KiB stride would alias in L1 on the column writes
        zW = np.zeros(wmax)
        ginv = np.zeros(wmax)
        cW = np.zeros(wmax)
        cand = np.zeros(K, np.int64)
        score = np.zeros(K)
        S = np.zeros(wmax, np.int64)
        GS = np.zeros((wmax, wmax + 8))
        rhs = np.zeros(max(wmax, max_support + 1))
        sol = np.zeros(max(wmax, max_support + 1))
        # LARS workspace for the samples coordinate descent does not finish
        L = np.zeros((max_support + 1, max_support + 1))
        act = np.zeros(max_support + 1, np.int64)
        sgn = np.zeros(max_support + 1)
        tmp = np.zeros(max_support + 1)
        a = np.zeros(K)
        pos = np.zeros(K, np.int64)
        excl = np.zeros(K, np.bool_)
        for i in range(start, stop):
            st, ns, wk = _cdws_one(B[i], xx[i], G, lam[i], nonneg, tol, Z[i], c, W, inW, GW, ginv, zW, cW, cand,
                                   score, S, GS, rhs, sol, p0, max_sweeps, max_support, stats[i])
            if st != 0:
                st, ns2 = lars_one(B[i], G, lam[i], nonneg, Z[i], L, act, sgn, sol, a, c, rhs, tmp, pos, excl,
                                    max_support, max_steps)
                cert_stats(B[i], G, Z[i], nonneg, a, stats[i])
                st = 10 + st  # 10 + LARS status: finished by the fallback
                ns += ns2
            status[i] = st
            steps[i] = ns
            work[i] = wk


def cd_lasso(B, G, lam, nonneg: bool, xx, tol: float = 1e-6, max_sweeps: int | None = None,
             max_support: int | None = None, max_steps: int | None = None, n_features: int | None = None,
             p0: int = 32):
    """Lasso codes from Gram quantities by working-set coordinate descent: ``(Z, status, steps, stats, work)``.

    ``B`` (n × K) = X Dᵀ, ``G`` (K × K) = D Dᵀ, ``lam`` a float or an (n,) array, ``xx`` (n,) = ‖x_i‖²,
    ``tol`` the relative duality gap at which a sample is finished. ``status[i]``: 0 certified by coordinate
    descent; 10 + the LARS status (:func:`simcode.sparse._lars.lars_lasso`) for samples that exceeded the
    sweep budget (``max_sweeps``, default 1000) or the working set's capacity (min(K, 4 × n_features + 64)),
    or whose support exceeds ``max_support`` (default min(K, n_features)), and were solved by the LARS fallback
    in the same pass. ``steps[i]`` counts sweeps (+ LARS steps);
    ``work[i]`` the inner-loop element operations of coordinate descent (a machine-independent cost used by
    :func:`lasso_gram` to choose a solver). ``stats`` as in :func:`~simcode.sparse._lars.lars_lasso`;
    :func:`~simcode.sparse._lars.gap_from_stats` turns them into the certificate.
    """
    B = np.ascontiguousarray(B, dtype=np.float64)
    G = np.ascontiguousarray(G, dtype=np.float64)
    n, K = B.shape
    lam_a = _per_sample(lam, n)
    xx = np.ascontiguousarray(np.broadcast_to(np.asarray(xx, dtype=np.float64), (n,)))
    p = n_features if n_features is not None else K
    smax = min(K, p) if max_support is None else int(min(max_support, K))
    wmax = int(min(K, 4 * p + 64))
    msteps = 8 * K + 100 if max_steps is None else int(max_steps)
    msweeps = 1000 if max_sweeps is None else int(max_sweeps)
    Z = np.zeros((n, K))
    status = np.zeros(n, np.int64)
    steps = np.zeros(n, np.int64)
    stats = np.zeros((n, 4))
    work = np.zeros(n, np.int64)
    nchunk = max(1, min(n, 8 * get_num_threads()))
    _cdws_batch(B, xx, G, lam_a, bool(nonneg), float(tol), wmax, int(max(1, p0)), msweeps, smax, msteps, nchunk, Z,
                status, steps, stats, work)
    return Z, status, steps, stats, work


def _per_sample(lam, n):
    if np.ndim(lam):
        return np.broadcast_to(np.asarray(lam, dtype=np.float64).reshape(-1), (n,)).copy()
    return np.full(n, float(lam))


def lasso_gram(B, G, lam, nonneg: bool, xx, tol: float = 1e-6, solver: str = "auto", pilot: int = 64,
               max_support: int | None = None, max_steps: int | None = None, n_features: int | None = None):
    """Lasso codes from Gram quantities by the cheaper of working-set coordinate descent and LARS.

    Returns ``(Z, status, steps, stats, solver)``; ``solver`` is ``"cd"`` or ``"lars"`` (the one used for the
    samples after the pilot). With ``solver="auto"`` the first ``pilot`` samples are solved by coordinate
    descent (:func:`cd_lasso`); its operation count is compared with the LARS path's, estimated from the
    supports found (≈ 1.1 s steps of K(s/2 + 4) + s²/3 operations each — LARS' cost is set by the support
    size s), and the remaining samples go to the solver expected to be cheaper by a margin (coordinate descent
    must be estimated 30 % cheaper, as its operations run at up to 1.5× the time of LARS' in measurements on
    Gaussian and image-patch dictionaries). The choice depends on the data only, never on timings, so results
    are reproducible; the pilot samples keep their certified coordinate-descent codes either way.
    LARS wins on small supports and coherent dictionaries (where coordinate descent converges slowly),
    coordinate descent on large supports (cost O(K s) per check instead of O(K s²) per path).
    """
    from ._lars import lars_lasso

    if solver not in ("auto", "cd", "lars"):
        raise ValueError(f"solver must be 'auto', 'cd' or 'lars', got {solver!r}")
    B = np.ascontiguousarray(B, dtype=np.float64)
    n, K = B.shape
    lam_a = _per_sample(lam, n)
    xx = np.broadcast_to(np.asarray(xx, dtype=np.float64), (n,))
    kw = dict(max_support=max_support, max_steps=max_steps, n_features=n_features)
    if solver == "lars":
        Z, status, steps, stats = lars_lasso(B, G, lam_a, nonneg, **kw)
        return Z, status, steps, stats, "lars"
    m = n if solver == "cd" else min(n, int(pilot))
    Z, status, steps, stats, work = cd_lasso(B[:m], G, lam_a[:m], nonneg, xx[:m], tol, **kw)
    if m == n:
        return Z, status, steps, stats, "cd"
    s = (Z != 0).sum(1).astype(np.float64)
    lars_work = float(np.sum(1.1 * s * (K * (s / 2 + 4) + s * s / 3)))
    use_cd = float(work.sum()) <= 0.7 * lars_work
    if use_cd:
        rest = cd_lasso(B[m:], G, lam_a[m:], nonneg, xx[m:], tol, **kw)[:4]
    else:
        rest = lars_lasso(B[m:], G, lam_a[m:], nonneg, **kw)
    out = tuple(np.concatenate([a, r]) for a, r in zip((Z, status, steps, stats), rest))
    return (*out, "cd" if use_cd else "lars")
