"""simcode.identify: see the submodules (scattering, tuning, onoff); public names are re-exported lazily."""

from simcode._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, ("scattering", "tuning", "onoff", ))
