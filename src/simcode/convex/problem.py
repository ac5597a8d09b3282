"""``Problem``: a sum of Q-space objective terms under constraints; ``Problem.solve`` returns a ``Solution``.

    >>> from simcode.convex import Problem, activity_cost, readout_cost, nonnegative
    >>> prob = Problem([activity_cost(p), readout_cost(Y, lam=0.1, affine=True)], [nonnegative()])
    >>> sol = prob.solve()            # "auto": ADMM (PyTorch) with a certificate; solver="cvxpy" for the reference
    >>> sol.Q, sol.Z, sol.W, sol.b, sol.certificate, sol.representation

The problem is convex in Q (000 §2). With ``nonnegative()`` it is posed over the completely-positive
cone and solved over its doubly-non-negative relaxation; the solution then says whether the DNN optimum
was certified completely positive (a non-negative factor Z reproducing Q was found), in which case it is
the global optimum of the CP problem too. Which solver can handle which term is the term contract of
:mod:`simcode.convex.terms`.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import (InfeasibleProblemError, UnsupportedTermError, check_bool, check_int, check_number,
                    check_option, resolve_device)
from .admm import admm_solve
from .cvxpy_sdp import CVXPY_MAX_N, cvxpy_solve
from .factor import factor_nonneg
from .factored import factored_solve, factored_support
from .solution import Certificate, Solution
from .terms import Constraint, Nonnegative, Term, constraint_form, first_order_form, optimal_bias

__all__ = ["Problem", "InfeasibleProblemError", "UnsupportedTermError"]

SOLVERS = ("auto", "cvxpy", "firstorder", "factored")


class Problem:
    """min Σ terms(Q) s.t. constraints, over n × n PSD matrices Q (n = number of stimuli).

    Parameters
    ----------
    terms : list of :class:`~simcode.convex.terms.Term` (``activity_cost``, ``readout_cost``, ``encoder_cost``,
        ``similarity_matching``, ``rank_penalty``, or your own following the term contract).
    constraints : list of :class:`~simcode.convex.terms.Constraint` (``nonnegative``, ``decodable``,
        ``affine_decodable``, ``trace_budget``), or callables ``Q -> list of cvxpy constraints`` (cvxpy only).
    n : number of stimuli (inferred from the terms when they carry data).
    """

    def __init__(self, terms, constraints=(), n: int | None = None):
        for what, v in (("terms", terms), ("constraints", constraints)):
            if isinstance(v, (str, bytes)) or not (isinstance(v, (Term, Constraint)) or hasattr(v, "__iter__")):
                raise TypeError(f"{what} must be a list, got {type(v).__name__}")
        self.terms = list(terms) if not isinstance(terms, Term) else [terms]
        cons = list(constraints) if not isinstance(constraints, Constraint) else [constraints]
        # decodability constraints are readout terms of lam 0
        self.terms += [c for c in cons if isinstance(c, Term)]
        self.constraints = [c for c in cons if not isinstance(c, Term)]
        for t in self.terms:
            if not isinstance(t, Term):
                raise TypeError(f"terms must be simcode.convex.Term objects, got {type(t).__name__}")
        for c in self.constraints:
            if not (isinstance(c, Constraint) or callable(c)):
                raise TypeError(f"constraints must be simcode.convex.Constraint objects or callables, got {c!r}")
        if not self.terms:
            raise ValueError("a problem needs at least one objective term")
        sizes = {s for s in (t.n_stimuli() for t in self.terms) if s is not None}
        n = check_int(n, "n", low=1, allow_none=True)
        if n is not None:
            sizes.add(n)
        if len(sizes) > 1:
            raise ValueError(f"terms disagree on the number of stimuli: {sorted(sizes)}")
        if not sizes:
            raise ValueError("cannot infer the number of stimuli: pass n=")
        self.n = sizes.pop()
        for t in self.terms + [c for c in self.constraints if isinstance(c, Constraint)]:
            t.check_n(self.n)

    @property
    def nonneg(self) -> bool:
        return any(isinstance(c, Nonnegative) for c in self.constraints)

    def _readouts(self):
        return [r for r in (t.readout_part() for t in self.terms) if r is not None]

    # ------------------------------------------------------------------ evaluation
    def objective(self, Q) -> float:
        """Σ terms(Q) (readout terms through the pseudo-inverse; +inf where a target is outside range(Q))."""
        Q = np.asarray(Q, dtype=float)
        w, V = np.linalg.eigh(0.5 * (Q + Q.T))
        keep = w > 1e-8 * max(w.max(), 1e-300)
        for r in self._readouts():
            Yt = r.Y - optimal_bias(r, Q)[None, :]
            resid = Yt - V[:, keep] @ (V[:, keep].T @ Yt)
            if np.linalg.norm(resid) > 1e-4 * max(np.linalg.norm(Yt), 1e-300):
                return float("inf")
        return float(sum(t.value(Q) for t in self.terms))

    def check_feasible(self):
        """Structural feasibility: every readout target must lie in the range the encoders allow.

        With a range restriction range(Q) ⊆ range(E) (an encoder's [X, 1] basis), a readout of Y
        (affine: Y − 1bᵀ for some b) needs range(Y) ⊆ range(Q). Raises ``InfeasibleProblemError``.
        """
        f64 = float(np.finfo(np.float64).eps)
        # float32 data are exact to ~1e-7 only: a target built from float32 inputs is reachable to that precision
        data_eps = max([f64] + [float(getattr(t, "eps", f64)) for t in self.terms])
        tol = max(1e-8, 100 * data_eps) if data_eps > f64 else 1e-8
        for E in (b for b in (t.range_basis() for t in self.terms) if b is not None):
            for r in self._readouts():
                A = np.column_stack([E, np.ones(self.n)]) if r.affine else E
                coef, *_ = np.linalg.lstsq(A, r.Y, rcond=None)
                resid = np.linalg.norm(r.Y - A @ coef)
                if resid > tol * max(np.linalg.norm(r.Y), 1e-300):
                    raise InfeasibleProblemError(
                        f"infeasible: the {'affine ' if r.affine else ''}readout targets Y are not reachable "
                        f"from the encoder's input X (relative residual {resid / np.linalg.norm(r.Y):.2e}); "
                        "no code Z = X W_in can decode Y")

    def first_order_support(self) -> str | None:
        """None when the first-order solver can take every term and constraint, else the reason it cannot."""
        try:
            first_order_form(self.terms, self.n)
            constraint_form(self.constraints)
        except UnsupportedTermError as exc:
            return str(exc)
        return None

    # ------------------------------------------------------------------ solving
    def solve(self, solver: str = "auto", *, device: str = "auto", tol: float = 1e-6, max_iter: int | None = None,
              verbose: bool = False, cvxpy_solver: str = "CLARABEL", force: bool = False, recover_z: bool = True,
              cp_tol: float = 1e-4, random_state=None) -> Solution:
        """Solve the problem.

        Parameters
        ----------
        solver : {"auto", "cvxpy", "firstorder", "factored"}
            "factored": the completely-positive optimum itself by certificate-driven column generation over
            Z ≥ 0 (n × r), O(n r) memory, never forming Q (:mod:`simcode.convex.factored`); for activity_cost /
            rank_penalty / readout_cost terms under ``nonnegative()``, certified exactly for k ≤ 3 targets.
            "cvxpy": the exact reference (Clarabel or SCS, ``cvxpy_solver``); "firstorder": ADMM in PyTorch
            (CPU or CUDA) with a certified gap, 25–370× faster than cvxpy already at n = 40–160 (BENCHMARKS.md);
            "auto": "factored" wherever it applies with k ≤ 2 targets (``factored_support``), else
            cvxpy for n ≤ 24 (the interior point is quicker than ADMM's per-iteration overhead there)
            and whenever a term or constraint has no first-order form (custom cvxpy constraints, user terms
            with only ``cvxpy_parts``), else the first-order solver. ``Solution.solver`` says which ran.
            A solver given a term it cannot represent raises :class:`simcode.core.UnsupportedTermError`.
        device : torch device of the first-order solver ("auto": CUDA when available).
        tol, max_iter : stopping tolerance and iteration cap (first-order default 20000).
        cvxpy_solver : "CLARABEL" or "SCS".
        force : let cvxpy attempt an n above its practical limit.
        recover_z : factor Q into a non-negative Z (when ``nonnegative()``; else Z = V√Λ).
        cp_tol : relative factor residual that certifies Q completely positive.
        random_state : seed of the factorisation's random restarts (the first restart is deterministic).
        """
        check_option(solver, "solver", SOLVERS)
        tol = check_number(tol, "tol", low=0.0, low_inclusive=False)
        recover_z = check_bool(recover_z, "recover_z")
        max_iter = check_int(max_iter, "max_iter", low=1, allow_none=True)
        cp_tol = check_number(cp_tol, "cp_tol", low=0.0, low_inclusive=False)
        self.check_feasible()
        if solver == "factored" or (solver == "auto" and factored_support(self) is None
                                    and sum(r.Y.shape[1] for r in self._readouts()) <= 2):
            return factored_solve(self, tol=tol, max_iter=max_iter, verbose=verbose, random_state=random_state)
        if solver == "auto":
            reason = self.first_order_support()
            if reason is not None:
                if self.n > CVXPY_MAX_N.get(str(cvxpy_solver).upper(), math.inf) and not force:
                    raise UnsupportedTermError(
                        f"solver='auto': the first-order solver cannot take this problem ({reason}), and "
                        f"n={self.n} is above cvxpy+{cvxpy_solver}'s practical limit; pass solver='cvxpy', "
                        "force=True to try cvxpy anyway")
                solver = "cvxpy"
            else:
                solver = "cvxpy" if self.n <= 24 else "firstorder"
        if solver == "cvxpy":
            sol = cvxpy_solve(self, cvxpy_solver=cvxpy_solver, tol=tol, verbose=verbose, force=force,
                              max_iter=max_iter)
        else:
            sol = self._solve_firstorder(device=device, tol=tol, max_iter=max_iter or 20000, verbose=verbose)
        if recover_z:
            self._recover(sol, cp_tol, random_state)
        return sol

    def _solve_firstorder(self, device, tol, max_iter, verbose):
        dev = resolve_device(device)
        r = admm_solve(self, device=dev, tol=tol, max_iter=max_iter, verbose=verbose)
        return Solution(Q=r.Q, objective=r.objective, status=r.status, n_iter=r.n_iter, solver=f"firstorder[{dev}]",
                        certificate=r.certificate, b=r.b, history=r.history, time_s=r.time_s,
                        info={"projections": r.projections, "rho": r.rho})

    def _recover(self, sol: Solution, cp_tol: float, random_state):
        Q = sol.Q
        if sol.certificate is None:
            sol.certificate = Certificate()
        if self.nonneg:
            f = factor_nonneg(np.maximum(Q, 0), random_state=random_state)
            Z = f.Z
            sol.certificate.completely_positive = f.completely_positive(cp_tol)
            sol.certificate.factor_residual = f.residual
            sol.certificate.cp_tol = cp_tol
        else:
            w, V = np.linalg.eigh(0.5 * (Q + Q.T))
            keep = w > 1e-9 * max(w.max(), 1e-300)
            Z = V[:, keep] * np.sqrt(w[keep])
        sol.Z = Z
        Zp = np.linalg.pinv(Z, rcond=1e-8) if Z.size else Z.T
        sol.W, bs = [], []
        for i, r in enumerate(self._readouts()):
            b = sol.b[i] if i < len(sol.b) else optimal_bias(r, Q)
            bs.append(np.asarray(b))
            sol.W.append(Zp @ (r.Y - np.asarray(b)[None, :]))
        sol.b = bs
