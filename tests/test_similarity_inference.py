"""Statistics for representation comparisons (simcode.similarity.inference, .fitted).

Independent references: rsatoolbox (resampled RDM comparisons with duplicated stimuli, noise ceilings,
bootstrap distributions), brute-force enumeration of all permutations, the measures evaluated on explicitly
gathered rows, closed-form population CKA (coverage), scipy's NNLS optimality (KKT) and scikit-learn's estimator
checks.
"""

import itertools
import warnings

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform
from sklearn.utils.estimator_checks import parametrize_with_checks

from simcode import Representation
from simcode.similarity import (CCAMetric, ProcrustesMetric, WeightedRDMModel, bootstrap, canonical_correlations, cka,
                                crossval_rdm_models, noise_ceiling, permutation_test, procrustes, rsa)
from simcode.similarity.inference import _CKAStat, _RSAStat

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.inference import boot_noise_ceiling  # noqa: E402
from rsatoolbox.rdm import RDMs, compare  # noqa: E402

RSA_NAMES = [("whitened_cosine", "cosine_cov"), ("whitened_pearson", "corr_cov"), ("cosine", "cosine"),
             ("pearson", "corr")]


def _data(rng, n=10, p=4, q=5, S=3, noise=1.0):
    X = rng.standard_normal((n, p))
    Ys = [X @ rng.standard_normal((p, q)) + noise * rng.standard_normal((n, q)) for _ in range(S)]
    return X, Ys


# ----------------------------------------------------------------------------- bootstrap resamples vs references
@pytest.mark.parametrize("method,rmethod", RSA_NAMES)
def test_rdm_resample_equals_rsatoolbox_subsample_pattern(method, rmethod):
    """Each resample's statistic (duplicated stimuli, self-pairs excluded) equals rsatoolbox's compare on
    RDMs.subsample_pattern of the same indices."""
    rng = np.random.default_rng(0)
    X, Ys = _data(rng, n=9)
    st = _RSAStat(torch.tensor(X), [torch.tensor(y) for y in Ys], "sqeuclidean", method)
    r1 = RDMs(pdist(X, "sqeuclidean")[None])
    for _ in range(4):
        idx = np.sort(rng.integers(0, 9, 9))
        C = torch.tensor(np.bincount(idx, minlength=9)[None], dtype=torch.float64)
        ours = st(C)[0].numpy()
        ref = [compare(r1.subsample_pattern("index", idx), RDMs(pdist(y, "sqeuclidean")[None]).subsample_pattern(
            "index", idx), rmethod)[0, 0] for y in Ys]
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method,rmethod", [("spearman", "spearman"), ("rho_a", "rho-a"), ("kendall_a", "tau-a")])
def test_rank_rsa_bootstrap_equals_rsatoolbox_on_the_same_draws(method, rmethod):
    rng = np.random.default_rng(20)
    X, Ys = _data(rng, n=9, S=2)
    r = bootstrap(X, Ys, "rsa", method=method, n_boot=4, random_state=5, ci="percentile")
    draws = np.random.default_rng(5).integers(0, 9, size=(4, 9))
    r1 = RDMs(pdist(X, "sqeuclidean")[None])
    r2 = RDMs(np.stack([pdist(y, "sqeuclidean") for y in Ys]))
    ref = [np.mean(compare(r1.subsample_pattern("index", d), r2.subsample_pattern("index", d), rmethod))
           for d in draws]
    np.testing.assert_allclose(r.samples, ref, rtol=1e-10)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_cka_bootstrap_excluding_duplicate_pairs_equals_rsatoolbox(kernel):
    """duplicates='exclude' (default for biased CKA): each resample equals rsatoolbox's cosine_cov between the
    kernel-induced squared-distance RDMs (K_ii + K_jj − 2K_ij), subsampled with the same draws."""
    rng = np.random.default_rng(21)
    X, Ys = _data(rng, n=9, S=2)
    r = bootstrap(X, Ys, "cka", kernel=kernel, sigma=2.0, n_boot=4, random_state=5, ci="percentile")
    draws = np.random.default_rng(5).integers(0, 9, size=(4, 9))

    def kd(Z):
        K = Z @ Z.T if kernel == "linear" else np.exp(-squareform(pdist(Z, "sqeuclidean")) / (2 * 2.0 ** 2))
        d = np.diag(K)
        return squareform(d[:, None] + d[None, :] - 2 * K, checks=False)
    r1, r2 = RDMs(kd(X)[None]), RDMs(np.stack([kd(y) for y in Ys]))
    ref = [np.mean(compare(r1.subsample_pattern("index", d), r2.subsample_pattern("index", d), "cosine_cov"))
           for d in draws]
    np.testing.assert_allclose(r.samples, ref, rtol=1e-9)
    assert np.isclose(r.estimate, np.mean([cka(X, y, kernel=kernel, sigma=2.0) for y in Ys]))


