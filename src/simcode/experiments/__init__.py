"""Registered experiments: one module per paper result.

Every module in this package whose name does not start with ``_`` is imported on first use
of :func:`registry`; importing it registers its experiments with :func:`experiment`.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._registry import REGISTRY, Claim, Context, Experiment, RunResult, experiment

__all__ = ["Claim", "Context", "Experiment", "RunResult", "experiment", "registry", "run", "SWEEPABLE"]


def __getattr__(name):
    if name == "SWEEPABLE":  # the papers' sweepable point functions (simcode sweep)
        from .sweep_points import SWEEPABLE

        return SWEEPABLE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_loaded = False


def registry() -> dict[str, Experiment]:
    """All experiments, by name (imports every experiment module once)."""
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True
    return dict(sorted(REGISTRY.items()))


def run(name: str, quick: bool = False, seed: int = 0, device: str = "cpu") -> RunResult:
    """Run one experiment by name and return its result (metrics, figures, claims)."""
    reg = registry()
    if name not in reg:
        raise ValueError(f"unknown experiment {name!r}; valid names: {', '.join(reg)}")
    return reg[name].run(quick=quick, seed=seed, device=device)
