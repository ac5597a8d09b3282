"""Direction-measure solver (simcode.convex.measure) against independent references."""

import warnings

import cvxpy as cp
import numpy as np
import pytest

from simcode.convex.measure import (min_ratio_on_sphere, solve_affine_autoencoder, solve_measure)


def grid_square(k=9):
    g = np.linspace(0.0, 1.0, k)
    return np.array([(a, b) for a in g for b in g])


def mixing(deg, scale=1.0):
    t = np.deg2rad(deg)
    return scale * np.array([[1.0, np.cos(t)], [0.0, np.sin(t)]])


def costs(S, C, T):
    mean = S.mean(0)
    h = np.maximum((T @ (mean - S).T).max(1), 0)
    return np.einsum("ij,jk,ik->i", T, C, T) + h ** 2


def cvxpy_on_directions(S, R, lam, C, T):
    """min_w>=0 c·w + lam Tr(R P(w)^-1) on fixed directions, written independently with matrix_frac."""
    c = costs(S, C, T)
    w = cp.Variable(len(T), nonneg=True)
    P = sum(w[k] * np.outer(T[k], T[k]) for k in range(len(T)))
    Rh = np.linalg.cholesky(R)
    prob = cp.Problem(cp.Minimize(c @ w + lam * cp.matrix_frac(Rh, P)))
    prob.solve(solver=cp.CLARABEL)
    return prob.value


@pytest.mark.parametrize("deg,lam", [(60, 0.1), (120, 0.01), (90, 0.1)])
def test_matches_cvxpy_on_fine_direction_grid(deg, lam):
    rng = np.random.default_rng(deg)
    S = rng.uniform(0, 1, (40, 2))
    A = mixing(deg)
    M = A.T @ A
    sol = solve_affine_autoencoder(S, A, lam)
    t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    T = np.stack([np.cos(t), np.sin(t)], 1)
    C = np.cov(S.T, bias=True) + lam * np.linalg.inv(M)
    ref = cvxpy_on_directions(S, M, lam, C, T)
    # the grid problem is a restriction: its optimum is >= ours, and close (grid resolution 1 degree)
    assert ref >= sol.measure.objective * (1 - 1e-7)
    assert ref <= sol.measure.objective * (1 + 2e-3)


def test_restricted_solver_matches_cvxpy_exactly_on_same_directions():
    # solve_measure with max_iter=1 and the grid it starts from is the restricted problem; compare values
    rng = np.random.default_rng(3)
    S = rng.uniform(0, 1, (30, 2))
    R = np.array([[2.0, 0.5], [0.5, 1.0]])
    lam = 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve_measure(S, R, lam, max_iter=1, n_grid=24, tol=1e-300)
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    T = np.vstack([np.eye(2), -np.eye(2), np.stack([np.cos(t), np.sin(t)], 1)])
    ref = cvxpy_on_directions(S, R, lam, np.cov(S.T, bias=True), T)
    assert abs(sol.history["objective"][0] - ref) <= 1e-6 * ref
    assert sol.status == "max_iter" and sol.n_iter == 1


def test_certificate_and_network_are_consistent():
    rng = np.random.default_rng(0)
    S = rng.uniform(-1, 2, (50, 2))
    A = rng.standard_normal((4, 2))
    lam = 0.05
    sol = solve_affine_autoencoder(S, A, lam)
    assert sol.measure.converged and sol.measure.gap <= 1e-9
    X = S @ A.T
    Z = X @ sol.W_in.T + sol.b_in
    assert Z.min() >= -1e-10
    assert np.allclose(Z @ sol.W_out.T + sol.b_out, X, atol=1e-9)
    direct = (Z ** 2).sum(1).mean() + lam * ((sol.W_in ** 2).sum() + (sol.W_out ** 2).sum())
    assert np.isclose(direct, sol.measure.objective, rtol=1e-9)
    assert sol.measure.lower_bound <= direct * (1 + 1e-12)


def test_random_networks_never_beat_the_certified_optimum():
    rng = np.random.default_rng(1)
    S = rng.uniform(0, 1, (30, 2))
    A = mixing(70)
    lam = 0.1
    sol = solve_affine_autoencoder(S, A, lam)
    M = A.T @ A
    Minv = np.linalg.inv(M)
    for _ in range(200):
        K = rng.integers(2, 7)
        U = rng.standard_normal((K, 2)) * rng.uniform(0.1, 2)
        b = -(S @ U.T).min(0)  # smallest admissible bias
        Z = S @ U.T + b
        P = U.T @ U
        W_in = U @ Minv @ A.T
        W_out = A @ np.linalg.solve(P, U.T)
        J = (Z ** 2).sum(1).mean() + lam * ((W_in ** 2).sum() + (W_out ** 2).sum())
        # best rescaling of this network (J is a·t + b/t in the scale t of U)
        a_ = (Z ** 2).sum(1).mean() + lam * (W_in ** 2).sum()
        b_ = lam * (W_out ** 2).sum()
        assert 2 * np.sqrt(a_ * b_) >= sol.measure.objective * (1 - 1e-10)
        assert J >= sol.measure.objective * (1 - 1e-10)


