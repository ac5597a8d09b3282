"""The ``simcode`` command line: ``list``, ``reproduce``, ``sweep``, ``--version``.

Exit codes: 0 every claim passed; 1 some claim failed; 2 usage error (unknown experiment, bad option, unwritable
output folder); 3 an experiment crashed; 130 interrupted (the report holds the finished runs).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, List, Optional

import numpy as np

import typer
from rich.console import Console
from rich.table import Table

from . import __version__

__all__ = ["app", "parse_param", "run_cli_sweep"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="simcode: normative models of neural representation through the similarity matrix.")
console = Console()


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _version_callback(value: bool):
    if value:
        console.print(f"simcode {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                      help="Print the version and exit.")):
    """simcode command line."""


@app.command("list")
def list_cmd():
    """List every registered experiment with a one-line description and its expected CPU time."""
    from .experiments import registry

    t = Table(title="simcode experiments")
    t.add_column("name", style="bold")
    t.add_column("description")
    t.add_column("CPU time (default size)")
    for name, exp in registry().items():
        t.add_row(name, exp.description, exp.cpu_time)
    console.print(t)


@app.command()
def reproduce(
    names: Optional[List[str]] = typer.Argument(None, help="Experiments to run (default: all)."),
    out: str = typer.Option("simcode-report", "--out", help="Output folder for index.html, results.json, PNGs."),
    quick: bool = typer.Option(False, "--quick", help="Small sizes for smoke tests (said so in the report)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present) | cpu | cuda"),
    seed: int = typer.Option(0, "--seed", help="Random seed for every experiment."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Several seeds, e.g. 0,1,2 (or '0 1 2'): every "
                                        "experiment runs once per seed and a claim passes only if it passes on all."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the experiment runs that finished (without a crash) "
                                "in --out's results.json with the same --quick, --device, seed and simcode "
                                "version; run only the others. The report marks reused runs."),
):
    """Run experiments, write a report, print the table of claims (exit 1 if any claim fails)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .core import resolve_device
    from .experiments import registry
    from .report import prepare_out_dir, write_report

    reg = registry()
    chosen = list(names) if names else list(reg)
    unknown = [n for n in chosen if n not in reg]
    if unknown:
        console.print(f"[red]unknown experiment(s): {', '.join(unknown)}[/red]")
        console.print("valid names: " + ", ".join(reg))
        raise typer.Exit(2)
    if device not in ("auto", "cpu", "cuda"):
        console.print(f"[red]--device must be auto, cpu or cuda, got {device!r}[/red]")
        raise typer.Exit(2)
    try:
        # the command line has no data to follow: its "auto" takes the GPU when there is one
        dev = resolve_device("cuda" if device == "auto" and _cuda_available() else device)
        out_path = prepare_out_dir(out)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        seed_list = _parse_seeds(seeds) if seeds is not None else [seed]
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    os.environ.setdefault("MPLBACKEND", "Agg")

    results = []
    t0 = time.perf_counter()
    runs = [(name, sd) for name in chosen for sd in seed_list]
    previous = _previous_runs(out_path, quick, dev, reg) if resume else {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        overall = progress.add_task("experiments", total=len(runs))
        for name, sd in runs:
            label = name if len(seed_list) == 1 else f"{name} (seed {sd})"
            progress.update(overall, description=f"experiments ({label})")
            if (name, sd) in previous:
                res = previous[(name, sd)]
                results.append(res)
                progress.console.print(f"{label}: reused from the run of {res.reused_from}")
                progress.advance(overall)
                continue
            try:
                res = reg[name].run(quick=quick, seed=sd, device=dev, progress=progress)
            except KeyboardInterrupt:
                progress.stop()
                write_report(results, out_path, {"names": chosen, "quick": quick, "device": dev, "seeds": seed_list,
                                                 "interrupted": True}, final=False)
                console.print(f"[yellow]interrupted during {label}: the report in {out_path} holds the "
                              f"{len(results)} finished run(s); `--resume` continues from there[/yellow]")
                raise typer.Exit(130) from None
            results.append(res)
            status = "[green]pass[/green]" if res.passed else "[red]FAIL[/red]"
            n_warn = sum(w["count"] for w in res.ctx.warnings)
            progress.console.print(f"{label}: {status} in {res.wall_s:.1f} s"
                                   + (f" ({n_warn} library warning(s), listed in the report)" if n_warn else ""))
            if res.error:
                progress.console.print(f"[red]{label} raised:[/red]\n{res.error}")
            write_report(results, out_path, {"names": chosen, "quick": quick, "device": dev, "seeds": seed_list},
                         final=False)  # a run stopped early keeps a complete report of what finished
            progress.advance(overall)
    config = {"names": chosen, "quick": quick, "device": dev, "seed": seed_list[0] if len(seed_list) == 1 else None,
              "seeds": seed_list, "total_wall_s": round(time.perf_counter() - t0, 2)}
    html_path = write_report(results, out_path, config)
    if len(seed_list) > 1:
        _print_across_seeds(results, quick)
        console.print(f"report: {html_path}")
        raise typer.Exit(_exit_code(results))

    t = Table(title="claims" + (" (quick mode: reduced sizes)" if quick else ""))
    for col in ("experiment", "claim", "paper", "measured", "result"):
        t.add_column(col)
    for r in results:
        for c in r.ctx.claims:
            m = c.measured
            ms = f"{m:.4g}" if isinstance(m, float) else str(m)
            t.add_row(r.experiment.name, c.name, c.expectation(), ms,
                      "[green]pass[/green]" if c.passed else "[red]FAIL[/red]")
        if r.error:
            t.add_row(r.experiment.name, "(experiment crashed)", "", "", "[red]FAIL[/red]")
    console.print(t)
    console.print(f"report: {html_path}")
    raise typer.Exit(_exit_code(results))


def _exit_code(results) -> int:
    """0 every claim passed; 1 some claim failed; 3 some experiment crashed (2 usage error, 130 interrupted)."""
    if any(r.error for r in results):
        return 3
    return 0 if all(r.passed for r in results) else 1


def _previous_runs(out_path, quick: bool, device: str, reg) -> dict:
    """Finished, crash-free runs of an earlier ``reproduce`` into the same folder, keyed by (name, seed).

    Reused only when the earlier run had the same ``--quick`` and device and the same simcode version; a missing,
    truncated or unreadable ``results.json`` means nothing is reused (said on the terminal), never a wrong reuse.
    """
    import json

    from . import __version__
    from .experiments import RunResult

    path = out_path / "results.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if data["config"].get("quick") != quick or data["config"].get("device") != device:
            console.print(f"--resume: {path} was made with other --quick/--device settings; running everything")
            return {}
        if data.get("versions", {}).get("simcode") != __version__:
            console.print(f"--resume: {path} was made by another simcode version; running everything")
            return {}
        out = {}
        for x in data["experiments"]:
            if x.get("error") is None and x["name"] in reg and all((out_path / f["path"]).exists()
                                                                   for f in x.get("figures", []) if f.get("path")):
                out[(x["name"], x["seed"])] = RunResult.from_dict(x, reg[x["name"]], data.get("created", "?"))
        return out
    except (OSError, ValueError, KeyError, TypeError) as exc:
        console.print(f"--resume: cannot read {path} ({type(exc).__name__}: {exc}); running everything")
        return {}


def _parse_seeds(text: str) -> list[int]:
    toks = [t for t in text.replace(",", " ").split() if t]
    if not toks:
        raise ValueError("--seeds needs at least one integer, e.g. --seeds 0,1,2")
    try:
        out = [int(t) for t in toks]
    except ValueError:
        raise ValueError(f"--seeds must be integers separated by commas or spaces, got {text!r}") from None
    if any(v < 0 for v in out) or len(set(out)) != len(out):
        raise ValueError(f"--seeds must be distinct non-negative integers, got {text!r}")
    return out


def _print_across_seeds(results, quick: bool) -> None:
    from .report import claims_across_seeds

    rows = claims_across_seeds([r.to_dict() for r in results])
    t = Table(title="claims across seeds" + (" (quick mode: reduced sizes)" if quick else ""))
    for col in ("experiment", "claim", "paper", "measured per seed", "result"):
        t.add_column(col)
    for row in rows:
        per = " / ".join(f"{m:.4g}" if isinstance(m, float) else str(m) for m in row["measured"])
        n_ok = sum(row["passed"])
        res = (f"[green]pass {n_ok}/{len(row['passed'])}[/green]" if row["passed_all"]
               else f"[red]FAIL ({n_ok}/{len(row['passed'])})[/red]")
        t.add_row(row["experiment"], row["claim"], row.get("expectation", ""), per, res)
    console.print(t)


# --------------------------------------------------------------------------------------------- simcode sweep
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

    Runs the grid of :data:`simcode.experiments.SWEEPABLE` ``[experiment]`` (its default grid, with every ``--param``
    replacing that parameter's values) and writes into ``out``: ``sweep.csv`` (and
    ``sweep.parquet`` when pyarrow is installed), ``sweep.png`` (a heat-map for two swept
    parameters, a line for one) and ``cache/`` (one file per finished point: re-running the same
    command resumes). Raises ``ValueError`` for usage errors. Returns the table.
    """
    import inspect

    from .experiments.sweep_points import DEFAULT_GRIDS, MAIN_METRIC, SWEEPABLE
    from .sweep import plot_sweep, sweep

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


def _sweep_help() -> str:
    from .experiments.sweep_points import DEFAULT_GRIDS, SWEEPABLE
    import inspect

    lines = ["Run a parameter grid of a sweepable experiment; write sweep.csv, sweep.png and a resumable cache.",
             "", "--param takes name=v1,v2,... or name=start:stop:num (num evenly spaced values).", "",
             "Sweepable experiments (parameters; default grid):"]
    for name, fn in SWEEPABLE.items():
        params = [p for p in inspect.signature(fn).parameters if p != "random_state"]
        grid = ", ".join(f"{k}={v}" for k, v in DEFAULT_GRIDS.get(name, {}).items())
        lines.append(f"  {name}: {', '.join(params)}" + (f"; default grid {grid}" if grid else ""))
    return "\n\n".join([lines[0], lines[2], lines[4] + "\n" + "\n".join(lines[5:])])


@app.command(help=_sweep_help())
def sweep(
    experiment: str = typer.Argument(..., help="A sweepable experiment (listed above)."),
    param: List[str] = typer.Option([], "--param", help="name=v1,v2,... or name=start:stop:num (repeatable)."),
    backend: str = typer.Option("loky", "--backend", help="sequential | loky | dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address."),
    n_jobs: int = typer.Option(-1, "--n-jobs"),
    out: str = typer.Option("simcode-sweep", "--out"),
    seed: int = typer.Option(0, "--seed"),
):
    try:
        run_cli_sweep(experiment, param, backend=backend, scheduler=scheduler, n_jobs=n_jobs,
                      out=out, seed=seed, console=console)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


if __name__ == "__main__":  # pragma: no cover
    app()
