"""Kernel similarity matching experiments (paper 002 §6, Table 1): synthetic recovery, schedules, digits,
natural-image patches, two moons with the simplex prior."""

from __future__ import annotations

import numpy as np

from simcode.experiments import Context, experiment

SRC = "002"


def _fig(nrows=1, ncols=1, w=4.0, h=3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w * ncols, h * nrows), constrained_layout=True)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _progress(ctx: Context, n: int, what: str):
    """A KSM callback that advances a ctx.track progress bar one epoch at a time."""
    it = iter(ctx.track(range(n), what, total=n))

    def cb(epoch, est):
        next(it, None)

    return cb


R2_NOTE = ("R² convention: 002 reports an 'R² score' without defining it. Claims use scikit-learn's "
           "r2_score default (samples in rows, the mean of each input dimension's R², as torchmetrics' R2Score "
           "too), the likeliest implementation; the pooled (variance-weighted) R² of the estimator's history is "
           "metric r2_final_pooled.")


def _r2_uniform(X, m):
    """R² of the implicit-map reconstruction ÂZ with scikit-learn's default uniform averaging over features."""
    from simcode.ksm.metrics import reconstruction_r2

    return reconstruction_r2(X, np.asarray(m.codes_) @ np.asarray(m.components_), multioutput="uniform_average")


def _paper_synthetic(seed: int, T: int = 1500):
    """§6.1 data: N=30, K=16, 12.5% sparsity, amplitudes U[4, 6], unit-norm Gaussian atoms; warm start
    W = A + noise of 30% of the entries' scale."""
    from simcode.data import make_sparse_dictionary_data

    N, K = 30, 16
    _, D, C = make_sparse_dictionary_data(T, N, K, 0.125, amplitude=(4, 6), random_state=seed)
    A = D
    X = C @ A
    rng = np.random.default_rng(seed + 1)
    # the paper perturbs N(0, 1)-entry atoms by N(0, 0.3²): 30% of the entries' scale. Our atoms have unit
    # norm (entries of scale 1/√N), so the same relative perturbation is N(0, (0.3/√N)²).
    W0 = A + 0.3 / np.sqrt(N) * rng.standard_normal(A.shape)
    return X, A, C, W0


def _atoms_figure(atoms, shape, n, title):
    k = min(n, atoms.shape[0])
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    fig, axes = _fig(rows, cols, w=1.1, h=1.1)
    for i, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if i < k:
            a = atoms[i].reshape(shape)
            v = np.abs(a).max() or 1.0
            ax.imshow(a, cmap="gray", vmin=-v, vmax=v)
    fig.suptitle(title)
    return fig


