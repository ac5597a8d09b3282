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

Why not :class:`simcode.core.ADMM`. The core skeleton is the convex two-block ADMM of Boyd et al. (x-step,
z-step, dual step, stop on primal/dual residuals, ρ balancing). Algorithm 2 is not that: the problem is
non-convex (the per-sample Lagrangian is quartic in z), each *epoch* interleaves, minibatch by minibatch, a Z-,
P- and M-step with a gradient W-step on a fourth block (W is not an ADMM variable, it is trained by SGD), the
stopping rule is the relative change of the objective per epoch (the residuals of schedule 1 are zero by
construction, 002 Theorem 1), and ρ is a fixed parameter of the schedules (residual balancing would change the
iterates the paper analyses). The loop therefore stays here, in :func:`kernel_similarity_matching`, and uses the
core's :class:`~simcode.core.History` and result protocol (:class:`KSMResult`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..core import (ArrayKind, History, RepresentationMixin, SolverMixin, SolverResult, check_bool, check_int,
                    check_number, check_option, check_random_state, nesterov_momentum, warn_not_converged)
from ..sparse.priors import Prior
from .metrics import p_sparsity, reconstruction_r2
from .validation import check_input, check_prior, compute_device_dtype, validate_estimator_input

__all__ = ["KernelSimilarityMatching", "kernel_similarity_matching", "KSMResult", "implicit_map"]


def implicit_map(X, Z, omega: float, simplex: bool = False):
    r"""The implicit generative map :math:`\hat A^\top` (K×N, atoms in rows) of 002 §3 / Appendix A.

    :math:`\hat A = X Z^\top H^{-1}/T`, :math:`H = ZZ^\top/T + \omega I` (ℓ1, Appendix A.1), or
    :math:`\hat A = (1+\omega)XZ^\top H^{-1}/T`, :math:`H = ZZ^\top/T + \omega\,\mathrm{diag}(Z\mathbf 1/T)`
    (simplex, Appendix A.2); paper orientation. Note: this Â minimises P2 (eq. 8) when its proximity term is
    weighted :math:`\omega/(2T)`; with the :math:`\omega/T` printed in eq. 8 the minimiser would be
    :math:`(1+2\omega)XZ^\top(ZZ^\top/T + 2\omega D)^{-1}/T`. We follow Appendix A.2 (and eqs. 19, 31, 35),
    i.e. P2 with :math:`\omega/(2T)`, which is also what ``history_['objective']`` reports.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (T, N)
        Data, samples in rows.
    Z : array-like or torch.Tensor of shape (T, K)
        Codes.
    omega : float > 0
        ω.
    simplex : bool
        The simplex-prior map (Appendix A.2) instead of the ℓ1 one (A.1).

    Returns
    -------
    A : ndarray or torch.Tensor of shape (K, N)
        ``Âᵀ``; torch in → torch out (on X's device), NumPy in → NumPy out.
    """
    kind = ArrayKind.of(X)
    Xt = check_input(X, "X", None, None)
    Zt = check_input(Z, "Z", Xt.device, Xt.dtype)
    if Zt.shape[0] != Xt.shape[0]:
        raise ValueError(f"Z must have as many rows as X ({Xt.shape[0]}), got shape {tuple(Zt.shape)}")
    omega = check_number(omega, "omega", low=0.0, low_inclusive=False)
    return kind.wrap(_implicit_map(Xt, Zt, omega, check_bool(simplex, "simplex")))


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


def _encode(X, W, Z0, prior, lam, omega, simplex, n_iter=200, fista=True):
    r"""Minimise :math:`-c\,z^\top Wx + \tfrac12 z^\top WW^\top z + \lambda g(z)` (+ :math:`\tfrac\omega2
    z^\top\mathrm{diag}(WW^\top)` for the simplex): the per-sample Lagrangian at the P/M fixed point of
    schedule 1 (002 eq. 29). (F)ISTA with step 1/λ_max(WWᵀ), all samples at once (one momentum for the
    batch; the rows do not interact, so the codes do not depend on which other samples are in ``X``)."""
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
            t, beta = nesterov_momentum(t)
            y = z_new + beta * (z_new - z)
        else:
            y = z_new
        z = z_new
    return z


def _epoch_stats(X, Z, W, batches, Gm, S, prior, lam, omega, rho, simplex):
    """Per-epoch diagnostics: P1/P2 at Â, the augmented Lagrangian of eq. 14, constraint violation, sparsity, R²."""
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


