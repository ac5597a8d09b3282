"""Representation-comparison benchmark: simcode.similarity vs the tools people use.

Cases (each run in a fresh process so peak memory can be read from the OS; same data for both sides):

* RDM + whitened-cosine comparison (rsatoolbox ``calc_rdm`` + ``compare(method="cosine_cov")``) vs
  ``rdm`` + ``rsa(method="whitened_cosine")``.
* linear CKA: Gram-space reference as in Kornblith et al.'s notebook (n × n kernels, mean-centred) vs
  ``cka`` (feature space), plus an exact streamed CKA over N = 10⁶ rows in bounded memory (``CKAAccumulator``).
* mutual k-NN: platonic-rep style reference (dense n × n similarity, full argsort, dense n × n masks) vs
  ``mutual_knn`` (chunked top-k, no n × n mask).

Run: ``python benchmarks/similarity.py [--small]``. Peer code here is a plain re-statement of what those tools
compute (written for this benchmark), or the installed package itself (rsatoolbox).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _data(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    Y = X[:, : p // 2] @ rng.normal(size=(p // 2, p)) + rng.normal(size=(n, p))
    return X, Y


# ------------------------------------------------------------------------------------------------- cases
def case_rsa_rsatoolbox(n, p):
    import rsatoolbox

    X, Y = _data(n, p)
    base = _rss_mb()
    t = time.perf_counter()
    d1 = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(X), method="euclidean")
    d2 = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(Y), method="euclidean")
    v = float(rsatoolbox.rdm.compare(d1, d2, method="cosine_cov")[0, 0])
    return time.perf_counter() - t, _rss_mb() - base, v


def _warm_rsa(condensed, dtype):
    """Compile / load the numba kernels on a tiny problem first (JIT time is excluded from every timing)."""
    from simcode.similarity import rdm, rsa

    Z = np.random.default_rng(1).normal(size=(300, 3))
    rsa(rdm(Z, "sqeuclidean", condensed=condensed, dtype=dtype),
        rdm(Z + 1, "sqeuclidean", condensed=condensed, dtype=dtype), "whitened_cosine")


def case_rsa_simcode(n, p, condensed=False, dtype=None):
    import torch

    from simcode.similarity import rdm, rsa

    torch.set_num_threads(1)
    X, Y = _data(n, p)
    _warm_rsa(condensed, dtype)
    base = _rss_mb()
    t = time.perf_counter()
    # rsatoolbox's 'euclidean' RDM holds squared distances / n_channels; the cosine is scale-free
    d1 = rdm(X, "sqeuclidean", condensed=condensed, dtype=dtype)
    d2 = rdm(Y, "sqeuclidean", condensed=condensed, dtype=dtype)
    v = float(rsa(d1, d2, "whitened_cosine"))
    return time.perf_counter() - t, _rss_mb() - base, v


def case_rsa_simcode_fused(n, p):
    from simcode.similarity import rsa_data

    X, Y = _data(n, p)
    base = _rss_mb()
    t = time.perf_counter()
    v = float(rsa_data(X, Y, "sqeuclidean", "whitened_cosine"))   # identity: never forms the n × n RDMs
    return time.perf_counter() - t, _rss_mb() - base, v


def case_cka_gram_reference(n, p):
    X, Y = _data(n, p)
    base = _rss_mb()
    t = time.perf_counter()
    K, L = X @ X.T, Y @ Y.T                       # Kornblith et al.'s notebook: HSIC in Gram space
    # centre_gram by row/column means (cheaper than torch-cka's dense H @ K @ H, which is O(n³))
    Kc = K - K.mean(0, keepdims=True) - K.mean(1, keepdims=True) + K.mean()
    Lc = L - L.mean(0, keepdims=True) - L.mean(1, keepdims=True) + L.mean()
    v = float(np.sum(Kc * Lc) / np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc)))
    return time.perf_counter() - t, _rss_mb() - base, v


def case_cka_simcode(n, p):
    from simcode.similarity import cka

    X, Y = _data(n, p)
    base = _rss_mb()
    t = time.perf_counter()
    v = cka(X, Y)
    return time.perf_counter() - t, _rss_mb() - base, v


def case_cka_stream(n, p, batch=20000):
    import torch

    from simcode.similarity import CKAAccumulator

    rng = torch.Generator().manual_seed(0)
    M = torch.randn(p, p, generator=rng, dtype=torch.float64) / p ** 0.5
    base = _rss_mb()
    t = time.perf_counter()
    acc = CKAAccumulator()
    for _ in range(n // batch):
        Xb = torch.randn(batch, p, generator=rng, dtype=torch.float64)
        acc.update(Xb, Xb @ M + torch.randn(batch, p, generator=rng, dtype=torch.float64))
    v = float(acc.result()), float(acc.result(debiased=True))
    return time.perf_counter() - t, _rss_mb() - base, v


def case_knn_platonic_reference(n, p, k=10):
    import torch

    X, Y = _data(n, p)
    base = _rss_mb()
    t = time.perf_counter()
    A = torch.nn.functional.normalize(torch.from_numpy(X).float(), dim=-1)
    B = torch.nn.functional.normalize(torch.from_numpy(Y).float(), dim=-1)

    def knn(F):
        S = F @ F.T
        S.fill_diagonal_(-1e8)
        return S.argsort(dim=1, descending=True)[:, :k]

    ka, kb = knn(A), knn(B)
    ma = torch.zeros(n, n).scatter_(1, ka, 1.0)
    mb = torch.zeros(n, n).scatter_(1, kb, 1.0)
    v = float(((ma * mb).sum(1) / k).mean())
    return time.perf_counter() - t, _rss_mb() - base, v


def case_knn_simcode(n, p, k=10):
    import torch

    from simcode.similarity import mutual_knn

    X, Y = _data(n, p)
    base = _rss_mb()
    t = time.perf_counter()
    v = float(mutual_knn(torch.from_numpy(X).float(), torch.from_numpy(Y).float(), k))
    return time.perf_counter() - t, _rss_mb() - base, v


def _run(fn, *args):
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="smaller sizes (smoke test)")
    ap.add_argument("--only", choices=("rsa", "cka", "knn", "stream"), action="append",
                    help="run only these cases (repeatable)")
    a = ap.parse_args()
    from importlib.metadata import version

    import torch

    import numba

    print(f"torch {torch.__version__}, rsatoolbox {version('rsatoolbox')}, numpy {np.__version__}, numba "
          f"{numba.__version__}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; load average {os.getloadavg()}")
    n_rsa = 1000 if a.small else 5000
    n_cka = 2000 if a.small else 10000
    n_stream = 100_000 if a.small else 1_000_000
    n_knn = 4096 if a.small else 16384
    rows = []

    def pair(name, peer, ours, peer_args, our_args):
        tp, mp_, vp = _run(peer, *peer_args)
        to, mo, vo = _run(ours, *our_args)
        rows.append((name, tp, mp_, to, mo, tp / to, abs(vp - vo)))
        print(f"{name:38s} peer {tp:8.3f} s {mp_:8.0f} MB | simcode {to:8.3f} s {mo:8.0f} MB | "
              f"speed-up {tp / to:7.1f}× | |Δ value| {abs(vp - vo):.1e}", flush=True)

    want = set(a.only or ("rsa", "cka", "knn", "stream"))
    if "rsa" in want:
        from functools import partial

        # one rsatoolbox measurement (best of 2 fresh processes) against every simcode variant (best of 3)
        peer = min((_run(case_rsa_rsatoolbox, n_rsa, 100) for _ in range(2)), key=lambda r: r[0])
        for label, kw in (("square float64", {}), ("condensed float64", dict(condensed=True)),
                          ("square float32", dict(dtype="float32")),
                          ("condensed float32", dict(condensed=True, dtype="float32")), ("rsa_data", None)):
            fn = case_rsa_simcode_fused if kw is None else partial(case_rsa_simcode, **kw)
            to, mo, vo = min((_run(fn, n_rsa, 100) for _ in range(3)), key=lambda r: r[0])
            name = (f"rdm ({label}) ×2 + rsa whitened_cosine vs calc_rdm ×2 + compare(cosine_cov), N={n_rsa}, p=100"
                    if kw is not None else f"rsa_data (identity, no RDM formed) vs the same, N={n_rsa}, p=100")
            rows.append((name, peer[0], peer[1], to, mo, peer[0] / to, abs(peer[2] - vo)))
            print(f"{name}: peer {peer[0]:.3f} s {peer[1]:.0f} MB | simcode {to:.3f} s {mo:.0f} MB | "
                  f"speed-up {peer[0] / to:.1f}× | |Δ value| {abs(peer[2] - vo):.1e}", flush=True)
    if "cka" in want:
        pair(f"linear CKA N={n_cka}, p=512 (Gram-space ref)", case_cka_gram_reference, case_cka_simcode,
             (n_cka, 512), (n_cka, 512))
    if "knn" in want:
        pair(f"mutual kNN N={n_knn}, p=256, k=10 (platonic ref)", case_knn_platonic_reference, case_knn_simcode,
             (n_knn, 256), (n_knn, 256))
    if "stream" in want:
        ts, ms, vs = _run(case_cka_stream, n_stream, 512)
        print(f"streamed exact linear CKA N={n_stream} x 512: {ts:.1f} s, peak extra memory {ms:.0f} MB, "
              f"CKA {vs[0]:.6f}, debiased {vs[1]:.6f}")
    print("\n| case | peer time (s) | peer peak MB | simcode time (s) | simcode peak MB | speed-up | |Δ value| |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.3f} | {r[2]:.0f} | {r[3]:.3f} | {r[4]:.0f} | {r[5]:.1f}× | {r[6]:.1e} |")


if __name__ == "__main__":
    main()
