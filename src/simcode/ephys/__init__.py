"""simcode.ephys: multi-channel convolutional spike sorting of SpikeInterface recordings.

* ``sorting`` — :func:`sort` (a ``BaseRecording`` → :class:`SortResult` with a ``NumpySorting`` and the learned
  spatio-temporal templates), :func:`template_pursuit` (the multi-channel non-negative pursuit on an array),
  :func:`score_sorting` (per-unit accuracy against ground truth through ``spikeinterface.comparison``).

Needs the optional extra ``simcode[ephys]`` (SpikeInterface).

Exports: the explicit table below, loaded on first use (checked against each sub-module by tests/test_layout.py).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "sorting": ["SortResult", "sort", "template_pursuit", "score_sorting"],
    },
)
