"""Validation shared by the KSM and SMPC solvers: the code prior, the compute device and dtype, input arrays.

Arrays go through :mod:`simcode.core` (``check_tensor``, ``resolve_device``), so the library's one contract
applies: real float32 / float64 / integer input, complex, boolean and half-precision input refused with a
``TypeError``, non-finite or wrongly shaped input with a ``ValueError`` naming the argument. NumPy in → NumPy
out, torch in → torch out on the input's device (:class:`simcode.core.ArrayKind`).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from ..core import check_tensor, is_tensor, resolve_device
from ..core.estimator import validate_named

__all__ = ["check_prior", "compute_device_dtype", "check_input", "validate_estimator_input", "PRIOR_NAMES"]

PRIOR_NAMES = ("l1", "l1_nonneg", "simplex")


def check_prior(prior):
    """``(Prior, kind)`` for a KSM prior, with kind ``"simplex"`` (002 eq. 9) or ``"sparse"`` (002 eq. 7).

    Parameters
    ----------
    prior : {"l1", "l1_nonneg", "simplex"} or simcode.sparse.priors.Prior
        A name or a prior instance; the simplex must have radius 1 (the probability simplex of 002 eq. 9).
    """
    from ..sparse.priors import Prior, Simplex, get_prior

    if isinstance(prior, str) and prior in PRIOR_NAMES:
        p = get_prior(prior)
    elif isinstance(prior, Prior):
        p = prior
    else:
        raise ValueError(f"prior must be 'l1', 'l1_nonneg', 'simplex' or a Prior instance, got {prior!r}")
    if isinstance(p, Simplex) and p.radius != 1.0:
        raise ValueError("the simplex prior of KSM (002 eq. 9) needs radius 1")
    return p, ("simplex" if isinstance(p, Simplex) else "sparse")


_DTYPES = {"float32": torch.float32, "float64": torch.float64, torch.float32: torch.float32,
           torch.float64: torch.float64}


def compute_device_dtype(device, dtype, X):
    """The torch device and dtype to compute on for input ``X``.

    ``device``: ``"auto"`` (the device of a tensor ``X``, else CUDA when available, else CPU), ``"cpu"`` or
    ``"cuda[:i]"`` (:func:`simcode.core.resolve_device`). ``dtype``: ``None`` keeps float32 input as float32 and
    computes everything else in float64 (the library's default); ``"float32"`` / ``"float64"`` (or the torch /
    NumPy types) force one.
    """
    dev = resolve_device(device, X)
    if dtype is None:
        src = X.dtype if isinstance(X, (torch.Tensor, np.ndarray)) else None
        dt = torch.float32 if src in (torch.float32, np.float32) else torch.float64
    else:
        key = dtype
        if isinstance(dtype, type) and issubclass(dtype, np.floating) or isinstance(dtype, np.dtype):
            key = np.dtype(dtype).name
        if key not in _DTYPES:
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}")
        dt = _DTYPES[key]
    return dev, dt


def check_input(X, name: str, device, dtype, *, shape=None) -> torch.Tensor:
    """``X`` as a 2-D finite tensor on ``device`` with ``dtype`` (validated by :func:`simcode.core.check_tensor`).

    ``shape``, when given, is the required shape (used for warm starts such as ``W_init``).
    """
    if isinstance(X, np.ndarray) and not X.flags.writeable:
        X = np.array(X)  # torch cannot share memory with a read-only array
    t = check_tensor(X, name, ndim=2, device=device, dtype=dtype)
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(t.shape)}")
    return t


def validate_estimator_input(estimator, X, *, reset: bool):
    """Validate ``X`` for an estimator's ``fit`` (``reset=True``) or ``transform`` (``reset=False``).

    NumPy-like input goes through :func:`sklearn.utils.validation.validate_data` (float64 or float32 kept,
    ``n_features_in_`` set / checked, scikit-learn's messages); a torch tensor is validated by
    :func:`simcode.core.check_tensor` and stays a tensor on its device (``n_features_in_`` handled the same way).
    """
    if is_tensor(X):
        t = check_tensor(X, "X", ndim=2, what="samples × features")
        validate_data(estimator, t, skip_check_array=True, reset=reset)
        return t
    a = validate_named(estimator, X, reset=reset, dtype=[np.float64, np.float32])
    if not a.flags.writeable:
        a = np.array(a)
    return a
