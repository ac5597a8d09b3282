"""simcode.convex: Q-space efficient coding (000).

Sub-modules: ``terms`` (objective terms, constraints and the term contract), ``problem`` (``Problem``),
``solution`` (``Solution``, ``Certificate``), ``cvxpy_sdp`` (the cvxpy solver), ``admm`` (the first-order
solver), ``psd_projection`` (its partial PSD projection), ``factor`` (non-negative factorisation of Q),
``factored`` (the CP optimum by column generation),
``measure`` (the direction-measure formulation of affine encoders).

Exports: the explicit table below, loaded on first use (checked against each sub-module by tests/test_layout.py).
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
        "factored": ["FactoredCertificate", "copositivity_ratio", "factored_solve", "factored_support",
                     "FACTORED_Q_MAX_N"],
        "measure": [
            "MeasureSolution", "AutoencoderSolution", "solve_measure", "solve_affine_autoencoder",
            "min_ratio_on_sphere", "convex_hull",
        ],
    },
)
