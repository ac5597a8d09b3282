"""simcode.similarity: comparing neural representations.

Submodules (named by what they compute):

* ``kernels`` — Gram matrices, centring, RDMs (``gram``, ``center``, ``rdm``, ``median_sigma``);
* ``rdm_comparison`` — RSA: comparing RDMs (``rsa``, ``rsa_data``, ``upper_triangle``);
* ``compare`` — CKA, shape metrics, Bures, CCA, participation ratio;
* ``collapse`` — neural-collapse metrics;
* ``knn`` — mutual k-NN and CKNNA;
* ``inference`` — bootstrap intervals, permutation tests, noise ceilings (``bootstrap``, ``permutation_test``,
  ``noise_ceiling``);
* ``fitted`` — cross-validated fitted metrics as estimators (``ProcrustesMetric``, ``CCAMetric``,
  ``WeightedRDMModel``) and ``crossval_rdm_models``.

Every analysis that takes responses accepts NumPy arrays, torch tensors (kept on their device) and
:class:`simcode.Representation`.

Exports: the explicit table below, loaded on first use (checked against each sub-module by tests/test_layout.py).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "kernels": ["gram", "center", "rdm", "median_sigma"],
        "rdm_comparison": ["rsa", "rsa_data", "upper_triangle"],
        "compare": [
            "cka", "CKAAccumulator", "procrustes", "bures", "cca", "canonical_correlations", "participation_ratio",
        ],
        "collapse": ["collapse_metrics", "CollapseAccumulator"],
        "knn": ["mutual_knn", "cknna", "knn_indices"],
        "inference": ["BootstrapResult", "PermutationResult", "NoiseCeiling", "bootstrap", "permutation_test",
                      "noise_ceiling"],
        "fitted": ["ProcrustesMetric", "CCAMetric", "WeightedRDMModel", "RDMModelComparison", "crossval_rdm_models"],
    },
)
