"""Private helpers for the sparse-coding engine: NumPy <-> torch round trips."""

from __future__ import annotations

import numbers

import numpy as np
import torch


def is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def as_tensor(x, like: torch.Tensor | None = None) -> tuple[torch.Tensor, bool]:
    """``(tensor, was_numpy)``; NumPy arrays are wrapped without a copy when possible.

    Integer and boolean inputs become float64 (or ``like``'s dtype); a tensor is returned as is.
    """
    if isinstance(x, torch.Tensor):
        return x, False
    a = np.asarray(x)
    if a.dtype.kind not in "fc":
        a = a.astype(np.float64)
    t = torch.from_numpy(np.ascontiguousarray(a)) if a.ndim else torch.as_tensor(a)
    if like is not None:
        t = t.to(device=like.device, dtype=like.dtype)
    return t, True


def scalar_or_tensor(tau, like: torch.Tensor):
    """A Python float stays a float (fast path); anything else becomes a tensor on ``like``'s device/dtype."""
    if isinstance(tau, numbers.Real) and not isinstance(tau, bool):
        return float(tau)
    if isinstance(tau, torch.Tensor):
        return tau.to(device=like.device, dtype=like.dtype) if tau.dtype != like.dtype or tau.device != like.device else tau
    a = np.asarray(tau, dtype=np.float64)
    if a.ndim == 0:
        return float(a)
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)


def back(t: torch.Tensor, was_numpy: bool):
    """Return NumPy when the caller passed NumPy (detached, on CPU), else the tensor."""
    if was_numpy:
        return t.detach().cpu().numpy()
    return t
