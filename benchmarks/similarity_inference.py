"""Statistics-for-comparisons benchmark: simcode.similarity.inference vs rsatoolbox, and the CKA permutation test.

Cases (same data for both sides, same process, interleaved repeats after a warm-up, medians; threads pinned):

1. 1,000 bootstrap samples over stimuli of the whitened-cosine RSA (rsatoolbox ``cosine_cov``) between a fixed
   model RDM and 10 subjects' RDMs of 100 stimuli (the statistic: mean over subjects):
   rsatoolbox ``inference.eval_bootstrap_pattern(ModelFixed, RDMs, method="cosine_cov", N=1000,
   boot_noise_ceil=False)`` (its fastest documented setting: no noise ceiling per sample) vs
   ``bootstrap(model, subjects, "rsa", metric="precomputed", n_boot=1000, ci="percentile")``. Also the same over
   subjects and stimuli (``eval_bootstrap`` vs ``over="both"``). rsatoolbox's sparse code path (≥ 100 conditions)
   fails on bootstrap samples; it is routed to rsatoolbox's own dense indicator matrices (see bench_bootstrap).
   The two sides draw their own resamples, so the
   check is on the distributions (mean and standard deviation within Monte-Carlo error) and on the estimate.
2. A 10,000-permutation test of linear CKA at 5,000 × 512 (both representations): the exact feature-space
   statistic ‖X̄ᵀPȲ‖²_F as batched products (timed on a subset of the permutations and extrapolated, since the
   full run takes minutes on 2 cores), and the rank-truncated factors (``rank=``, leading eigenvectors of the
   centred Grams: an approximation) timed in full, with their null distribution compared to the exact one.

Run: ``python benchmarks/similarity_inference.py [--small]``; results: benchmarks/results/similarity_inference.md.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "2")

import argparse
import platform
import time

import numpy as np
import torch

THREADS = int(os.environ["OMP_NUM_THREADS"])
torch.set_num_threads(THREADS)


def _timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def _rsa_data(n=100, S=10, p=20, seed=0):
    from scipy.spatial.distance import pdist, squareform

    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    model = squareform(pdist(Z, "sqeuclidean"))
    subs = [squareform(pdist(Z @ rng.standard_normal((p, 30)) + 2.0 * rng.standard_normal((n, 30)), "sqeuclidean"))
            for _ in range(S)]
    return model, subs


def bench_bootstrap(n_boot, repeats, over):
    import rsatoolbox
    from scipy.spatial.distance import squareform

    from simcode.similarity import bootstrap

    import sys

    # rsatoolbox switches to sparse indicator matrices at 100 conditions, and that path fails on RDMs with missing
    # entries (every bootstrap sample has them: int8 sparse matrix divided in place, then a sparse/dense shape
    # mismatch). Route it to rsatoolbox's own dense indicator (the code it runs below 100 conditions) so that it
    # runs at all; nothing else is changed.
    rc = sys.modules["rsatoolbox.rdm.compare"]
    rc.row_col_indicator_g_sparse = rc.row_col_indicator_g
    model, subs = _rsa_data()
    m_rsa = rsatoolbox.model.ModelFixed("m", rsatoolbox.rdm.RDMs(squareform(model, checks=False)[None]))
    d_rsa = rsatoolbox.rdm.RDMs(np.stack([squareform(s, checks=False) for s in subs]))
    peer_fn = (rsatoolbox.inference.eval_bootstrap_pattern if over == "stimuli"
               else rsatoolbox.inference.eval_bootstrap)

    def peer():
        np.random.seed(1)
        r = peer_fn(m_rsa, d_rsa, method="cosine_cov", N=n_boot, boot_noise_ceil=False)
        return np.asarray(r.evaluations).reshape(n_boot, -1).mean(1)

    def ours():
        return bootstrap(model, subs, "rsa", metric="precomputed", over=over, n_boot=n_boot, ci="percentile",
                         random_state=1)

    peer_small = lambda: peer_fn(m_rsa, d_rsa, method="cosine_cov", N=5, boot_noise_ceil=False)  # noqa: E731
    peer_small()
    ours()                                              # warm-up
    rows = {"simcode": [], "rsatoolbox": []}
    outs = {}
    for _ in range(repeats):
        for name, fn in (("rsatoolbox", peer), ("simcode", ours)):
            w, c, out = _timed(fn)
            rows[name].append((w, c))
            outs[name] = out
    est = float(np.mean(rsatoolbox.rdm.compare(m_rsa.rdm_obj, d_rsa, "cosine_cov")))
    a, b = outs["rsatoolbox"], outs["simcode"].samples
    a = a[np.isfinite(a)]
    se = np.sqrt(a.var() / a.size + b.var() / b.size)
    check = dict(estimate_rsatoolbox=est, estimate_simcode=outs["simcode"].estimate,
                 mean_rsatoolbox=float(a.mean()), mean_simcode=float(b.mean()), se=float(se),
                 sd_rsatoolbox=float(a.std()), sd_simcode=float(b.std()),
                 ok=bool(abs(est - outs["simcode"].estimate) < 1e-10 and abs(a.mean() - b.mean()) < 4 * se
                         and abs(a.std() / b.std() - 1) < 4 * np.sqrt(1 / (2 * a.size)) + 4 / np.sqrt(b.size)))
    med = {k: (float(np.median([r[0] for r in v])), float(np.median([r[1] for r in v]))) for k, v in rows.items()}
    return med, check


def bench_permutation(n, p, n_perm, exact_subset, rank):
    from simcode.similarity import permutation_test

    rng = np.random.default_rng(0)
    # network-like features: a decaying spectrum (singular values ∝ 1/k) and a shared component
    Z = rng.standard_normal((n, p))
    scale = 1.0 / np.arange(1, p + 1)
    X = (Z * scale) @ np.linalg.qr(rng.standard_normal((p, p)))[0]
    Y = (0.3 * Z + rng.standard_normal((n, p))) * scale @ np.linalg.qr(rng.standard_normal((p, p)))[0]
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    permutation_test(Xt[:200], Yt[:200], n_permutations=20, random_state=0)      # warm-up
    ex_runs, tr_runs = [], []
    for _ in range(3):                                   # interleaved repeats, medians
        ex_runs.append(_timed(lambda: permutation_test(Xt, Yt, n_permutations=exact_subset, random_state=0)))
        tr_runs.append(_timed(lambda: permutation_test(Xt, Yt, n_permutations=n_perm, random_state=0, rank=rank)))
    w_ex, c_ex = float(np.median([r[0] for r in ex_runs])), float(np.median([r[1] for r in ex_runs]))
    w_tr, c_tr = float(np.median([r[0] for r in tr_runs])), float(np.median([r[1] for r in tr_runs]))
    ex, tr = ex_runs[0][2], tr_runs[0][2]
    # same permutations (same seed): the truncated null vs the exact null on the first exact_subset of them
    err = float(np.max(np.abs(tr.null[:exact_subset] - ex.null)) / np.std(ex.null))
    return dict(exact_wall_subset=w_ex, exact_cpu_subset=c_ex, exact_wall_extrapolated=w_ex * n_perm / exact_subset,
                trunc_wall=w_tr, trunc_cpu=c_tr, statistic=float(ex.statistic), stat_trunc=float(tr.statistic),
                p_exact_subset=ex.p_value, p_trunc=tr.p_value, null_err_in_sd=err,
                null_mean_exact=float(ex.null.mean()), null_mean_trunc=float(tr.null[:exact_subset].mean()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    n_boot = 200 if args.small else 1000
    repeats = 1 if args.small else 2
    lines = ["# similarity inference benchmark", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threads pinned: "
             f"OMP/MKL/OPENBLAS/NUMBA={THREADS}, torch.set_num_threads({THREADS}); load average at start "
             f"{os.getloadavg()[0]:.2f}; torch {torch.__version__}. Medians of {repeats} interleaved repeats after a "
             "warm-up; wall and CPU seconds.", ""]
    lines += ["## 1. Bootstrap of whitened-cosine RSA (100 stimuli × 10 subjects, "
              f"{n_boot} samples)", "",
              "| resampled | rsatoolbox wall / CPU (s) | simcode wall / CPU (s) | ratio (wall) | distributions agree |",
              "| --- | --- | --- | --- | --- |"]
    checks = []
    for over in ("stimuli", "both"):
        med, chk = bench_bootstrap(n_boot, repeats, over)
        ratio = med["rsatoolbox"][0] / med["simcode"][0]
        lines.append(f"| {over} | {med['rsatoolbox'][0]:.3f} / {med['rsatoolbox'][1]:.3f} | "
                     f"{med['simcode'][0]:.4f} / {med['simcode'][1]:.4f} | {ratio:.0f}× | {chk['ok']} |")
        checks.append((over, chk))
        print(over, med, chk, flush=True)
    lines += ["", "Checks (same data; each side its own draws): estimate, mean and sd of the bootstrap samples:", ""]
    for over, c in checks:
        lines.append(f"* {over}: estimate rsatoolbox {c['estimate_rsatoolbox']:.10f} / simcode "
                     f"{c['estimate_simcode']:.10f}; mean {c['mean_rsatoolbox']:.4f} / {c['mean_simcode']:.4f} "
                     f"(MC se {c['se']:.4f}); sd {c['sd_rsatoolbox']:.4f} / {c['sd_simcode']:.4f}")
    n, p = (1000, 128) if args.small else (5000, 512)
    n_perm = 1000 if args.small else 10000
    sub = 50 if args.small else 200
    rank = 64
    load2 = os.getloadavg()[0]
    r = bench_permutation(n, p, n_perm, sub, rank)
    print(r, flush=True)
    lines += ["", f"## 2. Permutation test of linear CKA at {n} × {p} (float32), {n_perm} permutations", "",
              f"Load average before this section: {load2:.2f}; medians of 3 interleaved repeats.", "",
              "| path | wall (s) | CPU (s) | note |", "| --- | --- | --- | --- |",
              f"| exact, ‖X̄ᵀPȲ‖²_F batched | {r['exact_wall_extrapolated']:.1f} (extrapolated from {sub}) | "
              f"{r['exact_cpu_subset'] * n_perm / sub:.1f} | {sub} permutations took {r['exact_wall_subset']:.2f} s |",
              f"| rank-{rank} factors (approximate) | {r['trunc_wall']:.2f} | {r['trunc_cpu']:.2f} | null within "
              f"{r['null_err_in_sd']:.3f} null-sd of the exact one on the same permutations |", "",
              f"Statistic: exact {r['statistic']:.6f}, rank-{rank} {r['stat_trunc']:.6f}; p (exact, {sub} perms) "
              f"{r['p_exact_subset']:.4g}, p (rank-{rank}, {n_perm}) {r['p_trunc']:.4g}; null mean exact "
              f"{r['null_mean_exact']:.6f} / rank-{rank} {r['null_mean_trunc']:.6f}."]
    out = os.path.join(os.path.dirname(__file__), "results", "similarity_inference" + ("_small" if args.small else "")
                       + ".md")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
