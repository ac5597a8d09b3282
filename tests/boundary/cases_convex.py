"""Boundary cases of ``simcode.convex`` (independent checks: closed forms and NumPy/SciPy formulas)."""

import numpy as np
import scipy.linalg as sla

from .harness import Case


def _Y(rng, n=6, m=2):
    return rng.standard_normal((n, m))


def _problem(rng, n=6):
    from simcode.convex import Problem, activity_cost, readout_cost

    Y = _Y(rng, n)
    return Problem([activity_cost(), readout_cost(Y, lam=0.1)]), Y


def _closed_form(Y, lam=0.1):
    """min_Q Tr(Q)/n + lam Tr(Yᵀ Q⁺ Y) = 2 √(lam/n) ‖Y‖_* (Q = √(lam n) (Y Yᵀ)^½)."""
    n = Y.shape[0]
    return 2 * np.sqrt(lam / n) * np.linalg.svd(Y, compute_uv=False).sum()


def _onoff_problem(rng, n=30):
    from simcode.convex import Problem, activity_cost, nonnegative, readout_cost

    v = np.sort(rng.random(n))
    p = rng.dirichlet(np.ones(n))
    return Problem([activity_cost(p), readout_cost(v, lam=0.3, affine=True)], [nonnegative()])


def _onoff_value(prob):
    """000 §5's closed form 2√λ·min_b(‖(I−b)₊‖ + ‖(b−I)₊‖), by SciPy's bounded scalar minimiser."""
    from scipy.optimize import minimize_scalar

    p, v = prob.terms[0].p, prob.terms[1].Y[:, 0]
    f = lambda b: np.sqrt(p @ np.maximum(v - b, 0) ** 2) + np.sqrt(p @ np.maximum(b - v, 0) ** 2)  # noqa: E731
    r = minimize_scalar(f, bounds=(v.min(), v.max()), method="bounded", options={"xatol": 1e-13})
    return 2 * np.sqrt(0.3) * min(f(r.x), f(v.min()))


def _with_Y(rng):
    prob, Y = _problem(rng)
    _with_Y.Y = Y
    return dict(problem=prob)


def _psd(rng, n=6, k=3):
    G = rng.standard_normal((n, k))
    return G @ G.T


def _orth(rng, n, k):
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


def _ranges(rng):
    C = rng.standard_normal((7, 2))          # a shared 2-D subspace
    B1 = np.linalg.qr(np.c_[C, rng.standard_normal((7, 2))])[0]
    B2 = np.linalg.qr(np.c_[C, rng.standard_normal((7, 1))])[0]
    return dict(B1=B1, B2=B2)


def _intersection_ok(out, kw):
    B1, B2 = kw["B1"], kw["B2"]
    N = sla.null_space(np.hstack([B1, -B2]))
    ref = sla.orth(B1 @ N[: B1.shape[1]])
    return out.shape[1] == ref.shape[1] and np.allclose(out @ out.T, ref @ ref.T, atol=1e-8)


def _hull_points(rng):
    V = np.r_[[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], rng.uniform(0.1, 0.9, (6, 2))]
    return dict(V=V, name="V")


def _ratio_kw(rng):
    V = rng.standard_normal((8, 2))
    V -= V.mean(0)
    G = rng.standard_normal((2, 2))
    return dict(V=V, A=0.1 * np.eye(2), B=G @ G.T + np.eye(2))


def _ratio_ok(out, kw):
    V, A, B = kw["V"], kw["A"], kw["B"]
    t = np.linspace(0, 2 * np.pi, 20001)
    T = np.c_[np.cos(t), np.sin(t)]
    h = np.maximum(0, (T @ V.T).max(1))
    r = (np.einsum("ij,jk,ik->i", T, A, T) + h ** 2) / np.einsum("ij,jk,ik->i", T, B, T)
    return abs(out[0] - r.min()) <= 1e-5 * max(1.0, r.min())


def _factor_kw(rng):
    Z = rng.uniform(size=(8, 3))
    return dict(Q=Z @ Z.T, random_state=0, n_restarts=3)


def _factor_ok(out, kw):
    Q = kw["Q"]
    return out.Z.min() >= 0 and np.linalg.norm(out.Z @ out.Z.T - Q) <= 1e-3 * np.linalg.norm(Q)


