"""Tests for simcode.ksm.admm (KernelSimilarityMatching) and simcode.ksm.metrics.

Everything is checked against something independent: scikit-learn (r2, Ridge, the estimator checks), scipy
(L-BFGS-B), cvxpy, a hand-written ISTA, brute-force T×T kernels (Proposition 1.1), ground-truth synthetic
dictionaries, a naive per-sample Algorithm 2.
"""

import warnings

import numpy as np
import pytest
import sklearn.exceptions
import torch

from simcode.core import ConvergenceWarning
from simcode.ksm import KernelSimilarityMatching, kernel_similarity_matching
from simcode.ksm.admm import implicit_map
from simcode.ksm.metrics import (modal_support_size, p_sparsity, reconstruction_r2, sine_similarity_error,
                                 support_sizes)
from simcode.sparse.atoms import match_atoms

# most tests run a fixed number of epochs (tol=0) on purpose: the cap is then expected
pytestmark = pytest.mark.filterwarnings("ignore::simcode.core.ConvergenceWarning")


def _synthetic(T=300, N=12, K=6, k=1, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((K, N))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    C = np.zeros((T, K))
    for t in range(T):
        idx = rng.choice(K, k, replace=False)
        C[t, idx] = rng.uniform(4, 6, k)
    return C @ D, D, C


# ----------------------------------------------------------------------------------------------- metrics
def test_reconstruction_r2_matches_sklearn():
    from sklearn.metrics import r2_score as sk

    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 4)) * [1, 2, 3, 4]
    Xh = X + 0.3 * rng.standard_normal(X.shape)
    assert reconstruction_r2(X, Xh) == pytest.approx(sk(X, Xh, multioutput="variance_weighted"), rel=1e-12)
    assert reconstruction_r2(torch.as_tensor(X), torch.as_tensor(Xh)) == pytest.approx(reconstruction_r2(X, Xh))
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_r2(X, Xh[:, :3])
    # uniform average over features (scikit-learn's default), incl. constant features predicted exactly or not
    Xc = np.column_stack([X, np.zeros(50), np.ones(50)])
    Xch = np.column_stack([Xh, np.zeros(50), np.ones(50) + 0.1 * rng.standard_normal(50)])
    assert reconstruction_r2(Xc, Xch, multioutput="uniform_average") == pytest.approx(sk(Xc, Xch), rel=1e-12)
    assert reconstruction_r2(Xc, Xch, multioutput="uniform_average") < reconstruction_r2(Xc, Xch) - 0.1
    with pytest.raises(ValueError, match="multioutput"):
        reconstruction_r2(X, Xh, multioutput="raw_values")


def test_p_sparsity_limits_and_p2_identity():
    n = 7
    e = np.zeros((1, n))
    e[0, 3] = -2.5
    assert p_sparsity(e) == pytest.approx(1.0)
    assert p_sparsity(e, p=2) == pytest.approx(1.0)
    assert p_sparsity(np.full((1, n), 3.0)) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((20, n))
    # p = 2: N_2 = 1 and S_2 = sqrt(unbiased variance / mean square)
    ref = np.sqrt(np.var(Z, axis=1, ddof=1) / np.mean(Z**2, axis=1))
    np.testing.assert_allclose(p_sparsity(Z, p=2, reduce=False), ref, rtol=1e-12)
    # p = 1: eq. 43 = n/(2(n-1)) * sum|x - mean| / sum|x|
    ref1 = n / (2 * (n - 1)) * np.abs(Z - Z.mean(1, keepdims=True)).sum(1) / np.abs(Z).sum(1)
    np.testing.assert_allclose(p_sparsity(Z, reduce=False), ref1, rtol=1e-12)
    with pytest.raises(ValueError, match="p must"):
        p_sparsity(Z, p=0.5)


def test_match_atoms_as_ksm_uses_it():
    """The dictionary error of 002 Fig. 2(c) is match_atoms(..., max_shift=0): sign-free, permutation-free,
    err = |sin θ| for atoms at angle θ (closed forms)."""
    rng = np.random.default_rng(0)
    D = rng.standard_normal((5, 8))
    perm = rng.permutation(5)
    signs = np.array([1, -1, 1, -1, 1.0])[:, None]
    E = 3.0 * signs * D[perm]
    m = match_atoms(D, E, max_shift=0)
    assert m.mean_error == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_array_equal(perm[m.assignment], np.arange(5))
    th = 0.3
    assert match_atoms([[1.0, 0.0]], [[np.cos(th), np.sin(th)]], max_shift=0).mean_error == pytest.approx(np.sin(th))


