"""Boundary cases of ``simcode.ksm`` (independent checks: NumPy closed forms, scikit-learn's ``r2_score``)."""

import numpy as np
from sklearn.metrics import r2_score

from simcode.ksm import SMPC, KernelSimilarityMatching

from .harness import Case


def _X(rng, n=30, p=5):
    return dict(X=rng.standard_normal((n, p)))


def _codes(rng, n=12, k=4):
    Z = rng.standard_normal((n, k))
    Z[rng.random((n, k)) < 0.5] = 0.0
    Z[:, 0] += 1.0
    return Z


def _cholesky_check(out, kw):
    Z, T = kw["Z"], kw["Z"].shape[0]
    H = Z.T @ Z / T + kw["omega"] * np.eye(Z.shape[1])
    return np.allclose(out.T @ out, np.linalg.inv(H), rtol=1e-6, atol=1e-8) and np.allclose(out, np.tril(out))


def _p1_sparsity(Z):
    n = Z.shape[1]
    num = np.abs(Z - Z.mean(1, keepdims=True)).sum(1) / (n - 1)
    den = np.abs(Z).sum(1) / n
    return np.mean(np.where(den > 0, num / np.where(den > 0, den, 1) / 2, 1.0))


def _sine_ref(A, B):
    cos2 = (A * B).sum(1) ** 2 / (np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1)) ** 2
    return np.mean(1 - cos2)


CASES = [
    Case("simcode.ksm.KernelSimilarityMatching", _X, arrays=("X",),
         init=lambda: KernelSimilarityMatching(n_components=3, max_iter=3, batch_size=10, n_z_steps=3,
                                               random_state=0)),
    Case("simcode.ksm.kernel_similarity_matching",
         lambda rng: dict(_X(rng), n_components=3, max_iter=3, batch_size=10, n_z_steps=3, lam=0.5, omega=1e-3,
                          rho=1.0, lr_w=0.01, random_state=0, warn=False),
         arrays=("X",),
         scalars={"n_components": "int", "max_iter": "int", "batch_size": "int", "n_z_steps": "int",
                  "lam": "nonnegative", "omega": "positive", "rho": "positive", "lr_w": "positive"}),
    Case("simcode.ksm.implicit_map",
         lambda rng: dict(X=rng.standard_normal((15, 4)), Z=_codes(rng, 15, 3), omega=0.1), arrays=("X", "Z"),
         scalars={"omega": "positive"}),
    Case("simcode.ksm.SMPC", _X, arrays=("X",),
         init=lambda: SMPC(n_components=2, max_iter=20, n_neural_steps=3, n_synaptic_steps=2, record_every=5,
                           random_state=0)),
    Case("simcode.ksm.similarity_matching_predictive_coding",
         lambda rng: dict(_X(rng), n_components=2, max_iter=20, n_neural_steps=3, n_synaptic_steps=2,
                          record_every=5, lam=0.8, rho=5.0, omega=0.1, lr_y=0.1, lr_z=0.1, lr_w=0.05, lr_m=0.1,
                          random_state=0, warn=False),
         arrays=("X",),
         scalars={"n_components": "int", "max_iter": "int", "n_neural_steps": "int", "n_synaptic_steps": "int",
                  "record_every": "int", "lam": "nonnegative", "rho": "positive", "omega": "positive",
                  "lr_y": "positive", "lr_z": "positive", "lr_w": "positive", "lr_m": "positive"}),
    Case("simcode.ksm.cholesky_omega", lambda rng: dict(Z=_codes(rng), omega=0.1, simplex=False), arrays=("Z",),
         scalars={"omega": "positive"}, check=_cholesky_check),
    Case("simcode.ksm.reconstruction_r2",
         lambda rng: (lambda X: dict(X=X, X_hat=X + 0.3 * rng.standard_normal(X.shape)))(rng.standard_normal((20, 4))),
         arrays=("X", "X_hat"),
         check=lambda out, kw: np.isclose(out, r2_score(kw["X"], kw["X_hat"], multioutput="variance_weighted"))),
    Case("simcode.ksm.p_sparsity", lambda rng: dict(Z=_codes(rng), p=1.0), arrays=("Z",),
         check=lambda out, kw: np.isclose(out, _p1_sparsity(kw["Z"]))),
    Case("simcode.ksm.sine_similarity_error",
         lambda rng: dict(Z_true=rng.standard_normal((10, 3)), Z_est=rng.standard_normal((10, 3))),
         arrays=("Z_true", "Z_est"), check=lambda out, kw: np.isclose(out, _sine_ref(kw["Z_true"], kw["Z_est"]))),
    Case("simcode.ksm.support_sizes", lambda rng: dict(Z=_codes(rng), tol=1e-6), arrays=("Z",),
         scalars={"tol": "nonnegative"},
         check=lambda out, kw: np.array_equal(out, (np.abs(kw["Z"]) > 1e-6 * np.abs(kw["Z"]).max(1,
                                                                                           keepdims=True)).sum(1))),
    Case("simcode.ksm.modal_support_size", lambda rng: dict(Z=_codes(rng), tol=1e-6), arrays=("Z",),
         scalars={"tol": "nonnegative"},
         check=lambda out, kw: out == np.bincount((np.abs(kw["Z"]) > 1e-6 * np.abs(kw["Z"]).max(
             1, keepdims=True)).sum(1)).argmax()),
]

UNCOVERED = {}

VALID = {}
