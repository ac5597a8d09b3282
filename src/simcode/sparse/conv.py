r"""Convolutional sparse coding (CSC) and convolutional dictionary learning (CDL).

Model (paper 004, "Convolutional generative model" and "Optimization perspective"): a signal is a sum of
shifted, scaled copies of a few filters,

.. math::  y = \sum_{k=1}^{K} h_k * x_k + v = Hx + v,

and CDL solves :math:`\min_{x_j, h_k} \sum_j \tfrac12\|y_j - Hx_j\|_2^2 + \lambda\, g(x_j)` s.t.
:math:`\|h_k\|_2 \le 1`. The lecture's filter index ``c = 1..C`` is our atom index ``k``; our
``n_channels`` ``C`` is the number of recorded channels (electrodes / colour planes) per filter. Rows are
signals: ``signals`` is ``(n_signals, n_channels, length)`` (1-D) or ``(n_signals, n_channels, H, W)``
(2-D); atoms are ``(n_atoms, n_channels, atom_length)``; codes ``(n_signals, n_atoms, length - atom_length
+ 1)``. Single-channel inputs may drop the channel axis, a single signal the batch axis.

The CSC step is FISTA (Beck & Teboulle 2009) with step ``1/L``, ``L`` a guaranteed bound on
:math:`\|H\|^2` from the filter spectra; the prox is any prior of :mod:`simcode.sparse.priors`. For ℓ1
priors it stops on the relative duality gap. The filter step is projected FISTA on the unit ball with the
code Gram matrix precomputed in the Fourier domain, so its cost does not grow with the number of signals.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from simcode._utils import check_positive, check_random_state, warn_not_converged

from ._conv_ops import (ConvOperator, check_finite_signal, check_lengths, default_dtype, fast_len, lipschitz,
                        resolve_torch_device, to_batched)
from .priors import Prior, get_prior

__all__ = ["CSCResult", "conv_sparse_code", "conv_synthesis", "conv_lipschitz", "ConvDictionaryLearning"]


@dataclass
class CSCResult:
    """Outcome of :func:`conv_sparse_code`.

    ``codes`` has the layout of the input (NumPy in → NumPy out; tensor in → tensor on its device).
    ``objective`` is :math:`\\sum_j \\tfrac12\\|y_j - Hx_j\\|^2 + \\lambda g(x_j)`; ``gap`` the largest relative
    duality gap over signals (ℓ1 priors only, else ``None``); ``history`` the objective at each check.
    """

    codes: object
    objective: float
    n_iter: int
    converged: bool
    status: str
    gap: float | None = None
    history: list = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------------
# input handling


def _prep_atoms(atoms, spatial_dims, device, dtype_hint=None):
    was_tensor = isinstance(atoms, torch.Tensor)
    a = atoms if was_tensor else torch.as_tensor(np.asarray(atoms, dtype=np.float64))
    if spatial_dims not in (None, 1, 2):
        raise ValueError(f"spatial_dims must be None, 1 or 2, got {spatial_dims!r}")
    if spatial_dims is None:
        if a.ndim == 2 or a.ndim == 3:
            spatial_dims = 1
        elif a.ndim == 4:
            spatial_dims = 2
        else:
            raise ValueError(f"atoms must have shape (K, L), (K, C, L) or (K, C, h, w), got {tuple(a.shape)}")
    if a.ndim == spatial_dims + 1:
        a = a.unsqueeze(1)
    if a.ndim != spatial_dims + 2:
        raise ValueError(f"atoms of shape {tuple(a.shape)} do not match spatial_dims={spatial_dims}")
    if a.shape[0] < 1 or any(s < 1 for s in a.shape):
        raise ValueError(f"atoms must be non-empty, got shape {tuple(a.shape)}")
    if not bool(torch.isfinite(a).all()):
        raise ValueError("atoms contains NaN or infinite values")
    if dtype_hint is not None:
        a = a.to(device=device, dtype=dtype_hint)
    return a, spatial_dims


def _prep_signals(signals, sdim, n_channels, device, name="signals"):
    was_tensor = isinstance(signals, torch.Tensor)
    if was_tensor:
        y = signals
        if not y.is_floating_point():
            y = y.to(torch.get_default_dtype())
    else:
        try:
            y = torch.as_tensor(np.asarray(signals, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric array: {exc}") from None
    dev = resolve_torch_device(device, was_tensor, y if was_tensor else None)
    dtype = y.dtype if was_tensor else default_dtype(dev)
    y = y.to(device=dev, dtype=dtype)
    yb, batched = to_batched(y, sdim, n_channels, name)
    if yb.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one signal, got shape {tuple(y.shape)}")
    check_finite_signal(yb, name)
    return yb, batched, was_tensor, dev, dtype


def _out(t: torch.Tensor, batched: bool, was_tensor: bool):
    if not batched:
        t = t[0]
    return t if was_tensor else t.detach().cpu().numpy()


def _prior_and_gap(prior):
    p = get_prior(prior)
    gap = p.name if (type(p).__name__ in ("L1", "L1NonNeg") and p.name in ("l1", "l1_nonneg")) else None
    return p, gap


def _g(prior: Prior, x: torch.Tensor) -> torch.Tensor:
    """Per-signal penalty sum g(x_j): (N, K, *s) -> (N,)."""
    return prior._value(x).reshape(x.shape[0], -1).sum(1)


# ----------------------------------------------------------------------------------------------------------
# FISTA core (torch in, torch out)


def _objective_gap(y, op, x, lam, prior, gap_kind, ymask):
    """Summed primal objective and the largest relative duality gap over signals (ℓ1 priors; else ``None``).

    Dual point: the scaled residual θ = r·min(1, λ/‖Hᵀr‖_∞) (ℓ1) or λ/max(Hᵀr)_+ (ℓ1 ≥ 0); dual value
    ⟨My, θ⟩ − ½‖θ‖²."""
    n = y.shape[0]
    r = y - op.synth(x)
    if ymask is not None:
        r = r * ymask
    fit = 0.5 * (r * r).reshape(n, -1).sum(1)
    primal = fit + lam * _g(prior, x)
    if gap_kind is None:
        return float(primal.sum()), None
    corr = op.adjoint(r).reshape(n, -1)
    s = corr.abs().amax(1) if gap_kind == "l1" else corr.amax(1).clamp_min(0)
    scale = torch.where(s > lam, lam / s.clamp_min(1e-300), torch.ones_like(s))
    theta = r * scale.reshape((n,) + (1,) * (r.ndim - 1))
    ym = y if ymask is None else y * ymask
    dual = (ym * theta).reshape(n, -1).sum(1) - 0.5 * (theta * theta).reshape(n, -1).sum(1)
    rel = (primal - dual).clamp_min(0) / primal.abs().clamp_min(1e-12)
    return float(primal.sum()), float(rel.max())


def _use_compiled(kernel, y, gap_kind):
    if kernel not in ("auto", "torch"):
        raise ValueError(f"kernel must be 'auto' or 'torch', got {kernel!r}")
    return (kernel == "auto" and y.device.type == "cpu" and y.ndim == 3 and gap_kind is not None
            and y.dtype in (torch.float32, torch.float64))


def _fista_compiled(y, op, lam, prior, step, x0, *, max_iter, tol, check_every, gap_kind, ymask=None,
                    xmask=None):
    """:func:`_fista` (ℓ1 priors, 1-D, CPU) with the iterations in the compiled kernel, per-signal restart;
    the kernel keeps its momentum state between duality-gap checks. Returns (x, info dict)."""
    from ._conv_numba import fista_1d

    yn, hn = y.detach().numpy(), op.atoms.detach().numpy()
    wm = None if ymask is None else ymask.reshape(-1, y.shape[-1]).numpy()
    xm = None if xmask is None else xmask.reshape(-1, x0.shape[-1]).numpy()
    state = {}
    xn = x0.detach().numpy()
    hist, converged, gap, it = [], False, None, 0
    while it < max_iter:
        n_it = min(check_every, max_iter - it)
        xn = fista_1d(yn, hn, step, lam * step, n_it, nonneg=gap_kind == "l1_nonneg", x0=xn, mask=wm,
                      code_mask=xm, state=state)
        it += n_it
        primal, gap = _objective_gap(y, op, torch.from_numpy(xn), lam, prior, gap_kind, ymask)
        hist.append(primal)
        if gap <= tol:
            converged = True
            break
    return torch.from_numpy(xn), {"n_iter": it, "converged": converged, "gap": gap, "history": hist}


def _fista(y, op, lam, prior, step, x0, *, max_iter, tol, check_every, gap_kind, ymask=None, xmask=None):
    """FISTA with gradient restart on 0.5||M(y - Hx)||^2 + lam g(x). Returns (x, info dict)."""
    n = y.shape[0]
    x = x0
    z = x
    t = torch.ones((), dtype=y.dtype, device=y.device)
    one = torch.ones((), dtype=y.dtype, device=y.device)
    tau = lam * step
    hist = []
    converged = False
    gap = None
    it = 0
    for it in range(1, max_iter + 1):
        r = y - op.synth(z)
        if ymask is not None:
            r = r * ymask
        x_new = prior._prox(z + step * op.adjoint(r), tau)
        if xmask is not None:
            x_new = x_new * xmask
        d = x_new - x
        # gradient restart (O'Donoghue & Candès 2015), decided on the device (no host sync per iteration)
        restart = (d * (z - x_new)).sum() > 0
        t_new = torch.where(restart, one, 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * t * t)))
        beta = torch.where(restart, torch.zeros_like(t), (t - 1.0) / t_new)
        z = x_new + beta * d
        x_prev, x, t = x, x_new, t_new
        if it % check_every == 0 or it == max_iter:
            primal, gap = _objective_gap(y, op, x, lam, prior, gap_kind, ymask)
            hist.append(primal)
            if gap_kind is not None:
                if gap <= tol:
                    converged = True
                    break
            else:
                dn = float((x - x_prev).norm())
                xn = float(x.norm())
                gap = None
                if dn <= tol * max(xn, 1e-12):
                    converged = True
                    break
    return x, {"n_iter": it, "converged": converged, "gap": gap, "history": hist}


def conv_lipschitz(atoms, spatial_dims: int | None = None) -> float:
    r"""A guaranteed upper bound on :math:`\|H\|_2^2` for the filter bank ``atoms`` (any signal length).

    ``sup_ω λ_max(Ĥ(ω)^* Ĥ(ω))`` sampled on a fine grid, corrected by Bernstein's inequality.
    """
    a, _ = _prep_atoms(atoms, spatial_dims, "cpu", torch.float64)
    return float(lipschitz(a))


def conv_synthesis(codes, atoms, spatial_dims: int | None = None, method: str = "auto"):
    """``H x = sum_k h_k * x_k``: codes ``(N, K, *code)`` (or ``(K, *code)``) → signals ``(N, C, *signal)``.

    Single-channel outputs keep the channel axis only when the atoms had one.
    """
    a0 = atoms
    was_tensor = isinstance(codes, torch.Tensor)
    x = codes if was_tensor else torch.as_tensor(np.asarray(codes, dtype=np.float64))
    a, sdim = _prep_atoms(atoms, spatial_dims, x.device, x.dtype)
    batched = x.ndim == sdim + 2
    if x.ndim == sdim + 1:
        x = x.unsqueeze(0)
    if x.ndim != sdim + 2 or x.shape[1] != a.shape[0]:
        raise ValueError(f"codes must have shape (N, {a.shape[0]}, ...) or ({a.shape[0]}, ...) for "
                         f"{a.shape[0]} atoms, got {tuple(codes.shape)}")
    sig = tuple(s + f - 1 for s, f in zip(x.shape[2:], a.shape[2:]))
    y = ConvOperator(a, sig, method).synth(x)
    squeeze_c = np.ndim(a0) == sdim + 1 if not isinstance(a0, torch.Tensor) else a0.ndim == sdim + 1
    if squeeze_c:
        y = y[:, 0]
    return _out(y, batched, was_tensor)


def conv_sparse_code(signals, atoms, lam: float, prior="l1", *, max_iter: int = 500, tol: float = 1e-4,
                     method: str = "auto", init=None, spatial_dims: int | None = None,
                     chunk_size: int | None = None, overlap: int | None = None, chunk_batch: int = 512,
                     check_every: int = 10, boundary: str = "valid", device=None,
                     kernel: str = "auto") -> CSCResult:
    r"""Convolutional sparse coding by FISTA: :math:`\min_x \tfrac12\|y - Hx\|_2^2 + \lambda g(x)` per signal.

    Implements the CSC step of paper 004 ("Convolutional sparse coding step", separable over signals)
    with any prior ``g`` from :mod:`simcode.sparse.priors` (``"l1_nonneg"`` for spike amplitudes). The
    step is ``1/L`` with ``L`` from :func:`conv_lipschitz`; FISTA uses gradient restart.

    Parameters
    ----------
    signals : array (see module docstring for layouts) or torch tensor.
    atoms : ``(K, L)``, ``(K, C, L)`` or ``(K, C, h, w)`` filters (3-D atoms are 1-D multichannel unless
        ``spatial_dims=2``).
    lam : λ ≥ 0.
    prior : a prior name or :class:`~simcode.sparse.priors.Prior`.
    max_iter, tol : FISTA budget; stops when the relative duality gap ``(P - D)/P`` ≤ ``tol`` for every
        signal (ℓ1 and non-negative ℓ1) or the relative change of the codes ≤ ``tol`` (other priors).
    method : ``"auto"``, ``"direct"`` or ``"fft"`` convolution.
    init : warm-start codes (same layout as the output).
    chunk_size, overlap : for long 1-D signals, code in chunks of ``chunk_size`` code samples solved as one
        batch, each padded with ``overlap`` samples (default ``4 * atom_length``) on both sides whose codes
        are discarded; the data term of the padding is masked so nothing outside the signal is invented.
    chunk_batch : how many chunks go into one batched FISTA run (bounds memory).
    boundary : ``"valid"`` (every code places a whole filter inside the signal) or ``"full"`` (codes also
        for filters that stick out of the signal, e.g. spikes cut by a window edge: code length
        ``length + atom_length - 1``, the data term only counts observed samples).
    device : ``None`` (the tensor's device, CPU for NumPy), ``"cpu"``, ``"cuda"`` or ``"auto"``.
    kernel : ``"auto"``: for 1-D signals on CPU with ℓ1 or non-negative ℓ1 priors, the FISTA iterations run in
        the compiled kernel of :mod:`simcode.sparse._conv_numba` (per-signal gradient restart, sparse-Gram
        iterations), with the same duality-gap checks; ``"torch"``: always the batched torch FISTA.

    Returns
    -------
    CSCResult
    """
    lam = check_positive(lam, "lam", strict=False)
    if not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    tol = check_positive(tol, "tol")
    prior, gap_kind = _prior_and_gap(prior)
    a_raw, sdim = _prep_atoms(atoms, spatial_dims, None)
    C = a_raw.shape[1]
    y, batched, was_tensor, dev, dtype = _prep_signals(signals, sdim, C, device)
    a = a_raw.to(device=dev, dtype=dtype)
    fsize = tuple(a.shape[2:])
    check_lengths(y.shape[2:], fsize, "signals")
    L = float(lipschitz(a))
    if L <= 0:
        raise ValueError("atoms are all zero")
    step = 1.0 / L
    if chunk_size is not None:
        if sdim != 1:
            raise ValueError("chunk_size is supported for 1-D signals only")
        if init is not None:
            raise ValueError("init (warm start) cannot be combined with chunk_size")
        return _chunked(y, a, lam, prior, step, batched, was_tensor, gap_kind, chunk_size, overlap,
                        chunk_batch, max_iter=max_iter, tol=tol, method=method, check_every=check_every,
                        kernel=kernel)
    if boundary not in ("valid", "full"):
        raise ValueError(f"boundary must be 'valid' or 'full', got {boundary!r}")
    ymask = None
    if boundary == "full":
        y, ymask = _pad_full(y, fsize)
    op = ConvOperator(a, tuple(y.shape[2:]), method)
    code_shape = (y.shape[0], a.shape[0]) + op.code_shape
    if init is None:
        x0 = torch.zeros(code_shape, dtype=dtype, device=dev)
    else:
        x0 = init if isinstance(init, torch.Tensor) else torch.as_tensor(np.asarray(init, dtype=np.float64))
        x0 = x0.to(device=dev, dtype=dtype)
        if x0.ndim == sdim + 1:
            x0 = x0.unsqueeze(0)
        if tuple(x0.shape) != code_shape:
            raise ValueError(f"init must have shape {code_shape} (or without the batch axis), got {tuple(x0.shape)}")
    solver = _fista_compiled if _use_compiled(kernel, y, gap_kind) else _fista
    with torch.no_grad():
        x, info = solver(y, op, lam, prior, step, x0, max_iter=max_iter, tol=tol, check_every=check_every,
                         gap_kind=gap_kind, ymask=ymask)
    if not info["converged"]:
        detail = f"relative duality gap {info['gap']:.2e} > tol {tol:g}" if gap_kind else f"tol {tol:g}"
        warn_not_converged("conv_sparse_code", info["n_iter"], detail)
    obj = info["history"][-1] if info["history"] else float("nan")
    return CSCResult(codes=_out(x, batched, was_tensor), objective=obj, n_iter=info["n_iter"],
                     converged=info["converged"], status="converged" if info["converged"] else "max_iter",
                     gap=info["gap"], history=info["history"])


def _pad_full(y, fsize):
    """Pad every spatial axis by ``f - 1`` on both sides; return the padded signals and the observed mask."""
    pad = []
    for f in reversed(fsize):
        pad += [f - 1, f - 1]
    yp = torch.nn.functional.pad(y, pad)
    m = torch.nn.functional.pad(torch.ones((1, 1) + tuple(y.shape[2:]), dtype=y.dtype, device=y.device), pad)
    return yp, m


def _chunked(y, a, lam, prior, step, batched, was_tensor, gap_kind, chunk, overlap, chunk_batch, *,
             max_iter, tol, method, check_every, kernel="auto"):
    """Code long 1-D signals as a batch of overlapping windows (see :func:`conv_sparse_code`)."""
    Lf = a.shape[-1]
    if not isinstance(chunk, numbers.Integral) or chunk < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk!r}")
    ov = 4 * Lf if overlap is None else overlap
    if not isinstance(ov, numbers.Integral) or ov < 0:
        raise ValueError(f"overlap must be a non-negative integer, got {overlap!r}")
    N, C, T = y.shape
    Tc = T - Lf + 1
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
    xmask = xm.unfold(-1, cseg, chunk).reshape(nch, 1, cseg).repeat(N, 1, 1)
    op = ConvOperator(a, (sseg,), method)
    K = a.shape[0]
    cores = []
    n_iter, conv_all, gaps = 0, True, []
    solver = _fista_compiled if _use_compiled(kernel, y, gap_kind) else _fista
    with torch.no_grad():
        for s in range(0, N * nch, chunk_batch):
            sl = slice(s, s + chunk_batch)
            yb = segs[sl] * ymask[sl]
            x0 = torch.zeros(yb.shape[0], K, cseg, dtype=y.dtype, device=y.device)
            x, info = solver(yb, op, lam, prior, step, x0, max_iter=max_iter, tol=tol, check_every=check_every,
                             gap_kind=gap_kind, ymask=ymask[sl], xmask=xmask[sl])
            cores.append(x[:, :, ov: ov + chunk])
            n_iter = max(n_iter, info["n_iter"])
            conv_all &= info["converged"]
            if info["gap"] is not None:
                gaps.append(info["gap"])
        codes = torch.cat(cores).reshape(N, nch, K, chunk).permute(0, 2, 1, 3).reshape(N, K, nch * chunk)[..., :Tc]
        # objective of the stitched codes on the whole signal, by overlap-add of per-chunk syntheses
        r = y - _synth_chunked(codes, a, chunk, method)
        obj = float(0.5 * (r * r).sum() + lam * _g(prior, codes).sum())
    gap = max(gaps) if gaps else None
    if not conv_all:
        warn_not_converged("conv_sparse_code (chunked)", n_iter,
                           f"largest relative duality gap {gap:.2e}" if gap is not None else f"tol {tol:g}")
    return CSCResult(codes=_out(codes, batched, was_tensor), objective=obj, n_iter=n_iter, converged=conv_all,
                     status="converged" if conv_all else "max_iter", gap=gap, history=[obj])


def _synth_chunked(codes, a, chunk, method):
    """``H x`` for long 1-D codes by overlap-add of chunk syntheses (memory ~ one chunk per row)."""
    N, K, Tc = codes.shape
    Lf = a.shape[-1]
    nch = -(-Tc // chunk)
    xp = torch.nn.functional.pad(codes, (0, nch * chunk - Tc)).reshape(N, K, nch, chunk)
    xp = xp.permute(0, 2, 1, 3).reshape(N * nch, K, chunk)
    op = ConvOperator(a, (chunk + Lf - 1,), method)
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
    = P_support IFFT(Gf Ĥ - Bf).
    """
    sdim = len(fsize)
    dims = tuple(range(-sdim, 0))
    K, C = atoms.shape[:2]

    def grad(h):
        Hf = torch.fft.rfftn(h, s=nfft, dim=dims).reshape(K, C, -1).permute(2, 0, 1)  # (F, K, C)
        Rf = (Gf @ Hf - Bf).permute(1, 2, 0).reshape((K, C) + spec_shape)
        g = torch.fft.irfftn(Rf, s=nfft, dim=dims)
        return g[..., : fsize[0]] if sdim == 1 else g[..., : fsize[0], : fsize[1]]

    spec_shape = tuple(nfft[:-1]) + (nfft[-1] // 2 + 1,)

    def proj(h):
        nrm = h.reshape(K, -1).norm(dim=1).clamp_min(1.0)
        return h / nrm.reshape((K,) + (1,) * (h.ndim - 1))

    x = atoms
    z = x
    t = 1.0
    for _ in range(n_iter):
        x_new = proj(z - grad(z) / lip)
        t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        z = x_new + ((t - 1) / t_new) * (x_new - x)
        x, t = x_new, t_new
    return x


class ConvDictionaryLearning:
    r"""Convolutional dictionary learning by alternating CSC (FISTA) and filter (projected FISTA) steps.

    Solves paper 004's CDL problem :math:`\min \sum_j \tfrac12\|y_j - Hx_j\|^2 + \lambda g(x_j)` s.t.
    :math:`\|h_k\|_2 \le 1`; after each filter step every filter is rescaled to unit norm (its codes scaled
    the other way, so ``Hx`` is unchanged).

    Parameters
    ----------
    n_atoms : K, number of filters.
    atom_length : filter length (int, 1-D signals) or ``(h, w)`` (2-D images).
    lam : λ.
    prior : prior on codes (name or :class:`~simcode.sparse.priors.Prior`), e.g. ``"l1_nonneg"`` for spikes.
    n_channels : channels per filter (electrodes, colour planes).
    n_epochs : alternating rounds; stops early when the objective's relative decrease < ``tol``.
    csc_iter, filter_iter : FISTA iterations per round for the codes (warm-started) and the filters.
    init : ``"data"`` (the default: for each filter, the window centred on the largest deflection of a
        randomly chosen signal; far from the truth but rarely stuck in the shifted-filter local minima that
        Gaussian filters fall into), ``"random"`` (Gaussian filters) or an
        array of atoms.
    boundary : ``"full"`` (default: codes also for filters cut by the signal's edges, as when windows are
        cut from a long recording; the data term counts only observed samples, and the filter step fills the
        unobserved padding with the current reconstruction, a majorise-minimise step) or ``"valid"``.
    method, device, random_state : convolution method, device and seed.
    callback : ``callback(epoch, estimator)`` called after every round (e.g. to track an error).
    kernel : ``"auto"`` runs the CSC step with the compiled per-signal FISTA of
        :mod:`simcode.sparse._conv_numba` (gradient restart per signal, sparse-Gram iterations) for 1-D signals
        on CPU with ℓ1 or non-negative ℓ1 priors; ``"torch"`` always uses the batched torch FISTA.

    Attributes
    ----------
    atoms_ : (K, C, *atom_size) unit-norm filters (channel axis dropped when ``n_channels == 1``).
    objective_ : objective per round; ``n_iter_`` rounds run; ``time_`` wall time per round (cumulative, s);
    codes_ : codes of the training signals at the end (same layout as :meth:`transform`).
    """

    def __init__(self, n_atoms: int, atom_length, lam: float = 0.1, prior="l1", n_channels: int = 1, *,
                 n_epochs: int = 20, csc_iter: int = 30, filter_iter: int = 20, tol: float = 1e-5,
                 init="data", boundary: str = "full", method: str = "auto", device=None, random_state=None,
                 callback=None, kernel: str = "auto"):
        self.n_atoms = n_atoms
        self.atom_length = atom_length
        self.lam = lam
        self.prior = prior
        self.n_channels = n_channels
        self.n_epochs = n_epochs
        self.csc_iter = csc_iter
        self.filter_iter = filter_iter
        self.tol = tol
        self.init = init
        self.boundary = boundary
        self.method = method
        self.device = device
        self.random_state = random_state
        self.callback = callback
        self.kernel = kernel

    # -- helpers
    def _fsize(self):
        al = self.atom_length
        if isinstance(al, numbers.Integral) and not isinstance(al, bool):
            if al < 1:
                raise ValueError(f"atom_length must be a positive integer, got {al!r}")
            return (int(al),)
        try:
            t = tuple(int(v) for v in al)
        except TypeError:
            raise ValueError(f"atom_length must be an int (1-D) or a pair (h, w) (2-D), got {al!r}") from None
        if len(t) != 2 or min(t) < 1:
            raise ValueError(f"atom_length must be an int (1-D) or a pair (h, w) of positive ints, got {al!r}")
        return t

    def _validate(self):
        for nm in ("n_atoms", "n_channels", "n_epochs", "csc_iter", "filter_iter"):
            v = getattr(self, nm)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{nm} must be a positive integer, got {v!r}")
        check_positive(self.lam, "lam", strict=False)
        check_positive(self.tol, "tol", strict=False)
        if self.kernel not in ("auto", "torch"):
            raise ValueError(f"kernel must be 'auto' or 'torch', got {self.kernel!r}")
        return self._fsize()

    def _init_atoms(self, y, fsize, rng):
        K, C = self.n_atoms, self.n_channels
        shape = (K, C) + fsize
        if isinstance(self.init, str):
            if self.init == "random":
                h = rng.standard_normal(shape)
            elif self.init == "data":
                N = y.shape[0]
                yn = y.detach().cpu().numpy()
                h = np.empty(shape)
                for k in range(K):
                    j = rng.integers(N)
                    # a window centred on the largest deflection of a random signal (spike-triggered)
                    e = np.abs(yn[j]).sum(0)
                    peak = np.unravel_index(int(np.argmax(e)), e.shape)
                    st = [int(np.clip(p - f // 2, 0, s - f)) for p, s, f in zip(peak, yn.shape[2:], fsize)]
                    sl = tuple(slice(s0, s0 + f) for s0, f in zip(st, fsize))
                    h[k] = yn[(j, slice(None)) + sl]
                h += 1e-3 * rng.standard_normal(shape)
            else:
                raise ValueError(f"init must be 'random', 'data' or an array of atoms, got {self.init!r}")
        else:
            h = np.asarray(self.init.detach().cpu() if isinstance(self.init, torch.Tensor) else self.init,
                           dtype=np.float64)
            if h.ndim == len(fsize) + 1:
                h = h[:, None]
            if h.shape != shape:
                raise ValueError(f"init atoms must have shape {shape}, got {h.shape}")
            if not np.all(np.isfinite(h)):
                raise ValueError("init atoms contain NaN or infinite values")
        nrm = np.linalg.norm(h.reshape(K, -1), axis=1)
        if np.any(nrm == 0):
            raise ValueError("init atoms must be non-zero")
        h = h / nrm.reshape((K,) + (1,) * (h.ndim - 1))
        return torch.as_tensor(h, dtype=y.dtype, device=y.device)

    def fit(self, signals, y=None):
        """Learn ``atoms_`` from ``signals`` (see module docstring for layouts). Returns self."""
        fsize = self._validate()
        prior, gap_kind = _prior_and_gap(self.prior)
        sdim = len(fsize)
        yb, batched, was_tensor, dev, dtype = _prep_signals(signals, sdim, self.n_channels, self.device)
        check_lengths(yb.shape[2:], fsize, "signals")
        rng = check_random_state(self.random_state)
        h = self._init_atoms(yb, fsize, rng)
        lam = float(self.lam)
        if self.boundary not in ("valid", "full"):
            raise ValueError(f"boundary must be 'valid' or 'full', got {self.boundary!r}")
        mask = None
        if self.boundary == "full":
            yb, mask = _pad_full(yb, fsize)
        N, C = yb.shape[:2]
        K = self.n_atoms
        sig = tuple(yb.shape[2:])
        nfft = tuple(fast_len(s) for s in sig)
        dims = tuple(range(-sdim, 0))
        Yf = torch.fft.rfftn(yb, s=nfft, dim=dims).reshape(N, C, -1)
        op = ConvOperator(h, sig, self.method)
        x = torch.zeros((N, K) + op.code_shape, dtype=dtype, device=dev)
        use_kernel = _use_compiled(self.kernel, yb, gap_kind)
        if use_kernel:
            from ._conv_numba import fista_1d

            wmask = None if mask is None else mask.reshape(-1).numpy()
        self.objective_, self.time_ = [], []
        t0 = time.perf_counter()
        self.n_iter_ = 0
        with torch.no_grad():
            for epoch in range(self.n_epochs):
                op = ConvOperator(h, sig, self.method)
                step = 1.0 / float(lipschitz(h))
                if use_kernel:
                    x = torch.from_numpy(fista_1d(yb.numpy(), h.numpy(), step, lam * step, self.csc_iter,
                                                  nonneg=gap_kind == "l1_nonneg", x0=x.numpy(), mask=wmask))
                else:
                    x, _ = _fista(yb, op, lam, prior, step, x, max_iter=self.csc_iter, tol=1e-12,
                                  check_every=self.csc_iter, gap_kind=None, ymask=mask)
                if mask is not None:  # MM step: fill the unobserved padding with the current reconstruction
                    Yf = torch.fft.rfftn(yb + (1 - mask) * op.synth(x), s=nfft, dim=dims).reshape(N, C, -1)
                Xf = torch.fft.rfftn(x, s=nfft, dim=dims).reshape(N, K, -1)
                Gf = torch.einsum("nkf,nlf->fkl", Xf.conj(), Xf)
                Bf = torch.einsum("nkf,ncf->fkc", Xf.conj(), Yf)
                lip = float(torch.linalg.eigvalsh(Gf).amax()) if K > 1 else float(Gf.real.amax())
                if lip <= 0:  # all codes zero: lam too large for these filters
                    obj = float(0.5 * (yb * yb).sum())
                    self.objective_.append(obj)
                    self.time_.append(time.perf_counter() - t0)
                    self.n_iter_ = epoch + 1
                    if epoch > 0:
                        break
                    continue
                h = _filter_step(h, Gf, Bf, nfft, fsize, lip, self.filter_iter)
                nrm = h.reshape(K, -1).norm(dim=1).clamp_min(1e-12)
                h = h / nrm.reshape((K,) + (1,) * (h.ndim - 1))
                x = x * nrm.reshape((1, K) + (1,) * sdim)
                r = yb - ConvOperator(h, sig, self.method).synth(x)
                if mask is not None:
                    r = r * mask
                obj = float(0.5 * (r * r).sum() + lam * _g(prior, x).sum())
                if not math.isfinite(obj):
                    raise RuntimeError("ConvDictionaryLearning diverged (objective is NaN/inf); check the "
                                       "signal scale and lam")
                self.objective_.append(obj)
                self.time_.append(time.perf_counter() - t0)
                self.n_iter_ = epoch + 1
                self._h = h
                if self.callback is not None:
                    self.callback(epoch, self)
                if epoch > 0 and abs(self.objective_[-2] - obj) <= self.tol * max(abs(obj), 1e-12):
                    break
        self._h = h
        self._sdim = sdim
        self._dtype = dtype
        self.codes_ = _out(x, batched, was_tensor)
        return self

    @property
    def atoms_(self):
        if not hasattr(self, "_h"):
            raise AttributeError("atoms_ is only available after fit")
        h = self._h.detach().cpu().numpy()
        return h[:, 0] if self.n_channels == 1 else h

    def transform(self, signals, *, max_iter: int = 500, tol: float = 1e-4, **kwargs):
        """Codes of ``signals`` under the learned filters (:func:`conv_sparse_code`; NumPy in → NumPy out)."""
        if not hasattr(self, "_h"):
            raise ValueError("this ConvDictionaryLearning is not fitted yet; call fit first")
        atoms = self._h if isinstance(signals, torch.Tensor) else self._h.detach().cpu().numpy()
        return conv_sparse_code(signals, atoms, self.lam, self.prior, max_iter=max_iter, tol=tol,
                                method=self.method, spatial_dims=self._sdim, boundary=self.boundary, device=kwargs.pop("device", self.device),
                                **kwargs).codes

    def inverse_transform(self, codes):
        """``H x`` for codes of the learned filters."""
        if not hasattr(self, "_h"):
            raise ValueError("this ConvDictionaryLearning is not fitted yet; call fit first")
        atoms = self._h.detach().cpu().numpy()
        y = conv_synthesis(codes, atoms if self.n_channels > 1 else atoms[:, 0], spatial_dims=self._sdim,
                           method=self.method)
        if self.boundary == "full":  # keep the observed samples only
            sl = tuple(slice(f - 1, -(f - 1) or None) for f in self._h.shape[2:])
            y = y[(Ellipsis,) + sl]
        return y
