r"""Spike sorting with a convolutional dictionary: detections from codes, and the lecture's error metrics.

Paper 004 ("AE performs dictionary learning"): the dictionary error between a true filter ``h`` and a
learned one ``ĥ`` is

.. math::  \mathrm{err}(h, \hat h) = \sqrt{1 - \frac{\langle h, \hat h\rangle^2}{\|h\|_2^2\|\hat h\|_2^2}},

the sine of the angle between them (0 = same shape up to scale and sign). A learned filter can be a shifted
copy of the true one, so :func:`match_atoms` takes the error after the best shift and the best one-to-one
assignment of learned to true filters (Hungarian algorithm). Spikes are the peaks of each code above a
threshold (:func:`detect_spikes`); :func:`spike_sorting_scores` compares them with ground truth within a
time tolerance after correcting each learned filter's shift.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.signal import find_peaks

from simcode._utils import check_array, check_positive

__all__ = ["dictionary_error", "shift_invariant_error", "match_atoms", "AtomMatch", "detect_spikes",
           "match_spike_times", "spike_sorting_scores", "sort_spikes"]


def _as_atoms(h, name):
    a = check_array(h, name, ndim=(1, 2, 3))
    if a.ndim == 1:
        a = a[None, None]
    elif a.ndim == 2:
        a = a[:, None]
    return a  # (K, C, L)


def dictionary_error(h, h_hat) -> float | np.ndarray:
    r"""``err(h, ĥ) = sqrt(1 - <h, ĥ>² / (‖h‖² ‖ĥ‖²))`` (paper 004), without shifts.

    ``h`` and ``h_hat`` have the same shape; with 2-D input ``(K, L)`` the error is computed row by row.
    """
    a = check_array(h, "h", ndim=(1, 2, 3))
    b = check_array(h_hat, "h_hat", ndim=(1, 2, 3))
    if a.shape != b.shape:
        raise ValueError(f"h and h_hat must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim == 1:
        a, b = a[None], b[None]
    a = a.reshape(a.shape[0], -1)
    b = b.reshape(b.shape[0], -1)
    na, nb = (a * a).sum(1), (b * b).sum(1)
    if np.any(na == 0) or np.any(nb == 0):
        raise ValueError("dictionary_error is undefined for an all-zero filter")
    cos2 = np.clip((a * b).sum(1) ** 2 / (na * nb), 0.0, 1.0)
    err = np.sqrt(1.0 - cos2)
    return float(err[0]) if np.ndim(h) == 1 else err


def _xcorr_max(a, b, max_shift):
    """max over lags s of |Σ_c Σ_n a[c, n + s] b[c, n]| / (‖a‖‖b‖), and the lag."""
    La, Lb = a.shape[-1], b.shape[-1]
    c = sum(np.correlate(a[i], b[i], mode="full") for i in range(a.shape[0]))
    lags = np.arange(-(Lb - 1), La)
    if max_shift is not None:
        keep = np.abs(lags) <= max_shift
        c, lags = c[keep], lags[keep]
    i = int(np.argmax(np.abs(c)))
    return abs(c[i]) / (np.linalg.norm(a) * np.linalg.norm(b)), int(lags[i])


def shift_invariant_error(h, h_hat, max_shift: int | None = None) -> tuple[float, int]:
    """``min_s err(h, shift_s(ĥ))`` and the best lag ``s`` (``ĥ[n] ≈ h[n + s]``).

    Shifted-out samples are lost (zero padding), so the error is 0 only when ``ĥ`` is a scaled, shifted copy
    of ``h`` that still fits. Filters may have different lengths. A spike whose true template starts at
    ``τ`` is coded by ``ĥ`` at ``τ + s``.
    """
    a = _as_atoms(h, "h")[0]
    b = _as_atoms(h_hat, "h_hat")[0]
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"h and h_hat must have the same number of channels, got {a.shape[0]} and {b.shape[0]}")
    if np.linalg.norm(a) == 0 or np.linalg.norm(b) == 0:
        raise ValueError("shift_invariant_error is undefined for an all-zero filter")
    if max_shift is not None and (not isinstance(max_shift, numbers.Integral) or max_shift < 0):
        raise ValueError(f"max_shift must be a non-negative integer or None, got {max_shift!r}")
    cos, lag = _xcorr_max(a, b, max_shift)
    return float(np.sqrt(max(0.0, 1.0 - min(1.0, cos) ** 2))), lag


@dataclass
class AtomMatch:
    """Best assignment of learned filters to true ones.

    ``assignment[i]`` is the learned filter matched to true filter ``i``; ``errors[i]`` the shift-invariant
    error of that pair; ``shifts[i]`` its lag (see :func:`shift_invariant_error`); ``error_matrix[i, j]``
    every pair's error.
    """

    assignment: np.ndarray
    errors: np.ndarray
    shifts: np.ndarray
    error_matrix: np.ndarray


def match_atoms(true_atoms, learned_atoms, max_shift: int | None = None) -> AtomMatch:
    """Hungarian assignment of learned to true filters minimising the total shift-invariant error.

    ``true_atoms`` ``(K, L)`` or ``(K, C, L)``; ``learned_atoms`` ``(K', L')`` / ``(K', C, L')`` with
    ``K' >= K``.
    """
    A = _as_atoms(true_atoms, "true_atoms")
    B = _as_atoms(learned_atoms, "learned_atoms")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"true_atoms and learned_atoms have different channel counts ({A.shape[1]} vs {B.shape[1]})")
    if B.shape[0] < A.shape[0]:
        raise ValueError(f"need at least as many learned atoms as true ones, got {B.shape[0]} < {A.shape[0]}")
    E = np.empty((A.shape[0], B.shape[0]))
    S = np.empty_like(E, dtype=int)
    for i in range(A.shape[0]):
        for j in range(B.shape[0]):
            E[i, j], S[i, j] = shift_invariant_error(A[i], B[j], max_shift)
    rows, cols = linear_sum_assignment(E)
    return AtomMatch(assignment=cols, errors=E[rows, cols], shifts=S[rows, cols], error_matrix=E)


def detect_spikes(codes, threshold=None, min_distance: int = 10, rel_threshold: float = 0.3):
    """Spike events as peaks of each atom's code.

    Parameters
    ----------
    codes : (K, T) codes of one signal (e.g. from :func:`~simcode.sparse.conv.conv_sparse_code`).
    threshold : absolute height (a number or one per atom); ``None`` → ``rel_threshold`` × each code's maximum.
    min_distance : minimal distance between two peaks of the same atom (samples; e.g. the refractory period).

    Returns
    -------
    times : int array of code indices (template onsets), sorted; labels : atom index per event;
    amplitudes : code value at the peak.
    """
    X = check_array(codes, "codes", ndim=2)
    K = X.shape[0]
    if not isinstance(min_distance, numbers.Integral) or min_distance < 1:
        raise ValueError(f"min_distance must be a positive integer, got {min_distance!r}")
    if threshold is None:
        check_positive(rel_threshold, "rel_threshold")
        thr = rel_threshold * X.max(axis=1)
    else:
        try:
            thr = np.broadcast_to(np.asarray(threshold, dtype=float), (K,))
        except ValueError:
            thr = None
        if thr is None or not np.all(np.isfinite(thr)):
            raise ValueError(f"threshold must be a number or {K} numbers, got {threshold!r}")
    times, labels, amps = [], [], []
    for k in range(K):
        if X[k].max() <= 0:
            continue
        pk, props = find_peaks(X[k], height=max(float(thr[k]), np.finfo(float).tiny), distance=min_distance)
        times.append(pk)
        labels.append(np.full(pk.size, k))
        amps.append(props["peak_heights"])
    if not times:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    t, lab, a = np.concatenate(times), np.concatenate(labels), np.concatenate(amps)
    o = np.argsort(t, kind="stable")
    return t[o], lab[o], a[o]


def match_spike_times(true_times, detected_times, tolerance: float) -> tuple[int, int, int]:
    """One-to-one matching of two spike trains within ``tolerance`` samples → ``(tp, fp, fn)``.

    Greedy in time order, which is a maximum matching for a common tolerance window on a line.
    """
    a = np.sort(np.asarray(true_times, dtype=float).ravel())
    b = np.sort(np.asarray(detected_times, dtype=float).ravel())
    tolerance = check_positive(tolerance, "tolerance", strict=False)
    i = j = tp = 0
    while i < a.size and j < b.size:
        if abs(a[i] - b[j]) <= tolerance:
            tp += 1
            i += 1
            j += 1
        elif b[j] < a[i]:
            j += 1
        else:
            i += 1
    return tp, b.size - tp, a.size - tp


def spike_sorting_scores(true_times, times, labels, match: AtomMatch, tolerance: float) -> dict:
    """Precision and recall per neuron after mapping learned atoms to neurons with ``match``.

    ``true_times`` is a list of onset arrays per neuron; ``times``/``labels`` come from
    :func:`detect_spikes`; detections of learned atom ``match.assignment[i]`` are shifted by
    ``-match.shifts[i]`` and compared with neuron ``i``'s spikes within ``tolerance`` samples. Detections
    of unassigned atoms count as false positives of no neuron (reported as ``unassigned``).
    """
    times = np.asarray(times)
    labels = np.asarray(labels)
    if times.shape != labels.shape:
        raise ValueError(f"times and labels must have the same shape, got {times.shape} and {labels.shape}")
    if len(true_times) != len(match.assignment):
        raise ValueError(f"true_times has {len(true_times)} neurons but match has {len(match.assignment)}")
    prec, rec, tps = [], [], []
    for i, tt in enumerate(true_times):
        det = times[labels == match.assignment[i]] - match.shifts[i]
        tp, fp, fn = match_spike_times(tt, det, tolerance)
        prec.append(tp / (tp + fp) if tp + fp else 0.0)
        rec.append(tp / (tp + fn) if tp + fn else 1.0)
        tps.append(tp)
    unassigned = int(np.sum(~np.isin(labels, match.assignment)))
    n_true = sum(len(t) for t in true_times)
    return {"precision": np.array(prec), "recall": np.array(rec),
            "overall_precision": sum(tps) / max(1, times.size), "overall_recall": sum(tps) / max(1, n_true),
            "unassigned": unassigned}


def sort_spikes(signal, atoms, lam: float, *, threshold=None, min_distance: int = 10, chunk_size: int = 10_000,
                max_iter: int = 200, tol: float = 1e-3, device=None):
    """Code a long single-electrode ``signal`` with non-negative ℓ1 CSC (in chunks) and pick spikes.

    Returns ``(times, labels, amplitudes, codes)`` (see :func:`detect_spikes`).
    """
    from .conv import conv_sparse_code

    sig = np.asarray(signal, dtype=float) if not hasattr(signal, "detach") else signal
    if np.ndim(sig) != 1:
        raise ValueError(f"signal must be 1-D (one electrode), got shape {np.shape(sig)}")
    res = conv_sparse_code(sig, atoms, lam, "l1_nonneg", max_iter=max_iter, tol=tol,
                           chunk_size=min(chunk_size, np.shape(sig)[0]), device=device)
    codes = res.codes if isinstance(res.codes, np.ndarray) else res.codes.detach().cpu().numpy()
    t, lab, amp = detect_spikes(codes, threshold=threshold, min_distance=min_distance)
    return t, lab, amp, codes
