"""Working-set coordinate-descent lasso (simcode.sparse._coordinate_descent): checked against cvxpy, scikit-learn's
Lasso, the KKT conditions, an independent residual-based duality gap and closed-form degenerate cases."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso

from lasso_reference import cvx_optimum as _cvx, obj as _obj, problem as _problem
from simcode.sparse._coordinate_descent import cd_lasso, lasso_gram, top_k
from simcode.sparse._lars import gap_from_stats
from simcode.sparse.coding import active_set


def _residual_gap(X, D, Z, lam, nonneg):
    """Duality gap from the residual (dual point θ = σ r), computed without any Gram quantity."""
    lam = np.broadcast_to(np.asarray(lam, float), (X.shape[0],))
    R = X - Z @ D
    C = R @ D.T
    cmax = C.max(1) if nonneg else np.abs(C).max(1)
    s = np.minimum(1.0, lam / np.maximum(cmax, 1e-300))
    P = _obj(X, D, Z, lam)
    return P, P - (s * (R * X).sum(1) - 0.5 * s**2 * (R * R).sum(1))


@pytest.mark.parametrize("nonneg", [False, True])
@pytest.mark.parametrize("coherent", [False, True])
def test_cd_matches_cvxpy_and_certifies(nonneg, coherent):
    X, D = _problem(n=12, p=10, K=25, seed=2, coherent=coherent)
    lams = np.linspace(0.02, 1.0, X.shape[0])
    xx = (X * X).sum(1)
    Z, status, steps, stats, work = cd_lasso(X @ D.T, D @ D.T, lams, nonneg, xx, tol=1e-10, n_features=10)
    # small λ with K > n_features gives rank-deficient intermediate supports, where coordinate descent crawls
    # and the LARS fallback (status ≥ 10) finishes the sample; most samples are finished by descent itself
    assert np.mean(status < 10) >= 0.75
    if nonneg:
        assert np.all(Z >= 0)
    P, gap = gap_from_stats(xx, stats, lams)
    P_r, gap_r = _residual_gap(X, D, Z, lams, nonneg)
    np.testing.assert_allclose(P, P_r, rtol=1e-10)
    assert np.all(gap_r <= 1e-9 * P_r + 1e-12)
    for i in range(X.shape[0]):
        assert P_r[i] == pytest.approx(_cvx(X[i], D, lams[i], nonneg), rel=1e-7, abs=1e-10)


def test_cd_large_support_matches_sklearn():
    # the regime the solver is for: many atoms, supports of tens of atoms, several working-set rounds
    p = 48
    X, D = _problem(n=6, p=p, K=96, seed=5)
    lam = 0.1 * float(np.median(np.abs(X @ D.T).max(1)))
    Z, status, steps, stats, _ = cd_lasso(X @ D.T, D @ D.T, lam, False, (X * X).sum(1), tol=1e-12, p0=8,
                                          n_features=p)
    assert np.all(status == 0)
    assert (Z != 0).sum(1).min() > 16  # several rounds of working-set growth from p0 = 8
    for i in range(X.shape[0]):
        m = Lasso(alpha=lam / p, fit_intercept=False, tol=1e-14, max_iter=200000).fit(D.T, X[i])
        np.testing.assert_allclose(Z[i], m.coef_, atol=1e-6)
        assert _obj(X[i:i + 1], D, Z[i:i + 1], lam)[0] <= _obj(X[i:i + 1], D, m.coef_[None], lam)[0] * (1 + 1e-10)


def test_cd_degenerate_cases():
    X, D = _problem(n=10, p=8, K=12, seed=4)
    B, G, xx = X @ D.T, D @ D.T, (X * X).sum(1)
    lam_max = np.abs(B).max(1)
    Z, status, _, _, _ = cd_lasso(B, G, lam_max, False, xx)
    assert np.all(Z == 0) and np.all(status == 0)
    Z, _, _, _, _ = cd_lasso(B, G, 0.99 * lam_max, False, xx, tol=1e-12)
    assert np.all((Z != 0).sum(1) == 1)
    Z, _, _, _, _ = cd_lasso(B, G, np.maximum(B.max(1), 0), True, xx)
    assert np.all(Z == 0)
    X0 = X.copy()
    X0[[2, 5]] = 0
    Z, status, _, _, _ = cd_lasso(X0 @ D.T, G, 0.1, False, (X0 * X0).sum(1))
    assert np.all(Z[[2, 5]] == 0) and np.all(status == 0)
    # duplicated and negated atoms (singular G_SS: the Newton polish must decline, descent still converges)
    Dd = np.vstack([D, D[:3], -D[3:5]])
    lam = 0.15
    Z, status, _, stats, _ = cd_lasso(X @ Dd.T, Dd @ Dd.T, lam, False, xx, tol=1e-10)
    for i in range(4):
        assert _obj(X[i:i + 1], Dd, Z[i:i + 1], lam)[0] == pytest.approx(_cvx(X[i], D, lam, False), rel=1e-7)
    # a zero atom never enters
    Dz = np.vstack([D, np.zeros((1, 8))])
    Z, status, _, _, _ = cd_lasso(X @ Dz.T, Dz @ Dz.T, lam, False, xx)
    assert np.all(Z[:, -1] == 0) and np.all(status == 0)


def test_budget_exhausted_goes_to_lars():
    X, D = _problem(n=8, p=10, K=25, seed=6, coherent=True)
    lam = 0.05
    xx = (X * X).sum(1)
    Z, status, _, stats, _ = cd_lasso(X @ D.T, D @ D.T, lam, False, xx, tol=1e-14, max_sweeps=1)
    assert np.all(status >= 10)  # one sweep cannot certify 1e-14: every sample finished by LARS
    P, gap = _residual_gap(X, D, Z, lam, False)
    assert np.all(gap <= 1e-10 * P)
    Pg, _ = gap_from_stats(xx, stats, lam)
    np.testing.assert_allclose(Pg, P, rtol=1e-10)


def test_top_k_selects_the_largest():
    rng = np.random.default_rng(0)
    for n, k in [(1, 1), (7, 3), (50, 50), (300, 17), (64, 1)]:
        score = rng.standard_normal(400)
        score[rng.integers(0, 400, 40)] = 0.5  # ties
        idx = rng.choice(400, n, replace=False)
        work = idx.copy()
        top_k(score, work, n, k)
        assert sorted(work.tolist()) == sorted(idx.tolist())  # a permutation
        np.testing.assert_allclose(np.sort(score[work[:k]]), np.sort(score[idx])[n - k:])


def test_auto_choice_follows_the_cost_and_results_agree():
    # supports of tens of atoms among hundreds (Gaussian dictionary, λ = 0.3 λ_max): coordinate descent
    p = 128
    X, D = _problem(n=80, p=p, K=256, seed=7)
    lam = 0.3 * float(np.median(np.abs(X @ D.T).max(1)))
    B, G, xx = X @ D.T, D @ D.T, (X * X).sum(1)
    *_, method = lasso_gram(B, G, lam, False, xx, tol=1e-9, pilot=16, n_features=p)
    assert method == "cd"
    # coherent atoms (coordinate descent needs hundreds of sweeps; LARS was 5-7× faster when measured): LARS
    Xc, Dc = _problem(n=40, p=32, K=64, seed=3, coherent=True)
    lam_c = 0.1 * float(np.median(np.abs(Xc @ Dc.T).max(1)))
    *_, method = lasso_gram(Xc @ Dc.T, Dc @ Dc.T, lam_c, False, (Xc * Xc).sum(1), tol=1e-9, pilot=16, n_features=32)
    assert method == "lars"
    # the result names the solver used
    assert active_set(X, D, lam, solver="lars").solver == "lars"
    assert active_set(X, D, lam, solver="cd").solver == "cd"
    # all three CPU solvers of active_set give the same certified objective
    objs = {s: active_set(X, D, lam, tol=1e-10, solver=s).objective for s in ("auto", "cd", "lars")}
    ref = _obj(X, D, active_set(X, D, lam, tol=1e-10, solver="lars").codes, lam)
    for s, o in objs.items():
        np.testing.assert_allclose(o, ref, rtol=1e-8, err_msg=s)


def test_active_set_rejects_unknown_solver():
    X, D = _problem()
    with pytest.raises(ValueError, match="solver must be"):
        active_set(X, D, 0.1, solver="newton")
    with pytest.raises(ValueError, match="solver must be"):
        lasso_gram(X @ D.T, D @ D.T, 0.1, False, (X * X).sum(1), solver="newton")
