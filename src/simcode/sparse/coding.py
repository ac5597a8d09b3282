r"""Sparse coding, the front door: batched (F)ISTA for any prior and exact certified lasso codes.

Exports :func:`fista`, :func:`ista`, :func:`active_set`, :func:`sparse_encode`, :func:`lipschitz_constant` and
:class:`SparseCodingResult`.

Solves, independently for every row :math:`x_i` of ``X`` (n_samples × n_features),

.. math::  \min_{z_i} \tfrac12\|x_i - z_i D\|_2^2 + \lambda_i\, g(z_i)

with ``D`` the dictionary (n_atoms × n_features, rows are atoms) and ``g`` any prior of
:mod:`simcode.sparse.priors`. This is the sparse-coding step of lecture 004 ("Convolutional sparse coding
step": :math:`\min_x \tfrac12\|y_j - Hx_j\|^2 + \lambda\|x_j\|_1`, their :math:`y_j` = our ``X[j]``, their
:math:`H` = our ``D.T``, their :math:`x_j` = our ``codes[j]``) and the inner problem of P1 in the KSM paper
002 §3 (their :math:`x_t = A z_t`, :math:`A` = our ``D.T``).

Iteration (Beck & Teboulle 2009, FISTA): :math:`z^{k+1} = \operatorname{prox}_{(\lambda/L) g}\big(y^k -
(y^k G - B)/L\big)` with :math:`G = DD^\top`, :math:`B = XD^\top`, :math:`L = \lambda_{\max}(DD^\top)`;
:math:`y^{k+1} = z^{k+1} + \frac{t_k - 1}{t_{k+1}}(z^{k+1} - z^k)`, with momentum kept per sample and reset
by the gradient restart test of O'Donoghue & Candès (2015); the :math:`t` update is
:func:`simcode.core.nesterov_momentum`. ISTA is the same without momentum.

Stopping. For ``l1`` and ``l1_nonneg`` each sample carries a certificate: with residual :math:`r = x - zD`
the dual point :math:`\theta = s\,r`, :math:`s = \min(1, \lambda/\|rD^\top\|_\infty)` (one-sided max for
``l1_nonneg``) is dual feasible, and the duality gap
:math:`P(z) - (\theta\cdot x - \tfrac12\|\theta\|^2) \ge P(z) - P^\star` bounds the sub-optimality. A sample
stops when ``gap ≤ tol · P(z)`` (relative gap). Other priors stop on the relative size of the proximal-gradient
step, :math:`\|z^{k+1} - y^k\| \le \text{tol}\,\|z^{k+1}\|` (the prox fixed-point residual). Converged samples
are removed from the working batch. For ``l1``/``l1_nonneg`` an optional *polish* step solves the equality
system on the current support and sign pattern, :math:`z_S G_{SS} = B_S - \lambda\,\mathrm{sign}(z_S)`, and
keeps it for the samples whose duality gap then certifies ε-optimality.

Exact lasso codes: :func:`active_set` (what :func:`sparse_encode` uses for ``l1``/``l1_nonneg``) runs compiled
working-set coordinate descent or LARS–homotopy per sample on CPU data (:mod:`simcode.sparse._coordinate_descent`,
:mod:`simcode.sparse._lars`) and a batched torch active-set method on CUDA tensors
(:mod:`simcode.sparse._feature_sign`), all certified per sample by the same duality gap.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core import (ArrayKind, Certificate, History, SolverResult, check_int, check_number, check_option,
                    check_random_state, check_tensor, is_tensor, nesterov_momentum, resolve_device, torch_dtype,
                    warn_not_converged)
from .priors import L1, L1NonNeg, get_prior

__all__ = ["SparseCodingResult", "fista", "ista", "active_set", "sparse_encode", "lipschitz_constant"]


@dataclass(kw_only=True)
class SparseCodingResult(SolverResult):
    r"""Outcome of :func:`fista` / :func:`ista` / :func:`active_set` (arrays are NumPy or torch, like the input).

    The solver protocol of :class:`simcode.core.SolverResult` (``status``, ``converged``, ``n_iter`` — iterations
    run by the slowest sample —, ``history``, ``time_s``, ``certificate``) plus:

    Attributes
    ----------
    codes : (n_samples, n_atoms)
    objective : (n_samples,)
        :math:`\tfrac12\|x_i - z_iD\|^2 + \lambda_i g(z_i)` at return.
    duality_gap : (n_samples,) or None
        Per-sample duality gap (an upper bound on ``objective - optimum``) for ``l1``/``l1_nonneg``.
    stop_value : (n_samples,)
        The quantity compared with ``tol`` (relative gap, or relative step size).
    criterion : str
        ``"duality_gap"`` or ``"relative_change"``.
    n_converged : int
    history : dict
        ``history["stop_value"]``: the largest ``stop_value`` among the samples still running, at each check
        (FISTA / ISTA; empty for :func:`active_set`).
    certificate : Certificate or None
        For the duality-gap criterion: ``lower_bound`` = Σ_i (objective_i − gap_i), a lower bound on the optimal
        total objective (weak duality, per sample), and ``gap`` = max_i gap_i / objective_i
        (``gap_kind="relative_per_sample_max"``), the largest relative duality gap.
    lipschitz : float or None
        The Lipschitz constant of the gradient used for the step size (FISTA / ISTA); ``None`` for
        :func:`active_set`, which takes no gradient steps.
    n_polished : int
        Samples finished by the support solve (``polish=True``; :func:`active_set`: by the first method).
    solver : str
        The solver that produced the codes: ``"fista"`` / ``"ista"``, or for :func:`active_set` the first solver
        used for the samples after the pilot (``"cd"``, ``"lars"`` or ``"torch"``); pass it back as ``solver=``
        to skip the pilot on similar problems.
    """

    codes: object = None
    objective: object = None
    duality_gap: object = None
    stop_value: object = None
    criterion: str = ""
    n_converged: int = 0
    lipschitz: float | None = None
    n_polished: int = 0
    solver: str = ""


def _certificate(objective, gap, stop_value):
    """The result's :class:`~simcode.core.Certificate` from per-sample objectives, gaps and relative gaps."""
    if gap is None:
        return None
    return Certificate(lower_bound=float((objective - gap).sum()), gap=float(stop_value.max()),
                       gap_kind="relative_per_sample_max")


