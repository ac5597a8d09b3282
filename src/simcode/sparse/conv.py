r"""Convolutional sparse coding (CSC) and convolutional dictionary learning (CDL).

Model (paper 004, "Convolutional generative model" and "Optimization perspective"): a signal is a sum of
shifted, scaled copies of a few filters,

.. math::  y = \sum_{k=1}^{K} h_k * x_k + v = Hx + v,

and CDL solves :math:`\min_{x_j, h_k} \sum_j \tfrac12\|y_j - Hx_j\|_2^2 + \lambda\, g(x_j)` s.t.
:math:`\|h_k\|_2 \le 1`. The lecture's filter index ``c = 1..C`` is our atom index ``k``; our
``n_channels`` ``C`` is the number of recorded channels (electrodes / colour planes) per filter. Rows are
signals: ``signals`` is ``(n_signals, n_channels, length)`` (1-D) or ``(n_signals, n_channels, H, W)``
(2-D); atoms are ``(n_components, n_channels, atom_length)``; codes ``(n_signals, n_components, length -
atom_length + 1)``. The functions accept single-channel inputs without the channel axis and a single signal
without the batch axis; the estimator takes ``X`` of shape ``(n_signals, length)`` (each row one single-channel
signal, as scikit-learn's ``(n_samples, n_features)``) or ``(n_signals, n_channels, length)``.

The CSC step is FISTA (Beck & Teboulle 2009) with step ``1/L``, ``L`` a guaranteed bound on
:math:`\|H\|^2` from the filter spectra; the prox is any prior of :mod:`simcode.sparse.priors`. For ℓ1
priors it stops on the relative duality gap. The filter step is projected FISTA on the unit ball with the
code Gram matrix precomputed in the Fourier domain, so its cost does not grow with the number of signals.

Two implementation switches (same mathematics, different machinery): ``solver`` — ``"numba"``, the compiled
per-signal FISTA of :mod:`simcode.sparse._conv_fista_kernel` (1-D signals on CPU, ℓ1 or non-negative ℓ1
priors), ``"torch"``, the batched torch FISTA, ``"auto"`` the first where it applies; ``convolution`` — how the
torch operators convolve (``"direct"``, ``"fft"`` or ``"auto"``).
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
from sklearn.utils.validation import check_array as sk_check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core import (ArrayKind, Certificate, History, Representation, RepresentationMixin, SolverMixin, SolverResult,
                    check_array, check_int, check_number, check_option, check_random_state, check_tensor, is_tensor,
                    nesterov_momentum, resolve_device, warn_not_converged)
from ._convolution import CONVOLUTIONS, ConvOperator, check_lengths, fast_len, lipschitz, to_batched
from ..core.estimator import named_call
from .priors import Prior, get_prior

__all__ = ["CSCResult", "CDLResult", "conv_sparse_code", "conv_synthesis", "conv_lipschitz",
           "conv_dictionary_learning", "ConvDictionaryLearning"]

SOLVERS = ("auto", "numba", "torch")
INITS = ("data", "random", "spikes")


@dataclass(kw_only=True)
class CSCResult(SolverResult):
    r"""Outcome of :func:`conv_sparse_code` (the :class:`simcode.core.SolverResult` protocol).

    Attributes
    ----------
    codes : array or tensor
        The layout of the input (NumPy in → NumPy out; tensor in → tensor on its device).
    objective : float
        :math:`\sum_j \tfrac12\|y_j - Hx_j\|^2 + \lambda g(x_j)`.
    solver : str
        ``"numba"`` or ``"torch"``: which implementation ran.
    certificate : Certificate or None
        ℓ1 priors: ``lower_bound`` = the summed dual value :math:`\sum_j D(\theta_j)` (weak duality), ``gap`` =
        the largest relative duality gap over signals (``gap_kind="relative_per_signal_max"``; chunked coding:
        over chunks, and no lower bound for the stitched signal). Other priors: ``None``.
    history : dict
        ``objective``, ``gap`` (ℓ1 priors) and ``n_active`` (signals still iterating) at every check.
    """

    codes: object = None
    objective: float = float("nan")
    solver: str = "torch"

    @property
    def gap(self) -> float | None:
        """The certificate's largest relative duality gap (``None`` without a certificate)."""
        return None if self.certificate is None else self.certificate.gap


@dataclass(kw_only=True)
class CDLResult(SolverResult):
    """Outcome of :func:`conv_dictionary_learning`.

    ``atoms`` (K, C, *atom_size) unit-norm filters and ``codes`` (N, K, *code) of the training signals, torch
    tensors in the computation's dtype and device; ``history`` holds ``objective`` and cumulative ``time_s`` per
    round; ``solver`` the CSC implementation used.
    """

    atoms: object = None
    codes: object = None
    solver: str = "torch"


# ----------------------------------------------------------------------------------------------------------
# input handling


def _prep_atoms(atoms, spatial_dims):
    """Atoms as a (K, C, *atom_size) tensor (its own float dtype), and the number of spatial dimensions."""
    if spatial_dims is not None:
        spatial_dims = check_int(spatial_dims, "spatial_dims", low=1, high=2)
    a = check_tensor(atoms, "atoms", ndim=(2, 3, 4), what="(K, L), (K, C, L) or (K, C, h, w) filters")
    if spatial_dims is None:
        spatial_dims = 2 if a.ndim == 4 else 1
    if a.ndim == spatial_dims + 1:
        a = a.unsqueeze(1)
    if a.ndim != spatial_dims + 2:
        raise ValueError(f"atoms of shape {tuple(a.shape)} do not match spatial_dims={spatial_dims}")
    if float(a.abs().max()) == 0.0:
        raise ValueError("atoms are all zero: the convolutional sparse-coding problem is degenerate")
    return a, spatial_dims


def _prep_signals(signals, sdim, n_channels, device, name="signals", dtype=None):
    """Signals as a batched (N, C, *spatial) tensor on the resolved device.

    ``dtype=None``: float32 stays float32, everything else becomes float64. Returns ``(y, batched, kind)``.
    """
    kind = ArrayKind.of(signals)
    dev = torch.device(resolve_device(device, signals))
    y = check_tensor(signals, name, ndim=(sdim, sdim + 1, sdim + 2))
    y = y.to(device=dev, dtype=dtype if dtype is not None else y.dtype)
    yb, batched = to_batched(y, sdim, n_channels, name)
    return yb, batched, kind


def _out(t: torch.Tensor, batched: bool, kind: ArrayKind):
    return kind.wrap(t if batched else t[0])


def _prior_and_gap(prior):
    p = get_prior(prior)
    gap = p.name if (type(p).__name__ in ("L1", "L1NonNeg") and p.name in ("l1", "l1_nonneg")) else None
    return p, gap


def _g(prior: Prior, x: torch.Tensor) -> torch.Tensor:
    """Per-signal penalty sum g(x_j): (N, K, *s) -> (N,)."""
    return prior._value(x).reshape(x.shape[0], -1).sum(1)


def _use_compiled(solver, y, gap_kind) -> bool:
    """Whether the compiled kernel runs: ``"auto"`` where it applies, ``"numba"`` insists (clear error)."""
    solver = check_option(solver, "solver", SOLVERS)
    ok = (y.device.type == "cpu" and y.ndim == 3 and gap_kind is not None
          and y.dtype in (torch.float32, torch.float64))
    if solver == "numba" and not ok:
        raise ValueError("solver='numba' needs 1-D signals on the CPU and an 'l1' or 'l1_nonneg' prior; use "
                         "solver='auto' or 'torch'")
    return solver != "torch" and ok