def test_sine_similarity_error():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((30, 4))
    assert sine_similarity_error(Z, 2 * Z) == pytest.approx(0.0, abs=1e-12)
    assert sine_similarity_error([[1.0, 0.0]], [[0.0, 3.0]]) == pytest.approx(1.0)
    perm = [2, 0, 3, 1]
    assert sine_similarity_error(Z, -Z[:, perm] * [1, -1, 1, 1], match=True) == pytest.approx(0.0, abs=1e-12)
    assert sine_similarity_error(Z, Z[:, perm]) > 0.1


def test_support_sizes():
    Z = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 0.9, 0.1]])
    np.testing.assert_array_equal(support_sizes(Z), [2, 1, 3, 2])
    assert modal_support_size(Z) == 2


# ------------------------------------------------------------------------------------------ implicit map
def test_implicit_map_is_ridge_solution():
    """Â of 002 App. A.1 is the minimiser over A of P1 = (1/2T)||X - ZAᵀ||² + (ω/2)||A||²: sklearn Ridge."""
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    T, N, K, omega = 80, 5, 3, 0.05
    X, Z = rng.standard_normal((T, N)), rng.standard_normal((T, K))
    ref = Ridge(alpha=omega * T, fit_intercept=False).fit(Z, X).coef_  # N×K
    np.testing.assert_allclose(implicit_map(X, Z, omega), ref.T, rtol=1e-8, atol=1e-10)


def test_implicit_map_simplex_minimises_P2():
    """Â* = (1+ω) X Zᵀ H⁻¹/T (App. A.2) minimises P2 (eq. 8) over A: compare with cvxpy.

    (With the proximity weight ω/(2T): the ω/T printed in eq. 8 is inconsistent with App. A.2 by a factor 2.)"""
    import cvxpy as cp

    rng = np.random.default_rng(0)
    T, N, K, omega = 40, 2, 4, 0.1
    X = rng.standard_normal((T, N))
    Z = rng.random((T, K))
    Z /= Z.sum(1, keepdims=True)
    A = cp.Variable((K, N))  # atoms in rows
    obj = cp.sum_squares(X - Z @ A) / (2 * T)
    obj += omega / (2 * T) * sum(cp.sum(cp.multiply(Z[:, k], cp.sum_squares(X - np.ones((T, 1)) @ A[k:k + 1, :],
                                                                       axis=1))) for k in range(K))
    cp.Problem(cp.Minimize(obj)).solve(solver="CLARABEL")
    np.testing.assert_allclose(implicit_map(X, Z, omega, simplex=True), A.value, atol=1e-6)


def test_objective_history_matches_Q1_kernel_form():
    """history_['objective'] is P1 at Â; by Proposition 1.1 it equals Q1 (T×T kernels) + ||X||²/(2T)."""
    X, D, C = _synthetic(T=200)
    lam, omega = 0.5, 1e-3
    m = KernelSimilarityMatching(6, lam=lam, omega=omega, max_iter=3, batch_size=50, lr_w=0.01, tol=0,
                                 device="cpu", random_state=0).fit(X)
    Z, T = m.codes_, X.shape[0]
    H = Z.T @ Z / T + omega * np.eye(6)
    Kx = X @ X.T
    Kz = Z @ np.linalg.solve(H, Z.T)
    q1 = -np.trace(Kx @ Kz) / (2 * T**2) + lam / T * np.abs(Z).sum()
    assert m.history_["objective"][-1] == pytest.approx(q1 + (X**2).sum() / (2 * T), rel=1e-9)
    np.testing.assert_allclose(m.inverse_transform(Z), Z @ m.components_)


# ------------------------------------------------------------------------------------------ ADMM steps
def _ista(X, W, Z, lam, n):
    G = W @ W.T
    L = np.linalg.eigvalsh(G)[-1]
    for _ in range(n):
        V = Z - (Z @ G - X @ W.T) / L
        Z = np.sign(V) * np.maximum(np.abs(V) - lam / L, 0)
    return Z


