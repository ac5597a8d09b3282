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
every step. Our ``n_atoms`` K is the lecture's ``C``; our ``atom_length`` its filter length (``K`` in the
CRsAE paper). Encoder iterations use FISTA momentum (the "F" of CRsAE); ``α = 1/L`` with ``L`` a bound on
``‖H‖²`` times the curvature of the family (1 for Gaussian, 1/4 for the scaled Binomial, the 99th
percentile of the counts for Poisson), unless ``step`` is given.

The exponential in the Poisson family is numerically safe: ``exp(η)`` for ``η ≤ 15``, continued linearly
above (so one bad step cannot overflow). On CUDA the training step (encoder, decoder, loss, backward, Adam,
renormalisation) and the inference encoder are captured once as CUDA graphs and replayed, which removes the
kernel-launch overhead of the unrolled loop; if capture fails the estimator falls back to eager mode with a
warning.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from simcode._utils import check_positive, check_random_state

from ._conv_ops import ConvOperator, check_lengths, lipschitz
from .conv import _prep_signals
from .priors import get_prior

__all__ = ["CRsAE", "FAMILIES"]

FAMILIES = ("gaussian", "binomial", "poisson")
_EXP_CAP = 15.0


def safe_exp(eta: torch.Tensor) -> torch.Tensor:
    """``exp(η)`` for ``η ≤ 15``, ``e^15 (1 + η − 15)`` above: C¹, monotone, no overflow."""
    cap = torch.full_like(eta, _EXP_CAP)
    e = torch.exp(torch.minimum(eta, cap))
    return torch.where(eta > cap, e * (1.0 + eta - cap), e)


