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

The phase diagrams of the source papers are sweeps of the point functions in :data:`SWEEPABLE`
(``onoff``: ON/OFF coding against sparsity × λ, Dorrell et al. 2026 §5 eq. for Pr(I=0);
``identifiability``: tight scattering against mixing angle × λ, Theorem 1; ``ksm``: KSM R² against
λ × K, Choudhary et al. §6); ``simcode sweep`` runs them from the command line
(:func:`run_cli_sweep`).
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import numbers
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ._sweep_backends import RESERVED as _RESERVED
from ._sweep_backends import RUNNERS as _RUNNERS
from ._sweep_backends import resolve_n_jobs as _resolve_n_jobs
from ._sweep_cli import SWEEPABLE, plot_sweep, run_cli_sweep

__all__ = ["sweep", "expand_grid", "point_seed", "SWEEPABLE", "plot_sweep", "run_cli_sweep"]

_BACKENDS = ("sequential", "loky", "dask")
_META = "_sweep.json"


# ---------------------------------------------------------------------------------------------
# grid and canonical points
# ---------------------------------------------------------------------------------------------
def _builtin(v, name: str):
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
        return type(v)(_builtin(x, name) for x in v)
    if isinstance(v, np.ndarray) and v.ndim == 1:
        return tuple(_builtin(x, name) for x in v.tolist())
    raise ValueError(f"grid value for {name!r} must be a number, string, bool, None or a list of them, "
                     f"got {type(v).__name__}")


def _canonical(point: Mapping[str, Any]) -> str:
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
            try:
                values = list(values)
            except TypeError:
                raise ValueError(f"grid[{name!r}] must be a list of values, got {type(values).__name__}") from None
            if not values:
                raise ValueError(f"grid[{name!r}] is empty; give at least one value")
            names.append(name)
            axes.append([_builtin(v, name) for v in values])
        points = [dict(zip(names, combo)) for combo in itertools.product(*axes)]
    elif isinstance(grid, (list, tuple)):
        if not grid:
            raise ValueError("grid must have at least one point, got an empty list")
        points = []
        for i, p in enumerate(grid):
            if not isinstance(p, Mapping):
                raise ValueError(f"grid[{i}] must be a dict of parameter values, got {type(p).__name__}")
            for name in p:
                if not isinstance(name, str) or not name.isidentifier():
                    raise ValueError(f"grid[{i}] has a parameter name that is not an identifier: {name!r}")
            points.append({k: _builtin(v, k) for k, v in p.items()})
    else:
        raise ValueError(f"grid must be a dict of lists or a list of dicts, got {type(grid).__name__}")
    for p in points:
        bad = [k for k in p if k in _RESERVED or k == "random_state"]
        if bad:
            raise ValueError(f"grid parameter name {bad[0]!r} is reserved (reserved: random_state, "
                             f"{', '.join(_RESERVED)}); the sweep passes each point's seed as random_state")
    return points


# ---------------------------------------------------------------------------------------------
# seeds and cache keys
# ---------------------------------------------------------------------------------------------
def _entropy(random_state) -> int | None:
    if random_state is None:
        return None
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise ValueError(f"random_state must be None, a non-negative int or a numpy Generator, got {random_state!r}")


def _digest(point: Mapping[str, Any], entropy: int) -> bytes:
    return hashlib.sha256(f"{entropy}|{_canonical(point)}".encode()).digest()


def point_seed(point: Mapping[str, Any], random_state: int = 0) -> int:
    """The seed :func:`sweep` passes to ``fn`` at ``point``: an int in ``[0, 2**31)``.

    It is ``SeedSequence(random_state, spawn_key=h)`` where ``h`` is a SHA-256 hash of the
    canonical JSON form of the point, so it depends on the point's values only (not on the grid's
    order, the back-end or the worker), and differs between points.
    """
    entropy = _entropy(random_state)
    if entropy is None:
        raise ValueError("point_seed needs an int random_state")
    point = {k: _builtin(v, k) for k, v in point.items()}
    h = _digest(point, entropy)
    words = tuple(int.from_bytes(h[i:i + 4], "little") for i in range(0, 16, 4))
    ss = np.random.SeedSequence(entropy, spawn_key=words)
    return int(ss.generate_state(1, np.uint32)[0] & 0x7FFFFFFF)