@pytest.mark.parametrize("schedule", [1, 2])
def test_schedules_1_2_zstep_is_ista(schedule):
    """002 Theorem 1: with a P-step after every gradient step the Z-step is ISTA with dictionary Wᵀ."""
    X, D, C = _synthetic(T=64)
    rng = np.random.default_rng(3)
    W0 = D + 0.2 * rng.standard_normal(D.shape)
    W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
    Z0 = rng.random((64, 6))
    m = KernelSimilarityMatching(6, lam=0.7, rho=2.0, schedule=schedule, n_z_steps=7, batch_size=64,
                                 max_iter=1, lr_w=1e-3, tol=0, device="cpu", random_state=0)
    m.fit(X, W_init=W0, Z_init=Z0)
    np.testing.assert_allclose(m.codes_, _ista(X, W0, Z0, 0.7, 7), rtol=1e-7, atol=1e-9)


def test_schedule3_zstep_minimises_augmented_lagrangian():
    """Schedule 3 runs proximal gradient on the quartic L_i(z) of eq. 14 with P_i, M_i fixed (App. C.1):
    many small steps reach a stationary point whose value matches L-BFGS-B from the same start."""
    from scipy.optimize import minimize

    X, D, C = _synthetic(T=8, N=5, K=3)
    rng = np.random.default_rng(1)
    W0 = D + 0.3 * rng.standard_normal(D.shape)
    W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
    Z0 = rng.random((8, 3))
    lam, omega, rho = 0.5, 1e-2, 1.0
    m = KernelSimilarityMatching(3, prior="l1_nonneg", lam=lam, omega=omega, rho=rho, schedule=3,
                                 n_z_steps=3000, z_step_scale=0.05, batch_size=8, max_iter=1, lr_w=1e-3,
                                 tol=0, device="cpu", random_state=0).fit(X, W_init=W0, Z_init=Z0)
    G = W0 @ W0.T
    for i in range(8):
        p = Z0[i]
        P = np.outer(p, p) + omega * np.eye(3)
        M = G / 2

        def L(z):
            E = np.outer(z, z) + omega * np.eye(3) - P + M / rho
            return -z @ W0 @ X[i] + lam * z.sum() + rho / 2 * (E**2).sum()

        def dL(z):
            E = np.outer(z, z) + omega * np.eye(3) - P + M / rho
            return -W0 @ X[i] + lam + 2 * rho * E @ z

        ref = minimize(L, p, jac=dL, bounds=[(0, None)] * 3, method="L-BFGS-B", options={"ftol": 1e-15,
                                                                                          "gtol": 1e-12})
        assert L(m.codes_[i]) <= ref.fun + 1e-6
        np.testing.assert_allclose(m.codes_[i], ref.x, atol=1e-3)


