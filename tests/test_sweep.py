"""Tests of simcode.sweep: grids, seeding, failures, caching/resume, back-ends, CLI and figures.

The engine is tested with small pure point functions whose metrics are known in closed form, so a
table can be checked against a brute-force loop written here, independently of the engine.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simcode.sweep import backends as sweep_backends
from simcode.cli import run_cli_sweep
from simcode.experiments import SWEEPABLE
from simcode.sweep import expand_grid, plot_sweep, point_seed, sweep

try:  # ship this module's functions to worker processes by value (workers need not import tests/)
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
except Exception:  # pragma: no cover
    pass


# ---------------------------------------------------------------------------------------------
# point functions (pure; their metrics are known in closed form)
# ---------------------------------------------------------------------------------------------
def poly(a, b, random_state):
    """Deterministic metrics plus one draw from the point's seed."""
    rng = np.random.default_rng(random_state)
    return {"sum": a + b, "prod": np.float64(a * b), "pos": bool(a > b), "draw": float(rng.random()),
            "seed_seen": random_state}


def poly_expected(a, b, seed):
    return {"sum": a + b, "prod": float(a * b), "pos": a > b,
            "draw": float(np.random.default_rng(seed).random()), "seed_seen": seed}


def failing(a, b, random_state):
    if a == 2:
        raise ZeroDivisionError(f"bad a={a}")
    return poly(a, b, random_state)


def _log(path, a, b):
    with open(path, "a") as f:
        f.write(f"{a},{b}\n")


def interrupting(a, b, random_state, flag, log, how):
    """Interrupt (Ctrl-C or a dying worker) at point (2, 0.5) once (flag file), log each evaluation."""
    if (a, b) == (2, 0.5) and not os.path.exists(flag):
        Path(flag).write_text("x")
        if how == "keyboard":
            raise KeyboardInterrupt
        os._exit(3)
    _log(log, a, b)
    return poly(a, b, random_state)


def counted(a, b, random_state, log):
    _log(log, a, b)
    return poly(a, b, random_state)


GRID = {"a": [1, 2, 3], "b": [0.5, 1.5]}


def brute_force_table(grid, random_state=0):
    rows = []
    for a, b in itertools.product(grid["a"], grid["b"]):
        seed = point_seed({"a": a, "b": b}, random_state)
        rows.append({"a": a, "b": b, **poly_expected(a, b, seed), "seed": seed})
    return pd.DataFrame(rows)


def check_table(df, grid=GRID, random_state=0):
    exp = brute_force_table(grid, random_state)
    assert list(df.columns) == ["a", "b", "sum", "prod", "pos", "draw", "seed_seen", "seed", "error", "time_s"]
    assert df["error"].isna().all()
    pd.testing.assert_frame_equal(df[exp.columns].reset_index(drop=True), exp, check_dtype=False)
    assert (df["seed_seen"] == df["seed"]).all()


def read_log(path):
    return [tuple(line.split(",")) for line in Path(path).read_text().split()] if Path(path).exists() else []


# ---------------------------------------------------------------------------------------------
# grids and seeds
# ---------------------------------------------------------------------------------------------
def test_expand_grid_is_the_cartesian_product_in_order():
    pts = expand_grid({"x": [1, 2], "y": ("u", "v", "w"), "z": 7})
    assert pts == [{"x": x, "y": y, "z": 7} for x, y in itertools.product([1, 2], ["u", "v", "w"])]
    pts = expand_grid({"x": np.array([0.5, 1.0]), "k": np.arange(2)})
    assert pts == [{"x": 0.5, "k": 0}, {"x": 0.5, "k": 1}, {"x": 1.0, "k": 0}, {"x": 1.0, "k": 1}]
    assert all(type(p["x"]) is float and type(p["k"]) is int for p in pts)
    assert expand_grid([{"a": 1}, {"a": 2, "b": "q"}]) == [{"a": 1}, {"a": 2, "b": "q"}]


