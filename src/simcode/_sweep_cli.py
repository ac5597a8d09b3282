"""Sweep helpers: the sweepable point functions, the phase-diagram figure, ``simcode sweep``.

Public names are re-exported from :mod:`simcode.sweep`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._sweep_points import DEFAULT_GRIDS, MAIN_METRIC, SWEEPABLE

__all__ = ["SWEEPABLE", "plot_sweep", "run_cli_sweep", "parse_param"]


def plot_sweep(table, metric: str, params: Sequence[str] | None = None, ax=None, title: str | None = None):
    """A line figure (one swept parameter) or a heat-map (two) of ``metric`` from a sweep table.

    With two parameters the first is on the x axis, the second on the y axis.
    ``params`` defaults to the parameters that take more than one value, in column order. With more
    than two, the first two are drawn and the metric is averaged over the others (said in the
    title). Failed points are left blank (NaN). Returns the matplotlib Figure.
    """
    from matplotlib.figure import Figure

    if metric not in table.columns:
        raise ValueError(f"metric {metric!r} is not a column of the table; columns: {', '.join(table.columns)}")
    if params is None:
        candidates = table.attrs.get("params") or [c for c in table.columns
                                                   if c not in ("seed", "error", "time_s", metric)]
        params = [c for c in candidates if table[c].map(repr).nunique() > 1]
    params = list(params)
    if not params:
        raise ValueError("nothing to plot: no parameter takes more than one value")
    for p in params:
        if p not in table.columns:
            raise ValueError(f"parameter {p!r} is not a column of the table")
    t = table.copy()
    t[metric] = _as_float(t[metric])
    extra = params[2:]
    shown = params[:2]
    if ax is None:
        fig = Figure(figsize=(5.5, 4.2))
        ax = fig.subplots()
    else:
        fig = ax.figure
    if len(shown) == 1:
        (x,) = shown
        g = t.groupby(x, sort=True)[metric].mean()
        xs = g.index.to_numpy()
        numeric = np.issubdtype(np.asarray(xs).dtype, np.number)
        ax.plot(xs if numeric else np.arange(len(xs)), g.to_numpy(), "o-")
        if numeric and len(xs) > 2 and np.all(xs > 0) and xs.max() / xs.min() >= 30:
            ax.set_xscale("log")  # a geometric grid such as λ
        if not numeric:
            ax.set_xticks(np.arange(len(xs)), [str(v) for v in xs])
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    else:
        x, y = shown
        piv = t.pivot_table(index=y, columns=x, values=metric, aggfunc="mean", dropna=False).sort_index()
        piv = piv.reindex(sorted(piv.columns), axis=1)
        im = ax.imshow(piv.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(np.arange(piv.shape[1]), [_fmt(v) for v in piv.columns], rotation=45, ha="right")
        ax.set_yticks(np.arange(piv.shape[0]), [_fmt(v) for v in piv.index])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        fig.colorbar(im, ax=ax, label=metric)
    if title is None:
        title = f"{metric} over {' × '.join(shown)}"
        if extra:
            title += f" (mean over {', '.join(extra)})"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _as_float(col):
    import pandas as pd

    return pd.to_numeric(col.map(lambda v: float(v) if isinstance(v, (bool, np.bool_, int, float)) else np.nan),
                         errors="coerce")


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _parse_value(tok: str):
    t = tok.strip()
    if t == "":
        raise ValueError("empty value")
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_param(spec: str) -> tuple[str, list]:
    """Parse ``--param`` text: ``name=v1,v2,...`` or ``name=start:stop:num`` (``num`` evenly spaced
    values, ``numpy.linspace``). Values become int, float, bool (true/false), None (none) or text.
    """
    if not isinstance(spec, str) or spec.count("=") != 1:
        raise ValueError(f"--param must look like name=v1,v2,... or name=start:stop:num, got {spec!r}")
    name, rhs = (s.strip() for s in spec.split("="))
    if not name.isidentifier():
        raise ValueError(f"--param name must be an identifier, got {name!r} in {spec!r}")
    parts = rhs.split(":")
    if len(parts) == 3 and "," not in rhs:
        try:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"--param range must be start:stop:num with numbers, got {spec!r}") from None
        if num < 1:
            raise ValueError(f"--param range needs num >= 1, got {spec!r}")
        return name, [float(f"{v:.12g}") for v in np.linspace(start, stop, num)]  # 0.1, not 0.09999999999999999
    try:
        values = [_parse_value(t) for t in rhs.split(",")]
    except ValueError:
        raise ValueError(f"--param has an empty value in {spec!r}; expected name=v1,v2,...") from None
    return name, values


def run_cli_sweep(experiment: str, params: list[str], backend: str = "loky", scheduler: str | None = None,
                  n_jobs: int = -1, out: str = "simcode-sweep", seed: int = 0, console=None) -> Any:
    """What ``simcode sweep EXPERIMENT --param name=v1,v2 ...`` does.

    Runs the grid of :data:`SWEEPABLE` ``[experiment]`` (its default grid, with every ``--param``
    replacing that parameter's values) and writes into ``out``: ``sweep.csv`` (and
    ``sweep.parquet`` when pyarrow is installed), ``sweep.png`` (a heat-map for two swept
    parameters, a line for one) and ``cache/`` (one file per finished point: re-running the same
    command resumes). Raises ``ValueError`` for usage errors. Returns the table.
    """
    import inspect

    from .sweep import sweep

    if experiment not in SWEEPABLE:
        raise ValueError(f"unknown sweepable experiment {experiment!r}; valid names: {', '.join(SWEEPABLE)}")
    fn = SWEEPABLE[experiment]
    accepted = [p for p in inspect.signature(fn).parameters if p != "random_state"]
    grid = {k: list(v) for k, v in DEFAULT_GRIDS.get(experiment, {}).items()}
    for spec in params or []:
        name, values = parse_param(spec)
        if name not in accepted:
            raise ValueError(f"{experiment!r} has no parameter {name!r}; valid parameters: {', '.join(accepted)}")
        grid[name] = values
    if not grid:
        raise ValueError(f"give at least one --param for {experiment!r}; valid parameters: {', '.join(accepted)}")
    out_path = Path(out)
    try:
        out_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out!r} cannot be created: {exc}") from None
    n_points = math.prod(len(v) for v in grid.values())
    if console is not None:
        console.print(f"sweep {experiment}: {n_points} points on {backend} "
                      + " × ".join(f"{k}[{len(v)}]" for k, v in grid.items()))
    table = sweep(fn, grid, backend=backend, n_jobs=n_jobs, scheduler=scheduler, random_state=seed,
                  cache_dir=out_path / "cache", progress=console if console is not None else False)
    table.to_csv(out_path / "sweep.csv", index=False)
    written = ["sweep.csv"]
    try:
        import pyarrow  # noqa: F401

        table.to_parquet(out_path / "sweep.parquet", index=False)
        written.append("sweep.parquet")
    except ImportError:
        pass
    swept = [k for k, v in grid.items() if len(v) > 1]
    metric = MAIN_METRIC.get(experiment)
    if swept and metric in table.columns and table[metric].notna().any():
        fig = plot_sweep(table, metric, params=swept)
        fig.savefig(out_path / "sweep.png", dpi=120)
        written.append("sweep.png")
    if console is not None:
        n_err = int(table["error"].notna().sum())
        console.print(f"{len(table)} points ({table.attrs.get('n_cached', 0)} from cache), {n_err} failed; "
                      f"wrote {', '.join(written)} to {out_path}")
        if n_err:
            console.print("first error: " + str(table.loc[table['error'].notna(), 'error'].iloc[0]))
    return table
