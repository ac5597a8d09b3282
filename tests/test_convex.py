"""simcode.convex against independent references: closed forms, and cvxpy models written here."""

import cvxpy as cp
import numpy as np
import pytest
from scipy.linalg import sqrtm
from scipy.optimize import minimize_scalar

from simcode.convex import (Constraint, InfeasibleProblemError, Problem, Term, activity_cost, affine_decodable,
                            decodable, encoder_cost, factor_nonneg, nonnegative, rank_penalty, readout_cost,
                            similarity_matching, trace_budget)
from simcode.core import ConvergenceWarning, Representation, SolverResult, UnsupportedTermError
from simcode.data import onoff_stimulus


def onoff_value(v, p, lam):
    """Closed form (000 §5): 2√λ · min_b (‖(I−b)₊‖ + ‖(b−I)₊‖) in L²(p)."""
    f = lambda b: np.sqrt(p @ np.maximum(v - b, 0) ** 2) + np.sqrt(p @ np.maximum(b - v, 0) ** 2)
    r = minimize_scalar(f, bounds=(v.min(), v.max()), method="bounded", options={"xatol": 1e-12})
    return 2 * np.sqrt(lam) * r.fun


@pytest.mark.parametrize("solver", ["cvxpy", "firstorder"])
def test_closed_form_without_nonnegativity(solver):
    rng = np.random.default_rng(1)
    n, m, lam = 10, 3, 0.3
    Y = rng.standard_normal((n, m))
    sol = Problem([activity_cost(), readout_cost(Y, lam=lam)]).solve(solver=solver, tol=1e-7)
    value = 2 * np.sqrt(lam / n) * np.trace(np.real(sqrtm(Y @ Y.T)))
    Qstar = np.sqrt(lam * n) * np.real(sqrtm(Y @ Y.T))
    assert sol.objective == pytest.approx(value, rel=1e-5)
    assert np.linalg.norm(sol.Q - Qstar) / np.linalg.norm(Qstar) < 1e-3
    # the recovered code decodes Y with the reported readout
    assert np.allclose(sol.Z @ sol.W[0], Y, atol=1e-3)


@pytest.mark.parametrize("law", ["uniform", "exponential", "half-normal"])
def test_onoff_closed_form_both_backends(law):
    v, p = onoff_stimulus(law, 0.25, 14)
    lam = 0.5
    prob = Problem([activity_cost(p), readout_cost(v, lam=lam, affine=True)], [nonnegative()])
    ref = onoff_value(v, p, lam)
    a = prob.solve(solver="cvxpy", tol=1e-8)
    b = prob.solve(solver="firstorder", tol=1e-7)
    assert a.objective == pytest.approx(ref, rel=1e-5)
    assert b.objective == pytest.approx(ref, rel=1e-5)
    # certificate: a proven lower bound, below the true optimum, with a small gap
    cert = b.certificate
    assert cert.lower_bound <= ref * (1 + 1e-9)
    assert cert.gap <= 1e-5
    assert cert.completely_positive
    assert (b.Z >= 0).all()
    assert np.allclose(b.Z @ b.W[0] + b.b[0], v[:, None], atol=1e-3)


def _random_psd(rng, n):
    A = rng.standard_normal((n, n))
    return A @ A.T / n


CASES = ["act+readout_aff+nonneg", "act+encoder_aff+readout", "simmatch+nonneg", "act+readout+budget+rank",
         "act+two_readouts+nonneg", "encoder_lin+readout+nonneg"]


