"""Measure (direction) formulation of affine-encoder efficient coding problems.

When every neuron is an affine, rectification-free function of a low-dimensional input ``s`` (dimension d),
``z_k(s) = u_kᵀ s + b_k ≥ 0`` on the data, the Q-space problem of Dorrell, Latham & Whittington
("Convex Efficient Coding", ICLR 2026; ``shared/papers/000``, Problem 1 / §3) collapses to a convex problem
over a non-negative measure on directions of the unit sphere S^{d-1}:

* For fixed ``u`` the cheapest admissible bias is ``b = -min_i uᵀ s_i`` (the mean activity only grows with
  ``b``), so the neuron's mean energy is ``⟨(uᵀ s + b)²⟩_p = uᵀ Σ u + h(u)²`` with Σ the (p-weighted)
  covariance of s and ``h(u) = max_i uᵀ(s̄ - s_i)`` (support function of the demeaned point set, reflected).
* An input-weight cost ``λ_in uᵀ E u`` (for the autoencoder of Problem 1, ``W_in = U (AᵀA)⁻¹ Aᵀ`` so
  ``E = (AᵀA)⁻¹``) keeps the cost 2-homogeneous: ``c(u) = uᵀ (Σ + λ_in E) u + h(u)²``.
* The min-norm readout of a target ``y = Bᵀ s`` (+ free bias) from ``z = U s + b`` is ``W = Bᵀ P⁻¹ Uᵀ`` with
  ``P = UᵀU = Σ_k u_k u_kᵀ``; its cost is ``λ_out Tr(R P⁻¹)`` with ``R = B Bᵀ`` (Problem 1: R = AᵀA).

Writing ``u_k = √w_k θ_k`` with unit θ_k, the objective

    J(μ) = ∫ c(θ) dμ(θ) + λ_out Tr(R P(μ)⁻¹),      P(μ) = ∫ θ θᵀ dμ(θ),

is convex in the measure μ ≥ 0 (linear plus matrix-fractional of a linear map). Optimality (KKT) reads

    Φ(θ) = c(θ) - θᵀ G θ ≥ 0 for every unit θ, with equality on supp μ,   G = λ_out P⁻¹ R P⁻¹.

Duality certificate (derived from the conjugate ``min_{P≻0} Tr(YP) + λ Tr(R P⁻¹) = 2√λ Tr((R^½ Y R^½)^½)``):
any ``Y ⪰ 0`` with ``θᵀYθ ≤ c(θ)`` for all θ gives the lower bound ``2√λ_out Tr((R^½ Y R^½)^½) ≤ J*``.
Taking ``Y = t G`` with ``t = min_θ c(θ)/θᵀGθ`` gives ``L = 2 λ_out √t Tr(R P⁻¹)``, so ``J(μ) - L`` is a
duality gap. The minimum over the sphere is computed *exactly* for d ≤ 3 (the cost is a quadratic form on
each normal cone of the convex hull of the data; the minimum of a ratio of quadratic forms on a polyhedral
cone sits at a facet normal, on an arc between adjacent facet normals, or at a generalised eigenvector inside
a cone), and by multi-start local search for d ≥ 4 (then the certificate holds only up to that search).

The solver is column generation (fully corrective Frank–Wolfe): solve the finite problem over the weights of
the current directions (projected Newton), find the most violated direction with the oracle, add it, repeat
until the relative gap is below ``tol``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla
from scipy.optimize import nnls
from scipy.spatial import ConvexHull, QhullError

from ..core import (Certificate, History, SolverResult, check_array, check_int, check_number, check_random_state,
                    warn_not_converged)
from .terms import check_probs

__all__ = ["MeasureSolution", "AutoencoderSolution", "solve_measure", "solve_affine_autoencoder",
           "min_ratio_on_sphere", "convex_hull"]


# ----------------------------------------------------------------------------------------------------------
# Exact minimisation of a piecewise quadratic ratio over the sphere
# ----------------------------------------------------------------------------------------------------------

def _support(V: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """h(θ) = max(0, max_i v_iᵀθ) for a batch of directions (rows of theta)."""
    return np.maximum((theta @ V.T).max(axis=1), 0.0)


def _ratio(V, A, B, theta):
    theta = np.atleast_2d(theta)
    h = _support(V, theta)
    num = np.einsum("ij,jk,ik->i", theta, A, theta) + h * h
    den = np.einsum("ij,jk,ik->i", theta, B, theta)
    return num / den


def _arc_candidates(a, b, Aw, B):
    """Stationary points (and end points) of θᵀAwθ/θᵀBθ on the great-circle arc from unit a to unit b."""
    e1 = a
    r = b - (a @ b) * a
    nr = np.linalg.norm(r)
    if nr < 1e-14:
        return [a]
    e2 = r / nr
    T = np.arctan2(b @ e2, b @ e1)
    E = np.stack([e1, e2], axis=1)
    a2 = E.T @ Aw @ E
    b2 = E.T @ B @ E
    out = [a, b]
    try:
        _, vecs = sla.eigh(a2, b2)
    except (np.linalg.LinAlgError, ValueError):
        return out
    for v in vecs.T:
        for sgn in (1.0, -1.0):
            t = np.arctan2(sgn * v[1], sgn * v[0])
            if -1e-12 <= t <= T + 1e-12:
                out.append(np.cos(t) * e1 + np.sin(t) * e2)
    return out


def convex_hull(V: np.ndarray, name: str) -> ConvexHull:
    """Qhull's convex hull of the rows of V; a ``ValueError`` naming ``name`` when they are not full-dimensional."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string (what the points are called in messages), got {type(name).__name__}")
    V = check_array(V, name, ndim=2, what="points × dimensions")   # Qhull crashes on NaN/inf: refuse them here
    if V.shape[1] < 2:
        raise ValueError(f"{name}: a convex hull needs points of dimension >= 2, got shape {V.shape}")
    try:
        return ConvexHull(V)
    except (QhullError, ValueError) as exc:
        raise ValueError(f"{name}: the points do not span their space (affinely dependent, constant or too few "
                         f"points); expected a full-dimensional point set ({str(exc).splitlines()[0]})") from None