# ------------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------------
def _device(device, X):
    """``"auto"``: where the data live (:func:`simcode.core.resolve_device`)."""
    return torch.device(resolve_device(device, X))


def _resolve(X, D, lam, device, dtype):
    """Validate and convert; returns (X, D, lam (n,1) or float, ArrayKind of X, squeeze)."""
    kind = ArrayKind.of(X)
    dev = _device(device, X)
    Xt = check_tensor(X, "X", ndim=(1, 2), min_rows=0, min_cols=0, device=dev, dtype=torch_dtype(dtype),
                      what="n_samples × n_features")
    dt = Xt.dtype
    Dt = check_tensor(D, "D", ndim=2, min_rows=0, min_cols=0, device=Xt.device, dtype=dt,
                      what="n_atoms × n_features")
    squeeze = Xt.ndim == 1
    if squeeze:
        Xt = Xt[None, :]
    if Xt.shape[1] != Dt.shape[1]:
        raise ValueError(f"X has {Xt.shape[1]} features but D has {Dt.shape[1]} (D is n_atoms × n_features)")
    if not bool((Dt != 0).any()):
        raise ValueError("D is all zeros: every atom is zero, the problem has no Lipschitz step")
    # lam: float or per-sample
    if np.ndim(lam) == 0 and not is_tensor(lam):
        lam_v = check_number(lam, "lam", low=0)
    else:
        lt = check_tensor(lam, "lam", device=Xt.device, dtype=dt, allow_empty=True).reshape(-1)
        if lt.numel() == 1:
            lam_v = check_number(float(lt.item()), "lam", low=0)
        else:
            if lt.numel() != Xt.shape[0]:
                raise ValueError(f"lam must be a scalar or have one value per sample ({Xt.shape[0]}), "
                                 f"got {lt.numel()}")
            if bool((lt < 0).any()):
                raise ValueError("lam must be >= 0 for every sample")
            lam_v = lt[:, None]
    return Xt, Dt, lam_v, kind, squeeze


def _wrap(kind: ArrayKind, squeeze: bool):
    """Output converter: drop the sample axis of a 1-D problem; NumPy in → NumPy out, torch in → torch out."""

    def out(t):
        if t is None:
            return None
        t = t[0] if squeeze else t
        return kind.wrap(t)

    return out


