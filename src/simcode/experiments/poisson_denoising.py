"""Poisson image denoising with a 2-D Poisson CRsAE (paper 004, "Unfolded auto-encoders for exponential family
data" and "Auto-encoders for denoising Poisson images"): photographs scaled to peak intensity 1, 2 and 4,
Poisson counts; a Poisson CRsAE (log link, the lecture's ELU residual in the encoder) trained on patches of
other photographs (noisy input, clean target: the supervised set-up of the exponential-family CRsAE's denoising
results) and tested on a held-out photograph, against a Gaussian CRsAE on Anscombe-transformed counts trained the
same way."""

from __future__ import annotations

import numpy as np

from simcode.experiments import Context, experiment


def _psnr(est, clean, peak):
    mse = float(np.mean((est - clean) ** 2))
    return 10 * np.log10(peak ** 2 / mse)


def _anscombe(y):
    return 2.0 * np.sqrt(y + 3.0 / 8.0)


def _inverse_anscombe(a):
    """Closed-form approximation of the exact unbiased inverse (Mäkitalo & Foi 2011)."""
    a = np.maximum(a, 1e-3)
    s = np.sqrt(1.5)
    return np.maximum(0.25 * a**2 + 0.25 * s / a - 1.375 / a**2 + 0.625 * s / a**3 - 0.125, 0.0)


def _patches(imgs, size, n, rng):
    """``n`` random ``size``×``size`` patches, drawn evenly from the images."""
    out = []
    for q in range(n):
        img = imgs[q % len(imgs)]
        H, W = img.shape
        a, b = rng.integers(0, H - size + 1), rng.integers(0, W - size + 1)
        out.append(img[a:a + size, b:b + size])
    return np.stack(out)


