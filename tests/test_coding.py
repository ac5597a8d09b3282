"""Batched FISTA/ISTA: checked against scikit-learn, cvxpy, closed forms and the prox fixed-point condition."""

import cvxpy as cp
import numpy as np
import pytest
import torch
from sklearn.decomposition import sparse_encode as sk_sparse_encode

from simcode.core import Certificate, ConvergenceWarning, SolverResult
from simcode.sparse.coding import SparseCodingResult, active_set, fista, ista, lipschitz_constant, sparse_encode
from simcode.sparse.priors import get_prior


def _problem(n=20, p=10, K=15, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((K, p))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n, p))
    return X, D


def _obj(X, D, Z, lam, prior):
    return 0.5 * ((X - Z @ D) ** 2).sum(1) + lam * get_prior(prior).value(Z)


@pytest.mark.parametrize("positive", [False, True])
def test_matches_sklearn_lasso(positive):
    X, D = _problem(n=40, p=12, K=20)
    lam = 0.3
    prior = "l1_nonneg" if positive else "l1"
    res = fista(X, D, lam, prior, tol=1e-10)
    assert res.converged
    Zs = sk_sparse_encode(X, D, algorithm="lasso_cd", alpha=lam, positive=positive, max_iter=100000)
    o_ours, o_sk = _obj(X, D, res.codes, lam, prior), _obj(X, D, Zs, lam, prior)
    np.testing.assert_allclose(res.objective, o_ours, rtol=1e-12)
    # ours is at least as good, and they agree to 1e-6 relative
    assert np.all(o_ours <= o_sk * (1 + 1e-9))
    np.testing.assert_allclose(o_ours, o_sk, rtol=1e-6)


