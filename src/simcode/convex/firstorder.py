"""First-order solver for Q-space problems: ADMM on the Schur-complement SDP, in PyTorch (CPU or CUDA),
with a rigorous dual lower bound (the certificate).

Lifted problem. With the readout targets of all readout/decodability terms stacked, Y = [Y_1 … Y_K]
(n × m), every problem :class:`~simcode.convex.Problem` builds is

    min  ⟨C, Q⟩ + a‖Q‖²_F + Σ_k w_k Tr T_kk
    s.t. M = [[Q, B], [Bᵀ, T]] ⪰ 0, M = P M P         (P: projector onto range([X,1]) ⊕ R^m, encoders)
         B_k = Y_k − 1 b_kᵀ (b_k free if affine, 0 otherwise),  Q ≥ 0 (non-negativity, DNN),
         Tr Q ≤ c (budget),

because min_T {w Tr T : [[Q, Ỹ],[Ỹᵀ, T]] ⪰ 0} = w Tr(Ỹᵀ Q⁺ Ỹ) (Schur complement).

ADMM (scaled form, over-relaxation α) splits M into X ∈ S = {PSD, range} and W ∈ K = {affine blocks,
Q ≥ 0, budget}:  X ← Π_S(W − U) (one eigen-decomposition of an (n+m)² matrix),
W ← argmin_{W∈K} f(W) + ρ/2‖W − (X̂ + U)‖² (elementwise, closed form), U ← U + X̂ − W.
ρ is adapted by residual balancing (Boyd et al. 2011, §3.4.1).

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
from dataclasses import dataclass

import numpy as np

from .terms import EncoderCost, Nonnegative, ReadoutCost, SimilarityMatching, Term, TraceBudget

__all__ = ["ADMMResult", "admm_solve"]


@dataclass
class ADMMResult:
    Q: np.ndarray
    b: list
    objective: float
    lower_bound: float | None
    n_iter: int
    converged: bool
    primal_residual: float
    dual_residual: float
    history: dict
    time_s: float


class _Lifted:
    """The structured data of a problem, diagonally rescaled, on a torch device.

    Scaling (a congruence, so the problem is unchanged): M̃ = S M S with S = diag(d, e),
    d_i = √C_ii (when the Q-cost has a positive diagonal and no trace budget) and e = √w, so that the
    scaled costs are ≈ identity on both blocks; this makes one ρ fit all blocks.
    """

    def __init__(self, problem, torch, device, dtype):
        n = problem.n
        self.n = n
        t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
        C = np.zeros((n, n))
        quad = 0.0
        self.readouts: list[ReadoutCost] = []
        basis = None
        for term in problem.terms:
            L = term.linear_cost(n)
            if L is not None:
                C += L
            if isinstance(term, SimilarityMatching):
                quad += term.weight * term.c
            if isinstance(term, ReadoutCost):
                self.readouts.append(term)
            if isinstance(term, EncoderCost) and term.basis.shape[1] < n:
                basis = term.basis if basis is None else _intersect(basis, term.basis)
        C = 0.5 * (C + C.T)
        self.nonneg = any(isinstance(c, Nonnegative) for c in problem.constraints)
        budgets = [c.c for c in problem.constraints if isinstance(c, TraceBudget)]
        self.budget = min(budgets) if budgets else None
        diagC = np.diag(C)
        if self.budget is None and np.all(diagC > 0):
            d = np.sqrt(diagC)
        else:
            d = np.ones(n)
        self.d_np = d
        self.d = t(d)
        self.C = t(C / np.outer(d, d))
        self.quad = t(quad / np.outer(d, d) ** 2) if quad > 0 else None
        self.m = sum(r.Y.shape[1] for r in self.readouts)
        N = n + self.m
        self.N = N
        if self.readouts:
            Y = np.hstack([r.Y for r in self.readouts])
            aff = np.concatenate([[r.affine] * r.Y.shape[1] for r in self.readouts])
            w = np.concatenate([[r.weight] * r.Y.shape[1] for r in self.readouts])
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

    def unscale_Q(self, Qs):
        return Qs / np.outer(self.d_np, self.d_np)

    def unscale_b(self, bs):
        return bs / self.e_np

    # ----- the two projections
    def proj_S(self, A):
        torch = self.torch
        A = 0.5 * (A + A.T)
        if self.P is not None:
            A = self.P.T @ A @ self.P
        w, V = torch.linalg.eigh(A)
        pos = w > 0
        Vp = V[:, pos]
        X = (Vp * w[pos]) @ Vp.T
        if self.P is not None:
            X = self.P @ X @ self.P.T
        return X

    def prox_K(self, V, rho):
        """argmin_{W ∈ K} f(W) + ρ/2 ‖W − V‖² (elementwise; returns W and the biases b)."""
        torch = self.torch
        n = self.n
        W = torch.empty_like(V)
        Qh = (rho * V[:n, :n] - self.C) / (rho + 2 * self.quad if self.quad is not None else rho)
        Qh = 0.5 * (Qh + Qh.T)
        if self.nonneg:
            Qh = Qh.clamp_min(0)
        if self.budget is not None:
            d = torch.diagonal(Qh).clone()
            d = _proj_budget(torch, d, self.budget, self.nonneg)
            Qh = Qh.clone()
            Qh.diagonal().copy_(d)
        W[:n, :n] = Qh
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
        val = (self.C * Q).sum()
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
        lo, hi = 0.0, 1.0
        if self._in_dual_cone(L1):
            lo = 1.0
        else:
            for _ in range(30):
                mid = 0.5 * (lo + hi)
                if self._in_dual_cone(L0 + mid * (L1 - L0)):
                    lo = mid
                else:
                    hi = mid
        cands = [self._g(L0 + s * (L1 - L0)) for s in (lo, 0.5 * lo, 0.0)]
        return max(cands)

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


def _intersect(B1, B2):
    """Orthonormal basis of range(B1) ∩ range(B2)."""
    P1 = B1 @ B1.T
    P2 = B2 @ B2.T
    w, V = np.linalg.eigh(P1 @ P2 @ P1)
    return V[:, w > 1 - 1e-8]


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
               check_every=25, anderson=5, verbose=False, progress=None) -> ADMMResult:
    """Solve ``problem`` (a :class:`simcode.convex.Problem`) by ADMM; see the module docstring.

    Stops when the relative primal residual ‖X−W‖/max(‖X‖,‖W‖) and dual residual ρ‖W−W_prev‖/‖ρU‖
    are both below ``tol`` and, when a certificate is available, the relative gap
    (objective − lower_bound)/max(1, |objective|) is below ``tol`` too.
    """
    import torch

    dtype = dtype or torch.float64
    t0 = time.perf_counter()
    L = _Lifted(problem, torch, device, dtype)
    N, n = L.N, L.n
    # scale: start ρ at the size of the costs
    if rho is None:
        rho = 1.0
    W = torch.zeros((N, N), dtype=dtype, device=device)
    if L.m:
        W[:n, :n] = torch.eye(n, dtype=dtype, device=device) * float(torch.linalg.norm(L.Y)) / math.sqrt(n)
        W, _ = L.prox_K(W, 1e12)
    U = torch.zeros_like(W)
    hist = {"objective": [], "primal_residual": [], "dual_residual": [], "rho": [], "gap": [], "iter": []}
    converged = False
    lb = None
    it = 0
    r_p = r_d = float("inf")

    def step(W, U, rho):
        X = L.proj_S(W - U)
        Xh = alpha * X + (1 - alpha) * W
        W1, b = L.prox_K(Xh + U, rho)
        return W1, U + Xh - W1, X, b

    # Anderson acceleration (type II, memory `anderson`) of the ADMM fixed-point map (W, U) → (W⁺, U⁺),
    # safeguarded: an extrapolated point is kept only if its fixed-point residual decreased.
    aa = _Anderson(anderson) if anderson else None
    W1, U1, X, b = step(W, U, rho)
    for it in range(1, max_iter + 1):
        W_prev = W
        res_plain = float(torch.linalg.norm(W1 - W) ** 2 + torch.linalg.norm(U1 - U) ** 2) ** 0.5
        if aa is not None:
            x = torch.cat([W.flatten(), U.flatten()])
            g = torch.cat([W1.flatten(), U1.flatten()])
            xa = aa.extrapolate(x, g)
            if xa is not None:
                Wa, Ua = xa[: N * N].view(N, N), xa[N * N:].view(N, N)
                Wa = 0.5 * (Wa + Wa.T)
                Ua = 0.5 * (Ua + Ua.T)
                W2, U2, X2, b2 = step(Wa, Ua, rho)
                res_aa = float(torch.linalg.norm(W2 - Wa) ** 2 + torch.linalg.norm(U2 - Ua) ** 2) ** 0.5
                if res_aa < res_plain:
                    W, U = Wa, Ua
                    W1, U1, X, b = W2, U2, X2, b2
                    W_prev = W
                else:
                    aa.reset()
                    W, U = W1, U1
                    W1, U1, X, b = step(W, U, rho)
            else:
                W, U = W1, U1
                W1, U1, X, b = step(W, U, rho)
        else:
            W, U = W1, U1
            W1, U1, X, b = step(W, U, rho)
        if it % (check_every if it > 20 * check_every else max(1, check_every // 5)) == 0 or it == max_iter:
            nx, nw = float(torch.linalg.norm(X)), float(torch.linalg.norm(W1))
            r_p = float(torch.linalg.norm(X - W1)) / max(nx, nw, 1e-300)
            r_d = rho * float(torch.linalg.norm(W1 - W)) / max(rho * float(torch.linalg.norm(U1)), 1e-300)
            obj = L.objective(W1)
            hist["iter"].append(it)
            hist["objective"].append(obj)
            hist["primal_residual"].append(r_p)
            hist["dual_residual"].append(r_d)
            hist["rho"].append(rho)
            gap = None
            if r_p < 10 * tol and r_d < 10 * tol:
                lb = L.lower_bound(rho * U1)
                if lb is not None:
                    gap = (obj - lb) / max(1.0, abs(obj))
            hist["gap"].append(gap)
            if verbose:
                print(f"admm it={it:5d} obj={obj:.8g} r_p={r_p:.2e} r_d={r_d:.2e} rho={rho:.3g} gap={gap}")
            if progress is not None:
                progress(it, obj, r_p, r_d)
            if r_p < tol and r_d < tol and (lb is None or gap is None or gap < tol):
                converged = True
                break
            # residual balancing (OSQP-style: ρ ← ρ·√(r_p/r_d), only for a large imbalance)
            ratio = math.sqrt(max(r_p, 1e-300) / max(r_d, 1e-300))
            if ratio > 5 or ratio < 1 / 5:
                f = min(max(ratio, 0.1), 10.0)
                rho *= f
                U = U / f
                W1, U1, X, b = step(W, U, rho)
                if aa is not None:
                    aa.reset()
    W, U = W1, U1
    obj = L.objective(W)
    if lb is None or not converged:
        lb = L.lower_bound(rho * U)
    Q = X[:n, :n]
    Q = L.unscale_Q(0.5 * (Q + Q.T).detach().cpu().numpy())
    return ADMMResult(
        Q=Q,
        b=_split_b(L.unscale_b(b.detach().cpu().numpy()), L) if b is not None else [],
        objective=obj, lower_bound=lb, n_iter=it, converged=converged,
        primal_residual=r_p, dual_residual=r_d, history=hist, time_s=time.perf_counter() - t0,
    )


class _Anderson:
    """Type-II Anderson acceleration (Walker & Ni 2011) with a ridge-regularised least squares."""

    def __init__(self, memory):
        self.m = memory
        self.reset()

    def reset(self):
        self.x_prev = self.g_prev = None
        self.dG, self.dF = [], []

    def extrapolate(self, x, g):
        f = g - x
        if self.x_prev is not None:
            self.dG.append(g - self.g_prev)
            self.dF.append(f - (self.g_prev - self.x_prev))
            if len(self.dF) > self.m:
                self.dG.pop(0)
                self.dF.pop(0)
        self.x_prev, self.g_prev = x, g
        if not self.dF:
            return None
        import torch

        F = torch.stack(self.dF, 1)
        A = F.T @ F
        A = A + 1e-10 * float(A.diagonal().max().clamp_min(1e-300)) * torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
        try:
            gamma = torch.linalg.solve(A, F.T @ f)
        except RuntimeError:
            self.reset()
            return None
        return g - torch.stack(self.dG, 1) @ gamma


def _split_b(b, L):
    out, i = [], 0
    for r in L.readouts:
        k = r.Y.shape[1]
        out.append(b[i:i + k] if r.affine else np.zeros(k))
        i += k
    return out
