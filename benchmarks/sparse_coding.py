"""Sparse coding and dictionary learning: simcode vs SPAMS and scikit-learn, side by side in one run.

Run:  python benchmarks/sparse_coding.py [--quick] [--threads 1] [--device cpu|cuda] [--with-lars] [--md out.md]

Problems (issue 6):
  A. lasso coding, 20,000 samples × 64 features, 128 atoms (Gaussian dictionary)
  A'. the same on whitened 8×8 natural-image patches with 128 patch atoms (coherent dictionary)
  B. lasso coding, 5,000 samples × 256 features, 512 atoms
  C. dictionary learning on 20,000 whitened 8×8 natural-image patches, 128 atoms: 1–3 epochs each from the same
     initial dictionary; every learned dictionary is evaluated the same way (exact codes by simcode's certified
     solver, atoms clipped to ‖d‖ ≤ 1), so that the time to reach a given objective can be read off.
Objective: ½‖x − zD‖² + λ‖z‖₁ summed over samples (SPAMS' lasso mode 2 and scikit-learn's sparse_encode with
alpha=λ use exactly this scale). "rel. obj." is (objective − best objective of all solvers) / best.
Times: wall clock (best of --repeat for the fast solvers) and the process CPU time of that run, every solver on
one thread; numba's JIT compile time is excluded by a warm-up call and measured separately (cold cache).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # thread caps must be set before NumPy/BLAS load
    _t = "1"
    for _i, _a in enumerate(sys.argv):
        if _a == "--threads" and _i + 1 < len(sys.argv):
            _t = sys.argv[_i + 1]
        elif _a.startswith("--threads="):
            _t = _a.split("=", 1)[1]
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_v, _t)

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def _obj(X, D, Z, lam):
    return float(np.sum(0.5 * ((X - Z @ D) ** 2).sum(1) + lam * np.abs(Z).sum(1)))


def _timeit(fn, repeat=1):
    """(best wall time, CPU time of that run, output)."""
    best, cpu, out = np.inf, np.nan, None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        t, c = time.perf_counter() - t, time.process_time() - c
        if t < best:
            best, cpu = t, c
    return best, cpu, out


def _data_gaussian(n, p, K, rng):
    D = rng.standard_normal((K, p))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    k = max(1, K // 16)
    Z = np.zeros((n, K))
    idx = np.argsort(rng.random((n, K)), axis=1)[:, :k]
    np.put_along_axis(Z, idx, rng.uniform(1, 2, (n, k)) * rng.choice([-1, 1], (n, k)), axis=1)
    X = Z @ D + 0.1 * rng.standard_normal((n, p))
    return X, D


def compile_times():
    """Numba compile time of the LARS and coordinate-descent kernels with a cold cache, and the load time with a
    warm one (subprocess)."""
    code = ("import time, numpy as np; t = time.perf_counter(); "
            "from simcode.sparse._lars import lars_lasso; "
            "from simcode.sparse._dictionary_update import dict_bcd_unit_norm; "
            "from simcode.sparse._coordinate_descent import cd_lasso; "
            "D = np.eye(3); lars_lasso(D, D, 0.1, False); lars_lasso(D, D, 0.1, True); "
            "cd_lasso(D, D, 0.1, False, np.ones(3)); cd_lasso(D, D, 0.1, True, np.ones(3)); "
            "dict_bcd_unit_norm(D.copy(), D, D, 1); print(time.perf_counter() - t)")
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        for _ in range(2):  # cold, then warm cache
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            out.append(float(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else np.nan)
    return out


def lasso_problem(name, X, D, lam, threads, device, rows, repeat, with_lars):
    import torch
    from sklearn.decomposition import sparse_encode as sk_encode

    from simcode.sparse.coding import active_set, fista

    n = X.shape[0]
    m = min(n, 2000)
    results = {}
    from simcode.sparse._coordinate_descent import lasso_gram

    for s in ("lars", "cd"):
        active_set(X[:50], D, lam, solver=s)  # warm-up: JIT compile / cache load excluded
    auto_pick = lasso_gram(X @ D.T, D @ D.T, lam, False, (X * X).sum(1), tol=1e-6, n_features=X.shape[1])[-1]
    t, c, r = _timeit(lambda: active_set(X, D, lam, tol=1e-6), repeat)
    results[f"simcode active_set (auto → {auto_pick}), f64"] = (t, c, _obj(X, D, r.codes, lam),
                                                               f"max rel. gap {r.stop_value.max():.1e}; "
                                                               f"{n - r.n_polished} to fallback")
    for s, label in (("lars", "LARS"), ("cd", "working-set CD")):
        t, c, r = _timeit(lambda: active_set(X, D, lam, tol=1e-6, solver=s), repeat)
        results[f"simcode active_set solver='{s}': {label} (numba), f64"] = (
            t, c, _obj(X, D, r.codes, lam), f"max rel. gap {r.stop_value.max():.1e}; {n - r.n_polished} to fallback")
    X32, D32 = X.astype(np.float32), D.astype(np.float32)
    t, c, r = _timeit(lambda: active_set(X32, D32, lam, tol=1e-6), repeat)
    results["simcode active_set (auto), f32 in/out"] = (t, c, _obj(X, D, r.codes.astype(np.float64), lam),
                                                                f"max rel. gap {r.stop_value.max():.1e}")
    ref_m = active_set(X[:m], D, lam, tol=1e-10)
    o_ref = _obj(X[:m], D, ref_m.codes, lam)
    t, c, r = _timeit(lambda: active_set(X[:m], D, lam, tol=1e-6, solver="torch"))
    results[f"simcode active_set: batched torch (session 1), first {m} rows ×{n / m:g}"] = (
        t * n / m, c * n / m, None, f"rel. obj. on those rows {(_obj(X[:m], D, r.codes, lam) - o_ref) / o_ref:.1e}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, c, r = _timeit(lambda: fista(X[:m], D, lam, tol=1e-6, max_iter=5000))
    results[f"simcode FISTA (f64), first {m} rows ×{n / m:g}"] = (
        t * n / m, c * n / m, None, f"rel. obj. on those rows {(_obj(X[:m], D, r.codes, lam) - o_ref) / o_ref:.1e}")
    if device == "cuda" and torch.cuda.is_available():
        Xc, Dc = (torch.tensor(a, device="cuda", dtype=torch.float32) for a in (X, D))
        active_set(Xc[:100], Dc, lam)
        torch.cuda.synchronize()
        t, c, r = _timeit(lambda: (active_set(Xc, Dc, lam, tol=1e-6), torch.cuda.synchronize())[0])
        results["simcode active_set (cuda f32, torch path)"] = (t, c, _obj(X, D, r.codes.double().cpu().numpy(),
                                                                            lam), "")
    try:
        import spams

        Xf, Df = np.asfortranarray(X.T), np.asfortranarray(D.T)
        t, c, A = _timeit(lambda: spams.lasso(Xf, D=Df, lambda1=lam, mode=2, numThreads=threads), repeat)
        results["SPAMS lasso (LARS)"] = (t, c, _obj(X, D, np.asarray(A.todense()).T, lam), "")
    except ImportError:
        results["SPAMS lasso (LARS)"] = (np.nan, np.nan, None, "not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its ConvergenceWarnings (max_iter=1000) are reflected in rel. obj.
        t, c, Z = _timeit(lambda: sk_encode(X, D, algorithm="lasso_cd", alpha=lam, max_iter=1000, n_jobs=threads))
    results["scikit-learn lasso_cd"] = (t, c, _obj(X, D, Z, lam), "")
    if with_lars:
        t, c, Z = _timeit(lambda: sk_encode(X, D, algorithm="lasso_lars", alpha=lam, n_jobs=threads))
        results["scikit-learn lasso_lars"] = (t, c, _obj(X, D, Z, lam), "")
    best = min(v[2] for v in results.values() if v[2] is not None)
    base_t, base_c = results[f"simcode active_set (auto → {auto_pick}), f64"][:2]
    for k, (t, c, o, note) in results.items():
        rel = "" if o is None else f"{(o - best) / best:.1e}"
        rows.append((name, k, f"{t:.3f}", f"{c:.3f}", rel, f"{t / base_t:.2f}" if np.isfinite(t) else "",
                     f"{c / base_c:.2f}" if np.isfinite(c) else "", note))


def dictionary_problem(name, P, K, lam, threads, rows, epochs):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    from simcode.sparse.coding import active_set
    from simcode.sparse.dictionary import DictionaryLearning

    # a fixed number of epochs is the protocol here: the fits stop at max_iter by design
    warnings.filterwarnings("ignore", message="DictionaryLearning.fit did not converge")
    rng = np.random.default_rng(0)
    D0 = P[rng.choice(P.shape[0], K, replace=False)]
    D0 = D0 / np.linalg.norm(D0, axis=1, keepdims=True)
    bs = 256
    runs = []  # (solver, epochs, wall, cpu, D)
    stamps = []
    DictionaryLearning(K, lam=lam, solver="online", max_iter=1, batch_size=bs, dict_init=D0).fit(P[:bs])  # warm-up

    def cb(it, comp, _):
        stamps.append((time.perf_counter(), time.process_time(), comp.copy()))

    dl = DictionaryLearning(K, lam=lam, solver="online", max_iter=epochs, batch_size=bs, dict_init=D0,
                            coding_tol=1e-6, random_state=0, callback=cb)
    t0, c0 = time.perf_counter(), time.process_time()
    dl.fit(P)
    for e, (t, c, D) in enumerate(stamps, 1):
        runs.append(("simcode DictionaryLearning online", e, t - t0, c - c0, D))
    try:
        import spams

        Pf = np.asfortranarray(P.T)
        iters = int(np.ceil(P.shape[0] / bs))
        for e in range(1, epochs + 1):
            t, c, Dsp = _timeit(lambda: spams.trainDL(Pf, D=np.asfortranarray(D0.T), lambda1=lam, mode=2,
                                                      iter=e * iters, batchsize=bs, numThreads=threads,
                                                      verbose=False))
            runs.append(("SPAMS trainDL", e, t, c, np.asarray(Dsp).T))
    except ImportError:
        pass
    mb = MiniBatchDictionaryLearning(K, alpha=lam, batch_size=bs, max_iter=1, dict_init=D0,
                                     transform_algorithm="lasso_cd", random_state=0, fit_algorithm="cd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, c, _ = _timeit(lambda: mb.fit(P))
    runs.append(("scikit-learn MiniBatchDictionaryLearning", 1, t, c, mb.components_))
    Z0 = active_set(P, D0, lam, tol=1e-8).codes
    f0 = _obj(P, D0, Z0, lam) / P.shape[0]
    base = {e: (t, c) for s, e, t, c, _ in runs if s.startswith("simcode")}
    for solver, e, t, c, D in runs:
        Dn = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1)  # all solvers keep ‖d‖ ≤ 1
        F = _obj(P, Dn, active_set(P, Dn, lam, tol=1e-8).codes, lam) / P.shape[0]
        bt, bc = base.get(e, (np.nan, np.nan))
        rows.append((name, f"{solver} ({e} epoch{'s' if e > 1 else ''})", f"{t:.3f}", f"{c:.3f}",
                     f"F = {F:.4f} (init {f0:.4f})", f"{t / bt:.2f}", f"{c / bc:.2f}", ""))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs for the fast solvers")
    ap.add_argument("--epochs", type=int, default=3, help="dictionary-learning epochs (simcode, SPAMS)")
    ap.add_argument("--with-lars", action="store_true", help="also time scikit-learn lasso_lars (minutes)")
    ap.add_argument("--md", default=None, help="write the table as Markdown to this file")
    args = ap.parse_args(argv)
    import numba
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    rng = np.random.default_rng(0)
    rows = []
    from simcode.data import load_image_patches

    load0 = os.getloadavg()
    cold, warm = compile_times()
    nA = 4000 if args.quick else 20000
    nB = 1000 if args.quick else 5000
    XA, DA = _data_gaussian(nA, 64, 128, rng)
    lamA = 0.1 * float(np.median(np.abs(XA @ DA.T).max(1)))
    lasso_problem(f"A: Gaussian lasso {nA}×64, K=128, λ={lamA:.3g}", XA, DA, lamA, args.threads, args.device, rows,
                  args.repeat, args.with_lars)
    P8 = load_image_patches(8, nA, random_state=0)
    Dp = P8[rng.choice(nA, 128, replace=False)]
    Dp /= np.linalg.norm(Dp, axis=1, keepdims=True)
    lamP = 0.1 * float(np.median(np.abs(P8 @ Dp.T).max(1)))
    lasso_problem(f"A': patch lasso {nA}×64, K=128 (coherent atoms), λ={lamP:.3g}", P8, Dp, lamP, args.threads,
                  args.device, rows, args.repeat, args.with_lars)
    XB, DB = _data_gaussian(nB, 256, 512, rng)
    lamB = 0.1 * float(np.median(np.abs(XB @ DB.T).max(1)))
    lasso_problem(f"B: Gaussian lasso {nB}×256, K=512, λ={lamB:.3g}", XB, DB, lamB, args.threads, args.device, rows,
                  args.repeat, args.with_lars)
    dictionary_problem(f"C: dictionary learning, {nA} whitened 8×8 patches, K=128, λ={lamP:.3g}", P8, 128, lamP,
                       args.threads, rows, args.epochs)
    load1 = os.getloadavg()

    import sklearn

    try:
        from importlib.metadata import version

        spams_v = version("spams-bin")
    except Exception:
        spams_v = "not installed"
    head = (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other work; "
            f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end), threads per solver: {args.threads}; "
            f"python {sys.version.split()[0]}, numpy {np.__version__}, numba {numba.__version__}, torch "
            f"{torch.__version__}, scikit-learn {sklearn.__version__}, spams-bin {spams_v}. numba JIT compile "
            f"(cold cache, excluded from the times): {cold:.1f} s; load from the warm cache: {warm:.1f} s.")
    lines = [head, "", "| problem | solver | wall (s) | CPU (s) | rel. obj. / objective | wall ÷ simcode | "
             "CPU ÷ simcode | note |", "|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
