"""Benchmark: simcode.sweep on sequential, loky and a Dask LocalCluster, next to the bare engines.

200 ON/OFF solves (``simcode.experiments.SWEEPABLE["onoff"]``: p_zero × λ) — or, with ``--stand-in`` or
while ``simcode.identify.solve_onoff`` does not exist, a stand-in point of similar cost (a dense
least-squares solve). For each runner: wall time, speed-up over sequential, and overhead per point

    overhead = (wall × workers − Σ point compute time) / n_points,

i.e. the worker time per point not spent inside the point function (dispatch, pickling, result
transfer, the per-point cache file). A no-op point function (``--noop`` rows) measures the pure
overhead. The peers are the engines simcode drives, used bare: ``joblib.Parallel`` (loky) and
``distributed.Client.map``; their rows show what the sweep layer (seeding, error capture, table,
atomic cache files) adds.

Run:  python benchmarks/sweep.py [--n 200] [--workers 2] [--stand-in]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy: one BLAS thread per process, as in the workers

import numpy as np  # noqa: E402


class _Skip(Exception):
    pass


def stand_in(p_zero, lam, random_state=None, size=520):
    """A point of roughly an ON/OFF solve's cost: a ridge solve on a random (size × size) system."""
    rng = np.random.default_rng(random_state)
    A = rng.standard_normal((size, size))
    x = np.linalg.solve(A.T @ A + lam * np.eye(size), A.T @ rng.standard_normal(size))
    return {"norm": float(np.linalg.norm(x)), "p": p_zero}


def sleeper(p_zero, lam, random_state=None, seconds=0.05):
    """A point that waits 50 ms without using the CPU: measures how the engines scale with workers
    independently of CPU contention (the benchmark machine is shared)."""
    time.sleep(seconds)
    return {"p": p_zero}


def noop(p_zero, lam, random_state=None):
    return {"p": p_zero}


def grid_for(n):
    n_p = max(1, int(round(np.sqrt(n / 2))))
    n_l = int(np.ceil(n / n_p))
    lams = list(np.round(np.geomspace(0.01, 10.0, n_l), 6))
    return {"p_zero": list(np.round(np.linspace(0.0, 0.8, n_p), 4)), "lam": lams}


