"""Nearest-neighbour alignment of two representations: mutual k-NN and CKNNA (Huh et al. 2024, ICML,
"The Platonic Representation Hypothesis", §3 and Appendix A; the alignment metric of paper 003's
"Platonic representation" slides).

Both are computed in row chunks: the similarity of a chunk of stimuli to all stimuli is formed, the k largest
are taken with ``torch.topk`` (no full sort), and only the n × k neighbour lists are kept — never a dense
n × n similarity or mask. Memory is O(chunk·n + n·k); CUDA tensors are processed on the GPU.
"""

from __future__ import annotations

import torch

from ._backend import is_torch, out, pair

__all__ = ["mutual_knn", "cknna", "knn_indices"]


def _prep(X, Y, k, normalize):
    x, y = pair(X, Y)
    n = x.shape[0]
    if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k >= n:
        raise ValueError(f"k must be an int in [1, n_stimuli - 1] = [1, {n - 1}], got {k!r}")
    if normalize:
        for t, nm in ((x, "X"), (y, "Y")):
            if bool((torch.linalg.norm(t, dim=1) == 0).any()):
                raise ValueError(f"{nm} has an all-zero row; cosine neighbours are undefined (use normalize=False)")
        x = torch.nn.functional.normalize(x, dim=1)
        y = torch.nn.functional.normalize(y, dim=1)
    return x, y


def _chunk(n: int, chunk_size: int | None) -> int:
    if chunk_size is not None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
        return int(chunk_size)
    return max(1, min(n, (1 << 25) // max(n, 1)))


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
    excluded: an integer array n × k (unordered within a row)."""
    torch_in = is_torch(X)
    x, _ = _prep(X, X, k, normalize)
    idx = _knn(x, k, _chunk(x.shape[0], chunk_size))
    return idx if torch_in else idx.cpu().numpy()


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
    the platonic-rep default of L2-normalised features), self excluded. In [0, 1]; ≈ k/(n-1) by chance."""
    torch_in = is_torch(X, Y)
    x, y = _prep(X, Y, k, normalize)
    c = _chunk(x.shape[0], chunk_size)
    ia, ib = _knn(x, k, c), _knn(y, k, c)
    return out(_match(ia, ib, c).sum().to(x.dtype) / (x.shape[0] * k), torch_in)


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
    not add 1e-6 to the denominator."""
    torch_in = is_torch(X, Y)
    x, y = _prep(X, Y, k, normalize)
    n = x.shape[0]
    if n < 4 or k < 2:
        raise ValueError(f"cknna needs n_stimuli >= 4 and k >= 2, got n={n}, k={k}")
    c = _chunk(n, chunk_size)
    ia, ib = _knn(x, k, c), _knn(y, k, c)
    kl = _masked_hsic(x, y, ia, ib, c)
    kk = _masked_hsic(x, x, ia, ia, c)
    ll = _masked_hsic(y, y, ib, ib, c)
    if float(kk) <= 0 or float(ll) <= 0:
        raise ValueError("the k-NN restricted self-HSIC is not positive; CKNNA is undefined for these data")
    return out(kl / torch.sqrt(kk * ll), torch_in)
