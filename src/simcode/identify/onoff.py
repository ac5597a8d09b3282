"""The ON/OFF split of a scalar variable and its sparsity threshold (000 §5, Fig. 3).

Problem (000 §5): a scalar stimulus I with law p; a non-negative code z(I) ≥ 0 with an affine readout
wᵀz(I) + b = I, minimising ⟨‖z(I)‖²⟩_p + λ‖w‖². In Q-space (Q_ij = z(I_i)ᵀz(I_j)) this is

    min_Q Tr(diag(p) Q) + λ min_b (I − b1)ᵀ Q⁺ (I − b1)   s.t. Q completely positive,

which :func:`solve_onoff` solves with :mod:`simcode.convex` (DNN relaxation + CP certificate).

Closed form (derived from the KKT conditions; used as an independent check): the optimum has at most
two neurons, z_ON ∝ (I − b)₊ and z_OFF ∝ (b − I)₊, and the optimal value is
2√λ · min_b (‖(I − b)₊‖ + ‖(b − I)₊‖) with ‖·‖ the L²(p) norm. The OFF channel vanishes iff the
minimum is at b = I_min, i.e. iff the right-derivative at I_min is ≥ 0:

    √Pr(I = I_min) ≥ ⟨I − I_min⟩ / √⟨(I − I_min)²⟩   ⇔   Pr(I = I_min) > ⟨I − I_min⟩² / ⟨(I − I_min)²⟩,

the paper's threshold Pr(I=0) > ⟨I⟩²/⟨I²⟩ for I ≥ 0 with I_min = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..convex.factor import factor_nonneg
from ..convex.problem import Problem
from ..convex.terms import activity_cost, check_probs, nonnegative, readout_cost
from ..core import SolverResult, check_array, check_number, check_option

__all__ = ["onoff_threshold", "critical_p_zero", "onoff_closed_form", "solve_onoff", "OnOffResult"]


def _check_law(values, probs):
    v = check_array(values, "values", ndim=1, min_rows=2)
    p = check_array(probs, "probs", ndim=1, min_rows=2, dtype="floating")
    if v.shape != p.shape:
        raise ValueError(f"values and probs must have the same length, got {v.shape[0]} and {p.shape[0]}")
    p = check_probs(p, "probs")   # the sum is checked to the input's precision (float32 probabilities are fine)
    if np.ptp(v[p > 0]) == 0:
        raise ValueError("the stimulus is constant under probs: there is nothing to encode")
    return v, p


def onoff_threshold(values, probs) -> float:
    """The sparsity threshold ⟨I − I_min⟩² / ⟨(I − I_min)²⟩ (000 §5).

    A single (ON) channel is optimal iff Pr(I = I_min) exceeds it. For the threshold as a function of
    the atom only (other mass fixed in shape), see :func:`critical_p_zero`.
    """
    v, p = _check_law(values, probs)
    d = v - v[p > 0].min()
    return float((p @ d) ** 2 / (p @ d**2))


def critical_p_zero(values, probs) -> float:
    """The atom mass p* at which the transition happens when the atom at I_min is re-weighted and the
    rest of the law keeps its shape: p* = r/(1 + r), r = ⟨d⟩_c²/⟨d²⟩_c over the continuous part."""
    v, p = _check_law(values, probs)
    vmin = v[p > 0].min()
    rest = (v > vmin) & (p > 0)
    q = p[rest] / p[rest].sum()
    d = v[rest] - vmin
    r = (q @ d) ** 2 / (q @ d**2)
    return float(r / (1 + r))


def onoff_closed_form(values, probs, lam):
    """Optimal value and threshold b* of the ON/OFF problem from the closed form (module docstring)."""
    from scipy.optimize import minimize_scalar

    v, p = _check_law(values, probs)
    lam = check_number(lam, "lam", low=0.0, low_inclusive=False)
    f = lambda b: np.sqrt(p @ np.maximum(v - b, 0) ** 2) + np.sqrt(p @ np.maximum(b - v, 0) ** 2)  # noqa: E731
    lo, hi = v[p > 0].min(), v[p > 0].max()
    r = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12 * max(1.0, hi - lo)})
    b = r.x if f(r.x) < f(lo) else lo
    return 2 * np.sqrt(lam) * min(f(b), f(lo)), b


@dataclass(kw_only=True)
class OnOffResult(SolverResult):
    """Outcome of :func:`solve_onoff`; status, n_iter, history, time_s and certificate are the convex solve's."""

    values: np.ndarray
    probs: np.ndarray
    Z: np.ndarray            #: (n, k) non-negative tuning curves (neurons in columns)
    on: np.ndarray           #: boolean mask of ON neurons (increasing with I)
    objective: float
    off_share: float         #: fraction of the activity cost carried by OFF neurons
    n_off: int
    on_range: tuple | None   #: (lowest, highest) stimulus where some ON neuron fires
    off_range: tuple | None
    on_rate: float           #: ⟨Σ_ON z⟩_p
    off_rate: float
    threshold: float         #: onoff_threshold(values, probs)
    p_min: float             #: Pr(I = I_min)
    solution: object         #: the simcode.convex Solution (Q, certificate, …)

    @property
    def single_channel(self) -> bool:
        return self.n_off == 0


