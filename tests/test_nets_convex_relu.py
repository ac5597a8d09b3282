"""ConvexReLU: the convex optimum is attained by the recovered ReLU network, gradient training never beats it,
the whitened closed form of paper 003 holds, the torch solver agrees with the interior-point one."""

import warnings

import numpy as np
import pytest
import torch

from simcode.nets import ConvexReLU


def _all_gates_2d(X):
    """Exhaustive gates in 2-D: one direction inside every arc between consecutive boundary angles."""
    ang = np.sort(np.mod(np.r_[np.arctan2(X[:, 1], X[:, 0]) + np.pi / 2, np.arctan2(X[:, 1], X[:, 0]) - np.pi / 2],
                         2 * np.pi))
    mids = (ang + np.roll(ang, -1) + np.r_[np.zeros(len(ang) - 1), 2 * np.pi]) / 2
    return np.vstack([np.cos(mids), np.sin(mids)])


def _data2d(n=14, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 - 0.5
    return X, y


def _adam_relu(X, Y, lam, M=30, n_seeds=6, steps=1500, seed=0):
    """Non-convex objective ‖Y − relu(XW1ᵀ)W2ᵀ‖² + (λ/2)(‖W1‖² + ‖W2‖²), Adam from several initialisations."""
    g = torch.Generator().manual_seed(seed)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y.reshape(len(X), -1))
    W1 = (torch.randn(n_seeds, M, X.shape[1], generator=g, dtype=torch.float64) * 0.5).requires_grad_()
    W2 = (torch.randn(n_seeds, Yt.shape[1], M, generator=g, dtype=torch.float64) * 0.5).requires_grad_()
    opt = torch.optim.Adam([W1, W2], lr=0.02)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    best = np.full(n_seeds, np.inf)
    for _ in range(steps):
        opt.zero_grad()
        F = torch.relu(Xt @ W1.transpose(1, 2)) @ W2.transpose(1, 2)
        per = ((Yt - F) ** 2).sum((1, 2)) + lam / 2 * ((W1 ** 2).sum((1, 2)) + (W2 ** 2).sum((1, 2)))
        best = np.minimum(best, per.detach().numpy())
        per.sum().backward()
        opt.step()
        sched.step()
    return best


def test_recovered_network_attains_convex_optimum_and_adam_never_beats_it():
    X, y = _data2d()
    lam = 0.1
    m = ConvexReLU(lam=lam, gates=_all_gates_2d(X)).fit(X, y)
    assert m.converged_
    # the recovered ReLU network realises the convex optimum exactly
    assert m.network_objective_ == pytest.approx(m.objective_, rel=1e-7)
    assert m.network_objective(X, y) == pytest.approx(m.objective_, rel=1e-7)
    # certificate: the dual bound closes the gap
    assert m.gap_ <= 1e-6 * m.objective_
    best = _adam_relu(X, y, lam)
    assert best.min() >= m.objective_ * (1 - 1e-4)
    assert best.min() <= m.objective_ * 1.05       # and gradient training gets close from some start