@pytest.mark.parametrize("case", CASES)
def test_random_instances_match_independent_cvxpy(case):
    rng = np.random.default_rng(CASES.index(case))
    n = 8
    Y = rng.standard_normal((n, 2))
    X = rng.standard_normal((n, 5))
    p = rng.random(n) + 0.2
    p /= p.sum()
    lam = 0.2
    Q = cp.Variable((n, n), PSD=True)
    if case == "act+readout_aff+nonneg":
        terms, cons = [activity_cost(p), readout_cost(Y, lam, affine=True)], [nonnegative()]
        b = cp.Variable(2)
        T = cp.Variable((2, 2))
        Yt = Y - np.ones((n, 1)) @ cp.reshape(b, (1, 2), order="C")
        obj = p @ cp.diag(Q) + lam * cp.trace(T)
        ref_cons = [cp.bmat([[Q, Yt], [Yt.T, T]]) >> 0, Q >= 0]
    elif case == "act+encoder_aff+readout":
        # independent model: Z = X W + 1 cᵀ with explicit weights, written in terms of Q = Z Zᵀ
        # via the lifted variable G = [W; cᵀ][W; cᵀ]ᵀ (psd), Q = Xa G Xaᵀ, ‖W‖² = Tr(G[:5,:5])
        Xa = np.column_stack([X, np.ones(n)])
        Y = Xa @ rng.standard_normal((6, 2))  # reachable targets
        terms, cons = [activity_cost(), encoder_cost(X, 0.5, affine=True), readout_cost(Y, lam)], []
        G = cp.Variable((6, 6), PSD=True)
        T = cp.Variable((2, 2))
        Qg = Xa @ G @ Xa.T
        obj = cp.trace(Qg) / n + 0.5 * cp.trace(G[:5, :5]) + lam * cp.trace(T)
        ref_cons = [cp.bmat([[Qg, Y], [Y.T, T]]) >> 0]
    elif case == "simmatch+nonneg":
        K = _random_psd(rng, n)
        terms, cons = [similarity_matching(K, 1.0, c=0.7)], [nonnegative()]
        obj = -cp.trace(K @ Q) + 0.7 * cp.sum_squares(Q)
        ref_cons = [Q >= 0]
    elif case == "act+readout+budget+rank":
        terms, cons = [activity_cost(), readout_cost(Y, lam), rank_penalty(0.05)], [trace_budget(50.0)]
        T = cp.Variable((2, 2))
        obj = cp.trace(Q) / n + lam * cp.trace(T) + 0.05 * cp.trace(Q)
        ref_cons = [cp.bmat([[Q, Y], [Y.T, T]]) >> 0, cp.trace(Q) <= 50]
    elif case == "act+two_readouts+nonneg":
        Y2 = rng.standard_normal((n, 1))
        terms, cons = [activity_cost(p), readout_cost(Y, lam), readout_cost(Y2, 0.7, affine=True)], [nonnegative()]
        T = cp.Variable((2, 2), symmetric=True)
        S = cp.Variable((1, 1), symmetric=True)
        c = cp.Variable(1)
        Y2t = Y2 - np.ones((n, 1)) @ cp.reshape(c, (1, 1), order="C")
        obj = p @ cp.diag(Q) + lam * cp.trace(T) + 0.7 * cp.trace(S)
        ref_cons = [cp.bmat([[Q, Y], [Y.T, T]]) >> 0, cp.bmat([[Q, Y2t], [Y2t.T, S]]) >> 0, Q >= 0]
    elif case == "encoder_lin+readout+nonneg":
        X = rng.random((n, 3)) + 0.1     # non-negative inputs keep Q ≥ 0 non-degenerate
        Y = X @ rng.standard_normal((3, 2))
        terms, cons = [activity_cost(), encoder_cost(X, 0.3), readout_cost(Y, lam)], [nonnegative()]
        W = cp.Variable((3, 3), PSD=True)       # Q = X W Xᵀ with W = W_in W_inᵀ, ‖W_in‖² = Tr W
        T = cp.Variable((2, 2))
        Qw = X @ W @ X.T
        obj = cp.trace(Qw) / n + 0.3 * cp.trace(W) + lam * cp.trace(T)
        ref_cons = [cp.bmat([[Qw, Y], [Y.T, T]]) >> 0, Qw >= 0]
    ref = cp.Problem(cp.Minimize(obj), ref_cons)
    ref.solve(solver="CLARABEL")
    if ref.status != "optimal":  # Clarabel can stall on degenerate instances: SCS at high accuracy instead
        ref.solve(solver="SCS", eps_abs=1e-10, eps_rel=1e-10, max_iters=200000)
    assert ref.status == "optimal"
    prob = Problem(terms, cons)
    for solver in ("cvxpy", "firstorder"):
        sol = prob.solve(solver=solver, tol=1e-7)
        assert sol.objective == pytest.approx(ref.value, rel=1e-5, abs=1e-6), solver
        if solver == "firstorder" and not np.isnan(sol.certificate.lower_bound):
            assert sol.certificate.lower_bound <= ref.value + 1e-6 * max(1, abs(ref.value))


def test_certificate_lower_bound_is_rigorous_even_when_stopped_early():
    v, p = onoff_stimulus("exponential", 0.3, 12)
    prob = Problem([activity_cost(p), readout_cost(v, 0.5, affine=True)], [nonnegative()])
    with pytest.warns(ConvergenceWarning, match="did not converge in 30 iterations"):
        sol = prob.solve(solver="firstorder", max_iter=30, tol=1e-10)
    ref = onoff_value(v, p, 0.5)
    assert sol.status == "max_iter"
    assert not sol.converged
    lb = sol.certificate.lower_bound
    assert np.isnan(lb) or lb <= ref * (1 + 1e-9)


