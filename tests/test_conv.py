"""Convolutional sparse coding and dictionary learning: checked against scipy convolutions, explicit
convolution matrices, cvxpy and closed forms."""


import cvxpy as cp
import numpy as np
import pytest
import scipy.linalg as sl
import scipy.signal as ss
import torch


from simcode.core import Certificate, ConvergenceWarning, SolverResult
from simcode.sparse._convolution import ConvOperator
from simcode.sparse.conv import (ConvDictionaryLearning, init_atoms, conv_lipschitz, conv_sparse_code,
                                 conv_synthesis)
from simcode.sparse.atoms import match_atoms


def conv_matrix(h, T):
    """Explicit matrix of x (K×(T-L+1) stacked) -> sum_k h_k * x_k (length T), single channel."""
    K, L = h.shape
    return np.hstack([sl.convolution_matrix(h[k], T - L + 1, mode="full") for k in range(K)])


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_operator_matches_scipy_and_adjoint(method):
    rng = np.random.default_rng(0)
    K, C, L, T = 3, 2, 7, 40
    h = torch.tensor(rng.standard_normal((K, C, L)))
    x = torch.tensor(rng.standard_normal((2, K, T - L + 1)))
    y = torch.tensor(rng.standard_normal((2, C, T)))
    op = ConvOperator(h, (T,), method)
    Hx = op.synth(x).numpy()
    ref = np.zeros((2, C, T))
    for n in range(2):
        for c in range(C):
            ref[n, c] = sum(np.convolve(x[n, k].numpy(), h[k, c].numpy()) for k in range(K))
    np.testing.assert_allclose(Hx, ref, atol=1e-10)
    # adjoint identity <Hx, y> = <x, H^T y>
    lhs = float((op.synth(x) * y).sum())
    rhs = float((x * op.adjoint(y)).sum())
    assert abs(lhs - rhs) < 1e-9 * max(1, abs(lhs))


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_operator_2d_matches_scipy(method):
    rng = np.random.default_rng(1)
    h = rng.standard_normal((2, 1, 3, 4))
    x = rng.standard_normal((1, 2, 6, 5))
    op = ConvOperator(torch.tensor(h), (8, 8), method)
    ref = sum(ss.convolve2d(x[0, k], h[k, 0]) for k in range(2))
    np.testing.assert_allclose(op.synth(torch.tensor(x)).numpy()[0, 0], ref, atol=1e-10)
    y = rng.standard_normal((1, 1, 8, 8))
    adj = op.adjoint(torch.tensor(y)).numpy()
    ref_adj = ss.correlate2d(y[0, 0], h[1, 0], mode="valid")
    np.testing.assert_allclose(adj[0, 1], ref_adj, atol=1e-10)


def test_lipschitz_is_a_tight_upper_bound():
    rng = np.random.default_rng(2)
    h = rng.standard_normal((3, 18))
    true = np.linalg.norm(conv_matrix(h, 400), 2) ** 2
    bound = conv_lipschitz(h)
    assert true <= bound <= 1.1 * true
    # multichannel: stack the channel matrices vertically
    h2 = rng.standard_normal((2, 3, 9))
    M = np.vstack([np.hstack([sl.convolution_matrix(h2[k, c], 300 - 8, mode="full") for k in range(2)])
                   for c in range(3)])
    true2 = np.linalg.norm(M, 2) ** 2
    assert true2 <= conv_lipschitz(h2) <= 1.1 * true2


def _problem(rng, K=2, L=8, T=60, nonneg=True):
    h = rng.standard_normal((K, L))
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    x = np.zeros((K, T - L + 1))
    idx = rng.choice(x.size, 6, replace=False)
    x.flat[idx] = rng.uniform(1, 3, 6) * (1 if nonneg else rng.choice([-1, 1], 6))
    M = conv_matrix(h, T)
    y = M @ x.ravel() + 0.05 * rng.standard_normal(T)
    return h, y, M


