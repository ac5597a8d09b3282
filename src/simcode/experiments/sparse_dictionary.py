"""Sparse dictionary learning: atom recovery on 002's synthetic set-up, and Gabor-like atoms from image patches."""

from __future__ import annotations

import time
import warnings

import numpy as np

from simcode.experiments import Context, experiment


def orientation_selectivity(atoms: np.ndarray, size: int) -> np.ndarray:
    """|Σ P(f) e^{2iφ(f)}| / Σ P(f) over the 2-D power spectrum P of each atom (DC removed).

    1 for a grating or a Gabor of one orientation, about 0 for white noise; a standard circular-variance
    index (e.g. Ringach, Shapley & Hawken 2002) applied to the atom's spectrum.
    """
    A = atoms.reshape(-1, size, size)
    P = np.abs(np.fft.fft2(A)) ** 2
    f = np.fft.fftfreq(size)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    w = np.exp(2j * np.arctan2(fy, fx))
    w[0, 0] = 0
    P[:, 0, 0] = 0
    return np.abs((P * w).sum((1, 2))) / np.maximum(P.sum((1, 2)), 1e-300)


@experiment("sparse-dictionary", description="Dictionary learning: recovery of 16 planted atoms (002 §6.1 set-up) "
            "and Gabor-like atoms from whitened natural-image patches", cpu_time="~1-2 min",
            sources=("002 §6.1", "002 §6.2", "004 'Convolutional dictionary update step'"))
