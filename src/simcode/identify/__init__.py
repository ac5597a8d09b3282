"""simcode.identify: see the sub-modules (scattering, tuning, onoff).

Public names load on first use (``lazy_loader``) from the sub-modules in the table below. The table is
explicit, and ``tests/test_layout.py`` checks it against each sub-module's ``__all__``, so a name exported
twice fails loudly instead of resolving to whichever module came first.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "scattering": ["ScatteringResult", "tight_scattering", "modular_candidate"],
        "tuning": [
            "RotationSearchResult", "TuningCertificate", "nonneg_rotations", "tuning_certificate",
            "permutation_distance",
        ],
        "onoff": ["onoff_threshold", "critical_p_zero", "onoff_closed_form", "solve_onoff", "OnOffResult"],
    },
)
