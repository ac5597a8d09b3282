"""SMPC (similarity-matching predictive coding) experiments (paper 002 §7.1, App. E.1, Figs. 7-9)."""

from __future__ import annotations

import numpy as np

from simcode.experiments import Context, experiment


def _fig(nrows=1, ncols=1, w=4.0, h=3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w * ncols, h * nrows), constrained_layout=True)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _progress(ctx: Context, n: int, what: str, every: int):
    it = iter(ctx.track(range(n), what, total=n))

    def cb(iteration, est):
        for _ in range(every):
            next(it, None)

    return cb


def _normalized(A):
    return A / np.sqrt((A**2).sum(1).mean())


def _mds_r2(X, convention="pooled"):
    """R² that the similarity-matching optimum predicts: there K_Z ≈ YᵀY ≈ XᵀX (paper orientation), so the
    prediction X̂ = K_Z X/T becomes X·C with C = XᵀX/T (ours); R² of normalised X vs normalised X·C.
    ``convention``: "uniform" (scikit-learn's default: mean of the per-dimension R², used for the claims),
    "pooled" (variance-weighted, :func:`simcode.ksm.metrics.reconstruction_r2`'s default), "per_sample" (R² of each
    sample over its coordinates, averaged: scikit-learn's r2_score on the paper's N×T orientation) or "uncentred"
    (1 - ‖X - X̂‖²/‖X‖²)."""
    from simcode.ksm.metrics import reconstruction_r2

    C = X.T @ X / X.shape[0]
    Xn, Xh = _normalized(X), _normalized(X @ C)
    if convention in ("pooled", "uniform"):
        multioutput = "variance_weighted" if convention == "pooled" else "uniform_average"
        return reconstruction_r2(Xn, Xh, multioutput=multioutput)
    if convention == "per_sample":
        ss_tot = ((Xn - Xn.mean(1, keepdims=True)) ** 2).sum(1)
        ok = ss_tot > 0
        return float(np.mean(1 - ((Xn - Xh) ** 2).sum(1)[ok] / ss_tot[ok]))
    return float(1 - ((Xn - Xh) ** 2).sum() / (Xn**2).sum())


_MDS_NOTE = ("The metric r2_mds_optimum (r2_mds_optimum_pooled) is the R² the similarity-matching optimum implies "
             "in closed form (X̂ = X·XᵀX/T when K_Z = YᵀY = XᵀX): it depends only on how isotropic the data's "
             "second-moment matrix is, and the trained network's R² converges to that value.")


R2_NOTE = ("R² convention: 002 reports an 'R² score' of normalised X vs normalised X̂ without defining it. "
           "Claims use scikit-learn's r2_score default (samples in rows, the mean of each input dimension's R², as "
           "torchmetrics' R2Score too), the likeliest implementation; metric r2_normalised_pooled is the "
           "variance-weighted value that the estimator's score() and history (the R² curve) report.")


def _r2(m, X):
    """(uniform-average R², pooled R²) of normalised X vs normalised X̂ = K_Z X/T."""
    from simcode.ksm.metrics import reconstruction_r2

    Xn, Xh = _normalized(X), _normalized(np.asarray(m.predict()))
    return reconstruction_r2(Xn, Xh, multioutput="uniform_average"), reconstruction_r2(Xn, Xh)


def _curves(ax_obj, ax_r2, m):
    h = m.history_
    ax_obj.plot(h["iteration"], h["objective"])
    ax_obj.set_yscale("log")
    ax_obj.set_xlabel("iteration")
    ax_obj.set_title("objective (eq. 16)", fontsize=9)
    ax_r2.plot(h["iteration"], h["r2"])
    ax_r2.set_xlabel("iteration")
    ax_r2.set_title("R² pooled (normalised X vs X̂)", fontsize=9)


@experiment("smpc-2d", description="SMPC network recovers the latents of a 2-atom 2-D data set (002 §7.1, Fig. 7)",
            cpu_time="~10 s", sources=("002 §7.1", "002 App. E.1", "002 Fig. 7"))
