"""One result protocol for every solver.

Every solver result is a dataclass deriving from :class:`SolverResult` and so has

* ``status`` — one word of :data:`STATUSES`:

  ============== =========================================================================================
  ``converged``  the stopping criterion (tolerance, gap, residuals) was met
  ``max_iter``   the iteration cap was reached first
  ``diverged``   the iterates became non-finite or grew without bound
  ``infeasible`` the problem has no feasible point (proven or reported by the solver)
  ``unbounded``  the objective is unbounded below
  ``inaccurate`` an external solver stopped at reduced accuracy (e.g. cvxpy's ``optimal_inaccurate``)
  ============== =========================================================================================

* ``converged`` (``status == "converged"``), ``n_iter``, ``history`` (a dict of 1-D NumPy arrays, one per
  recorded quantity, all of the same length: one entry per check), ``time_s`` (wall-clock seconds of the solve),
* ``certificate`` — a :class:`Certificate` (``lower_bound``, ``gap``) when the mathematics gives one, else ``None``.

Estimators copy these into ``status_``, ``converged_``, ``n_iter_`` and ``history_`` (see
:class:`simcode.core.estimator.SolverMixin`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["STATUSES", "SolverResult", "Certificate", "History", "check_status"]

STATUSES = ("converged", "max_iter", "diverged", "infeasible", "unbounded", "inaccurate")


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    return status


@dataclass(kw_only=True)
class Certificate:
    """A proof of (near-)optimality.

    Attributes
    ----------
    lower_bound : float
        A value no feasible point beats (weak duality), or NaN when none is available.
    gap : float
        ``(objective − lower_bound) / max(1, |objective|)`` unless the solver states another normalisation in
        ``gap_kind``.
    gap_kind : str
        How ``gap`` is normalised (``"relative"``, ``"absolute"``, ``"relative_per_sample_max"`` …).
    """

    lower_bound: float = float("nan")
    gap: float = float("nan")
    gap_kind: str = "relative"

    @staticmethod
    def relative_gap(objective: float, lower_bound: float) -> float:
        if not (math.isfinite(objective) and math.isfinite(lower_bound)):
            return float("inf")
        return max(0.0, objective - lower_bound) / max(1.0, abs(objective))


@dataclass(kw_only=True)
class SolverResult:
    """Base of every solver result (see the module docstring for the protocol)."""

    status: str = "converged"
    n_iter: int = 0
    history: dict = field(default_factory=dict)
    time_s: float = float("nan")
    certificate: Certificate | None = None

    def __post_init__(self):
        check_status(self.status)
        if not isinstance(self.history, dict):
            raise TypeError(f"history must be a dict of arrays, got {type(self.history).__name__}")

    @property
    def converged(self) -> bool:
        return self.status == "converged"


class History:
    """Collects per-check quantities and returns them as a dict of equal-length float arrays.

    >>> h = History(); h.append(objective=1.0, gap=0.1); h.append(objective=0.5, gap=0.01)
    >>> h.as_dict()["gap"]
    array([0.1 , 0.01])
    """

    def __init__(self):
        self._data: dict[str, list] = {}
        self._n = 0

    def append(self, **values) -> None:
        for key, value in values.items():
            col = self._data.setdefault(key, [math.nan] * self._n)
            col.append(float(value))
        self._n += 1
        for col in self._data.values():
            if len(col) < self._n:
                col.append(math.nan)

    def __len__(self) -> int:
        return self._n

    def last(self, key: str, default=math.nan) -> float:
        col = self._data.get(key)
        return col[-1] if col else default

    def as_dict(self) -> dict:
        return {k: np.asarray(v, dtype=np.float64) for k, v in self._data.items()}