def lipschitz_constant(D, *, solver: str = "auto", max_iter: int = 200, tol: float = 1e-10,
                       random_state=None) -> float:
    r"""Lipschitz constant of :math:`z \mapsto \nabla_z \tfrac12\|x - zD\|^2`, :math:`L = \lambda_{\max}(DD^\top)`.

    Parameters
    ----------
    D : array-like or torch.Tensor, shape (n_atoms, n_features)
    solver : {"auto", "power", "exact"}
        ``"power"`` runs power iteration on the smaller of :math:`DD^\top` and :math:`D^\top D` (same non-zero
        spectrum), from a ``random_state`` start, until the Rayleigh quotient changes by less than ``tol``
        (relative) or ``max_iter`` iterations; the estimate approaches :math:`L` from below and is returned
        times (1 + 1e-6). ``"exact"`` uses an eigen-decomposition; ``"auto"`` picks exact when the smaller side
        is ≤ 1024.
    max_iter : int
    tol : float
    random_state : None, int or Generator

    Returns
    -------
    float
    """
    Dt = check_tensor(D, "D", ndim=2, what="n_atoms × n_features")
    check_option(solver, "solver", ("auto", "power", "exact"))
    return _lipschitz(Dt, solver, check_int(max_iter, "max_iter", low=1), check_number(tol, "tol", low=0),
                      random_state)


def _lipschitz(Dt, solver="auto", max_iter=200, tol=1e-10, random_state=None) -> float:
    G = Dt @ Dt.T if Dt.shape[0] <= Dt.shape[1] else Dt.T @ Dt
    m = G.shape[0]
    if solver == "exact" or (solver == "auto" and m <= 1024):
        return float(torch.linalg.eigvalsh(G.to(torch.float64))[-1])
    rng = check_random_state(random_state)
    v = torch.as_tensor(rng.standard_normal(m), dtype=G.dtype, device=G.device)
    v = v / v.norm()
    est = 0.0
    for _ in range(max_iter):
        w = G @ v
        new = float(v @ w)
        nw = w.norm()
        if float(nw) == 0.0:
            return 0.0
        v = w / nw
        if abs(new - est) <= tol * abs(new):
            est = new
            break
        est = new
    return float(max(est, float(nw))) * (1 + 1e-6)


# ------------------------------------------------------------------------------------------------------
# the solver
# ------------------------------------------------------------------------------------------------------
def _gap_l1(Xa, Za, D, lam, nonneg: bool):
    """Per-sample primal objective and duality gap for ℓ1 (or ℓ1 with z ≥ 0)."""
    R = Xa - Za @ D
    C = R @ D.T
    rr = (R * R).sum(-1)
    rx = (R * Xa).sum(-1)
    lam_c = lam[:, 0] if isinstance(lam, torch.Tensor) else lam
    P = 0.5 * rr + lam_c * (Za.sum(-1) if nonneg else Za.abs().sum(-1))
    cmax = C.amax(-1).clamp_min(0) if nonneg else C.abs().amax(-1)
    tiny = torch.finfo(Xa.dtype).tiny
    s = torch.clamp(lam_c / cmax.clamp_min(tiny), max=1.0)
    dual = s * rx - 0.5 * s * s * rr
    gap = (P - dual).clamp_min(0)
    return P, gap


def _polish(Ba, Za, G, lam, nonneg: bool, max_support: int):
    """Solve z_S G_SS = B_S − λ sign(z_S) on each sample's support (padded batched Cholesky)."""
    mask = Za != 0
    counts = mask.sum(-1)
    m = int(counts.max()) if counts.numel() else 0
    if m == 0 or m > max_support:
        return None
    # indices of the support, padded: sort a key so that support entries come first
    order = torch.argsort((~mask).to(torch.int8), dim=-1, stable=True)[:, :m]
    valid = torch.arange(m, device=Za.device)[None, :] < counts[:, None]
    Gs = G[order[:, :, None], order[:, None, :]]
    vv = valid[:, :, None] & valid[:, None, :]
    eye = torch.eye(m, dtype=G.dtype, device=G.device).expand_as(Gs)
    Gs = torch.where(vv, Gs, eye)
    sgn = torch.ones_like(Za) if nonneg else torch.sign(Za)
    lam_c = lam if not isinstance(lam, torch.Tensor) else lam
    rhs = (Ba - lam_c * sgn).gather(-1, order)
    rhs = torch.where(valid, rhs, torch.zeros_like(rhs))
    Lc, info = torch.linalg.cholesky_ex(Gs)
    zs = torch.cholesky_solve(rhs[:, :, None], Lc)[:, :, 0]
    ok = info == 0
    zs = torch.where(valid & ok[:, None], zs, torch.zeros_like(zs))
    if nonneg:
        zs = zs.clamp_min(0)
    Zp = torch.zeros_like(Za).scatter(-1, order, zs)
    # padded slots scatter zeros onto positions outside the support (all of them set to 0 anyway)
    return Zp, ok


