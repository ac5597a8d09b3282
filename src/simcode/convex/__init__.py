"""simcode.convex: Q-space efficient coding (000).

Sub-modules: ``terms`` (objective terms, constraints and the term contract), ``problem`` (``Problem``),
``solution`` (``Solution``, ``Certificate``), ``cvxpy_sdp`` (the cvxpy solver), ``admm`` (the first-order
solver), ``psd_projection`` (its partial PSD projection), ``factor`` (non-negative factorisation of Q),
``measure`` (the direction-measure formulation of affine encoders). Public names are re-exported lazily.
"""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("terms", "problem", "solution", "cvxpy_sdp", "admm",
                                               "psd_projection", "factor", "measure"))
