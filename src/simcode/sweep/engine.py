"""Parameter sweeps (phase diagrams) from a laptop to a Dask cluster.

:func:`sweep` evaluates a point function ``fn(**point)`` over a grid and returns a tidy
:class:`pandas.DataFrame` (one row per point: the parameters, the returned metrics, the point's
seed, an ``error`` column and the wall time). Three back-ends run the same tasks:

* ``"sequential"``: a plain loop in this process (debugging, tiny grids);
* ``"loky"``: joblib's process pool on the local cores (the default);
* ``"dask"``: ``dask.distributed`` — an existing ``Client``, a scheduler address, or (when neither
  is given and no client is active) a temporary ``LocalCluster`` of worker processes.

Determinism: each point's seed is derived from ``(random_state, canonical point)`` alone
(:func:`point_seed`), never from the order or place in which points run, so the same grid gives
the same table on every back-end.

Resumability: with ``cache_dir`` every finished point is written as one small JSON file named by a
hash of the canonical point and the seed entropy, atomically (temporary file + ``os.replace``), by
the driver process as results arrive. Re-running the same call loads finished points and runs only
the others, so an interrupted sweep (Ctrl-C, a killed worker) loses only the points in flight.

The phase diagrams of the source papers are sweeps of the point functions in
:data:`simcode.experiments.SWEEPABLE` (``onoff``: ON/OFF coding against sparsity × λ, Dorrell et al. 2026 §5
eq. for Pr(I=0); ``identifiability``: tight scattering against mixing angle × λ, Theorem 1; ``ksm``: KSM R²
against λ × K, Choudhary et al. §6); ``simcode sweep`` runs them from the command line.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Mapping

import numpy as np

from .backends import RESERVED, RUNNERS, resolve_n_jobs
from .cache import atomic_write_json, load_cached, open_cache
from .grid import canonical, expand_grid
from .seeds import accepts_random_state, digest, entropy_of, point_seed

__all__ = ["sweep"]

_BACKENDS = ("sequential", "loky", "dask")


def sweep(fn: Callable[..., Mapping[str, Any]], grid, *, backend: str = "loky", n_jobs: int = -1,
          cache_dir=None, progress=True, random_state=0, scheduler=None, retry_failed: bool = True):
    """Evaluate ``fn(**point)`` over a parameter grid; return a tidy table, one row per point.

    Parameters
    ----------
    fn : callable
        The point function. It receives the point's parameters as keywords, and ``random_state``
        (an int seed, see :func:`point_seed`) when its signature has a ``random_state`` parameter
        or ``**kwargs``. It returns a dict of metrics (numbers, strings, bools or lists; numpy and
        torch scalars are converted), or a single value (column ``value``). It must be picklable
        (cloudpickle) for the ``loky`` and ``dask`` back-ends.
    grid : dict of lists or list of dicts
        See :func:`expand_grid`. Parameter names ``random_state``, ``seed``, ``error`` and
        ``time_s`` are reserved.
    backend : {"loky", "dask", "sequential"}
        Where points run. ``"dask"`` uses ``scheduler``.
    n_jobs : int
        Worker processes for ``loky`` (and for the temporary ``LocalCluster`` of ``dask``); -1 means
        all cores, -2 all but one.
    cache_dir : path, optional
        Folder holding one JSON file per finished point (written atomically). Points already there
        are loaded, not re-run: re-running an interrupted sweep resumes it. The cache is keyed by
        the point and the seed, not by ``fn``'s code: use a new folder when ``fn`` changes.
    progress : bool or rich Console
        Show a progress bar (on the given console).
    random_state : int, numpy Generator or None
        Entropy from which every point's seed is derived (0 by default, so sweeps are repeatable).
        None draws fresh entropy (kept in ``cache_dir`` so that a resumed sweep stays consistent).
    scheduler : dask.distributed.Client, str or None
        For ``backend="dask"``: a client, a scheduler address such as ``"tcp://10.0.0.5:8786"``, or
        None for the active client or else a temporary ``LocalCluster`` of ``n_jobs`` processes.
    retry_failed : bool
        Re-run points whose cached record is an error (default) instead of reusing the error.

    Returns
    -------
    pandas.DataFrame
        Columns: the parameters (grid order), the metrics (first-seen order), ``seed``, ``error``
        (None, or ``"ExceptionType: message"`` for a point that raised; its metrics are NaN) and
        ``time_s`` (the point's wall time, the only column that differs between runs). Rows follow
        the grid order whatever the back-end. ``df.attrs`` holds ``backend``, ``n_cached``,
        ``n_run`` and ``wall_s``.

    Raises
    ------
    KeyboardInterrupt
        Re-raised after the points already finished are cached.
    RuntimeError
        When a ``loky`` worker process dies; finished points are cached.
    """
    import pandas as pd

    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(_BACKENDS)}, got {backend!r}")
    resolve_n_jobs(n_jobs)
    points = expand_grid(grid)
    t_start = time.perf_counter()
    if cache_dir is not None:
        cache_path, entropy = open_cache(cache_dir, fn, random_state)
    else:
        cache_path = None
        entropy = entropy_of(random_state)
        if entropy is None:
            entropy = int(np.random.SeedSequence().entropy % 2**63)
    keys, seeds, seen = [], [], {}
    for i, p in enumerate(points):
        h = digest(p, entropy)
        if h in seen:
            raise ValueError(f"grid has a duplicated point {p} (positions {seen[h]} and {i})")
        seen[h] = i
        keys.append(h.hex()[:32])
        seeds.append(point_seed(p, entropy))
    pass_seed = accepts_random_state(fn)

    records: dict[int, dict] = {}
    if cache_path is not None:
        for i, p in enumerate(points):
            rec = load_cached(cache_path / f"{keys[i]}.json", p, entropy)
            if rec is not None and not (retry_failed and rec.get("error")):
                records[i] = rec
    n_cached = len(records)
    tasks = [(i, points[i], seeds[i]) for i in range(len(points)) if i not in records]

    def store(i, rec):
        records[i] = rec
        if cache_path is not None:
            atomic_write_json(cache_path / f"{keys[i]}.json",
                               dict(rec, point=json.loads(canonical(points[i])), seed=seeds[i], entropy=entropy))

    if tasks:
        with _progress_bar(progress, len(points), n_cached, backend) as advance:
            def on_result(i, rec):
                store(i, rec)
                advance()

            RUNNERS[backend](fn, tasks, pass_seed, n_jobs, scheduler, on_result)

    rows, metric_names = [], {}
    for i, p in enumerate(points):
        rec = records[i]
        for k in rec["metrics"]:
            metric_names.setdefault(k, None)
        rows.append({**p, **rec["metrics"], "seed": seeds[i], "error": rec.get("error"),
                     "time_s": rec.get("time_s")})
    param_names = list(dict.fromkeys(k for p in points for k in p))
    df = pd.DataFrame(rows, columns=[*param_names, *metric_names, *RESERVED])
    df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
    df.attrs.update(params=param_names, metrics=list(metric_names), backend=backend, n_cached=n_cached,
                    n_run=len(tasks), wall_s=time.perf_counter() - t_start)
    return df


class _progress_bar:
    """Context manager yielding ``advance()``; a rich progress bar unless ``progress`` is False."""

    def __init__(self, progress, total, done, backend):
        self.enabled = bool(progress)
        self.console = progress if progress not in (True, False, None) else None
        self.total, self.done, self.backend = total, done, backend

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), console=self.console, transient=False)
        self._p.__enter__()
        task = self._p.add_task(f"sweep ({self.backend})", total=self.total, completed=self.done)
        return lambda: self._p.advance(task)

    def __exit__(self, *exc):
        if self.enabled:
            self._p.__exit__(*exc)
        return False
