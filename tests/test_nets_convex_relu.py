"""ConvexReLURegressor / ConvexReLUClassifier: the convex optimum is attained by the recovered ReLU network,
gradient training never beats it, the whitened closed form of paper 003 holds, the torch solver agrees with the
interior-point one, labels round-trip, and both estimators pass scikit-learn's estimator checks."""

import warnings

import numpy as np
import pytest
import torch


from simcode.core import ConvergenceWarning
from simcode.nets import ConvexReLUClassifier, ConvexReLURegressor, convex_relu_fit


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
    m = ConvexReLURegressor(lam=lam, gates=_all_gates_2d(X)).fit(X, y)
    assert m.converged_ and m.status_ == "converged"
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
        ref = convex_relu_fit(X, tgt, loss=loss, lam=0.2, gates=gates, gated=gated, solver="cvxpy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if loss == "squared":
                m = ConvexReLURegressor(lam=0.2, gates=gates, gated=gated, solver="torch", tol=1e-7,
                                        max_iter=iters).fit(X, tgt)
            else:                                   # the classifier maps labels {0, 1} to the ±1 targets
                m = ConvexReLUClassifier(loss=loss, lam=0.2, gates=gates, gated=gated, solver="torch", tol=1e-7,
                                         max_iter=iters).fit(X, (tgt > 0).astype(int))
        case = (loss, np.shape(tgt), gated)
        assert m.solver_ == "torch"
        assert m.network_objective_ == pytest.approx(ref.objective, rel=rel), case
        assert m.lower_bound_ <= ref.objective * (1 + 1e-7), case          # a valid lower bound
        assert m.network_objective_ >= ref.objective * (1 - 1e-6), case
        assert m.gap_ <= 20 * rel * ref.objective, case                    # and a useful one
        if gated:
            assert m.converged_, case


def test_torch_solver_bad_solver_name():
    X, y = _data2d()
    with pytest.raises(ValueError, match="solver"):
        ConvexReLURegressor(solver="fista").fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        convex_relu_fit(X, y, solver="fista")


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
    m = ConvexReLURegressor(lam=lam, n_patterns=3000, random_state=rng).fit(X, Y)
    U, s, Vt = np.linalg.svd(Y, full_matrices=False)
    Vstar = (U * np.maximum(s - lam / 2, 0)) @ Vt
    closed = np.sum((Y - Vstar) ** 2) + lam * np.sum(np.maximum(s - lam / 2, 0))
    assert m.objective_ == pytest.approx(closed, rel=1e-6)
    np.testing.assert_allclose(m.predict(X), Vstar, atol=1e-5)
    W1, W2 = m.to_network()
    H = np.maximum(X @ W1.T, 0)
    K, KY = H @ H.T, Y @ Y.T
    np.testing.assert_allclose(K, np.sum(K * KY) / np.sum(KY * KY) * KY, atol=1e-4)  # interior-point accuracy


def test_gated_vector_output_nuclear_norm_program():
    X, y = _data2d(n=12, seed=2)
    X = np.c_[X, np.ones(len(X))]
    Y = np.c_[y, np.cos(X[:, 0])]
    m = ConvexReLURegressor(lam=0.1, gated=True, n_patterns=60, random_state=0).fit(X, Y)
    assert m.converged_
    assert m.network_objective_ == pytest.approx(m.objective_, rel=1e-7)
    assert m.gap_ <= 1e-5 * m.objective_
    # gated units share gates: the number of units may exceed the number of distinct gates used
    assert m.to_network()[0].shape[0] >= len(set(m.neuron_gates_.tolist()))


def test_logistic_loss_certificate():
    X, y = _data2d(n=16, seed=3)
    lab = np.where(y > np.median(y), 1.0, -1.0)
    m = ConvexReLUClassifier(loss="logistic", lam=0.05, gates=_all_gates_2d(X)).fit(X, lab)
    assert m.gap_ <= 1e-3 * m.objective_          # exponential-cone interior point: ~1e-4 relative accuracy
    assert m.network_objective_ == pytest.approx(m.objective_, rel=1e-6)
    assert np.mean(m.predict(X) == lab) > 0.8


def test_bad_inputs():
    X, y = _data2d()
    with pytest.raises(ValueError, match="lam"):
        ConvexReLURegressor(lam=0).fit(X, y)
    with pytest.raises(ValueError, match="lam"):
        convex_relu_fit(X, y, lam=0)
    with pytest.raises(ValueError):
        ConvexReLURegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="rows"):
        convex_relu_fit(X, y[:-1])
    with pytest.raises(ValueError, match="single class"):
        ConvexReLUClassifier().fit(X, np.zeros(len(X), int))
    with pytest.raises(ValueError, match="NaN"):
        ConvexReLURegressor().fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="loss"):
        ConvexReLUClassifier(loss="hinge").fit(X, y > 0)
    with pytest.raises(ValueError, match="fit"):
        ConvexReLURegressor().to_network()
    with pytest.raises(ValueError, match="-1, \\+1"):
        convex_relu_fit(X, (y > 0).astype(float), loss="logistic")
    m = ConvexReLURegressor(n_patterns=20, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):                 # predict validates its input too
        m.predict(np.where(X > 1, np.nan, X))
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :1])


