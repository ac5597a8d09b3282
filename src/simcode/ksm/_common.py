"""Private helpers shared by the KSM estimators: array conversion, validation, priors."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from .._utils import check_array, resolve_device


def to_tensor(X, name: str, device: str, dtype, *, min_rows: int = 1):
    """``(tensor, was_numpy)`` after validation (2-D, finite, at least ``min_rows`` rows)."""
    if isinstance(X, torch.Tensor):
        if X.ndim != 2:
            raise ValueError(f"{name} must have 2 dimensions (samples × features), got shape {tuple(X.shape)}")
        if X.shape[0] < min_rows:
            raise ValueError(f"{name} must have at least {min_rows} rows, got shape {tuple(X.shape)}")
        if not bool(torch.isfinite(X).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        return X.detach().to(device=device, dtype=dtype), False
    a = check_array(X, name, ndim=2, min_rows=min_rows)
    return torch.as_tensor(a, device=device, dtype=dtype), True


def out(t: torch.Tensor, as_numpy: bool, like: torch.Tensor | None = None):
    if as_numpy:
        return t.detach().cpu().numpy()
    if like is not None:
        return t.detach().to(like.device)
    return t.detach()


def check_int(v, name: str, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def pick_device_dtype(device, dtype):
    dev = resolve_device(device)
    if dtype is None:
        dt = torch.float64 if dev == "cpu" else torch.float32
    elif dtype in (torch.float32, torch.float64):
        dt = dtype
    elif dtype in ("float32", np.float32):
        dt = torch.float32
    elif dtype in ("float64", np.float64):
        dt = torch.float64
    else:
        raise ValueError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}")
    return dev, dt


def resolve_prior(prior):
    """``(Prior, kind)`` with kind ``"simplex"`` or ``"sparse"``."""
    from ..sparse.priors import Prior, Simplex, get_prior

    if isinstance(prior, str):
        if prior not in ("l1", "l1_nonneg", "simplex"):
            raise ValueError(f"prior must be 'l1', 'l1_nonneg', 'simplex' or a Prior instance, got {prior!r}")
        p = get_prior(prior)
    elif isinstance(prior, Prior):
        p = prior
    else:
        raise ValueError(f"prior must be 'l1', 'l1_nonneg', 'simplex' or a Prior instance, got {prior!r}")
    if isinstance(p, Simplex) and p.radius != 1.0:
        raise ValueError("the simplex prior of KSM (002 eq. 9) needs radius 1")
    return p, ("simplex" if isinstance(p, Simplex) else "sparse")
