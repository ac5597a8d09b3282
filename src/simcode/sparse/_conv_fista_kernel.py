r"""Compiled (numba) 1-D convolutional FISTA: all iterations for one signal fused in one loop nest.

For short 1-D signals and small filter banks (the spike-sorting set-up: 3 filters of 24 samples, 500-sample
windows) a torch iteration costs four FFTs and a dozen operator launches per signal batch; here every signal
runs its ``n_iter`` iterations inside L1 cache with direct convolutions (inner loops over the code index,
contiguous, vectorised by LLVM). Same operators as :mod:`simcode.sparse._convolution`:

* synthesis ``(Hx)[c, m + l] = Σ_k Σ_l h[k, c, l] x[k, m]`` (``conv_transpose1d``),
* adjoint ``(Hᵀr)[k, m] = Σ_c Σ_l h[k, c, l] r[c, m + l]`` (``conv1d``),

and the FISTA step of paper 004 (encoder of CRsAE / the CSC step of CDL), for the Gaussian data term with an
optional mask ``w`` on the signal samples (``½‖w ⊙ (y − Hx)‖²``, ``w ∈ {0, 1}``):

.. math::  x_t = S_\tau\big(z_{t-1} + \alpha H^\top (w \odot (y - H z_{t-1}))\big),\qquad
           z_t = x_t + \beta_t (x_t - x_{t-1}),

with ``S_τ`` the shifted ReLU ``(v − τ)_+`` (non-negative ℓ1) or the soft threshold (ℓ1), ``τ = λα``.
Momentum: a fixed sequence ``β_t`` (the unrolled network: identical to :meth:`CRsAE._encode`) or FISTA's
``t``-sequence with per-signal gradient restart (O'Donoghue & Candès 2015), as in :func:`conv._fista_torch`
(the formula of :func:`simcode.core.nesterov_momentum`, inlined in the compiled loop).
Works in the array's precision (float32 or float64). JIT compile on first call (cached on disk).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__: list[str] = []


@njit(cache=True, nogil=True)
def _correlate(e, r, out):  # pragma: no cover - compiled
    """out[k, m] = Σ_c Σ_l e[k, c, l] r[c, m + l]: the adjoint Eᵀr of the convolution with filters e."""
    K, C, L = e.shape
    M = out.shape[1]
    for k in range(K):
        for m in range(M):
            out[k, m] = 0.0
        for c in range(C):
            for l in range(L):
                ev = e[k, c, l]
                for m in range(M):
                    out[k, m] += ev * r[c, m + l]


@njit(cache=True, nogil=True, fastmath=False)
def _fista_1d(y, w, xm, h, e, X, Z, Tm, alpha, tau, betas, n_iter, nonneg, restart, use_gram):  # pragma: no cover
    # X, Z (N, K, M) codes and momentum points, Tm (N,) FISTA t: read as the starting state, updated in place
    # w (1 or N, S) data-term weights; xm (1 or N, M) code mask (codes forced to 0 where xm == 0)
    N, C, S = y.shape
    K, _, L = h.shape
    M = S - L + 1
    dt = y.dtype
    r = np.empty((C, S), dt)
    g = np.empty((K, M), dt)
    ety = np.empty((K, M), dt)
    x = np.empty((K, M), dt)
    z = np.empty((K, M), dt)
    xn = np.empty((K, M), dt)
    nz_k = np.empty(K * M, np.int64)
    nz_m = np.empty(K * M, np.int64)
    ws = np.empty(S, np.int64)
    wq = np.empty(S, np.int64)
    u = np.empty((C, S), dt)
    # Gram of the filter banks, reversed lags: G[k, k2, j] = sum_c sum_l e[k,c,l] h[k2,c,l-d], d = L-1-j
    W = 2 * L - 1
    G = np.zeros((K, K, W), dt)
    for k in range(K):
        for k2 in range(K):
            for j in range(W):
                d = L - 1 - j
                acc = 0.0
                for c in range(C):
                    for l in range(L):
                        if 0 <= l - d < L:
                            acc += e[k, c, l] * h[k2, c, l - d]
                G[k, k2, j] = acc
    dense_cost = 2 * C * L * M
    for n in range(N):
        wn = w[n] if w.shape[0] > 1 else w[0]
        xmn = xm[n] if xm.shape[0] > 1 else xm[0]
        # samples with w != 1: the Gram form is corrected there by E^T((1 - w) * Hz)
        nw = 0
        for s in range(S):
            wq[s] = -1
            if wn[s] != 1.0:
                ws[nw] = s
                wq[s] = nw
                nw += 1
        corr_cost = nw * C
        x[:, :] = X[n]
        z[:, :] = Z[n]
        t = Tm[n]
        nnz = 0
        for k in range(K):
            for m in range(M):
                if z[k, m] != 0.0:
                    nz_k[nnz] = k
                    nz_m[nnz] = m
                    nnz += 1
        if use_gram:  # E^T (w y) once per signal
            for c in range(C):
                for s in range(S):
                    r[c, s] = wn[s] * y[n, c, s]
            _correlate(e, r, ety)
        for it in range(n_iter):
            if use_gram and nnz * (K * W + L) + corr_cost <= dense_cost:
                # sparse z: g = E^T(w y) - (E^T H) z + E^T((1 - w) H z), scattering each non-zero's Gram column
                for k in range(K):
                    for m in range(M):
                        g[k, m] = ety[k, m]
                # u = (1 - w) H z on the masked samples, from the non-zeros of z whose footprint reaches them
                for q in range(nw):
                    for c in range(C):
                        u[c, q] = 0.0
                if nw > 0:
                    for q in range(nnz):
                        k2 = nz_k[q]
                        m2 = nz_m[q]
                        v = z[k2, m2]
                        for l in range(L):
                            qq = wq[m2 + l]
                            if qq >= 0:
                                f = (1.0 - wn[m2 + l]) * v
                                for c in range(C):
                                    u[c, qq] += f * h[k2, c, l]
                for q in range(nw):
                    s = ws[q]
                    lo = max(0, s - M + 1)
                    hi = min(L, s + 1)
                    for c in range(C):
                        uv = u[c, q]
                        if uv != 0.0:
                            for k in range(K):
                                for l in range(lo, hi):
                                    g[k, s - l] += e[k, c, l] * uv
                for q in range(nnz):
                    k2 = nz_k[q]
                    m2 = nz_m[q]
                    v = z[k2, m2]
                    m0 = m2 - L + 1
                    lo = max(0, m0)
                    hi = min(M, m2 + L)
                    for k in range(K):
                        for m in range(lo, hi):
                            g[k, m] -= G[k, k2, m - m0] * v
            else:
                # dense: r = w * (y - H z), g = E^T r
                for c in range(C):
                    for s in range(S):
                        r[c, s] = y[n, c, s]
                for k in range(K):
                    for c in range(C):
                        for l in range(L):
                            hv = h[k, c, l]
                            for m in range(M):
                                r[c, m + l] -= hv * z[k, m]
                for c in range(C):
                    for s in range(S):
                        r[c, s] *= wn[s]
                _correlate(e, r, g)
            # x_new = prox(z + alpha g); restart test <x_new - x, z - x_new> > 0
            dot = 0.0
            for k in range(K):
                for m in range(M):
                    v = z[k, m] + alpha * g[k, m]
                    if nonneg:
                        v = v - tau
                        v = v if v > 0.0 else 0.0
                    else:
                        if v > tau:
                            v = v - tau
                        elif v < -tau:
                            v = v + tau
                        else:
                            v = 0.0
                    v = v * xmn[m]
                    xn[k, m] = v
                    dot += (v - x[k, m]) * (z[k, m] - v)
            if restart:
                if dot > 0.0:
                    t_new = 1.0
                    beta = 0.0
                else:  # simcode.core.nesterov_momentum, inlined (no Python call inside the compiled loop)
                    t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
                    beta = (t - 1.0) / t_new
                t = t_new
            else:
                beta = betas[it]
            nnz = 0
            for k in range(K):
                for m in range(M):
                    v = xn[k, m]
                    zv = v + beta * (v - x[k, m])
                    z[k, m] = zv
                    x[k, m] = v
                    if zv != 0.0:
                        nz_k[nnz] = k
                        nz_m[nnz] = m
                        nnz += 1
        X[n] = x
        Z[n] = z
        Tm[n] = t


def fista_1d(y: np.ndarray, h: np.ndarray, alpha: float, tau: float, n_iter: int, *, nonneg: bool = True,
             betas=None, x0=None, mask=None, enc=None, code_mask=None, state=None) -> np.ndarray:
    """Run the fused kernel. ``y`` (N, C, S), ``h`` (K, C, L) decoder filters, ``enc`` (K, C, L) encoder
    filters (``h`` if ``None``: weight tying); ``betas`` (n_iter,) fixed momenta or ``None`` for FISTA with
    gradient restart; ``x0`` (N, K, S−L+1) warm start (zeros if ``None``); ``mask`` (S,) or (N, S) 0/1 weights
    of the data term (ones if ``None``); ``code_mask`` (M,) or (N, M) 0/1: codes forced to 0 where 0;
    ``state``: a dict ``{"z", "t"}`` of momentum points and FISTA ``t`` per signal, read and updated in place so
    that consecutive calls continue one FISTA run (``x0`` is then the current iterate). Returns the codes
    (N, K, S−L+1) in ``y``'s dtype.

    An iteration whose momentum point ``z`` is sparse uses
    ``Eᵀ(w(y − Hz)) = Eᵀ(wy) − (EᵀH)z + Eᵀ((1 − w)Hz)`` with the filters' Gram (auto/cross-correlations over
    lags ``|d| < L``) scattered from each non-zero of ``z`` (exact: valid codes have no boundary terms), and
    the last term evaluated only at the samples where ``w ≠ 1`` (the padding of a ``"full"`` boundary) from the
    non-zeros of ``z`` that reach them: cost about ``nnz(z)·(K·(2L−1) + L)`` instead of ``2·K·C·L·M``; otherwise
    the dense iteration."""
    dt = y.dtype
    N, C, S = y.shape
    K, _, L = h.shape
    M = S - L + 1
    y = np.ascontiguousarray(y)
    h = np.ascontiguousarray(h, dtype=dt)
    e = h if enc is None else np.ascontiguousarray(enc, dtype=dt)
    X = np.zeros((N, K, M), dt) if x0 is None else np.array(x0, dtype=dt, order="C", copy=True)
    w = np.ones((1, S), dt) if mask is None else np.ascontiguousarray(mask, dtype=dt).reshape(-1, S)
    xm = np.ones((1, M), dt) if code_mask is None else np.ascontiguousarray(code_mask, dtype=dt).reshape(-1, M)
    if state is not None and "z" in state:
        Z, Tm = state["z"], state["t"]
    else:
        Z, Tm = X.copy(), np.ones(N)
        if state is not None:
            state["z"], state["t"] = Z, Tm
    restart = betas is None
    b = np.zeros(max(n_iter, 1), dt) if restart else np.ascontiguousarray(betas, dtype=dt)
    _fista_1d(y, w, xm, h, e, X, Z, Tm, dt.type(alpha), dt.type(tau), b, int(n_iter), bool(nonneg), restart, True)
    return X
