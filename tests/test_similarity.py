"""Tests of simcode.similarity against independent computations (scipy, dense formulas, identities)."""

import importlib.util
import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance as ssd
import scipy.stats
import torch

from simcode import Representation
from simcode.similarity import (CKAAccumulator, bures, canonical_correlations, cca, center, cka, cknna,
                                collapse_metrics, CollapseAccumulator, gram, knn_indices, median_sigma,
                                mutual_knn, participation_ratio, procrustes, rdm, rsa, rsa_data, upper_triangle)


def _data(n=60, p=7, q=5, seed=0, noise=0.7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + 3.0
    Y = X @ rng.normal(size=(p, q)) + noise * rng.normal(size=(n, q)) - 2.0
    return X, Y


# ------------------------------------------------------------------ dense references written from the papers
def _hsic_biased(K, L):
    n = K.shape[0]
    H = np.eye(n) - 1.0 / n
    return np.trace(K @ H @ L @ H)


def _hsic_song(K, L):
    """Song et al. (2012) eq. 5, written out literally."""
    n = K.shape[0]
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0)
    np.fill_diagonal(Lt, 0)
    one = np.ones(n)
    return (np.trace(Kt @ Lt) + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * one @ Kt @ Lt @ one) / (n * (n - 3))


def _cka_ref(K, L, hs):
    return hs(K, L) / np.sqrt(hs(K, K) * hs(L, L))


# ------------------------------------------------------------------------------------------------ kernels
def test_gram_kernels_match_scipy():
    X, _ = _data()
    np.testing.assert_allclose(gram(X), X @ X.T, rtol=1e-12)
    D2 = ssd.squareform(ssd.pdist(X, "sqeuclidean"))
    s2 = np.median(D2[~np.eye(len(X), dtype=bool)])
    np.testing.assert_allclose(gram(X, "rbf"), np.exp(-D2 / (2 * s2)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gram(X, "rbf", sigma=2.0), np.exp(-D2 / 8.0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gram(X, "cosine"), 1 - ssd.squareform(ssd.pdist(X, "cosine")) - 0 * np.eye(len(X)),
                               atol=1e-12)


def test_center_biased_and_unbiased_match_definitions():
    X, _ = _data(n=9)
    K = X @ X.T
    n = 9
    H = np.eye(n) - 1.0 / n
    np.testing.assert_allclose(center(K), H @ K @ H, atol=1e-10)
    U = center(K, unbiased=True)
    Kt = K.copy()
    np.fill_diagonal(Kt, 0)
    ref = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        if i != j:
            ref[i, j] = (Kt[i, j] - Kt[i].sum() / (n - 2) - Kt[:, j].sum() / (n - 2)
                         + Kt.sum() / ((n - 1) * (n - 2)))
    np.testing.assert_allclose(U, ref, atol=1e-9)
    # ⟨U(K), U(L)⟩/(n(n-3)) is Song's unbiased HSIC (Székely & Rizzo 2014, Prop. 1)
    L = np.cos(X[:, :3]) @ np.cos(X[:, :3]).T
    np.testing.assert_allclose((U * center(L, unbiased=True)).sum() / (n * (n - 3)), _hsic_song(K, L), rtol=1e-9)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "correlation"])
def test_rdm_matches_scipy(metric):
    X, _ = _data(n=30)
    np.testing.assert_allclose(rdm(X, metric), ssd.squareform(ssd.pdist(X, metric)), atol=1e-10)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "correlation"])
def test_rdm_blocked_condensed_and_float32_match_scipy(metric):
    # n = 300 crosses the 256-row block boundary of the compiled CPU path
    X, _ = _data(n=300, p=9, seed=11)
    ref = ssd.pdist(X, metric)
    D = rdm(X, metric)
    np.testing.assert_allclose(D, ssd.squareform(ref), atol=1e-10)
    assert np.array_equal(D, D.T) and not np.diag(D).any()
    np.testing.assert_allclose(rdm(X, metric, condensed=True), ref, atol=1e-10)
    d32 = rdm(X, metric, condensed=True, dtype="float32")
    assert d32.dtype == np.float32
    np.testing.assert_allclose(d32, ref, rtol=1e-4, atol=1e-4 * ref.max())
    t = rdm(torch.from_numpy(X).float(), metric)
    assert t.dtype == torch.float32 and t.shape == (300, 300)
    # the torch (device-agnostic) formula gives the same numbers as the compiled path
    from simcode.similarity.kernels import _sqdist
    if metric == "sqeuclidean":
        np.testing.assert_allclose(_sqdist(torch.from_numpy(X)).numpy(), D, atol=1e-10)


def _whitened_ref(a, b, pearson=False):
    """Direct NumPy: double-centre the symmetric zero-diagonal RDMs (Diedrichsen et al. 2021) and take the cosine."""
    A, B = ssd.squareform(a), ssd.squareform(b)
    n = len(A)
    H = np.eye(n) - 1.0 / n
    if pearson:
        off = ~np.eye(n, dtype=bool)
        A, B = np.where(off, A - a.mean(), 0), np.where(off, B - b.mean(), 0)
    Ac, Bc = H @ A @ H, H @ B @ H
    return np.sum(Ac * Bc) / np.sqrt(np.sum(Ac * Ac) * np.sum(Bc * Bc))