# ----------------------------------------------------------------------------------------------------------
# FISTA (torch in, torch out)


def _objective_gap(y, op, x, lam, prior, gap_kind, ymask):
    """Per-signal primal values, relative duality gaps and dual values (ℓ1 priors; gaps/duals ``None`` else).

    Dual point: the scaled residual θ = r·min(1, λ/‖Hᵀr‖_∞) (ℓ1) or λ/max(Hᵀr)_+ (ℓ1 ≥ 0); dual value
    ⟨My, θ⟩ − ½‖θ‖² ≤ every primal value (weak duality)."""
    n = y.shape[0]
    r = y - op.synth(x)
    if ymask is not None:
        r = r * ymask
    fit = 0.5 * (r * r).reshape(n, -1).sum(1)
    primal = fit + lam * _g(prior, x)
    if gap_kind is None:
        return primal, None, None
    corr = op.adjoint(r).reshape(n, -1)
    s = corr.abs().amax(1) if gap_kind == "l1" else corr.amax(1).clamp_min(0)
    scale = torch.where(s > lam, lam / s.clamp_min(1e-300), torch.ones_like(s))
    theta = r * scale.reshape((n,) + (1,) * (r.ndim - 1))
    ym = y if ymask is None else y * ymask
    dual = (ym * theta).reshape(n, -1).sum(1) - 0.5 * (theta * theta).reshape(n, -1).sum(1)
    rel = (primal - dual).clamp_min(0) / primal.abs().clamp_min(1e-12)
    rel = torch.where(torch.isfinite(primal), rel, torch.full_like(rel, float("inf")))
    return primal, rel, dual


def _summary(primal, rel, dual):
    obj = float(primal.sum())
    if rel is None:
        return obj, None, None
    return obj, float(rel.max()), float(dual.sum())


def _rows(m, idx):
    """Rows ``idx`` of a per-signal mask (a shared (1, ·) mask or None as is)."""
    return None if m is None else (m if m.shape[0] == 1 else m[idx])


def _fista_numba(y, op, lam, prior, step, x0, *, max_iter, tol, check_every, gap_kind, ymask=None,
                 xmask=None):
    """:func:`_fista_torch` (ℓ1 priors, 1-D, CPU) with the iterations in the compiled kernel.

    Per-signal gradient restart and per-signal stopping: a signal whose relative duality gap is ≤ ``tol`` at
    a check is frozen, the others continue (their momentum state is kept between checks), so every signal's
    codes depend on that signal only."""
    from ._conv_fista_kernel import fista_1d

    yn, hn = y.numpy(), op.atoms.numpy()
    N, S = y.shape[0], y.shape[-1]
    wm = None if ymask is None else ymask.reshape(-1, S).numpy()
    xm = None if xmask is None else xmask.reshape(-1, x0.shape[-1]).numpy()
    xn = np.array(x0.numpy(), copy=True)
    Z, Tm = xn.copy(), np.ones(N)
    primal = np.full(N, np.inf)
    rel = np.full(N, np.inf)
    dual = np.full(N, -np.inf)
    active = np.arange(N)
    hist = History()
    status, it = "max_iter", 0
    nonneg = gap_kind == "l1_nonneg"
    while it < max_iter:
        n_it = min(check_every, max_iter - it)
        if active.size == N:
            st = {"z": Z, "t": Tm}
            xn = fista_1d(yn, hn, step, lam * step, n_it, nonneg=nonneg, x0=xn, mask=wm, code_mask=xm, state=st)
        else:
            st = {"z": Z[active], "t": Tm[active]}
            xn[active] = fista_1d(yn[active], hn, step, lam * step, n_it, nonneg=nonneg, x0=xn[active],
                                  mask=_rows(wm, active), code_mask=_rows(xm, active), state=st)
            Z[active], Tm[active] = st["z"], st["t"]
        it += n_it
        sel = torch.from_numpy(active)
        pa, ra, da = _objective_gap(y[sel] if active.size < N else y, op,
                                    torch.from_numpy(xn[active] if active.size < N else xn), lam, prior, gap_kind,
                                    None if ymask is None else (ymask if ymask.shape[0] == 1 else ymask[sel]))
        primal[active], rel[active], dual[active] = pa.numpy(), ra.numpy(), da.numpy()
        hist.append(objective=primal.sum(), gap=rel.max(), n_active=active.size)
        if not np.all(np.isfinite(pa.numpy())):
            status = "diverged"
            break
        active = active[ra.numpy() > tol]
        if active.size == 0:
            status = "converged"
            break
    cert = Certificate(lower_bound=float(dual.sum()), gap=float(rel.max()), gap_kind="relative_per_signal_max")
    return torch.from_numpy(xn), status, it, hist, cert


def _fista_torch(y, op, lam, prior, step, x0, *, max_iter, tol, check_every, gap_kind, ymask=None, xmask=None):
    """FISTA on ½‖M(y − Hx)‖² + λ g(x) for a batch of signals, each with its own momentum and restart.

    Per-signal gradient restart (O'Donoghue & Candès 2015) and per-signal stopping, as in the compiled kernel:
    at every ``check_every``-th iteration a signal whose relative duality gap (ℓ1 priors) or relative change of
    its codes (other priors) is ≤ ``tol`` is frozen, so a signal's codes do not depend on the rest of the batch.
    Momentum and restart are decided on the device (no host synchronisation between checks)."""
    n = y.shape[0]
    shp = (n,) + (1,) * (x0.ndim - 1)
    x = x0
    z = x
    t = torch.ones(shp, dtype=y.dtype, device=y.device)
    one = torch.ones((), dtype=y.dtype, device=y.device)
    zero = torch.zeros((), dtype=y.dtype, device=y.device)
    active = torch.ones(shp, dtype=torch.bool, device=y.device)
    frozen = False  # some signal frozen (known at the checks only: no host sync per iteration)
    tau = lam * step
    hist = History()
    status, it = "max_iter", 0
    rel = dual = None
    for it in range(1, max_iter + 1):
        r = y - op.synth(z)
        if ymask is not None:
            r = r * ymask
        x_new = prior._prox(z + step * op.adjoint(r), tau)
        if xmask is not None:
            x_new = x_new * xmask
        if frozen:
            x_new = torch.where(active, x_new, x)  # frozen signals keep their codes (and z = x below)
        d = x_new - x
        restart = (d * (z - x_new)).reshape(n, -1).sum(1).reshape(shp) > 0
        t_next, beta = nesterov_momentum(t)
        t = torch.where(restart, one, t_next)
        beta = torch.where(restart, zero, beta)
        z = x_new + beta * d
        x_prev, x = x, x_new
        if it % check_every == 0 or it == max_iter:
            primal, rel, dual = _objective_gap(y, op, x, lam, prior, gap_kind, ymask)
            obj, gap, _ = _summary(primal, rel, dual)
            n_active = int(active.sum())
            if not math.isfinite(obj):
                hist.append(objective=obj, n_active=n_active)
                status = "diverged"
                break
            if gap_kind is not None:
                hist.append(objective=obj, gap=gap, n_active=n_active)
                done = rel <= tol
            else:
                change = (x - x_prev).reshape(n, -1).norm(dim=1) / x.reshape(n, -1).norm(dim=1).clamp_min(1e-12)
                hist.append(objective=obj, change=float(change.max()), n_active=n_active)
                done = change <= tol
            active = active & ~done.reshape(shp)
            frozen = not bool(active.all())
            if not bool(active.any()):
                status = "converged"
                break
    cert = None
    if rel is not None:
        cert = Certificate(lower_bound=float(dual.sum()), gap=float(rel.max()), gap_kind="relative_per_signal_max")
    return x, status, it, hist, cert


