"""Spike-sorting metrics: closed-form angles, brute-force assignment and matching, a planted recording."""

import itertools

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from simcode.sparse.atoms import AtomMatch, dictionary_error, match_atoms, shift_invariant_error
from simcode.sparse.spikesort import detect_spikes, match_spike_times, sort_spikes, spike_sorting_scores


def _brute_shift_error(a, b):
    """min over every lag of the sine of the angle, straight from np.correlate (independent of the module)."""
    c = np.abs(np.correlate(a, b, mode="full")).max()
    return np.sqrt(max(0.0, 1 - (c / (np.linalg.norm(a) * np.linalg.norm(b))) ** 2))


def test_dictionary_error_is_sine_of_angle():
    th = 0.3
    h = np.array([1.0, 0.0, 0.0])
    g = np.array([np.cos(th), np.sin(th), 0.0])
    assert dictionary_error(h, g) == pytest.approx(np.sin(th))
    assert dictionary_error(h, -3 * h) == pytest.approx(0.0, abs=1e-12)  # scale and sign invariant
    assert dictionary_error(h, np.array([0, 1.0, 0])) == pytest.approx(1.0)
    np.testing.assert_allclose(dictionary_error(np.eye(2), np.array([[1.0, 1], [0, 1]])),
                               [np.sin(np.pi / 4), 0.0], atol=1e-12)


def test_shift_invariant_error_and_lag_convention():
    rng = np.random.default_rng(0)
    h = rng.standard_normal(12)
    g = np.concatenate([np.zeros(3), 2 * h])  # ĥ = h delayed by 3 samples: ĥ[n] = 2 h[n - 3]
    err, lag = shift_invariant_error(h, g)
    assert err == pytest.approx(0.0, abs=1e-7) and lag == -3
    # lag convention: a spike of h at onset tau is coded by ĥ at tau + lag
    tau = 40
    y = np.zeros(100)
    y[tau:tau + 12] += h
    corr = np.correlate(y, g, mode="valid")  # H^T y for the learned filter
    assert int(np.argmax(corr)) == tau + lag
    with pytest.raises(ValueError, match="max_shift"):
        shift_invariant_error(h, g, max_shift=-1)


def test_match_atoms_equals_brute_force():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 10))
    B = rng.standard_normal((5, 12))
    m = match_atoms(A, B)
    E = np.array([[_brute_shift_error(a, b) for b in B] for a in A])
    best = min(itertools.permutations(range(5), 4), key=lambda p: sum(E[i, p[i]] for i in range(4)))
    assert tuple(m.assignment) == best
    np.testing.assert_allclose(m.errors, [E[i, best[i]] for i in range(4)])
    # a permuted, shifted, rescaled copy is recovered exactly
    perm = [2, 0, 3, 1]
    C = np.stack([np.roll(np.pad(-1.5 * A[p], (2, 2)), 1) for p in perm])
    m2 = match_atoms(A, C)
    np.testing.assert_array_equal(m2.assignment, np.argsort(perm))
    assert m2.errors.max() < 1e-7


