"""simcode: normative models of neural representation, solved through the similarity matrix.

Sub-packages (imported on demand): ``simcode.convex``, ``simcode.identify``,
``simcode.similarity``, ``simcode.sparse``, ``simcode.ksm``, ``simcode.nets``, ``simcode.data``,
``simcode.sweep``, ``simcode.experiments``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .core import ConvergenceWarning, Representation  # noqa: E402

_SUBMODULES = ("core", "convex", "identify", "similarity", "sparse", "ksm", "nets", "data", "sweep",
               "experiments", "report", "ephys")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'simcode' has no attribute {name!r}")


__all__ = ["ConvergenceWarning", "Representation", "__version__", *_SUBMODULES]