def smpc_2d(ctx: Context) -> None:
    from simcode.ksm import SMPC
    from simcode.ksm.metrics import sine_similarity_error

    rng = np.random.default_rng(ctx.seed)
    T = 512
    th = np.arccos(0.14)
    A = np.array([[1.0, 0.0], [np.cos(th), np.sin(th)]])  # atoms with correlation 0.14
    Zt = np.zeros((T, 2))
    Zt[np.arange(T), rng.integers(0, 2, T)] = rng.normal(5.0, 1.0, T)
    X = Zt @ A + 0.01 * rng.standard_normal((T, 2))
    iters = 200 if ctx.quick else 2000
    m = SMPC(2, prior="l1", lam=0.8, rho=5.0, lr_y=0.1, lr_z=0.1, lr_w=0.05, lr_m=0.1, n_neural_steps=10,
             n_synaptic_steps=5, max_iter=iters, omega=0.1, init_omega="cholesky", record_every=10, tol=0,
             device=ctx.device, random_state=ctx.seed, callback=_progress(ctx, iters, "SMPC iterations", 10))
    m.fit(X)
    Z, Y, Om = m.codes_, m.Y_, m.Omega_
    err = sine_similarity_error(Zt, Z, match=True)
    pred_gap = float(np.linalg.norm(Y - Z @ Om.T) / np.linalg.norm(Y))
    r2, r2_pooled = _r2(m, X)
    ctx.metric("iterations", m.n_iter_)
    ctx.metric("r2_normalised", r2)
    ctx.metric("r2_normalised_pooled", r2_pooled)
    ctx.metric("r2_mds_optimum", _mds_r2(X, "uniform"))
    ctx.metric("r2_mds_optimum_pooled", _mds_r2(X))
    ctx.metric("sine_similarity_error", err)
    ctx.metric("relative_gap_Y_vs_OmegaZ", pred_gap)
    ctx.metric("seconds", m.history_["time"][-1])
    ctx.claim("R² of the implicit generative map above 0.5", source="002 §7.1 (closing paragraph)",
              measured=r2, expected=0.5, kind="at_least")
    ctx.claim("latents recovered: sine-similarity error (after matching units) ≤ 0.1", source="002 §7.1, Fig. 7(d)",
              measured=err, expected=0.1, kind="at_most", note="threshold ours; the paper shows the latents")
    ctx.claim("intermediate Y aligns with its top-down prediction ΩZ (relative gap ≤ 0.1)",
              source="002 §7.1, Fig. 7(b)", measured=pred_gap, expected=0.1, kind="at_most",
              note="threshold ours")
    fig, axes = _fig(1, 4)
    ax = axes[0, 0]
    ax.scatter(X[:, 0], X[:, 1], s=3, c="0.6")
    ax.set_title("data", fontsize=9)
    ax = axes[0, 1]
    ax.scatter(Y[:, 0], Y[:, 1], s=3, label="Y")
    P = Z @ Om.T
    ax.scatter(P[:, 0], P[:, 1], s=3, label="ΩZ")
    ax.legend(fontsize=7)
    ax.set_title("Y and its prediction ΩZ", fontsize=9)
    _curves(axes[0, 2], axes[0, 3], m)
    ctx.figure("smpc_2d", fig, "SMPC on 512 points from two atoms with correlation 0.14: data; intermediate code "
               "Y against its top-down prediction ΩZ; objective and normalised R² over training (cf. Fig. 7).")
    fig, axes = _fig(1, 2)
    Xn, Xh = _normalized(X), _normalized(m.predict())
    axes[0, 0].scatter(Xn[:, 0], Xn[:, 1], s=3, c="r", label="X (normalised)")
    axes[0, 0].scatter(Xh[:, 0], Xh[:, 1], s=3, c="g", label="X̂ (normalised)")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].scatter(Z[:, 0], Z[:, 1], s=3)
    axes[0, 1].set_title("learned latents Z", fontsize=9)
    ctx.figure("smpc_2d_latents", fig, "Normalised input and prediction X̂ = K_Z X/T; the learned latents lie on "
               "the two axes like the true ones (cf. Fig. 7(c, d)).")
    ctx.note(R2_NOTE)
    ctx.note(f"{iters} iterations instead of 6000. Latent amplitudes are not given for the 2-D set; we use the "
             "30-D set's N(5, 1) (one active latent per point). Trained on raw inputs: on variance-normalised "
             "inputs λ = 0.8 thresholds every code to zero (tried); normalisation is used for R² as in Fig. 7. "
             "Ω is initialised as L⁻¹ with H = LLᵀ (so ΩᵀΩ = H⁻¹, the stated intent of App. E.1). " + _MDS_NOTE)


@experiment("smpc-30d", description="SMPC on 30-D sparse data from an orthogonal dictionary: R² ≈ 0.9 and latents recovered (002 §7.1, Fig. 8)",
            cpu_time="~25 s", sources=("002 §7.1", "002 App. E.1", "002 Fig. 8"))
