"""Two-layer ReLU networks through their convex reformulation (paper 003, "Hidden convexity in two-layer ReLU
network"): the convex optimum is attained by the recovered network and no Adam run beats it; the whitened
closed form V* = Σ(σ_i − λ/2)₊ a_i b_iᵀ where its condition holds."""

from __future__ import annotations

import numpy as np

from simcode.experiments import Context, experiment


def _gates_2d(X):
    """All activation patterns of 2-D data: one gate inside each arc between consecutive boundary angles."""
    th = np.arctan2(X[:, 1], X[:, 0])
    ang = np.sort(np.mod(np.r_[th + np.pi / 2, th - np.pi / 2], 2 * np.pi))
    nxt = np.r_[ang[1:], ang[0] + 2 * np.pi]
    mids = (ang + nxt) / 2
    return np.vstack([np.cos(mids), np.sin(mids)])


def _adam(X, Y, lam, M, n_seeds, steps, seed, device="cpu"):
    import torch

    g = torch.Generator().manual_seed(seed)
    Xt, Yt = torch.from_numpy(X).to(device), torch.from_numpy(Y.reshape(len(X), -1)).to(device)
    W1 = (torch.randn(n_seeds, M, X.shape[1], generator=g, dtype=torch.float64) * 0.5).to(device).requires_grad_()
    W2 = (torch.randn(n_seeds, Yt.shape[1], M, generator=g, dtype=torch.float64) * 0.5).to(device).requires_grad_()
    opt = torch.optim.Adam([W1, W2], lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    curves = []
    for _ in range(steps):
        opt.zero_grad()
        F = torch.relu(Xt @ W1.transpose(1, 2)) @ W2.transpose(1, 2)
        per = ((Yt - F) ** 2).sum((1, 2)) + lam / 2 * ((W1 ** 2).sum((1, 2)) + (W2 ** 2).sum((1, 2)))
        curves.append(per.detach().cpu().numpy())
        per.sum().backward()
        opt.step()
        sched.step()
    curves = np.array(curves)
    b = int(np.argmin(curves[-1]))
    return curves, W1[b].detach().cpu().numpy(), W2[b].detach().cpu().numpy()


@experiment("convex-relu", description="Two-layer ReLU nets with weight decay solved as a convex group lasso: "
            "recovered network = convex optimum, Adam never beats it; whitened closed form", cpu_time="~40 s",
            sources=("003 equivalent convex problem", "003 Corollary 1 (whitened data)"))
def run(ctx: Context) -> None:
    import matplotlib.pyplot as plt

    from simcode.nets import ConvexReLURegressor

    rng = ctx.rng
    n_seeds, steps = (6, 1000) if ctx.quick else (24, 4000)
    n, lam, M = 24, 0.05, 40
    x = np.sort(rng.uniform(-3, 3, n))
    X = np.c_[x, np.ones(n)]                  # input and bias: 2-D, so every activation pattern can be listed
    y = np.sin(1.5 * x) + 0.1 * rng.normal(size=n)
    gates = _gates_2d(X)
    model = ConvexReLURegressor(lam=lam, gates=gates).fit(X, y)
    ctx.metric("activation patterns (exhaustive)", int(model.gates_.shape[1]))
    ctx.metric("convex optimum", model.objective_)
    ctx.metric("recovered network objective", model.network_objective_)
    ctx.metric("dual lower bound", model.lower_bound_)
    ctx.metric("hidden units used", int(model.to_network()[0].shape[0]))
    curves, W1, W2 = _adam(X, y, lam, M, n_seeds, steps, ctx.seed, ctx.device)
    final = curves[-1]
    best_ever = curves.min(0)
    ctx.metric("Adam final objectives (min, median, max)", [float(final.min()), float(np.median(final)),
                                                              float(final.max())])
    rel = (model.network_objective_ - model.objective_) / model.objective_
    ctx.claim("the recovered ReLU network's non-convex objective equals the convex optimum (relative difference)",
              source="003 equivalence", measured=float(abs(rel)), expected=0.0, kind="at_most", tol=1e-6)
    ctx.claim("duality-gap certificate of the convex solve (relative)", source="003 bi-dual = primal",
              measured=float(model.gap_ / model.objective_), expected=0.0, kind="at_most", tol=1e-6)
    ctx.claim("no Adam run on the non-convex problem goes below the convex optimum (min relative excess over "
              "all runs and iterations)", source="003 equivalence", measured=float((best_ever.min() - model.objective_)
                                                                                 / model.objective_),
              expected=0.0, kind="at_least", tol=1e-4)
    ctx.metric("fraction of Adam runs ending within 1% of the optimum",
               float(np.mean(final <= model.objective_ * 1.01)))

    # the first-order solver (ADMM in torch: the GPU path) on the same program
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fo = ConvexReLURegressor(lam=lam, gates=gates, solver="torch", device=ctx.device, dtype=None, tol=1e-7,
                        max_iter=3000 if ctx.quick else 20000).fit(X, y)
    ctx.metric("ADMM (solver='torch'): iterations, network objective, certified lower bound",
               [int(fo.n_iter_), fo.network_objective_, fo.lower_bound_])
    ctx.claim("first-order ADMM solver reaches the interior-point optimum (relative difference of the recovered "
              "networks' objectives)", source="003 equivalent convex problem",
              measured=float(abs(fo.network_objective_ - model.objective_) / model.objective_), expected=0.0,
              kind="at_most", tol=1e-4)
    ctx.claim("the ADMM certificate is a valid lower bound (bound ≤ interior-point optimum)",
              source="Lagrange duality", measured=bool(fo.lower_bound_ <= model.objective_ * (1 + 1e-9)),
              expected="bound below the optimum", kind="true")
    ctx.note("The ADMM solver (solver='torch', the GPU path) reaches the 1e-2–1e-3 range in a few hundred iterations "
             "but its tail is slow on this 1-D problem with exhaustive, nearly parallel activation cones (linear "
             "convergence with a rate near 1; varying ρ, the block weights and over-relaxation did not change it). "
             "On the pyscnn benchmark problem it certifies a 2e-6 relative gap (benchmarks/results/similarity.md).")

    # whitened closed form (Corollary 1): X = I, one-hot balanced labels satisfy its condition
    C, per = 3, 3
    Xw = np.eye(C * per)
    Y = np.eye(C)[np.repeat(np.arange(C), per)]
    lam_w = 0.4
    mw = ConvexReLURegressor(lam=lam_w, n_patterns=4000 if not ctx.quick else 2000, random_state=ctx.seed).fit(Xw, Y)
    U, s, Vt = np.linalg.svd(Y, full_matrices=False)
    sh = np.maximum(s - lam_w / 2, 0)
    closed = float(np.sum((Y - (U * sh) @ Vt) ** 2) + lam_w * sh.sum())
    ctx.metric("whitened one-hot: convex optimum / closed form", [mw.objective_, closed])
    ctx.claim("whitened input, one-hot labels: the convex optimum equals the closed form Σ(σ_i − λ/2)₊ a_i b_iᵀ "
              "(relative difference)", source="003 Corollary 1", measured=abs(mw.objective_ - closed) / closed,
              expected=0.0, kind="at_most", tol=1e-5)
    Yg = rng.normal(size=(C * per, 2))
    mg = ConvexReLURegressor(lam=lam_w, n_patterns=4000 if not ctx.quick else 2000, random_state=ctx.seed).fit(Xw, Yg)
    Ug, sg, Vtg = np.linalg.svd(Yg, full_matrices=False)
    shg = np.maximum(sg - lam_w / 2, 0)
    closed_g = float(np.sum((Yg - (Ug * shg) @ Vtg) ** 2) + lam_w * shg.sum())
    ctx.metric("whitened Gaussian Y (condition violated): convex optimum / closed-form value",
               [mg.objective_, closed_g])
    ctx.note("For Gaussian targets the singular vectors are not non-negative, so Corollary 1 does not apply; the "
             "closed-form value is then only a lower bound of the constrained problem (it drops the cone "
             "constraint), and the measured convex optimum lies above it (see metrics). For vector outputs the "
             "exact-ReLU program here restricts each hidden unit to one output (module docstring); in the "
             "one-hot whitened case that restriction is tight, as the claim shows.")

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    xs = np.linspace(-3.2, 3.2, 400)
    Xs = np.c_[xs, np.ones_like(xs)]
    axes[0].scatter(x, y, s=14, color="k", label="data")
    axes[0].plot(xs, model.predict(Xs), "r-", lw=2, label="convex optimum (recovered net)")
    axes[0].plot(xs, np.maximum(Xs @ W1.T, 0) @ W2.T, "C0--", lw=1.5, label="best Adam run")
    axes[0].legend(fontsize=8)
    axes[0].set_title(f"ReLU network fit, λ = {lam}", fontsize=9)
    it = np.arange(1, curves.shape[0] + 1)
    for k in range(curves.shape[1]):
        axes[1].semilogy(it, np.maximum(curves[:, k] - model.objective_, 1e-12) / model.objective_, lw=0.8, alpha=0.7)
    axes[1].set_xlabel("Adam iteration")
    axes[1].set_ylabel("(objective − convex optimum) / optimum")
    axes[1].set_title("Adam runs approach, never cross, the convex optimum", fontsize=9)
    fig.tight_layout()
    ctx.figure("convex_relu", fig, "Left: the network recovered from the convex program (red) and the best of "
               "the Adam runs (blue dashes) on 1-D regression data. Right: each Adam run's excess objective over "
               "the convex optimum (log scale; values at the floor are within 1e-12).")
    plt.close(fig)