def run(ctx: Context) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simcode.data import load_image_patches, make_sparse_dictionary_data
    from simcode.core import ConvergenceWarning
    from simcode.sparse.atoms import match_atoms
    from simcode.sparse.coding import sparse_encode
    from simcode.sparse.dictionary import DictionaryLearning

    def n_rec(D_true, D, threshold=0.99):
        return match_atoms(D_true, D, max_shift=0).n_recovered(threshold)

    device = "cuda" if str(ctx.device).startswith("cuda") else "auto"

    # ---- 1. synthetic: N=30, K=16, 12.5% sparsity, amplitudes U[4, 6], 1500 samples ------------------------
    X, D_true, codes_true = make_sparse_dictionary_data(1500, 30, 16, 0.125, amplitude=(4, 6), random_state=ctx.seed)
    curve = []

    def track(it, D, F):
        curve.append((it, n_rec(D_true, D), n_rec(D_true, D, threshold=0.9), F))

    t0 = time.perf_counter()
    dl = DictionaryLearning(16, lam=0.5, max_iter=40 if ctx.quick else 150, tol=1e-9, random_state=ctx.seed,
                            device=device, callback=track).fit(X)
    t_batch = time.perf_counter() - t0
    match = match_atoms(D_true, dl.components_, max_shift=0)
    cos = match.cosines
    cos_rec = 0.999  # the recovery criterion (simcode's)
    n_recovered = int(np.sum(cos >= cos_rec))  # the metric synthetic_atoms_recovered keeps its > 0.99 meaning
    F = np.asarray(dl.history_["objective"])
    monotone = bool(np.all(np.diff(F) <= 1e-12 * abs(F[0])))
    Z = dl.codes_
    ss_tot = np.sum((X - X.mean(0)) ** 2)
    r2 = 1 - np.sum((X - Z @ dl.components_) ** 2) / ss_tot
    # oracle: the same lasso (λ = 0.5, exact active-set solver) on the true dictionary; the ℓ1 shrinkage of the
    # planted amplitudes caps its R² below 1 too, so the learned dictionary is judged against it
    Z_oracle = sparse_encode(X, D_true, 0.5)
    r2_oracle = 1 - np.sum((X - Z_oracle @ D_true) ** 2) / ss_tot
    F_oracle = float(np.mean(0.5 * np.sum((X - Z_oracle @ D_true) ** 2, 1) + 0.5 * np.abs(Z_oracle).sum(1)))
    r2_tol = 2 * (1 - cos_rec)
    support_acc = float(np.mean((np.abs(Z) > 1e-6) == (codes_true != 0)))
    ctx.metric("synthetic_atoms_recovered", match.n_recovered(0.99))
    ctx.metric("synthetic_atoms_recovered_cos_0.999", n_recovered)
    ctx.metric("synthetic_min_abs_cos", float(cos.min()))
    ctx.metric("synthetic_r2", float(r2))
    ctx.metric("synthetic_oracle_r2", float(r2_oracle))
    ctx.metric("synthetic_r2_gap_to_oracle", float(r2_oracle - r2))
    ctx.metric("synthetic_objective", float(F[-1]))
    ctx.metric("synthetic_oracle_objective", F_oracle)
    ctx.metric("synthetic_batch_iters", dl.n_iter_)
    ctx.metric("synthetic_batch_seconds", t_batch)
    ctx.metric("synthetic_support_accuracy_after_matching_free", support_acc)
    ctx.claim("Atoms recovered with |cos| ≥ 0.999 (Hungarian matching), batch alternating minimisation from "
              "random data-sample initialisation", source="002 §6.1 set-up; simcode criterion (16/16 at |cos| ≥ 0.999)",
              measured=n_recovered, expected=16, kind="at_least",
              note="simcode criterion (the paper gives no number; it shows the true and final maps aligned, "
                   "Fig. 2(a), (h)). An earlier version asked for ≥ 15 of 16 at |cos| > 0.99; the claim now asks for all "
                   "16 atoms with |cos| ≥ 0.999, a bar set after the smallest |cos| (0.9994-0.9997 on seeds 0-2) "
                   f"was known. Smallest matched |cos| this run: {cos.min():.5f}.")
    ctx.claim("The batch objective never increases", source="simcode criterion (alternating exact minimisation cannot increase it)",
              measured=monotone, expected="non-increasing objective at every outer iteration", kind="true")
    ctx.claim("R² of the reconstruction codes @ dictionary, relative to the oracle (the true dictionary coded with "
              "the same lasso, λ = 0.5): learned R² ≥ oracle R² − tol",
              source="002 §6.1 Fig. 2(f) (R² rises towards 1; no number); judged against the oracle",
              measured=float(r2), expected=float(r2_oracle), tol=r2_tol, kind="at_least",
              note=f"simcode criterion, tol = 2(1 − {cos_rec}) = {r2_tol:g}: an atom at |cos| = {cos_rec} from its "
                   f"true atom is off by ‖d̂ − d‖² = 2(1 − |cos|), so a dictionary that just meets the recovery "
                   f"criterion loses about that fraction of the signal variance with the codes held fixed (tolerance "
                   f"chosen after the issue reported the oracle, and the gap 0.0006, on seed 0). "
                   f"Oracle R² {r2_oracle:.5f}, learned {r2:.5f} (gap {r2_oracle - r2:.5f}). The oracle stays below 1 "
                   f"because the ℓ1 penalty shrinks the planted amplitudes (4–6) by about λ = 0.5; an absolute 0.99 "
                   f"(the earlier threshold) sat above it. The learned dictionary reaches a lower objective than "
                   f"the true one ({F[-1]:.5f} vs {F_oracle:.5f}): it trades a little R² for sparser codes.")

    t0 = time.perf_counter()
    online_curve = []
    # 20 epochs in --quick too: they take well under a second, and 5 (the old --quick) left seed 2 at 14/16
    dlo = DictionaryLearning(16, lam=0.5, solver="online", max_iter=20, batch_size=128,
                             random_state=ctx.seed, device=device,
                             callback=lambda it, D, F: online_curve.append((it, n_rec(D_true, D))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed number of epochs is the protocol here
        dlo.fit(X)
    t_online = time.perf_counter() - t0
    n_rec_online = n_rec(D_true, dlo.components_)
    ctx.metric("synthetic_online_atoms_recovered", n_rec_online)
    ctx.metric("synthetic_online_seconds", t_online)
    ctx.claim("Online (Mairal et al.) dictionary learning, batch size 128 as in 002 Table 1: atoms recovered "
              "(|cos| > 0.99)", source="002 §6.1, Table 1 batch size", measured=n_rec_online, expected=15,
              kind="at_least", note="simcode criterion (the paper gives no number). 20 epochs at "
              "both sizes: the old --quick 5 epochs recovered only 14/16 on seed 2 (16/16 from epoch 7).")

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    it_, rec99, rec90, Fc = zip(*curve)
    axes[0].plot(it_, rec99, "-o", ms=3, label="|cos| > 0.99")
    axes[0].plot(it_, rec90, "-", label="|cos| > 0.9")
    if online_curve:
        ep, rec_o = zip(*online_curve)
        axes[0].plot(ep, rec_o, "s--", label="online, per epoch (|cos| > 0.99)")
    axes[0].set_xlabel("outer iteration / epoch")
    axes[0].set_ylabel("atoms recovered (of 16)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("Recovery curve")
    axes[1].semilogy(np.arange(len(F)), F - F.min() + 1e-12)
    axes[1].set_xlabel("outer iteration")
    axes[1].set_ylabel("F − min F")
    axes[1].set_title("Batch objective (monotone)")
    from scipy.optimize import linear_sum_assignment

    learned = dl.components_ / np.linalg.norm(dl.components_, axis=1, keepdims=True)
    r, c = linear_sum_assignment(-np.abs(D_true @ learned.T))
    sgn = np.sign(np.sum(D_true[r[:6]] * learned[c[:6]], 1))[:, None]
    axes[2].imshow(np.vstack([D_true[r[:6]], sgn * learned[c[:6]]]), aspect="auto", cmap="RdBu_r")
    axes[2].set_title("6 true atoms (top) and their learned matches (bottom)")
    axes[2].set_xlabel("feature")
    fig.tight_layout()
    ctx.figure("synthetic_recovery", fig, "Left: number of the 16 planted atoms recovered (Hungarian matching on "
               "|cos|) after each outer iteration of batch dictionary learning (and per epoch online). Middle: the "
               "objective decreases monotonically. Right: true atoms and their learned counterparts.")

    # ---- 2. natural-image patches: 16×16 whitened -------------------------------------------------------
    # --quick: fewer atoms and one epoch, but the same 10000 patches and 20 mini-batch updates (it had 2000 patches
    # and 8 updates, which left the atoms under-trained: median index 0.42 on seed 0, see the note)
    n_patches, K, epochs, bs = (10000, 64, 1, 500) if ctx.quick else (10000, 192, 3, 1000)
    P = load_image_patches(16, n_patches, whiten=True, random_state=ctx.seed)
    lam_p = 0.9  # 002 Table 1, patches
    t0 = time.perf_counter()
    dlp = DictionaryLearning(K, lam=lam_p, solver="online", max_iter=1, batch_size=bs, coding_tol=1e-4,
                             coding_max_iter=300, random_state=ctx.seed, device=device)
    init_atoms = None
    for ep in ctx.track(range(epochs), "patch dictionary epochs"):
        perm = np.random.default_rng(ctx.seed + ep).permutation(n_patches)
        for s in range(0, n_patches, bs):
            dlp.partial_fit(P[perm[s:s + bs]])
            if init_atoms is None:
                init_atoms = dlp.components_.copy()
    t_patch = time.perf_counter() - t0
    atoms = dlp.components_
    osi = orientation_selectivity(atoms, 16)
    osi_data = orientation_selectivity(P[:K], 16)
    Zp = dlp.transform(P[:1000])
    nnz = float(np.mean(np.count_nonzero(Zp, axis=1)))
    ctx.metric("patch_n_patches", n_patches)
    ctx.metric("patch_atoms", K)
    ctx.metric("patch_epochs", epochs)
    ctx.metric("patch_seconds", t_patch)
    ctx.metric("patch_median_orientation_selectivity", float(np.median(osi)))
    ctx.metric("patch_data_median_orientation_selectivity", float(np.median(osi_data)))
    ctx.metric("patch_mean_active_atoms", nnz)
    ctx.claim("Atoms learned on whitened 16×16 patches are oriented (median orientation-selectivity index of the "
              "atoms' spectra; 1 = one orientation, ~0.07 for white noise)", source="002 §6.2 Fig. 4(b) "
              "(Gabor-like atoms; qualitative, no number)", measured=float(np.median(osi)), expected=0.5,
              kind="at_least",
              note="simcode criterion: 0.5 is about halfway from white noise (0.07) to one orientation (1) and "
                   "above the whitened data patches themselves (median 0.25-0.41 over seeds 0-2); for scale, a "
                   "16×16 Gabor with σ = 2 px and wavelength 6 px scores 0.77, with σ = 1.5 px and wavelength 6 px 0.59. The index rises with "
                   "training: the old --quick set-up (2000 patches, 2 epochs of 500 = 8 updates) gave 0.42 on "
                   "seed 0 and, on 2000 patches, levels off at 0.50-0.56 after 6 epochs (seeds 0-2), so its "
                   "failure was under-training on too few patches, not a failure of the method.")
    ctx.claim("Learned atoms are more oriented than the data patches they start from (median index)",
              source="002 §6.2 / Olshausen & Field 1996 (qualitative)",
              measured=bool(np.median(osi) > np.median(osi_data)),
              expected=f"median index of atoms > that of raw patches ({np.median(osi_data):.2f})", kind="true")

    n_show = min(K, 96)
    best = np.argsort(-np.abs(Zp).mean(0))[:n_show]
    cols = 12
    rows = int(np.ceil(n_show / cols))
    fig2, axs = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9))
    for ax in axs.ravel():
        ax.axis("off")
    for ax, k in zip(axs.ravel(), best):
        a = atoms[k].reshape(16, 16)
        m = np.abs(a).max() or 1
        ax.imshow(a, cmap="gray", vmin=-m, vmax=m)
    fig2.suptitle(f"{n_show} most used of {K} atoms, {epochs} epochs online on {n_patches} whitened 16×16 patches "
                  f"(λ = {lam_p})", fontsize=9)
    fig2.tight_layout()
    ctx.figure("patch_atoms", fig2, "Dictionary atoms learned from whitened natural-image patches: localised, "
               "oriented, band-pass (Gabor-like) receptive fields, as in Olshausen & Field and 002 Fig. 4(b).")
    ctx.note("The synthetic run starts from randomly chosen data samples, not (as 002 §6.1) from the true dictionary "
             "plus N(0, 0.3²) noise, so recovery here is the harder problem. 'Gabor-like' is operationalised as the "
             "orientation-selectivity index of each atom's power spectrum; the 0.5 threshold is ours, not the "
             "paper's. Patches: 10000 patches (002: ~40000) and mini-batches of 1000 (002: 128) to stay within a "
             "laptop-minute budget; --quick uses 64 atoms and one epoch in batches of 500 (20 updates). The R² claim "
             "is judged against the oracle R² of the true dictionary under the same lasso: the ℓ1 "
             "penalty shrinks the planted amplitudes (4–6) by about λ = 0.5, which caps even the oracle below "
             "0.99, the absolute threshold used before.")