def test_infeasible_encoder_reported():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2))
    Y = rng.standard_normal((6, 1))  # generic: not in span(X, 1)
    prob = Problem([activity_cost(), encoder_cost(X, 1.0)], [decodable(Y)])
    with pytest.raises(InfeasibleProblemError, match="not reachable"):
        prob.solve(solver="firstorder")
    with pytest.raises(InfeasibleProblemError):
        prob.solve(solver="cvxpy")


def test_affine_decodable_matches_cvxpy():
    rng = np.random.default_rng(3)
    Y = rng.standard_normal((7, 1))
    prob = Problem([activity_cost(), rank_penalty(0.1)], [affine_decodable(Y), nonnegative(), trace_budget(5.0)])
    a = prob.solve(solver="cvxpy")
    # the minimum of a PSD-increasing cost is Q → 0, and affine decodability holds in the limit: value 0
    assert a.objective == pytest.approx(0.0, abs=1e-5)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="Y contains NaN"):
        readout_cost(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="probability"):
        activity_cost(np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="lam"):
        readout_cost(np.ones(3), lam=-1)
    with pytest.raises(ValueError, match="disagree"):
        Problem([activity_cost(np.full(4, 0.25)), readout_cost(np.ones(5))])
    with pytest.raises(ValueError, match="symmetric"):
        similarity_matching(np.arange(9.0).reshape(3, 3))
    with pytest.raises(ValueError, match="solver"):
        Problem([activity_cost(), readout_cost(np.ones(3))]).solve(solver="magic")
    with pytest.raises(ValueError, match="too large"):
        Problem([activity_cost(), readout_cost(np.ones(500))]).solve(solver="cvxpy")


def test_factor_recovers_nonnegative_code_up_to_permutation():
    rng = np.random.default_rng(0)
    # separable tunings: each neuron has a private stimulus, so the CP factor is unique up to permutation
    Z = rng.random((12, 3)) * (rng.random((12, 3)) < 0.5)
    Z[:3] = np.eye(3) * 2
    f = factor_nonneg(Z @ Z.T, random_state=0)
    assert f.completely_positive(1e-6)
    assert (f.Z >= 0).all()
    C = np.abs(f.Z.T @ Z) / np.outer(np.linalg.norm(f.Z, axis=0), np.linalg.norm(Z, axis=0))
    assert np.allclose(np.sort(C.max(axis=1)), 1, atol=1e-5)


def test_factor_rejects_indefinite():
    with pytest.raises(ValueError, match="positive semidefinite"):
        factor_nonneg(np.diag([1.0, -1.0]))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
def test_firstorder_on_cuda_matches_closed_form():
    v, p = onoff_stimulus("exponential", 0.3, 40)
    prob = Problem([activity_cost(p), readout_cost(v, 0.5, affine=True)], [nonnegative()])
    sol = prob.solve(solver="firstorder", device="cuda", tol=1e-7)
    assert sol.solver.startswith("firstorder[cuda")
    assert sol.objective == pytest.approx(onoff_value(v, p, 0.5), rel=1e-5)
    assert sol.certificate.gap <= 1e-5


def test_onoff_code_is_one_on_and_one_off_neuron():
    """000 §5: above the sparsity threshold the optimal code is one ON and one OFF neuron (not a split one)."""
    v, p = onoff_stimulus("exponential", 0.2, 60)
    sol = Problem([activity_cost(p), readout_cost(v, 0.5, affine=True)], [nonnegative()]).solve(
        solver="firstorder", random_state=0)
    Z = sol.Z
    assert Z.shape[1] == 2
    on = int(np.argmax(Z[np.argmax(v)]))
    off = 1 - on
    assert Z[np.argmin(v), on] <= 1e-6 * Z[:, on].max()        # ON is silent at the smallest stimulus
    assert Z[np.argmax(v), off] <= 1e-6 * Z[:, off].max()      # OFF is silent at the largest
    assert np.allclose(Z @ sol.W[0] + sol.b[0], v[:, None], atol=1e-3)


