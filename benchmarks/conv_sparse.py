"""Convolutional sparse coding and dictionary learning: simcode vs SPORCO (and alphacsc), side by side.

Run:  python benchmarks/conv_sparse.py [--quick] [--threads 1] [--atom-length 24] [--md out.md]

A. Spike templates (the CRsAE tutorial set-up): a simulated 10 kHz recording of 3 neurons (30 Hz, ≈1.8 ms
   biphasic templates, noise 0.1), cut into 480 windows of 500 samples; 3 filters, non-negative ℓ1 with
   λ = 0.5, every solver started from the same initial filters (windows around large deflections). Reported:
   wall time until the largest template error err(h, ĥ) (after best shift and assignment) drops below 0.1,
   the final error, and the ratio of times to SPORCO's (ConvBPDNDictLearn, xmethod='admm', dmethod='cns').
B. CSC throughput: code 10 s of a recording (100,000 samples) with the true templates, λ = 0.5, ℓ1 ≥ 0;
   simcode's FISTA in 10,000-sample chunks (stops at relative duality gap 1e-3 or 200 iterations) vs
   SPORCO's ADMM ConvBPDN (RelStopTol 1e-3, 200 iterations) on the whole signal; samples per second and each
   solution's objective ½‖y − Hx‖² + λ‖x‖₁ evaluated by SPORCO's own reconstruction (circular boundary) and
   by simcode's (linear boundary).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings

import numpy as np


def spike_data(duration_s, seed=0):
    from simcode.data.spikes import make_spike_recording

    return make_spike_recording(duration_s=duration_s, fs=10_000, n_neurons=3, firing_rate_hz=30.0,
                                template_ms=1.8, amplitude=(4.0, 6.0), noise_std=0.1, random_state=seed)


def max_err(tmpl, atoms):
    from simcode.sparse.atoms import match_atoms

    return float(match_atoms(tmpl, atoms).errors.max())


class Clock:
    """Wall clock that excludes the time spent evaluating the error (the same rule for every solver)."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        self.excluded = 0.0
        self.excluded_cpu = 0.0

    def record(self, trace, tmpl, atoms):
        t, c = time.perf_counter(), time.process_time()
        e = max_err(tmpl, atoms)
        trace.append((t - self.t0 - self.excluded, e, c - self.c0 - self.excluded_cpu))
        self.excluded += time.perf_counter() - t
        self.excluded_cpu += time.process_time() - c


def first_below(trace, thr=0.1, cpu=False):
    for t, e, c in trace:
        if e < thr:
            return c if cpu else t
    return None


def run_simcode_cdl(Y, tmpl, L, lam, init, n_epochs, f32=False, csc_iter=30, solver="auto"):
    import torch

    from simcode.sparse.conv import ConvDictionaryLearning

    if f32:  # a float32 tensor in -> float32 arithmetic
        Y = torch.tensor(Y, dtype=torch.float32)

    trace = []
    clock = Clock()
    cdl = ConvDictionaryLearning(3, L, lam=lam, prior="l1_nonneg", max_iter=n_epochs, csc_max_iter=csc_iter,
                                 filter_max_iter=20, tol=0.0, init=init, solver=solver, device="cpu",
                                 callback=lambda e, est: clock.record(trace, tmpl, est.atoms_))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cdl.fit(Y)
    return trace


def run_simcode_crsae(Y, tmpl, L, lam, init, n_epochs, f32=False, solver="auto", lr=0.02, every=2):
    """CRsAE, decoder gradient (codes of the T = 150 unrolled iterations held fixed), error every 2 minibatches."""

    from simcode.sparse.unrolled import CRsAE

    trace = []
    clock = Clock()
    CRsAE(3, L, lam=lam, n_layers=150, max_iter=n_epochs, batch_size=16, lr=lr, lr_decay=0.9, backprop="decoder",
          dtype="float32" if f32 else None, solver=solver, device="cpu", random_state=0, callback_every=every,
          init=init, callback=lambda e, est: clock.record(trace, tmpl, est.atoms_)).fit(Y)
    return trace


def run_sporco_cdl(Y, tmpl, lam, init, n_iter):
    from sporco.dictlrn import cbpdndl

    D0 = np.ascontiguousarray(init.T)  # (L, M)
    S = np.ascontiguousarray(Y.T)  # (N_len, K_signals)
    trace = []
    clock = [None]

    def cb(d):
        clock[0].record(trace, tmpl, d.getdict().squeeze().T)
        return False

    opt = cbpdndl.ConvBPDNDictLearn.Options({"Verbose": False, "MaxMainIter": n_iter, "Callback": cb,
                                             "CBPDN": {"NonNegCoef": True, "rho": 50.0 * lam + 0.5,
                                                       "AutoRho": {"Enabled": True}},
                                             "CCMOD": {"rho": 10.0, "ZeroMean": False}},
                                            xmethod="admm", dmethod="cns")
    d = cbpdndl.ConvBPDNDictLearn(D0, S, lam, opt, xmethod="admm", dmethod="cns", dimK=1, dimN=1)
    clock[0] = Clock()
    d.solve()
    return trace


