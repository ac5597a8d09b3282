"""Representational similarity analysis: comparing two RDMs (Kriegeskorte et al. 2008; Nili et al. 2014).

:func:`rsa` compares two RDMs by the statistic ``method`` (the vocabulary's "statistic of an analysis");
:func:`rsa_data` forms the RDMs of two representations (arrays, tensors or :class:`simcode.Representation`)
first, or uses an identity that makes them unnecessary.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core.arrays import check_option
from ._inputs import as_tensor, kind_of, output

__all__ = ["rsa", "rsa_data", "upper_triangle"]

_METHODS = ("pearson", "spearman", "kendall_a", "rho_a", "cosine", "whitened_cosine", "whitened_pearson")


def _n_from_len(m: int) -> int:
    n = int(round((1 + math.sqrt(1 + 8 * m)) / 2))
    if n * (n - 1) // 2 != m:
        raise ValueError(f"a condensed RDM must have n(n-1)/2 entries, got {m}")
    return n


def _as_square(t: torch.Tensor, name: str) -> torch.Tensor:
    if t.ndim == 2:
        if t.shape[0] != t.shape[1]:
            raise ValueError(f"{name} must be a square RDM or a condensed vector, got shape {tuple(t.shape)}")
        return t
    n = _n_from_len(t.shape[0])
    D = torch.zeros(n, n, dtype=t.dtype, device=t.device)
    iu = torch.triu_indices(n, n, 1, device=t.device)
    D[iu[0], iu[1]] = t
    return D + D.T


def upper_triangle(D):
    """Condensed vector (n(n-1)/2,) of the strict upper triangle of a square RDM (row-major, like scipy's
    ``squareform``)."""
    kind = kind_of(D)
    t = as_tensor(D, "D", what="stimuli × stimuli")
    if t.shape[0] != t.shape[1]:
        raise ValueError(f"D must be square, got shape {tuple(t.shape)}")
    n = t.shape[0]
    iu = torch.triu_indices(n, n, 1, device=t.device)
    return output(t[iu[0], iu[1]], kind)


def _vec(t: torch.Tensor) -> torch.Tensor:
    if t.ndim == 1:
        return t
    n = t.shape[0]
    iu = torch.triu_indices(n, n, 1, device=t.device)
    return t[iu[0], iu[1]]


def _cos(a, b):
    na, nb = torch.linalg.norm(a), torch.linalg.norm(b)
    if float(na) == 0 or float(nb) == 0:
        raise ValueError("an RDM (after the method's centring) is all zero; the comparison is undefined")
    return (a * b).sum() / (na * nb)


def _tau_a(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's τ_a = (concordant - discordant) / (m(m-1)/2), ties counting as neither, from scipy's τ_b:
    τ_a = τ_b·sqrt((T - t_x)(T - t_y))/T with T = m(m-1)/2 and t_x, t_y the tied pairs in each vector."""
    from scipy.stats import kendalltau

    m = a.size
    T = m * (m - 1) / 2

    def ties(v):
        _, c = np.unique(v, return_counts=True)
        return float((c * (c - 1) / 2).sum())

    tx, ty = ties(a), ties(b)
    if tx == T or ty == T:
        raise ValueError("an RDM is constant; Kendall's tau is undefined")
    tb = kendalltau(a, b, variant="b").statistic
    return float(np.clip(tb * math.sqrt((T - tx) * (T - ty)) / T, -1.0, 1.0))


def _whitened_stats(a: torch.Tensor, b: torch.Tensor, n: int):
    """Σ_{i<j} a b, Σ a², Σ b² and the row sums of the symmetric zero-diagonal matrices, read from the strict
    upper triangles (square or condensed inputs)."""
    if a.device.type == "cpu" and a.dtype in (torch.float32, torch.float64) and a.ndim == b.ndim:
        from ._rdm_kernel import pair_stats

        ab, aa, bb, Ra, Rb = pair_stats(np.ascontiguousarray(a.numpy()), np.ascontiguousarray(b.numpy()), n)
        return ab, aa, bb, torch.from_numpy(Ra), torch.from_numpy(Rb)
    dt = torch.float64 if a.device.type == "cpu" else a.dtype
    U, V = torch.triu(_as_square(a, "rdm1").to(dt), 1), torch.triu(_as_square(b, "rdm2").to(dt), 1)
    Ra, Rb = U.sum(0) + U.sum(1), V.sum(0) + V.sum(1)
    return float((U * V).sum()), float((U * U).sum()), float((V * V).sum()), Ra.cpu(), Rb.cpu()


