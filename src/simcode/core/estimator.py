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

import numpy as np

from .arrays import dtype_error, is_tensor
from .exceptions import warn_not_converged
from .representation import Representation

__all__ = ["SolverMixin", "RepresentationMixin", "named_call", "validate_named"]


_AUTO = object()


def named_call(fn, *args, name: str = "X", value=_AUTO, **kwargs):
    """``fn(*args, **kwargs)`` (scikit-learn's ``validate_data`` / ``check_array``, or a library function called on
    an estimator's input) with every error naming the argument ``name``.

    ``value`` is the array that stands for ``name`` (default: the first positional argument, or the second for
    ``validate_data``, whose first is the estimator; the third when ``name == "y"``).
    ``None``, boolean and float16 arrays, which scikit-learn converts silently, are refused first with the
    library's ``TypeError``; a ``TypeError`` /
    ``ValueError`` that does not name the argument is re-raised with ``"<name>: "`` in front of its message
    (scikit-learn's own wording is kept, so its estimator checks still recognise it).
    """
    sklearn_validate = getattr(fn, "__name__", "") == "validate_data"
    if value is _AUTO:
        first = 1 if sklearn_validate else 0
        idx = first + (1 if name == "y" and first == 1 else 0)
        value = args[idx] if len(args) > idx else None
    if value is None and not sklearn_validate:  # validate_data has its own messages for a missing X or y
        raise TypeError(f"{name} must be an array, got None")
    dt = getattr(value, "dtype", None)
    if dt is not None and not is_tensor(value):
        dt = np.dtype(dt)
        if dt.kind == "b" or dt == np.float16:
            raise dtype_error(name, dt)
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        if msg.startswith(name):
            raise
        raise (ValueError if isinstance(exc, ValueError) else TypeError)(f"{name}: {msg}") from exc


def validate_named(estimator, X, *args, name: str = "X", **kwargs):
    """scikit-learn's ``validate_data(estimator, X, *args, **kwargs)`` through :func:`named_call`."""
    from sklearn.utils.validation import validate_data

    return named_call(validate_data, estimator, X, *args, name=name, **kwargs)


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
