r"""Dictionary learning (batch alternating minimisation and online), a scikit-learn estimator.

Objective (KSM paper 002, problem P1, with samples in rows: their :math:`X` (N×T) is our ``X.T``, their
:math:`A` (N×K) our ``components_.T``, their :math:`Z` (K×T) our codes ``.T``):

.. math::  F(D, Z) = \frac1n\sum_{i=1}^n \Big[\tfrac12\|x_i - z_iD\|_2^2 + \lambda\,g(z_i)\Big] + \frac\omega2\|D\|_F^2
           \quad\text{(``constraint="ridge"``)}

or the same without the ridge term and with unit-norm atoms :math:`\|d_k\|_2 \le 1` (``constraint="unit_norm"``,
lecture 004 "dictionary update step", :math:`\|h_c\|_2 \le 1`). ``g`` is any prior of
:mod:`simcode.sparse.priors`.

Dictionary step from the sufficient statistics :math:`A = Z^\top Z/n`, :math:`B = Z^\top X/n`: for the ridge
constraint the exact minimiser :math:`D = (A + \omega I)^{-1}B` (002 Appendix A, :math:`A^* = \frac{XZ^\top}{T}
(\frac{ZZ^\top}{T} + \omega I)^{-1}`); for unit-norm atoms exact block-coordinate minimisation over atoms,
:math:`d_k \leftarrow \Pi_{\|\cdot\|\le1}\big(d_k + (B_k - A_kD)/A_{kk}\big)` (Mairal et al. 2010, Alg. 2).
Codes: :func:`simcode.sparse.fista.active_set` for ℓ1 / ℓ1 ≥ 0 (certified; compiled descent or LARS on CPU),
:func:`simcode.sparse.fista.fista`
for other priors, warm-started; a sample keeps its previous code if the new one is not
better, so in batch mode :math:`F` never increases.

Online mode (Mairal, Bach, Ponce & Sapiro 2010, "Online learning for matrix factorization and sparse
coding", Alg. 1): per mini-batch of size η, :math:`A \leftarrow \beta A + (1-\beta)Z_b^\top Z_b/\eta`,
:math:`B \leftarrow \beta B + (1-\beta)Z_b^\top X_b/\eta` with :math:`\beta = (n_{t-1}/n_t)^{1+\rho}`, :math:`n_t`
the number of samples seen (ρ = ``forget_rate``; ρ = 0 makes A, B the exact running means whatever the batch
sizes), then the same dictionary step. Atoms whose usage :math:`A_{kk}` vanishes are re-initialised from the
worst-reconstructed samples.
"""

from __future__ import annotations

import contextlib

import math
import numbers
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from .._utils import check_random_state, resolve_device
from ._sc_backend import back
from .fista import _to_tensor, active_set, fista, lipschitz_constant
from .priors import L1, L1NonNeg, get_prior

__all__ = ["DictionaryLearning", "match_atoms"]


def match_atoms(D_true, D_est, threshold: float = 0.99):
    """Hungarian matching of atoms by |cosine|: ``(n_recovered, cosines)``.

    ``cosines[k]`` is the |cos| between true atom ``k`` and its matched estimate (0 if unmatched, when
    there are fewer estimates); ``n_recovered`` counts ``cosines > threshold``.
    """
    from scipy.optimize import linear_sum_assignment

    A = np.asarray(D_true.detach().cpu() if isinstance(D_true, torch.Tensor) else D_true, dtype=np.float64)
    B = np.asarray(D_est.detach().cpu() if isinstance(D_est, torch.Tensor) else D_est, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError(f"D_true and D_est must be 2-D with the same number of features, got {A.shape}, {B.shape}")
    An = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-300)
    Bn = B / np.maximum(np.linalg.norm(B, axis=1, keepdims=True), 1e-300)
    C = np.abs(An @ Bn.T)
    r, c = linear_sum_assignment(-C)
    cos = np.zeros(A.shape[0])
    cos[r] = C[r, c]
    return int(np.sum(cos > threshold)), cos


@contextlib.contextmanager
def _serial_small_batches(device, batch_size, threshold=4096):
    """Run small CPU minibatches on one thread (torch and numba), restoring the settings afterwards.

    Measured (20,000 8×8 patches, K = 128, batches of 256, 2 cores): one online epoch takes 1.2 s on one
    thread but 2.7 s with torch on two (its worker threads spin between the small products and take the core
    from the compiled coder) and 1.7 s with the coder's numba threads on two.
    """
    if torch.device(device).type != "cpu" or batch_size > threshold:
        yield
        return
    import numba

    t_old, n_old = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(t_old)
        numba.set_num_threads(n_old)


