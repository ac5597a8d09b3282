"""Lecture 004's table "activation functions for different priors", reproduced from the proximal operators."""

from __future__ import annotations

import numpy as np

from simcode.experiments import Context, experiment


def _brute_prox_1d(y, neg_log_prior, grid):
    """argmin_x ½(y − x)² + φ(x) on a grid, for each y (independent of the closed forms)."""
    F = 0.5 * (y[:, None] - grid[None, :]) ** 2 + neg_log_prior(grid)[None, :]
    return grid[np.argmin(F, axis=1)]


@experiment("priors", description="Priors → proximal maps → activations of an unrolled sparse-coding network "
            "(lecture 004 table)", cpu_time="~3 s", sources=("004 'Unfolded auto-encoders with different priors'",
                                                              "004 'ReLU nonlinearity from sparse approximation'",
                                                              "004 'Other nonlinearities?'"))
def run(ctx: Context) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simcode.sparse.coding import fista
    from simcode.sparse.priors import get_prior

    rng = ctx.rng
    b = 0.8  # bias λ/L of the unrolled layer
    n_rand = 200 if ctx.quick else 2000

    # ---- 1. each row of the lecture's table against its printed formula ---------------------------------
    sp, sn, s = 2.0, 0.6, 1.3
    V = rng.normal(scale=2.0, size=(n_rand, 6))
    rows = {}
    rows["Gaussian/Ridge: σ²/(1/L+σ²)·x̃"] = np.abs(
        get_prior("ridge", sigma=s).activation(V, b) - s**2 / (b + s**2) * V).max()
    rows["Sparsity x≥0: ReLU(x̃ − λ/L)"] = np.abs(get_prior("l1_nonneg").activation(V, b) - np.maximum(V - b, 0)).max()
    c = lambda sig: sig**2 / (b + sig**2)  # noqa: E731  (table: c(σ) with 1/L → b)
    rows["2-sided Gaussian: c(σ+)x̃1{x̃≥0} + c(σ−)x̃1{x̃≤0}"] = np.abs(
        get_prior("two_sided_gaussian", sigma_pos=sp, sigma_neg=sn).activation(V, b)
        - np.where(V >= 0, c(sp) * V, c(sn) * V)).max()
    # group sparsity (x ≥ 0 in the table): (x̃_g − λ x̃_g/‖x̃_g‖) 1{‖x̃_g‖ ≥ λ}, groups of 3, on x̃ ≥ 0
    Vp = np.abs(V)
    G = Vp.reshape(n_rand, 2, 3)
    nrm = np.linalg.norm(G, axis=2, keepdims=True)
    table_group = np.where(nrm >= b, G - b * G / nrm, 0).reshape(n_rand, 6)
    rows["Group sparsity: (x̃_g − λ x̃_g/‖x̃_g‖)1{‖x̃_g‖≥λ}"] = np.abs(
        get_prior("group_l1", groups=3, nonnegative=True).activation(Vp, b) - table_group).max()
    # simplex: ReLU(x̃ − b(x̃)) with b(x̃) the unique threshold making the output sum to one (found by bisection)
    lo, hi = V.min(1) - 1, V.max(1)
    for _ in range(200):
        mid = (lo + hi) / 2
        too_big = np.maximum(V - mid[:, None], 0).sum(1) > 1
        lo, hi = np.where(too_big, mid, lo), np.where(too_big, hi, mid)
    rows["Simplex: ReLU(x̃ − b(x̃))"] = np.abs(get_prior("simplex").activation(V, b)
                                              - np.maximum(V - ((lo + hi) / 2)[:, None], 0)).max()
    worst = max(rows.values())
    ctx.metric("table_max_abs_error", {k: float(v) for k, v in rows.items()})
    ctx.claim("Every row of the activation table equals prox_{(λ/L)g} (max abs error over random inputs)",
              source="004 table 'Activation functions for different priors'", measured=float(worst),
              expected=0.0, kind="at_most", tol=1e-9)

    # ---- 2. 1-D derivations by brute-force minimisation ------------------------------------------------
    grid = np.linspace(-8, 8, 160001)  # step 1e-4
    y = np.linspace(-5, 5, 101)
    lam = 1.5
    relu_bf = _brute_prox_1d(y, lambda x: np.where(x >= 0, lam * np.abs(x), np.inf), grid)
    err_relu = np.abs(relu_bf - np.maximum(y - lam, 0)).max()
    ctx.claim("argmin_{x≥0} ½(y−x)² + λ|x| = ReLU(y − λ) (brute-force minimisation, grid step 1e-4)",
              source="004 'ReLU nonlinearity from sparse approximation in 1D'", measured=float(err_relu),
              expected=0.0, kind="at_most", tol=2e-4)
    leaky_bf = _brute_prox_1d(y, lambda x: np.where(x >= 0, x**2 / (2 * sp**2), x**2 / (2 * sn**2)), grid)
    leaky = get_prior("two_sided_gaussian", sigma_pos=sp, sigma_neg=sn).prox(y, 1.0)
    lecture_leaky = np.where(y <= 0, sn**2 / (1 + sn**2) * y, sp**2 / (1 + sp**2) * y)
    err_leaky = max(np.abs(leaky_bf - lecture_leaky).max(), np.abs(leaky - lecture_leaky).max())
    ctx.claim("argmin ½(y−x)² − log p(x) for the two-sided Gaussian = LeakyReLU(y; σ₊, σ₋)",
              source="004 'Other nonlinearities?'", measured=float(err_leaky), expected=0.0, kind="at_most",
              tol=2e-4)

    # ---- 3. sparse coding with an orthonormal dictionary, and ISTA as a ReLU network -------------------
    p = 16
    Q, _ = np.linalg.qr(rng.normal(size=(p, p)))
    X = rng.normal(scale=2.0, size=(50, p))
    res = fista(X, Q, lam, "l1_nonneg", tol=1e-12)
    err_orth = np.abs(res.codes - np.maximum(X @ Q.T - lam, 0)).max()
    ctx.claim("HᵀH = I: argmin_{x≥0} ½‖y − Hx‖² + λ‖x‖₁ = ReLU(Hᵀy − λ)", source="004 'Neural net with ReLU from "
              "sparse approximation', case 1", measured=float(err_orth), expected=0.0, kind="at_most", tol=1e-9)

    K = 32
    D = rng.normal(size=(K, p))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    L = np.linalg.norm(D, 2) ** 2
    lam2 = 0.5
    T = 300 if ctx.quick else 2000
    relu = get_prior("l1_nonneg")
    Z = np.zeros((X.shape[0], K))
    obj_path = []
    for _ in ctx.track(range(T), "unrolled ISTA layers"):
        Z = relu.activation(Z + (X - Z @ D) @ D.T / L, lam2 / L)  # x_t = ReLU(x_{t-1} + αHᵀ(y − Hx_{t-1}) − λ/L)
        obj_path.append(float(np.mean(0.5 * ((X - Z @ D) ** 2).sum(1) + lam2 * Z.sum(1))))
    ref = fista(X, D, lam2, "l1_nonneg", tol=1e-12)
    opt = float(np.mean(ref.objective))
    rel = (obj_path[-1] - opt) / opt
    ctx.metric("unrolled_layers", T)
    ctx.metric("unrolled_relative_suboptimality", rel)
    ctx.claim(f"A {T}-layer ReLU network x_t = ReLU(x_(t-1) + Hᵀ(y − Hx_(t-1))/L − λ/L) reaches the lasso optimum "
              "(relative objective gap; optimum certified by FISTA's duality gap)",
              source="004 'Neural net with ReLU from sparse approximation', case 2", measured=float(rel),
              expected=1e-4 if ctx.quick else 1e-6, kind="at_most")

    # ---- figure: the activation of every prior ---------------------------------------------------------
    v = np.linspace(-4, 4, 801)
    panels = [
        ("ridge (σ=1.3)", get_prior("ridge", sigma=s).activation(v[:, None], b)[:, 0]),
        ("l1: soft threshold", get_prior("l1").activation(v[:, None], b)[:, 0]),
        ("l1, z≥0: shifted ReLU", get_prior("l1_nonneg").activation(v[:, None], b)[:, 0]),
        ("two-sided Gaussian (σ₊=2, σ₋=0.6)",
         get_prior("two_sided_gaussian", sigma_pos=sp, sigma_neg=sn).activation(v[:, None], b)[:, 0]),
        ("group ℓ2,1: coord. 1, v₂ = 0.5",
         get_prior("group_l1", groups=2).activation(np.c_[v, np.full_like(v, 0.5)], b)[:, 0]),
        ("simplex (sparsemax): coord. 1, v₂ = v₃ = 0",
         get_prior("simplex").activation(np.c_[v, np.zeros_like(v), np.zeros_like(v)], b)[:, 0]),
        ("ℓ0: hard threshold √(2b)", get_prior("l0").activation(v[:, None], b)[:, 0]),
        ("top-1: coord. 1, v₂ = 1.5", get_prior("topk", k=1).activation(np.c_[v, np.full_like(v, 1.5)], b)[:, 0]),
        ("box [0, 1]", get_prior("box", low=0, high=1).activation(v[:, None], b)[:, 0]),
        ("elastic net (r=0.5)", get_prior("elastic_net", l2_ratio=0.5).activation(v[:, None], b)[:, 0]),
    ]
    fig, axes = plt.subplots(2, 5, figsize=(15, 6), sharex=True)
    for ax, (title, out) in zip(axes.ravel(), panels):
        ax.plot(v, v, color="0.8", lw=1, ls="--")
        ax.plot(v, out, lw=2)
        ax.axhline(0, color="0.6", lw=0.5)
        ax.axvline(0, color="0.6", lw=0.5)
        ax.set_title(title, fontsize=9)
        ax.set_ylim(-4.2, 4.2)
    for ax in axes[1]:
        ax.set_xlabel("pre-activation v")
    fig.suptitle(f"Activation = prox of (bias b = λ/L = {b}) × prior, for each prior (dashed: identity)")
    fig.tight_layout()
    ctx.figure("activations", fig, "Each panel is the non-linearity an unrolled ISTA layer applies for one prior: "
               "ridge scales, ℓ1 soft-thresholds, ℓ1 with z ≥ 0 is the shifted ReLU, the two-sided Gaussian a leaky "
               "ReLU, group sparsity and the simplex couple coordinates (one coordinate shown with the others fixed).")

    fig2, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(np.maximum(np.array(obj_path) - opt, 1e-16) / opt)
    ax.set_xlabel("layer t")
    ax.set_ylabel("relative sub-optimality")
    ax.set_title("Unrolled ReLU network = ISTA on the non-negative lasso")
    fig2.tight_layout()
    ctx.figure("unrolled", fig2, "Objective gap of the ReLU network's output after t layers, relative to the "
               "certified lasso optimum: it decreases to zero as layers are added.")
    ctx.note("The bias of each activation is b = λ/L; for ridge and two-sided Gaussian the lecture writes c(σ) = "
             "σ²/(1/L + σ²), i.e. the same map with λ folded into σ. ℓ0, top-k, box and elastic net are additions "
             "beyond the lecture's table.")
