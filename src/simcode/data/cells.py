"""Synthetic spatial tuning curves: place cells and grid cells (rows = positions, columns = cells).

Used by the tuning-uniqueness results of Dorrell, Latham & Whittington, "Convex Efficient Coding"
(``shared/papers/000`` §4, Theorem 2 and its table): separated vs overlapping place cells, grid modules with
integer vs non-integer period ratios. Tunings have *compact support* (exact zeros), which is what makes
non-negativity constrain the rotations ``Z O`` of a code (a strictly positive code admits every small rotation).
"""

from __future__ import annotations

import numpy as np

from ..core.arrays import check_array, check_int, check_number, check_option

__all__ = ["make_place_cells", "make_grid_cells"]


def _square_side(n, name):
    q = int(round(np.sqrt(n)))
    if q * q != n:
        raise ValueError(f"{name} must be a perfect square for a 2-D layout, got {n}")
    return q


def make_place_cells(n_cells: int, n_positions: int, width: float, shape: str = "ring"):
    """Place cells with compact parabolic fields ``z_k(x) = max(0, 1 − (‖x − c_k‖/width)²)``.

    Parameters
    ----------
    n_cells : int >= 1
        Number of cells, centres evenly spaced (``shape="2d"``: a perfect square, centres on a grid).
    n_positions : int >= 2
        Number of positions (``shape="2d"``: a perfect square, positions on a grid).
    width : float > 0
        Field radius in units of the environment (side 1). With spacing ``1/n_cells`` (ring, line) or
        ``1/√n_cells`` (2d), fields are disjoint ("separated") when ``width <= spacing / 2``.
    shape : {"ring", "line", "2d"}
        Periodic track [0, 1), segment [0, 1] or unit square.

    Returns
    -------
    Z : ndarray (n_positions, n_cells)
        Non-negative tuning curves, each cell peaking at 1 at its centre.
    positions : ndarray (n_positions,) or (n_positions, 2)
    centers : ndarray (n_cells,) or (n_cells, 2)
    """
    n_cells = check_int(n_cells, "n_cells", low=1)
    n_positions = check_int(n_positions, "n_positions", low=2)
    width = check_number(width, "width", low=0.0, low_inclusive=False)
    check_option(shape, "shape", ("ring", "line", "2d"))
    if shape == "ring":
        pos = np.arange(n_positions) / n_positions
        cen = np.arange(n_cells) / n_cells
        dist = np.abs(pos[:, None] - cen[None, :])
        dist = np.minimum(dist, 1.0 - dist)
    elif shape == "line":
        pos = np.linspace(0.0, 1.0, n_positions)
        cen = (np.arange(n_cells) + 0.5) / n_cells
        dist = np.abs(pos[:, None] - cen[None, :])
    else:
        q = _square_side(n_positions, "n_positions")
        r = _square_side(n_cells, "n_cells")
        g = np.linspace(0.0, 1.0, q)
        pos = np.array([(a, b) for a in g for b in g])
        gc = (np.arange(r) + 0.5) / r
        cen = np.array([(a, b) for a in gc for b in gc])
        dist = np.linalg.norm(pos[:, None, :] - cen[None, :, :], axis=-1)
    Z = np.maximum(0.0, 1.0 - (dist / width) ** 2)
    return Z, pos, cen


