"""simcode.sparse: see the submodules (priors, fista, dictionary, conv, unrolled, spikesort); public names are re-exported lazily."""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("priors", "coding", "atoms", "dictionary", "conv", "unrolled", "spikesort", ))