def min_ratio_on_sphere(V, A, B, *, n_starts: int = 32, random_state=None, hull: ConvexHull | None = None):
    """Minimise ``r(θ) = (θᵀAθ + h(θ)²) / θᵀBθ`` over unit θ, with ``h(θ) = max(0, max_i v_iᵀθ)``.

    V is an (m × d) point set whose convex hull contains the origin, A symmetric, B symmetric positive
    definite. Exact for d ≤ 3 (enumeration over the normal fan of Conv(V)), multi-start local search above.

    Returns ``(value, theta, exact)``.
    """
    V = check_array(V, "V", ndim=2, what="points × dimensions")
    d = V.shape[1]
    A = check_array(A, "A", ndim=2)
    B = check_array(B, "B", ndim=2)
    for M, nm in ((A, "A"), (B, "B")):
        if M.shape != (d, d):
            raise ValueError(f"{nm} must be a {d}×{d} matrix (V has {d} columns), got shape {M.shape}")
        if not np.allclose(M, M.T, atol=1e-10 * max(1.0, np.abs(M).max())):
            raise ValueError(f"{nm} must be symmetric")
    ev = np.linalg.eigvalsh(0.5 * (B + B.T))
    if ev.min() <= 1e-12 * max(1.0, ev.max()):
        raise ValueError(f"B must be positive definite (smallest eigenvalue {ev.min():.3g})")
    n_starts = check_int(n_starts, "n_starts", low=1)
    if hull is not None and not isinstance(hull, ConvexHull):
        raise TypeError(f"hull must be a scipy.spatial.ConvexHull of V or None, got {type(hull).__name__}")
    if 2 <= d <= 3 and hull is None:
        hull = convex_hull(V, "V")
    if d <= 3 and V.shape[0] < 1:
        raise ValueError(f"V must have at least one point, got shape {V.shape}")
    return _min_ratio(V, A, B, n_starts=n_starts, random_state=random_state, hull=hull)


