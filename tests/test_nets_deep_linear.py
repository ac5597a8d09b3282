"""deep_linear_optimum: checked against gradient descent, brute-force scalar minimisation, cvxpy, identities."""

import cvxpy as cp
import numpy as np
import pytest
import scipy.stats
import torch

from simcode.core import Certificate, ConvergenceWarning, SolverResult
from simcode.nets import deep_linear_optimum
from simcode.nets.deep_linear import schatten_prox


def _whitened(P=10, dX=6, dY=4, seed=0, c=2.0):
    rng = np.random.default_rng(seed)
    Q = scipy.stats.ortho_group.rvs(P, random_state=seed)[:, :dX]
    X = np.sqrt(c) * Q                        # XᵀX = c I
    Y = rng.normal(size=(P, dY)) * np.array([3.0, 1.5, 0.6, 0.2])[:dY]
    return X, Y


def _loss(X, Y, Ws, lam):
    H = X
    for W in Ws:
        H = H @ W.T
    return np.sum((Y - H) ** 2) + lam * sum(np.sum(W ** 2) for W in Ws)


def _gd(X, Y, depth, lam, M, n_seeds=6, steps=400, seed=0):
    """Adam from ``n_seeds`` random initialisations at once (batched; the per-seed losses are independent).

    400 cosine-annealed steps at lr 0.05 reach the optimum to < 1e-5 relative on these 10 × 6 problems for most
    seeds (the former 8 seeds × 1200 steps at lr 0.02 cost about four times as much)."""
    g = torch.Generator().manual_seed(seed)
    dims = [X.shape[1]] + [M] * (depth - 1) + [Y.shape[1]]
    Ws = [(torch.randn(n_seeds, dims[i + 1], dims[i], generator=g, dtype=torch.float64) * 0.7).requires_grad_()
          for i in range(depth)]
    opt = torch.optim.Adam(Ws, lr=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    for _ in range(steps):
        opt.zero_grad()
        H = Xt.expand(n_seeds, *Xt.shape)
        for W in Ws:
            H = H @ W.transpose(1, 2)
        per_seed = ((Yt - H) ** 2).sum((1, 2)) + lam * sum((W ** 2).sum((1, 2)) for W in Ws)
        per_seed.sum().backward()
        opt.step()
        sched.step()
    return per_seed.detach().numpy()


def test_scalar_prox_matches_grid_search_including_jump():
    grid = np.linspace(0, 6, 600001)
    for L in (1, 2, 3, 4, 6):
        for a in (0.05, 0.4, 0.9, 1.3, 2.0, 4.5):
            c, lam = 1.5, 0.8
            g = c * (grid - a) ** 2 + lam * L * grid ** (2.0 / L)
            s = schatten_prox(np.array([a]), c, lam, L)[0]
            assert c * (s - a) ** 2 + lam * L * s ** (2.0 / L) <= g.min() + 1e-9, (L, a)
    # the L ≥ 3 solution jumps: zero just below the threshold, clearly positive just above
    a = np.linspace(0.01, 3, 3000)
    s = schatten_prox(a, 1.0, 0.5, 3)
    first = np.argmax(s > 0)
    assert s[first] > 0.2 and np.all(s[:first] == 0)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_gradient_descent_never_beats_closed_form(depth):
    X, Y = _whitened()
    lam = 0.3
    sol = deep_linear_optimum(X, Y, depth, lam, n_components=4)
    assert sol.solver == "closed_form" and sol.status == "converged" and sol.n_iter == 0
    assert sol.loss == pytest.approx(_loss(X, Y, sol.weights, lam), rel=1e-12)
    losses = _gd(X, Y, depth, lam, 4)
    assert min(losses) >= sol.loss - 1e-7 * max(1, sol.loss)
    assert min(losses) <= sol.loss * (1 + 1e-3) + 1e-6   # and GD does reach it from some initialisation


def test_balanced_weights_and_schatten_variational_form():
    X, Y = _whitened(seed=1)
    sol = deep_linear_optimum(X, Y, 3, 0.2, n_components=5)
    Ws = sol.weights
    # balancedness W_{l+1}ᵀW_{l+1} = W_l W_lᵀ, and Σ‖W_l‖² = L Σ σ_i^{2/L}
    np.testing.assert_allclose(Ws[1].T @ Ws[1], Ws[0] @ Ws[0].T, atol=1e-10)
    np.testing.assert_allclose(Ws[2].T @ Ws[2], Ws[1] @ Ws[1].T, atol=1e-10)
    assert sum(np.sum(W ** 2) for W in Ws) == pytest.approx(3 * np.sum(sol.singular_values ** (2 / 3)), rel=1e-10)


def test_depth2_general_input_matches_cvxpy_nuclear_norm():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(15, 5))
    Y = X @ rng.normal(size=(5, 3)) + 0.3 * rng.normal(size=(15, 3))
    lam = 0.7
    sol = deep_linear_optimum(X, Y, 2, lam)
    W = cp.Variable((3, 5))
    prob = cp.Problem(cp.Minimize(cp.sum_squares(Y - X @ W.T) + 2 * lam * cp.normNuc(W)))
    prob.solve(solver=cp.SCS, eps=1e-9, max_iters=200000)
    assert sol.solver == "proximal_gradient" and sol.converged and sol.n_iter > 0
    assert sol.loss == pytest.approx(prob.value, rel=1e-5)
    assert sol.certificate.gap < 1e-6
    assert sol.certificate.lower_bound <= prob.value * (1 + 1e-6)     # a valid bound (cvxpy's optimum above it)
    assert set(sol.history) == {"iteration", "objective", "lower_bound", "gap"}
    assert sol.history["gap"][-1] == pytest.approx(sol.certificate.gap)


