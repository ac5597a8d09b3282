"""Exact back-end: the problem written as a cvxpy SDP and solved by Clarabel (interior point) or SCS.

Matrix-fractional terms become Schur-complement blocks [[Q, Ỹ], [Ỹᵀ, T]] ⪰ 0 (cvxpy's own
``bmat``), non-negativity becomes Q ≥ 0 elementwise (the DNN relaxation of the CP cone).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .._utils import ConvergenceWarning
from .terms import Constraint

__all__ = ["cvxpy_solve", "build_cvxpy"]


def build_cvxpy(problem):
    """(cvxpy.Problem, Q variable) for ``problem``."""
    import cvxpy as cp

    from .firstorder import _intersect
    from .terms import EncoderCost

    n = problem.n
    basis = None
    for t in problem.terms:
        if isinstance(t, EncoderCost) and t.basis.shape[1] < n:
            basis = t.basis if basis is None else _intersect(basis, t.basis)
    if basis is None:
        Q = cp.Variable((n, n), PSD=True)
    else:  # range(Q) ⊆ range(E): Q = E G Eᵀ, G ⪰ 0 (no redundant equalities for the solver)
        G = cp.Variable((basis.shape[1], basis.shape[1]), PSD=True)
        Q = basis @ G @ basis.T
    obj = 0
    cons = []
    for t in problem.terms:
        e, c = t.cvxpy_parts(Q, n)
        obj = obj + e
        cons += c
    for c in problem.constraints:
        if isinstance(c, Constraint):
            _, cc = c.cvxpy_parts(Q, n)
        else:
            cc = c(Q)
            cc = list(cc) if isinstance(cc, (list, tuple)) else [cc]
        cons += cc
    return cp.Problem(cp.Minimize(obj), cons), Q


def cvxpy_solve(problem, solver="CLARABEL", tol=1e-6, verbose=False, force=False, max_iter=None):
    from .problem import CVXPY_MAX_N, Certificate, InfeasibleProblemError, Solution

    import cvxpy as cp

    solver = solver.upper()
    if solver not in CVXPY_MAX_N:
        raise ValueError(f"solver must be one of {sorted(CVXPY_MAX_N)}, got {solver!r}")
    if problem.n > CVXPY_MAX_N[solver] and not force:
        raise ValueError(
            f"n={problem.n} stimuli is too large for cvxpy+{solver} (practical limit {CVXPY_MAX_N[solver]}: "
            f"its SDP has {problem.n * (problem.n + 1) // 2} variables; SCS needs ~12 min at n=320). "
            "Use backend='firstorder', or force=True to try anyway.")
    prob, Q = build_cvxpy(problem)
    kw = {}
    if solver == "SCS":
        kw = dict(eps_abs=tol, eps_rel=tol, max_iters=max_iter or 100000)
    else:
        kw = {}  # Clarabel's defaults (1e-8 gap and feasibility) are tighter than any tol we accept
        if max_iter:
            kw["max_iter"] = max_iter
    t0 = time.perf_counter()
    try:
        prob.solve(solver=solver, verbose=verbose, **kw)
    except cp.error.SolverError as exc:
        raise RuntimeError(f"cvxpy+{solver} failed: {exc}") from None
    elapsed = time.perf_counter() - t0
    status = prob.status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise InfeasibleProblemError(f"the problem is infeasible (cvxpy+{solver} status {status!r})")
    if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        raise ValueError(f"the problem is unbounded below (cvxpy+{solver} status {status!r})")
    if Q.value is None:
        raise RuntimeError(f"cvxpy+{solver} returned no solution (status {status!r})")
    if status != cp.OPTIMAL:
        warnings.warn(f"cvxpy+{solver} finished with status {status!r}", ConvergenceWarning, stacklevel=3)
    Qv = 0.5 * (Q.value + Q.value.T)
    stats = prob.solver_stats
    # SCS reports its dual objective: a lower bound up to SCS's own feasibility tolerance (not a proof).
    # Clarabel's duals are not exposed through cvxpy; the rigorous certificate is the first-order back-end's.
    lb = gap = res = None
    info = (stats.extra_stats or {}).get("info") if isinstance(stats.extra_stats, dict) else None
    if info and "dobj" in info:
        lb = float(info["dobj"])
        gap = (float(prob.value) - lb) / max(1.0, abs(float(prob.value)))
        res = float(info.get("res_pri", np.nan))
    cert = Certificate(lower_bound=lb, gap=gap, primal_residual=res, completely_positive=None,
                       factor_residual=None, cp_tol=1e-4, solver_status=status)
    return Solution(Q=Qv, objective=float(prob.value), status="optimal" if status == cp.OPTIMAL else status,
                    n_iter=int(stats.num_iters or 0), backend=f"cvxpy[{solver}]", certificate=cert,
                    time_s=elapsed)