def test_whitened_rsa_matches_numpy_formula_square_condensed_and_upper_triangle():
    X, Y = _data(n=300, p=8, q=6, seed=12)
    a, b = ssd.pdist(X, "sqeuclidean"), ssd.pdist(Y, "euclidean")
    for method, pearson in (("whitened_cosine", False), ("whitened_pearson", True)):
        ref = _whitened_ref(a, b, pearson)
        assert rsa(a, b, method) == pytest.approx(ref, abs=1e-10)
        A, B = ssd.squareform(a), ssd.squareform(b)
        assert rsa(A, B, method) == pytest.approx(ref, abs=1e-10)
        # only the strict upper triangle is read (rsatoolbox's condensed vector)
        A2 = A.copy()
        A2[np.tril_indices(300, -1)] = 123.0
        np.fill_diagonal(A2, 5.0)
        assert rsa(A2, B, method) == pytest.approx(ref, abs=1e-10)
        # mixed layouts take the device-agnostic torch path (the one CUDA tensors use)
        assert rsa(A2, b, method) == pytest.approx(ref, abs=1e-10)
        v = rsa(torch.from_numpy(A).float(), torch.from_numpy(B).float(), method)
        assert isinstance(v, torch.Tensor) and float(v) == pytest.approx(ref, abs=1e-5)
    # the full pipeline at float64 equals linear CKA (an identity) to 1e-10
    val = rsa(rdm(X, "sqeuclidean", condensed=True), rdm(Y, "sqeuclidean", condensed=True), "whitened_cosine")
    assert val == pytest.approx(cka(X, Y), abs=1e-10)
    with pytest.raises(ValueError, match="same number of stimuli"):
        rsa(a, ssd.pdist(Y[:-1]), "whitened_cosine")
    with pytest.raises(ValueError, match="constant"):
        rsa(np.full_like(a, 2.0), b, "whitened_pearson")      # nothing left after removing the mean
    with pytest.raises(ValueError, match="dtype"):
        rdm(X, dtype="int8")
    bad = a.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="rdm1 contains NaN"):
        rsa(bad, b, "whitened_cosine")
    with pytest.raises(ValueError, match="rdm2 contains NaN"):
        rsa(ssd.squareform(a), np.where(ssd.squareform(b) > 1, np.inf, ssd.squareform(b)), "whitened_pearson")


def test_crossnobis_matches_bruteforce_loops():
    rng = np.random.default_rng(3)
    C, K, p, reps = 5, 4, 6, 2
    cond = np.tile(np.repeat(np.arange(C), reps), K)
    part = np.repeat(np.arange(K), C * reps)
    X = rng.normal(size=(len(cond), p)) + np.repeat(rng.normal(size=(C, p)), reps, 0)[np.tile(
        np.arange(C * reps), K)] * 0 + rng.normal(size=(C, p))[cond]
    A = rng.normal(size=(p, p))
    Sigma = A @ A.T + p * np.eye(p)
    P = np.linalg.inv(Sigma)
    means = np.array([[X[(cond == c) & (part == k)].mean(0) for c in range(C)] for k in range(K)])
    ref = np.zeros((C, C))
    for i, j in itertools.product(range(C), range(C)):
        acc = 0.0
        for k, l_ in itertools.permutations(range(K), 2):
            acc += (means[k, i] - means[k, j]) @ P @ (means[l_, i] - means[l_, j])
        ref[i, j] = acc / (K * (K - 1)) / p
    np.testing.assert_allclose(rdm(X, "crossnobis", conditions=cond, partitions=part, noise=Sigma), ref,
                               atol=1e-10)


@pytest.mark.skipif(importlib.util.find_spec("rsatoolbox") is None, reason="rsatoolbox not installed")
def test_crossnobis_matches_rsatoolbox():
    import rsatoolbox

    rng = np.random.default_rng(4)
    C, K, p = 6, 3, 8
    cond = np.tile(np.arange(C), K)
    part = np.repeat(np.arange(K), C)
    X = rng.normal(size=(C * K, p)) + rng.normal(size=(C, p))[cond]
    ds = rsatoolbox.data.Dataset(X, descriptors={}, obs_descriptors={"conds": cond, "runs": part})
    r = rsatoolbox.rdm.calc_rdm(ds, method="crossnobis", descriptor="conds", cv_descriptor="runs")
    ours = rdm(X, "crossnobis", conditions=cond, partitions=part)
    np.testing.assert_allclose(ssd.squareform(ours, checks=False), r.get_vectors()[0], rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------------------------------------------------- RSA
def _rdm_pair(n=25, seed=1):
    X, Y = _data(n=n, seed=seed)
    return ssd.pdist(X), ssd.pdist(Y)


def test_rsa_pearson_spearman_match_scipy():
    a, b = _rdm_pair()
    assert rsa(a, b, "pearson") == pytest.approx(scipy.stats.pearsonr(a, b).statistic, abs=1e-12)
    assert rsa(a, b, "spearman") == pytest.approx(scipy.stats.spearmanr(a, b).statistic, abs=1e-12)
    # square and condensed inputs give the same number
    assert rsa(ssd.squareform(a), ssd.squareform(b), "spearman") == pytest.approx(rsa(a, b, "spearman"))


def test_kendall_a_and_rho_a_match_bruteforce_with_ties():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 5, size=36).astype(float)   # heavy ties, like categorical model RDMs
    b = rng.normal(size=36) + a
    m = a.size
    s = 0.0
    for i, j in itertools.combinations(range(m), 2):
        s += np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
    assert rsa(a, b, "kendall_a") == pytest.approx(s / (m * (m - 1) / 2), abs=1e-12)
    ra, rb = scipy.stats.rankdata(a), scipy.stats.rankdata(b)
    rho_a = 1 - 6 * np.sum((ra - rb) ** 2) / (m ** 3 - m)   # the textbook form; equals ρ_a for average ranks
    # the textbook form differs from 12 Σ(r-r̄)(r-r̄)/(m³-m) only by tie terms; without ties they agree:
    c = rng.normal(size=36)
    rc = scipy.stats.rankdata(c)
    assert rsa(b, c, "rho_a") == pytest.approx(1 - 6 * np.sum((rb - rc) ** 2) / (m ** 3 - m), abs=1e-12)
    assert rsa(a, b, "rho_a") == pytest.approx(12 * np.sum((ra - ra.mean()) * (rb - rb.mean())) / (m ** 3 - m))
    assert abs(rsa(a, b, "rho_a") - rho_a) < 0.05