def _min_ratio(V, A, B, *, n_starts, random_state, hull):
    """:func:`min_ratio_on_sphere` on validated input (the solvers' inner calls)."""
    d = V.shape[1]
    cands: list[np.ndarray] = []
    if d == 1:
        cands = [np.array([1.0]), np.array([-1.0])]
        exact = True
    elif d <= 3:
        hull = hull if hull is not None else convex_hull(V, "V")
        normals = hull.equations[:, :-1]
        normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        cands.extend(list(normals))
        # arcs between adjacent facets: on the arc the maximising vertex is any vertex of the shared ridge
        simp = hull.simplices
        for f in range(len(simp)):
            for j, g in enumerate(hull.neighbors[f]):
                if g <= f:
                    continue
                ridge = np.delete(simp[f], j)
                w = V[ridge[0]]
                cands.extend(_arc_candidates(normals[f], normals[g], A + np.outer(w, w), B))
        if d == 3:  # interior stationary points of each vertex cone
            for vi in hull.vertices:
                v = V[vi]
                try:
                    _, vecs = sla.eigh(A + np.outer(v, v), B)
                except (np.linalg.LinAlgError, ValueError):
                    continue
                for e in vecs.T:
                    for sgn in (1.0, -1.0):
                        th = sgn * e / np.linalg.norm(e)
                        if v @ th >= (V @ th).max() - 1e-10 * max(1.0, abs(v @ th)):
                            cands.append(th)
        exact = True
    else:
        rng = check_random_state(random_state)
        starts = rng.standard_normal((max(n_starts * 16, 256), d))
        starts = np.vstack([starts, np.eye(d), -np.eye(d), V])
        starts = starts[np.linalg.norm(starts, axis=1) > 1e-12]
        starts /= np.linalg.norm(starts, axis=1, keepdims=True)
        vals = _ratio(V, A, B, starts)
        X = starts[np.argsort(vals)[:n_starts]].copy()
        fx = _ratio(V, A, B, X)
        eta = np.full(len(X), 0.1)
        for _ in range(300):
            h_all = X @ V.T
            idx = h_all.argmax(1)
            h = np.maximum(h_all[np.arange(len(X)), idx], 0.0)
            num = np.einsum("ij,jk,ik->i", X, A, X) + h * h
            den = np.einsum("ij,jk,ik->i", X, B, X)
            gnum = 2 * X @ A + 2 * h[:, None] * V[idx]
            g = (gnum * den[:, None] - num[:, None] * 2 * (X @ B)) / den[:, None] ** 2
            g -= np.einsum("ij,ij->i", g, X)[:, None] * X
            Y = X - eta[:, None] * g
            Y /= np.linalg.norm(Y, axis=1, keepdims=True)
            fy = _ratio(V, A, B, Y)
            better = fy < fx
            X[better], fx[better] = Y[better], fy[better]
            eta = np.where(better, eta * 1.5, eta * 0.5)
            if np.all(eta < 1e-12):
                break
        cands.extend(list(X))
        exact = False
    C = np.array(cands)
    vals = _ratio(V, A, B, C)
    k = int(np.argmin(vals))
    return float(vals[k]), C[k], exact


# ----------------------------------------------------------------------------------------------------------
# The measure problem
# ----------------------------------------------------------------------------------------------------------