def _check_init(init, n, K, Xt, squeeze):
    if init is None:
        return torch.zeros(n, K, dtype=Xt.dtype, device=Xt.device)
    Z = check_tensor(init, "init", device=Xt.device, dtype=Xt.dtype, allow_empty=True)
    if Z.ndim == 1 and squeeze:
        Z = Z[None, :]
    if tuple(Z.shape) != (n, K):
        raise ValueError(f"init must have shape ({n}, {K}) (n_samples, n_atoms), got {tuple(Z.shape)}")
    return Z.clone()


def _solve(X, D, lam, prior, *, init, max_iter, tol, L, accelerated, restart, check_every, device, dtype,
           polish, max_support):
    t_start = time.perf_counter()
    prior = get_prior(prior)
    max_iter = check_int(max_iter, "max_iter", low=1)
    check_every = check_int(check_every, "check_every", low=1)
    tol = check_number(tol, "tol", low=0)
    max_support = check_int(max_support, "max_support", low=1)
    Xt, Dt, lam_v, kind, squeeze = _resolve(X, D, lam, device, dtype)
    n, K = Xt.shape[0], Dt.shape[0]
    dt = Xt.dtype
    tol_eff = max(tol, 20 * torch.finfo(dt).eps)
    # with λ = 0 the lasso is least squares and the gap certificate degenerates to ½‖r‖²: use the step size
    use_gap = isinstance(prior, (L1, L1NonNeg)) and not (isinstance(lam_v, float) and lam_v == 0.0)
    nonneg = isinstance(prior, L1NonNeg)
    do_polish = bool(polish) and use_gap
    if L is None:
        L = _lipschitz(Dt)
    else:
        L = check_number(L, "L", low=0, low_inclusive=False)
    with torch.no_grad():
        G = Dt @ Dt.T
        B = Xt @ Dt.T
        Z = _check_init(init, n, K, Xt, squeeze)
        stop_val = torch.full((n,), math.inf, dtype=dt, device=Xt.device)
        gaps = torch.full((n,), math.nan, dtype=dt, device=Xt.device) if use_gap else None
        done = torch.zeros(n, dtype=torch.bool, device=Xt.device)
        idx = torch.arange(n, device=Xt.device)
        per_sample_lam = isinstance(lam_v, torch.Tensor)
        Xa, Ba, Za = Xt, B, Z
        lam_a = lam_v
        Ya = Za.clone()
        Ta = torch.ones(n, 1, dtype=dt, device=Xt.device)
        history = History()
        n_polished = 0
        it = 0
        step = 1.0 / L
        for it in range(1, max_iter + 1):
            Zold = Za
            V = Ya - (Ya @ G - Ba) * step
            Za = prior._prox(V, lam_a * step)
            check = it % check_every == 0 or it == max_iter
            if check and not use_gap:
                diff = (Za - Ya).norm(dim=-1)
                crit = diff / Za.norm(dim=-1).clamp_min(torch.finfo(dt).tiny)
                crit = torch.where(diff == 0, torch.zeros_like(crit), crit)
            if accelerated:
                # gradient restart (O'Donoghue & Candès 2015): (y_k − z_{k+1})·(z_{k+1} − z_k) > 0
                bad = ((Ya - Za) * (Za - Zold)).sum(-1, keepdim=True) > 0 if restart else None
                Ta, beta = nesterov_momentum(Ta)  # per-sample t_{k+1} = (1 + √(1 + 4t_k²))/2
                Ya = Za + beta * (Za - Zold)
                if restart:
                    Ta = torch.where(bad, torch.ones_like(Ta), Ta)
                    Ya = torch.where(bad, Za, Ya)
            else:
                Ya = Za
            if not check:
                continue
            if use_gap:
                P, gap = _gap_l1(Xa, Za, Dt, lam_a, nonneg)
                crit = gap / P.clamp_min(torch.finfo(dt).tiny)
                crit = torch.where(gap == 0, torch.zeros_like(crit), crit)
                conv = crit <= tol_eff
                if do_polish and not bool(conv.all()):
                    res = _polish(Ba, Za, G, lam_a, nonneg, max_support)
                    if res is not None:
                        Zp, ok = res
                        Pp, gp = _gap_l1(Xa, Zp, Dt, lam_a, nonneg)
                        cp_ = torch.where(gp == 0, torch.zeros_like(gp), gp / Pp.clamp_min(torch.finfo(dt).tiny))
                        take = ok & (cp_ <= tol_eff) & ~conv
                        if bool(take.any()):
                            n_polished += int(take.sum())
                            Za = torch.where(take[:, None], Zp, Za)
                            gap = torch.where(take, gp, gap)
                            crit = torch.where(take, cp_, crit)
                            conv = conv | take
                gaps[idx] = gap
            else:
                conv = crit <= tol_eff
            stop_val[idx] = crit
            history.append(stop_value=float(crit.max()))
            Z[idx] = Za
            if bool(conv.any()):
                done[idx[conv]] = True
                keep = ~conv
                idx = idx[keep]
                if idx.numel() == 0:
                    break
                Xa, Ba, Za, Ya, Ta = Xa[keep], Ba[keep], Za[keep], Ya[keep], Ta[keep]
                if per_sample_lam:
                    lam_a = lam_a[keep]
        if idx.numel():
            Z[idx] = Za
        n_conv = int(done.sum())
        # final objective for everyone
        R = Xt - Z @ Dt
        lam_c = lam_v[:, 0] if per_sample_lam else lam_v
        obj = 0.5 * (R * R).sum(-1) + lam_c * prior._value(Z)
        if use_gap and idx.numel():
            _, g_rest = _gap_l1(Xt[idx], Z[idx], Dt, lam_v[idx] if per_sample_lam else lam_v, nonneg)
            gaps[idx] = g_rest
    converged = n_conv == n
    if not converged:
        warn_not_converged("FISTA" if accelerated else "ISTA", it,
                           f"{n - n_conv} of {n} samples above tol={tol_eff:g}; largest "
                           f"{'relative gap' if use_gap else 'relative change'} {float(stop_val.max()):.3g}",
                           stacklevel=4)
    out = _wrap(kind, squeeze)
    return SparseCodingResult(codes=out(Z), status="converged" if converged else "max_iter", n_iter=it,
                              history=history.as_dict(), time_s=time.perf_counter() - t_start,
                              certificate=_certificate(obj, gaps, stop_val), objective=out(obj),
                              duality_gap=out(gaps), stop_value=out(stop_val),
                              criterion="duality_gap" if use_gap else "relative_change", n_converged=n_conv,
                              lipschitz=L, n_polished=n_polished, solver="fista" if accelerated else "ista")


