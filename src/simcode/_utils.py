"""Small shared helpers: input validation, random state, torch devices."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

__all__ = ["check_array", "check_random_state", "check_positive", "check_nonnegative",
           "resolve_device", "ConvergenceWarning"]


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before meeting its tolerance."""


def check_random_state(seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from None, an int, a Generator or a RandomState."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    if seed is None or isinstance(seed, numbers.Integral):
        return np.random.default_rng(seed)
    raise ValueError(f"random_state must be None, an int or a numpy Generator, got {type(seed).__name__}")


def check_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None, min_rows: int = 1,
                dtype=np.float64, allow_nan: bool = False) -> np.ndarray:
    """Convert to a finite float array, raising ``ValueError`` naming ``name`` otherwise."""
    try:
        a = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from None
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in dims:
            raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, got shape {a.shape}")
    if a.ndim >= 1 and a.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} rows, got shape {a.shape}")
    if not allow_nan and a.size and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def check_positive(value, name: str, *, strict: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or (v <= 0 if strict else v < 0):
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'} and finite, got {value!r}")
    return v


def check_nonnegative(value, name: str) -> float:
    return check_positive(value, name, strict=False)


def resolve_device(device: str | None = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when available, else ``"cpu"``; validates explicit choices."""
    if device is None or device == "auto":
        try:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:  # pragma: no cover
            return "cpu"
    dev = str(device)
    if dev.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} requested but CUDA is not available")
    elif dev != "cpu":
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}")
    return dev


def warn_not_converged(what: str, n_iter: int, detail: str) -> None:
    warnings.warn(f"{what} did not converge in {n_iter} iterations ({detail})", ConvergenceWarning,
                  stacklevel=3)
