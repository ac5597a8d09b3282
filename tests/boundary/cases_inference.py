"""Boundary cases of ``simcode.similarity.inference`` and ``simcode.similarity.fitted`` (independent checks:
closed forms, NumPy formulas)."""

import numpy as np
from scipy.spatial.distance import pdist, squareform

from .harness import Case


def _xy(rng, n=12, p=3, q=4):
    X = rng.standard_normal((n, p))
    return dict(X=X, Y=X @ rng.standard_normal((p, q)) + 0.5 * rng.standard_normal((n, q)))


def _subjects(rng, n=10, S=3):
    X = rng.standard_normal((n, 3))
    return dict(X=X, Y=np.stack([X @ rng.standard_normal((3, 4)) + rng.standard_normal((n, 4)) for _ in range(S)]))


def _lin_cka(X, Y):
    X, Y = X - X.mean(0), Y - Y.mean(0)
    return np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y))


def _rdms(rng, n=12, k=2):
    return [squareform(pdist(rng.standard_normal((n, 3)))) for _ in range(k)]


CASES = [
    Case("simcode.similarity.bootstrap", lambda rng: dict(_xy(rng), n_boot=50, random_state=0), arrays=("X", "Y"),
         scalars={"n_boot": "int"},
         check=lambda out, kw: np.isclose(out.estimate, _lin_cka(kw["X"], kw["Y"])) and out.ci_low <= out.ci_high),
    Case("simcode.similarity.bootstrap", lambda rng: dict(_subjects(rng), measure="rsa", over="both", n_boot=30,
                                                          random_state=0),
         arrays=("X", "Y"), id="bootstrap_rsa_both"),
    Case("simcode.similarity.permutation_test", lambda rng: dict(_xy(rng), n_permutations=99, random_state=0),
         arrays=("X", "Y"), scalars={"n_permutations": "int"},
         check=lambda out, kw: np.isclose(out.statistic, _lin_cka(kw["X"], kw["Y"]))
         and out.p_value == (1 + np.sum(out.null >= out.statistic - 1e-12)) / 100),
    Case("simcode.similarity.noise_ceiling", lambda rng: dict(data=_subjects(rng)["Y"]), arrays=("data",),
         check=lambda out, kw: out.lower <= out.upper <= 1 + 1e-12),
    Case("simcode.similarity.crossval_rdm_models",
         lambda rng: (lambda A, B: dict(models={"A": A}, weighted={"AB": [A, B]}, data=np.stack([A + B, A + 2 * B]),
                                        n_folds=2, random_state=0))(*_rdms(rng)),
         arrays=("data",), scalars={"n_folds": "int"},
         check=lambda out, kw: out.scores.shape == (2, 2)),
    Case("simcode.similarity.ProcrustesMetric", lambda rng: (lambda d: dict(X=d["X"], y=d["Y"]))(_xy(rng)),
         arrays=("X", "y"), init=lambda: __import__("simcode.similarity", fromlist=["x"]).ProcrustesMetric()),
    Case("simcode.similarity.CCAMetric", lambda rng: (lambda d: dict(X=d["X"], y=d["Y"]))(_xy(rng)),
         arrays=("X", "y"), init=lambda: __import__("simcode.similarity", fromlist=["x"]).CCAMetric()),
    Case("simcode.similarity.WeightedRDMModel",
         lambda rng: (lambda M: dict(X=M, y=M @ np.array([1.0, 2.0])))(np.abs(rng.standard_normal((15, 2)))),
         arrays=("X", "y"), init=lambda: __import__("simcode.similarity", fromlist=["x"]).WeightedRDMModel(),
         check=lambda out, kw: np.allclose(out.coef_, [1.0, 2.0])),
]

UNCOVERED = {}

VALID = {
    "bootstrap:Y:extra_dim": "a (subjects, stimuli, features) array is the documented layout of several subjects "
                             "(here one)",
}
