"""Numba kernels of the multi-channel matching pursuit (private; see :mod:`simcode.ephys.sorting`)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def subtract_spikes(score, cc, units, onsets, amps):
    """score[k, s + d] -= a · cc[k, j, d + L − 1] for every accepted spike (j, s, a), |d| < L."""
    K, N = score.shape
    W = cc.shape[2]
    half = (W - 1) // 2
    for i in range(units.size):
        j = units[i]
        s = onsets[i]
        a = amps[i]
        lo = max(0, s - half)
        hi = min(N, s + half + 1)
        for k in range(K):
            for t in range(lo, hi):
                score[k, t] -= a * cc[k, j, t - s + half]


@numba.njit(cache=True)
def add_snippets(num, resid, units, onsets, amps, templates):
    """num[j] += a · (resid[s:s+L] + a · W_j) (the least-squares template update's numerator)."""
    L = templates.shape[1]
    C = templates.shape[2]
    for i in range(units.size):
        j = units[i]
        s = onsets[i]
        a = amps[i]
        for t in range(L):
            for c in range(C):
                num[j, t, c] += a * (resid[s + t, c] + a * templates[j, t, c])


@numba.njit(cache=True)
def synthesize(out, units, onsets, amps, templates):
    """out[s:s+L] += a · W_j for every spike (in place)."""
    L = templates.shape[1]
    C = templates.shape[2]
    for i in range(units.size):
        j = units[i]
        s = onsets[i]
        a = amps[i]
        for t in range(L):
            for c in range(C):
                out[s + t, c] += a * templates[j, t, c]


def empty_spikes():
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
