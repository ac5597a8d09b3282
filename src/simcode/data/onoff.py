"""Scalar stimulus laws with an atom at zero, for the ON/OFF problem (000 §5)."""

from __future__ import annotations

import numpy as np

from ..core.arrays import check_int, check_number

__all__ = ["onoff_stimulus"]

_LAWS = {
    "uniform": (lambda x: np.ones_like(x), 1.0),
    "exponential": (lambda x: np.exp(-x), 6.0),
    "half-normal": (lambda x: np.exp(-0.5 * x**2), 4.0),
}


def onoff_stimulus(law="exponential", p_zero=0.3, n_points=200, x_max=None):
    """A discrete law for a stimulus I ≥ 0: an atom Pr(I=0) = ``p_zero`` plus a continuous part.

    The continuous part (density ``law`` on (0, x_max]) is discretised at ``n_points - 1`` midpoints
    of equal cells, each with mass ∝ density × cell width, rescaled to total ``1 - p_zero``.
    ``law`` is ``"uniform"`` (on (0, 1]), ``"exponential"`` (rate 1, cut at 6), ``"half-normal"``
    (σ = 1, cut at 4) or a callable density f(x) ≥ 0 (``x_max`` required).

    Returns ``values`` (n_points,) with ``values[0] = 0`` and ``probs`` (n_points,) summing to 1.
    """
    n_points = check_int(n_points, "n_points", low=3)
    p_zero = check_number(p_zero, "p_zero", low=0.0, high=1.0, high_inclusive=False)
    if callable(law):
        density, default_max = law, None
    elif isinstance(law, str) and law in _LAWS:
        density, default_max = _LAWS[law]
    else:
        raise ValueError(f"law must be one of {sorted(_LAWS)} or a callable density, got {law!r}")
    if x_max is None and default_max is None:
        raise ValueError("x_max must be a positive number (required for a callable law), got None")
    x_max = check_number(default_max if x_max is None else x_max, "x_max", low=0.0, low_inclusive=False)
    m = n_points - 1
    x = (np.arange(m) + 0.5) * (x_max / m)
    w = np.asarray(density(x), dtype=float)
    if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("law must return finite, non-negative densities with positive total mass")
    values = np.concatenate([[0.0], x])
    probs = np.concatenate([[p_zero], (1 - p_zero) * w / w.sum()])
    return values, probs