def test_whitened_cosine_matches_dense_covariance_whitening():
    """Diedrichsen et al. 2021: cos_V = v1ᵀV⁻¹v2 / sqrt(v1ᵀV⁻¹v1 · v2ᵀV⁻¹v2), V = (CCᵀ)∘(CCᵀ)."""
    n = 9
    a, b = _rdm_pair(n=n, seed=5)
    pairs = list(itertools.combinations(range(n), 2))
    Cm = np.zeros((len(pairs), n))
    for r, (i, j) in enumerate(pairs):
        Cm[r, i], Cm[r, j] = 1, -1
    V = (Cm @ Cm.T) ** 2
    Vi = np.linalg.inv(V)
    ref = a @ Vi @ b / np.sqrt((a @ Vi @ a) * (b @ Vi @ b))
    assert rsa(a, b, "whitened_cosine") == pytest.approx(ref, abs=1e-10)
    ac, bc = a - a.mean(), b - b.mean()
    ref2 = ac @ Vi @ bc / np.sqrt((ac @ Vi @ ac) * (bc @ Vi @ bc))
    assert rsa(a, b, "whitened_pearson") == pytest.approx(ref2, abs=1e-10)


@pytest.mark.skipif(importlib.util.find_spec("rsatoolbox") is None, reason="rsatoolbox not installed")
def test_rsa_matches_rsatoolbox():
    import rsatoolbox

    a, b = _rdm_pair(n=20, seed=6)
    a[::7] = np.round(a[::7])
    r1, r2 = rsatoolbox.rdm.RDMs(a[None]), rsatoolbox.rdm.RDMs(b[None])
    for ours, theirs in [("whitened_cosine", "cosine_cov"), ("whitened_pearson", "corr_cov"),
                         ("kendall_a", "tau-a"), ("rho_a", "rho-a"), ("cosine", "cosine"), ("pearson", "corr")]:
        ref = rsatoolbox.rdm.compare(r1, r2, method=theirs)[0, 0]
        assert rsa(a, b, ours) == pytest.approx(ref, abs=1e-9), ours


# ----------------------------------------------------------------------------------------------------- CKA
@pytest.mark.parametrize("debiased", [False, True])
def test_cka_feature_and_gram_agree_with_dense_reference(debiased):
    X, Y = _data()
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    ref = _cka_ref(Xc @ Xc.T, Yc @ Yc.T, _hsic_song if debiased else _hsic_biased)
    assert cka(X, Y, debiased=debiased, solver="feature") == pytest.approx(ref, abs=1e-11)
    assert cka(X, Y, debiased=debiased, solver="gram") == pytest.approx(ref, abs=1e-11)
    # debiased HSIC is invariant to mean shifts, so the uncentred Gram gives the same number (Song et al.)
    if debiased:
        assert _cka_ref(X @ X.T, Y @ Y.T, _hsic_song) == pytest.approx(ref, abs=1e-10)


def test_linear_cka_equals_whitened_rsa_on_sqeuclidean_rdms():
    X, Y = _data(n=40)
    val = rsa(rdm(X, "sqeuclidean"), rdm(Y, "sqeuclidean"), "whitened_cosine")
    assert cka(X, Y) == pytest.approx(val, abs=1e-10)


def test_rsa_data_fast_path_equals_rdm_pipeline():
    X, Y = _data(n=50)
    assert rsa_data(X, Y) == pytest.approx(rsa(rdm(X, "sqeuclidean"), rdm(Y, "sqeuclidean"), "whitened_cosine"),
                                           abs=1e-12)
    assert rsa_data(X, Y, "correlation", "spearman") == pytest.approx(
        scipy.stats.spearmanr(ssd.pdist(X, "correlation"), ssd.pdist(Y, "correlation")).statistic, abs=1e-12)


def test_cka_invariances_and_known_values():
    X, Y = _data(n=80, p=10, q=6)
    rng = np.random.default_rng(7)
    Q = scipy.stats.ortho_group.rvs(10, random_state=1)
    base = cka(X, Y)
    assert cka(X @ Q, Y) == pytest.approx(base, abs=1e-12)
    assert cka(3.7 * X, Y) == pytest.approx(base, abs=1e-12)
    assert cka(X[:, rng.permutation(10)], Y) == pytest.approx(base, abs=1e-12)
    assert cka(X, X) == pytest.approx(1.0, abs=1e-12)
    assert cka(X, X, debiased=True) == pytest.approx(1.0, abs=1e-12)
    assert cka(X, X, kernel="rbf") == pytest.approx(1.0, abs=1e-12)
    # independent random representations: debiased CKA is an unbiased estimate of 0
    A = rng.normal(size=(3000, 20))
    B = rng.normal(size=(3000, 20))
    assert abs(cka(A, B, debiased=True)) < 0.01
    assert cka(A, B) < 0.02          # biased CKA → 0 as n grows (≈ p q/(n·‖…‖) bias)


def test_cka_rbf_matches_dense_reference():
    X, Y = _data(n=30)

    def rbf(Z):
        D2 = ssd.squareform(ssd.pdist(Z, "sqeuclidean"))
        return np.exp(-D2 / (2 * np.median(D2[~np.eye(len(Z), dtype=bool)])))

    assert cka(X, Y, kernel="rbf") == pytest.approx(_cka_ref(rbf(X), rbf(Y), _hsic_biased), abs=1e-11)
    assert cka(X, Y, kernel="rbf", debiased=True) == pytest.approx(_cka_ref(rbf(X), rbf(Y), _hsic_song), abs=1e-11)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_accumulator_streams_exactly(debiased):
    X, Y = _data(n=203, p=9, q=4, seed=8)
    X = X + 1e3                      # large offset: the shifted accumulation must stay accurate
    acc = CKAAccumulator()
    for s in range(0, 203, 37):
        acc.update(X[s:s + 37], Y[s:s + 37])
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    ref = _cka_ref(Xc @ Xc.T, Yc @ Yc.T, _hsic_song if debiased else _hsic_biased)
    assert acc.result(debiased) == pytest.approx(ref, abs=1e-9)