# ----------------------------------------------------------------------------------------------------------
# public functions


def conv_lipschitz(atoms, spatial_dims: int | None = None) -> float:
    r"""A guaranteed upper bound on :math:`\|H\|_2^2` for the filter bank ``atoms`` (any signal length).

    ``sup_ω λ_max(Ĥ(ω)^* Ĥ(ω))`` sampled on a fine grid, corrected by Bernstein's inequality
    (:func:`simcode.sparse._convolution.lipschitz`).
    """
    a, _ = _prep_atoms(atoms, spatial_dims)
    return float(lipschitz(a.to(device="cpu", dtype=torch.float64)))


def conv_synthesis(codes, atoms, spatial_dims: int | None = None, convolution: str = "auto"):
    """``H x = sum_k h_k * x_k``: codes ``(N, K, *code)`` (or ``(K, *code)``) → signals ``(N, C, *signal)``.

    Single-channel outputs keep the channel axis only when the atoms had one. NumPy in → NumPy out.
    """
    check_option(convolution, "convolution", CONVOLUTIONS)
    kind = ArrayKind.of(codes)
    x = check_tensor(codes, "codes", ndim=(2, 3, 4, 5))
    a, sdim = _prep_atoms(atoms, spatial_dims)
    a = a.to(device=x.device, dtype=x.dtype)
    batched = x.ndim == sdim + 2
    if x.ndim == sdim + 1:
        x = x.unsqueeze(0)
    if x.ndim != sdim + 2 or x.shape[1] != a.shape[0]:
        raise ValueError(f"codes must have shape (N, {a.shape[0]}, ...) or ({a.shape[0]}, ...) for "
                         f"{a.shape[0]} atoms, got {tuple(x.shape) if batched else tuple(x.shape[1:])}")
    sig = tuple(s + f - 1 for s, f in zip(x.shape[2:], a.shape[2:]))
    with torch.no_grad():
        y = ConvOperator(a, sig, convolution).synth(x)
    if (atoms.ndim if is_tensor(atoms) else np.ndim(atoms)) == sdim + 1:
        y = y[:, 0]
    return _out(y, batched, kind)


def _check_csc_options(lam, max_iter, tol, check_every, boundary, solver, convolution):
    lam = check_number(lam, "lam", low=0.0)
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_number(tol, "tol", low=0.0)
    check_every = check_int(check_every, "check_every", low=1)
    check_option(boundary, "boundary", ("valid", "full"))
    check_option(solver, "solver", SOLVERS)
    check_option(convolution, "convolution", CONVOLUTIONS)
    return lam, max_iter, tol, check_every


def _step_size(a) -> float:
    L = float(lipschitz(a))
    if not (L > 0 and math.isfinite(L)):
        raise ValueError(f"the atoms' operator norm bound is {L}: atoms must be finite and not all zero")
    return 1.0 / L


def conv_sparse_code(signals, atoms, lam: float, prior="l1", *, max_iter: int = 500, tol: float = 1e-4,
                     solver: str = "auto", convolution: str = "auto", init=None, spatial_dims: int | None = None,
                     chunk_size: int | None = None, overlap: int | None = None, chunk_batch: int = 512,
                     check_every: int = 10, boundary: str = "valid", device="auto") -> CSCResult:
    r"""Convolutional sparse coding by FISTA: :math:`\min_x \tfrac12\|y - Hx\|_2^2 + \lambda g(x)` per signal.

    Implements the CSC step of paper 004 ("Convolutional sparse coding step", separable over signals)
    with any prior ``g`` from :mod:`simcode.sparse.priors` (``"l1_nonneg"`` for spike amplitudes). The
    step is ``1/L`` with ``L`` from :func:`conv_lipschitz`; FISTA (Beck & Teboulle 2009) uses gradient restart.

    Parameters
    ----------
    signals : array or torch tensor (see the module docstring for layouts).
    atoms : ``(K, L)``, ``(K, C, L)`` or ``(K, C, h, w)`` filters (3-D atoms are 1-D multichannel unless
        ``spatial_dims=2``); not all zero.
    lam : float
        λ ≥ 0, finite.
    prior : a prior name or :class:`~simcode.sparse.priors.Prior`.
    max_iter, tol : FISTA budget; stops when the relative duality gap ``(P − D)/P`` ≤ ``tol`` for every
        signal (ℓ1 and non-negative ℓ1) or the relative change of the codes ≤ ``tol`` (other priors).
    solver : ``"auto"``, ``"numba"`` or ``"torch"``
        ``"numba"``: the compiled kernel of :mod:`simcode.sparse._conv_fista_kernel` (1-D signals on CPU, ℓ1
        or non-negative ℓ1 priors; per-signal gradient restart and per-signal stopping, sparse-Gram
        iterations); ``"torch"``: the batched torch FISTA; ``"auto"``: ``"numba"`` where it applies.
        ``result.solver`` says which ran.
    convolution : ``"auto"``, ``"direct"`` or ``"fft"`` convolution in the torch operators.
    init : warm-start codes (same layout as the output).
    chunk_size, overlap : for long 1-D signals, code in chunks of ``chunk_size`` code samples solved as one
        batch, each padded with ``overlap`` samples (default ``4 * atom_length``) on both sides whose codes
        are discarded; the data term of the padding is masked so nothing outside the signal is invented.
    chunk_batch : how many chunks go into one batched FISTA run (bounds memory).
    check_every : iterations between two duality-gap checks.
    boundary : ``"valid"`` (every code places a whole filter inside the signal) or ``"full"`` (codes also
        for filters that stick out of the signal, e.g. spikes cut by a window edge: code length
        ``length + atom_length - 1``, the data term only counts observed samples).
    device : ``"auto"`` (a tensor's device, else CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:i]"``.

    Returns
    -------
    CSCResult
    """
    t0 = time.perf_counter()
    lam, max_iter, tol, check_every = _check_csc_options(lam, max_iter, tol, check_every, boundary, solver,
                                                         convolution)
    chunk_size = check_int(chunk_size, "chunk_size", low=1, allow_none=True)
    overlap = check_int(overlap, "overlap", low=0, allow_none=True)
    chunk_batch = check_int(chunk_batch, "chunk_batch", low=1)
    prior, gap_kind = _prior_and_gap(prior)
    a_raw, sdim = _prep_atoms(atoms, spatial_dims)
    y, batched, kind = _prep_signals(signals, sdim, a_raw.shape[1], device)
    a = a_raw.to(device=y.device, dtype=y.dtype)
    fsize = tuple(a.shape[2:])
    check_lengths(y.shape[2:], fsize, "signals")
    step = _step_size(a)
    if chunk_size is not None:
        if sdim != 1:
            raise ValueError("chunk_size is supported for 1-D signals only")
        if init is not None:
            raise ValueError("init (warm start) cannot be combined with chunk_size")
        if boundary != "valid":
            raise ValueError("chunk_size supports boundary='valid' only")
        return _chunked(y, a, lam, prior, step, batched, kind, gap_kind, chunk_size, overlap, chunk_batch,
                        max_iter=max_iter, tol=tol, convolution=convolution, check_every=check_every,
                        solver=solver, t0=t0)
    ymask = None
    if boundary == "full":
        y, ymask = _pad_full(y, fsize)
    op = ConvOperator(a, tuple(y.shape[2:]), convolution)
    code_shape = (y.shape[0], a.shape[0]) + op.code_shape
    if init is None:
        x0 = torch.zeros(code_shape, dtype=y.dtype, device=y.device)
    else:
        x0 = check_tensor(init, "init", ndim=(sdim + 1, sdim + 2)).to(device=y.device, dtype=y.dtype)
        if x0.ndim == sdim + 1:
            x0 = x0.unsqueeze(0)
        if tuple(x0.shape) != code_shape:
            raise ValueError(f"init must have shape {code_shape} (or without the batch axis), got {tuple(x0.shape)}")
    compiled = _use_compiled(solver, y, gap_kind)
    fista = _fista_numba if compiled else _fista_torch
    with torch.no_grad():
        x, status, n_iter, hist, cert = fista(y, op, lam, prior, step, x0, max_iter=max_iter, tol=tol,
                                              check_every=check_every, gap_kind=gap_kind, ymask=ymask)
    h = hist.as_dict()
    if status != "converged":
        detail = (f"status {status}, relative duality gap {cert.gap:.2e} > tol {tol:g}" if cert is not None
                  else f"status {status}, tol {tol:g}")
        warn_not_converged("conv_sparse_code", n_iter, detail)
    obj = float(h["objective"][-1]) if len(hist) else float("nan")
    return CSCResult(codes=_out(x, batched, kind), objective=obj, n_iter=n_iter, status=status, history=h,
                     certificate=cert, solver="numba" if compiled else "torch", time_s=time.perf_counter() - t0)


