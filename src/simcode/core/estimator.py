"""What every simcode estimator shares on top of scikit-learn's ``BaseEstimator``.

Contract (checked by ``tests/test_estimators.py`` with ``parametrize_with_checks``):

* hyper-parameters only in ``__init__``, declared in ``_parameter_constraints`` and validated by
  ``sklearn.base._fit_context`` / ``_validate_params`` at ``fit``;
* ``fit`` validates ``X`` with ``sklearn.utils.validation.validate_data`` (sets ``n_features_in_``) and
  returns ``self``; other methods call ``check_is_fitted`` (→ :class:`sklearn.exceptions.NotFittedError`);
* iterative fits record the solver protocol with :meth:`SolverMixin._record_result`: ``status_``,
  ``converged_``, ``n_iter_``, ``history_`` and a :class:`simcode.ConvergenceWarning` at every cap;
* ``representation(X)`` returns the code of ``X`` as a :class:`simcode.Representation`.
"""

from __future__ import annotations

from .exceptions import warn_not_converged
from .representation import Representation

__all__ = ["SolverMixin", "RepresentationMixin"]


class SolverMixin:
    """Copies a solver's result protocol into fitted attributes and warns when it stopped at its cap."""

    def _record_result(self, status: str, n_iter: int, history: dict | None = None, *, what: str | None = None,
                       detail: str = "") -> None:
        self.status_ = status
        self.converged_ = status == "converged"
        self.n_iter_ = int(n_iter)
        self.history_ = dict(history or {})
        if not self.converged_:
            name = what or type(self).__name__
            warn_not_converged(f"{name}.fit", int(n_iter), detail or f"status {status!r}; raise max_iter or tol",
                               stacklevel=5)  # warn → _record_result → fit → _fit_context → caller


class RepresentationMixin:
    """``representation(X)``: the estimator's code of ``X`` (``transform(X)``) as a Representation."""

    def representation(self, X, **metadata) -> Representation:
        return Representation(self.transform(X), metadata={"model": type(self).__name__, **metadata})
