"""CRsAE: the unrolled encoder solves the family's sparse-coding problem (checked with cvxpy), gradients are
right (finite differences), training learns filters, bad input raises clear errors."""

import cvxpy as cp
import numpy as np
import pytest
import scipy.linalg as sl
import torch


from simcode.core import ConvergenceWarning
from simcode.sparse.atoms import match_atoms
from simcode.sparse.unrolled import CRsAE, safe_exp


def conv_matrix(h, T):
    K, L = h.shape
    return np.hstack([sl.convolution_matrix(h[k], T - L + 1, mode="full") for k in range(K)])


def _atoms(rng, K=2, L=6):
    h = rng.standard_normal((K, L))
    return h / np.linalg.norm(h, axis=1, keepdims=True)


def _fixed(family, h, lam, n_iter, **kw):
    """A CRsAE with given filters and no training (max_iter=0)."""
    return CRsAE(h.shape[0], h.shape[1], lam=lam, n_layers=n_iter, family=family, init=h, max_iter=0, **kw)


def test_gaussian_encoder_solves_nonneg_lasso():
    rng = np.random.default_rng(0)
    h = _atoms(rng)
    T = 40
    M = conv_matrix(h, T)
    y = M @ np.maximum(rng.standard_normal(M.shape[1]) - 1.2, 0) + 0.05 * rng.standard_normal(T)
    lam = 0.1
    z = cp.Variable(M.shape[1], nonneg=True)
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(y - M @ z) + lam * cp.sum(z))).solve(solver=cp.CLARABEL)
    ae = _fixed("gaussian", h, lam, 3000).fit(y[None])
    x = ae.transform(y[None])
    np.testing.assert_allclose(x.ravel(), z.value, atol=2e-3)


def test_poisson_encoder_solves_poisson_l1_problem():
    rng = np.random.default_rng(1)
    h = _atoms(rng)
    T = 40
    M = conv_matrix(h, T)
    y = rng.poisson(np.exp(0.3 + M @ np.maximum(rng.standard_normal(M.shape[1]) - 1.0, 0))).astype(float)
    lam = 0.5
    ae = _fixed("poisson", h, lam, 4000).fit(y[None])
    b = float(ae.bias_[0])
    z = cp.Variable(M.shape[1], nonneg=True)
    eta = M @ z + b
    cp.Problem(cp.Minimize(cp.sum(cp.exp(eta) - cp.multiply(y, eta)) + lam * cp.sum(z))).solve(solver=cp.CLARABEL)
    x = ae.transform(y[None])
    np.testing.assert_allclose(x.ravel(), z.value, atol=5e-3)
    # the decoder mean is exp(H x + b)
    np.testing.assert_allclose(ae.predict(y[None])[0], np.exp(M @ x.ravel() + b), rtol=1e-10)


def test_binomial_encoder_solves_logistic_l1_problem():
    rng = np.random.default_rng(2)
    h = _atoms(rng)
    T, Mtr = 40, 5
    M = conv_matrix(h, T)
    p = 1 / (1 + np.exp(-(-0.5 + M @ np.maximum(rng.standard_normal(M.shape[1]) - 1.0, 0))))
    y = rng.binomial(Mtr, p).astype(float)
    lam = 0.05
    ae = _fixed("binomial", h, lam, 4000, n_trials=Mtr).fit(y[None])
    b = float(ae.bias_[0])
    z = cp.Variable(M.shape[1], nonneg=True)
    eta = M @ z + b
    nll = cp.sum(Mtr * cp.logistic(eta) - cp.multiply(y, eta)) / Mtr  # the encoder's objective is NLL / M
    cp.Problem(cp.Minimize(nll + lam * cp.sum(z))).solve(solver=cp.CLARABEL)
    np.testing.assert_allclose(ae.transform(y[None]).ravel(), z.value, atol=5e-3)


