r"""CRsAE: the convolutional unrolled (deep-unfolded) sparse auto-encoder, for Gaussian, Binomial and Poisson data.

Paper 004, slides "Auto-encoder for CDL by deep unfolding and weight tying" and "Unfolded auto-encoders for
exponential family data": the encoder is ``T`` unrolled (F)ISTA iterations for the sparse code of a signal
``y`` under the convolutional dictionary ``H``,

.. math::  x_t = S_b\big(x_{t-1} + \alpha H^\top \tilde y_t\big),\qquad
           \tilde y_t = y - f^{-1}(H x_{t-1}),

with :math:`S_b` the activation of the prior (shifted ReLU ``ReLU(· − λα)`` for non-negative ℓ1; any prior of
:mod:`simcode.sparse.priors` through its prox) and :math:`f^{-1}` the inverse link of the family:
identity (Gaussian, ``y ∈ R``), ``M·sigmoid`` (Binomial, ``y ∈ {0..M}``; the lecture scales the residual by
``1/M``) and ``exp`` (Poisson, ``y ∈ {0, 1, ...}``). The decoder is ``ŷ = f^{-1}(H x_T + b)`` with the same
``H`` (weight tying), and ``H`` is trained by back-propagation (Adam) through the unrolled encoder on the
family's negative log-likelihood:

* Gaussian: ``½ (y − η)²``;  Binomial: ``M softplus(η) − y η``;  Poisson: ``exp(η) − y η``,

with ``η = H x_T + b`` (``b`` a learned offset per channel for Binomial/Poisson, so that a non-negative code
can explain a dim background; 0 and not learned for Gaussian). Filters are renormalised to unit norm after
every step. Our ``n_components`` K is the lecture's ``C``; our ``atom_length`` its filter length (``K`` in the
CRsAE paper); our ``n_layers`` its number of unrolled iterations ``T``. Encoder iterations use FISTA
momentum (the "F" of CRsAE); ``α = 1/L`` with ``L`` a bound on ``‖H‖²`` times the curvature of the family
(1 for Gaussian, 1/4 for the scaled Binomial, the 99th percentile of the counts for Poisson), unless ``step``
is given.

The exponential in the Poisson family is numerically safe: ``exp(η)`` for ``η ≤ 15``, continued linearly
above (so one bad step cannot overflow). On CUDA the training step (encoder, decoder, loss, backward, Adam,
renormalisation) and the inference encoder are captured once as CUDA graphs and replayed, which removes the
kernel-launch overhead of the unrolled loop; if capture fails the estimator falls back to eager mode with a
warning.

Training stops at ``max_iter`` epochs (with a :class:`simcode.ConvergenceWarning`) unless the mean epoch loss
plateaus first: ``converged`` means :math:`|\bar\ell_e - \bar\ell_{e-1}| \le \text{tol}\,|\bar\ell_e|` for two
consecutive epochs' mean minibatch losses — a stationarity test of stochastic training, not a certificate of
a minimum.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..core import (ArrayKind, History, NotFittedError, Representation, RepresentationMixin, SolverMixin,
                    SolverResult, check_bool, check_int, check_number, check_option, check_random_state,
                    check_tensor, nesterov_momentum, resolve_device)
from ._convolution import ConvOperator, check_lengths, lipschitz
from .conv import RANDOM_STATE_CONSTRAINT, SOLVERS, atom_size, check_signals, init_atoms
from .priors import Prior, get_prior

__all__ = ["CRsAE", "CRsAEResult", "crsae_fit", "FAMILIES"]

FAMILIES = ("gaussian", "binomial", "poisson")
_EXP_CAP = 15.0


def safe_exp(eta: torch.Tensor) -> torch.Tensor:
    """``exp(η)`` for ``η ≤ 15``, ``e^15 (1 + η − 15)`` above: C¹, monotone, no overflow."""
    cap = torch.full_like(eta, _EXP_CAP)
    e = torch.exp(torch.minimum(eta, cap))
    return torch.where(eta > cap, e * (1.0 + eta - cap), e)




def _momenta(n_layers: int) -> list[float]:
    """FISTA's fixed momentum sequence β_1..β_T of the unrolled encoder (:func:`simcode.core.nesterov_momentum`)."""
    t, out = 1.0, []
    for _ in range(n_layers):
        t, beta = nesterov_momentum(t)
        out.append(beta)
    return out


