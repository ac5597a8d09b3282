"""The partial PSD projection (warm-started Chebyshev subspace iteration) against a full eigen-decomposition."""

import numpy as np
import pytest
import torch

from simcode.convex import Problem, activity_cost, nonnegative, readout_cost
from simcode.convex.admm import admm_solve
from simcode.convex.psd_projection import PSDProjector
from simcode.data import onoff_stimulus


def exact_projection(A):
    w, V = np.linalg.eigh(A)
    return (V * np.maximum(w, 0)) @ V.T


def low_rank_plus_negative(rng, N, r, pos_scale=1.0):
    """A symmetric matrix with r positive eigenvalues and N − r negative ones."""
    V, _ = np.linalg.qr(rng.standard_normal((N, N)))
    w = np.concatenate([-rng.uniform(0.05, 2.0, N - r), pos_scale * rng.uniform(0.2, 3.0, r)])
    return (V * w) @ V.T


def test_partial_projection_tracks_a_drifting_sequence():
    rng = np.random.default_rng(0)
    N = 150
    A = low_rank_plus_negative(rng, N, 3)
    proj = PSDProjector(rtol=1e-11)
    E = rng.standard_normal((N, N))
    E = (E + E.T) / np.sqrt(N)
    errs = []
    for k in range(25):
        Ak = A + 0.01 * np.sin(0.3 * k) * E
        X = proj(torch.from_numpy(Ak)).numpy()
        errs.append(np.linalg.norm(X - exact_projection(Ak)) / np.linalg.norm(exact_projection(Ak)))
        assert proj.verify(torch.from_numpy(Ak), torch.from_numpy(X))
    assert proj.n_partial >= 20, proj.stats()          # the partial path was actually used
    assert max(errs) < 1e-8


def test_verify_detects_a_missed_positive_eigenvalue():
    rng = np.random.default_rng(1)
    N = 120
    V, _ = np.linalg.qr(rng.standard_normal((N, N)))
    w = -rng.uniform(0.1, 1.0, N)
    w[-2:] = [2.0, 1.0]
    proj = PSDProjector()
    proj(torch.from_numpy((V * w) @ V.T))               # full decomposition: warm start for the next call
    assert proj.V is not None
    proj.V = torch.from_numpy(V[:, -8:].copy())         # the block tracks the top directions exactly
    # a new positive eigenvalue appears in a direction orthogonal to the block: the filter cannot see it
    w2 = w.copy()
    w2[0] = 0.5
    A2 = torch.from_numpy((V * w2) @ V.T)
    exact = exact_projection(A2.numpy())
    X2 = proj(A2)
    assert np.linalg.norm(X2.numpy() - exact) > 0.4     # missed (norm of the missing part is 0.5)
    assert not proj.verify(A2, X2)                      # the exact check catches it
    assert proj.V is None                               # and the next call decomposes fully
    assert np.allclose(proj(A2).numpy(), exact, atol=1e-10)


def test_no_positive_part_gives_zero():
    rng = np.random.default_rng(2)
    N = 100
    B = rng.standard_normal((N, N))
    A = torch.from_numpy(-(B @ B.T) / N - 0.1 * np.eye(N))
    proj = PSDProjector()
    proj(torch.from_numpy(low_rank_plus_negative(rng, N, 2)))   # warm start from a matrix with a positive part
    assert proj.V is not None
    assert np.abs(proj(A).numpy()).max() == 0.0


def test_admm_with_partial_eigensolver_matches_closed_form_at_larger_n():
    """n = 120 > the projector's minimum size, so the partial path runs; closed form of 000 §5."""
    from scipy.optimize import minimize_scalar

    v, p = onoff_stimulus("exponential", 0.3, 120)
    lam = 0.5
    f = lambda b: np.sqrt(p @ np.maximum(v - b, 0) ** 2) + np.sqrt(p @ np.maximum(b - v, 0) ** 2)  # noqa: E731
    ref = 2 * np.sqrt(lam) * minimize_scalar(f, bounds=(v.min(), v.max()), method="bounded",
                                             options={"xatol": 1e-12}).fun
    prob = Problem([activity_cost(p), readout_cost(v, lam=lam, affine=True)], [nonnegative()])
    r = admm_solve(prob, tol=1e-7)
    assert r.converged
    assert r.projections["eigh_partial"] > r.projections["eigh_full"]
    assert r.objective == pytest.approx(ref, rel=1e-6)
    lb = r.certificate.lower_bound
    assert lb <= ref * (1 + 1e-12)
    assert (r.objective - lb) / r.objective <= 1e-6
    off = admm_solve(prob, tol=1e-7, partial_eig=False)
    assert off.projections["eigh_partial"] == 0
    assert off.objective == pytest.approx(ref, rel=1e-6)
