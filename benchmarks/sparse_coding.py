"""Sparse coding and dictionary learning: simcode vs SPAMS, scikit-learn (and SPORCO), side by side.

Run:  python benchmarks/sparse_coding.py [--quick] [--threads 1] [--device cpu|cuda] [--md out.md]

Problems (issue 6):
  A. lasso coding, 20,000 samples × 64 features, 128 atoms
  B. lasso coding, 5,000 samples × 256 features, 512 atoms
  C. dictionary learning on 20,000 whitened 8×8 natural-image patches, 128 atoms: one epoch each, then the
     objective of every learned dictionary evaluated the same way (exact codes by simcode's certified solver)
Objective: ½‖x − zD‖² + λ‖z‖₁ summed over samples (SPAMS' lasso mode 2 and scikit-learn's sparse_encode with
alpha=λ use exactly this scale). "rel. obj." is (objective − best objective of all solvers) / best.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np


def _obj(X, D, Z, lam):
    return float(np.sum(0.5 * ((X - Z @ D) ** 2).sum(1) + lam * np.abs(Z).sum(1)))


def _timeit(fn, repeat=1):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _data_gaussian(n, p, K, rng):
    D = rng.standard_normal((K, p))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    k = max(1, K // 16)
    Z = np.zeros((n, K))
    idx = np.argsort(rng.random((n, K)), axis=1)[:, :k]
    np.put_along_axis(Z, idx, rng.uniform(1, 2, (n, k)) * rng.choice([-1, 1], (n, k)), axis=1)
    X = Z @ D + 0.1 * rng.standard_normal((n, p))
    return X, D


def lasso_problem(name, X, D, lam, threads, device, rows, skip_slow=False):
    import torch
    from sklearn.decomposition import sparse_encode as sk_encode

    from simcode.sparse.fista import active_set, fista

    n = X.shape[0]
    results = {}
    t, r = _timeit(lambda: active_set(X, D, lam, tol=1e-6))
    results["simcode active_set (f64)"] = (t, _obj(X, D, r.codes, lam), f"max rel. gap {r.stop_value.max():.1e}")
    if device == "cuda" and torch.cuda.is_available():
        Xc, Dc = torch.tensor(X, device="cuda", dtype=torch.float32), torch.tensor(D, device="cuda",
                                                                                 dtype=torch.float32)
        active_set(Xc[:100], Dc, lam)  # warm-up
        torch.cuda.synchronize()
        t, r = _timeit(lambda: (active_set(Xc, Dc, lam, tol=1e-6), torch.cuda.synchronize())[0])
        results["simcode active_set (cuda f32)"] = (t, _obj(X, D, r.codes.double().cpu().numpy(), lam), "")
        t, r = _timeit(lambda: (fista(Xc, Dc, lam, tol=1e-5, max_iter=5000), torch.cuda.synchronize())[0])
        results["simcode FISTA (cuda f32)"] = (t, _obj(X, D, r.codes.double().cpu().numpy(), lam), "")
    m = min(n, 2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, r = _timeit(lambda: fista(X[:m], D, lam, tol=1e-6, max_iter=5000))
    ref_m = active_set(X[:m], D, lam, tol=1e-10)
    results[f"simcode FISTA (f64), first {m} rows ×{n / m:g}"] = (
        t * n / m, None, f"rel. obj. on those rows {(_obj(X[:m], D, r.codes, lam) - _obj(X[:m], D, ref_m.codes, lam)) / _obj(X[:m], D, ref_m.codes, lam):.1e}")
    try:
        import spams

        Xf, Df = np.asfortranarray(X.T), np.asfortranarray(D.T)
        t, A = _timeit(lambda: spams.lasso(Xf, D=Df, lambda1=lam, mode=2, numThreads=threads))
        results["SPAMS lasso (LARS)"] = (t, _obj(X, D, np.asarray(A.todense()).T, lam), "")
    except ImportError:
        results["SPAMS lasso (LARS)"] = (np.nan, None, "not installed")
    t, Z = _timeit(lambda: sk_encode(X, D, algorithm="lasso_cd", alpha=lam, max_iter=1000, n_jobs=threads))
    results["scikit-learn lasso_cd"] = (t, _obj(X, D, Z, lam), "")
    if not skip_slow:
        t, Z = _timeit(lambda: sk_encode(X, D, algorithm="lasso_lars", alpha=lam, n_jobs=threads))
        results["scikit-learn lasso_lars"] = (t, _obj(X, D, Z, lam), "")
    best = min(v[1] for v in results.values() if v[1] is not None)
    base = results["simcode active_set (f64)"][0]
    for k, (t, o, note) in results.items():
        rel = "" if o is None else f"{(o - best) / best:.1e}"
        rows.append((name, k, f"{t:.3f}", rel, f"{t / base:.2f}" if np.isfinite(t) else "", note))


def dictionary_problem(name, P, K, lam, threads, rows, quick):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    from simcode.sparse.dictionary import DictionaryLearning
    from simcode.sparse.fista import active_set

    rng = np.random.default_rng(0)
    D0 = P[rng.choice(P.shape[0], K, replace=False)]
    D0 = D0 / np.linalg.norm(D0, axis=1, keepdims=True)
    out = {}
    bs = 256
    dl = DictionaryLearning(K, lam=lam, method="online", max_iter=1, batch_size=bs, dict_init=D0, coding_tol=1e-4,
                            random_state=0)
    t, _ = _timeit(lambda: dl.fit(P))
    out["simcode DictionaryLearning online (1 epoch)"] = (t, dl.components_)
    try:
        import spams

        Pf = np.asfortranarray(P.T)
        iters = int(np.ceil(P.shape[0] / bs))
        t, Dsp = _timeit(lambda: spams.trainDL(Pf, D=np.asfortranarray(D0.T), lambda1=lam, mode=2, iter=iters,
                                               batchsize=bs, numThreads=threads, verbose=False))
        out["SPAMS trainDL (1 epoch)"] = (t, np.asarray(Dsp).T)
    except ImportError:
        pass
    mb = MiniBatchDictionaryLearning(K, alpha=lam, batch_size=bs, max_iter=1, dict_init=D0,
                                     transform_algorithm="lasso_cd", random_state=0, fit_algorithm="cd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, _ = _timeit(lambda: mb.fit(P))
    out["scikit-learn MiniBatchDictionaryLearning (1 epoch)"] = (t, mb.components_)
    objs = {}
    for k, (t, D) in out.items():
        Dn = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1)  # all solvers keep ‖d‖ ≤ 1
        Z = active_set(P, Dn, lam, tol=1e-8).codes
        objs[k] = _obj(P, Dn, Z, lam) / P.shape[0]
    Z0 = active_set(P, D0, lam, tol=1e-8).codes
    f0 = _obj(P, D0, Z0, lam) / P.shape[0]
    base = out["simcode DictionaryLearning online (1 epoch)"][0]
    for k, (t, _) in out.items():
        rows.append((name, k, f"{t:.3f}", f"F = {objs[k]:.4f} (init {f0:.4f})", f"{t / base:.2f}", ""))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--md", default=None, help="write the table as Markdown to this file")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    from simcode.data import load_image_patches

    nA = 4000 if args.quick else 20000
    nB = 1000 if args.quick else 5000
    XA, DA = _data_gaussian(nA, 64, 128, rng)
    lamA = 0.1 * float(np.median(np.abs(XA @ DA.T).max(1)))
    lasso_problem(f"A: Gaussian lasso {nA}×64, K=128, λ={lamA:.3g}", XA, DA, lamA, args.threads, args.device, rows)
    P8 = load_image_patches(8, nA, random_state=0)
    Dp = P8[rng.choice(nA, 128, replace=False)]
    Dp /= np.linalg.norm(Dp, axis=1, keepdims=True)
    lamP = 0.1 * float(np.median(np.abs(P8 @ Dp.T).max(1)))
    lasso_problem(f"A': patch lasso {nA}×64, K=128 (coherent atoms), λ={lamP:.3g}", P8, Dp, lamP, args.threads,
                  args.device, rows)
    XB, DB = _data_gaussian(nB, 256, 512, rng)
    lamB = 0.1 * float(np.median(np.abs(XB @ DB.T).max(1)))
    lasso_problem(f"B: Gaussian lasso {nB}×256, K=512, λ={lamB:.3g}", XB, DB, lamB, args.threads, args.device, rows,
                  skip_slow=args.quick)
    dictionary_problem(f"C: dictionary learning, {nA} whitened 8×8 patches, K=128, λ={lamP:.3g}", P8, 128, lamP,
                       args.threads, rows, args.quick)

    import sklearn

    try:
        import spams  # noqa: F401

        spams_v = "spams-bin (installed)"
    except ImportError:
        spams_v = "not installed"
    head = (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared, loaded by other "
            f"work), threads per solver: {args.threads}; python {sys.version.split()[0]}, torch {torch.__version__}, "
            f"scikit-learn {sklearn.__version__}, SPAMS {spams_v}")
    lines = [head, "", "| problem | solver | time (s) | rel. obj. / objective | time ÷ simcode | note |",
             "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
