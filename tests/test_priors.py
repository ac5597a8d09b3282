"""Priors: every prox checked against a numerical minimisation of ½‖x − v‖² + τ g(x) (cvxpy / brute force)."""

import itertools

import cvxpy as cp
import numpy as np
import pytest
import torch

from simcode.sparse.priors import PRIORS, Prior, get_prior

RNG = np.random.default_rng(0)


def _cvx_prox(v, tau, g_expr, constraints=lambda x: []):
    x = cp.Variable(v.size)
    obj = 0.5 * cp.sum_squares(x - v) + tau * g_expr(x)
    prob = cp.Problem(cp.Minimize(obj), constraints(x))
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return x.value, prob.value


GROUP_LABELS = [0, 0, 1, 1, 1, 2]

CONVEX_CASES = [
    (get_prior("ridge", sigma=0.7), lambda x: cp.sum_squares(x) / (2 * 0.7**2), lambda x: []),
    (get_prior("l1"), lambda x: cp.norm1(x), lambda x: []),
    (get_prior("l1_nonneg"), lambda x: cp.sum(x), lambda x: [x >= 0]),
    (get_prior("two_sided_gaussian", sigma_pos=1.0, sigma_neg=3.0),
     lambda x: cp.sum_squares(cp.pos(x)) / 2 + cp.sum_squares(cp.neg(x)) / (2 * 9.0), lambda x: []),
    (get_prior("group_l1", groups=GROUP_LABELS, weights=[1.0, 2.0, 0.5]),
     lambda x: cp.norm(x[0:2]) + 2.0 * cp.norm(x[2:5]) + 0.5 * cp.norm(x[5:6]), lambda x: []),
    (get_prior("group_l1", groups=[[0, 1], [2, 3, 4], [5]], nonnegative=True),
     lambda x: cp.norm(x[0:2]) + cp.norm(x[2:5]) + cp.norm(x[5:6]), lambda x: [x >= 0]),
    (get_prior("simplex"), lambda x: 0, lambda x: [x >= 0, cp.sum(x) == 1]),
    (get_prior("simplex", radius=2.5), lambda x: 0, lambda x: [x >= 0, cp.sum(x) == 2.5]),
    (get_prior("box", low=-0.5, high=1.0), lambda x: 0, lambda x: [x >= -0.5, x <= 1.0]),
    (get_prior("elastic_net", l2_ratio=0.3), lambda x: 0.7 * cp.norm1(x) + 0.15 * cp.sum_squares(x), lambda x: []),
]


@pytest.mark.parametrize("prior,g,cons", CONVEX_CASES, ids=lambda c: repr(c) if isinstance(c, Prior) else "")
def test_convex_prox_matches_cvxpy(prior, g, cons):
    for _ in range(4):
        v = RNG.normal(scale=2.0, size=6)
        tau = float(RNG.uniform(0.1, 2.0))
        expected, opt = _cvx_prox(v, tau, g, cons)
        got = prior.prox(v, tau)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        # our point is feasible and its prox objective is no worse than the solver's optimum
        f_got = 0.5 * np.sum((got - v) ** 2) + tau * prior.value(got)
        assert f_got <= opt + 1e-8


def test_l0_prox_matches_brute_force():
    p = get_prior("l0")
    for _ in range(20):
        v = RNG.normal(scale=2.0, size=5)
        tau = float(RNG.uniform(0.1, 2.0))
        # separable: each coordinate is either 0 (cost v²/2) or v (cost τ)
        best, best_f = None, np.inf
        for mask in itertools.product([0, 1], repeat=5):
            x = v * np.array(mask)
            f = 0.5 * np.sum((x - v) ** 2) + tau * np.count_nonzero(x)
            if f < best_f - 1e-12:
                best, best_f = x, f
        got = p.prox(v, tau)
        f_got = 0.5 * np.sum((got - v) ** 2) + tau * p.value(got)
        assert f_got == pytest.approx(best_f, abs=1e-12)
        np.testing.assert_allclose(got, best)


@pytest.mark.parametrize("nonneg", [False, True])
def test_topk_prox_matches_brute_force(nonneg):
    k = 2
    p = get_prior("topk", k=k, nonnegative=nonneg)
    for _ in range(20):
        v = RNG.normal(scale=2.0, size=6)
        best_f = np.inf
        for S in itertools.combinations(range(6), k):
            x = np.zeros(6)
            x[list(S)] = np.maximum(v[list(S)], 0) if nonneg else v[list(S)]
            best_f = min(best_f, 0.5 * np.sum((x - v) ** 2))
        got = p.prox(v, 1.0)
        assert p.value(got) == 0.0
        assert 0.5 * np.sum((got - v) ** 2) == pytest.approx(best_f, abs=1e-12)