def test_schedule3_simplex_zstep_minimises_augmented_lagrangian():
    """Eq. 32 (App. C.2): the simplex Z-step is projected gradient on the per-sample Lagrangian with
    E(z) = zzᵀ + ω diag(z) - P_i + M_i/ρ, whose gradient has the extra ρω diag(E) term. Many small schedule-3
    steps must land on the minimiser over the simplex found by scipy's SLSQP on the Lagrangian's value alone."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    T, N, K = 6, 2, 3
    X = rng.random((T, N))
    W0 = X[:K] + 0.1 * rng.standard_normal((K, N))
    Z0 = rng.random((T, K))
    Z0 /= Z0.sum(1, keepdims=True)
    omega, rho = 0.1, 1.0
    m = KernelSimilarityMatching(K, prior="simplex", omega=omega, rho=rho, schedule=3, n_z_steps=4000,
                                 z_step_scale=0.05, batch_size=T, max_iter=1, lr_w=1e-3, tol=0, device="cpu",
                                 random_state=0).fit(X, W_init=W0, Z_init=Z0)
    G = W0 @ W0.T
    for i in range(T):
        p = Z0[i]
        P = np.outer(p, p) + omega * np.diag(p)

        def L(z):
            E = np.outer(z, z) + omega * np.diag(z) - P + G / (2 * rho)
            return -(1 + omega) * z @ W0 @ X[i] + rho / 2 * (E**2).sum()

        ref = minimize(L, p, method="SLSQP", bounds=[(0, None)] * K,
                       constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1}], options={"ftol": 1e-14})
        assert L(m.codes_[i]) <= ref.fun + 1e-7
        np.testing.assert_allclose(m.codes_[i], ref.x, atol=1e-3)


def test_recovers_synthetic_dictionary():
    """002 §6.1 in small: warm start W = A + noise; R² → 1 and the atoms are recovered."""
    X, D, C = _synthetic(T=400, N=20, K=8, k=1)
    rng = np.random.default_rng(0)
    W0 = D + 0.1 * rng.standard_normal(D.shape)
    for schedule in (1, 3):
        m = KernelSimilarityMatching(8, lam=0.5, schedule=schedule, lr_w=0.05, batch_size=64, max_iter=40,
                                     tol=0, device="cpu", random_state=0).fit(X, W_init=W0)
        assert m.history_["r2"][-1] > 0.99
        assert match_atoms(D, m.components_, max_shift=0).mean_error < 0.05
        assert m.score(X) > 0.99
    # schedule-1 W-step: objective goes down from the start
    assert m.history_["objective"][-1] <= m.history_["objective"][0] + 1e-9


def test_simplex_prior_codes_on_simplex_and_moons_fit():
    from sklearn.datasets import make_moons

    X, _ = make_moons(300, noise=0.01, random_state=0)
    m = KernelSimilarityMatching(8, prior="simplex", omega=0.1, lr_w=5e-3, batch_size=50, max_iter=30, tol=0,
                                 n_z_steps=10, device="cpu", random_state=0).fit(X)
    Z = m.codes_
    assert Z.min() >= -1e-12
    np.testing.assert_allclose(Z.sum(1), 1.0, atol=1e-9)
    assert m.history_["r2"][-1] > 0.95
    Zn = m.transform(X[:20])
    np.testing.assert_allclose(Zn.sum(1), 1.0, atol=1e-9)


def test_schedules_2_3_constraint_violation_reported():
    X, D, C = _synthetic(T=128)
    m = KernelSimilarityMatching(6, schedule=3, lr_w=0.05, batch_size=32, max_iter=3, tol=0, device="cpu",
                                 random_state=0).fit(X)
    assert all(np.isfinite(m.history_["constraint_violation"]))
    assert m.history_["constraint_violation"][-1] > 0  # W moved between visits
    m1 = KernelSimilarityMatching(6, schedule=1, batch_size=32, max_iter=2, tol=0, device="cpu",
                                  random_state=0).fit(X)
    np.testing.assert_array_equal(m1.history_["constraint_violation"], [0.0, 0.0])


def test_torch_in_torch_out_and_reproducible():
    X, D, C = _synthetic(T=100)
    Xt = torch.as_tensor(X)
    m = KernelSimilarityMatching(6, batch_size=20, max_iter=2, tol=0, device="cpu", random_state=5).fit(Xt)
    assert isinstance(m.components_, torch.Tensor) and isinstance(m.transform(Xt), torch.Tensor)
    m2 = KernelSimilarityMatching(6, batch_size=20, max_iter=2, tol=0, device="cpu", random_state=5).fit(X)
    np.testing.assert_allclose(m.components_.numpy(), m2.components_)


def test_convergence_status_and_warning():
    X, D, C = _synthetic(T=100)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        m = KernelSimilarityMatching(6, batch_size=20, max_iter=2, tol=1e-30, device="cpu").fit(X)
    assert m.status_ == "max_iter" and not m.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = KernelSimilarityMatching(6, batch_size=20, max_iter=500, tol=1e-3, device="cpu").fit(X)
    assert m.converged_ and m.n_iter_ < 500


def test_divergence_stops_with_last_finite_state():
    X, D, C = _synthetic(T=100)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        m = KernelSimilarityMatching(6, batch_size=20, max_iter=50, z_step_scale=30.0, tol=0,
                                     device="cpu").fit(X)
    assert m.status_ == "diverged"
    assert np.all(np.isfinite(m.W_)) and np.all(np.isfinite(m.codes_))


@pytest.mark.parametrize("kw, msg", [
    ({"n_components": 0}, "n_components"), ({"lam": -1.0}, "lam"), ({"rho": 0.0}, "rho"),
    ({"schedule": 4}, "schedule"), ({"schedule": 0}, "schedule"), ({"omega": 0.0}, "omega"),
    ({"prior": "l2"}, "prior"), ({"lr_w": -1}, "lr_w"), ({"n_z_steps": 0}, "n_z_steps"),
    ({"init": "zeros"}, "init"), ({"max_iter": 0}, "max_iter"), ({"device": "tpu"}, "device"),
    ({"dtype": "float16"}, "dtype"),
])
def test_bad_parameters(kw, msg):
    X, D, C = _synthetic(T=100)
    params = dict(n_components=6, batch_size=20, max_iter=1, device="cpu")
    params.update(kw)
    with pytest.raises(ValueError, match=msg):
        KernelSimilarityMatching(**params).fit(X)


def test_bad_data():
    X, D, C = _synthetic(T=100)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KernelSimilarityMatching(6, batch_size=20, device="cpu").fit(X)
    with pytest.raises(ValueError, match="W_init"):
        KernelSimilarityMatching(6, batch_size=20, device="cpu").fit(np.nan_to_num(X), W_init=np.ones((5, 12)))
    with pytest.raises(ValueError, match="not fitted"):
        KernelSimilarityMatching(6).transform(X)
    X = np.nan_to_num(X)
    with pytest.raises((TypeError, ValueError), match="[Cc]omplex"):  # no silent truncation to the real part
        KernelSimilarityMatching(6, batch_size=20, device="cpu").fit(X + 1j)
    with pytest.raises(TypeError, match="complex"):
        kernel_similarity_matching(X + 1j, 6, device="cpu")
    with pytest.raises(TypeError, match="complex"):
        kernel_similarity_matching(torch.as_tensor(X + 1j), 6, device="cpu")
    m = KernelSimilarityMatching(6, batch_size=20, max_iter=1, device="cpu").fit(X)
    with pytest.raises((TypeError, ValueError), match="[Cc]omplex"):
        m.transform(X + 1j)
    with pytest.raises(ValueError, match="features"):
        m.transform(X[:, :5])


def test_batch_size_above_n_samples_is_the_whole_data_set():
    """As scikit-learn's MiniBatchDictionaryLearning: batch_size > n_samples means one batch of all samples."""
    X, D, C = _synthetic(T=60)
    kw = dict(max_iter=2, tol=0, device="cpu", random_state=0)
    a = KernelSimilarityMatching(6, batch_size=500, **kw).fit(X)
    b = KernelSimilarityMatching(6, batch_size=60, **kw).fit(X)
    np.testing.assert_array_equal(a.W_, b.W_)


