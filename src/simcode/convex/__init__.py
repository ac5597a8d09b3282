"""simcode.convex: see the submodules (terms, problem, cvxpy_backend, firstorder, measure, factor); public names are re-exported lazily."""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("terms", "problem", "cvxpy_backend", "firstorder", "measure", "factor", ))
