"""The experiment contract: registration, run context, claims.

An experiment is a function ``fn(ctx: Context) -> None`` registered with :func:`experiment`.
It reads its size from ``ctx.quick`` / ``ctx.seed`` / ``ctx.device``, runs the model, and
reports through the context:

* ``ctx.metric(name, value)``: any JSON-serialisable number or short list;
* ``ctx.figure(name, fig, caption)``: a matplotlib figure (saved as ``name.png``) and one
  sentence a reader needs to understand it;
* ``ctx.claim(...)``: a statement from a paper, checked against a value the experiment
  *measured by running the model* (never a hard-coded number);
* ``ctx.track(iterable, description, total)``: a progress bar for long inner loops.

Claims compare a measured value with the paper's value:
``kind="at_least"`` (measured >= expected - tol), ``"at_most"`` (measured <= expected + tol),
``"close"`` (|measured - expected| <= tol), ``"true"`` (measured is truthy; ``expected`` is a
description).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

__all__ = ["Claim", "Context", "Experiment", "experiment", "REGISTRY"]

_KINDS = ("at_least", "at_most", "close", "true")


@dataclass
class Claim:
    """A paper's statement and the value measured by running the model."""

    name: str
    source: str
    kind: str
    expected: Any
    measured: Any
    tol: float = 0.0
    note: str = ""
    passed: bool = field(init=False)

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"claim kind must be one of {_KINDS}, got {self.kind!r}")
        self.measured = _to_builtin(self.measured)
        self.expected = _to_builtin(self.expected)
        self.passed = bool(self._check())

    def _check(self) -> bool:
        if self.kind == "true":
            return bool(self.measured)
        m = self.measured
        if m is None or not np.isfinite(m):
            return False
        if self.kind == "at_least":
            return m >= self.expected - self.tol
        if self.kind == "at_most":
            return m <= self.expected + self.tol
        return abs(m - self.expected) <= self.tol

    def expectation(self) -> str:
        """Human-readable form of what the paper says."""
        e = _fmt(self.expected)
        if self.kind == "true":
            return str(self.expected)
        if self.kind == "at_least":
            return f">= {e}" + (f" (tol {_fmt(self.tol)})" if self.tol else "")
        if self.kind == "at_most":
            return f"<= {e}" + (f" (tol {_fmt(self.tol)})" if self.tol else "")
        return f"{e} ± {_fmt(self.tol)}"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["expectation"] = self.expectation()
        return d


def _fmt(v) -> str:
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def _to_builtin(v):
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if hasattr(v, "item") and callable(v.item) and getattr(v, "ndim", 1) == 0:
        return v.item()
    return v


@dataclass
class Figure:
    name: str
    caption: str
    fig: Any  # matplotlib.figure.Figure
    path: str | None = None


class Context:
    """What an experiment receives: its configuration and the channels it reports through."""

    def __init__(self, name: str, quick: bool = False, seed: int = 0, device: str = "cpu",
                 progress: Any = None):
        self.name = name
        self.quick = bool(quick)
        self.seed = int(seed)
        self.device = device
        self.metrics: dict[str, Any] = {}
        self.figures: list[Figure] = []
        self.claims: list[Claim] = []
        self.notes: list[str] = []
        self.warnings: list[dict] = []  # library warnings raised during the run (collected, not printed mid-bar)
        self._progress = progress  # a rich.progress.Progress or None

    @property
    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def metric(self, name: str, value: Any) -> None:
        self.metrics[name] = _to_builtin(value)

    def note(self, text: str) -> None:
        """A sentence for the report (what was tried, what deviates from the paper)."""
        self.notes.append(text)

    def figure(self, name: str, fig: Any, caption: str) -> None:
        if not caption:
            raise ValueError("every figure needs a caption a reader can understand it from")
        self.figures.append(Figure(name=name, caption=caption, fig=fig))

    def claim(self, name: str, *, source: str, measured: Any, expected: Any,
              kind: str = "close", tol: float = 0.0, note: str = "") -> Claim:
        c = Claim(name=name, source=source, kind=kind, expected=expected,
                  measured=measured, tol=tol, note=note)
        self.claims.append(c)
        return c

    def track(self, iterable: Iterable, description: str = "", total: int | None = None):
        """Iterate with a progress bar (when the CLI shows progress)."""
        if self._progress is None:
            yield from iterable
            return
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        task = self._progress.add_task(f"  {self.name}: {description}", total=total)
        try:
            for item in iterable:
                yield item
                self._progress.advance(task)
        finally:
            self._progress.remove_task(task)


