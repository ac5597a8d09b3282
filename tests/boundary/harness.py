"""The boundary suite's machinery: bad-input generators, a per-call time limit, and the outcome rules.

A *case* describes one valid call of a public entry point::

    Case("simcode.similarity.cka", lambda rng: dict(X=rng.standard_normal((20, 5)), Y=rng.standard_normal((20, 4))),
         arrays=("X", "Y"), check=lambda out, kw: 0 <= out <= 1)

``make(rng)`` returns the keyword arguments of a valid call; ``arrays`` names the array arguments that are
replaced, one at a time, by each bad input of :data:`BAD_ARRAYS`; ``scalars`` maps scalar argument names to the
bad values they must refuse (default :data:`BAD_SCALARS` by kind); ``check(out, kwargs)`` (optional) is an
independent check of the valid call's output. For estimators, ``method`` names what to call on an instance built
from ``init`` (``"fit"`` by default).

Outcome rules (issue 15): a bad input must raise ``TypeError`` or ``ValueError`` (or a subclass) whose message
names the argument; returning a value (silently accepted) fails, any other exception (an obscure internal error)
fails, and a call that runs longer than :data:`TIME_LIMIT_S` fails (a hang). A valid call must return without
NaN/inf in its numeric output, within the time limit.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

TIME_LIMIT_S = 20.0


@dataclass
class Case:
    target: str
    make: Callable[[np.random.Generator], dict]
    arrays: tuple = ()
    scalars: dict = field(default_factory=dict)
    check: Callable[[Any, dict], bool] | None = None
    init: Callable[[], Any] | None = None       # estimators: the instance
    method: str = "fit"
    id: str = ""

    @property
    def name(self) -> str:
        return self.id or self.target.rsplit(".", 1)[-1]


def _bad_arrays(good: np.ndarray):
    """(label, value) pairs of inputs that must be refused where ``good`` is expected."""
    g = np.asarray(good, dtype=float)
    shape = g.shape
    nan = g.copy()
    nan.flat[0] = np.nan
    inf = g.copy()
    inf.flat[-1] = np.inf
    obj = None
    if g.ndim:
        obj = g.astype(object)
        obj.flat[0] = "x"  # an object array holding a non-number (object arrays of numbers are valid input)
    out = [("None", None), ("string", "abc"), ("complex", g.astype(complex) + 1j), ("bool", g > 0),
           ("float16", g.astype(np.float16)), ("object", obj),
           ("nan", nan), ("inf", inf), ("empty", np.empty((0,) + shape[1:]))]
    if g.ndim >= 1:
        out.append(("extra_dim", g[None]))
    if g.ndim >= 2:
        out.append(("flat", g.ravel()))
    return [(k, v) for k, v in out if not (k == "object" and v is None)]


BAD_SCALARS = {
    "positive": [("zero", 0), ("negative", -1.0), ("nan", float("nan")), ("inf", float("inf")), ("string", "1"),
                 ("None", None), ("bool", True)],
    "nonnegative": [("negative", -1.0), ("nan", float("nan")), ("string", "1"), ("None", None)],
    "int": [("float", 2.5), ("zero", 0), ("negative", -3), ("string", "3"), ("None", None)],
}


class Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT_S):
    def handler(signum, frame):
        raise Timeout(f"call ran past {seconds:g} s (a hang)")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def resolve(target: str):
    import importlib

    mod, _, attr = target.rpartition(".")
    return getattr(importlib.import_module(mod), attr)


def call(case: Case, kwargs: dict):
    fn = resolve(case.target)
    if case.init is not None:
        est = case.init()
        return getattr(est, case.method)(**kwargs)
    return fn(**kwargs)


def finite_output(out, allow_inf: bool = False) -> bool:
    """No NaN/inf in any numeric array, tensor or float reachable from ``out`` (tuples, lists, dicts, dataclasses);
    ``allow_inf`` accepts ±inf (the value of an indicator prior outside its set is +inf by definition)."""

    def fin(a):
        return ~np.isnan(a) if allow_inf else np.isfinite(a)
    import dataclasses

    seen = 0

    def ok(v, depth=0):
        nonlocal seen
        seen += 1
        if depth > 4 or seen > 500:
            return True
        if v is None or isinstance(v, (str, bool)):
            return True
        if isinstance(v, float):
            return bool(fin(v))
        if type(v).__module__.startswith("torch"):
            import torch

            if isinstance(v, torch.Tensor):
                if not v.is_floating_point():
                    return True
                return bool((~torch.isnan(v) if allow_inf else torch.isfinite(v)).all())
        if isinstance(v, np.ndarray):
            return bool(fin(v).all()) if v.dtype.kind == "f" else True
        if isinstance(v, (list, tuple)):
            return all(ok(x, depth + 1) for x in v)
        if isinstance(v, dict):
            return all(ok(x, depth + 1) for x in v.values())
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return all(ok(getattr(v, f.name), depth + 1) for f in dataclasses.fields(v)
                       if f.name not in ("history", "lower_bound", "gap", "certificate"))
        return True

    return ok(out)


def expect_refusal(case: Case, kwargs: dict, arg: str, label: str):
    """Returns None if the bad call was refused properly, else a description of what went wrong."""
    try:
        with time_limit():
            call(case, kwargs)
    except Timeout as exc:
        return f"{case.name}({arg}={label}): {exc}"
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        if arg not in msg:
            return f"{case.name}({arg}={label}): vague error (does not name {arg!r}): {type(exc).__name__}: {msg[:160]}"
        return None
    except Exception as exc:  # noqa: BLE001 - any other exception is the defect being tested for
        return f"{case.name}({arg}={label}): obscure {type(exc).__name__}: {str(exc)[:160]}"
    return f"{case.name}({arg}={label}): silently accepted"