def _whitened(a: torch.Tensor, b: torch.Tensor, pearson: bool):
    """Whitened cosine / correlation of two RDMs in O(n²) time and no n × n temporaries (CPU).

    With A, B the symmetric zero-diagonal matrices of the dissimilarities and H = I − 11ᵀ/n,
    v1ᵀV⁻¹v2 ∝ ⟨HAH, HBH⟩_F = 2Σ_{i<j} a_ij b_ij − (2/n) R_A·R_B + (1ᵀR_A)(1ᵀR_B)/n², R = row sums
    (Diedrichsen et al. 2021, eq. for the whitened unbiased cosine with V = (CCᵀ)∘(CCᵀ); the pseudo-inverse
    acts through double centring). ``pearson`` first subtracts the mean dissimilarity ā from every a_ij
    (i ≠ j): Σab ↦ Σab − m ā b̄, R ↦ R − (n−1)ā.
    """
    na = a.shape[0] if a.ndim == 2 else _n_from_len(a.shape[0])
    nb = b.shape[0] if b.ndim == 2 else _n_from_len(b.shape[0])
    if na != nb:
        raise ValueError(f"rdm1 and rdm2 must describe the same number of stimuli, got {na} and {nb}")
    n = na
    if n < 3:
        raise ValueError("RDMs need at least 3 stimuli (2 dissimilarities) to be compared")
    ab, aa, bb, Ra, Rb = _whitened_stats(a, b, n)
    if not (math.isfinite(aa) and math.isfinite(bb) and math.isfinite(ab)):
        raise ValueError(f"rdm{1 if not math.isfinite(aa) else 2} contains NaN or infinite values")
    if pearson:
        m = n * (n - 1) / 2
        ma, mb = float(Ra.sum()) / (2 * m), float(Rb.sum()) / (2 * m)
        ab, aa, bb = ab - m * ma * mb, aa - m * ma * ma, bb - m * mb * mb
        Ra, Rb = Ra - (n - 1) * ma, Rb - (n - 1) * mb
    sa, sb = float(Ra.sum()), float(Rb.sum())

    def ip(xy, Rx, Ry, sx, sy):
        return 2.0 * xy - 2.0 / n * float(Rx @ Ry) + sx * sy / (n * n)

    pab, paa, pbb = ip(ab, Ra, Rb, sa, sb), ip(aa, Ra, Ra, sa, sa), ip(bb, Rb, Rb, sb, sb)
    if paa <= 1e-13 * 2 * max(aa, 1e-300) or pbb <= 1e-13 * 2 * max(bb, 1e-300) or aa == 0 or bb == 0:
        raise ValueError("an RDM is constant after double centring; the comparison is undefined")
    val = pab / math.sqrt(paa * pbb)
    return torch.tensor(val, dtype=a.dtype, device=a.device)


