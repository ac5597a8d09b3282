"""Comparing two representations of the same stimuli: CKA, shape (Procrustes) metrics, Bures, CCA, dimensionality.

Orientation: ``X`` is n_stimuli × p neurons, ``Y`` is n_stimuli × q neurons (paper 003's R is our Xᵀ, its
representation kernel K = RᵀR is our X Xᵀ). Every argument that holds responses also accepts a
:class:`simcode.Representation` (its ``Z``). NumPy in → NumPy/float out (computed in float64); torch in → torch
out (same device, same float dtype).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ..core.arrays import check_bool, check_int, check_number, check_option
from ._inputs import KERNELS, as_tensor, center_columns, center_tensor, check_variance, kind_of, output, paired
from .kernels import gram

__all__ = ["cka", "CKAAccumulator", "procrustes", "bures", "cca", "canonical_correlations",
           "participation_ratio"]


# ----------------------------------------------------------------------------------------------- CKA
class CKAAccumulator:
    """Exact linear CKA (biased or debiased) of two streams of paired rows, in bounded memory.

    Feeds batches ``update(X_b, Y_b)`` and keeps only O(p² + q² + pq) sufficient statistics (cross
    products, column sums, row-norm moments), all shifted by the first batch's column means for numerical
    stability (every statistic here is invariant to a constant shift of the rows). ``result()`` returns
    exactly the number :func:`cka` gives on the concatenated data — it is not the averaged-minibatch
    estimator of Nguyen et al. (2021), which is a different quantity.

    The biased form is Kornblith et al. (2019) eq. for linear CKA, ‖X̄ᵀȲ‖²_F / (‖X̄ᵀX̄‖_F‖ȲᵀȲ‖_F) with
    column-centred X̄, Ȳ. The debiased form uses the unbiased HSIC estimator of Song et al. (2012, eq. 5),
    HSIC_u = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n-1)(n-2)) - 2/(n-2)·1ᵀK̃L̃1] / (n(n-3)), K̃ = K with zero diagonal,
    which for linear kernels of centred data reduces to the feature-space expression
    [‖X̄ᵀȲ‖² - Σ_i k_i l_i + (Σk)(Σl)/((n-1)(n-2)) - 2Σ_i k_i l_i/(n-2)]/(n(n-3)), k_i = ‖x̄_i‖², l_i = ‖ȳ_i‖².
    """

    def __init__(self):
        self.n = 0
        self._shift = None
        self._kind = None

    def update(self, X, Y) -> "CKAAccumulator":
        """Add a batch of paired rows (arrays, tensors or Representations of the same stimuli)."""
        x, y = paired(X, Y, min_rows=1)
        if self._kind is None:
            self._kind = kind_of(X, Y)
        return self._update(x, y)

    def _update(self, x: torch.Tensor, y: torch.Tensor) -> "CKAAccumulator":
        """``update`` on tensors already validated (``cka`` calls it directly: no second validation pass)."""
        if self._kind is None:
            self._kind = kind_of(x, y)
        if self._shift is None:
            self._shift = (x.mean(0), y.mean(0))
            p, q = x.shape[1], y.shape[1]
            z = lambda *s: torch.zeros(*s, dtype=x.dtype, device=x.device)  # noqa: E731
            self.sx, self.sy = z(p), z(q)
            self.Sxx, self.Syy, self.Sxy = z(p, p), z(q, q), z(p, q)
            self.a, self.b, self.aa, self.bb, self.ab = z(()), z(()), z(()), z(()), z(())
            self.ax, self.bx, self.ay, self.by = z(p), z(p), z(q), z(q)
        elif x.shape[1] != self.sx.shape[0] or y.shape[1] != self.sy.shape[0]:
            raise ValueError("all batches must have the same number of features as the first one")
        x = x.to(self.sx.device, self.sx.dtype) - self._shift[0]
        y = y.to(self.sy.device, self.sy.dtype) - self._shift[1]
        a = (x * x).sum(1)
        b = (y * y).sum(1)
        self.n += x.shape[0]
        self.sx += x.sum(0)
        self.sy += y.sum(0)
        self.Sxx += x.T @ x
        self.Syy += y.T @ y
        self.Sxy += x.T @ y
        self.a += a.sum()
        self.b += b.sum()
        self.aa += (a * a).sum()
        self.bb += (b * b).sum()
        self.ab += (a * b).sum()
        self.ax += a @ x
        self.bx += b @ x
        self.ay += a @ y
        self.by += b @ y
        return self

    # Σ_i k_i l_i for centred rows, expanded in uncentred moments (k_i = ‖x_i-μ‖², l_i = ‖y_i-ν‖²)
    def _cross(self, a_b, a, ax_nu, by_mu, mu, nu, Sxy, sx, sy, b):
        n = self.n
        mx, my = mu @ mu, nu @ nu
        return (a_b - 2 * ax_nu + my * a - 2 * by_mu + 4 * (mu @ Sxy @ nu) - 2 * my * (mu @ sx)
                + mx * b - 2 * mx * (nu @ sy) + n * mx * my)

    def result(self, debiased: bool = False):
        """CKA of everything seen so far: a float when the batches were NumPy, a 0-d tensor when torch."""
        debiased = check_bool(debiased, "debiased")
        n = self.n
        if n == 0:
            raise ValueError("no data: call update() first")
        mu, nu = self.sx / n, self.sy / n
        Cxx = self.Sxx - n * torch.outer(mu, mu)
        Cyy = self.Syy - n * torch.outer(nu, nu)
        Cxy = self.Sxy - n * torch.outer(mu, nu)
        if float(torch.trace(Cxx)) <= 0 or float(torch.trace(Cyy)) <= 0:
            raise ValueError("a representation has zero variance across stimuli; CKA is undefined")
        if not debiased:
            return output((Cxy * Cxy).sum() / (torch.linalg.norm(Cxx) * torch.linalg.norm(Cyy)), self._kind)
        if n < 4:
            raise ValueError(f"debiased CKA needs at least 4 stimuli, got {n}")
        kx = torch.trace(Cxx)
        ly = torch.trace(Cyy)
        kl = self._cross(self.ab, self.a, self.ay @ nu, self.bx @ mu, mu, nu, self.Sxy, self.sx, self.sy, self.b)
        kk = self._cross(self.aa, self.a, self.ax @ mu, self.ax @ mu, mu, mu, self.Sxx, self.sx, self.sx, self.a)
        ll = self._cross(self.bb, self.b, self.by @ nu, self.by @ nu, nu, nu, self.Syy, self.sy, self.sy, self.b)

        def h(F2, s1, s2, cross):
            return F2 - cross + s1 * s2 / ((n - 1) * (n - 2)) - 2 * cross / (n - 2)

        hxy = h((Cxy * Cxy).sum(), kx, ly, kl)
        hxx = h((Cxx * Cxx).sum(), kx, kx, kk)
        hyy = h((Cyy * Cyy).sum(), ly, ly, ll)
        if float(hxx) <= 0 or float(hyy) <= 0:
            raise ValueError("debiased HSIC of a representation with itself is not positive; CKA is undefined")
        return output(hxy / torch.sqrt(hxx * hyy), self._kind)


def _hsic_gram(Kc: torch.Tensor, Lc: torch.Tensor) -> torch.Tensor:
    return (Kc * Lc).sum()


def cka(X, Y, kernel: str = "linear", debiased: bool = False, *, sigma: float | None = None,
        threshold: float = 1.0, solver: str = "auto"):
    """Centred kernel alignment between representations ``X`` (n × p) and ``Y`` (n × q) of the same stimuli.

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) (Kornblith et al. 2019, ICML, eq. 3; the
    "kernel alignment" of paper 003 between representation kernels K = XXᵀ and L = YYᵀ).

    Variants (they are different numbers; name the one you report):

    * ``debiased=False`` — biased HSIC, tr(HKH·HLH) (Gretton et al. 2005): Kornblith's CKA.
    * ``debiased=True`` — unbiased HSIC of Song et al. (2012, eq. 5) ≡ ⟨U(K), U(L)⟩/(n(n-3)) with the
      U-centring of Székely & Rizzo (2014); Kornblith's code calls this ``debiased`` CKA. Both routes here
      give the same number. It is *not* the minibatch-averaged CKA of Nguyen et al. (2021). Needs n ≥ 4;
      it can be slightly negative.
    * ``kernel="linear"`` is computed in feature space (‖X̄ᵀȲ‖²_F/(‖X̄ᵀX̄‖_F‖ȲᵀȲ‖_F), cost O(n(p+q)²))
      when that is cheaper than Gram space (cost O(n²(p+q))); ``solver="feature"|"gram"`` forces one route
      (the same number either way). For streams of rows use :class:`CKAAccumulator` (exact, bounded memory).
    * ``kernel="rbf"``: K_ij = exp(-‖x_i-x_j‖²/(2σ²)) with σ = ``threshold``·sqrt(median squared distance)
      unless ``sigma`` is given (the same σ rule is applied to X and Y separately); ``kernel="cosine"``.

    Parameters
    ----------
    X, Y : array-like, torch.Tensor or Representation, (n_stimuli, p) and (n_stimuli, q)
    kernel : {"linear", "rbf", "cosine"}
    debiased : bool
    sigma : float > 0, optional
        RBF bandwidth (both representations).
    threshold : float > 0
        Multiplier of the median heuristic.
    solver : {"auto", "feature", "gram"}
        Linear kernel only: feature-space or Gram-space computation.

    Returns
    -------
    float (NumPy input) or 0-d tensor (torch input)
    """
    kind = kind_of(X, Y)
    check_option(kernel, "kernel", KERNELS)
    check_option(solver, "solver", ("auto", "feature", "gram"))
    debiased = check_bool(debiased, "debiased")
    sigma = check_number(sigma, "sigma", low=0.0, low_inclusive=False, allow_none=True)
    threshold = check_number(threshold, "threshold", low=0.0, low_inclusive=False)
    x, y = paired(X, Y, min_rows=4 if debiased else 2)
    check_variance(x, "X")
    check_variance(y, "Y")
    n, p, q = x.shape[0], x.shape[1], y.shape[1]
    if solver == "feature" and kernel != "linear":
        raise ValueError("solver='feature' is only available for kernel='linear'")
    use_feature = kernel == "linear" and (solver == "feature" or
                                          (solver == "auto" and p * p + q * q + p * q <= n * (p + q)))
    if use_feature:
        return output(CKAAccumulator()._update(x, y).result(debiased), kind)
    if kernel == "linear":
        xc, yc = center_columns(x), center_columns(y)
        K, L = xc @ xc.T, yc @ yc.T
    else:
        K = gram(x, kernel, sigma=sigma, threshold=threshold)
        L = gram(y, kernel, sigma=sigma, threshold=threshold)
    Kc, Lc = center_tensor(K, debiased), center_tensor(L, debiased)
    hxx, hyy = _hsic_gram(Kc, Kc), _hsic_gram(Lc, Lc)
    if float(hxx) <= 0 or float(hyy) <= 0:
        raise ValueError("HSIC of a representation with itself is not positive (constant kernel); CKA is undefined")
    return output(_hsic_gram(Kc, Lc) / torch.sqrt(hxx * hyy), kind)


# ----------------------------------------------------------------------------------------- shape metrics
def _partial_whiten(x: torch.Tensor, alpha: float, tol: float = 1e-10) -> torch.Tensor:
    """x(αI + (1-α)C^{-1/2}) with C = x̄ᵀx̄/n (Williams et al. 2021, NeurIPS, "Generalized shape metrics", eq. 4)."""
    if alpha >= 1.0:
        return x
    n = x.shape[0]
    lam, V = torch.linalg.eigh(x.T @ x / n)
    lam = lam.clamp_min(tol * float(lam.max()))
    d = alpha + (1.0 - alpha) * lam.rsqrt()
    return x @ (V * d) @ V.T


def _nuclear_cross(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """‖xᵀy‖_* (sum of singular values), in feature space or through the Grams (Bures fidelity)."""
    n, p, q = x.shape[0], x.shape[1], y.shape[1]
    if p * q <= n * n:
        return torch.linalg.svdvals(x.T @ y).sum()
    return _fidelity(x @ x.T, y @ y.T)


def _psd_factor(K: torch.Tensor) -> torch.Tensor:
    """R (n × r) with R Rᵀ = K, dropping eigenvalues below n·eps·λ_max (numerical noise of a PSD Gram)."""
    lam, V = torch.linalg.eigh((K + K.T) / 2)
    tol = K.shape[0] * torch.finfo(K.dtype).eps * float(lam.abs().max()) * 10
    keep = lam > tol
    return V[:, keep] * lam[keep].sqrt()


def _fidelity(K: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """tr((K^{1/2} L K^{1/2})^{1/2}) = ‖R_Kᵀ R_L‖_* for factors K = R_K R_Kᵀ, L = R_L R_Lᵀ (accurate: no
    square root of the spectrum of a product)."""
    Rk, Rl = _psd_factor(K), _psd_factor(L)
    if Rk.shape[1] == 0 or Rl.shape[1] == 0:
        return K.new_zeros(())
    return torch.linalg.svdvals(Rk.T @ Rl).sum()


def procrustes(X, Y, alpha: float = 1.0, score: str = "angular"):
    """Generalized shape metric between ``X`` (n × p) and ``Y`` (n × q) (Williams et al. 2021, NeurIPS).

    Both are column-centred and partially whitened, φ_α(X) = X̄(αI + (1-α)C_X^{-1/2}), C_X = X̄ᵀX̄/n
    (Williams et al. 2021, eq. 4; α = 1: Procrustes shape distance; α = 0: whitened, CCA-like). The optimal
    orthogonal alignment has the nuclear-norm closed form max_Q tr(QᵀX̃ᵀỸ) = ‖X̃ᵀỸ‖_* (Schönemann 1966),
    padding the narrower one with zeros.

    * ``score="angular"`` (a metric): θ = arccos(‖X̃ᵀỸ‖_* / (‖X̃‖_F‖Ỹ‖_F)) ∈ [0, π/2]. For α = 1,
      cos θ equals the normalized Bures similarity of the Grams, ``bures(X̄X̄ᵀ, ȲȲᵀ)``.
    * ``score="euclidean"``: min_Q ‖X̃ - ỸQ‖_F = sqrt(‖X̃‖² + ‖Ỹ‖² - 2‖X̃ᵀỸ‖_*) (not divided by √n).

    Parameters
    ----------
    X, Y : array-like, torch.Tensor or Representation, (n_stimuli, p) and (n_stimuli, q)
    alpha : float in [0, 1]
        The shape-metric regularisation parameter α of Williams et al. (2021) — the ``alpha`` of netrep's
        ``LinearMetric`` — interpolating between whitening (0) and no whitening (1). It is not a penalty
        weight (the vocabulary's ``lam``); the name is kept to match netrep and the paper.
    score : {"angular", "euclidean"}

    Returns
    -------
    float (NumPy input) or 0-d tensor (torch input)
    """
    kind = kind_of(X, Y)
    alpha = check_number(alpha, "alpha", low=0.0, high=1.0)
    check_option(score, "score", ("angular", "euclidean"))
    x, y = paired(X, Y)
    check_variance(x, "X")
    check_variance(y, "Y")
    xt = _partial_whiten(center_columns(x), alpha)
    yt = _partial_whiten(center_columns(y), alpha)
    nuc = _nuclear_cross(xt, yt)
    nx, ny = torch.linalg.norm(xt), torch.linalg.norm(yt)
    if score == "angular":
        val = torch.arccos((nuc / (nx * ny)).clamp(-1.0, 1.0))
    else:
        val = (nx * nx + ny * ny - 2 * nuc).clamp_min(0).sqrt()
    return output(val, kind)


def bures(K, L, normalized: bool = True):
    """Bures fidelity F(K, L) = tr((K^{1/2} L K^{1/2})^{1/2}) of two PSD kernels (n × n).

    With ``normalized=True`` returns the normalized Bures similarity NBS = F / sqrt(tr K · tr L) ∈ [0, 1]
    (Tang et al. 2020, "Similarity of neural networks with gradients", eq. 8; Harvey et al. 2023). For
    K = X̄X̄ᵀ, L = ȲȲᵀ, F = ‖X̄ᵀȲ‖_*, so NBS = cos of the Procrustes angle (:func:`procrustes`, α = 1).
    """
    kind = kind_of(K, L)
    normalized = check_bool(normalized, "normalized")
    k, l_ = paired(K, L, "K", "L", min_rows=1)
    for m, nm in ((k, "K"), (l_, "L")):
        if m.shape[0] != m.shape[1]:
            raise ValueError(f"{nm} must be a square kernel matrix, got shape {tuple(m.shape)}")
        if float((m - m.T).abs().max()) > 1e-8 * max(1.0, float(m.abs().max())):
            raise ValueError(f"{nm} must be symmetric")
    F = _fidelity(k, l_)
    if not normalized:
        return output(F, kind)
    tk, tl = torch.trace(k), torch.trace(l_)
    if float(tk) <= 0 or float(tl) <= 0:
        raise ValueError("K and L must have positive trace for the normalized Bures similarity")
    return output((F / torch.sqrt(tk * tl)).clamp(0.0, 1.0), kind)


# ------------------------------------------------------------------------------------------------- CCA
def _basis(x: torch.Tensor, svd_dims) -> torch.Tensor:
    U, s, _ = torch.linalg.svd(x, full_matrices=False)
    keep = s > s[0] * max(x.shape) * torch.finfo(x.dtype).eps
    r = int(keep.sum())
    if isinstance(svd_dims, float):
        var = torch.cumsum(s ** 2, 0) / (s ** 2).sum()
        r = min(r, int((var < svd_dims - 1e-12).sum()) + 1)
    elif svd_dims is not None:
        r = min(r, svd_dims)
    return U[:, :r]


def _check_svd_dims(svd_dims):
    """None, an int >= 1 (number of directions) or a float in (0, 1] (fraction of variance)."""
    if svd_dims is None:
        return None
    if isinstance(svd_dims, numbers.Integral) and not isinstance(svd_dims, (bool, np.bool_)):
        return check_int(svd_dims, "svd_dims", low=1)
    if isinstance(svd_dims, numbers.Real) and not isinstance(svd_dims, (bool, np.bool_)):
        return check_number(svd_dims, "svd_dims", low=0.0, low_inclusive=False, high=1.0)
    raise TypeError(f"svd_dims must be None, an int >= 1 or a float in (0, 1], got "
                    f"{type(svd_dims).__name__} {svd_dims!r}")


def canonical_correlations(X, Y, svd_dims=None):
    """Canonical correlations ρ_1 ≥ … ≥ ρ_k (k = min of the two ranks) of column-centred ``X`` and ``Y``.

    ρ = singular values of Q_XᵀQ_Y with Q orthonormal bases of the centred column spaces (Björck & Golub
    1973). ``svd_dims`` first keeps, per representation, the leading principal subspace — an int number of
    directions or a float fraction of variance — which is SVCCA (Raghu et al. 2017, NeurIPS).

    Parameters
    ----------
    X, Y : array-like, torch.Tensor or Representation, (n_stimuli, p) and (n_stimuli, q)
    svd_dims : None, int >= 1 or float in (0, 1]

    Returns
    -------
    rho : ndarray (float64 for NumPy input) or tensor, shape (k,)
    """
    kind = kind_of(X, Y)
    svd_dims = _check_svd_dims(svd_dims)
    x, y = paired(X, Y)
    check_variance(x, "X")
    check_variance(y, "Y")
    Qx = _basis(center_columns(x), svd_dims)
    Qy = _basis(center_columns(y), svd_dims)
    rho = torch.linalg.svdvals(Qx.T @ Qy).clamp(0.0, 1.0)
    return output(rho, kind)


def cca(X, Y, statistic: str = "mean_sq", svd_dims=None):
    """Summary of canonical correlations: ``"mean_sq"`` = (1/k)Σρ_i² (Yanai's R²_CCA, Kornblith et al. 2019
    §3), ``"mean"`` = (1/k)Σρ_i (SVCCA's ρ̄ with ``svd_dims``, Raghu et al. 2017). Note that with
    k ≥ n - 1 directions CCA is degenerate (all ρ = 1): reduce with ``svd_dims``.

    ``X`` and ``Y`` may be arrays, tensors or :class:`simcode.Representation`; returns a float for NumPy input,
    a 0-d tensor for torch input."""
    check_option(statistic, "statistic", ("mean_sq", "mean"))
    rho = canonical_correlations(X, Y, svd_dims)
    if isinstance(rho, torch.Tensor):
        return (rho ** 2).mean() if statistic == "mean_sq" else rho.mean()
    return float((rho ** 2).mean()) if statistic == "mean_sq" else float(rho.mean())


def participation_ratio(X):
    """Participation ratio PR = (Σλ_i)² / Σλ_i² of the covariance eigenvalues of ``X`` (n × p)
    (Gao & Ganguli 2017; the dimensionality used by Sorscher et al. 2022 cited in paper 003),
    computed as tr(C)²/‖C‖²_F with C the smaller of X̄ᵀX̄ and X̄X̄ᵀ (same non-zero spectrum).

    ``X`` may be an array, a tensor or a :class:`simcode.Representation`; returns a float for NumPy input, a
    0-d tensor for torch input."""
    kind = kind_of(X)
    x = as_tensor(X, "X", min_rows=2, keep_float32=False, what="stimuli × features")
    check_variance(x, "X")
    xc = center_columns(x)
    xc = xc / xc.abs().max()                     # PR is scale-free; keeps tr(C)² finite
    C = xc.T @ xc if x.shape[1] <= x.shape[0] else xc @ xc.T
    return output(torch.trace(C) ** 2 / (C * C).sum(), kind)

