"""ON/OFF threshold (000 §5): the numerical optimum against the closed form and the analytic threshold."""

import numpy as np
import pytest

from simcode.data import onoff_stimulus
from simcode.identify import critical_p_zero, onoff_closed_form, onoff_threshold, solve_onoff


def test_threshold_formula_by_hand():
    # I ∈ {0, 1, 2} with probs (0.5, 0.25, 0.25): <I> = 0.75, <I²> = 1.25 → 0.45
    assert onoff_threshold([0, 1, 2], [0.5, 0.25, 0.25]) == pytest.approx(0.75**2 / 1.25)
    # shift invariance: I_min is subtracted
    assert onoff_threshold([3, 4, 5], [0.5, 0.25, 0.25]) == pytest.approx(0.45)


def test_critical_p_zero_is_the_fixed_point_of_the_threshold():
    v, p = onoff_stimulus("exponential", 0.5, 40)
    ps = critical_p_zero(v, p)
    v2, p2 = onoff_stimulus("exponential", ps, 40)
    assert p2[0] == pytest.approx(onoff_threshold(v2, p2), rel=1e-10)


@pytest.mark.parametrize("law", ["uniform", "half-normal"])
def test_single_channel_iff_above_threshold(law):
    v, p = onoff_stimulus(law, 0.5, 12)
    ps = critical_p_zero(v, p)
    below = solve_onoff(*onoff_stimulus(law, ps - 0.1, 12), lam=1.0)
    above = solve_onoff(*onoff_stimulus(law, ps + 0.1, 12), lam=1.0)
    assert below.n_off >= 1 and below.off_share > 1e-3
    assert above.single_channel
    for r in (below, above):
        ref, b = onoff_closed_form(r.values, r.probs, 1.0)
        assert r.objective == pytest.approx(ref, rel=1e-5)
        # the ON neuron is silent at and below the closed-form threshold b (z_ON ∝ (I − b)₊)
        on = r.Z[:, r.on].sum(1)
        assert np.all(on[r.values < b - 1e-9] <= 1e-3 * on.max())


def test_bad_input():
    with pytest.raises(ValueError, match="probability"):
        onoff_threshold([0, 1], [0.5, 0.6])
    with pytest.raises(ValueError, match="constant"):
        onoff_threshold([1, 1, 1], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="same length"):
        solve_onoff([0, 1, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="lam"):
        solve_onoff([0, 1, 2], [0.5, 0.25, 0.25], lam=-1)
    with pytest.raises(ValueError, match="NaN"):
        onoff_threshold([0, np.nan, 2], [0.5, 0.25, 0.25])


def test_result_protocol_and_solver_switch():
    from simcode.core import SolverResult

    v, p = onoff_stimulus("uniform", 0.3, 12)
    ref, _ = onoff_closed_form(v, p, 1.0)
    for solver in ("cvxpy", "firstorder"):
        r = solve_onoff(v, p, 1.0, solver=solver, random_state=0)
        assert isinstance(r, SolverResult) and r.status == r.solution.status
        assert r.solution.solver.startswith(solver)
        assert r.objective == pytest.approx(ref, rel=1e-5)


def test_float32_and_torch_probabilities_are_accepted():
    """Probabilities that sum to 1 in float32 (here to 1 + 1.5e-8 in float64) are a valid law (issue 15)."""
    import torch

    v = np.linspace(0.0, 2.0, 10)
    ref = onoff_threshold(v, np.full(10, 0.1))
    for p in (np.full(10, 0.1, dtype=np.float32), torch.full((10,), 0.1, dtype=torch.float32)):
        assert onoff_threshold(v, p) == pytest.approx(ref, rel=1e-6)
        assert critical_p_zero(v, p) == pytest.approx(critical_p_zero(v, np.full(10, 0.1)), rel=1e-6)
    with pytest.raises(ValueError, match="^probs must be a probability vector"):
        onoff_threshold(v, np.full(10, 0.2))
