"""Per-point seeds: derived from (random_state, canonical point) alone, so every back-end gives the same table."""

from __future__ import annotations

import hashlib
import inspect
import numbers
from typing import Any, Callable, Mapping

import numpy as np

from .grid import canonical, to_builtin

__all__ = ["point_seed", "entropy_of", "digest", "accepts_random_state", "fn_name"]


def entropy_of(random_state) -> int | None:
    if random_state is None:
        return None
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise ValueError(f"random_state must be None, a non-negative int or a numpy Generator, got {random_state!r}")


def digest(point: Mapping[str, Any], entropy: int) -> bytes:
    return hashlib.sha256(f"{entropy}|{canonical(point)}".encode()).digest()


def point_seed(point: Mapping[str, Any], random_state: int = 0) -> int:
    """The seed :func:`sweep` passes to ``fn`` at ``point``: an int in ``[0, 2**31)``.

    It is ``SeedSequence(random_state, spawn_key=h)`` where ``h`` is a SHA-256 hash of the
    canonical JSON form of the point, so it depends on the point's values only (not on the grid's
    order, the back-end or the worker), and differs between points.
    """
    entropy = entropy_of(random_state)
    if entropy is None:
        raise ValueError("point_seed needs an int random_state")
    point = {k: to_builtin(v, k) for k, v in point.items()}
    h = digest(point, entropy)
    words = tuple(int.from_bytes(h[i:i + 4], "little") for i in range(0, 16, 4))
    ss = np.random.SeedSequence(entropy, spawn_key=words)
    return int(ss.generate_state(1, np.uint32)[0] & 0x7FFFFFFF)


def accepts_random_state(fn: Callable) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return any(p.name == "random_state" or p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def fn_name(fn) -> str:
    f = getattr(fn, "func", fn)  # functools.partial
    name = f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__name__)}"
    return f"partial({name})" if f is not fn else name
