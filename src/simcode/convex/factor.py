"""Recovery of a non-negative code Z from a similarity matrix Q (completely-positive factorisation).

Given Q (n × n, PSD), find Z ≥ 0 (n × k) with Z Zᵀ ≈ Q. Such a Z exists iff Q is completely positive;
it is unique at best up to a permutation of neurons (and, when several neurons share a tuning, up to
splitting them), which the result says.

Method, per restart: (1) Z₀ = V√Λ from the eigen-decomposition (padded to k columns) rotated by a
random orthogonal O; (2) alternate Z ← max(0, B O) and O ← polar(Bᵀ Z) (the Procrustes step), which
searches the orbit {B O : O orthogonal} for a non-negative point (Groetzner & Dür 2020 style);
(3) polish with the symmetric-NMF multiplicative update Z ← Z ⊙ (½ + ½ (Q₊Z) ⊘ (Z Zᵀ Z))
(Ding et al. 2005), which never increases ‖Q₊ − ZZᵀ‖. The best restart is returned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..core import History, SolverResult, check_array, check_int, check_number, check_random_state

__all__ = ["FactorResult", "factor_nonneg"]


@dataclass(kw_only=True)
class FactorResult(SolverResult):
    """Result of :func:`factor_nonneg` (core protocol: status, n_iter, history, time_s).

    ``status`` is ``"converged"`` when the residual reached ``tol``, else ``"max_iter"`` — which is the normal
    outcome for a Q that is not completely positive (no warning: the residual is the answer, see
    :meth:`completely_positive`). ``history["residual"]`` holds the residual of each restart; ``n_iter`` counts
    alternating-projection and polishing steps over all restarts.
    """

    Z: np.ndarray           #: (n, k) non-negative factor
    residual: float         #: ‖Z Zᵀ − Q‖_F / ‖Q‖_F
    rank: int               #: numerical rank of Q
    n_restarts: int
    note: str = "Z is unique at best up to a permutation of its columns (neurons)."

    def completely_positive(self, tol: float = 1e-4) -> bool:
        """True when the factor reproduces Q to relative tolerance ``tol`` (a CP certificate)."""
        return bool(self.residual <= tol)


def _polar(M):
    U, _, Vt = np.linalg.svd(M, full_matrices=False)
    return U @ Vt


def factor_nonneg(Q, n_components=None, n_restarts=10, max_iter=300, polish_iter=500, tol=1e-8,
                  rank_tol=1e-6, random_state=None) -> FactorResult:
    """Non-negative factor Z (n × k) with Z Zᵀ ≈ Q; see the module docstring for the method.

    ``n_components`` defaults to the numerical rank of Q (more neurons can help a CP matrix whose
    CP-rank exceeds its rank). A solver's Q is accurate only to its tolerance, and its rounding (or the
    clipping of tiny negative entries) adds eigenvalues far below the largest; these would show up as a
    neuron split in two. So when fewer eigenvalues exceed ``rank_tol`` × the largest than exceed 1e-9 × it,
    that smaller number of neurons is tried first and kept if it reproduces Q to relative residual
    ``rank_tol``.
    """
    t0 = time.perf_counter()
    Q = check_array(Q, "Q", ndim=2)
    n_restarts = check_int(n_restarts, "n_restarts", low=1)
    max_iter = check_int(max_iter, "max_iter", low=0)
    polish_iter = check_int(polish_iter, "polish_iter", low=0)
    tol = check_number(tol, "tol", low=0.0)
    rank_tol = check_number(rank_tol, "rank_tol", low=0.0, low_inclusive=False)
    n_components = check_int(n_components, "n_components", low=1, allow_none=True)
    if Q.shape[0] != Q.shape[1]:
        raise ValueError(f"Q must be square, got shape {Q.shape}")
    Q = 0.5 * (Q + Q.T)
    rng = check_random_state(random_state)
    nq = np.linalg.norm(Q)
    n = Q.shape[0]
    if nq == 0:
        return FactorResult(Z=np.zeros((n, 1)), residual=0.0, rank=0, n_restarts=0, time_s=time.perf_counter() - t0)
    w, V = np.linalg.eigh(Q)
    if w.min() < -1e-6 * w.max():
        raise ValueError(f"Q must be positive semidefinite (smallest eigenvalue {w.min():.3g})")
    keep = w > 1e-9 * w.max()
    r = int(keep.sum())
    r_loose = int((w > rank_tol * w.max()).sum())
    if n_components is None and 1 <= r_loose < r:
        f = factor_nonneg(Q, r_loose, n_restarts, max_iter, polish_iter, tol, rank_tol, random_state)
        if f.residual <= rank_tol:
            return f
    k = r if n_components is None else n_components
    # k below the numerical rank: factor the best rank-k approximation (the residual says how good)
    idx = np.flatnonzero(keep)[::-1][: min(k, r)]
    B = np.zeros((n, k))
    B[:, : idx.size] = V[:, idx] * np.sqrt(w[idx])
    Qp = np.maximum(Q, 0)
    best = None
    hist = History()
    steps = 0
    for s in range(n_restarts):
        O = np.eye(k) if s == 0 else _polar(rng.standard_normal((k, k)))
        for _ in range(max_iter):
            steps += 1
            Z = np.maximum(B @ O, 0)
            O_new = _polar(B.T @ Z)
            if np.linalg.norm(O_new - O) < 1e-12:
                break
            O = O_new
        Z = np.maximum(B @ O, 0) + 1e-12
        for _ in range(polish_iter):
            num = Qp @ Z
            den = Z @ (Z.T @ Z) + 1e-300
            Z = Z * (0.5 + 0.5 * num / den)
        steps += polish_iter
        res = np.linalg.norm(Z @ Z.T - Q) / nq
        hist.append(residual=res)
        if best is None or res < best[1]:
            best = (Z, res)
        if res <= tol:
            break
    Z, res = best
    Z[Z < 1e-12 * max(Z.max(), 1e-300)] = 0.0
    # order neurons by their preferred stimulus, for a stable presentation
    order = np.argsort(np.argmax(Z, axis=0) + 1e-9 * np.arange(k))
    return FactorResult(Z=Z[:, order], residual=float(res), rank=r, n_restarts=s + 1,
                        status="converged" if res <= tol else "max_iter", n_iter=steps, history=hist.as_dict(),
                        time_s=time.perf_counter() - t0)
