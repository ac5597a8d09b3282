"""simcode.convex: Q-space efficient coding (000).

Sub-modules: ``terms`` (objective terms, constraints and the term contract), ``problem`` (``Problem``),
``solution`` (``Solution``, ``Certificate``), ``cvxpy_sdp`` (the cvxpy solver), ``admm`` (the first-order
solver), ``psd_projection`` (its partial PSD projection), ``factor`` (non-negative factorisation of Q),
``measure`` (the direction-measure formulation of affine encoders).

Public names load on first use (``lazy_loader``) from the sub-modules in the table below. The table is
explicit, and ``tests/test_layout.py`` checks it against each sub-module's ``__all__``, so a name exported
twice fails loudly instead of resolving to whichever module came first.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "terms": [
            "Term", "Constraint", "ReadoutBlock", "FirstOrderForm", "ConstraintForm", "activity_cost", "readout_cost",
            "encoder_cost", "similarity_matching", "rank_penalty", "nonnegative", "decodable", "affine_decodable",
            "trace_budget", "ActivityCost", "ReadoutCost", "EncoderCost", "SimilarityMatching", "RankPenalty",
            "Nonnegative", "TraceBudget", "pinv_psd", "intersect_ranges", "first_order_form", "constraint_form",
        ],
        "problem": ["Problem", "InfeasibleProblemError", "UnsupportedTermError"],
        "solution": ["Solution", "Certificate"],
        "cvxpy_sdp": ["cvxpy_solve", "build_cvxpy", "CVXPY_MAX_N"],
        "admm": ["ADMMResult", "admm_solve"],
        "psd_projection": ["PSDProjector"],
        "factor": ["FactorResult", "factor_nonneg"],
        "measure": [
            "MeasureSolution", "AutoencoderSolution", "solve_measure", "solve_affine_autoencoder",
            "min_ratio_on_sphere", "convex_hull",
        ],
    },
)
