"""Compiled (numba) kernels for RDMs on the CPU: distance matrices from blocked Gram products, and the
one-pass statistics of the whitened RDM comparison.

* :func:`rdm_cpu` forms a squared-Euclidean / Euclidean / correlation-distance RDM from the upper-triangular
  blocks of the Gram matrix G = X Xᵀ (BLAS on row blocks X[i0:i1] X[i0:]ᵀ, so only ~n²p/2 multiply-adds,
  like a syrk), then one compiled pass turns each block into distances d_ij = ‖x_i‖² + ‖x_j‖² − 2 g_ij
  (√ for Euclidean; 1 − g_ij for correlation of normalised rows) and writes it either into both triangles of
  a square matrix or into a condensed vector (scipy ``pdist`` order). Where the formula cancels — the result
  is below ``tol``·(‖x_i‖² + ‖x_j‖²) (``tol`` for correlation), i.e. near-duplicate rows — the entry is
  recomputed directly as Σ_k (x_ik − x_jk)² (½ of it for correlation: 1 − u·v = ‖u − v‖²/2 for unit rows),
  so small distances keep their relative accuracy instead of collapsing to 0. The output is allocated by
  NumPy, which asks the kernel for transparent huge pages (page faults on a 200 MB output otherwise cost as
  much as the arithmetic).
* :func:`pair_stats` reads the strict upper triangles of two RDMs (square or condensed) once and returns
  Σ a_ij b_ij, Σ a_ij², Σ b_ij² over i < j and the row sums of both symmetric matrices; the whitened cosine
  follows in O(n) (see ``rdm_comparison``). Accumulation is in float64 with per-row partial sums.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__: list[str] = []

_BLOCK = 256


@njit(cache=True)
def _direct(x, i, j):
    acc = 0.0
    for k in range(x.shape[1]):
        d = x[i, k] - x[j, k]
        acc += d * d
    return acc


@njit(cache=True)
def _row(out, o0, G, r, x, sq, i, n, mode, tol):
    """Entries (i, j), j = i+1..n-1, into out[o0 + j]: one branch-free (vectorisable) pass with the Gram
    formula that counts the cancelling entries, then — only for a row that has some — a scalar pass that
    recomputes those directly."""
    si = sq[i]
    bad = 0
    for j in range(i + 1, n):
        g = G[r, j - i + r]            # column of j in G = X[i0:i0+b] X[i0:]ᵀ is j - i0 = j - i + r
        if mode == 2:                   # correlation distance of normalised rows
            v = 1.0 - g
            bad += v < tol
        else:
            s = si + sq[j]
            v = s - 2.0 * g
            bad += v < tol * s
            v = max(v, 0.0)
            if mode == 1:
                v = np.sqrt(v)
        out[o0 + j] = v
    if bad:
        for j in range(i + 1, n):
            g = G[r, j - i + r]
            if mode == 2:
                if 1.0 - g < tol:
                    out[o0 + j] = 0.5 * _direct(x, i, j)
            else:
                s = si + sq[j]
                if s - 2.0 * g < tol * s:
                    v = _direct(x, i, j)
                    out[o0 + j] = np.sqrt(v) if mode == 1 else v


@njit(cache=True)
def _block_square(D, G, x, sq, i0, mode, tol):
    """Rows i0..i0+b of the square RDM from G = X[i0:i0+b] X[i0:]ᵀ, and their mirror image below the diagonal."""
    b = G.shape[0]
    n = D.shape[0]
    for r in range(b):
        i = i0 + r
        D[i, i] = 0.0
        _row(D[i], 0, G, r, x, sq, i, n, mode, tol)
    for j in range(i0 + 1, n):          # mirror: row j, columns i0..min(j, i0+b) (contiguous writes)
        stop = min(b, j - i0)
        for r in range(stop):
            D[j, i0 + r] = D[i0 + r, j]


@njit(cache=True)
def _block_condensed(out, G, x, sq, i0, n, mode, tol):
    b = G.shape[0]
    for r in range(b):
        i = i0 + r
        base = n * i - (i * (i + 1)) // 2 - i - 1     # condensed index of (i, j) = base + j
        _row(out, base, G, r, x, sq, i, n, mode, tol)


def rdm_cpu(x: np.ndarray, mode: int, condensed: bool, tol: float) -> np.ndarray:
    """RDM of the rows of the C-contiguous float32/float64 array ``x``; ``mode`` 0 = squared Euclidean,
    1 = Euclidean, 2 = correlation (rows of ``x`` already centred and normalised); entries below ``tol``
    relative to ‖x_i‖² + ‖x_j‖² (mode 2: below ``tol``) are recomputed directly."""
    n = x.shape[0]
    # Euclidean: the Gram products use the column-centred rows (distances are translation invariant and
    # centring shrinks ‖x‖², hence the cancellation); the direct recomputation reads the rows as given
    xc = x - x.mean(0) if mode != 2 else x
    sq = np.einsum("ij,ij->i", xc, xc) if mode != 2 else np.zeros(n, dtype=x.dtype)
    out = np.empty(n * (n - 1) // 2 if condensed else (n, n), dtype=x.dtype)
    buf = np.empty(min(_BLOCK, n) * n, dtype=x.dtype)
    xT = np.ascontiguousarray(xc.T)
    t = x.dtype.type(tol)
    for i0 in range(0, n, _BLOCK):
        i1 = min(n, i0 + _BLOCK)
        G = buf[: (i1 - i0) * (n - i0)].reshape(i1 - i0, n - i0)
        np.matmul(xc[i0:i1], xT[:, i0:], out=G)
        if condensed:
            _block_condensed(out, G, x, sq, i0, n, mode, t)
        else:
            _block_square(out, G, x, sq, i0, mode, t)
    return out


@njit(cache=True)
def _stats_square(A, B):
    n = A.shape[0]
    Ra = np.zeros(n)
    Rb = np.zeros(n)
    ab = 0.0
    aa = 0.0
    bb = 0.0
    for i in range(n):
        sab = 0.0
        saa = 0.0
        sbb = 0.0
        ra = 0.0
        rb = 0.0
        for j in range(i + 1, n):
            x = np.float64(A[i, j])
            y = np.float64(B[i, j])
            sab += x * y
            saa += x * x
            sbb += y * y
            ra += x
            rb += y
            Ra[j] += x
            Rb[j] += y
        ab += sab
        aa += saa
        bb += sbb
        Ra[i] += ra
        Rb[i] += rb
    return ab, aa, bb, Ra, Rb


@njit(cache=True)
def _stats_condensed(a, b, n):
    Ra = np.zeros(n)
    Rb = np.zeros(n)
    ab = 0.0
    aa = 0.0
    bb = 0.0
    k = 0
    for i in range(n):
        sab = 0.0
        saa = 0.0
        sbb = 0.0
        ra = 0.0
        rb = 0.0
        for j in range(i + 1, n):
            x = np.float64(a[k])
            y = np.float64(b[k])
            k += 1
            sab += x * y
            saa += x * x
            sbb += y * y
            ra += x
            rb += y
            Ra[j] += x
            Rb[j] += y
        ab += sab
        aa += saa
        bb += sbb
        Ra[i] += ra
        Rb[i] += rb
    return ab, aa, bb, Ra, Rb


def pair_stats(a: np.ndarray, b: np.ndarray, n: int):
    """(Σ_{i<j} a b, Σ a², Σ b², row sums of sym(a), row sums of sym(b)) for two RDMs of the same layout."""
    if a.ndim == 2:
        return _stats_square(a, b)
    return _stats_condensed(a, b, n)
