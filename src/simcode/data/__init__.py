"""simcode.data: see the sub-modules (synthetic, real, onoff, cells, spikes).

Exports: the explicit table below, loaded on first use (checked against each sub-module by tests/test_layout.py).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "synthetic": ["make_sparse_dictionary_data"],
        "real": ["load_digits_subset", "load_image_patches", "make_moons", "whiten_image"],
        "onoff": ["onoff_stimulus"],
        "cells": ["make_place_cells", "make_grid_cells"],
        "spikes": ["make_spike_recording", "biphasic_template"],
    },
)