@pytest.mark.parametrize("kernel,debiased", [("linear", False), ("linear", True), ("rbf", False), ("rbf", True),
                                             ("cosine", False)])
def test_cka_resample_equals_cka_on_gathered_rows(kernel, debiased):
    rng = np.random.default_rng(1)
    X, Ys = _data(rng, n=12, S=2)
    st = _CKAStat(torch.tensor(X), [torch.tensor(y) for y in Ys], kernel, debiased, sigma=2.5)
    for _ in range(3):
        idx = rng.integers(0, 12, 12)
        C = torch.tensor(np.bincount(idx, minlength=12)[None], dtype=torch.float64)
        ref = [cka(X[idx], y[idx], kernel=kernel, debiased=debiased, sigma=2.5) for y in Ys]
        np.testing.assert_allclose(st(C)[0].numpy(), ref, rtol=1e-9)


def test_cka_feature_space_path_equals_gram_path():
    rng = np.random.default_rng(2)
    X, Ys = _data(rng, n=40, p=3, q=2, S=1)
    idx = rng.integers(0, 40, 40)
    C = torch.tensor(np.bincount(idx, minlength=40)[None], dtype=torch.float64)
    st = _CKAStat(torch.tensor(X), [torch.tensor(Ys[0])])
    assert st.feature
    np.testing.assert_allclose(float(st(C)[0, 0]), cka(X[idx], Ys[0][idx], solver="gram"), rtol=1e-10)


def test_bootstrap_distribution_matches_rsatoolbox_within_monte_carlo_error():
    """Stimulus bootstrap of the whitened cosine: rsatoolbox's bootstrap_sample_pattern + compare (its own random
    draws) vs ours; means and standard deviations agree within Monte-Carlo error."""
    rng = np.random.default_rng(3)
    X, Ys = _data(rng, n=20, S=1, noise=2.0)
    np.random.seed(0)
    from rsatoolbox.inference import bootstrap_sample_pattern

    r1, r2 = RDMs(pdist(X, "sqeuclidean")[None]), RDMs(pdist(Ys[0], "sqeuclidean")[None])
    both = RDMs(np.concatenate([r1.dissimilarities, r2.dissimilarities]))
    ref = []
    for _ in range(300):
        b, _ = bootstrap_sample_pattern(both)
        ref.append(compare(b[0], b[1], "cosine_cov")[0, 0])
    ref = np.array(ref)
    ours = bootstrap(X, Ys[0], "rsa", n_boot=3000, random_state=0, ci="percentile").samples
    se = np.sqrt(ref.var() / ref.size + ours.var() / ours.size)
    assert abs(ref.mean() - ours.mean()) < 4 * se
    assert abs(ref.std() / ours.std() - 1) < 4 * np.sqrt(1 / (2 * ref.size))


def test_bootstrap_subjects_and_both():
    rng = np.random.default_rng(4)
    X, Ys = _data(rng, n=10, S=4)
    per = np.array([cka(X, y) for y in Ys])
    r = bootstrap(X, Ys, "cka", over="subjects", n_boot=400, random_state=0, ci="percentile")
    assert np.isclose(r.estimate, per.mean())
    # every subject-bootstrap sample is a mean of 4 per-subject values drawn with replacement
    sums = {round(sum(c), 9) for c in itertools.combinations_with_replacement(per, 4)}
    assert all(round(4 * s, 9) in sums for s in r.samples[:50])
    rb = bootstrap(X, np.stack(Ys), "rsa", over="both", n_boot=200, random_state=0, method="spearman")
    assert rb.ci_low <= rb.estimate <= rb.ci_high and rb.over == "both"


