r"""Dictionary learning (batch alternating minimisation and online): :func:`dict_learning` and its estimator.

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
Codes: :func:`simcode.sparse.coding.active_set` for ℓ1 / ℓ1 ≥ 0 (certified; compiled descent or LARS on CPU),
:func:`simcode.sparse.coding.fista`
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
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core import (ArrayKind, ConvergenceWarning, History, RepresentationMixin, SolverMixin, SolverResult,
                    check_array, check_int, check_number, check_option, check_random_state, check_tensor,
                    is_tensor, resolve_device, torch_dtype, warn_not_converged)
from .coding import active_set, fista, lipschitz_constant
from ..core.estimator import named_call
from .priors import L1, L1NonNeg, Prior, get_prior

__all__ = ["DictionaryLearning", "DictionaryLearningResult", "dict_learning", "update_dictionary",
           "update_statistics"]

#: ``solver="auto"`` runs the batch algorithm up to this many samples and the online one beyond.
AUTO_BATCH_MAX_SAMPLES = 4096


@dataclass(kw_only=True)
class DictionaryLearningResult(SolverResult):
    """Outcome of :func:`dict_learning`: the solver protocol (:class:`simcode.core.SolverResult`) plus the model.

    ``n_iter`` counts outer iterations (batch) or epochs (online). ``history``: batch — ``"objective"`` (F at
    the initial dictionary, then after each outer iteration) and ``"n_dead"`` (atoms re-initialised in that
    iteration); online — ``"dict_change"``, the relative Frobenius change of the dictionary over each epoch.
    ``status`` is ``"converged"`` when the relative decrease of F (batch) or the epoch's dictionary change
    (online) fell to ``tol``.

    Attributes
    ----------
    components : (n_components, n_features), NumPy or torch like ``X``
    codes : (n_samples, n_components) or None
        Batch: the codes of ``X`` at the end (None online).
    solver : str
        ``"batch"`` or ``"online"`` (what ``"auto"`` chose).
    coding_solver : str
        The solver of the last code step (``"cd"``, ``"lars"``, ``"torch"`` or ``"fista"``).
    n_dead_reinit : int
        Atoms re-initialised.
    inner_stats : (A, B)
        Sufficient statistics A = ZᵀZ/n (K × K) and B = ZᵀX/n (K × p) of the codes (running averages online).
    n_samples_seen : int
    """

    components: object = None
    codes: object = None
    solver: str = ""
    coding_solver: str = ""
    n_dead_reinit: int = 0
    inner_stats: tuple | None = None
    n_samples_seen: int = 0


# ------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------
def _device(device, X):
    """``"auto"``: where the data live (:func:`simcode.core.resolve_device`)."""
    return torch.device(resolve_device(device, X))


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


def update_dictionary(D, A, B, *, constraint: str = "unit_norm", omega: float = 1e-4, sweeps: int = 5):
    r"""The exact dictionary step from the sufficient statistics :math:`A = Z^\top Z/n`, :math:`B = Z^\top X/n`.

    ``constraint="ridge"``: :math:`D = (A + \omega I)^{-1}B`, the minimiser of
    :math:`\frac1{2n}\|X - ZD\|_F^2 + \frac\omega2\|D\|_F^2` (002 Appendix A). ``"unit_norm"``: ``sweeps`` passes
    of exact block-coordinate minimisation over atoms under :math:`\|d_k\| \le 1`,
    :math:`d_k \leftarrow \Pi_{\|\cdot\|\le1}\big(d_k + (B_k - A_kD)/A_{kk}\big)` (Mairal et al. 2010, Alg. 2;
    compiled on the CPU), warm-started from ``D``; unused atoms (:math:`A_{kk} = 0`) are left as they are.

    Parameters
    ----------
    D : (K, p) array or tensor
        The current dictionary (the starting point of the unit-norm sweeps).
    A : (K, K), B : (K, p)
    constraint : {"unit_norm", "ridge"}
    omega : float
    sweeps : int

    Returns
    -------
    (K, p) array or tensor, like ``D``
    """
    kind = ArrayKind.of(D)
    Dt = check_tensor(D, "D", ndim=2)
    At = check_tensor(A, "A", ndim=2, device=Dt.device, dtype=Dt.dtype)
    Bt = check_tensor(B, "B", ndim=2, device=Dt.device, dtype=Dt.dtype)
    K, p = Dt.shape
    if tuple(At.shape) != (K, K):
        raise ValueError(f"A must be {K} × {K} (n_atoms of D), got shape {tuple(At.shape)}")
    if tuple(Bt.shape) != (K, p):
        raise ValueError(f"B must be {K} × {p} (the shape of D), got shape {tuple(Bt.shape)}")
    check_option(constraint, "constraint", ("unit_norm", "ridge"))
    return kind.wrap(_dict_step(Dt, At, Bt, constraint, check_number(omega, "omega", low=0, low_inclusive=False),
                                check_int(sweeps, "sweeps", low=1)))


def _dict_step(D, A, B, constraint, omega, sweeps):
    if constraint == "ridge":
        K = A.shape[0]
        M = A + float(omega) * torch.eye(K, dtype=A.dtype, device=A.device)
        return torch.linalg.solve(M, B)
    if D.device.type == "cpu":
        # compiled sweeps (the per-atom torch loop below costs ~10 small kernel launches per atom)
        from ._dictionary_update import dict_bcd_unit_norm

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


def update_statistics(A, B, n_seen: int, Z_batch, X_batch, forget_rate: float = 0.0):
    r"""One online update of the sufficient statistics (Mairal et al. 2010, Alg. 1, with their forgetting).

    With :math:`\eta` the batch size, :math:`n_t = n_{t-1} + \eta` and :math:`\beta = (n_{t-1}/n_t)^{1+\rho}`:
    :math:`A \leftarrow \beta A + (1-\beta)Z_b^\top Z_b/\eta`, :math:`B \leftarrow \beta B + (1-\beta)Z_b^\top
    X_b/\eta`; ``forget_rate`` ρ = 0 makes A and B the exact means over every sample seen, whatever the batch
    sizes. ``A = B = None`` starts from the batch's statistics. Works on NumPy arrays and torch tensors.

    Returns
    -------
    (A, B, n_seen)
    """
    tensor = is_tensor(Z_batch)

    def arr(v, name, **kw):
        return check_tensor(v, name, ndim=2, **kw) if tensor else check_array(v, name, ndim=2, dtype="floating")

    Zb = arr(Z_batch, "Z_batch", what="n_samples × n_atoms")
    dev = dict(device=Zb.device, dtype=Zb.dtype) if tensor else {}
    Xb = arr(X_batch, "X_batch", what="n_samples × n_features", **dev)
    if Xb.shape[0] != Zb.shape[0]:
        raise ValueError(f"X_batch has {Xb.shape[0]} samples but Z_batch has {Zb.shape[0]}")
    K, p = Zb.shape[1], Xb.shape[1]
    n_seen = check_int(n_seen, "n_seen", low=0)
    forget_rate = check_number(forget_rate, "forget_rate", low=0)
    if (A is None) != (B is None):
        raise ValueError("A and B must both be None (start from the batch) or both be given")
    if A is not None:
        A, B = arr(A, "A", **dev), arr(B, "B", **dev)
        if tuple(A.shape) != (K, K):
            raise ValueError(f"A must be {K} × {K} (n_atoms of Z_batch), got shape {tuple(A.shape)}")
        if tuple(B.shape) != (K, p):
            raise ValueError(f"B must be {K} × {p} (n_atoms × n_features of X_batch), got shape {tuple(B.shape)}")
    return _update_statistics(A, B, n_seen, Zb, Xb, forget_rate)


def _update_statistics(A, B, n_seen: int, Z_batch, X_batch, forget_rate: float = 0.0):
    """:func:`update_statistics` without validation (the online loop's inputs are its own)."""
    eta = Z_batch.shape[0]
    if eta == 0:
        raise ValueError("the batch is empty: it must have at least one sample")
    Ab = Z_batch.T @ Z_batch / eta
    Bb = Z_batch.T @ X_batch / eta
    n_new = int(n_seen) + eta
    if A is None:
        return Ab, Bb, n_new
    beta = (n_seen / n_new) ** (1.0 + float(forget_rate))
    return beta * A + (1 - beta) * Ab, beta * B + (1 - beta) * Bb, n_new


class _Learner:
    """The steps shared by the batch, online and partial fits: codes, dictionary step, dead atoms, objective."""

    def __init__(self, prior, lam, *, constraint, omega, coding_tol, coding_max_iter, dict_sweeps, dead_atom_tol,
                 forget_rate, coding_solver="auto", coding_calls=0):
        self.prior = get_prior(prior)
        self.lam = lam
        self.constraint = constraint
        self.omega = omega
        self.coding_tol = coding_tol
        self.coding_max_iter = coding_max_iter
        self.sweeps = 5 if dict_sweeps is None else dict_sweeps
        self.dead_atom_tol = dead_atom_tol
        self.forget_rate = forget_rate
        self.lasso = isinstance(self.prior, (L1, L1NonNeg)) and self.lam > 0  # λ = 0: least squares by FISTA
        self.coding_solver = coding_solver
        self.coding_calls = coding_calls

    def code(self, Xt, D, init=None, solver=None):
        """``(codes, objective)``; ``solver`` given: one call with that solver, leaving the reuse state alone."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if not self.lasso:
                res = fista(Xt, D, self.lam, self.prior, init=init, tol=self.coding_tol,
                            max_iter=self.coding_max_iter, L=max(lipschitz_constant(D), 1e-12))
                self.coding_solver = "fista"
                return res.codes, res.objective
            if solver is not None:
                ok = ("cd", "lars", "torch") if D.device.type == "cpu" else ("torch",)
                res = active_set(Xt, D, self.lam, self.prior, init=init, tol=self.coding_tol,
                                 fallback_max_iter=self.coding_max_iter, solver=solver if solver in ok else "auto")
                return res.codes, res.objective
            # on CPU, the compiled solver chosen by active_set's pilot is reused for the next 16 calls
            # (minibatches): the pilot would otherwise cost up to a quarter of each small batch
            use = self.coding_solver if self.coding_calls % 16 and self.coding_solver in ("cd", "lars") else "auto"
            res = active_set(Xt, D, self.lam, self.prior, init=init, tol=self.coding_tol,
                             fallback_max_iter=self.coding_max_iter, solver=use)
            self.coding_calls += 1
            self.coding_solver = res.solver
        return res.codes, res.objective

    def dict_step(self, D, A, B):
        return _dict_step(D, A, B, self.constraint, self.omega, self.sweeps)

    def reinit_dead(self, D, A, Xb, Zb, rng):
        """Re-initialise atoms with usage A_kk ≤ dead_atom_tol × mean usage from the worst-fitted samples."""
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

    def objective(self, Xt, Z, D) -> float:
        R = Xt - Z @ D
        F = float((0.5 * (R * R).sum(1) + self.lam * self.prior._value(Z)).mean())
        if self.constraint == "ridge":
            F += 0.5 * float(self.omega) * float((D * D).sum())
        return F

    def online_step(self, D, A, B, n_seen, Xb, rng):
        """One mini-batch of Mairal et al.'s Alg. 1: ``(D, A, B, n_seen, n_reinitialised)``."""
        Zb, _ = self.code(Xb, D)
        A, B, n_seen = _update_statistics(A, B, n_seen, Zb, Xb, self.forget_rate)
        D, nd = self.reinit_dead(D, A, Xb, Zb, rng)
        return self.dict_step(D, A, B), A, B, n_seen, nd


def _init_dictionary(Xt, K, dict_init, constraint, rng):
    n, p = Xt.shape
    if dict_init is not None:
        D = check_tensor(dict_init, "dict_init", ndim=2, device=Xt.device, dtype=Xt.dtype).clone()
        if tuple(D.shape) != (K, p):
            raise ValueError(f"dict_init must have shape ({K}, {p}) (n_components, n_features), "
                             f"got {tuple(D.shape)}")
    else:
        idx = rng.choice(n, size=K, replace=K > n)
        D = Xt[torch.as_tensor(idx, device=Xt.device)].clone()
        D = D + 1e-3 * torch.as_tensor(rng.standard_normal((K, p)), dtype=Xt.dtype, device=Xt.device) * \
            (D.norm(dim=1, keepdim=True).mean() + 1e-12)
    if constraint == "unit_norm":
        norms = D.norm(dim=1, keepdim=True)
        zero = norms[:, 0] == 0
        if bool(zero.any()):
            D[zero] = torch.as_tensor(rng.standard_normal((int(zero.sum()), p)), dtype=Xt.dtype, device=Xt.device)
            norms = D.norm(dim=1, keepdim=True)
        D = D / norms
    return D


# ------------------------------------------------------------------------------------------------------
# the algorithm
# ------------------------------------------------------------------------------------------------------
def dict_learning(X, n_components: int, *, lam: float = 1.0, prior="l1", constraint: str = "unit_norm",
                  omega: float = 1e-4, solver: str = "auto", max_iter: int = 100, tol: float = 1e-6,
                  batch_size: int = 256, forget_rate: float = 10.0, dict_init=None, coding_tol: float = 1e-6,
                  coding_max_iter: int = 1000, dict_sweeps=None, dead_atom_tol: float = 1e-8, random_state=None,
                  device="auto", dtype=None, verbose: bool = False, callback=None,
                  warn: bool = True) -> DictionaryLearningResult:
    r"""Learn a dictionary ``D`` with ``X ≈ Z D`` minimising the objective F of the module docstring.

    Parameters
    ----------
    X : array-like or torch.Tensor, (n_samples, n_features)
    n_components : int
        Number of atoms K.
    lam : float
        λ ≥ 0, weight of the prior (on the per-sample scale ½‖x − zD‖² + λ g(z)).
    prior : str or Prior
        Any prior of :mod:`simcode.sparse.priors` (default ``"l1"``).
    constraint : {"unit_norm", "ridge"}
        ‖d_k‖ ≤ 1, or the ridge penalty ω/2 ‖D‖²_F of 002's P1.
    omega : float
        ω > 0 for ``constraint="ridge"``.
    solver : {"auto", "batch", "online"}
        Alternating minimisation over the whole data (monotone in F), or Mairal et al.'s online algorithm;
        ``"auto"``: batch up to :data:`AUTO_BATCH_MAX_SAMPLES` samples, online beyond (the result says which).
    max_iter : int
        Outer iterations (batch) or epochs (online).
    tol : float
        Batch: stop when the relative decrease of F is ≤ ``tol`` (and no atom was re-initialised); online:
        when an epoch changes the dictionary by ≤ ``tol`` (relative Frobenius norm).
    batch_size : int
        Online mini-batch size.
    forget_rate : float
        ρ ≥ 0 of the online sufficient statistics (:func:`update_statistics`): the past is down-weighted by
        (n_{t-1}/n_t)^(1+ρ) at each mini-batch (0: exact running mean over every sample seen; the default 10
        forgets the codes computed with early, poor dictionaries — on 002's synthetic set-up ρ = 0 recovers
        8/16 atoms in 10 epochs, ρ = 10 all 16).
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
    device : "auto", "cpu" or "cuda[:i]"
        ``"auto"``: the device of a tensor ``X``; NumPy data is fitted on the CPU (pass ``"cuda"`` for the GPU).
    dtype : None, float32 or float64
        None: float32 input stays float32, everything else float64.
    verbose : bool
    callback : callable, optional
        Called as ``callback(iteration, components, objective)`` after each outer iteration (batch; objective
        is F) or epoch (online; objective is None), with ``components`` as NumPy.
    warn : bool
        Issue a :class:`simcode.ConvergenceWarning` when stopped at ``max_iter``.

    Returns
    -------
    DictionaryLearningResult
        NumPy in → NumPy out; torch in → torch out.
    """
    t_start = time.perf_counter()
    kind = ArrayKind.of(X)
    Xt = check_tensor(X, "X", ndim=2, device=_device(device, X), dtype=torch_dtype(dtype),
                      what="n_samples × n_features")
    K = check_int(n_components, "n_components", low=1)
    lam = check_number(lam, "lam", low=0)
    check_option(constraint, "constraint", ("unit_norm", "ridge"))
    omega = check_number(omega, "omega", low=0, low_inclusive=False)
    check_option(solver, "solver", ("auto", "batch", "online"))
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_number(tol, "tol", low=0)
    batch_size = check_int(batch_size, "batch_size", low=1)
    learner = _Learner(prior, lam, constraint=constraint, omega=omega,
                       coding_tol=check_number(coding_tol, "coding_tol", low=0),
                       coding_max_iter=check_int(coding_max_iter, "coding_max_iter", low=1),
                       dict_sweeps=check_int(dict_sweeps, "dict_sweeps", low=1, allow_none=True),
                       dead_atom_tol=check_number(dead_atom_tol, "dead_atom_tol", low=0),
                       forget_rate=check_number(forget_rate, "forget_rate", low=0))
    rng = check_random_state(random_state)
    n = Xt.shape[0]
    if solver == "auto":
        solver = "batch" if n <= AUTO_BATCH_MAX_SAMPLES else "online"
    D = _init_dictionary(Xt, K, dict_init, constraint, rng)
    hist = History()
    status = "max_iter"
    n_dead = 0
    codes = None
    it = 0
    with torch.no_grad():
        if solver == "batch":
            Z, _ = learner.code(Xt, D)
            F = learner.objective(Xt, Z, D)
            hist.append(objective=F, n_dead=0)
            for it in range(1, max_iter + 1):
                A = Z.T @ Z / n
                B = Z.T @ Xt / n
                D, nd = learner.reinit_dead(D, A, Xt, Z, rng)
                n_dead += nd
                D = learner.dict_step(D, A, B)
                Znew, obj_new = learner.code(Xt, D, init=Z)
                # keep a sample's previous code when the new one is not better (monotone descent)
                R_old = Xt - Z @ D
                obj_old = 0.5 * (R_old * R_old).sum(1) + lam * learner.prior._value(Z)
                Z = torch.where((obj_new <= obj_old)[:, None], Znew, Z)
                F_new = learner.objective(Xt, Z, D)
                hist.append(objective=F_new, n_dead=nd)
                if verbose:
                    print(f"[dict_learning] iter {it}: objective {F_new:.6g}")
                if callback is not None:
                    callback(it, D.detach().cpu().numpy(), F_new)
                rel = (F - F_new) / max(abs(F), 1e-300)
                F = F_new
                if 0 <= rel <= tol and nd == 0:
                    status = "converged"
                    break
            A, B, n_seen = _update_statistics(None, None, 0, Z, Xt)
            codes = kind.wrap(Z)
            detail = f"relative decrease of the objective {rel:.3e} > tol {tol:g}"
        else:
            A = B = None
            n_seen = 0
            change = float("nan")
            with _serial_small_batches(Xt.device, batch_size):
                for it in range(1, max_iter + 1):
                    D_prev = D
                    perm = torch.as_tensor(rng.permutation(n), device=Xt.device)
                    for s in range(0, n, batch_size):
                        D, A, B, n_seen, nd = learner.online_step(D, A, B, n_seen, Xt[perm[s:s + batch_size]], rng)
                        n_dead += nd
                    change = float((D - D_prev).norm() / D_prev.norm().clamp_min(1e-300))
                    hist.append(dict_change=change)
                    if verbose:
                        print(f"[dict_learning] epoch {it}/{max_iter}, {time.perf_counter() - t_start:.1f} s")
                    if callback is not None:
                        callback(it, D.detach().cpu().numpy(), None)
                    if change <= tol:
                        status = "converged"
                        break
            detail = f"relative dictionary change in the last epoch {change:.3e} > tol {tol:g}"
    if warn and status != "converged":
        warn_not_converged(f"dict_learning ({solver})", it, detail)
    return DictionaryLearningResult(status=status, n_iter=it, history=hist.as_dict(),
                                    time_s=time.perf_counter() - t_start, components=kind.wrap(D), codes=codes,
                                    solver=solver, coding_solver=learner.coding_solver, n_dead_reinit=n_dead,
                                    inner_stats=(kind.wrap(A), kind.wrap(B)), n_samples_seen=n_seen)


# ------------------------------------------------------------------------------------------------------
# the estimator
# ------------------------------------------------------------------------------------------------------
class DictionaryLearning(RepresentationMixin, SolverMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                         BaseEstimator):
    """Sparse dictionary learning: ``X ≈ codes @ components_`` with a prior on the codes (see :func:`dict_learning`).

    Parameters
    ----------
    n_components, lam, prior, constraint, omega, solver, max_iter, tol, batch_size, forget_rate, dict_init,
    coding_tol, coding_max_iter, dict_sweeps, dead_atom_tol, random_state, device, dtype, verbose, callback
        As for :func:`dict_learning` (``solver``: ``"auto"``, ``"batch"`` or ``"online"``).

    Attributes
    ----------
    components_ : (n_components, n_features)
        NumPy, or a tensor when fitted on tensors.
    codes_ : (n_samples, n_components)
        Batch fit only: the codes of the training data at the end.
    n_iter_ : int
        Outer iterations (batch), epochs (online fit); each :meth:`partial_fit` adds one mini-batch step.
    status_, converged_, history_
        The fit's solver protocol (:class:`DictionaryLearningResult`); a :class:`simcode.ConvergenceWarning`
        is issued when ``fit`` stops at ``max_iter``. ``history_["objective"]`` (batch) is F after each outer
        iteration (index 0: at the initial dictionary with its optimal codes).
    solver_ : str
        ``"batch"`` or ``"online"`` (``"online"`` after :meth:`partial_fit`).
    coding_solver_ : str
        The code solver :meth:`transform` uses (``"cd"``, ``"lars"``, ``"torch"`` or ``"fista"``): fixed at fit,
        so that a sample's code does not depend on the other samples of the call.
    n_dead_reinit_ : int
        Atoms re-initialised.
    inner_stats_ : (A, B)
        Sufficient statistics (for :meth:`partial_fit` to continue from).
    n_samples_seen_ : int
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "lam": [Interval(Real, 0, None, closed="left")],
        "prior": [str, Prior],
        "constraint": [StrOptions({"unit_norm", "ridge"})],
        "omega": [Interval(Real, 0, None, closed="neither")],
        "solver": [StrOptions({"auto", "batch", "online"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "forget_rate": [Interval(Real, 0, None, closed="left")],
        "dict_init": ["array-like", None],
        "coding_tol": [Interval(Real, 0, None, closed="left")],
        "coding_max_iter": [Interval(Integral, 1, None, closed="left")],
        "dict_sweeps": [Interval(Integral, 1, None, closed="left"), None],
        "dead_atom_tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "device": [str, torch.device],
        "dtype": [None, str, type, np.dtype, torch.dtype],
        "verbose": ["verbose"],
        "callback": [callable, None],
    }

    def __init__(self, n_components=8, *, lam=1.0, prior="l1", constraint="unit_norm", omega=1e-4,
                 solver="auto", max_iter=100, tol=1e-6, batch_size=256, forget_rate=10.0, dict_init=None,
                 coding_tol=1e-6, coding_max_iter=1000, dict_sweeps=None, dead_atom_tol=1e-8, random_state=None,
                 device="auto", dtype=None, verbose=False, callback=None):
        self.n_components = n_components
        self.lam = lam
        self.prior = prior
        self.constraint = constraint
        self.omega = omega
        self.solver = solver
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    # ------------------------------------------------------------------ helpers
    def _check_X(self, X, *, reset: bool):
        """NumPy / array-like through scikit-learn's ``validate_data``; tensors through ``check_tensor``."""
        if is_tensor(X):
            Xt = check_tensor(X, "X", ndim=2, what="n_samples × n_features")
            p = int(Xt.shape[1])
            if reset:
                self.n_features_in_ = p
            elif p != self.n_features_in_:
                raise ValueError(f"X has {p} features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input.")
            return Xt
        Xa = named_call(validate_data, self, X, name="X", reset=reset, dtype=[np.float64, np.float32])
        return Xa if Xa.flags.writeable else Xa.copy()

    def _learner(self, **state) -> _Learner:
        return _Learner(self.prior, float(self.lam), constraint=self.constraint, omega=float(self.omega),
                        coding_tol=float(self.coding_tol), coding_max_iter=int(self.coding_max_iter),
                        dict_sweeps=self.dict_sweeps, dead_atom_tol=float(self.dead_atom_tol),
                        forget_rate=float(self.forget_rate), **state)

    def _dictionary(self):
        """``components_`` as a tensor on the fit's device (``device``; "auto": where ``components_`` lives)."""
        return check_tensor(self.components_, "components_", ndim=2, device=_device(self.device, self.components_))

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the dictionary from ``X`` (n_samples × n_features) by :func:`dict_learning`. Returns ``self``."""
        X = self._check_X(X, reset=True)
        res = dict_learning(X, self.n_components, lam=self.lam, prior=self.prior, constraint=self.constraint,
                            omega=self.omega, solver=self.solver, max_iter=self.max_iter, tol=self.tol,
                            batch_size=self.batch_size, forget_rate=self.forget_rate, dict_init=self.dict_init,
                            coding_tol=self.coding_tol, coding_max_iter=self.coding_max_iter,
                            dict_sweeps=self.dict_sweeps, dead_atom_tol=self.dead_atom_tol,
                            random_state=self.random_state, device=self.device, dtype=self.dtype,
                            verbose=self.verbose, callback=self.callback, warn=False)
        self.components_ = res.components
        if res.codes is not None:
            self.codes_ = res.codes
        elif hasattr(self, "codes_"):
            del self.codes_
        self.solver_ = res.solver
        self.coding_solver_ = res.coding_solver
        self.n_dead_reinit_ = res.n_dead_reinit
        self.inner_stats_ = res.inner_stats
        self.n_samples_seen_ = res.n_samples_seen
        self._coding_calls = 0
        self._rng = None
        key = "objective" if res.solver == "batch" else "dict_change"
        last = res.history[key][-1] if len(res.history.get(key, ())) else float("nan")
        self._record_result(res.status, res.n_iter, res.history,
                            detail=f"solver {res.solver!r}, last {key.replace('_', ' ')} {last:.6g}; "
                                   f"raise max_iter or tol")
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One online (Mairal et al. 2010, Alg. 1) step on the mini-batch ``X``; continues a fit. Returns ``self``."""
        first = not hasattr(self, "components_")
        X = self._check_X(X, reset=first)
        if first:
            kind = ArrayKind.of(X)
            Xt = check_tensor(X, "X", device=_device(self.device, X), dtype=torch_dtype(self.dtype))
            self._rng = check_random_state(self.random_state)
            D = _init_dictionary(Xt, self.n_components, self.dict_init, self.constraint, self._rng)
            A = B = None
            n_seen, n_iter, n_dead = 0, 0, 0
        else:
            kind = ArrayKind.of(self.components_)
            D = self._dictionary()
            Xt = check_tensor(X, "X", device=D.device, dtype=D.dtype)
            if getattr(self, "_rng", None) is None:
                self._rng = check_random_state(self.random_state)
            A, B = (None, None) if self.inner_stats_ is None else (
                check_tensor(s, "inner_stats_", device=D.device, dtype=D.dtype) for s in self.inner_stats_)
            n_seen, n_iter, n_dead = self.n_samples_seen_, self.n_iter_, self.n_dead_reinit_
        learner = self._learner(coding_solver=getattr(self, "coding_solver_", "auto"),
                                coding_calls=getattr(self, "_coding_calls", 0))
        with torch.no_grad():
            D, A, B, n_seen, nd = learner.online_step(D, A, B, n_seen, Xt, self._rng)
        self.components_ = kind.wrap(D)
        self.inner_stats_ = (kind.wrap(A), kind.wrap(B))
        self.n_samples_seen_ = n_seen
        self.n_dead_reinit_ = n_dead + nd
        self.n_iter_ = n_iter + 1
        self.solver_ = "online"
        self.coding_solver_ = learner.coding_solver
        self._coding_calls = learner.coding_calls
        return self

    # ------------------------------------------------------------------ using the model
    def transform(self, X):
        """Codes of ``X`` under the learned dictionary (same prior and λ; exact for l1 / l1_nonneg)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        kind = ArrayKind.of(X)
        D = self._dictionary()
        Xt = check_tensor(X, "X", device=D.device, dtype=D.dtype)
        with torch.no_grad():
            Z, _ = self._learner().code(Xt, D, solver=self.coding_solver_)
        return kind.wrap(Z)

    def inverse_transform(self, X):
        """Reconstruction ``X @ components_`` of codes ``X`` (n_samples × n_components; a Representation too)."""
        check_is_fitted(self)
        kind = ArrayKind.of(X)
        D = self._dictionary()
        Z = check_tensor(X, "X", ndim=2, device=D.device, dtype=D.dtype, what="n_samples × n_components")
        if Z.shape[1] != D.shape[0]:
            raise ValueError(f"X has {Z.shape[1]} columns but the model has {D.shape[0]} components")
        return kind.wrap(Z @ D)

    def objective(self, X, codes=None) -> float:
        """F(D, Z) of the fitted dictionary on ``X`` (codes by :meth:`transform` unless given)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        D = self._dictionary()
        Xt = check_tensor(X, "X", device=D.device, dtype=D.dtype)
        learner = self._learner()
        with torch.no_grad():
            if codes is None:
                Z = learner.code(Xt, D, solver=self.coding_solver_)[0]
            else:
                Z = check_tensor(codes, "codes", ndim=2, device=D.device, dtype=D.dtype)
            return learner.objective(Xt, Z, D)