@dataclass(kw_only=True)
class MeasureSolution(SolverResult):
    """Optimum of the direction-measure problem (see module docstring); the core solver-result protocol.

    Attributes
    ----------
    directions : (K, d) unit directions θ_k carrying mass.
    weights : (K,) masses w_k ≥ 0 (a neuron k has input weights u_k = √w_k θ_k).
    U : (K, d) neuron input weights with respect to s.
    bias : (K,) biases b_k = -min_i u_kᵀ s_i, so z_k(s) = u_kᵀ s + b_k ≥ 0 on the data.
    Z : (N, K) tuning curves on the data points.
    P : (d, d) ``UᵀU``.
    readout : (d, K) ``P⁻¹ Uᵀ``: s = readout @ (z - b) recovers the input exactly.
    objective : J at the returned measure.
    certificate : :class:`simcode.core.Certificate` with the certified ``lower_bound`` (dual value; exact for
        d ≤ 3) and the relative duality gap ``(objective − lower_bound)/objective`` (``gap_kind="relative"``);
        also readable as ``lower_bound`` and ``gap``.
    kkt : ``min_θ Φ(θ)/θᵀGθ = t - 1`` (≥ 0 at the optimum).
    worst_direction : the θ achieving that minimum.
    exact_oracle : whether the minimum over the sphere was computed exactly (d ≤ 3).
    history : per column-generation round: ``objective``, ``lower_bound``, ``gap``, ``n_directions``.
    """

    directions: np.ndarray
    weights: np.ndarray
    U: np.ndarray
    bias: np.ndarray
    Z: np.ndarray
    P: np.ndarray
    readout: np.ndarray
    objective: float
    kkt: float
    worst_direction: np.ndarray
    exact_oracle: bool

    @property
    def lower_bound(self) -> float:
        return self.certificate.lower_bound

    @property
    def gap(self) -> float:
        return self.certificate.gap

    def offaxis_fraction(self, atol: float = 1e-6) -> float:
        """Fraction of the mass on directions that are not ± a coordinate axis (0 ⇔ modular code)."""
        ax = np.abs(self.directions).max(axis=1) >= 1 - atol
        return float(self.weights[~ax].sum() / self.weights.sum())


def _prep(S, p):
    S = check_array(S, "S", ndim=2)
    n, d = S.shape
    if p is None:
        p = np.full(n, 1.0 / n)
    else:
        p = check_probs(p, "p", n)
    keep = p > 0
    if keep.sum() < d + 1:
        raise ValueError(f"S must have at least d + 1 = {d + 1} samples with positive probability, got "
                         f"{int(keep.sum())}")
    mean = p @ S
    Sc = S - mean
    Sigma = (Sc * p[:, None]).T @ Sc
    return S, p, keep, mean, Sigma


def _check_gram(R, d, name, pd=True):
    R = check_array(R, name, ndim=2)
    if R.shape != (d, d):
        raise ValueError(f"{name} must be a {d}×{d} matrix, got shape {R.shape}")
    if not np.allclose(R, R.T, atol=1e-10 * max(1.0, np.abs(R).max())):
        raise ValueError(f"{name} must be symmetric")
    ev = np.linalg.eigvalsh(R)
    if ev.min() < (1e-12 * max(1.0, ev.max()) if pd else -1e-12 * max(1.0, ev.max())):
        raise ValueError(f"{name} must be positive {'definite' if pd else 'semi-definite'} "
                         f"(smallest eigenvalue {ev.min():.3g})")
    return 0.5 * (R + R.T)


class _Inner:
    """Weights problem on a fixed set of directions: min_w≥0 cᵀw + lam Tr(R P(w)⁻¹)."""

    def __init__(self, T, c, R, lam):
        self.T, self.c, self.R, self.lam = T, c, R, lam

    def parts(self, w):
        P = (self.T * w[:, None]).T @ self.T
        try:
            L = np.linalg.cholesky(P)
        except np.linalg.LinAlgError:
            return None
        Pinv = sla.cho_solve((L, True), np.eye(len(P)))
        return P, Pinv

    def value(self, w):
        pr = self.parts(w)
        if pr is None:
            return np.inf
        return float(self.c @ w + self.lam * np.trace(self.R @ pr[1]))

    def grad_hess(self, w):
        _, Pinv = self.parts(w)
        G = self.lam * Pinv @ self.R @ Pinv
        TP = self.T @ Pinv
        TG = self.T @ G
        g = self.c - np.einsum("ij,ij->i", TG, self.T)
        H = 2.0 * (TP @ self.T.T) * (TG @ self.T.T)
        return g, H

    def solve(self, w0, max_iter=300, tol=1e-15):
        """Proximal Newton: each step solves min_{x≥0} gᵀ(x-w) + ½(x-w)ᵀ(H+ρI)(x-w) exactly by NNLS."""
        w = w0.copy()
        f = self.value(w)
        K = len(w)
        rho = None
        small = 0
        for _ in range(max_iter):
            g, H = self.grad_hess(w)
            if rho is None:
                rho = 1e-3 * np.trace(H) / K
            accepted = False
            for _ in range(40):
                Kmat = H + rho * np.eye(K)
                try:
                    L = np.linalg.cholesky(Kmat)
                except np.linalg.LinAlgError:
                    rho *= 10
                    continue
                rhs = L.T @ w - sla.solve_triangular(L, g, lower=True)
                x, _ = nnls(L.T, rhs, maxiter=50 * K)
                fx = self.value(x)
                if fx < f:
                    accepted = True
                    rho = max(rho / 3, 1e-14 * np.trace(H) / K)
                    break
                rho *= 10
            if not accepted:
                break
            rel = (f - fx) / max(abs(f), 1e-300)
            w, f = x, fx
            small = small + 1 if rel < tol else 0
            if small >= 3:
                break
        return w, f


