"""Identifiability of non-negative affine autoencoding (semi-NMF): the tight-scattering test of Theorem 1.

Paper: Dorrell, Latham & Whittington, "Convex Efficient Coding" (ICLR 2026), ``shared/papers/000`` §3,
Problem 1 and Theorem 1. Orientation: our ``S`` is (N samples × d sources), the paper's S is d × N; the
data are ``X = S Aᵀ`` (paper: X = A S).

Problem 1: ``z = W_in x + b_in ≥ 0``, ``x = W_out z + b_out`` exactly, minimise
``⟨‖z‖²⟩ + λ(‖W_in‖²_F + ‖W_out‖²_F)``. The optimum is *modular* (Z = Π S + b: every neuron encodes at most
one source) iff Conv(S̄) ⊇ E = {x : xᵀF⁻¹x ≤ 1},  ``F = λ D M D − λ M⁻¹ − Σ``, M = AᵀA, Σ = Cov(S).

Derivation of D (ours, from the KKT conditions; checked numerically in ``tests/test_scattering.py``)
-----------------------------------------------------------------------------------------------------
Write neuron k's input weights with respect to the sources as ``u_k`` (row k of W_in A). As shown in
:mod:`simcode.convex.measure`, for fixed ``U`` the optimal biases and min-norm weights give

    J(U) = Σ_k c(u_k) + λ Tr(M P⁻¹),   c(u) = uᵀ(Σ + λM⁻¹)u + h(u)²,   P = UᵀU,

with ``h(u) = max_i uᵀ(s̄ − s_i)``. Put ``u_k = √w_k θ_k`` (unit θ_k): J is convex in the measure
μ = Σ_k w_k δ_{θ_k} and its KKT conditions are ``Φ(θ) = c(θ) − λ θᵀP⁻¹MP⁻¹θ ≥ 0`` for all θ, with equality on
the support.

*Modular candidate.* Put mass μ_j on σ_j e_j (source j, sign σ_j = which side the neuron fires on). Then
P = diag(μ), ``Tr(MP⁻¹) = Σ_j M_jj/μ_j`` and ``c(σ_j e_j) = c_j = Σ_jj + λ(M⁻¹)_jj + m_j²`` with m_j the
distance from source j's mean to its minimum (σ_j = +1) or maximum (σ_j = −1). Minimising
``Σ_j c_j μ_j + λ M_jj/μ_j`` gives ``μ_j² = λ M_jj / c_j``; the cheaper side (smaller m_j) is the only one
that can be optimal. In the notation of the issue, α_j² = μ_j, i.e.

    D = P⁻¹ = diag(α⁻²),   α_j⁴ = λ M_jj / (Σ_jj + λ(M⁻¹)_jj + m_j²).

*KKT of the candidate.* With D = P⁻¹, Φ(θ) ≥ 0 ⇔ ``h(θ)² ≥ θᵀ(λDMD − λM⁻¹ − Σ)θ = θᵀFθ``. Since
``h(θ) = h_{S̄}(−θ)`` (support function of the demeaned hull), the condition is
``h_{S̄}(φ)² ≥ φᵀFφ`` for every φ: when F ⪰ 0 this is exactly E ⊆ Conv(S̄) (support functions). Because
``λ M_jj/μ_j² = c_j``, ``diag F = m²``: the ellipsoid always touches the hull where source j is minimal
(maximal for σ_j = −1) — "tight" scattering — so the signed margin is 0 when identifiable and negative
(depth of the worst violation) when not. The sign choice does not change F (P = diag μ for either sign).

Exactness: for d ≤ 3 the minimum of ``(h_{S̄}(φ)² − φᵀFφ)/‖φ‖²`` over the sphere is computed exactly (any F);
for d ≥ 4 and F ⪰ 0, the facets of Conv(S̄) decide exactly (E ⊆ {aᵀx ≤ b} ⇔ √(aᵀFa) ≤ b); for d ≥ 4 and
indefinite F, containment of the larger ellipsoid of F₊ (positive part) is a sufficient certificate and a
multi-start search supplies a witness direction otherwise (``exact=False`` if neither settles it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..convex.measure import convex_hull, min_ratio_on_sphere
from ..convex.terms import check_probs
from ..core import check_array, check_number

__all__ = ["ScatteringResult", "tight_scattering", "modular_candidate"]


@dataclass(kw_only=True)
class ScatteringResult:
    """Outcome of :func:`tight_scattering`.

    A verdict, not a solver result: it comes from closed forms and an exact enumeration over the hull's
    facets (no iterations, tolerance or convergence), so it does not carry the ``SolverResult`` protocol.

    identifiable : whether the optimum of Problem 1 is modular (Theorem 1).
    margin : min over unit φ of h_{S̄}(φ) − √(φᵀFφ)₊ (0 when identifiable: the ellipsoid is tangent to the
        hull; negative: depth, in source units, of the worst violation, along ``witness``).
    witness : unit direction φ where h_{S̄}(φ)² − φᵀFφ is smallest (a violating direction when not identifiable).
    F, D, alpha : the matrices of Theorem 1 (D = diag(alpha⁻²)).
    sides : +1 where the modular neuron for source j fires above the source's minimum, −1 above its maximum.
    m : distance from each source's mean to the chosen extreme (diag F = m²).
    center : the source mean (the ellipsoid is ``center + {x: xᵀF⁻¹x ≤ 1}`` in source coordinates).
    failing_facet : (unit normal a, offset b) of the facet of Conv(S̄) most violated (F ⪰ 0), else None.
    method, exact : how the verdict was reached and whether it is exact.
    """

    identifiable: bool
    margin: float
    witness: np.ndarray
    F: np.ndarray
    D: np.ndarray
    alpha: np.ndarray
    sides: np.ndarray
    m: np.ndarray
    center: np.ndarray
    F_psd: bool
    failing_facet: tuple | None
    method: str
    exact: bool

    def ellipse(self, n: int = 200) -> np.ndarray:
        """(n × 2) points on the boundary of ``center + E`` (2 sources, F ⪰ 0 part)."""
        if len(self.center) != 2:
            raise ValueError("ellipse() is only defined for 2 sources")
        w, V = np.linalg.eigh(self.F)
        t = np.linspace(0, 2 * np.pi, n)
        circ = np.stack([np.cos(t), np.sin(t)], 1)
        return self.center + circ @ (V * np.sqrt(np.maximum(w, 0))).T


def _validate(S, A, lam, p):
    S = check_array(S, "S", ndim=2)
    n, d = S.shape
    if n < d + 1:
        raise ValueError(f"S must have more samples than sources (at least {d + 1} rows for {d} sources), "
                         f"got shape {S.shape}")
    A = check_array(A, "A", ndim=2)
    if A.shape[1] != d:
        raise ValueError(f"A must have {d} columns (one per source), got shape {A.shape}")
    if A.shape[0] < d or np.linalg.matrix_rank(A) < d:
        raise ValueError("A must have full column rank (rank-deficient mixing cannot be inverted)")
    lam = check_number(lam, "lam", low=0.0, low_inclusive=False)
    if p is None:
        p = np.full(n, 1.0 / n)
    else:
        p = check_probs(p, "p", n)
    keep = p > 0
    mean = p @ S
    Sc = S - mean
    Sigma = (Sc * p[:, None]).T @ Sc
    if np.any(np.diag(Sigma) <= 1e-14 * max(1.0, np.abs(S).max()) ** 2):
        raise ValueError("S has a constant source column; expected every source to vary")
    if np.linalg.matrix_rank(Sc[keep]) < d:
        raise ValueError("S: the sources are linearly dependent after centring; expected full-dimensional sources")
    return S, A, lam, p, keep, mean, Sigma


def modular_candidate(S, A, lam, p=None):
    """The best modular code of Problem 1: (mu, sides, m, c, objective). Closed form, see module docstring."""
    S, A, lam, p, keep, mean, Sigma = _validate(S, A, lam, p)
    M = A.T @ A
    Minv = np.linalg.inv(M)
    lo = mean - S[keep].min(0)
    hi = S[keep].max(0) - mean
    sides = np.where(lo <= hi, 1.0, -1.0)
    m = np.minimum(lo, hi)
    c = np.diag(Sigma) + lam * np.diag(Minv) + m ** 2
    mu = np.sqrt(lam * np.diag(M) / c)
    obj = float(np.sum(c * mu + lam * np.diag(M) / mu))
    return mu, sides, m, c, obj


def tight_scattering(S, A, lam: float, *, p=None, tol: float = 1e-9, random_state=None) -> ScatteringResult:
    """Decide whether Problem 1 with sources S, mixing A and weight λ has a modular optimum (Theorem 1).

    Parameters
    ----------
    S : (N, d) sources, rows are samples (the paper's S is d × N); a :class:`simcode.Representation` is read
        as its ``Z``.
    A : (D, d) mixing, full column rank; data X = S Aᵀ.
    lam : λ > 0, weight of the synaptic cost.
    p : optional sample probabilities (default uniform).
    tol : relative tolerance on the tangency (margin ≥ −tol·max m counts as identifiable).

    Returns
    -------
    ScatteringResult (see its docstring). ``D`` follows our KKT derivation in the module docstring.
    """
    S, A, lam, p, keep, mean, Sigma = _validate(S, A, lam, p)
    tol = check_number(tol, "tol", low=0.0)
    d = S.shape[1]
    M = A.T @ A
    Minv = np.linalg.inv(M)
    mu, sides, m, c, _ = modular_candidate(S, A, lam, p)
    D = np.diag(1.0 / mu)
    F = lam * D @ M @ D - lam * Minv - Sigma
    F = 0.5 * (F + F.T)
    alpha = np.sqrt(mu)
    ev = np.linalg.eigvalsh(F)
    scale = max(float(m.max()), 1e-300)
    F_psd = bool(ev.min() >= -1e-12 * max(abs(ev).max(), 1e-300))
    V = (S - mean)[keep]
    hull = convex_hull(V, "S") if d >= 2 and d <= 7 else None
    failing = None
    margin = None
    if d == 1:
        hull = None
    facet_margin = None
    if hull is not None and F_psd:
        a = hull.equations[:, :-1]
        nrm = np.linalg.norm(a, axis=1)
        a = a / nrm[:, None]
        b = -hull.equations[:, -1] / nrm
        slack = b - np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", a, F, a), 0))
        k = int(np.argmin(slack))
        facet_margin = float(slack[k])
        failing = (a[k], float(b[k]))
    if d <= 3:
        val, phi, exact = min_ratio_on_sphere(V, -F, np.eye(d), hull=hull)
        method = f"exact normal-fan enumeration (d={d})"
        identifiable = val >= -tol * scale ** 2
    elif F_psd and facet_margin is not None:
        val, phi, exact = None, failing[0], True
        method = "exact facet test (F ⪰ 0)"
        identifiable = facet_margin >= -tol * scale
    else:
        exact = False
        val, phi, _ = min_ratio_on_sphere(V, -F, np.eye(d), random_state=random_state)
        if val < -tol * scale ** 2:
            identifiable, method, exact = False, "witness direction found by search (exact: violation shown)", True
        else:
            identifiable = True
            method = "multi-start search found no violation (not a proof)"
            if hull is not None:
                w, Q = np.linalg.eigh(F)
                Fp = (Q * np.maximum(w, 0)) @ Q.T
                a = hull.equations[:, :-1]
                nrm = np.linalg.norm(a, axis=1)
                a = a / nrm[:, None]
                b = -hull.equations[:, -1] / nrm
                if np.all(b - np.sqrt(np.einsum("ij,jk,ik->i", a, Fp, a)) >= -tol * scale):
                    method, exact = "certified by containment of the F₊ ellipsoid (sufficient)", True
    hphi = float(max(0.0, (V @ phi).max()))
    viol = hphi - np.sqrt(max(float(phi @ F @ phi), 0.0))
    if facet_margin is not None:
        margin = min(facet_margin, viol) if not identifiable else 0.0
        if not identifiable and facet_margin < viol:
            phi = failing[0]
    else:
        margin = 0.0 if identifiable else float(viol)
    if identifiable:
        margin = 0.0
    return ScatteringResult(identifiable=bool(identifiable), margin=float(margin), witness=phi, F=F, D=D,
                            alpha=alpha, sides=sides, m=m, center=mean, F_psd=F_psd,
                            failing_facet=failing if (failing is not None and not identifiable) else None,
                            method=method, exact=bool(exact))