def test_function_and_estimator_agree_and_result_protocol():
    """The estimator is a shell over kernel_similarity_matching: same arrays, the result protocol in both."""
    X, D, C = _synthetic(T=80)
    kw = dict(batch_size=20, max_iter=3, tol=0, device="cpu", random_state=1)
    with pytest.warns(ConvergenceWarning, match="3 iterations"):
        res = kernel_similarity_matching(X, 6, **kw)
    m = KernelSimilarityMatching(6, **kw).fit(X)
    np.testing.assert_array_equal(res.W, m.W_)
    np.testing.assert_array_equal(res.components, m.components_)
    assert res.status == m.status_ == "max_iter" and res.n_iter == m.n_iter_ == 3 and not res.converged
    assert set(m.history_) >= {"objective", "lagrangian", "constraint_violation", "sparsity", "r2", "time"}
    assert {len(v) for v in m.history_.values()} == {3}
    assert issubclass(ConvergenceWarning, sklearn.exceptions.ConvergenceWarning)
    # the R² recorded in the history is scikit-learn's pooled R² of the implicit-map reconstruction
    from sklearn.metrics import r2_score

    assert m.history_["r2"][-1] == pytest.approx(
        r2_score(X, m.codes_ @ m.components_, multioutput="variance_weighted"), rel=1e-10)


def test_float32_is_honoured():
    X, D, C = _synthetic(T=60)
    m = KernelSimilarityMatching(6, batch_size=20, max_iter=2, tol=0, device="cpu", random_state=0)
    m.fit(X.astype(np.float32))
    assert m.components_.dtype == np.float32 and m.transform(X.astype(np.float32)).dtype == np.float32
    m64 = KernelSimilarityMatching(6, batch_size=20, max_iter=2, tol=0, device="cpu", random_state=0).fit(X)
    assert m64.components_.dtype == np.float64
    np.testing.assert_allclose(m.components_, m64.components_, rtol=1e-3, atol=1e-3)