def test_regressor_output_shapes_follow_y():
    X, y = _data2d(n=12, seed=5)
    gates = _all_gates_2d(X)
    m1 = ConvexReLURegressor(lam=0.1, gates=gates).fit(X, y)
    assert m1.predict(X).shape == (12,)
    m2 = ConvexReLURegressor(lam=0.1, gates=gates).fit(X, y[:, None])
    assert m2.predict(X).shape == (12, 1)
    np.testing.assert_allclose(m2.predict(X)[:, 0], m1.predict(X), atol=1e-7)
    # the prediction is the recovered network relu(X W1ᵀ) W2ᵀ, evaluated here with plain NumPy
    W1, W2 = m1.to_network()
    np.testing.assert_allclose(m1.predict(X), (np.maximum(X @ W1.T, 0) @ W2.T)[:, 0], atol=1e-12)
    H = m1.representation(X)
    np.testing.assert_allclose(H.Z, np.maximum(X @ W1.T, 0), atol=1e-12)


def test_classifier_labels_round_trip_and_probabilities():
    """Labels {0, 1}, strings and ±1 give the same fit and come back as given (the old ConvexReLU predicted
    ±1 for {0, 1} labels); probabilities are σ(f) of the recovered network, evaluated independently."""
    X, y = _data2d(n=16, seed=3)
    gates = _all_gates_2d(X)
    pm = np.where(y > np.median(y), 1, -1)
    fits = {}
    for name, lab in {"pm": pm, "01": (pm > 0).astype(int), "str": np.where(pm > 0, "yes", "no")}.items():
        m = ConvexReLUClassifier(loss="logistic", lam=0.05, gates=gates).fit(X, lab)
        pred = m.predict(X)
        assert set(np.unique(pred)) <= set(np.unique(lab)) and pred.dtype == lab.dtype
        assert np.mean(pred == lab) > 0.8
        fits[name] = m
    np.testing.assert_allclose(fits["01"].decision_function(X), fits["pm"].decision_function(X), atol=1e-9)
    np.testing.assert_allclose(fits["str"].decision_function(X), fits["pm"].decision_function(X), atol=1e-9)
    m = fits["str"]
    W1, W2 = m.to_network()
    f = (np.maximum(X @ W1.T, 0) @ W2.T)[:, 0]
    P = m.predict_proba(X)
    np.testing.assert_allclose(P[:, 1], 1 / (1 + np.exp(-f)), atol=1e-12)
    np.testing.assert_allclose(np.exp(m.predict_log_proba(X)), P, atol=1e-12)
    assert list(m.classes_) == ["no", "yes"]
    np.testing.assert_array_equal(m.predict(X), m.classes_[P.argmax(1)])
    # the logistic objective of the recovered network, computed here, equals the convex optimum
    t = pm.astype(float)
    direct = np.sum(np.logaddexp(0, -t * f)) + 0.05 / 2 * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    assert direct == pytest.approx(m.objective_, rel=1e-6)
    # the squared loss has no probabilities
    assert not hasattr(ConvexReLUClassifier(loss="squared"), "predict_proba")


