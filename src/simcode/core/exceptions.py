"""The library's warnings and errors (one family each, visible to scikit-learn's filters)."""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning
from sklearn.exceptions import NotFittedError

__all__ = ["ConvergenceWarning", "NotFittedError", "InfeasibleProblemError", "UnsupportedTermError",
           "warn_not_converged"]


class ConvergenceWarning(_SklearnConvergenceWarning):
    """An iterative solver stopped before meeting its tolerance.

    Subclasses :class:`sklearn.exceptions.ConvergenceWarning`, so
    ``warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)`` silences simcode too.
    """


class InfeasibleProblemError(ValueError):
    """The problem has no feasible point (detected structurally or reported by the solver)."""


class UnsupportedTermError(TypeError):
    """A solver back-end was given an objective term or constraint it cannot handle."""


def warn_not_converged(what: str, n_iter: int, detail: str, *, stacklevel: int = 3) -> None:
    """Issue the library's :class:`ConvergenceWarning` in one message style."""
    warnings.warn(f"{what} did not converge in {n_iter} iterations ({detail})", ConvergenceWarning,
                  stacklevel=stacklevel)