def _check_counts(y: torch.Tensor, family: str, n_trials: int, name: str):
    if family == "gaussian":
        return
    if bool((y < 0).any()) or not bool((y == torch.round(y)).all()):
        raise ValueError(f"{name} must hold non-negative integer counts for family={family!r} "
                         "(got non-integer or negative values)")
    if family == "binomial" and bool((y > n_trials).any()):
        raise ValueError(f"{name} has counts above n_trials={n_trials} for the binomial family")


class _UnrolledModel:
    """The network's parameters (``H``, ``E``, ``log λ``, offset ``b``) and its passes: encoder, decoder, loss.

    ``H`` (K, C, *atom_size) decoder filters; ``E`` encoder filters (``None``: tied to ``H``); the encoder is
    ``n_layers`` unrolled FISTA iterations with the fixed momenta of :func:`_momenta`."""

    def __init__(self, H0, y, *, lam, family, n_trials, tied, learn_lambda, prior, step, residual, n_layers,
                 backprop, solver):
        dev, dtype = y.device, y.dtype
        self.family, self.n_trials, self.residual, self.backprop = family, n_trials, residual, backprop
        self.prior, self.step, self.n_layers, self.solver = prior, step, n_layers, solver
        self.H = H0.clone().requires_grad_(True)
        self.E = None if tied else H0.clone().requires_grad_(True)
        self.log_lam = torch.tensor(math.log(lam), dtype=dtype, device=dev, requires_grad=bool(learn_lambda))
        C = y.shape[1]
        dims = (0,) + tuple(range(2, y.ndim))
        if family == "gaussian":
            self.bias, self.curv = None, 1.0
        elif family == "binomial":
            p = (y.mean(dim=dims) / n_trials).clamp(1e-3, 1 - 1e-3)
            self.bias = torch.log(p / (1 - p)).reshape(C).clone().requires_grad_(True)
            self.curv = 0.25
        else:
            self.bias = torch.log(y.mean(dim=dims).clamp_min(1e-3)).reshape(C).clone().requires_grad_(True)
            self.curv = max(1.0, float(torch.quantile(y.reshape(-1)[:1_000_000].float(), 0.99)))
        self.momenta = _momenta(n_layers)
        self.graph_cache = {}

    def parameters(self, learn_lambda):
        return ([self.H] + ([self.E] if self.E is not None else []) + ([self.log_lam] if learn_lambda else [])
                + ([self.bias] if self.bias is not None else []))

    def mean(self, eta):
        if self.family == "gaussian":
            return eta
        if self.family == "binomial":
            return torch.sigmoid(eta)  # per trial; the residual uses y / M
        return safe_exp(eta)

    def bias_t(self):
        return None if self.bias is None else self.bias.reshape((1, -1) + (1,) * (self.H.ndim - 2))

    def alpha(self):
        if self.step is not None:
            return float(self.step)
        with torch.no_grad():
            return 1.0 / (lipschitz(self.H.detach()) * self.curv)

    def renorm(self):
        with torch.no_grad():
            K = self.H.shape[0]
            nrm = self.H.reshape(K, -1).norm(dim=1).clamp_min(1e-12)
            self.H.div_(nrm.reshape((K,) + (1,) * (self.H.ndim - 1)))

    def encode(self, y, H, E, lam, bias, alpha):
        """T unrolled FISTA iterations (differentiable). y: (N, C, *s)."""
        dec = ConvOperator(H, tuple(y.shape[2:]))
        enc = dec if E is None else ConvOperator(E, tuple(y.shape[2:]))
        target = y / self.n_trials if self.family == "binomial" else y
        x = torch.zeros((y.shape[0], H.shape[0]) + dec.code_shape, dtype=y.dtype, device=y.device)
        z = x
        tau = lam * alpha
        for beta in self.momenta:
            eta = dec.synth(z)
            if bias is not None:
                eta = eta + bias
            res = target - self.mean(eta)
            if self.residual == "elu":
                res = F.elu(res)
            x_new = self.prior._prox(z + alpha * enc.adjoint(res), tau)
            z = x_new + beta * (x_new - x)
            x = x_new
        return x, dec

    def compiled_applies(self, y) -> bool:
        return (y.device.type == "cpu" and y.ndim == 3 and self.family == "gaussian"
                and y.dtype in (torch.float32, torch.float64) and self.residual == "linear"
                and type(self.prior).__name__ in ("L1", "L1NonNeg") and self.prior.name in ("l1", "l1_nonneg"))

    def encode_nograd(self, y, H, E, lam, bias, alpha, solver=None):
        """The encoder's codes without a graph: the compiled kernel where it applies (and ``solver``, default the
        training one, is not ``"torch"``), else the torch loop."""
        solver = self.solver if solver is None else solver
        with torch.no_grad():
            if solver != "torch" and self.compiled_applies(y):
                from ._conv_fista_kernel import fista_1d

                a = float(alpha)
                x = fista_1d(y.numpy(), H.numpy(), a, float(lam) * a, self.n_layers,
                             nonneg=self.prior.name == "l1_nonneg", betas=np.asarray(self.momenta),
                             enc=None if E is None else E.numpy())
                return torch.from_numpy(x)
            return self.encode(y, H, E, lam, bias, alpha)[0]

    def nll(self, y, eta):
        """Mean negative log-likelihood per signal sample (constants dropped)."""
        if self.family == "gaussian":
            return 0.5 * ((y - eta) ** 2).mean()
        if self.family == "binomial":
            return (self.n_trials * F.softplus(eta) - y * eta).mean()
        return (safe_exp(eta) - y * eta).mean()

    def forward_loss(self, y, target=None):
        lam = torch.exp(self.log_lam)
        alpha = self.alpha()
        if self.backprop == "decoder":  # codes are constants: no graph through the encoder
            bias = self.bias_t()
            x = self.encode_nograd(y, self.H.detach(), None if self.E is None else self.E.detach(), lam.detach(),
                                   None if bias is None else bias.detach(), alpha)
            dec = ConvOperator(self.H, tuple(y.shape[2:]))
        else:
            x, dec = self.encode(y, self.H, self.E, lam, self.bias_t(), alpha)
        eta = dec.synth(x)
        if self.bias is not None:
            eta = eta + self.bias_t()
        if target is not None:  # supervised (discriminative) training: squared error of the decoder's mean
            mu = self.mean(eta) * (self.n_trials if self.family == "binomial" else 1)
            return 0.5 * ((mu - target) ** 2).mean()
        return self.nll(y, eta)

    # -- inference
    def encode_batches(self, yb, batch_size, cuda_graph, solver=None):
        lam = torch.exp(self.log_lam.detach())
        H = self.H.detach()
        E = None if self.E is None else self.E.detach()
        bias = None if self.bias is None else self.bias_t().detach()
        alpha = self.alpha()
        outs = []
        with torch.no_grad():
            for s in range(0, yb.shape[0], batch_size):
                yy = yb[s:s + batch_size]
                fn = self._graphed_encoder(yy, H, E, lam, bias, alpha, batch_size, cuda_graph, solver)
                outs.append(fn(yy))
        return torch.cat(outs)

    def _graphed_encoder(self, yy, H, E, lam, bias, alpha, batch_size, cuda_graph, solver):
        def eager(batch):
            return self.encode_nograd(batch, H, E, lam, bias, alpha, solver)

        use = yy.is_cuda and cuda_graph in ("auto", True) and yy.shape[0] == batch_size
        if not use:
            return eager
        key = tuple(yy.shape)
        cache = self.graph_cache
        if key in cache:
            return cache[key]
        try:  # pragma: no cover - needs CUDA
            static_y = yy.clone()
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                eager(static_y)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                static_x = eager(static_y)

            def run(batch):
                static_y.copy_(batch)
                g.replay()
                return static_x.clone()

            cache[key] = run
            return run
        except Exception as exc:  # pragma: no cover - needs CUDA
            warnings.warn(f"CUDA graph capture of the CRsAE encoder failed ({exc!r}); running eagerly",
                          RuntimeWarning, stacklevel=3)
            cache[key] = eager
            return eager

    def decoder_mean(self, yb, x):
        with torch.no_grad():
            eta = ConvOperator(self.H.detach(), tuple(yb.shape[2:])).synth(x)
            if self.bias is not None:
                eta = eta + self.bias_t().detach()
            return self.mean(eta) * (self.n_trials if self.family == "binomial" else 1)

    def __getstate__(self):  # CUDA graphs are not picklable: they are rebuilt on first use
        state = dict(self.__dict__)
        state["graph_cache"] = {}
        return state


