r"""Spike sorting with a convolutional dictionary: spike detections from CSC codes, scored against ground truth.

A long recording is coded by non-negative ℓ1 convolutional sparse coding (:func:`sort_spikes`, chunked
:func:`~simcode.sparse.conv.conv_sparse_code`); spikes are the peaks of each atom's code above a threshold
(:func:`detect_spikes`). Learned atoms are matched to the true templates by
:func:`simcode.sparse.atoms.match_atoms` (lecture 004's error ``err(h, ĥ)`` after the best shift, Hungarian
assignment), and :func:`spike_sorting_scores` compares the detections with ground truth within a time tolerance
after correcting each learned atom's shift.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from ..core import check_array, check_int, check_number, check_tensor, is_tensor, to_numpy
from .atoms import AtomMatch

__all__ = ["detect_spikes", "match_spike_times", "spike_sorting_scores", "sort_spikes"]


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
    min_distance = check_int(min_distance, "min_distance", low=1)
    if threshold is None:
        rel_threshold = check_number(rel_threshold, "rel_threshold", low=0.0, low_inclusive=False)
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

    Greedy in time order, which is a maximum matching for a common tolerance window on a line. Both trains are
    1-D arrays of finite times (either may be empty: no spikes).
    """
    a = np.sort(check_array(true_times, "true_times", ndim=1, allow_empty=True, min_rows=0, what="spike times"))
    b = np.sort(check_array(detected_times, "detected_times", ndim=1, allow_empty=True, min_rows=0, what="spike times"))
    tolerance = check_number(tolerance, "tolerance", low=0.0)
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
    of unassigned atoms count as false positives of no neuron (reported as ``unassigned``); a neuron left
    unmatched (``assignment == -1``, fewer learned atoms than neurons) has recall 0.
    """
    if not isinstance(match, AtomMatch):
        raise TypeError(f"match must be an AtomMatch from simcode.sparse.atoms.match_atoms, got {type(match).__name__}")
    times = check_array(times, "times", ndim=1, allow_empty=True, min_rows=0, what="spike times")
    labels = check_array(labels, "labels", ndim=1, allow_empty=True, min_rows=0, what="atom index per spike")
    if np.any(labels != np.round(labels)):
        raise ValueError("labels must be integer atom indices")
    labels = labels.astype(int)
    if times.shape != labels.shape:
        raise ValueError(f"times and labels must have the same shape, got {times.shape} and {labels.shape}")
    if isinstance(true_times, (str, bytes)) or not hasattr(true_times, "__len__"):
        raise TypeError(f"true_times must be a list of spike-time arrays, one per neuron, got "
                        f"{type(true_times).__name__}")
    true_times = [check_array(t, f"true_times[{i}]", ndim=1, allow_empty=True, min_rows=0, what="spike times")
                  for i, t in enumerate(true_times)]
    if len(true_times) != len(match.assignment):
        raise ValueError(f"true_times has {len(true_times)} neurons but match has {len(match.assignment)}")
    prec, rec, tps = [], [], []
    for i, tt in enumerate(true_times):
        det = times[labels == match.assignment[i]] - match.shifts[i]
        tp, fp, fn = match_spike_times(tt, det, tolerance)
        prec.append(tp / (tp + fp) if tp + fp else 0.0)
        rec.append(tp / (tp + fn) if tp + fn else 1.0)
        tps.append(tp)
    unassigned = int(np.sum(~np.isin(labels, match.assignment[match.assignment >= 0])))
    n_true = sum(len(t) for t in true_times)
    return {"precision": np.array(prec), "recall": np.array(rec),
            "overall_precision": sum(tps) / max(1, times.size), "overall_recall": sum(tps) / max(1, n_true),
            "unassigned": unassigned}


def sort_spikes(signal, atoms, lam: float, *, threshold=None, min_distance: int = 10, chunk_size: int = 10_000,
                max_iter: int = 200, tol: float = 1e-3, solver: str = "auto", device="auto"):
    """Code a long single-electrode ``signal`` with non-negative ℓ1 CSC (in chunks) and pick spikes.

    ``solver``, ``device``: see :func:`~simcode.sparse.conv.conv_sparse_code`. Score the detections with
    :func:`spike_sorting_scores` and ``match_atoms(true_templates, atoms)``.

    Returns
    -------
    ``(times, labels, amplitudes, codes)`` (see :func:`detect_spikes`); ``codes`` (K, T − L + 1) as NumPy.
    """
    from .conv import conv_sparse_code

    sig = check_tensor(signal, "signal", ndim=1, what="one electrode") if is_tensor(signal) else \
        check_array(signal, "signal", ndim=1, dtype="floating", what="one electrode")
    res = conv_sparse_code(sig, atoms, lam, "l1_nonneg", max_iter=max_iter, tol=tol,
                           chunk_size=min(check_int(chunk_size, "chunk_size", low=1), sig.shape[0]), solver=solver,
                           device=device)
    codes = to_numpy(res.codes)
    t, lab, amp = detect_spikes(codes, threshold=threshold, min_distance=min_distance)
    return t, lab, amp, codes