_DOC_PARAMS = """
    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_samples, n_features) or (n_features,)
    D : array-like or torch.Tensor, shape (n_atoms, n_features)
        Dictionary, one atom per row (not necessarily unit norm).
    lam : float or array of shape (n_samples,)
        Penalty weight λ ≥ 0 (one per sample allowed).
    prior : str or Prior
        Any name accepted by :func:`simcode.sparse.priors.get_prior`, or an instance.
    init : array of shape (n_samples, n_atoms), optional
        Warm start.
    max_iter : int
    tol : float
        Relative duality gap (``l1``, ``l1_nonneg``) or relative step (other priors) at which a sample
        stops; floored at 20 machine epsilons of the working dtype.
    L : float, optional
        Lipschitz constant (default :func:`lipschitz_constant` of ``D``); pass it to skip the computation.
    restart : bool
        Adaptive (gradient) momentum restart, per sample (FISTA only).
    check_every : int
        Iterations between convergence checks (each costs about one iteration).
    device : "auto", "cpu" or "cuda[:i]"
        Where to compute. ``"auto"``: the device of a tensor ``X``; NumPy data is solved on the CPU (pass
        ``device="cuda"`` to solve it on the GPU). NumPy in → NumPy out; torch in → torch out on X's device.
    dtype : None, float32 or float64 (torch, NumPy or string spelling)
        Working precision (default: float32 input stays float32, everything else float64).
    polish : bool
        ``l1``/``l1_nonneg`` only: try the exact support solve at each check (accepted only where the
        duality gap certifies it).
    max_support : int
        Largest support size the polish step handles.

    Returns
    -------
    SparseCodingResult
    """


def fista(X, D, lam=1.0, prior="l1", *, init=None, max_iter: int = 1000, tol: float = 1e-6, L=None,
          restart: bool = True, check_every: int = 10, device="auto", dtype=None, polish: bool = True,
          max_support: int = 64) -> SparseCodingResult:
    return _solve(X, D, lam, prior, init=init, max_iter=max_iter, tol=tol, L=L, accelerated=True, restart=restart,
                  check_every=check_every, device=device, dtype=dtype, polish=polish, max_support=max_support)