def _capture_train_step(model, opt, sample, target):
    """Capture one whole training step as a CUDA graph; ``None`` (with a warning) if capture fails."""
    try:  # pragma: no cover - needs CUDA
        static_y = sample.clone()
        static_t = None if target is None else target.clone()
        saved = [p.detach().clone() for p in opt.param_groups[0]["params"]]
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):  # warm-up (required before capture)
                opt.zero_grad(set_to_none=True)
                loss = model.forward_loss(static_y, static_t)
                loss.backward()
                opt.step()
                model.renorm()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            static_loss = model.forward_loss(static_y, static_t)
            static_loss.backward()
            opt.step()
            model.renorm()
        # undo the warm-up steps: restore parameters and reset Adam's moments in place
        with torch.no_grad():
            for p, v in zip(opt.param_groups[0]["params"], saved):
                p.copy_(v)
            for st in opt.state.values():
                for v in st.values():
                    if isinstance(v, torch.Tensor):
                        v.zero_()

        def step(batch, tgt):
            static_y.copy_(batch)
            if static_t is not None:
                static_t.copy_(tgt)
            graph.replay()
            return static_loss.detach().clone()

        return step
    except Exception as exc:  # pragma: no cover - needs CUDA
        warnings.warn(f"CUDA graph capture of the CRsAE training step failed ({exc!r}); training eagerly",
                      RuntimeWarning, stacklevel=3)
        return None


