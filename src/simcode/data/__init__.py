"""simcode.data: see the submodules (synthetic, real, onoff, cells, spikes); public names are re-exported lazily."""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("synthetic", "real", "onoff", "cells", "spikes", ))
