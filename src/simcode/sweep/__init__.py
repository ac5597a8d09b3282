"""Parameter sweeps (phase diagrams) from a laptop to a Dask cluster.

* :mod:`.engine` — :func:`sweep`, the driver (tidy table, progress, resumption);
* :mod:`.grid` — :func:`expand_grid` and the canonical form of a point;
* :mod:`.seeds` — :func:`point_seed`: a point's seed depends on the point and ``random_state`` only;
* :mod:`.cache` — one JSON file per finished point, written atomically;
* :mod:`.backends` — sequential, loky (joblib) and Dask runners;
* :mod:`.plot` — :func:`plot_sweep`.

The papers' point functions live in :mod:`simcode.experiments.sweep_points` (``SWEEPABLE``); the command line
``simcode sweep`` in :mod:`simcode.cli`.
"""

from .engine import sweep
from .grid import expand_grid
from .plot import plot_sweep
from .seeds import point_seed

__all__ = ["sweep", "expand_grid", "point_seed", "plot_sweep"]