@dataclass(kw_only=True)
class CRsAEResult(SolverResult):
    """Outcome of :func:`crsae_fit`: the trained network (``model``) and the protocol; ``history`` holds the
    mean minibatch ``loss`` and cumulative ``time_s`` per epoch."""

    model: object = None


def _resolve_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    return {"float32": torch.float32, "float64": torch.float64}[check_option(dtype, "dtype", ("float32", "float64"))]


def crsae_fit(signals, target=None, *, n_components: int = 8, atom_length=16, lam: float = 0.1, n_layers: int = 30,
              family: str = "gaussian", tied: bool = True, learn_lambda: bool = False, prior="l1_nonneg",
              n_trials: int = 1, step: float | None = None, max_iter: int = 10, batch_size: int = 32,
              lr: float = 1e-2, lr_decay: float = 1.0, tol: float = 1e-4, backprop: str = "full", init="data",
              residual: str = "linear", solver: str = "auto", cuda_graph="auto", random_state=None,
              callback=None, callback_every: int | None = None) -> CRsAEResult:
    r"""Train a CRsAE (equations in the module docstring) on batched signals ``(N, C, *signal)`` (a tensor).

    ``target`` (same layout) switches to supervised training, loss ``½ mean (μ̂ − target)²``. Epoch ``e``
    shuffles the signals, takes ``N // batch_size`` Adam steps (the ragged last batch is dropped: static shapes)
    and renormalises the filters after each; converged when the mean loss plateaus (module docstring).
    ``callback(epoch, model)`` after every epoch, and ``callback(epoch + b / n_batches, model)`` after every
    ``callback_every``-th minibatch. Parameters as in :class:`CRsAE`.
    """
    t0 = time.perf_counter()
    yb = check_tensor(signals, "signals")  # a tensor keeps its device and float dtype; NumPy → float64 (CPU)
    if target is not None:
        target = check_tensor(target, "target", device=yb.device, dtype=yb.dtype)
        if target.shape != yb.shape:
            raise ValueError(f"target must have the layout of signals: got {tuple(target.shape)} vs "
                             f"{tuple(yb.shape)}")
    fsize = atom_size(atom_length)
    n_components = check_int(n_components, "n_components", low=1)
    n_layers = check_int(n_layers, "n_layers", low=1)
    n_trials = check_int(n_trials, "n_trials", low=1)
    max_iter = check_int(max_iter, "max_iter", low=0)
    batch_size = check_int(batch_size, "batch_size", low=1)
    callback_every = check_int(callback_every, "callback_every", low=1, allow_none=True)
    lam = check_number(lam, "lam", low=0.0, low_inclusive=False)
    lr = check_number(lr, "lr", low=0.0, low_inclusive=False)
    lr_decay = check_number(lr_decay, "lr_decay", low=0.0, high=1.0, low_inclusive=False)
    tol = check_number(tol, "tol", low=0.0)
    step = check_number(step, "step", low=0.0, low_inclusive=False, allow_none=True)
    check_option(family, "family", FAMILIES)
    check_option(backprop, "backprop", ("full", "decoder"))
    check_option(residual, "residual", ("linear", "elu"))
    check_option(solver, "solver", SOLVERS)
    check_bool(tied, "tied")
    check_bool(learn_lambda, "learn_lambda")
    if yb.ndim != len(fsize) + 2:
        raise ValueError(f"signals must be batched (N, C, *signal) for {len(fsize)}-D atoms, got shape "
                         f"{tuple(yb.shape)}")
    check_lengths(tuple(yb.shape[2:]), fsize, "X")
    _check_counts(yb, family, n_trials, "X")
    dev, dtype = yb.device, yb.dtype
    rng = check_random_state(random_state)
    gen = torch.Generator().manual_seed(int(rng.integers(2**31 - 1)))
    H0 = init_atoms(yb, n_components, yb.shape[1], fsize, init, rng)
    model = _UnrolledModel(H0, yb, lam=float(lam), family=family, n_trials=n_trials, tied=tied,
                           learn_lambda=learn_lambda, prior=get_prior(prior), step=step, residual=residual,
                           n_layers=n_layers, backprop=backprop, solver=solver)
    if solver == "numba" and not model.compiled_applies(yb):
        raise ValueError("solver='numba' needs 1-D signals on the CPU, the Gaussian family, residual='linear' and "
                         "an 'l1' or 'l1_nonneg' prior; use solver='auto' or 'torch'")
    use_graph = dev.type == "cuda" and cuda_graph in ("auto", True)
    opt = torch.optim.Adam(model.parameters(learn_lambda), lr=float(lr), capturable=use_graph)
    N = yb.shape[0]
    B = min(batch_size, N)
    n_batches = N // B
    hist = History()
    status, epoch = "max_iter", 0
    step_fn = None
    if use_graph and max_iter > 0:
        step_fn = _capture_train_step(model, opt, yb[:B], None if target is None else target[:B])
    if step_fn is None:
        def step_fn(batch, tgt):
            opt.zero_grad(set_to_none=True)
            loss = model.forward_loss(batch, tgt)
            loss.backward()
            opt.step()
            model.renorm()
            return loss.detach()
    prev = None
    for epoch in range(1, max_iter + 1):
        perm = torch.randperm(N, generator=gen).to(dev)
        total = torch.zeros((), dtype=dtype, device=dev)
        for b in range(n_batches):
            idx = perm[b * B:(b + 1) * B]
            total = total + step_fn(yb[idx], None if target is None else target[idx])
            if callback is not None and callback_every is not None and b + 1 < n_batches \
                    and (b + 1) % callback_every == 0:
                callback(epoch - 1 + (b + 1) / n_batches, model)
        mean_loss = float(total) / n_batches
        if not math.isfinite(mean_loss):
            alpha = step if step is not None else "1/L (default)"
            raise RuntimeError(
                f"CRsAE training diverged at epoch {epoch - 1} (loss is {mean_loss}): the encoder step size "
                f"(step={alpha}) is likely too large for family={family!r}, or lam={lam} / lr={lr} are badly "
                "scaled for the data; lower step or lr, or rescale the signals")
        hist.append(loss=mean_loss, time_s=time.perf_counter() - t0)
        if callback is not None:
            callback(epoch - 1, model)
        for g in opt.param_groups:  # in place: a captured graph reads lr from the same tensor/float
            if isinstance(g["lr"], torch.Tensor):
                g["lr"].mul_(float(lr_decay))
            else:
                g["lr"] *= float(lr_decay)
        if prev is not None and abs(prev - mean_loss) <= tol * abs(mean_loss):
            status = "converged"
            break
        prev = mean_loss
    model.graph_cache = {}
    return CRsAEResult(model=model, status=status, n_iter=epoch, history=hist.as_dict(),
                       time_s=time.perf_counter() - t0)


