"""DictionaryLearning: atom recovery on 002's synthetic set-up, monotone batch descent, exact dictionary steps,
the scikit-learn estimator contract."""

import warnings

import cvxpy as cp
import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone

from simcode import Representation
from simcode.core import ConvergenceWarning
from simcode.data import make_sparse_dictionary_data
from simcode.sparse.atoms import match_atoms
from simcode.sparse.dictionary import (DictionaryLearning, dict_learning, update_dictionary,
                                       update_statistics)


@pytest.fixture(scope="module")
def ksm_data():
    # 002 §6.1: N=30 features, K=16 atoms, 12.5% sparsity, amplitudes U[4,6], 1500 samples
    return make_sparse_dictionary_data(1500, 30, 16, 0.125, amplitude=(4, 6), random_state=0)


def _recovered(D_true, D_est, thr=0.99):
    A = D_true / np.linalg.norm(D_true, axis=1, keepdims=True)
    B = D_est / np.linalg.norm(D_est, axis=1, keepdims=True)
    C = np.abs(A @ B.T)
    r, c = linear_sum_assignment(-C)
    return int(np.sum(C[r, c] > thr))


def test_batch_recovers_atoms_and_descends(ksm_data):
    X, D_true, _ = ksm_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it converges (relative decrease ≤ tol) before 60
        dl = DictionaryLearning(16, lam=0.5, max_iter=60, random_state=0).fit(X)
    assert dl.solver_ == "batch" and dl.status_ == "converged" and dl.converged_ and dl.n_iter_ < 60
    assert _recovered(D_true, dl.components_) >= 15
    F = dl.history_["objective"]
    assert F.shape == (dl.n_iter_ + 1,)
    rel = (F[-2] - F[-1]) / F[-2]
    assert 0 <= rel <= dl.tol
    # stopped at its cap: the library's ConvergenceWarning, status "max_iter"
    with pytest.warns(ConvergenceWarning, match="DictionaryLearning.fit did not converge in 2 iterations"):
        capped = DictionaryLearning(16, lam=0.5, max_iter=2, tol=0, random_state=0).fit(X)
    assert capped.status_ == "max_iter" and not capped.converged_ and capped.n_iter_ == 2
    assert np.all(np.diff(F) <= 1e-12 * abs(F[0])), "batch objective increased"
    # the reported objective is the P1 objective recomputed independently
    Z, D = dl.codes_, dl.components_
    F_ind = np.mean(0.5 * ((X - Z @ D) ** 2).sum(1) + 0.5 * np.abs(Z).sum(1))
    assert F[-1] == pytest.approx(F_ind, rel=1e-10)
    assert np.all(np.linalg.norm(D, axis=1) <= 1 + 1e-12)
    assert match_atoms(D_true, D, max_shift=0).n_recovered() == _recovered(D_true, D)


def test_online_recovers_atoms(ksm_data):
    X, D_true, _ = ksm_data
    with pytest.warns(ConvergenceWarning):
        dl = DictionaryLearning(16, lam=0.5, solver="online", max_iter=10, batch_size=256, random_state=0).fit(X)
    assert _recovered(D_true, dl.components_) >= 15
    assert dl.n_iter_ == 10 and dl.solver_ == "online" and dl.history_["dict_change"].shape == (10,)
    # the function is the algorithm; the estimator a thin shell around it
    res = dict_learning(X, 16, lam=0.5, solver="online", max_iter=10, batch_size=256, random_state=0, warn=False)
    np.testing.assert_array_equal(res.components, dl.components_)


def test_unit_norm_dictionary_step_matches_cvxpy():
    rng = np.random.default_rng(1)
    K, p, n = 6, 5, 40
    Z = rng.standard_normal((n, K)) * (rng.random((n, K)) < 0.5)
    X = rng.standard_normal((n, p)) * 3
    A, B = Z.T @ Z / n, Z.T @ X / n
    D = update_dictionary(rng.standard_normal((K, p)) * 0.1, A, B, sweeps=500)
    Dv = cp.Variable((K, p))
    obj = 0.5 * cp.sum_squares(X - Z @ Dv) / n
    prob = cp.Problem(cp.Minimize(obj), [cp.norm(Dv[k]) <= 1 for k in range(K)])
    prob.solve(solver=cp.CLARABEL)
    ours = 0.5 * np.sum((X - Z @ D) ** 2) / n
    assert ours == pytest.approx(prob.value, rel=1e-6)
    assert np.all(np.linalg.norm(D, axis=1) <= 1 + 1e-12)