@pytest.mark.parametrize("family", ["gaussian", "poisson", "binomial"])
def test_loss_gradient_matches_finite_differences(family):
    rng = np.random.default_rng(3)
    h = _atoms(rng, K=2, L=4)
    y = rng.poisson(2.0, size=(2, 16)).astype(float) if family != "binomial" else rng.binomial(3, 0.4, (2, 16)) * 1.0
    ae = CRsAE(2, 4, lam=0.05, n_layers=5, family=family, init=h, max_iter=0, n_trials=3, step=0.05,
               prior="l1").fit(y)
    yt = torch.tensor(y[:, None])

    def f(H):
        ae.module_.H = H
        return ae.module_.forward_loss(yt)

    H = ae.module_.H.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (H,), eps=1e-6, atol=1e-6)


def test_safe_exp_is_exp_below_cap_and_finite_above():
    e = torch.tensor([-3.0, 0.0, 10.0, 15.0, 1e6], dtype=torch.float64)
    out = safe_exp(e)
    np.testing.assert_allclose(out[:4].numpy(), np.exp(e[:4].numpy()))
    assert torch.isfinite(out).all()


def _toy(rng, K=2, L=10, T=120, N=96):
    t = np.arange(L)
    h = np.stack([np.sin(2 * np.pi * t / L) * np.hanning(L), np.exp(-((t - 4) / 1.8) ** 2)])
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    Y = np.zeros((N, T))
    for n in range(N):
        for k in range(K):
            x = np.zeros(T - L + 1)
            x[rng.choice(T - L + 1, 2, replace=False)] = rng.uniform(3, 5, 2)
            Y[n] += np.convolve(x, h[k])
    return h, Y + 0.05 * rng.standard_normal(Y.shape)


def test_training_keeps_true_filters_and_reduces_loss():
    rng = np.random.default_rng(4)
    h, Y = _toy(rng)
    # the true dictionary is (near) a minimiser of the CRsAE loss: training from it stays within err < 0.1
    ae = CRsAE(2, 10, lam=0.3, n_layers=100, max_iter=3, batch_size=16, lr=0.003, backprop="decoder", init=h,
               random_state=0).fit(Y)
    assert match_atoms(h, ae.atoms_).errors.max() < 0.1
    np.testing.assert_allclose(np.linalg.norm(ae.atoms_, axis=1), 1.0, atol=1e-10)
    # from a perturbed dictionary, back-propagation through the unrolled encoder lowers the loss
    init = h + 0.1 * rng.standard_normal(h.shape)
    ae2 = CRsAE(2, 10, lam=0.3, n_layers=20, max_iter=4, batch_size=16, lr=0.01, backprop="full", init=init,
                random_state=0).fit(Y)
    assert ae2.history_["loss"][-1] < ae2.history_["loss"][0]


def test_untied_and_learned_lambda_move():
    rng = np.random.default_rng(5)
    Y = np.abs(rng.standard_normal((16, 40)))
    ae = CRsAE(2, 5, lam=0.2, n_layers=5, tied=False, learn_lambda=True, max_iter=2, batch_size=8,
               random_state=0).fit(Y)
    assert ae.lam_ != pytest.approx(0.2)
    assert not np.allclose(ae.encoder_atoms_, ae.atoms_)
    xt = ae.transform(torch.tensor(Y))
    assert isinstance(xt, torch.Tensor) and xt.shape == (16, 2, 36)


def test_bad_inputs():
    y = np.abs(np.random.default_rng(6).standard_normal((4, 30)))
    with pytest.raises(ValueError, match="integer counts"):
        CRsAE(2, 5, family="poisson").fit(y)
    with pytest.raises(ValueError, match="n_trials"):
        CRsAE(2, 5, family="binomial", n_trials=2).fit(np.full((4, 30), 3.0))
    with pytest.raises(ValueError, match="family"):
        CRsAE(2, 5, family="gamma").fit(y)
    with pytest.raises(ValueError, match="shorter than the filters"):
        CRsAE(2, 50).fit(y)
    with pytest.raises(ValueError, match="channels"):
        CRsAE(2, 5, n_channels=2).fit(np.ones((4, 3, 30)))
    bad = y.copy()
    bad[0, 3:6] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CRsAE(2, 5).fit(bad)
    with pytest.raises(ValueError, match="not fitted"):
        CRsAE(2, 5).transform(y)


