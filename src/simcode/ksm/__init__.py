"""simcode.ksm: kernel similarity matching (paper 002).

Submodules: ``admm`` (KSM by the separable ADMM: :class:`KernelSimilarityMatching`,
:func:`kernel_similarity_matching`), ``smpc`` (the SMPC network: :class:`SMPC`,
:func:`similarity_matching_predictive_coding`), ``metrics`` (R², sparsity, latent errors) and ``validation``
(priors, devices, inputs). Public names of admm, smpc and metrics are re-exported lazily.
"""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("admm", "smpc", "metrics", ))
