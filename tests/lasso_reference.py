"""Shared references for the compiled lasso tests: random problems, the objective, and cvxpy's optimum."""

import cvxpy as cp
import numpy as np


def problem(n=30, p=10, K=20, seed=0, coherent=False):
    """X (n × p) Gaussian, D (K × p) Gaussian with unit rows; ``coherent`` adds a shared direction to all atoms."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((K, p))
    if coherent:  # strongly correlated atoms: the lasso path then drops variables
        D = D + 2.0 * rng.standard_normal(p)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n, p))
    return X, D


def obj(X, D, Z, lam):
    return 0.5 * ((X - Z @ D) ** 2).sum(1) + lam * np.abs(Z).sum(1)


def cvx_optimum(x, D, lam, nonneg):
    z = cp.Variable(D.shape[0])
    cons = [z >= 0] if nonneg else []
    pen = cp.sum(z) if nonneg else cp.norm1(z)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - D.T @ z) + lam * pen), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return prob.value
