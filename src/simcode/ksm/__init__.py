"""simcode.ksm: see the submodules (admm, smpc, metrics); public names are re-exported lazily."""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("admm", "smpc", "metrics", ))
