"""Deep linear networks with weight decay (paper 003, "Optimal solution for deep linear network"): the closed-form
global optimum against gradient descent from many initialisations, the singular-value shrinkage / jump at
finite λ, and the layer kernels K_l (∝ K_Y for whitened input and isotropic output)."""

from __future__ import annotations

import numpy as np

from simcode.experiments import Context, experiment


def _adam(X, Y, depth, lam, M, n_seeds, steps, seed, device="cpu"):
    """Adam on the non-convex loss from ``n_seeds`` random initialisations at once; returns per-seed losses and
    the final weights of the best seed."""
    import torch

    g = torch.Generator().manual_seed(seed)
    dims = [X.shape[1]] + [M] * (depth - 1) + [Y.shape[1]]
    Ws = [(torch.randn(n_seeds, dims[i + 1], dims[i], generator=g, dtype=torch.float64) * 0.5).to(device)
          .requires_grad_() for i in range(depth)]
    opt = torch.optim.Adam(Ws, lr=0.02)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    Xt, Yt = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)
    for _ in range(steps):
        opt.zero_grad()
        H = Xt.expand(n_seeds, *Xt.shape)
        for W in Ws:
            H = H @ W.transpose(1, 2)
        per = ((Yt - H) ** 2).sum((1, 2)) + lam * sum((W ** 2).sum((1, 2)) for W in Ws)
        per.sum().backward()
        opt.step()
        sched.step()
    per = per.detach().cpu().numpy()
    b = int(np.argmin(per))
    return per, [W[b].detach().cpu().numpy() for W in Ws]


def _kernel_cos(K, L):
    return float(np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L)))


@experiment("deep-linear", description="Deep linear nets with weight decay: closed-form global optimum vs "
            "gradient descent, singular-value jump at finite λ, layer kernels K_l ∝ K_Y", cpu_time="~40 s",
            sources=("003 deep linear network theorem", "003 corollary K_l ∝ K_Y"))
