"""Deprecated location: the shared helpers live in :mod:`simcode.core` (kept only while imports move)."""

from __future__ import annotations

from .core.arrays import check_array, check_number, check_random_state, resolve_device
from .core.exceptions import ConvergenceWarning, warn_not_converged

__all__ = ["check_array", "check_random_state", "check_positive", "check_nonnegative",
           "resolve_device", "ConvergenceWarning", "warn_not_converged"]


def check_positive(value, name: str, *, strict: bool = True) -> float:
    """A finite number > 0 (``strict``) or >= 0."""
    return check_number(value, name, low=0.0, low_inclusive=not strict)


def check_nonnegative(value, name: str) -> float:
    return check_positive(value, name, strict=False)