def test_torch_in_torch_out():
    X, Y = _data()
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)
    v = cka(tx, ty)
    assert isinstance(v, torch.Tensor) and v.ndim == 0
    assert float(v) == pytest.approx(cka(X, Y), abs=1e-12)
    assert isinstance(gram(tx), torch.Tensor)
    assert isinstance(rsa(rdm(tx), rdm(ty), "spearman"), torch.Tensor)
    assert float(mutual_knn(tx, ty, 5)) == pytest.approx(mutual_knn(X, Y, 5))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    X, Y = _data()
    tx, ty = torch.from_numpy(X).cuda(), torch.from_numpy(Y).cuda()
    assert cka(tx, ty).device.type == "cuda"
    assert float(cka(tx, ty)) == pytest.approx(cka(X, Y), abs=1e-10)
    assert float(cknna(tx, ty, 5)) == pytest.approx(cknna(X, Y, 5), abs=1e-10)
    # the device-agnostic torch paths: RDMs (with the small-distance recomputation), kNN, Representation
    Z = np.vstack([X, X[:3] + 1e-9])
    for metric in ("euclidean", "sqeuclidean", "correlation"):
        D = rdm(torch.from_numpy(Z).cuda(), metric, condensed=True)
        assert D.device.type == "cuda"
        np.testing.assert_allclose(D.cpu().numpy(), ssd.pdist(Z, metric), rtol=1e-6, atol=1e-12)
    idx = knn_indices(Representation(tx), 4)
    assert idx.device.type == "cuda"
    assert np.array_equal(np.sort(idx.cpu().numpy(), 1), np.sort(knn_indices(X, 4), 1))
    assert float(procrustes(Representation(tx), ty)) == pytest.approx(procrustes(X, Y), abs=1e-10)


# --------------------------------------------------------------------------------------- shape metrics, CCA
def test_procrustes_angle_is_arccos_of_normalized_bures_and_matches_scipy():
    X, Y = _data(n=50, p=6, q=6)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    theta = procrustes(X, Y)
    assert theta == pytest.approx(np.arccos(bures(Xc @ Xc.T, Yc @ Yc.T)), abs=1e-10)
    # euclidean: the minimiser over orthogonal Q from scipy's orthogonal Procrustes
    R, _ = scipy.linalg.orthogonal_procrustes(Yc, Xc)
    assert procrustes(X, Y, score="euclidean") == pytest.approx(np.linalg.norm(Xc - Yc @ R), abs=1e-9)
    # invariance to rotations of either representation, and a zero distance to a rotated copy
    Q = scipy.stats.ortho_group.rvs(6, random_state=2)
    assert procrustes(X @ Q, Y) == pytest.approx(theta, abs=1e-10)
    assert procrustes(X, X @ Q + 5.0) == pytest.approx(0.0, abs=1e-6)


def test_bures_matches_scipy_sqrtm():
    X, Y = _data(n=12, p=12, q=12)
    K, L = X @ X.T, Y @ Y.T
    Ks = scipy.linalg.sqrtm(K).real
    F = np.trace(scipy.linalg.sqrtm(Ks @ L @ Ks).real)
    assert bures(K, L, normalized=False) == pytest.approx(F, rel=1e-7)
    assert bures(K, L) == pytest.approx(F / np.sqrt(np.trace(K) * np.trace(L)), rel=1e-7)


def test_alpha0_shape_metric_is_mean_canonical_correlation():
    X, Y = _data(n=100, p=5, q=5, noise=2.0)
    rho = canonical_correlations(X, Y)
    assert procrustes(X, Y, alpha=0.0) == pytest.approx(np.arccos(rho.mean()), abs=1e-8)


def test_canonical_correlations_match_covariance_eigenproblem():
    X, Y = _data(n=90, p=4, q=6, noise=1.5)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Sxx, Syy, Sxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc
    ev = np.sort(np.linalg.eigvals(np.linalg.solve(Sxx, Sxy) @ np.linalg.solve(Syy, Sxy.T)).real)[::-1]
    np.testing.assert_allclose(canonical_correlations(X, Y) ** 2, ev, atol=1e-10)
    assert cca(X, Y) == pytest.approx(ev.mean(), abs=1e-10)
    assert cca(X, Y, "mean") == pytest.approx(np.sqrt(ev).mean(), abs=1e-10)
    # SVCCA with 2 kept directions: CCA of the top-2 principal component scores
    U, s, _ = np.linalg.svd(Xc, full_matrices=False)
    V, t, _ = np.linalg.svd(Yc, full_matrices=False)
    assert cca(X, Y, "mean", svd_dims=2) == pytest.approx(
        np.mean(canonical_correlations(U[:, :2] * s[:2], V[:, :2] * t[:2])), abs=1e-10)


def test_participation_ratio_matches_eigenvalues():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(200, 10)) * np.arange(1, 11)
    lam = np.linalg.eigvalsh(np.cov(X.T))
    assert participation_ratio(X) == pytest.approx(lam.sum() ** 2 / (lam ** 2).sum(), rel=1e-10)
    assert participation_ratio(X[:8]) == pytest.approx(
        (lambda l_: l_.sum() ** 2 / (l_ ** 2).sum())(np.linalg.eigvalsh(np.cov(X[:8].T))), rel=1e-8)