def test_bca_equals_percentile_for_symmetric_unbiased_case_and_inputs():
    rng = np.random.default_rng(5)
    X, Ys = _data(rng, n=30, S=1)
    a = bootstrap(X, Ys[0], n_boot=500, random_state=1, ci="percentile")
    b = bootstrap(torch.tensor(X), Representation(Ys[0]), n_boot=500, random_state=1, ci="percentile")
    k = bootstrap(X, Ys[0], n_boot=500, random_state=1, ci="percentile", duplicates="keep")
    assert k.samples.mean() > a.samples.mean()     # kept duplicate pairs inflate biased CKA
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-10)
    assert np.isclose(a.estimate, cka(X, Ys[0]))
    assert np.isclose(a.ci_low, np.quantile(a.samples, 0.025)) and np.isclose(a.ci_high, np.quantile(a.samples, 0.975))


@pytest.mark.parametrize("measure,opts", [("procrustes", {}), ("cca", {"svd_dims": 2}), ("mutual_knn", {"k": 3})])
def test_loop_measures_match_gathered_rows(measure, opts):
    rng = np.random.default_rng(6)
    X, Ys = _data(rng, n=15, S=1)
    r = bootstrap(X, Ys[0], measure, n_boot=20, random_state=3, ci="percentile", **opts)
    from simcode import similarity

    fn = getattr(similarity, measure)
    g = np.random.default_rng(3)
    idx = g.integers(0, 15, size=(20, 15))
    ref = [fn(X[np.repeat(np.arange(15), np.bincount(i, minlength=15))],
              Ys[0][np.repeat(np.arange(15), np.bincount(i, minlength=15))], **opts) for i in idx]
    np.testing.assert_allclose(r.samples, ref, rtol=1e-9)


def test_interval_coverage_by_simulation():
    """Known truth: population linear CKA of Y = XW + σE, X ~ N(0, I): ‖W‖²_F / (√p ‖WᵀW + σ²I‖_F).
    300 synthetic data sets (n = 300), 499 resamples each (duplicate pairs excluded, the default); nominal
    95 %. With 300 data sets the Monte-Carlo
    standard error of the coverage is 1.3 %, so the band here is 92–98 %; the experiment ``model-brain`` runs
    the 93–97 % check on more data sets."""
    rng = np.random.default_rng(7)
    p = q = 3
    W, sig, n = rng.standard_normal((p, q)), 2.0, 300
    truth = np.linalg.norm(W) ** 2 / (np.sqrt(p) * np.linalg.norm(W.T @ W + sig ** 2 * np.eye(q)))
    hits = []
    for r in range(300):
        X = rng.standard_normal((n, p))
        Y = X @ W + sig * rng.standard_normal((n, q))
        b = bootstrap(X, Y, "cka", n_boot=499, ci="percentile", random_state=r)
        hits.append(b.ci_low <= truth <= b.ci_high)
    assert 0.92 <= np.mean(hits) <= 0.98


# ------------------------------------------------------------------------------------------- permutation tests
@pytest.mark.parametrize("measure,opts", [("cka", {}), ("cka", {"kernel": "rbf", "sigma": 1.5}),
                                          ("cka", {"debiased": True}), ("rsa", {}),
                                          ("rsa", {"method": "spearman"}), ("rsa", {"method": "pearson"}),
                                          ("procrustes", {})])
