"""Tests for simcode.ksm.smpc (the SMPC network of 002 §7): neural fixed point vs cvxpy, Hebbian fixed points,
objective vs brute-force T×T kernels, recovery on the 2-D example, bad input."""

import copy

import numpy as np
import pytest
import torch

from simcode.core import ConvergenceWarning
from simcode.ksm import SMPC, similarity_matching_predictive_coding
from simcode.ksm.metrics import sine_similarity_error

# most tests run a fixed number of iterations (tol=0, as the paper): the cap is then expected
pytestmark = pytest.mark.filterwarnings("ignore::simcode.core.ConvergenceWarning")


def _two_atoms(T=256, seed=0):
    rng = np.random.default_rng(seed)
    th = np.arccos(0.14)
    A = np.array([[1.0, 0.0], [np.cos(th), np.sin(th)]])
    Z = np.zeros((T, 2))
    Z[np.arange(T), rng.integers(0, 2, T)] = 2 * rng.standard_normal(T)
    return Z @ A + 0.01 * rng.standard_normal((T, 2)), A, Z


@pytest.fixture(scope="module")
def fitted():
    X, A, Z = _two_atoms()
    return X, Z, SMPC(2, lam=0.8, rho=5.0, max_iter=300, tol=0, device="cpu", random_state=0).fit(X)


def test_two_atom_example_recovers_latents(fitted):
    X, Z, m = fitted
    assert m.status_ == "max_iter"
    assert m.score() > 0.9
    assert sine_similarity_error(Z, m.codes_, match=True) < 0.1  # small latents are thresholded to 0
    assert m.history_["objective"][-1] < m.history_["objective"][0]


def test_safe_steps_prevent_that_divergence():
    X, A, Z = _two_atoms(T=64)
    m = SMPC(2, lr_y=5.0, max_iter=50, device="cpu", random_state=0).fit(100 * X)
    assert m.status_ == "max_iter" and np.isfinite(m.score())


def test_r2_matches_mds_optimum_prediction(fitted):
    """At the similarity-matching optimum K_Z ≈ YᵀY ≈ XᵀX (paper orientation), so X̂ = K_Z X/T ≈ X (XᵀX/T)
    (ours): the normalised R² must match the closed form R²(X, X C), C = XᵀX/T."""
    from simcode.ksm.metrics import reconstruction_r2

    X, Z, m = fitted
    n = lambda A: A / np.sqrt((A**2).sum(1).mean())  # noqa: E731
    C = X.T @ X / X.shape[0]
    assert m.score() == pytest.approx(reconstruction_r2(n(X), n(X @ C)), abs=0.01)


def test_neural_dynamics_reach_the_convex_minimiser(fitted):
    """Eqs. 39-40 with ζ at its fixed point are proximal gradient on
    min_{y,z} -xᵀWᵀy + ½yᵀMy + λ||z||₁ + ρ/2||y - Ωz||², convex for M ≻ 0: compare with cvxpy."""
    import cvxpy as cp

    X, Z, m = fitted
    x = X[:5]
    z = copy.deepcopy(m).set_params(transform_max_iter=3000).transform(x)
    W, M, Om = m.W_, m.M_, m.Omega_
    M = (M + M.T) / 2
    assert np.linalg.eigvalsh(M)[0] > 0
    y_ = cp.Variable((5, 2))
    z_ = cp.Variable((5, 2))
    Lm = np.linalg.cholesky(M)
    obj = (-cp.sum(cp.multiply(x @ W.T, y_)) + 0.5 * cp.sum_squares(y_ @ Lm) + m.lam * cp.sum(cp.abs(z_))
           + m.rho / 2 * cp.sum_squares(y_ - z_ @ Om.T))
    cp.Problem(cp.Minimize(obj)).solve(solver="CLARABEL")
    np.testing.assert_allclose(z, z_.value, atol=1e-5)


def test_hebbian_fixed_points(fitted):
    """At equilibrium eq. 42 gives W = ⟨y xᵀ⟩ and M = α⟨y yᵀ⟩ (the Legendre optima of eq. 17; α = lam_kernel)."""
    X, Z, m = fitted
    T = X.shape[0]
    Y = m.Y_
    np.testing.assert_allclose(m.W_, Y.T @ X / T, atol=2e-3)
    np.testing.assert_allclose(m.M_, Y.T @ Y / T, atol=2e-3)


