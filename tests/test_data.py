"""Data generators of simcode.data (lead's part): shapes, seeds, stated statistics, argument errors."""

import numpy as np
import pytest

from simcode.data import (load_digits_subset, load_image_patches, make_moons, make_sparse_dictionary_data,
                          onoff_stimulus)


def test_sparse_dictionary_data_statistics():
    X, D, C = make_sparse_dictionary_data(1500, 30, 16, 0.125, amplitude=(4, 6), random_state=0)
    assert X.shape == (1500, 30) and D.shape == (16, 30) and C.shape == (1500, 16)
    assert np.allclose(np.linalg.norm(D, axis=1), 1)
    assert np.all((C != 0).sum(1) == 2)                       # 12.5 % of 16 atoms
    nz = C[C != 0]
    assert nz.min() >= 4 and nz.max() <= 6 and abs(nz.mean() - 5) < 0.05
    assert np.allclose(X, C @ D)
    counts = (C != 0).sum(0)                                   # atoms used uniformly
    assert counts.min() > 0.7 * counts.mean()
    X2, _, _ = make_sparse_dictionary_data(1500, 30, 16, 0.125, random_state=0)
    assert np.array_equal(X, X2)
    X3, _, _ = make_sparse_dictionary_data(1500, 30, 16, 0.125, random_state=1)
    assert not np.array_equal(X, X3)
    Xn, _, Cn = make_sparse_dictionary_data(2000, 30, 16, 0.125, noise=0.1, nonnegative=False, random_state=0)
    assert (Cn < 0).any()


@pytest.mark.parametrize("kw,name,exc", [({"n_samples": 0}, "n_samples", ValueError),
                                         ({"sparsity": 1.5}, "sparsity", ValueError),
                                         ({"amplitude": (6, 4)}, "amplitude", ValueError),
                                         ({"amplitude": "ab"}, "amplitude", TypeError),
                                         ({"noise": -1}, "noise", ValueError),
                                         ({"noise": np.nan}, "noise", ValueError),
                                         ({"n_components": 2.5}, "n_components", TypeError),
                                         ({"n_components": "3"}, "n_components", TypeError),
                                         ({"sparsity": True}, "sparsity", TypeError),
                                         ({"random_state": "x"}, "random_state", ValueError)])
def test_sparse_dictionary_data_errors(kw, name, exc):
    with pytest.raises(exc, match=name):
        make_sparse_dictionary_data(**kw)


def test_sparse_dictionary_data_keyword_and_default_seed():
    X, D, C = make_sparse_dictionary_data(n_samples=50, n_features=6, n_components=8, sparsity=0.25)
    assert D.shape == (8, 6) and C.shape == (50, 8) and np.all((C != 0).sum(1) == 2)
    np.testing.assert_allclose(X, C @ D)


def test_image_patches_whitened():
    P = load_image_patches(8, 3000, whiten=True, random_state=0)
    assert P.shape == (3000, 64)
    assert np.allclose(P.mean(1), 0, atol=1e-10) and P.std() == pytest.approx(1.0)
    # whitening flattens the spectrum: neighbouring pixels are far less correlated than in raw patches
    R = load_image_patches(8, 3000, whiten=False, random_state=0)
    corr = lambda A: np.corrcoef(A.reshape(-1, 8, 8)[:, :, :-1].ravel(), A.reshape(-1, 8, 8)[:, :, 1:].ravel())[0, 1]
    assert corr(R) > 0.5 and abs(corr(P)) < corr(R) - 0.1
    assert np.array_equal(P, load_image_patches(8, 3000, whiten=True, random_state=0))
    with pytest.raises(ValueError, match="patch_size"):
        load_image_patches(1, 10)
    with pytest.raises(ValueError, match="n_patches"):
        load_image_patches(8, 0)
    with pytest.raises(TypeError, match="patch_size"):
        load_image_patches(8.0, 10)


def test_digits_and_moons():
    X, y = load_digits_subset((0, 3, 4, 6, 7))
    assert X.shape[1] == 64 and set(np.unique(y)) == {0, 3, 4, 6, 7} and X.max() <= 1
    with pytest.raises(ValueError, match="classes"):
        load_digits_subset((11,))
    X, y = make_moons(2500, 0.01, random_state=0)
    assert X.shape == (2500, 2)
    assert np.array_equal(X, make_moons(2500, 0.01, random_state=0)[0])
    with pytest.raises(ValueError, match="noise"):
        make_moons(100, -0.1)
    with pytest.raises(TypeError, match="n_samples"):
        make_moons("100")


@pytest.mark.parametrize("law", ["uniform", "exponential", "half-normal"])
def test_onoff_stimulus(law):
    v, p = onoff_stimulus(law, 0.3, 1001)
    assert v[0] == 0 and p[0] == pytest.approx(0.3) and p.sum() == pytest.approx(1)
    assert np.all(np.diff(v) > 0) and np.all(p >= 0)
    # the continuous part integrates the density: e.g. the exponential's mean ≈ 1 (cut at 6)
    if law == "exponential":
        q = p[1:] / p[1:].sum()
        assert q @ v[1:] == pytest.approx((1 - 7 * np.exp(-6)) / (1 - np.exp(-6)), rel=1e-4)


def test_onoff_stimulus_errors():
    with pytest.raises(ValueError, match="p_zero"):
        onoff_stimulus("uniform", 1.2)
    with pytest.raises(ValueError, match="law"):
        onoff_stimulus("cauchy", 0.2)
    with pytest.raises(ValueError, match="x_max"):
        onoff_stimulus(lambda x: x, 0.2)
    with pytest.raises(TypeError, match="n_points"):
        onoff_stimulus("uniform", 0.2, 10.0)
    with pytest.raises(TypeError, match="p_zero"):
        onoff_stimulus("uniform", "0.2")
    v, p = onoff_stimulus(lambda x: x, 0.2, 11, x_max=2.0)
    assert p.sum() == pytest.approx(1)
