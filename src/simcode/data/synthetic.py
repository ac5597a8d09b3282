"""Synthetic sparse-dictionary data (the set-up of 002 §6.1: N=30 features, K=16 atoms, 12.5% sparsity,
amplitudes U[4, 6], 1500 samples)."""

from __future__ import annotations

import numpy as np

from ..core.arrays import check_bool, check_int, check_number, check_random_state

__all__ = ["make_sparse_dictionary_data"]


def make_sparse_dictionary_data(n_samples=1500, n_features=30, n_components=16, sparsity=0.125,
                                amplitude=(4.0, 6.0), noise=0.0, nonnegative=True, random_state=None):
    """Samples ``X = codes @ dictionary + noise`` with exactly ``k`` active atoms per sample.

    Model (002 §6.1, samples in rows): the paper's ``X = A Z`` (N×T) is our ``X = codes @ dictionary``
    (T×N) with ``dictionary = Aᵀ`` (K×N, unit-norm rows drawn from an isotropic Gaussian).
    Each sample activates ``k = max(1, round(sparsity * n_components))`` atoms chosen uniformly without
    replacement; their amplitudes are U[low, high] (with a random sign unless ``nonnegative``).

    Parameters
    ----------
    n_samples : int >= 1
        T, the number of samples (rows).
    n_features : int >= 1
        N, the signal dimension.
    n_components : int >= 1
        K, the number of dictionary atoms (002 §6.1: 16).
    sparsity : float in (0, 1]
        Fraction of atoms active per sample (002 §6.1: 12.5 %).
    amplitude : (low, high)
        Range of the uniform amplitudes, ``0 <= low <= high``.
    noise : float >= 0
        Standard deviation of additive white Gaussian noise.
    nonnegative : bool
        Non-negative codes (else a random sign per active atom).
    random_state : None, int or numpy Generator

    Returns
    -------
    X : ndarray (n_samples, n_features)
    dictionary : ndarray (n_components, n_features)
    codes : ndarray (n_samples, n_components)
    """
    n_samples = check_int(n_samples, "n_samples", low=1)
    n_features = check_int(n_features, "n_features", low=1)
    n_components = check_int(n_components, "n_components", low=1)
    sparsity = check_number(sparsity, "sparsity", low=0.0, low_inclusive=False, high=1.0)
    if isinstance(amplitude, str):
        raise TypeError(f"amplitude must be a pair of numbers (low, high), got {amplitude!r}")
    try:
        low, high = amplitude
    except (TypeError, ValueError):
        raise ValueError(f"amplitude must be a pair (low, high), got {amplitude!r}") from None
    low = check_number(low, "amplitude[0]", low=0.0)
    high = check_number(high, "amplitude[1]", low=0.0)
    if low > high:
        raise ValueError(f"amplitude must satisfy 0 <= low <= high < inf, got {amplitude!r}")
    noise = check_number(noise, "noise", low=0.0)
    nonnegative = check_bool(nonnegative, "nonnegative")
    rng = check_random_state(random_state)
    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    k = max(1, int(round(sparsity * n_components)))
    idx = np.argsort(rng.random((n_samples, n_components)), axis=1)[:, :k]
    amps = rng.uniform(low, high, size=(n_samples, k))
    if not nonnegative:
        amps *= rng.choice([-1.0, 1.0], size=(n_samples, k))
    codes = np.zeros((n_samples, n_components))
    np.put_along_axis(codes, idx, amps, axis=1)
    X = codes @ D
    if noise:
        X = X + noise * rng.standard_normal(X.shape)
    return X, D, codes
