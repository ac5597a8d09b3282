"""The factored completely-positive back-end (simcode.convex.factored), against independent references:
000 §5's ON/OFF closed form (SciPy's scalar minimiser), brute-force maxima of the copositivity ratio, the
problem's own objective evaluated from Q = ZZᵀ, and the dense ADMM's DNN relaxation (a lower bound on the CP
optimum, equal to it where the ADMM certifies its Q completely positive)."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from simcode.convex import (Problem, activity_cost, copositivity_ratio, encoder_cost, factored_support,
                            nonnegative, rank_penalty, readout_cost)
from simcode.core import UnsupportedTermError
from simcode.data import onoff_stimulus


def _closed_form(v, p, lam):
    f = lambda b: np.sqrt(p @ np.maximum(v - b, 0) ** 2) + np.sqrt(p @ np.maximum(b - v, 0) ** 2)  # noqa: E731
    r = minimize_scalar(f, bounds=(v.min(), v.max()), method="bounded", options={"xatol": 1e-13})
    return 2 * np.sqrt(lam) * min(f(r.x), f(v.min()))


@pytest.mark.parametrize("law,p0", [("exponential", 0.3), ("uniform", 0.05), ("half-normal", 0.6)])
@pytest.mark.parametrize("lam", [0.1, 2.0])
@pytest.mark.parametrize("n", [50, 2000])
def test_onoff_equals_the_closed_form_with_a_certified_gap(law, p0, lam, n):
    v, p = onoff_stimulus(law, p0, n)
    prob = Problem([activity_cost(p), readout_cost(v, lam=lam, affine=True)], [nonnegative()])
    sol = prob.solve(solver="factored")
    want = _closed_form(v, p, lam)
    assert abs(sol.objective - want) <= 1e-9 * want
    assert sol.certificate.gap <= 1e-9 and sol.certificate.certified
    assert sol.certificate.lower_bound <= want * (1 + 1e-12)
    assert np.all(sol.Z >= 0) and sol.Z.shape[1] <= 2
    # the returned code decodes the stimulus and its cost is the problem's objective at Q = ZZᵀ
    W, b = sol.W[0], sol.b[0]
    assert np.allclose(sol.Z @ W + b, v[:, None], atol=1e-9)
    if n <= 200:
        assert np.isclose(prob.objective(sol.Q), want, rtol=1e-7)


def test_auto_picks_the_factored_backend_and_large_n_needs_no_dense_matrix():
    v, p = onoff_stimulus("exponential", 0.3, 200_000)
    prob = Problem([activity_cost(p), readout_cost(v, lam=0.5, affine=True)], [nonnegative()])
    sol = prob.solve()
    assert sol.solver == "factored" and sol.Q is None
    assert abs(sol.objective - _closed_form(v, p, 0.5)) <= 1e-9 * sol.objective


def test_ratio_exact_tests_against_brute_force():
    rng = np.random.default_rng(3)
    c = rng.random(40) + 0.3
    g = lambda V, w: np.sum(np.maximum(V @ w, 0) ** 2 / c)  # noqa: E731
    V2 = rng.standard_normal((40, 2))
    th = np.linspace(0, 2 * np.pi, 200_001)
    grid = max(g(V2, np.array([np.cos(t), np.sin(t)])) for t in th[::50])
    fine = np.max((np.maximum(V2 @ np.vstack([np.cos(th), np.sin(th)]), 0) ** 2 / c[:, None]).sum(0))
    r2, w2, test, _ = copositivity_ratio(V2, c)
    assert test == "sweep" and r2 >= fine - 1e-12 and r2 <= fine * (1 + 1e-8) and grid <= r2 + 1e-12
    assert np.isclose(g(V2, w2), r2, rtol=1e-12)
    V3 = rng.standard_normal((40, 3))
    W = rng.standard_normal((200_000, 3))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    sampled = np.max((np.maximum(V3 @ W.T, 0) ** 2 / c[:, None]).sum(0))
    r3, w3, test, acc = copositivity_ratio(V3, c, test_tol=1e-8)
    assert test == "branch-and-bound" and r3 >= sampled and r3 <= sampled * (1 + 1e-3)
    # the ratio's definition: no non-negative z beats it
    Zs = rng.random((20000, 40)) ** 4
    ratios = np.sum((Zs @ V3) ** 2, 1) / np.sum(Zs ** 2 * c, 1)
    assert ratios.max() <= r3 * (1 + 1e-12)


@pytest.mark.parametrize("k,n,tol", [(2, 40, 1e-5)])  # k = 3: the master is slow here (see the issue note)
def test_random_affine_readouts_cp_optimum_is_bracketed_by_the_dnn_relaxation(k, n, tol):
    rng = np.random.default_rng(k)
    p = rng.dirichlet(np.ones(n) * 4)
    Y = rng.standard_normal((n, k))
    prob = Problem([activity_cost(p), readout_cost(Y, lam=0.5, affine=True)], [nonnegative()])
    sol = prob.solve(solver="factored", tol=tol)
    cert = sol.certificate
    assert cert.gap <= tol and cert.decoding_residual <= 1e-8
    # the code is feasible and its cost is the problem's objective at Q = ZZᵀ (independent evaluation)
    assert np.isclose(prob.objective(sol.Q), sol.objective, rtol=1e-7)
    assert np.allclose(sol.Z @ sol.W[0] + sol.b[0], Y, atol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dnn = prob.solve(solver="firstorder", tol=1e-8, max_iter=40000)
    # the DNN relaxation is a lower bound on the CP optimum: both of our numbers must respect it
    assert dnn.certificate.lower_bound <= sol.objective * (1 + 1e-7)
    assert dnn.certificate.lower_bound <= cert.lower_bound * (1 + 1e-6) or dnn.certificate.completely_positive
    if dnn.certificate.completely_positive:     # DNN tight: the two optima coincide
        assert np.isclose(dnn.objective, sol.objective, rtol=1e-6)


def test_non_affine_and_rank_penalty():
    rng = np.random.default_rng(1)
    y = rng.standard_normal(30)
    c = rng.random(30) + 0.2
    prob = Problem([activity_cost(c / c.sum(), lam=c.sum()), rank_penalty(0.0), readout_cost(y, lam=1.0)],
                   [nonnegative()])
    sol = prob.solve(solver="factored")
    # b = 0: the optimum is 2(‖y₊‖_c + ‖y₋‖_c)
    want = 2 * (np.sqrt(np.sum(c * np.maximum(y, 0) ** 2)) + np.sqrt(np.sum(c * np.minimum(y, 0) ** 2)))
    assert np.isclose(sol.objective, want, rtol=1e-12) and sol.certificate.gap <= 1e-12


def test_outside_the_family_is_refused_naming_another_backend():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3))
    y = X @ rng.standard_normal(3)
    prob = Problem([activity_cost(), encoder_cost(X), readout_cost(y)], [nonnegative()])
    assert "firstorder" in factored_support(prob)
    with pytest.raises(UnsupportedTermError, match="firstorder"):
        prob.solve(solver="factored")
    with pytest.raises(UnsupportedTermError, match="nonnegative"):
        Problem([activity_cost(), readout_cost(y)]).solve(solver="factored")
    # with probability zero at one stimulus a neuron there is free: refused, not mis-solved
    p = np.r_[0.0, np.full(9, 1 / 9)]
    with pytest.raises(UnsupportedTermError, match="positive activity cost"):
        Problem([activity_cost(p), readout_cost(y, affine=True)], [nonnegative()]).solve(solver="factored")
