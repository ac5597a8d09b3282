"""Nearest-neighbour alignment of two representations: mutual k-NN and CKNNA (Huh et al. 2024, ICML,
"The Platonic Representation Hypothesis", §3 and Appendix A; the alignment metric of paper 003's
"Platonic representation" slides).

Both are computed in row chunks: the similarity of a chunk of stimuli to all stimuli is formed, the k largest
are taken with ``torch.topk`` (no full sort), and only the n × k neighbour lists are kept — never a dense
n × n similarity or mask. Memory is O(chunk·n + n·k); CUDA tensors are processed on the GPU.
"""

from __future__ import annotations

import torch

from ..core.arrays import check_bool, check_int
from ._inputs import as_tensor, chunk_rows, kind_of, output, paired

__all__ = ["mutual_knn", "cknna", "knn_indices"]


def _unit_scale(t: torch.Tensor, normalize: bool, name: str) -> torch.Tensor:
    """Rows scaled to unit norm (``normalize``), else the whole array scaled by a power of two.

    Both leave the neighbour lists and CKNNA unchanged (they are invariant to positive scalings) but make the
    computation scale-free: each row is first divided by its own largest entry, so the norms neither under-
    nor overflow (no ε floor as in ``torch.nn.functional.normalize``, which changes the answer for data of
    size ~1e-12); without normalisation the power-of-two scaling is exact, so the inner products keep their
    order bit for bit and products of products (CKNNA's HSIC) stay in range even in float32.
    """
    if normalize:
        peak = t.abs().amax(1, keepdim=True)
        if bool((peak == 0).any()):
            raise ValueError(f"{name} has an all-zero row; cosine neighbours are undefined (use normalize=False)")
        t = t / peak
        return t / torch.linalg.norm(t, dim=1, keepdim=True)
    peak = t.abs().max()
    if float(peak) == 0:
        raise ValueError(f"{name} is all zero; its nearest neighbours are undefined")
    _, e = torch.frexp(peak)
    return torch.ldexp(t, -e)


def _prep(X, Y, k, normalize):
    x, y = paired(X, Y)
    n = x.shape[0]
    k = check_int(k, "k", low=1, high=n - 1)
    normalize = check_bool(normalize, "normalize")
    return _unit_scale(x, normalize, "X"), _unit_scale(y, normalize, "Y"), k