# ----------------------------------------------------------------------------------------- neural collapse
def _collapse_ref(H, y, W, b):
    C = y.max() + 1
    mu = np.array([H[y == c].mean(0) for c in range(C)])
    mG = H.mean(0)
    Sw = sum(np.outer(h - mu[c], h - mu[c]) for h, c in zip(H, y)) / len(y)
    Sb = (mu - mG).T @ (mu - mG) / C
    nc1 = np.trace(Sw @ np.linalg.pinv(Sb)) / C
    M = mu - mG
    nc3 = np.linalg.norm(W / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2
    ncc = np.argmin(((H[:, None, :] - mu[None]) ** 2).sum(-1), 1)
    nc4 = np.mean(np.argmax(H @ W.T + b, 1) == ncc)
    var = np.array([((H[y == c] - mu[c]) ** 2).sum(1).mean() for c in range(C)])
    cd = [(var[i] + var[j]) / (2 * np.sum((mu[i] - mu[j]) ** 2)) for i in range(C) for j in range(C) if i != j]
    return nc1, nc3, nc4, np.mean(cd)


def test_collapse_metrics_match_dense_definitions_and_stream():
    rng = np.random.default_rng(10)
    C, d, n = 4, 6, 200
    y = rng.integers(0, C, n)
    H = rng.normal(size=(C, d))[y] * 2 + rng.normal(size=(n, d)) + 10.0
    W, b = rng.normal(size=(C, d)), rng.normal(size=C)
    r = collapse_metrics(H, y, W, b)
    nc1, nc3, nc4, cdnv = _collapse_ref(H, y, W, b)
    assert r["nc1"] == pytest.approx(nc1, rel=1e-9)
    assert r["nc3"] == pytest.approx(nc3, rel=1e-9)
    assert r["nc4"] == pytest.approx(nc4)
    assert r["cdnv"] == pytest.approx(cdnv, rel=1e-9)
    acc = CollapseAccumulator(C, W, b)
    for s in range(0, n, 33):
        acc.update(H[s:s + 33], y[s:s + 33])
    for s in range(0, n, 33):
        acc.update_nc4(H[s:s + 33])
    r2 = acc.result()
    for key in r:
        assert r2[key] == pytest.approx(r[key], rel=1e-9, abs=1e-12), key


def test_perfect_simplex_etf_is_fully_collapsed():
    C, d = 5, 8
    M = np.eye(C) - 1.0 / C                      # simplex ETF vertices in R^C, embedded in R^d
    M = np.c_[M, np.zeros((C, d - C))] @ scipy.stats.ortho_group.rvs(d, random_state=3)
    y = np.repeat(np.arange(C), 10)
    H = M[y] * 4.0 + 1.0
    H = H + 1e-6 * np.random.default_rng(0).normal(size=H.shape)
    r = collapse_metrics(H, y, W=M, b=-(M @ np.ones(d)) * 4.0 * 0)
    assert r["nc1"] < 1e-9
    assert r["nc2_equinorm"] < 1e-5 and r["nc2_equiangular"] < 1e-5 and r["nc2_maxangle"] < 1e-5
    assert r["nc2_etf_error"] < 1e-5 and r["nc2_etf_error_W"] < 1e-9
    assert r["nc3"] < 1e-9 and r["nc4"] == 1.0


# -------------------------------------------------------------------------------------------- nearest nbrs
def _knn_dense(Z, k):
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    S = Z @ Z.T
    np.fill_diagonal(S, -np.inf)
    return np.argsort(-S, axis=1)[:, :k], Z @ Z.T


def test_mutual_knn_matches_dense_bruteforce():
    X, Y = _data(n=150, p=8, q=6, seed=11, noise=2.0)
    k = 7
    A, _ = _knn_dense(X, k)
    B, _ = _knn_dense(Y, k)
    ref = np.mean([len(set(A[i]) & set(B[i])) / k for i in range(len(X))])
    assert mutual_knn(X, Y, k, chunk_size=16) == pytest.approx(ref, abs=1e-12)
    assert mutual_knn(X, X, k) == pytest.approx(1.0)


def test_cknna_matches_dense_reference():
    X, Y = _data(n=120, p=8, q=6, seed=12, noise=2.0)
    k = 10
    A, K = _knn_dense(X, k)
    B, L = _knn_dense(Y, k)
    n = len(X)

    def mask(idx):
        m = np.zeros((n, n))
        m[np.arange(n)[:, None], idx] = 1
        return m

    mK, mL = mask(A), mask(B)

    def h(M, K_, L_):
        return _hsic_song(M * K_, M * L_)   # the diagonal is outside every mask

    ref = h(mK * mL, K, L) / np.sqrt(h(mK, K, K) * h(mL, L, L))
    assert cknna(X, Y, k, chunk_size=25) == pytest.approx(ref, abs=1e-10)
    assert cknna(X, X, k) == pytest.approx(1.0, abs=1e-12)


# ------------------------------------------------------------------------------------------------ bad input
def test_bad_inputs_raise_clear_errors():
    X, Y = _data(n=20)
    with pytest.raises(ValueError, match="same number of stimuli"):
        cka(X, Y[:-1])
    with pytest.raises(ValueError, match="at least 4"):
        cka(X[:3], Y[:3], debiased=True)
    with pytest.raises(ValueError, match="zero variance"):
        cka(np.ones((20, 3)), Y)
    with pytest.raises(ValueError, match="zero variance"):
        procrustes(X, np.tile(Y[:1], (20, 1)))
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cka(Xn, Y)
    with pytest.raises(ValueError, match="NaN"):
        rdm(np.where(np.isfinite(Xn), Xn, np.inf))
    with pytest.raises(ValueError, match="single class"):
        collapse_metrics(X, np.zeros(20, int))
    with pytest.raises(ValueError, match="k must be"):
        mutual_knn(X, Y, 20)
    with pytest.raises(ValueError, match="method"):
        rsa(ssd.pdist(X), ssd.pdist(Y), "bogus")
    with pytest.raises(ValueError, match="same number of stimuli"):
        rsa(ssd.pdist(X), ssd.pdist(Y[:-1]))
    with pytest.raises(ValueError, match="constant"):
        rsa(np.ones(10), np.arange(10.0), "spearman")
    with pytest.raises(ValueError, match="partitions"):
        rdm(X, "crossnobis", conditions=np.arange(20) % 4, partitions=np.zeros(20))


# ------------------------------------------------------------------------- Representation, dtypes, devices

_PAIR_ANALYSES = {
    "cka": lambda X, Y: cka(X, Y),
    "cka_debiased_gram": lambda X, Y: cka(X, Y, debiased=True, solver="gram"),
    "cka_rbf": lambda X, Y: cka(X, Y, kernel="rbf"),
    "rsa_data": lambda X, Y: rsa_data(X, Y),
    "rsa_data_spearman": lambda X, Y: rsa_data(X, Y, "euclidean", "spearman"),
    "procrustes": lambda X, Y: procrustes(X, Y, alpha=0.5),
    "cca": lambda X, Y: cca(X, Y),
    "canonical_correlations": lambda X, Y: canonical_correlations(X, Y),
    "mutual_knn": lambda X, Y: mutual_knn(X, Y, 5),
    "cknna": lambda X, Y: cknna(X, Y, 5),
    "accumulator": lambda X, Y: CKAAccumulator().update(X, Y).result(),
}
_SINGLE_ANALYSES = {
    "gram": lambda X: gram(X),
    "gram_cosine": lambda X: gram(X, "cosine"),
    "rdm": lambda X: rdm(X),
    "rdm_correlation_condensed": lambda X: rdm(X, "correlation", condensed=True),
    "knn_indices": lambda X: np.sort(np.asarray(knn_indices(X, 4)), 1),
    "participation_ratio": lambda X: participation_ratio(X),
    "median_sigma": lambda X: median_sigma(X),
}


@pytest.mark.parametrize("name", sorted(_PAIR_ANALYSES))
def test_pair_analyses_on_representation_equal_analyses_on_Z(name):
    f = _PAIR_ANALYSES[name]
    X, Y = _data(n=40, p=6, q=4, seed=21)
    ref = f(X, Y)
    np.testing.assert_allclose(f(Representation(X), Representation(Y)), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f(Representation(X), Y), ref, rtol=1e-12, atol=1e-12)
    # torch in → torch out, same numbers; a Representation of a tensor behaves as the tensor
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)
    for a, b in ((tx, ty), (Representation(tx), Representation(ty)), (tx, Y)):
        v = f(a, b)
        assert isinstance(v, torch.Tensor) and v.dtype == torch.float64
        np.testing.assert_allclose(v.numpy(), ref, rtol=1e-10, atol=1e-10)
    assert not isinstance(ref, torch.Tensor)


