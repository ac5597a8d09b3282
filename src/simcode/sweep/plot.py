"""The figure of a sweep: a line (one swept parameter) or a heat-map (two)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["plot_sweep"]


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
