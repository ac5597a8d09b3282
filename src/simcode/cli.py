"""The ``simcode`` command line: ``list``, ``reproduce``, ``sweep``, ``--version``.

Exit codes: 0 every claim passed; 1 some claim failed (or an experiment crashed);
2 usage error (unknown experiment, bad option, unwritable output folder).
"""

from __future__ import annotations

import os
import time
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="simcode: normative models of neural representation through the similarity matrix.")
console = Console()


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
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    seed: int = typer.Option(0, "--seed", help="Random seed for every experiment."),
):
    """Run experiments, write a report, print the table of claims (exit 1 if any claim fails)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ._utils import resolve_device
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
        dev = resolve_device(device)
        out_path = prepare_out_dir(out)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2)
    os.environ.setdefault("MPLBACKEND", "Agg")

    results = []
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        overall = progress.add_task("experiments", total=len(chosen))
        for name in chosen:
            progress.update(overall, description=f"experiments ({name})")
            res = reg[name].run(quick=quick, seed=seed, device=dev, progress=progress)
            results.append(res)
            status = "[green]pass[/green]" if res.passed else "[red]FAIL[/red]"
            progress.console.print(f"{name}: {status} in {res.wall_s:.1f} s")
            if res.error:
                progress.console.print(f"[red]{name} raised:[/red]\n{res.error}")
            progress.advance(overall)
    config = {"names": chosen, "quick": quick, "device": dev, "seed": seed,
              "total_wall_s": round(time.perf_counter() - t0, 2)}
    html_path = write_report(results, out_path, config)

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
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


@app.command()
def sweep(
    experiment: str = typer.Argument(..., help="A sweepable experiment (see simcode.sweep.SWEEPABLE)."),
    param: List[str] = typer.Option([], "--param", help="name=v1,v2,... (repeatable)."),
    backend: str = typer.Option("loky", "--backend", help="sequential | loky | dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address."),
    n_jobs: int = typer.Option(-1, "--n-jobs"),
    out: str = typer.Option("simcode-sweep", "--out"),
    seed: int = typer.Option(0, "--seed"),
):
    """Run a parameter grid of a sweepable experiment; write the table and a figure."""
    try:
        from .sweep import run_cli_sweep
    except ImportError as exc:  # pragma: no cover
        console.print(f"[red]sweeps unavailable: {exc}[/red]")
        raise typer.Exit(2)
    try:
        run_cli_sweep(experiment, param, backend=backend, scheduler=scheduler, n_jobs=n_jobs,
                      out=out, seed=seed, console=console)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2)


if __name__ == "__main__":  # pragma: no cover
    app()