def test_exact_p_value_equals_enumeration(measure, opts):
    rng = np.random.default_rng(8)
    n = 6
    X = rng.standard_normal((n, 3))
    Y = X + rng.standard_normal((n, 3))
    r = permutation_test(X, Y, measure, **opts)
    assert r.exact and r.n_permutations == 720
    from simcode import similarity

    if measure == "rsa":
        def f(a, b):
            return rsa(squareform(pdist(a, "sqeuclidean")), squareform(pdist(b, "sqeuclidean")),
                       opts.get("method", "whitened_cosine"))
    else:
        def f(a, b):
            return getattr(similarity, measure)(a, b, **opts)
    T = f(X, Y)
    null = np.array([f(X, Y[list(pm)]) for pm in itertools.permutations(range(n))])
    if measure == "procrustes":                # a distance: small values are evidence of a relation
        p = np.mean(null <= T + 1e-12)
    else:
        p = np.mean(null >= T - 1e-12)
    assert np.isclose(r.statistic, T, rtol=1e-6)
    assert np.isclose(r.p_value, p)


def test_monte_carlo_p_value_convention():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((40, 3))
    Y = X + 0.3 * rng.standard_normal((40, 3))
    r = permutation_test(X, Y, n_permutations=199, random_state=0)
    assert not r.exact and r.n_permutations == 199
    assert r.p_value == (1 + np.sum(r.null >= r.statistic)) / 200 == 1 / 200
    # under the null, p is (super-)uniform: P(p <= 0.1) <= 0.1 + MC slack
    ps = [permutation_test(rng.standard_normal((15, 2)), rng.standard_normal((15, 2)), n_permutations=99,
                           random_state=i).p_value for i in range(200)]
    assert np.mean(np.array(ps) <= 0.1) <= 0.1 + 3 * np.sqrt(0.09 / 200)


def test_feature_space_factor_permutation_equals_gram_permutation():
    rng = np.random.default_rng(10)
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal((30, 6))
    a = permutation_test(X, Y, n_permutations=300, random_state=1)                # feature space (pq < n²)
    b = permutation_test(X, Y, n_permutations=300, random_state=1, rank=6)      # eigen-factors, full rank
    c = permutation_test(X, Y, n_permutations=300, random_state=1, kernel="linear", debiased=False,
                         batch_size=7)
    np.testing.assert_allclose(a.null, b.null, rtol=1e-9)
    np.testing.assert_allclose(a.null, c.null, rtol=1e-9)
    P = np.argsort(np.random.default_rng(0).random(30))
    assert np.isclose(cka(X, Y[P]), cka(X, Y[P], solver="gram"))


# ------------------------------------------------------------------------------------------------ noise ceilings
@pytest.mark.parametrize("method,rmethod", RSA_NAMES + [("spearman", "spearman"), ("rho_a", "rho-a")])
def test_noise_ceiling_identical_to_rsatoolbox(method, rmethod):
    rng = np.random.default_rng(11)
    _, Ys = _data(rng, n=10, S=5)
    lo, up = boot_noise_ceiling(RDMs(np.stack([pdist(y, "sqeuclidean") for y in Ys])), rmethod)
    nc = noise_ceiling(Ys, method=method)
    assert np.isclose(nc.lower, lo, rtol=1e-10) and np.isclose(nc.upper, up, rtol=1e-10)
    assert nc.lower <= nc.upper


def test_cka_noise_ceiling_by_definition():
    rng = np.random.default_rng(12)
    _, Ys = _data(rng, n=12, S=4)
    H = np.eye(12) - 1 / 12
    Ks = [H @ y @ y.T @ H for y in Ys]
    Ks = [K / np.linalg.norm(K) for K in Ks]
    align = [lambda P, K: np.sum(P * K) / np.linalg.norm(P)][0]
    up = np.mean([align(sum(Ks), K) for K in Ks])
    lo = np.mean([align(sum(Ks) - K, K) for K in Ks])
    nc = noise_ceiling(Ys, "cka")
    assert np.isclose(nc.upper, up) and np.isclose(nc.lower, lo)
    # with a linear kernel the pooled kernel is a Gram matrix, so the upper bound is a CKA value
    nc2 = noise_ceiling([y @ y.T for y in Ys], "cka", metric="precomputed")
    assert np.isclose(nc2.upper, up)