def point_fn(stand):
    if not stand:
        try:
            from simcode.identify import solve_onoff  # noqa: F401

            from simcode.experiments import SWEEPABLE

            return SWEEPABLE["onoff"], "onoff (solve_onoff, exponential law, 24 stimulus values)"
        except (ImportError, AttributeError):
            pass
    return stand_in, "stand-in (ridge solve 520×520)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--stand-in", action="store_true")
    ap.add_argument("--main-only", action="store_true",
                    help="only simcode sequential / loky / dask and the no-op rows (for slow point functions)")
    ap.add_argument("--scaling", type=str, default="1,2,4",
                    help="worker counts for the scaling rows with 50 ms sleeping points ('' to skip)")
    args = ap.parse_args()

    import dask
    import distributed
    import joblib
    import pandas as pd
    from joblib import Parallel, delayed

    from simcode.sweep import expand_grid, sweep

    fn, fn_name = point_fn(args.stand_in)
    grid = grid_for(args.n)
    points = expand_grid(grid)
    n, w = len(points), args.workers
    print(f"point function: {fn_name}; {n} points; {w} workers; OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, joblib {joblib.__version__}, "
          f"dask {dask.__version__}, distributed {distributed.__version__}, pandas {pd.__version__}, "
          f"cpus {os.cpu_count()}")
    rows = []

    def record(name, wall, workers, compute_s, n_pts, failed=0):
        rows.append({"runner": name, "points": n_pts, "workers": workers, "wall_s": wall,
                     "compute_s": compute_s, "overhead_ms_per_point": 1e3 * (wall * workers - compute_s) / n_pts,
                     "failed": failed})

    def timed_sweep(name, f, workers, **kw):
        t = time.perf_counter()
        df = sweep(f, grid, progress=False, **kw)
        wall = time.perf_counter() - t
        record(name, wall, workers, float(df["time_s"].sum()), len(df), int(df["error"].notna().sum()))
        return df

    # warm-up: imports on this process and a loky pool of the right size (the pool is reused)
    sweep(fn, points[:w], backend="sequential", progress=False)
    sweep(fn, points[:2 * w], backend="loky", n_jobs=w, progress=False)

    ref = timed_sweep("simcode sequential", fn, 1, backend="sequential")
    timed_sweep("simcode loky", fn, w, backend="loky", n_jobs=w)
    cache = tempfile.mkdtemp(prefix="simcode-bench-")
    try:
        if args.main_only:
            raise _Skip
        timed_sweep("simcode loky + cache_dir", fn, w, backend="loky", n_jobs=w, cache_dir=cache)
        t = time.perf_counter()
        sweep(fn, grid, backend="loky", n_jobs=w, cache_dir=cache, progress=False)
        record("simcode loky, resumed (all cached)", time.perf_counter() - t, w, 0.0, n)
    except _Skip:
        pass
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    # bare joblib: the engine without the sweep layer
    def bare(p):
        t0 = time.perf_counter()
        fn(**p, random_state=0)
        return time.perf_counter() - t0

    if not args.main_only:
        t = time.perf_counter()
        times = Parallel(n_jobs=w, backend="loky")(delayed(bare)(p) for p in points)
        record("bare joblib.Parallel (loky)", time.perf_counter() - t, w, float(sum(times)), n)

    t = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    startup = time.perf_counter() - t
    try:
        client.run(lambda: __import__("simcode.sweep"))  # workers import simcode once, like a warm cluster
        sweep(fn, points[:2 * w], backend="dask", scheduler=client, progress=False)
        df_dask = timed_sweep("simcode dask (LocalCluster)", fn, w, backend="dask", scheduler=client)
        if not args.main_only:
            t = time.perf_counter()
            times = client.gather(client.map(bare, points, pure=False))
            record("bare distributed Client.map", time.perf_counter() - t, w, float(sum(times)), n)
        timed_sweep("simcode dask, no-op point", noop, w, backend="dask", scheduler=client)
    finally:
        client.close()
        cluster.close()
    timed_sweep("simcode sequential, no-op point", noop, 1, backend="sequential")
    timed_sweep("simcode loky, no-op point", noop, w, backend="loky", n_jobs=w)

    scaling = []
    counts = [] if args.main_only else [int(c) for c in args.scaling.split(",") if c.strip()]
    for k in counts:
        if k > 1:  # start (or resize) the loky pool outside the timing
            sweep(noop, points[:4 * k], backend="loky", n_jobs=k, progress=False)
        t = time.perf_counter()
        sweep(sleeper, grid, backend="sequential" if k == 1 else "loky", n_jobs=k, progress=False)
        scaling.append({"engine": "loky" if k > 1 else "sequential", "workers": k,
                        "wall_s": time.perf_counter() - t})
        if k == 1:
            continue
        with distributed.LocalCluster(n_workers=k, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cl, distributed.Client(cl) as c:
            c.run(lambda: __import__("simcode.sweep"))
            sweep(noop, points[:4 * k], backend="dask", scheduler=c, progress=False)
            t = time.perf_counter()
            sweep(sleeper, grid, backend="dask", scheduler=c, progress=False)
            scaling.append({"engine": "dask", "workers": k, "wall_s": time.perf_counter() - t})

    same = ref.drop(columns="time_s").equals(df_dask.drop(columns="time_s"))
    num = [c for c in ref.columns if c not in ("time_s", "seed") and pd.api.types.is_float_dtype(ref[c])]
    max_diff = max(float((ref[c] - df_dask[c]).abs().max()) for c in num) if num else 0.0
    res = pd.DataFrame(rows)
    seq_wall = res.loc[res.runner == "simcode sequential", "wall_s"].iloc[0]
    res["speedup_vs_seq"] = seq_wall / res["wall_s"]
    res.loc[res.runner.str.contains("no-op|cached"), "speedup_vs_seq"] = np.nan
    pd.set_option("display.width", 160)
    print(res.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"Dask LocalCluster start-up: {startup:.2f} s (not included above)")
    print(f"sequential and dask tables identical (except time_s): {same}; max |difference| of float "
          f"metrics: {max_diff:.3g}")
    print(f"mean point compute time (sequential): {1e3 * ref['time_s'].mean():.1f} ms")
    if scaling:
        sc = pd.DataFrame(scaling)
        ideal = n * 0.05
        sc["speedup"] = ideal / sc["wall_s"]
        sc["efficiency"] = sc["speedup"] / sc["workers"]
        sc["overhead_ms_per_point"] = 1e3 * (sc["wall_s"] * sc["workers"] - ideal) / n
        print(f"\nscaling with workers: {n} points that sleep 50 ms (ideal sequential time {ideal:.1f} s)")
        print(sc.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
