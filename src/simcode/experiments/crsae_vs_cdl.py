"""CRsAE (unrolled auto-encoder trained by back-propagation) against alternating convolutional dictionary
learning on the same simulated spike recording: template error vs wall time (paper 004, "Training of AE is
fast")."""

from __future__ import annotations

import time

from simcode.experiments import Context, experiment


@experiment("crsae-vs-cdl", description="CRsAE vs alternating CDL on one simulated spike recording: template "
            "error against wall time", cpu_time="~90 s", sources=("004 'Training of AE is fast'",))
def run(ctx: Context) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simcode.sparse.atoms import match_atoms
    from simcode.sparse.unrolled import CRsAE

    from .spike_sorting import ATOM_LENGTH, LAM, learn_cdl, simulate, windows

    n_win, n_epochs = (120, 12) if ctx.quick else (240, 15)
    # back-propagation through 150 unrolled iterations costs seconds per minibatch on a CPU: not in --quick
    crsae_epochs = {"decoder": 6, "full": 3} if not ctx.quick else {"decoder": 6}
    sig, tmpl, _ = simulate(ctx, n_win * 500 / 10_000)
    Y = windows(sig, n_win)
    dev = "cuda" if ctx.device == "cuda" else "cpu"

    import torch

    # one-time imports outside the clocks: torch.optim's first optimiser imports torch._dynamo (1-3 s)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])

    cdl, cdl_trace = learn_cdl(ctx, Y, tmpl, n_epochs)

    results = {}
    for bp in crsae_epochs:
        trace = []
        t0 = time.perf_counter()
        bar = iter(ctx.track(range(crsae_epochs[bp]), f"CRsAE ({bp}) epochs"))

        def cb(epoch, est, trace=trace, t0=t0, bar=bar):
            next(bar, None)
            trace.append((time.perf_counter() - t0, float(match_atoms(tmpl, est.atoms_).errors.max())))

        CRsAE(3, ATOM_LENGTH, lam=LAM, n_layers=150, max_iter=crsae_epochs[bp], batch_size=16,
              lr=0.02 if bp == "decoder" else 0.01, lr_decay=0.9, backprop=bp, random_state=ctx.seed, callback=cb,
              callback_every=3, device=dev).fit(Y)
        results[bp] = trace

    ctx.metric("cdl_final_err", cdl_trace[-1][1])
    ctx.metric("cdl_time_s", cdl_trace[-1][0])
    def first_below(tr):
        return next((t for t, e in tr if e < 0.1), None)

    ctx.metric("cdl_s_to_err_0.1", first_below(cdl_trace))
    for bp, tr in results.items():
        ctx.metric(f"crsae_{bp}_final_err", tr[-1][1])
        ctx.metric(f"crsae_{bp}_time_s", tr[-1][0])
        ctx.metric(f"crsae_{bp}_s_to_err_0.1", first_below(tr))
    best = min(tr[-1][1] for tr in results.values())
    ctx.claim("CRsAE learns the spike templates (max err < 0.1)", source="004 'AE performs dictionary learning'",
              measured=best, expected=0.1, kind="at_most")
    ctx.claim("alternating CDL learns the spike templates (max err < 0.1)", source="004 'Optimization perspective'",
              measured=cdl_trace[-1][1], expected=0.1, kind="at_most")
    ctx.note("Same windows, same λ, same 'data' initialisation rule for both. CRsAE restarts its T = 150 FISTA "
             "iterations from zero codes for every batch, while alternating CDL warm-starts its codes; on CPU "
             "each CRsAE epoch also pays for back-propagation through the unrolled loop ('full'), so it gets "
             "fewer epochs. With the decoder gradient the codes are constants, so the encoder runs without an "
             "autograd graph in the compiled kernel (sparse codes by the filters' Gram); CDL's CSC step uses the "
             "same kernel. CRsAE's error is recorded every 3 minibatches, CDL's every epoch; the wall times "
             "include the error evaluations. Back-propagation through all 150 unrolled iterations ('full', lr 0.01) "
             "is reported as measured: in an earlier run (seed 0) it did not reduce the error of its initial filters "
             "within 3 epochs, while the decoder gradient did. Tried: T = 30 with Adam lr 0.02-0.05 plateaued at "
             "max err 0.2-0.6 (a short unrolled "
             "encoder leaves the codes of these coherent, shifted filters unconverged and the learned filters "
             "compensate); T = 150 with lr 0.01 reached max err ≈ 0.07 on 240 windows in 8 epochs (decoder "
             "gradient).")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(*zip(*cdl_trace), "o-", label="alternating CDL")
    for bp, tr in results.items():
        ax.semilogy(*zip(*tr), "s-", label=f"CRsAE (backprop={bp})")
    ax.axhline(0.1, color="r", ls=":")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("max template err")
    ax.legend()
    fig.tight_layout()
    ctx.figure("err_vs_time", fig, "Largest template error (after best shift and assignment) against wall time, "
               "one marker per CDL epoch and per 3 CRsAE minibatches, for alternating CDL and CRsAE trained through the whole unrolled encoder "
               "('full') or through the decoder only.")
    plt.close(fig)