def _init_directions(d, rng, n_grid):
    if d == 1:
        return np.array([[1.0], [-1.0]])
    if d == 2:
        t = np.linspace(0, 2 * np.pi, n_grid, endpoint=False)
        D = np.stack([np.cos(t), np.sin(t)], 1)
    elif d == 3:
        i = np.arange(n_grid) + 0.5
        phi = np.arccos(1 - 2 * i / n_grid)
        th = np.pi * (1 + 5 ** 0.5) * i
        D = np.stack([np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)], 1)
    else:
        D = rng.standard_normal((n_grid, d))
        D /= np.linalg.norm(D, axis=1, keepdims=True)
    return np.vstack([np.eye(d), -np.eye(d), D])


def _sparsify(T, w, c):
    """Same P and the same activity cost on few directions (a vertex of {w ≥ 0: Σ w θθᵀ = P, cᵀw = const}).

    The optimal P is unique but the optimal measure need not be (it can spread over an arc where Φ ≡ 0);
    a basic solution of this LP has at most d(d+1)/2 + 1 directions and the same objective value."""
    from scipy.optimize import linprog

    # merge (numerically) identical directions first
    order = np.lexsort(np.round(T, 9).T[::-1])
    T, w, c = T[order], w[order], c[order]
    Tm, wm, cm = [T[0]], [w[0]], [c[0]]
    for k in range(1, len(w)):
        if np.linalg.norm(T[k] - Tm[-1]) < 1e-9:
            wm[-1] += w[k]
        else:
            Tm.append(T[k]), wm.append(w[k]), cm.append(c[k])
    T, w, c = np.array(Tm), np.array(wm), np.array(cm)
    d = T.shape[1]
    iu = np.triu_indices(d)
    Aeq = np.vstack([(T[:, iu[0]] * T[:, iu[1]]).T, c[None]])
    beq = Aeq @ w
    if len(w) <= Aeq.shape[0]:
        keep = w > 0
        return T[keep], w[keep]
    try:
        res = linprog(np.zeros(len(w)), A_eq=Aeq, b_eq=beq, bounds=(0, None), method="highs-ds")
    except ValueError:
        res = None
    if res is None or res.status != 0 or np.abs(Aeq @ res.x - beq).max() > 1e-10 * np.abs(beq).max():
        return T, w
    keep = res.x > 1e-14 * res.x.max()
    return T[keep], res.x[keep]