@pytest.mark.parametrize("name", sorted(_SINGLE_ANALYSES))
def test_single_analyses_on_representation_equal_analyses_on_Z(name):
    f = _SINGLE_ANALYSES[name]
    X, _ = _data(n=30, p=5, seed=22)
    ref = f(X)
    np.testing.assert_allclose(f(Representation(X)), ref, rtol=1e-12, atol=1e-12)
    v = f(torch.from_numpy(X))
    if name != "knn_indices":
        assert isinstance(v, torch.Tensor)
    np.testing.assert_allclose(np.asarray(v), ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.asarray(f(Representation(torch.from_numpy(X)))), ref, rtol=1e-10, atol=1e-10)


def test_gram_of_a_kernel_only_representation_is_its_Q():
    X, _ = _data(n=12, p=4, seed=23)
    Q = X @ X.T
    rep = Representation(Q=Q)
    K = gram(rep)
    np.testing.assert_allclose(K, Q, rtol=1e-12, atol=1e-12)
    K[0, 0] = -1.0                                   # a copy: the Representation's cache is untouched
    assert rep.Q[0, 0] == Q[0, 0]
    # the analyses see the same code through the eigen-factor Z (QᵀQ identity: Z Zᵀ = Q)
    assert cka(rep, X) == pytest.approx(1.0, abs=1e-10)