def _sources(rng, n=40, d=2):
    return rng.uniform(-1, 1, (n, d))


def _enc_ok(out, kw):
    X = kw["X"]
    W = np.random.default_rng(1).standard_normal((X.shape[1], 3))
    Q = X @ W @ W.T @ X.T
    return np.isclose(out.value(Q), kw["lam"] * np.trace(np.linalg.pinv(X @ X.T) @ Q))


def _readout_ok(out, kw):
    Y = kw["Y"]
    Q = _psd(np.random.default_rng(2), Y.shape[0], Y.shape[0])
    return np.isclose(out.value(Q), kw["lam"] * np.trace(Y.T @ np.linalg.inv(Q) @ Y))


def _sm_kw(rng):
    return dict(K_X=_psd(rng), lam=0.5, c=0.3)


def _sm_ok(out, kw):
    Q = _psd(np.random.default_rng(3))
    return np.isclose(out.value(Q), kw["lam"] * (-np.sum(kw["K_X"] * Q) + kw["c"] * np.sum(Q * Q)))


def _terms(rng):
    from simcode.convex import activity_cost, rank_penalty

    return dict(terms=[activity_cost(lam=2.0), rank_penalty(0.5)], n=5)


def _solved_value(out):
    prob, _, _ = out
    prob.solve()
    return prob.value


