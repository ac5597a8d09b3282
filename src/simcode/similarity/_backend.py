"""Private helpers: NumPy/torch dispatch and validation for the similarity toolkit.

Every public function converts its inputs to torch tensors (zero-copy for float64 NumPy arrays),
computes in torch (so CUDA tensors stay on the GPU), and converts back: NumPy in → NumPy out
(Python ``float`` for scalars), torch in → torch out on the same device.
"""

from __future__ import annotations

import numpy as np
import torch

__all__: list[str] = []


def is_torch(*xs) -> bool:
    return any(isinstance(x, torch.Tensor) for x in xs)


def to_tensor(x, name: str, *, ndim=2, min_rows: int = 1, device=None, dtype=None,
              keep_float32: bool = False, check_finite: bool = True) -> torch.Tensor:
    """Validate ``x`` (finite, numeric, ``ndim`` dimensions) and return a floating torch tensor (NumPy input is
    read as float64, or kept float32 when ``keep_float32`` — e.g. RDMs the caller computed in single precision)."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if not (t.is_floating_point()):
            t = t.to(torch.float64 if t.device.type == "cpu" else torch.float32)
    else:
        try:
            f32 = keep_float32 and getattr(x, "dtype", None) == np.float32
            a = np.asarray(x, dtype=np.float32 if f32 else np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric array: {exc}") from None
        t = torch.from_numpy(np.ascontiguousarray(a))
    if dtype is not None:
        t = t.to(dtype)
    if device is not None:
        t = t.to(device)
    dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if t.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, got shape {tuple(t.shape)}")
    if t.ndim >= 1 and t.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} rows (stimuli), got shape {tuple(t.shape)}")
    # one read-only pass: a NaN/inf anywhere makes the sum non-finite (an overflowing sum of finite values is
    # re-checked elementwise before raising)
    if check_finite and t.numel() and not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def pair(X, Y, nx: str = "X", ny: str = "Y", min_rows: int = 2):
    """Validate two representations of the same stimuli (rows); returns tensors on a common device/dtype."""
    x = to_tensor(X, nx, min_rows=min_rows)
    y = to_tensor(Y, ny, min_rows=min_rows)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{nx} and {ny} must have the same number of stimuli (rows), got "
                         f"{x.shape[0]} and {y.shape[0]}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    dev = x.device if x.device.type != "cpu" else y.device
    return x.to(dev, dtype), y.to(dev, dtype)


def out(value, torch_in: bool):
    """Return ``value`` (tensor) as NumPy/float when the caller passed NumPy."""
    if torch_in:
        return value
    if isinstance(value, torch.Tensor):
        if value.ndim == 0:
            return float(value.item())
        return value.cpu().numpy()
    return value


def center_columns(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(dim=0, keepdim=True)


def check_variance(x: torch.Tensor, name: str) -> None:
    """Raise when a (centred) representation is constant across stimuli."""
    scale = x.abs().max()
    if float(scale) == 0.0 or float(torch.linalg.norm(center_columns(x))) <= 1e-12 * float(scale) * x.numel() ** 0.5:
        raise ValueError(f"{name} has zero variance across stimuli (all rows identical); "
                         "similarity measures are undefined for a constant representation")