def test_collapse_metrics_on_representation_and_labels_from_stimuli():
    rng = np.random.default_rng(24)
    C, d, n = 3, 5, 90
    y = np.repeat(np.arange(C), n // C)
    H = rng.normal(size=(C, d))[y] * 3 + rng.normal(size=(n, d))
    W = rng.normal(size=(C, d))
    ref = collapse_metrics(H, y, W)
    for r in (collapse_metrics(Representation(H), y, W),
              collapse_metrics(Representation(H, stimuli={"labels": y}), W=W)):
        assert r.keys() == ref.keys()
        for key in ref:
            assert r[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-14), key
    rt = collapse_metrics(torch.from_numpy(H), torch.from_numpy(y), torch.from_numpy(W))
    for key in ref:
        assert rt[key] == pytest.approx(ref[key], rel=1e-10, abs=1e-12), key
    acc = CollapseAccumulator(C).update(Representation(H, stimuli={"labels": y}))
    assert acc.result()["nc1"] == pytest.approx(ref["nc1"], rel=1e-12)
    with pytest.raises(TypeError, match="labels"):
        collapse_metrics(H)
    with pytest.raises(TypeError, match="labels"):
        collapse_metrics(H, np.array(["a", "b", "c"] * 30))


def test_float32_kept_for_arrays_and_statistics_read_in_float64():
    X, Y = _data(n=40, p=6, q=4, seed=25)
    X32 = X.astype(np.float32)
    assert gram(X32).dtype == np.float32 and center(gram(X32)).dtype == np.float32
    assert rdm(X32).dtype == np.float32 and rdm(X32, condensed=True).dtype == np.float32
    assert rdm(X32, dtype="float64").dtype == np.float64
    np.testing.assert_allclose(rdm(X32), ssd.squareform(ssd.pdist(X32.astype(np.float64))), rtol=1e-5, atol=1e-5)
    # a NumPy statistic is a Python float computed in float64 (the float32 rounding of the data only)
    assert isinstance(cka(X32, Y), float)
    assert cka(X32, Y) == pytest.approx(cka(X32.astype(np.float64), Y), abs=1e-12)
    t = cka(torch.from_numpy(X32), torch.from_numpy(Y.astype(np.float32)))
    assert t.dtype == torch.float32 and float(t) == pytest.approx(cka(X, Y), abs=1e-5)
    assert gram(torch.from_numpy(X32)).dtype == torch.float32


_BAD_DTYPES = [
    (np.ones((10, 3), dtype=complex), TypeError, "complex"),
    (np.ones((10, 3), dtype=np.float16), TypeError, "half"),
    (np.ones((10, 3), dtype=bool), TypeError, "bool"),
    (np.array([["a"] * 3] * 10), TypeError, "numbers"),
    (np.array([[object()] * 3] * 10, dtype=object), TypeError, "object"),
    ("abc", TypeError, "string"),
    (None, TypeError, "None"),
    (np.empty((0, 3)), ValueError, "empty|at least"),
    (np.ones(10), ValueError, "2-D"),
]


@pytest.mark.parametrize("bad,exc,what", _BAD_DTYPES)
@pytest.mark.parametrize("fn", ["gram", "rdm", "cka_X", "cka_Y", "procrustes", "cca", "mutual_knn", "cknna",
                                "knn_indices", "participation_ratio", "collapse", "accumulator", "rsa_data"])
def test_invalid_responses_raise_naming_the_argument(fn, bad, exc, what):
    X, Y = _data(n=10, p=3, q=3, seed=26)
    labels = np.arange(10) % 2
    calls = {
        "gram": (lambda A: gram(A), "X"), "rdm": (lambda A: rdm(A), "X"),
        "cka_X": (lambda A: cka(A, Y), "X"), "cka_Y": (lambda A: cka(X, A), "Y"),
        "procrustes": (lambda A: procrustes(A, Y), "X"), "cca": (lambda A: cca(X, A), "Y"),
        "mutual_knn": (lambda A: mutual_knn(A, Y, 3), "X"), "cknna": (lambda A: cknna(X, A, 3), "Y"),
        "knn_indices": (lambda A: knn_indices(A, 3), "X"),
        "participation_ratio": (lambda A: participation_ratio(A), "X"),
        "collapse": (lambda A: collapse_metrics(A, labels), "H"),
        "accumulator": (lambda A: CKAAccumulator().update(A, Y), "X"), "rsa_data": (lambda A: rsa_data(X, A), "Y"),
    }
    f, name = calls[fn]
    with pytest.raises(exc, match=rf"^{name} .*({what})"):
        f(bad)


def test_nan_and_torch_bad_dtypes_are_refused():
    X, Y = _data(n=10, p=3, q=3)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    for f in (lambda A: gram(A), lambda A: mutual_knn(A, Y, 3), lambda A: procrustes(A, Y),
              lambda A: participation_ratio(A), lambda A: collapse_metrics(A, np.arange(10) % 2)):
        with pytest.raises(ValueError, match="NaN"):
            f(Xn)
        with pytest.raises(ValueError, match="NaN"):
            f(torch.from_numpy(Xn))
        with pytest.raises(TypeError, match="complex"):
            f(torch.from_numpy(X.astype(complex)))
        with pytest.raises(TypeError, match="half|float16"):
            f(torch.from_numpy(X).half())
        with pytest.raises(TypeError, match="bool"):
            f(torch.from_numpy(X > 0))
    with pytest.raises(TypeError, match="rdm1 .*complex"):
        rsa(ssd.pdist(X).astype(complex), ssd.pdist(Y))
    with pytest.raises(TypeError, match="rdm2 .*bool"):
        rsa(ssd.pdist(X), ssd.pdist(Y) > 1, "whitened_cosine")


@pytest.mark.parametrize("call,exc,name", [
    (lambda X, Y: mutual_knn(X, Y, 3, chunk_size="abc"), TypeError, "chunk_size"),
    (lambda X, Y: mutual_knn(X, Y, 3, chunk_size=0), ValueError, "chunk_size"),
    (lambda X, Y: cknna(X, Y, 3, chunk_size=2.0), TypeError, "chunk_size"),
    (lambda X, Y: knn_indices(X, 3, chunk_size="8"), TypeError, "chunk_size"),
    (lambda X, Y: mutual_knn(X, Y, 3.0), TypeError, "k"),
    (lambda X, Y: mutual_knn(X, Y, 3, normalize="yes"), TypeError, "normalize"),
    (lambda X, Y: collapse_metrics(X, np.arange(20) % 2, n_classes="3"), TypeError, "n_classes"),
    (lambda X, Y: CollapseAccumulator("3"), TypeError, "n_classes"),
    (lambda X, Y: CollapseAccumulator(1), ValueError, "n_classes"),
    (lambda X, Y: cka(X, Y, kernel="rbf", sigma="1"), TypeError, "sigma"),
    (lambda X, Y: cka(X, Y, kernel="rbf", sigma=-1.0), ValueError, "sigma"),
    (lambda X, Y: cka(X, Y, threshold=np.nan), ValueError, "threshold"),
    (lambda X, Y: cka(X, Y, solver="fast"), ValueError, "solver"),
    (lambda X, Y: cka(X, Y, kernel="poly"), ValueError, "kernel"),
    (lambda X, Y: cka(X, Y, debiased="no"), TypeError, "debiased"),
    (lambda X, Y: procrustes(X, Y, alpha="0.5"), TypeError, "alpha"),
    (lambda X, Y: procrustes(X, Y, alpha=1.5), ValueError, "alpha"),
    (lambda X, Y: procrustes(X, Y, score="cos"), ValueError, "score"),
    (lambda X, Y: cca(X, Y, svd_dims="2"), TypeError, "svd_dims"),
    (lambda X, Y: cca(X, Y, svd_dims=0), ValueError, "svd_dims"),
    (lambda X, Y: cca(X, Y, svd_dims=1.5), ValueError, "svd_dims"),
    (lambda X, Y: cca(X, Y, statistic="max"), ValueError, "statistic"),
    (lambda X, Y: rdm(X, "cityblock"), ValueError, "metric"),
    (lambda X, Y: rdm(X, condensed=1), TypeError, "condensed"),
    (lambda X, Y: gram(X, "rbf", sigma=True), TypeError, "sigma"),
    (lambda X, Y: median_sigma(X, threshold="1"), TypeError, "threshold"),
    (lambda X, Y: center(gram(X), unbiased=None), TypeError, "unbiased"),
    (lambda X, Y: rsa(ssd.pdist(X), ssd.pdist(Y), method=3), ValueError, "method"),
])
def test_invalid_scalars_raise(call, exc, name):
    X, Y = _data(n=20, p=4, q=3)
    with pytest.raises(exc, match=rf"^{name}\b"):
        call(X, Y)


# ------------------------------------------------------------------------------------- scale and cancellation
@pytest.mark.parametrize("scale", [1e-12, 1e-150, 1e12, 1e150])
@pytest.mark.parametrize("normalize", [True, False])
def test_knn_analyses_are_scale_invariant(scale, normalize):
    rng = np.random.default_rng(27)
    X, Y = rng.normal(size=(80, 3)), rng.normal(size=(80, 3))     # zero-mean, low-dimensional: small norms
    k = 6

    def dense(Z):
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True) if normalize else Z
        S = Z @ Z.T
        np.fill_diagonal(S, -np.inf)
        return np.sort(np.argsort(-S, axis=1)[:, :k], 1)

    A, B = dense(X), dense(Y)
    ref = np.mean([len(set(A[i]) & set(B[i])) / k for i in range(80)])
    assert np.array_equal(np.sort(knn_indices(scale * X, k, normalize), 1), A)
    assert mutual_knn(scale * X, scale * Y, k, normalize) == pytest.approx(ref, abs=1e-12)
    assert mutual_knn(scale * X, Y, k, normalize) == pytest.approx(ref, abs=1e-12)
    base = cknna(X, Y, k, normalize)
    assert cknna(scale * X, scale * Y, k, normalize) == pytest.approx(base, rel=1e-9)
    assert cknna(scale * X, Y, k, normalize) == pytest.approx(base, rel=1e-9)
    if abs(np.log10(scale)) <= 12:                 # float32 range: same neighbours, CKNNA finite and equal
        t32 = lambda Z: torch.from_numpy(scale * Z).float()  # noqa: E731
        assert float(mutual_knn(t32(X), t32(Y), k, normalize)) == pytest.approx(ref, abs=1e-6)
        assert float(cknna(t32(X), t32(Y), k, normalize)) == pytest.approx(base, rel=1e-4)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean"])