def test_ridge_dictionary_step_is_p1_closed_form():
    # 002 Appendix A: A* = XZᵀ/T (ZZᵀ/T + ωI)^{-1}; in our orientation D = (ZᵀZ/n + ωI)^{-1} ZᵀX/n
    rng = np.random.default_rng(2)
    K, p, n, om = 5, 7, 30, 0.3
    Z, X = rng.standard_normal((n, K)), rng.standard_normal((n, p))
    D = update_dictionary(np.zeros((K, p)), Z.T @ Z / n, Z.T @ X / n, constraint="ridge", omega=om)
    assert isinstance(D, np.ndarray)
    # gradient of (1/2n)‖X − ZD‖² + ω/2‖D‖² vanishes
    grad = -Z.T @ (X - Z @ D) / n + om * D
    np.testing.assert_allclose(grad, 0, atol=1e-12)


def test_ridge_fit_descends(ksm_data):
    X, _, _ = ksm_data
    dl = DictionaryLearning(16, lam=0.5, constraint="ridge", omega=1e-2, max_iter=15, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dl.fit(X[:300])
    F = dl.history_["objective"]
    assert np.all(np.diff(F) <= 1e-12 * abs(F[0]))
    assert F[-1] < F[0]


def test_online_statistics_are_running_means():
    """With forget_rate=0 the sufficient statistics are exact means over every sample seen, whatever the
    batch sizes (the normalisation bug of naive implementations weights batches, not samples)."""

    rng = np.random.default_rng(3)
    X = rng.standard_normal((70, 6))
    Z = X[:, :3] ** 2
    A = B = None
    n = 0
    for a, b in [(0, 10), (10, 13), (13, 70)]:
        A, B, n = update_statistics(A, B, n, Z[a:b], X[a:b], forget_rate=0.0)
    assert n == 70
    np.testing.assert_allclose(A, Z.T @ Z / 70, rtol=1e-12)
    np.testing.assert_allclose(B, Z.T @ X / 70, rtol=1e-12)
    # the estimator's partial_fit keeps the same statistics of its own codes
    dl = DictionaryLearning(3, forget_rate=0.0, random_state=0)
    for a, b in [(0, 10), (10, 13), (13, 70)]:
        dl.partial_fit(X[a:b])
    assert dl.n_iter_ == 3 and dl.n_samples_seen_ == 70
    assert dl.inner_stats_[0].shape == (3, 3) and dl.inner_stats_[1].shape == (3, 6)


def test_partial_fit_improves_and_transform(ksm_data):
    X, _, _ = ksm_data
    dl = DictionaryLearning(16, lam=0.5, random_state=0)
    dl.partial_fit(X[:200])
    F0 = dl.objective(X[:500])
    for s in range(200, 1500, 200):
        dl.partial_fit(X[s:s + 200])
    assert dl.objective(X[:500]) < F0
    Z = dl.transform(X[:10])
    assert Z.shape == (10, 16)
    np.testing.assert_allclose(dl.inverse_transform(Z), Z @ dl.components_)
    np.testing.assert_allclose(dl.inverse_transform(Representation(Z)), Z @ dl.components_)
    rep = dl.representation(X[:10])
    assert isinstance(rep, Representation)
    np.testing.assert_allclose(rep.Z, Z)


def test_dead_atom_reinitialised():
    rng = np.random.default_rng(4)
    X = np.zeros((200, 8))
    X[:, :4] = rng.standard_normal((200, 4))
    init = np.eye(8)[[0, 1, 2, 3, 7]]  # atom 4 (e7) is orthogonal to all data: never used
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dl = DictionaryLearning(5, lam=0.1, dict_init=init, max_iter=5, random_state=0).fit(X)
    assert dl.n_dead_reinit_ >= 1
    assert abs(dl.components_[4, 7]) < 0.5  # moved into the data subspace


def test_torch_in_torch_out_and_clone(ksm_data):
    X, _, _ = ksm_data
    Xt = torch.tensor(X[:200], dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dl = DictionaryLearning(8, lam=0.5, max_iter=3, random_state=0).fit(Xt)
        assert isinstance(dl.components_, torch.Tensor) and dl.components_.dtype == torch.float32
        assert isinstance(dl.transform(Xt), torch.Tensor) and dl.transform(Xt).dtype == torch.float32
        c = clone(dl)
        assert c.get_params()["n_components"] == 8 and not hasattr(c, "components_")
        # same seed, same result
        a = DictionaryLearning(8, lam=0.5, max_iter=3, random_state=5).fit(X[:200]).components_
        b = DictionaryLearning(8, lam=0.5, max_iter=3, random_state=5).fit(X[:200]).components_
        np.testing.assert_array_equal(a, b)
        # NumPy float32 stays float32
        d32 = DictionaryLearning(8, lam=0.5, max_iter=3, random_state=0).fit(X[:200].astype(np.float32))
        assert d32.components_.dtype == np.float32 and d32.transform(X[:5].astype(np.float32)).dtype == np.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda(ksm_data):
    X, D_true, _ = ksm_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dl = DictionaryLearning(16, lam=0.5, max_iter=60, random_state=0, device="cuda").fit(X)
    assert isinstance(dl.components_, np.ndarray)
    assert _recovered(D_true, dl.components_) >= 15


def test_bad_input(ksm_data):
    X, _, _ = ksm_data
    with pytest.raises(ValueError, match="n_components"):
        DictionaryLearning(0).fit(X)
    with pytest.raises(ValueError, match="lam"):
        DictionaryLearning(4, lam=-1).fit(X)
    with pytest.raises(ValueError, match="constraint"):
        DictionaryLearning(4, constraint="l2").fit(X)
    with pytest.raises(ValueError, match="omega"):
        DictionaryLearning(4, constraint="ridge", omega=0).fit(X)
    Xn = X[:50].copy()
    Xn[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DictionaryLearning(4).fit(Xn)
    with pytest.raises(ValueError, match="0 sample"):
        DictionaryLearning(4).partial_fit(X[:0])
    with pytest.raises(TypeError, match="X has dtype float16"):
        DictionaryLearning(4).fit(X.astype(np.float16))
    with pytest.raises(TypeError, match="X has dtype bool"):
        DictionaryLearning(4).fit(X > 0)
    with pytest.raises(TypeError, match="X has dtype"):
        DictionaryLearning(4).fit(torch.tensor(X, dtype=torch.float16))
    with pytest.raises(ValueError, match="dict_init"):
        DictionaryLearning(4, dict_init=np.ones((3, 30))).fit(X)
    with pytest.raises(ValueError, match="solver"):
        DictionaryLearning(4, solver="batchy").fit(X)
    with pytest.raises(ValueError, match="device"):
        DictionaryLearning(4, device="tpu").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dl = DictionaryLearning(4, max_iter=2, random_state=0).fit(X[:100])
    with pytest.raises(ValueError, match="features"):
        dl.transform(X[:5, :10])
    with pytest.raises(ValueError, match="features"):
        dl.partial_fit(X[:5, :10])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DictionaryLearning(4).transform(X)


def test_fit_then_partial_fit_and_transform_does_not_mutate(ksm_data):
    X, _, _ = ksm_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dl = DictionaryLearning(16, lam=0.5, max_iter=5, random_state=0).fit(X[:400])
    F0 = dl.objective(X[400:800])
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(dl).items()}
    dl.transform(X[:50])
    dl.objective(X[:50])
    assert vars(dl).keys() == state.keys()
    for k, v in vars(dl).items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, state[k])
        elif not isinstance(v, tuple):
            assert v == state[k] or v is state[k], k
    # continuing a batch fit online on new data (the statistics of the fit carry over)
    for s in range(400, 1500, 100):
        dl.partial_fit(X[s:s + 100])
    assert dl.n_samples_seen_ == 1500 and dl.n_iter_ == 5 + 11 and dl.solver_ == "online"
    assert dl.objective(X[400:800]) <= F0 * (1 + 1e-3)