@pytest.mark.parametrize("solver", ["auto", "numba", "torch"])
@pytest.mark.parametrize("prior", ["l1", "l1_nonneg"])
def test_csc_matches_cvxpy(prior, solver):
    rng = np.random.default_rng(3)
    h, y, M = _problem(rng, nonneg=prior == "l1_nonneg")
    lam = 0.2
    z = cp.Variable(M.shape[1], nonneg=prior == "l1_nonneg")
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(y - M @ z) + lam * cp.norm1(z)))
    prob.solve(solver=cp.CLARABEL)
    res = conv_sparse_code(y, h, lam, prior, max_iter=5000, tol=1e-8, check_every=5, solver=solver)
    assert res.converged and res.gap <= 1e-8 and res.solver == ("torch" if solver == "torch" else "numba")
    assert isinstance(res, SolverResult) and isinstance(res.certificate, Certificate)
    # the certificate's lower bound is a dual value: below the optimum, and within the gap of the objective
    assert res.certificate.lower_bound <= prob.value + 1e-7
    assert res.objective - res.certificate.lower_bound <= 1e-8 * res.objective + 1e-12
    assert set(res.history) >= {"objective", "gap"} and res.history["gap"][-1] <= 1e-8
    assert res.codes.shape == (2, 53)
    assert abs(res.objective - prob.value) <= 1e-6 * prob.value
    assert res.objective >= prob.value - 1e-7  # a feasible point cannot beat the optimum
    np.testing.assert_allclose(res.codes.ravel(), z.value, atol=2e-3)


def test_csc_ridge_closed_form_and_torch_roundtrip():
    rng = np.random.default_rng(4)
    h, y, M = _problem(rng, K=2, L=5, T=30)
    lam = 0.5  # ridge: g = ||x||^2 / 2  ->  (M^T M + lam I) x = M^T y
    ref = np.linalg.solve(M.T @ M + lam * np.eye(M.shape[1]), M.T @ y)
    res = conv_sparse_code(y, h, lam, "ridge", max_iter=5000, tol=1e-10)
    np.testing.assert_allclose(res.codes.ravel(), ref, atol=1e-6)
    res_t = conv_sparse_code(torch.tensor(y), torch.tensor(h), lam, "ridge", max_iter=5000, tol=1e-10)
    assert isinstance(res_t.codes, torch.Tensor) and res_t.codes.dtype == torch.float64
    np.testing.assert_allclose(res_t.codes.numpy().ravel(), ref, atol=1e-6)


def test_csc_2d_matches_cvxpy():
    rng = np.random.default_rng(5)
    h = rng.standard_normal((2, 1, 3, 3))
    h /= np.linalg.norm(h.reshape(2, -1), axis=1)[:, None, None, None]
    img = rng.standard_normal((9, 9))
    lam = 0.3
    # explicit 2-D convolution matrix from impulse responses
    cols = []
    for k in range(2):
        for i in range(7):
            for j in range(7):
                e = np.zeros((7, 7))
                e[i, j] = 1
                cols.append(ss.convolve2d(e, h[k, 0]).ravel())
    M = np.array(cols).T
    z = cp.Variable(M.shape[1])
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(img.ravel() - M @ z) + lam * cp.norm1(z)))
    prob.solve(solver=cp.CLARABEL)
    res = conv_sparse_code(img, h, lam, "l1", max_iter=5000, tol=1e-9, spatial_dims=2)
    assert res.codes.shape == (2, 7, 7)
    assert abs(res.objective - prob.value) <= 1e-6 * prob.value
    np.testing.assert_allclose(res.codes.ravel(), z.value, atol=2e-3)
    # synthesis helper reproduces M @ codes
    np.testing.assert_allclose(conv_synthesis(res.codes, h[:, 0], spatial_dims=2).ravel(),
                               M @ res.codes.ravel(), atol=1e-10)


@pytest.mark.parametrize("solver", ["auto", "torch"])
def test_chunked_matches_whole_signal(solver):
    rng = np.random.default_rng(6)
    h, y, M = _problem(rng, K=2, L=8, T=600)
    y = np.concatenate([y, y[::-1]])  # 1200 samples
    lam = 0.1
    full = conv_sparse_code(y, h, lam, "l1_nonneg", max_iter=3000, tol=1e-9, solver=solver)
    ch = conv_sparse_code(y, h, lam, "l1_nonneg", max_iter=3000, tol=1e-9, chunk_size=150, overlap=40,
                          solver=solver)
    assert ch.codes.shape == full.codes.shape
    assert abs(ch.objective - full.objective) <= 1e-4 * full.objective
    assert np.abs(ch.codes - full.codes).max() < 1e-2 * np.abs(full.codes).max()
    # the chunked objective is recomputed on the whole signal: check it independently
    Mfull = conv_matrix(h, y.size)
    obj = 0.5 * np.sum((y - Mfull @ ch.codes.ravel()) ** 2) + lam * ch.codes.sum()
    assert abs(obj - ch.objective) <= 1e-9 * obj


