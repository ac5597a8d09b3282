"""simcode.sparse: sparse coding (004, 002).

Sub-modules: ``priors`` (priors as proximal maps / activations), ``coding`` (batched certified FISTA/ISTA and the
exact lasso: ``fista``, ``active_set``, ``sparse_encode``), ``atoms`` (the atom matcher and atom errors),
``dictionary`` (``DictionaryLearning``), ``conv`` (convolutional sparse coding and ``ConvDictionaryLearning``),
``unrolled`` (``CRsAE``), ``spikesort`` (spike sorting).

Exports: the explicit table below, loaded on first use (checked against each sub-module by tests/test_layout.py).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "priors": [
            "Prior", "get_prior", "PRIORS", "Ridge", "L1", "L1NonNeg", "TwoSidedGaussian", "GroupL1", "Simplex", "L0",
            "TopK", "Box", "ElasticNet",
        ],
        "coding": ["SparseCodingResult", "fista", "ista", "active_set", "sparse_encode", "lipschitz_constant"],
        "atoms": ["dictionary_error", "shift_invariant_error", "match_atoms", "AtomMatch"],
        "dictionary": [
            "DictionaryLearning", "DictionaryLearningResult", "dict_learning", "update_dictionary",
            "update_statistics",
        ],
        "conv": [
            "CSCResult", "CDLResult", "conv_sparse_code", "conv_synthesis", "conv_lipschitz",
            "conv_dictionary_learning", "ConvDictionaryLearning",
        ],
        "unrolled": ["CRsAE", "CRsAEResult", "crsae_fit", "FAMILIES"],
        "spikesort": ["detect_spikes", "match_spike_times", "spike_sorting_scores", "sort_spikes"],
    },
)
