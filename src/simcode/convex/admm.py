"""First-order solver for Q-space problems: ADMM on the Schur-complement SDP, in PyTorch (CPU or CUDA),
with a rigorous dual lower bound (the certificate).

What it accepts. The problem's terms must give the first-order form of the term contract
(:mod:`simcode.convex.terms`): a linear cost ⟨C, Q⟩, an isotropic quadratic a‖Q‖²_F, readout blocks and
range restrictions; its constraints Q ≥ 0 and Tr Q ≤ c. Anything else raises
:class:`simcode.core.UnsupportedTermError` before any iteration.

Lifted problem. With the readout targets of all readout/decodability terms stacked, Y = [Y_1 … Y_K]
(n × m), the problem is

    min  ⟨C, Q⟩ + a‖Q‖²_F + Σ_k w_k Tr T_kk
    s.t. M = [[Q, B], [Bᵀ, T]] ⪰ 0, M = P M P         (P: projector onto range(E) ⊕ R^m, encoders)
         B_k = Y_k − 1 b_kᵀ (b_k free if affine, 0 otherwise),  Q ≥ 0 (non-negativity, DNN),
         Tr Q ≤ c (budget),

because min_T {w Tr T : [[Q, Ỹ],[Ỹᵀ, T]] ⪰ 0} = w Tr(Ỹᵀ Q⁺ Ỹ) (Schur complement).

ADMM (scaled form, over-relaxation α) splits M into X ∈ S = {PSD, range} and W ∈ K = {affine blocks,
Q ≥ 0, budget}:  X ← Π_S(W − U) (one eigen-decomposition of an (n+m)² matrix),
W ← argmin_{W∈K} f(W) + ρ/2‖W − (X̂ + U)‖² (elementwise, closed form), U ← U + X̂ − W.
ρ is adapted by residual balancing (Boyd et al. 2011, §3.4.1).

Why this loop is not :class:`simcode.core.ADMM`. The core skeleton runs x-, z- and u-steps on separate
iterates and evaluates the residual norms and the balancing rule at every iteration. This solver iterates one
matrix v = X̂ + U through the fixed-point map T(v) so that it can apply safeguarded Anderson acceleration to
it (which needs T as one map, and a second T evaluation per accepted extrapolation), checks residuals only
every ``check_every`` iterations (each check costs two extra (n+m)² norms and a prox, as much as an
iteration at large n), ties the accuracy of the partial PSD projection to the current residuals and
re-verifies it by Cholesky, and balances ρ OSQP-style (ρ·√(r_p/r_d), only for a large imbalance) followed by a
restart of the Anderson memory. Fitting that into the skeleton would either drop these (2–10× more iterations
on the ON/OFF benchmark) or override the whole loop. It records its history with :class:`simcode.core.History`
and returns the core result protocol (:class:`ADMMResult` derives from ``simcode.core.ADMMResult``).

Certificate. For Λ with PᵀΛP ⪰ 0 (the dual cone of S), weak duality gives the lower bound
g(Λ) = min_{W∈K} f(W) − ⟨Λ, W⟩ on every feasible point of the DNN problem. From the ADMM multiplier
Λ̂ = ρU we build Λ₁ that satisfies the linear conditions making g finite (T block = diag(w),
zero column sums on affine blocks, C − Λ_Q ≥ 0 for a linear objective with Q ≥ 0), take a strictly
dual-feasible Λ₀, and bisect for the largest t with Λ₀ + t(Λ₁ − Λ₀) in the dual cone (Cholesky
test). The reported ``lower_bound`` is g at that point: a proof that no DNN-feasible Q does better.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..core import ADMMResult as _CoreADMMResult
from ..core import (History, check_bool, check_int, check_number, resolve_device, torch_dtype,
                    warn_not_converged)
from .psd_projection import PSDProjector
from .solution import Certificate
from .terms import constraint_form, first_order_form

__all__ = ["ADMMResult", "admm_solve"]


@dataclass(kw_only=True)
class ADMMResult(_CoreADMMResult):
    """Result of :func:`admm_solve` (the core protocol: status, n_iter, history, time_s, certificate, rho).

    Attributes
    ----------
    Q : (n, n) the PSD iterate (in the original scaling).
    b : list of bias vectors, one per readout term.
    objective : the objective at the feasible-set iterate W.
    primal_residual, dual_residual : the last relative residuals.
    projections : counts of full and partial eigen-decompositions of the PSD projection.

    ``certificate.lower_bound`` is a proven lower bound (NaN when the problem class has none);
    ``history`` holds ``iter``, ``objective``, ``primal_residual``, ``dual_residual``, ``rho`` and ``gap`` per check.
    """

    Q: np.ndarray
    b: list = field(default_factory=list)
    objective: float = float("nan")
    primal_residual: float = float("nan")
    dual_residual: float = float("nan")
    projections: dict = field(default_factory=dict)


class _Lifted:
    """The structured data of a problem, diagonally rescaled, on a torch device.

    Scaling (a congruence, so the problem is unchanged): M̃ = S M S with S = diag(d, e),
    d_i = √C_ii (when the Q-cost has a positive diagonal and no trace budget) and e = √w, so that the
    scaled costs are ≈ identity on both blocks; this makes one ρ fit all blocks.
    """

    def __init__(self, form, cform, n, torch, device, dtype):
        self.n = n
        t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
        C = np.zeros((n, n)) if form.linear is None else form.linear
        quad = form.quadratic
        self.readouts = list(form.readouts)
        basis = form.basis
        C = 0.5 * (C + C.T)
        self.nonneg = bool(cform.nonnegative)
        self.budget = cform.trace_budget
        diagC = np.diag(C)
        if self.budget is None and np.all(diagC > 0):
            d = np.sqrt(diagC)
        else:
            d = np.ones(n)
        self.d_np = d
        self.d = t(d)
        self.C = t(C / np.outer(d, d))
        self.C_diag = t(np.diag(C) / d**2) if not np.any(C - np.diag(np.diag(C))) else None   # cheap path
        self.quad = t(quad / np.outer(d, d) ** 2) if quad > 0 else None
        self.m = sum(r.Y.shape[1] for r in self.readouts)
        N = n + self.m
        self.N = N
        if self.readouts:
            Y = np.hstack([r.Y for r in self.readouts])
            aff = np.concatenate([[r.affine] * r.Y.shape[1] for r in self.readouts])
            w = np.concatenate([[r.lam] * r.Y.shape[1] for r in self.readouts])
        else:
            Y, aff, w = np.zeros((n, 0)), np.zeros(0, bool), np.zeros(0)
        e = np.where(w > 0, np.sqrt(np.where(w > 0, w, 1.0)), 1.0)
        self.e_np = e
        self.Y = t(d[:, None] * Y * e[None, :])          # scaled fixed part of the B block
        self.dvec = t(d)                                   # B̃ = Ỹ − d b̃ᵀ, b̃ = e ⊙ b
        self.affine = torch.as_tensor(aff.astype(bool), device=device)
        self.wT = t(w / e**2)
        self.CT = torch.diag(self.wT)
        if basis is not None:
            Bm = np.zeros((N, basis.shape[1] + self.m))
            Bm[:n, : basis.shape[1]], _ = np.linalg.qr(d[:, None] * basis)
            Bm[n:, basis.shape[1]:] = np.eye(self.m)
            self.P = t(Bm)
        else:
            self.P = None
        self.torch = torch
        self.projector = PSDProjector()
        self._last = None

    def verify_projection(self):
        """Exact check (Cholesky) that the last partial-eigensolver projection was the true Π_S."""
        return True if self._last is None else self.projector.verify(*self._last)

    def initial_rho(self):
        """ρ₀ ≈ ‖Λ*‖_F / ‖M*‖_F, the ratio that balances ADMM's primal and dual progress.

        Dual scale: Λ₀ = blkdiag(C̃, diag(w̃)), the cost itself (‖Λ*‖ is of that order: Λ* = cost − slack).
        Primal scale: without non-negativity the readout problem min ⟨C̃, Q⟩ + Tr(ỸᵀQ⁺Ỹ) with C̃ ≈ I has
        Q̃* = (ỸỸᵀ)^{1/2} and T* = (ỸᵀỸ)^{1/2}, so ‖M*‖_F ≈ 2‖Ỹ‖_F. Problems without readouts start at 1.
        """
        if not self.m:
            return 1.0
        torch = self.torch
        dual = math.sqrt(float((self.C * self.C).sum()) + float((self.wT * self.wT).sum()))
        primal = 2.0 * float(torch.linalg.norm(self.Y))
        if not (dual > 0 and primal > 0 and math.isfinite(dual / primal)):
            return 1.0
        return min(max(dual / primal, 1e-3), 1e3)

    def unscale_Q(self, Qs):
        return Qs / np.outer(self.d_np, self.d_np)

    def unscale_b(self, bs):
        return bs / self.e_np

    # ----- the two projections
    def proj_S(self, A):
        # A is symmetric by construction (the iterates are kept symmetric); eigh reads one triangle
        if self.P is not None:
            A = self.P.T @ A @ self.P
        X = self.projector(A)
        self._last = (A, X)
        if self.P is not None:
            X = self.P @ X @ self.P.T
        return X

    def prox_K(self, V, rho):
        """argmin_{W ∈ K} f(W) + ρ/2 ‖W − V‖² (elementwise; returns W and the biases b)."""
        torch = self.torch
        n = self.n
        W = torch.empty_like(V)
        Qh = W[:n, :n]
        if self.quad is None and self.C_diag is not None:
            Qh.copy_(V[:n, :n])
            Qh.diagonal().sub_(self.C_diag / rho)
        elif self.quad is None:
            torch.sub(V[:n, :n], self.C, alpha=1.0 / rho, out=Qh)
        else:
            Qh.copy_((rho * V[:n, :n] - self.C) / (rho + 2 * self.quad))
        if self.nonneg:
            Qh.clamp_min_(0)
        if self.budget is not None:
            d = _proj_budget(torch, torch.diagonal(Qh).clone(), self.budget, self.nonneg)
            Qh.diagonal().copy_(d)
        b = None
        if self.m:
            VB = 0.5 * (V[:n, n:] + V[n:, :n].T)
            bt = (self.dvec @ (self.Y - VB)) / (self.dvec @ self.dvec)
            b = torch.where(self.affine, bt, torch.zeros_like(self.wT))
            B = self.Y - self.dvec[:, None] * b[None, :]
            W[:n, n:] = B
            W[n:, :n] = B.T
            W[n:, n:] = V[n:, n:] - self.CT / rho
        return W, b

    def objective(self, W):
        n = self.n
        Q = W[:n, :n]
        val = (self.C_diag * Q.diagonal()).sum() if self.C_diag is not None else (self.C * Q).sum()
        if self.quad is not None:
            val = val + (self.quad * Q * Q).sum()
        if self.m:
            val = val + (self.wT * W[n:, n:].diagonal()).sum()
        return float(val)

    # ----- certificate
    def lower_bound(self, Lam):
        """A rigorous lower bound on the DNN optimum from a (possibly infeasible) multiplier Λ̂."""
        torch = self.torch
        n = self.n
        Lam = 0.5 * (Lam + Lam.T)
        linear = self.quad is None
        if linear and self.budget is not None and not self.nonneg:
            return None
        # Λ₀: strictly dual-feasible start
        L0 = torch.zeros_like(Lam)
        if linear:
            L0[:n, :n] = self.C
        if self.m:
            L0[n:, n:] = self.CT
        if not self._in_dual_cone(L0, strict=False):
            return None
        # Λ₁: Λ̂ repaired to satisfy the linear conditions
        L1 = Lam.clone()
        if self.m:
            LB = L1[:n, n:]
            # zero "column sums" in the scaled geometry: dᵀ Λ_B = 0 on affine columns
            dd = self.dvec / (self.dvec @ self.dvec)
            LB = torch.where(self.affine[None, :], LB - dd[:, None] * (self.dvec @ LB)[None, :], LB)
            L1[:n, n:] = LB
            L1[n:, :n] = LB.T
            L1[n:, n:] = self.CT
        if linear:
            if self.nonneg:
                LQ = torch.minimum(L1[:n, :n], self.C)
                if self.budget is not None:  # the diagonal is free under a budget (priced in g)
                    LQ.diagonal().copy_(torch.diagonal(L1[:n, :n]))
                L1[:n, :n] = LQ
            else:
                L1[:n, :n] = self.C
        lo = 1.0 if self._in_dual_cone(L1) else self._largest_step(L0, L1)
        cands = [self._g(L0 + s * (L1 - L0)) for s in (lo, 0.5 * lo, 0.0)]
        return max(cands)

    def _largest_step(self, L0, L1):
        """Largest t ∈ [0, 1] with L0 + t(L1 − L0) in the dual cone, proven by a Cholesky factorisation.

        With R the Cholesky factor of the (reduced) L0 ≻ 0, the segment stays PSD up to
        t* = 1/max(0, −λ_min(R⁻ᵀ(L1 − L0)R⁻¹)); t* is computed once, then t = t*(1 − δ) is confirmed by a
        strict Cholesky test (δ grows until it is). Falls back to bisection when L0 is not positive definite.
        """
        torch = self.torch
        red = (lambda M: M) if self.P is None else (lambda M: self.P.T @ M @ self.P)  # noqa: E731
        A0 = red(L0)
        A0 = 0.5 * (A0 + A0.T)
        R, info = torch.linalg.cholesky_ex(A0)
        if int(info) == 0:
            D = red(L1 - L0)
            D = 0.5 * (D + D.T)
            Y = torch.linalg.solve_triangular(R, D, upper=False)
            Y = torch.linalg.solve_triangular(R, Y.T, upper=False)
            mu = float(torch.linalg.eigvalsh(0.5 * (Y + Y.T))[0])
            t_star = 1.0 if mu >= 0 else min(1.0, -1.0 / mu)
            for delta in (1e-12, 1e-9, 1e-6, 1e-3):
                t = t_star * (1 - delta)
                if self._in_dual_cone(L0 + t * (L1 - L0)):
                    return t
        lo, hi = 0.0, 1.0
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            if self._in_dual_cone(L0 + mid * (L1 - L0)):
                lo = mid
            else:
                hi = mid
        return lo

    def _in_dual_cone(self, L, strict=True):
        torch = self.torch
        A = L if self.P is None else self.P.T @ L @ self.P
        A = 0.5 * (A + A.T)
        # PSD test: Cholesky of A + tiny shift (strict: without the shift)
        eps = 0.0 if strict else 1e-12 * float(A.diagonal().abs().max().clamp_min(1e-300))
        _, info = torch.linalg.cholesky_ex(A + eps * torch.eye(A.shape[0], dtype=A.dtype, device=A.device))
        return int(info) == 0

    def _g(self, L):
        """g(Λ) = min_{W∈K} f(W) − ⟨Λ, W⟩ (finite by construction of Λ)."""
        torch = self.torch
        n = self.n
        G = self.C - L[:n, :n]
        if self.quad is not None:
            Gm = G.clamp_max(0) if self.nonneg else G
            if self.budget is not None:
                return None
            val = -(Gm * Gm / self.quad).sum() / 4
        else:
            val = torch.zeros((), dtype=G.dtype, device=G.device)
            if self.budget is not None:
                val = self.budget * torch.diagonal(G).min().clamp_max(0)
        if self.m:
            val = val - 2 * (L[:n, n:] * self.Y).sum()
        return float(val)


def _proj_budget(torch, d, c, nonneg):
    """Project a vector d onto {Σd ≤ c} (∩ {d ≥ 0} if nonneg)."""
    if nonneg:
        d = d.clamp_min(0)
        if float(d.sum()) <= c:
            return d
        u, _ = torch.sort(d, descending=True)
        css = torch.cumsum(u, 0) - c
        k = torch.arange(1, d.numel() + 1, dtype=d.dtype, device=d.device)
        cond = u - css / k > 0
        r = int(torch.nonzero(cond).max())
        theta = css[r] / (r + 1)
        return (d - theta).clamp_min(0)
    s = float(d.sum())
    return d if s <= c else d - (s - c) / d.numel()


def admm_solve(problem, *, device="cpu", dtype=None, tol=1e-6, max_iter=5000, rho=None, alpha=1.6,
               check_every=25, anderson=5, partial_eig=True, verbose=False, callback=None,
               warn: bool = True) -> ADMMResult:
    """Solve ``problem`` (a :class:`simcode.convex.Problem`) by ADMM; see the module docstring.

    Stops when the relative primal residual ‖X−W‖/max(‖X‖,‖W‖) and dual residual ρ‖W−W_prev‖/‖ρU‖
    are both below ``tol`` and, when a certificate is available, the relative gap
    (objective − lower_bound)/max(1, |objective|) is below ``tol`` too. Stopping at ``max_iter`` gives status
    ``"max_iter"`` and (``warn``) a :class:`simcode.ConvergenceWarning`.

    Parameters
    ----------
    problem : Problem
        Its terms and constraints must give the first-order form (:mod:`simcode.convex.terms`); otherwise
        :class:`simcode.core.UnsupportedTermError` is raised.
    device, dtype : torch device and float dtype (default float64).
    tol, max_iter : stopping rule above.
    rho, alpha : initial penalty (default from the cost and target scales) and over-relaxation.
    check_every : residuals are evaluated every this many iterations (more often in the first ones).
    anderson : Anderson memory (0: off). partial_eig : track the positive eigenpairs (:mod:`.psd_projection`).
    verbose : print one line per check. callback : ``callback(it, objective, r_p, r_d)`` at every check.
    """
    import torch

    _check_problem(problem)
    device = resolve_device(device)
    dtype = torch_dtype(dtype)
    tol = check_number(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", low=1)
    rho = check_number(rho, "rho", low=0.0, low_inclusive=False, allow_none=True)
    alpha = check_number(alpha, "alpha", low=0.0, high=2.0, low_inclusive=False, high_inclusive=False)
    check_every = check_int(check_every, "check_every", low=1)
    anderson = check_int(anderson, "anderson", low=0)
    partial_eig = check_bool(partial_eig, "partial_eig")
    verbose = check_bool(verbose, "verbose")
    warn = check_bool(warn, "warn")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    form = first_order_form(problem.terms, problem.n)
    cform = constraint_form(problem.constraints)
    dtype = dtype or torch.float64
    t0 = time.perf_counter()
    L = _Lifted(form, cform, problem.n, torch, device, dtype)
    N, n = L.N, L.n
    if rho is None:
        rho = L.initial_rho()
    W = torch.zeros((N, N), dtype=dtype, device=device)
    if L.m:
        W[:n, :n] = torch.eye(n, dtype=dtype, device=device) * float(torch.linalg.norm(L.Y)) / math.sqrt(n)
        W, _ = L.prox_K(W, 1e12)
    hist = History()
    L.projector.enabled = partial_eig
    L.projector.rtol = 1e-4
    converged = False
    lb = None
    it = 0
    r_p = r_d = float("inf")

    # The ADMM state is one matrix v = X̂_k + U_{k−1}: (W_k, U_k) = (prox_K(v), v − prox_K(v)).
    # T(v): W = prox_K(v), U = v − W, X = Π_S(W − U), v⁺ = αX + (1 − α)W + U (over-relaxed ADMM).
    def T(v, rho):
        W, b = L.prox_K(v, rho)
        X = L.proj_S(W.mul(2).sub_(v))                  # W − U = 2W − v
        return torch.add(v, X.sub(W), alpha=alpha), W, X, b   # αX + (1 − α)W + U = v + α(X − W)

    # Anderson acceleration (type II, memory `anderson`) of the fixed-point map v → T(v), safeguarded:
    # an extrapolated point is kept only if its fixed-point residual is smaller than the plain step's.
    aa = _Anderson(anderson) if anderson else None
    v = W
    v1, W, X, b = T(v, rho)
    n_checks = 0
    for it in range(1, max_iter + 1):
        if aa is not None:
            res_plain = float(torch.linalg.norm(v1 - v))
            va = aa.extrapolate(v.reshape(-1), v1.reshape(-1))
            accepted = False
            if va is not None:
                va = va.view(N, N)      # symmetric: a combination of symmetric iterates
                va1, Wa, Xa, ba = T(va, rho)
                if float(torch.linalg.norm(va1 - va)) < res_plain:
                    v, v1, W, X, b = va, va1, Wa, Xa, ba
                    accepted = True
                else:
                    aa.reset()
            if not accepted:
                v = v1
                v1, W, X, b = T(v, rho)
        else:
            v = v1
            v1, W, X, b = T(v, rho)
        if it % (check_every if it > 20 * check_every else max(1, check_every // 5)) == 0 or it == max_iter:
            n_checks += 1
            near = r_p < 10 * tol and r_d < 10 * tol
            if (near or n_checks % 4 == 0) and not L.verify_projection():
                # the partial eigensolver missed part of the spectrum: redo this step exactly
                v1, W, X, b = T(v, rho)
                if aa is not None:
                    aa.reset()
            v1 = 0.5 * (v1 + v1.T)                        # wash out rounding asymmetry
            W1, b = L.prox_K(v1, rho)
            U1 = v1 - W1
            nx, nw = float(torch.linalg.norm(X)), float(torch.linalg.norm(W1))
            r_p = float(torch.linalg.norm(X - W1)) / max(nx, nw, 1e-300)
            r_d = rho * float(torch.linalg.norm(W1 - W)) / max(rho * float(torch.linalg.norm(U1)), 1e-300)
            # inexact projections: keep the eigen-solver's error four orders below the current residuals
            L.projector.rtol = min(1e-4, max(1e-4 * max(tol, r_p, r_d), 100 * torch.finfo(dtype).eps))
            obj = L.objective(W1)
            gap = None
            if r_p < 10 * tol and r_d < 10 * tol:
                lb = L.lower_bound(rho * U1)
                if lb is not None:
                    gap = (obj - lb) / max(1.0, abs(obj))
            hist.append(iter=it, objective=obj, primal_residual=r_p, dual_residual=r_d, rho=rho,
                        gap=math.nan if gap is None else gap)
            if verbose:
                print(f"admm it={it:5d} obj={obj:.8g} r_p={r_p:.2e} r_d={r_d:.2e} rho={rho:.3g} gap={gap}")
            if callback is not None:
                callback(it, obj, r_p, r_d)
            if r_p < tol and r_d < tol and (lb is None or gap is None or gap < tol):
                converged = True
                break
            # residual balancing (OSQP-style: ρ ← ρ·√(r_p/r_d), only for a large imbalance)
            ratio = math.sqrt(max(r_p, 1e-300) / max(r_d, 1e-300))
            if ratio > 5 or ratio < 1 / 5:
                f = min(max(ratio, 0.1), 10.0)
                rho *= f
                v = W1 + U1 / f
                L.projector.rescaled()
                v1, W, X, b = T(v, rho)
                if aa is not None:
                    aa.reset()
    W1, b = L.prox_K(v1, rho)
    U1 = v1 - W1
    obj = L.objective(W1)
    if lb is None or not converged:
        lb = L.lower_bound(rho * U1)
    Q = X[:n, :n]
    Q = L.unscale_Q(0.5 * (Q + Q.T).detach().cpu().numpy())
    lower = math.nan if lb is None else float(lb)
    gap = (obj - lower) / max(1.0, abs(obj)) if lb is not None else math.nan
    status = "converged" if converged else ("diverged" if not (math.isfinite(r_p) and math.isfinite(r_d))
                                            else "max_iter")
    if status != "converged" and warn:
        warn_not_converged("ADMM (simcode.convex)", it, f"status {status}, primal residual {r_p:.2e}, dual "
                           f"residual {r_d:.2e}, gap {gap:.2e} (tol {tol:g})", stacklevel=3)
    cert = Certificate(lower_bound=lower, gap=gap, primal_residual=r_p, solver_status=status)
    return ADMMResult(
        Q=Q,
        b=_split_b(L.unscale_b(b.detach().cpu().numpy()), L) if b is not None else [],
        objective=obj, status=status, n_iter=it, certificate=cert, rho=rho,
        primal_residual=r_p, dual_residual=r_d, projections=L.projector.stats(), history=hist.as_dict(),
        time_s=time.perf_counter() - t0,
    )


class _Anderson:
    """Type-II Anderson acceleration (Walker & Ni 2011) with a ridge-regularised least squares.

    The last ``memory`` differences ΔG, ΔF live in preallocated ring buffers and the normal matrix ΔFᵀΔF is
    updated by one row per step, so a step costs three passes over the buffers (no re-stacking).
    """

    def __init__(self, memory):
        self.m = memory
        self.dG = self.dF = None
        self.reset()

    def reset(self):
        self.x_prev = self.g_prev = None
        self.count = 0
        self.head = 0

    def extrapolate(self, x, g):
        import torch

        f = g - x
        if self.dF is None or self.dF.shape[1] != x.numel():
            self.dG = torch.empty((self.m, x.numel()), dtype=x.dtype, device=x.device)
            self.dF = torch.empty_like(self.dG)
            self.FtF = torch.zeros((self.m, self.m), dtype=x.dtype, device=x.device)
        if self.x_prev is not None:
            j = self.head
            torch.sub(g, self.g_prev, out=self.dG[j])
            torch.sub(f, self.g_prev, out=self.dF[j])
            self.dF[j].add_(self.x_prev)
            self.head = (j + 1) % self.m
            self.count = min(self.count + 1, self.m)
        self.x_prev, self.g_prev = x, g
        if self.count == 0:
            return None
        k = self.count
        j = (self.head - 1) % self.m
        prods = self.dF[:k] @ torch.stack([self.dF[j], f], 1)    # one pass over the buffer
        self.FtF[:k, j] = prods[:, 0]
        self.FtF[j, :k] = prods[:, 0]
        rhs = prods[:, 1]
        A = self.FtF[:k, :k]
        A = A + 1e-10 * float(A.diagonal().max().clamp_min(1e-300)) * torch.eye(k, dtype=A.dtype, device=A.device)
        try:
            gamma = torch.linalg.solve(A, rhs)
        except RuntimeError:
            self.reset()
            return None
        if not bool(torch.isfinite(gamma).all()):
            self.reset()
            return None
        return g - gamma @ self.dG[:k]


def _split_b(b, L):
    out, i = [], 0
    for r in L.readouts:
        k = r.Y.shape[1]
        out.append(b[i:i + k] if r.affine else np.zeros(k))
        i += k
    return out


def _check_problem(problem) -> None:
    """``problem`` must be a :class:`simcode.convex.Problem` (a clear TypeError instead of an AttributeError)."""
    from .problem import Problem

    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a simcode.convex.Problem, got {type(problem).__name__}")