@dataclass(kw_only=True)
class KSMResult(SolverResult):
    """Result of :func:`kernel_similarity_matching` (the :class:`simcode.core.SolverResult` protocol plus arrays).

    Attributes
    ----------
    W : (K, N) the paper's W. codes : (T, K) the training codes Z. components : (K, N) :math:`\\hat A^\\top`.
    history : dict of per-epoch arrays ``objective``, ``lagrangian``, ``constraint_violation``, ``sparsity``,
        ``r2``, ``time`` (see :class:`KernelSimilarityMatching`). n_iter : epochs run.
    """

    W: object = None
    codes: object = None
    components: object = None


def kernel_similarity_matching(X, n_components=16, *, prior="l1", lam=0.5, omega=1e-4, rho=1.0, schedule=1,
                               n_z_steps=15, lr_w=0.01, batch_size=128, max_iter=100, z_step_scale=None,
                               normalize_rows=None, init="data", tol=1e-7, device="auto", dtype=None,
                               random_state=None, callback=None, W_init=None, Z_init=None,
                               warn=True) -> KSMResult:
    r"""Kernel similarity matching by the separable ADMM of 002 Algorithm 2 (equations in the module docstring).

    Parameters are those of :class:`KernelSimilarityMatching`, plus

    X : array-like or torch.Tensor of shape (T, N)
        Data, samples in rows.
    W_init : array-like of shape (K, N), optional
        Warm start for W (002 §6.1); overrides ``init``.
    Z_init : array-like of shape (T, K), optional
        Initial codes.
    callback : callable ``(epoch, W, Z)``, optional
        Called after every epoch with the current tensors.
    warn : bool
        Issue a :class:`simcode.ConvergenceWarning` when the run stops before ``tol`` is met.

    Returns
    -------
    KSMResult
        ``W``, ``codes``, ``components`` (torch in → torch out on X's device, NumPy in → NumPy out), and
        ``status`` (``"converged"``, ``"max_iter"`` or ``"diverged"``), ``n_iter`` (epochs), ``history``,
        ``time_s``.
    """
    t_start = time.perf_counter()
    kind = ArrayKind.of(X)
    K = check_int(n_components, "n_components", low=1)
    prior, pkind = check_prior(prior)
    lam = check_number(lam, "lam", low=0.0)
    omega = check_number(omega, "omega", low=0.0, low_inclusive=False)
    rho = check_number(rho, "rho", low=0.0, low_inclusive=False)
    if isinstance(schedule, (bool, np.bool_)) or schedule not in (1, 2, 3):
        raise ValueError(f"schedule must be 1, 2 or 3 (002 §5.1.2), got {schedule!r}")
    n_z = check_int(n_z_steps, "n_z_steps", low=1)
    lr_w = check_number(lr_w, "lr_w", low=0.0, low_inclusive=False)
    B = check_int(batch_size, "batch_size", low=1)
    E = check_int(max_iter, "max_iter", low=1)
    scale = ((1.0 if schedule in (1, 2) else 0.01) if z_step_scale is None
             else check_number(z_step_scale, "z_step_scale", low=0.0, low_inclusive=False))
    norm_rows = (pkind == "sparse") if normalize_rows is None else check_bool(normalize_rows, "normalize_rows")
    check_option(init, "init", ("data", "random"))
    tol = check_number(tol, "tol", low=0.0)
    dev, dt = compute_device_dtype(device, dtype, X)
    Xt = check_input(X, "X", dev, dt)
    T, N = Xt.shape
    B = min(B, T)  # as scikit-learn's MiniBatchDictionaryLearning: a batch cannot exceed the data
    rng = check_random_state(random_state)
    simplex = pkind == "simplex"
    c = 1.0 + omega if simplex else 1.0

    # ---- W init
    if W_init is not None:
        W = check_input(W_init, "W_init", dev, dt, shape=(K, N)).clone()
    elif init == "data":
        idx = rng.choice(T, size=K, replace=K > T)
        W = Xt[torch.as_tensor(idx, device=dev)].clone()
        if not simplex:
            W = W + 1e-3 * torch.as_tensor(rng.standard_normal((K, N)), device=dev, dtype=dt)
    else:
        W = torch.as_tensor(rng.standard_normal((K, N)), device=dev, dtype=dt)
    if norm_rows:
        W = W / torch.linalg.vector_norm(W, dim=1, keepdim=True).clamp_min(1e-12)

    # ---- Z init
    if Z_init is not None:
        Z = check_input(Z_init, "Z_init", dev, dt, shape=(T, K)).clone()
    elif simplex:
        Z = prior.prox(torch.as_tensor(rng.standard_normal((T, K)), device=dev, dtype=dt), 1.0)
    else:
        Z = _encode(Xt, W, torch.zeros(T, K, device=dev, dtype=dt), prior, lam, omega, simplex, n_iter=50)

    perm = torch.as_tensor(rng.permutation(T), device=dev)
    n_b = math.ceil(T / B)
    batches = list(torch.tensor_split(perm, n_b))
    G = W @ W.T
    if schedule in (2, 3):  # per-minibatch shared ADMM state (see module docstring)
        Gm = G.unsqueeze(0).repeat(n_b, 1, 1)  # 2 M_i for the batch
        S = torch.zeros(n_b, K, K, device=dev, dtype=dt)  # P_i - z z^T - ω B(z)
    else:
        Gm = S = None
    v = torch.ones(K, device=dev, dtype=dt) / math.sqrt(K)
    hist = History()
    status, n_done, detail = "max_iter", 0, ""
    t0 = time.perf_counter()
    prev_obj = None
    eyeK = torch.eye(K, device=dev, dtype=dt)
    for epoch in range(E):
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
            eta = scale / max(L, 1e-12)
            WX = c * (Xb @ W.T)
            if schedule in (2, 3):
                Ab = Gm[b] - 2 * rho * S[b]  # 2ρ(M_i/ρ - (P_i - p p^T - ωB(p)))
                dAb = torch.diagonal(Ab)
            dG = torch.diagonal(G)
            for tau in range(n_z):
                if schedule == 1 or (schedule == 2 and tau > 0):
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
            if schedule in (2, 3):
                S[b] = (Gm[b] - G) / (2 * rho)
                Gm[b] = G
            # W-step (eq. 26 / 35) with P^{k+1}
            Bsum = torch.diag(z.sum(0)) if simplex else Bn * eyeK
            PW = (z.T @ z + omega * Bsum) @ W
            if schedule in (2, 3):
                PW = PW + Bn * (S[b] @ W)
            W = W - lr_w * (PW - c * (z.T @ Xb)) / Bn
            if norm_rows:
                W = W / torch.linalg.vector_norm(W, dim=1, keepdim=True).clamp_min(1e-12)
            Z[idx] = z
            if not (bool(torch.isfinite(z).all()) and bool(torch.isfinite(W).all())):
                finite = False
                break
        stats = _epoch_stats(Xt, Z, W, batches, Gm, S, prior, lam, omega, rho, simplex) if finite else None
        if stats is None or not all(math.isfinite(s) for k, s in stats.items() if k != "r2"):
            W, Z = W_save, Z_save
            if Gm_save is not None:
                Gm, S = Gm_save
            status = "diverged"
            detail = (f"diverged at epoch {epoch + 1} (non-finite iterate or objective); kept the last finite "
                      f"state (epoch {epoch}); try a smaller lr_w or z_step_scale")
            break
        n_done = epoch + 1
        hist.append(**stats, time=time.perf_counter() - t0)
        if callback is not None:
            callback(epoch, W, Z)
        obj = stats["objective"]
        if prev_obj is not None and tol > 0 and abs(prev_obj - obj) <= tol * max(1.0, abs(obj)):
            status = "converged"
            break
        prev_obj = obj
    if status == "max_iter":
        detail = f"relative objective change above tol={tol:g}; raise max_iter or tol"
    if warn and status != "converged":
        warn_not_converged("kernel_similarity_matching", n_done, detail)
    A = _implicit_map(Xt, Z, omega, simplex)
    return KSMResult(W=kind.wrap(W), codes=kind.wrap(Z), components=kind.wrap(A), status=status, n_iter=n_done,
                     history=hist.as_dict(), time_s=time.perf_counter() - t_start)


