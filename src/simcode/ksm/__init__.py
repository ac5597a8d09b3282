"""simcode.ksm: kernel similarity matching (paper 002).

Submodules: ``admm`` (KSM by the separable ADMM: :class:`KernelSimilarityMatching`,
:func:`kernel_similarity_matching`), ``smpc`` (the SMPC network: :class:`SMPC`,
:func:`similarity_matching_predictive_coding`), ``metrics`` (R², sparsity, latent errors) and ``validation``
(priors, devices, inputs).

Exports: the explicit table below, loaded on first use (checked against each sub-module by tests/test_layout.py).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "admm": ["KernelSimilarityMatching", "kernel_similarity_matching", "KSMResult", "implicit_map"],
        "smpc": ["SMPC", "SMPCResult", "similarity_matching_predictive_coding", "cholesky_omega"],
        "metrics": [
            "reconstruction_r2", "p_sparsity", "sine_similarity_error", "support_sizes", "modal_support_size",
        ],
    },
)