def test_lecture_activation_table():
    v = np.linspace(-3, 3, 61)
    b = 0.4
    np.testing.assert_allclose(get_prior("l1_nonneg").activation(v, b), np.maximum(v - b, 0))
    np.testing.assert_allclose(get_prior("l1").activation(v, b), np.sign(v) * np.maximum(np.abs(v) - b, 0))
    s = 0.8  # ridge: σ²/(1/L + σ²) x̃ with bias 1/L
    np.testing.assert_allclose(get_prior("ridge", sigma=s).activation(v, b), s**2 / (b + s**2) * v)
    # LeakyReLU(y; σ+, σ-) of the lecture, with τ = 1
    sp, sn = 2.0, 0.5
    leaky = np.where(v >= 0, sp**2 / (1 + sp**2) * v, sn**2 / (1 + sn**2) * v)
    np.testing.assert_allclose(get_prior("two_sided_gaussian", sigma_pos=sp, sigma_neg=sn).prox(v, 1.0), leaky)
    # sparsemax sums to one and is a shifted ReLU
    z = get_prior("simplex").activation(v[None, :8], b)
    assert z.sum() == pytest.approx(1.0) and np.all(z >= 0)


def test_per_sample_tau_and_batch_shapes():
    p = get_prior("l1")
    V = RNG.normal(size=(4, 3, 5))
    tau = RNG.uniform(0.1, 1.0, size=(4, 3, 1))
    out = p.prox(V, tau)
    for i in range(4):
        for j in range(3):
            np.testing.assert_allclose(out[i, j], p.prox(V[i, j], float(tau[i, j, 0])))
    assert p.value(V).shape == (4, 3)
    g = get_prior("group_l1", groups=1)  # singleton groups = plain l1
    np.testing.assert_allclose(g.prox(V, tau), out, atol=1e-12)


@pytest.mark.parametrize("name,params", [("ridge", {}), ("l1", {}), ("l1_nonneg", {}), ("two_sided_gaussian", {}),
                                         ("group_l1", {"groups": 2}), ("simplex", {}), ("l0", {}),
                                         ("topk", {"k": 2}), ("box", {}), ("elastic_net", {})])
def test_torch_matches_numpy_and_keeps_dtype(name, params):
    p = get_prior(name, **params)
    V = RNG.normal(size=(3, 6))
    expected = p.prox(V, 0.3)
    for dtype in (torch.float64, torch.float32):
        t = torch.tensor(V, dtype=dtype)
        out = p.prox(t, torch.full((3, 1), 0.3, dtype=dtype))
        assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.device == t.device
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-5 if dtype == torch.float32 else 1e-12)
        val = p.value(out)
        assert isinstance(val, torch.Tensor) and val.shape == (3,)


def test_autograd_through_prox():
    V = torch.tensor(RNG.normal(size=(2, 6)), requires_grad=True)
    for name, params in [("l1", {}), ("group_l1", {"groups": 3}), ("simplex", {}), ("two_sided_gaussian", {})]:
        p = get_prior(name, **params)
        assert torch.autograd.gradcheck(lambda x: p.prox(x, 0.2), (V,))
    # gradient w.r.t. a learnable threshold (CRsAE learns its bias)
    tau = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    out = get_prior("l1_nonneg").prox(V.detach(), tau)
    out.sum().backward()
    assert tau.grad.item() == pytest.approx(-float((V.detach() > 0.3).sum()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_device_preserved():
    for name in ["l1", "simplex", "topk"]:
        t = torch.randn(4, 8, device="cuda")
        out = get_prior(name).prox(t, 0.1)
        assert out.device == t.device


def test_values_and_flags():
    assert get_prior("l1_nonneg").value([1.0, -0.5]) == np.inf
    assert get_prior("simplex").value([0.2, 0.8]) == 0.0
    assert get_prior("simplex").value([0.2, 0.7]) == np.inf
    assert get_prior("box", low=0, high=1).value([1.5]) == np.inf
    assert get_prior("l0").value([0.0, 3.0, -1.0]) == 2.0
    assert get_prior("group_l1", groups=[0, 0, 1]).value([3.0, 4.0, -2.0]) == pytest.approx(7.0)
    assert not get_prior("l0").convex and not get_prior("topk").convex
    assert all(get_prior(n, **({"groups": 1} if n == "group_l1" else {})).convex
               for n in PRIORS if n not in ("l0", "topk"))
    assert get_prior("ridge").differentiable and not get_prior("l1").differentiable
    p = get_prior("l1")
    assert get_prior(p) is p
    assert get_prior("Group-L1", groups=2).name == "group_l1"


def test_bad_input():
    with pytest.raises(ValueError, match="unknown prior"):
        get_prior("l3")
    with pytest.raises(ValueError, match="sigma_pos"):
        get_prior("two_sided_gaussian", sigma_pos=-1)
    with pytest.raises(ValueError, match="k must"):
        get_prior("topk", k=0)
    with pytest.raises(ValueError, match="low < high"):
        get_prior("box", low=1, high=0)
    with pytest.raises(ValueError, match="l2_ratio"):
        get_prior("elastic_net", l2_ratio=1.5)
    with pytest.raises(ValueError, match="bad parameters"):
        get_prior("l1", sigma=2)
    with pytest.raises(ValueError, match="partition"):
        get_prior("group_l1", groups=[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="tau"):
        get_prior("l1").prox([1.0, 2.0], -0.1)
    with pytest.raises(ValueError, match="tau"):
        get_prior("l1").prox(np.ones((3, 4)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="multiple"):
        get_prior("group_l1", groups=3).prox(np.ones(4), 0.1)
    with pytest.raises(ValueError, match="Prior instance"):
        get_prior(get_prior("l1"), sigma=1)