class DictionaryLearning(TransformerMixin, BaseEstimator):
    """Sparse dictionary learning: ``X ≈ codes @ components_`` with a prior on the codes.

    Parameters
    ----------
    n_components : int
        Number of atoms K.
    lam : float
        λ ≥ 0, weight of the prior (on the per-sample scale ½‖x − zD‖² + λ g(z)).
    prior : str or Prior
        Any prior of :mod:`simcode.sparse.priors` (default ``"l1"``).
    constraint : {"unit_norm", "ridge"}
        ‖d_k‖ ≤ 1, or the ridge penalty ω/2 ‖D‖²_F of 002's P1.
    omega : float
        ω for ``constraint="ridge"``.
    method : {"batch", "online"}
        Alternating minimisation over the whole data, or Mairal et al.'s online algorithm.
    max_iter : int
        Outer iterations (batch) or epochs (online).
    tol : float
        Batch: stop when the relative decrease of the objective is below ``tol``.
    batch_size : int
        Online mini-batch size.
    forget_rate : float
        ρ ≥ 0 of the online sufficient statistics: the past is down-weighted by (n_{t-1}/n_t)^(1+ρ) at each
        mini-batch (0: exact running mean over every sample seen; the default 10 forgets the codes computed
        with early, poor dictionaries — on 002's synthetic set-up ρ = 0 recovers 8/16 atoms in 10 epochs,
        ρ = 10 all 16).
    dict_init : array (n_components, n_features), optional
        Initial dictionary; default: randomly chosen data samples, normalised.
    coding_tol, coding_max_iter : float, int
        Tolerance and FISTA iteration cap of each code step (active-set solver for ``l1``/``l1_nonneg``,
        FISTA otherwise).
    dict_sweeps : int, optional
        Block-coordinate sweeps per unit-norm dictionary step (default 5; Mairal et al. use 1 warm-started
        sweep online, which on 002's synthetic set-up recovered 14/16 atoms in 10 epochs where 5 sweeps
        recovered 16/16).
    dead_atom_tol : float
        An atom is dead when its usage A_kk ≤ dead_atom_tol × mean usage; it is re-initialised.
    random_state : None, int or Generator
    device : None, "auto", "cpu" or "cuda[:i]"
        Where to compute (default: the input tensor's device, CPU for NumPy).
    dtype : None, torch.float32 or torch.float64
    verbose : bool
    callback : callable, optional
        Called as ``callback(iteration, components, objective)`` after each outer iteration (batch; objective
        is F) or epoch (online; objective is None), with ``components`` as NumPy.

    Attributes
    ----------
    components_ : (n_components, n_features) — NumPy, or a tensor when fitted on tensors
    n_iter_ : int
        Outer iterations (batch), epochs (online fit) or mini-batch steps (partial_fit) done.
    objective_ : list of float
        Batch: F after each outer iteration (index 0: at the initial dictionary with its optimal codes).
    n_dead_reinit_ : int
        Atoms re-initialised.
    codes_ : (n_samples, n_components)
        Batch mode: the codes of the training data at the end.
    """

    def __init__(self, n_components=8, *, lam=1.0, prior="l1", constraint="unit_norm", omega=1e-4,
                 method="batch", max_iter=100, tol=1e-6, batch_size=256, forget_rate=10.0, dict_init=None,
                 coding_tol=1e-6, coding_max_iter=1000, dict_sweeps=None, dead_atom_tol=1e-8, random_state=None,
                 device=None, dtype=None, verbose=False, callback=None):
        self.n_components = n_components
        self.lam = lam
        self.prior = prior
        self.constraint = constraint
        self.omega = omega
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.forget_rate = forget_rate
        self.dict_init = dict_init
        self.coding_tol = coding_tol
        self.coding_max_iter = coding_max_iter
        self.dict_sweeps = dict_sweeps
        self.dead_atom_tol = dead_atom_tol
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ validation / setup
    def _check_params(self):
        K = self.n_components
        if not isinstance(K, numbers.Integral) or isinstance(K, bool) or K < 1:
            raise ValueError(f"n_components must be an integer >= 1, got {K!r}")
        lam = float(self.lam) if isinstance(self.lam, numbers.Real) else math.nan
        if not math.isfinite(lam) or lam < 0:
            raise ValueError(f"lam must be a finite number >= 0, got {self.lam!r}")
        if self.constraint not in ("unit_norm", "ridge"):
            raise ValueError(f"constraint must be 'unit_norm' or 'ridge', got {self.constraint!r}")
        if self.constraint == "ridge":
            om = float(self.omega)
            if not math.isfinite(om) or om <= 0:
                raise ValueError(f"omega must be > 0 for constraint='ridge', got {self.omega!r}")
        if self.method not in ("batch", "online"):
            raise ValueError(f"method must be 'batch' or 'online', got {self.method!r}")
        for name in ("max_iter", "batch_size", "coding_max_iter", "dict_sweeps"):
            v = getattr(self, name)
            if v is None and name == "dict_sweeps":
                continue
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        for name in ("tol", "forget_rate", "coding_tol", "dead_atom_tol"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        return get_prior(self.prior), lam

    def _data(self, X):
        torch_in = isinstance(X, torch.Tensor)
        dtype = self.dtype
        if dtype is not None:
            dtype = {"float32": torch.float32, "float64": torch.float64, np.float32: torch.float32,
                     np.float64: torch.float64}.get(dtype, dtype)
            if dtype not in (torch.float32, torch.float64):
                raise TypeError(f"dtype must be float32 or float64, got {self.dtype!r}")
        device = resolve_device(self.device) if self.device is not None else (X.device if torch_in else None)
        Xt = _to_tensor(X, "X", device, dtype)
        if Xt.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(Xt.shape)}")
        if Xt.shape[0] == 0:
            raise ValueError("X is empty (empty batch): it must have at least one sample")
        if Xt.shape[1] == 0:
            raise ValueError("X must have at least one feature")
        if not bool(torch.isfinite(Xt).all()):
            raise ValueError("X contains NaN or infinite values")
        return Xt, not torch_in

    def _init_dict(self, Xt, rng):
        K = self.n_components
        n, p = Xt.shape
        if self.dict_init is not None:
            D = _to_tensor(self.dict_init, "dict_init", Xt.device, Xt.dtype).clone()
            if tuple(D.shape) != (K, p):
                raise ValueError(f"dict_init must have shape ({K}, {p}), got {tuple(D.shape)}")
            if not bool(torch.isfinite(D).all()):
                raise ValueError("dict_init contains NaN or infinite values")
        else:
            idx = rng.choice(n, size=K, replace=K > n)
            D = Xt[torch.as_tensor(idx, device=Xt.device)].clone()
            D = D + 1e-3 * torch.as_tensor(rng.standard_normal((K, p)), dtype=Xt.dtype, device=Xt.device) * \
                (D.norm(dim=1, keepdim=True).mean() + 1e-12)
        if self.constraint == "unit_norm":
            norms = D.norm(dim=1, keepdim=True)
            zero = norms[:, 0] == 0
            if bool(zero.any()):
                D[zero] = torch.as_tensor(rng.standard_normal((int(zero.sum()), p)), dtype=Xt.dtype, device=Xt.device)
                norms = D.norm(dim=1, keepdim=True)
            D = D / norms
        return D

    # ------------------------------------------------------------------ steps
    def _code(self, Xt, D, prior, lam, init=None):
        import warnings

        from .._utils import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if isinstance(prior, (L1, L1NonNeg)):
                # on CPU, the compiled solver chosen by active_set's pilot is reused for the next 16 calls
                # (minibatches): the pilot would otherwise cost up to a quarter of each small batch
                n_calls = getattr(self, "_coding_calls", 0)
                solver = getattr(self, "_coding_solver", "auto") if n_calls % 16 else "auto"
                res = active_set(Xt, D, lam, prior, init=init, tol=self.coding_tol,
                                 fallback_max_iter=self.coding_max_iter, solver=solver)
                self._coding_calls = n_calls + 1
                self._coding_solver = res.solver if res.solver in ("cd", "lars") else "auto"
            else:
                res = fista(Xt, D, lam, prior, init=init, tol=self.coding_tol, max_iter=self.coding_max_iter,
                            L=max(lipschitz_constant(D), 1e-12))
        return res.codes, res.objective

    def _dict_step(self, D, A, B):
        if self.constraint == "ridge":
            K = A.shape[0]
            M = A + float(self.omega) * torch.eye(K, dtype=A.dtype, device=A.device)
            return torch.linalg.solve(M, B)
        sweeps = self.dict_sweeps if self.dict_sweeps is not None else 5
        if D.device.type == "cpu":
            # compiled sweeps (the per-atom torch loop below costs ~10 small kernel launches per atom)
            from ._sc_numba import dict_bcd_unit_norm

            Dn = D.detach().to(torch.float64).numpy().copy()
            dict_bcd_unit_norm(Dn, A.detach().to(torch.float64).numpy(), B.detach().to(torch.float64).numpy(),
                               int(sweeps))
            return torch.from_numpy(Dn).to(D.dtype)
        D = D.clone()
        diag = torch.diagonal(A).tolist()
        for _ in range(sweeps):
            for k, akk in enumerate(diag):
                if akk <= 0:
                    continue
                u = D[k] + (B[k] - A[k] @ D) / akk
                D[k] = u / u.norm().clamp_min(1.0)
        return D

    def _reinit_dead(self, D, A, Xb, Zb, rng):
        diag = torch.diagonal(A)
        mean_use = float(diag.mean())
        dead = torch.nonzero(diag <= self.dead_atom_tol * max(mean_use, 1e-300)).flatten()
        if dead.numel() == 0 or Xb.shape[0] == 0:
            return D, 0
        resid = (Xb - Zb @ D).norm(dim=1)
        k = min(dead.numel(), Xb.shape[0])
        worst = torch.topk(resid, k).indices
        D = D.clone()
        for j, i in zip(dead[:k].tolist(), worst.tolist()):
            v = Xb[i] - Zb[i] @ D
            if float(v.norm()) == 0:
                v = torch.as_tensor(rng.standard_normal(D.shape[1]), dtype=D.dtype, device=D.device)
            v = v / v.norm()
            if self.constraint == "ridge":
                v = v * D.norm(dim=1).mean().clamp_min(1e-12)
            D[j] = v
        return D, k

    def _objective(self, Xt, Z, D, prior, lam):
        R = Xt - Z @ D
        F = float((0.5 * (R * R).sum(1) + lam * prior._value(Z)).mean())
        if self.constraint == "ridge":
            F += 0.5 * float(self.omega) * float((D * D).sum())
        return F

    # ------------------------------------------------------------------ public API
    def fit(self, X, y=None):
        """Learn the dictionary from ``X`` (n_samples × n_features). Returns ``self``."""
        prior, lam = self._check_params()
        Xt, was_np = self._data(X)
        rng = check_random_state(self.random_state)
        self._was_np = was_np
        D = self._init_dict(Xt, rng)
        self.n_dead_reinit_ = 0
        self.objective_ = []
        if self.method == "batch":
            self._fit_batch(Xt, D, prior, lam, rng)
        else:
            self._A = None
            self._B = None
            self._n_seen = 0
            self._D = D
            n = Xt.shape[0]
            t0 = time.perf_counter()
            with _serial_small_batches(Xt.device, self.batch_size):
                self._online_epochs(Xt, prior, lam, rng, n, t0)
            self.n_iter_ = self.max_iter
            self.components_ = back(self._D, was_np)
        return self

    def _online_epochs(self, Xt, prior, lam, rng, n, t0):
        for epoch in range(self.max_iter):
            perm = torch.as_tensor(rng.permutation(n), device=Xt.device)
            for s in range(0, n, self.batch_size):
                self._online_step(Xt[perm[s:s + self.batch_size]], prior, lam, rng)
            if self.verbose:
                print(f"[DictionaryLearning] epoch {epoch + 1}/{self.max_iter}, {time.perf_counter() - t0:.1f} s")
            if self.callback is not None:
                self.callback(epoch + 1, self._D.detach().cpu().numpy(), None)

    def _fit_batch(self, Xt, D, prior, lam, rng):
        n = Xt.shape[0]
        Z, obj = self._code(Xt, D, prior, lam)
        F = self._objective(Xt, Z, D, prior, lam)
        self.objective_.append(F)
        it = 0
        for it in range(1, self.max_iter + 1):
            A = Z.T @ Z / n
            B = Z.T @ Xt / n
            D, nd = self._reinit_dead(D, A, Xt, Z, rng)
            self.n_dead_reinit_ += nd
            D = self._dict_step(D, A, B)
            Znew, obj_new = self._code(Xt, D, prior, lam, init=Z)
            # keep a sample's previous code when the new one is not better (monotone descent)
            R_old = Xt - Z @ D
            obj_old = 0.5 * (R_old * R_old).sum(1) + lam * prior._value(Z)
            better = obj_new <= obj_old
            Z = torch.where(better[:, None], Znew, Z)
            F_new = self._objective(Xt, Z, D, prior, lam)
            self.objective_.append(F_new)
            if self.verbose:
                print(f"[DictionaryLearning] iter {it}: objective {F_new:.6g}")
            if self.callback is not None:
                self.callback(it, D.detach().cpu().numpy(), F_new)
            rel = (F - F_new) / max(abs(F), 1e-300)
            F = F_new
            if 0 <= rel <= self.tol and nd == 0:
                break
        self.n_iter_ = it
        self._D = D
        self.components_ = back(D, self._was_np)
        self.codes_ = back(Z, self._was_np)

    def _online_step(self, Xb, prior, lam, rng):
        if Xb.shape[0] == 0:
            raise ValueError("empty batch: X must have at least one sample")
        D = self._D
        Zb, _ = self._code(Xb, D, prior, lam)
        eta = Xb.shape[0]
        Ab = Zb.T @ Zb / eta
        Bb = Zb.T @ Xb / eta
        n_prev = self._n_seen
        self._n_seen = n_prev + eta
        if self._A is None:
            self._A, self._B = Ab, Bb
        else:
            beta = (n_prev / self._n_seen) ** (1.0 + float(self.forget_rate))
            self._A = beta * self._A + (1 - beta) * Ab
            self._B = beta * self._B + (1 - beta) * Bb
        D, nd = self._reinit_dead(D, self._A, Xb, Zb, rng)
        if nd:
            # a fresh atom starts with no history: give it the batch's statistics for it
            self.n_dead_reinit_ += nd
        self._D = self._dict_step(D, self._A, self._B)

    def partial_fit(self, X, y=None):
        """One online (Mairal et al.) step on the mini-batch ``X``. Returns ``self``."""
        prior, lam = self._check_params()
        Xt, was_np = self._data(X)
        if not hasattr(self, "_D"):
            rng = check_random_state(self.random_state)
            self._rng = rng
            self._was_np = was_np
            self._D = self._init_dict(Xt, rng)
            self._A = self._B = None
            self._n_seen = 0
            self.n_iter_ = 0
            self.n_dead_reinit_ = 0
            self.objective_ = []
        else:
            if Xt.shape[1] != self._D.shape[1]:
                raise ValueError(f"X has {Xt.shape[1]} features but the dictionary has {self._D.shape[1]}")
            Xt = Xt.to(self._D.device)
        self._online_step(Xt, prior, lam, getattr(self, "_rng", check_random_state(self.random_state)))
        self.n_iter_ += 1
        self.components_ = back(self._D, self._was_np)
        return self

    def _check_fitted(self):
        if not hasattr(self, "_D"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("DictionaryLearning is not fitted yet; call fit or partial_fit first")

    def transform(self, X):
        """Codes of ``X`` under the learned dictionary (same prior and λ; exact for l1 / l1_nonneg)."""
        self._check_fitted()
        prior, lam = self._check_params()
        Xt, was_np = self._data(X)
        if Xt.shape[1] != self._D.shape[1]:
            raise ValueError(f"X has {Xt.shape[1]} features but the dictionary has {self._D.shape[1]}")
        Z, _ = self._code(Xt.to(self._D.device, self._D.dtype), self._D, prior, lam)
        return back(Z, was_np)

    def objective(self, X, codes=None) -> float:
        """F(D, Z) of the fitted dictionary on ``X`` (codes by :meth:`transform` unless given)."""
        self._check_fitted()
        prior, lam = self._check_params()
        Xt, _ = self._data(X)
        Xt = Xt.to(self._D.device, self._D.dtype)
        Z = self._code(Xt, self._D, prior, lam)[0] if codes is None else _to_tensor(codes, "codes", Xt.device,
                                                                                     Xt.dtype)
        return self._objective(Xt, Z, self._D, prior, lam)

    def inverse_transform(self, codes):
        """Reconstruction ``codes @ components_``."""
        self._check_fitted()
        Z = _to_tensor(codes, "codes", self._D.device, self._D.dtype)
        return back(Z @ self._D, not isinstance(codes, torch.Tensor))
