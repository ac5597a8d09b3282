"""The shared core: array adapter, scalar checks, result protocol, skeletons, Representation.

References are independent: NumPy/SciPy closed forms, scikit-learn's warning hierarchy, a lasso solved by
scikit-learn, a consensus problem with a closed-form solution.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg
import sklearn.exceptions
import torch
from sklearn.linear_model import Lasso

import simcode
from simcode.core import (ADMM, ArrayKind, Certificate, History, Representation, SolverResult, check_array,
                          check_int, check_number, check_option, check_tensor, nesterov_momentum,
                          proximal_gradient, resolve_device)

# ------------------------------------------------------------------------------------------------- arrays
BAD_TYPES = [
    (None, TypeError, "X must be an array of numbers, got None"),
    ("abc", TypeError, "string"),
    (np.array([[1 + 2j, 3.0]]), TypeError, "complex"),
    (np.array([[True, False]]), TypeError, "boolean"),
    (np.ones((2, 2), np.float16), TypeError, "half precision"),
    (np.array([["a", "b"]]), TypeError, "dtype <U1"),
    (np.array([[object(), 1]], dtype=object), TypeError, "dtype object"),
    (torch.ones(2, 2, dtype=torch.complex64), TypeError, "complex"),
    (torch.ones(2, 2, dtype=torch.float16), TypeError, "half precision"),
    (torch.ones(2, 2, dtype=torch.bool), TypeError, "boolean"),
]


@pytest.mark.parametrize("x, exc, words", BAD_TYPES)
def test_check_array_rejects_non_real_input_naming_the_argument(x, exc, words):
    with pytest.raises(exc, match="X") as info:
        check_array(x, "X", ndim=2)
    assert words in str(info.value)
    if not isinstance(x, str) and x is not None:
        with pytest.raises(exc, match="X"):
            check_tensor(x, "X", ndim=2)


@pytest.mark.parametrize("x, words", [
    (np.ones(3), "must be a 2-D array (samples × features), got shape (3,)"),
    (np.ones((0, 3)), "at least 1 row"),
    (np.ones((3, 0)), "at least 1 column"),
    (np.array([[1.0, np.nan]]), "NaN or infinite"),
    (np.array([[1.0, np.inf]]), "NaN or infinite"),
    ([[1.0, 2.0], [3.0]], "rectangular"),
])
def test_check_array_shape_and_finiteness_errors(x, words):
    with pytest.raises(ValueError) as info:
        check_array(x, "X", ndim=2, what="samples × features")
    assert str(info.value).startswith("X ") and words in str(info.value)


def test_check_array_accepts_numbers_and_keeps_float32_when_asked():
    ints = check_array([[1, 2], [3, 4]], "X", ndim=2)
    assert ints.dtype == np.float64 and np.array_equal(ints, [[1.0, 2.0], [3.0, 4.0]])
    f32 = np.ones((2, 2), np.float32)
    assert check_array(f32, "X").dtype == np.float64
    assert check_array(f32, "X", dtype="floating").dtype == np.float32
    t = torch.arange(6.0).reshape(2, 3)
    assert np.array_equal(check_array(t, "X", ndim=2), t.numpy())
    obj = np.array([[1, 2.5]], dtype=object)
    assert check_array(obj, "X").tolist() == [[1.0, 2.5]]


def test_check_tensor_keeps_device_and_dtype():
    t = torch.ones(3, 2, dtype=torch.float32)
    out = check_tensor(t, "X", ndim=2)
    assert out.dtype == torch.float32 and out.device == t.device
    assert check_tensor(np.ones((3, 2)), "X").dtype == torch.float64
    assert check_tensor(torch.ones(3, 2, dtype=torch.int64), "X").dtype == torch.float64


def test_array_kind_round_trip():
    a = np.ones((2, 2), np.float32)
    assert isinstance(ArrayKind.of(a).wrap(torch.ones(2)), np.ndarray)
    t = torch.ones(2, dtype=torch.float32)
    back = ArrayKind.of(t).wrap(np.ones(2), keep_dtype=True)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32


@pytest.mark.parametrize("value, kw, exc", [
    (None, {}, TypeError), (True, {}, TypeError), ("1", {}, TypeError), (np.nan, {}, ValueError),
    (np.inf, {}, ValueError), (-1.0, {"low": 0}, ValueError), (0.0, {"low": 0, "low_inclusive": False}, ValueError),
    (2.0, {"high": 1}, ValueError), (np.ones(2), {}, TypeError), (1 + 1j, {}, TypeError),
])
def test_check_number_refuses(value, kw, exc):
    with pytest.raises(exc, match="lam"):
        check_number(value, "lam", **kw)


def test_check_number_and_int_accept_numpy_and_tensor_scalars():
    assert check_number(np.float32(0.5), "lam") == 0.5
    assert check_number(torch.tensor(2.0), "lam") == 2.0
    assert check_number(np.array(3), "lam") == 3.0
    assert check_int(np.int64(4), "max_iter", low=1) == 4
    for bad in (4.0, True, "4", None):
        with pytest.raises(TypeError, match="max_iter"):
            check_int(bad, "max_iter")
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        check_int(0, "max_iter", low=1)
    with pytest.raises(ValueError, match="solver must be one of 'a', 'b'"):
        check_option("c", "solver", ("a", "b"))


def test_resolve_device():
    assert resolve_device("auto", torch.ones(1)) == "cpu"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


# ------------------------------------------------------------------------------------------------- warnings
def test_convergence_warning_is_sklearns():
    assert issubclass(simcode.ConvergenceWarning, sklearn.exceptions.ConvergenceWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        simcode.core.warn_not_converged("x", 3, "detail")  # silenced by scikit-learn's filter


# ------------------------------------------------------------------------------------------------- results
def test_result_protocol():
    r = SolverResult(status="max_iter", n_iter=5, history=History().as_dict())
    assert not r.converged and r.n_iter == 5 and r.certificate is None
    assert SolverResult().converged
    with pytest.raises(ValueError, match="status must be one of"):
        SolverResult(status="optimal")
    with pytest.raises(TypeError, match="history"):
        SolverResult(history=[1.0, 2.0])
    assert Certificate.relative_gap(10.0, 9.0) == pytest.approx(0.1)
    assert Certificate.relative_gap(0.5, 0.25) == pytest.approx(0.25)  # max(1, |f|) normalisation


def test_history_pads_missing_columns():
    h = History()
    h.append(a=1.0)
    h.append(a=2.0, b=3.0)
    d = h.as_dict()
    assert np.array_equal(d["a"], [1.0, 2.0]) and np.isnan(d["b"][0]) and d["b"][1] == 3.0 and len(h) == 2


# ------------------------------------------------------------------------------------------------- skeletons
def test_nesterov_momentum_matches_the_formula_on_scalars_arrays_tensors():
    for t in (1.0, np.array([1.0, 3.0]), torch.tensor([1.0, 3.0], dtype=torch.float64)):
        tn, beta = nesterov_momentum(t)
        ref = (1 + np.sqrt(1 + 4 * np.asarray(t, dtype=float) ** 2)) / 2
        assert np.allclose(np.asarray(tn), ref) and np.allclose(np.asarray(beta), (np.asarray(t) - 1) / ref)


def test_proximal_gradient_solves_the_lasso_like_sklearn():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(60, 20))
    b = rng.normal(size=60)
    alpha = 0.1
    n = A.shape[0]
    # sklearn Lasso: (1/2n)||b - Ax||² + alpha ||x||_1
    ref = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100000).fit(A, b).coef_
    L = np.linalg.eigvalsh(A.T @ A / n).max()
    res = proximal_gradient(lambda x: A.T @ (A @ x - b) / n,
                            lambda v, s: np.sign(v) * np.maximum(np.abs(v) - s * alpha, 0.0),
                            np.zeros(20), L, max_iter=20000, tol=1e-12)
    assert res.converged and np.allclose(res.x, ref, atol=1e-7)
    assert set(res.history) == {"stop"} and len(res.history["stop"]) == res.n_iter


def test_proximal_gradient_warns_at_its_cap():
    with pytest.warns(simcode.ConvergenceWarning, match="did not converge in 3 iterations"):
        res = proximal_gradient(lambda x: x - 5.0, lambda v, s: v, np.zeros(3), 1e-3 + 1.0, max_iter=3, tol=0)
    assert res.status == "max_iter"


class _Consensus(ADMM):
    """min ½‖x − a‖² + ½‖z − b‖² s.t. x = z (closed form x = z = (a + b)/2)."""

    what = "consensus ADMM"

    def __init__(self, a, b, **kw):
        super().__init__(**kw)
        self.a, self.b = a, b
        self.x = np.zeros_like(a)
        self.z = np.zeros_like(a)
        self.u = np.zeros_like(a)

    def x_step(self):
        self.x = (self.a + self.rho * (self.z - self.u)) / (1 + self.rho)

    def z_step(self):
        self.z_old = self.z
        self.z = (self.b + self.rho * (self.x + self.u)) / (1 + self.rho)

    def u_step(self):
        self.u = self.u + self.x - self.z

    def residuals(self):
        r = np.linalg.norm(self.x - self.z)
        s = self.rho * np.linalg.norm(self.z - self.z_old)
        return r, s, 1e-10, 1e-10

    def rescale_dual(self, factor):
        self.u = self.u * factor


def test_admm_skeleton_solves_consensus_with_rho_balancing():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=5), rng.normal(size=5)
    res = _Consensus(a, b, rho=100.0).solve()
    assert res.converged and np.allclose(res.history["rho"][[0]], 100.0)
    assert res.rho < 100.0  # residual balancing moved ρ
    prob = _Consensus(a, b, rho=100.0)
    prob.solve()
    assert np.allclose(prob.x, (a + b) / 2, atol=1e-9)
    with pytest.warns(simcode.ConvergenceWarning, match="consensus ADMM"):
        assert _Consensus(a, b, max_iter=2).solve().status == "max_iter"


# ------------------------------------------------------------------------------------------------- Representation
def test_representation_kernels_match_numpy():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(7, 3))
    rep = Representation(Z, stimuli={"label": np.arange(7) % 2}, metadata={"model": "x"})
    H = np.eye(7) - np.ones((7, 7)) / 7
    assert np.allclose(rep.Q, Z @ Z.T) and np.allclose(rep.centered_kernel, H @ Z @ Z.T @ H)
    assert rep.n_stimuli == 7 and rep.n_neurons == 3 and np.array_equal(np.asarray(rep), Z)
    sub = rep.subset(rep.stimuli["label"] == 1)
    assert sub.n_stimuli == 3 and np.array_equal(sub.Z, Z[1::2]) and np.array_equal(sub.stimuli["label"], [1, 1, 1])
    assert "7 stimuli × 3 neurons" in repr(rep)


def test_representation_from_gram_only_reproduces_q():
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(6, 2))
    rep = Representation(Q=Z @ Z.T)
    assert rep.n_neurons == 2 and np.allclose(rep.Z @ rep.Z.T, Z @ Z.T)
    # the factor is Z up to an orthogonal transform: Procrustes (SciPy) aligns them exactly
    R, _ = scipy.linalg.orthogonal_procrustes(rep.Z, Z)
    assert np.allclose(rep.Z @ R, Z)


def test_representation_torch_and_errors():
    t = torch.randn(5, 4, dtype=torch.float64)
    rep = Representation(t)
    assert isinstance(rep.Q, torch.Tensor) and torch.allclose(rep.Q, t @ t.T)
    with pytest.raises(TypeError, match="needs Z"):
        Representation()
    with pytest.raises(ValueError, match="Q must be symmetric"):
        Representation(Q=np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="must have 5 entries"):
        Representation(t, stimuli={"label": [1, 2]})
    with pytest.raises(TypeError, match="complex"):
        Representation(np.ones((2, 2), complex))
    # analyses read Z through the adapter
    assert np.array_equal(check_array(rep, "X"), t.numpy())