def solve_onoff(values, probs, lam=1.0, *, solver="auto", tol=1e-7, off_tol=1e-5, random_state=None,
                **solve_kw) -> OnOffResult:
    """Solve the ON/OFF problem numerically through the convex engine and read off the tunings.

    Parameters
    ----------
    values, probs : the stimulus values I and their probabilities.
    lam : readout cost weight λ (> 0).
    solver : ``Problem.solve``'s solver ("auto", "cvxpy", "firstorder").
    tol : solver tolerance.
    off_tol : OFF neurons whose share of the activity cost is below it are treated as absent (solver
        precision).
    random_state : seed of the non-negative factorisation's random restarts.
    **solve_kw : passed to :meth:`simcode.convex.Problem.solve` (``device``, ``max_iter`` …).

    A neuron is ON if its tuning correlates positively with I, OFF otherwise.
    """
    v, p = _check_law(values, probs)
    lam = check_number(lam, "lam", low=0.0, low_inclusive=False)
    check_option(solver, "solver", ("auto", "cvxpy", "firstorder"))
    tol = check_number(tol, "tol", low=0.0, low_inclusive=False)
    off_tol = check_number(off_tol, "off_tol", low=0.0)
    prob = Problem([activity_cost(p), readout_cost(v, lam=lam, affine=True)], [nonnegative()])
    sol = prob.solve(solver=solver, tol=tol, random_state=random_state, **solve_kw)
    # the optimum has rank ≤ 2 (one ON, at most one OFF neuron); factor at the solver's precision
    w = np.linalg.eigvalsh(sol.Q)
    rank = max(1, int(np.sum(w > 1e-6 * w.max())))
    Z = factor_nonneg(np.maximum(sol.Q, 0), n_components=rank, random_state=random_state).Z
    energy = p @ Z**2
    total = energy.sum()
    keep = energy > 1e-10 * total
    Z = Z[:, keep]
    energy = energy[keep]
    vc = v - p @ v
    on = (p * vc) @ Z > 0
    off_share = float(energy[~on].sum() / total)
    if off_share < off_tol:
        Z, energy, on = Z[:, on], energy[on], on[on]
        off_share = 0.0
    fire = Z > 1e-4 * Z.max(axis=0, keepdims=True)

    def _range(mask):
        if not mask.any():
            return None
        active = fire[:, mask].any(axis=1) & (p > 0)
        return (float(v[active].min()), float(v[active].max())) if active.any() else None

    return OnOffResult(
        values=v, probs=p, Z=Z, on=on, objective=sol.objective, off_share=off_share, n_off=int((~on).sum()),
        on_range=_range(on), off_range=_range(~on), on_rate=float(p @ Z[:, on].sum(1)),
        off_rate=float(p @ Z[:, ~on].sum(1)) if (~on).any() else 0.0,
        threshold=onoff_threshold(v, p), p_min=float(p[v == v[p > 0].min()].sum()), solution=sol,
        status=sol.status, n_iter=sol.n_iter, history=sol.history, time_s=sol.time_s, certificate=sol.certificate)