def run(ctx: Context) -> None:
    import matplotlib.pyplot as plt

    from simcode.nets import deep_linear_optimum
    from simcode.nets.deep_linear import schatten_prox

    rng = ctx.rng
    n_seeds, steps = (4, 500) if ctx.quick else (24, 3000)
    P, dX, dY, M = 12, 12, 5, 6
    X = np.eye(P)[:, :dX] * np.sqrt(2.0)                       # whitened: XᵀX = 2 I
    Y = np.linalg.qr(rng.normal(size=(P, dY)))[0] * np.array([4.0, 2.5, 1.5, 0.8, 0.3])
    lam = 0.5

    # 1. closed form vs gradient descent, depth 1..4
    depths = (1, 2, 3, 4)
    gaps = []
    rows = []
    for L in ctx.track(depths, "gradient descent per depth"):
        sol = deep_linear_optimum(X, Y, L, lam, n_components=M)
        per, _ = _adam(X, Y, L, lam, M, n_seeds, steps, ctx.seed + L, ctx.device)
        gaps.append((per.min() - sol.loss) / sol.loss)
        rows.append((L, sol.loss, per))
        ctx.metric(f"depth {L}: closed-form loss", sol.loss)
        ctx.metric(f"depth {L}: best / median gradient-descent loss", [float(per.min()), float(np.median(per))])
    ctx.claim("no gradient-descent run (any depth, any initialisation) beats the closed-form optimum "
              "(min relative excess)", source="003 deep linear theorem", measured=float(min(gaps)),
              expected=0.0, kind="at_least", tol=1e-6)
    ctx.claim("the best gradient-descent run reaches the closed-form optimum (max over depths of the relative "
              "excess of the best run)", source="003 deep linear theorem", measured=float(max(gaps)),
              expected=0.0, kind="at_most", tol=1e-3)

    # 2. singular-value shrinkage and jump (scalar problem per singular value)
    a = np.linspace(0, 3, 400)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for L in (1, 2, 3, 5):
        axes[0].plot(a, schatten_prox(a, 1.0, 0.5, L), label=f"L = {L}")
    axes[0].plot(a, a, "k:", lw=0.8)
    axes[0].set_xlabel("singular value a of YᵀX/c")
    axes[0].set_ylabel("optimal singular value s of W")
    axes[0].set_title("shrinkage (L=1), soft threshold (L=2), jump (L≥3); λ/c = 0.5", fontsize=9)
    axes[0].legend(fontsize=8)
    for L, loss, per in rows:
        axes[1].scatter(np.full(per.size, L) + rng.uniform(-0.12, 0.12, per.size), per, s=10, alpha=0.6, color="C0")
        axes[1].plot([L - 0.3, L + 0.3], [loss, loss], "r-", lw=2)
    axes[1].set_xlabel("depth L")
    axes[1].set_ylabel("final loss")
    axes[1].set_title("Adam from random inits (dots) vs closed form (red)", fontsize=9)

    # 3. layer kernels: whitened input (X = I), isotropic output ⇒ K_l ∝ K_Y; anisotropic ⇒ K_l = U S^{2l/L} Uᵀ
    P2, C = 8, 3
    Xw = np.eye(P2)
    Yiso = np.linalg.qr(rng.normal(size=(P2, C)))[0] * 2.0
    KY = Yiso @ Yiso.T
    depth = 4
    sol = deep_linear_optimum(Xw, Yiso, depth, 1e-3)
    cos_cf = [_kernel_cos(K, KY) for K in sol.kernels]
    def gd_cos(lam_gd):
        _, Wgd = _adam(Xw, Yiso, depth, lam_gd, C + 2, max(2, n_seeds // 2), steps, ctx.seed, ctx.device)
        H, cs = Xw, []
        for W in Wgd:
            H = H @ W.T
            cs.append(_kernel_cos(H @ H.T, KY))
        return cs

    if not ctx.quick:
        ctx.metric("isotropic Y: cos(K_l, K_Y) after gradient descent with λ = 1e-3, l = 1..L", gd_cos(1e-3))
    cos_gd = gd_cos(0.1)
    ctx.note("With λ = 1e-3 gradient descent does not remove the initialisation's null-space components within "
             "the step budget (weight decay acts at rate λ), so its hidden kernels are not yet ∝ K_Y (see the "
             "metric); with λ = 0.1 — where the closed form still gives K_l ∝ K_Y since all singular values of an "
             "isotropic Y shrink equally — it gets there. The claim below uses λ = 0.1.")
    ctx.metric("isotropic Y: cos(K_l, K_Y) closed form, l = 1..L", cos_cf)
    ctx.metric("isotropic Y: cos(K_l, K_Y) after gradient descent with λ = 0.1, l = 1..L", cos_gd)
    ctx.claim("whitened input, isotropic output: every layer kernel K_l ∝ K_Y (min over layers of cos(K_l, K_Y), "
              "closed form)", source="003 corollary", measured=min(cos_cf), expected=1.0, kind="close", tol=1e-8)
    ctx.claim("the same holds for the network found by gradient descent at λ = 0.1 (min over layers of cos(K_l, K_Y))",
              source="003 corollary", measured=min(cos_gd), expected=1.0, kind="close", tol=1e-3)
    Yani = Yiso * np.array([1.0, 0.5, 0.2])
    sol2 = deep_linear_optimum(Xw, Yani, depth, 1e-6)
    U, s, _ = np.linalg.svd(Yani, full_matrices=False)
    err = max(np.abs(K - (U * s ** (2 * (l + 1) / depth)) @ U.T).max() for l, K in enumerate(sol2.kernels))
    ctx.claim("anisotropic output: K_l = U S^{2l/L} Uᵀ (max abs deviation over layers)", source="003 corollary",
              measured=float(err), expected=0.0, kind="at_most", tol=1e-4)
    alig = [float(np.sum(K * (Yani @ Yani.T)) / (np.linalg.norm(K) * np.linalg.norm(Yani @ Yani.T)))
            for K in sol2.kernels]
    axes[2].plot(range(1, depth + 1), cos_cf, "o-", label="isotropic Y, closed form")
    axes[2].plot(range(1, depth + 1), cos_gd, "x--", label="isotropic Y, gradient descent (λ=0.1)")
    axes[2].plot(range(1, depth + 1), alig, "s-", label="anisotropic Y, closed form")
    axes[2].set_xlabel("layer l")
    axes[2].set_ylabel("cos(K_l, K_Y)")
    axes[2].set_ylim(0.8, 1.01)
    axes[2].legend(fontsize=8)
    axes[2].set_title("layer kernels vs output kernel (whitened input)", fontsize=9)
    fig.tight_layout()
    ctx.figure("deep_linear", fig, "Left: the optimal singular value of the end-to-end map as a function of the "
               "data's singular value — ridge shrinkage for one layer, soft threshold for two, a jump to zero "
               "below a threshold for three or more. Middle: gradient descent never goes below the closed-form "
               "loss (red). Right: alignment of each layer's kernel with the output kernel — exactly 1 for "
               "isotropic outputs, drifting towards K_Y with depth otherwise.")
    plt.close(fig)
    ctx.note("Gradient descent is Adam with a cosine learning-rate schedule from Gaussian initialisations (std 0.5), "
             "all seeds batched; the hidden width is 6 ≥ rank(Y).")
