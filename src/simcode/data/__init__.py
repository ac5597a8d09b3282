"""simcode.data: see the sub-modules (synthetic, real, onoff, cells, spikes).

Public names load on first use (``lazy_loader``) from the sub-modules in the table below. The table is
explicit, and ``tests/test_layout.py`` checks it against each sub-module's ``__all__``, so a name exported
twice fails loudly instead of resolving to whichever module came first.
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