def test_torch_solver_matches_interior_point():
    """ADMM (solver="torch") against Clarabel on the same convex programs; exhaustive 2-D gates, so no ReLU network
    can beat the convex optimum and the certified bound must lie below it."""
    X, y = _data2d(n=8, seed=1)
    gates = _all_gates_2d(X)
    cases = [("squared", y, False, 1e-4, 4000), ("squared", y, True, 1e-6, 4000),
             ("squared", np.c_[y, np.cos(X[:, 0])], True, 1e-6, 4000),      # nuclear-norm (vector-output) program
             ("logistic", np.where(y > np.median(y), 1.0, -1.0), True, 1e-4, 4000)]
    for loss, tgt, gated, rel, iters in cases:
        ref = ConvexReLU(loss=loss, lam=0.2, gates=gates, gated=gated, solver="cvxpy").fit(X, tgt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = ConvexReLU(loss=loss, lam=0.2, gates=gates, gated=gated, solver="torch", tol=1e-7,
                           max_iter=iters).fit(X, tgt)
        case = (loss, np.shape(tgt), gated)
        assert m.solver_ == "torch"
        assert m.network_objective_ == pytest.approx(ref.objective_, rel=rel), case
        assert m.lower_bound_ <= ref.objective_ * (1 + 1e-7), case          # a valid lower bound
        assert m.network_objective_ >= ref.objective_ * (1 - 1e-6), case
        assert m.gap_ <= 20 * rel * ref.objective_, case                    # and a useful one
        if gated:
            assert m.converged_, case


def test_torch_solver_bad_solver_name():
    X, y = _data2d()
    with pytest.raises(ValueError, match="solver"):
        ConvexReLU(solver="fista").fit(X, y)


def test_whitened_one_hot_closed_form_and_collapse():
    """Paper 003 Corollaries 1-2: X = I, Y one-hot balanced ⇒ V* = Σ(σ_i − λ/2)₊ a_i b_iᵀ and the hidden-layer
    kernel is ∝ K_Y."""
    C, per = 3, 2
    n = C * per
    X = np.eye(n)
    labels = np.repeat(np.arange(C), per)
    Y = np.eye(C)[labels]
    lam = 0.3
    rng = np.random.default_rng(0)
    m = ConvexReLU(lam=lam, n_patterns=3000, random_state=rng).fit(X, Y)
    U, s, Vt = np.linalg.svd(Y, full_matrices=False)
    Vstar = (U * np.maximum(s - lam / 2, 0)) @ Vt
    closed = np.sum((Y - Vstar) ** 2) + lam * np.sum(np.maximum(s - lam / 2, 0))
    assert m.objective_ == pytest.approx(closed, rel=1e-6)
    np.testing.assert_allclose(m.decision_function(X), Vstar, atol=1e-5)
    W1, W2 = m.to_network()
    H = np.maximum(X @ W1.T, 0)
    K, KY = H @ H.T, Y @ Y.T
    np.testing.assert_allclose(K, np.sum(K * KY) / np.sum(KY * KY) * KY, atol=1e-4)  # interior-point accuracy


def test_gated_vector_output_nuclear_norm_program():
    X, y = _data2d(n=12, seed=2)
    X = np.c_[X, np.ones(len(X))]
    Y = np.c_[y, np.cos(X[:, 0])]
    m = ConvexReLU(lam=0.1, gated=True, n_patterns=60, random_state=0).fit(X, Y)
    assert m.converged_
    assert m.network_objective_ == pytest.approx(m.objective_, rel=1e-7)
    assert m.gap_ <= 1e-5 * m.objective_
    # gated units share gates: the number of units may exceed the number of distinct gates used
    assert m.to_network()[0].shape[0] >= len(set(m.neuron_gates_.tolist()))


def test_logistic_loss_certificate():
    X, y = _data2d(n=16, seed=3)
    lab = np.where(y > np.median(y), 1.0, -1.0)
    m = ConvexReLU(loss="logistic", lam=0.05, gates=_all_gates_2d(X)).fit(X, lab)
    assert m.gap_ <= 1e-3 * m.objective_          # exponential-cone interior point: ~1e-4 relative accuracy
    assert m.network_objective_ == pytest.approx(m.objective_, rel=1e-6)
    assert np.mean(m.predict(X) == lab) > 0.8


def test_bad_inputs():
    X, y = _data2d()
    with pytest.raises(ValueError, match="lam"):
        ConvexReLU(lam=0).fit(X, y)
    with pytest.raises(ValueError, match="rows"):
        ConvexReLU().fit(X, y[:-1])
    with pytest.raises(ValueError, match="single class"):
        ConvexReLU(loss="cross_entropy").fit(X, np.zeros(len(X), int))
    with pytest.raises(ValueError, match="NaN"):
        ConvexReLU().fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="loss"):
        ConvexReLU(loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match="fit"):
        ConvexReLU().to_network()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_torch_solver_matches_cpu():
    X, y = _data2d(n=10, seed=4)
    gates = _all_gates_2d(X)
    ref = ConvexReLU(lam=0.2, gates=gates, gated=True, solver="cvxpy").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ConvexReLU(lam=0.2, gates=gates, gated=True, solver="torch", device="cuda", dtype=torch.float64,
                       max_iter=3000).fit(X, y)
    assert m.coef_.device.type == "cuda"
    assert m.objective_ == pytest.approx(ref.objective_, rel=1e-2)
