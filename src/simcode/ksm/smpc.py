r"""The similarity-matching predictive-coding (SMPC) network of Choudhary, Masset & Ba (paper ``002`` §7, App. E).

Objective (002 eq. 16, the relaxed KSM problem with the kernel-norm penalty of weight α = ``lam_kernel``, 1 in
the paper):

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
:math:`\mathcal K_Z = (\Omega Z)^\top(\Omega Z)`, i.e. :math:`\hat A = XZ^\top\Omega^\top\Omega/T` — computed
without the T×T kernel.

Orientation: paper X (N×T), Y (K_y×T), Z (K×T), W (K_y×N), Ω (K_y×K) are our ``X`` (T×N), ``Y_`` (T×K_y),
``codes_`` (T×K), ``W_`` (K_y×N), ``Omega_`` (K_y×K).

The algorithm is :func:`similarity_matching_predictive_coding`; :class:`SMPC` is its scikit-learn shell. The
network is not an ADMM (no dual variable, no residuals): a plain loop with the core's
:class:`~simcode.core.History` and result protocol.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..core import (ArrayKind, History, RepresentationMixin, SolverMixin, SolverResult, check_bool, check_int,
                    check_number, check_option, check_random_state, nesterov_momentum, warn_not_converged)
from ..sparse.priors import Prior
from .metrics import reconstruction_r2
from .validation import check_input, check_prior, compute_device_dtype, validate_estimator_input

__all__ = ["SMPC", "SMPCResult", "similarity_matching_predictive_coding", "cholesky_omega"]


def cholesky_omega(Z, omega: float, simplex: bool):
    r"""Ω of 002 App. E.1 from codes ``Z`` (T×K): :math:`\Omega = L^{-1}` for :math:`H = LL^\top`.

    :math:`H = ZZ^\top/T + \omega I` (ℓ1) or :math:`+\,\omega\,\mathrm{diag}(Z\mathbf 1_T/T)` (simplex), paper
    orientation, computed from the initial latents *as given* (App. E.1 initialises Z = Z_true + noise and
    computes H from that Z; the simplex projection only enters through the first Z update), so that
    :math:`\Omega^\top\Omega = H^{-1}` (the stated intent; the text's "inverted and transposed" :math:`L^{-\top}`
    gives :math:`\Omega\Omega^\top = H^{-1}` instead). A tiny ridge keeps H positive definite.

    Parameters
    ----------
    Z : array-like or torch.Tensor of shape (T, K)
    omega : float > 0
    simplex : bool

    Returns
    -------
    Omega : (K, K) lower triangular, NumPy or torch like ``Z``.
    """
    kind = ArrayKind.of(Z)
    Zt = check_input(Z, "Z", None, None)
    omega = check_number(omega, "omega", low=0.0, low_inclusive=False)
    return kind.wrap(_cholesky_omega(Zt, omega, check_bool(simplex, "simplex")))


def _cholesky_omega(Z: torch.Tensor, omega: float, simplex: bool) -> torch.Tensor:
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


def _stats(X, Y, Z, Om, prior, lam, rho, lam_kernel):
    """``(objective of eq. 16, normalised R²)`` or None on overflow."""
    T = X.shape[0]
    # (1/4T²)||XXᵀ - √α YYᵀ||²-type quartic of eq. 16 via d×d Gram matrices (no T×T kernel)
    XtX, YtX, YtY = X.T @ X, Y.T @ X, Y.T @ Y
    sim = (float((XtX * XtX).sum()) - 2 * float((YtX * YtX).sum()) + lam_kernel * float((YtY * YtY).sum())) / (
        4 * T * T)
    R = Y - Z @ Om.T
    obj = sim + lam / T * float(prior.value(Z).sum()) + rho / (2 * T) * float((R * R).sum())
    Xh = Z @ ((Om.T @ Om) @ (Z.T @ X) / T)
    if not (math.isfinite(obj) and bool(torch.isfinite(Xh).all())):
        return None  # overflow: the caller treats it as divergence
    return obj, reconstruction_r2(_normalized(X), _normalized(Xh))


def _infer_latents(X, W, M, Om, prior, lam, rho, simplex, n_steps):
    r"""Fixed point of the neural dynamics (eqs. 39-40) for fixed synapses: proximal gradient with FISTA
    momentum, step 1/L of the joint Hessian (see :meth:`SMPC.transform`). ``X`` already normalised."""
    M = 0.5 * (M + M.T)
    Ky, K = Om.shape
    dev, dt = X.device, X.dtype
    Hs = torch.zeros(Ky + K, Ky + K, device=dev, dtype=dt)
    Hs[:Ky, :Ky] = M + rho * torch.eye(Ky, device=dev, dtype=dt)
    Hs[:Ky, Ky:] = -rho * Om
    Hs[Ky:, :Ky] = -rho * Om.T
    Hs[Ky:, Ky:] = rho * Om.T @ Om
    L = float(torch.linalg.eigvalsh(Hs)[-1])
    T = X.shape[0]
    WX = X @ W.T
    y = WX.clone()
    z = (torch.full((T, K), 1.0 / K, device=dev, dtype=dt) if simplex else
         torch.zeros(T, K, device=dev, dtype=dt))
    yo, zo, t = y, z, 1.0
    ym, zm = y, z
    for _ in range(n_steps):
        zeta = rho * (zm @ Om.T - ym)
        y = ym + (WX - ym @ M + zeta) / L
        z = prior.prox(zm - (zeta @ Om) / L, lam / L)
        t, beta = nesterov_momentum(t)
        ym = y + beta * (y - yo)
        zm = z + beta * (z - zo)
        yo, zo = y, z
    return z


@dataclass(kw_only=True)
class SMPCResult(SolverResult):
    """Result of :func:`similarity_matching_predictive_coding`: the protocol plus the network's state.

    Attributes
    ----------
    W, M, Omega : synapses. Y : (T, K_y) intermediate units. codes : (T, K) latents Z. components : (K, N)
    :math:`\\hat A^\\top` in the normalised input space. scale : the input normalisation. history : dict of
    arrays ``objective``, ``r2``, ``iteration``, ``time``, one entry per record. n_iter : outer iterations run.
    """

    W: object = None
    M: object = None
    Omega: object = None
    Y: object = None
    codes: object = None
    components: object = None
    scale: float = 1.0


def similarity_matching_predictive_coding(X, n_components=2, *, prior="l1", lam=0.8, rho=5.0, lam_kernel=1.0,
                                          lr_y=0.1, lr_z=0.1, lr_w=0.05, lr_m=0.1, lr_omega=None,
                                          n_intermediate=None, n_neural_steps=10, n_synaptic_steps=5,
                                          max_iter=6000, tol=1e-4, batch_size=None, omega=0.1,
                                          init_omega="cholesky", normalize=False, record_every=10,
                                          safe_steps=True, neural_order="blocks", device="auto", dtype=None,
                                          random_state=None, callback=None, Z_init=None, Omega_init=None,
                                          warn=True) -> SMPCResult:
    r"""Train the SMPC network of 002 §7 / App. E on ``X`` (equations in the module docstring).

    Parameters are those of :class:`SMPC`, plus

    X : array-like or torch.Tensor of shape (T, N)
    Z_init : array-like of shape (T, K), optional
        Initial latents (App. E.1), used as given for the initial Ω (Cholesky) and Y = ΩZ.
    Omega_init : array-like of shape (K_y, K), optional
    callback : callable ``(iteration, state)``, optional
        Called at every record with ``state`` a dict of the current tensors (``W``, ``M``, ``Omega``, ``Y``,
        ``Z``).
    warn : bool
        Issue a :class:`simcode.ConvergenceWarning` when the run stops before ``tol`` is met.

    Returns
    -------
    SMPCResult
        Torch in → torch arrays on X's device, NumPy in → NumPy.
    """
    t_start = time.perf_counter()
    kind = ArrayKind.of(X)
    K = check_int(n_components, "n_components", low=1)
    prior, pkind = check_prior(prior)
    Ky = K if n_intermediate is None else check_int(n_intermediate, "n_intermediate", low=1)
    lam = check_number(lam, "lam", low=0.0)
    rho = check_number(rho, "rho", low=0.0, low_inclusive=False)
    lam_kernel = check_number(lam_kernel, "lam_kernel", low=0.0, low_inclusive=False)
    lr_y = check_number(lr_y, "lr_y", low=0.0, low_inclusive=False)
    lr_z = check_number(lr_z, "lr_z", low=0.0, low_inclusive=False)
    lr_w = check_number(lr_w, "lr_w", low=0.0, low_inclusive=False)
    lr_m = check_number(lr_m, "lr_m", low=0.0, low_inclusive=False)
    lr_om = lr_w if lr_omega is None else check_number(lr_omega, "lr_omega", low=0.0, low_inclusive=False)
    n_neural = check_int(n_neural_steps, "n_neural_steps", low=1)
    n_syn = check_int(n_synaptic_steps, "n_synaptic_steps", low=1)
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_number(tol, "tol", low=0.0)
    omega = check_number(omega, "omega", low=0.0, low_inclusive=False)
    record_every = check_int(record_every, "record_every", low=1)
    blocks = check_option(neural_order, "neural_order", ("blocks", "alternate")) == "blocks"
    check_option(init_omega, "init_omega", ("cholesky", "random"))
    normalize = check_bool(normalize, "normalize")
    safe_steps = check_bool(safe_steps, "safe_steps")
    dev, dt = compute_device_dtype(device, dtype, X)
    Xt = check_input(X, "X", dev, dt)
    T, N = Xt.shape
    B = T if batch_size is None else min(check_int(batch_size, "batch_size", low=1), T)
    rng = check_random_state(random_state)
    scale = float(torch.sqrt((Xt * Xt).sum(1).mean())) if normalize else 1.0
    if scale == 0:
        raise ValueError("X is all zeros: it cannot be variance-normalised (normalize=True)")
    Xt = Xt / scale
    simplex = pkind == "simplex"

    def randn(*shape):
        return torch.as_tensor(rng.standard_normal(shape), device=dev, dtype=dt)

    if Z_init is not None:
        Z = check_input(Z_init, "Z_init", dev, dt, shape=(T, K)).clone()
    else:
        Z = randn(T, K)
        if simplex:
            Z = prior.prox(Z, 1.0)
    if Omega_init is not None:
        Om = check_input(Omega_init, "Omega_init", dev, dt, shape=(Ky, K)).clone()
    elif init_omega == "cholesky" and Ky == K:
        Om = _cholesky_omega(Z, omega, simplex)
    else:
        Om = randn(Ky, K)
    Y = Z @ Om.T
    W = randn(Ky, N)
    M = torch.eye(Ky, device=dev, dtype=dt)
    n_b = max(1, math.ceil(T / B))
    hist = History()
    t0 = time.perf_counter()
    status, detail = "max_iter", ""
    n_done = 0
    prev_obj = None
    state, state_it = (W.clone(), M.clone(), Om.clone(), Y.clone(), Z.clone()), 0
    for it in range(max_iter):
        perm = torch.as_tensor(rng.permutation(T), device=dev) if n_b > 1 else None
        for b in range(n_b):
            idx = perm[b * B:(b + 1) * B] if perm is not None else slice(None)
            x, yb, z = Xt[idx], Y[idx], Z[idx]
            WX = x @ W.T
            ey, ez = lr_y, lr_z
            if safe_steps:
                Ms = 0.5 * (M + M.T)
                ey = min(ey, 1.0 / max(float(torch.linalg.eigvalsh(Ms)[-1]) + rho, 1e-12))
                ez = min(ez, 1.0 / max(rho * float(torch.linalg.eigvalsh(Om.T @ Om)[-1]), 1e-12))
            if blocks:  # §7.1: η_Y, η_Z "run for 10 iterations each": all Y steps, then all Z steps
                for _ in range(n_neural):
                    yb = yb + ey * (WX - yb @ M + rho * (z @ Om.T - yb))
                for _ in range(n_neural):
                    z = prior.prox(z - ez * (rho * (z @ Om.T - yb) @ Om), lam * ez)
            else:  # alternate one Y step and one Z step (App. E, eqs. 39-41, read step by step)
                for _ in range(n_neural):
                    zeta = rho * (z @ Om.T - yb)
                    yb = yb + ey * (WX - yb @ M + zeta)
                    zeta = rho * (z @ Om.T - yb)
                    z = prior.prox(z - ez * (zeta @ Om), lam * ez)
            nb = x.shape[0]
            for _ in range(n_syn):
                zeta = rho * (z @ Om.T - yb)
                Om = Om - lr_om * (zeta.T @ z) / nb
                W = W + lr_w * ((yb.T @ x) / nb - W)
                M = M + lr_m * (lam_kernel * (yb.T @ yb) / nb - M)
            if perm is None:
                Y, Z = yb, z
            else:
                Y[idx], Z[idx] = yb, z
        record = it % record_every == 0 or it == max_iter - 1
        stats = None
        finite = all(bool(torch.isfinite(a).all()) for a in (W, M, Om, Y, Z))
        if finite and record:
            stats = _stats(Xt, Y, Z, Om, prior, lam, rho, lam_kernel)
            finite = stats is not None
        if not finite:
            W, M, Om, Y, Z = state
            n_done = state_it
            status = "diverged"
            if not len(hist):  # diverged before the first record: report the initial state
                obj, r2 = _stats(Xt, Y, Z, Om, prior, lam, rho, lam_kernel) or (float("nan"), float("nan"))
                hist.append(objective=obj, r2=r2, iteration=0, time=0.0)
            detail = (f"diverged at iteration {it + 1} (non-finite state or prediction); kept the last finite "
                      f"state (iteration {state_it}); try smaller learning rates")
            break
        n_done = it + 1
        if record:
            state, state_it = (W.clone(), M.clone(), Om.clone(), Y.clone(), Z.clone()), it + 1
            obj, r2 = stats
            hist.append(objective=obj, r2=r2, iteration=it + 1, time=time.perf_counter() - t0)
            if callback is not None:
                callback(it, {"W": W, "M": M, "Omega": Om, "Y": Y, "Z": Z})
            if prev_obj is not None and tol > 0 and abs(prev_obj - obj) <= tol * max(1.0, abs(obj)):
                status = "converged"
                break
            prev_obj = obj
    if status == "max_iter":
        detail = (f"relative objective change between records above tol={tol:g}; raise max_iter or tol"
                  if tol > 0 else "tol=0: ran the max_iter iterations asked for")
    if warn and status != "converged":
        warn_not_converged("similarity_matching_predictive_coding", n_done, detail)
    A = (Om.T @ Om) @ (Z.T @ Xt) / T
    w = kind.wrap
    return SMPCResult(W=w(W), M=w(M), Omega=w(Om), Y=w(Y), codes=w(Z), components=w(A), scale=scale,
                      status=status, n_iter=n_done, history=hist.as_dict(), time_s=time.perf_counter() - t_start)


_PARAMS = ("prior", "lam", "rho", "lam_kernel", "lr_y", "lr_z", "lr_w", "lr_m", "lr_omega", "n_intermediate",
           "n_neural_steps", "n_synaptic_steps", "max_iter", "tol", "batch_size", "omega", "init_omega",
           "normalize", "record_every", "safe_steps", "neural_order", "random_state")


class SMPC(TransformerMixin, SolverMixin, RepresentationMixin, BaseEstimator):
    r"""Similarity-matching predictive-coding network (002 §7, eqs. 15-18, App. E).

    A thin scikit-learn shell around :func:`similarity_matching_predictive_coding`. ``transform`` infers the
    latents of new samples (the neural fixed point), ``predict`` the prediction :math:`\hat X`, ``score`` the
    normalised R² of §7.1.

    Parameters
    ----------
    n_components : int, default=2
        K, latent units Z.
    prior : {"l1", "l1_nonneg", "simplex"} or Prior, default="l1"
    lam : float >= 0, default=0.8
        λ, the sparsity weight (§7.1 2-D example: 0.8).
    rho : float > 0, default=5.0
        ρ (§7.1: 5).
    lam_kernel : float > 0, default=1.0
        α, the weight of the kernel-norm penalty of eq. 16 (paper: 1).
    lr_y, lr_z : float > 0, default=0.1
        Neural step sizes η_Y, η_Z (§7.1: 0.1).
    lr_w, lr_m : float > 0, default=0.05, 0.1
        Synaptic rates η_W, η_M (§7.1).
    lr_omega : float > 0 or None, default=None
        η_Ω (not given in the paper; None → ``lr_w``).
    n_intermediate : int or None, default=None
        Size of Y (None → K, as the paper's Cholesky initialisation implies).
    n_neural_steps, n_synaptic_steps : int, default=10, 5
        Inner iterations (§7.1).
    neural_order : {"blocks", "alternate"}, default="blocks"
        "blocks" — ``n_neural_steps`` Y steps, then ``n_neural_steps`` Z steps, the reading of §7.1's "η_Y, η_Z
        ... run for 10 iterations each"; "alternate" — one Y step then one Z step, repeated (App. E eqs. 39-41
        read step by step). Both have the same fixed points; on the 30-D example of §7.1 "alternate" lets the
        random initial W relabel a few latent units, "blocks" keeps them.
    max_iter : int, default=6000
        Cap on the outer iterations (App. E.1: 6000 / 10000 / 8000).
    tol : float >= 0, default=1e-4
        Stop when the relative change of the objective between two records (``record_every`` iterations)
        falls below ``tol`` (the 2-D example of §7.1 reaches it after a few thousand iterations); 0 runs the
        ``max_iter`` iterations (as the paper does) and ends with a ConvergenceWarning saying so.
    batch_size : int or None, default=None
        None = whole data set (§7.1); at most the number of samples.
    omega : float > 0, default=0.1
        ω of the kernel structure used to initialise Ω (App. E.1).
    init_omega : {"cholesky", "random"}, default="cholesky"
        Ω = L⁻¹ for H = LLᵀ, so that ΩᵀΩ = H⁻¹ (App. E.1, :func:`cholesky_omega`), or N(0, 1).
    normalize : bool, default=False
        Train on variance-normalised inputs :math:`x_i/\sqrt{\frac1T\sum_j\|x_j\|^2}`. §7.1 is ambiguous on
        whether this is a pre-processing step or only how X and X̂ are compared (Fig. 7 caption); the R² is
        always computed between normalised X and normalised X̂. Default False: with normalised training data
        the §7.1 setting λ = 0.8 shrinks every code to zero (the ℓ1 threshold exceeds the normalised drive
        |Wx| ≈ 1).
    record_every : int, default=10
        Record the history (and test ``tol``) every this many outer iterations.
    safe_steps : bool, default=True
        Cap the neural step sizes at the stability limits of the dynamics,
        :math:`\eta_Y \le 1/\lambda_{\max}(M+\rho I)` and :math:`\eta_Z \le 1/(\rho\lambda_{\max}(\Omega^\top
        \Omega))`, recomputed every outer iteration (the paper's η = 0.1 is stable for its 2-D example but not
        for inputs of larger scale or a random Ω, where the dynamics diverge in one iteration). With the paper's
        2-D set-up the caps are not active.
    transform_max_iter : int, default=500
        FISTA iterations of :meth:`transform`.
    device : "auto", "cpu" or "cuda[:i]", default="auto"
    dtype : None, "float32" or "float64", default=None
        None: float32 input is computed in float32, everything else in float64.
    random_state : None, int or numpy Generator, default=None
    callback : callable ``(iteration, estimator)`` or None, default=None
        Called at every record.

    Attributes
    ----------
    W_, M_, Omega_ : synapses. codes_ : (T, K) Z. Y_ : (T, K_y). components_ : (K, N) :math:`\hat A^\top` in
    the normalised input space. scale_ : the input normalisation. history_ : dict of arrays, one entry per
    record: ``objective`` (eq. 16), ``r2`` (normalised input vs normalised prediction, as in Figs. 7-8),
    ``iteration``, ``time``. n_iter_, status_, converged_, n_features_in_.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "prior": [StrOptions({"l1", "l1_nonneg", "simplex"}), Prior],
        "lam": [Interval(Real, 0, None, closed="left")],
        "rho": [Interval(Real, 0, None, closed="neither")],
        "lam_kernel": [Interval(Real, 0, None, closed="neither")],
        "lr_y": [Interval(Real, 0, None, closed="neither")],
        "lr_z": [Interval(Real, 0, None, closed="neither")],
        "lr_w": [Interval(Real, 0, None, closed="neither")],
        "lr_m": [Interval(Real, 0, None, closed="neither")],
        "lr_omega": [Interval(Real, 0, None, closed="neither"), None],
        "n_intermediate": [Interval(Integral, 1, None, closed="left"), None],
        "n_neural_steps": [Interval(Integral, 1, None, closed="left")],
        "n_synaptic_steps": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "omega": [Interval(Real, 0, None, closed="neither")],
        "init_omega": [StrOptions({"cholesky", "random"})],
        "normalize": ["boolean"],
        "record_every": [Interval(Integral, 1, None, closed="left")],
        "safe_steps": ["boolean"],
        "neural_order": [StrOptions({"blocks", "alternate"})],
        "transform_max_iter": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "dtype": [None, StrOptions({"float32", "float64"}), torch.dtype, type],
        "random_state": ["random_state", np.random.Generator],
        "callback": [callable, None],
    }

    def __init__(self, n_components=2, *, prior="l1", lam=0.8, rho=5.0, lam_kernel=1.0, lr_y=0.1, lr_z=0.1,
                 lr_w=0.05, lr_m=0.1, lr_omega=None, n_intermediate=None, n_neural_steps=10, n_synaptic_steps=5,
                 max_iter=6000, tol=1e-4, batch_size=None, omega=0.1, init_omega="cholesky", normalize=False,
                 record_every=10, safe_steps=True, neural_order="blocks", transform_max_iter=500, device="auto",
                 dtype=None, random_state=None, callback=None):
        self.n_components = n_components
        self.prior = prior
        self.lam = lam
        self.rho = rho
        self.lam_kernel = lam_kernel
        self.lr_y = lr_y
        self.lr_z = lr_z
        self.lr_w = lr_w
        self.lr_m = lr_m
        self.lr_omega = lr_omega
        self.n_intermediate = n_intermediate
        self.n_neural_steps = n_neural_steps
        self.n_synaptic_steps = n_synaptic_steps
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.omega = omega
        self.init_omega = init_omega
        self.normalize = normalize
        self.record_every = record_every
        self.safe_steps = safe_steps
        self.neural_order = neural_order
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
    def fit(self, X, y=None, Z_init=None, Omega_init=None):
        """Train the network on ``X`` (n_samples × n_features).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
        y : ignored
        Z_init : array-like of shape (n_samples, n_components), optional
            Initial latents (App. E.1 initialises near the truth for the 30-D and moons examples); used as given
            for the initial Ω (Cholesky) and Y = ΩZ — with the simplex prior it is *not* projected first: App.
            E.1 builds H from Z = Z_true + N(0, 5²) and the projection acts from the first Z update on.
        Omega_init : array-like of shape (n_intermediate, n_components), optional

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
            def cb(it, state):
                self.W_, self.codes_ = kind.wrap(state["W"]), kind.wrap(state["Z"])
                self.callback(it, self)
        res = similarity_matching_predictive_coding(
            Xt, self.n_components, **{k: getattr(self, k) for k in _PARAMS}, device=dev, dtype=dt, callback=cb,
            Z_init=Z_init, Omega_init=Omega_init, warn=False)
        prior, pkind = check_prior(self.prior)
        self._prior, self._simplex, self._device, self._dtype = prior, pkind == "simplex", dev, dt
        self._W, self._M, self._Om, self._Z, self._A = res.W, res.M, res.Omega, res.codes, res.components
        self._kind = kind
        w = kind.wrap
        self.W_, self.M_, self.Omega_ = w(res.W), w(res.M), w(res.Omega)
        self.Y_, self.codes_, self.components_ = w(res.Y), w(res.codes), w(res.components)
        self.scale_ = res.scale
        detail = None
        if res.status == "diverged":
            detail = "diverged: non-finite state or prediction; kept the last finite state, try smaller rates"
        elif self.tol == 0:
            detail = "tol=0: ran the max_iter iterations asked for"
        self._record_result(res.status, res.n_iter, res.history, detail=detail or "")
        return self

    def transform(self, X):
        r"""Latents for new samples: the fixed point of the neural dynamics (eqs. 39-40) with the learned synapses.

        That fixed point minimises :math:`-x^\top W^\top y + \frac12 y^\top My + \lambda g(z) +
        \frac\rho2\|y-\Omega z\|^2` over (y, z) (convex when M ≻ 0). We run the same gradient / proximal
        steps as the network, simultaneously in y and z, with the safe step 1/L of the joint Hessian
        :math:`\begin{pmatrix}M+\rho I & -\rho\Omega\\ -\rho\Omega^\top & \rho\Omega^\top\Omega\end{pmatrix}`
        and FISTA momentum (the training rates η_Y, η_Z can be unstable for a learned Ω), from y = Wx, z = 0
        (uniform for the simplex), for ``transform_max_iter`` steps.

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
        z = _infer_latents(Xt / self.scale_, self._W, self._M, self._Om, self._prior, float(self.lam),
                           float(self.rho), self._simplex, int(self.transform_max_iter))
        return kind.wrap(z)

    def predict(self, X=None):
        r"""The prediction :math:`\hat X = X\mathcal K_Z/T` for the training set (in normalised input units).

        With ``X`` given, its latents are first inferred by :meth:`transform`, and :math:`\hat X = Z\hat A^\top`.
        """
        check_is_fitted(self)
        if X is None:
            return self._kind.wrap(self._Z @ self._A)
        kind = ArrayKind.of(X)
        Z = check_input(self.transform(X), "Z", self._device, self._dtype)
        return kind.wrap(Z @ self._A)

    def score(self, X=None, y=None) -> float:
        """R² between the variance-normalised inputs and the variance-normalised prediction (§7.1, Figs. 7-8).

        Without ``X``: on the training set with the trained latents (the last recorded ``history_["r2"]``).
        """
        check_is_fitted(self)
        if X is None:
            return float(self.history_["r2"][-1])
        Xt = check_input(validate_estimator_input(self, X, reset=False), "X", self._device, self._dtype)
        Z = check_input(self.transform(Xt), "Z", self._device, self._dtype)
        return reconstruction_r2(_normalized(Xt / self.scale_), _normalized(Z @ self._A))
