r"""Kernel similarity matching (KSM) solved by the separable ADMM of Choudhary, Masset & Ba (paper ``002``).

Problem (002 eq. 7, :math:`Q_1`; equivalent to sparse dictionary learning :math:`P_1`, eq. 6):

.. math:: \min_{Z,H} -\frac{1}{2T^2}\operatorname{Tr}(X^\top X Z^\top H^{-1} Z) + \frac{\lambda}{T}\|Z\|_{1,1}
          \quad\text{s.t.}\quad H = \frac{ZZ^\top}{T} + \omega I,

and with the simplex prior (002 eq. 9 / 19 / 31, :math:`Q_2 \Leftrightarrow P_2`): :math:`z_i \in \Delta^K`,
:math:`H = ZZ^\top/T + \omega D`, :math:`D = \operatorname{diag}(Z\mathbf 1/T)`, linear term scaled by
:math:`1+\omega`. The implicit generative map is :math:`\hat A = X Z^\top H^{-1}/T` (times :math:`1+\omega`
for the simplex prior; 002 §3, Appendix A).

Orientation: the paper's X (N×T), Z (K×T), W (K×N), Â (N×K) are our ``X`` (T×N), ``codes_`` (T×K),
``W_`` (K×N) and ``components_ = Âᵀ`` (K×N, atoms in rows). So :math:`\hat X = \hat A Z` is ``codes_ @
components_``.

Algorithm (002 Algorithm 2 on the separable augmented Lagrangian of eq. 14, steps from Appendix C.1 / C.2),
run over fixed minibatches (a random partition drawn once per fit). Per visit of a minibatch:

* **Z-step** (eq. 23 / 32): ``n_z_steps`` proximal-gradient steps on the quartic per-sample Lagrangian,
  gradient :math:`-c\,Wx_i + 2\rho E_i z_i` (+ :math:`\rho\omega\,\mathrm{diag}(E_i)` for the simplex), with
  :math:`E_i = z_iz_i^\top + \omega B(z_i) - P_i + M_i/\rho`, :math:`B(z)=I` (sparse) or
  :math:`\mathrm{diag}(z)` (simplex), :math:`c = 1` or :math:`1+\omega`. The prox is the prior's
  (soft threshold for ℓ1, Euclidean projection onto the simplex) with step :math:`\eta_Z = s/L`,
  :math:`L = \lambda_{\max}(WW^\top)` and :math:`s` = ``z_step_scale`` (1 for schedules 1-2, where the step
  is exactly ISTA, 002 Theorem 1; 1/100 for schedule 3, 002 §5.1.2).
* **P-step** (fixed point of eq. 24 / 33): :math:`P_i = (M_i - WW^\top/2)/\rho + z_iz_i^\top + \omega B(z_i)`.
* **M-step** (eq. 25 / 34): :math:`M_i \leftarrow M_i + \rho(z_iz_i^\top + \omega B(z_i) - P_i)`.
* **W-step** (eq. 26 / 35): one gradient step :math:`W \leftarrow W + \eta_W\,\mathrm{mean}_i(c\,z_ix_i^\top -
  P_iW)` on the minibatch, then (ℓ1 prior) rows of W normalised to unit norm (002 §5.1.2, §6.1).

Schedules (002 §5.1.2, Appendix C.1.1): **1** — a P-step after every Z gradient step, and after the W-step
:math:`M_i \leftarrow WW^\top/2`; **2** — a P-step after every Z gradient step, the M-step of Algorithm 2;
**3** — Algorithm 2 as written (P-step once, after the Z-step).

Memory. With the fixed-point P-step, the M-step always gives :math:`M_i = W_vW_v^\top/2` for the W
:math:`W_v` current at the sample's last P-step, and :math:`P_i = z_iz_i^\top + \omega B(z_i) + S_b` with a
matrix :math:`S_b = (W_uW_u^\top - W_vW_v^\top)/(2\rho)` shared by the whole minibatch. So no K×K matrix is
ever stored per sample: schedule 1 stores nothing beyond ``W`` and ``Z`` (:math:`S_b = 0`,
:math:`M_i = WW^\top/2`); schedules 2 and 3 store two K×K matrices per minibatch. Memory is
:math:`O(TN + TK + KN + K^2)` for schedule 1 and adds :math:`2\lceil T/B\rceil K^2` numbers for schedules 2-3
(MNIST-size, T=9000, K=500, B=128, float64: ≈ 0.3 GB).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch

from .._utils import ConvergenceWarning, check_nonnegative, check_positive, check_random_state
from ._common import check_int, out, pick_device_dtype, resolve_prior, to_tensor
from .metrics import p_sparsity

__all__ = ["KernelSimilarityMatching", "implicit_map"]


def implicit_map(X, Z, omega: float, simplex: bool = False):
    r"""The implicit generative map :math:`\hat A^\top` (K×N, atoms in rows) of 002 §3 / Appendix A.

    :math:`\hat A = X Z^\top H^{-1}/T`, :math:`H = ZZ^\top/T + \omega I` (ℓ1, Appendix A.1), or
    :math:`\hat A = (1+\omega)XZ^\top H^{-1}/T`, :math:`H = ZZ^\top/T + \omega\,\mathrm{diag}(Z\mathbf 1/T)`
    (simplex, Appendix A.2); paper orientation. Note: this Â minimises P2 (eq. 8) when its proximity term is
    weighted :math:`\omega/(2T)`; with the :math:`\omega/T` printed in eq. 8 the minimiser would be
    :math:`(1+2\omega)XZ^\top(ZZ^\top/T + 2\omega D)^{-1}/T`. We follow Appendix A.2 (and eqs. 19, 31, 35),
    i.e. P2 with :math:`\omega/(2T)`, which is also what ``history_['objective']`` reports. Ours: ``X`` (T×N), ``Z`` (T×K), returns ``Âᵀ`` (K×N).
    Torch in → torch out; NumPy in → NumPy out.
    """
    was_np = not isinstance(X, torch.Tensor)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float64)) if was_np else X
    Zt = torch.as_tensor(np.asarray(Z, dtype=np.float64), device=Xt.device, dtype=Xt.dtype) if not isinstance(
        Z, torch.Tensor) else Z.to(Xt.dtype)
    A = _implicit_map(Xt, Zt, float(omega), simplex)
    return out(A, was_np)


def _implicit_map(X: torch.Tensor, Z: torch.Tensor, omega: float, simplex: bool) -> torch.Tensor:
    T, K = Z.shape
    H = Z.T @ Z / T
    if simplex:
        H = H + omega * torch.diag(Z.sum(0) / T)
        scale = 1.0 + omega
    else:
        H = H + omega * torch.eye(K, dtype=Z.dtype, device=Z.device)
        scale = 1.0
    rhs = Z.T @ X / T
    try:
        A = torch.linalg.solve(H, rhs)
    except RuntimeError:  # singular (a simplex atom never used): least squares
        A = torch.linalg.lstsq(H, rhs).solution
    return scale * A


def _lam_max(G: torch.Tensor, v: torch.Tensor, n_iter: int = 10):
    """λ_max of a PSD matrix: exact (eigvalsh) for K <= 64, else warm-started power iteration (the Rayleigh
    quotient is a slight under-estimate; ISTA stays stable for steps below 2/λ_max). Returns (λ, vector)."""
    if G.shape[0] <= 64:
        return float(torch.linalg.eigvalsh(G)[-1]), v
    for _ in range(n_iter):
        w = G @ v
        nrm = torch.linalg.vector_norm(w)
        if not bool(nrm > 0):
            return float(torch.diagonal(G).max().clamp_min(1e-12)), v
        v = w / nrm
    return float(v @ (G @ v)), v


class KernelSimilarityMatching:
    r"""Kernel similarity matching by the separable ADMM (002 Algorithm 2, schedules 1-3).

    Parameters
    ----------
    n_components : int — K, the number of latent units (atoms).
    prior : "l1" | "l1_nonneg" | "simplex" | Prior — sparse prior (002 eq. 7) or probability simplex (eq. 9).
    lam : float >= 0 — λ, the sparsity weight (unused by the simplex prior).
    omega : float > 0 — ω, the ridge on the dictionary (P1) / proximity weight (P2).
    rho : float > 0 — ρ, the ADMM penalty.
    schedule : 1, 2 or 3 — 002 §5.1.2.
    n_z_steps : int — T_z, proximal-gradient steps per Z-step (Table 1: 15).
    lr_w : float > 0 — η_W, the W-step learning rate.
    batch_size : int — B, minibatch size for the Z/P/M/W steps (Table 1: 128).
    max_epochs : int — passes over the data.
    z_step_scale : float or None — η_Z = z_step_scale / λ_max(WWᵀ); None → 1 (schedules 1, 2), 0.01 (3).
    normalize_rows : bool or None — unit-norm rows of W after each W-step; None → True for sparse priors,
        False for the simplex (whose atoms are points on the data manifold).
    init : "data" | "random" — W from random training samples or a Gaussian; ``fit(X, W_init=...)`` overrides.
        Z starts from 50 FISTA steps of sparse coding with W (sparse; 002 §6.1) or a Gaussian projected on the simplex (§6.3).
    tol : float — stop when the relative change of the objective over an epoch falls below ``tol``.
    device : "auto" | "cpu" | "cuda" ; dtype : None (float64 on CPU, float32 on CUDA) | "float32" | "float64".
    random_state : seed.
    callback : callable(epoch, est) or None, called after every epoch (for progress bars).

    Attributes
    ----------
    W_ : (K, N) the paper's W (after training its rows approximate the atoms).
    components_ : (K, N) :math:`\hat A^\top`, the implicit generative map (atoms in rows).
    codes_ : (T, K) training codes Z.
    history_ : dict of per-epoch lists: ``objective`` (P1/P2 at Â), ``lagrangian`` (mean augmented Lagrangian
        of eq. 14 in the standard form :math:`\mathrm{Tr}(M_i r_i) + \frac\rho2\|r_i\|^2`),
        ``constraint_violation`` (mean :math:`\|z_iz_i^\top + \omega B(z_i) - P_i\|_F`), ``sparsity``
        (Appendix F, p=1), ``r2``, ``time``.
    n_iter_ : epochs run; status_ : "converged" | "max_epochs" | "diverged"; converged_ : bool.
    """

    def __init__(self, n_components=16, prior="l1", lam=0.5, omega=1e-4, rho=1.0, schedule=1, n_z_steps=15,
                 lr_w=0.01, batch_size=128, max_epochs=100, z_step_scale=None, normalize_rows=None,
                 init="data", tol=1e-7, device="auto", dtype=None, random_state=None, callback=None):
        self.n_components = n_components
        self.prior = prior
        self.lam = lam
        self.omega = omega
        self.rho = rho
        self.schedule = schedule
        self.n_z_steps = n_z_steps
        self.lr_w = lr_w
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.z_step_scale = z_step_scale
        self.normalize_rows = normalize_rows
        self.init = init
        self.tol = tol
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.callback = callback

    # ------------------------------------------------------------------ validation
    def _validate(self):
        K = check_int(self.n_components, "n_components")
        prior, kind = resolve_prior(self.prior)
        lam = check_nonnegative(self.lam, "lam")
        omega = check_positive(self.omega, "omega")
        rho = check_positive(self.rho, "rho")
        if isinstance(self.schedule, bool) or self.schedule not in (1, 2, 3):
            raise ValueError(f"schedule must be 1, 2 or 3 (002 §5.1.2), got {self.schedule!r}")
        n_z = check_int(self.n_z_steps, "n_z_steps")
        lr_w = check_positive(self.lr_w, "lr_w")
        B = check_int(self.batch_size, "batch_size")
        E = check_int(self.max_epochs, "max_epochs")
        scale = (1.0 if self.schedule in (1, 2) else 0.01) if self.z_step_scale is None else \
            check_positive(self.z_step_scale, "z_step_scale")
        norm_rows = (kind == "sparse") if self.normalize_rows is None else bool(self.normalize_rows)
        if self.init not in ("data", "random"):
            raise ValueError(f"init must be 'data' or 'random', got {self.init!r}")
        tol = check_nonnegative(self.tol, "tol")
        dev, dt = pick_device_dtype(self.device, self.dtype)
        return dict(K=K, prior=prior, kind=kind, lam=lam, omega=omega, rho=rho, n_z=n_z, lr_w=lr_w, B=B,
                    E=E, scale=scale, norm_rows=norm_rows, tol=tol, dev=dev, dt=dt)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, W_init=None, Z_init=None):
        """Run the ADMM on ``X`` (n_samples × n_features); ``W_init`` (K×N) warm-starts W (002 §6.1),
        ``Z_init`` (T×K) the codes. Returns self."""
        p = self._validate()
        K, dev, dt = p["K"], p["dev"], p["dt"]
        Xt, was_np = to_tensor(X, "X", dev, dt)
        T, N = Xt.shape
        if T < p["B"]:
            raise ValueError(f"X has {T} samples, fewer than batch_size={p['B']}")
        rng = check_random_state(self.random_state)
        simplex = p["kind"] == "simplex"
        c = 1.0 + p["omega"] if simplex else 1.0
        lam, omega, rho = p["lam"], p["omega"], p["rho"]
        prior = p["prior"]

        # ---- W init
        if W_init is not None:
            W, _ = to_tensor(W_init, "W_init", dev, dt)
            if tuple(W.shape) != (K, N):
                raise ValueError(f"W_init must have shape ({K}, {N}), got {tuple(W.shape)}")
            W = W.clone()
        elif self.init == "data":
            idx = rng.choice(T, size=K, replace=K > T)
            W = Xt[torch.as_tensor(idx, device=dev)].clone()
            if not simplex:
                W = W + 1e-3 * torch.as_tensor(rng.standard_normal((K, N)), device=dev, dtype=dt)
        else:
            W = torch.as_tensor(rng.standard_normal((K, N)), device=dev, dtype=dt)
        if p["norm_rows"]:
            W = W / torch.linalg.vector_norm(W, dim=1, keepdim=True).clamp_min(1e-12)

        # ---- Z init
        if Z_init is not None:
            Z, _ = to_tensor(Z_init, "Z_init", dev, dt)
            if tuple(Z.shape) != (T, K):
                raise ValueError(f"Z_init must have shape ({T}, {K}), got {tuple(Z.shape)}")
            Z = Z.clone()
        elif simplex:
            Z = prior.prox(torch.as_tensor(rng.standard_normal((T, K)), device=dev, dtype=dt), 1.0)
        else:
            Z = self._encode(Xt, W, torch.zeros(T, K, device=dev, dtype=dt), prior, lam, omega, simplex,
                             n_iter=50, fista=True)

        perm = torch.as_tensor(rng.permutation(T), device=dev)
        n_b = math.ceil(T / p["B"])
        batches = [b for b in torch.tensor_split(perm, n_b)]
        sched = self.schedule
        G = W @ W.T
        if sched in (2, 3):  # per-minibatch shared ADMM state (see module docstring)
            Gm = G.unsqueeze(0).repeat(n_b, 1, 1)  # 2 M_i for the batch
            S = torch.zeros(n_b, K, K, device=dev, dtype=dt)  # P_i - z z^T - ω B(z)
        else:
            Gm = S = None
        v = torch.ones(K, device=dev, dtype=dt) / math.sqrt(K)
        hist = {k: [] for k in ("objective", "lagrangian", "constraint_violation", "sparsity", "r2", "time")}
        status, n_done = "max_epochs", 0
        t0 = time.perf_counter()
        prev_obj = None
        eyeK = torch.eye(K, device=dev, dtype=dt)
        for epoch in range(p["E"]):
            W_save, Z_save = W.clone(), Z.clone()
            Gm_save = None if Gm is None else (Gm.clone(), S.clone())
            finite = True
            for b, idx in enumerate(batches):
                Xb = Xt[idx]
                z = Z[idx]
                zp = z  # z at the last P-step (p_i)
                Bn = Xb.shape[0]
                G = W @ W.T
                L, v = _lam_max(G, v)
                eta = p["scale"] / max(L, 1e-12)
                WX = c * (Xb @ W.T)
                if sched in (2, 3):
                    Ab = Gm[b] - 2 * rho * S[b]  # 2ρ(M_i/ρ - (P_i - p p^T - ωB(p)))
                    dAb = torch.diagonal(Ab)
                dG = torch.diagonal(G)
                for tau in range(p["n_z"]):
                    if sched == 1 or (sched == 2 and tau > 0):
                        grad = z @ G - WX  # 2ρ E z with E = WWᵀ/(2ρ): ISTA (Theorem 1)
                        if simplex:
                            grad = grad + 0.5 * omega * dG
                    else:
                        zz = (z * z).sum(1, keepdim=True)
                        pz = (zp * z).sum(1, keepdim=True)
                        grad = 2 * rho * (zz * z - pz * zp) + z @ Ab - WX
                        if simplex:
                            dz = z - zp
                            grad = grad + 2 * rho * omega * dz * z + rho * omega * (
                                z * z - zp * zp + omega * dz) + 0.5 * omega * dAb
                    z = prior.prox(z - eta * grad, lam * eta)
                # P-step + M-step (schedules 2, 3); schedule 1's P_i = zzᵀ + ωB, M_i = WWᵀ/2 implicitly
                if sched in (2, 3):
                    S[b] = (Gm[b] - G) / (2 * rho)
                    Gm[b] = G
                # W-step (eq. 26 / 35) with P^{k+1}
                Bsum = torch.diag(z.sum(0)) if simplex else Bn * eyeK
                PW = (z.T @ z + omega * Bsum) @ W
                if sched in (2, 3):
                    PW = PW + Bn * (S[b] @ W)
                W = W - p["lr_w"] * (PW - c * (z.T @ Xb)) / Bn
                if p["norm_rows"]:
                    W = W / torch.linalg.vector_norm(W, dim=1, keepdim=True).clamp_min(1e-12)
                Z[idx] = z
                if not (bool(torch.isfinite(z).all()) and bool(torch.isfinite(W).all())):
                    finite = False
                    break
            stats = self._epoch_stats(Xt, Z, W, batches, Gm, S, prior, lam, omega, rho, simplex) if finite else None
            if stats is None or not all(math.isfinite(s) for s in stats.values()):
                W, Z = W_save, Z_save
                if Gm_save is not None:
                    Gm, S = Gm_save
                status = "diverged"
                warnings.warn(f"KernelSimilarityMatching diverged at epoch {epoch + 1} (non-finite iterate or "
                              f"objective); stopped and kept the last finite state (epoch {epoch}). Try a "
                              f"smaller lr_w or z_step_scale.", ConvergenceWarning, stacklevel=2)
                break
            n_done = epoch + 1
            for k, val in stats.items():
                hist[k].append(val)
            hist["time"].append(time.perf_counter() - t0)
            if self.callback is not None:
                self.W_, self.codes_ = W, Z
                self.callback(epoch, self)
            obj = stats["objective"]
            if prev_obj is not None and p["tol"] > 0 and abs(prev_obj - obj) <= p["tol"] * max(1.0, abs(obj)):
                status = "converged"
                break
            prev_obj = obj

        self._p = p
        self._simplex = simplex
        self._W = W
        self._Z = Z
        self._A = _implicit_map(Xt, Z, omega, simplex)
        self._was_np = was_np
        self._X_device = X.device if isinstance(X, torch.Tensor) else None
        self.W_ = out(W, was_np, X if not was_np else None)
        self.codes_ = out(Z, was_np, X if not was_np else None)
        self.components_ = out(self._A, was_np, X if not was_np else None)
        self.history_ = hist
        self.n_iter_ = n_done
        self.status_ = status
        self.converged_ = status == "converged"
        self.n_features_in_ = N
        if status == "max_epochs" and p["tol"] > 0:
            warnings.warn(f"KernelSimilarityMatching did not converge in {n_done} epochs (relative objective "
                          f"change above tol={p['tol']:g})", ConvergenceWarning, stacklevel=2)
        return self

    # ------------------------------------------------------------------ per-epoch diagnostics
    def _epoch_stats(self, X, Z, W, batches, Gm, S, prior, lam, omega, rho, simplex):
        T = X.shape[0]
        c = 1.0 + omega if simplex else 1.0
        A = _implicit_map(X, Z, omega, simplex)  # K×N
        Xh = Z @ A
        res = float(((X - Xh) ** 2).sum())
        sst = float(((X - X.mean(0)) ** 2).sum())
        if simplex:
            # (ω/2T) Σ_{k,l} z_lk ||x_l - a_k||²: the weight for which Â of App. A.2 is the minimiser
            d2 = (X * X).sum(1, keepdim=True) - 2 * X @ A.T + (A * A).sum(1)[None, :]
            obj = res / (2 * T) + omega / (2 * T) * float((Z * d2).sum())
        else:
            obj = res / (2 * T) + lam / T * float(prior.value(Z).sum()) + 0.5 * omega * float((A * A).sum())
        G = W @ W.T
        # augmented Lagrangian (eq. 14, standard form), z_i = p_i at the end of each visit
        lin = -c * float(((Z @ W) * X).sum())
        quad = 0.5 * float(((Z @ G) * Z).sum())
        quad += 0.5 * omega * (float(Z.sum(0) @ torch.diagonal(G)) if simplex else T * float(torch.trace(G)))
        reg = 0.0 if simplex else lam * float(prior.value(Z).sum())
        aug, viol = 0.0, 0.0
        if Gm is not None:
            for b, idx in enumerate(batches):
                n = idx.numel()
                r = -S[b]  # z zᵀ + ωB - P
                quad += 0.5 * n * float((S[b] * G).sum())
                aug += n * (0.5 * float((Gm[b] * r).sum()) + 0.5 * rho * float((r * r).sum()))
                viol += n * float(torch.linalg.matrix_norm(r))
        lagr = (lin + quad + reg + aug) / T
        return {"objective": obj, "lagrangian": lagr, "constraint_violation": viol / T,
                "sparsity": p_sparsity(Z) if Z.shape[1] > 1 else 1.0,
                "r2": 1.0 - res / sst if sst > 0 else float("nan")}

    # ------------------------------------------------------------------ encoding
    @staticmethod
    def _encode(X, W, Z0, prior, lam, omega, simplex, n_iter=200, fista=True):
        r"""Minimise :math:`-c\,z^\top Wx + \tfrac12 z^\top WW^\top z + \lambda g(z)` (+ :math:`\tfrac\omega2
        z^\top\mathrm{diag}(WW^\top)` for the simplex): the per-sample Lagrangian at the P/M fixed point of
        schedule 1 (002 eq. 29). (F)ISTA with step 1/λ_max(WWᵀ)."""
        c = 1.0 + omega if simplex else 1.0
        G = W @ W.T
        L = float(torch.linalg.eigvalsh(G)[-1].clamp_min(1e-12))
        WX = c * (X @ W.T)
        dG = torch.diagonal(G)
        z = Z0
        y, t = z, 1.0
        for _ in range(n_iter):
            grad = y @ G - WX
            if simplex:
                grad = grad + 0.5 * omega * dG
            z_new = prior.prox(y - grad / L, lam / L)
            if fista:
                t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
                y = z_new + ((t - 1) / t_new) * (z_new - z)
                t = t_new
            else:
                y = z_new
            z = z_new
        return z

    def _check_fitted(self):
        if not hasattr(self, "_W"):
            raise ValueError("this KernelSimilarityMatching is not fitted yet; call fit(X) first")

    def transform(self, X, n_iter: int = 200):
        """Codes for new samples with the learned W (FISTA on the schedule-1 Z-step problem, eq. 29)."""
        self._check_fitted()
        p = self._p
        Xt, was_np = to_tensor(X, "X", p["dev"], p["dt"])
        if Xt.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} features, got {Xt.shape[1]}")
        n_iter = check_int(n_iter, "n_iter")
        T, K = Xt.shape[0], p["K"]
        Z0 = (torch.full((T, K), 1.0 / K, device=p["dev"], dtype=p["dt"]) if self._simplex
              else torch.zeros(T, K, device=p["dev"], dtype=p["dt"]))
        Z = self._encode(Xt, self._W, Z0, p["prior"], p["lam"], p["omega"], self._simplex, n_iter=n_iter)
        return out(Z, was_np, X if not was_np else None)

    def inverse_transform(self, Z):
        """:math:`\\hat X = \\hat A Z` (paper orientation), i.e. ``Z @ components_``."""
        self._check_fitted()
        p = self._p
        Zt, was_np = to_tensor(Z, "Z", p["dev"], p["dt"])
        if Zt.shape[1] != p["K"]:
            raise ValueError(f"Z must have {p['K']} columns, got {Zt.shape[1]}")
        return out(Zt @ self._A, was_np, Z if not was_np else None)

    def score(self, X, y=None) -> float:
        """R² of the reconstruction ``transform(X) @ components_`` (002 Table 1)."""
        from .metrics import r2_score

        Z = self.transform(X)
        return r2_score(X, self.inverse_transform(Z))

    def get_params(self, deep=True):
        return {k: getattr(self, k) for k in ("n_components", "prior", "lam", "omega", "rho", "schedule",
                                              "n_z_steps", "lr_w", "batch_size", "max_epochs", "z_step_scale",
                                              "normalize_rows", "init", "tol", "device", "dtype",
                                              "random_state", "callback")}

    def set_params(self, **params):
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for KernelSimilarityMatching")
            setattr(self, k, v)
        return self