def run_alphacsc(Y, tmpl, L, lam, init, n_iter):
    from alphacsc import learn_d_z

    trace = []
    clock = Clock()

    def cb(X, d_hat, z_hat, reg):
        clock.record(trace, tmpl, d_hat)

    learn_d_z(Y, 3, L, reg=lam, n_iter=n_iter, ds_init=init.copy(), solver_z="l-bfgs", callback=cb, verbose=0,
              n_jobs=1)
    return trace


def csc_throughput(sig, tmpl, lam, max_iter):
    import torch

    from simcode.sparse.conv import conv_sparse_code, conv_synthesis

    rows = []
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = conv_sparse_code(sig, tmpl, lam, "l1_nonneg", max_iter=max_iter, tol=1e-3, chunk_size=10_000,
                             device="cpu")
    ts = time.perf_counter() - t
    rows.append(("simcode FISTA, chunks, compiled (f64)", ts, sig.size / ts, r.objective,
                 f"max rel. gap {r.gap:.1e}, {r.n_iter} it."))
    with torch.no_grad():
        s32 = torch.tensor(sig, dtype=torch.float32)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r32 = conv_sparse_code(s32, torch.tensor(tmpl, dtype=torch.float32), lam, "l1_nonneg",
                                   max_iter=max_iter, tol=1e-3, chunk_size=10_000, device="cpu")
        ts = time.perf_counter() - t
    x32 = r32.codes.double().numpy()
    obj32 = 0.5 * np.sum((sig - conv_synthesis(x32, tmpl)) ** 2) + lam * x32.sum()
    rows.append(("simcode FISTA, chunks, compiled (f32)", ts, sig.size / ts, obj32,
                 f"max rel. gap {r32.gap:.1e}, {r32.n_iter} it."))
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rt = conv_sparse_code(sig, tmpl, lam, "l1_nonneg", max_iter=max_iter, tol=1e-3, chunk_size=10_000,
                              solver="torch", device="cpu")
    ts = time.perf_counter() - t
    rows.append(("simcode FISTA, chunks, torch (f64)", ts, sig.size / ts, rt.objective,
                 f"max rel. gap {rt.gap:.1e}, {rt.n_iter} it."))
    try:
        from sporco.admm import cbpdn

        D = np.ascontiguousarray(tmpl.T)
        opt = cbpdn.ConvBPDN.Options({"Verbose": False, "MaxMainIter": max_iter, "RelStopTol": 1e-3,
                                      "NonNegCoef": True, "rho": 50.0 * lam + 0.5, "AutoRho": {"Enabled": True}})
        t = time.perf_counter()
        b = cbpdn.ConvBPDN(D, sig, lam, opt, dimK=0, dimN=1)
        X = b.solve()
        ts = time.perf_counter() - t
        rec = b.reconstruct().squeeze()
        obj_sp = 0.5 * np.sum((sig - rec) ** 2) + lam * np.abs(X).sum()
        rows.append(("SPORCO ConvBPDN (ADMM, f64)", ts, sig.size / ts, obj_sp,
                     f"{b.k if hasattr(b, 'k') else '?'} iterations, circular boundary"))
    except Exception as exc:  # pragma: no cover - depends on the peer
        rows.append(("SPORCO ConvBPDN", float("nan"), float("nan"), float("nan"), f"failed: {exc!r}"[:80]))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--atom-length", type=int, default=24)
    ap.add_argument("--md", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    n_win = 120 if args.quick else 480
    n_epochs = 8 if args.quick else 30
    lam = 0.5
    L = args.atom_length
    sig, tmpl, _ = spike_data(n_win * 0.05)
    Y = sig[: n_win * 500].reshape(n_win, 500)
    from simcode.sparse.conv import init_atoms

    init = init_atoms(torch.tensor(Y[:, None]), 3, 1, (L,), "data", np.random.default_rng(0)).numpy()[:, 0]
    out = []
    out.append(f"machine: {platform.processor() or platform.machine()}, {args.threads} thread(s), shared 2-core CPU "
               f"loaded by other work; python {sys.version.split()[0]}, torch {torch.__version__}, "
               f"numpy {np.__version__}")
    import os

    import numba

    out.append(f"numba {numba.__version__}; load average at start {os.getloadavg()[0]:.2f} (1 min)")
    try:
        import sporco

        out.append(f"sporco {sporco.__version__}")
    except ImportError:
        out.append("sporco not installed")
    out.append(f"\nA. spike templates: {n_win} windows × 500 samples, 3 filters of {L} samples, λ={lam}, "
               f"initial max err {max_err(tmpl, init):.2f}\n")
    # warm-up, not timed: numba JIT compilation (f64 and f32 kernels, cached on disk after the first run)
    # and torch/SPORCO first-call costs
    t = time.perf_counter()
    for f32 in (False, True):
        run_simcode_cdl(Y[:4], tmpl, L, lam, init, 1, f32=f32)
        run_simcode_crsae(Y[:32], tmpl, L, lam, init, 1, f32=f32)
    try:
        run_sporco_cdl(Y[:4], tmpl, lam, init, 2)
    except Exception:
        pass
    out.append(f"warm-up (JIT compile + first calls, excluded from every timing): {time.perf_counter() - t:.1f} s")
    out.append("clock: wall time minus the time spent evaluating the error in the callbacks (same rule for all); "
               "CRsAE's error is evaluated every 2 minibatches, CDL's every epoch, SPORCO's every iteration")
    res = {}
    ep_ae = max(2, n_epochs // 10)
    res["simcode CRsAE (decoder grad, compiled encoder, f64)"] = run_simcode_crsae(Y, tmpl, L, lam, init, ep_ae)
    res["simcode CRsAE (decoder grad, compiled encoder, f32)"] = run_simcode_crsae(Y, tmpl, L, lam, init, ep_ae,
                                                                                  f32=True)
    res["simcode CRsAE (decoder grad, torch loop, f32)"] = run_simcode_crsae(Y, tmpl, L, lam, init, 1, f32=True,
                                                                            solver="torch")
    res["simcode CRsAE (as session 1: lr 0.01, per-epoch err, torch loop, f64)"] = run_simcode_crsae(
        Y, tmpl, L, lam, init, 2, solver="torch", lr=0.01, every=None)
    res["simcode ConvDictionaryLearning (compiled CSC, f64)"] = run_simcode_cdl(Y, tmpl, L, lam, init, n_epochs)
    res["simcode ConvDictionaryLearning (compiled CSC, f32)"] = run_simcode_cdl(Y, tmpl, L, lam, init, n_epochs,
                                                                                f32=True)
    res["simcode ConvDictionaryLearning (compiled CSC 60 it./epoch, f32)"] = run_simcode_cdl(
        Y, tmpl, L, lam, init, n_epochs, f32=True, csc_iter=60)
    res["simcode ConvDictionaryLearning (torch CSC, f32)"] = run_simcode_cdl(Y, tmpl, L, lam, init, n_epochs,
                                                                             f32=True, solver="torch")
    try:
        res["SPORCO cbpdndl (admm/cns)"] = run_sporco_cdl(Y, tmpl, lam, init, 10 * n_epochs)
    except Exception as exc:
        out.append(f"SPORCO failed: {exc!r}")
    try:
        res["alphacsc learn_d_z"] = run_alphacsc(Y, tmpl, L, lam, init, max(2, n_epochs // 3))
    except Exception as exc:
        out.append(f"alphacsc failed: {type(exc).__name__}: {str(exc)[:200]}")
    sp = res.get("SPORCO cbpdndl (admm/cns)")
    sp_t = first_below(sp) if sp else None
    sp_total = sp[-1][0] if sp else None
    sp_c = first_below(sp, cpu=True) if sp else None
    out.append("| solver | evaluations | total s | final max err | s to err<0.1 | ratio vs SPORCO (wall) | "
               "CPU s to err<0.1 | ratio vs SPORCO (CPU time) |")
    out.append("|---|---|---|---|---|---|---|---|")
    for name, tr in res.items():
        tb, cb = first_below(tr), first_below(tr, cpu=True)
        if tb is not None and sp_t is not None:
            ratio, rc = f"{sp_t / tb:.1f}× faster", f"{sp_c / cb:.1f}× faster"
        elif tb is not None and sp_total is not None:
            ratio = f"≥ {sp_total / tb:.1f}× (SPORCO never reached 0.1 in {sp_total:.1f} s)"
            rc = "—"
        else:
            ratio = rc = "—"
        out.append(f"| {name} | {len(tr)} | {tr[-1][0]:.1f} | {tr[-1][1]:.3f} | "
                   f"{'not reached' if tb is None else f'{tb:.1f}'} | {ratio} | "
                   f"{'—' if cb is None else f'{cb:.1f}'} | {rc} |")
    dur = 3.0 if args.quick else 10.0
    sig2, tmpl2, _ = spike_data(dur, seed=1)
    out.append(f"\nB. CSC throughput: {sig2.size} samples, 3 true templates, λ={lam}, ℓ1 ≥ 0\n")
    out.append("| solver | s | samples/s | objective | note |")
    out.append("|---|---|---|---|---|")
    rows = csc_throughput(sig2, tmpl2, lam, 100 if args.quick else 200)
    best = np.nanmin([r[3] for r in rows])
    for name, ts, sps, obj, note in rows:
        out.append(f"| {name} | {ts:.2f} | {sps:,.0f} | {obj:.2f} (rel. {(obj - best) / best:+.1e}) | {note} |")
    ref = rows[0][1]
    for name, ts, *_ in rows[1:]:
        out.append(f"ratio {name} / simcode compiled f64 time: {ts / ref:.2f}")
    out.append(f"\nload average at end {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[2]:.2f} (15 min)")
    text = "\n".join(out)
    print(text)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
