"""``Problem``: a sum of Q-space objective terms under constraints, and its ``Solution``.

    >>> from simcode.convex import Problem, activity_cost, readout_cost, nonnegative
    >>> prob = Problem([activity_cost(p), readout_cost(Y, weight=0.1, affine=True)], [nonnegative()])
    >>> sol = prob.solve()                  # auto: ADMM (PyTorch) with a certificate; backend="cvxpy" for the exact reference
    >>> sol.Q, sol.Z, sol.W, sol.b, sol.certificate

The problem is convex in Q (000 §2). With ``nonnegative()`` it is posed over the completely-positive
cone and solved over its doubly-non-negative relaxation; the solution then says whether the DNN optimum
was certified completely positive (a non-negative factor Z reproducing Q was found), in which case it is
the global optimum of the CP problem too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .._utils import ConvergenceWarning, resolve_device
from ..core.exceptions import InfeasibleProblemError
from .factor import factor_nonneg
from .terms import Constraint, Nonnegative, ReadoutCost, Term

__all__ = ["Problem", "Solution", "Certificate", "InfeasibleProblemError"]

#: largest n each cvxpy solver is allowed to attempt without ``force=True`` (SCS takes ~12 min at 320)
CVXPY_MAX_N = {"CLARABEL": 120, "SCS": 400}


@dataclass
class Certificate:
    """Evidence of optimality.

    ``lower_bound``: a proven lower bound on the optimum of the (DNN-relaxed) problem, or None;
    ``gap``: (objective − lower_bound)/max(1, |objective|); ``completely_positive``: a non-negative
    factor Z with ‖ZZᵀ − Q‖/‖Q‖ ≤ ``cp_tol`` was found, so Q is CP and (if the gap is small) the
    solution is the certified global optimum of the CP problem.
    """

    lower_bound: float | None
    gap: float | None
    primal_residual: float | None
    completely_positive: bool | None
    factor_residual: float | None
    cp_tol: float
    solver_status: str

    @property
    def certified(self) -> bool:
        ok_gap = self.gap is not None and self.gap <= 1e-4
        return bool(ok_gap and self.completely_positive is not False)

    def __str__(self):
        parts = [f"status={self.solver_status}"]
        if self.lower_bound is not None:
            parts.append(f"lower_bound={self.lower_bound:.8g}")
        if self.gap is not None:
            parts.append(f"gap={self.gap:.2e}")
        if self.completely_positive is not None:
            parts.append(f"completely_positive={self.completely_positive} (factor residual {self.factor_residual:.1e})")
        return "Certificate(" + ", ".join(parts) + ")"


@dataclass
class Solution:
    Q: np.ndarray
    objective: float
    status: str
    n_iter: int
    backend: str
    certificate: Certificate
    Z: np.ndarray | None = None
    W: list = field(default_factory=list)   #: min-norm readout per readout term (k × m_j)
    b: list = field(default_factory=list)   #: readout bias per readout term
    history: dict = field(default_factory=dict)
    time_s: float = 0.0

    @property
    def converged(self) -> bool:
        return self.status in ("optimal", "converged")


class Problem:
    """min Σ terms(Q) s.t. constraints, over n × n PSD matrices Q (n = number of stimuli).

    Parameters
    ----------
    terms : list of objective terms (``activity_cost``, ``readout_cost``, ``encoder_cost``,
        ``similarity_matching``, ``rank_penalty``).
    constraints : list of constraints (``nonnegative``, ``decodable``, ``affine_decodable``,
        ``trace_budget``), or callables ``Q -> list of cvxpy constraints`` (exact back-end only).
    n : number of stimuli (inferred from the terms when they carry data).
    """

    def __init__(self, terms, constraints=(), n: int | None = None):
        self.terms = list(terms) if not isinstance(terms, Term) else [terms]
        cons = list(constraints) if not isinstance(constraints, Constraint) else [constraints]
        # decodability constraints are readout terms of weight 0
        self.terms += [c for c in cons if isinstance(c, ReadoutCost)]
        self.constraints = [c for c in cons if not isinstance(c, ReadoutCost)]
        for t in self.terms:
            if not isinstance(t, Term):
                raise ValueError(f"terms must be simcode.convex terms, got {type(t).__name__}")
        for c in self.constraints:
            if not (isinstance(c, Constraint) or callable(c)):
                raise ValueError(f"constraints must be simcode.convex constraints or callables, got {c!r}")
        if not self.terms:
            raise ValueError("a problem needs at least one objective term")
        sizes = {t.Y.shape[0] for t in self.terms if hasattr(t, "Y")}
        sizes |= {t.X.shape[0] for t in self.terms if hasattr(t, "X")}
        sizes |= {t.K.shape[0] for t in self.terms if hasattr(t, "K")}
        sizes |= {t.p.shape[0] for t in self.terms if getattr(t, "p", None) is not None}
        if n is not None:
            sizes.add(int(n))
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

    # ------------------------------------------------------------------ evaluation
    def objective(self, Q) -> float:
        """Σ terms(Q) (readout terms through the pseudo-inverse; +inf where a target is outside range(Q))."""
        Q = np.asarray(Q, dtype=float)
        total = 0.0
        for t in self.terms:
            if isinstance(t, ReadoutCost):
                Yt = t.Y - t.optimal_bias(Q)[None, :]
                w, V = np.linalg.eigh(0.5 * (Q + Q.T))
                keep = w > 1e-8 * max(w.max(), 1e-300)
                resid = Yt - V[:, keep] @ (V[:, keep].T @ Yt)
                if np.linalg.norm(resid) > 1e-4 * max(np.linalg.norm(Yt), 1e-300):
                    return float("inf")
            total += t.value(Q)
        return float(total)

    def check_feasible(self):
        """Structural feasibility: every readout target must lie in the range an encoder allows.

        With an encoder term, range(Q) ⊆ range(E) (E = the encoder's [X, 1] basis); a readout of Y
        (affine: Y − 1bᵀ for some b) needs range(Y) ⊆ range(Q). Raises ``InfeasibleProblemError``.
        """
        from .terms import EncoderCost

        for enc in (t for t in self.terms if isinstance(t, EncoderCost)):
            E = enc.basis
            for r in (t for t in self.terms if isinstance(t, ReadoutCost)):
                A = np.column_stack([E, np.ones(self.n)]) if r.affine else E
                coef, *_ = np.linalg.lstsq(A, r.Y, rcond=None)
                resid = np.linalg.norm(r.Y - A @ coef)
                if resid > 1e-8 * max(np.linalg.norm(r.Y), 1e-300):
                    raise InfeasibleProblemError(
                        f"infeasible: the {'affine ' if r.affine else ''}readout targets Y are not reachable "
                        f"from the encoder's input X (relative residual {resid / np.linalg.norm(r.Y):.2e}); "
                        "no code Z = X W_in can decode Y")

    # ------------------------------------------------------------------ solving
    def solve(self, backend: str = "auto", device: str = "auto", tol: float = 1e-6, max_iter: int | None = None,
              verbose: bool = False, solver: str | None = None, force: bool = False, recover_z: bool = True,
              cp_tol: float = 1e-4, random_state=0) -> Solution:
        """Solve the problem.

        backend : "auto" (the first-order solver; cvxpy+Clarabel for n ≤ 24, where the interior point is
            quicker than ADMM's per-iteration overhead, and for custom cvxpy constraints),
            "cvxpy" (exact reference; Clarabel or SCS) or "firstorder" (ADMM in PyTorch, CPU or CUDA, with a
            certified gap; 25–370× faster than cvxpy already at n = 40–160, see BENCHMARKS.md).
        solver : for cvxpy, "CLARABEL" (default) or "SCS".
        force : let cvxpy attempt an n above its practical limit.
        recover_z : factor Q into a non-negative Z (when ``nonnegative()``; else Z = V√Λ).
        """
        if backend not in ("auto", "cvxpy", "firstorder"):
            raise ValueError(f"backend must be 'auto', 'cvxpy' or 'firstorder', got {backend!r}")
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be a positive number, got {tol!r}")
        self.check_feasible()
        custom = [c for c in self.constraints if not isinstance(c, Constraint)]
        if backend == "auto":
            backend = "cvxpy" if (custom or self.n <= 24) else "firstorder"
        if backend == "firstorder" and custom:
            raise ValueError("custom cvxpy constraints need backend='cvxpy'")
        if backend == "cvxpy":
            from .cvxpy_backend import cvxpy_solve

            sol = cvxpy_solve(self, solver=solver or "CLARABEL", tol=tol, verbose=verbose, force=force,
                              max_iter=max_iter)
        else:
            sol = self._solve_firstorder(device=device, tol=tol, max_iter=max_iter or 20000, verbose=verbose)
        if recover_z:
            self._recover(sol, cp_tol, random_state)
        return sol

    def _solve_firstorder(self, device, tol, max_iter, verbose):
        from .firstorder import admm_solve

        dev = resolve_device(device)
        r = admm_solve(self, device=dev, tol=tol, max_iter=max_iter, verbose=verbose)
        gap = None
        if r.lower_bound is not None:
            gap = (r.objective - r.lower_bound) / max(1.0, abs(r.objective))
        status = "converged" if r.converged else "max_iter"
        if not r.converged:
            warnings.warn(
                f"ADMM stopped after {r.n_iter} iterations: primal residual {r.primal_residual:.2e}, "
                f"dual residual {r.dual_residual:.2e}, gap {gap if gap is None else f'{gap:.2e}'} (tol {tol:g})",
                ConvergenceWarning, stacklevel=3)
        cert = Certificate(lower_bound=r.lower_bound, gap=gap, primal_residual=r.primal_residual,
                           completely_positive=None, factor_residual=None, cp_tol=1e-4, solver_status=status)
        return Solution(Q=r.Q, objective=r.objective, status=status, n_iter=r.n_iter, backend=f"firstorder[{dev}]",
                        certificate=cert, b=r.b, history=r.history, time_s=r.time_s)

    def _recover(self, sol: Solution, cp_tol: float, random_state):
        Q = sol.Q
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
        readouts = [t for t in self.terms if isinstance(t, ReadoutCost)]
        for i, t in enumerate(readouts):
            b = sol.b[i] if i < len(sol.b) else t.optimal_bias(Q)
            bs.append(np.asarray(b))
            sol.W.append(Zp @ (t.Y - np.asarray(b)[None, :]))
        sol.b = bs
