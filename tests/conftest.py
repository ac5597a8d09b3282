"""Shared fixtures and markers.

* ``@pytest.mark.cuda`` — the test needs a CUDA device; skipped (with the reason) when none is present.
* ``@pytest.mark.slow`` — the few tests that take seconds (still run by the README command and CI;
  ``pytest -m "not slow"`` skips them for a quick loop).
* ``rng`` — a NumPy ``Generator`` seeded per test (so tests do not share a global stream).
* ``device`` — ``"cuda"`` when the test is marked ``cuda``, else ``"cpu"``.
"""

import zlib

import numpy as np
import pytest


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none present)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng(request):
    """A Generator seeded from the test's name (stable across runs and independent of test order)."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def device(request):
    return "cuda" if request.node.get_closest_marker("cuda") else "cpu"