def test_rdm_resolves_tiny_distances_like_pdist(metric):
    rng = np.random.default_rng(28)
    base = rng.normal(size=(5, 7)) + 10.0
    # near-duplicate rows (1e-9 apart) next to well-separated ones, and a large common offset
    X = np.vstack([base, base + 1e-9 * rng.normal(size=(5, 7)), 1e6 + rng.normal(size=(3, 7))])
    ref = ssd.pdist(X, metric)
    for D in (rdm(X, metric, condensed=True), ssd.squareform(rdm(X, metric), checks=False)):
        np.testing.assert_allclose(D, ref, rtol=1e-6, atol=0)
    # the torch formula (the CUDA path) gets them too
    from simcode.similarity.kernels import _sqdist
    d2 = _sqdist(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(ssd.squareform(d2, checks=False), ssd.pdist(X, "sqeuclidean"), rtol=1e-6, atol=0)
    # rows 1e-9 apart and far from the origin: the plain Gram formula would give exactly 0
    Z = np.vstack([np.ones(5), np.ones(5) + 1e-9, 2 * np.ones(5)])
    np.testing.assert_allclose(rdm(Z, metric, condensed=True), ssd.pdist(Z, metric), rtol=1e-6)
    assert rdm(Z, metric)[0, 1] > 0
    # float32: still non-zero and close to the truth in relative terms
    Z32 = np.vstack([np.ones(5), np.ones(5) + 1e-3, 2 * np.ones(5)]).astype(np.float32)
    np.testing.assert_allclose(rdm(Z32, metric, condensed=True), ssd.pdist(Z32.astype(float), metric), rtol=1e-4)


def test_correlation_rdm_of_near_identical_rows_is_accurate():
    rng = np.random.default_rng(29)
    u = rng.normal(size=12)
    X = np.vstack([u, u + 1e-7 * rng.normal(size=12), rng.normal(size=12)])
    # reference: 1 − r computed without cancellation, ‖ū_i − ū_j‖²/2 of the centred unit rows (exact identity)
    C = X - X.mean(1, keepdims=True)
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    ref = np.array([0.5 * np.sum((C[i] - C[j]) ** 2) for i, j in itertools.combinations(range(3), 2)])
    np.testing.assert_allclose(rdm(X, "correlation", condensed=True), ref, rtol=1e-6)
    from simcode.similarity.kernels import _correlation_distance, _unit_rows
    D = _correlation_distance(_unit_rows(torch.from_numpy(X))).numpy()
    np.testing.assert_allclose(ssd.squareform(D, checks=False), ref, rtol=1e-6)
    # upper_triangle reads the same entries scipy's squareform does
    np.testing.assert_allclose(upper_triangle(ssd.squareform(ref)), ref)
