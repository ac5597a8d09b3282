"""Before/after regression benchmark: the same workloads on two checkouts of simcode, interleaved, in one run.

Run:  python benchmarks/before_after.py --before /path/to/old/src [--rounds 3] [--repeat 3] [--md out.md]

Each workload is the core operation of one of the peer benchmarks in this folder (the peers' times do not change
between the two checkouts, so a simcode time that does not grow means a peer ratio that does not drop). For every
round, every workload runs in a fresh subprocess first on the old and then on the new checkout (the order
alternates between rounds); each subprocess makes one untimed warm-up call (numba's JIT and caches excluded),
then ``--repeat`` timed calls. Reported: the median wall time and the median process CPU time over all timed
calls of each side, the new/old ratio, and each side's objective or output checksum (computed from the returned
solution), which must agree. Threads: 1 for BLAS, OpenMP, numba and torch in every subprocess. The 1-, 5- and
15-minute load averages are recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()

# ------------------------------------------------------------------------------------------------- workloads
# Each returns (callable doing the timed work, function of its output giving a checked number).
# ``new`` is True on the checkout with simcode.core (the vocabulary of issue 14); the old one keeps its names.


def w_onoff(n, new):
    from simcode.convex import Problem, activity_cost, nonnegative, readout_cost
    from simcode.data import onoff_stimulus

    I, p = onoff_stimulus("exponential", p_zero=0.2, n_points=n)
    if new:
        def run():
            return Problem([activity_cost(p), readout_cost(I, lam=0.5, affine=True)], [nonnegative()]).solve(
                solver="firstorder", tol=1e-6, device="cpu")
    else:
        def run():
            return Problem([activity_cost(p), readout_cost(I, weight=0.5, affine=True)], [nonnegative()]).solve(
                backend="firstorder", tol=1e-6, device="cpu")
    return run, lambda sol: float(sol.objective)


def _lasso_data(n, p, K, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    D = rng.standard_normal((K, p))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    Z = rng.standard_normal((n, K)) * (rng.random((n, K)) < 0.05)
    X = Z @ D + 0.1 * rng.standard_normal((n, p))
    lam = 0.1 * float(np.abs(X @ D.T).max())
    return X, D, lam


def w_lasso(n, p, K, new):
    import numpy as np
    from simcode.sparse import active_set

    X, D, lam = _lasso_data(n, p, K)

    def run():
        return active_set(X, D, lam=lam, tol=1e-6)
    return run, lambda r: float(np.sum(np.asarray(r.objective)))


def w_fista(new):
    import numpy as np
    from simcode.sparse import fista

    X, D, lam = _lasso_data(4000, 64, 128, seed=1)

    def run():
        return fista(X, D, lam=lam, prior="l1_nonneg", tol=1e-6, max_iter=2000)
    return run, lambda r: float(np.sum(np.asarray(r.objective)))


def w_dictionary(new):
    import numpy as np
    from simcode.data import load_image_patches
    from simcode.sparse import DictionaryLearning

    X = load_image_patches(patch_size=8, n_patches=20000, random_state=0)
    X = X.reshape(len(X), -1)
    kw = dict(n_components=128, lam=0.1, max_iter=1, batch_size=256, random_state=0)
    kw["solver" if new else "method"] = "online"

    def run():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return DictionaryLearning(**kw).fit(X)
    return run, lambda m: float(np.abs(m.components_).sum())


def w_csc(new):
    import numpy as np
    from simcode.data.spikes import make_spike_recording
    from simcode.sparse import conv_sparse_code

    signal, templates, _ = make_spike_recording(duration_s=12, random_state=0)
    y = signal.reshape(24, 5000)

    def run():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return conv_sparse_code(y, templates, lam=0.5, prior="l1_nonneg", max_iter=200, tol=1e-4)
    return run, lambda r: float(np.abs(np.asarray(r.codes)).sum())


def w_cdl(new):
    import numpy as np
    from simcode.data.spikes import make_spike_recording
    from simcode.sparse import ConvDictionaryLearning

    signal, _, _ = make_spike_recording(duration_s=12, random_state=0)
    windows = signal.reshape(240, 500)
    if new:
        kw = dict(n_components=3, atom_length=24, lam=0.5, prior="l1_nonneg", max_iter=5, random_state=0)
    else:
        kw = dict(n_atoms=3, atom_length=24, lam=0.5, prior="l1_nonneg", n_epochs=5, random_state=0)

    def run():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ConvDictionaryLearning(**kw).fit(windows)
    return run, lambda m: float(np.abs(np.asarray(m.atoms_)).sum())


def w_cka(new):
    import numpy as np
    from simcode.similarity import cka

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10000, 512))
    Y = X @ rng.standard_normal((512, 512)) * 0.1 + rng.standard_normal((10000, 512))
    return (lambda: cka(X, Y)), float


def w_rdm(new):
    import numpy as np
    from simcode.similarity import rdm

    X = np.random.default_rng(0).standard_normal((5000, 100))
    return (lambda: rdm(X, "euclidean")), lambda D: float(np.asarray(D).sum())


def w_knn(new):
    import numpy as np
    from simcode.similarity import mutual_knn

    rng = np.random.default_rng(0)
    X = rng.standard_normal((8192, 128))
    Y = X + rng.standard_normal((8192, 128))
    return (lambda: mutual_knn(X, Y, k=10)), float


def w_ksm(new):
    import numpy as np
    from simcode.data import make_sparse_dictionary_data
    from simcode.ksm import KernelSimilarityMatching

    X, _, _ = make_sparse_dictionary_data(1500, 30, 16, 0.125, random_state=0)
    kw = dict(n_components=16, lam=0.5, random_state=0, device="cpu")
    kw["max_iter" if new else "max_epochs"] = 10

    def run():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return KernelSimilarityMatching(**kw).fit(X)
    return run, lambda m: float(np.abs(np.asarray(m.components_)).sum())


def w_convex_relu(new):
    import numpy as np

    rng = np.random.default_rng(0)
    X = np.c_[rng.standard_normal((200, 2)), np.ones(200)]
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.standard_normal(200)
    if new:
        from simcode.nets import ConvexReLURegressor as Est
    else:
        from simcode.nets import ConvexReLU as Est

    def run():
        return Est(lam=0.1, n_patterns=100, random_state=0).fit(X, y)
    return run, lambda m: float(m.objective_)


def w_identifiability(new):
    import numpy as np
    from simcode.convex import solve_affine_autoencoder

    g = np.linspace(0, 1, 21)
    S = np.array([(a, b) for a in g for b in g])
    t = np.deg2rad(150)
    A = np.array([[1, np.cos(t)], [0, np.sin(t)]])
    return (lambda: solve_affine_autoencoder(S, A, lam=0.1)), lambda s: float(s.measure.objective)


WORKLOADS = {
    "convex ON/OFF n=80 (firstorder, tol 1e-6)": lambda new: w_onoff(80, new),
    "convex ON/OFF n=320 (firstorder, tol 1e-6)": lambda new: w_onoff(320, new),
    "lasso A 20000×64, K=128 (active_set)": lambda new: w_lasso(20000, 64, 128, new),
    "lasso B 5000×256, K=512 (active_set)": lambda new: w_lasso(5000, 256, 512, new),
    "FISTA l1_nonneg 4000×64, K=128": w_fista,
    "dictionary learning, 1 online epoch, 20000 patches, K=128": w_dictionary,
    "conv_sparse_code, 24 × 5000 samples, 3 filters": w_csc,
    "ConvDictionaryLearning, 5 epochs, 240 windows": w_cdl,
    "linear CKA 10000×512": w_cka,
    "Euclidean RDM 5000×100": w_rdm,
    "mutual k-NN 8192×128, k=10": w_knn,
    "KSM fit, 1500×30, K=16, 10 epochs": w_ksm,
    "convex ReLU fit, 200×3, 100 patterns": w_convex_relu,
    "affine autoencoder optimum (identifiability), 441×2": w_identifiability,
}


def _child(name: str, repeat: int) -> None:
    import simcode

    new = hasattr(simcode, "core") or os.path.isdir(os.path.join(os.path.dirname(simcode.__file__), "core"))
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    run, check = WORKLOADS[name](new)
    out = run()  # warm-up: JIT, caches, first-touch
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = run()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    print(json.dumps({"wall": walls, "cpu": cpus, "check": check(out), "new": new}))


def _run_side(src: str, name: str, repeat: int) -> dict:
    env = dict(os.environ, PYTHONPATH=src, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(HERE), "--child", name, "--repeat", str(repeat)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=False, help="src folder of the old checkout")
    ap.add_argument("--after", default=str(HERE.parents[1] / "src"), help="src folder of the new checkout")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated substrings of workload names")
    ap.add_argument("--md", default="")
    ap.add_argument("--child", default="")
    a = ap.parse_args()
    if a.child:
        _child(a.child, a.repeat)
        return
    if not a.before:
        ap.error("--before is required")
    names = [n for n in WORKLOADS if not a.only or any(s in n for s in a.only.split(","))]
    load0 = os.getloadavg()
    t0 = time.time()
    res = {n: {"before": {"wall": [], "cpu": [], "check": None}, "after": {"wall": [], "cpu": [], "check": None}}
           for n in names}
    errors = {}
    for r in range(a.rounds):
        for n in names:
            order = [("before", a.before), ("after", a.after)]
            if r % 2:
                order.reverse()
            for side, src in order:
                out = _run_side(src, n, a.repeat)
                if "error" in out:
                    errors[(n, side)] = out["error"]
                    continue
                res[n][side]["wall"] += out["wall"]
                res[n][side]["cpu"] += out["cpu"]
                res[n][side]["check"] = out["check"]
            print(f"round {r + 1}/{a.rounds}: {n} done", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0))
    lines = [f"Run {stamp}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}; 1 thread everywhere; {a.rounds} rounds × "
             f"{a.repeat} timed calls per side (old/new order alternating); load average before "
             f"{load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, after {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}.", "",
             "| workload | before wall (s) | after wall (s) | after/before wall | before CPU (s) | after CPU (s) "
             "| check before | check after |", "|---|---|---|---|---|---|---|---|"]
    for n in names:
        b, f = res[n]["before"], res[n]["after"]
        if not b["wall"] or not f["wall"]:
            lines.append(f"| {n} | {errors.get((n, 'before'), '')} | {errors.get((n, 'after'), '')} | — | | | | |")
            continue
        bw, fw = statistics.median(b["wall"]), statistics.median(f["wall"])
        bc, fc = statistics.median(b["cpu"]), statistics.median(f["cpu"])
        lines.append(f"| {n} | {bw:.4f} | {fw:.4f} | {fw / bw:.2f} | {bc:.4f} | {fc:.4f} | {b['check']:.8g} | "
                     f"{f['check']:.8g} |")
    text = "\n".join(lines)
    print(text)
    if a.md:
        Path(a.md).write_text(text + "\n")


if __name__ == "__main__":
    main()
