"""simcode.identify: see the sub-modules (scattering, tuning, onoff).

Exports: the explicit table below, loaded on first use (checked against each sub-module by tests/test_layout.py).
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
