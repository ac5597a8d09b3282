"""Boundary cases of ``simcode.similarity`` (independent checks: NumPy/SciPy formulas)."""

import numpy as np
import scipy.spatial.distance as ssd

from .harness import Case


def _xy(rng, n=20, p=5, q=4):
    X = rng.standard_normal((n, p))
    return dict(X=X, Y=X @ rng.standard_normal((p, q)) + 0.5 * rng.standard_normal((n, q)))


def _lin_cka(X, Y):
    X, Y = X - X.mean(0), Y - Y.mean(0)
    return np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y))


CASES = [
    Case("simcode.similarity.cka", _xy, arrays=("X", "Y"),
         check=lambda out, kw: np.isclose(out, _lin_cka(kw["X"], kw["Y"]))),
    Case("simcode.similarity.gram", lambda rng: dict(X=rng.standard_normal((10, 3))), arrays=("X",),
         check=lambda out, kw: np.allclose(out, kw["X"] @ kw["X"].T)),
    Case("simcode.similarity.center", lambda rng: dict(K=(lambda A: A @ A.T)(rng.standard_normal((8, 3)))),
         arrays=("K",),
         check=lambda out, kw: np.allclose(out, (np.eye(8) - 1 / 8) @ kw["K"] @ (np.eye(8) - 1 / 8))),
    Case("simcode.similarity.rdm", lambda rng: dict(X=rng.standard_normal((9, 4))), arrays=("X",),
         check=lambda out, kw: np.allclose(out, ssd.squareform(ssd.pdist(kw["X"])))),
    Case("simcode.similarity.procrustes", _xy, arrays=("X", "Y")),
    Case("simcode.similarity.cca", _xy, arrays=("X", "Y")),
    Case("simcode.similarity.canonical_correlations", _xy, arrays=("X", "Y")),
    Case("simcode.similarity.participation_ratio", lambda rng: dict(X=rng.standard_normal((30, 6))), arrays=("X",),
         check=lambda out, kw: np.isclose(out, (lambda w: w.sum() ** 2 / (w ** 2).sum())(
             np.linalg.eigvalsh(np.cov(kw["X"].T))))),
    Case("simcode.similarity.mutual_knn", lambda rng: dict(_xy(rng, 40), k=5), arrays=("X", "Y"),
         scalars={"k": "int"}),
    Case("simcode.similarity.cknna", lambda rng: dict(_xy(rng, 40), k=5), arrays=("X", "Y"), scalars={"k": "int"}),
    Case("simcode.similarity.knn_indices", lambda rng: dict(X=rng.standard_normal((30, 4)), k=3), arrays=("X",),
         scalars={"k": "int"}),
    Case("simcode.similarity.median_sigma", lambda rng: dict(X=rng.standard_normal((20, 3))), arrays=("X",)),
    Case("simcode.similarity.bures",
         lambda rng: {k: v @ v.T for k, v in zip("KL", (rng.standard_normal((10, 3)), rng.standard_normal((10, 4))))},
         arrays=("K", "L")),
    Case("simcode.similarity.rsa", lambda rng: dict(rdm1=ssd.pdist(rng.standard_normal((12, 3))),
                                                    rdm2=ssd.pdist(rng.standard_normal((12, 3)))),
         arrays=("rdm1", "rdm2")),
    Case("simcode.similarity.rsa_data", _xy, arrays=("X", "Y")),
    Case("simcode.similarity.upper_triangle", lambda rng: dict(D=ssd.squareform(ssd.pdist(rng.random((6, 2))))),
         arrays=("D",), check=lambda out, kw: np.allclose(out, ssd.squareform(kw["D"], checks=False))),
    Case("simcode.similarity.collapse_metrics",
         lambda rng: dict(H=rng.standard_normal((30, 4)), labels=np.repeat(np.arange(3), 10)), arrays=("H",)),
]

UNCOVERED = {}

VALID = {}