def _knn(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Indices (n × k) of the k largest inner products x_i·x_j, j ≠ i."""
    n = x.shape[0]
    idx = torch.empty(n, k, dtype=torch.long, device=x.device)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        S = x[s:e] @ x.T
        r = torch.arange(e - s, device=x.device)
        S[r, r + s] = -float("inf")
        idx[s:e] = torch.topk(S, k, dim=1, largest=True, sorted=False).indices
    return idx


def knn_indices(X, k: int, normalize: bool = True, chunk_size: int | None = None):
    """The k nearest neighbours (largest inner product, or cosine when ``normalize``) of every row, self
    excluded.

    Parameters
    ----------
    X : array-like, torch.Tensor or Representation (n_stimuli, p)
    k : int in [1, n_stimuli - 1]
    normalize : bool
        Cosine similarity (rows L2-normalised) instead of the inner product.
    chunk_size : int >= 1, optional
        Rows per block of the similarity computation (default: ~2²⁵ entries per block).

    Returns
    -------
    idx : integer ndarray or tensor (n_stimuli, k), unordered within a row. Invariant to scaling ``X`` by any
        positive number.
    """
    kind = kind_of(X)
    x = as_tensor(X, "X", min_rows=2, keep_float32=False, what="stimuli × features")
    n = x.shape[0]
    k = check_int(k, "k", low=1, high=n - 1)
    x = _unit_scale(x, check_bool(normalize, "normalize"), "X")
    idx = _knn(x, k, chunk_rows(n, chunk_size))
    return idx if kind.torch else idx.cpu().numpy()


def _match(ia: torch.Tensor, ib: torch.Tensor, chunk: int = 0) -> torch.Tensor:
    """Boolean n × k: whether ia[i, t] is also among ib[i, :]."""
    n, k = ia.shape
    m = torch.empty_like(ia, dtype=torch.bool)
    step = max(1, min(n, (1 << 24) // (k * k)))
    for s in range(0, n, step):
        e = min(n, s + step)
        m[s:e] = (ia[s:e, :, None] == ib[s:e, None, :]).any(2)
    return m


def mutual_knn(X, Y, k: int = 10, normalize: bool = True, chunk_size: int | None = None):
    """Mutual k-NN alignment = (1/n) Σ_i |N_X(i) ∩ N_Y(i)| / k (Huh et al. 2024, eq. in §3 "mutual nearest
    neighbours"), N(i) the k nearest neighbours of stimulus i by inner product (cosine when ``normalize``,
    the platonic-rep default of L2-normalised features), self excluded. In [0, 1]; ≈ k/(n-1) by chance.

    ``X``, ``Y``: arrays, tensors or :class:`simcode.Representation` of the same stimuli; ``k``, ``normalize``,
    ``chunk_size`` as in :func:`knn_indices`. Returns a float for NumPy input, a 0-d tensor for torch input.
    Invariant to scaling X or Y by any positive number."""
    kind = kind_of(X, Y)
    x, y, k = _prep(X, Y, k, normalize)
    c = chunk_rows(x.shape[0], chunk_size)
    ia, ib = _knn(x, k, c), _knn(y, k, c)
    return output(_match(ia, ib, c).sum().to(x.dtype) / (x.shape[0] * k), kind)


def _pair_dots(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, chunk: int = 1 << 20) -> torch.Tensor:
    outv = torch.empty(rows.shape[0], dtype=x.dtype, device=x.device)
    for s in range(0, rows.shape[0], chunk):
        e = min(rows.shape[0], s + chunk)
        outv[s:e] = (x[rows[s:e]] * x[cols[s:e]]).sum(1)
    return outv


def _masked_hsic(x, y, ia, ib, chunk) -> torch.Tensor:
    """Unbiased HSIC (Song et al. 2012, eq. 5) of A = M∘K and B = M∘L, M_ij = 1[j ∈ N_K(i) ∩ N_L(i)],
    K = xxᵀ, L = yyᵀ — from the sparse entry list of M only."""
    n = x.shape[0]
    hit = _match(ia, ib, chunk)
    rows = torch.arange(n, device=x.device)[:, None].expand_as(ia)[hit]
    cols = ia[hit]
    a = _pair_dots(x, rows, cols)
    b = _pair_dots(y, rows, cols)
    sumA, sumB = a.sum(), b.sum()
    colA = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, cols, a)
    rowB = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, rows, b)
    # tr(AB) = Σ_ij A_ij B_ji: entries (i, j) whose transpose (j, i) is also in M; L is symmetric
    keys = rows * n + cols
    if keys.numel():
        skeys = torch.sort(keys).values
        tkeys = cols * n + rows
        pos = torch.searchsorted(skeys, tkeys).clamp_max(skeys.numel() - 1)
        tr = (a * b * (skeys[pos] == tkeys)).sum()
    else:
        tr = a.new_zeros(())
    return (tr + sumA * sumB / ((n - 1) * (n - 2)) - 2.0 * (colA @ rowB) / (n - 2)) / (n * (n - 3))


def cknna(X, Y, k: int = 10, normalize: bool = True, chunk_size: int | None = None):
    """Centred kernel nearest-neighbour alignment (Huh et al. 2024, Appendix A, "CKNNA"):

    CKNNA = HSIC_u(M∘K, M∘L) / sqrt(HSIC_u(M_K∘K, M_K∘K) · HSIC_u(M_L∘L, M_L∘L)),

    with K = XXᵀ, L = YYᵀ (rows L2-normalised when ``normalize``), M_K the k-NN indicator of K (self
    excluded), M = M_K∘M_L, and HSIC_u the unbiased estimator of Song et al. (2012). Computed from the
    sparse neighbour lists (no dense n × n matrix). Needs n ≥ 4 and k ≥ 2. Unlike platonic-rep's code we do
    not add 1e-6 to the denominator.

    ``X``, ``Y``: arrays, tensors or :class:`simcode.Representation`; ``k``, ``normalize``, ``chunk_size`` as
    in :func:`knn_indices`. Returns a float for NumPy input, a 0-d tensor for torch input. Invariant to scaling
    X or Y by any positive number (both are rescaled before the HSICs, so nothing under- or overflows)."""
    kind = kind_of(X, Y)
    x, y, k = _prep(X, Y, k, normalize)
    n = x.shape[0]
    if n < 4 or k < 2:
        raise ValueError(f"cknna needs n_stimuli >= 4 and k >= 2, got n={n}, k={k}")
    c = chunk_rows(n, chunk_size)
    ia, ib = _knn(x, k, c), _knn(y, k, c)
    kl = _masked_hsic(x, y, ia, ib, c)
    kk = _masked_hsic(x, x, ia, ia, c)
    ll = _masked_hsic(y, y, ib, ib, c)
    if float(kk) <= 0 or float(ll) <= 0:
        raise ValueError("the k-NN restricted self-HSIC is not positive; CKNNA is undefined for these data")
    return output(kl / (torch.sqrt(kk) * torch.sqrt(ll)), kind)
