"""Model–brain comparison with uncertainty: layers of a small network trained here on the digits data, compared
with a simulated multi-subject "brain" whose geometry is planted (a noisy random linear read-out of one layer).

Everything the method should find is known by construction: which layer the brain reads (so similarity should
peak there), and, for the coverage check, the population value of the statistic. The experiment reports
bootstrap intervals (subjects and stimuli resampled), permutation p-values, the leave-one-subject-out noise
ceiling, and the empirical coverage of 95 % intervals over repeated synthetic data sets.
"""

from __future__ import annotations

import numpy as np

from simcode.experiments import Context, experiment


def _train_mlp(X, y, widths, epochs, seed, device):
    """Adam on cross-entropy; returns the activations of every layer (input, hidden ReLU layers, logits)."""
    import torch

    torch.manual_seed(seed)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.long, device=device)
    dims = [X.shape[1], *widths]
    mods = []
    for a, b in zip(dims[:-1], dims[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    body = torch.nn.Sequential(*mods).to(device)
    head = torch.nn.Linear(dims[-1], int(y.max()) + 1).to(device)
    opt = torch.optim.Adam(list(body.parameters()) + list(head.parameters()), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(yt), generator=g)
        for s in range(0, len(yt), 64):
            idx = perm[s:s + 64].to(device)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(head(body(Xt[idx])), yt[idx]).backward()
            opt.step()
    with torch.no_grad():
        acc = float((head(body(Xt)).argmax(1) == yt).float().mean())

    def layers(Z):
        out = [Z]
        h = torch.as_tensor(Z, dtype=torch.float32, device=device)
        with torch.no_grad():
            for i in range(0, len(mods), 2):
                h = mods[i + 1](mods[i](h))
                out.append(h.double().cpu().numpy())
            out.append(head(h).double().cpu().numpy())
        return out

    return layers, acc


def _coverage(rng, n, reps, n_boot, ci):
    """Fraction of 95 % stimulus-bootstrap intervals of linear CKA that contain the population value, over
    ``reps`` synthetic data sets Y = XW + σE, X ~ N(0, I_3): population CKA = ‖W‖²_F / (√p ‖WᵀW + σ²I‖_F)."""
    from simcode.similarity import bootstrap

    p = q = 3
    W, sig = rng.standard_normal((p, q)), 2.0
    truth = np.linalg.norm(W) ** 2 / (np.sqrt(p) * np.linalg.norm(W.T @ W + sig ** 2 * np.eye(q)))
    hits = []
    for _ in range(reps):
        X = rng.standard_normal((n, p))
        Y = X @ W + sig * rng.standard_normal((n, q))
        b = bootstrap(X, Y, "cka", n_boot=n_boot, ci=ci, random_state=int(rng.integers(2 ** 31)))
        hits.append(b.ci_low <= truth <= b.ci_high)
    return float(np.mean(hits)), truth


@experiment("model-brain", description="Layers of an MLP trained on digits vs a simulated multi-subject brain with "
            "a planted layer: bootstrap intervals, permutation tests, noise ceiling, interval coverage",
            cpu_time="~20 s (quick), ~3.5 min (full)",
            sources=("003 'kernel alignment' (representation kernels compared across systems)",
                     "Nili et al. 2014 (noise ceiling)", "Efron 1987 (BCa)"))
def run(ctx: Context) -> None:
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits

    from simcode.similarity import bootstrap, noise_ceiling, permutation_test, rdm

    rng = ctx.rng
    digits = load_digits()
    X = digits.data / 16.0
    y = digits.target
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:10] for c in range(10)])   # 100 stimuli
    train = np.setdiff1d(np.arange(len(y)), test)
    layers_of, acc = _train_mlp(X[train], y[train], (128, 64, 32), 15 if ctx.quick else 40, ctx.seed, ctx.device)
    H = layers_of(X[test])
    names = ["input", "hidden 1", "hidden 2", "hidden 3", "logits"]
    planted = 2
    ctx.metric("MLP training accuracy", acc)

    # ---- simulated population: each subject reads the planted layer through its own random linear map + noise
    S, n_neurons = 12, 60
    Hp = H[planted] - H[planted].mean(0)
    Hp = Hp / np.sqrt((Hp ** 2).sum(1).mean())
    sig = 1.5          # per-neuron noise sd; the per-neuron signal sd is ~1 (rows of Hp have rms norm 1)
    subjects = [Hp @ rng.standard_normal((Hp.shape[1], n_neurons))
                + sig * rng.standard_normal((len(test), n_neurons)) for _ in range(S)]
    ctx.metric("population: subjects, neurons per subject, per-neuron noise sd (signal sd ~1)", [S, n_neurons, sig])

    n_boot = 300 if ctx.quick else 2000
    n_perm = 499 if ctx.quick else 4999
    D_subj = np.stack([rdm(s, "sqeuclidean") for s in subjects])
    mean_rdm = D_subj.mean(0)
    est, lo, hi, pv = [], [], [], []
    for li, Hl in enumerate(ctx.track(H, "layers")):
        D = rdm(Hl, "sqeuclidean")
        b = bootstrap(D, list(D_subj), "rsa", metric="precomputed", over="both", n_boot=n_boot, ci="bca",
                      random_state=ctx.seed + li)
        t = permutation_test(D, mean_rdm, "rsa", metric="precomputed", n_permutations=n_perm,
                             random_state=ctx.seed + li)
        est.append(b.estimate)
        lo.append(b.ci_low)
        hi.append(b.ci_high)
        pv.append(t.p_value)
    nc = noise_ceiling(list(D_subj), "rsa", metric="precomputed", method="whitened_cosine")
    for k, nm in enumerate(names):
        ctx.metric(f"{nm}: whitened-cosine RSA (mean over subjects), 95 % BCa interval, permutation p",
                   [est[k], lo[k], hi[k], pv[k]])
    ctx.metric("noise ceiling (lower, upper)", [nc.lower, nc.upper])

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    xs = np.arange(len(names))
    ax.axhspan(nc.lower, nc.upper, color="0.85", label="noise ceiling")
    ax.errorbar(xs, est, yerr=[np.array(est) - lo, np.array(hi) - est], fmt="o", capsize=4, color="C0",
                label="RSA, 95 % BCa (subjects × stimuli)")
    for k in xs:
        if pv[k] < 0.05:
            ax.text(k, hi[k] + 0.01, "*", ha="center", fontsize=14)
    ax.axvline(planted, color="C3", ls=":", label="planted layer")
    ax.set_xticks(xs, names)
    ax.set_ylabel("whitened-cosine RSA")
    ax.legend(fontsize=8, loc="lower center")
    fig.tight_layout()
    ctx.figure("model_brain_layers", fig, "Whitened-cosine RSA between each MLP layer and a simulated 12-subject "
               "population that reads layer 'hidden 2' through random linear maps plus noise: points are the means "
               "over subjects with 95 % BCa intervals (subjects and stimuli resampled), * marks permutation "
               "p < 0.05, the grey band is the leave-one-subject-out noise ceiling.")
    plt.close(fig)

    best = int(np.argmax(est))
    ctx.claim("the layer most similar to the simulated brain is the planted one", source="simcode criterion: the "
              "brain is built from that layer, so a sound comparison must peak there (issue 20)",
              measured=names[best] == names[planted], expected=f"argmax = {names[planted]!r}", kind="true",
              note=f"argmax: {names[best]!r}; RSA by layer {np.round(est, 3).tolist()}.")
    mono = all(est[k] < est[k + 1] for k in range(planted)) and all(est[k] > est[k + 1]
                                                                   for k in range(planted, len(est) - 1))
    ctx.claim("similarity decreases monotonically away from the planted layer on both sides", source="simcode "
              "criterion: each layer is a transform of its neighbour, so the geometry drifts away from the planted "
              "layer (issue 20: 'recovers the planted ordering of layers')", measured=mono,
              expected="strictly increasing up to the planted layer, decreasing after", kind="true")
    ctx.claim("the planted layer's relation to the population is significant (permutation test)",
              source="simcode criterion: a planted relation at this noise level must be detected at 5 %",
              measured=pv[planted], expected=0.05, kind="at_most")
    ctx.claim("the planted layer's RSA lies below the upper noise ceiling", source="Nili et al. 2014 (no model can "
              "exceed the upper bound on average)", measured=est[planted], expected=nc.upper, kind="at_most")

    # ---- coverage of the intervals over repeated synthetic data sets with a known population value
    reps = 400 if ctx.quick else 2000
    for ci in ("percentile", "bca"):
        if ci == "bca" and ctx.quick:
            continue
        cov, truth = _coverage(np.random.default_rng(ctx.seed + 101), 300, reps, 999, ci)
        ctx.metric(f"coverage of 95 % {ci} intervals of linear CKA (n = 300, {reps} data sets; truth {truth:.4f})",
                   cov)
        ctx.claim(f"95 % {ci} bootstrap intervals cover the population CKA at the nominal rate (93–97 %)",
                  source="simcode criterion: issue 20 asks for nominal 95 % → 93–97 % over repeated synthetic data "
                  f"sets; Monte-Carlo s.e. of the coverage here {np.sqrt(0.95 * 0.05 / reps):.3f}",
                  measured=cov, expected=0.95, kind="close", tol=0.02)