class KernelSimilarityMatching(TransformerMixin, SolverMixin, RepresentationMixin, BaseEstimator):
    r"""Kernel similarity matching by the separable ADMM (002 Algorithm 2, schedules 1-3).

    A thin scikit-learn shell around :func:`kernel_similarity_matching` (the algorithm). ``transform`` gives the
    codes of new samples with the learned W (FISTA on the schedule-1 Z-step problem, 002 eq. 29);
    ``inverse_transform`` the reconstruction :math:`\hat X = \hat A Z`; ``score`` its R²
    (:func:`simcode.ksm.metrics.reconstruction_r2`, 002 Table 1).

    Parameters
    ----------
    n_components : int, default=16
        K, the number of latent units (atoms).
    prior : {"l1", "l1_nonneg", "simplex"} or Prior, default="l1"
        Sparse prior (002 eq. 7) or probability simplex (eq. 9).
    lam : float >= 0, default=0.5
        λ, the sparsity weight (unused by the simplex prior).
    omega : float > 0, default=1e-4
        ω, the ridge on the dictionary (P1) / proximity weight (P2).
    rho : float > 0, default=1.0
        ρ, the ADMM penalty.
    schedule : {1, 2, 3}, default=1
        002 §5.1.2.
    n_z_steps : int, default=15
        T_z, proximal-gradient steps per Z-step (Table 1: 15).
    lr_w : float > 0, default=0.01
        η_W, the W-step learning rate.
    batch_size : int, default=128
        B, minibatch size for the Z/P/M/W steps (Table 1: 128); at most the number of samples.
    max_iter : int, default=100
        Cap on the epochs (passes over the data).
    z_step_scale : float or None, default=None
        η_Z = z_step_scale / λ_max(WWᵀ); None → 1 (schedules 1, 2), 0.01 (3).
    normalize_rows : bool or None, default=None
        Unit-norm rows of W after each W-step; None → True for sparse priors, False for the simplex (whose
        atoms are points on the data manifold).
    init : {"data", "random"}, default="data"
        W from random training samples or a Gaussian; ``fit(X, W_init=...)`` overrides. Z starts from 50 FISTA
        steps of sparse coding with W (sparse; 002 §6.1) or a Gaussian projected on the simplex (§6.3).
    tol : float >= 0, default=1e-7
        Stop when the relative change of the objective over an epoch falls below ``tol`` (0: run ``max_iter``
        epochs; the run then ends at its cap and says so with a ConvergenceWarning).
    transform_max_iter : int, default=200
        FISTA iterations of :meth:`transform`.
    device : "auto", "cpu" or "cuda[:i]", default="auto"
        Where to compute (``"auto"``: a tensor's device, else CUDA when available, else CPU).
    dtype : None, "float32" or "float64", default=None
        None: float32 input is computed in float32, everything else in float64.
    random_state : None, int or numpy Generator, default=None
    callback : callable ``(epoch, estimator)`` or None, default=None
        Called after every epoch (``W_`` and ``codes_`` hold the current state), e.g. for progress bars.

    Attributes
    ----------
    W_ : (K, N) the paper's W (after training its rows approximate the atoms).
    components_ : (K, N) :math:`\hat A^\top`, the implicit generative map (atoms in rows).
    codes_ : (T, K) training codes Z.
    history_ : dict of per-epoch arrays: ``objective`` (P1/P2 at Â), ``lagrangian`` (mean augmented
        Lagrangian of eq. 14 in the standard form :math:`\mathrm{Tr}(M_i r_i) + \frac\rho2\|r_i\|^2`),
        ``constraint_violation`` (mean :math:`\|z_iz_i^\top + \omega B(z_i) - P_i\|_F`), ``sparsity``
        (Appendix F, p=1), ``r2``, ``time``.
    n_iter_ : int, epochs run. status_ : "converged", "max_iter" or "diverged". converged_ : bool.
    n_features_in_ : int.

    Notes
    -----
    Orientation: the paper's X (N×T), Z (K×T), W (K×N), Â (N×K) are our ``X`` (T×N), ``codes_`` (T×K),
    ``W_`` (K×N) and ``components_ = Âᵀ`` (K×N). NumPy in → NumPy attributes; torch in → torch attributes on
    the input's device.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "prior": [StrOptions({"l1", "l1_nonneg", "simplex"}), Prior],
        "lam": [Interval(Real, 0, None, closed="left")],
        "omega": [Interval(Real, 0, None, closed="neither")],
        "rho": [Interval(Real, 0, None, closed="neither")],
        "schedule": [Options(Integral, {1, 2, 3})],
        "n_z_steps": [Interval(Integral, 1, None, closed="left")],
        "lr_w": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "z_step_scale": [Interval(Real, 0, None, closed="neither"), None],
        "normalize_rows": ["boolean", None],
        "init": [StrOptions({"data", "random"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "transform_max_iter": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "dtype": [None, StrOptions({"float32", "float64"}), torch.dtype, type],
        "random_state": ["random_state", np.random.Generator],
        "callback": [callable, None],
    }

    def __init__(self, n_components=16, *, prior="l1", lam=0.5, omega=1e-4, rho=1.0, schedule=1, n_z_steps=15,
                 lr_w=0.01, batch_size=128, max_iter=100, z_step_scale=None, normalize_rows=None, init="data",
                 tol=1e-7, transform_max_iter=200, device="auto", dtype=None, random_state=None, callback=None):
        self.n_components = n_components
        self.prior = prior
        self.lam = lam
        self.omega = omega
        self.rho = rho
        self.schedule = schedule
        self.n_z_steps = n_z_steps
        self.lr_w = lr_w
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.z_step_scale = z_step_scale
        self.normalize_rows = normalize_rows
        self.init = init
        self.tol = tol
        self.transform_max_iter = transform_max_iter
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.callback = callback

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]  # dtype=None computes float32 in float32
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, W_init=None, Z_init=None):
        """Run the ADMM on ``X`` (n_samples × n_features).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
        y : ignored
        W_init : array-like of shape (n_components, n_features), optional
            Warm start for W (002 §6.1).
        Z_init : array-like of shape (n_samples, n_components), optional
            Initial codes.

        Returns
        -------
        self
        """
        Xv = validate_estimator_input(self, X, reset=True)
        kind = ArrayKind.of(X)
        dev, dt = compute_device_dtype(self.device, self.dtype, Xv)
        Xt = check_input(Xv, "X", dev, dt)
        cb = None
        if self.callback is not None:
            def cb(epoch, W, Z):
                self.W_, self.codes_ = kind.wrap(W), kind.wrap(Z)
                self.callback(epoch, self)
        params = {k: getattr(self, k) for k in ("prior", "lam", "omega", "rho", "schedule", "n_z_steps", "lr_w",
                                                "batch_size", "max_iter", "z_step_scale", "normalize_rows",
                                                "init", "tol", "random_state")}
        res = kernel_similarity_matching(Xt, self.n_components, **params, device=dev, dtype=dt, callback=cb,
                                         W_init=W_init, Z_init=Z_init, warn=False)
        prior, pkind = check_prior(self.prior)
        self._prior, self._simplex = prior, pkind == "simplex"
        self._device, self._dtype = dev, dt
        self._W, self._A = res.W, res.components  # tensors on the compute device
        self.W_, self.codes_, self.components_ = kind.wrap(res.W), kind.wrap(res.codes), kind.wrap(res.components)
        self._record_result(res.status, res.n_iter, res.history,
                            detail=("diverged: non-finite iterate; kept the last finite state, try a smaller lr_w "
                                    "or z_step_scale" if res.status == "diverged"
                                    else f"relative objective change above tol={self.tol:g}; raise max_iter or tol"))
        return self

    def transform(self, X):
        """Codes for new samples with the learned W (FISTA on the schedule-1 Z-step problem, 002 eq. 29).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray or torch.Tensor of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        kind = ArrayKind.of(X)
        Xt = check_input(validate_estimator_input(self, X, reset=False), "X", self._device, self._dtype)
        T, K = Xt.shape[0], self._W.shape[0]
        Z0 = (torch.full((T, K), 1.0 / K, device=self._device, dtype=self._dtype) if self._simplex
              else torch.zeros(T, K, device=self._device, dtype=self._dtype))
        Z = _encode(Xt, self._W, Z0, self._prior, float(self.lam), float(self.omega), self._simplex,
                    n_iter=int(self.transform_max_iter))
        return kind.wrap(Z)

    def inverse_transform(self, X):
        r"""The reconstruction :math:`\hat X = \hat A Z` (paper orientation), i.e. ``X @ components_``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_components)
            Codes.
        """
        check_is_fitted(self)
        kind = ArrayKind.of(X)
        Zt = check_input(X, "X", self._device, self._dtype)
        if Zt.shape[1] != self._A.shape[0]:
            raise ValueError(f"X must have {self._A.shape[0]} columns (n_components), got {Zt.shape[1]}")
        return kind.wrap(Zt @ self._A)

    def score(self, X, y=None) -> float:
        """R² of the reconstruction ``transform(X) @ components_`` (002 Table 1; pooled over features, see
        :func:`simcode.ksm.metrics.reconstruction_r2`)."""
        return reconstruction_r2(X, self.inverse_transform(self.transform(X)))
