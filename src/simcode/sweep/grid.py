"""Sweep grids: expansion of a parameter grid into points, and their canonical (hashable) form."""

from __future__ import annotations

import itertools
import json
import numbers
from typing import Any, Mapping

import numpy as np

from .backends import RESERVED

__all__ = ["expand_grid", "to_builtin", "canonical", "MAX_POINTS"]

#: the largest grid :func:`expand_grid` builds (each point is a dict in memory and a row of the table)
MAX_POINTS = 1_000_000


def to_builtin(v, name: str):
    """A grid value as a JSON-able Python builtin (numpy scalars → Python scalars; tuples kept)."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if isinstance(v, (list, tuple)):
        return type(v)(to_builtin(x, name) for x in v)
    if isinstance(v, np.ndarray) and v.ndim == 1:
        return tuple(to_builtin(x, name) for x in v.tolist())
    raise ValueError(f"grid value for {name!r} must be a number, string, bool, None or a list of them, "
                     f"got {type(v).__name__}")


def canonical(point: Mapping[str, Any]) -> str:
    return json.dumps(point, sort_keys=True, separators=(",", ":"), allow_nan=True)


def expand_grid(grid) -> list[dict]:
    """The list of points of a grid.

    Parameters
    ----------
    grid : dict of lists, or list of dicts
        A dict ``{name: [v1, v2, ...]}`` is expanded to its Cartesian product, in the dict's order
        with the last name varying fastest (a scalar or string value counts as one value). A list
        of dicts is taken as the points themselves.

    Returns
    -------
    list of dict
        Points with values converted to Python builtins (what the point function receives).
    """
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid must have at least one parameter, got an empty dict")
        names, axes = [], []
        for name, values in grid.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"grid parameter names must be identifiers, got {name!r}")
            if isinstance(values, (str, bytes)) or np.isscalar(values) or values is None:
                values = [values]
            if not hasattr(values, "__len__"):  # a generator or an endless iterator would hang list()
                raise ValueError(f"grid[{name!r}] must be a list, tuple, range or 1-D array of values, got "
                                 f"{type(values).__name__} (an iterator has no length to check)")
            if len(values) > MAX_POINTS:
                raise ValueError(f"grid[{name!r}] has {len(values)} values; a grid is limited to {MAX_POINTS} points")
            try:
                values = list(values)
            except TypeError:
                raise ValueError(f"grid[{name!r}] must be a list of values, got {type(values).__name__}") from None
            if not values:
                raise ValueError(f"grid[{name!r}] is empty; give at least one value")
            names.append(name)
            axes.append([to_builtin(v, name) for v in values])
            total = int(np.prod([len(a) for a in axes], dtype=object))
            if total > MAX_POINTS:
                raise ValueError(f"grid has {total} points (the product of its axes' lengths); a grid is limited to "
                                 f"{MAX_POINTS} points: split the sweep")
        points = [dict(zip(names, combo)) for combo in itertools.product(*axes)]
    elif isinstance(grid, (list, tuple)):
        if len(grid) > MAX_POINTS:
            raise ValueError(f"grid has {len(grid)} points; a grid is limited to {MAX_POINTS} points")
        if not grid:
            raise ValueError("grid must have at least one point, got an empty list")
        points = []
        for i, p in enumerate(grid):
            if not isinstance(p, Mapping):
                raise ValueError(f"grid[{i}] must be a dict of parameter values, got {type(p).__name__}")
            for name in p:
                if not isinstance(name, str) or not name.isidentifier():
                    raise ValueError(f"grid[{i}] has a parameter name that is not an identifier: {name!r}")
            points.append({k: to_builtin(v, k) for k, v in p.items()})
    else:
        raise ValueError(f"grid must be a dict of lists or a list of dicts, got {type(grid).__name__}")
    for p in points:
        bad = [k for k in p if k in RESERVED or k == "random_state"]
        if bad:
            raise ValueError(f"grid parameter name {bad[0]!r} is reserved (reserved: random_state, "
                             f"{', '.join(RESERVED)}); the sweep passes each point's seed as random_state")
    return points
