"""Statistics for representation comparisons: bootstrap intervals, permutation tests, noise ceilings.

Every comparison of :mod:`simcode.similarity` is a point estimate; this module says how sure it is.

* :func:`bootstrap` — resample stimuli (rows), subjects (several data sets of the same stimuli) or both, and
  return percentile or BCa intervals (Efron 1987, "Better bootstrap confidence intervals", JASA 82:171).
* :func:`permutation_test` — permute the stimulus labels of one representation; exact enumeration of all n!
  relabellings when that is no more than ``n_permutations``, else Monte Carlo with
  p = (1 + #{T_b ≥ T}) / (B + 1) (Phipson & Smyth 2010, "Permutation p-values should never be zero").
* :func:`noise_ceiling` — lower and upper bounds on the best possible model performance from
  leave-one-subject-out, as rsatoolbox's ``boot_noise_ceiling`` defines them (Nili et al. 2014, PLoS CB,
  "A toolbox for representational similarity analysis"), for RSA and CKA.

Resamples are vectorised in torch (on the GPU with ``device="cuda"``): a bootstrap over stimuli is a vector of
multiplicities c (how often each stimulus was drawn), and every kernel/RDM statistic of the resampled data is a
quadratic form in c of matrices computed once from the full data (no n × n kernel is formed per resample):

* biased HSIC of the resample: tr(HK_bH L_b) = cᵀ(K∘L)c − (2/N)Σ_i c_i(Kc)_i(Lc)_i + (cᵀKc)(cᵀLc)/N², N = Σc;
* RDM bootstraps exclude the self-pairs of a duplicated stimulus (their zero dissimilarity is not data), as
  rsatoolbox's ``RDMs.subsample_pattern`` does by setting them to NaN; rsatoolbox then double-centres the
  remaining entries by the least-squares projection of ``_cov_weighting``, which with multiplicities reduces to
  a diagonal-plus-rank-one system solved in O(n) per resample (Sherman–Morrison).

A permutation of the stimulus labels leaves centred kernels centred, so every CKA/RSA statistic is a
quadratic-assignment sum Σ_ij A_ij B_π(i)π(j) of matrices centred once; linear CKA is computed in feature space,
‖X̄ᵀPȲ‖²_F (the denominator does not change under P), as one batched matrix product per batch of permutations,
optionally on the leading principal components only (``rank``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..core.arrays import check_bool, check_int, check_number, check_option, check_random_state, resolve_device
from ._inputs import as_tensor, center_columns, center_tensor, check_variance, unwrap

__all__ = ["BootstrapResult", "PermutationResult", "NoiseCeiling", "bootstrap", "permutation_test",
           "noise_ceiling"]

MEASURES = ("cka", "rsa", "procrustes", "cca", "mutual_knn")
_RSA_METHODS = ("pearson", "spearman", "cosine", "kendall_a", "rho_a", "whitened_cosine", "whitened_pearson")
_FAST_RSA = ("whitened_cosine", "whitened_pearson", "cosine", "pearson")


# --------------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class BootstrapResult:
    """A bootstrap distribution and its interval.

    Attributes
    ----------
    estimate : float
        The statistic on the data as given.
    samples : ndarray (n_boot,)
        The statistic on each resample.
    ci_low, ci_high : float
        The interval at ``level`` (percentile or BCa, ``method``).
    method : str
        ``"percentile"`` or ``"bca"``.
    level : float
        Nominal coverage, e.g. 0.95.
    over : str
        What was resampled: ``"stimuli"``, ``"subjects"`` or ``"both"``.
    """

    estimate: float
    samples: np.ndarray
    ci_low: float
    ci_high: float
    method: str
    level: float
    over: str

    @property
    def std(self) -> float:
        """Bootstrap standard error (standard deviation of the samples, ddof=1)."""
        return float(np.std(self.samples, ddof=1))


@dataclass(frozen=True)
class PermutationResult:
    """A permutation test of "no relation between the stimulus labels of X and Y".

    Attributes
    ----------
    statistic : float
        The statistic on the data as given.
    p_value : float
        Exact: #{π : T_π ≥ T} / n! over all n! relabellings (the identity included). Monte Carlo:
        (1 + #{T_b ≥ T}) / (B + 1) (Phipson & Smyth 2010), never 0.
    null : ndarray
        The statistic under each permutation drawn (or enumerated).
    n_permutations : int
        How many permutations ``null`` holds.
    exact : bool
        Whether all n! permutations were enumerated.
    """

    statistic: float
    p_value: float
    null: np.ndarray
    n_permutations: int
    exact: bool


@dataclass(frozen=True)
class NoiseCeiling:
    """Bounds on the best possible model performance given the between-subject variability.

    ``upper``: mean over subjects of the comparison of each subject with the pooled mean of all subjects (an
    overfitted, unbeatable model); ``lower``: the same with the mean of the *other* subjects (leave one
    subject out) — rsatoolbox's ``boot_noise_ceiling``. ``per_subject_lower``/``per_subject_upper`` hold the
    terms of the two means.
    """

    lower: float
    upper: float
    per_subject_lower: np.ndarray
    per_subject_upper: np.ndarray


# ------------------------------------------------------------------------------------------------- inputs
def _subjects(Y, name="Y", n=None, ndim_ok=True):
    """A list of 2-D tensors (one per subject) from a sequence or a 3-D array/tensor."""
    Y = unwrap(Y)
    if isinstance(Y, (list, tuple)):
        if len(Y) == 0:
            raise ValueError(f"{name} must hold at least one subject, got an empty sequence")
        out = [as_tensor(y, f"{name}[{i}]", min_rows=2, keep_float32=False, what="stimuli × features")
               for i, y in enumerate(Y)]
    else:
        t = as_tensor(Y, name, ndim=(2, 3), min_rows=1, keep_float32=False, what="(subjects ×) stimuli × features")
        out = [t] if t.ndim == 2 else list(t)
    for i, y in enumerate(out):
        if n is not None and y.shape[0] != n:
            raise ValueError(f"{name} subject {i} has {y.shape[0]} stimuli (rows), X has {n}")
    return out


def _dev_dtype(device, *xs):
    dev = resolve_device(device, *[unwrap(x) for x in xs if isinstance(unwrap(x), torch.Tensor)])
    return torch.device(dev)


def _opts(measure, options):
    allowed = {"cka": {"kernel", "debiased", "sigma"}, "rsa": {"metric", "method"},
               "procrustes": {"alpha", "score"}, "cca": {"statistic", "svd_dims"},
               "mutual_knn": {"k", "normalize"}}[measure]
    bad = set(options) - allowed
    if bad:
        raise TypeError(f"unknown option(s) {sorted(bad)} for measure={measure!r}; allowed: {sorted(allowed)}")
    return dict(options)


def _rdm_of(x, metric):
    """Square RDM (float64 tensor) of the data x (n × p), or x itself when metric == 'precomputed'."""
    if metric == "precomputed":
        if x.ndim != 2 or x.shape[0] != x.shape[1]:
            raise ValueError(f"metric='precomputed' needs square RDMs, got shape {tuple(x.shape)}")
        D = (x + x.T) / 2
        D = D.clone()
        D.fill_diagonal_(0.0)
        return D
    from .kernels import rdm

    return rdm(x, metric).to(torch.float64)


def _kernel_distance(K):
    """Squared distances in the kernel's feature space, K_ii + K_jj − 2K_ij (−½ H D H = H K H)."""
    d = torch.diagonal(K)
    D = d[:, None] + d[None, :] - 2.0 * K
    D.fill_diagonal_(0.0)
    return D


def _kernel_of(x, kernel, sigma):
    from .kernels import gram

    if kernel == "linear":
        xc = center_columns(x)
        return xc @ xc.T
    return gram(x, kernel, sigma=sigma)


# --------------------------------------------------------------------------------- vectorised statistics
class _CKAStat:
    """CKA of resamples given by multiplicities C (B × n): every term a quadratic form in c (module docstring)."""

    def __init__(self, x, ys, kernel="linear", debiased=False, sigma=None, dev=None):
        self.debiased = debiased
        n, p = x.shape
        q = max(y.shape[1] for y in ys)
        # feature space (linear, biased): X̄_cᵀȲ_c = Xᵀdiag(c)Y − (Xᵀc)(Yᵀc)ᵀ/N, cost O(n p q) per resample
        self.feature = kernel == "linear" and not debiased and p * p + q * q + p * q <= n * (p + q)
        if self.feature:
            self.x = center_columns(x).to(dev)
            self.ys = [center_columns(y).to(dev) for y in ys]
            return
        self.K = _kernel_of(x, kernel, sigma).to(dev)
        self.Ls = [_kernel_of(y, kernel, sigma).to(dev) for y in ys]
        self.dK = torch.diagonal(self.K)
        self.dLs = [torch.diagonal(L) for L in self.Ls]
        self.KK = self.K * self.K
        self.LL = [L * L for L in self.Ls]
        self.KL = [self.K * L for L in self.Ls]

    def _hsic(self, C, M, A, B, dA, dB, CA, CB):
        N = C.sum(1)
        if not self.debiased:
            t1 = ((C @ M) * C).sum(1)
            t2 = (C * CA * CB).sum(1)
            return t1 - 2.0 / N * t2 + (CA * C).sum(1) * (CB * C).sum(1) / (N * N)
        # U-statistic of the resample (Song et al. 2012, eq. 5) with K̃ = K − diag: Σ over copies u ≠ v
        t1 = ((C @ M) * C).sum(1) - (C * dA * dB).sum(1)
        sa = (CA * C).sum(1) - (C * dA).sum(1)
        sb = (CB * C).sum(1) - (C * dB).sum(1)
        t3 = (C * (CA - dA) * (CB - dB)).sum(1)
        # (K̃1)_v for a copy v of stimulus i is (Kc)_i − K_ii; copies of i are c_i of them
        return (t1 + sa * sb / ((N - 1) * (N - 2)) - 2.0 / (N - 2) * t3) / (N * (N - 3))

    def _cross(self, C, a, b):
        N = C.sum(1)[:, None, None]
        ca, cb = C @ a, C @ b
        return torch.einsum("bn,np,nq->bpq", C, a, b) - ca[:, :, None] * cb[:, None, :] / N

    def __call__(self, C):
        """Statistic per resample and subject, (B, S)."""
        if self.feature:
            sxx = torch.linalg.norm(self._cross(C, self.x, self.x), dim=(1, 2))
            out = []
            for y in self.ys:
                syy = torch.linalg.norm(self._cross(C, y, y), dim=(1, 2))
                sxy = self._cross(C, self.x, y)
                out.append((sxy * sxy).sum((1, 2)) / (sxx * syy))
            return torch.stack(out, 1)
        CK = C @ self.K
        hxx = self._hsic(C, self.KK, self.K, self.K, self.dK, self.dK, CK, CK)
        out = []
        for L, LL, KL, dL in zip(self.Ls, self.LL, self.KL, self.dLs):
            CL = C @ L
            hyy = self._hsic(C, LL, L, L, dL, dL, CL, CL)
            hxy = self._hsic(C, KL, self.K, L, self.dK, dL, CK, CL)
            out.append(hxy / torch.sqrt(hxx * hyy))
        return torch.stack(out, 1)


class _RSAStat:
    """RDM comparison of resamples with multiplicities C (B × n); self-pairs of duplicates excluded.

    With G = −½D (zero diagonal) and weights c, the pair (a, b), a ≠ b, is present c_a c_b times. rsatoolbox's
    whitened comparison (``_cov_weighting``) projects the vector [g_pairs, 0_diag] with β = (SᵀWS)⁻¹Sᵀv, S the
    pair/diagonal design, W = diag(½ on pairs, 1 on the diagonal); by symmetry the copies of a stimulus share
    β_a and (½N + 1 − c_a)β_a + ½cᵀβ = (Gc)_a. The residuals r_ab = g_ab − ½(β_a + β_b) (pairs) and −β_a
    (diagonal) enter the cosine as Σ_{a≠b} c_a c_b r_ab s_ab + Σ_a c_a β_a γ_a. For multiplicities all 1 this is
    exactly double centring (H G H), i.e. :func:`simcode.similarity.rsa`'s ``whitened_cosine``.
    """

    def __init__(self, x, ys, metric="sqeuclidean", method="whitened_cosine", dev=None, kernel=None, sigma=None):
        if method not in _FAST_RSA:
            raise ValueError(f"method must be one of {_FAST_RSA} for a bootstrap over stimuli, got {method!r}")
        self.method = method
        if kernel is not None:       # CKA: the kernel-induced squared distances d_ij = K_ii + K_jj − 2K_ij
            self.A = (-0.5 * _kernel_distance(_kernel_of(x, kernel, sigma))).to(dev, torch.float64)
            self.Bs = [(-0.5 * _kernel_distance(_kernel_of(y, kernel, sigma))).to(dev, torch.float64) for y in ys]
        else:
            self.A = (-0.5 * _rdm_of(x, metric)).to(dev, torch.float64)
            self.Bs = [(-0.5 * _rdm_of(y, metric)).to(dev, torch.float64) for y in ys]
        self.AA = self.A * self.A
        self.BB = [B * B for B in self.Bs]
        self.AB = [self.A * B for B in self.Bs]

    @staticmethod
    def _solve(C, u):
        N = C.sum(1, keepdim=True)
        D = 0.5 * N + 1.0 - C
        bad = (D.abs() < 1e-9).any(1)
        Du = u / D
        D1 = 1.0 / D
        beta = Du - D1 * (0.5 * (C * Du).sum(1, keepdim=True)) / (1.0 + 0.5 * (C * D1).sum(1, keepdim=True))
        if bool(bad.any()):  # a stimulus drawn ½N + 1 times: solve the (n × n) system directly
            for i in torch.nonzero(bad).flatten().tolist():
                c = C[i]
                M = torch.diag(0.5 * c.sum() + 1.0 - c) + 0.5 * torch.outer(torch.ones_like(c), c)
                M = M + torch.diag((c == 0).to(M.dtype))
                beta[i] = torch.linalg.lstsq(M, u[i:i + 1].T).solution[:, 0]
        return beta

    def _whitened(self, C, qab, ua, ub, ba, bb):
        N = C.sum(1)
        t = qab - (C * bb * ua).sum(1) - (C * ba * ub).sum(1)
        t = t + 0.25 * (2 * N * (C * ba * bb).sum(1) + 2 * (C * ba).sum(1) * (C * bb).sum(1))
        return t - (C * C * ba * bb).sum(1) + (C * ba * bb).sum(1)

    def __call__(self, C):
        N = C.sum(1)
        npair = 0.5 * (N * N - (C * C).sum(1))      # number of pairs present (copies of distinct stimuli)
        CA = C @ self.A
        qaa = ((C @ self.AA) * C).sum(1)
        sa = (CA * C).sum(1)                         # Σ_{a≠b} c_a c_b g_ab = 2 Σ over pairs
        out = []
        for B, BB, AB in zip(self.Bs, self.BB, self.AB):
            CB = C @ B
            qbb = ((C @ BB) * C).sum(1)
            qab = ((C @ AB) * C).sum(1)
            sb = (CB * C).sum(1)
            if self.method in ("cosine", "pearson"):
                xy, xx, yy = qab, qaa, qbb
                if self.method == "pearson":
                    m2 = 2 * npair
                    xy, xx, yy = xy - sa * sb / m2, xx - sa * sa / m2, yy - sb * sb / m2
                out.append(xy / torch.sqrt(xx * yy))
                continue
            ua, ub, qab_, qaa_, qbb_ = CA, CB, qab, qaa, qbb
            if self.method == "whitened_pearson":      # subtract the mean of the present pairs first
                al = (-sa / (2 * npair))[:, None]       # G' = G + α(J − I)
                de = (-sb / (2 * npair))[:, None]
                off = (N[:, None] - C)
                ua, ub = CA + al * off, CB + de * off
                w = (N * N - (C * C).sum(1))
                a1, d1 = al[:, 0], de[:, 0]
                qab_ = qab + d1 * sa + a1 * sb + a1 * d1 * w
                qaa_ = qaa + 2 * a1 * sa + a1 * a1 * w
                qbb_ = qbb + 2 * d1 * sb + d1 * d1 * w
            ba, bb = self._solve(C, ua), self._solve(C, ub)
            pab = self._whitened(C, qab_, ua, ub, ba, bb)
            paa = self._whitened(C, qaa_, ua, ua, ba, ba)
            pbb = self._whitened(C, qbb_, ub, ub, bb, bb)
            out.append(pab / torch.sqrt(paa * pbb))
        return torch.stack(out, 1)


def _vec_compare(a, b, method):
    """An RSA comparison of two dissimilarity vectors of any length (the present pairs of a resample)."""
    from scipy.stats import rankdata

    if method == "kendall_a":               # τ_a = Σ_{i<j} sign(a_i − a_j) sign(b_i − b_j) / (m(m − 1)/2)
        m = a.size
        s = sum(float(np.sum(np.sign(a[i + 1:] - a[i]) * np.sign(b[i + 1:] - b[i]))) for i in range(m - 1))
        return s / (m * (m - 1) / 2)
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    if method == "spearman":
        return float(ra @ rb / math.sqrt((ra @ ra) * (rb @ rb)))
    m = ra.size
    return float(12.0 * (ra @ rb) / (m ** 3 - m))


def _loop_stat(measure, x, ys, opts):
    """Statistic of resamples by calling the measure on gathered rows (procrustes, cca, mutual_knn, rank RSA)."""
    from . import compare, knn

    fn = {"procrustes": compare.procrustes, "cca": compare.cca, "mutual_knn": knn.mutual_knn,
          "cka": compare.cka}.get(measure)

    if measure == "rsa":
        metric, method = opts.get("metric", "sqeuclidean"), opts.get("method", "whitened_cosine")
        DA, DBs = _rdm_of(x, metric), [_rdm_of(y, metric) for y in ys]

    def stat(idx):
        if measure == "rsa":           # the present pairs of the resample: self-pairs of duplicates excluded
            iu = torch.triu_indices(len(idx), len(idx), 1, device=idx.device)
            keep = idx[iu[0]] != idx[iu[1]]
            r, c = idx[iu[0]][keep], idx[iu[1]][keep]
            va = DA[r, c].cpu().numpy()
            return [_vec_compare(va, DB[r, c].cpu().numpy(), method) for DB in DBs]
        return [float(fn(x[idx], y[idx], **opts)) for y in ys]

    return stat


# --------------------------------------------------------------------------------------------- intervals
def _norm_ppf(p):
    from scipy.special import ndtri

    return ndtri(p)


def _norm_cdf(z):
    from scipy.special import ndtr

    return ndtr(z)


def _interval(est, samples, jack, level, method):
    """Percentile or BCa interval (Efron 1987; Efron & Tibshirani 1993, eqs. 14.9–14.15)."""
    alpha = 1.0 - level
    s = np.sort(samples)
    if method == "percentile":
        return float(np.quantile(s, alpha / 2)), float(np.quantile(s, 1 - alpha / 2))
    prop = (np.sum(s < est) + 0.5 * np.sum(s == est)) / s.size
    prop = min(max(prop, 1.0 / (s.size + 1)), s.size / (s.size + 1))
    z0 = _norm_ppf(prop)
    d = jack.mean() - jack
    den = 6.0 * (np.sum(d * d) ** 1.5)
    a = float(np.sum(d ** 3) / den) if den > 0 else 0.0
    za = _norm_ppf(np.array([alpha / 2, 1 - alpha / 2]))
    q = _norm_cdf(z0 + (z0 + za) / (1 - a * (z0 + za)))
    return float(np.quantile(s, q[0])), float(np.quantile(s, q[1]))


def _check_level(level):
    return check_number(level, "level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)


# --------------------------------------------------------------------------------------------- bootstrap
def bootstrap(X, Y, measure: str = "cka", *, over: str = "stimuli", n_boot: int = 1000, ci: str = "bca",
              level: float = 0.95, random_state=None, device="auto", batch_size: int = 256,
              duplicates: str = "auto", **options):
    """Bootstrap distribution and interval of a representation comparison.

    The statistic is ``measure(X, Y)``; with several subjects (``Y`` a sequence of (n, q_s) data sets or a
    (subjects × n × q) array) it is the mean over subjects of ``measure(X, Y_s)``. ``over`` chooses what is
    resampled with replacement: ``"stimuli"`` (rows, the same draw for X and every subject), ``"subjects"``, or
    ``"both"`` (rsatoolbox's ``bootstrap_sample``: subjects and stimuli independently).

    Duplicated stimuli. A resample holds some stimuli several times; the kernel entries between two copies of
    one stimulus are not data (they are its self-similarity) and inflate every kernel/RDM statistic — biased CKA
    on a resample with ~63 % distinct stimuli lies well above the estimate when p/n is not small, and the
    intervals then miss it. ``duplicates="exclude"`` (the default, ``"auto"``, for RSA and biased CKA) drops
    those pairs as rsatoolbox does for RDMs: CKA(K, L) is computed as the whitened cosine of the kernel-induced
    squared distances d_ij = K_ii + K_jj − 2K_ij (−½HDH = HKH, so on the data as given it *is* CKA), with
    rsatoolbox's missing-value double centring. ``"keep"`` treats a duplicated stimulus as a duplicated row
    (the only choice for debiased CKA and for the measures called per resample).

    Vectorised paths (no n × n kernel formed per resample; see the module docstring): ``cka`` (every kernel,
    biased or debiased), ``rsa`` with ``method`` in {"whitened_cosine", "whitened_pearson",
    "cosine", "pearson"} (self-pairs of duplicated stimuli excluded, rsatoolbox's convention; the whitened
    methods are rsatoolbox's ``cosine_cov``/``corr_cov``). ``procrustes``, ``cca``, ``mutual_knn`` and the rank
    RSA methods call the measure on each resample. RBF bandwidths are fixed from the full data (``sigma``
    defaults to the median heuristic of each representation).

    Intervals: ``ci="percentile"`` — the α/2 and 1 − α/2 quantiles of the samples; ``ci="bca"`` — bias-corrected
    and accelerated (Efron 1987): quantiles Φ(z₀ + (z₀ + z_α)/(1 − a(z₀ + z_α))) with z₀ = Φ⁻¹(#{θ* < θ̂}/B) and
    the acceleration a = Σd³ / (6(Σd²)^{3/2}), d the jackknife deviations over the resampled unit
    (stimuli for ``"stimuli"`` and ``"both"``, subjects for ``"subjects"``).

    Parameters
    ----------
    X : array-like, torch.Tensor or Representation (n_stimuli, p)
        The model (or first) representation. ``metric="precomputed"`` (``rsa``): an (n × n) RDM.
    Y : array-like, tensor, Representation, sequence of them, or (n_subjects, n_stimuli, q) array
    measure : {"cka", "rsa", "procrustes", "cca", "mutual_knn"}
    over : {"stimuli", "subjects", "both"}
    n_boot : int >= 2
    ci : {"bca", "percentile"}
    level : float in (0, 1)
    random_state : None, int or Generator
    device : "auto", "cpu", "cuda"
    batch_size : int >= 1
        Resamples evaluated per batch.
    duplicates : {"auto", "exclude", "keep"}
        Pairs of copies of one resampled stimulus: excluded (RSA, biased CKA) or kept as data (see above).
    **options
        Passed to the measure: ``kernel``, ``debiased``, ``sigma`` (cka); ``metric``, ``method`` (rsa);
        ``alpha``, ``score`` (procrustes); ``statistic``, ``svd_dims`` (cca); ``k``, ``normalize`` (mutual_knn).

    Returns
    -------
    BootstrapResult
    """
    check_option(measure, "measure", MEASURES)
    check_option(over, "over", ("stimuli", "subjects", "both"))
    check_option(ci, "ci", ("bca", "percentile"))
    check_option(duplicates, "duplicates", ("auto", "exclude", "keep"))
    n_boot = check_int(n_boot, "n_boot", low=2)
    batch_size = check_int(batch_size, "batch_size", low=1)
    level = _check_level(level)
    opts = _opts(measure, options)
    rng = check_random_state(random_state)
    dev = _dev_dtype(device, X, Y)
    metric = opts.get("metric", "sqeuclidean")
    x = as_tensor(X, "X", min_rows=3, keep_float32=False, what="stimuli × features")
    ys = _subjects(Y, "Y", n=x.shape[0])
    x, ys = x.to(dev, torch.float64), [y.to(dev, torch.float64) for y in ys]
    if metric != "precomputed":
        check_variance(x, "X")
        for i, y in enumerate(ys):
            check_variance(y, f"Y[{i}]")
    n, S = x.shape[0], len(ys)
    if over != "stimuli" and S < 2:
        raise ValueError(f"over={over!r} needs at least 2 subjects in Y, got {S}")

    vec = None
    if measure == "cka":
        kernel = opts.get("kernel", "linear")
        check_option(kernel, "kernel", ("linear", "rbf", "cosine"))
        debiased = check_bool(opts.get("debiased", False), "debiased")
        if debiased and n < 5:
            raise ValueError(f"debiased CKA bootstrap needs at least 5 stimuli, got {n}")
        sigma = opts.get("sigma")
        if duplicates == "exclude" and debiased:
            raise ValueError("duplicates='exclude' is defined for biased CKA; use duplicates='keep' with "
                             "debiased=True")
        if duplicates == "keep" or (duplicates == "auto" and debiased):
            vec = _CKAStat(x, ys, kernel, debiased, sigma, dev)
        else:
            vec = _RSAStat(x, ys, method="whitened_cosine", dev=dev, kernel=kernel, sigma=sigma)
    elif measure == "rsa":
        method = opts.get("method", "whitened_cosine")
        if method in _FAST_RSA:
            vec = _RSAStat(x, ys, metric, method, dev)
    loop = None if vec is not None else _loop_stat(measure, x, ys, opts)

    def per_subject(C_or_idx):
        """(B, S) statistic for a batch of multiplicity rows."""
        if vec is not None:
            return vec(C_or_idx)
        rows = []
        for c in C_or_idx:
            idx = torch.repeat_interleave(torch.arange(n, device=c.device), c.long())
            rows.append(loop(idx))
        return torch.as_tensor(rows, dtype=torch.float64)

    ones = torch.ones(1, n, dtype=torch.float64, device=dev)
    full = per_subject(ones)[0].cpu().numpy()
    est = float(full.mean())
    samples = np.empty(n_boot)
    for s in range(0, n_boot, batch_size):
        b = min(batch_size, n_boot - s)
        if over == "subjects":
            V = np.broadcast_to(full, (b, S))
        else:
            draws = rng.integers(0, n, size=(b, n))
            C = np.zeros((b, n))
            np.add.at(C, (np.arange(b)[:, None], draws), 1.0)
            V = per_subject(torch.as_tensor(C, device=dev)).cpu().numpy()
        if over == "stimuli":
            samples[s:s + b] = V.mean(1)
        else:
            subj = rng.integers(0, S, size=(b, S))
            samples[s:s + b] = np.take_along_axis(V, subj, 1).mean(1)
    jack = None
    if ci == "bca":
        if over == "subjects":
            jack = np.array([np.delete(full, i).mean() for i in range(S)])
        else:
            J = torch.ones(n, n, dtype=torch.float64, device=dev)
            J.fill_diagonal_(0.0)
            jv = np.concatenate([per_subject(J[i:i + batch_size]).cpu().numpy() for i in range(0, n, batch_size)])
            jack = jv.mean(1)
    lo, hi = _interval(est, samples, jack, level, ci)
    return BootstrapResult(est, samples, lo, hi, ci, level, over)


# ------------------------------------------------------------------------------------------- permutations
def _qap_mats(measure, x, y, opts):
    """(A, B, scale) with statistic(π) = scale · Σ_ij A_ij B_π(i)π(j), or None when no such form exists."""
    if measure == "cka":
        kernel = opts.get("kernel", "linear")
        debiased = bool(opts.get("debiased", False))
        K = center_tensor(_kernel_of(x, kernel, opts.get("sigma")), debiased)
        L = center_tensor(_kernel_of(y, kernel, opts.get("sigma")), debiased)
        den = torch.sqrt((K * K).sum() * (L * L).sum())
        return K, L, 1.0 / float(den)
    if measure == "rsa":
        method = opts.get("method", "whitened_cosine")
        metric = opts.get("metric", "sqeuclidean")
        A, B = _rdm_of(x, metric), _rdm_of(y, metric)
        n = A.shape[0]
        off = ~torch.eye(n, dtype=torch.bool, device=A.device)
        if method in ("whitened_cosine", "whitened_pearson"):
            if method == "whitened_pearson":
                A = torch.where(off, A - A[off].mean(), A)
                B = torch.where(off, B - B[off].mean(), B)
            A, B = center_tensor(-0.5 * A, False), center_tensor(-0.5 * B, False)
            return A, B, 1.0 / float(torch.sqrt((A * A).sum() * (B * B).sum()))
        if method in ("pearson", "cosine", "spearman"):
            if method == "spearman":
                from scipy.stats import rankdata

                iu = torch.triu_indices(n, n, 1)
                for M in (A, B):
                    r = torch.as_tensor(rankdata(M[iu[0], iu[1]].cpu().numpy()), dtype=M.dtype, device=M.device)
                    M[iu[0], iu[1]] = r
                    M[iu[1], iu[0]] = r
            if method != "cosine":
                A = torch.where(off, A - A[off].mean(), torch.zeros_like(A))
                B = torch.where(off, B - B[off].mean(), torch.zeros_like(B))
            return A, B, 1.0 / float(torch.sqrt((A * A).sum() * (B * B).sum()))
    return None


def _factor(xc, rank):
    """F = X̄V (n × r) with F Fᵀ = X̄X̄ᵀ, V the eigenvectors of X̄ᵀX̄ (p × p, cheap for p ≪ n), truncated to the
    ``rank`` leading ones (U_rS_r of the SVD X̄ = USVᵀ)."""
    lam, V = torch.linalg.eigh(xc.T @ xc)
    keep = lam > lam.abs().max() * xc.shape[1] * torch.finfo(xc.dtype).eps      # drop only numerical zeros
    lam, V = lam[keep], V[:, keep]
    if lam.numel() > rank:
        V = V[:, -rank:]
    return xc @ V


def permutation_test(X, Y, measure: str = "cka", *, n_permutations: int = 10000, exact: str = "auto",
                     random_state=None, device="auto", batch_size: int | None = None, rank: int | None = None,
                     **options):
    """Permutation test of a representation comparison: are X and Y related through their stimulus labels?

    The rows of ``Y`` are permuted (stimulus labels shuffled) and the statistic T = ``measure(X, Y[π])``
    recomputed; large T is evidence against the null (one-sided). ``exact="auto"`` enumerates all n!
    permutations when n! ≤ ``n_permutations`` (p = #{π: T_π ≥ T}/n!, the identity included); otherwise
    B = ``n_permutations`` random permutations give p = (1 + #{T_b ≥ T})/(B + 1) (Phipson & Smyth 2010).

    Vectorised: CKA (any kernel, biased or debiased: centring commutes with relabelling) and RSA (whitened
    cosine/pearson, pearson, cosine, spearman) are quadratic-assignment statistics Σ_ij A_ij B_π(i)π(j) of
    matrices centred once. For linear CKA in feature space (p + q small against n) the statistic is
    ‖X̄ᵀ P Ȳ‖²_F: one (p × n)(n × b·q) matrix product for a batch of b permutations, O(npq) per permutation
    instead of the n² of the kernel form. ``rank`` replaces X̄, Ȳ by their leading ``rank`` principal
    components F = X̄V_r (‖F_xᵀPF_y‖² is then the statistic of the rank-r approximations; exact when ``rank``
    is at least the ranks of both; an approximation otherwise, off by default). Other measures call the measure
    per permutation.

    Parameters
    ----------
    X, Y : array-like, torch.Tensor or Representation (n_stimuli, p), (n_stimuli, q)
    measure : {"cka", "rsa", "procrustes", "cca", "mutual_knn"}
    n_permutations : int >= 1
    exact : {"auto", "always", "never"}
        ``"always"`` needs n ≤ 10.
    random_state, device : as in :func:`bootstrap`
    batch_size : int >= 1, optional
        Permutations per batch (default: 16 in feature space, else at most 64 and about 2²⁶ numbers per batch).
    rank : int >= 1, optional
        Linear CKA only: truncate the factors (approximate).
    **options : passed to the measure (see :func:`bootstrap`).

    Returns
    -------
    PermutationResult
    """
    check_option(measure, "measure", MEASURES)
    check_option(exact, "exact", ("auto", "always", "never"))
    n_permutations = check_int(n_permutations, "n_permutations", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1, allow_none=True)
    rank = check_int(rank, "rank", low=1, allow_none=True)
    opts = _opts(measure, options)
    rng = check_random_state(random_state)
    dev = _dev_dtype(device, X, Y)
    x = as_tensor(X, "X", min_rows=3, keep_float32=False, what="stimuli × features")
    y = as_tensor(Y, "Y", min_rows=3, keep_float32=False, what="stimuli × features")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"X and Y must have the same number of stimuli (rows), got {x.shape[0]} and {y.shape[0]}")
    dt = torch.float64 if x.dtype == torch.float64 or y.dtype == torch.float64 else x.dtype
    x, y = x.to(dev, dt), y.to(dev, dt)
    if opts.get("metric") != "precomputed":
        check_variance(x, "X")
        check_variance(y, "Y")
    n = x.shape[0]
    use_exact = exact == "always" or (exact == "auto" and n <= 12 and math.factorial(n) <= n_permutations)
    if exact == "always" and n > 10:
        raise ValueError(f"exact='always' enumerates n! permutations; needs n_stimuli <= 10, got {n}")
    if use_exact:
        perms = torch.as_tensor(np.array(list(itertools.permutations(range(n)))), device=dev)
    else:
        perms = None

    feature = (measure == "cka" and opts.get("kernel", "linear") == "linear" and not opts.get("debiased", False)
               and (rank is not None or x.shape[1] * y.shape[1] < n * n))
    if rank is not None and not feature:
        raise ValueError("rank applies to linear (biased) CKA only")
    qap = None if feature else _qap_mats(measure, x, y, opts)
    if feature:
        xc, yc = center_columns(x), center_columns(y)
        den = float(torch.linalg.norm(xc.T @ xc) * torch.linalg.norm(yc.T @ yc))
        if rank is not None:
            Fa, Fb = _factor(xc, rank), _factor(yc, rank)
        else:
            Fa, Fb = xc, yc       # ‖X̄ᵀ P Ȳ‖² needs no factorisation when p, q are the ranks already
        FaT = Fa.T.contiguous()

        def stat(P):
            M = torch.matmul(FaT.unsqueeze(0), Fb[P])     # (b, r_a, r_b): X̄ᵀ P Ȳ, rows of Y permuted
            return (M * M).sum((1, 2)) / den
        per = Fa.shape[1] * Fb.shape[1] * n
    elif qap is not None:
        A, B, scale = qap

        def stat(P):
            idx = P[:, :, None] * n + P[:, None, :]
            return (B.reshape(-1)[idx] * A).sum((1, 2)) * scale
        per = n * n
    else:
        from . import compare, knn

        fn = {"procrustes": compare.procrustes, "cca": compare.cca, "mutual_knn": knn.mutual_knn}.get(measure)
        if measure == "rsa":
            from .rdm_comparison import rsa

            DA = _rdm_of(x, opts.get("metric", "sqeuclidean"))
            DB = _rdm_of(y, opts.get("metric", "sqeuclidean"))
            method = opts.get("method", "whitened_cosine")

            def stat(P):
                return torch.as_tensor([rsa(DA.cpu().numpy(), DB[p][:, p].cpu().numpy(), method) for p in P])
        else:
            sign = -1.0 if measure == "procrustes" else 1.0   # a distance: small = related

            def stat(P):
                return torch.as_tensor([sign * float(fn(x, y[p], **opts)) for p in P])
        per = 1 << 26
    ident = torch.arange(n, device=dev)[None]
    T = float(stat(ident)[0])
    bsz = batch_size or (16 if feature else max(1, min(64, (1 << 26) // max(per, 1))))
    if use_exact:
        null = torch.cat([stat(perms[s:s + bsz]) for s in range(0, perms.shape[0], bsz)]).cpu().numpy()
    else:
        chunks = []
        base = np.arange(n)
        for s in range(0, n_permutations, bsz):
            b = min(bsz, n_permutations - s)
            P = torch.from_numpy(rng.permuted(np.broadcast_to(base, (b, n)), axis=1)).to(dev)
            chunks.append(stat(P))
        null = torch.cat(chunks).cpu().numpy()
    tol = 1e-12 * max(1.0, abs(T))
    hits = int(np.sum(null >= T - tol))
    if use_exact:
        p = hits / null.size
    else:
        p = (1 + hits) / (null.size + 1)
    if measure == "procrustes":
        T, null = -T, -null
    return PermutationResult(T, float(p), null, int(null.size), bool(use_exact))


# -------------------------------------------------------------------------------------------- noise ceiling
def _pool(V, method):
    """rsatoolbox's ``pool_rdm``: the mean of normalised RDM vectors (rows of V) for a comparison method."""
    if method in ("whitened_cosine", "cosine"):
        V = V / np.sqrt(np.mean(V ** 2, 1, keepdims=True))
        return V.mean(0)
    if method in ("whitened_pearson", "pearson"):
        V = V - V.mean(1, keepdims=True)
        V = V / V.std(1, keepdims=True)
        m = V.mean(0)
        return m - m.min()
    from scipy.stats import rankdata

    return np.mean([rankdata(v) for v in V], 0)


def noise_ceiling(data, measure: str = "rsa", *, method: str = "whitened_cosine", metric: str = "sqeuclidean",
                  kernel: str = "linear"):
    """Noise ceiling from leave-one-subject-out (rsatoolbox's ``boot_noise_ceiling``; Nili et al. 2014).

    For subjects s = 1..S with RDMs (or kernels) d_s:

    * upper = (1/S) Σ_s sim(pool(d_1..d_S), d_s),
    * lower = (1/S) Σ_s sim(pool(d_{−s}), d_s),

    with sim the comparison and pool the best single prediction for it:

    * ``measure="rsa"``: rsatoolbox's ``pool_rdm`` — the mean of RMS-normalised RDM vectors (cosine, whitened
      cosine), of z-scored vectors shifted to a zero minimum (pearson, whitened pearson), or of rank vectors
      (spearman, rho_a, kendall_a); sim is :func:`simcode.similarity.rsa` with ``method``.
    * ``measure="cka"``: the mean of the unit-Frobenius-norm centred kernels HK_sH/‖HK_sH‖ (the maximiser of
      the mean alignment to the subjects); sim is CKA between kernels, ⟨HKH, HLH⟩/(‖HKH‖‖HLH‖).

    Parameters
    ----------
    data : sequence of (n, p_s) arrays / tensors / Representations, or (S, n, p) array; with
        ``metric="precomputed"`` a sequence or stack of (n, n) RDMs (rsa) or kernels (cka).
    measure : {"rsa", "cka"}
    method : str
        RSA comparison (see :func:`simcode.similarity.rsa`).
    metric : str
        RDM metric of the data (rsa), or ``"precomputed"``.
    kernel : {"linear", "rbf", "cosine"}
        CKA kernel (ignored with ``metric="precomputed"``).

    Returns
    -------
    NoiseCeiling
    """
    check_option(measure, "measure", ("rsa", "cka"))
    from .rdm_comparison import rsa

    check_option(method, "method", _RSA_METHODS)
    check_option(kernel, "kernel", ("linear", "rbf", "cosine"))
    subs = _subjects(data, "data")
    S = len(subs)
    if S < 2:
        raise ValueError(f"data must hold at least 2 subjects for a leave-one-out noise ceiling, got {S}")
    n = subs[0].shape[0]
    for i, s in enumerate(subs):
        if s.shape[0] != n:
            raise ValueError(f"data subject {i} has {s.shape[0]} stimuli, subject 0 has {n}")
    subs = [s.to(torch.float64) for s in subs]
    if measure == "rsa":
        Ds = [_rdm_of(s, metric) for s in subs]
        iu = torch.triu_indices(n, n, 1)
        V = np.stack([D[iu[0], iu[1]].cpu().numpy() for D in Ds])
        allp = _pool(V, method)
        up = np.array([rsa(allp, V[s], method) for s in range(S)])
        lo = np.array([rsa(_pool(np.delete(V, s, 0), method), V[s], method) for s in range(S)])
    else:
        if metric == "precomputed":
            Ks = [center_tensor((s + s.T) / 2, False) for s in subs]
        else:
            Ks = [center_tensor(_kernel_of(s, kernel, None), False) for s in subs]
        Ks = [K / torch.linalg.norm(K) for K in Ks]
        tot = sum(Ks)

        def align(P, K):
            return float((P * K).sum() / torch.linalg.norm(P))

        up = np.array([align(tot / S, K) for K in Ks])
        lo = np.array([align((tot - K) / (S - 1), K) for K in Ks])
    return NoiseCeiling(float(lo.mean()), float(up.mean()), lo, up)
