r"""How close a learned dictionary is to the true one: the library's one atom error and one atom matcher.

Lecture 004 ("AE performs dictionary learning") measures the distance between a true atom ``h`` and a learned
one ``ĥ`` by

.. math::  \mathrm{err}(h, \hat h) = \sqrt{1 - \frac{\langle h, \hat h\rangle^2}{\|h\|_2^2\|\hat h\|_2^2}},

the sine of the angle between them (0: same shape up to scale and sign; 1: orthogonal).

* :func:`dictionary_error` — that error row by row for two dictionaries of the same shape, without shifts;
* :func:`shift_invariant_error` — the error after the best shift of ``ĥ`` (convolutional atoms learned
  by CSC models are defined only up to a translation);
* :func:`match_atoms` — the one-to-one assignment of learned to true atoms (Hungarian algorithm,
  :func:`scipy.optimize.linear_sum_assignment`) minimising the total (shift-invariant unless
  ``max_shift=0``) error, returned as an :class:`AtomMatch`. The sign of an atom is free (``|cos|``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..core import check_array, check_int, check_number

__all__ = ["dictionary_error", "shift_invariant_error", "match_atoms", "AtomMatch"]


def _as_atoms(h, name: str) -> np.ndarray:
    """Atoms as a (K, C, L) float64 array: 1-D → one atom, 2-D (K, L) → one channel, 3-D as is."""
    a = check_array(h, name, ndim=(1, 2, 3), what="(L,), (K, L) or (K, C, L) atoms")
    if a.ndim == 1:
        return a[None, None]
    if a.ndim == 2:
        return a[:, None]
    return a


def dictionary_error(h, h_hat) -> float | np.ndarray:
    r"""``err(h, ĥ) = sqrt(1 − ⟨h, ĥ⟩² / (‖h‖² ‖ĥ‖²))`` (lecture 004), row by row, without shifts.

    Parameters
    ----------
    h, h_hat : array-like of the same shape, (L,), (K, L) or (K, C, L)
        One atom, or K atoms in rows (each row of a 3-D array flattened over channels).

    Returns
    -------
    float for 1-D input, else an array (K,) of errors in [0, 1].
    """
    a = check_array(h, "h", ndim=(1, 2, 3))
    b = check_array(h_hat, "h_hat", ndim=(1, 2, 3))
    if a.shape != b.shape:
        raise ValueError(f"h and h_hat must have the same shape, got {a.shape} and {b.shape}")
    single = a.ndim == 1
    a = a.reshape(1 if single else a.shape[0], -1)
    b = b.reshape(a.shape)
    na, nb = (a * a).sum(1), (b * b).sum(1)
    for name, nrm in (("h", na), ("h_hat", nb)):
        if np.any(nrm == 0):
            raise ValueError(f"{name} has an all-zero atom: dictionary_error is undefined for it")
    cos2 = np.clip((a * b).sum(1) ** 2 / (na * nb), 0.0, 1.0)
    err = np.sqrt(1.0 - cos2)
    return float(err[0]) if single else err


def _check_max_shift(max_shift):
    return check_int(max_shift, "max_shift", low=0, allow_none=True)


def _cross_correlations(A: np.ndarray, B: np.ndarray, max_shift: int | None):
    """Normalised |cross-correlation| maxima of every pair: ``(cos (K, K'), lag (K, K'))``.

    ``c[i, j, s] = Σ_c Σ_n A[i, c, n + s] B[j, c, n]`` for lags ``s ∈ [−(L'−1), L−1]`` (clipped to
    ``|s| ≤ max_shift``), one matrix product per lag; ties go to the most negative lag (as ``np.argmax``).
    """
    K, C, La = A.shape
    Kb, _, Lb = B.shape
    lo, hi = -(Lb - 1), La - 1
    if max_shift is not None:
        lo, hi = max(lo, -max_shift), min(hi, max_shift)
    lags = np.arange(lo, hi + 1)
    best = np.full((K, Kb), -1.0)
    best_lag = np.zeros((K, Kb), dtype=int)
    for s in lags:
        # overlap: n ∈ [max(0, −s), min(Lb, La − s))
        n0, n1 = max(0, -s), min(Lb, La - s)
        if n1 <= n0:
            continue
        c = np.abs(A[:, :, n0 + s:n1 + s].reshape(K, -1) @ B[:, :, n0:n1].reshape(Kb, -1).T)
        better = c > best
        best = np.where(better, c, best)
        best_lag = np.where(better, s, best_lag)
    na = np.linalg.norm(A.reshape(K, -1), axis=1)
    nb = np.linalg.norm(B.reshape(Kb, -1), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(nb[None] > 0, np.maximum(best, 0.0) / (na[:, None] * np.where(nb > 0, nb, 1.0)[None]), 0.0)
    return np.clip(cos, 0.0, 1.0), best_lag


def _one_atom(h, name: str) -> np.ndarray:
    """One atom as a (1, C, L) array from (L,) or (C, L)."""
    a = check_array(h, name, ndim=(1, 2), what="one atom, (L,) or (C, L)")
    return a[None, None] if a.ndim == 1 else a[None]


def shift_invariant_error(h, h_hat, max_shift: int | None = None) -> tuple[float, int]:
    """``min_s err(h, shift_s(ĥ))`` and the best lag ``s`` (``ĥ[n] ≈ h[n + s]``).

    Shifted-out samples are lost (zero padding), so the error is 0 only when ``ĥ`` is a scaled, shifted copy
    of ``h`` that still fits. Atoms may have different lengths, and several channels ((C, L) arrays). A spike
    whose true template starts at ``τ`` is coded by ``ĥ`` at ``τ + s``.

    Parameters
    ----------
    h, h_hat : array-like (L,) or (C, L)
    max_shift : int, optional
        Largest ``|s|`` considered (None: every lag with some overlap; 0: plain :func:`dictionary_error`).
    """
    a = _one_atom(h, "h")
    b = _one_atom(h_hat, "h_hat")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"h and h_hat must have the same number of channels, got {a.shape[1]} and {b.shape[1]}")
    for name, v in (("h", a), ("h_hat", b)):
        if np.linalg.norm(v) == 0:
            raise ValueError(f"{name} is an all-zero atom: shift_invariant_error is undefined for it")
    max_shift = _check_max_shift(max_shift)
    cos, lag = _cross_correlations(a, b, max_shift)
    return float(np.sqrt(1.0 - cos[0, 0] ** 2)), int(lag[0, 0])


@dataclass
class AtomMatch:
    """Best one-to-one assignment of learned atoms to true ones (:func:`match_atoms`).

    Attributes
    ----------
    assignment : int array (K,)
        ``assignment[i]`` is the learned atom matched to true atom ``i`` (−1: unmatched, when there are fewer
        learned atoms than true ones).
    errors : float array (K,)
        The (shift-invariant) error of each matched pair; 1 for an unmatched true atom.
    shifts : int array (K,)
        The lag of each pair (see :func:`shift_invariant_error`); 0 without shifts or when unmatched.
    error_matrix : float array (K, K')
        Every pair's error.
    """

    assignment: np.ndarray
    errors: np.ndarray
    shifts: np.ndarray
    error_matrix: np.ndarray

    @property
    def cosines(self) -> np.ndarray:
        """|cos| of each matched pair, ``sqrt(1 − errors²)`` (0 when unmatched)."""
        return np.sqrt(np.clip(1.0 - self.errors ** 2, 0.0, 1.0))

    @property
    def mean_error(self) -> float:
        """The mean error over true atoms."""
        return float(np.mean(self.errors))

    def n_recovered(self, threshold: float = 0.99) -> int:
        """Number of true atoms whose matched learned atom has ``|cos| > threshold``."""
        threshold = check_number(threshold, "threshold", low=0.0, high=1.0)
        return int(np.sum(self.cosines > threshold))


def match_atoms(true_atoms, learned_atoms, *, max_shift: int | None = None) -> AtomMatch:
    r"""Hungarian assignment of learned to true atoms minimising the total error.

    The cost of a pair is :math:`\mathrm{err}(h_i, \hat h_j)` after the best shift :math:`|s| \le`
    ``max_shift`` (:func:`shift_invariant_error`); ``max_shift=0`` compares plain dictionaries (one matrix
    product of the normalised atoms). The sign of an atom is free.

    Parameters
    ----------
    true_atoms : array-like (K, L) or (K, C, L) (1-D: one atom)
    learned_atoms : array-like (K', L') or (K', C, L'), same number of channels
        With ``max_shift=0`` the lengths must agree. ``K' < K`` is allowed: the unmatched true atoms get
        error 1 and assignment −1. An all-zero learned atom has error 1 against every true atom.
    max_shift : int or None
        Largest shift considered; None: any shift with some overlap.

    Returns
    -------
    AtomMatch
    """
    A = _as_atoms(true_atoms, "true_atoms")
    B = _as_atoms(learned_atoms, "learned_atoms")
    max_shift = _check_max_shift(max_shift)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"true_atoms and learned_atoms have different channel counts ({A.shape[1]} vs {B.shape[1]})")
    na = np.linalg.norm(A.reshape(A.shape[0], -1), axis=1)
    if np.any(na == 0):
        raise ValueError("true_atoms has an all-zero atom: its error is undefined")
    K, Kb = A.shape[0], B.shape[0]
    if max_shift == 0:
        if A.shape[2] != B.shape[2]:
            raise ValueError(f"with max_shift=0 the atoms must have the same length, got {A.shape[2]} and "
                             f"{B.shape[2]}")
        a = A.reshape(K, -1) / na[:, None]
        nb = np.linalg.norm(B.reshape(Kb, -1), axis=1)
        b = B.reshape(Kb, -1) / np.where(nb > 0, nb, 1.0)[:, None]
        cos = np.clip(np.abs(a @ b.T), 0.0, 1.0)
        S = np.zeros((K, Kb), dtype=int)
    else:
        cos, S = _cross_correlations(A, B, max_shift)
    E = np.sqrt(1.0 - cos ** 2)
    rows, cols = linear_sum_assignment(E)
    assignment = np.full(K, -1, dtype=int)
    errors = np.ones(K)
    shifts = np.zeros(K, dtype=int)
    assignment[rows] = cols
    errors[rows] = E[rows, cols]
    shifts[rows] = S[rows, cols]
    return AtomMatch(assignment=assignment, errors=errors, shifts=shifts, error_matrix=E)