def solve_measure(S, readout_gram, lam: float = 1.0, *, encoder_gram=None, lam_encoder: float | None = None,
                  p=None, tol: float = 1e-9, max_iter: int = 100, n_grid: int | None = None,
                  random_state=None) -> MeasureSolution:
    """Solve the direction-measure problem exactly (d ≤ 3) or by column generation (any d).

    Minimises over neurons ``z_k(s) = u_kᵀ s + b_k ≥ 0`` (any number of them)::

        ⟨‖z(s)‖²⟩_p + lam_encoder · Σ_k u_kᵀ E u_k + lam · Tr(R P⁻¹),   P = Σ_k u_k u_kᵀ

    (see the module docstring for the derivation from Problem 1 of ``shared/papers/000`` and the
    certificate). Rows of ``S`` are the N stimuli/samples (the paper's S is d × N: our S is its transpose).

    Parameters
    ----------
    S : (N, d) inputs (sources). Must be affinely full-dimensional on the support of p.
    readout_gram : (d, d) positive definite R = B Bᵀ of the decoded target ``y = Bᵀ s``.
    lam : weight λ_out of the readout cost (> 0).
    encoder_gram : (d, d) PSD E of the input-weight cost (None: no encoder cost).
    lam_encoder : λ_in, the weight of the encoder cost (defaults to ``lam``).
    p : probabilities of the rows (default uniform).
    tol : target relative duality gap.
    max_iter : column-generation rounds.
    n_grid : initial direction grid (default 72 for d=2, 120 for d=3, 8·d above).
    """
    t0 = time.perf_counter()
    S, p, keep, mean, Sigma = _prep(S, p)
    n, d = S.shape
    lam = check_number(lam, "lam", low=0.0, low_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_number(tol, "tol", low=0.0)
    n_grid = check_int(n_grid, "n_grid", low=0, allow_none=True)
    R = _check_gram(readout_gram, d, "readout_gram")
    C = Sigma.copy()
    if encoder_gram is not None:
        E = _check_gram(encoder_gram, d, "encoder_gram", pd=False)
        lam_in = lam if lam_encoder is None else check_number(lam_encoder, "lam_encoder", low=0.0)
        C = C + lam_in * E
    if np.linalg.eigvalsh(C).min() <= 0:
        raise ValueError("S: the sources have a degenerate (singular) covariance; expected non-constant, "
                         "linearly independent sources")
    rng = check_random_state(random_state)
    V = (mean - S)[keep]  # h(θ) = max_i θᵀ(s̄ - s_i)
    hull = convex_hull(V, "S") if 2 <= d <= 3 else None
    if d >= 4:
        if np.linalg.matrix_rank(V) < d:
            raise ValueError("S: the sources are affinely dependent; expected full-dimensional sources")
    n_grid = n_grid or {1: 0, 2: 72, 3: 120}.get(d, 8 * d)
    T = _init_directions(d, rng, n_grid)

    def cost(T):
        h = _support(V, T)
        return np.einsum("ij,jk,ik->i", T, C, T) + h * h

    c = cost(T)
    # balanced initial weights
    w = np.ones(len(T))
    inner = _Inner(T, c, R, lam)
    s = np.sqrt(lam * np.trace(R @ inner.parts(w)[1]) / (c @ w))
    w *= s
    history = History()
    status = "max_iter"
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - it is n_iter after the loop
        inner = _Inner(T, c, R, lam)
        w, J = inner.solve(w)
        P, Pinv = inner.parts(w)
        G = lam * Pinv @ R @ Pinv
        t, theta, exact = _min_ratio(V, C, G, n_starts=32, hull=hull, random_state=rng)
        base = lam * np.trace(R @ Pinv)
        L = 2.0 * base * np.sqrt(max(t, 0.0))
        L = min(L, J) if t >= 1 else L
        gap = (J - L) / J
        history.append(objective=J, lower_bound=L, gap=gap, n_directions=int((w > 0).sum()))
        if gap <= tol:
            status = "converged"
            break
        # add the most violated direction, drop dead ones
        alive = w > 1e-13 * w.max()
        T = np.vstack([T[alive], theta])
        c = np.concatenate([c[alive], cost(theta[None])])
        w = np.concatenate([w[alive], [1e-3 * w.max()]])
    alive = w > 1e-12 * w.max()
    T, w = _sparsify(T[alive], w[alive], cost(T[alive]))
    U = np.sqrt(w)[:, None] * T
    bias = -(S[keep] @ U.T).min(axis=0)
    Z = S @ U.T + bias
    P = U.T @ U
    readout = np.linalg.solve(P, U.T)
    if status != "converged":
        warn_not_converged("solve_measure", it, f"relative duality gap {gap:.2e} > tol {tol:.1e}")
    return MeasureSolution(directions=T, weights=w, U=U, bias=bias, Z=Z, P=P, readout=readout, objective=J,
                           certificate=Certificate(lower_bound=float(L), gap=float(gap)), kkt=t - 1.0,
                           worst_direction=theta, exact_oracle=exact, status=status, n_iter=it,
                           history=history.as_dict(), time_s=time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------------------------
# Problem 1 of the paper: non-negative affine autoencoder of mixed sources
# ----------------------------------------------------------------------------------------------------------

@dataclass(kw_only=True)
class AutoencoderSolution(SolverResult):
    """Global optimum of Problem 1 (non-negative affine autoencoding of X = S Aᵀ) with the network weights.

    ``Z = X @ W_in.T + b_in ≥ 0`` and ``X = Z @ W_out.T + b_out`` exactly; ``objective`` is
    ``mean_i ‖z_i‖² + lam (‖W_in‖²_F + ‖W_out‖²_F)``; ``measure`` is the underlying
    :class:`MeasureSolution`, whose status, n_iter, history, time and certificate this result shares.
    """

    W_in: np.ndarray
    b_in: np.ndarray
    W_out: np.ndarray
    b_out: np.ndarray
    Z: np.ndarray
    objective: float
    modular_objective: float
    modular: bool
    offaxis_fraction: float
    measure: MeasureSolution


def solve_affine_autoencoder(S, A, lam: float, *, p=None, tol: float = 1e-9, max_iter: int = 100,
                             random_state=None) -> AutoencoderSolution:
    """Solve Problem 1 of ``shared/papers/000`` (§3) to global optimality through the measure formulation.

    Data ``x_i = A s_i`` (rows: ``X = S Aᵀ``; the paper's X = AS with samples in columns). The network is
    ``z = W_in x + b_in ≥ 0``, ``x = W_out z + b_out``; minimise ``⟨‖z‖²⟩ + λ(‖W_in‖² + ‖W_out‖²)``.
    With ``M = AᵀA``, ``u_k`` = row k of ``W_in A``: encoder cost ``λ uᵀM⁻¹u``, readout cost ``λ Tr(M P⁻¹)``.

    ``modular`` compares the certified optimum with the best modular code (each neuron encodes one source,
    on its cheaper side), whose value is closed form ``2√λ Σ_j √(c_j M_jj)``,
    ``c_j = Σ_jj + λ(M⁻¹)_jj + m_j²`` (m_j = distance of source j's mean to its nearer extreme).
    """
    S = check_array(S, "S", ndim=2)
    A = check_array(A, "A", ndim=2)
    n, d = S.shape
    if A.shape[1] != d:
        raise ValueError(f"A must have {d} columns (one per source), got shape {A.shape}")
    if A.shape[0] < d or np.linalg.matrix_rank(A) < d:
        raise ValueError("A must have full column rank (the mixing must be invertible on the sources)")
    lam = check_number(lam, "lam", low=0.0, low_inclusive=False)
    M = A.T @ A
    Minv = np.linalg.inv(M)
    sol = solve_measure(S, M, lam, encoder_gram=Minv, p=p, tol=tol, max_iter=max_iter,
                        random_state=random_state)
    U = sol.U
    W_in = U @ Minv @ A.T
    b_in = sol.bias
    G = sol.readout
    W_out = A @ G
    b_out = -A @ G @ b_in
    X = S @ A.T
    Z = X @ W_in.T + b_in
    pw = np.full(n, 1.0 / n) if p is None else np.asarray(p, float)
    obj = float(pw @ (Z ** 2).sum(1) + lam * ((W_in ** 2).sum() + (W_out ** 2).sum()))
    # best modular code
    mean = pw @ S
    keep = pw > 0
    Sc = S - mean
    Sigma = (Sc * pw[:, None]).T @ Sc
    m = np.minimum(mean - S[keep].min(0), S[keep].max(0) - mean)
    cj = np.diag(Sigma) + lam * np.diag(Minv) + m ** 2
    Jmod = float(2 * np.sqrt(lam) * np.sum(np.sqrt(cj * np.diag(M))))
    modular = bool(sol.objective >= Jmod * (1 - 10 * max(tol, 1e-12)))
    return AutoencoderSolution(W_in=W_in, b_in=b_in, W_out=W_out, b_out=b_out, Z=Z, objective=obj,
                               modular_objective=Jmod, modular=modular, offaxis_fraction=sol.offaxis_fraction(),
                               measure=sol, status=sol.status, n_iter=sol.n_iter, history=sol.history,
                               time_s=sol.time_s, certificate=sol.certificate)
