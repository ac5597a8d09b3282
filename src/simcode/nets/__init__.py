"""simcode.nets: globally optimal networks of paper 003.

* :mod:`.deep_linear` — ``deep_linear_optimum`` (closed-form / certified optimum of a deep linear network with
  weight decay), ``DeepLinearSolution``, ``schatten_prox``;
* :mod:`.convex_relu` — ``convex_relu_fit`` (two-layer ReLU network through its convex reformulation, with a
  duality-gap certificate) and its scikit-learn shells ``ConvexReLURegressor`` / ``ConvexReLUClassifier``.

Public names are re-exported lazily.
"""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("deep_linear", "convex_relu", ))