def test_divergence_is_reported():
    rng = np.random.default_rng(7)
    y = rng.standard_normal((8, 40))
    with pytest.raises(RuntimeError, match="step"):  # step 1e3 >> 1/L: the unrolled FISTA blows up to NaN
        CRsAE(2, 5, step=1e3, lam=1e-3, n_layers=300, max_iter=2, batch_size=8, prior="l1",
              random_state=0).fit(y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_training_matches_eager():
    rng = np.random.default_rng(8)
    Y = np.abs(rng.standard_normal((32, 60)))
    kw = dict(lam=0.2, n_layers=10, max_iter=2, batch_size=16, random_state=0, device="cuda")
    a = CRsAE(2, 6, cuda_graph=True, **kw).fit(Y)
    b = CRsAE(2, 6, cuda_graph=False, **kw).fit(Y)
    np.testing.assert_allclose(a.atoms_, b.atoms_, atol=1e-4)
    np.testing.assert_allclose(a.transform(Y), b.transform(Y), atol=1e-4)


@pytest.mark.parametrize("prior,lam", [("l1_nonneg", 0.5), ("l1_nonneg", 0.01), ("l1", 0.3)])
@pytest.mark.parametrize("tied,C", [(True, 1), (False, 1), (True, 2)])
def test_compiled_encoder_matches_torch_loop(prior, lam, tied, C):
    # the numba kernel (sparse-Gram and dense iterations) reproduces the torch unrolled loop, same momenta
    rng = np.random.default_rng(9)
    h = rng.standard_normal((3, C, 7))
    h /= np.linalg.norm(h.reshape(3, -1), axis=1)[:, None, None]
    x = np.maximum(rng.standard_normal((5, 3, 54)) - 1.5, 0) * 3
    y = np.stack([[sum(np.convolve(x[n, k], h[k, c]) for k in range(3)) for c in range(C)] for n in range(5)])
    y += 0.1 * rng.standard_normal(y.shape)
    ae = CRsAE(3, 7, lam=lam, n_layers=60, prior=prior, n_channels=C, init=h, max_iter=0, tied=tied,
               solver="numba").fit(y)
    if not tied:
        ae.module_.E = ae.module_.H.detach() + 0.05 * torch.tensor(rng.standard_normal(h.shape))
    fast = ae.transform(y)
    ref = ae.set_params(solver="torch").transform(y)  # the solver is read at transform time
    assert np.abs(ref).max() > 0.1
    np.testing.assert_allclose(fast, ref, atol=1e-10)


def test_decoder_backprop_gradient_is_the_fixed_code_gradient():
    # backprop="decoder": dLoss/dH = gradient of mean ½(y - Hx)² at the encoder's codes x held fixed,
    # checked against central finite differences with an explicit convolution matrix
    rng = np.random.default_rng(10)
    h = _atoms(rng, K=2, L=5)
    y = rng.standard_normal((3, 30))
    ae = CRsAE(2, 5, lam=0.05, n_layers=30, prior="l1", init=h, max_iter=0, backprop="decoder").fit(y)
    x = ae.transform(y)  # (3, 2, 26)
    ae.module_.H.grad = None
    ae.module_.forward_loss(torch.tensor(y[:, None])).backward()
    g = ae.module_.H.grad.numpy()[:, 0]

    def loss(hh):
        return sum(0.5 * np.sum((y[n] - conv_matrix(hh, 30) @ x[n].ravel()) ** 2) for n in range(3)) / y.size

    fd = np.zeros_like(h)
    for k in range(2):
        for i in range(5):
            e = np.zeros_like(h)
            e[k, i] = 1e-6
            fd[k, i] = (loss(h + e) - loss(h - e)) / 2e-6
    np.testing.assert_allclose(g, fd, atol=1e-7)


def test_callback_every_minibatches():
    rng = np.random.default_rng(11)
    Y = np.abs(rng.standard_normal((40, 30)))
    seen = []
    CRsAE(2, 5, n_layers=5, max_iter=2, batch_size=8, callback=lambda e, est: seen.append(e), callback_every=2,
          tol=0.0, random_state=0).fit(Y)
    # 5 batches per epoch: after batches 2 and 4, then the epoch end
    assert seen == pytest.approx([0.4, 0.8, 0, 1.4, 1.8, 1])
    with pytest.raises(ValueError, match="callback_every"):
        CRsAE(2, 5, callback_every=0).fit(Y)
    with pytest.raises(ValueError, match="solver"):
        CRsAE(2, 5, solver="cuda").fit(Y)
    with pytest.raises(ValueError, match="solver='numba'"):  # the compiled encoder is Gaussian-only
        CRsAE(2, 5, family="poisson", solver="numba").fit(np.ones((4, 30)))


def test_supervised_loss_is_squared_error_of_the_decoder_mean():
    rng = np.random.default_rng(14)
    h = _atoms(rng, K=2, L=5)
    clean = np.exp(0.3 + 0.5 * np.sin(np.arange(40) / 4.0))[None].repeat(3, 0)
    noisy = rng.poisson(clean).astype(float)
    ae = CRsAE(2, 5, lam=0.3, n_layers=10, family="poisson", residual="elu", prior="l1", init=h,
               max_iter=0).fit(noisy, target=clean)
    loss = float(ae.module_.forward_loss(torch.tensor(noisy[:, None]), torch.tensor(clean[:, None])))
    assert loss == pytest.approx(0.5 * np.mean((ae.predict(noisy) - clean) ** 2), rel=1e-10)
    with pytest.raises(ValueError, match="target"):
        CRsAE(2, 5, family="poisson").fit(noisy, target=clean[:2])


def test_supervised_training_lowers_the_denoising_error():
    rng = np.random.default_rng(15)
    h, clean = _toy(rng, N=64)
    noisy = clean + 0.3 * rng.standard_normal(clean.shape)
    init = h + 0.2 * rng.standard_normal(h.shape)
    ae = CRsAE(2, 10, lam=0.3, n_layers=15, max_iter=4, batch_size=16, lr=0.01, init=init,
               random_state=0).fit(noisy, target=clean)
    assert ae.history_["loss"][-1] < 0.8 * ae.history_["loss"][0]
    assert np.mean((ae.predict(noisy) - clean) ** 2) < np.mean((noisy - clean) ** 2)


def test_training_warns_at_its_cap_and_stops_on_a_plateau():
    rng = np.random.default_rng(16)
    Y = rng.standard_normal((16, 30))
    with pytest.warns(ConvergenceWarning, match="CRsAE"):
        ae = CRsAE(2, 5, n_layers=5, max_iter=2, batch_size=8, tol=0.0, random_state=0).fit(Y)
    assert ae.status_ == "max_iter" and not ae.converged_ and ae.n_iter_ == 2
    assert set(ae.history_) == {"loss", "time_s"} and ae.history_["loss"].shape == (2,)
    # lr so small that the filters do not move: the loss plateaus at once and training stops converged
    ae2 = CRsAE(2, 5, n_layers=5, max_iter=50, batch_size=8, lr=1e-12, tol=1e-6, random_state=0).fit(Y)
    assert ae2.converged_ and ae2.n_iter_ == 2
    loss = ae2.history_["loss"]
    assert abs(loss[1] - loss[0]) <= 1e-6 * abs(loss[1])
    # float32 in -> float32 codes and predictions; representation flattens the codes per signal
    Z = ae2.transform(Y.astype(np.float32))
    assert Z.dtype == np.float32 and Z.shape == (16, 2, 26)
    assert ae2.predict(Y).shape == Y.shape
    assert ae2.representation(Y).Z.shape == (16, 52)


