r"""The similarity-matching predictive-coding (SMPC) network of Choudhary, Masset & Ba (paper ``002`` §7, App. E).

Objective (002 eq. 16, the relaxed KSM problem with the kernel-norm penalty, α = 1 in the paper):

.. math:: \min_{Y,Z,\Omega}\ \frac{1}{4T^2}\|X^\top X - Y^\top Y\|_F^2\ (\alpha\text{-weighted quartic})
          + \frac{\lambda}{T}\|Z\|_{1,1} + \frac{\rho}{2T}\|Y-\Omega Z\|_F^2,

made online by Legendre transforms (eq. 17-18) into
:math:`\min_{\Omega,W}\max_M\min_{Y,Z}\frac1T\sum_i -x_i^\top W^\top y_i + \frac12\mathrm{Tr}(W^\top W)
+ \frac12 y_i^\top M y_i - \frac1{4\alpha}\mathrm{Tr}(M^\top M) + \lambda\|z_i\|_1 + \frac\rho2\|y_i-\Omega z_i\|^2`.
(The paper writes the penalty as ρ/T in eq. 15-16 and ρ/2 in eq. 17; the dynamics of App. E follow ρ/2,
which is what we use. For α ≠ 1 the Legendre transform of :math:`\frac{\alpha}{4T^2}\|YY^\top\|^2` gives
:math:`M^* = \alpha YY^\top/T`.)

Network dynamics (002 App. E, eqs. 39-42; interneurons :math:`\zeta_i = \rho(\Omega z_i - y_i)` held at their
fixed point, as the paper's implementation does):

* Y (eq. 39): :math:`y_i \leftarrow y_i + \eta_Y(Wx_i - My_i + \zeta_i)`;
* Z (eq. 40): :math:`v_i = z_i - \eta_Z\Omega^\top\zeta_i`, :math:`z_i = f(v_i)`: the prior's proximal map
  (soft threshold for ℓ1 — the paper's f uses the ℓ1 subgradient :math:`v - \eta_Z\lambda\,\mathrm{sign}(z)`;
  we use its proximal form — and the simplex projection of App. B for the simplex prior, as in the paper);
* synapses (eq. 42), averaged over a minibatch: :math:`\Delta\Omega = -\eta_\Omega\langle\zeta z^\top\rangle`
  (local), :math:`\Delta W = \eta_W(\langle yx^\top\rangle - W)` (Hebbian),
  :math:`\Delta M = \eta_M(\alpha\langle yy^\top\rangle - M)` (anti-Hebbian).

Each outer iteration runs ``n_neural_steps`` Y steps and ``n_neural_steps`` Z steps (as two blocks by
default, see ``neural_order``), then ``n_synaptic_steps`` synaptic steps (§7.1: 10 and 5). X and X̂ are
compared after variance normalisation, :math:`x_i \leftarrow x_i/\sqrt{\frac1T\sum_j\|x_j\|^2}` (§7.1;
training on normalised inputs is optional). Prediction (§7.1): :math:`\hat X = X\mathcal K_Z/T`,
:math:`\mathcal K_Z = (\Omega Z)^\top(\Omega Z)`, i.e. :math:`\hat A = XZ^\top\Omega^\top\Omega/T` — computed without the T×T kernel.

Orientation: paper X (N×T), Y (K_y×T), Z (K×T), W (K_y×N), Ω (K_y×K) are our ``X`` (T×N), ``Y_`` (T×K_y),
``codes_`` (T×K), ``W_`` (K_y×N), ``Omega_`` (K_y×K).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch

from .._utils import ConvergenceWarning, check_nonnegative, check_positive, check_random_state
from ._common import check_int, out, pick_device_dtype, resolve_prior, to_tensor
from .metrics import r2_score

__all__ = ["SMPC"]


def _cholesky_omega(Z: torch.Tensor, omega: float, simplex: bool) -> torch.Tensor:
    r"""Ω of 002 App. E.1: :math:`H = ZZ^\top/T + \omega I` (ℓ1) or :math:`+\,\omega\,\mathrm{diag}(Z\mathbf
    1_T/T)` (simplex), paper orientation, computed from the initial latents *as given* (App. E.1 initialises
    Z = Z_true + noise and computes H from that Z; the simplex projection only enters through the first Z
    update), then :math:`\Omega = L^{-1}` for :math:`H = LL^\top`, so that :math:`\Omega^\top\Omega = H^{-1}`
    (the stated intent; the text's "inverted and transposed" :math:`L^{-\top}` gives :math:`\Omega\Omega^\top =
    H^{-1}` instead). Ours: ``Z`` (T×K). A tiny ridge keeps H positive definite."""
    T, K = Z.shape
    eye = torch.eye(K, device=Z.device, dtype=Z.dtype)
    H = Z.T @ Z / T + omega * (torch.diag(Z.sum(0) / T) if simplex else eye)
    ev = torch.linalg.eigvalsh(0.5 * (H + H.T))
    H = H + max(1e-10, 1e-10 - float(ev[0])) * eye
    Lc = torch.linalg.cholesky(H)
    return torch.linalg.solve_triangular(Lc, eye, upper=False)


def _normalized(A: torch.Tensor) -> torch.Tensor:
    s = torch.sqrt((A * A).sum(1).mean())
    return A / s if bool(s > 0) else A


class SMPC:
    r"""Similarity-matching predictive-coding network (002 §7, eqs. 15-18, App. E).

    Parameters
    ----------
    n_components : int — K, latent units Z.
    prior : "l1" | "l1_nonneg" | "simplex" | Prior.
    lam : float >= 0 — λ (§7.1 2-D example: 0.8). rho : float > 0 — ρ (§7.1: 5).
    alpha : float > 0 — weight of the kernel-norm penalty of eq. 16 (paper: 1).
    lr_y, lr_z : neural step sizes η_Y, η_Z (§7.1: 0.1). lr_w, lr_m : synaptic rates η_W, η_M (§7.1: 0.05,
        0.1). lr_omega : η_Ω (not given in the paper; default ``lr_w``).
    n_intermediate : int or None — size of Y (default K, as the paper's Cholesky initialisation implies).
    n_neural_steps, n_synaptic_steps : inner iterations (§7.1: 10 and 5).
    neural_order : "blocks" (default) — ``n_neural_steps`` Y steps, then ``n_neural_steps`` Z steps, the reading
        of §7.1's "η_Y, η_Z ... run for 10 iterations each"; "alternate" — one Y step then one Z step, repeated
        (App. E eqs. 39-41 read step by step). Both have the same fixed points; on the 30-D example of §7.1
        "alternate" lets the random initial W relabel a few latent units, "blocks" keeps them.
    max_iter : outer iterations (App. E.1: 6000 / 10000 / 8000). batch_size : None = whole data set (§7.1).
    omega : float > 0 — ω of the kernel structure used to initialise Ω (App. E.1: 0.1).
    init_omega : "cholesky" (Ω = L⁻¹ for H = LLᵀ, so that ΩᵀΩ = H⁻¹; App. E.1) or "random" (N(0, 1)).
    safe_steps : bool — cap the neural step sizes at the stability limits of the dynamics,
        :math:`\eta_Y \le 1/\lambda_{\max}(M+\rho I)` and :math:`\eta_Z \le 1/(\rho\lambda_{\max}(\Omega^\top\Omega))`,
        recomputed every outer iteration (the paper's η = 0.1 is stable for its 2-D example but not for inputs
        of larger scale or a random Ω, where the dynamics diverge in one iteration). With the paper's 2-D
        set-up the caps are not active.
    normalize : bool — train on variance-normalised inputs :math:`x_i/\sqrt{\frac1T\sum_j\|x_j\|^2}`. §7.1 is
        ambiguous on whether this is a pre-processing step or only how X and X̂ are compared (Fig. 7 caption);
        the R² is always computed between normalised X and normalised X̂. Default False: with normalised
        training data the §7.1 setting λ = 0.8 shrinks every code to zero (the ℓ1 threshold exceeds the
        normalised drive |Wx| ≈ 1).
    device, dtype, random_state, callback(iteration, est) — as in :class:`KernelSimilarityMatching`.

    Attributes
    ----------
    W_, M_, Omega_ : synapses. codes_ (T×K) Z, Y_ (T×K_y). components_ (K×N) :math:`\hat A^\top` in the
    normalised input space. scale_ : the input normalisation. history_ : per-iteration ``objective`` (eq. 16),
    ``r2`` (normalised input vs normalised prediction, as in Figs. 7-8), ``time``. n_iter_, status_.
    """

    def __init__(self, n_components=2, prior="l1", lam=0.8, rho=5.0, alpha=1.0, lr_y=0.1, lr_z=0.1, lr_w=0.05,
                 lr_m=0.1, lr_omega=None, n_intermediate=None, n_neural_steps=10, n_synaptic_steps=5,
                 max_iter=6000, batch_size=None, omega=0.1, init_omega="cholesky", normalize=False,
                 record_every=10, safe_steps=True, neural_order="blocks", device="auto", dtype=None,
                 random_state=None, callback=None):
        self.n_components = n_components
        self.prior = prior
        self.lam = lam
        self.rho = rho
        self.alpha = alpha
        self.lr_y = lr_y
        self.lr_z = lr_z
        self.lr_w = lr_w
        self.lr_m = lr_m
        self.lr_omega = lr_omega
        self.n_intermediate = n_intermediate
        self.n_neural_steps = n_neural_steps
        self.n_synaptic_steps = n_synaptic_steps
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.omega = omega
        self.init_omega = init_omega
        self.normalize = normalize
        self.record_every = record_every
        self.safe_steps = safe_steps
        self.neural_order = neural_order
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.callback = callback

    def _validate(self):
        K = check_int(self.n_components, "n_components")
        prior, kind = resolve_prior(self.prior)
        Ky = K if self.n_intermediate is None else check_int(self.n_intermediate, "n_intermediate")
        p = dict(K=K, Ky=Ky, prior=prior, kind=kind,
                 lam=check_nonnegative(self.lam, "lam"), rho=check_positive(self.rho, "rho"),
                 alpha=check_positive(self.alpha, "alpha"),
                 lr_y=check_positive(self.lr_y, "lr_y"), lr_z=check_positive(self.lr_z, "lr_z"),
                 lr_w=check_positive(self.lr_w, "lr_w"), lr_m=check_positive(self.lr_m, "lr_m"),
                 n_neural=check_int(self.n_neural_steps, "n_neural_steps"),
                 n_syn=check_int(self.n_synaptic_steps, "n_synaptic_steps"),
                 max_iter=check_int(self.max_iter, "max_iter"), omega=check_positive(self.omega, "omega"),
                 record_every=check_int(self.record_every, "record_every"))
        p["lr_omega"] = p["lr_w"] if self.lr_omega is None else check_positive(self.lr_omega, "lr_omega")
        if self.neural_order not in ("blocks", "alternate"):
            raise ValueError(f"neural_order must be 'blocks' or 'alternate', got {self.neural_order!r}")
        p["order"] = self.neural_order
        if self.init_omega not in ("cholesky", "random"):
            raise ValueError(f"init_omega must be 'cholesky' or 'random', got {self.init_omega!r}")
        p["dev"], p["dt"] = pick_device_dtype(self.device, self.dtype)
        return p

    def fit(self, X, y=None, Z_init=None, Omega_init=None):
        """Train the network on ``X`` (n_samples × n_features). ``Z_init`` (T×K) sets the initial latents
        (App. E.1 initialises near the truth for the 30-D and moons examples); it is used as given for the
        initial Ω (Cholesky) and Y = ΩZ — with the simplex prior it is *not* projected first: App. E.1 builds
        H from Z = Z_true + N(0, 5²) and the projection acts from the first Z update on. Returns self."""
        p = self._validate()
        dev, dt, K, Ky = p["dev"], p["dt"], p["K"], p["Ky"]
        Xt, was_np = to_tensor(X, "X", dev, dt)
        T, N = Xt.shape
        B = T if self.batch_size is None else check_int(self.batch_size, "batch_size")
        if B > T:
            raise ValueError(f"X has {T} samples, fewer than batch_size={B}")
        rng = check_random_state(self.random_state)
        scale = float(torch.sqrt((Xt * Xt).sum(1).mean())) if self.normalize else 1.0
        if scale == 0:
            raise ValueError("X is all zeros")
        Xt = Xt / scale
        prior, simplex = p["prior"], p["kind"] == "simplex"
        lam, rho, alpha = p["lam"], p["rho"], p["alpha"]
        blocks = p["order"] == "blocks"

        def randn(*shape):
            return torch.as_tensor(rng.standard_normal(shape), device=dev, dtype=dt)

        if Z_init is not None:
            Z, _ = to_tensor(Z_init, "Z_init", dev, dt)
            if tuple(Z.shape) != (T, K):
                raise ValueError(f"Z_init must have shape ({T}, {K}), got {tuple(Z.shape)}")
            Z = Z.clone()
        else:
            Z = randn(T, K)
            if simplex:
                Z = prior.prox(Z, 1.0)
        if Omega_init is not None:
            Om, _ = to_tensor(Omega_init, "Omega_init", dev, dt)
            if tuple(Om.shape) != (Ky, K):
                raise ValueError(f"Omega_init must have shape ({Ky}, {K}), got {tuple(Om.shape)}")
            Om = Om.clone()
        elif self.init_omega == "cholesky" and Ky == K:
            Om = _cholesky_omega(Z, p["omega"], simplex)
        else:
            Om = randn(Ky, K)
        Y = Z @ Om.T
        W = randn(Ky, N)
        M = torch.eye(Ky, device=dev, dtype=dt)
        n_b = max(1, math.ceil(T / B))
        hist = {"objective": [], "r2": [], "iteration": [], "time": []}
        t0 = time.perf_counter()
        status = "max_iter"
        n_done = 0
        state, state_it = (W.clone(), M.clone(), Om.clone(), Y.clone(), Z.clone()), 0
        for it in range(p["max_iter"]):
            perm = torch.as_tensor(rng.permutation(T), device=dev) if n_b > 1 else None
            for b in range(n_b):
                idx = perm[b * B:(b + 1) * B] if perm is not None else slice(None)
                x, yb, z = Xt[idx], Y[idx], Z[idx]
                WX = x @ W.T
                ey, ez = p["lr_y"], p["lr_z"]
                if self.safe_steps:
                    Ms = 0.5 * (M + M.T)
                    ey = min(ey, 1.0 / max(float(torch.linalg.eigvalsh(Ms)[-1]) + rho, 1e-12))
                    ez = min(ez, 1.0 / max(rho * float(torch.linalg.eigvalsh(Om.T @ Om)[-1]), 1e-12))
                if blocks:  # §7.1: η_Y, η_Z "run for 10 iterations each": all Y steps, then all Z steps
                    for _ in range(p["n_neural"]):
                        yb = yb + ey * (WX - yb @ M + rho * (z @ Om.T - yb))
                    for _ in range(p["n_neural"]):
                        z = prior.prox(z - ez * (rho * (z @ Om.T - yb) @ Om), lam * ez)
                else:  # alternate one Y step and one Z step (App. E, eqs. 39-41, read step by step)
                    for _ in range(p["n_neural"]):
                        zeta = rho * (z @ Om.T - yb)
                        yb = yb + ey * (WX - yb @ M + zeta)
                        zeta = rho * (z @ Om.T - yb)
                        z = prior.prox(z - ez * (zeta @ Om), lam * ez)
                nb = x.shape[0]
                for _ in range(p["n_syn"]):
                    zeta = rho * (z @ Om.T - yb)
                    Om = Om - p["lr_omega"] * (zeta.T @ z) / nb
                    W = W + p["lr_w"] * ((yb.T @ x) / nb - W)
                    M = M + p["lr_m"] * (alpha * (yb.T @ yb) / nb - M)
                if perm is None:
                    Y, Z = yb, z
                else:
                    Y[idx], Z[idx] = yb, z
            record = it % p["record_every"] == 0 or it == p["max_iter"] - 1
            stats = None
            finite = all(bool(torch.isfinite(a).all()) for a in (W, M, Om, Y, Z))
            if finite and record:
                stats = self._stats(Xt, Y, Z, Om, prior, lam, rho, alpha)
                finite = stats is not None
            if not finite:
                W, M, Om, Y, Z = state
                n_done = state_it
                status = "diverged"
                if not hist["r2"]:  # diverged before the first record: report the initial state
                    obj, r2 = self._stats(Xt, Y, Z, Om, prior, lam, rho, alpha) or (float("nan"), float("nan"))
                    for k, v in (("objective", obj), ("r2", r2), ("iteration", 0), ("time", 0.0)):
                        hist[k].append(v)
                warnings.warn(f"SMPC diverged at iteration {it + 1} (non-finite state or prediction); stopped and "
                              f"kept the last finite state (iteration {state_it}). Try smaller learning rates.",
                              ConvergenceWarning, stacklevel=2)
                break
            n_done = it + 1
            if record:
                state, state_it = (W.clone(), M.clone(), Om.clone(), Y.clone(), Z.clone()), it + 1
                obj, r2 = stats
                hist["objective"].append(obj)
                hist["r2"].append(r2)
                hist["iteration"].append(it + 1)
                hist["time"].append(time.perf_counter() - t0)
                if self.callback is not None:
                    self.callback(it, self)
        self._p, self._simplex, self._scale = p, simplex, scale
        self._W, self._M, self._Om, self._Y, self._Z = W, M, Om, Y, Z
        self._A = (Om.T @ Om) @ (Z.T @ Xt) / T
        like = None if was_np else X
        self.W_, self.M_, self.Omega_ = out(W, was_np, like), out(M, was_np, like), out(Om, was_np, like)
        self.Y_, self.codes_ = out(Y, was_np, like), out(Z, was_np, like)
        self.components_ = out(self._A, was_np, like)
        self.scale_ = scale
        self.history_ = hist
        self.n_iter_ = n_done
        self.status_ = status
        self.n_features_in_ = N
        return self

    @staticmethod
    def _stats(X, Y, Z, Om, prior, lam, rho, alpha):
        T = X.shape[0]
        # (1/4T²)||XXᵀ - √α YYᵀ||²-type quartic of eq. 16 via d×d Gram matrices (no T×T kernel)
        XtX, YtX, YtY = X.T @ X, Y.T @ X, Y.T @ Y
        sim = (float((XtX * XtX).sum()) - 2 * float((YtX * YtX).sum()) + alpha * float((YtY * YtY).sum())) / (
            4 * T * T)
        R = Y - Z @ Om.T
        obj = sim + lam / T * float(prior.value(Z).sum()) + rho / (2 * T) * float((R * R).sum())
        Xh = Z @ ((Om.T @ Om) @ (Z.T @ X) / T)
        if not (math.isfinite(obj) and bool(torch.isfinite(Xh).all())):
            return None  # overflow: the caller treats it as divergence
        return obj, r2_score(_normalized(X), _normalized(Xh))

    def _check_fitted(self):
        if not hasattr(self, "_W"):
            raise ValueError("this SMPC is not fitted yet; call fit(X) first")

    def predict(self, X=None):
        r"""The prediction :math:`\hat X = X\mathcal K_Z/T` for the training set (in normalised input units).
        With ``X`` given, its latents are first inferred by :meth:`transform`."""
        self._check_fitted()
        if X is None:
            return out(self._Z @ self._A, self._was_np_default())
        Z = self.transform(X)
        Zt, was_np = to_tensor(Z, "Z", self._p["dev"], self._p["dt"])
        return out(Zt @ self._A, was_np, X if not was_np else None)

    def _was_np_default(self):
        return isinstance(self.codes_, np.ndarray)

    def transform(self, X, n_steps: int = 500):
        r"""Latents for new samples: the fixed point of the neural dynamics (eqs. 39-40) with the learned synapses.

        That fixed point minimises :math:`-x^\top W^\top y + \frac12 y^\top My + \lambda g(z) +
        \frac\rho2\|y-\Omega z\|^2` over (y, z) (convex when M ≻ 0). We run the same gradient / proximal
        steps as the network, simultaneously in y and z, with the safe step 1/L of the joint Hessian
        :math:`\begin{pmatrix}M+\rho I & -\rho\Omega\\ -\rho\Omega^\top & \rho\Omega^\top\Omega\end{pmatrix}`
        and FISTA momentum (the training rates η_Y, η_Z can be unstable for a learned Ω), from y = Wx, z = 0
        (uniform for the simplex).
        """
        self._check_fitted()
        p = self._p
        Xt, was_np = to_tensor(X, "X", p["dev"], p["dt"])
        if Xt.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} features, got {Xt.shape[1]}")
        n_steps = check_int(n_steps, "n_steps")
        Xt = Xt / self._scale
        T = Xt.shape[0]
        Om, M, rho = self._Om, 0.5 * (self._M + self._M.T), p["rho"]
        Ky, K = Om.shape
        Hs = torch.zeros(Ky + K, Ky + K, device=p["dev"], dtype=p["dt"])
        Hs[:Ky, :Ky] = M + rho * torch.eye(Ky, device=p["dev"], dtype=p["dt"])
        Hs[:Ky, Ky:] = -rho * Om
        Hs[Ky:, :Ky] = -rho * Om.T
        Hs[Ky:, Ky:] = rho * Om.T @ Om
        L = float(torch.linalg.eigvalsh(Hs)[-1])
        WX = Xt @ self._W.T
        y = WX.clone()
        z = (torch.full((T, K), 1.0 / K, device=p["dev"], dtype=p["dt"]) if self._simplex else
             torch.zeros(T, K, device=p["dev"], dtype=p["dt"]))
        yo, zo, t = y, z, 1.0
        ym, zm = y, z
        for _ in range(n_steps):
            zeta = rho * (zm @ Om.T - ym)
            y = ym + (WX - ym @ M + zeta) / L
            z = p["prior"].prox(zm - (zeta @ Om) / L, p["lam"] / L)
            t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
            ym = y + ((t - 1) / t_new) * (y - yo)
            zm = z + ((t - 1) / t_new) * (z - zo)
            yo, zo, t = y, z, t_new
        return out(z, was_np, X if not was_np else None)

    def score(self, X=None, y=None) -> float:
        """R² between the variance-normalised inputs and the variance-normalised prediction (§7.1, Figs. 7-8).
        Without ``X``: on the training set with the trained latents."""
        self._check_fitted()
        if X is None:
            return float(self.history_["r2"][-1])
        Xt, _ = to_tensor(X, "X", self._p["dev"], self._p["dt"])
        Z = self.transform(Xt)
        return r2_score(_normalized(Xt / self._scale), _normalized(Z @ self._A))