@pytest.mark.parametrize("grid, match", [
    ({}, "at least one parameter"),
    ([], "at least one point"),
    ({"a": []}, "empty"),
    ({"random_state": [1, 2]}, "reserved"),
    ({"seed": [1]}, "reserved"),
    ({"a": [object()]}, "grid value for 'a'"),
    ([{"a": 1}, 3], r"grid\[1\]"),
    ("a=1", "dict of lists"),
    ({"not a name": [1]}, "identifier"),
])
def test_bad_grids_raise(grid, match):
    with pytest.raises(ValueError, match=match):
        sweep(poly, grid, backend="sequential", progress=False)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="backend must be one of"):
        sweep(poly, GRID, backend="ray", progress=False)
    with pytest.raises(ValueError, match="n_jobs"):
        sweep(poly, GRID, n_jobs=0, progress=False)
    with pytest.raises(ValueError, match="fn must be callable"):
        sweep(3, GRID, progress=False)
    with pytest.raises(ValueError, match="random_state"):
        sweep(poly, GRID, backend="sequential", random_state=-1, progress=False)
    with pytest.raises(ValueError, match="duplicated point"):
        sweep(poly, [{"a": 1, "b": 2}, {"b": 2, "a": 1}], backend="sequential", progress=False)
    with pytest.raises(ValueError, match="scheduler must be"):
        sweep(poly, GRID, backend="dask", scheduler=42, progress=False)


def test_seeds_depend_on_the_point_only():
    grid = {"a": list(range(20)), "b": [0.5, 1.5, 2.5]}
    df = sweep(poly, grid, backend="sequential", progress=False, random_state=7)
    assert df["seed"].nunique() == len(df) == 60
    # the seed of a point does not depend on the grid's order or on the other points
    rev = sweep(poly, [{"b": b, "a": a} for a in reversed(grid["a"]) for b in grid["b"]], backend="sequential",
                progress=False, random_state=7)
    merged = df.merge(rev, on=["a", "b"], suffixes=("", "_rev"))
    assert len(merged) == 60 and (merged["seed"] == merged["seed_rev"]).all()
    assert (merged["draw"] == merged["draw_rev"]).all()
    other = sweep(poly, grid, backend="sequential", progress=False, random_state=8)
    assert (other["seed"] != df["seed"]).mean() > 0.9
    assert all(0 <= s < 2**31 for s in df["seed"])


def test_table_matches_brute_force_and_fn_without_random_state():
    check_table(sweep(poly, GRID, backend="sequential", progress=False))
    df = sweep(lambda a, b: a - b, GRID, backend="sequential", progress=False)
    assert list(df["value"]) == [a - b for a, b in itertools.product(GRID["a"], GRID["b"])]


def test_metrics_are_normalised():
    torch = pytest.importorskip("torch")

    def f(x, random_state):
        return {"t": torch.tensor(x) * 2, "v": np.array([x, x]), "i": np.int32(x), "n": None}

    df = sweep(f, {"x": [1.5]}, backend="sequential", progress=False)
    assert df.loc[0, "t"] == 3.0 and df.loc[0, "v"] == [1.5, 1.5] and type(df.loc[0, "i"]) in (int, np.int64)
    bad = sweep(lambda x: {"x": 1}, {"x": [1]}, backend="sequential", progress=False)
    assert "clashes" in bad.loc[0, "error"]
    bad = sweep(lambda x: {"m": object()}, {"x": [1]}, backend="sequential", progress=False)
    assert bad.loc[0, "error"].startswith("TypeError: metric 'm'")


# ---------------------------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------------------------
def test_a_point_that_raises_is_a_row_and_the_sweep_goes_on():
    df = sweep(failing, GRID, backend="sequential", progress=False)
    assert len(df) == 6
    bad = df["a"] == 2
    assert list(df.loc[bad, "error"]) == ["ZeroDivisionError: bad a=2"] * 2
    assert df.loc[bad, ["sum", "prod", "draw"]].isna().all().all()
    good = df.loc[~bad].reset_index(drop=True)
    exp = brute_force_table(GRID).query("a != 2").reset_index(drop=True)
    pd.testing.assert_frame_equal(good[exp.columns], exp, check_dtype=False)
    assert good["error"].isna().all()


# ---------------------------------------------------------------------------------------------
# caching and resuming
# ---------------------------------------------------------------------------------------------
def test_cache_files_and_rerun_skips_finished_points(tmp_path):
    log = tmp_path / "log.txt"
    fn = functools.partial(counted, log=str(log))
    cache = tmp_path / "cache"
    df1 = sweep(fn, GRID, backend="sequential", cache_dir=cache, progress=False)
    check_table(df1)
    files = sorted(p.name for p in cache.iterdir())
    assert len([f for f in files if f.endswith(".json") and not f.startswith("_")]) == 6
    assert not [f for f in files if f.startswith(".tmp")]
    assert len(read_log(log)) == 6
    df2 = sweep(fn, GRID, backend="sequential", cache_dir=cache, progress=False)
    assert len(read_log(log)) == 6, "a finished point was re-run"
    assert df2.attrs["n_cached"] == 6 and df2.attrs["n_run"] == 0
    pd.testing.assert_frame_equal(df1, df2)
    # a bigger grid reuses the points it shares with the cached one
    big = {"a": [1, 2, 3, 4], "b": [0.5, 1.5]}
    df3 = sweep(fn, big, backend="sequential", cache_dir=cache, progress=False)
    assert len(read_log(log)) == 8 and df3.attrs["n_cached"] == 6
    check_table(df3, big)
    # another random_state gives other seeds, hence other points
    sweep(fn, GRID, backend="sequential", cache_dir=cache, progress=False, random_state=1)
    assert len(read_log(log)) == 14


