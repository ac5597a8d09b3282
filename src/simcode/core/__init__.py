"""simcode's shared engineering layer: arrays, validation, results, warnings, iteration, the Representation type.

Every sub-package builds on these modules:

* :mod:`.arrays` — the one array adapter (``check_array``, ``check_tensor``, ``ArrayKind``) and scalar checks;
* :mod:`.exceptions` — :class:`ConvergenceWarning` (a scikit-learn ``ConvergenceWarning``), errors;
* :mod:`.results` — the solver result protocol (:class:`SolverResult`, :class:`Certificate`, :data:`STATUSES`);
* :mod:`.iterate` — FISTA momentum, a proximal-gradient loop, the :class:`ADMM` skeleton;
* :mod:`.estimator` — what every estimator adds to scikit-learn's ``BaseEstimator``;
* :mod:`.representation` — :class:`Representation`, a code Z with its kernels.
"""

from .arrays import (ArrayKind, check_array, check_bool, check_int, check_number, check_option,
                     check_random_state, check_tensor, is_tensor, resolve_device, to_numpy, torch_dtype)
from .estimator import RepresentationMixin, SolverMixin
from .exceptions import (ConvergenceWarning, InfeasibleProblemError, NotFittedError, UnsupportedTermError,
                         warn_not_converged)
from .iterate import ADMM, ADMMResult, ProximalGradientResult, nesterov_momentum, proximal_gradient
from .representation import Representation, as_representation
from .results import STATUSES, Certificate, History, SolverResult, check_status

__all__ = ["ArrayKind", "check_array", "check_bool", "check_int", "check_number", "check_option",
           "check_random_state", "check_tensor", "is_tensor", "resolve_device", "to_numpy", "torch_dtype",
           "RepresentationMixin", "SolverMixin", "ConvergenceWarning", "InfeasibleProblemError",
           "NotFittedError", "UnsupportedTermError", "warn_not_converged", "ADMM", "ADMMResult",
           "ProximalGradientResult", "nesterov_momentum", "proximal_gradient", "Representation",
           "as_representation", "STATUSES", "Certificate", "History", "SolverResult", "check_status"]
