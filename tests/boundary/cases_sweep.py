"""Boundary cases of ``simcode.sweep`` (independent checks: itertools.product, the seed's documented range)."""

import itertools


from .harness import Case


def _point(a=1, b=0.5, random_state=None):
    return {"prod": a * b}


CASES = [
    Case("simcode.sweep.expand_grid", lambda rng: dict(grid={"a": [1, 2, 3], "b": [0.5, 1.5]}),
         check=lambda out, kw: out == [dict(zip("ab", c)) for c in itertools.product([1, 2, 3], [0.5, 1.5])]),
    Case("simcode.sweep.point_seed", lambda rng: dict(point={"a": 1}, random_state=3),
         check=lambda out, kw: isinstance(out, int) and 0 <= out < 2 ** 31),
    Case("simcode.sweep.sweep", lambda rng: dict(fn=_point, grid={"a": [1, 2], "b": [0.5]}, backend="sequential",
                                                 progress=False),
         check=lambda out, kw: list(out["prod"]) == [0.5, 1.0]),
    Case("simcode.sweep.plot_sweep",
         lambda rng: dict(table=__import__("pandas").DataFrame({"a": [1, 2, 3], "prod": [0.5, 1.0, 1.5],
                                                                 "seed": [0, 1, 2], "error": [None] * 3,
                                                                 "time_s": [0.0] * 3}), metric="prod")),
]

UNCOVERED = {}
VALID = {}
KNOWN = {}

