r"""Priors on codes as proximal operators, and the activations they induce in unrolled networks.

A prior is a penalty :math:`g(z)` on one code vector :math:`z` (the last axis of an array: codes are
n_samples × n_atoms, so each row is one :math:`z`). The sparse-coding problem is

.. math::  \min_z \tfrac12\|x - zD\|_2^2 + \lambda\, g(z)

and one (F)ISTA step is :math:`z \leftarrow \operatorname{prox}_{(\lambda/L) g}\big(z + (x - zD)D^\top / L\big)`,
with :math:`\operatorname{prox}_{\tau g}(v) = \arg\min_x \tfrac12\|x - v\|^2 + \tau g(x)`. Unrolling the
iteration gives a network whose non-linearity is that proximal map with bias :math:`b = \lambda/L`; this is
the table "Activation functions for different priors" of the lecture *The many faces of sparse coding*
(``004``, slide "Unfolded auto-encoders with different priors"; its :math:`\tilde x_t = x_{t-1} + \alpha H^\top
\tilde y_t` is our ``V``, its :math:`x` our ``z``, its :math:`H` our ``D.T``).

Every method works on NumPy arrays (returns NumPy) and on torch tensors (returns a tensor on the same device,
same dtype, differentiable by autograd); inputs are validated by :func:`simcode.core.check_tensor` (complex,
boolean and float16 input is a ``TypeError`` naming the argument; float32 stays float32). ``tau`` may be a
float or an array/tensor broadcastable to ``V`` (e.g. one threshold per sample, shape ``(n, 1)``).

>>> from simcode.sparse.priors import get_prior
>>> get_prior("l1_nonneg").prox([[-1.0, 0.5, 2.0]], 1.0)
array([[0., 0., 1.]])
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from ..core import check_array, check_number, check_tensor, is_tensor

__all__ = ["Prior", "get_prior", "PRIORS", "Ridge", "L1", "L1NonNeg", "TwoSidedGaussian", "GroupL1", "Simplex",
           "L0", "TopK", "Box", "ElasticNet"]


def _feas_tol(t: torch.Tensor) -> float:
    return math.sqrt(torch.finfo(t.dtype).eps) if t.is_floating_point() else 1e-8


class Prior:
    """Base class: a penalty ``g`` on the last axis with its proximal map.

    Subclasses implement ``_value(Z)`` (torch in, torch out, shape ``Z.shape[:-1]``) and ``_prox(V, tau)``
    (``tau`` a float or a broadcastable tensor). The public methods convert NumPy ↔ torch and validate.

    Attributes
    ----------
    name : str
        Registry name (``get_prior(name)``).
    convex : bool
        Whether ``g`` is convex (ℓ0 and top-k are not: their prox is a global minimiser but FISTA on them is
        a heuristic).
    differentiable : bool
        Whether ``g`` is differentiable everywhere (ridge, two-sided Gaussian, elastic net with only ℓ2).
    activation_formula : str
        The activation as written in the lecture's table, with ``v`` the pre-activation and ``b`` the bias.
    """

    name = "prior"
    convex = True
    differentiable = False
    activation_formula = ""

    # -- public API ------------------------------------------------------------------------------------
    def value(self, Z):
        """:math:`g` of each row: shape ``Z.shape[:-1]`` (``inf`` where a constraint is violated)."""
        t, torch_in = _codes(Z, "Z")
        out = self._value(t)
        if torch_in:
            return out
        out = out.detach().cpu().numpy()
        return float(out) if out.ndim == 0 else out

    def prox(self, V, tau=1.0):
        r""":math:`\operatorname{prox}_{\tau g}(V)` row-wise on the last axis.

        Parameters
        ----------
        V : array-like or torch.Tensor, shape (..., n)
        tau : float or array/tensor broadcastable to ``V``, ≥ 0
        """
        t, torch_in = _codes(V, "V")
        out = self._prox(t, self._check_tau(tau, t))
        return out if torch_in else out.detach().cpu().numpy()

    def activation(self, V, bias):
        r"""The non-linearity of an unrolled (F)ISTA layer: :math:`\operatorname{prox}_{b g}(V)` with ``bias`` = λ/L.

        For ``l1_nonneg`` this is the shifted ReLU ``ReLU(V - bias)``; for ``l1`` the soft threshold; for
        ``ridge`` a scaling σ²/(σ² + b); for ``two_sided_gaussian`` a leaky-ReLU shape; for ``group_l1`` block
        shrinkage; for ``simplex`` sparsemax (independent of the bias); see ``activation_formula``.
        """
        return self.prox(V, bias)

    # -- helpers ---------------------------------------------------------------------------------------
    def _check_tau(self, tau, like: torch.Tensor):
        if type(tau) is float and 0.0 <= tau < math.inf:
            return tau  # the fast path of the hot loops
        if np.ndim(tau) == 0 and not is_tensor(tau):
            return check_number(tau, "tau", low=0)  # a Python float stays a float
        if is_tensor(tau):  # kept attached: a learnable threshold gets its gradient
            if tau.dtype not in _FLOATS:
                check_tensor(tau, "tau", allow_nan=True)  # the dtype rules (raises for complex, bool, half)
            if tau.dtype != like.dtype or tau.device != like.device:
                tau = tau.to(device=like.device, dtype=like.dtype)
        else:
            tau = check_tensor(tau, "tau", device=like.device, dtype=like.dtype)
        try:
            shape = torch.broadcast_shapes(tau.shape, like.shape)
        except RuntimeError:
            shape = None
        if shape != like.shape:
            raise ValueError(f"tau of shape {tuple(tau.shape)} must broadcast to V's shape {tuple(like.shape)}")
        td = tau.detach()
        if bool((td < 0).any()) or not bool(torch.isfinite(td).all()):
            raise ValueError("tau must be finite and >= 0 everywhere")
        return tau

    def _params(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def _value(self, Z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prox(self, V: torch.Tensor, tau) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


_FLOATS = (torch.float32, torch.float64)


def _codes(Z, name: str):
    """``(tensor, torch_in)``: codes on the last axis, validated by :func:`simcode.core.check_tensor`.

    A floating tensor is returned as is (same device and dtype, still attached to autograd); NumPy float32
    stays float32, integers become float64; complex, boolean and half-precision input is a ``TypeError``.
    NaN / infinite entries and empty input are refused (a ``ValueError`` naming the argument); a floating
    tensor takes the fast path of the solvers' hot loops and is not scanned (no device sync). ``value`` of a
    violated constraint is ``inf``.
    """
    torch_in = isinstance(Z, torch.Tensor)
    if torch_in and Z.dtype in _FLOATS:
        t = Z  # the fast path of the hot loops (no detach, no copy, no device sync)
    else:
        t = check_tensor(Z, name, min_rows=0, min_cols=0)
    if t.ndim == 0:
        raise ValueError(f"{name} must have at least 1 dimension (codes on the last axis), got a scalar")
    if t.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one code coordinate on its last axis")
    return t, torch_in


def _indicator(ok: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """0 where ``ok`` (reduced over the last axis) holds, +inf elsewhere."""
    zero = torch.zeros((), dtype=like.dtype, device=like.device)
    return torch.where(ok, zero, torch.full_like(zero, math.inf))


def _soft(V, tau):
    return torch.sign(V) * torch.relu(V.abs() - tau)


def _positive(value, name: str) -> float:
    return check_number(value, name, low=0, low_inclusive=False)


class Ridge(Prior):
    r"""Gaussian prior: :math:`g(z) = \sum_j z_j^2 / (2\sigma^2)`; prox = scaling :math:`\sigma^2/(\sigma^2+\tau)`.

    Lecture 004 table row "Gaussian/Ridge": activation :math:`\frac{\sigma^2}{1/L+\sigma^2}\tilde x_t` (their
    λ is folded into σ; with bias b = 1/L this is exactly our prox).
    """

    name = "ridge"
    differentiable = True
    activation_formula = "σ²/(σ²+b) · v"

    def __init__(self, sigma: float = 1.0):
        self.sigma = _positive(sigma, "sigma")

    def _params(self):
        return {"sigma": self.sigma}

    def _value(self, Z):
        return (Z * Z).sum(-1) / (2 * self.sigma**2)

    def _prox(self, V, tau):
        s2 = self.sigma**2
        return V * (s2 / (s2 + tau))


class L1(Prior):
    r"""Laplace prior / lasso: :math:`g(z) = \|z\|_1`; prox = soft threshold :math:`\mathrm{sign}(v)(|v|-\tau)_+`."""

    name = "l1"
    activation_formula = "sign(v)·ReLU(|v| − b)"

    def _value(self, Z):
        return Z.abs().sum(-1)

    def _prox(self, V, tau):
        return _soft(V, tau)


class L1NonNeg(Prior):
    r"""Non-negative ℓ1: :math:`g(z) = \sum_j z_j + \iota_{z \ge 0}`; prox = shifted ReLU :math:`(v-\tau)_+`.

    Lecture 004, "ReLU nonlinearity from sparse approximation": :math:`\hat x = \mathrm{ReLU}(y-\lambda)`; table
    row "Sparsity, x ≥ 0": :math:`\mathrm{ReLU}(\tilde x_t - \lambda/L)`.
    """

    name = "l1_nonneg"
    activation_formula = "ReLU(v − b)"

    def _value(self, Z):
        tol = _feas_tol(Z) * (1 + Z.detach().abs().amax(-1))
        return Z.sum(-1) + _indicator(Z.detach().amin(-1) >= -tol, Z)

    def _prox(self, V, tau):
        return torch.relu(V - tau)


class TwoSidedGaussian(Prior):
    r"""Two-sided Gaussian: :math:`g(z) = \sum_j z_j^2/(2\sigma_+^2)\,1\{z_j\ge0\} + z_j^2/(2\sigma_-^2)\,1\{z_j<0\}`.

    Prox :math:`\frac{\sigma_+^2}{\sigma_+^2+\tau} v\,1\{v\ge 0\} + \frac{\sigma_-^2}{\sigma_-^2+\tau} v\,1\{v<0\}`:
    with τ = 1 this is the lecture's LeakyReLU(y; σ₊, σ₋) (004, "Other nonlinearities?").
    """

    name = "two_sided_gaussian"
    differentiable = True
    activation_formula = "σ₊²/(σ₊²+b)·v·1{v≥0} + σ₋²/(σ₋²+b)·v·1{v<0}  (leaky ReLU)"

    def __init__(self, sigma_pos: float = 1.0, sigma_neg: float = 1.0):
        self.sigma_pos = _positive(sigma_pos, "sigma_pos")
        self.sigma_neg = _positive(sigma_neg, "sigma_neg")

    def _params(self):
        return {"sigma_pos": self.sigma_pos, "sigma_neg": self.sigma_neg}

    def _value(self, Z):
        w = torch.where(Z >= 0, torch.full_like(Z, 0.5 / self.sigma_pos**2),
                        torch.full_like(Z, 0.5 / self.sigma_neg**2))
        return (w * Z * Z).sum(-1)

    def _prox(self, V, tau):
        sp, sn = self.sigma_pos**2, self.sigma_neg**2
        return torch.where(V >= 0, V * (sp / (sp + tau)), V * (sn / (sn + tau)))


class GroupL1(Prior):
    r"""Group lasso ℓ2,1: :math:`g(z) = \sum_g w_g \|z_g\|_2` (optionally with :math:`z \ge 0`); prox = block shrinkage.

    :math:`\operatorname{prox}_{\tau g}(v)_g = \big(1 - \tau w_g/\|v_g\|_2\big)_+ v_g` (lecture 004 table row
    "Group sparsity"; with ``nonnegative=True`` ``v`` is first clipped at 0, which is exact because the
    group norm is monotone in each |z_j|).

    Parameters
    ----------
    groups : int, or 1-D sequence of group labels (one per coordinate), or sequence of index sequences
        An int ``s`` means consecutive blocks of size ``s`` (the code length must be a multiple of ``s``).
        Index sequences must partition ``range(n)``.
    weights : sequence of positive floats, optional
        One weight per group (default 1).
    nonnegative : bool
    """

    name = "group_l1"
    activation_formula = "v_g · ReLU(1 − b/‖v_g‖₂)  (block shrinkage)"

    def __init__(self, groups, weights=None, nonnegative: bool = False):
        if groups is None or isinstance(groups, (bool, np.bool_, str, bytes)) or not (
                isinstance(groups, numbers.Integral) or hasattr(groups, "__iter__")):
            raise TypeError(f"groups must be a block size (int) or a sequence of group labels / index lists, got "
                            f"{type(groups).__name__} {groups!r}")
        self.groups = groups
        self.weights = None if weights is None else tuple(
            float(w) for w in np.ravel(check_array(weights, "weights", ndim=(0, 1))))
        if self.weights is not None and any((not math.isfinite(w)) or w <= 0 for w in self.weights):
            raise ValueError("weights must be positive and finite")
        self.nonnegative = bool(nonnegative)
        self._labels_cache: dict = {}
        if isinstance(groups, numbers.Integral):
            if groups <= 0:
                raise ValueError(f"groups as an int is a block size and must be >= 1, got {groups}")
            self._labels = None
        else:
            self._labels = self._parse(groups)
            n_groups = int(self._labels.max()) + 1
            if self.weights is not None and len(self.weights) != n_groups:
                raise ValueError(f"weights must have one entry per group ({n_groups}), got {len(self.weights)}")

    @staticmethod
    def _parse(groups) -> np.ndarray:
        seq = list(groups)
        if not seq:
            raise ValueError("groups must not be empty")
        if all(isinstance(g, numbers.Integral) for g in seq):
            labels = np.asarray(seq, dtype=np.int64)
            if labels.min() < 0:
                raise ValueError("groups: group labels must be >= 0")
            _, labels = np.unique(labels, return_inverse=True)
            return labels.astype(np.int64)
        try:
            n = sum(len(g) for g in seq)
        except TypeError:
            raise TypeError("groups must be a sequence of integer labels or of index lists") from None
        labels = -np.ones(n, dtype=np.int64)
        for gi, idx in enumerate(seq):
            a = np.asarray(idx)
            if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
                raise TypeError(f"groups[{gi}] must hold integer indices, got {idx!r}")
            idx = a.astype(np.int64)
            if idx.size == 0:
                raise ValueError(f"groups: group {gi} is empty")
            if idx.min() < 0 or idx.max() >= n or np.any(labels[idx] >= 0) or len(set(idx.tolist())) != idx.size:
                raise ValueError("groups given as index sequences must partition range(n) (disjoint, covering)")
            labels[idx] = gi
        return labels

    def _params(self):
        return {"groups": self.groups, "weights": self.weights, "nonnegative": self.nonnegative}

    def _label_tensor(self, n: int, device) -> tuple[torch.Tensor, int]:
        key = (n, str(device))
        if key not in self._labels_cache:
            if self._labels is None:
                s = int(self.groups)
                if n % s:
                    raise ValueError(f"the codes' (V, Z) length {n} is not a multiple of the group size {s}")
                labels = np.arange(n) // s
            else:
                if self._labels.size != n:
                    raise ValueError(f"the codes (V, Z) have {n} coordinates on their last axis but groups cover "
                                     f"{self._labels.size}")
                labels = self._labels
            n_groups = int(labels.max()) + 1 if n else 0
            if self.weights is not None and len(self.weights) != n_groups:
                raise ValueError(f"weights must have one entry per group ({n_groups}), got {len(self.weights)}")
            self._labels_cache[key] = (torch.as_tensor(labels, dtype=torch.long, device=device), n_groups)
        return self._labels_cache[key]

    def _w(self, like):
        return None if self.weights is None else torch.as_tensor(self.weights, dtype=like.dtype, device=like.device)

    def _group_sq(self, V, labels, n_groups):
        z = torch.zeros(*V.shape[:-1], n_groups, dtype=V.dtype, device=V.device)
        return z.index_add(-1, labels, V * V)

    def _value(self, Z):
        labels, G = self._label_tensor(Z.shape[-1], Z.device)
        norms = torch.sqrt(self._group_sq(Z, labels, G))
        w = self._w(Z)
        val = (norms if w is None else norms * w).sum(-1)
        if self.nonnegative:
            tol = _feas_tol(Z) * (1 + Z.detach().abs().amax(-1))
            val = val + _indicator(Z.detach().amin(-1) >= -tol, Z)
        return val

    def _prox(self, V, tau):
        if not isinstance(tau, float) and tau.ndim and tau.shape[-1] != 1:
            raise ValueError("for group_l1, tau must be constant along the last axis (shape (..., 1))")
        if self.nonnegative:
            V = torch.relu(V)
        labels, G = self._label_tensor(V.shape[-1], V.device)
        sq = self._group_sq(V, labels, G)
        tiny = torch.finfo(V.dtype).tiny
        norms = torch.sqrt(sq.clamp_min(tiny))
        w = self._w(V)
        thr = tau if w is None else tau * w
        scale = torch.relu(1 - thr / norms)
        return V * scale[..., labels]


class Simplex(Prior):
    r"""Probability simplex :math:`\{z \ge 0, \textstyle\sum_j z_j = r\}` (indicator); prox = Euclidean projection.

    Sort-based projection (sparsemax): with :math:`u` sorted decreasingly, :math:`\rho = \max\{j: u_j -
    (\sum_{i\le j}u_i - r)/j > 0\}`, :math:`\theta = (\sum_{i\le\rho}u_i - r)/\rho` and prox :math:`(v-\theta)_+`
    (Held et al. 1974; Duchi et al. 2008). Lecture 004 table row "Simplex": ReLU(x̃ − b(x̃)); KSM paper 002 P2.
    The prox does not depend on τ.
    """

    name = "simplex"
    activation_formula = "ReLU(v − θ(v))  (sparsemax, θ so that the output sums to 1)"

    def __init__(self, radius: float = 1.0):
        self.radius = _positive(radius, "radius")

    def _params(self):
        return {"radius": self.radius}

    def _value(self, Z):
        Zd = Z.detach()
        tol = _feas_tol(Z) * (1 + Zd.abs().sum(-1))
        ok = (Zd.amin(-1) >= -tol) & ((Zd.sum(-1) - self.radius).abs() <= tol * max(1.0, self.radius))
        return _indicator(ok, Z) + 0 * Z.sum(-1)

    def _prox(self, V, tau):
        n = V.shape[-1]
        u, _ = torch.sort(V, dim=-1, descending=True)
        css = torch.cumsum(u, -1) - self.radius
        j = torch.arange(1, n + 1, dtype=V.dtype, device=V.device)
        cond = (u - css / j) > 0
        rho = cond.sum(-1, keepdim=True).clamp_min(1)
        theta = css.gather(-1, rho - 1) / rho.to(V.dtype)
        return torch.relu(V - theta)


class L0(Prior):
    r"""ℓ0 "norm": :math:`g(z) = \#\{j: z_j \ne 0\}`; prox = hard threshold :math:`v\,1\{|v| > \sqrt{2\tau}\}`.

    Non-convex: the prox is the exact global minimiser (ties at :math:`|v| = \sqrt{2\tau}` go to 0), but
    ISTA/FISTA with it (iterative hard thresholding) only finds a stationary point.
    """

    name = "l0"
    convex = False
    activation_formula = "v · 1{|v| > √(2b)}  (hard threshold)"

    def _value(self, Z):
        return (Z != 0).to(Z.dtype if Z.is_floating_point() else torch.float64).sum(-1)

    def _prox(self, V, tau):
        thr = math.sqrt(2 * tau) if isinstance(tau, float) else torch.sqrt(2 * tau)
        return torch.where(V.abs() > thr, V, torch.zeros_like(V))


class TopK(Prior):
    r"""At most ``k`` non-zeros (indicator of :math:`\|z\|_0 \le k`); prox = keep the ``k`` largest |v_j|.

    With ``nonnegative=True`` the constraint set is :math:`\{z\ge0, \|z\|_0\le k\}` and the prox keeps the
    ``k`` largest positive entries. Non-convex; the prox does not depend on τ.
    """

    name = "topk"
    convex = False
    activation_formula = "v · 1{v among the k largest |v|}"

    def __init__(self, k: int = 1, nonnegative: bool = False):
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        self.k = int(k)
        self.nonnegative = bool(nonnegative)

    def _params(self):
        return {"k": self.k, "nonnegative": self.nonnegative}

    def _value(self, Z):
        Zd = Z.detach()
        ok = (Zd != 0).sum(-1) <= self.k
        if self.nonnegative:
            ok = ok & (Zd.amin(-1) >= 0)
        return _indicator(ok, Z) + 0 * Z.sum(-1)

    def _prox(self, V, tau):
        W = torch.relu(V) if self.nonnegative else V
        k = min(self.k, V.shape[-1])
        idx = torch.topk(W.abs(), k, dim=-1).indices
        return torch.zeros_like(W).scatter(-1, idx, W.gather(-1, idx))


class Box(Prior):
    r"""Box constraint :math:`\text{low} \le z_j \le \text{high}` (indicator); prox = clipping."""

    name = "box"
    activation_formula = "clip(v, low, high)"

    def __init__(self, low: float = 0.0, high: float = 1.0):
        for name, v in (("low", low), ("high", high)):  # ±inf allowed: a one-sided box
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name} must be a real number, got {type(v).__name__} {v!r}")
        self.low, self.high = float(low), float(high)
        if math.isnan(self.low) or math.isnan(self.high) or not self.low < self.high:
            raise ValueError(f"box needs low < high, got low={low!r}, high={high!r}")

    def _params(self):
        return {"low": self.low, "high": self.high}

    def _value(self, Z):
        Zd = Z.detach()
        tol = _feas_tol(Z) * (1 + Zd.abs().amax(-1))
        ok = (Zd.amin(-1) >= self.low - tol) & (Zd.amax(-1) <= self.high + tol)
        return _indicator(ok, Z) + 0 * Z.sum(-1)

    def _prox(self, V, tau):
        return V.clamp(self.low, self.high)


class ElasticNet(Prior):
    r"""Elastic net: :math:`g(z) = (1-r)\|z\|_1 + \tfrac r2\|z\|_2^2` with ``r = l2_ratio`` ∈ [0, 1].

    Prox :math:`\mathrm{soft}(v, \tau(1-r)) / (1 + \tau r)`. (scikit-learn's ``ElasticNet`` uses
    ``l1_ratio`` = 1 − r and multiplies the whole penalty by ``alpha``.)
    """

    name = "elastic_net"
    activation_formula = "sign(v)·ReLU(|v| − (1−r)b) / (1 + r b)"

    def __init__(self, l2_ratio: float = 0.5):
        r = check_number(l2_ratio, "l2_ratio", low=0.0, high=1.0)
        self.l2_ratio = r
        self.differentiable = r == 1.0

    def _params(self):
        return {"l2_ratio": self.l2_ratio}

    def _value(self, Z):
        r = self.l2_ratio
        return (1 - r) * Z.abs().sum(-1) + 0.5 * r * (Z * Z).sum(-1)

    def _prox(self, V, tau):
        r = self.l2_ratio
        return _soft(V, tau * (1 - r)) / (1 + tau * r)


PRIORS: dict[str, type[Prior]] = {cls.name: cls for cls in
                                  (Ridge, L1, L1NonNeg, TwoSidedGaussian, GroupL1, Simplex, L0, TopK, Box, ElasticNet)}
_ALIASES = {"lasso": "l1", "laplace": "l1", "l1_pos": "l1_nonneg", "nonneg_l1": "l1_nonneg", "relu": "l1_nonneg",
            "gaussian": "ridge", "l2": "ridge", "group_lasso": "group_l1", "l21": "group_l1",
            "sparsemax": "simplex", "hard": "l0", "top_k": "topk", "leaky_relu": "two_sided_gaussian",
            "elasticnet": "elastic_net"}


def get_prior(prior="l1", **params) -> Prior:
    """A :class:`Prior` from a name (with its parameters as keywords) or an instance (returned as is).

    Names: ``"ridge"``, ``"l1"``, ``"l1_nonneg"``, ``"two_sided_gaussian"``, ``"group_l1"``, ``"simplex"``,
    ``"l0"``, ``"topk"``, ``"box"``, ``"elastic_net"`` (case-insensitive; ``-`` and ``_`` are the same).

    >>> get_prior("two_sided_gaussian", sigma_pos=1, sigma_neg=3)
    TwoSidedGaussian(sigma_pos=1.0, sigma_neg=3.0)
    """
    if isinstance(prior, Prior):
        if params:
            raise ValueError("parameters can only be given with a prior name, not with a Prior instance")
        return prior
    if not isinstance(prior, str):
        raise ValueError(f"prior must be a name or a Prior instance, got {type(prior).__name__}")
    key = prior.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; valid names: {', '.join(PRIORS)}")
    try:
        return PRIORS[key](**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for prior {key!r}: {exc}") from None
