"""Sweep execution: evaluating one point (on a worker) and the back-ends that run many.

Each runner calls ``on_result(index, record)`` in the driver process as points finish, so the driver
can cache and count them. Public entry point: :func:`simcode.sweep.sweep`.
"""

from __future__ import annotations

import json
import numbers
import os
import time
import traceback
from typing import Mapping

import numpy as np

RESERVED = ("seed", "error", "time_s")

# ---------------------------------------------------------------------------------------------
# evaluating one point (runs on the worker)
# ---------------------------------------------------------------------------------------------
def _metric_value(v, name: str):
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else v.tolist()
    if type(v).__module__.startswith("torch"):
        v = v.detach().cpu().numpy()
        return v.item() if v.ndim == 0 else v.tolist()
    if isinstance(v, (list, tuple)):
        return [_metric_value(x, name) for x in v]
    if isinstance(v, numbers.Number):
        return float(v)
    raise TypeError(f"metric {name!r} has type {type(v).__name__}; return numbers, strings, bools or lists")


def _evaluate(fn, point: dict, seed: int, pass_seed: bool) -> dict:
    """Run ``fn`` at one point; an ordinary exception becomes an error record (the sweep goes on).

    ``KeyboardInterrupt``/``SystemExit`` are not caught: they stop the sweep (finished points stay
    cached).
    """
    t0 = time.perf_counter()
    try:
        kw = dict(point)
        if pass_seed:
            kw["random_state"] = seed
        out = fn(**kw)
        if out is None:
            out = {}
        elif not isinstance(out, Mapping):
            out = {"value": out}
        metrics = {}
        for k, v in out.items():
            k = str(k)
            if k in point or k in RESERVED:
                raise ValueError(f"metric name {k!r} clashes with a parameter or a reserved column")
            metrics[k] = _metric_value(v, k)
        # a JSON round trip, so fresh and cached results are the same Python values
        metrics = json.loads(json.dumps(metrics, allow_nan=True))
        error, tb = None, None
    except Exception as exc:  # noqa: BLE001 - every failure becomes a row
        metrics, error, tb = {}, f"{type(exc).__name__}: {exc}", traceback.format_exc()
    return {"metrics": metrics, "error": error, "traceback": tb, "time_s": time.perf_counter() - t0}


def _error_record(exc: BaseException) -> dict:
    return {"metrics": {}, "error": f"{type(exc).__name__}: {exc}", "traceback": None, "time_s": float("nan")}


# ---------------------------------------------------------------------------------------------
# back-ends: each calls on_result(index, record) as points finish
# ---------------------------------------------------------------------------------------------
def resolve_n_jobs(n_jobs) -> int:
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero int (-1 = all cores), got {n_jobs!r}")
    n_cpu = os.cpu_count() or 1
    return int(n_jobs) if n_jobs > 0 else max(1, n_cpu + 1 + int(n_jobs))


def _run_sequential(fn, tasks, pass_seed, n_jobs, scheduler, on_result):
    for i, point, seed in tasks:
        on_result(i, _evaluate(fn, point, seed, pass_seed))


def _indexed(fn, i, point, seed, pass_seed):
    return i, _evaluate(fn, point, seed, pass_seed)


def _run_loky(fn, tasks, pass_seed, n_jobs, scheduler, on_result):
    from joblib import Parallel, delayed

    from concurrent.futures import BrokenExecutor  # loky's TerminatedWorkerError derives from it

    par = Parallel(n_jobs=resolve_n_jobs(n_jobs), backend="loky", return_as="generator_unordered")
    try:
        for i, rec in par(delayed(_indexed)(fn, i, p, s, pass_seed) for i, p, s in tasks):
            on_result(i, rec)
    except BrokenExecutor as exc:
        raise RuntimeError(f"a worker process died during the sweep; finished points are kept in the cache "
                           f"(when cache_dir is set) and re-running the same call resumes: {exc}") from exc


def _dask_client(scheduler, n_jobs):
    """(client, cleanup) from a Client, an address, the active client, or a new LocalCluster."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("backend='dask' needs dask.distributed: pip install 'dask[distributed]'") from None
    if isinstance(scheduler, Client):
        return scheduler, lambda: None
    if isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ValueError(f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from None
        return client, client.close
    if scheduler is not None:
        raise ValueError(f"scheduler must be a dask.distributed Client, an address string or None, "
                         f"got {type(scheduler).__name__}")
    try:
        from distributed import default_client

        return default_client(), lambda: None
    except ValueError:
        pass
    cluster = LocalCluster(n_workers=resolve_n_jobs(n_jobs), threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)

    def cleanup():
        client.close()
        cluster.close()

    return client, cleanup


def _evaluate_batch(fn, batch, pass_seed):
    return [(i, _evaluate(fn, point, seed, pass_seed)) for i, point, seed in batch]


def dask_batch_size(n_tasks: int, n_threads: int) -> int:
    """Points per Dask task: about 4 tasks per worker thread (load balance), at most 64 points a task.

    One task per point costs the scheduler a few ms (tens of ms on a loaded machine); batching keeps
    the overhead per point low, and a killed worker loses at most one batch, which Dask re-runs.
    """
    return int(max(1, min(64, n_tasks // max(1, 4 * n_threads))))


def _run_dask(fn, tasks, pass_seed, n_jobs, scheduler, on_result):
    from distributed import as_completed

    client, cleanup = _dask_client(scheduler, n_jobs)
    futures = {}
    try:
        n_threads = sum(client.nthreads().values()) or 1
        b = dask_batch_size(len(tasks), n_threads)
        for start in range(0, len(tasks), b):
            batch = tasks[start:start + b]
            futures[client.submit(_evaluate_batch, fn, batch, pass_seed, pure=False)] = batch
        for fut in as_completed(list(futures)):
            try:
                results = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: these points failed, the sweep goes on
                results = [(i, _error_record(exc)) for i, _, _ in futures[fut]]
            for i, rec in results:
                on_result(i, rec)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        cleanup()


RUNNERS = {"sequential": _run_sequential, "loky": _run_loky, "dask": _run_dask}