def smpc_30d(ctx: Context) -> None:
    from simcode.ksm import SMPC
    from simcode.ksm.metrics import sine_similarity_error

    rng = np.random.default_rng(ctx.seed)
    T, N, K = 1500, 30, 16
    Q, _ = np.linalg.qr(rng.standard_normal((N, K)))  # Gram-Schmidt: orthonormal atoms
    A = Q.T
    # 002 §7.1: "a similar process as before (§6.1)" with 87.5 % of the positions of every latent zero, i.e.
    # exactly 2 of the 16 latents active in every sample (as make_sparse_dictionary_data does for §6.1)
    active = np.argsort(rng.random((T, K)), axis=1)[:, : K // 8]
    mask = np.zeros((T, K), dtype=bool)
    np.put_along_axis(mask, active, True, axis=1)
    Zt = rng.normal(5.0, 1.0, (T, K)) * mask
    X = Zt @ A
    Z0 = Zt + rng.standard_normal((T, K))
    iters = 150 if ctx.quick else 1500
    m = SMPC(K, prior="l1", lam=0.8, rho=5.0, max_iter=iters, init_omega="random", record_every=10, tol=0,
             device=ctx.device, random_state=ctx.seed, callback=_progress(ctx, iters, "SMPC iterations", 10))
    m.fit(X, Z_init=Z0)
    err0 = sine_similarity_error(Zt, Z0)
    err_raw = sine_similarity_error(Zt, m.codes_)
    err = sine_similarity_error(Zt, m.codes_, match=True)
    r2, r2_pooled = _r2(m, X)
    ctx.metric("iterations", m.n_iter_)
    ctx.metric("r2_normalised", r2)
    ctx.metric("r2_normalised_pooled", r2_pooled)
    mds_uniform, mds_pooled = _mds_r2(X, "uniform"), _mds_r2(X)
    ctx.metric("r2_mds_optimum", mds_uniform)
    ctx.metric("r2_mds_optimum_pooled", mds_pooled)
    ctx.metric("r2_mds_optimum_per_sample_convention", _mds_r2(X, "per_sample"))
    ctx.metric("r2_mds_optimum_uncentred_convention", _mds_r2(X, "uncentred"))
    ctx.metric("r2_mds_optimum_signed_latents", _mds_r2((Zt * rng.choice([-1.0, 1.0], Zt.shape)) @ A))
    ctx.metric("sine_similarity_error_init", err0)
    ctx.metric("sine_similarity_error_final_unit_by_unit", err_raw)
    ctx.metric("sine_similarity_error_final_matched", err)
    ctx.metric("seconds", m.history_["time"][-1])
    ctx.claim("R² of the implicit generative map ≈ 0.9", source="002 §7.1, Fig. 8(a)", measured=r2, expected=0.9,
              kind="close", tol=0.05)
    ctx.claim("sine-similarity latent error goes to ≈ 0 (≤ 0.05)", source="002 §7.1, Fig. 8(c)",
              measured=err_raw, expected=0.05, kind="at_most", note="threshold ours")
    fig, axes = _fig(1, 3)
    _curves(axes[0, 0], axes[0, 1], m)
    i = int(np.argmax((Zt > 0).sum(1)))
    axes[0, 2].plot(Zt[i], "ko-", label="true")
    axes[0, 2].plot(Z0[i], "b.", label="initial")
    Zl = np.asarray(m.codes_)
    g = float((Zl * Zt).sum() / max((Zl * Zl).sum(), 1e-300))  # one global scale (Ω absorbs the scale of Z)
    axes[0, 2].plot(g * Zl[i], "g.-", label=f"learned × {g:.3g}")
    axes[0, 2].legend(fontsize=7)
    axes[0, 2].set_title("one sample's latents", fontsize=9)
    ctx.figure("smpc_30d", fig, "SMPC on 30-D data (16 orthonormal atoms, exactly 2 active per sample, amplitudes N(5,1)): "
               "objective, normalised R², and a sample's true / initial / learned latents (cf. Fig. 8); the learned "
               "latents are shown times one global least-squares scale, since Ω can absorb any scale of Z.")
    ctx.note(R2_NOTE)
    ctx.note(f"T = 1500 (the size of §6.1; §7.1 does not state it), {iters} iterations instead of 10000, ρ = 5 "
             "and λ = 0.8 taken from the 2-D example (not stated for this set). Initialisation as App. E.1: "
             "Z = Z_true + N(0,1), Ω, W ~ N(0,1), M = I, Y = ΩZ. Neural steps capped at their stability limits "
             "(safe_steps; with η = 0.1 and a random Ω the dynamics diverge in the first iteration). Trained on raw "
             "inputs: with variance-normalised training inputs λ = 0.8 thresholds every code to zero (tried: R² "
             "-0.14, all codes 0). Neural loop: 10 Y steps then 10 Z steps per iteration (§7.1, 'run for 10 "
             "iterations each'). With one Y step and one Z step alternated instead (App. E read step by step; "
             "neural_order='alternate') the random initial W scrambles Z in the first iterations (error 0.33 → "
             "0.65) and the network re-converges to the true latents with a few units relabelled: the paper's "
             "unit-by-unit error then stays ≈ 0.13 while the error after Hungarian matching of units reaches "
             "0.001 (seed 0, 1500 iterations); with the blocks both are ≈ 0.001. R²: " + _MDS_NOTE +
             f" With exactly two active latents per sample (87.5 % of the positions zero, §7.1) the closed-form optimum "
             f"gives R² {mds_uniform:.3f} (uniform) / {mds_pooled:.3f} (pooled), 0.90 under the per-sample and "
             "uncentred conventions (metrics r2_mds_optimum_*): the paper's ≈ 0.9 is the optimum, and the network "
             "reaches it. An earlier version of this experiment drew an independent Bernoulli(0.125) mask per entry "
             "instead (a data bug: varying support sizes, R² 0.65, claim failed).")


def _simplex_alternating_min(X, K, omega, n_iter, rng):
    """Alternating minimisation for P2 (eq. 8, proximity weight ω/2T as in App. A.2; Tasissa et al. 2023):
    exact A-step (the implicit map) and 20 projected-gradient Z-steps; W from random data points."""
    from simcode.ksm.admm import implicit_map
    from simcode.sparse.priors import get_prior

    proj = get_prior("simplex")
    T = X.shape[0]
    A = X[rng.choice(T, K, replace=False)]
    Z = proj.prox(rng.random((T, K)), 1.0)
    for _ in range(n_iter):
        G = A @ A.T
        L = np.linalg.eigvalsh(G)[-1] + 1e-12
        d2 = (X**2).sum(1)[:, None] - 2 * X @ A.T + (A**2).sum(1)[None, :]
        for _ in range(20):
            grad = Z @ G - X @ A.T + 0.5 * omega * d2
            Z = proj.prox(Z - grad / L, 1.0)
        A = implicit_map(X, Z, omega, simplex=True)
    return Z, A


@experiment("smpc-moons", description="SMPC with the simplex prior on two moons: R² ≈ 0.7 and local receptive fields (002 §7.1, Fig. 9)",
            cpu_time="~40 s", sources=("002 §7.1", "002 App. E.1", "002 Fig. 9"))
def smpc_moons(ctx: Context) -> None:
    from simcode.data import make_moons
    from simcode.experiments.ksm import receptive_field_spread
    from simcode.ksm import SMPC

    rng = np.random.default_rng(ctx.seed)
    T = 500 if ctx.quick else 2500
    X, _ = make_moons(T, noise=0.01, random_state=ctx.seed)
    K, omega = 12, 0.1
    n_am = 30 if ctx.quick else 500
    Zt, At = _simplex_alternating_min(X, K, omega, n_am, rng)
    Z0 = Zt + 5.0 * rng.standard_normal(Zt.shape)
    iters = 100 if ctx.quick else 1000
    m = SMPC(K, prior="simplex", lam=0.0, rho=5.0, max_iter=iters, omega=omega, init_omega="cholesky",
             record_every=10, tol=0, device=ctx.device, random_state=ctx.seed,
             callback=_progress(ctx, iters, "SMPC iterations", 10))
    m.fit(X, Z_init=Z0)
    Z = np.asarray(m.codes_)
    r2, r2_pooled = _r2(m, X)
    spread = receptive_field_spread(X, Z)
    ctx.metric("iterations", m.n_iter_)
    ctx.metric("r2_normalised", r2)
    ctx.metric("r2_normalised_pooled", r2_pooled)
    ctx.metric("r2_mds_optimum", _mds_r2(X, "uniform"))
    ctx.metric("r2_mds_optimum_pooled", _mds_r2(X))
    ctx.metric("receptive_field_spread_ratio", spread)
    ctx.metric("receptive_field_spread_ratio_of_Z_true", receptive_field_spread(X, Zt))
    ctx.metric("relative_gap_Y_vs_OmegaZ", float(np.linalg.norm(m.Y_ - Z @ m.Omega_.T) / np.linalg.norm(m.Y_)))
    ctx.metric("support_size_histogram", np.bincount((Z > 1e-3).sum(1), minlength=K + 1).tolist())
    ctx.metric("seconds", m.history_["time"][-1])
    ctx.claim("R² of the implicit generative map ≈ 0.7", source="002 §7.1, Fig. 9(a)", measured=r2, expected=0.7,
              kind="close", tol=0.05)
    ctx.claim("local receptive fields emerge (activation-weighted spread ≤ 0.5 of the data's)",
              source="002 §7.1, Fig. 9(b)", measured=spread, expected=0.5, kind="at_most",
              note="threshold ours; wider than the KSM case (0.3) as the paper notes")
    fig, axes = _fig(1, 3, w=4.2)
    Xn, Xh = _normalized(X), _normalized(m.predict())
    Ah = np.asarray(m.components_)
    Ah = Ah / np.sqrt((np.asarray(m.predict()) ** 2).sum(1).mean())
    ax = axes[0, 0]
    ax.scatter(Xn[:, 0], Xn[:, 1], s=2, c="r", label="X")
    ax.scatter(Xh[:, 0], Xh[:, 1], s=2, c="g", label="X̂")
    ax.scatter(Ah[:, 0], Ah[:, 1], marker="x", c="k", s=40, label="Â atoms")
    ax.legend(fontsize=7)
    ax.set_title("normalised input and prediction", fontsize=9)
    ax = axes[0, 1]
    for k in np.argsort(-Z.sum(0))[:4]:
        sel = Z[:, k] > 1e-3
        ax.scatter(X[sel, 0], X[sel, 1], s=3, c=Z[sel, k], cmap="viridis", vmin=0, vmax=1)
    ax.set_title("where 4 units fire", fontsize=9)
    h = m.history_
    axes[0, 2].plot(h["iteration"], h["r2"])
    axes[0, 2].set_title("R² pooled (normalised)", fontsize=9)
    ctx.figure("smpc_moons", fig, "SMPC with simplex-constrained latents on two moons: normalised input (red) and "
               "prediction (green), where four units are active, R² over training (cf. Fig. 9).")
    ctx.note(R2_NOTE)
    ctx.note(f"T = {T}, {iters} iterations instead of 8000. Z_true from {n_am} iterations of alternating "
             "minimisation of P2 with ω = 0.1 (App. E.1). Initialisation as App. E.1 reads: Z = Z_true + N(0, 5²) "
             "used as it is (not projected) for H = ZZᵀ/T + ωD, Ω = L⁻¹ and Y = ΩZ, so Ω starts ≈ I/5; the "
             "simplex projection acts from the first Z update (projecting Z first instead makes Ω "
             "≈ 3.5·I, and the codes come out near-uniform: spread 0.78). ρ = 5 taken from the 2-D example; η_Ω = "
             "η_W (neither stated). " + _MDS_NOTE + " Eqs. 16-18 do not reward local codes (KSM's P2 has the "
             "proximity term ω Σ z‖x − a‖² for that): codes are local only while the polytope ΩΔ is too small "
             "to contain Y, i.e. early in training. As Ω grows, Y = ΩZ becomes exact (metric "
             "relative_gap_Y_vs_OmegaZ), R² rises to the closed form and the codes spread. Seed 0, T = 2500, pooled "
             "R² / spread: 0.725 / 0.43 after 100 iterations, 0.81 / 0.44 after 250 (modal support 2), 0.848 / "
             "0.57 after 1000, ≈ 0.85 / ≈ 0.6 after 3000; the run length (1000, the paper's is 8000) was fixed "
             "before looking. The unstated η_Ω sets how fast the codes spread (diagnostic: η_Ω = 0.01 gives pooled "
             "R² 0.756 / spread 0.47 after 1000 iterations); the end point, R² → the closed form, does not depend "
             "on it. The closed form is ≈ 0.85 pooled but ≈ 0.72 with scikit-learn's uniform average (the moons' "
             "two coordinates have variances 0.75 and 0.25): under that convention the R² claim reproduces at "
             "convergence, under the pooled one it does not.")
