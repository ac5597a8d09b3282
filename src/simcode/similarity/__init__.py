"""simcode.similarity: see the submodules (kernels, compare, rsa, collapse, knn); public names are re-exported lazily."""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("kernels", "compare", "rsa", "collapse", "knn", ))
