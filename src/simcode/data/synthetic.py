"""Synthetic sparse-dictionary data (the set-up of 002 §6.1: N=30 features, K=16 atoms, 12.5% sparsity,
amplitudes U[4, 6], 1500 samples)."""

from __future__ import annotations

import numpy as np

from .._utils import check_random_state

__all__ = ["make_sparse_dictionary_data"]


def _check_int(v, name, low=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def make_sparse_dictionary_data(n_samples=1500, n_features=30, n_atoms=16, sparsity=0.125,
                                amplitude=(4.0, 6.0), noise=0.0, nonnegative=True, random_state=None):
    """Samples ``X = codes @ dictionary + noise`` with exactly ``k`` active atoms per sample.

    Model (002 §6.1, samples in rows): the paper's ``X = A Z`` (N×T) is our ``X = codes @ dictionary``
    (T×N) with ``dictionary = Aᵀ`` (K×N, unit-norm rows drawn from an isotropic Gaussian).
    Each sample activates ``k = max(1, round(sparsity * n_atoms))`` atoms chosen uniformly without
    replacement; their amplitudes are U[low, high] (with a random sign unless ``nonnegative``).

    Returns
    -------
    X : (n_samples, n_features), dictionary : (n_atoms, n_features), codes : (n_samples, n_atoms)
    """
    n_samples = _check_int(n_samples, "n_samples")
    n_features = _check_int(n_features, "n_features")
    n_atoms = _check_int(n_atoms, "n_atoms")
    if not (0 < float(sparsity) <= 1):
        raise ValueError(f"sparsity must be in (0, 1], got {sparsity!r}")
    try:
        low, high = (float(a) for a in amplitude)
    except (TypeError, ValueError):
        raise ValueError(f"amplitude must be a pair (low, high), got {amplitude!r}") from None
    if not (0 <= low <= high) or not np.isfinite(high):
        raise ValueError(f"amplitude must satisfy 0 <= low <= high < inf, got {amplitude!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    rng = check_random_state(random_state)
    D = rng.standard_normal((n_atoms, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    k = max(1, int(round(sparsity * n_atoms)))
    idx = np.argsort(rng.random((n_samples, n_atoms)), axis=1)[:, :k]
    amps = rng.uniform(low, high, size=(n_samples, k))
    if not nonnegative:
        amps *= rng.choice([-1.0, 1.0], size=(n_samples, k))
    codes = np.zeros((n_samples, n_atoms))
    np.put_along_axis(codes, idx, amps, axis=1)
    X = codes @ D
    if noise:
        X = X + noise * rng.standard_normal(X.shape)
    return X, D, codes