def _history_figure(hists: dict, keys=("objective", "sparsity", "r2")):
    fig, axes = _fig(1, len(keys))
    for ax, key in zip(axes[0], keys):
        for label, h in hists.items():
            y = np.asarray(h[key])
            if key == "sparsity":
                y = 1 - y
            ax.plot(np.arange(1, len(y) + 1), y, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel({"sparsity": "1 - sparsity (App. F)", "r2": "R² (pooled)"}.get(key, key))
        if key == "objective":
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    return fig


@experiment("ksm-synthetic", description="KSM ADMM (schedule 3) recovers a sparse dictionary from warm start (002 §6.1, Fig. 2)",
            cpu_time="~30 s", sources=("002 §6.1", "002 Table 1", "002 Fig. 2"))
def ksm_synthetic(ctx: Context) -> None:
    from simcode.ksm import KernelSimilarityMatching
    from simcode.ksm.metrics import p_sparsity
    from simcode.sparse.atoms import match_atoms

    X, A, C, W0 = _paper_synthetic(ctx.seed)
    epochs = 30 if ctx.quick else 300
    m = KernelSimilarityMatching(16, lam=0.5, omega=1e-4, rho=1.0, schedule=3, n_z_steps=15, lr_w=0.01,
                                 batch_size=128, max_iter=epochs, tol=0, device=ctx.device,
                                 random_state=ctx.seed, callback=_progress(ctx, epochs, "ADMM epochs"))
    m.fit(X, W_init=W0)
    h = m.history_
    err0 = match_atoms(A, W0, max_shift=0).mean_error
    matched = match_atoms(A, np.asarray(m.components_), max_shift=0)
    err, errs, match = matched.mean_error, matched.errors, matched.assignment
    r2 = _r2_uniform(X, m)
    ctx.metric("epochs", m.n_iter_)
    ctx.metric("r2_final", r2)
    ctx.metric("r2_final_pooled", h["r2"][-1])
    ctx.metric("r2_first_epoch", h["r2"][0])
    ctx.metric("dictionary_error_init", err0)
    ctx.metric("dictionary_error_final", err)
    ctx.metric("sparsity_true_codes", p_sparsity(C))
    ctx.metric("sparsity_final", h["sparsity"][-1])
    ctx.metric("constraint_violation_final", h["constraint_violation"][-1])
    ctx.metric("seconds", h["time"][-1])
    ctx.claim("R² of the implicit-map reconstruction on synthetic data", source="002 Table 1 (1.0), §6.1",
              measured=r2, expected=0.99, kind="at_least")
    ctx.claim("dictionary recovered: mean err(a, â) after Hungarian matching below the warm start's and ≤ 0.05",
              source="002 §6.1, Fig. 2(a,h)", measured=bool(err < err0 and err <= 0.05),
              expected="true and final maps aligned (threshold 0.05 is ours)", kind="true")
    ctx.claim("constraint violation falls early in the optimisation", source="002 §6.1, Fig. 2(e)",
              measured=bool(h["constraint_violation"][-1] < h["constraint_violation"][0]),
              expected="violation decreases", kind="true")
    fig, axes = _fig(1, 4)
    ep = np.arange(1, len(h["r2"]) + 1)
    for ax, key, lab in zip(axes[0], ("objective", "constraint_violation", "sparsity", "r2"),
                            ("objective P1 at Â", "constraint violation", "1 - sparsity", "R² (pooled)")):
        y = np.asarray(h[key])
        ax.plot(ep, 1 - y if key == "sparsity" else y)
        ax.set_xlabel("epoch")
        ax.set_title(lab, fontsize=9)
        if key in ("objective", "constraint_violation") and np.all(y > 0):
            ax.set_yscale("log")
    ctx.figure("ksm_synthetic_curves", fig, "Schedule-3 ADMM on the §6.1 synthetic data: the objective, the "
               "violation of P_i = z_i z_iᵀ + ωI, 1 - sparsity (App. F) and R² per epoch (cf. Fig. 2(c-f)).")
    fig, axes = _fig(1, 2, w=5)
    comp = np.asarray(m.components_)[match]
    axes[0, 0].imshow(np.vstack([A / np.linalg.norm(A, axis=1, keepdims=True),
                                 comp / np.linalg.norm(comp, axis=1, keepdims=True)]).T, aspect="auto",
                      cmap="RdBu_r")
    axes[0, 0].set_title("true atoms (left 16) | Â matched (right 16)", fontsize=9)
    axes[0, 1].bar(np.arange(16), errs)
    axes[0, 1].set_title("per-atom err(a, â)", fontsize=9)
    ctx.figure("ksm_synthetic_atoms", fig, "True dictionary next to the implicit generative map Â = XZᵀH⁻¹/T "
               "(atoms normalised, matched by the Hungarian algorithm), and each atom's error √(1-cos²).")
    ctx.note(R2_NOTE)
    ctx.note("Atoms are Gaussian draws normalised to unit norm (the paper says N(0, I) without stating a "
             "normalisation; with un-normalised atoms of norm ≈ √30 the codes reach ≈ 27 and schedule 3's "
             "η_Z = 1/(100 L) is too large for the quartic term: it diverged at epoch 1 when we tried). Warm start "
             "W = A + N(0, (0.3/√30)²): the paper's N(0, 0.3²) on N(0, 1) entries, i.e. the same relative "
             "perturbation (0.3 absolute on unit-norm atoms is 160% of their scale). Table 1 runs 3500 epochs; we run "
             f"{epochs} (the R² saturates within the first epochs from the warm start).")


def _epochs_to_reach(obj, target):
    idx = np.nonzero(np.asarray(obj) <= target)[0]
    return int(idx[0]) + 1 if idx.size else None


@experiment("ksm-schedules", description="Schedules 1 and 2 converge faster than schedule 3 (002 §6.1, Fig. 3)",
            cpu_time="~30 s", sources=("002 §5.1.2", "002 Fig. 3"))
def ksm_schedules(ctx: Context) -> None:
    from simcode.ksm import KernelSimilarityMatching

    X, A, C, W0 = _paper_synthetic(ctx.seed)
    epochs = 20 if ctx.quick else 150
    hists, n_reach = {}, {}
    for s in ctx.track((1, 2, 3), "schedules"):
        m = KernelSimilarityMatching(16, lam=0.5, omega=1e-4, rho=1.0, schedule=s, lr_w=0.01, max_iter=epochs,
                                     tol=0, device=ctx.device, random_state=ctx.seed).fit(X, W_init=W0)
        hists[f"schedule {s}"] = m.history_
    for s in (1, 2, 3):
        h = hists[f"schedule {s}"]
        obj = np.asarray(h["objective"])
        # epochs until the objective stays within 5% of its own total change (f_first - f_last)
        gap = np.abs(obj - obj[-1])
        within = gap <= 0.05 * max(abs(obj[0] - obj[-1]), 1e-15)
        settled = np.nonzero(~within)[0]
        n_reach[s] = int(settled[-1]) + 2 if settled.size else 1
        ctx.metric(f"epochs_to_settle_schedule{s}", n_reach[s])
        ctx.metric(f"objective_final_schedule{s}", h["objective"][-1])
        ctx.metric(f"r2_final_schedule{s}", h["r2"][-1])
        ctx.metric(f"sparsity_final_schedule{s}", h["sparsity"][-1])
        ctx.metric(f"seconds_schedule{s}", h["time"][-1])
    big = epochs + 1
    n1, n2, n3 = (n_reach[s] if n_reach[s] is not None else big for s in (1, 2, 3))
    ctx.claim("schedules 1 and 2 settle (objective within 5% of its total change) in fewer epochs than schedule 3",
              source="002 §6.1, Fig. 3", measured=bool(n1 < n3 and n2 < n3),
              expected="schedules 1, 2 faster than schedule 3", kind="true")
    ctx.claim("schedules 1 and 2 converge at a similar rate (their settling epochs differ less than the faster of "
              "them differs from schedule 3)", source="002 §6.1, Fig. 3",
              measured=bool(abs(n1 - n2) < n3 - max(n1, n2)),
              expected="1 and 2 similar, both faster than 3", kind="true")
    ctx.figure("ksm_schedules", _history_figure(hists), "Objective, 1 - sparsity and R² per epoch for the three "
               "ADMM schedules on the §6.1 data from the same warm start (cf. Fig. 3).")
    ctx.note("Rate measured per schedule as the number of epochs after which the objective stays within 5% of its "
             "own total change over the run. Schedule 3 uses η_Z = 1/(100 L) as §5.1.2 prescribes. The objective "
             "plotted is P1 at the implicit map Â; schedules 1-2 settle at a slightly higher P1 value than the one "
             "schedule 3 drifts to, because their Z-step is ISTA for the unit-row-norm W (002 Theorem 1).")


@experiment("ksm-digits", description="KSM on five digit classes: R² of the implicit map and digit-like atoms (002 §6.2, Fig. 4a)",
            cpu_time="~20 s", sources=("002 §6.2", "002 Table 1", "002 Fig. 4"))
def ksm_digits(ctx: Context) -> None:
    from simcode.data import load_digits_subset
    from simcode.ksm import KernelSimilarityMatching

    X, y = load_digits_subset((0, 3, 4, 6, 7))
    K = 40  # Table 1's K/N = 500/784 ≈ 0.64 of the input dimension, for 64 pixels
    epochs = 20 if ctx.quick else 300
    lr = 0.05
    m = KernelSimilarityMatching(K, lam=0.1, omega=1e-4, rho=1.0, schedule=1, lr_w=lr, batch_size=128,
                                 max_iter=epochs, tol=0, init="random", device=ctx.device,
                                 random_state=ctx.seed, callback=_progress(ctx, epochs, "ADMM epochs"))
    m.fit(X)
    h = m.history_
    ctx.metric("n_samples", X.shape[0])
    ctx.metric("K", K)
    ctx.metric("epochs", m.n_iter_)
    r2 = _r2_uniform(X, m)
    ctx.metric("r2_first_epoch_pooled", h["r2"][0])
    ctx.metric("r2_final", r2)
    ctx.metric("r2_final_pooled", h["r2"][-1])
    ctx.metric("sparsity_first", h["sparsity"][0])
    ctx.metric("sparsity_final", h["sparsity"][-1])
    ctx.metric("seconds", h["time"][-1])
    ctx.claim("R² of the implicit generative map on digits {0,3,4,6,7}", source="002 Table 1 (MNIST: 0.78)",
              measured=r2, expected=0.78, kind="at_least")
    ctx.claim("codes get sparser over the optimisation", source="002 §6.2, Fig. 4",
              measured=bool(h["sparsity"][-1] > h["sparsity"][0]), expected="sparsity increases", kind="true")
    comp = np.asarray(m.components_)
    order = np.argsort(-np.abs(np.asarray(m.codes_)).sum(0))
    ctx.figure("ksm_digits_atoms", _atoms_figure(comp[order], (8, 8), 64, "Â atoms (most used first)"),
               "The atoms of the implicit generative map Â on scikit-learn's 8×8 digits.")
    ctx.figure("ksm_digits_curves", _history_figure({"schedule 1": h}), "Objective, 1 - sparsity and R² per epoch "
               "on the digits.")
    ctx.note(R2_NOTE)
    ctx.note(f"Data: scikit-learn's bundled 8×8 digits ({X.shape[0]} samples, 64 pixels) stand in for MNIST "
             f"(~9000 samples, 784 pixels; needs a download). K = {K} instead of 500: the same ratio K/N ≈ 0.64 for "
             f"64 pixels (with an overcomplete K the implicit map, a ridge fit of X on Z, makes R² trivially high), "
             f"η_W = {lr} instead of 10⁻⁴ and {epochs} epochs instead of 8000 so that it runs on a laptop CPU; "
             "λ, ω, ρ, T_z, B as in Table 1, schedule 1 as in §6.2. Initialisation: §6.2 follows §6.1 (W = true "
             "dictionary + white Gaussian noise, rows normalised; Z by sparse coding with W); with no true "
             "dictionary that is a Gaussian W with unit-norm rows (init='random'). §6.3 says explicitly when W "
             "starts from data points (moons), §6.2 does not. Before this change W started from random digits: "
             "their codes are sparse from the start and the App. F sparsity then drifted down (0.768 → 0.744, "
             "pooled R² 0.929), failing the sparsity claim; from the Gaussian start the codes get sparser as in "
             "Fig. 4.")


@experiment("ksm-patches", description="KSM on whitened 16×16 natural-image patches: R² and Gabor-like atoms (002 §6.2, Fig. 4b)",
            cpu_time="~100 s", sources=("002 §6.2", "002 Table 1", "002 Fig. 4"))
def ksm_patches(ctx: Context) -> None:
    from simcode.data import load_image_patches
    from simcode.ksm import KernelSimilarityMatching

    T = 1000 if ctx.quick else 10000
    epochs = 3 if ctx.quick else 30
    X = load_image_patches(16, T, whiten=True, random_state=ctx.seed)
    lr = 0.05
    m = KernelSimilarityMatching(192, lam=0.9, omega=1e-4, rho=1.0, schedule=1, lr_w=lr, batch_size=128,
                                 max_iter=epochs, tol=0, device=ctx.device, random_state=ctx.seed,
                                 callback=_progress(ctx, epochs, "ADMM epochs"))
    m.fit(X)
    h = m.history_
    comp = np.asarray(m.components_)
    ctx.metric("n_patches", T)
    ctx.metric("epochs", m.n_iter_)
    r2 = _r2_uniform(X, m)
    ctx.metric("r2_first_epoch_pooled", h["r2"][0])
    ctx.metric("r2_final", r2)
    ctx.metric("r2_final_pooled", h["r2"][-1])
    ctx.metric("sparsity_final", h["sparsity"][-1])
    ctx.metric("seconds", h["time"][-1])
    # a crude Gabor-likeness score: fraction of the atom's energy in its strongest spatial frequency band
    F = np.abs(np.fft.fft2(comp.reshape(-1, 16, 16))) ** 2
    F[:, 0, 0] = 0
    peak = F.reshape(len(F), -1).max(1) * 2 / F.reshape(len(F), -1).sum(1).clip(1e-30)
    ctx.metric("median_peak_frequency_energy_fraction", float(np.median(peak)))
    ctx.claim("R² of the implicit generative map on whitened patches", source="002 Table 1 (0.86)",
              measured=r2, expected=0.86, kind="at_least")
    order = np.argsort(-np.abs(np.asarray(m.codes_)).sum(0))
    ctx.figure("ksm_patches_atoms", _atoms_figure(comp[order], (16, 16), 100, "Â atoms (100 most used)"),
               "The 100 most used atoms of Â on 16×16 whitened photograph patches; oriented, localised, "
               "Gabor-like atoms are what Fig. 4b reports.")
    ctx.figure("ksm_patches_curves", _history_figure({"schedule 1": h}), "Objective, 1 - sparsity and R² per "
               "epoch on the patches.")
    ctx.note(R2_NOTE)
    ctx.note(f"{T} patches from scikit-image's bundled photographs (the paper: ~40000 from the 10 Olshausen-Field "
             f"images), {epochs} epochs instead of 5000 and η_W = {lr} instead of 10⁻⁴ (CPU budget); K, λ, ω, ρ, "
             "T_z, B as in Table 1. With K = 192 atoms for 256 pixels the implicit map (a ridge fit of X on Z) already "
             "reaches a high R² after the first epoch (metric r2_first_epoch_pooled), so the R² claim is weak evidence; the "
             "atoms are the real result. Gabor-likeness is judged from the figure; the metric "
             "median_peak_frequency_energy_fraction (energy in the strongest ± frequency pair) is a crude aid.")


def receptive_field_spread(X, Z):
    """Mean over units of the activation-weighted spatial spread of the inputs that drive the unit, relative to
    the spread of the whole data set (small = localised receptive fields)."""
    tot = np.sqrt(((X - X.mean(0)) ** 2).sum(1).mean())
    spreads = []
    for k in range(Z.shape[1]):
        w = Z[:, k]
        if w.sum() <= 0:
            continue
        mu = (w[:, None] * X).sum(0) / w.sum()
        spreads.append(np.sqrt((w * ((X - mu) ** 2).sum(1)).sum() / w.sum()))
    return float(np.mean(spreads) / tot)


@experiment("ksm-moons", description="Simplex-prior KSM tiles the two-moons manifold: R², support size 2, local receptive fields (002 §6.3, Fig. 5)",
            cpu_time="~25 s", sources=("002 §6.3", "002 Table 1", "002 Fig. 5"))
def ksm_moons(ctx: Context) -> None:
    from simcode.data import make_moons
    from simcode.ksm import KernelSimilarityMatching
    from simcode.ksm.metrics import modal_support_size, support_sizes

    X, _ = make_moons(2500, noise=0.01, random_state=ctx.seed)
    epochs = 60 if ctx.quick else 150
    m = KernelSimilarityMatching(12, prior="simplex", omega=0.1, rho=1.0, schedule=1, lr_w=1.5e-3, n_z_steps=15,
                                 batch_size=128, max_iter=epochs, tol=0, device=ctx.device,
                                 random_state=ctx.seed, callback=_progress(ctx, epochs, "ADMM epochs"))
    m.fit(X)
    h = m.history_
    Z = np.asarray(m.codes_)
    A = np.asarray(m.components_)
    sizes = support_sizes(Z, tol=1e-3)
    mode = modal_support_size(Z, tol=1e-3)
    spread = receptive_field_spread(X, Z)
    ctx.metric("epochs", m.n_iter_)
    r2 = _r2_uniform(X, m)
    ctx.metric("r2_final", r2)
    ctx.metric("r2_final_pooled", h["r2"][-1])
    ctx.metric("support_size_histogram", np.bincount(sizes, minlength=6).tolist())
    ctx.metric("modal_support_size", mode)
    ctx.metric("receptive_field_spread_ratio", spread)
    ctx.metric("seconds", h["time"][-1])
    ctx.claim("R² of the piece-wise linear reconstruction of the moons", source="002 Table 1 (0.98)",
              measured=r2, expected=0.98, kind="at_least")
    ctx.claim("modal support size of the codes = intrinsic dimension + 1 = 2", source="002 §6.3, Fig. 5(c)",
              measured=mode, expected=2, kind="close", tol=0)
    ctx.claim("receptive fields are localised (activation-weighted spread ≤ 0.3 of the data's spread)",
              source="002 §6.3, Fig. 5(d)", measured=spread, expected=0.3, kind="at_most",
              note="threshold 0.3 is ours; the paper shows the tuning curves")
    Xh = Z @ A
    fig, axes = _fig(1, 3, w=4.2)
    ax = axes[0, 0]
    ax.scatter(X[:, 0], X[:, 1], s=2, c="0.7", label="data")
    ax.scatter(Xh[:, 0], Xh[:, 1], s=2, c="tab:green", label="ÂZ")
    ax.scatter(A[:, 0], A[:, 1], marker="x", c="r", s=40, label="atoms (Â)")
    ax.legend(fontsize=7)
    ax.set_title("reconstruction", fontsize=9)
    axes[0, 1].bar(np.arange(len(np.bincount(sizes))), np.bincount(sizes))
    axes[0, 1].set_xlabel("‖z‖₀")
    axes[0, 1].set_title("support sizes", fontsize=9)
    ax = axes[0, 2]
    used = np.argsort(-Z.sum(0))[:4]
    for k in used:
        sel = Z[:, k] > 1e-3
        ax.scatter(X[sel, 0], X[sel, 1], s=3, c=Z[sel, k], cmap="viridis", vmin=0, vmax=1)
    ax.scatter(A[used, 0], A[used, 1], marker="x", c="r", s=40)
    ax.set_title("tuning of 4 units (colour = activation)", fontsize=9)
    ctx.figure("ksm_moons", fig, "Two moons with the simplex prior (K = 12): data, reconstruction ÂZ and the "
               "anchor atoms (red crosses); histogram of ‖z‖₀ (mode 2 → a 1-D manifold); where four units fire "
               "(cf. Fig. 5).")
    ctx.note(R2_NOTE)
    ctx.note(f"{epochs} epochs instead of Table 1's 5500 (CPU budget); other hyper-parameters as Table 1. W is "
             "initialised from random data points and Z from a Gaussian projected on the simplex (§6.3). "
             "Support counted with a relative threshold 10⁻³.")