def test_lambda_zero_gives_min_norm_interpolant_and_ridge_for_depth1():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 4))
    Y = rng.normal(size=(12, 2))
    sol = deep_linear_optimum(X, Y, 3, 0.0)
    np.testing.assert_allclose(sol.product, np.linalg.lstsq(X, Y, rcond=None)[0].T, atol=1e-10)
    sol1 = deep_linear_optimum(X, Y, 1, 0.5)
    from sklearn.linear_model import Ridge

    ref = Ridge(alpha=0.5, fit_intercept=False).fit(X, Y).coef_
    np.testing.assert_allclose(sol1.product, ref, atol=1e-10)


def test_whitened_isotropic_output_gives_kernels_proportional_to_KY():
    """Paper 003 corollary: X = I, σ_i(Y) = σ ⇒ K_l ∝ K_Y for every layer."""
    P, dY = 8, 3
    X = np.eye(P)
    Q = scipy.stats.ortho_group.rvs(P, random_state=4)[:, :dY]
    Y = 2.0 * Q @ scipy.stats.ortho_group.rvs(dY, random_state=5)   # isotropic singular values
    KY = Y @ Y.T
    for lam in (1e-6, 0.5):
        sol = deep_linear_optimum(X, Y, 4, lam)
        for K in sol.kernels:
            ratio = np.sum(K * KY) / np.sum(KY * KY)
            np.testing.assert_allclose(K, ratio * KY, atol=1e-9)
            assert ratio > 0
    # general (anisotropic) Y: K_l = U S^{2l/L} Uᵀ, not ∝ K_Y
    Y2 = Y * np.array([1.0, 0.5, 0.25])
    sol = deep_linear_optimum(X, Y2 @ np.eye(3), 4, 1e-8)
    U, s, _ = np.linalg.svd(Y2, full_matrices=False)
    np.testing.assert_allclose(sol.kernels[1], (U * s ** (2 * 2 / 4)) @ U.T, atol=1e-6)


def test_bad_inputs():
    X, Y = _whitened()
    with pytest.raises(ValueError, match="same number of samples"):
        deep_linear_optimum(X, Y[:-1], 2, 0.1)
    with pytest.raises(ValueError, match="n_layers"):
        deep_linear_optimum(X, Y, 0, 0.1)
    with pytest.raises(ValueError, match="lam"):
        deep_linear_optimum(X, Y, 2, -1.0)
    with pytest.raises(ValueError, match="whiten"):
        deep_linear_optimum(np.random.default_rng(0).normal(size=(10, 6)), Y, 3, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        deep_linear_optimum(np.full((10, 6), np.nan), Y, 2, 0.1)
    with pytest.raises(TypeError, match="n_layers"):
        deep_linear_optimum(X, Y, 2.0, 0.1)
    with pytest.raises(ValueError, match="n_components"):
        deep_linear_optimum(X, Y, 2, 0.1, n_components=0)
    with pytest.raises(ValueError, match="X must be a 2-D"):
        deep_linear_optimum(X[:, 0], Y, 2, 0.1)


def test_proximal_gradient_warns_at_the_cap():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(15, 5))
    Y = X @ rng.normal(size=(5, 3))
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        sol = deep_linear_optimum(X, Y, 2, 0.7, max_iter=5)
    assert sol.status == "max_iter" and sol.n_iter == 5 and not sol.converged
    assert isinstance(sol, SolverResult) and isinstance(sol.certificate, Certificate)