def make_grid_cells(periods, phases_per_module: int, n_positions: int, threshold: float = 0.0, dim: int = 1,
                    arena: str = "square"):
    """Grid-cell modules: rectified periodic tunings, ``phases_per_module`` phase-shifted cells per period.

    ``dim=1``: a ring [0, 1) of ``n_positions`` positions; cell (m, k) is
    ``max(0, cos(2π(x/λ_m − k/P)) − threshold) / (1 − threshold)`` (threshold in [−1, 1); −1 gives the
    unrectified ``1 + cos`` that touches 0 at one point per period). Each period λ_m must divide the ring
    (1/λ_m an integer) so that the code is periodic.

    ``dim=2``: hexagonal grids on the unit square sampled on a √n × √n grid; the classic three-plane-wave
    pattern ``G(x) = (2/3)(⅓ Σ_j cos(k_j·(x − φ)) + ½) ∈ [0, 1]`` with wave vectors of length 4π/(√3 λ_m) at
    30°, 90°, 150° (lattice vectors a₁ = λ(1, 0), a₂ = λ(½, √3/2)); cell = ``max(0, G − threshold) /
    (1 − threshold)`` (threshold in [0, 1)); the
    ``phases_per_module`` (a perfect square q²) phases tile the lattice cell: φ = (a/q) a₁ + (b/q) a₂.
    ``arena="torus"`` samples instead the periodic rhombic torus spanned by (1, 0) and (½, √3/2) on a
    √n × √n lattice (the 2-D analogue of the ring; every period must then divide 1, and with √n divisible by
    3/λ_m the zeros of G at threshold 0 are sampled exactly).

    Parameters
    ----------
    periods : sequence of float > 0
        Module periods λ_m (in units of the environment).
    phases_per_module : int >= 1
        Cells per module (``dim=2``: a perfect square).
    n_positions : int >= 2
        Number of positions (``dim=2``: a perfect square).
    threshold : float
        Rectification threshold, in [-1, 1) for ``dim=1``, [0, 1) for ``dim=2``.
    dim : {1, 2}
    arena : {"square", "torus"}
        ``dim=2`` only.

    Returns
    -------
    Z : ndarray (n_positions, n_modules · phases_per_module)
        Non-negative tunings, max 1.
    positions : ndarray (n_positions,) or (n_positions, 2)
    module : ndarray (n_cells,)
        Module index of each cell.
    """
    periods = np.atleast_1d(check_array(periods, "periods", ndim=(0, 1), what="one period per module"))
    if np.any(periods <= 0):
        raise ValueError(f"periods must be a non-empty sequence of positive numbers, got {periods!r}")
    P = check_int(phases_per_module, "phases_per_module", low=1)
    n_positions = check_int(n_positions, "n_positions", low=2)
    dim = check_int(dim, "dim", low=1, high=2)
    threshold = check_number(threshold, "threshold")
    check_option(arena, "arena", ("square", "torus"))
    cells, module = [], []
    if dim == 1:
        if not -1.0 <= threshold < 1.0:
            raise ValueError(f"threshold must lie in [-1, 1) for dim=1, got {threshold}")
        inv = 1.0 / periods
        if np.any(np.abs(inv - np.round(inv)) > 1e-9):
            raise ValueError(f"periods must divide the unit ring (1/period an integer) for dim=1, got {periods}")
        x = np.arange(n_positions) / n_positions
        for m, lam in enumerate(periods):
            for k in range(P):
                z = np.cos(2 * np.pi * (x / lam - k / P)) - threshold
                cells.append(np.maximum(z, 0.0) / (1.0 - threshold))
                module.append(m)
        pos = x
    else:
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must lie in [0, 1) for dim=2, got {threshold}")
        q = _square_side(P, "phases_per_module")
        side = _square_side(n_positions, "n_positions")
        if arena == "square":
            g = np.linspace(0.0, 1.0, side)
            pos = np.array([(a, b) for a in g for b in g])
        elif arena == "torus":
            inv = 1.0 / periods
            if np.any(np.abs(inv - np.round(inv)) > 1e-9):
                raise ValueError("periods must divide the torus (1/period an integer) for arena='torus', "
                                 f"got {periods}")
            t1, t2 = np.array([1.0, 0.0]), np.array([0.5, np.sqrt(3) / 2])
            pos = np.array([(i / side) * t1 + (j / side) * t2 for i in range(side) for j in range(side)])
        else:
            raise ValueError(f"arena must be 'square' or 'torus', got {arena!r}")
        angles = np.deg2rad([30.0, 90.0, 150.0])
        for m, lam in enumerate(periods):
            kvec = (4 * np.pi / (np.sqrt(3) * lam)) * np.stack([np.cos(angles), np.sin(angles)], 1)
            a1 = lam * np.array([1.0, 0.0])
            a2 = lam * np.array([0.5, np.sqrt(3) / 2])
            for a in range(q):
                for b in range(q):
                    phi = (a / q) * a1 + (b / q) * a2
                    G = (2.0 / 3.0) * (np.cos((pos - phi) @ kvec.T).mean(1) + 0.5)
                    cells.append(np.maximum(G - threshold, 0.0) / (1.0 - threshold))
                    module.append(m)
    return np.stack(cells, 1), pos, np.array(module)
