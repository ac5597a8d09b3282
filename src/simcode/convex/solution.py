"""What a Q-space solve returns: :class:`Solution` (the core solver-result protocol) and its :class:`Certificate`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core import Certificate as _CoreCertificate
from ..core import Representation, SolverResult

__all__ = ["Solution", "Certificate"]


@dataclass(kw_only=True)
class Certificate(_CoreCertificate):
    """Evidence of optimality (a :class:`simcode.core.Certificate`).

    Attributes
    ----------
    lower_bound : float
        A proven lower bound on the optimum of the (DNN-relaxed) problem, NaN when none is available.
    gap : float
        (objective − lower_bound)/max(1, |objective|), NaN without a lower bound.
    primal_residual : float
        The solver's relative primal residual (NaN when it reports none).
    completely_positive : bool or None
        A non-negative factor Z with ‖ZZᵀ − Q‖/‖Q‖ ≤ ``cp_tol`` was found, so Q is CP and (if the gap is
        small) the solution is the certified global optimum of the CP problem; None when not checked.
    factor_residual : float
        ‖ZZᵀ − Q‖_F/‖Q‖_F of that factor.
    cp_tol : float
    solver_status : str
        The solver's own status word (cvxpy's ``"optimal_inaccurate"`` …), kept for reference.
    """

    primal_residual: float = float("nan")
    completely_positive: bool | None = None
    factor_residual: float = float("nan")
    cp_tol: float = 1e-4
    solver_status: str = ""

    @property
    def certified(self) -> bool:
        """Gap ≤ 1e-4 and Q not refuted as completely positive."""
        return bool(self.gap <= 1e-4 and self.completely_positive is not False)

    def __str__(self):
        parts = [f"status={self.solver_status}"]
        if math.isfinite(self.lower_bound):
            parts.append(f"lower_bound={self.lower_bound:.8g}")
        if math.isfinite(self.gap):
            parts.append(f"gap={self.gap:.2e}")
        if self.completely_positive is not None:
            parts.append(f"completely_positive={self.completely_positive} "
                         f"(factor residual {self.factor_residual:.1e})")
        return "Certificate(" + ", ".join(parts) + ")"


@dataclass(kw_only=True)
class Solution(SolverResult):
    """The optimum of a :class:`~simcode.convex.Problem` (status, n_iter, history, time_s, certificate from
    :class:`simcode.core.SolverResult`).

    Attributes
    ----------
    Q : (n, n) optimal similarity matrix.
    objective : Σ terms(Q) as the solver evaluated it.
    solver : which solver produced it (``"cvxpy[CLARABEL]"``, ``"firstorder[cpu]"`` …).
    Z : (n, k) recovered code (non-negative with ``nonnegative()``), or None without ``recover_z``.
    W, b : min-norm readout (k × m) and bias (m,) per readout term, in term order.
    info : solver-specific extras (``"projections"``: counts of full / partial eigen-decompositions; ``"rho"``).
    """

    Q: np.ndarray
    objective: float
    solver: str
    Z: np.ndarray | None = None
    W: list = field(default_factory=list)
    b: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def representation(self) -> Representation:
        """The code as a :class:`simcode.Representation` (Z when recovered, else from Q)."""
        meta = {"model": "simcode.convex.Problem", "solver": self.solver, "objective": self.objective,
                "status": self.status}
        if self.Z is not None:
            return Representation(self.Z, metadata=meta)
        return Representation(Q=self.Q, metadata=meta)
