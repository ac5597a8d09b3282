"""Boundary cases of ``simcode.ephys`` (independent checks: a noiseless sum of known atoms; SpikeInterface's own
comparison of a sorting with itself).

``sort`` takes a SpikeInterface ``BaseRecording`` or, equivalently, a (T, C) array of traces with
``sampling_frequency``; the harness's bad arrays are fed through the array form (a recording object cannot be
replaced by a bad array, and SpikeInterface refuses ill-formed recordings when they are built).
"""

import numpy as np

from .harness import Case


def _traces(rng, T=6000, C=4, L=20):
    W = np.zeros((2, L, C))
    W[0, 8, :2] = [-12.0, -6.0]
    W[1, 8, 2:] = [-6.0, -12.0]
    W[:, 9:14] = -W[:, 8:9] * 0.2
    x = rng.standard_normal((T, C))
    for s in range(50, T - 50, 97):
        x[s:s + L] += W[(s // 97) % 2]
    return x, W


def _pursuit(rng):
    x, W = _traces(rng)
    return dict(traces=x, templates=W, match_threshold=5.0)


def _sort(rng):
    x, _ = _traces(rng, T=20000)
    return dict(recording=x, sampling_frequency=10000.0, preprocess=False, n_units=2, random_state=0)


def _pursuit_check(out, kw):
    s, u, a = out
    want = np.arange(50, kw["traces"].shape[0] - 50, 97)
    return s.size == want.size and np.array_equal(s, want) and np.array_equal(u, (want // 97) % 2)


def _score(rng):
    from spikeinterface.core import NumpySorting

    t = np.sort(rng.choice(100000, 300, replace=False))
    lab = rng.integers(0, 3, 300)
    s = NumpySorting.from_samples_and_labels([t], [lab], 25000.0)
    return dict(result=s, gt_sorting=s)


CASES = [
    Case("simcode.ephys.template_pursuit", _pursuit, arrays=("traces", "templates"),
         scalars={"match_threshold": "positive"}, check=_pursuit_check),
    Case("simcode.ephys.sort", _sort, arrays=("recording",),
         scalars={"detect_threshold": "positive", "match_threshold": "positive"},
         check=lambda out, kw: len(out.sorting.unit_ids) == 2 and out.templates.shape[0] == 2),
    Case("simcode.ephys.score_sorting", _score, scalars={"delta_time": "positive"},
         check=lambda out, kw: np.allclose(out["accuracy"], 1.0)),
]

VALID = {}

UNCOVERED = {}
