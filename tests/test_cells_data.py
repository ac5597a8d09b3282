"""Place and grid cell generators (simcode.data.cells)."""

import numpy as np
import pytest

from simcode.data.cells import make_grid_cells, make_place_cells


@pytest.mark.parametrize("shape", ["ring", "line"])
def test_place_cells_1d_shapes_and_support(shape):
    Z, pos, cen = make_place_cells(8, 160, 0.1, shape)
    assert Z.shape == (160, 8) and pos.shape == (160,) and cen.shape == (8,)
    assert Z.min() >= 0 and Z.max() <= 1
    d = np.abs(pos[:, None] - cen[None])
    if shape == "ring":
        d = np.minimum(d, 1 - d)
    assert np.all(Z[d >= 0.1] == 0) and np.all(Z[d < 0.0999] > 0)
    assert np.allclose(Z, np.clip(1 - (d / 0.1) ** 2, 0, None))


def test_place_cells_separated_means_one_active_cell():
    Z, _, _ = make_place_cells(6, 120, 0.5 / 6, "ring")
    assert (Z > 0).sum(1).max() == 1
    Z2, _, _ = make_place_cells(6, 120, 0.3, "ring")
    assert (Z2 > 0).sum(1).min() >= 3


def test_place_cells_2d():
    Z, pos, cen = make_place_cells(9, 441, 0.2, "2d")
    assert Z.shape == (441, 9) and pos.shape == (441, 2) and cen.shape == (9, 2)
    d = np.linalg.norm(pos[:, None] - cen[None], axis=-1)
    assert np.all(Z[d >= 0.2] == 0)


def test_grid_cells_1d_periodicity_and_range():
    Z, x, module = make_grid_cells([1 / 2, 1 / 3], 3, 120, -1.0)
    assert Z.shape == (120, 6) and list(module) == [0, 0, 0, 1, 1, 1]
    assert np.isclose(Z.max(), 1.0) and Z.min() == 0.0
    assert np.allclose(np.roll(Z[:, :3], 60, axis=0), Z[:, :3])  # period 1/2 = 60 positions
    assert np.allclose(np.roll(Z[:, 3:], 40, axis=0), Z[:, 3:])  # period 1/3 = 40 positions
    # phase k shifts the tuning by k/P of a period
    assert np.allclose(np.roll(Z[:, 0], 20), Z[:, 1])
    Zt, _, _ = make_grid_cells([1 / 2], 3, 120, 0.5)
    assert np.mean(Zt[:, 0] > 0) == pytest.approx(1 / 3, abs=0.02)  # cos > 0.5 on a third of the period


def test_grid_cells_2d_hexagonal_lattice():
    Z, pos, module = make_grid_cells([0.5], 4, 21 * 21, 0.0, dim=2)
    assert Z.shape == (441, 4) and pos.shape == (441, 2)
    assert Z.min() >= 0 and Z.max() <= 1 + 1e-12
    img = Z[:, 0].reshape(21, 21)  # pos[i*21+j] = (g[i], g[j])
    assert np.allclose(img[10:, :], img[:11, :])  # invariant under the lattice vector (0.5, 0)
    # the 60-degree lattice vector (0.25, 0.433) is a symmetry too
    G = lambda p: (2 / 3) * (np.mean([np.cos((4 * np.pi / (np.sqrt(3) * 0.5)) * (np.cos(a) * p[0] + np.sin(a) * p[1]))
                                      for a in np.deg2rad([30, 90, 150])]) + 0.5)
    p = np.array([0.13, 0.27])
    assert np.isclose(G(p), G(p + 0.5 * np.array([0.5, np.sqrt(3) / 2])))
    assert np.isclose(G(np.zeros(2)), 1.0)


def test_grid_cells_torus_is_periodic():
    Z, pos, _ = make_grid_cells([1 / 2, 1 / 4], 4, 24 * 24, 0.0, dim=2, arena="torus")
    img = Z.reshape(24, 24, -1)  # pos[i*24+j] = (i/24) t1 + (j/24) t2
    assert np.allclose(np.roll(img, 12, axis=0)[..., :4], img[..., :4])  # period 1/2 along t1
    assert np.allclose(np.roll(img, 6, axis=1)[..., 4:], img[..., 4:])  # period 1/4 along t2
    assert np.isclose(Z.min(), 0.0, atol=1e-12)  # zeros of G are sampled exactly


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_cells"):
        make_place_cells(0, 100, 0.1)
    with pytest.raises(ValueError, match="width"):
        make_place_cells(4, 100, -0.1)
    with pytest.raises(ValueError, match="shape"):
        make_place_cells(4, 100, 0.1, "torus")
    with pytest.raises(ValueError, match="n_positions"):
        make_place_cells(4, 99, 0.1, "2d")
    with pytest.raises(ValueError, match="periods"):
        make_grid_cells([0.5, -1.0], 3, 100, 0.0)
    with pytest.raises(ValueError, match="periods"):
        make_grid_cells([0.3], 3, 100, 0.0)
    with pytest.raises(ValueError, match="threshold"):
        make_grid_cells([0.5], 3, 100, 1.0)
    with pytest.raises(ValueError, match="dim"):
        make_grid_cells([0.5], 3, 100, 0.0, dim=3)
    with pytest.raises(ValueError, match="phases_per_module"):
        make_grid_cells([0.5], 3, 100, 0.0, dim=2)
    with pytest.raises(ValueError, match="arena"):
        make_grid_cells([0.5], 4, 100, 0.0, dim=2, arena="disk")
    with pytest.raises(ValueError, match="periods"):
        make_grid_cells([0.3], 4, 100, 0.0, dim=2, arena="torus")


def test_non_numbers_raise_type_errors():
    with pytest.raises(TypeError, match="n_cells"):
        make_place_cells(4.0, 100, 0.1)
    with pytest.raises(TypeError, match="width"):
        make_place_cells(4, 100, "0.1")
    with pytest.raises(TypeError, match="threshold"):
        make_grid_cells([0.5], 3, 100, "0")
    with pytest.raises(TypeError, match="dim"):
        make_grid_cells([0.5], 3, 100, 0.0, dim=1.0)