@dataclass
class Experiment:
    name: str
    fn: Callable[[Context], None]
    description: str
    cpu_time: str
    sources: tuple[str, ...] = ()

    def run(self, quick: bool = False, seed: int = 0, device: str = "cpu", progress=None) -> "RunResult":
        ctx = Context(self.name, quick=quick, seed=seed, device=device, progress=progress)
        t0 = time.perf_counter()
        error = None
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.fn(ctx)
            except Exception as exc:  # an experiment that crashes is a failed claim, not a lost run
                import traceback

                error = "".join(traceback.format_exception(exc))
        ctx.warnings = _summarise_warnings(caught)
        wall = time.perf_counter() - t0
        return RunResult(experiment=self, ctx=ctx, wall_s=wall, error=error)


def _summarise_warnings(caught) -> list[dict]:
    """Distinct warnings (category + first line of the message) with their counts, in order of first appearance;
    a solver warning repeated every epoch becomes one row with its count."""
    rows: dict[tuple, dict] = {}
    for w in caught:
        msg = str(w.message).splitlines()[0] if str(w.message) else ""
        key = (w.category.__name__, msg)
        row = rows.setdefault(key, {"category": key[0], "message": msg, "count": 0})
        row["count"] += 1
    return list(rows.values())


@dataclass
class RunResult:
    experiment: Experiment
    ctx: Context
    wall_s: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.ctx.claims)

    def to_dict(self) -> dict:
        return {
            "name": self.experiment.name,
            "description": self.experiment.description,
            "sources": list(self.experiment.sources),
            "quick": self.ctx.quick,
            "seed": self.ctx.seed,
            "device": self.ctx.device,
            "wall_s": round(self.wall_s, 3),
            "passed": self.passed,
            "error": self.error,
            "metrics": {k: _json_safe(v) for k, v in self.ctx.metrics.items()},
            "claims": [c.to_dict() for c in self.ctx.claims],
            "figures": [{"name": f.name, "caption": f.caption, "path": f.path} for f in self.ctx.figures],
            "notes": list(self.ctx.notes),
            "warnings": list(getattr(self.ctx, "warnings", [])),
            "reused_from": getattr(self, "reused_from", None),
        }

    @classmethod
    def from_dict(cls, d: dict, experiment: "Experiment", created: str) -> "RunResult":
        """A finished run read back from ``results.json`` (``simcode reproduce --resume``); its figures are the PNG
        files that run wrote, and the claims are re-checked from their stored values."""
        ctx = Context(d["name"], quick=d["quick"], seed=d["seed"], device=d["device"])
        ctx.metrics = dict(d.get("metrics", {}))
        ctx.notes = list(d.get("notes", []))
        ctx.warnings = list(d.get("warnings", []))
        for c in d.get("claims", []):
            ctx.claims.append(Claim(name=c["name"], source=c["source"], kind=c["kind"], expected=c["expected"],
                                    measured=c["measured"], tol=c.get("tol", 0.0), note=c.get("note", "")))
        for f in d.get("figures", []):
            ctx.figures.append(Figure(name=f["name"], caption=f["caption"], fig=None, path=f["path"]))
        r = cls(experiment=experiment, ctx=ctx, wall_s=float(d.get("wall_s", 0.0)), error=d.get("error"))
        r.reused_from = d.get("reused_from") or created
        return r


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    return _to_builtin(v)


REGISTRY: dict[str, Experiment] = {}


def experiment(name: str, *, description: str, cpu_time: str, sources: Iterable[str] = ()):
    """Register ``fn(ctx)`` as the experiment ``name``.

    ``cpu_time`` is the expected wall time at the default size on a 2-core CPU (e.g. ``"40 s"``).
    ``sources`` names the paper files/sections the experiment reproduces.
    """

    def deco(fn: Callable[[Context], None]):
        if name in REGISTRY:
            raise ValueError(f"experiment {name!r} registered twice")
        REGISTRY[name] = Experiment(name=name, fn=fn, description=description,
                                    cpu_time=cpu_time, sources=tuple(sources))
        return fn

    return deco
