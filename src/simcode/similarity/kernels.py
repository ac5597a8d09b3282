"""Representation kernels (Gram matrices), centring and representational dissimilarity matrices.

Orientation: rows of ``X`` are stimuli (conditions), columns are neurons/features. The lecture
"Representation geometry in task-optimized network models" (paper 003) writes the response matrix
R as neurons × conditions and defines the representation kernel K = RᵀR; with our X = Rᵀ that is
``gram(X) = X @ X.T`` (n_stimuli × n_stimuli).
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.arrays import check_bool, check_number, check_option
from ..core.representation import Representation
from ._inputs import KERNELS, as_tensor, center_tensor, kind_of, output

__all__ = ["gram", "center", "rdm", "median_sigma"]

_METRICS = ("euclidean", "sqeuclidean", "correlation", "crossnobis")


def cancellation_tol(dtype) -> float:
    """Relative size below which d² = ‖x_i‖² + ‖x_j‖² − 2x_i·x_j is recomputed as Σ(x_i − x_j)².

    The Gram formula's absolute error is ~ε(‖x_i‖² + ‖x_j‖²); entries smaller than ``tol``·(‖x_i‖² + ‖x_j‖²)
    would keep a relative error above ~ε/tol (all of it, for near-duplicate rows), so they are recomputed
    directly. 1e-4 (float64) keeps every entry to ~1e-12 relative; 1e-2 (float32) to ~1e-5.
    """
    return 1e-4 if dtype == torch.float64 else 1e-2


def _sqdist(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances between the rows of ``x`` (and ``y``): the Gram formula, with the entries it
    cannot resolve (near-duplicate rows, see :func:`cancellation_tol`) recomputed directly."""
    same = y is None
    x0, y0 = x, (x if same else y)               # the direct recomputation reads the data as given
    if same:
        x = x - x.mean(0, keepdim=True)          # distances are translation invariant; centring shrinks ‖x‖²
    y = x if same else y
    xx = (x * x).sum(1)
    yy = xx if same else (y * y).sum(1)
    s = xx[:, None] + yy[None, :]
    d = torch.addmm(s, x, y.T, beta=1.0, alpha=-2.0)
    s.mul_(cancellation_tol(x.dtype))
    small = d < s
    del s
    if same:
        small.fill_diagonal_(False)
    r, c = torch.nonzero(small, as_tuple=True)
    step = max(1, (1 << 22) // max(1, x.shape[1]))
    for a in range(0, r.numel(), step):
        ra, ca = r[a:a + step], c[a:a + step]
        diff = x0[ra] - y0[ca]
        d[ra, ca] = (diff * diff).sum(1)
    d.clamp_min_(0.0)
    if same:
        d.fill_diagonal_(0.0)
    return d


def _median(v: torch.Tensor) -> torch.Tensor:
    """Median with NumPy's convention (mean of the two middle values for an even count)."""
    m = v.numel()
    if m % 2:
        return v.kthvalue((m + 1) // 2).values
    return 0.5 * (v.kthvalue(m // 2).values + v.kthvalue(m // 2 + 1).values)


def _median_offdiag(d: torch.Tensor) -> torch.Tensor:
    n = d.shape[0]
    return _median(d[~torch.eye(n, dtype=torch.bool, device=d.device)])


def median_sigma(X, threshold: float = 1.0):
    """Median-heuristic RBF bandwidth σ = threshold · sqrt(median of the off-diagonal squared distances).

    This is the convention of Kornblith et al. (2019, "Similarity of neural network representations
    revisited", §4/Appendix) except that the diagonal zeros are excluded from the median.

    Parameters
    ----------
    X : array-like, torch.Tensor or Representation of shape (n_stimuli, n_features)
    threshold : float > 0
        Multiplier of the median distance.

    Returns
    -------
    float (NumPy input) or 0-d tensor (torch input)
    """
    kind = kind_of(X)
    threshold = check_number(threshold, "threshold", low=0.0, low_inclusive=False)
    x = as_tensor(X, "X", min_rows=2, keep_float32=False, what="stimuli × features")
    med = _median_offdiag(_sqdist(x))
    if float(med) <= 0:
        raise ValueError("X: the median pairwise distance is zero (too many identical rows); "
                         "pass sigma explicitly")
    return output(threshold * med.sqrt(), kind)


def gram(X, kernel: str = "linear", *, sigma: float | None = None, threshold: float = 1.0):
    """Representation kernel K (n_stimuli × n_stimuli) of ``X`` (n_stimuli × n_features).

    * ``"linear"``: K = X Xᵀ (paper 003: K = RᵀR with R = Xᵀ). For a :class:`simcode.Representation` this is
      its (cached) ``Q``, returned as a copy.
    * ``"rbf"``: K_ij = exp(-‖x_i - x_j‖² / (2σ²)); σ from :func:`median_sigma` (times ``threshold``) when
      ``sigma`` is not given.
    * ``"cosine"``: K_ij = x_i·x_j / (‖x_i‖‖x_j‖) (rows must be non-zero).

    Parameters
    ----------
    X : array-like, torch.Tensor or Representation of shape (n_stimuli, n_features)
    kernel : {"linear", "rbf", "cosine"}
    sigma : float > 0, optional
        RBF bandwidth.
    threshold : float > 0
        Multiplier of the median heuristic (RBF without ``sigma``).

    Returns
    -------
    K : ndarray or tensor (n_stimuli, n_stimuli)
        NumPy in → NumPy out; torch in → torch out on the same device; float32 stays float32.
    """
    kind = kind_of(X)
    check_option(kernel, "kernel", KERNELS)
    sigma = check_number(sigma, "sigma", low=0.0, low_inclusive=False, allow_none=True)
    threshold = check_number(threshold, "threshold", low=0.0, low_inclusive=False)
    if kernel == "linear" and isinstance(X, Representation):
        K = as_tensor(X.Q, "X.Q", what="stimuli × stimuli")
        return output(K.clone(), kind) if kind.torch else output(K, kind).copy()
    x = as_tensor(X, "X", what="stimuli × features")
    if kernel == "linear":
        K = x @ x.T
    elif kernel == "rbf":
        d = _sqdist(x)
        if sigma is None:
            if d.shape[0] < 2:
                raise ValueError("X: the median heuristic needs at least 2 stimuli; pass sigma")
            med = _median_offdiag(d)
            if float(med) <= 0:
                raise ValueError("X: the median pairwise distance is zero; pass sigma explicitly")
            s2 = threshold ** 2 * med
        else:
            s2 = torch.as_tensor(sigma ** 2, dtype=x.dtype, device=x.device)
        K = torch.exp(-d / (2.0 * s2))
    else:
        nrm = torch.linalg.norm(x, dim=1)
        if bool((nrm == 0).any()):
            raise ValueError("X has an all-zero row; the cosine kernel is undefined for it")
        xn = x / nrm[:, None]
        K = xn @ xn.T
    return output(K, kind)


def center(K, unbiased: bool = False):
    """Centre a kernel matrix K (n × n; NumPy in → NumPy out, torch in → torch out, float32 kept).

    * ``unbiased=False``: double centring H K H with H = I - 11ᵀ/n (Gretton et al. 2005, biased HSIC).
    * ``unbiased=True``: U-centring (Székely & Rizzo 2014, "Partial distance correlation", Def. 1):
      Ũ_ij = K_ij - (1/(n-2))Σ_l K_il - (1/(n-2))Σ_k K_kj + (1/((n-1)(n-2)))Σ_kl K_kl for i ≠ j, 0 on the
      diagonal, computed with the diagonal of K set to zero. ⟨Ũ(K), Ũ(L)⟩/(n(n-3)) is the unbiased HSIC
      estimator of Song et al. (2012). Needs n ≥ 4.
    """
    kind = kind_of(K)
    unbiased = check_bool(unbiased, "unbiased")
    k = as_tensor(K, "K", what="stimuli × stimuli")
    if k.shape[0] != k.shape[1]:
        raise ValueError(f"K must be square, got shape {tuple(k.shape)}")
    return output(center_tensor(k, unbiased), kind)


def _crossnobis(x, conditions, partitions, noise):
    cond = np.asarray(conditions)
    part = np.asarray(partitions)
    n = x.shape[0]
    if cond.shape != (n,) or part.shape != (n,):
        raise ValueError(f"conditions and partitions must be 1-D with one entry per row of X ({n}), got "
                         f"{cond.shape} and {part.shape}")
    cu = np.unique(cond)
    pu = np.unique(part)
    if len(pu) < 2:
        raise ValueError("crossnobis needs at least 2 distinct partitions (independent runs)")
    if len(cu) < 2:
        raise ValueError("crossnobis needs at least 2 distinct conditions")
    p = x.shape[1]
    if noise is not None:
        prec = as_tensor(noise, "noise").to(x.device, x.dtype)
        if prec.shape != (p, p):
            raise ValueError(f"noise must be a ({p}, {p}) noise covariance, got {tuple(prec.shape)}")
        evals, evecs = torch.linalg.eigh((prec + prec.T) / 2)
        if float(evals.min()) <= 0:
            raise ValueError("noise covariance must be positive definite")
        x = x @ (evecs * evals.rsqrt()) @ evecs.T  # whiten: x Σ^{-1/2}
    ci = torch.as_tensor(np.searchsorted(cu, cond), device=x.device)
    means = []
    for pv in pu:
        m = torch.as_tensor(part == pv, device=x.device)
        cnt = torch.zeros(len(cu), dtype=x.dtype, device=x.device).index_add_(
            0, ci[m], torch.ones(int(m.sum()), dtype=x.dtype, device=x.device))
        if bool((cnt == 0).any()):
            raise ValueError(f"partition {pv!r} lacks some conditions; crossnobis needs every condition "
                             "in every partition")
        s = torch.zeros(len(cu), p, dtype=x.dtype, device=x.device).index_add_(0, ci[m], x[m])
        means.append(s / cnt[:, None])
    M = torch.stack(means)                      # (K, C, p)
    tot = M.sum(0)
    S = tot @ tot.T - torch.einsum("kcp,kdp->cd", M, M)   # Σ_{k≠l} M_k M_lᵀ
    d = torch.diagonal(S)
    D = d[:, None] + d[None, :] - S - S.T
    D = D / (len(pu) * (len(pu) - 1) * p)
    D.fill_diagonal_(0.0)
    return D


def _resolve_dtype(dtype):
    if dtype is None:
        return None
    table = {"float32": torch.float32, "float64": torch.float64, torch.float32: torch.float32,
             torch.float64: torch.float64}
    key = dtype if isinstance(dtype, (str, torch.dtype)) else getattr(dtype, "name", getattr(dtype, "__name__", dtype))
    if key not in table:
        raise ValueError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}")
    return table[key]


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows centred across features and scaled to unit norm (the correlation distance's normalisation)."""
    x = x - x.mean(1, keepdim=True)
    peak = x.abs().amax(1, keepdim=True)
    if bool((peak == 0).any()):
        raise ValueError("X has a row with zero variance across features; the correlation RDM is undefined")
    x = x / peak                                 # no under/overflow in the norm, whatever the scale
    return x / torch.linalg.norm(x, dim=1, keepdim=True)


def _correlation_distance(u: torch.Tensor) -> torch.Tensor:
    """1 − u_i·u_j for unit rows, with near-duplicate rows recomputed as ‖u_i − u_j‖²/2 (no cancellation)."""
    D = 1.0 - u @ u.T
    small = D < cancellation_tol(u.dtype)
    small.fill_diagonal_(False)
    r, c = torch.nonzero(small, as_tuple=True)
    step = max(1, (1 << 22) // max(1, u.shape[1]))
    for a in range(0, r.numel(), step):
        ra, ca = r[a:a + step], c[a:a + step]
        diff = u[ra] - u[ca]
        D[ra, ca] = 0.5 * (diff * diff).sum(1)
    D.fill_diagonal_(0.0)
    return D


def rdm(X, metric: str = "euclidean", *, conditions=None, partitions=None, noise=None, condensed: bool = False,
        dtype=None):
    """Representational dissimilarity matrix (n × n, zero diagonal) between the rows of ``X``.

    * ``"euclidean"``: ‖x_i - x_j‖; ``"sqeuclidean"``: ‖x_i - x_j‖².
    * ``"correlation"``: 1 - Pearson correlation of rows i and j (across features), as in rsatoolbox.
    * ``"crossnobis"``: cross-validated Mahalanobis distance (Walther et al. 2016, NeuroImage 137, eq. 6;
      rsatoolbox convention, divided by the number of channels p):
      d_ij = 1/(K(K-1)p) Σ_{k≠l} (m_i^k - m_j^k) Σ⁻¹ (m_i^l - m_j^l)ᵀ, where m_i^k is the mean of condition i
      in partition k. Here ``X`` holds single measurements (rows), ``conditions``/``partitions`` label
      them, ``noise`` is the noise covariance Σ (identity when None). The rows of the result follow the
      sorted unique ``conditions``. Computed from K(K-1) Gram products through
      Σ_{k≠l} M_k M_lᵀ = (Σ_k M_k)(Σ_l M_l)ᵀ - Σ_k M_k M_kᵀ (cost O(K C² p)).

    Parameters
    ----------
    X : array-like, torch.Tensor or Representation of shape (n_stimuli, n_features)
    metric : {"euclidean", "sqeuclidean", "correlation", "crossnobis"}
    conditions, partitions : array-like of shape (n_stimuli,), optional
        Labels of the rows (``"crossnobis"`` only).
    noise : array-like of shape (n_features, n_features), optional
        Noise covariance Σ (``"crossnobis"`` only).
    condensed : bool
        Return the strict upper triangle as a vector of n(n-1)/2 entries in scipy's ``pdist`` order
        (rsatoolbox's own storage; half the memory).
    dtype : {None, "float32", "float64"}
        ``None``: float32 input stays float32, everything else float64. ``"float32"`` computes in single
        precision (half the time and memory; entries carry ~1e-5 relative error at worst).

    Returns
    -------
    D : ndarray or tensor (n, n), or (n(n-1)/2,) when ``condensed``
        NumPy in → NumPy out; torch in → torch out on the same device.

    Notes
    -----
    On the CPU the Euclidean and correlation RDMs are built from the upper-triangular blocks of X Xᵀ (BLAS,
    ~n²p/2 multiply-adds) of the column-centred X and one compiled pass that writes
    d_ij = ‖x_i‖² + ‖x_j‖² − 2 x_i·x_j into both triangles; CUDA tensors use the same formula in torch. Where
    that formula cancels (d_ij² below 1e-4·(‖x_i‖² + ‖x_j‖²) in float64, 1e-2 in float32: near-duplicate rows)
    the entry is recomputed directly as Σ_k (x_ik − x_jk)², so rows 1e-9 apart get their true distance, not 0.
    """
    kind = kind_of(X)
    check_option(metric, "metric", _METRICS)
    condensed = check_bool(condensed, "condensed")
    x = as_tensor(X, "X", min_rows=2, what="stimuli × features")
    want = _resolve_dtype(dtype)
    if want is not None:
        x = x.to(want)
    modes = {"sqeuclidean": 0, "euclidean": 1, "correlation": 2}
    if metric == "correlation":
        x = _unit_rows(x)
    if metric in modes and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        from ._rdm_kernel import rdm_cpu

        D = rdm_cpu(np.ascontiguousarray(x.numpy()), modes[metric], condensed, cancellation_tol(x.dtype))
        return output(torch.from_numpy(D), kind)
    if metric in ("euclidean", "sqeuclidean"):
        D = _sqdist(x)
        if metric == "euclidean":
            D.sqrt_()
    elif metric == "correlation":
        D = _correlation_distance(x)
    else:
        if conditions is None or partitions is None:
            raise ValueError("metric='crossnobis' needs conditions= and partitions= (one label per row of X)")
        D = _crossnobis(x, conditions, partitions, noise)
    if condensed:
        iu = torch.triu_indices(D.shape[0], D.shape[0], 1, device=D.device)
        D = D[iu[0], iu[1]]
    return output(D, kind)