def _accepts_random_state(fn: Callable) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return any(p.name == "random_state" or p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def _fn_name(fn) -> str:
    f = getattr(fn, "func", fn)  # functools.partial
    name = f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__name__)}"
    return f"partial({name})" if f is not fn else name


# ---------------------------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------------------------
def _atomic_write_json(path: Path, obj) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, allow_nan=True)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _open_cache(cache_dir, fn, random_state) -> tuple[Path, int]:
    """Create/check the cache folder; returns it and the seed entropy (kept there when random_state=None)."""
    path = Path(cache_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cache_dir {str(cache_dir)!r} cannot be created: {exc}") from None
    meta_path = path / _META
    meta = None
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = None
    name = _fn_name(fn)
    if meta is not None and meta.get("fn") != name:
        raise ValueError(f"cache_dir {str(cache_dir)!r} holds points of {meta.get('fn')!r}, not {name!r}; "
                         "use another cache_dir")
    entropy = _entropy(random_state)
    if entropy is None:
        entropy = meta.get("entropy_for_none") if meta and meta.get("entropy_for_none") is not None \
            else int(np.random.SeedSequence().entropy % 2**63)
    new_meta = dict(meta or {}, fn=name)
    if random_state is None:
        new_meta["entropy_for_none"] = entropy
    if new_meta != meta:
        _atomic_write_json(meta_path, new_meta)
    return path, entropy


def _load_cached(path: Path, point: dict, entropy: int):
    try:
        rec = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        warnings.warn(f"ignoring unreadable sweep cache file {path} ({exc}); the point is re-run", stacklevel=4)
        return None
    if rec.get("point") != json.loads(_canonical(point)) or rec.get("entropy") != entropy:
        return None
    return rec


# ---------------------------------------------------------------------------------------------
# the public driver
# ---------------------------------------------------------------------------------------------
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
    _resolve_n_jobs(n_jobs)
    points = expand_grid(grid)
    t_start = time.perf_counter()
    if cache_dir is not None:
        cache_path, entropy = _open_cache(cache_dir, fn, random_state)
    else:
        cache_path = None
        entropy = _entropy(random_state)
        if entropy is None:
            entropy = int(np.random.SeedSequence().entropy % 2**63)
    keys, seeds, seen = [], [], {}
    for i, p in enumerate(points):
        h = _digest(p, entropy)
        if h in seen:
            raise ValueError(f"grid has a duplicated point {p} (positions {seen[h]} and {i})")
        seen[h] = i
        keys.append(h.hex()[:32])
        seeds.append(point_seed(p, entropy))
    pass_seed = _accepts_random_state(fn)

    records: dict[int, dict] = {}
    if cache_path is not None:
        for i, p in enumerate(points):
            rec = _load_cached(cache_path / f"{keys[i]}.json", p, entropy)
            if rec is not None and not (retry_failed and rec.get("error")):
                records[i] = rec
    n_cached = len(records)
    tasks = [(i, points[i], seeds[i]) for i in range(len(points)) if i not in records]

    def store(i, rec):
        records[i] = rec
        if cache_path is not None:
            _atomic_write_json(cache_path / f"{keys[i]}.json",
                               dict(rec, point=json.loads(_canonical(points[i])), seed=seeds[i], entropy=entropy))

    if tasks:
        with _progress_bar(progress, len(points), n_cached, backend) as advance:
            def on_result(i, rec):
                store(i, rec)
                advance()

            _RUNNERS[backend](fn, tasks, pass_seed, n_jobs, scheduler, on_result)

    rows, metric_names = [], {}
    for i, p in enumerate(points):
        rec = records[i]
        for k in rec["metrics"]:
            metric_names.setdefault(k, None)
        rows.append({**p, **rec["metrics"], "seed": seeds[i], "error": rec.get("error"),
                     "time_s": rec.get("time_s")})
    param_names = list(dict.fromkeys(k for p in points for k in p))
    df = pd.DataFrame(rows, columns=[*param_names, *metric_names, *_RESERVED])
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