def test_match_atoms_without_shifts_is_plain_hungarian_on_abs_cosine():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((4, 9))
    B = rng.standard_normal((6, 9))
    m = match_atoms(A, B, max_shift=0)
    cos = np.abs(A @ B.T) / np.outer(np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1))
    best = min(itertools.permutations(range(6), 4), key=lambda p: sum(np.sqrt(1 - cos[i, p[i]] ** 2)
                                                                   for i in range(4)))
    assert tuple(m.assignment) == best
    np.testing.assert_allclose(m.cosines, [cos[i, best[i]] for i in range(4)], atol=1e-12)
    np.testing.assert_allclose(m.errors, dictionary_error(A, B[list(best)]), atol=1e-12)
    assert m.mean_error == pytest.approx(np.mean(m.errors))
    np.testing.assert_array_equal(m.shifts, 0)
    # a sign-flipped, rescaled permutation is recovered exactly; a 3-D (K, C, L) layout works the same way
    perm = [3, 1, 0, 2]
    m2 = match_atoms(A, -2.0 * A[perm], max_shift=0)
    np.testing.assert_array_equal(m2.assignment, np.argsort(perm))
    assert m2.n_recovered() == 4 and m2.n_recovered(threshold=1.0) == 0
    m3 = match_atoms(A.reshape(4, 3, 3), (-2.0 * A[perm]).reshape(4, 3, 3), max_shift=0)
    np.testing.assert_array_equal(m3.assignment, np.argsort(perm))
    # fewer learned atoms than true ones: the unmatched true atom gets error 1 and assignment -1
    m4 = match_atoms(A, A[[2, 0]], max_shift=0)
    np.testing.assert_array_equal(m4.assignment, [1, -1, 0, -1])
    np.testing.assert_allclose(m4.errors[[1, 3]], 1.0)
    assert m4.n_recovered() == 2
    with pytest.raises(ValueError, match="same length"):
        match_atoms(A, B[:, :5], max_shift=0)
    with pytest.raises(ValueError, match="max_shift"):
        match_atoms(A, B, max_shift=-2)
    with pytest.raises(ValueError, match="all-zero"):
        match_atoms(np.zeros((2, 9)), B)
    with pytest.raises(TypeError, match="AtomMatch"):
        spike_sorting_scores([np.arange(3)], np.arange(3), np.zeros(3, int), (np.array([0]), None), 1)
    assert isinstance(m, AtomMatch)


def test_match_atoms_with_bounded_shift_matches_brute_force():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((3, 2, 8))  # two channels
    B = rng.standard_normal((3, 2, 8))
    for max_shift in (1, 3):
        m = match_atoms(A, B, max_shift=max_shift)
        E = np.empty((3, 3))
        for i in range(3):
            for j in range(3):
                c = sum(np.correlate(A[i, ch], B[j, ch], mode="full") for ch in range(2))
                lags = np.arange(-7, 8)
                c = np.abs(c[np.abs(lags) <= max_shift]).max()
                E[i, j] = np.sqrt(1 - (c / (np.linalg.norm(A[i]) * np.linalg.norm(B[j]))) ** 2)
        np.testing.assert_allclose(m.error_matrix, E, atol=1e-12)


def test_match_spike_times_is_a_maximum_matching():
    rng = np.random.default_rng(2)
    for _ in range(20):
        a = np.sort(rng.choice(200, 15, replace=False))
        b = np.sort(rng.choice(200, 18, replace=False))
        tol = 3
        tp, fp, fn = match_spike_times(a, b, tol)
        adj = csr_matrix((np.abs(a[:, None] - b[None, :]) <= tol).astype(int))
        ref = int((maximum_bipartite_matching(adj, perm_type="column") >= 0).sum())
        assert tp == ref and fp == 18 - tp and fn == 15 - tp


def test_detect_spikes_finds_planted_peaks():
    codes = np.zeros((2, 100))
    codes[0, [10, 50]] = [3.0, 4.0]
    codes[0, 11] = 2.0  # a shoulder of the first spike, not a separate one
    codes[1, 30] = 5.0
    codes[1, 80] = 0.5  # below threshold
    t, lab, amp = detect_spikes(codes, threshold=1.0, min_distance=5)
    np.testing.assert_array_equal(t, [10, 30, 50])
    np.testing.assert_array_equal(lab, [0, 1, 0])
    np.testing.assert_allclose(amp, [3, 5, 4])
    with pytest.raises(ValueError, match="min_distance"):
        detect_spikes(codes, min_distance=0)
    with pytest.raises(ValueError, match="threshold"):
        detect_spikes(codes, threshold=[1, 2, 3])


def test_sort_spikes_on_planted_recording_with_true_templates():
    from simcode.data.spikes import make_spike_recording

    sig, tmpl, times = make_spike_recording(duration_s=1.0, noise_std=0.05, random_state=3)
    t, lab, amp, codes = sort_spikes(sig, tmpl, 0.3, min_distance=20, chunk_size=2000, max_iter=300, tol=5e-3)
    m = match_atoms(tmpl, tmpl)
    s = spike_sorting_scores(times, t, lab, m, tolerance=5)
    assert s["precision"].min() >= 0.95 and s["recall"].min() >= 0.95, s
    with pytest.raises(ValueError, match="1-D"):
        sort_spikes(np.ones((2, 100)), tmpl, 0.3)
