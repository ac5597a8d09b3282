r"""Completely-positive optima without n × n matrices: certificate-driven column generation (000 §2, §5).

The problem family
------------------
For a diagonal cost ⟨diag(c), Q⟩ (``activity_cost``: c = lam·p; ``rank_penalty``: c = lam·1; c > 0) and
readout costs λ_t min_b Tr(ỸᵀQ⁺Ỹ) (Ỹ = Y − 1bᵀ, b free for an affine readout), over the
**completely-positive** cone Q = ZZᵀ, Z ≥ 0 (``nonnegative()``). Absorbing √λ_t into the targets
(λ Tr(YᵀQ⁺Y) = Tr((√λY)ᵀQ⁺(√λY))), with Y the n × k matrix of all k targets, the problem is, in neurons,

.. math::  P^\star = \min_{Z \ge 0,\ U,\ b}\ \sum_i c_i \|z_i\|^2 + \|U\|_F^2
           \quad\text{s.t.}\quad Z U = Y - 1 b^\top ,                                              (1)

(z_i the population response to stimulus i, U the m × k readout; ⟨C, ZZᵀ⟩ + ‖W‖² of 000 §2).

Derivation (the dual and the copositivity test)
------------------------------------------------
*Variational form.* For every V (n × k), Tr(ỸᵀQ⁺Ỹ) ≥ 2⟨V, Ỹ⟩ − ⟨VVᵀ, Q⟩ (equality at V = Q⁺Ỹ; +∞ on the
left when Ỹ ∉ range Q). If 1ᵀV = 0 (needed when b is free), ⟨V, Ỹ⟩ = ⟨V, Y⟩ for every b. Hence for every
s ≥ 0 and Q ∈ CP,

.. math::  f(Q) \ge 2 s\langle V, Y\rangle + \langle \operatorname{diag}(c) - s^2 V V^\top, Q\rangle
           \ge 2 s \langle V, Y\rangle \quad\text{whenever } \operatorname{diag}(c) - s^2 VV^\top
           \text{ is copositive},

because the copositive cone is the dual of the CP cone (Bomze, Dür et al. 2000; Dür 2010, "Copositive
programming — a survey"). diag(c) − s²VVᵀ is copositive iff s² ρ(V) ≤ 1 with the **copositivity ratio**

.. math::  \rho(V) = \max_{z \ge 0} \frac{\|V^\top z\|^2}{z^\top \operatorname{diag}(c) z}
           = \max_{\|w\| = 1} \max_{z\ge 0} \frac{(w^\top V^\top z)^2}{z^\top \operatorname{diag}(c) z}
           = \max_{\|w\|=1} g(w), \qquad g(w) = \sum_i \frac{(v_i^\top w)_+^2}{c_i},

(for a fixed direction u = Vw, max_{z≥0} (uᵀz)²/zᵀdiag(c)z = 1/min{zᵀdiag(c)z : uᵀz = 1, z ≥ 0} = Σ u₊²/c
at z ∝ u₊/c; the sign of u is covered by ±w). So **every** V with 1ᵀV = 0 gives the lower bound

.. math::  P^\star \ge \mathrm{LB}(V) = 2\,\langle V, Y\rangle / \sqrt{\rho(V)}.                      (2)

The maximiser w* of g is the most violated dual constraint; its primal counterpart z ∝ (Vw*)₊/c is the best
neuron to add (a column of Z, an extreme ray zzᵀ of the CP cone): Frank–Wolfe / column generation over the
CP cone's extreme rays (Jaggi 2013 for conditional gradients over atomic sets; Bundfuss & Dür 2009).

*The restricted master.* For a fixed readout U (m × k), (1) separates over stimuli:
q_U(y) = min{‖z‖² : Uᵀz = y, z ≥ 0} = max_h 2hᵀy − ‖(Uh)₊‖² (Lagrange duality of a strictly convex QP), with
z = (Uh)₊: every optimal neuron is a rectified linear function of a k-dimensional latent h_i. The master
minimises the smooth (C¹) function

.. math::  J(U, b) = \|U\|_F^2 + \sum_i c_i\, q_U(y_i - b), \quad
           \nabla_U J = 2U - 2 Z^\top (c \odot H), \quad \nabla_b J = -2 \sum_i c_i h_i ,

over a small m × k matrix (L-BFGS; each q_U by a vectorised semismooth Newton solve per stimulus). At its
stationary points V = c ⊙ H satisfies 1ᵀV = 0 and the bound (2) equals J when ρ(V) = 1 (complementary
slackness); otherwise the test's w* is appended as a new readout row and the master is re-solved.

*Exact tests.* k = 1: ρ = max(Σ v₊²/c, Σ v₋²/c). k = 2: g(θ) = ½(S₀ + Re(e^{2iθ} S₂)) on each arc of the
circle where the set {i : v_iᵀw > 0} is fixed (S₀ = Σ a_i, S₂ = Σ a_i e^{−2iφ_i}, a_i = ‖v_i‖²/c_i); an
angular sweep over the 2n arc ends maximises it exactly in O(n log n). k = 3: branch and bound over a
cube-map partition of the sphere, with the bound max_{cap(w₀, δ)} g ≤ w₀ᵀA w₀ + 2‖(I − w₀w₀ᵀ)Aw₀‖δ + ‖A‖δ²
+ Σ_{i uncertain} (|v_iᵀw₀| + ‖v_i‖δ)²/c_i (A from the stimuli whose sign is fixed on the cap), refined until
the bound is within ``test_tol`` of the best value found: a rigorous upper bound on ρ, so (2) stays a valid
lower bound. k > 3: multi-start ascent, a heuristic whose bound is **not** certified (the certificate says so).

*k = 1 in closed form.* For one target the master's optimum has one ON and at most one OFF neuron,
z ∝ (y − b)₊ and (b − y)₊, and P* = 2 min_b (‖(y − b)₊‖_c + ‖(b − y)₊‖_c) (‖x‖_c² = Σ c_i x_i²): the
function of b is convex and is minimised exactly on the sorted targets with prefix sums, O(n log n).
This is the ON/OFF closed form of 000 §5 (2√λ·min_b(‖(I − b)₊‖ + ‖(b − I)₊‖) with c = p); the certificate (2)
is still computed from the returned code, independently of that derivation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..core import UnsupportedTermError, check_array, check_int, check_number
from ..core.exceptions import warn_not_converged
from .solution import Certificate, Solution

__all__ = ["FactoredCertificate", "copositivity_ratio", "factored_solve", "factored_support", "FACTORED_Q_MAX_N"]

#: Solution.Q (n × n) is formed from Z only up to this n; above it, use Solution.Z (Q = Z Zᵀ).
FACTORED_Q_MAX_N = 4096


@dataclass(kw_only=True)
class FactoredCertificate(Certificate):
    """The CP certificate of the factored back-end (a :class:`simcode.convex.Certificate`).

    ``lower_bound`` is the copositive-dual bound (2) of the module docstring, a bound on the **completely
    positive** problem (not only its DNN relaxation); ``gap`` = (objective − lower_bound)/max(1, |objective|).

    Attributes
    ----------
    ratio : float
        ρ(V) of the test (an upper bound on it for k = 3); 1 at the optimum.
    test : str
        How ρ was computed: ``"closed-form"`` (k = 1), ``"sweep"`` (k = 2, exact), ``"branch-and-bound"``
        (k = 3, rigorous to ``test_accuracy``) or ``"heuristic"`` (k > 3: the bound is not certified).
    test_accuracy : float
        Relative accuracy of ρ: 0 for the exact tests (up to rounding, measured by re-evaluating g at the
        maximiser), the branch-and-bound's final relative width for k = 3, NaN for the heuristic.
    decoding_residual : float
        ‖Z W + 1bᵀ − Y‖_F/‖Y‖_F of the returned code (the objective is that code's cost).
    n_columns : int
        Neurons (columns of Z) in the returned code.
    """

    ratio: float = float("nan")
    test: str = ""
    test_accuracy: float = float("nan")
    decoding_residual: float = float("nan")
    n_columns: int = 0

    @property
    def certified(self) -> bool:
        """Gap ≤ 1e-4 from a rigorous copositivity test (the CP optimum itself, not a relaxation)."""
        return bool(self.test != "heuristic" and self.gap <= 1e-4 and self.decoding_residual <= 1e-8)

    def __str__(self):
        return (f"FactoredCertificate(lower_bound={self.lower_bound:.10g}, gap={self.gap:.2e}, test={self.test}, "
                f"test_accuracy={self.test_accuracy:.1e}, columns={self.n_columns})")


# ----------------------------------------------------------------------------- which problems


def _form(problem):
    """(c, Y, affine mask) of a problem in the factored family, or raise UnsupportedTermError naming why."""
    from .terms import ActivityCost, Nonnegative, RankPenalty, ReadoutCost

    other = ("use solver='firstorder' (the dense ADMM of the DNN relaxation, any n it fits in memory) or "
             "solver='cvxpy'")
    n = problem.n
    c = np.zeros(n)
    cols, affine = [], []
    for t in problem.terms:
        if isinstance(t, ActivityCost):
            c += t.lam * t._p(n)
        elif isinstance(t, RankPenalty):
            c += t.lam
        elif isinstance(t, ReadoutCost):
            if t.lam == 0:
                raise UnsupportedTermError(
                    "solver='factored' prices every readout: an exact decodability constraint (decodable / "
                    f"affine_decodable, a readout of lam 0) has no factored form; {other}")
            cols.append(math.sqrt(t.lam) * t.Y)
            affine += [t.affine] * t.Y.shape[1]
        else:
            raise UnsupportedTermError(
                f"solver='factored' takes activity_cost, rank_penalty and readout_cost terms only, not "
                f"{type(t).__name__}; {other}")
    if not any(isinstance(k, Nonnegative) for k in problem.constraints) or len(problem.constraints) != 1:
        names = [type(k).__name__ if not callable(k) or hasattr(k, "first_order_part") else repr(k)
                 for k in problem.constraints]
        raise UnsupportedTermError(
            f"solver='factored' solves the completely-positive problem (exactly one constraint, nonnegative()), "
            f"got constraints {names}; {other}")
    if not cols:
        raise UnsupportedTermError(f"solver='factored' needs a readout_cost term (without one Q = 0); {other}")
    if np.any(c <= 0):
        i = int(np.argmin(c))
        raise UnsupportedTermError(
            f"solver='factored' needs a positive activity cost at every stimulus (got {c[i]:.3g} at stimulus {i}: "
            "a neuron firing only there would be free); give every stimulus positive probability or add "
            f"rank_penalty, or {other}")
    return c, np.hstack(cols), np.array(affine, dtype=bool)


def factored_support(problem) -> str | None:
    """None when ``solver='factored'`` can solve ``problem`` (and certify it: k ≤ 3 targets), else the reason."""
    try:
        _, Y, _ = _form(problem)
    except UnsupportedTermError as exc:
        return str(exc)
    if Y.shape[1] > 3:
        return (f"{Y.shape[1]} readout targets: the factored back-end's copositivity test is exact for k ≤ 3 "
                "only (above, its bound is a heuristic)")
    return None


# ----------------------------------------------------------------------------- the copositivity test


def _g(V, c, w):
    return float(np.sum(np.maximum(V @ w, 0.0) ** 2 / c))


def _ratio_k1(V, c):
    v = V[:, 0]
    gp, gm = float(np.sum(np.maximum(v, 0) ** 2 / c)), float(np.sum(np.minimum(v, 0) ** 2 / c))
    return (gp, np.array([1.0])) if gp >= gm else (gm, np.array([-1.0]))


def _ratio_k2(V, c):
    """Exact max over the circle of g(θ) = Σ (v_iᵀw)₊²/c_i by an angular sweep (module docstring)."""
    a = (V ** 2).sum(1) / c
    keep = a > 0
    if not keep.any():
        return 0.0, np.array([1.0, 0.0])
    a, phi = a[keep], np.arctan2(V[keep, 1], V[keep, 0])
    e2 = a * np.exp(-2j * phi)
    two_pi = 2 * np.pi
    start = np.mod(phi - np.pi / 2, two_pi)     # term i is active on (start_i, start_i + π) (mod 2π)
    end = np.mod(phi + np.pi / 2, two_pi)
    active0 = np.cos(phi) > 0                   # active at θ = 0⁺ … up to ties at the boundary
    ev_t = np.concatenate([start, end])
    ev_s0 = np.concatenate([a, -a])
    ev_s2 = np.concatenate([e2, -e2])
    order = np.argsort(ev_t, kind="stable")
    ev_t, ev_s0, ev_s2 = ev_t[order], ev_s0[order], ev_s2[order]
    # active set on the arc just after θ = 0 — a term whose start is exactly 0 is added by its event
    s0_init = a[active0 & (start != 0)].sum()
    s2_init = e2[active0 & (start != 0)].sum()
    S0 = s0_init + np.concatenate([[0.0], np.cumsum(ev_s0)])
    S2 = s2_init + np.concatenate([[0.0], np.cumsum(ev_s2)])
    lo = np.concatenate([[0.0], ev_t])
    hi = np.concatenate([ev_t, [two_pi]])
    # maximiser of ½(S0 + Re(e^{2iθ} S2)) on [lo, hi]: θ* = −arg(S2)/2 (mod π), else an end point
    th = np.mod(-np.angle(S2) / 2, np.pi)
    cand = [lo, hi, th, th + np.pi]
    best_val, best_th = np.full(lo.shape, -np.inf), np.zeros(lo.shape)
    for t in cand:
        inside = (t >= lo) & (t <= hi)
        val = 0.5 * (S0 + np.real(np.exp(2j * t) * S2))
        better = inside & (val > best_val)
        best_val[better], best_th[better] = val[better], t[better]
    j = int(np.argmax(best_val))
    w = np.array([math.cos(best_th[j]), math.sin(best_th[j])])
    return float(best_val[j]), w


def _cube_patches(level: int):
    """Centres (unnormalised face coordinates) of a cube-map partition: 6 faces × 4^level squares."""
    m = 2 ** level
    g = (np.arange(m) + 0.5) / m * 2 - 1
    uu, vv = np.meshgrid(g, g, indexing="ij")
    return uu.ravel(), vv.ravel(), 2.0 / m


_FACES = [(0, 1, 2, 1.0), (0, 1, 2, -1.0), (1, 2, 0, 1.0), (1, 2, 0, -1.0), (2, 0, 1, 1.0), (2, 0, 1, -1.0)]


def _face_point(face, u, v):
    i, j, l_, s = _FACES[face]
    p = np.zeros(np.broadcast(u, v).shape + (3,))
    p[..., l_] = s
    p[..., i] = u
    p[..., j] = v
    return p / np.linalg.norm(p, axis=-1, keepdims=True)


def _ratio_k3(V, c, tol: float, max_nodes: int = 200_000):
    """Branch and bound on the sphere (module docstring); returns (upper bound on ρ, best w, relative width)."""
    norms = np.linalg.norm(V, axis=1)
    sqc = 1.0 / c
    best_val, best_w = -np.inf, np.array([1.0, 0.0, 0.0])
    # nodes: (face, u, v, half-width)
    u0, v0, h0 = _cube_patches(2)
    nodes = [(f, u, v, h0 / 2) for f in range(6) for u, v in zip(u0, v0)]
    ubs = None
    n_eval = 0
    while nodes:
        F = np.array([x[0] for x in nodes])
        U = np.array([x[1] for x in nodes])
        W_ = np.array([x[2] for x in nodes])
        Hh = np.array([x[3] for x in nodes])
        centres = np.stack([_face_point(f, u, v) for f, u, v in zip(F, U, W_)])
        # cap radius: the largest angle from the centre to a corner (a gnomonic square is geodesically convex)
        delta = np.zeros(len(nodes))
        for du in (-1, 1):
            for dv in (-1, 1):
                corner = np.stack([_face_point(f, u + du * h, v + dv * h) for f, u, v, h in zip(F, U, W_, Hh)])
                cosang = np.clip((corner * centres).sum(1), -1, 1)
                delta = np.maximum(delta, np.arccos(cosang))
        chord = 2 * np.sin(delta / 2)
        P = V @ centres.T                              # n × nodes
        val = (np.maximum(P, 0) ** 2 * sqc[:, None]).sum(0)
        n_eval += len(nodes)
        j = int(np.argmax(val))
        if val[j] > best_val:
            best_val, best_w = float(val[j]), centres[j]
        sure = P > norms[:, None] * chord[None, :]
        unsure = np.abs(P) <= norms[:, None] * chord[None, :]
        ub = np.empty(len(nodes))
        for t in range(len(nodes)):
            s = sure[:, t]
            Vs = V[s]
            A = (Vs * sqc[s, None]).T @ Vs
            w0 = centres[t]
            Aw = A @ w0
            perp = Aw - (w0 @ Aw) * w0
            lam_max = float(np.linalg.eigvalsh(A)[-1]) if s.any() else 0.0
            d = chord[t]
            un = unsure[:, t]
            ub[t] = (w0 @ Aw + 2 * np.linalg.norm(perp) * d + lam_max * d * d
                     + float(np.sum((np.abs(P[un, t]) + norms[un] * d) ** 2 * sqc[un])))
        ubs = ub
        thresh = best_val * (1 + tol)
        keep = ub > thresh
        if not keep.any():
            return best_val * (1 + tol), best_w, tol
        if n_eval > max_nodes:
            top = float(ub[keep].max())
            return top, best_w, (top - best_val) / max(best_val, 1e-300)
        nxt = []
        for t in np.flatnonzero(keep):
            f, u, v, h = nodes[t]
            for du in (-0.5, 0.5):
                for dv in (-0.5, 0.5):
                    nxt.append((f, u + du * h, v + dv * h, h / 2))
        nodes = nxt
    top = float(ubs.max()) if ubs is not None else best_val
    return max(top, best_val), best_w, 0.0


def _ratio_heuristic(V, c, rng, n_starts: int = 32, iters: int = 200):
    k = V.shape[1]
    W = rng.standard_normal((n_starts, k))
    W = np.vstack([W, np.eye(k), -np.eye(k)])
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    for _ in range(iters):          # power-like ascent: w ← A(w) w / ‖A(w) w‖ increases g on the sphere
        P = np.maximum(V @ W.T, 0)
        G = (V / c[:, None]).T @ P  # k × starts: A(w) w
        W = (G / np.maximum(np.linalg.norm(G, axis=0), 1e-300)).T
    vals = (np.maximum(V @ W.T, 0) ** 2 / c[:, None]).sum(0)
    j = int(np.argmax(vals))
    return float(vals[j]), W[j]


def copositivity_ratio(V, c, *, test_tol: float = 1e-10, random_state=None):
    """ρ(V) = max_{z ≥ 0} ‖Vᵀz‖²/(zᵀ diag(c) z): diag(c) − s²VVᵀ is copositive iff s²ρ ≤ 1.

    Parameters
    ----------
    V : (n, k) array.
    c : (n,) positive diagonal.
    test_tol : relative accuracy of the k = 3 branch and bound.

    Returns
    -------
    (rho, w, method, accuracy) : ρ (an upper bound on it for k = 3), the maximising direction w (‖w‖ = 1;
        the maximising z is (Vw)₊/c), the test used (``"closed-form"``, ``"sweep"``, ``"branch-and-bound"``,
        ``"heuristic"``) and its relative accuracy (NaN for the heuristic, a lower estimate of ρ only).
    """
    V = check_array(V, "V", ndim=2)
    c = check_array(c, "c", ndim=1)
    if c.shape[0] != V.shape[0]:
        raise ValueError(f"c must have one entry per row of V ({V.shape[0]}), got {c.shape[0]}")
    if np.any(c <= 0):
        raise ValueError("c must be positive (a zero cost makes diag(c) − s²VVᵀ copositive for no s > 0)")
    test_tol = check_number(test_tol, "test_tol", low=0.0, low_inclusive=False)
    k = V.shape[1]
    if k == 1:
        r, w = _ratio_k1(V, c)
        return r, w, "closed-form", 0.0
    if k == 2:
        r, w = _ratio_k2(V, c)
        exact = _g(V, c, w)
        return max(r, exact), w, "sweep", abs(r - exact) / max(exact, 1e-300)
    if k == 3:
        r, w, acc = _ratio_k3(V, c, test_tol)
        return r, w, "branch-and-bound", acc
    from ..core import check_random_state

    r, w = _ratio_heuristic(V, c, check_random_state(random_state))
    return r, w, "heuristic", float("nan")


# ----------------------------------------------------------------------------- k = 1 exactly


def _solve_k1(y, c, affine: bool):
    """Exact ON/OFF optimum for one target: (b, t_on, t_off, value) with P* = 2(‖(y−b)₊‖_c + ‖(b−y)₊‖_c)."""
    def parts(b):
        d = y - b
        return float(np.sum(c * np.maximum(d, 0) ** 2)), float(np.sum(c * np.minimum(d, 0) ** 2))

    if not affine:
        b = 0.0
    else:
        order = np.argsort(y, kind="stable")
        ys, cs = y[order], c[order]
        # prefix sums: below/above a breakpoint, A₋(b) and A₊(b) are quadratics in b
        C0, C1, C2 = np.cumsum(cs), np.cumsum(cs * ys), np.cumsum(cs * ys * ys)
        T0, T1, T2 = C0[-1], C1[-1], C2[-1]

        def deriv(b, j):  # j = number of sorted targets ≤ b
            lo0, lo1, lo2 = (C0[j - 1], C1[j - 1], C2[j - 1]) if j > 0 else (0.0, 0.0, 0.0)
            hi0, hi1, hi2 = T0 - lo0, T1 - lo1, T2 - lo2
            Am = lo2 - 2 * b * lo1 + b * b * lo0
            Ap = hi2 - 2 * b * hi1 + b * b * hi0
            Bm = b * lo0 - lo1            # Σ_{y ≤ b} c (b − y)
            Bp = hi1 - b * hi0            # Σ_{y > b} c (y − b)
            dm = Bm / math.sqrt(Am) if Am > 0 else (math.sqrt(lo0) if lo0 > 0 else 0.0)  # right-derivative
            dp = -Bp / math.sqrt(Ap) if Ap > 0 else 0.0
            return dm + dp

        # h(b) = √A₊ + √A₋ is convex on [y_min, y_max]; find where its right-derivative changes sign
        uniq = np.flatnonzero(np.r_[np.diff(ys) > 0, True])    # last index of each distinct value
        vals = ys[uniq]
        counts = uniq + 1
        d_at = np.array([deriv(v, int(j)) for v, j in zip(vals, counts)]) if vals.size <= 64 else None
        if d_at is None:   # vectorised right-derivatives at every distinct value
            lo0, lo1, lo2 = C0[uniq], C1[uniq], C2[uniq]
            hi0, hi1, hi2 = T0 - lo0, T1 - lo1, T2 - lo2
            b = vals
            Am = np.maximum(lo2 - 2 * b * lo1 + b * b * lo0, 0)
            Ap = np.maximum(hi2 - 2 * b * hi1 + b * b * hi0, 0)
            Bm, Bp = b * lo0 - lo1, hi1 - b * hi0
            with np.errstate(divide="ignore", invalid="ignore"):
                dm = np.where(Am > 0, Bm / np.sqrt(Am), np.sqrt(lo0))
                dp = np.where(Ap > 0, -Bp / np.sqrt(Ap), 0.0)
            d_at = dm + dp
        j = int(np.argmax(d_at >= 0))                # first distinct value whose right-derivative is ≥ 0
        if j == 0:
            b = float(vals[0])                        # the ON-only optimum (000 §5: above the threshold)
        else:
            lo_b, hi_b = float(vals[j - 1]), float(vals[j])
            cnt = int(counts[j - 1])
            for _ in range(200):                     # bisection on the (continuous, increasing) derivative
                mid = 0.5 * (lo_b + hi_b)
                if mid <= lo_b or mid >= hi_b:
                    break
                if deriv(mid, cnt) >= 0:
                    hi_b = mid
                else:
                    lo_b = mid
            b = 0.5 * (lo_b + hi_b)
    Ap, Am = parts(b)
    return b, Ap, Am


def _code_k1(y, c, affine):
    b, Ap, Am = _solve_k1(y, c, affine)
    d = y - b
    cols, readout, H = [], [], np.zeros(y.shape[0])
    for A, sgn in ((Ap, 1.0), (Am, -1.0)):
        if A <= 0:
            continue
        t2 = 1.0 / math.sqrt(A)                      # t⁴ = 1/A (λ absorbed): neuron t·(±d)₊, readout ±1/t
        t = math.sqrt(t2)
        cols.append(t * np.maximum(sgn * d, 0))
        readout.append(sgn / t)
        mask = sgn * d > 0
        H[mask] = t2 * d[mask]
    if affine:   # the stimuli at the bias have h in a set; pick the one with Σ c h = 0 (module docstring)
        s = float(np.sum(c * H))
        at = d == 0
        if at.any() and s != 0:
            H[at] = -s / c[at].sum()
    Z = np.column_stack(cols) if cols else np.zeros((y.shape[0], 0))
    return Z, np.array(readout)[:, None], np.array([b]), H[:, None]


# ----------------------------------------------------------------------------- k ≥ 2: the master


def _inner(U, Yt, H, max_newton: int = 60):
    """h_i = argmax 2hᵀy_i − ‖(Uh_i)₊‖² for every stimulus (vectorised semismooth Newton with backtracking)."""
    n, k = Yt.shape
    eye = np.eye(k)
    scale = max(float(np.sum(U * U)), 1e-300)
    for _ in range(max_newton):
        P = H @ U.T
        Zp = np.maximum(P, 0)
        G = Yt - Zp @ U                                  # half the gradient
        gn = np.abs(G).max(axis=1)
        todo = gn > 1e-13 * (1 + np.abs(Yt).max(axis=1))
        if not todo.any():
            break
        S = (P[todo] > 0).astype(float)
        Hs = np.einsum("nm,mk,ml->nkl", S, U, U) + 1e-12 * scale * eye
        D = np.linalg.solve(Hs, G[todo][..., None])[..., 0]
        h0 = H[todo]
        f0 = 2 * np.sum(h0 * Yt[todo], 1) - np.sum(Zp[todo] ** 2, 1)
        slope = 2 * np.sum(G[todo] * D, 1)
        t = np.ones(h0.shape[0])
        acc = np.zeros(h0.shape[0], dtype=bool)
        for _ls in range(40):
            hn = h0 + t[:, None] * D
            fn = 2 * np.sum(hn * Yt[todo], 1) - np.sum(np.maximum(hn @ U.T, 0) ** 2, 1)
            ok = fn >= f0 + 1e-4 * t * slope
            acc |= ok
            if acc.all():
                break
            t = np.where(acc, t, 0.5 * t)
        H[todo] = h0 + t[:, None] * D
    P = H @ U.T
    Zp = np.maximum(P, 0)
    return H, Zp


def _master_value(U, b, Y, c, affine, H):
    Yt = Y - np.where(affine, b, 0.0)[None, :]
    H, Z = _inner(U, Yt, H)
    q = 2 * np.sum(H * Yt, 1) - np.sum(Z ** 2, 1)
    J = float(np.sum(U * U) + c @ q)
    cH = c[:, None] * H
    gU = 2 * U - 2 * Z.T @ cH
    gb = np.where(affine, -2 * cH.sum(0), 0.0)
    return J, gU, gb, H, Z


def _lbfgs(fun, x0, max_iter, gtol, memory=12):
    """Minimise a C¹ function with L-BFGS and Armijo backtracking (rejecting non-finite values)."""
    x = x0.copy()
    f, g = fun(x)
    S, Yv = [], []
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        if np.abs(g).max() <= gtol:
            break
        q = g.copy()
        alphas = []
        for s, yv in zip(reversed(S), reversed(Yv)):
            a = (s @ q) / (yv @ s)
            alphas.append(a)
            q -= a * yv
        if S:
            q *= (S[-1] @ Yv[-1]) / (Yv[-1] @ Yv[-1])
        for (s, yv), a in zip(zip(S, Yv), reversed(alphas)):
            q += (a - (yv @ q) / (yv @ s)) * s
        d = -q
        if g @ d >= 0:
            d = -g
            S, Yv = [], []
        t = 1.0
        for _ in range(60):
            xn = x + t * d
            fn, gn = fun(xn)
            if np.isfinite(fn) and fn <= f + 1e-4 * t * (g @ d):
                break
            t *= 0.5
        else:
            break
        s, yv = xn - x, gn - g
        if s @ yv > 1e-16 * (s @ s):
            S.append(s)
            Yv.append(yv)
            if len(S) > memory:
                S.pop(0)
                Yv.pop(0)
        if abs(f - fn) <= 1e-16 * max(1.0, abs(f)):
            x, f, g = xn, fn, gn
            break
        x, f, g = xn, fn, gn
    return x, f, g, it


def _certificate(Z, Wr, b, H, Y, c, affine, objective, test_tol, random_state):
    V = c[:, None] * H
    if affine.any():   # 1ᵀV = 0 on the affine columns (weighted by c, keeping V = c ⊙ H)
        shift = np.where(affine, V.sum(0) / c.sum(), 0.0)
        V = V - c[:, None] * shift[None, :]
    rho, w, test, acc = copositivity_ratio(V, c, test_tol=test_tol, random_state=random_state)
    inner = float(np.sum(V * Y))
    lb = 2 * inner / math.sqrt(rho) if rho > 0 and inner > 0 else 0.0
    resid = float(np.linalg.norm(Z @ Wr + np.where(affine, b, 0.0)[None, :] - Y) / max(np.linalg.norm(Y), 1e-300))
    cert = FactoredCertificate(lower_bound=lb, gap=Certificate.relative_gap(objective, lb), ratio=rho, test=test,
                               test_accuracy=acc, decoding_residual=resid, n_columns=Z.shape[1],
                               solver_status="factored", completely_positive=True, factor_residual=0.0)
    return cert, V, w


def factored_solve(problem, *, tol: float = 1e-6, max_iter: int | None = None, max_columns: int = 64,
                   test_tol: float = 1e-10, verbose: bool = False, random_state=None) -> Solution:
    """Solve a completely-positive Q-space problem in factored form (the module docstring's method).

    Parameters
    ----------
    problem : a :class:`~simcode.convex.Problem` of activity_cost / rank_penalty / readout_cost terms and the
        ``nonnegative()`` constraint (:func:`factored_support` says whether it qualifies and why not).
    tol : the certified relative gap to reach.
    max_iter : L-BFGS iterations per master solve (default 2000); ``n_iter`` counts them over all masters.
    max_columns : column-generation rounds.
    test_tol : relative accuracy of the k = 3 copositivity test.

    Returns
    -------
    Solution with ``Z`` (n × r, non-negative), ``W``/``b`` per readout term, ``Q = ZZᵀ`` for
    n ≤ :data:`FACTORED_Q_MAX_N` (None above: Q is never formed), and a :class:`FactoredCertificate`.
    Memory and time are O(n r) per step (O(n log n) for the exact tests).
    """
    from .terms import ReadoutCost

    t0 = time.perf_counter()
    tol = check_number(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_int(2000 if max_iter is None else max_iter, "max_iter", low=1)
    max_columns = check_int(max_columns, "max_columns", low=1)
    c, Y, affine = _form(problem)
    n, k = Y.shape
    hist = {"objective": [], "lower_bound": [], "gap": [], "columns": []}
    n_iter = 0
    status = "converged"
    if k == 1:
        Z, Wr, b, H = _code_k1(Y[:, 0], c, bool(affine[0]))
        obj = float(c @ (Z ** 2).sum(1) + np.sum(Wr ** 2))
        cert, V, _ = _certificate(Z, Wr, b, H, Y, c, affine, obj, test_tol, random_state)
        for key, val in (("objective", obj), ("lower_bound", cert.lower_bound), ("gap", cert.gap),
                         ("columns", Z.shape[1])):
            hist[key].append(val)
        if cert.gap > tol:
            status = "inaccurate"
    else:
        # start: an ON and an OFF neuron per target (a positive spanning set: every target is decodable)
        scale = np.sqrt(np.sqrt(np.maximum((c[:, None] * Y ** 2).sum(0), 1e-300)))
        U = np.vstack([np.diag(scale), -np.diag(scale)])
        b = np.where(affine, np.median(Y, axis=0), 0.0)
        H = np.zeros((n, k))
        state = {"H": H}
        cert = None
        for rnd in range(max_columns):
            m = U.shape[0]

            def fun(x, m=m):
                Ux, bx = x[:m * k].reshape(m, k), x[m * k:]
                J, gU, gb, Hn, _ = _master_value(Ux, bx, Y, c, affine, state["H"].copy())
                if np.isfinite(J):
                    state["H"] = Hn
                return J, np.concatenate([gU.ravel(), gb])

            x, J, g, it = _lbfgs(fun, np.concatenate([U.ravel(), b]), max_iter, gtol=1e-11 * max(1.0, 1.0))
            n_iter += it
            U, b = x[:m * k].reshape(m, k), x[m * k:]
            Yt = Y - np.where(affine, b, 0.0)[None, :]
            H, Z = _inner(U, Yt, state["H"].copy())
            state["H"] = H
            live = np.sum(U * U, 1) > 1e-20 * np.sum(U * U)
            Zl, Ul = Z[:, live], U[live]
            obj = float(c @ (Zl ** 2).sum(1) + np.sum(Ul ** 2))
            cert, V, w = _certificate(Zl, Ul, b, H, Y, c, affine, obj, test_tol, random_state)
            for key, val in (("objective", obj), ("lower_bound", cert.lower_bound), ("gap", cert.gap),
                             ("columns", int(live.sum()))):
                hist[key].append(val)
            if verbose:
                print(f"factored: round {rnd}: objective {obj:.12g}, lower bound {cert.lower_bound:.12g}, "
                      f"gap {cert.gap:.2e}, columns {int(live.sum())}, L-BFGS {it}")
            if cert.gap <= tol:
                break
            # the most violated dual constraint becomes a new readout row (a new neuron z = (H w)₊)
            U = np.vstack([Ul, 1e-3 * math.sqrt(np.sum(Ul * Ul) / max(1, Ul.shape[0])) * w[None, :]])
        else:
            status = "max_iter"
        Z, Wr = Zl, Ul
    # readout terms: W, b per term (targets were scaled by √lam)
    readouts = [t for t in problem.terms if isinstance(t, ReadoutCost)]
    Ws, bs, col = [], [], 0
    for t in readouts:
        m_t = t.Y.shape[1]
        s = math.sqrt(t.lam)
        Ws.append(Wr[:, col:col + m_t] / s)
        bs.append(np.where(affine[col:col + m_t], b[col:col + m_t], 0.0) / s)
        col += m_t
    if status != "converged":
        warn_not_converged("Problem.solve(solver='factored')", n_iter,
                           f"certified gap {cert.gap:.2e} > tol {tol:.1e} after {len(hist['gap'])} column rounds")
    Q = Z @ Z.T if n <= FACTORED_Q_MAX_N else None
    return Solution(Q=Q, objective=hist["objective"][-1], solver="factored", status=status, n_iter=n_iter,
                    certificate=cert, Z=Z, W=Ws, b=bs, history={key: np.asarray(v) for key, v in hist.items()},
                    time_s=time.perf_counter() - t0,
                    info={"columns": Z.shape[1], "targets": k, "test": cert.test})