def test_representation():
    from simcode import Representation

    X, D, C = _synthetic(T=60)
    m = KernelSimilarityMatching(6, batch_size=20, max_iter=2, tol=0, device="cpu", random_state=0).fit(X)
    r = m.representation(X)
    assert isinstance(r, Representation)
    np.testing.assert_allclose(r.Z, m.transform(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    X, D, C = _synthetic(T=128)
    kw = dict(batch_size=32, max_iter=3, tol=0, random_state=0, dtype="float64")
    a = KernelSimilarityMatching(6, device="cpu", **kw).fit(X)
    b = KernelSimilarityMatching(6, device="cuda", **kw).fit(torch.as_tensor(X, device="cuda"))
    assert b.components_.device.type == "cuda"
    np.testing.assert_allclose(b.components_.cpu().numpy(), a.components_, rtol=1e-6, atol=1e-8)


def _per_sample_admm(X, W0, Z0, lam, omega, rho, schedule, n_z, lr_w, batches, epochs, simplex=False):
    """Algorithm 2 written naively: a loop over samples with explicit K×K matrices P_i, M_i (002 App. C.1/C.2)."""
    T, N = X.shape
    K = W0.shape[0]
    W = W0.copy()
    Z = Z0.copy()
    c = 1 + omega if simplex else 1.0
    Bm = (lambda z: np.diag(z)) if simplex else (lambda z: np.eye(K))
    G = W @ W.T
    P = np.stack([np.outer(z, z) + omega * Bm(z) for z in Z])
    M = np.stack([G / 2] * T)
    scale = 1.0 if schedule in (1, 2) else 0.01

    def proj(v):
        u = np.sort(v)[::-1]
        css = np.cumsum(u) - 1
        r = np.nonzero(u - css / np.arange(1, K + 1) > 0)[0][-1]
        return np.maximum(v - css[r] / (r + 1), 0)

    for _ in range(epochs):
        for idx in batches:
            G = W @ W.T
            eta = scale / np.linalg.eigvalsh(G)[-1]
            for i in idx:
                z = Z[i]
                for _ in range(n_z):
                    E = np.outer(z, z) + omega * Bm(z) - P[i] + M[i] / rho
                    g = -c * W @ X[i] + 2 * rho * E @ z + (rho * omega * np.diag(E) if simplex else 0)
                    v = z - eta * g
                    z = proj(v) if simplex else np.sign(v) * np.maximum(np.abs(v) - lam * eta, 0)
                    if schedule in (1, 2):
                        P[i] = (M[i] - G / 2) / rho + np.outer(z, z) + omega * Bm(z)
                if schedule == 3:
                    P[i] = (M[i] - G / 2) / rho + np.outer(z, z) + omega * Bm(z)
                if schedule in (2, 3):
                    M[i] = M[i] + rho * (np.outer(z, z) + omega * Bm(z) - P[i])
                Z[i] = z
            grad = sum(P[i] @ W - c * np.outer(Z[i], X[i]) for i in idx) / len(idx)
            W = W - lr_w * grad
            if not simplex:
                W /= np.linalg.norm(W, axis=1, keepdims=True)
            if schedule == 1:
                M[:] = W @ W.T / 2
    return W, Z


@pytest.mark.parametrize("schedule", [1, 2, 3])
@pytest.mark.parametrize("simplex", [False, True])
def test_batched_state_equals_per_sample_algorithm(schedule, simplex):
    """The shared per-minibatch state (no K×K matrix per sample) reproduces Algorithm 2 with explicit P_i, M_i."""
    X, D, C = _synthetic(T=40, N=7, K=4)
    rng = np.random.default_rng(2)
    if simplex:
        X = X / 5
        W0 = X[:4] + 0.1 * rng.standard_normal((4, 7))
        Z0 = rng.random((40, 4))
        Z0 /= Z0.sum(1, keepdims=True)
    else:
        W0 = D + 0.3 * rng.standard_normal(D.shape)
        W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
        Z0 = rng.random((40, 4))
    kw = dict(lam=0.3, omega=0.05, rho=0.7, schedule=schedule, n_z_steps=4, lr_w=0.02, batch_size=10)
    m = KernelSimilarityMatching(4, prior="simplex" if simplex else "l1", max_iter=3, tol=0, device="cpu",
                                 random_state=0, **kw).fit(X, W_init=W0, Z_init=Z0)
    perm = np.random.default_rng(0).permutation(40)
    W, Z = _per_sample_admm(X, W0, Z0, 0.3, 0.05, 0.7, schedule, 4, 0.02, np.array_split(perm, 4), 3, simplex)
    np.testing.assert_allclose(m.W_, W, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(m.codes_, Z, rtol=1e-9, atol=1e-10)
