"""Boundary cases of ``simcode.nets`` (independent checks: closed forms — ridge regression, soft thresholding)."""

import numpy as np

from simcode.nets import ConvexReLUClassifier, ConvexReLURegressor

from .harness import Case

_FAST = dict(lam=0.1, n_patterns=10, max_iter=300, tol=1e-4, solver="torch", random_state=0)


def _reg(rng, n=20, d=3):
    X = rng.standard_normal((n, d))
    return dict(X=X, y=np.maximum(X @ rng.standard_normal(d), 0) + 0.1 * rng.standard_normal(n))


def _clf(rng, n=20, d=3):
    X = rng.standard_normal((n, d))
    return dict(X=X, y=(X[:, 0] + 0.3 * rng.standard_normal(n) > 0).astype(int))


def _ridge_check(out, kw):
    X, Y, lam = kw["X"], kw["Y"], kw["lam"]
    W = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ Y).T
    return np.allclose(out.product, W, atol=1e-6)


CASES = [
    Case("simcode.nets.ConvexReLURegressor", _reg, arrays=("X", "y"), init=lambda: ConvexReLURegressor(**_FAST)),
    Case("simcode.nets.ConvexReLUClassifier", _clf, arrays=("X",), init=lambda: ConvexReLUClassifier(**_FAST)),
    Case("simcode.nets.convex_relu_fit",
         lambda rng: (lambda d: dict(X=d["X"], Y=d["y"], **_FAST, warn=False))(_reg(rng)),
         arrays=("X", "Y"), scalars={"lam": "positive", "n_patterns": "int", "max_iter": "int", "tol": "nonnegative",
                                     "rho": "positive"}),
    Case("simcode.nets.deep_linear_optimum",
         lambda rng: (lambda X: dict(X=X, Y=X @ rng.standard_normal((4, 2)) + 0.1 * rng.standard_normal((25, 2)),
                                     n_layers=1, lam=0.5))(rng.standard_normal((25, 4))),
         arrays=("X", "Y"), scalars={"n_layers": "int", "lam": "nonnegative"}, check=_ridge_check),
    Case("simcode.nets.schatten_prox", lambda rng: dict(a=rng.random(6) * 3, c=2.0, lam=1.0, n_layers=2),
         arrays=("a",), scalars={"c": "positive", "lam": "nonnegative", "n_layers": "int"},
         check=lambda out, kw: np.allclose(out, np.maximum(kw["a"] - kw["lam"] / kw["c"], 0))),
]

UNCOVERED = {}

VALID = {}