def test_one_dimensional_closed_form():
    rng = np.random.default_rng(2)
    s = rng.exponential(size=(60, 1))
    lam, R = 0.3, np.array([[2.0]])
    sol = solve_measure(s, R, lam)
    var = s.var()
    c_plus = var + (s.mean() - s.min()) ** 2
    c_minus = var + (s.max() - s.mean()) ** 2
    assert np.isclose(sol.objective, 2 * np.sqrt(lam * 2.0 * min(c_plus, c_minus)), rtol=1e-10)


def test_exact_oracle_3d_beats_dense_sampling():
    rng = np.random.default_rng(4)
    V = rng.standard_normal((25, 3))
    V -= V.mean(0)
    A = rng.standard_normal((3, 3))
    A = A + A.T
    Bm = rng.standard_normal((3, 3))
    B = Bm @ Bm.T + np.eye(3)
    val, th, exact = min_ratio_on_sphere(V, A, B)
    assert exact
    X = rng.standard_normal((200000, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    h = np.maximum((X @ V.T).max(1), 0)
    r = (np.einsum("ij,jk,ik->i", X, A, X) + h ** 2) / np.einsum("ij,jk,ik->i", X, B, X)
    assert val <= r.min() + 1e-12
    assert val >= r.min() - 1e-3 * abs(r.min()) - 1e-3


def test_three_sources_certified():
    rng = np.random.default_rng(5)
    S = rng.uniform(0, 1, (60, 3))
    A = np.eye(3) + 0.3 * rng.standard_normal((3, 3))
    sol = solve_affine_autoencoder(S, A, 0.05)
    assert sol.measure.exact_oracle and sol.measure.gap <= 1e-8


def test_four_sources_runs_with_search_oracle():
    rng = np.random.default_rng(6)
    S = rng.uniform(0, 1, (40, 4))
    sol = solve_affine_autoencoder(S, np.eye(4), 0.05, random_state=0)
    assert not sol.measure.exact_oracle
    assert sol.measure.objective <= sol.modular_objective * (1 + 1e-9)


def test_bad_input():
    S = grid_square(5)
    with pytest.raises(ValueError, match="A"):
        solve_affine_autoencoder(S, np.array([[1.0, 2.0], [2.0, 4.0]]), 0.1)
    with pytest.raises(ValueError, match="S"):
        solve_affine_autoencoder(np.c_[S[:, 0], np.ones(len(S))], np.eye(2), 0.1)
    bad = S.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="S"):
        solve_affine_autoencoder(bad, np.eye(2), 0.1)
    with pytest.raises(ValueError, match="S"):
        solve_affine_autoencoder(S[:2], np.eye(2), 0.1)
    with pytest.raises(ValueError, match="lam"):
        solve_affine_autoencoder(S, np.eye(2), -1.0)
    with pytest.raises(ValueError, match="readout_gram"):
        solve_measure(S, -np.eye(2), 0.1)
    with pytest.raises(ValueError, match="p"):
        solve_measure(S, np.eye(2), 0.1, p=np.ones(len(S)))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("deg,lam", [(150, 0.1), (90, 0.1)])
def test_matches_independent_qspace_dnn_model(deg, lam):
    """Problem 1 written in Q-space in cvxpy (Q = X̃ G X̃ᵀ, G ⪰ 0 with X̃ = [X, 1]; ‖W_in‖² = Tr G[:D,:D];
    min-norm affine readout by a Schur complement; Q ≥ 0 entrywise = DNN relaxation of complete positivity).
    The DNN value is a lower bound on the CP optimum; here it is attained."""
    S = grid_square(4)
    A = mixing(deg)
    X = S @ A.T
    n, D = X.shape
    Xt = np.c_[X, np.ones(n)]
    G = cp.Variable((D + 1, D + 1), PSD=True)
    b = cp.Variable(D)
    T = cp.Variable((D, D), symmetric=True)
    Q = Xt @ G @ Xt.T
    Y = X - np.ones((n, 1)) @ cp.reshape(b, (1, D), order="C")
    cons = [cp.bmat([[Q, Y], [Y.T, T]]) >> 0, Q >= 0]
    prob = cp.Problem(cp.Minimize(cp.trace(Q) / n + lam * cp.trace(G[:D, :D]) + lam * cp.trace(T)), cons)
    prob.solve(solver=cp.CLARABEL)
    sol = solve_affine_autoencoder(S, A, lam)
    assert prob.value <= sol.measure.objective * (1 + 1e-6)
    assert abs(prob.value - sol.measure.objective) <= 1e-5 * sol.measure.objective


def test_result_protocol():
    from simcode.core import Certificate, SolverResult

    rng = np.random.default_rng(8)
    S = rng.uniform(0, 1, (30, 2))
    sol = solve_affine_autoencoder(S, mixing(70), 0.1)
    for r in (sol, sol.measure):
        assert isinstance(r, SolverResult) and r.converged and isinstance(r.certificate, Certificate)
    h = sol.measure.history
    assert len({len(v) for v in h.values()}) == 1 and len(h["gap"]) == sol.measure.n_iter
    assert h["gap"][-1] == sol.measure.gap <= 1e-9
    # the encoder weight defaults to lam; passing it explicitly gives the same optimum
    M = mixing(70).T @ mixing(70)
    a = solve_measure(S, M, 0.1, encoder_gram=np.linalg.inv(M))
    b = solve_measure(S, M, 0.1, encoder_gram=np.linalg.inv(M), lam_encoder=0.1)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
