"""Tuning uniqueness: nonneg_rotations search and the uniqueness certificates (Theorem 2)."""

import itertools

import numpy as np
import pytest

from simcode.data.cells import make_place_cells
from simcode.identify.tuning import nonneg_rotations, permutation_distance, tuning_certificate


def test_permutation_distance_matches_brute_force():
    rng = np.random.default_rng(0)
    Z = rng.uniform(size=(20, 5))
    Y = Z[:, [2, 0, 1, 4, 3]] + 0.1 * rng.standard_normal((20, 5))
    brute = min(np.linalg.norm(Y - Z[:, list(p)]) for p in itertools.permutations(range(5))) / np.linalg.norm(Z)
    assert np.isclose(permutation_distance(Z, Y), brute)


def test_separated_place_cells_are_certified_unique():
    Z, _, _ = make_place_cells(6, 120, 0.07, "ring")
    res = nonneg_rotations(Z, n_starts=20, random_state=0, max_iter=200)
    assert res.uniqueness.unique and res.uniqueness.separable
    assert not res.found


def test_duplicated_neuron_is_not_unique():
    # two identical columns: the 45-degree rotation gives [sqrt2 z, 0] — an exact non-negative alternative
    Z, _, _ = make_place_cells(3, 60, 0.1, "ring")
    Z = np.c_[Z, Z[:, 0]]
    res = nonneg_rotations(Z, n_starts=40, random_state=1, max_iter=500)
    assert res.found and res.distance > 0.1
    assert not res.uniqueness.unique


def test_strictly_positive_code_is_not_unique_and_witness_is_valid():
    rng = np.random.default_rng(2)
    Z = 1.0 + rng.uniform(size=(30, 4))
    res = nonneg_rotations(Z, n_starts=30, random_state=0, max_iter=300)
    assert res.found
    O = res.O
    assert np.allclose(O.T @ O, np.eye(4), atol=1e-10)
    assert (Z @ O).min() >= -1e-6 * Z.max()
    Q = Z @ Z.T
    assert np.linalg.norm((Z @ O) @ (Z @ O).T - Q) <= 1e-9 * np.linalg.norm(Q)
    assert res.distance > 1e-3


def test_theorem2_certificate_is_a_valid_containment():
    Z, _, _ = make_place_cells(6, 120, 0.2, "ring")  # overlapping, not separable
    cert = tuning_certificate(Z)
    assert not cert.separable
    assert cert.unique, cert.note
    F, mu = cert.F, Z.mean(0)
    assert np.allclose(np.diag(F), mu ** 2) and np.linalg.eigvalsh(F).min() > 0
    # independent check of mu + E ⊆ Conv(Z): support functions along many random directions
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 6))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    hz = (a @ Z.T).max(1)
    he = a @ mu + np.sqrt(np.einsum("ij,jk,ik->i", a, F, a))
    assert np.all(hz >= he - 1e-9)
    # and consistent with the theorem: random rotations near the identity break non-negativity
    for _ in range(50):
        A = rng.standard_normal((6, 6))
        O = np.linalg.qr(np.eye(6) + 0.05 * (A - A.T))[0]
        O = O * np.sign(np.diag(O))
        assert (Z @ O).min() < 0


def test_bad_input():
    Z, _, _ = make_place_cells(4, 40, 0.1, "ring")
    with pytest.raises(ValueError, match="non-negative"):
        nonneg_rotations(Z - 0.5)
    bad = Z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Z"):
        nonneg_rotations(bad)
    with pytest.raises(ValueError, match="n_starts"):
        nonneg_rotations(Z, n_starts=0)
    with pytest.raises(ValueError, match="Z"):
        tuning_certificate(np.zeros((5, 3)))


def _torch_case(device):
    import torch

    rng = np.random.default_rng(2)
    Z = 1.0 + rng.uniform(size=(30, 4))
    Zt = torch.as_tensor(Z, device=device)
    res = nonneg_rotations(Zt, n_starts=16, random_state=0, max_iter=300)
    assert isinstance(res.O, torch.Tensor) and res.O.device.type == torch.device(device).type
    O = res.O.cpu().numpy()
    assert res.found and np.allclose(O.T @ O, np.eye(4), atol=1e-10)
    assert (Z @ O).min() >= -1e-6 * Z.max()


def test_torch_input_cpu():
    _torch_case("cpu")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
def test_torch_input_cuda():
    _torch_case("cuda")


def test_representation_input_and_result_protocol():
    from simcode.core import STATUSES, Representation, SolverResult

    Z, _, _ = make_place_cells(6, 120, 0.07, "ring")
    rep = Representation(Z, metadata={"model": "place cells"})
    a = nonneg_rotations(rep, n_starts=10, random_state=0, max_iter=100)
    b = nonneg_rotations(Z, n_starts=10, random_state=0, max_iter=100)
    assert isinstance(a, SolverResult) and a.status in STATUSES and a.certificate is None
    assert np.allclose(a.O, b.O) and a.uniqueness.unique == b.uniqueness.unique
    assert a.n_iter <= 100 and len(a.history["n_feasible"]) == a.n_iter // 50
    assert tuning_certificate(rep).unique == tuning_certificate(Z).unique