class CRsAE(TransformerMixin, SolverMixin, RepresentationMixin, BaseEstimator):
    r"""Convolutional unrolled sparse auto-encoder (CRsAE) with Gaussian, Binomial or Poisson likelihood.

    A thin shell over :func:`crsae_fit` (the equations are in the module docstring).

    Parameters
    ----------
    n_components : int
        K filters.
    atom_length : int or (h, w)
        Filter length (1-D) or size (2-D); must fit inside the signals.
    lam : float
        λ > 0, the sparsity weight (the activation bias is ``λα``).
    n_layers : int
        T, the unrolled encoder iterations.
    family : ``"gaussian"``, ``"binomial"`` or ``"poisson"``
    tied : bool
        The encoder uses ``H^T`` of the decoder's ``H`` (weight tying); ``False`` learns a separate encoder
        filter bank, initialised to ``H``.
    learn_lambda : bool
        Also learn λ (through ``log λ``).
    n_channels : int
        Channels per filter.
    prior : str or Prior
        Prior on codes (default non-negative ℓ1: the shifted ReLU of the lecture).
    n_trials : int
        M for the Binomial family.
    step : float, optional
        Encoder step α (default: 1/(L × curvature), see the module docstring).
    max_iter : int
        Training epochs at most (``0`` keeps the initial filters: no training, no warning).
    batch_size, lr, lr_decay : Adam schedule; the learning rate is multiplied by ``lr_decay`` after every epoch.
    tol : float
        Loss-plateau tolerance of the stopping test (module docstring).
    backprop : ``"full"`` or ``"decoder"``
        ``"full"`` back-propagates through the T unrolled iterations (the lecture's training); ``"decoder"``
        treats the code ``x_T`` as a constant, so the filter gradient is that of the CDL objective at fixed
        codes (a stochastic alternating-minimisation step, often more stable).
    init : ``"data"`` (windows of the signals), ``"random"`` or an array of atoms.
    residual : ``"linear"`` (exact gradient) or ``"elu"`` (the lecture table's Poisson encoder
        ``S_b(x + α H^T ELU(ỹ))``, which bounds negative residuals by −1).
    solver : ``"auto"``, ``"numba"`` or ``"torch"``
        How an encoder that needs no gradient (``backprop="decoder"`` training and inference) runs:
        ``"numba"``, the compiled kernel of :mod:`simcode.sparse._conv_fista_kernel` (CPU, 1-D, Gaussian
        family, linear residual, ℓ1 or non-negative ℓ1 prior: the same T iterations and momenta, per signal in
        cache, sparse codes by the filters' Gram); ``"torch"``, the torch loop; ``"auto"``, the first where it
        applies.
    dtype : None, ``"float32"`` or ``"float64"``
        ``None``: float32 input stays float32, everything else float64.
    device : ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``
    random_state : None, int or Generator
    cuda_graph : ``"auto"`` (on CUDA), True or False.
    callback : callable ``(epoch, estimator)``, optional, after each epoch.
    callback_every : int, optional
        Also call ``callback(epoch + (b + 1) / n_batches, estimator)`` after every ``callback_every``-th
        minibatch (a float epoch), e.g. to track an error on a finer schedule than epochs.

    Attributes
    ----------
    atoms_ : learned unit-norm filters (channel axis dropped when ``n_channels == 1``).
    encoder_atoms_ : encoder filters (``atoms_`` when tied).
    lam_, bias_ : final λ and offset.
    module_ : the trained unrolled network (a ``torch.nn.Module``: ``H``, ``E``, ``log_lam``, ``forward_loss``).
    status_, converged_, n_iter_ (epochs run), history_ (``loss``, ``time_s`` per epoch).
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "atom_length": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "lam": [Interval(Real, 0, None, closed="neither")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "family": [StrOptions(set(FAMILIES))],
        "tied": ["boolean"],
        "learn_lambda": ["boolean"],
        "n_channels": [Interval(Integral, 1, None, closed="left")],
        "prior": [str, Prior],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "step": [Interval(Real, 0, None, closed="neither"), None],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "backprop": [StrOptions({"full", "decoder"})],
        "init": [StrOptions({"data", "random"}), "array-like"],
        "residual": [StrOptions({"linear", "elu"})],
        "solver": [StrOptions(set(SOLVERS))],
        "dtype": [None, StrOptions({"float32", "float64"}), torch.dtype],
        "device": [str],
        "random_state": RANDOM_STATE_CONSTRAINT,
        "cuda_graph": [StrOptions({"auto"}), "boolean"],
        "callback": [callable, None],
        "callback_every": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, n_components: int = 8, atom_length=16, lam: float = 0.1, n_layers: int = 30,
                 family: str = "gaussian", tied: bool = True, learn_lambda: bool = False, n_channels: int = 1, *,
                 prior="l1_nonneg", n_trials: int = 1, step: float | None = None, max_iter: int = 10,
                 batch_size: int = 32, lr: float = 1e-2, lr_decay: float = 1.0, tol: float = 1e-4,
                 backprop: str = "full", init="data", residual: str = "linear", solver: str = "auto", dtype=None,
                 device="auto", random_state=None, cuda_graph="auto", callback=None,
                 callback_every: int | None = None):
        self.n_components = n_components
        self.atom_length = atom_length
        self.lam = lam
        self.n_layers = n_layers
        self.family = family
        self.tied = tied
        self.learn_lambda = learn_lambda
        self.n_channels = n_channels
        self.prior = prior
        self.n_trials = n_trials
        self.step = step
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.lr_decay = lr_decay
        self.tol = tol
        self.backprop = backprop
        self.init = init
        self.residual = residual
        self.solver = solver
        self.dtype = dtype
        self.device = device
        self.random_state = random_state
        self.cuda_graph = cuda_graph
        self.callback = callback
        self.callback_every = callback_every

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.positive_only = self.family != "gaussian"
        return tags

    def _signals(self, X, *, reset):
        """``X`` validated and batched, (N, C, *signal), as a tensor on the resolved device and dtype; and whether
        ``X`` had no channel axis."""
        Xv, no_channel_axis = check_signals(self, X, atom_size(self.atom_length), self.n_channels, reset=reset,
                                             return_layout=True)
        dev = torch.device(resolve_device(self.device, X))
        t = check_tensor(Xv, "X")
        dtype = _resolve_dtype(self.dtype)
        return t.to(device=dev, dtype=dtype if dtype is not None else t.dtype), no_channel_axis

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, target=None):
        """Train on ``X`` (n_signals, length) or (n_signals, n_channels, length); 2-D filters: (n_signals,
        [n_channels,] H, W). Returns self.

        ``y`` is ignored (scikit-learn's transformer convention). ``target`` given (the layout of ``X``, e.g.
        clean images for noisy ``X``): supervised (discriminative) training of the same architecture, loss
        ``½ mean (μ̂ − target)²`` with ``μ̂`` the decoder's mean ``f⁻¹(H x_T + b)`` of ``X`` (the set-up of the
        Poisson denoising results of the exponential-family CRsAE, Tolooshams et al. 2020, summarised in 004
        "Auto-encoders for denoising Poisson images").
        """
        yb, _ = self._signals(X, reset=True)
        tb = None
        if target is not None:
            tb = check_tensor(target, "target").to(device=yb.device, dtype=yb.dtype)
            if tb.ndim == yb.ndim - 1:
                tb = tb.unsqueeze(1)
            if tb.shape != yb.shape:
                raise ValueError(f"target must have the layout of X: got {tuple(tb.shape)} vs {tuple(yb.shape)}")
        cb = None
        if self.callback is not None:
            def cb(epoch, model):
                self.module_ = model
                self.callback(epoch, self)
        res = crsae_fit(yb, tb, n_components=self.n_components, atom_length=self.atom_length, lam=self.lam,
                        n_layers=self.n_layers, family=self.family, tied=self.tied, learn_lambda=self.learn_lambda,
                        prior=self.prior, n_trials=self.n_trials, step=self.step, max_iter=self.max_iter,
                        batch_size=self.batch_size, lr=self.lr, lr_decay=self.lr_decay, tol=self.tol,
                        backprop=self.backprop, init=self.init, residual=self.residual, solver=self.solver,
                        cuda_graph=self.cuda_graph, random_state=self.random_state, callback=cb,
                        callback_every=self.callback_every)
        self.module_ = res.model
        if self.max_iter == 0:  # no training asked for: nothing to converge, nothing to warn about
            self.status_, self.converged_, self.n_iter_, self.history_ = "max_iter", False, 0, res.history
        else:
            self._record_result(res.status, res.n_iter, res.history,
                                detail=f"mean epoch loss still changing by more than tol={self.tol:g}")
        return self

    def _fitted_model(self):
        if not hasattr(self, "module_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first.")
        return self.module_

    def _encode(self, X):
        check_is_fitted(self)
        model = self._fitted_model()
        kind = ArrayKind.of(X)
        yb, no_channel_axis = self._signals(X, reset=False)
        yb = yb.to(device=model.H.device, dtype=model.H.dtype)
        _check_counts(yb, self.family, self.n_trials, "X")
        if self.solver == "numba" and not model.compiled_applies(yb):
            raise ValueError("solver='numba' needs 1-D signals on the CPU, the Gaussian family, residual='linear' "
                             "and an 'l1' or 'l1_nonneg' prior")
        x = model.encode_batches(yb, max(self.batch_size, 256), self.cuda_graph, self.solver)
        return model, yb, x, kind, no_channel_axis

    def transform(self, X):
        """Codes ``x_T`` of the encoder for ``X``, (n_signals, K, *code) (NumPy in → NumPy out)."""
        x, kind = self._encode(X)[2:4]
        return kind.wrap(x, keep_dtype=True)

    def predict(self, X):
        """The decoder's mean ``f^{-1}(H x_T + b)`` (the denoised signal; for Binomial, ``M·sigmoid``), in the
        layout of ``X``."""
        model, yb, x, kind, no_channel_axis = self._encode(X)
        mu = model.decoder_mean(yb, x)
        if no_channel_axis:
            mu = mu[:, 0]
        return kind.wrap(mu, keep_dtype=True)

    def representation(self, X, **metadata) -> Representation:
        """The codes of ``X`` flattened per signal, (n_signals, K · code_length), as a Representation."""
        Z = self.transform(X)
        return Representation(Z.reshape(Z.shape[0], -1),
                              metadata={"model": type(self).__name__, "code_shape": tuple(Z.shape[1:]), **metadata})

    @property
    def atoms_(self):
        h = self._fitted_model().H.detach().cpu().numpy()
        return h[:, 0] if self.n_channels == 1 else h

    @property
    def encoder_atoms_(self):
        m = self._fitted_model()
        h = (m.H if m.E is None else m.E).detach().cpu().numpy()
        return h[:, 0] if self.n_channels == 1 else h

    @property
    def lam_(self) -> float:
        return float(torch.exp(self._fitted_model().log_lam.detach()))

    @property
    def bias_(self):
        m = self._fitted_model()
        return None if m.bias is None else m.bias.detach().cpu().numpy()

