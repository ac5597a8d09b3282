"""simcode.nets: globally optimal networks of paper 003.

* :mod:`.deep_linear` — ``deep_linear_optimum`` (closed-form / certified optimum of a deep linear network with
  weight decay), ``DeepLinearSolution``, ``schatten_prox``;
* :mod:`.convex_relu` — ``convex_relu_fit`` (two-layer ReLU network through its convex reformulation, with a
  duality-gap certificate) and its scikit-learn shells ``ConvexReLURegressor`` / ``ConvexReLUClassifier``.

Exports: the explicit table below, loaded on first use (checked against each sub-module by tests/test_layout.py).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "deep_linear": ["deep_linear_optimum", "DeepLinearSolution", "schatten_prox"],
        "convex_relu": ["ConvexReLURegressor", "ConvexReLUClassifier", "ConvexReLUResult", "convex_relu_fit"],
    },
)