def test_objective_matches_bruteforce_kernels(fitted):
    X, Z, m = fitted
    T = X.shape[0]
    Y, C, Om = m.Y_, m.codes_, m.Omega_
    ref = (np.sum((X @ X.T - Y @ Y.T) ** 2) / (4 * T**2) + m.lam / T * np.abs(C).sum()
           + m.rho / (2 * T) * np.sum((Y - C @ Om.T) ** 2))
    assert m.history_["objective"][-1] == pytest.approx(ref, rel=1e-9)
    # the prediction X̂ = K_Z X / T with the T×T kernel K_Z = (ZΩᵀ)(ZΩᵀ)ᵀ (§7.1)
    Kz = (C @ Om.T) @ (C @ Om.T).T
    np.testing.assert_allclose(m.predict(), Kz @ X / T, rtol=1e-9, atol=1e-12)


def test_simplex_prior_codes_on_simplex():
    from sklearn.datasets import make_moons

    X, _ = make_moons(200, noise=0.01, random_state=0)
    m = SMPC(6, prior="simplex", lam=0.0, rho=5.0, max_iter=50, device="cpu", random_state=0).fit(X)
    assert m.codes_.min() >= -1e-12
    np.testing.assert_allclose(m.codes_.sum(1), 1.0, atol=1e-9)
    assert np.isfinite(m.score(X))


def test_minibatches_and_torch():
    X, A, Z = _two_atoms(T=128)
    m = SMPC(2, max_iter=20, batch_size=32, device="cpu", random_state=0).fit(torch.as_tensor(X))
    assert isinstance(m.codes_, torch.Tensor) and m.codes_.shape == (128, 2)


def test_divergence_is_caught():
    X, A, Z = _two_atoms(T=64)
    with pytest.warns(Warning, match="diverged"):
        m = SMPC(2, lr_y=5.0, max_iter=200, safe_steps=False, device="cpu", random_state=0).fit(100 * X)
    assert m.status_ == "diverged"
    assert np.all(np.isfinite(m.W_))


@pytest.mark.parametrize("kw, msg", [({"n_components": 0}, "n_components"), ({"lam": -0.1}, "lam"),
                                     ({"rho": 0}, "rho"), ({"lr_y": 0}, "lr_y"), ({"prior": "l0"}, "prior"),
                                     ({"lam_kernel": 0}, "lam_kernel"), ({"tol": -1.0}, "tol"),
                                     ({"init_omega": "eye"}, "init_omega"),
                                     ({"neural_order": "random"}, "neural_order")])
def test_bad_parameters(kw, msg):
    X, A, Z = _two_atoms(T=64)
    params = dict(n_components=2, max_iter=1, device="cpu")
    params.update(kw)
    with pytest.raises(ValueError, match=msg):
        SMPC(**params).fit(X)


def test_bad_data():
    X, A, Z = _two_atoms(T=64)
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="X contains inf"):
        SMPC(2, device="cpu").fit(X)
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        SMPC(2, device="cpu").fit(torch.as_tensor(X))
    with pytest.raises(ValueError, match="not fitted"):
        SMPC(2).transform(X)
    X[0, 0] = 0.0
    with pytest.raises((TypeError, ValueError), match="[Cc]omplex"):  # no silent truncation to the real part
        SMPC(2, device="cpu").fit(X + 1j)
    with pytest.raises(TypeError, match="complex"):
        similarity_matching_predictive_coding(torch.as_tensor(X + 1j), 2, device="cpu")