# ------------------------------------------------------------------------------------------------ fitted metrics
def test_procrustes_metric_train_score_equals_closed_form_and_generalises():
    rng = np.random.default_rng(13)
    X = rng.standard_normal((60, 4))
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    Y = X @ Q + 0.1 * rng.standard_normal((60, 4))
    for alpha in (1.0, 0.5, 0.0):
        m = ProcrustesMetric(alpha=alpha).fit(X, Y)
        assert np.isclose(m.score(X, Y), procrustes(X, Y, alpha=alpha), atol=1e-9)
    m = ProcrustesMetric().fit(X[:40], Y[:40])
    assert m.score(X[40:], Y[40:]) < 0.2          # the fitted rotation transfers to held-out stimuli
    assert m.score(X[40:], rng.permutation(Y[40:])) > 1.0


def test_cca_metric_train_score_equals_canonical_correlations():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((80, 3))
    Y = np.c_[X[:, :2] + 0.5 * rng.standard_normal((80, 2)), rng.standard_normal((80, 2))]
    m = CCAMetric(n_components=2).fit(X, Y)
    np.testing.assert_allclose(m.correlations_, canonical_correlations(X, Y)[:2], rtol=1e-8)
    assert np.isclose(m.score(X, Y), canonical_correlations(X, Y)[:2].mean(), rtol=1e-8)


def test_weighted_rdm_model_is_the_nnls_optimum_kkt():
    rng = np.random.default_rng(15)
    M = np.abs(rng.standard_normal((45, 3)))
    y = M @ np.array([1.0, 0.0, 2.0]) + 0.1 * rng.standard_normal(45)
    m = WeightedRDMModel().fit(M, y)
    w = m.coef_
    g = M.T @ (M @ w - y)                       # KKT: w >= 0, g >= 0, w·g = 0
    assert (w >= 0).all() and (g >= -1e-8).all() and abs(w @ g) < 1e-8
    # the optimum over the cone has the largest cosine: brute force over a grid of the simplex
    best = max(np.dot(M @ v, y) / (np.linalg.norm(M @ v) * np.linalg.norm(y))
               for v in (np.array(t) / 10 for t in itertools.product(range(11), repeat=3)) if v.sum() > 0)
    assert m.score(M, y) >= best - 1e-12


def test_crossval_rdm_models_fixed_score_by_hand_and_weighted_wins():
    rng = np.random.default_rng(16)
    n = 18
    A, B = squareform(pdist(rng.standard_normal((n, 3)))), squareform(pdist(rng.standard_normal((n, 3))))
    data = [A + 2 * B + squareform(np.abs(rng.standard_normal(n * (n - 1) // 2))) * 0.3 for _ in range(3)]
    res = crossval_rdm_models({"A": A, "B": B}, data, weighted={"A+B": [A, B]}, n_folds=3, random_state=0)
    folds = np.array_split(np.random.default_rng(0).permutation(n), 3)
    test = np.sort(folds[0])
    iu = np.triu_indices(len(test), 1)
    ref = np.mean([rsa(A[np.ix_(test, test)][iu], d[np.ix_(test, test)][iu], "cosine") for d in data])
    assert np.isclose(res.scores[0, 0], ref)
    assert res.names == ("A", "B", "A+B") and res.mean[2] > res.mean[:2].max()
    assert (res.weights["A+B"] >= 0).all()


@parametrize_with_checks([ProcrustesMetric(), ProcrustesMetric(alpha=0.5), CCAMetric(), CCAMetric(lam=0.1),
                          WeightedRDMModel(), WeightedRDMModel("pearson")])
def test_sklearn_contract(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# --------------------------------------------------------------------------------------------------- GPU paths
@pytest.mark.cuda
def test_gpu_bootstrap_and_permutation_match_cpu():
    rng = np.random.default_rng(17)
    X, Ys = _data(rng, n=30, S=2)
    a = bootstrap(X, Ys, "rsa", over="both", n_boot=100, random_state=0)
    b = bootstrap(torch.tensor(X, device="cuda"), [torch.tensor(y, device="cuda") for y in Ys], "rsa", over="both",
                  n_boot=100, random_state=0)
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-9)
    p1 = permutation_test(X, Ys[0], n_permutations=200, random_state=0)
    p2 = permutation_test(X, Ys[0], n_permutations=200, random_state=0, device="cuda")
    np.testing.assert_allclose(p1.null, p2.null, rtol=1e-9)