def test_not_converged_warns():
    rng = np.random.default_rng(7)
    h, y, M = _problem(rng)
    with pytest.warns(ConvergenceWarning):
        res = conv_sparse_code(y, h, 0.01, "l1", max_iter=3, tol=1e-12)
    assert not res.converged and res.status == "max_iter"


def test_bad_inputs():
    h = np.ones((2, 10))
    with pytest.raises(ValueError, match="shorter than the filters"):
        conv_sparse_code(np.ones(5), h, 0.1)
    bad = np.ones(50)
    bad[10:20] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        conv_sparse_code(bad, h, 0.1)
    with pytest.raises(ValueError, match="channels"):
        conv_sparse_code(np.ones((4, 3, 50)), np.ones((2, 2, 10)), 0.1)
    with pytest.raises(ValueError, match="lam"):
        conv_sparse_code(np.ones(50), h, -1)
    with pytest.raises(ValueError, match="prior"):
        conv_sparse_code(np.ones(50), h, 0.1, prior="nope")
    with pytest.raises(ValueError, match="atom_length"):
        ConvDictionaryLearning(2, 0).fit(np.ones((3, 50)))
    with pytest.raises(ValueError, match="shorter than the filters.*n_features=50"):
        ConvDictionaryLearning(2, 60).fit(np.ones((3, 50)))