CASES = [
    Case("simcode.convex.activity_cost", lambda rng: dict(p=rng.dirichlet(np.ones(6)), lam=2.0), arrays=("p",),
         scalars={"lam": "nonnegative"},
         check=lambda out, kw: np.isclose(out.value(np.diag(np.arange(1.0, 7))),
                                          kw["lam"] * kw["p"] @ np.arange(1.0, 7))),
    Case("simcode.convex.readout_cost", lambda rng: dict(Y=_Y(rng), lam=0.3), arrays=("Y",),
         scalars={"lam": "nonnegative"}, check=_readout_ok),
    Case("simcode.convex.encoder_cost", lambda rng: dict(X=rng.standard_normal((6, 3)), lam=0.7), arrays=("X",),
         scalars={"lam": "nonnegative"}, check=_enc_ok),
    Case("simcode.convex.similarity_matching", _sm_kw, arrays=("K_X",), scalars={"lam": "nonnegative", "c": "positive"},
         check=_sm_ok),
    Case("simcode.convex.rank_penalty", lambda rng: dict(lam=0.4), scalars={"lam": "nonnegative"},
         check=lambda out, kw: np.isclose(out.value(np.diag([1.0, 2.0, 3.0])), 2.4)),
    Case("simcode.convex.nonnegative", lambda rng: dict(), check=lambda out, kw: out.first_order_part().nonnegative),
    Case("simcode.convex.decodable", lambda rng: dict(Y=_Y(rng)), arrays=("Y",),
         check=lambda out, kw: out.lam == 0 and not out.affine and np.array_equal(out.Y, kw["Y"])),
    Case("simcode.convex.affine_decodable", lambda rng: dict(Y=_Y(rng)), arrays=("Y",),
         check=lambda out, kw: out.lam == 0 and out.affine and np.array_equal(out.Y, kw["Y"])),
    Case("simcode.convex.trace_budget", lambda rng: dict(c=3.0), scalars={"c": "positive"},
         check=lambda out, kw: out.first_order_part().trace_budget == 3.0),
    Case("simcode.convex.pinv_psd", lambda rng: dict(Q=_psd(rng)), arrays=("Q",),
         check=lambda out, kw: np.allclose(out, np.linalg.pinv(kw["Q"], hermitian=True), atol=1e-8)),
    Case("simcode.convex.intersect_ranges", _ranges, arrays=("B1", "B2"), check=_intersection_ok),
    Case("simcode.convex.first_order_form", _terms, scalars={"n": "int"},
         check=lambda out, kw: np.allclose(out.linear, (2.0 / 5 + 0.5) * np.eye(5))),
    Case("simcode.convex.constraint_form", lambda rng: dict(constraints=[]),
         check=lambda out, kw: not out.nonnegative and out.trace_budget is None),
    Case("simcode.convex.admm_solve", lambda rng: dict(problem=_with_Y(rng)["problem"], tol=1e-7, max_iter=4000,
                                                      warn=False),
         scalars={"tol": "positive", "max_iter": "int", "alpha": "positive", "check_every": "int",
                  "anderson": "nonnegative"},
         check=lambda out, kw: np.isclose(out.objective, _closed_form(_with_Y.Y), rtol=1e-4)),
    Case("simcode.convex.cvxpy_solve", lambda rng: dict(problem=_with_Y(rng)["problem"]),
         scalars={"tol": "positive"},
         check=lambda out, kw: np.isclose(out.objective, _closed_form(_with_Y.Y), rtol=1e-5)),
    Case("simcode.convex.build_cvxpy", lambda rng: dict(problem=_with_Y(rng)["problem"]),
         check=lambda out, kw: np.isclose(_solved_value(out), _closed_form(_with_Y.Y), rtol=1e-5)),
    Case("simcode.convex.factor_nonneg", _factor_kw, arrays=("Q",),
         scalars={"n_restarts": "int", "tol": "nonnegative", "rank_tol": "positive"}, check=_factor_ok),
    Case("simcode.convex.convex_hull", _hull_points, arrays=("V",), check=lambda out, kw: np.isclose(out.volume, 1.0)),
    Case("simcode.convex.min_ratio_on_sphere", _ratio_kw, arrays=("V", "A", "B"), scalars={"n_starts": "int"},
         check=_ratio_ok),
    Case("simcode.convex.solve_measure", lambda rng: dict(S=_sources(rng), readout_gram=np.eye(2), lam=0.1,
                                                         encoder_gram=0.5 * np.eye(2), p=np.full(40, 1 / 40)),
         arrays=("S", "readout_gram", "encoder_gram", "p"),
         scalars={"lam": "positive", "tol": "nonnegative", "max_iter": "int"},
         check=lambda out, kw: out.objective >= out.lower_bound - 1e-6 * abs(out.objective)),
    Case("simcode.convex.solve_affine_autoencoder",
         lambda rng: dict(S=_sources(rng), A=np.array([[1.0, 0.3], [0.2, 1.0], [0.5, -0.4]]), lam=0.1,
                          p=rng.dirichlet(np.ones(40))),
         arrays=("S", "A", "p"), scalars={"lam": "positive", "tol": "nonnegative", "max_iter": "int"}),
    Case("simcode.convex.copositivity_ratio", lambda rng: dict(V=rng.standard_normal((12, 1)), c=rng.random(12) + 0.5),
         arrays=("V", "c"), scalars={"test_tol": "positive"},
         check=lambda out, kw: np.isclose(out[0], max(np.sum(np.maximum(kw["V"][:, 0], 0) ** 2 / kw["c"]),
                                                      np.sum(np.minimum(kw["V"][:, 0], 0) ** 2 / kw["c"])))),
    Case("simcode.convex.factored_support", lambda rng: dict(problem=_onoff_problem(rng)),
         check=lambda out, kw: out is None),
    Case("simcode.convex.factored_solve", lambda rng: dict(problem=_onoff_problem(rng)),
         scalars={"tol": "positive", "max_iter": "int", "max_columns": "int", "test_tol": "positive"},
         check=lambda out, kw: np.isclose(out.objective, _onoff_value(kw["problem"]), rtol=1e-9)),
]

UNCOVERED = {}

_NONE_DEFAULT = "None is the documented default of this argument (not bad input): {}"
_FLAT = ("a 1-D Y is a valid single readout target (n,); the flattened (n·m,) array is therefore a valid Y for n·m "
         "stimuli, not an error")
VALID = {
    "activity_cost:p:None": _NONE_DEFAULT.format("the uniform stimulus law"),
    "readout_cost:Y:flat": _FLAT,
    "decodable:Y:flat": _FLAT,
    "affine_decodable:Y:flat": _FLAT,
    "solve_measure:encoder_gram:None": _NONE_DEFAULT.format("no encoder cost"),
    "solve_measure:p:None": _NONE_DEFAULT.format("uniform probabilities of the rows"),
    "solve_affine_autoencoder:p:None": _NONE_DEFAULT.format("uniform probabilities of the rows"),
}
