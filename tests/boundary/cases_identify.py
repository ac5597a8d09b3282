"""Boundary cases of ``simcode.identify`` (independent checks: the closed forms of 000 §3 and §5, brute force)."""

import itertools

import numpy as np

from .harness import Case


def _law(rng, n=8):
    values = np.r_[0.0, np.sort(rng.uniform(0.2, 2.0, n - 1))]
    probs = np.r_[0.3, 0.7 * rng.dirichlet(np.ones(n - 1))]
    return dict(values=values, probs=probs)


def _threshold(kw):
    v, p = kw["values"], kw["probs"]
    d = v - v.min()
    return (p @ d) ** 2 / (p @ d ** 2)


def _p_star(kw):
    v, p = kw["values"], kw["probs"]
    q = p[1:] / p[1:].sum()
    d = v[1:] - v[0]
    r = (q @ d) ** 2 / (q @ d ** 2)
    return r / (1 + r)


def _onoff_value(kw, lam=1.0):
    """2√λ · min_b (‖(I − b)₊‖ + ‖(b − I)₊‖) in L²(p), by a fine grid over b (000 §5)."""
    v, p = kw["values"], kw["probs"]
    b = np.linspace(v.min(), v.max(), 20001)[:, None]
    f = np.sqrt(np.maximum(v - b, 0) ** 2 @ p) + np.sqrt(np.maximum(b - v, 0) ** 2 @ p)
    return 2 * np.sqrt(lam) * f.min()


def _mixing(rng):
    return dict(S=rng.uniform(-1, 1, (60, 2)), A=np.array([[1.0, 0.4], [0.1, 1.0], [0.3, -0.2]]), lam=0.1,
                p=rng.dirichlet(np.ones(60)))


def _modular_value(kw):
    """2√λ Σ_j √(c_j M_jj), c_j = Σ_jj + λ(M⁻¹)_jj + m_j² (the best modular code, 000 §3)."""
    S, A, lam, p = kw["S"], kw["A"], kw["lam"], kw["p"]
    M = A.T @ A
    mean = p @ S
    var = p @ (S - mean) ** 2
    m = np.minimum(mean - S.min(0), S.max(0) - mean)
    c = var + lam * np.diag(np.linalg.inv(M)) + m ** 2
    return 2 * np.sqrt(lam) * np.sum(np.sqrt(c * np.diag(M)))


def _positive_code(rng):
    return dict(Z=1.0 + rng.uniform(size=(12, 3)), n_starts=8, max_iter=200, random_state=0)


def _rotation_ok(out, kw):
    Z = kw["Z"]
    Zr = out.Z_rotated
    return (out.found and Zr.min() >= 0 and np.allclose(out.O.T @ out.O, np.eye(Z.shape[1]), atol=1e-8)
            and np.linalg.norm(Zr @ Zr.T - Z @ Z.T) <= 1e-4 * np.linalg.norm(Z @ Z.T))


def _separable(rng):
    Z = rng.uniform(0, 1, (10, 3)) * (rng.uniform(size=(10, 3)) > 0.5)
    Z[:3] = 2 * np.eye(3)       # every neuron fires alone somewhere
    return dict(Z=Z)


def _perm_kw(rng):
    Z = rng.uniform(size=(10, 4))
    return dict(Z=Z, Y=Z[:, [2, 0, 3, 1]] + 0.1 * rng.standard_normal((10, 4)))


def _perm_ok(out, kw):
    Z, Y = kw["Z"], kw["Y"]
    brute = min(np.linalg.norm(Y - Z[:, list(q)]) for q in itertools.permutations(range(Z.shape[1])))
    return np.isclose(out, brute / np.linalg.norm(Z))


CASES = [
    Case("simcode.identify.onoff_threshold", _law, arrays=("values", "probs"),
         check=lambda out, kw: np.isclose(out, _threshold(kw))),
    Case("simcode.identify.critical_p_zero", _law, arrays=("values", "probs"),
         check=lambda out, kw: np.isclose(out, _p_star(kw))),
    Case("simcode.identify.onoff_closed_form", lambda rng: dict(_law(rng), lam=0.5), arrays=("values", "probs"),
         scalars={"lam": "positive"},
         check=lambda out, kw: np.isclose(out[0], _onoff_value(kw, 0.5), rtol=1e-6)),
    Case("simcode.identify.solve_onoff", lambda rng: dict(_law(rng), lam=1.0, random_state=0),
         arrays=("values", "probs"), scalars={"lam": "positive", "tol": "positive", "off_tol": "nonnegative"},
         check=lambda out, kw: np.isclose(out.objective, _onoff_value(kw), rtol=1e-4)),
    Case("simcode.identify.modular_candidate", _mixing, arrays=("S", "A", "p"), scalars={"lam": "positive"},
         check=lambda out, kw: np.isclose(out[4], _modular_value(kw))),
    Case("simcode.identify.tight_scattering", _mixing, arrays=("S", "A", "p"),
         scalars={"lam": "positive", "tol": "nonnegative"},
         check=lambda out, kw: np.allclose(np.diag(out.F), out.m ** 2)),
    Case("simcode.identify.nonneg_rotations", _positive_code, arrays=("Z",),
         scalars={"n_starts": "int", "max_iter": "int", "feas_tol": "nonnegative", "min_distance": "nonnegative"},
         check=_rotation_ok),
    Case("simcode.identify.tuning_certificate", _separable, arrays=("Z",),
         scalars={"max_dim": "int", "tol": "nonnegative"},
         check=lambda out, kw: out.unique and out.separable),
    Case("simcode.identify.permutation_distance", _perm_kw, arrays=("Z", "Y"), check=_perm_ok),
]

UNCOVERED = {}

_P_NONE = "None is the documented default of p (uniform sample probabilities), not bad input"
VALID = {
    "modular_candidate:p:None": _P_NONE,
    "tight_scattering:p:None": _P_NONE,
}