def test_cdl_recovers_filters_from_random_init():
    rng = np.random.default_rng(8)
    K, L, T, N = 2, 12, 150, 40
    t = np.arange(L)
    h = np.stack([np.sin(2 * np.pi * t / L) * np.hanning(L), np.exp(-((t - 5) / 2.0) ** 2)])
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    Y = np.zeros((N, T))
    for n in range(N):
        x = np.zeros((K, T - L + 1))
        for k in range(K):
            pos = rng.choice(T - L + 1, 3, replace=False)
            x[k, pos] = rng.uniform(2, 4, 3)
        Y[n] = sum(np.convolve(x[k], h[k]) for k in range(K))
    Y += 0.02 * rng.standard_normal(Y.shape)
    cdl = ConvDictionaryLearning(K, L, lam=0.1, prior="l1_nonneg", max_iter=80, csc_max_iter=30,
                                 filter_max_iter=20, init="data", tol=1e-7, random_state=1).fit(Y)
    h0 = init_atoms(torch.tensor(Y[:, None]), K, 1, (L,), "data", np.random.default_rng(1)).numpy()[:, 0]
    assert match_atoms(h, h0).errors.max() > 0.5  # the initialisation is far from the truth
    assert cdl.atoms_.shape == (K, L)
    np.testing.assert_allclose(np.linalg.norm(cdl.atoms_, axis=1), 1.0, atol=1e-10)
    m = match_atoms(h, cdl.atoms_)
    assert np.all(m.errors < 0.1), m.errors
    assert cdl.history_["objective"][-1] < cdl.history_["objective"][0]
    codes = cdl.set_params(transform_max_iter=300, transform_tol=1e-3).transform(Y[:2])
    assert codes.shape == (2, K, T + L - 1)  # boundary='full' codes
    rec = cdl.inverse_transform(codes)
    assert np.linalg.norm(rec - Y[:2]) < 0.3 * np.linalg.norm(Y[:2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_csc_cuda_matches_cpu():
    rng = np.random.default_rng(9)
    h, y, M = _problem(rng)
    cpu = conv_sparse_code(y, h, 0.2, "l1_nonneg", max_iter=2000, tol=1e-6, device="cpu")
    gpu = conv_sparse_code(torch.tensor(y, device="cuda"), torch.tensor(h), 0.2, "l1_nonneg", max_iter=2000,
                           tol=1e-6)
    assert gpu.codes.is_cuda
    np.testing.assert_allclose(gpu.codes.cpu().numpy(), cpu.codes, atol=1e-3)


def test_cdl_2d_and_multichannel_shapes_and_descent():
    rng = np.random.default_rng(10)
    h = rng.standard_normal((2, 4, 4))
    imgs = np.zeros((12, 20, 20))
    for n in range(12):
        for k in range(2):
            x = np.zeros((17, 17))
            x[rng.integers(0, 17, 3), rng.integers(0, 17, 3)] = rng.uniform(1, 2, 3)
            imgs[n] += ss.convolve2d(x, h[k])
    cdl = ConvDictionaryLearning(2, (4, 4), lam=0.1, max_iter=6, random_state=0).fit(imgs)
    assert cdl.atoms_.shape == (2, 4, 4)
    np.testing.assert_allclose(np.linalg.norm(cdl.atoms_.reshape(2, -1), axis=1), 1.0, atol=1e-10)
    assert cdl.history_["objective"][-1] < cdl.history_["objective"][0]
    codes = cdl.set_params(transform_max_iter=50).transform(imgs[:2])
    assert codes.shape == (2, 2, 23, 23)  # boundary='full'
    assert cdl.inverse_transform(codes).shape == (2, 20, 20)
    # 1-D, 3 channels
    sig = rng.standard_normal((5, 3, 80))
    mc = ConvDictionaryLearning(2, 7, lam=0.1, n_channels=3, max_iter=3, boundary="valid", random_state=0).fit(sig)
    assert mc.atoms_.shape == (2, 3, 7)
    assert mc.set_params(transform_max_iter=20).transform(sig).shape == (5, 2, 74)
    with pytest.raises(ValueError, match="channels"):
        mc.transform(np.ones((5, 2, 80)))


@pytest.mark.parametrize("nonneg", [True, False])
def test_compiled_fista_kernel_solves_masked_lasso(nonneg):
    # the numba kernel with gradient restart and a 0/1 mask on the data term reaches the cvxpy optimum
    from simcode.sparse._conv_fista_kernel import fista_1d

    rng = np.random.default_rng(12)
    h = rng.standard_normal((2, 6))
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    T = 45
    M = conv_matrix(h, T)
    w = np.ones(T)
    w[:5] = 0
    w[-5:] = 0
    y = M @ np.maximum(rng.standard_normal(M.shape[1]) - 1.0, 0) + 0.05 * rng.standard_normal(T)
    lam = 0.1
    z = cp.Variable(M.shape[1], nonneg=nonneg)
    obj = 0.5 * cp.sum_squares(cp.multiply(w, y - M @ z)) + lam * (cp.sum(z) if nonneg else cp.norm1(z))
    cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
    alpha = 1.0 / conv_lipschitz(h)
    for mask in (w, None):
        x = fista_1d(y[None, None], h[:, None], alpha, lam * alpha, 3000, nonneg=nonneg, mask=mask)
        if mask is None:  # unmasked problem: its own reference
            z2 = cp.Variable(M.shape[1], nonneg=nonneg)
            pen = cp.sum(z2) if nonneg else cp.norm1(z2)
            cp.Problem(cp.Minimize(0.5 * cp.sum_squares(y - M @ z2) + lam * pen)).solve(solver=cp.CLARABEL)
            ref = z2.value
        else:
            ref = z.value
        np.testing.assert_allclose(x.ravel(), ref, atol=2e-3)


@pytest.mark.parametrize("boundary", ["full", "valid"])
def test_cdl_compiled_csc_step_matches_torch_step(boundary):
    # one round with converged codes: the compiled CSC step (per-signal restart) and the torch FISTA reach
    # the same lasso solution, hence the same filter update
    rng = np.random.default_rng(13)
    h = rng.standard_normal((2, 6))
    Y = np.stack([conv_matrix(h, 50) @ np.maximum(rng.standard_normal(90) - 1.2, 0) for _ in range(6)])
    kw = dict(lam=0.2, prior="l1_nonneg", max_iter=1, csc_max_iter=3000, filter_max_iter=30, boundary=boundary,
              random_state=0)
    with pytest.warns(ConvergenceWarning):  # one round cannot show a converged objective
        a = ConvDictionaryLearning(2, 6, solver="numba", **kw).fit(Y)
    with pytest.warns(ConvergenceWarning):
        b = ConvDictionaryLearning(2, 6, solver="torch", **kw).fit(Y)
    assert a.solver_ == "numba" and b.solver_ == "torch" and a.status_ == "max_iter" and a.n_iter_ == 1
    assert np.abs(b.codes_).max() > 0.1
    np.testing.assert_allclose(a.codes_, b.codes_, atol=1e-5)
    np.testing.assert_allclose(a.atoms_, b.atoms_, atol=1e-5)
    with pytest.raises(ValueError, match="solver"):
        ConvDictionaryLearning(2, 6, solver="gpu").fit(Y)


def test_csc_solver_argument_is_checked():
    h = np.ones((1, 3)) / np.sqrt(3)
    with pytest.raises(ValueError, match="solver"):
        conv_sparse_code(np.ones(20), h, 0.1, "l1", solver="cuda")
    with pytest.raises(ValueError, match="solver='numba'"):  # the compiled kernel has no ridge prior
        conv_sparse_code(np.ones(20), h, 0.1, "ridge", solver="numba")
    with pytest.raises(ValueError, match="convolution"):
        conv_sparse_code(np.ones(20), h, 0.1, "l1", convolution="wavelet")


def test_degenerate_inputs_raise_or_finish():
    h = np.ones((2, 5))
    y = np.sin(np.arange(40.0))
    with pytest.raises(ValueError, match="all zero"):
        conv_sparse_code(y, np.zeros((2, 5)), 0.1)
    for bad in (2.5, True, "10"):
        with pytest.raises(TypeError, match="max_iter"):
            conv_sparse_code(y, h, 0.1, max_iter=bad)
    with pytest.raises(ValueError, match="check_every"):  # 0 would never advance the iteration count
        conv_sparse_code(y, h, 0.1, check_every=0)
    with pytest.raises(ValueError, match="lam"):
        conv_sparse_code(y, h, np.inf)
    with pytest.raises(ValueError, match="chunk_batch"):
        conv_sparse_code(y, h, 0.1, chunk_size=10, chunk_batch=0)
    with pytest.raises(TypeError, match="atoms"):
        conv_sparse_code(y, None, 0.1)
    # a huge λ: the optimum is x = 0 (λ ≥ ‖Hᵀy‖_∞), certified at the first check
    res = conv_sparse_code(y, h, 1e12, "l1", max_iter=50)
    assert res.converged and res.n_iter <= 10 and np.all(res.codes == 0)
    assert res.objective == pytest.approx(0.5 * np.sum(y ** 2))
    # one zero atom among others: its codes stay zero (its gradient is zero)
    h2 = np.vstack([np.zeros(5), np.hanning(5)])
    res2 = conv_sparse_code(y, h2, 0.1, "l1_nonneg", max_iter=2000, tol=1e-6)
    assert res2.converged and np.all(res2.codes[0] == 0)
    # all-zero signals: x = 0 is optimal
    res3 = conv_sparse_code(np.zeros((3, 40)), h, 0.1, max_iter=20)
    assert res3.converged and np.all(res3.codes == 0)


@pytest.mark.parametrize("solver", ["numba", "torch"])
def test_csc_stops_per_signal(solver):
    # each signal has its own momentum and is frozen once its own gap is below tol: a signal's codes do not
    # depend on the other signals of the batch (up to FFT round-off in the torch path)
    rng = np.random.default_rng(14)
    h, y1, _ = _problem(rng)
    _, y2, _ = _problem(rng)
    Y = np.stack([y1, 3 * y2, y1[::-1]])
    both = conv_sparse_code(Y, h, 0.2, "l1", max_iter=3000, tol=1e-6, solver=solver, device="cpu")
    for i in range(3):
        one = conv_sparse_code(Y[i:i + 1], h, 0.2, "l1", max_iter=3000, tol=1e-6, solver=solver, device="cpu")
        np.testing.assert_allclose(one.codes, both.codes[i:i + 1], rtol=0, atol=1e-12)
    assert both.history["n_active"][0] == 3 and both.history["n_active"].min() < 3


def test_cdl_warns_at_its_cap_and_records_history():
    rng = np.random.default_rng(15)
    Y = rng.standard_normal((6, 40))
    with pytest.warns(ConvergenceWarning, match="ConvDictionaryLearning"):
        est = ConvDictionaryLearning(2, 5, max_iter=2, tol=0.0, random_state=0).fit(Y)
    assert est.status_ == "max_iter" and not est.converged_ and est.n_iter_ == 2
    assert set(est.history_) == {"objective", "time_s"} and est.history_["objective"].shape == (2,)
    # λ so large that every code is zero: the objective stops changing, the fit converges
    est2 = ConvDictionaryLearning(2, 5, lam=1e6, max_iter=50, random_state=0).fit(Y)
    assert est2.converged_ and est2.n_iter_ == 2
    # fit_transform is fit then transform; float32 in -> float32 codes
    Z = ConvDictionaryLearning(2, 5, max_iter=3, tol=1e-2, random_state=0).fit_transform(Y.astype(np.float32))
    assert Z.dtype == np.float32 and Z.shape == (6, 2, 44)
    rep = est2.representation(Y)
    assert rep.Z.shape == (6, 2 * 44)
    # (n_signals, length) keeps the training length; with a channel axis any length holding the filters works
    with pytest.raises(ValueError, match="expecting 40 features"):
        est2.transform(Y[:, :30])
    long = np.concatenate([Y, Y], axis=1)[:, None]
    ref = conv_sparse_code(long, est2.atoms_, est2.lam, boundary="full", max_iter=500, tol=1e-4).codes
    np.testing.assert_array_equal(est2.transform(long), ref)




def _planted_windows(seed, duration_s=6.0):
    from simcode.data.spikes import make_spike_recording

    sig, tmpl, _ = make_spike_recording(duration_s=duration_s, fs=10_000, n_neurons=3, firing_rate_hz=30.0,
                                        template_ms=1.8, amplitude=(4.0, 6.0), noise_std=0.1, random_state=seed)
    return sig[: sig.size // 500 * 500].reshape(-1, 500), tmpl


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spikes_init_finds_the_planted_templates(seed):
    # threshold crossings + k-means, no ground truth: the initial filters already match the true templates
    # (shift-invariant error of match_atoms, an independent check), closer than the spike-triggered 'data' init
    Y, tmpl = _planted_windows(seed)
    y = torch.tensor(Y[:, None])
    h0 = init_atoms(y, 3, 1, (24,), "spikes", np.random.default_rng(seed)).numpy()
    assert h0.shape == (3, 1, 24)
    np.testing.assert_allclose(np.linalg.norm(h0.reshape(3, -1), axis=1), 1.0, atol=1e-12)
    err = match_atoms(tmpl, h0[:, 0]).errors.max()
    assert err < 0.06
    hd = init_atoms(y, 3, 1, (24,), "data", np.random.default_rng(seed)).numpy()
    assert match_atoms(tmpl, hd[:, 0]).errors.max() > err
    again = init_atoms(y, 3, 1, (24,), "spikes", np.random.default_rng(seed)).numpy()
    np.testing.assert_array_equal(h0, again)  # reproducible from the generator


def test_spikes_init_in_the_estimator_multichannel_and_fallbacks():
    Y, tmpl = _planted_windows(0, 3.0)
    # two electrodes seeing the same neurons at different gains: the atoms are (K, 2, L)
    rng = np.random.default_rng(5)
    Y2 = np.stack([Y, 0.5 * Y + 0.1 * rng.standard_normal(Y.shape)], axis=1)
    true2 = np.stack([tmpl, 0.5 * tmpl], axis=1)
    h0 = init_atoms(torch.tensor(Y2), 3, 2, (24,), "spikes", np.random.default_rng(0)).numpy()
    assert match_atoms(true2, h0).errors.max() < 0.1
    est = ConvDictionaryLearning(3, 24, lam=0.5, prior="l1_nonneg", init="spikes", max_iter=3, tol=0.0,
                                 random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(Y)
    assert match_atoms(tmpl, est.atoms_).errors.max() < 0.1
    # no threshold crossing (pure noise has few): the filters left over are initialised as 'data'
    noise = np.random.default_rng(1).standard_normal((2, 1, 60))
    h = init_atoms(torch.tensor(noise), 4, 1, (8,), "spikes", np.random.default_rng(0)).numpy()
    assert h.shape == (4, 1, 8) and np.all(np.isfinite(h))
    np.testing.assert_allclose(np.linalg.norm(h.reshape(4, -1), axis=1), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="1-D signals"):
        init_atoms(torch.ones((2, 1, 9, 9)), 2, 1, (3, 3), "spikes", np.random.default_rng(0))
    with pytest.raises(ValueError, match="init"):
        ConvDictionaryLearning(2, 5, init="nope").fit(Y[:2])