def rsa(rdm1, rdm2, method: str = "pearson"):
    """Compare two RDMs over the same stimuli (square n × n, or condensed n(n-1)/2 vectors).

    * ``"pearson"``, ``"spearman"``, ``"cosine"``: on the upper-triangular entries.
    * ``"kendall_a"``: Kendall's τ_a (Nili et al. 2014, PLoS CB, "A toolbox for RSA", recommended when
      models predict ties). ``"rho_a"``: Spearman's ρ_a = 12 Σ(r1-r̄)(r2-r̄)/(m³-m) on average ranks
      (Schütt et al. 2023, eLife, eq. for ρ_a) — rsatoolbox's convention.
    * ``"whitened_cosine"`` / ``"whitened_pearson"``: cosine (correlation) of RDM entries whitened by their
      covariance V under i.i.d. pattern noise (Diedrichsen et al. 2021, "Comparing representational
      geometries using whitened unbiased-distance-matrix similarity", Neurons Behav. Data Anal. Theory;
      rsatoolbox ``cosine_cov``/``corr_cov`` without ``sigma_k``). With V = (CCᵀ)∘(CCᵀ) (C the pair
      contrast matrix), v1ᵀV⁻¹v2 ∝ ⟨H(-½D1)H, H(-½D2)H⟩_F, so we compute it exactly in O(n²) through double
      centring, in one read of both RDMs and no n × n temporaries; for squared-Euclidean RDMs this equals
      linear CKA of the underlying patterns.

    Square RDMs are read through their strict upper triangle (rsatoolbox's condensed vector), so a
    non-zero diagonal or an asymmetric lower triangle is ignored.

    Parameters
    ----------
    rdm1, rdm2 : array-like or torch.Tensor, (n, n) or (n(n-1)/2,)
        Float32 RDMs stay float32 in the whitened comparisons (their sums are accumulated in float64).
    method : str
        The comparison statistic (one of the names above).

    Returns
    -------
    float (NumPy input) or 0-d tensor (torch input)
    """
    check_option(method, "method", _METHODS)
    kind = kind_of(rdm1, rdm2)
    torch_in = kind.torch
    # the whitened methods detect NaN/inf through their own sums (Σa², Σb² are finite iff every entry is), so
    # the RDMs are read once
    lazy = method in ("whitened_cosine", "whitened_pearson")
    a = as_tensor(rdm1, "rdm1", ndim=(1, 2), allow_nan=lazy)
    b = as_tensor(rdm2, "rdm2", ndim=(1, 2), allow_nan=lazy).to(a.device, a.dtype)
    if a.ndim == 2 and a.shape[0] != a.shape[1]:
        raise ValueError(f"rdm1 must be square or condensed, got shape {tuple(a.shape)}")
    if b.ndim == 2 and b.shape[0] != b.shape[1]:
        raise ValueError(f"rdm2 must be square or condensed, got shape {tuple(b.shape)}")
    if method in ("whitened_cosine", "whitened_pearson"):
        return output(_whitened(a, b, method == "whitened_pearson"), kind)
    if not torch_in:                     # NumPy float32 RDMs: the other comparisons run in float64
        a, b = a.double(), b.double()
    va, vb = _vec(a), _vec(b)
    if va.shape != vb.shape:
        raise ValueError(f"rdm1 and rdm2 must describe the same number of stimuli, got {va.numel()} and "
                         f"{vb.numel()} dissimilarities")
    if va.numel() < 2:
        raise ValueError("RDMs need at least 3 stimuli (2 dissimilarities) to be compared")
    if method == "cosine":
        return output(_cos(va, vb), kind)
    if method == "pearson":
        return output(_cos(va - va.mean(), vb - vb.mean()), kind)
    # rank-based: on CPU / NumPy (scipy), result returned as the caller's type
    na, nb = va.cpu().numpy(), vb.cpu().numpy()
    from scipy.stats import rankdata

    if method == "kendall_a":
        val = _tau_a(na, nb)
    else:
        ra, rb = rankdata(na), rankdata(nb)
        ra, rb = ra - ra.mean(), rb - rb.mean()
        if method == "spearman":
            if not ra.any() or not rb.any():
                raise ValueError("an RDM is constant; the rank correlation is undefined")
            val = float(ra @ rb / math.sqrt((ra @ ra) * (rb @ rb)))
        else:
            m = ra.size
            val = float(12.0 * (ra @ rb) / (m ** 3 - m))
    return torch.tensor(val, dtype=a.dtype, device=a.device) if torch_in else val


def rsa_data(X, Y, metric: str = "sqeuclidean", method: str = "whitened_cosine", **rdm_kwargs):
    """RSA between two representations of the same stimuli: ``rsa(rdm(X, metric), rdm(Y, metric), method)``.

    When an identity makes the n × n RDMs unnecessary it is used: for squared-Euclidean RDMs (rsatoolbox's
    ``"euclidean"``, up to the 1/p scale that the cosine ignores) −½ H D H = H X Xᵀ H, so the whitened cosine is
    linear CKA, computed in feature space in O(n(p+q)²) time and O(p² + q²) memory (Diedrichsen et al. 2021 §2;
    Kornblith et al. 2019). Otherwise the RDMs are formed.

    Parameters
    ----------
    X, Y : array-like, torch.Tensor or Representation, (n_stimuli, p) and (n_stimuli, q)
    metric : str
        RDM metric (see :func:`simcode.similarity.rdm`).
    method : str
        Comparison statistic (see :func:`rsa`).
    **rdm_kwargs
        Passed to :func:`simcode.similarity.rdm` (e.g. ``condensed``, ``dtype``).
    """
    check_option(method, "method", _METHODS)
    if metric == "sqeuclidean" and method == "whitened_cosine" and not rdm_kwargs:
        from .compare import cka

        return cka(X, Y, solver="auto")
    from .kernels import rdm

    return rsa(rdm(X, metric, **rdm_kwargs), rdm(Y, metric, **rdm_kwargs), method)