def test_classifier_multiclass_one_output_per_class():
    """Three classes: one output per class; with the squared loss the classifier is the regressor on ±1
    one-vs-rest targets; with the logistic loss the recovered network attains the cross-entropy optimum
    (checked against the loss computed here) with a certified gap."""
    rng = np.random.default_rng(7)
    X = np.c_[rng.normal(size=(18, 2)), np.ones(18)]
    lab = np.array(["a", "b", "c"])[np.argmax(X[:, :2] @ np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]]), 1)]
    gates = rng.normal(size=(3, 40))
    sq = ConvexReLUClassifier(loss="squared", lam=0.1, gates=gates).fit(X, lab)
    T = 2.0 * (lab[:, None] == np.array(["a", "b", "c"])[None]) - 1.0
    reg = ConvexReLURegressor(lam=0.1, gates=gates).fit(X, T)
    assert sq.decision_function(X).shape == (18, 3)
    np.testing.assert_allclose(sq.decision_function(X), reg.predict(X), atol=1e-6)
    np.testing.assert_array_equal(sq.predict(X), sq.classes_[reg.predict(X).argmax(1)])
    lg = ConvexReLUClassifier(loss="logistic", lam=0.1, gates=gates).fit(X, lab)
    W1, W2 = lg.to_network()
    F = np.maximum(X @ W1.T, 0) @ W2.T
    onehot = (T + 1) / 2
    ce = np.sum(np.log(np.exp(F).sum(1)) - (F * onehot).sum(1)) + 0.05 * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    assert ce == pytest.approx(lg.objective_, rel=1e-5)
    assert lg.gap_ <= 1e-3 * lg.objective_
    P = lg.predict_proba(X)
    np.testing.assert_allclose(P, np.exp(F) / np.exp(F).sum(1, keepdims=True), atol=1e-10)
    assert np.mean(lg.predict(X) == lab) > 0.8


def test_solver_protocol_and_warning_at_the_cap():
    X, y = _data2d(n=10, seed=6)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        m = ConvexReLURegressor(lam=0.2, gates=_all_gates_2d(X), solver="torch", max_iter=30).fit(X, y)
    assert m.status_ == "max_iter" and not m.converged_ and m.n_iter_ == 30
    assert isinstance(m.history_, dict) and {"objective", "lower_bound", "gap"} <= set(m.history_)
    assert len({len(v) for v in m.history_.values()}) == 1 and m.history_["gap"].ndim == 1
    res = m.result_
    assert res.certificate.lower_bound == m.lower_bound_ and res.certificate.gap == pytest.approx(m.gap_)
    with pytest.warns(ConvergenceWarning):
        r = convex_relu_fit(X, y, lam=0.2, gates=_all_gates_2d(X), solver="torch", max_iter=30)
    assert r.status == "max_iter" and r.n_iter == 30
    ok = convex_relu_fit(X, y, lam=0.2, gates=_all_gates_2d(X), solver="cvxpy")
    assert ok.converged and ok.solver == "cvxpy" and len(ok.history["objective"]) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_torch_solver_matches_cpu():
    X, y = _data2d(n=10, seed=4)
    gates = _all_gates_2d(X)
    ref = ConvexReLURegressor(lam=0.2, gates=gates, gated=True, solver="cvxpy").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ConvexReLURegressor(lam=0.2, gates=gates, gated=True, solver="torch", device="cuda",
                                dtype=torch.float64, max_iter=3000).fit(X, y)
    assert m.coef_.device.type == "cuda"
    assert m.objective_ == pytest.approx(ref.objective_, rel=1e-2)