def test_cholesky_init_from_z_init_as_given():
    """App. E.1 (moons): H = ZZᵀ/T + ωD, D = diag(Z1/T), from Z = Z_true + N(0, 5²) as given (no projection
    first), Ω with ΩᵀΩ = H⁻¹ (independent NumPy inverse); with a negligible η_Ω it survives one iteration."""
    from sklearn.datasets import make_moons

    from simcode.ksm.smpc import cholesky_omega

    T, K = 120, 4
    X, _ = make_moons(T, noise=0.01, random_state=0)
    rng = np.random.default_rng(0)
    Z0 = rng.dirichlet(np.ones(K), T) + 5.0 * rng.standard_normal((T, K))
    H = Z0.T @ Z0 / T + 0.1 * np.diag(Z0.mean(0))
    Om = cholesky_omega(Z0, 0.1, True)
    np.testing.assert_allclose(Om.T @ Om, np.linalg.inv(H), rtol=1e-8, atol=1e-12)
    assert np.allclose(np.triu(Om, 1), 0.0)  # Ω = L⁻¹ is lower triangular
    m = SMPC(K, prior="simplex", lam=0.0, omega=0.1, lr_omega=1e-12, max_iter=1, device="cpu",
             random_state=0).fit(X, Z_init=Z0)
    np.testing.assert_allclose(m.Omega_.T @ m.Omega_, np.linalg.inv(H), rtol=1e-6)
    assert np.all(m.codes_ >= -1e-12) and np.allclose(m.codes_.sum(1), 1.0)  # projected from the first update
    # projecting Z0 onto the simplex first (the old behaviour) gives a very different Ω
    U = -np.sort(-Z0, axis=1)  # sort-based simplex projection (Wang & Carreira-Perpiñán 2013)
    css = np.cumsum(U, 1) - 1
    r = (U - css / np.arange(1, K + 1) > 0).sum(1)
    Zp = np.maximum(Z0 - (css[np.arange(T), r - 1] / r)[:, None], 0)
    Hp = Zp.T @ Zp / T + 0.1 * np.diag(Zp.mean(0))
    assert np.trace(np.linalg.inv(Hp)) > 10 * np.trace(m.Omega_.T @ m.Omega_)


def test_alternating_neural_order_recovers_latents_too():
    """Both readings of the neural loop (§7.1 blocks of 10 Y then 10 Z steps; App. E step by step) have the same
    fixed points: the 2-atom example is solved either way."""
    X, A, Z = _two_atoms()
    m = SMPC(2, lam=0.8, rho=5.0, max_iter=300, tol=0, neural_order="alternate", device="cpu",
             random_state=0).fit(X)
    assert m.score() > 0.9
    assert sine_similarity_error(Z, m.codes_, match=True) < 0.1


def test_batch_size_above_n_samples_is_the_whole_data_set():
    X, A, Z = _two_atoms(T=64)
    kw = dict(max_iter=5, tol=0, device="cpu", random_state=0)
    np.testing.assert_array_equal(SMPC(2, batch_size=1000, **kw).fit(X).W_, SMPC(2, **kw).fit(X).W_)


def test_lam_kernel_sets_the_anti_hebbian_fixed_point():
    """With weight α on the kernel-norm penalty the Legendre optimum is M* = α⟨y yᵀ⟩ (eq. 17-18)."""
    X, A, Z = _two_atoms(T=128)
    m = SMPC(2, lam_kernel=2.0, max_iter=300, tol=0, device="cpu", random_state=0).fit(X)
    np.testing.assert_allclose(m.M_, 2.0 * m.Y_.T @ m.Y_ / 128, atol=5e-3)


def test_tol_stops_and_result_protocol():
    X, A, Z = _two_atoms(T=64)
    m = SMPC(2, max_iter=6000, tol=1e-3, device="cpu", random_state=0).fit(X)
    assert m.status_ == "converged" and m.converged_ and m.n_iter_ < 6000
    o = m.history_["objective"]
    assert abs(o[-1] - o[-2]) <= 1e-3 * max(1.0, abs(o[-1]))  # the stopping rule, from the recorded history
    assert {len(v) for v in m.history_.values()} == {len(o)}
    with pytest.warns(ConvergenceWarning, match="20 iterations"):
        res = similarity_matching_predictive_coding(X, 2, max_iter=20, tol=0, device="cpu", random_state=0)
    m = SMPC(2, max_iter=20, tol=0, device="cpu", random_state=0).fit(X)
    assert res.status == m.status_ == "max_iter" and res.n_iter == m.n_iter_ == 20
    np.testing.assert_array_equal(res.Omega, m.Omega_)


def test_float32_is_honoured():
    X, A, Z = _two_atoms(T=64)
    m = SMPC(2, max_iter=20, tol=0, device="cpu", random_state=0).fit(X.astype(np.float32))
    assert m.codes_.dtype == np.float32 and m.transform(X.astype(np.float32)).dtype == np.float32