def ista(X, D, lam=1.0, prior="l1", *, init=None, max_iter: int = 5000, tol: float = 1e-6, L=None,
         check_every: int = 10, device="auto", dtype=None, polish: bool = False,
         max_support: int = 64) -> SparseCodingResult:
    return _solve(X, D, lam, prior, init=init, max_iter=max_iter, tol=tol, L=L, accelerated=False, restart=False,
                  check_every=check_every, device=device, dtype=dtype, polish=polish, max_support=max_support)


fista.__doc__ = ("Batched FISTA for 0.5‖x − zD‖² + λ g(z), one problem per row of X (see module docstring)."
                 + _DOC_PARAMS)
ista.__doc__ = "Batched ISTA (proximal gradient, no momentum) for 0.5‖x − zD‖² + λ g(z)." + _DOC_PARAMS


def active_set(X, D, lam=1.0, prior="l1", *, init=None, max_iter=None, tol: float = 1e-6, max_support=None,
               device="auto", dtype=None, fallback_max_iter: int = 5000, n_add: int = 1,
               solver: str = "auto") -> SparseCodingResult:
    """Exact lasso codes (``l1`` or ``l1_nonneg``), certified per sample by the duality gap.

    Three certified solvers, picked by ``solver``:

    * ``"cd"`` and ``"lars"`` (compiled with numba, parallel over samples, in float64 whatever the input dtype,
      from ``G = D Dᵀ`` and ``B = X Dᵀ`` computed once by BLAS; neither uses ``init``): working-set coordinate
      descent in Gram form with Newton polishing, stopped on the duality gap
      (:mod:`simcode.sparse._coordinate_descent`),
      or the LARS–homotopy per sample with incremental Cholesky updates (:mod:`simcode.sparse._lars`;
      Efron et al. 2004 §3.1), exact to rounding. ``"auto"`` on CPU data solves the first 64 samples by
      coordinate descent and continues with whichever of the two its operation counts predict to be cheaper
      (coordinate descent for large supports, LARS for small supports and coherent dictionaries); see
      :func:`simcode.sparse._coordinate_descent.lasso_gram`.
    * ``"torch"`` (the ``"auto"`` choice for CUDA tensors): feature-sign search (Lee et al. 2007) /
      Lawson–Hanson run for all samples at once with padded batched Cholesky solves (see
      :mod:`simcode.sparse._feature_sign`), warm-started from ``init``; ``n_add`` violating atoms are added
      per iteration until that first fails for a sample.

    Each sample's result is checked with the duality gap; samples that fail (support larger than
    ``max_support``, singular support Gram matrix, too many iterations) go to the next method — coordinate
    descent → LARS → torch active set → :func:`fista` warm-started from the active-set point — so the returned
    certificate holds for every converged sample. Same inputs and result as :func:`fista`; ``max_iter`` bounds
    the path steps (LARS, default 8 × n_atoms + 100; coordinate descent has its own budget of 1000 sweeps) or
    active-set iterations (torch, default 4 × n_atoms + 10); ``max_support``
    defaults to n_atoms (LARS) or 64 (torch). ``n_polished`` of the result counts the samples finished by
    the first method, the rest by the fallbacks. For float32 on the CPU path the float64 solution's certificate
    decides convergence and fallbacks (coordinate descent stops at ``max(tol, 20 eps)`` of the input dtype);
    ``objective``, ``duality_gap`` and ``stop_value`` are those of the
    returned (float32-rounded) codes. ``device="auto"`` solves NumPy data and CPU tensors on the CPU (the
    compiled solvers) and CUDA tensors on their device; ``history`` is empty; ``certificate`` as in
    :class:`SparseCodingResult`.
    """
    from ._feature_sign import active_set_lasso

    t_start = time.perf_counter()
    prior = get_prior(prior)
    if not isinstance(prior, (L1, L1NonNeg)):
        raise ValueError(f"active_set solves the lasso only: prior must be 'l1' or 'l1_nonneg', got {prior!r}")
    check_option(solver, "solver", ("auto", "cd", "lars", "torch"))
    tol = check_number(tol, "tol", low=0)
    max_support = check_int(max_support, "max_support", low=1, allow_none=True)
    max_iter = check_int(max_iter, "max_iter", low=1, allow_none=True)
    Xt, Dt, lam_v, kind, squeeze = _resolve(X, D, lam, device, dtype)
    if bool((lam_v == 0).any()) if isinstance(lam_v, torch.Tensor) else lam_v == 0.0:
        raise ValueError("lam must be > 0 for active_set (its certificate is the lasso's duality gap); lam = 0 is "
                         "least squares: use fista or sparse_encode")
    n, K = Xt.shape[0], Dt.shape[0]
    nonneg = isinstance(prior, L1NonNeg)
    dt = Xt.dtype
    tol_eff = max(tol, 20 * torch.finfo(dt).eps)
    if solver == "auto" and Xt.device.type != "cpu":
        solver = "torch"
    if solver in ("auto", "cd", "lars"):
        if Xt.device.type != "cpu":
            raise ValueError(f"solver={solver!r} runs on the CPU only; use solver='torch' for CUDA tensors")
        _check_init(init, n, K, Xt, squeeze)  # validated, not used: both compiled solvers start from z = 0
        return _active_set_cpu(Xt, Dt, lam_v, prior, nonneg, kind, squeeze, solver=solver, tol=tol,
                               tol_eff=tol_eff, max_iter=max_iter, max_support=max_support,
                               fallback_max_iter=fallback_max_iter, n_add=n_add, t_start=t_start)
    max_support = 64 if max_support is None else int(max_support)
    if max_iter is None:
        max_iter = 4 * K + 10
    with torch.no_grad():
        Z0 = _check_init(init, n, K, Xt, squeeze)
        if nonneg:
            Z0 = Z0.clamp_min(0)
        G = Dt @ Dt.T
        B = Xt @ Dt.T
        Z, _, n_iter_as = active_set_lasso(B, G, lam_v, nonneg, Z0, int(max_iter), int(max_support),
                                           kkt_tol=1e3 * torch.finfo(dt).eps, n_add=n_add)
        P, gap = _gap_l1(Xt, Z, Dt, lam_v, nonneg)
        crit = torch.where(gap == 0, torch.zeros_like(gap), gap / P.clamp_min(torch.finfo(dt).tiny))
        bad = torch.nonzero(crit > tol_eff).flatten()
    n_fallback = int(bad.numel())
    n_iter = n_iter_as
    converged = True
    if n_fallback:
        lam_b = lam_v[bad] if isinstance(lam_v, torch.Tensor) else lam_v
        sub = _solve(Xt[bad], Dt, lam_b[:, 0] if isinstance(lam_b, torch.Tensor) else lam_b, prior, init=Z[bad],
                     max_iter=fallback_max_iter, tol=tol, L=None, accelerated=True, restart=True, check_every=10,
                     device="auto", dtype=None, polish=True, max_support=max_support)
        Z[bad] = sub.codes
        gap[bad] = sub.duality_gap
        crit[bad] = sub.stop_value
        n_iter = n_iter_as + sub.n_iter
        converged = sub.converged
    with torch.no_grad():
        R = Xt - Z @ Dt
        lam_c = lam_v[:, 0] if isinstance(lam_v, torch.Tensor) else lam_v
        obj = 0.5 * (R * R).sum(-1) + lam_c * prior._value(Z)
    n_conv = int((crit <= tol_eff).sum())
    out = _wrap(kind, squeeze)
    return SparseCodingResult(codes=out(Z), status="converged" if converged else "max_iter", n_iter=n_iter,
                              time_s=time.perf_counter() - t_start, certificate=_certificate(obj, gap, crit),
                              objective=out(obj), duality_gap=out(gap), stop_value=out(crit),
                              criterion="duality_gap", n_converged=n_conv, n_polished=n - n_fallback,
                              solver="torch")


