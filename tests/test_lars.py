"""Compiled LARS lasso (simcode.sparse._lars) and the CPU path of active_set: checked against scikit-learn's
Lasso, cvxpy, the KKT conditions, a NumPy Cholesky and closed-form degenerate cases."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import sparse_encode as sk_sparse_encode
from sklearn.linear_model import Lasso

from lasso_reference import cvx_optimum as _cvx, obj as _obj, problem as _problem
from simcode.sparse._lars import chol_delete, gap_from_stats, lars_lasso
from simcode.sparse.coding import active_set, sparse_encode


def _kkt(X, D, Z, lam, nonneg, atol):
    lam = np.broadcast_to(np.asarray(lam, dtype=float).reshape(-1, 1), (X.shape[0], 1))
    C = (X - Z @ D) @ D.T
    on = Z != 0
    L = np.broadcast_to(lam, C.shape)
    if nonneg:
        assert np.all(Z >= 0)
        np.testing.assert_allclose(C[on], L[on], atol=atol)
        assert np.all(C[~on] <= L[~on] + atol)
    else:
        np.testing.assert_allclose(C[on], L[on] * np.sign(Z[on]), atol=atol)
        assert np.all(np.abs(C[~on]) <= L[~on] + atol)


@pytest.mark.parametrize("nonneg", [False, True])
def test_agrees_with_sklearn_lasso(nonneg):
    X, D = _problem(n=40, p=12, K=24, seed=1)
    lam = 0.2
    res = active_set(X, D, lam, "l1_nonneg" if nonneg else "l1", tol=1e-10, solver="lars")
    assert res.converged and res.n_polished == X.shape[0]  # every sample finished by the compiled path
    # scikit-learn's Lasso minimises 1/(2 n) ‖y − A w‖² + α‖w‖₁ with n = len(y) = n_features: α = λ / p
    p = X.shape[1]
    for i in range(5):
        m = Lasso(alpha=lam / p, fit_intercept=False, positive=nonneg, tol=1e-14, max_iter=100000)
        m.fit(D.T, X[i])
        o_sk = _obj(X[i:i + 1], D, m.coef_[None, :], lam)[0]
        assert res.objective[i] <= o_sk * (1 + 1e-10)
        assert res.objective[i] == pytest.approx(o_sk, rel=1e-8)
        np.testing.assert_allclose(res.codes[i], m.coef_, atol=1e-6)
    Zs = sk_sparse_encode(X, D, algorithm="lasso_cd", alpha=lam, positive=nonneg, max_iter=100000)
    assert np.all(res.objective <= _obj(X, D, Zs, lam) * (1 + 1e-10))
    _kkt(X, D, res.codes, lam, nonneg, 1e-9)


@pytest.mark.parametrize("nonneg", [False, True])
def test_agrees_with_cvxpy_per_sample_lambda_coherent(nonneg):
    X, D = _problem(n=12, p=10, K=25, seed=2, coherent=True)
    lams = np.linspace(0.02, 1.0, X.shape[0])
    B, G = X @ D.T, D @ D.T
    Z, status, steps, stats = lars_lasso(B, G, lams, nonneg)
    assert np.all(status == 0)
    nnz = (Z != 0).sum(1)
    if not nonneg:
        assert np.any(steps > nnz + 1), "expected at least one variable dropped on the path (lasso modification)"
    for i in range(X.shape[0]):
        assert _obj(X[i:i + 1], D, Z[i:i + 1], lams[i])[0] == pytest.approx(_cvx(X[i], D, lams[i], nonneg),
                                                                            rel=1e-7, abs=1e-10)
    _kkt(X, D, Z, lams, nonneg, 1e-9)
    # the Gram-form certificate agrees with the one computed from the residual, and is tiny
    P, gap = gap_from_stats((X * X).sum(1), stats, lams)
    np.testing.assert_allclose(P, _obj(X, D, Z, lams), rtol=1e-10)
    assert np.all(gap <= 1e-12 * P)


def test_duality_gap_at_return_bounds_suboptimality():
    X, D = _problem(n=20, p=8, K=16, seed=3)
    lam = 0.3
    res = active_set(X, D, lam, tol=1e-9)
    assert np.all(res.duality_gap <= 1e-9 * res.objective + 1e-15)
    for i in range(4):
        opt = _cvx(X[i], D, lam, False)
        assert res.objective[i] - opt <= res.duality_gap[i] + 1e-9
    # an independent gap computation from the returned codes (dual point θ = s r, s = min(1, λ/‖rDᵀ‖∞))
    R = X - res.codes @ D
    s = np.minimum(1, lam / np.abs(R @ D.T).max(1))
    P = _obj(X, D, res.codes, lam)
    gap = P - (s * (R * X).sum(1) - 0.5 * s**2 * (R * R).sum(1))
    assert np.all(gap <= 1e-9 * P + 1e-12)


def test_degenerate_cases():
    X, D = _problem(n=10, p=8, K=12, seed=4)
    # λ ≥ ‖x Dᵀ‖∞ → zero code; just below → not zero
    lam_max = np.abs(X @ D.T).max(1)
    Z, status, _, _ = lars_lasso(X @ D.T, D @ D.T, lam_max, False)
    assert np.all(Z == 0) and np.all(status == 0)
    Z, _, _, _ = lars_lasso(X @ D.T, D @ D.T, 0.99 * lam_max, False)
    assert np.all((Z != 0).sum(1) == 1)
    # non-negative: λ ≥ max_j (x Dᵀ)_j → zero
    Z, _, _, _ = lars_lasso(X @ D.T, D @ D.T, np.maximum((X @ D.T).max(1), 0), True)
    assert np.all(Z == 0)
    # zero rows → zero codes
    X0 = X.copy()
    X0[[2, 5]] = 0
    res = active_set(X0, D, 0.1)
    assert np.all(res.codes[[2, 5]] == 0) and np.all(res.objective[[2, 5]] == 0)
    # duplicate and negated atoms: same optimum as the dictionary without them (objective by cvxpy)
    Dd = np.vstack([D, D[:3], -D[3:5]])
    lam = 0.15
    Z, status, _, _ = lars_lasso(X @ Dd.T, Dd @ Dd.T, lam, False)
    assert np.all(status == 0)
    for i in range(4):
        assert _obj(X[i:i + 1], Dd, Z[i:i + 1], lam)[0] == pytest.approx(_cvx(X[i], D, lam, False), rel=1e-7)
    res = active_set(X, Dd, lam, tol=1e-10)
    assert res.converged and res.n_polished == X.shape[0]
    # a zero atom never gets a coefficient
    Dz = D.copy()
    Dz[0] = 0
    res = active_set(X, Dz, lam, tol=1e-10)
    assert res.converged and np.all(res.codes[:, 0] == 0)


def test_more_atoms_than_features_small_lambda():
    X, D = _problem(n=6, p=6, K=15, seed=5)
    lam = 1e-3
    res = active_set(X, D, lam, tol=1e-9)
    assert res.converged
    assert np.all((res.codes != 0).sum(1) <= X.shape[1])  # a lasso solution with at most p atoms
    for i in range(3):
        assert res.objective[i] == pytest.approx(_cvx(X[i], D, lam, False), rel=1e-6, abs=1e-9)


def test_cholesky_delete_matches_numpy():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((7, 9))
    M = A @ A.T + 0.1 * np.eye(7)
    for r in (0, 3, 6):
        L = np.zeros((8, 8))
        L[:7, :7] = np.linalg.cholesky(M)
        s = chol_delete(L, 7, r)
        keep = [i for i in range(7) if i != r]
        assert s == 6
        np.testing.assert_allclose(L[:6, :6] @ L[:6, :6].T, M[np.ix_(keep, keep)], atol=1e-12)
        assert np.allclose(np.triu(L[:6, :6], 1), 0) and np.all(np.diag(L[:6, :6]) > 0)


def test_fallback_float32_and_dispatch():
    X, D = _problem(n=25, p=10, K=20, seed=7)
    ref = active_set(X, D, 0.1, tol=1e-10, solver="torch")
    # a support cap of 2 sends larger supports to the torch active-set / FISTA fallback, still exact
    capped = active_set(X, D, 0.1, tol=1e-10, max_support=2, solver="lars")
    assert capped.n_polished < X.shape[0] and capped.converged
    np.testing.assert_allclose(capped.objective, ref.objective, rtol=1e-8)
    # CPU tensors, float32 and float64, go through the compiled path and come back as tensors
    for dt in (torch.float32, torch.float64):
        r = active_set(torch.tensor(X, dtype=dt), torch.tensor(D, dtype=dt), 0.1)
        assert isinstance(r.codes, torch.Tensor) and r.codes.dtype == dt and r.converged
        np.testing.assert_allclose(r.objective.double().numpy(), ref.objective,
                                   rtol=1e-5 if dt == torch.float32 else 1e-10)
    r32 = active_set(X.astype(np.float32), D.astype(np.float32), 0.1)
    assert r32.codes.dtype == np.float32
    np.testing.assert_allclose(sparse_encode(X, D, 0.1, tol=1e-12), active_set(X, D, 0.1, solver="lars").codes,
                               atol=1e-8)
    # init is validated (it is not needed by the path method)
    with pytest.raises(ValueError, match="init"):
        active_set(X, D, 0.1, init=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="solver"):
        active_set(X, D, 0.1, solver="newton")
    with pytest.raises(ValueError, match="max_support"):
        active_set(X, D, 0.1, max_support=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_keeps_torch_path():
    X, D = _problem(seed=8)
    ref = active_set(X, D, 0.2, tol=1e-10)
    r = active_set(torch.tensor(X, device="cuda"), torch.tensor(D, device="cuda"), 0.2, tol=1e-10)
    assert r.codes.device.type == "cuda"
    np.testing.assert_allclose(r.objective.cpu().numpy(), ref.objective, rtol=1e-8)
    with pytest.raises(ValueError, match="CPU"):
        active_set(torch.tensor(X, device="cuda"), torch.tensor(D, device="cuda"), 0.2, solver="lars")


def test_support_reaches_rank_without_fallback():
    # K > p and a tiny λ: the path fills p atoms; every further atom is linearly dependent and is excluded
    X, D = _problem(n=8, p=5, K=12, seed=9)
    Z, status, _, stats = lars_lasso(X @ D.T, D @ D.T, 1e-4, False, n_features=5)
    assert np.all(status == 0) and np.all((Z != 0).sum(1) <= 5)
    P, gap = gap_from_stats((X * X).sum(1), stats, 1e-4)
    assert np.all(gap <= 1e-8 * P + 1e-14)
    for i in range(3):
        assert P[i] == pytest.approx(_cvx(X[i], D, 1e-4, False), rel=1e-6, abs=1e-9)