def test_factor_ignores_eigenvalues_at_the_level_of_solver_noise():
    rng = np.random.default_rng(3)
    Z0 = np.abs(rng.standard_normal((30, 2)))
    Q = Z0 @ Z0.T
    u = np.abs(rng.standard_normal(30))
    Qn = Q + 1e-7 * np.linalg.norm(Q) * np.outer(u, u) / (u @ u)       # a rank-one "rounding" term
    f = factor_nonneg(Qn, random_state=0)
    assert f.Z.shape[1] == 2 and f.residual <= 1e-6
    exact = factor_nonneg(Qn, rank_tol=1e-8, random_state=0)           # a stricter rank keeps all 3
    assert exact.Z.shape[1] == 3


# ----------------------------------------------------------------------------- the term contract


class TracePenalty(Term):
    """A user's term through the first-order form: mu · Tr Q as a linear part (and value)."""

    def __init__(self, mu):
        self.mu = mu

    def value(self, Q):
        return self.mu * float(np.trace(Q))

    def linear_part(self, n):
        return self.mu * np.eye(n)


class SumSquares(Term):
    """A user's term with only value + cvxpy_parts: mu · Σ_ij Q_ij² (no first-order form declared)."""

    def __init__(self, mu):
        self.mu = mu

    def value(self, Q):
        return self.mu * float(np.sum(Q * Q))

    def cvxpy_parts(self, Q, n):
        return self.mu * cp.sum_squares(Q), []


class LyingLinear(Term):
    """value has a non-linear part that its declared linear part leaves out."""

    def value(self, Q):
        return float(np.trace(Q) + np.sum(Q * Q))

    def linear_part(self, n):
        return np.eye(n)


def _onoff_reference(v, p, lam, extra):
    """Independent cvxpy model of the ON/OFF problem (Schur block, DNN) plus ``extra(Q)``."""
    n = len(v)
    Q = cp.Variable((n, n), PSD=True)
    b = cp.Variable(1)
    T = cp.Variable((1, 1), symmetric=True)
    Yt = v[:, None] - np.ones((n, 1)) @ cp.reshape(b, (1, 1), order="C")
    prob = cp.Problem(cp.Minimize(p @ cp.diag(Q) + lam * cp.trace(T) + extra(Q)),
                      [cp.bmat([[Q, Yt], [Yt.T, T]]) >> 0, Q >= 0])
    prob.solve(solver="CLARABEL")
    return prob.value


def test_user_trace_penalty_gives_the_cvxpy_optimum_on_both_solvers():
    v, p = onoff_stimulus("exponential", 0.25, 14)
    lam, mu = 0.5, 0.3
    ref = _onoff_reference(v, p, lam, lambda Q: mu * cp.trace(Q))
    prob = Problem([activity_cost(p), readout_cost(v, lam, affine=True), TracePenalty(mu)], [nonnegative()])
    for solver in ("cvxpy", "firstorder"):
        sol = prob.solve(solver=solver, tol=1e-7)
        assert sol.objective == pytest.approx(ref, rel=1e-5), solver
        assert sol.solver.startswith(solver)
    # adding the penalty changes the optimum (it is honoured, not dropped)
    plain = Problem([activity_cost(p), readout_cost(v, lam, affine=True)], [nonnegative()]).solve(solver="cvxpy")
    assert ref > plain.objective * (1 + 1e-2)


def test_user_term_without_first_order_form_is_refused_not_dropped():
    v, p = onoff_stimulus("exponential", 0.25, 26)
    lam, mu = 0.5, 2.0
    prob = Problem([activity_cost(p), readout_cost(v, lam, affine=True), SumSquares(mu)], [nonnegative()])
    with pytest.raises(UnsupportedTermError, match="SumSquares.*linear_part"):
        prob.solve(solver="firstorder")
    ref = _onoff_reference(v, p, lam, lambda Q: mu * cp.sum_squares(Q))
    auto = prob.solve()                       # n = 26 > 24 would pick the first-order solver: it must not
    assert auto.solver == "cvxpy[CLARABEL]"
    assert auto.objective == pytest.approx(ref, rel=1e-5)


def test_inconsistent_first_order_form_is_refused_by_both_solvers():
    v, p = onoff_stimulus("uniform", 0.25, 10)
    prob = Problem([activity_cost(p), readout_cost(v, 0.5, affine=True), LyingLinear()], [nonnegative()])
    for solver in ("firstorder", "cvxpy", "auto"):
        with pytest.raises(UnsupportedTermError, match="LyingLinear.*does not reproduce"):
            prob.solve(solver=solver)