def _pad_full(y, fsize):
    """Pad every spatial axis by ``f - 1`` on both sides; return the padded signals and the observed mask."""
    pad = []
    for f in reversed(fsize):
        pad += [f - 1, f - 1]
    yp = torch.nn.functional.pad(y, pad)
    m = torch.nn.functional.pad(torch.ones((1, 1) + tuple(y.shape[2:]), dtype=y.dtype, device=y.device), pad)
    return yp, m


def _chunked(y, a, lam, prior, step, batched, kind, gap_kind, chunk, overlap, chunk_batch, *,
             max_iter, tol, convolution, check_every, solver, t0):
    """Code long 1-D signals as a batch of overlapping windows (see :func:`conv_sparse_code`)."""
    Lf = a.shape[-1]
    chunk = check_int(chunk, "chunk_size", low=1)
    ov = 4 * Lf if overlap is None else check_int(overlap, "overlap", low=0)
    chunk_batch = check_int(chunk_batch, "chunk_batch", low=1)
    N, C, T = y.shape
    Tc = T - Lf + 1
    # a chunk longer than the codes, or padding beyond the whole signal, changes nothing but the memory: clamp
    chunk, ov = min(chunk, Tc), min(ov, Tc)
    nch = -(-Tc // chunk)
    cseg = chunk + 2 * ov
    sseg = cseg + Lf - 1
    total = (nch - 1) * chunk + sseg
    pad_r = total - ov - T
    ypad = torch.nn.functional.pad(y, (ov, pad_r))
    ones = torch.ones(1, 1, T, dtype=y.dtype, device=y.device)
    mpad = torch.nn.functional.pad(ones, (ov, pad_r))
    xm = torch.nn.functional.pad(torch.ones(1, 1, Tc, dtype=y.dtype, device=y.device),
                                 (ov, total - ov - Tc))
    segs = ypad.unfold(-1, sseg, chunk)  # (N, C, nch, sseg)
    segs = segs.permute(0, 2, 1, 3).reshape(N * nch, C, sseg)
    ymask = mpad.unfold(-1, sseg, chunk).reshape(nch, 1, sseg).repeat(N, 1, 1)
    xmask = xm.unfold(-1, cseg, chunk)[:, :, :nch].reshape(nch, 1, cseg).repeat(N, 1, 1)  # chunk < Lf: extra windows
    op = ConvOperator(a, (sseg,), convolution)
    K = a.shape[0]
    cores = []
    n_iter, statuses, gaps = 0, set(), []
    compiled = _use_compiled(solver, y, gap_kind)
    fista = _fista_numba if compiled else _fista_torch
    with torch.no_grad():
        for s in range(0, N * nch, chunk_batch):
            sl = slice(s, s + chunk_batch)
            yb = segs[sl] * ymask[sl]
            x0 = torch.zeros(yb.shape[0], K, cseg, dtype=y.dtype, device=y.device)
            x, status, it, _, cert = fista(yb, op, lam, prior, step, x0, max_iter=max_iter, tol=tol,
                                           check_every=check_every, gap_kind=gap_kind, ymask=ymask[sl],
                                           xmask=xmask[sl])
            cores.append(x[:, :, ov: ov + chunk])
            n_iter = max(n_iter, it)
            statuses.add(status)
            if cert is not None:
                gaps.append(cert.gap)
        codes = torch.cat(cores).reshape(N, nch, K, chunk).permute(0, 2, 1, 3).reshape(N, K, nch * chunk)[..., :Tc]
        # objective of the stitched codes on the whole signal, by overlap-add of per-chunk syntheses
        r = y - _synth_chunked(codes, a, chunk, convolution)
        obj = float(0.5 * (r * r).sum() + lam * _g(prior, codes).sum())
    gap = max(gaps) if gaps else None
    status = "diverged" if "diverged" in statuses else ("converged" if statuses == {"converged"} else "max_iter")
    if status != "converged":
        warn_not_converged("conv_sparse_code (chunked)", n_iter,
                           f"status {status}, largest relative duality gap {gap:.2e}" if gap is not None
                           else f"status {status}, tol {tol:g}")
    cert = None if gap is None else Certificate(gap=gap, gap_kind="relative_per_chunk_max")
    hist = {"objective": np.array([obj])} if gap is None else {"objective": np.array([obj]), "gap": np.array([gap])}
    return CSCResult(codes=_out(codes, batched, kind), objective=obj, n_iter=n_iter, status=status, history=hist,
                     certificate=cert, solver="numba" if compiled else "torch", time_s=time.perf_counter() - t0)


def _synth_chunked(codes, a, chunk, convolution):
    """``H x`` for long 1-D codes by overlap-add of chunk syntheses (memory ~ one chunk per row)."""
    N, K, Tc = codes.shape
    Lf = a.shape[-1]
    nch = -(-Tc // chunk)
    xp = torch.nn.functional.pad(codes, (0, nch * chunk - Tc)).reshape(N, K, nch, chunk)
    xp = xp.permute(0, 2, 1, 3).reshape(N * nch, K, chunk)
    op = ConvOperator(a, (chunk + Lf - 1,), convolution)
    seg = op.synth(xp).reshape(N, nch, a.shape[1], chunk + Lf - 1)
    out = torch.zeros(N, a.shape[1], nch * chunk + Lf - 1, dtype=codes.dtype, device=codes.device)
    main = seg[..., :chunk].permute(0, 2, 1, 3).reshape(N, a.shape[1], nch * chunk)
    out[..., : nch * chunk] += main
    tail = seg[..., chunk:]  # (N, nch, C, Lf-1)
    for j in range(0, Lf - 1, chunk):  # tails longer than a chunk spill over several chunks
        w = min(chunk, Lf - 1 - j)
        idx = (torch.arange(nch, device=codes.device) + 1) * chunk + j
        for i in range(w):
            out[..., idx + i] += tail[..., j + i].permute(0, 2, 1)
    return out[..., : Tc + Lf - 1]


# ----------------------------------------------------------------------------------------------------------
# dictionary learning


def _filter_step(atoms, Gf, Bf, nfft, fsize, lip, n_iter):
    """Projected FISTA on ½ Σ_j ||y_j - H x_j||² over filters with ||h_k|| <= 1, in the Fourier domain.

    ``Gf`` (F, K, K) = Σ_j conj(X̂_j) X̂_jᵀ, ``Bf`` (F, K, C) = Σ_j conj(X̂_j) Ŷ_jᵀ; gradient
    = P_support IFFT(Gf Ĥ - Bf); ``lip`` = max_F λ_max(Gf), the Lipschitz constant of that gradient.
    """
    sdim = len(fsize)
    dims = tuple(range(-sdim, 0))
    K, C = atoms.shape[:2]
    spec_shape = tuple(nfft[:-1]) + (nfft[-1] // 2 + 1,)

    def grad(h):
        Hf = torch.fft.rfftn(h, s=nfft, dim=dims).reshape(K, C, -1).permute(2, 0, 1)  # (F, K, C)
        Rf = (Gf @ Hf - Bf).permute(1, 2, 0).reshape((K, C) + spec_shape)
        g = torch.fft.irfftn(Rf, s=nfft, dim=dims)
        return g[..., : fsize[0]] if sdim == 1 else g[..., : fsize[0], : fsize[1]]

    def proj(h):
        nrm = h.reshape(K, -1).norm(dim=1).clamp_min(1.0)
        return h / nrm.reshape((K,) + (1,) * (h.ndim - 1))

    x = atoms
    z = x
    t = 1.0
    for _ in range(n_iter):
        x_new = proj(z - grad(z) / lip)
        t, beta = nesterov_momentum(t)
        z = x_new + beta * (x_new - x)
        x = x_new
    return x


def atom_size(atom_length) -> tuple[int, ...]:
    """``atom_length`` as a tuple: an int (1-D filters) or a pair ``(h, w)`` (2-D filters)."""
    if isinstance(atom_length, Integral) and not isinstance(atom_length, (bool, np.bool_)):
        return (check_int(atom_length, "atom_length", low=1),)
    try:
        t = tuple(atom_length)
    except TypeError:
        raise ValueError(f"atom_length must be an int (1-D) or a pair (h, w) (2-D), got {atom_length!r}") from None
    if len(t) != 2:
        raise ValueError(f"atom_length must be an int (1-D) or a pair (h, w) of positive ints, got {atom_length!r}")
    return tuple(check_int(v, "atom_length", low=1) for v in t)


SPIKE_THRESHOLD = 4.0  # threshold crossings at 4 robust noise standard deviations (Quiroga et al. 2004)
SPIKE_MAX_EVENTS = 10_000  # events clustered at most (a random subset beyond): the init stays fast
SPIKE_DUPLICATE_SIMILARITY = 0.95  # two cluster means this similar after a shift are one waveform


def _spike_triggered(yn, shape, rng):
    """The ``"data"`` initialisation: windows centred on the largest deflection of random signals."""
    K, fsize = shape[0], shape[2:]
    h = np.empty(shape)
    for k in range(K):
        j = rng.integers(yn.shape[0])
        e = np.abs(yn[j]).sum(0)
        peak = np.unravel_index(int(np.argmax(e)), e.shape)
        st = [int(np.clip(p - f // 2, 0, s - f)) for p, s, f in zip(peak, yn.shape[2:], fsize)]
        sl = tuple(slice(s0, s0 + f) for s0, f in zip(st, fsize))
        h[k] = yn[(j, slice(None)) + sl]
    return h + 1e-3 * rng.standard_normal(shape)


def _shift_similarity(a, b):
    """max over shifts of |<a, S_s b>| / (‖a‖‖b‖) for (C, L) waveforms (channels summed at each shift)."""
    c = sum(np.correlate(a[i], b[i], mode="full") for i in range(a.shape[0]))
    return float(np.abs(c).max() / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300))


def _spike_clusters(yn, n_components, f, rng):
    r"""The ``"spikes"`` initialisation of :func:`init_atoms` (1-D signals ``yn`` of shape (N, C, T)).

    Returns an (n, C, f) array of unit-norm cluster means, ``n ≤ n_components`` (fewer when the signals hold
    fewer distinct events). The steps are documented in :func:`init_atoms`.
    """
    from scipy.signal import find_peaks
    from sklearn.cluster import KMeans

    N, C, T = yn.shape
    K = n_components
    # 1. robust noise scale per channel: sigma_c = median|y_c - median(y_c)| / 0.6745
    med = np.median(yn, axis=(0, 2), keepdims=True)
    dev = np.abs(yn - med)
    sigma = np.median(dev, axis=(0, 2), keepdims=True) / 0.6745
    sd = yn.std(axis=(0, 2), keepdims=True)
    sigma = np.where(sigma > 0, sigma, np.where(sd > 0, sd, np.inf))  # MAD = 0 (mostly-zero signals): std
    # 2. threshold crossings: local maxima of a[t] = max_c |y_c[t] - med_c| / sigma_c above the threshold, at
    #    least f // 2 samples apart; the signals are zero-padded by f on both sides (events at the edges keep a
    #    full window) and laid end to end, so that one peak search serves the whole batch
    a = np.pad((dev / sigma).max(1), ((0, 0), (f, f)))
    P = T + 2 * f
    peaks, _ = find_peaks(a.reshape(-1), height=SPIKE_THRESHOLD, distance=max(1, f // 2))
    if peaks.size > SPIKE_MAX_EVENTS:
        peaks = np.sort(rng.choice(peaks, SPIKE_MAX_EVENTS, replace=False))
    n = peaks.size
    if n < K:
        return np.empty((0, C, f))
    j, t = np.divmod(peaks, P)
    # 3. windows of 2f samples around each extremum; the central f samples (extremum at f // 2) are the
    #    waveform that is clustered, scaled to unit norm (amplitudes vary from spike to spike, shapes do not)
    yp = np.pad(yn - med, ((0, 0), (0, 0), (f, f)))
    idx = t[:, None] + np.arange(-f, f)[None]
    wide = yp[j[:, None], :, idx].transpose(0, 2, 1)  # (n, C, 2f)
    cen = wide[:, :, f - f // 2: 2 * f - f // 2].reshape(n, -1)
    nrm = np.linalg.norm(cen, axis=1).clip(1e-300)
    X = cen / nrm[:, None]
    wide = wide / nrm[:, None, None]
    # 4. k-means (k-means++ seeding, 4 restarts) with twice as many clusters as filters: overlapping spikes
    #    and misaligned events are scattered and take the extra clusters, each neuron keeps one tight cluster
    M = min(2 * K, n)
    km = KMeans(M, init="k-means++", n_init=4, random_state=int(rng.integers(2 ** 31 - 1))).fit(X)
    labels = km.labels_.copy()
    # 5. trim every cluster: members farther from the centre than median + 3 * 1.4826 * MAD of the distances
    d = np.linalg.norm(X - km.cluster_centers_[labels], axis=1)
    for k in range(M):
        m = labels == k
        md = np.median(d[m])
        labels[m & (d > md + 3 * 1.4826 * np.median(np.abs(d[m] - md)))] = -1
    # 6. the K most populous clusters whose centres are not a shifted copy of one already kept
    count = np.bincount(labels[labels >= 0], minlength=M)
    order = [int(k) for k in np.argsort(-count, kind="stable") if count[k] > 0]
    cents = km.cluster_centers_.reshape(M, C, f)
    kept: list[int] = []
    for k in order:
        if all(_shift_similarity(cents[k], cents[i]) <= SPIKE_DUPLICATE_SIMILARITY for i in kept):
            kept.append(k)
        if len(kept) == K:
            break
    kept += [k for k in order if k not in kept][: K - len(kept)]  # too few distinct clusters: the next largest
    # 7. each cluster's mean over its wide windows; the atom is its f-sample stretch of largest energy
    out = np.empty((len(kept), C, f))
    for i, k in enumerate(kept):
        mean = wide[labels == k].mean(0)
        energy = np.convolve((mean ** 2).sum(0), np.ones(f), mode="valid")
        s0 = int(np.argmax(energy))
        out[i] = mean[:, s0:s0 + f]
    return out


def init_atoms(y, n_components, n_channels, fsize, init, rng):
    r"""Unit-norm initial filters (K, C, *fsize) on ``y``'s device and dtype.

    ``"data"``: for each filter, the window centred on the largest deflection of a randomly chosen signal
    (spike-triggered); ``"random"``: Gaussian; an array: those atoms ((K, *fsize) or (K, C, *fsize)).

    ``"spikes"`` (1-D signals): threshold crossings clustered into waveforms, the classical spike-sorting
    pipeline (Quiroga, Nadasdy & Ben-Shaul 2004, *Neural Comput.* 16:1661, "Wave_clus"; Lewicki 1998). With
    ``f`` the filter length:

    1. noise scale per channel from the median absolute deviation, :math:`\hat\sigma_c =
       \mathrm{median}|y_c - \mathrm{median}(y_c)| / 0.6745` (unbiased for Gaussian noise and, unlike the
       standard deviation, hardly moved by the spikes);
    2. events: local maxima of :math:`a[t] = \max_c |y_c[t] - \mathrm{median}(y_c)| / \hat\sigma_c` above
       ``SPIKE_THRESHOLD`` = 4, at least ``f // 2`` samples apart (a random ``SPIKE_MAX_EVENTS`` = 10 000 at
       most);
    3. waveforms: the ``f`` samples around each event, aligned on the extremum (at index ``f // 2``), scaled to
       unit norm (spike amplitudes vary, shapes do not; the atoms are unit-norm anyway);
    4. k-means (k-means++ seeding, 4 restarts, seeded from ``rng``) into ``2K`` clusters: overlapping spikes
       and misaligned events are spread out and take the spare clusters;
    5. per cluster, members farther from the centre than median + 3·1.4826·MAD of the distances are dropped;
    6. the ``K`` most populous clusters are kept, skipping one whose centre matches an already kept centre to
       a normalised cross-correlation above ``SPIKE_DUPLICATE_SIMILARITY`` = 0.95 at some shift (one neuron
       split in two);
    7. each kept cluster's mean over ``2f``-sample windows around its events; the atom is the ``f``-sample
       stretch of that mean with the largest energy, scaled to unit norm.

    No ground truth is used. Filters left over (fewer than ``K`` events, or fewer non-empty clusters) are
    initialised as ``"data"``."""
    K, C = n_components, n_channels
    shape = (K, C) + tuple(fsize)
    if isinstance(init, str):
        init = check_option(init, "init", INITS)
        if init == "random":
            h = rng.standard_normal(shape)
        else:
            yn = y.detach().cpu().numpy().astype(np.float64)
            if init == "data":
                h = _spike_triggered(yn, shape, rng)
            else:
                if len(fsize) != 1:
                    raise ValueError("init='spikes' needs 1-D signals; use 'data' or 'random' for 2-D filters")
                found = _spike_clusters(yn, K, fsize[0], rng)
                h = np.concatenate([found, _spike_triggered(yn, (K - found.shape[0],) + shape[1:], rng)])
    else:
        h = check_array(init, "init", ndim=(len(fsize) + 1, len(fsize) + 2))
        if h.ndim == len(fsize) + 1:
            h = h[:, None]
        if h.shape != shape:
            raise ValueError(f"init atoms must have shape {shape}, got {h.shape}")
    nrm = np.linalg.norm(h.reshape(K, -1), axis=1)
    if np.any(nrm == 0):
        raise ValueError("init atoms must be non-zero")
    h = h / nrm.reshape((K,) + (1,) * (h.ndim - 1))
    return torch.as_tensor(h, dtype=y.dtype, device=y.device)


def conv_dictionary_learning(signals, n_components: int, atom_length, lam: float = 0.1, prior="l1", *,
                             n_channels: int = 1, max_iter: int = 20, csc_max_iter: int = 30,
                             filter_max_iter: int = 20, tol: float = 1e-5, init="data", boundary: str = "full",
                             solver: str = "auto", convolution: str = "auto", device="auto", random_state=None,
                             callback=None) -> CDLResult:
    r"""Convolutional dictionary learning by alternating CSC (FISTA) and filter (projected FISTA) steps.

    Solves paper 004's CDL problem :math:`\min \sum_j \tfrac12\|y_j - Hx_j\|^2 + \lambda g(x_j)` s.t.
    :math:`\|h_k\|_2 \le 1` ("Optimization perspective": alternate the CSC step over the codes and the
    dictionary update). Each round runs ``csc_max_iter`` warm-started FISTA iterations on the codes, then
    ``filter_max_iter`` projected-FISTA iterations on the filters; every filter is then rescaled to unit norm
    (its codes scaled the other way, so ``Hx`` is unchanged).

    Stopping: ``"converged"`` when the relative change of the objective between two rounds is ≤ ``tol``,
    else ``"max_iter"`` after ``max_iter`` rounds (the caller warns).

    Parameters
    ----------
    signals : array or tensor, layouts of :func:`conv_sparse_code`.
    n_components, atom_length, lam, prior, n_channels, max_iter, csc_max_iter, filter_max_iter, tol, init,
    boundary, solver, convolution, device, random_state : see :class:`ConvDictionaryLearning`.
    callback : callable ``(round, atoms)``, optional, after every round (``atoms`` the (K, C, ...) tensor).

    Returns
    -------
    CDLResult
    """
    t0 = time.perf_counter()
    fsize = atom_size(atom_length)
    K = check_int(n_components, "n_components", low=1)
    C = check_int(n_channels, "n_channels", low=1)
    max_iter = check_int(max_iter, "max_iter", low=1)
    csc_max_iter = check_int(csc_max_iter, "csc_max_iter", low=1)
    filter_max_iter = check_int(filter_max_iter, "filter_max_iter", low=1)
    lam = check_number(lam, "lam", low=0.0)
    tol = check_number(tol, "tol", low=0.0)
    check_option(boundary, "boundary", ("valid", "full"))
    check_option(convolution, "convolution", CONVOLUTIONS)
    prior, gap_kind = _prior_and_gap(prior)
    sdim = len(fsize)
    yb, _, _ = _prep_signals(signals, sdim, C, device)
    check_lengths(yb.shape[2:], fsize, "signals")
    dtype = yb.dtype
    rng = check_random_state(random_state)
    h = init_atoms(yb, K, C, fsize, init, rng)
    mask = None
    if boundary == "full":
        yb, mask = _pad_full(yb, fsize)
    N = yb.shape[0]
    sig = tuple(yb.shape[2:])
    nfft = tuple(fast_len(s) for s in sig)
    dims = tuple(range(-sdim, 0))
    Yf = torch.fft.rfftn(yb, s=nfft, dim=dims).reshape(N, C, -1)
    op = ConvOperator(h, sig, convolution)
    x = torch.zeros((N, K) + op.code_shape, dtype=dtype, device=yb.device)
    compiled = _use_compiled(solver, yb, gap_kind)
    if compiled:
        from ._conv_fista_kernel import fista_1d

        wmask = None if mask is None else mask.reshape(-1).numpy()
    hist = History()
    status, epoch = "max_iter", 0
    prev = None
    with torch.no_grad():
        for epoch in range(1, max_iter + 1):
            op = ConvOperator(h, sig, convolution)
            step = _step_size(h)
            if compiled:
                x = torch.from_numpy(fista_1d(yb.numpy(), h.numpy(), step, lam * step, csc_max_iter,
                                              nonneg=gap_kind == "l1_nonneg", x0=x.numpy(), mask=wmask))
            else:
                x = _fista_torch(yb, op, lam, prior, step, x, max_iter=csc_max_iter, tol=0.0,
                                 check_every=csc_max_iter, gap_kind=None, ymask=mask)[0]
            if mask is not None:  # MM step: fill the unobserved padding with the current reconstruction
                Yf = torch.fft.rfftn(yb + (1 - mask) * op.synth(x), s=nfft, dim=dims).reshape(N, C, -1)
            Xf = torch.fft.rfftn(x, s=nfft, dim=dims).reshape(N, K, -1)
            Gf = torch.einsum("nkf,nlf->fkl", Xf.conj(), Xf)
            lip = float(torch.linalg.eigvalsh(Gf).amax()) if K > 1 else float(Gf.real.amax())
            if lip > 0:  # lip == 0: all codes zero (lam too large for these filters), the filters stay
                Bf = torch.einsum("nkf,ncf->fkc", Xf.conj(), Yf)
                h = _filter_step(h, Gf, Bf, nfft, fsize, lip, filter_max_iter)
                nrm = h.reshape(K, -1).norm(dim=1).clamp_min(1e-12)
                h = h / nrm.reshape((K,) + (1,) * (h.ndim - 1))
                x = x * nrm.reshape((1, K) + (1,) * sdim)
            r = yb - ConvOperator(h, sig, convolution).synth(x)
            if mask is not None:
                r = r * mask
            obj = float(0.5 * (r * r).sum() + lam * _g(prior, x).sum())
            hist.append(objective=obj, time_s=time.perf_counter() - t0)
            if not math.isfinite(obj):
                raise RuntimeError("convolutional dictionary learning diverged (objective is NaN/inf); check the "
                                   "signal scale and lam")
            if callback is not None:
                callback(epoch - 1, h)
            if prev is not None and abs(prev - obj) <= tol * max(abs(obj), 1e-12):
                status = "converged"
                break
            prev = obj
    return CDLResult(atoms=h, codes=x, status=status, n_iter=epoch, history=hist.as_dict(),
                     time_s=time.perf_counter() - t0, solver="numba" if compiled else "torch")


RANDOM_STATE_CONSTRAINT = [None, Interval(Integral, 0, None, closed="left"), np.random.RandomState, np.random.Generator]


def check_signals(est, X, fsize, n_channels, *, reset: bool, return_layout: bool = False):
    """Estimator input: (n_signals, *signal) single-channel or (n_signals, C, *signal); sets n_features_in_.

    NumPy (and lists) go through :func:`sklearn.utils.validation.validate_data`; a torch tensor keeps its
    device and float dtype. scikit-learn's layout (n_signals, length) must keep the training length at
    ``transform`` (the ``n_features_in_`` contract); with a channel axis, or for 2-D images, signals of any size
    that holds the filters are accepted (a convolutional model codes signals of any length). Returns a batched
    (N, C, *signal) array or tensor."""
    sdim = len(fsize)
    shape = tuple(X.shape) if (is_tensor(X) or isinstance(X, np.ndarray)) else ()
    if len(shape) == sdim + 2 and shape[1] != n_channels:
        raise ValueError(f"X has {shape[1]} channels (axis 1 of shape {shape}) but n_channels={n_channels}; "
                         "mismatched channels")
    fit_2d = getattr(est, "_fit_on_2d", False)
    if is_tensor(X):
        Xv = check_tensor(X, "X", ndim=(sdim + 1, sdim + 2), what="n_signals × signal or n_signals × C × signal")
        if not reset and fit_2d and Xv.ndim == 2 and int(Xv.shape[1]) != est.n_features_in_:
            raise ValueError(f"X has {Xv.shape[1]} features, but {type(est).__name__} is expecting "
                             f"{est.n_features_in_} features as input")
    else:
        ndim = getattr(X, "ndim", None)
        if ndim is None:
            ndim = np.asarray(X).ndim
        if reset or (fit_2d and ndim == 2):  # scikit-learn's (n_samples, n_features) contract
            Xv = named_call(validate_data, est, X, name="X", reset=reset, allow_nd=True, dtype=[np.float64, np.float32])
        else:
            Xv = named_call(sk_check_array, X, name="X", allow_nd=True, dtype=[np.float64, np.float32], input_name="X")
    if Xv.ndim not in (sdim + 1, sdim + 2):
        raise ValueError(f"X must have {sdim + 1} or {sdim + 2} dimensions (n_signals × [channels ×] signal) for "
                         f"{sdim}-D atoms, got shape {tuple(Xv.shape)}")
    if reset:
        est.n_features_in_ = int(Xv.shape[1])
        est._fit_on_2d = Xv.ndim == 2
    no_channel_axis = Xv.ndim == sdim + 1
    if no_channel_axis:
        if n_channels != 1:
            raise ValueError(f"X of shape {tuple(Xv.shape)} has no channel axis but n_channels={n_channels}: "
                             "pass (n_signals, n_channels, ...) signals")
        Xv = Xv[:, None]
    elif Xv.shape[1] != n_channels:
        raise ValueError(f"X has {Xv.shape[1]} channels (axis 1 of shape {tuple(Xv.shape)}) but n_channels="
                         f"{n_channels}; mismatched channels")
    check_lengths(tuple(Xv.shape[2:]), fsize, "X")
    return (Xv, no_channel_axis) if return_layout else Xv


class ConvDictionaryLearning(TransformerMixin, SolverMixin, RepresentationMixin, BaseEstimator):
    r"""Convolutional dictionary learning (paper 004): alternating CSC and filter steps.

    A thin shell over :func:`conv_dictionary_learning` (the equations are there) and, for ``transform``,
    :func:`conv_sparse_code`.

    Parameters
    ----------
    n_components : int
        K, the number of filters.
    atom_length : int or (h, w)
        Filter length (1-D signals) or size (2-D images); must fit inside the signals.
    lam : float
        λ ≥ 0.
    prior : str or Prior
        Prior on codes (:mod:`simcode.sparse.priors`), e.g. ``"l1_nonneg"`` for spikes.
    n_channels : int
        Channels per filter (electrodes, colour planes).
    max_iter : int
        Alternating rounds at most.
    csc_max_iter, filter_max_iter : int
        FISTA iterations per round for the codes (warm-started) and the filters.
    tol : float
        Converged when the objective's relative change between two rounds is ≤ ``tol``.
    init : ``"data"``, ``"random"``, ``"spikes"`` or array
        ``"data"`` (for each filter, the window centred on the largest deflection of a randomly chosen
        signal; far from the truth but rarely stuck in the shifted-filter local minima that Gaussian filters
        fall into), ``"random"`` (Gaussian filters), ``"spikes"`` (1-D signals made of isolated events such as
        spikes: threshold crossings at 4 robust noise deviations, aligned on their extremum and clustered by
        k-means; the atoms are the cluster means, usually close to the true waveforms before any learning;
        procedure in :func:`init_atoms`) or an array of atoms.
    boundary : ``"full"`` or ``"valid"``
        ``"full"`` (codes also for filters cut by the signal's edges, as when windows are cut from a long
        recording; the data term counts only observed samples, and the filter step fills the unobserved padding
        with the current reconstruction, a majorise-minimise step) or ``"valid"``.
    solver : ``"auto"``, ``"numba"`` or ``"torch"``
        The CSC implementation (see :func:`conv_sparse_code`): ``"numba"`` is the compiled per-signal FISTA
        (1-D signals on CPU, ℓ1 / non-negative ℓ1 priors), ``"torch"`` the batched torch FISTA.
    convolution : ``"auto"``, ``"fft"`` or ``"direct"``
        How the torch operators convolve (a second, independent switch: it also serves the filter step).
    transform_max_iter, transform_tol : int, float
        FISTA budget of :meth:`transform` (stopping on the relative duality gap for ℓ1 priors).
    device : ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``
    random_state : None, int or Generator
    callback : callable ``(round, estimator)``, optional, after every round (``atoms_`` is current).

    Attributes
    ----------
    atoms_ : ndarray (K, *atom_size) or (K, C, *atom_size)
        Unit-norm filters (channel axis dropped when ``n_channels == 1``).
    codes_ : codes of the training signals at the end (the layout of :meth:`transform`).
    status_, converged_, n_iter_, history_ : the solver protocol; ``history_["objective"]`` and
        ``history_["time_s"]`` (cumulative seconds) per round.
    solver_ : str, the CSC implementation that ran.
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "atom_length": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "lam": [Interval(Real, 0, None, closed="left")],
        "prior": [str, Prior],
        "n_channels": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "csc_max_iter": [Interval(Integral, 1, None, closed="left")],
        "filter_max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "init": [StrOptions(set(INITS)), "array-like"],
        "boundary": [StrOptions({"full", "valid"})],
        "solver": [StrOptions(set(SOLVERS))],
        "convolution": [StrOptions(set(CONVOLUTIONS))],
        "transform_max_iter": [Interval(Integral, 1, None, closed="left")],
        "transform_tol": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "random_state": RANDOM_STATE_CONSTRAINT,
        "callback": [callable, None],
    }

    def __init__(self, n_components: int = 8, atom_length=16, lam: float = 0.1, prior="l1", n_channels: int = 1,
                 *, max_iter: int = 20, csc_max_iter: int = 30, filter_max_iter: int = 20, tol: float = 1e-5,
                 init="data", boundary: str = "full", solver: str = "auto", convolution: str = "auto",
                 transform_max_iter: int = 500, transform_tol: float = 1e-4, device="auto", random_state=None,
                 callback=None):
        self.n_components = n_components
        self.atom_length = atom_length
        self.lam = lam
        self.prior = prior
        self.n_channels = n_channels
        self.max_iter = max_iter
        self.csc_max_iter = csc_max_iter
        self.filter_max_iter = filter_max_iter
        self.tol = tol
        self.init = init
        self.boundary = boundary
        self.solver = solver
        self.convolution = convolution
        self.transform_max_iter = transform_max_iter
        self.transform_tol = transform_tol
        self.device = device
        self.random_state = random_state
        self.callback = callback

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _set_atoms(self, h):
        self._h = h
        a = h.detach().cpu().numpy()
        self.atoms_ = a[:, 0] if self.n_channels == 1 else a

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn ``atoms_`` from ``X`` (n_signals, length) or (n_signals, n_channels, length) (2-D filters:
        (n_signals, [n_channels,] H, W)). Returns self."""
        fsize = atom_size(self.atom_length)
        Xv = check_signals(self, X, fsize, self.n_channels, reset=True)
        cb = None
        if self.callback is not None:
            def cb(epoch, h):
                self._set_atoms(h)
                self.callback(epoch, self)
        res = conv_dictionary_learning(Xv, self.n_components, self.atom_length, self.lam, self.prior,
                                       n_channels=self.n_channels, max_iter=self.max_iter,
                                       csc_max_iter=self.csc_max_iter, filter_max_iter=self.filter_max_iter,
                                       tol=self.tol, init=self.init, boundary=self.boundary, solver=self.solver,
                                       convolution=self.convolution, device=self.device,
                                       random_state=self.random_state, callback=cb)
        self._set_atoms(res.atoms)
        self._sdim = len(fsize)
        self.codes_ = ArrayKind.of(X).wrap(res.codes)
        self.solver_ = res.solver
        self._record_result(res.status, res.n_iter, res.history,
                            detail=f"relative objective change above tol={self.tol:g} after {res.n_iter} rounds")
        return self

    def transform(self, X):
        """Codes of ``X`` under the learned filters (:func:`conv_sparse_code`; NumPy in → NumPy out).

        ``X`` of shape (n_signals, length) must have the training length (scikit-learn's ``n_features_in_``);
        with a channel axis, (n_signals, n_channels, length), or for 2-D images, any size holding the filters."""
        check_is_fitted(self)
        Xv = check_signals(self, X, self._h.shape[2:], self.n_channels, reset=False)
        atoms = self._h if is_tensor(Xv) else self._h.detach().cpu().numpy()
        return conv_sparse_code(Xv, atoms, self.lam, self.prior, max_iter=self.transform_max_iter,
                                tol=self.transform_tol, solver=self.solver, convolution=self.convolution,
                                spatial_dims=self._sdim, boundary=self.boundary, device=self.device).codes

    def inverse_transform(self, X):
        """``H x`` for codes ``X`` (n_signals, K, *code) of the learned filters (observed samples only)."""
        check_is_fitted(self)
        atoms = self._h.detach().cpu().numpy()
        y = named_call(conv_synthesis, X, atoms if self.n_channels > 1 else atoms[:, 0], name="X",  # errors name X
                  spatial_dims=self._sdim, convolution=self.convolution)
        if self.boundary == "full":  # keep the observed samples only
            sl = tuple(slice(f - 1, -(f - 1) or None) for f in self._h.shape[2:])
            y = y[(Ellipsis,) + sl]
        return y

    def representation(self, X, **metadata) -> Representation:
        """The codes of ``X`` flattened per signal, (n_signals, K · code_length), as a Representation."""
        Z = self.transform(X)
        return Representation(Z.reshape(Z.shape[0], -1),
                              metadata={"model": type(self).__name__, "code_shape": tuple(Z.shape[1:]), **metadata})