def test_cache_guards(tmp_path):
    cache = tmp_path / "c"
    sweep(poly, GRID, backend="sequential", cache_dir=cache, progress=False)
    with pytest.raises(ValueError, match="holds points of"):
        sweep(failing, GRID, backend="sequential", cache_dir=cache, progress=False)
    # a corrupt file is ignored (with a warning) and its point re-run
    victim = next(p for p in cache.iterdir() if not p.name.startswith("_"))
    victim.write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable"):
        df = sweep(poly, GRID, backend="sequential", cache_dir=cache, progress=False)
    assert df.attrs["n_cached"] == 5
    check_table(df)
    json.loads(victim.read_text())  # rewritten
    # random_state=None: fresh entropy, kept in the cache so that a resumed sweep agrees
    c2 = tmp_path / "none"
    d1 = sweep(poly, GRID, backend="sequential", cache_dir=c2, progress=False, random_state=None)
    d2 = sweep(poly, {"a": [1, 2, 3, 4], "b": [0.5, 1.5]}, backend="sequential", cache_dir=c2, progress=False,
               random_state=None)
    assert d2.attrs["n_cached"] == 6
    pd.testing.assert_frame_equal(d1.drop(columns="time_s"), d2.iloc[:6].drop(columns="time_s"))


def test_failed_points_are_retried_unless_told_otherwise(tmp_path):
    cache = tmp_path / "c"
    log = tmp_path / "log.txt"

    def sometimes(a, b, random_state, log=str(log)):
        _log(log, a, b)
        if a == 2 and not Path(log + ".fixed").exists():
            raise RuntimeError("not yet")
        return poly(a, b, random_state)

    df = sweep(sometimes, GRID, backend="sequential", cache_dir=cache, progress=False)
    assert df["error"].notna().sum() == 2
    df = sweep(sometimes, GRID, backend="sequential", cache_dir=cache, progress=False, retry_failed=False)
    assert df["error"].notna().sum() == 2 and len(read_log(log)) == 6
    Path(str(log) + ".fixed").write_text("")
    df = sweep(sometimes, GRID, backend="sequential", cache_dir=cache, progress=False)
    assert len(read_log(log)) == 8
    check_table(df)


def _interrupted_then_resumed(tmp_path, backend, how, expected_exc):
    log, flag, cache = tmp_path / "log.txt", tmp_path / "flag", tmp_path / "cache"
    fn = functools.partial(interrupting, flag=str(flag), log=str(log), how=how)
    with pytest.raises(expected_exc):
        sweep(fn, GRID, backend=backend, n_jobs=2, cache_dir=cache, progress=False)
    assert flag.exists()
    first = read_log(log)
    n_files = len([p for p in cache.iterdir() if not p.name.startswith(("_", "."))])
    assert n_files <= len(first) < 6
    df = sweep(fn, GRID, backend=backend, n_jobs=2, cache_dir=cache, progress=False)
    check_table(df)  # no missing, no duplicated rows, same values as an uninterrupted sweep
    assert df.attrs["n_cached"] == n_files and df.attrs["n_cached"] + df.attrs["n_run"] == 6
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp")]
    return df


def test_keyboard_interrupt_then_resume(tmp_path):
    _interrupted_then_resumed(tmp_path, "sequential", "keyboard", KeyboardInterrupt)
    # sequential order: points before (2, 0.5) were cached, so only the rest ran again
    assert read_log(tmp_path / "log.txt") == [("1", "0.5"), ("1", "1.5"), ("2", "0.5"), ("2", "1.5"),
                                              ("3", "0.5"), ("3", "1.5")]


def test_killed_loky_worker_then_resume(tmp_path):
    _interrupted_then_resumed(tmp_path, "loky", "exit", RuntimeError)


