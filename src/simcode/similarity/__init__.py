"""simcode.similarity: comparing neural representations.

Submodules (named by what they compute; public names are re-exported lazily):

* ``kernels`` — Gram matrices, centring, RDMs (``gram``, ``center``, ``rdm``, ``median_sigma``);
* ``rdm_comparison`` — RSA: comparing RDMs (``rsa``, ``rsa_data``, ``upper_triangle``);
* ``compare`` — CKA, shape metrics, Bures, CCA, participation ratio;
* ``collapse`` — neural-collapse metrics;
* ``knn`` — mutual k-NN and CKNNA.

Every analysis that takes responses accepts NumPy arrays, torch tensors (kept on their device) and
:class:`simcode.Representation`.
"""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("kernels", "rdm_comparison", "compare", "collapse", "knn", ))