def _gray(img, f):
    """Grayscale, block-averaged by ``f``, scaled to max 1."""
    from skimage.color import rgb2gray

    g = rgb2gray(img) if img.ndim == 3 else img.astype(float)
    H, W = (g.shape[0] // f) * f, (g.shape[1] // f) * f
    g = g[:H, :W].reshape(H // f, f, W // f, f).mean((1, 3))
    return g / g.max()


@experiment("poisson-denoising", description="Denoise Poisson photographs (peak 1, 2, 4) with a 2-D Poisson "
            "CRsAE vs a Gaussian CRsAE on Anscombe-transformed counts", cpu_time="~2 min",
            sources=("004 'Unfolded auto-encoders for exponential family data'",
                     "004 'Auto-encoders for denoising Poisson images'"))
def run(ctx: Context) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import skimage.data

    from simcode.sparse.unrolled import CRsAE

    rng = np.random.default_rng(ctx.seed)
    f, peaks, n_patch, epochs = (8, (2.0,), 48, 2) if ctx.quick else (4, (1.0, 2.0, 4.0), 192, 8)
    test = _gray(skimage.data.camera(), f)  # held out
    train = [_gray(getattr(skimage.data, n)(), f) for n in ("astronaut", "coffee", "chelsea", "rocket", "coins")]
    dev = "cuda" if ctx.device == "cuda" else "cpu"
    common = dict(n_layers=15, max_iter=epochs, batch_size=16, lr=0.02, lr_decay=0.9, init="data", prior="l1",
                  learn_lambda=True, random_state=ctx.seed, device=dev)
    c_lam = 0.5  # λ = c × (noise std of the residual): sqrt(mean count) for Poisson, 1 after Anscombe
    rows = []
    for peak in ctx.track(peaks, "peaks"):
        clean_tr = _patches(train, 24, n_patch, rng) * peak
        noisy_tr = rng.poisson(clean_tr).astype(float)
        clean = test * peak
        noisy = rng.poisson(clean).astype(float)
        lam_p = c_lam * np.sqrt(max(noisy_tr.mean(), 1e-3))
        pois = CRsAE(8, (6, 6), lam=lam_p, family="poisson", residual="elu", **common).fit(noisy_tr, target=clean_tr)
        den_p = pois.predict(noisy[None])[0]
        m = _anscombe(noisy_tr).mean()
        gaus = CRsAE(8, (6, 6), lam=c_lam, family="gaussian", **common).fit(
            _anscombe(noisy_tr) - m, target=2.0 * np.sqrt(clean_tr + 3.0 / 8.0) - m)
        den_g = np.maximum(((gaus.predict((_anscombe(noisy) - m)[None])[0] + m) / 2.0) ** 2 - 3.0 / 8.0, 0.0)
        r = {"peak": peak, "noisy": _psnr(noisy, clean, peak), "poisson": _psnr(den_p, clean, peak),
             "anscombe": _psnr(den_g, clean, peak)}
        rows.append((r, clean, noisy, den_p, den_g))
        for k in ("noisy", "poisson", "anscombe"):
            ctx.metric(f"psnr_{k}_peak{peak:g}", r[k])
        ctx.metric(f"lam_poisson_peak{peak:g}", [lam_p, pois.lam_])
        ctx.metric(f"lam_gaussian_peak{peak:g}", [c_lam, gaus.lam_])
        ctx.claim(f"Poisson CRsAE improves PSNR over the noisy input (peak {peak:g})",
                  source="004 'Auto-encoders for denoising Poisson images'", measured=r["poisson"] - r["noisy"],
                  expected=0.0, kind="at_least")
        ctx.claim(f"Poisson CRsAE ≥ Gaussian CRsAE on Anscombe data, PSNR difference (peak {peak:g})",
                  source="004 'Unfolded auto-encoders for exponential family data'",
                  measured=r["poisson"] - r["anscombe"], expected=0.0, kind="at_least")
    ctx.note("Both auto-encoders have 8 filters of 6×6, T = 15 unrolled iterations (back-propagation through all "
             "of them), two-sided ℓ1 codes, learned λ starting from the same rule λ = 0.5 × noise std of the "
             "encoder's residual (sqrt(mean count) for Poisson, 1 for Anscombe data), and are trained on the same "
             "24×24 patches of five other scikit-image photographs (noisy input, clean target: the supervised "
             "set-up of the exponential-family CRsAE's denoising results), then tested on the held-out camera "
             "photograph (PSNR = 10 log10(peak²/MSE)). Poisson: decoder mean exp(Hx + b), encoder step "
             "x + αHᵀELU(y − exp(Hx + b)) as in the lecture's table, α = 1/(L · 99th percentile of the counts). "
             "Gaussian: Anscombe input 2√(y + 3/8), target 2√(μ + 3/8), algebraic inverse. Session 1 trained both "
             "unsupervised on the noisy test image itself (linear residual, λ 0.5√mean for Poisson vs 1 for "
             "Gaussian): the Poisson model lost by 3.7, 0.4 and 0.2 dB at peaks 1, 2, 4, and both models left most "
             "of the noise in place (PSNR 7-14 dB). The session-2 set-up (supervised, held-out test image, ELU "
             "residual, one λ rule, learned λ) lifted both models to 14-17.5 dB at seed 0, with the Poisson model "
             "ahead at peaks 1 and 2 and behind at peak 4; the peak-4 comparison is reported as measured (not "
             "tuned). Sizes are reduced for a CPU (128×128 test image, 192 training patches, 8 epochs); no "
             "hyper-parameter search was done.")

    fig, axes = plt.subplots(len(rows), 4, figsize=(10, 2.6 * len(rows)), squeeze=False)
    for i, (r, clean, noisy, dp, dg) in enumerate(rows):
        for j, (im, title) in enumerate([(clean, "clean"), (noisy, f"noisy {r['noisy']:.1f} dB"),
                                         (dp, f"Poisson CRsAE {r['poisson']:.1f} dB"),
                                         (dg, f"Anscombe+Gauss {r['anscombe']:.1f} dB")]):
            axes[i, j].imshow(im, cmap="gray", vmin=0, vmax=r["peak"])
            axes[i, j].set_title(f"peak {r['peak']:g}: {title}", fontsize=8)
            axes[i, j].axis("off")
    fig.tight_layout()
    ctx.figure("images", fig, "Held-out camera photograph at each peak intensity: clean, Poisson-noisy, denoised by the "
               "Poisson CRsAE and by a Gaussian CRsAE on Anscombe-transformed counts (PSNR in the titles).")
    plt.close(fig)