def test_unsupported_constraints_are_refused_by_the_first_order_solver():
    class Diagonal(Constraint):          # a user constraint with only a cvxpy form
        def cvxpy_parts(self, Q, n):
            return None, [cp.diag(Q) <= 1.0]

    v, p = onoff_stimulus("uniform", 0.25, 30)
    terms = [activity_cost(p), readout_cost(v, 0.5, affine=True)]
    with pytest.raises(UnsupportedTermError, match="Diagonal"):
        Problem(terms, [nonnegative(), Diagonal()]).solve(solver="firstorder")
    with pytest.raises(UnsupportedTermError, match="custom cvxpy constraint"):
        Problem(terms, [lambda Q: [Q >= 0]]).solve(solver="firstorder")
    sol = Problem(terms, [nonnegative(), Diagonal()]).solve()
    assert sol.solver.startswith("cvxpy") and np.diag(sol.Q).max() <= 1 + 1e-6


def test_term_with_nothing_but_value_is_refused_everywhere():
    class OnlyValue(Term):
        def value(self, Q):
            return 0.0

    prob = Problem([activity_cost(), readout_cost(np.arange(5.0)), OnlyValue()])
    for solver in ("firstorder", "cvxpy"):
        with pytest.raises(UnsupportedTermError, match="OnlyValue"):
            prob.solve(solver=solver)


def test_solution_follows_the_result_protocol_and_gives_a_representation():
    v, p = onoff_stimulus("exponential", 0.25, 30)
    sol = Problem([activity_cost(p), readout_cost(v, 0.5, affine=True)], [nonnegative()]).solve(solver="firstorder")
    assert isinstance(sol, SolverResult) and sol.converged and sol.status == "converged"
    lengths = {len(h) for h in sol.history.values()}
    assert len(lengths) == 1 and all(isinstance(h, np.ndarray) for h in sol.history.values())
    rep = sol.representation
    assert isinstance(rep, Representation)
    assert np.allclose(rep.Q, sol.Q, atol=1e-4 * np.abs(sol.Q).max())
    assert sol.time_s > 0 and sol.info["projections"]["eigh_full"] >= 1


def test_cvxpy_form_that_disagrees_with_value_is_reported():
    class Inconsistent(Term):
        def value(self, Q):
            return 2.0 * float(np.trace(Q))

        def cvxpy_parts(self, Q, n):
            return cp.trace(Q), []

    v, p = onoff_stimulus("uniform", 0.25, 10)
    prob = Problem([activity_cost(p), readout_cost(v, 0.5, affine=True), Inconsistent()], [nonnegative()])
    with pytest.warns(RuntimeWarning, match="Inconsistent.*disagree"):
        prob.solve(solver="cvxpy")


@pytest.mark.parametrize("kind", ["float32", "torch32", "int"])
def test_probability_vectors_of_any_accepted_dtype(kind):
    """float32 / torch / integer probability vectors that sum to 1 in their own arithmetic are valid (issue 15:
    ``np.full(10, 0.1, float32)`` sums to 1 + 1.5e-8 in float64 and was refused)."""
    import torch

    n = 10
    p = {"float32": np.full(n, 0.1, dtype=np.float32), "torch32": torch.full((n,), 0.1, dtype=torch.float32),
         "int": np.eye(n, dtype=int)[3]}[kind]
    t = activity_cost(p, lam=2.0)
    assert t.p.dtype == np.float64 and abs(t.p.sum() - 1) < 1e-12
    Q = np.diag(np.arange(1.0, n + 1))
    assert np.isclose(t.value(Q), 2.0 * (5.5 if kind != "int" else 4.0))
    with pytest.raises(ValueError, match="^p must be a probability vector"):
        activity_cost(np.full(n, 0.11, dtype=np.float32))


def test_float32_targets_in_the_encoder_range_are_feasible():
    """Y = X W computed in float32 lies in range(X) to float32 precision only (relative residual ~5e-8): the
    feasibility test must allow that precision instead of declaring the problem infeasible (issue 15)."""
    import torch

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3)).astype(np.float32)
    Y = X @ rng.standard_normal((3, 2)).astype(np.float32)
    for enc, dec in ((X, Y), (torch.from_numpy(X), torch.from_numpy(Y))):
        prob = Problem([activity_cost(np.full(10, 0.1, dtype=np.float32)), encoder_cost(enc, lam=0.1)],
                       [decodable(dec)])
        prob.check_feasible()
        assert prob.solve().status == "converged"
    # a target that really is outside range(X) is still infeasible
    with pytest.raises(InfeasibleProblemError):
        Problem([activity_cost(), encoder_cost(X)], [decodable(rng.standard_normal((10, 1)))]).check_feasible()
