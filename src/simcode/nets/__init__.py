"""simcode.nets: see the submodules (deep_linear, convex_relu); public names are re-exported lazily."""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("deep_linear", "convex_relu", ))