def _cvx_solve(x, D, lam, prior):
    K = D.shape[0]
    z = cp.Variable(K)
    fit = 0.5 * cp.sum_squares(x - D.T @ z)
    cons = []
    if prior == "l1":
        pen = cp.norm1(z)
    elif prior == "l1_nonneg":
        pen, cons = cp.sum(z), [z >= 0]
    elif prior == "group_l1":
        pen = sum(cp.norm(z[i:i + 3]) for i in range(0, K, 3))
    elif prior == "elastic_net":
        pen = 0.5 * cp.norm1(z) + 0.25 * cp.sum_squares(z)
    elif prior == "simplex":
        pen, cons = 0, [z >= 0, cp.sum(z) == 1]
    elif prior == "box":
        pen, cons = 0, [z >= 0, z <= 1]
    elif prior == "two_sided_gaussian":
        pen = cp.sum_squares(cp.pos(z)) / 2 + cp.sum_squares(cp.neg(z)) / (2 * 4.0)
    prob = cp.Problem(cp.Minimize(fit + lam * pen), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return prob.value


PRIOR_ARGS = {"l1": {}, "l1_nonneg": {}, "group_l1": {"groups": 3}, "elastic_net": {"l2_ratio": 0.5},
              "simplex": {}, "box": {"low": 0, "high": 1}, "two_sided_gaussian": {"sigma_pos": 1, "sigma_neg": 2}}


@pytest.mark.parametrize("prior", list(PRIOR_ARGS))
def test_matches_cvxpy(prior):
    X, D = _problem(n=5, p=8, K=12, seed=1)
    lam = 0.4
    pr = get_prior(prior, **PRIOR_ARGS[prior])
    res = fista(X, D, lam, pr, tol=1e-10, max_iter=20000)
    for i in range(X.shape[0]):
        opt = _cvx_solve(X[i], D, lam, prior)
        assert res.objective[i] == pytest.approx(opt, rel=1e-6, abs=1e-8)
        assert np.isfinite(pr.value(res.codes[i]))


def test_ridge_closed_form():
    X, D = _problem()
    lam, s = 0.7, 1.5
    res = fista(X, D, lam, get_prior("ridge", sigma=s), tol=1e-12, max_iter=20000)
    Z = np.linalg.solve(D @ D.T + lam / s**2 * np.eye(D.shape[0]), D @ X.T).T
    np.testing.assert_allclose(res.codes, Z, atol=1e-8)


@pytest.mark.parametrize("prior", ["l1", "l1_nonneg"])
def test_duality_gap_certificate(prior):
    X, D = _problem(n=30, seed=2)
    lam = 0.2
    res = fista(X, D, lam, prior, tol=1e-7, polish=False)
    assert res.criterion == "duality_gap" and res.converged
    assert np.all(res.duality_gap <= 1e-7 * res.objective + 1e-15)
    for i in range(5):  # the gap bounds the true sub-optimality
        opt = _cvx_solve(X[i], D, lam, prior)
        assert res.objective[i] - opt <= res.duality_gap[i] + 1e-8
    # at a poor point the gap is large and still an upper bound
    with pytest.warns(ConvergenceWarning):
        rough = fista(X[:5], D, lam, prior, tol=1e-14, max_iter=2, check_every=1, polish=False)
    for i in range(5):
        opt = _cvx_solve(X[i], D, lam, prior)
        assert rough.objective[i] - opt <= rough.duality_gap[i] + 1e-8


@pytest.mark.parametrize("name", list(PRIOR_ARGS) + ["ridge", "l0", "topk"])
def test_prox_fixed_point(name):
    X, D = _problem(n=10, seed=3)
    lam = 0.3
    params = dict(PRIOR_ARGS.get(name, {}))
    if name == "topk":
        params = {"k": 3}
    pr = get_prior(name, **params)
    res = fista(X, D, lam, pr, tol=1e-10, max_iter=20000, polish=False)
    L = np.linalg.norm(D, 2) ** 2
    Z = res.codes
    step = Z - ((Z @ D - X) @ D.T) / L
    np.testing.assert_allclose(pr.prox(step, lam / L), Z, atol=1e-7)


def test_ista_agrees_and_polish_agrees():
    X, D = _problem(seed=4)
    a = fista(X, D, 0.25, tol=1e-10, polish=False)
    b = ista(X, D, 0.25, tol=1e-10, max_iter=50000)
    c = fista(X, D, 0.25, tol=1e-10, polish=True)
    np.testing.assert_allclose(a.objective, b.objective, rtol=1e-8)
    np.testing.assert_allclose(a.objective, c.objective, rtol=1e-8)
    assert a.n_iter < b.n_iter


def test_warm_start_and_per_sample_lambda():
    X, D = _problem(seed=5)
    cold = fista(X, D, 0.3, tol=1e-8, polish=False)
    warm = fista(X, D, 0.3, init=cold.codes, tol=1e-8, polish=False)
    assert warm.n_iter <= 10
    lams = np.linspace(0.05, 1.0, X.shape[0])
    res = fista(X, D, lams, tol=1e-10)
    for i in [0, 7, 19]:
        single = fista(X[i], D, lams[i], tol=1e-10)
        assert single.codes.shape == (D.shape[0],)
        assert res.objective[i] == pytest.approx(float(single.objective), rel=1e-8)


def test_torch_in_torch_out_float32():
    X, D = _problem(seed=6)
    ref = fista(X, D, 0.3, tol=1e-10)
    for dt in (torch.float64, torch.float32):
        res = fista(torch.tensor(X, dtype=dt), torch.tensor(D, dtype=dt), 0.3, tol=1e-6)
        assert isinstance(res.codes, torch.Tensor) and res.codes.dtype == dt
        np.testing.assert_allclose(res.objective.numpy(), ref.objective, rtol=1e-4 if dt == torch.float32 else 1e-6)
    # NumPy float32 is kept, dtype= overrides
    r32 = fista(X.astype(np.float32), D, 0.3)
    assert r32.codes.dtype == np.float32
    assert fista(X.astype(np.float32), D, 0.3, dtype=torch.float64).codes.dtype == np.float64
    assert sparse_encode(X, D, 0.3).shape == (X.shape[0], D.shape[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    X, D = _problem(seed=7)
    ref = fista(X, D, 0.3, tol=1e-10)
    res = fista(torch.tensor(X, device="cuda"), torch.tensor(D, device="cuda"), 0.3, tol=1e-10)
    assert res.codes.device.type == "cuda"
    np.testing.assert_allclose(res.objective.cpu().numpy(), ref.objective, rtol=1e-8)
    res2 = fista(X, D, 0.3, device="cuda", tol=1e-10)
    assert isinstance(res2.codes, np.ndarray)


def test_lipschitz_constant():
    X, D = _problem(K=30, p=10)
    exact = np.linalg.norm(D, 2) ** 2
    assert lipschitz_constant(D) == pytest.approx(exact, rel=1e-12)
    assert lipschitz_constant(D, solver="power", random_state=0) == pytest.approx(exact, rel=1e-5)
    assert lipschitz_constant(torch.tensor(D.T), solver="power", random_state=0) == pytest.approx(exact, rel=1e-5)


def test_not_converged_warns():
    X, D = _problem()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = fista(X, D, 0.01, tol=1e-14, max_iter=3, polish=False)
    assert not res.converged and res.status == "max_iter" and res.n_iter == 3


def test_bad_input():
    X, D = _problem()
    with pytest.raises(ValueError, match="features"):
        fista(X, D[:, :5], 0.1)
    with pytest.raises(ValueError, match="D is empty"):
        fista(X, D[:0], 0.1)
    with pytest.raises(ValueError, match="lam"):
        fista(X, D, -0.1)
    with pytest.raises(ValueError, match="lam"):
        fista(X, D, np.ones(3))
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fista(Xn, D, 0.1)
    with pytest.raises(ValueError, match="empty"):
        fista(X[:0], D, 0.1)
    with pytest.raises(TypeError, match="float16"):
        fista(X.astype(np.float16), D, 0.1)
    with pytest.raises(TypeError, match="float16"):
        fista(torch.tensor(X, dtype=torch.float16), D, 0.1)
    with pytest.raises(ValueError, match="all zeros"):
        fista(X, np.zeros_like(D), 0.1)
    with pytest.raises(ValueError, match="init"):
        fista(X, D, 0.1, init=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unknown prior"):
        fista(X, D, 0.1, "l7")
    with pytest.raises(ValueError, match="solver"):
        sparse_encode(X, D, 0.1, solver="lasso_lars")
    # complex, boolean, object and half-precision input: TypeError naming the argument
    with pytest.raises(TypeError, match="X has dtype complex"):
        fista(X + 1j, D, 0.1)
    with pytest.raises(TypeError, match="D has dtype bool"):
        fista(X, D > 0, 0.1)
    with pytest.raises(TypeError, match="X must be an array of numbers"):
        active_set(np.array([["a"] * 10]), D, 0.1)
    with pytest.raises(TypeError, match="init has dtype float16"):
        fista(X, D, 0.1, init=np.zeros((X.shape[0], D.shape[0]), np.float16))
    with pytest.raises(TypeError, match="D has dtype"):
        lipschitz_constant(D.astype(np.complex128))
    with pytest.raises(TypeError, match="dtype"):
        fista(X, D, 0.1, dtype="float16")


@pytest.mark.parametrize("prior", ["l1", "l1_nonneg"])
def test_active_set_exact_against_sklearn_and_cvxpy(prior):
    X, D = _problem(n=60, p=12, K=24, seed=8)
    lam = 0.25
    res = active_set(X, D, lam, prior, tol=1e-9)
    assert res.converged and res.n_polished == X.shape[0]  # no FISTA fallback needed here
    assert np.all(res.duality_gap <= 1e-9 * res.objective + 1e-15)
    Zs = sk_sparse_encode(X, D, algorithm="lasso_cd", alpha=lam, positive=prior == "l1_nonneg", max_iter=100000)
    o_sk = _obj(X, D, Zs, lam, prior)
    assert np.all(res.objective <= o_sk * (1 + 1e-9))
    for i in range(4):
        assert res.objective[i] == pytest.approx(_cvx_solve(X[i], D, lam, prior), rel=1e-7)
    # KKT: on the support C_j = λ sign(z_j); off it |C_j| ≤ λ (C = (x − zD)Dᵀ)
    C = (X - res.codes @ D) @ D.T
    on = res.codes != 0
    np.testing.assert_allclose(C[on], lam * np.sign(res.codes[on]), atol=1e-9)
    assert np.all((C[~on] if prior == "l1_nonneg" else np.abs(C[~on])) <= lam + 1e-9)


def test_active_set_fallback_warm_start_and_per_sample_lambda():
    X, D = _problem(n=30, p=10, K=20, seed=9)
    lams = np.linspace(0.05, 0.8, 30)
    ref = fista(X, D, lams, tol=1e-10, max_iter=20000)
    forced = active_set(X, D, lams, max_support=1, tol=1e-10)  # supports > 1 go to the FISTA fallback
    assert forced.n_polished < 30 and forced.converged
    np.testing.assert_allclose(forced.objective, ref.objective, rtol=1e-8)
    warm = active_set(X, D, lams, init=ref.codes, tol=1e-10)
    np.testing.assert_allclose(warm.objective, ref.objective, rtol=1e-8)
    t = active_set(torch.tensor(X, dtype=torch.float32), torch.tensor(D, dtype=torch.float32), 0.3)
    assert t.codes.dtype == torch.float32
    np.testing.assert_allclose(t.objective.numpy(), fista(X, D, 0.3, tol=1e-10).objective, rtol=1e-4)
    np.testing.assert_allclose(sparse_encode(X, D, 0.3), active_set(X, D, 0.3).codes)
    with pytest.raises(ValueError, match="lasso only"):
        active_set(X, D, 0.3, "ridge")


def test_lambda_zero_is_least_squares():
    X, D = _problem(n=10, p=10, K=6, seed=10)
    res = fista(X, D, 0.0, "l1", tol=1e-12, max_iter=20000)
    assert res.converged and res.criterion == "relative_change"
    Z = np.linalg.lstsq(D.T, X.T, rcond=None)[0].T
    np.testing.assert_allclose(res.codes, Z, atol=1e-8)


def test_result_protocol_and_certificate_against_cvxpy():
    X, D = _problem(n=8, p=8, K=12, seed=11)
    lam = 0.3
    opt = sum(_cvx_solve(X[i], D, lam, "l1") for i in range(X.shape[0]))
    for res in (fista(X, D, lam, tol=1e-8, polish=False), active_set(X, D, lam, tol=1e-8),
                active_set(X, D, lam, tol=1e-8, solver="torch")):
        assert isinstance(res, SparseCodingResult) and isinstance(res, SolverResult)
        assert res.status == "converged" and res.converged and res.time_s >= 0
        assert isinstance(res.certificate, Certificate)
        # the certificate's lower bound is a true lower bound on the optimum (weak duality), and tight
        assert res.certificate.lower_bound <= opt + 1e-9
        assert float(np.sum(res.objective)) - res.certificate.lower_bound <= 1e-7 * opt + 1e-12
        assert res.certificate.gap == pytest.approx(float(np.max(res.stop_value)))
        assert res.certificate.gap <= 1e-8
        assert all(isinstance(v, np.ndarray) and v.ndim == 1 for v in res.history.values())
    res = fista(X, D, lam, tol=1e-8, polish=False, check_every=5)
    assert res.solver == "fista" and len(res.history["stop_value"]) == int(np.ceil(res.n_iter / 5))
    assert ista(X, D, lam, tol=1e-6).solver == "ista"
    # no certificate for priors without a duality gap
    assert fista(X, D, lam, "ridge").certificate is None


def test_float32_stays_float32_and_numpy_in_numpy_out():
    X, D = _problem(seed=12)
    for solver in ("fista", "ista", "active_set", "lars", "cd", "torch"):
        Z = sparse_encode(X.astype(np.float32), D.astype(np.float32), 0.3, solver=solver, tol=1e-4)
        assert isinstance(Z, np.ndarray) and Z.dtype == np.float32, solver
        Z = sparse_encode(X.astype(np.int64), D, 0.3, solver=solver, tol=1e-4)
        assert isinstance(Z, np.ndarray) and Z.dtype == np.float64, solver
    t = fista(torch.tensor(X, dtype=torch.float32), D, 0.3)
    assert t.codes.dtype == torch.float32 and t.objective.dtype == torch.float32