def _gap_l1_np(X, Z, D, lam, nonneg: bool):
    """NumPy float64 twin of :func:`_gap_l1` (lam a float or an (n,) array): ``(P, gap)``."""
    R = X - Z @ D
    C = R @ D.T
    rr = np.einsum("ij,ij->i", R, R)
    rx = np.einsum("ij,ij->i", R, X)
    P = 0.5 * rr + lam * (Z.sum(1) if nonneg else np.abs(Z).sum(1))
    cmax = np.maximum(C.max(1), 0.0) if nonneg else np.abs(C).max(1)
    s = np.where(cmax <= lam, 1.0, lam / np.where(cmax <= lam, 1.0, cmax))
    gap = np.maximum(P - (s * rx - 0.5 * s * s * rr), 0.0)
    return P, gap


def _active_set_cpu(Xt, Dt, lam_v, prior, nonneg, kind, squeeze, *, solver, tol, tol_eff, max_iter, max_support,
                    fallback_max_iter, n_add, t_start):
    """CPU path of :func:`active_set`: compiled coordinate descent or LARS per sample (float64 certificate),
    torch active set → FISTA for any sample neither certifies."""
    from ._coordinate_descent import lasso_gram
    from ._lars import gap_from_stats

    dt = Xt.dtype
    X64 = Xt.detach().to(torch.float64).numpy()
    D64 = Dt.detach().to(torch.float64).numpy()
    lam_np = lam_v[:, 0].to(torch.float64).numpy() if isinstance(lam_v, torch.Tensor) else float(lam_v)
    xx = np.einsum("ij,ij->i", X64, X64)
    Z, _, steps, stats, used = lasso_gram(X64 @ D64.T, D64 @ D64.T, lam_np, nonneg, xx, tol=tol_eff, solver=solver,
                                          max_support=max_support, max_steps=max_iter, n_features=X64.shape[1])
    tiny = np.finfo(np.float64).tiny
    P, gap = gap_from_stats(xx, stats, lam_np)
    crit = np.where(gap == 0, 0.0, gap / np.maximum(P, tiny))
    # the float64 certificate decides which samples need the fallback (rounding to float32 cannot be fixed by it)
    bad = np.flatnonzero(crit > tol_eff)
    converged = True
    n_iter = int(steps.max()) if steps.size else 0
    if bad.size:
        sub = active_set(X64[bad], D64, lam_np[bad] if isinstance(lam_np, np.ndarray) else lam_np, prior, tol=tol,
                         fallback_max_iter=fallback_max_iter, n_add=n_add, solver="torch")
        Z[bad] = sub.codes
        P[bad] = sub.objective
        gap[bad] = sub.duality_gap
        crit[bad] = sub.stop_value
        converged = sub.converged
        n_iter += sub.n_iter
    n_conv = int(np.sum(crit <= tol_eff))
    if dt != torch.float64:
        # report objective and gap of the codes actually returned (rounded to float32)
        Z = Z.astype(np.float32).astype(np.float64)
        P, gap = _gap_l1_np(X64, Z, D64, lam_np, nonneg)
        crit = np.where(gap == 0, 0.0, gap / np.maximum(P, tiny))

    np_dt = np.float32 if dt == torch.float32 else np.float64
    wrap = _wrap(kind, squeeze)

    def out(a):
        return wrap(np.asarray(a, dtype=np_dt))

    return SparseCodingResult(codes=out(Z), status="converged" if converged else "max_iter", n_iter=n_iter,
                              time_s=time.perf_counter() - t_start, certificate=_certificate(P, gap, crit),
                              objective=out(P), duality_gap=out(gap), stop_value=out(crit),
                              criterion="duality_gap", n_converged=n_conv, n_polished=int(Z.shape[0] - bad.size),
                              solver=used)


