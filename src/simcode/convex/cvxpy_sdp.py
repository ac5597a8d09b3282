"""The cvxpy solver: the problem written as a cvxpy SDP and solved by Clarabel (interior point) or SCS.

Matrix-fractional terms become Schur-complement blocks [[Q, Ỹ], [Ỹᵀ, T]] ⪰ 0 (cvxpy's own ``bmat``),
non-negativity becomes Q ≥ 0 elementwise (the DNN relaxation of the CP cone), and encoder range restrictions
range(Q) ⊆ range(E) are imposed by writing Q = E G Eᵀ with G ⪰ 0. Each term supplies its own cvxpy form
(``cvxpy_parts``; see the contract in :mod:`simcode.convex.terms`).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from ..core import (ConvergenceWarning, InfeasibleProblemError, UnsupportedTermError, check_bool, check_int,
                    check_number)
from .solution import Certificate, Solution
from .terms import Constraint, Term, intersect_ranges

__all__ = ["cvxpy_solve", "build_cvxpy", "CVXPY_MAX_N"]

#: largest n each cvxpy solver is allowed to attempt without ``force=True`` (SCS takes ~12 min at 320)
CVXPY_MAX_N = {"CLARABEL": 120, "SCS": 400}


def _check_parts(obj, parts):
    what = "term" if isinstance(obj, Term) else "constraint"
    if not (isinstance(parts, tuple) and len(parts) == 2):
        raise UnsupportedTermError(f"{what} {type(obj).__name__}.cvxpy_parts(Q, n) must return "
                                   f"(expression or None, [constraints]), got {type(parts).__name__}")
    return parts


def build_cvxpy(problem):
    """(cvxpy.Problem, Q expression, [(term, its cvxpy expression)]) for ``problem``."""
    import cvxpy as cp

    _check_problem(problem)
    n = problem.n
    basis = None
    for t in problem.terms:
        E = t.range_basis()
        if E is not None:
            basis = E if basis is None else intersect_ranges(basis, E)
    if basis is None:
        Q = cp.Variable((n, n), PSD=True)
    else:  # range(Q) ⊆ range(E): Q = E G Eᵀ, G ⪰ 0 (no redundant equalities for the solver)
        G = cp.Variable((basis.shape[1], basis.shape[1]), PSD=True)
        Q = basis @ G @ basis.T
    obj = 0
    cons = []
    exprs = []
    for t in problem.terms:
        e, c = _check_parts(t, t.cvxpy_parts(Q, n))
        exprs.append((t, e))
        obj = obj + e
        cons += list(c)
    for c in problem.constraints:
        if isinstance(c, Constraint):
            _, cc = _check_parts(c, c.cvxpy_parts(Q, n))
        else:
            cc = c(Q)
            cc = list(cc) if isinstance(cc, (list, tuple)) else [cc]
        cons += list(cc)
    return cp.Problem(cp.Minimize(obj), cons), Q, exprs


def cvxpy_solve(problem, cvxpy_solver: str = "CLARABEL", tol: float = 1e-6, verbose: bool = False,
                force: bool = False, max_iter: int | None = None) -> Solution:
    """Solve ``problem`` (a :class:`simcode.convex.Problem`) with cvxpy; returns a :class:`Solution`.

    ``cvxpy_solver``: "CLARABEL" (its defaults: 1e-8 gap and feasibility, tighter than any tol accepted here)
    or "SCS" (``eps_abs = eps_rel = tol``). Infeasible → :class:`InfeasibleProblemError`; unbounded →
    ``ValueError``; an inaccurate finish → status ``"inaccurate"`` and a :class:`ConvergenceWarning`.
    """
    import cvxpy as cp

    _check_problem(problem)
    if not isinstance(cvxpy_solver, str):
        raise TypeError(f"cvxpy_solver must be a string, got {type(cvxpy_solver).__name__}")
    tol = check_number(tol, "tol", low=0.0, low_inclusive=False)
    verbose = check_bool(verbose, "verbose")
    force = check_bool(force, "force")
    max_iter = check_int(max_iter, "max_iter", low=1, allow_none=True)
    solver = str(cvxpy_solver).upper()
    if solver not in CVXPY_MAX_N:
        raise ValueError(f"cvxpy_solver must be one of {sorted(CVXPY_MAX_N)}, got {cvxpy_solver!r}")
    if problem.n > CVXPY_MAX_N[solver] and not force:
        raise ValueError(
            f"n={problem.n} stimuli is too large for cvxpy+{solver} (practical limit {CVXPY_MAX_N[solver]}: "
            f"its SDP has {problem.n * (problem.n + 1) // 2} variables; SCS needs ~12 min at n=320). "
            "Use solver='firstorder', or force=True to try anyway.")
    prob, Q, exprs = build_cvxpy(problem)
    if solver == "SCS":
        kw = dict(eps_abs=tol, eps_rel=tol, max_iters=max_iter or 100000)
    else:
        kw = {"max_iter": max_iter} if max_iter else {}
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
    ours = {cp.OPTIMAL: "converged", cp.OPTIMAL_INACCURATE: "inaccurate"}.get(status, "max_iter")
    if ours != "converged":
        warnings.warn(f"cvxpy+{solver} finished with status {status!r}", ConvergenceWarning, stacklevel=3)
    Qv = 0.5 * (Q.value + Q.value.T)
    _check_user_values(exprs, Qv)
    stats = prob.solver_stats
    # SCS reports its dual objective: a lower bound up to SCS's own feasibility tolerance (not a proof).
    # Clarabel's duals are not exposed through cvxpy; the rigorous certificate is the first-order solver's.
    lb = gap = res = math.nan
    info = (stats.extra_stats or {}).get("info") if isinstance(stats.extra_stats, dict) else None
    if info and "dobj" in info:
        lb = float(info["dobj"])
        gap = (float(prob.value) - lb) / max(1.0, abs(float(prob.value)))
        res = float(info.get("res_pri", np.nan))
    cert = Certificate(lower_bound=lb, gap=gap, primal_residual=res, solver_status=status)
    return Solution(Q=Qv, objective=float(prob.value), status=ours, n_iter=int(stats.num_iters or 0),
                    solver=f"cvxpy[{solver}]", certificate=cert, time_s=elapsed)


def _check_user_values(exprs, Q) -> None:
    """A user term's ``value(Q)`` must agree with its cvxpy expression at the optimum (else warn loudly)."""
    for term, e in exprs:
        if type(term).__module__ == Term.__module__ or e is None or getattr(e, "value", None) is None:
            continue
        got, want = float(term.value(Q)), float(e.value)
        if not abs(got - want) <= 1e-4 * (1.0 + abs(got) + abs(want)):
            warnings.warn(f"term {type(term).__name__}: value(Q) = {got:.6g} but its cvxpy expression is "
                          f"{want:.6g} at the solution; the two forms disagree, so the reported objective is "
                          "the cvxpy one", RuntimeWarning, stacklevel=4)


def _check_problem(problem) -> None:
    """``problem`` must be a :class:`simcode.convex.Problem` (a clear TypeError instead of an AttributeError)."""
    from .problem import Problem

    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a simcode.convex.Problem, got {type(problem).__name__}")