# ---------------------------------------------------------------------------------------------
# back-ends
# ---------------------------------------------------------------------------------------------
def test_same_table_on_sequential_loky_and_a_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    grid = {"a": [1, 2, 3, 4], "b": [0.5, 1.5, 2.5]}
    seq = sweep(failing, grid, backend="sequential", progress=False, random_state=3)
    loky = sweep(failing, grid, backend="loky", n_jobs=2, progress=False, random_state=3)
    pd.testing.assert_frame_equal(seq.drop(columns="time_s"), loky.drop(columns="time_s"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
            pids = set(client.run(os.getpid).values())
            assert len(pids) == 2 and os.getpid() not in pids  # real worker processes
            dask_tab = sweep(failing, grid, backend="dask", scheduler=client, progress=False, random_state=3)
            pd.testing.assert_frame_equal(seq.drop(columns="time_s"), dask_tab.drop(columns="time_s"))
            # a scheduler address works the same (the sweep opens and closes its own client)
            by_addr = sweep(poly, GRID, backend="dask", scheduler=cluster.scheduler_address, progress=False)
            check_table(by_addr)
            # larger grids go in batches of points per Dask task; the table is the same
            big = {"a": list(range(10)), "b": [0.5, 1.5, 2.5, 3.5]}
            assert sweep_backends.dask_batch_size(40, 2) == 5
            check_table(sweep(poly, big, backend="dask", scheduler=client, progress=False), big)
            # a worker killed mid-sweep: Dask re-runs its point elsewhere and the table is complete
            log, flag = tmp_path / "log.txt", tmp_path / "flag"
            fn = functools.partial(interrupting, flag=str(flag), log=str(log), how="exit")
            killed = sweep(fn, GRID, backend="dask", scheduler=client, progress=False, cache_dir=tmp_path / "c")
            assert flag.exists()
            check_table(killed)
    assert seq["error"].notna().sum() == 3


# ---------------------------------------------------------------------------------------------
# figures and the command line
# ---------------------------------------------------------------------------------------------
def test_plot_sweep_draws_the_table():
    df = sweep(poly, GRID, backend="sequential", progress=False)
    fig = plot_sweep(df, "prod")
    im = fig.axes[0].images[0].get_array()
    exp = np.array([[a * b for a in GRID["a"]] for b in GRID["b"]])  # rows = b (y axis), columns = a (x axis)
    np.testing.assert_allclose(np.asarray(im), exp)
    df1 = sweep(poly, {"a": [3, 1, 2], "b": [0.5]}, backend="sequential", progress=False)
    fig = plot_sweep(df1, "sum")
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(line.get_ydata(), [1.5, 2.5, 3.5])
    with pytest.raises(ValueError, match="not a column"):
        plot_sweep(df, "nope")


def test_parse_param():
    from simcode.cli import parse_param

    assert parse_param("lam=0.1,1") == ("lam", [0.1, 1])
    assert parse_param("law=exponential,uniform") == ("law", ["exponential", "uniform"])
    assert parse_param("x=0:1:3") == ("x", [0.0, 0.5, 1.0])
    assert parse_param("p=0:0.7:8")[1] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert parse_param("f=true,none") == ("f", [True, None])
    for bad in ("lam", "lam=", "=1,2", "lam=1,,2", "a=b=c", "x=0:1:zero"):
        with pytest.raises(ValueError, match="--param"):
            parse_param(bad)


def toy(a: int = 1, b: float = 0.5, random_state=None):
    return poly(a, b, random_state)


def test_run_cli_sweep_writes_table_and_figure(tmp_path, monkeypatch):
    from simcode.experiments import sweep_points

    monkeypatch.setitem(SWEEPABLE, "toy", toy)
    monkeypatch.setitem(sweep_points.MAIN_METRIC, "toy", "prod")
    out = tmp_path / "out"
    table = run_cli_sweep("toy", ["a=1,2,3", "b=0.5,1.5"], backend="sequential", out=str(out), seed=0)
    check_table(table)
    csv = pd.read_csv(out / "sweep.csv")
    assert len(csv) == 6 and list(csv["prod"]) == [a * b for a, b in itertools.product([1, 2, 3], [0.5, 1.5])]
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # re-running resumes from the cache in out/
    again = run_cli_sweep("toy", ["a=1,2,3", "b=0.5,1.5"], backend="sequential", out=str(out), seed=0)
    assert again.attrs["n_cached"] == 6
    with pytest.raises(ValueError, match="valid names: .*onoff.*identifiability.*ksm"):
        run_cli_sweep("nope", [], backend="sequential", out=str(out))
    with pytest.raises(ValueError, match="valid parameters: a, b"):
        run_cli_sweep("toy", ["c=1"], backend="sequential", out=str(out))
    with pytest.raises(ValueError, match="--param"):
        run_cli_sweep("toy", ["a:1"], backend="sequential", out=str(out))
    with pytest.raises(ValueError, match="backend"):
        run_cli_sweep("toy", ["a=1"], backend="spark", out=str(out))


def test_cli_command_exit_codes(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from simcode.cli import app

    monkeypatch.setitem(SWEEPABLE, "toy", toy)
    runner = CliRunner()
    res = runner.invoke(app, ["sweep", "nope", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "valid names" in res.output
    res = runner.invoke(app, ["sweep", "toy", "--param", "a=1,2", "--backend", "sequential",
                              "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "o" / "sweep.csv")) == 2


# ---------------------------------------------------------------------------------------------
# the papers' point functions (skipped while the model they call is not there)
# ---------------------------------------------------------------------------------------------
def _needs(module, name):
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pytest.skip(f"{module}.{name} is not available yet")


def test_sweepable_names_and_signatures():
    import inspect

    assert set(SWEEPABLE) == {"onoff", "identifiability", "ksm"}
    for fn in SWEEPABLE.values():
        assert "random_state" in inspect.signature(fn).parameters


def test_onoff_point_follows_the_threshold():
    """000 §5: OFF neurons exist iff Pr(I=0) < ⟨I⟩²/⟨I²⟩; for Exp(1), ⟨I⟩²/⟨I²⟩ = (1-p)²/(2(1-p)) = (1-p)/2."""
    _needs("simcode.identify", "solve_onoff")
    from simcode.data import onoff_stimulus

    fn = SWEEPABLE["onoff"]
    for p_zero in (0.05, 0.6):
        out = fn(p_zero=p_zero, lam=1.0, law="exponential", n_points=16, random_state=0)
        v, pr = onoff_stimulus("exponential", p_zero, 16)  # threshold from the law's moments, here
        thr = (pr @ v) ** 2 / (pr @ v**2)
        assert out["threshold"] == pytest.approx(thr, rel=1e-9)
        assert abs(thr - (1 - p_zero) / 2) < 0.05
        assert out["predicted_onoff"] == (p_zero < thr)
        assert out["has_off"] == (p_zero < thr) and out["agrees"]
        assert (out["off_share"] > 0.05) == (p_zero < thr)
        assert out["closed_form_gap"] < 1e-4


def test_identifiability_point_orthogonal_mixing_is_identifiable():
    """000 Table (Section 3): orthonormally mixed, well-scattered sources are identifiable; strong
    alignment is not (here at λ = 1, where the ellipsoid is large)."""
    _needs("simcode.identify", "tight_scattering")
    fn = SWEEPABLE["identifiability"]
    assert fn(angle=90.0, lam=0.01, random_state=0)["identifiable"]
    out = fn(angle=30.0, lam=1.0, random_state=0)
    assert not out["identifiable"] and out["margin"] < 0
    # "alignment can rescue sources that would be unidentifiable under orthogonal mixing" (000 §3)
    cut90 = fn(angle=90.0, lam=0.01, sources="corner-cut", n_samples=121, solve=True, random_state=0)
    cut60 = fn(angle=60.0, lam=0.01, sources="corner-cut", n_samples=121, solve=True, random_state=0)
    assert not cut90["identifiable"] and cut60["identifiable"]
    assert cut90["agrees"] and cut60["agrees"]  # the certified optimum of Problem 1 says the same
    with pytest.raises(ValueError, match="sources"):
        fn(sources="gaussian")


def test_ksm_point_fits_sparse_dictionary_data():
    """002 §6.1: KSM reconstructs sparse dictionary data well (R² near 1 with K = true atoms)."""
    _needs("simcode.ksm", "KernelSimilarityMatching")
    out = SWEEPABLE["ksm"](lam=0.05, n_components=16, n_samples=300, max_iter=15, random_state=0)
    assert out["r2"] > 0.9 and 0 <= out["dict_error"] <= 1 and isinstance(out["converged"], bool)


def test_grids_that_would_hang_or_exhaust_memory_are_refused():
    with pytest.raises(ValueError, match="iterator has no length"):
        expand_grid({"a": itertools.count()})
    with pytest.raises(ValueError, match="limited to"):
        expand_grid({"a": range(2000), "b": range(2000)})
    with pytest.raises(ValueError, match="limited to"):
        expand_grid({"a": np.arange(10 ** 7)})