def sparse_encode(X, D, lam=1.0, prior="l1", *, solver: str = "auto", **kwargs):
    """Codes (n_samples × n_atoms) minimising ½‖x − zD‖² + λ g(z) row by row; NumPy in → NumPy out.

    ``lam`` is on the scale of this objective, which equals scikit-learn's ``sparse_encode(..., alpha=lam,
    algorithm="lasso_cd")`` and SPAMS' ``lasso(lambda1=lam, mode=2)``.

    Parameters
    ----------
    X, D, lam, prior
        As for :func:`fista`.
    solver : {"auto", "active_set", "cd", "lars", "torch", "fista", "ista"}
        ``"auto"``: the exact :func:`active_set` for ``l1``/``l1_nonneg`` (compiled coordinate descent or LARS
        for CPU data, the batched torch active set for CUDA tensors) and :func:`fista` otherwise;
        ``"active_set"`` is :func:`active_set` with its own ``"auto"`` choice, ``"cd"``, ``"lars"`` and
        ``"torch"`` pick one of its solvers; ``"fista"`` / ``"ista"`` the proximal-gradient solvers.
    **kwargs
        Passed to the solver (see :func:`fista`, :func:`active_set`).

    Returns
    -------
    codes : array or tensor, (n_samples, n_atoms)
    """
    check_option(solver, "solver", ("auto", "active_set", "cd", "lars", "torch", "fista", "ista"))
    if solver == "auto":  # λ = 0 (least squares) has no lasso certificate: FISTA
        zero = isinstance(lam, numbers.Real) and not isinstance(lam, bool) and lam == 0
        solver = "active_set" if isinstance(get_prior(prior), (L1, L1NonNeg)) and not zero else "fista"
    if solver == "fista":
        return fista(X, D, lam, prior, **kwargs).codes
    if solver == "ista":
        return ista(X, D, lam, prior, **kwargs).codes
    return active_set(X, D, lam, prior, solver="auto" if solver == "active_set" else solver, **kwargs).codes