class CRsAE:
    r"""Convolutional unrolled sparse auto-encoder (CRsAE) with Gaussian, Binomial or Poisson likelihood.

    Parameters
    ----------
    n_atoms : K filters.
    atom_length : filter length (int, 1-D) or ``(h, w)`` (2-D).
    lam : λ, the sparsity weight (the activation bias is ``λα``).
    n_iter : T, unrolled encoder iterations.
    family : ``"gaussian"``, ``"binomial"`` or ``"poisson"``.
    tied : encoder uses ``H^T`` of the decoder's ``H`` (weight tying); ``False`` learns a separate encoder
        filter bank, initialised to ``H``.
    learn_lambda : also learn λ (through ``log λ``).
    n_channels : channels per filter.
    prior : prior on codes (default non-negative ℓ1: the shifted ReLU of the lecture).
    n_trials : M for the Binomial family.
    step : encoder step α (default: 1/(L × curvature), see module docstring).
    n_epochs, batch_size, lr : Adam training schedule (``n_epochs=0`` keeps the initial filters).
    lr_decay : the learning rate is multiplied by this factor after every epoch.
    backprop : ``"full"`` back-propagates through the T unrolled iterations (the lecture's training);
        ``"decoder"`` treats the code ``x_T`` as a constant, so the filter gradient is that of the CDL
        objective at fixed codes (a stochastic alternating-minimisation step, often more stable).
    init : ``"data"`` (random windows of the signals), ``"random"`` or an array of atoms.
    residual : ``"linear"`` (exact gradient) or ``"elu"`` (the lecture table's Poisson encoder
        ``S_b(x + α H^T ELU(ỹ))``, which bounds negative residuals by −1).
    dtype : torch dtype (default float64 on CPU, float32 on CUDA).
    device : ``None``/``"cpu"``, ``"cuda"`` or ``"auto"``.
    cuda_graph : ``"auto"`` (on CUDA), ``True`` or ``False``.
    callback : ``callback(epoch, estimator)`` after each epoch.
    callback_every : also call ``callback(epoch + (b + 1) / n_batches, estimator)`` after every
        ``callback_every``-th minibatch (a float epoch), e.g. to track an error on a finer schedule than epochs.
    kernel : ``"auto"`` runs an encoder that needs no gradient (``backprop="decoder"`` training and inference)
        with the compiled kernel of :mod:`simcode.sparse._conv_numba` where it applies (CPU, 1-D, Gaussian
        family, linear residual, ℓ1 or non-negative ℓ1 prior): the same T iterations and momenta, computed
        per signal in cache, sparse codes by the filters' Gram; ``"torch"`` always uses the torch loop.

    Attributes
    ----------
    atoms_ : learned unit-norm filters (channel axis dropped when ``n_channels == 1``).
    encoder_atoms_ : encoder filters (``atoms_`` when tied).
    lam_, bias_ : final λ and offset; loss_history_ : mean training loss per epoch; time_ : cumulative
    seconds per epoch; n_iter_ : epochs run.
    """

    def __init__(self, n_atoms: int, atom_length, lam: float = 0.1, n_iter: int = 30, family: str = "gaussian",
                 tied: bool = True, learn_lambda: bool = False, n_channels: int = 1, *, prior="l1_nonneg",
                 n_trials: int = 1, step: float | None = None, n_epochs: int = 10, batch_size: int = 32,
                 lr: float = 1e-2, lr_decay: float = 1.0, backprop: str = "full", init="data", residual: str = "linear",
                 dtype=None, device=None, random_state=None, cuda_graph="auto", callback=None,
                 callback_every: int | None = None, kernel: str = "auto"):
        self.n_atoms = n_atoms
        self.atom_length = atom_length
        self.lam = lam
        self.n_iter = n_iter
        self.family = family
        self.tied = tied
        self.learn_lambda = learn_lambda
        self.n_channels = n_channels
        self.prior = prior
        self.n_trials = n_trials
        self.step = step
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_decay = lr_decay
        self.backprop = backprop
        self.init = init
        self.residual = residual
        self.dtype = dtype
        self.device = device
        self.random_state = random_state
        self.cuda_graph = cuda_graph
        self.callback = callback
        self.callback_every = callback_every
        self.kernel = kernel

    # ------------------------------------------------------------------------------------------------------
    # validation

    def _fsize(self):
        from .conv import ConvDictionaryLearning

        return ConvDictionaryLearning(1, self.atom_length)._fsize()

    def _validate(self):
        for nm in ("n_atoms", "n_iter", "n_channels", "batch_size", "n_trials"):
            v = getattr(self, nm)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{nm} must be a positive integer, got {v!r}")
        if not isinstance(self.n_epochs, numbers.Integral) or self.n_epochs < 0:
            raise ValueError(f"n_epochs must be a non-negative integer, got {self.n_epochs!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.backprop not in ("full", "decoder"):
            raise ValueError(f"backprop must be 'full' or 'decoder', got {self.backprop!r}")
        if self.kernel not in ("auto", "torch"):
            raise ValueError(f"kernel must be 'auto' or 'torch', got {self.kernel!r}")
        if self.callback_every is not None and (not isinstance(self.callback_every, numbers.Integral)
                                                or isinstance(self.callback_every, bool) or self.callback_every < 1):
            raise ValueError(f"callback_every must be None or a positive integer, got {self.callback_every!r}")
        if self.residual not in ("linear", "elu"):
            raise ValueError(f"residual must be 'linear' or 'elu', got {self.residual!r}")
        check_positive(self.lam, "lam")
        check_positive(self.lr, "lr")
        if not (0 < float(self.lr_decay) <= 1):
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay!r}")
        if self.step is not None:
            check_positive(self.step, "step")
        if self.cuda_graph not in ("auto", True, False):
            raise ValueError(f"cuda_graph must be 'auto', True or False, got {self.cuda_graph!r}")
        return self._fsize()

    def _check_counts(self, y: torch.Tensor, name: str):
        if self.family == "gaussian":
            return
        if bool((y < 0).any()) or not bool((y == torch.round(y)).all()):
            raise ValueError(f"{name} must hold non-negative integer counts for family={self.family!r} "
                             "(got non-integer or negative values)")
        if self.family == "binomial" and bool((y > self.n_trials).any()):
            raise ValueError(f"{name} has counts above n_trials={self.n_trials} for the binomial family")

    def _prep(self, signals, name="signals"):
        sdim = len(self._fsize())
        dev = self.device
        y, batched, was_tensor, dev, dtype = _prep_signals(signals, sdim, self.n_channels, dev, name)
        if self.dtype is not None:
            y = y.to(self.dtype)
        check_lengths(y.shape[2:], self._fsize(), name)
        self._check_counts(y, name)
        return y, batched, was_tensor

    # ------------------------------------------------------------------------------------------------------
    # model

    def _momenta(self):
        t, out = 1.0, []
        for _ in range(self.n_iter):
            t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
            out.append((t - 1) / t_new)
            t = t_new
        return out

    def _mean(self, eta):
        if self.family == "gaussian":
            return eta
        if self.family == "binomial":
            return torch.sigmoid(eta)  # per trial; the residual uses y / M
        return safe_exp(eta)

    def _encode(self, y, H, E, lam, bias, alpha, momenta):
        """T unrolled FISTA iterations (differentiable). y: (N, C, *s)."""
        dec = ConvOperator(H, tuple(y.shape[2:]), self._method)
        enc = dec if E is None else ConvOperator(E, tuple(y.shape[2:]), self._method)
        target = y / self.n_trials if self.family == "binomial" else y
        x = torch.zeros((y.shape[0], H.shape[0]) + dec.code_shape, dtype=y.dtype, device=y.device)
        z = x
        tau = lam * alpha
        for beta in momenta:
            eta = dec.synth(z)
            if bias is not None:
                eta = eta + bias
            res = target - self._mean(eta)
            if self.residual == "elu":
                res = F.elu(res)
            x_new = self._prior._prox(z + alpha * enc.adjoint(res), tau)
            z = x_new + beta * (x_new - x)
            x = x_new
        return x, dec

    def _use_kernel(self, y):
        return (self.kernel == "auto" and y.device.type == "cpu" and y.ndim == 3 and self.family == "gaussian"
                and y.dtype in (torch.float32, torch.float64)
                and self.residual == "linear" and type(self._prior).__name__ in ("L1", "L1NonNeg")
                and self._prior.name in ("l1", "l1_nonneg"))

    def _encode_nograd(self, y, H, E, lam, bias, alpha):
        """The encoder's codes without a graph: the compiled kernel where it applies, else the torch loop."""
        with torch.no_grad():
            if self._use_kernel(y):
                from ._conv_numba import fista_1d

                a = float(alpha)
                x = fista_1d(y.numpy(), H.numpy(), a, float(lam) * a, self.n_iter,
                             nonneg=self._prior.name == "l1_nonneg", betas=np.asarray(self._mom),
                             enc=None if E is None else E.numpy())
                return torch.from_numpy(x)
            return self._encode(y, H, E, lam, bias, alpha, self._mom)[0]

    def _nll(self, y, eta):
        """Mean negative log-likelihood per signal sample (constants dropped)."""
        if self.family == "gaussian":
            return 0.5 * ((y - eta) ** 2).mean()
        if self.family == "binomial":
            return (self.n_trials * F.softplus(eta) - y * eta).mean()
        return (safe_exp(eta) - y * eta).mean()

    def _forward_loss(self, y, target=None):
        lam = torch.exp(self._log_lam)
        alpha = self._alpha()
        if self.backprop == "decoder":  # codes are constants: no graph through the encoder
            bias = self._bias_t()
            x = self._encode_nograd(y, self._H.detach(), None if self.tied else self._E.detach(), lam.detach(),
                                    None if bias is None else bias.detach(), alpha)
            dec = ConvOperator(self._H, tuple(y.shape[2:]), self._method)
        else:
            x, dec = self._encode(y, self._H, None if self.tied else self._E, lam, self._bias_t(), alpha,
                                  self._mom)
        eta = dec.synth(x)
        if self._bias is not None:
            eta = eta + self._bias_t()
        if target is not None:  # supervised (discriminative) training: squared error of the decoder's mean
            mu = self._mean(eta) * (self.n_trials if self.family == "binomial" else 1)
            return 0.5 * ((mu - target) ** 2).mean()
        return self._nll(y, eta)

    def _bias_t(self):
        if self._bias is None:
            return None
        return self._bias.reshape((1, -1) + (1,) * (self._H.ndim - 2))

    def _alpha(self):
        if self.step is not None:
            return float(self.step)
        with torch.no_grad():
            return 1.0 / (lipschitz(self._H.detach()) * self._curv)

    def _renorm(self):
        with torch.no_grad():
            K = self._H.shape[0]
            nrm = self._H.reshape(K, -1).norm(dim=1).clamp_min(1e-12)
            self._H.div_(nrm.reshape((K,) + (1,) * (self._H.ndim - 1)))

    # ------------------------------------------------------------------------------------------------------
    # fit

    def fit(self, signals, y=None):
        """Train the auto-encoder on ``signals`` (layouts as in :mod:`simcode.sparse.conv`). Returns self.

        ``y=None``: unsupervised, the family's negative log-likelihood of ``signals`` (the lecture's training).
        ``y`` given (same layout as ``signals``, e.g. clean images for noisy ``signals``): supervised
        (discriminative) training of the same architecture, loss ``½ mean (μ̂ − y)²`` with ``μ̂`` the
        decoder's mean ``f⁻¹(H x_T + b)`` of ``signals`` (the set-up of the Poisson denoising results of the
        exponential-family CRsAE, Tolooshams et al. 2020, summarised in 004 "Auto-encoders for denoising
        Poisson images").
        """
        fsize = self._validate()
        self._prior = get_prior(self.prior)
        yb, _, _ = self._prep(signals)
        dev, dtype = yb.device, yb.dtype
        tb = None
        if y is not None:
            tb, _, _, _, _ = _prep_signals(y, len(fsize), self.n_channels, dev, "y")
            tb = tb.to(device=dev, dtype=dtype)
            if tb.shape != yb.shape:
                raise ValueError(f"y (targets) must have the layout of signals: got {tuple(tb.shape)} vs "
                                 f"{tuple(yb.shape)}")
        rng = check_random_state(self.random_state)
        gen = torch.Generator().manual_seed(int(rng.integers(2**31 - 1)))
        from .conv import ConvDictionaryLearning

        helper = ConvDictionaryLearning(self.n_atoms, self.atom_length, n_channels=self.n_channels, init=self.init)
        H0 = helper._init_atoms(yb, fsize, rng)
        self._H = H0.clone().requires_grad_(True)
        self._E = H0.clone().requires_grad_(True) if not self.tied else None
        self._log_lam = torch.tensor(math.log(float(self.lam)), dtype=dtype, device=dev,
                                     requires_grad=bool(self.learn_lambda))
        C = yb.shape[1]
        dims = (0,) + tuple(range(2, yb.ndim))
        if self.family == "gaussian":
            self._bias = None
            self._curv = 1.0
        elif self.family == "binomial":
            p = (yb.mean(dim=dims) / self.n_trials).clamp(1e-3, 1 - 1e-3)
            self._bias = torch.log(p / (1 - p)).reshape(C).clone().requires_grad_(True)
            self._curv = 0.25
        else:
            self._bias = torch.log(yb.mean(dim=dims).clamp_min(1e-3)).reshape(C).clone().requires_grad_(True)
            self._curv = max(1.0, float(torch.quantile(yb.reshape(-1)[:1_000_000].float(), 0.99)))
        self._mom = self._momenta()
        self._method = "auto"
        params = [self._H] + ([self._E] if self._E is not None else [])
        params += [self._log_lam] if self.learn_lambda else []
        params += [self._bias] if self._bias is not None else []
        use_graph = dev.type == "cuda" and self.cuda_graph in ("auto", True)
        opt = torch.optim.Adam(params, lr=float(self.lr), capturable=use_graph)
        N = yb.shape[0]
        B = min(self.batch_size, N)
        n_batches = N // B  # drop the ragged last batch (static shapes; every signal is seen across epochs)
        self.loss_history_, self.time_ = [], []
        self.n_iter_ = 0
        step_fn = None
        if use_graph and self.n_epochs > 0:
            step_fn = self._capture_train_step(opt, yb[:B], None if tb is None else tb[:B])
        if step_fn is None:
            def step_fn(batch, target):
                opt.zero_grad(set_to_none=True)
                loss = self._forward_loss(batch, target)
                loss.backward()
                opt.step()
                self._renorm()
                return loss.detach()
        t0 = time.perf_counter()
        for epoch in range(self.n_epochs):
            perm = torch.randperm(N, generator=gen).to(dev)
            total = torch.zeros((), dtype=dtype, device=dev)
            for b in range(n_batches):
                idx = perm[b * B:(b + 1) * B]
                total = total + step_fn(yb[idx], None if tb is None else tb[idx])
                if (self.callback is not None and self.callback_every is not None and b + 1 < n_batches
                        and (b + 1) % self.callback_every == 0):
                    self.callback(epoch + (b + 1) / n_batches, self)
            mean_loss = float(total) / n_batches
            if not math.isfinite(mean_loss):
                alpha = self.step if self.step is not None else "1/L (default)"
                raise RuntimeError(
                    f"CRsAE training diverged at epoch {epoch} (loss is {mean_loss}): the encoder step size "
                    f"(step={alpha}) is likely too large for family={self.family!r}, or lam={self.lam} / "
                    f"lr={self.lr} are badly scaled for the data; lower step or lr, or rescale the signals")
            self.loss_history_.append(mean_loss)
            self.time_.append(time.perf_counter() - t0)
            self.n_iter_ = epoch + 1
            if self.callback is not None:
                self.callback(epoch, self)
            for g in opt.param_groups:  # in place: a captured graph reads lr from the same tensor/float
                if isinstance(g["lr"], torch.Tensor):
                    g["lr"].mul_(float(self.lr_decay))
                else:
                    g["lr"] *= float(self.lr_decay)
        self._graph_cache = {}
        return self

    def _capture_train_step(self, opt, sample, target):
        """Capture one whole training step as a CUDA graph; ``None`` (with a warning) if capture fails."""
        try:
            static_y = sample.clone()
            static_t = None if target is None else target.clone()
            saved = [p.detach().clone() for p in opt.param_groups[0]["params"]]
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):  # warm-up (required before capture)
                    opt.zero_grad(set_to_none=True)
                    loss = self._forward_loss(static_y, static_t)
                    loss.backward()
                    opt.step()
                    self._renorm()
            torch.cuda.current_stream().wait_stream(s)
            graph = torch.cuda.CUDAGraph()
            opt.zero_grad(set_to_none=True)
            with torch.cuda.graph(graph):
                static_loss = self._forward_loss(static_y, static_t)
                static_loss.backward()
                opt.step()
                self._renorm()
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

    # ------------------------------------------------------------------------------------------------------
    # inference

    def _check_fitted(self):
        if not hasattr(self, "_H"):
            raise ValueError("this CRsAE is not fitted yet; call fit first")

    def _encode_batches(self, yb, batch_size):
        lam = torch.exp(self._log_lam.detach())
        H = self._H.detach()
        E = None if self.tied else self._E.detach()
        bias = None if self._bias is None else self._bias.detach().reshape((1, -1) + (1,) * (H.ndim - 2))
        alpha = self._alpha()
        outs = []
        with torch.no_grad():
            for s in range(0, yb.shape[0], batch_size):
                yy = yb[s:s + batch_size]
                fn = self._graphed_encoder(yy, H, E, lam, bias, alpha, batch_size)
                outs.append(fn(yy))
        return torch.cat(outs)

    def _graphed_encoder(self, yy, H, E, lam, bias, alpha, batch_size):
        def eager(batch):
            return self._encode_nograd(batch, H, E, lam, bias, alpha)

        use = yy.is_cuda and self.cuda_graph in ("auto", True) and yy.shape[0] == batch_size
        if not use:
            return eager
        key = tuple(yy.shape)
        cache = getattr(self, "_graph_cache", {})
        self._graph_cache = cache
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

    def transform(self, signals, batch_size: int | None = None):
        """Codes ``x_T`` of the encoder for ``signals`` (NumPy in → NumPy out)."""
        self._check_fitted()
        yb, batched, was_tensor = self._prep(signals)
        yb = yb.to(device=self._H.device, dtype=self._H.dtype)
        x = self._encode_batches(yb, batch_size or max(self.batch_size, 256))
        if not batched:
            x = x[0]
        return x if was_tensor else x.cpu().numpy()

    def predict(self, signals, batch_size: int | None = None):
        """The decoder's mean ``f^{-1}(H x_T + b)`` (the denoised signal; for Binomial, ``M·sigmoid``)."""
        self._check_fitted()
        yb, batched, was_tensor = self._prep(signals)
        yb = yb.to(device=self._H.device, dtype=self._H.dtype)
        x = self._encode_batches(yb, batch_size or max(self.batch_size, 256))
        with torch.no_grad():
            eta = ConvOperator(self._H.detach(), tuple(yb.shape[2:]), self._method).synth(x)
            if self._bias is not None:
                eta = eta + self._bias.detach().reshape((1, -1) + (1,) * (yb.ndim - 2))
            mu = self._mean(eta) * (self.n_trials if self.family == "binomial" else 1)
        if self.n_channels == 1:
            mu = mu[:, 0]
        if not batched:
            mu = mu[0]
        return mu if was_tensor else mu.cpu().numpy()

    @property
    def atoms_(self):
        self._check_fitted()
        h = self._H.detach().cpu().numpy()
        return h[:, 0] if self.n_channels == 1 else h

    @property
    def encoder_atoms_(self):
        self._check_fitted()
        h = (self._H if self.tied else self._E).detach().cpu().numpy()
        return h[:, 0] if self.n_channels == 1 else h

    @property
    def lam_(self) -> float:
        self._check_fitted()
        return float(torch.exp(self._log_lam.detach()))

    @property
    def bias_(self):
        self._check_fitted()
        return None if self._bias is None else self._bias.detach().cpu().numpy()
