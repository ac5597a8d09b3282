r"""Two-layer ReLU networks with weight decay trained through their convex reformulation (paper 003,
"Hidden convexity in two-layer ReLU network" slides; Pilanci & Ergen 2020, ICML, eq. (8); Sahiner et al. 2021,
ICLR, for vector outputs; Mishkin, Sahiner & Pilanci 2022, ICML, for gated ReLU and the solvers).

Orientation: ``X`` is n × d (rows = samples; the paper's X is Xᵀ), outputs ``Y`` n × c. Add a column of ones
to ``X`` for a first-layer bias.

Non-convex problem (hidden width M, f(X) = Σ_j (X w_j)₊ v_jᵀ):

    min  ℓ(Y, f(X)) + (λ/2) Σ_j (‖w_j‖² + ‖v_j‖²)

(weight decay λ/2 — chosen so that the convex program below carries exactly the slides' λ and the slides'
whitened closed form V* = Σ(σ_i − λ/2)₊ a_i b_iᵀ holds for the squared loss ℓ = ‖Y − F‖²_F).

Convex program over sampled activation patterns D_i = diag(1[X g_i ≥ 0]) (sampled gates g_i ~ N(0, I)):

* exact ReLU (``gated=False``): for each pattern i, output k and sign s ∈ {+, −} a vector u_{s,i,k} ∈ R^d with
  the cone constraint (2D_i − I) X u_{s,i,k} ≥ 0, prediction F[:, k] = Σ_i D_i X (u_{+,i,k} − u_{−,i,k}), penalty
  λ Σ ‖u_{s,i,k}‖₂ (group lasso). For c = 1 this is Pilanci & Ergen's exact program. For c > 1 it is the
  exact program of networks whose hidden units each feed one output (v_j ∝ ±e_k); the unrestricted
  vector-output problem is a copositive program (Sahiner et al. 2021) and this is an upper bound on it —
  tight e.g. for the slides' whitened one-hot case (neural collapse), where every optimal neuron feeds one
  class.
* gated ReLU (``gated=True``): f(X) = Σ_j D_{g_j} X w_j v_jᵀ with fixed gates; the convex program
  min ℓ(Y, Σ_i D_i X V_i) + λ Σ_i ‖V_i‖_* (V_i ∈ R^{d×c}, nuclear norm; group ℓ2 for c = 1) is exact for any c
  (the variational form of the nuclear norm).

Losses ℓ: ``"squared"`` ‖Y − F‖²_F; ``"logistic"`` Σ log(1 + exp(−y F)) (one output, y ∈ {−1, +1});
``"cross_entropy"`` Σ_n logsumexp(F_n) − ⟨Y_n, F_n⟩ (Y one-hot, one output per class).

Solvers (:func:`convex_relu_fit`, ``solver=``): ``"cvxpy"`` (Clarabel interior point) or ``"torch"``: ADMM with
exact linear solves (one n × n Cholesky factor for the whole run, through (2D_i − I)² = I and Woodbury),
over-relaxation and residual balancing, in torch on CPU or GPU (see :func:`_admm`); the same splitting serves the
gated and exact programs and all losses. Certificate: a Lagrange dual point built from Θ = −∇ℓ(F) and the cone
multipliers, scaled into dual feasibility, gives a lower bound on the (sampled-pattern) convex optimum; the gap
is the objective of the recovered ReLU network − that bound. Recovery (slides' normalisation):
u ↦ w = u/√‖u‖, v = ±√‖u‖ e_k (ReLU); V_i = Σ σ a bᵀ ↦ w = √σ a, v = √σ b (gated).

Estimators: :class:`ConvexReLURegressor` (squared loss, one or several outputs) and
:class:`ConvexReLUClassifier` (labels of any type; binary: one output, logistic or squared loss on ±1;
multi-class: one output per class, cross-entropy or squared loss on ±1 one-vs-rest targets).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core.estimator import validate_named
from ..core import (Certificate, History, Representation, SolverMixin, SolverResult, check_array, check_bool,
                    check_int, check_number, check_option, check_random_state, resolve_device,
                    warn_not_converged)

__all__ = ["ConvexReLURegressor", "ConvexReLUClassifier", "ConvexReLUResult", "convex_relu_fit"]

_LOSSES = ("squared", "logistic", "cross_entropy")
_SOLVERS = ("auto", "cvxpy", "torch")
_AUTO_CVXPY_MAX = 200_000  # solver="auto": Clarabel when n·m·c (cone-constraint rows / 2) is at most this
_ADMM_RELAX = 1.6          # over-relaxation of the ADMM (Boyd et al. 2011 §3.4.3)
_ADMM_W = 1.0              # weight of the v = u block, in units of the mean eigenvalue of XᵀX
_ADMM_KAPPA = 1.0          # weight of the cone block
_ADMM_CHECK = 10           # ADMM iterations between certificate checks (one history entry each)


# ------------------------------------------------------------------------------------------------ the program
def _loss(F: torch.Tensor, Y: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "squared":
        return ((Y - F) ** 2).sum()
    if kind == "logistic":
        return torch.nn.functional.softplus(-Y * F).sum()
    return (torch.logsumexp(F, 1) - (F * Y).sum(1)).sum()


def _dual_value(Theta: torch.Tensor, Y: torch.Tensor, kind: str) -> torch.Tensor:
    """−ℓ*(−Θ) (Fenchel conjugate), the loss part of the dual objective."""
    if kind == "squared":
        return (Theta * Y).sum() - (Theta ** 2).sum() / 4
    if kind == "logistic":
        p = (Y * Theta).clamp(0, 1)
        return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum()
    P = (Y - Theta).clamp_min(0)
    return -torch.xlogy(P, P).sum()


class _Program:
    """The sampled convex program on the solve device: data X (n × d), targets Y (n × c), patterns D (m × n)."""

    def __init__(self, Xt, Yt, D, lam: float, gated: bool, kind: str):
        self.X, self.Y, self.D, self.S = Xt, Yt, D, 2 * D - 1
        self.lam, self.gated, self.kind = lam, gated, kind

    def forward(self, V):
        if self.gated:
            return torch.einsum("mn,nd,mdc->nc", self.D, self.X, V)
        XU = torch.einsum("nd,smdc->smnc", self.X, V)
        return torch.einsum("mn,mnc->nc", self.D, XU[0] - XU[1])

    def penalty(self, V):
        if self.gated:
            if V.shape[-1] == 1:
                return torch.linalg.norm(V, dim=1).sum()
            return torch.linalg.svdvals(V).sum()
        return torch.linalg.norm(V, dim=2).sum()

    def objective(self, V) -> float:
        return float(_loss(self.forward(V), self.Y, self.kind)) + self.lam * float(self.penalty(V))

    def lower_bound(self, V, mu, Theta=None) -> float:
        """Dual lower bound from Θ (default −∇ℓ(F) at the prediction of V) and the cone multipliers μ, scaled into
        dual feasibility: ‖Xᵀ D_i Θ‖ ≤ λ (gated: operator norm), ‖Xᵀ(s D_i θ_k + S_i ν_{s,i,k})‖ ≤ λ (ReLU)."""
        X, Y, D, S, lam = self.X, self.Y, self.D, self.S, self.lam
        if Theta is None:
            F = self.forward(V).detach().requires_grad_(True)
            (gF,) = torch.autograd.grad(_loss(F, Y, self.kind), F)
            Theta = -gF
        if self.gated:
            A = torch.einsum("nd,mn,nc->mdc", X, D, Theta)
            nr = torch.linalg.matrix_norm(A, ord=2) if A.shape[-1] > 1 else torch.linalg.norm(A, dim=(1, 2))
            worst = float(nr.max())
        else:
            DT = D[:, :, None] * Theta[None]                        # (m, n, c)
            Ap = torch.einsum("nd,mnc->mdc", X, DT + S[:, :, None] * mu[0])
            Am = torch.einsum("nd,mnc->mdc", X, -DT + S[:, :, None] * mu[1])
            worst = max(float(torch.linalg.norm(Ap, dim=1).max()), float(torch.linalg.norm(Am, dim=1).max()))
        tscale = 1.0 if worst <= lam else lam / worst
        lb = float(_dual_value(tscale * Theta, Y, self.kind))
        if self.kind == "squared":
            # the best scaling of a feasible Θ: max_t t⟨Θ,Y⟩ − t²‖Θ‖²/4 on [0, tscale]
            a, b = float((Theta * Y).sum()), float((Theta ** 2).sum()) / 4
            t = min(tscale, a / (2 * b)) if b > 0 and a > 0 else 0.0
            lb = max(lb, t * a - t * t * b)
        return lb


# ------------------------------------------------------------------------------------------------ the result
@dataclass(kw_only=True)
class ConvexReLUResult(SolverResult):
    """Solution of the sampled convex program and the ReLU network recovered from it.

    Attributes
    ----------
    coef : torch.Tensor
        The convex variables: (2, m, d, c) for the exact ReLU program (u₊, u₋), (m, d, c) gated.
    gates : ndarray of shape (d, m)
        The gates g_i of the distinct, non-empty activation patterns used.
    W1 : ndarray of shape (M, d)
        First-layer weights w_j (rows) of the recovered network, f(X) = relu(X W1ᵀ) W2ᵀ.
    W2 : ndarray of shape (c, M)
        Second-layer weights v_j (columns).
    neuron_gates : ndarray of int, shape (M,)
        The pattern (column of ``gates``) of each hidden unit (the gate of a gated unit).
    objective : float
        Convex objective ℓ + λ Σ (group norms).
    network_objective : float
        Non-convex objective ℓ + (λ/2)(‖W1‖² + ‖W2‖²) of the recovered network (after pruning).
    lower_bound, gap : float
        Certified dual bound on the sampled-pattern convex optimum, and ``network_objective − lower_bound``
        (also in ``certificate``, with ``gap_kind="absolute"``).
    max_violation : float
        Largest cone-constraint violation of the exact ReLU program, relative to max(1, max|Y|).
    solver : str
        ``"cvxpy"`` or ``"torch"``: the solver that ran.
    """

    coef: object = None
    gates: np.ndarray = None
    W1: np.ndarray = None
    W2: np.ndarray = None
    neuron_gates: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    objective: float = float("nan")
    network_objective: float = float("nan")
    lower_bound: float = float("nan")
    gap: float = float("nan")
    max_violation: float = 0.0
    solver: str = ""
    loss: str = "squared"
    gated: bool = False
    lam: float = float("nan")


# ------------------------------------------------------------------------------------------------ solvers
def _sample_gates(Xn, gates, n_patterns, rng):
    """Gates of the distinct, non-empty activation patterns 1[X g ≥ 0] (given, or sampled g ~ N(0, I_d))."""
    d = Xn.shape[1]
    if gates is not None:
        G = check_array(gates, "gates", ndim=2)
        if G.shape[0] != d:
            raise ValueError(f"gates must be a ({d}, m) array (features × gates), got shape {G.shape}")
    else:
        G = rng.standard_normal((d, n_patterns))
    _, keep = np.unique((Xn @ G >= 0).T, axis=0, return_index=True)
    G = G[:, np.sort(keep)]
    Dn = (Xn @ G >= 0).T
    nonzero = Dn.any(1)
    G, Dn = G[:, nonzero], Dn[nonzero]
    if G.shape[1] == 0:
        raise ValueError("no non-trivial activation pattern was found; increase n_patterns")
    return G, Dn


def _admm(prog: _Program, *, tol, max_iter, rho, verbose):
    """ADMM with exact linear solves (device-agnostic torch; CPU or GPU).

    Splitting (ns = 2 signs for the exact ReLU, 1 for gated; u the stacked group variables):

        min ℓ(F) + I(z ≥ 0) + λ Σ_g ‖v_g‖   s.t.  F = M u,  z = C u (exact only),  v = u,

    with M u = Σ_{s,i} σ_s D_i X u_{s,i} and (C u)_{s,i} = (2D_i − I) X u_{s,i} (Pilanci & Ergen 2020, eq. (8);
    Mishkin et al. 2022, eq. (5) for the gated form). With scaled duals (γ, α, β), penalty ρ and a weight w on
    the v = u block, the u-step solves (MᵀM + CᵀC + wI) u = Mᵀ(F − γ) + Cᵀ(z − α) + w(v − β). Because
    (2D_i − I)² = I, CᵀC + wI = I ⊗ Q with Q = XᵀX + wI (Q = wI when gated), and by Woodbury the system needs
    one n × n Cholesky factor of K = I + ns (X Q⁻¹ Xᵀ) ∘ (DᵀD) (Σ_i D_i P D_i = P ∘ DᵀD), computed once —
    ρ can then be adapted (residual balancing, Boyd et al. 2011 §3.4.1) at no cost. F-step: the prox of ℓ/ρ
    (closed form for the squared loss; a few prox-gradient steps, contraction L/(L+ρ), otherwise); z-step:
    projection on z ≥ 0; v-step: group soft-thresholding (singular-value thresholding for gated c > 1).
    Over-relaxation 1.6. Stops when the certified gap (recovered-network objective − dual bound from
    Θ = −∇ℓ(Mv) and the cone multipliers ν = −ρα) is below ``tol`` × max(1, ℓ(0)).

    Returns ``(V, mu, status, n_iter, history, best_lower_bound, max_violation)``.
    """
    t0 = time.perf_counter()
    Xt, Yt, D, lam, gated, kind = prog.X, prog.Y, prog.D, prog.lam, prog.gated, prog.kind
    dev, dt = Xt.device, Xt.dtype
    n, d = Xt.shape
    m, c = D.shape[0], Yt.shape[1]
    ns = 1 if gated else 2
    # internal layout: group variables U (d, ns, m, c) so that X U is one GEMM; cone blocks (n, ns, m, c)
    sig = torch.tensor([1.0, -1.0][:ns], dtype=dt, device=dev)
    Dt, St = D.T.contiguous(), prog.S.T.contiguous()
    sigD = (sig[None, :, None] * Dt[:, None, :])[..., None]          # (n, ns, m, 1)
    Sn = St[:, None, :, None]                                         # (n, 1, m, 1)
    XT = Xt.T.contiguous()
    w = _ADMM_W * max(float((Xt * Xt).sum()) / d, 1e-12)   # weight of the v = u block: mean eigenvalue of XᵀX
    eye_d = torch.eye(d, dtype=dt, device=dev)
    kap = _ADMM_KAPPA                # weight of the cone block (z = κ C u)
    Q = w * eye_d if gated else kap * kap * (XT @ Xt) + w * eye_d
    Qinv = torch.linalg.inv(Q)
    Qinv = (Qinv + Qinv.T) / 2
    K = ns * (Xt @ Qinv @ XT) * (Dt @ D)
    K.diagonal().add_(1.0)
    Lk = torch.linalg.cholesky(K)
    shape = (d, ns, m, c)

    def XU_of(U):
        return (Xt @ U.reshape(d, -1)).view(n, ns, m, c)

    def F_of(XU):
        return (XU * sigD).sum((1, 2))

    def XT_of(T):                                   # T (n, ns, m, c) -> (d, ns, m, c)
        return (XT @ T.reshape(n, -1)).view(shape)

    def MT(R):
        return XT_of(sigD * R[:, None, None, :])

    def Binv(R):
        return (Qinv @ R.reshape(d, -1)).view(shape)

    def solve(r):
        y = Binv(r)
        t = torch.cholesky_solve(F_of(XU_of(y)), Lk)
        return y - Binv(MT(t))

    Lf = {"squared": 2.0, "logistic": 0.25, "cross_entropy": 0.5}[kind]

    def dloss(F):
        if kind == "squared":
            return -2.0 * (Yt - F)
        if kind == "logistic":
            return -Yt * torch.sigmoid(-Yt * F)
        return torch.softmax(F, 1) - Yt

    def prox_loss(a, F0, rho):
        if kind == "squared":
            return (2.0 * Yt + rho * a) / (2.0 + rho)
        F = F0
        for _ in range(5):
            F = (Lf * F - dloss(F) + rho * a) / (Lf + rho)
        return F

    def prox_group(Z, t):
        if gated and c > 1:
            Vm = Z[:, 0].permute(1, 0, 2)                      # (m, d, c)
            Uu, sv, Vh = torch.linalg.svd(Vm, full_matrices=False)
            return ((Uu * (sv - t).clamp_min(0)[:, None, :]) @ Vh).permute(1, 0, 2)[:, None]
        nrm = torch.linalg.norm(Z, dim=(0, 3) if gated else 0, keepdim=True)
        return Z * (1 - t / nrm.clamp_min(1e-300)).clamp_min(0)

    def public(U):                                   # (d, ns, m, c) -> the coef layout
        V = U.permute(1, 2, 0, 3)
        return V[0].contiguous() if gated else V.contiguous()

    scale = max(1.0, float(_loss(torch.zeros_like(Yt), Yt, kind)))
    rho = float(rho) * (1.0 if kind == "squared" else 0.25)
    relax = _ADMM_RELAX
    u = torch.zeros(shape, dtype=dt, device=dev)
    v, bet = torch.zeros_like(u), torch.zeros_like(u)
    F, gam = torch.zeros_like(Yt), torch.zeros_like(Yt)
    z = alp = None
    if not gated:
        z, alp = torch.zeros(n, ns, m, c, dtype=dt, device=dev), torch.zeros(n, ns, m, c, dtype=dt, device=dev)
    hist = History()
    status, it, best_lb = "max_iter", 0, -math.inf
    while it < max_iter:
        it += 1
        rhs = MT(F - gam) + w * (v - bet)
        if not gated:
            rhs = rhs + kap * XT_of(Sn * (z - alp))
        u = solve(rhs)
        XU = XU_of(u)
        Fu = F_of(XU)
        F_old, v_old = F, v
        Fh = relax * Fu + (1 - relax) * F
        F = prox_loss(Fh + gam, F, rho)
        gam = gam + Fh - F
        uh = relax * u + (1 - relax) * v
        v = prox_group(uh + bet, lam / (rho * w))
        bet = bet + uh - v
        if not gated:
            Cu = kap * Sn * XU
            z_old = z
            Ch = relax * Cu + (1 - relax) * z
            z = (Ch + alp).clamp_min(0)
            alp = alp + Ch - z
        if it % _ADMM_CHECK and it < max_iter:
            continue
        # ---- residual balancing (Boyd et al. 2011 §3.4.1) and the certificate
        r2 = float(((Fu - F) ** 2).sum()) + w * float(((u - v) ** 2).sum())
        dual = MT(F - F_old) + w * (v - v_old)
        if not gated:
            r2 += float(((Cu - z) ** 2).sum())
            dual = dual + kap * XT_of(Sn * (z - z_old))
        r, s = math.sqrt(r2), rho * float(torch.linalg.norm(dual))
        XV = XU_of(v)
        pen = float(torch.linalg.svdvals(v[:, 0].permute(1, 0, 2)).sum()) if (gated and c > 1) else \
            float(torch.linalg.norm(v, dim=(0, 3) if gated else 0).sum())
        obj = float(_loss(F_of(XV), Yt, kind)) + lam * pen
        # the ReLU network of v (its own activation patterns): Σ_{s,i} σ_s relu(X v_{s,i})
        net = obj if gated else (float(_loss((torch.relu(XV) * sig[None, :, None, None]).sum((1, 2)), Yt, kind))
                                 + lam * pen)
        if not (math.isfinite(obj) and math.isfinite(net)):
            status = "diverged"
            break
        mu = None if gated else (-rho * kap * alp).clamp_min(0).permute(1, 2, 0, 3)
        lb = best_lb = max(prog.lower_bound(public(v), mu, Theta=-dloss(F)), best_lb)
        hist.append(iteration=it, seconds=time.perf_counter() - t0, objective=obj, network_objective=net,
                    lower_bound=lb, gap=max(obj, net) - lb, rho=rho, primal_residual=r, dual_residual=s)
        if verbose:
            print(f"iter {it}: obj {obj:.10g} network {net:.10g} bound {lb:.10g} rho {rho:.3g} r {r:.2e} s {s:.2e}")
        # converged when both the convex objective of v and its ReLU network are within tol of the bound
        # (the network alone may beat the sampled-pattern optimum while v still violates the cones)
        if max(obj, net) - lb <= tol * scale:
            status = "converged"
            break
        if r > 10 * s or s > 10 * r:
            f = 2.0 if r > 10 * s else 0.5
            rho *= f
            gam, bet = gam / f, bet / f
            if not gated:
                alp = alp / f
    V = public(v)
    mu = None if gated else (-rho * kap * alp).clamp_min(0).permute(1, 2, 0, 3).contiguous()
    viol = 0.0 if gated else float((-(Sn * XU_of(v))).clamp_min(0).max()) / max(1.0, float(Yt.abs().max()))
    return V, mu, status, it, hist, best_lb, viol


def _cvxpy(prog: _Program, Xn, Yn, Dm):
    """Exact interior-point solve of the same convex program (cvxpy + Clarabel; SCS if Clarabel fails).

    Returns ``(V, mu, status, n_iter, max_violation)``.
    """
    import cvxpy as cp

    n, d = Xn.shape
    m, c = Dm.shape[1], Yn.shape[1]
    Sm = 2 * Dm - 1
    cons, pen, cols = [], 0, []
    if prog.gated:
        if c == 1:
            Vg = cp.Variable((d, m))
            F = cp.reshape(cp.sum(cp.multiply(Dm, Xn @ Vg), axis=1), (n, 1), order="C")
            pen = cp.sum(cp.norm(Vg, 2, axis=0))
        else:
            Vs = [cp.Variable((d, c)) for _ in range(m)]
            F = sum(cp.multiply(Dm[:, [i]], Xn @ Vs[i]) for i in range(m))
            pen = sum(cp.normNuc(v) for v in Vs)
    else:
        Up = [cp.Variable((d, m)) for _ in range(c)]
        Um = [cp.Variable((d, m)) for _ in range(c)]
        for k in range(c):
            XUp, XUm = Xn @ Up[k], Xn @ Um[k]
            cols.append(cp.sum(cp.multiply(Dm, XUp - XUm), axis=1))
            cons += [cp.multiply(Sm, XUp) >= 0, cp.multiply(Sm, XUm) >= 0]
            pen = pen + cp.sum(cp.norm(Up[k], 2, axis=0)) + cp.sum(cp.norm(Um[k], 2, axis=0))
        F = cp.vstack(cols).T if c > 1 else cp.reshape(cols[0], (n, 1), order="C")
    if prog.kind == "squared":
        lossx = cp.sum_squares(Yn - F)
    elif prog.kind == "logistic":
        lossx = cp.sum(cp.logistic(-cp.multiply(Yn, F)))
    else:
        lossx = cp.sum(cp.log_sum_exp(F, axis=1)) - cp.sum(cp.multiply(Yn, F))
    problem = cp.Problem(cp.Minimize(lossx + prog.lam * pen), cons)
    try:
        problem.solve(solver=cp.CLARABEL)
    except cp.error.SolverError:
        problem.solve(solver=cp.SCS, eps=1e-9, max_iters=100000)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"cvxpy could not solve the convex program (status {problem.status})")
    dt, dev = prog.X.dtype, prog.X.device
    mu, viol = None, 0.0
    if prog.gated:
        if c == 1:
            V = torch.as_tensor(Vg.value.T[:, :, None].copy(), dtype=dt, device=dev)
        else:
            V = torch.as_tensor(np.stack([v.value for v in Vs]), dtype=dt, device=dev)
    else:
        V = torch.as_tensor(np.stack([np.stack([u.value.T for u in Up], -1),
                                      np.stack([u.value.T for u in Um], -1)]), dtype=dt, device=dev)
        duals = [np.asarray(cn.dual_value) for cn in cons]      # (n, m) each, ≥ 0
        mu = torch.as_tensor(np.stack([np.stack([duals[2 * k].T for k in range(c)], -1),
                                       np.stack([duals[2 * k + 1].T for k in range(c)], -1)]), dtype=dt, device=dev)
        g = prog.S[None, :, :, None] * torch.einsum("nd,smdc->smnc", prog.X, V)
        viol = float((-g).clamp_min(0).max()) / max(1.0, float(prog.Y.abs().max()))
    status = "converged" if problem.status == "optimal" else "inaccurate"
    return V, mu, status, int(problem.solver_stats.num_iters or 0), viol


def _recover_network(V: torch.Tensor, gated: bool, prune_tol: float):
    """ReLU (or gated) network weights (W1 (M × d), W2 (c × M), unit → pattern index) from the convex variables,
    in the slides' balanced normalisation."""
    V = V.detach()
    ws, vs, gidx = [], [], []
    # interior-point solutions carry tiny non-zero groups: units below prune_tol × the largest are dropped
    # (the network objective is evaluated after pruning, so the report stays honest)
    big = float(torch.linalg.norm(V, dim=-2).max()) if V.numel() else 0.0
    tol = max(1e-12, prune_tol * big)
    if gated:
        U, s, Vh = torch.linalg.svd(V, full_matrices=False)
        for i in range(V.shape[0]):
            for r in range(s.shape[1]):
                if float(s[i, r]) > tol:
                    ws.append(U[i, :, r] * s[i, r].sqrt())
                    vs.append(Vh[i, r, :] * s[i, r].sqrt())
                    gidx.append(i)
    else:
        nrm = torch.linalg.norm(V, dim=2)                       # (2, m, c)
        c = V.shape[3]
        for sgn, i, k in torch.nonzero(nrm > tol).tolist():
            a = float(nrm[sgn, i, k])
            ws.append(V[sgn, i, :, k] / math.sqrt(a))
            e = torch.zeros(c, dtype=V.dtype, device=V.device)
            e[k] = math.sqrt(a) * (1.0 if sgn == 0 else -1.0)
            vs.append(e)
            gidx.append(i)
    d, c = V.shape[-2], V.shape[-1]
    if not ws:
        W1 = torch.zeros(0, d, dtype=V.dtype, device=V.device)
        W2 = torch.zeros(c, 0, dtype=V.dtype, device=V.device)
    else:
        W1, W2 = torch.stack(ws), torch.stack(vs, 1)
    return W1.cpu().numpy(), W2.cpu().numpy(), np.asarray(gidx, dtype=int)


def _hidden(Xt, W1, gates, neuron_gates, gated):
    """Hidden layer relu(X W1ᵀ) (gated: 1[X g_j ≥ 0] ∘ X W1ᵀ), in torch on Xt's device and dtype."""
    W1t = torch.as_tensor(W1, dtype=Xt.dtype, device=Xt.device)
    if gated:
        Gt = torch.as_tensor(gates[:, neuron_gates], dtype=Xt.dtype, device=Xt.device)
        return (Xt @ Gt >= 0).to(Xt.dtype) * (Xt @ W1t.T)
    return torch.relu(Xt @ W1t.T)


def _network_objective(Xt, Yt, W1, W2, gates, neuron_gates, gated, kind, lam) -> float:
    W2t = torch.as_tensor(W2, dtype=Xt.dtype, device=Xt.device)
    F = _hidden(Xt, W1, gates, neuron_gates, gated) @ W2t.T
    return float(_loss(F, Yt, kind)) + lam / 2 * float((W1 ** 2).sum() + (W2 ** 2).sum())


def _check_targets(Y, n: int, kind: str) -> np.ndarray:
    Yn = check_array(Y, "Y", ndim=(1, 2))
    if Yn.ndim == 1:
        Yn = Yn[:, None]
    if Yn.shape[0] != n:
        raise ValueError(f"Y must have {n} rows (one per sample of X), got shape {Yn.shape}")
    if kind == "logistic" and (Yn.shape[1] != 1 or not np.all(np.abs(Yn) == 1)):
        raise ValueError("Y must be one column of labels in {-1, +1} for the logistic loss "
                         "(ConvexReLUClassifier accepts any labels)")
    if kind == "cross_entropy" and (Yn.shape[1] < 2 or not np.all((Yn == 0) | (Yn == 1))
                                    or not np.all(Yn.sum(1) == 1)):
        raise ValueError("Y must be one-hot (n × classes, at least 2 columns) for the cross-entropy loss "
                         "(ConvexReLUClassifier accepts any labels)")
    return Yn


def convex_relu_fit(X, Y, *, loss: str = "squared", lam: float = 1e-2, n_patterns: int = 200,
                    gated: bool = False, gates=None, solver: str = "auto", tol: float = 1e-6,
                    max_iter: int = 20000, rho: float = 1.0, prune_tol: float = 1e-7, random_state=None,
                    device="auto", dtype=None, verbose: bool = False, warn: bool = True) -> ConvexReLUResult:
    r"""Globally optimal two-layer (gated) ReLU network with weight decay over sampled activation patterns.

    Solves the convex program of the module docstring (Pilanci & Ergen 2020, eq. (8); gated: Mishkin et al.
    2022, eq. (5); paper 003 "equivalent convex problem") and recovers the network
    f(X) = relu(X W1ᵀ) W2ᵀ whose non-convex objective ℓ(Y, f(X)) + (λ/2)(‖W1‖² + ‖W2‖²) equals the convex optimum.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Inputs, rows = samples (append a column of ones for a first-layer bias).
    Y : array-like of shape (n,) or (n, c)
        Targets: real (``"squared"``), one column in {−1, +1} (``"logistic"``) or one-hot (``"cross_entropy"``).
    loss : {"squared", "logistic", "cross_entropy"}
    lam : float > 0
        λ, the group-norm weight of the convex program (weight decay λ/2 on Σ‖w_j‖² + ‖v_j‖²).
    n_patterns : int
        Number of random gates g_i ~ N(0, I_d) sampled (duplicate and empty patterns are removed).
    gated : bool
        Solve the gated-ReLU program instead of the exact ReLU program.
    gates : array-like of shape (d, m), optional
        Gates to use instead of sampling (e.g. an exhaustive set).
    solver : {"auto", "cvxpy", "torch"}
        ``"cvxpy"``: Clarabel interior point (exact; small/medium problems; CPU, float64). ``"torch"``: ADMM with
        one n × n Cholesky factor (CPU or GPU, large problems; ``rho`` is its initial penalty). ``"auto"``:
        cvxpy when n·m·c ≤ 2·10⁵ and ``device`` is ``"cpu"`` or ``"auto"`` (the problem is then solved on the
        CPU even when CUDA is available), torch otherwise.
    tol : float
        Relative duality-gap tolerance of the torch solver: gap ≤ tol · max(1, ℓ(0)).
    max_iter : int
        ADMM iteration cap (torch solver).
    rho : float > 0
        Initial ADMM penalty (adapted by residual balancing).
    prune_tol : float
        Hidden units whose group norm is below ``prune_tol`` × the largest are dropped on recovery.
    random_state : None, int or numpy.random.Generator
        Seed of the gate sampling.
    device : {"auto", "cpu", "cuda[:i]"}
        Device of the torch solver.
    dtype : torch.dtype, "float32", "float64" or None
        Floating type of the torch solver; None: float32 for float32 input or on CUDA, float64 otherwise.
        The interior-point solver and its certificate always run in float64.
    verbose : bool
        Print the ADMM progress at every check.
    warn : bool
        Issue a :class:`simcode.core.ConvergenceWarning` when the solver stops short of its tolerance.

    Returns
    -------
    ConvexReLUResult
        Status, iterations, history (torch: one entry per 10 iterations with ``iteration``, ``seconds``,
        ``objective``, ``network_objective``, ``lower_bound``, ``gap``, ``rho``, residuals; cvxpy: one entry),
        certificate (lower bound and absolute gap), the convex variables and the recovered network.

    References
    ----------
    Pilanci & Ergen (2020), "Neural networks are convex regularizers", ICML, eq. (8). Sahiner et al. (2021),
    "Vector-output ReLU neural network problems are copositive programs", ICLR. Mishkin, Sahiner & Pilanci
    (2022), "Fast convex optimization for two-layer ReLU networks", ICML. Paper 003 (hidden convexity slides).
    """
    t0 = time.perf_counter()
    kind = check_option(loss, "loss", _LOSSES)
    lam = check_number(lam, "lam", low=0, low_inclusive=False)
    n_patterns = check_int(n_patterns, "n_patterns", low=1)
    gated = check_bool(gated, "gated")
    solver = check_option(solver, "solver", _SOLVERS)
    tol = check_number(tol, "tol", low=0)
    max_iter = check_int(max_iter, "max_iter", low=1)
    rho = check_number(rho, "rho", low=0, low_inclusive=False)
    prune_tol = check_number(prune_tol, "prune_tol", low=0)
    x_float32 = getattr(X, "dtype", None) in (np.float32, torch.float32)
    Xn = check_array(X, "X", ndim=2, min_rows=2, what="samples × features")
    n, d = Xn.shape
    Yn = _check_targets(Y, n, kind)
    G, Dn = _sample_gates(Xn, gates, n_patterns, check_random_state(random_state))
    m, c = Dn.shape[0], Yn.shape[1]
    if solver == "auto":
        small = n * m * c <= _AUTO_CVXPY_MAX
        solver = "cvxpy" if small and (device is None or str(device) in ("auto", "cpu")) else "torch"
    if solver == "cvxpy":
        dev, tdt = "cpu", torch.float64
    else:
        dev = resolve_device(device, X)
        if dtype is None:
            tdt = torch.float32 if (x_float32 or dev != "cpu") else torch.float64
        else:
            tdt = getattr(torch, dtype) if isinstance(dtype, str) else dtype
            if tdt not in (torch.float32, torch.float64):
                raise ValueError(f"dtype must be None, float32 or float64, got {dtype!r}")
    Xt = torch.tensor(Xn, dtype=tdt, device=dev)            # a copy: X may be read-only (memmap)
    Yt = torch.tensor(Yn, dtype=tdt, device=dev)
    D = torch.as_tensor(Dn, dtype=tdt, device=dev)
    prog = _Program(Xt, Yt, D, lam, gated, kind)
    if solver == "cvxpy":
        V, mu, status, n_iter, viol = _cvxpy(prog, Xn, Yn, Dn.T.astype(np.float64))
        hist, best_lb = None, -math.inf
    else:
        V, mu, status, n_iter, hist, best_lb, viol = _admm(prog, tol=tol, max_iter=max_iter, rho=rho,
                                                           verbose=verbose)
    objective = prog.objective(V)
    lb = max(prog.lower_bound(V, mu), best_lb)     # every dual-feasible point seen gives a valid bound
    W1, W2, neuron_gates = _recover_network(V, gated, prune_tol)
    net = _network_objective(Xt, Yt, W1, W2, G, neuron_gates, gated, kind, lam)
    gap = net - lb
    if hist is None:
        hist = History()
        hist.append(iteration=n_iter, seconds=time.perf_counter() - t0, objective=objective, network_objective=net,
                    lower_bound=lb, gap=gap)
    if warn and status != "converged":
        warn_not_converged(f"convex_relu_fit (solver={solver!r})", n_iter,
                           f"status {status}, gap {gap:.3e}, cone violation {viol:.2e}")
    return ConvexReLUResult(status=status, n_iter=n_iter, history=hist.as_dict(), time_s=time.perf_counter() - t0,
                            certificate=Certificate(lower_bound=lb, gap=gap, gap_kind="absolute"), coef=V, gates=G,
                            W1=W1, W2=W2, neuron_gates=neuron_gates, objective=objective, network_objective=net,
                            lower_bound=lb, gap=gap, max_violation=viol, solver=solver, loss=kind, gated=gated,
                            lam=lam)


# ------------------------------------------------------------------------------------------------ estimators
class _ConvexReLUBase(SolverMixin, BaseEstimator):
    """Shared shell: parameters, the fitted attributes from :func:`convex_relu_fit`, the recovered network."""

    _parameter_constraints: dict = {
        "lam": [Interval(Real, 0, None, closed="neither")],
        "n_patterns": [Interval(Integral, 1, None, closed="left")],
        "gated": ["boolean"],
        "gates": ["array-like", None],
        "solver": [StrOptions(set(_SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "rho": [Interval(Real, 0, None, closed="neither")],
        "prune_tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "device": [str],
        "dtype": [None, torch.dtype, StrOptions({"float32", "float64"})],
        "verbose": ["verbose"],
    }

    def __init__(self, lam=1e-2, n_patterns=200, gated=False, *, gates=None, solver="auto", tol=1e-6,
                 max_iter=20000, rho=1.0, prune_tol=1e-7, random_state=None, device="auto", dtype=None,
                 verbose=False):
        self.lam = lam
        self.n_patterns = n_patterns
        self.gated = gated
        self.gates = gates
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.rho = rho
        self.prune_tol = prune_tol
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    def _fit_targets(self, X, T, kind):
        res = convex_relu_fit(X, T, loss=kind, lam=self.lam, n_patterns=self.n_patterns, gated=self.gated,
                              gates=self.gates, solver=self.solver, tol=self.tol, max_iter=self.max_iter,
                              rho=self.rho, prune_tol=self.prune_tol, random_state=self.random_state,
                              device=self.device, dtype=self.dtype, verbose=self.verbose, warn=False)
        self.result_ = res
        self.coef_ = res.coef
        self.gates_ = res.gates
        self.neuron_gates_ = res.neuron_gates
        self.n_hidden_ = int(res.W1.shape[0])
        self.objective_ = res.objective
        self.network_objective_ = res.network_objective
        self.lower_bound_ = res.lower_bound
        self.gap_ = res.gap
        self.max_violation_ = res.max_violation
        self.solver_ = res.solver
        self.loss_ = kind
        self._record_result(res.status, res.n_iter, res.history,
                            detail=f"status {res.status!r}, gap {res.gap:.3e}, cone violation "
                                   f"{res.max_violation:.2e}; raise max_iter or tol")
        return self

    def to_network(self):
        """Weights of the recovered network: ``W1`` (M × d, rows w_j) and ``W2`` (c × M, columns v_j), with the
        slides' balanced normalisation, so that f(X) = relu(X W1ᵀ) W2ᵀ (gated: (1[X g_j ≥ 0] ∘ X W1ᵀ) W2ᵀ with
        g_j = ``gates_[:, neuron_gates_[j]]``)."""
        check_is_fitted(self, "result_")
        return self.result_.W1.copy(), self.result_.W2.copy()

    def _output(self, X):
        """Network output f(X) (n × c) for validated X."""
        check_is_fitted(self, "result_")
        Xt = torch.tensor(validate_data(self, X, reset=False, dtype=np.float64))
        H = _hidden(Xt, self.result_.W1, self.gates_, self.neuron_gates_, self.gated)
        return (H @ torch.as_tensor(self.result_.W2, dtype=Xt.dtype).T).numpy()

    def representation(self, X, **metadata) -> Representation:
        """The hidden-layer code relu(X W1ᵀ) (n × M) of the recovered network, as a Representation."""
        check_is_fitted(self, "result_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        H = _hidden(torch.tensor(X), self.result_.W1, self.gates_, self.neuron_gates_, self.gated).numpy()
        return Representation(H, metadata={"model": type(self).__name__, **metadata})

    def _objective_on(self, X, T) -> float:
        check_is_fitted(self, "result_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Xt = torch.tensor(X)
        Tt = torch.as_tensor(_check_targets(T, X.shape[0], self.loss_))
        return _network_objective(Xt, Tt, self.result_.W1, self.result_.W2, self.gates_, self.neuron_gates_,
                                  self.gated, self.loss_, float(self.lam))


class ConvexReLURegressor(RegressorMixin, _ConvexReLUBase):
    """Two-layer ReLU (or gated ReLU) network with weight decay and the squared loss, trained to global
    optimality over sampled activation patterns through its convex reformulation (module docstring;
    the algorithm is :func:`convex_relu_fit`).

    Minimises ‖Y − f(X)‖²_F + (λ/2) Σ_j (‖w_j‖² + ‖v_j‖²), f(X) = Σ_j (X w_j)₊ v_jᵀ, over networks whose
    activation patterns are among the sampled ones (Pilanci & Ergen 2020, eq. (8); paper 003).

    Parameters
    ----------
    lam : float > 0, default 1e-2
        λ, the group-norm weight of the convex program (weight decay λ/2).
    n_patterns : int, default 200
        Number of random gates sampled.
    gated : bool, default False
        Gated ReLU (fixed gates; nuclear-norm program, exact for vector outputs) instead of ReLU.
    gates : array-like of shape (n_features, m), optional
        Gates to use instead of sampling.
    solver : {"auto", "cvxpy", "torch"}, default "auto"
        See :func:`convex_relu_fit`.
    tol, max_iter, rho, prune_tol, random_state, device, dtype, verbose
        See :func:`convex_relu_fit`.

    Attributes
    ----------
    coef_ : torch.Tensor
        Convex variables ((2, m, d, c) ReLU; (m, d, c) gated).
    gates_ : ndarray of shape (n_features, m)
        Gates of the distinct activation patterns used.
    neuron_gates_ : ndarray of int
        Pattern of each hidden unit of the recovered network.
    n_hidden_ : int
        Number of hidden units of the recovered network.
    objective_, network_objective_, lower_bound_, gap_, max_violation_ : float
        Convex optimum, objective of the recovered network, certified dual bound, ``network_objective_ −
        lower_bound_``, cone violation.
    solver_ : str
        The solver that ran.
    status_, converged_, n_iter_, history_ : solver protocol (:class:`simcode.core.SolverMixin`).
    result_ : ConvexReLUResult
        The full result.
    n_features_in_, n_outputs_ : int
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit to real targets ``y`` of shape (n,) or (n, n_outputs)."""
        X = validate_named(self, X, reset=True, dtype=[np.float64, np.float32], ensure_min_samples=2)
        X, y = validate_named(self, X, y, name="y", multi_output=True, y_numeric=True,
                                 dtype=[np.float64, np.float32], ensure_min_samples=2)
        if y.ndim > 2:
            raise ValueError(f"y must be a 1-D or 2-D array (n,) or (n, n_outputs), got shape {y.shape}")
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        self.n_outputs_ = 1 if y.ndim == 1 else int(y.shape[1])
        return self._fit_targets(X, y.reshape(len(y), -1), "squared")

    def predict(self, X):
        """Network output f(X): shape (n,) when fitted on a 1-D ``y``, else (n, n_outputs)."""
        F = self._output(X)
        return F[:, 0] if self._y_1d else F

    def network_objective(self, X, y) -> float:
        """Non-convex objective ‖y − f(X)‖² + (λ/2)(‖W1‖² + ‖W2‖²) of the recovered network on (X, y)."""
        return self._objective_on(X, np.asarray(y, dtype=np.float64))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLUBase):
    """Two-layer ReLU (or gated ReLU) network classifier with weight decay, trained to global optimality over
    sampled activation patterns through its convex reformulation (module docstring; :func:`convex_relu_fit`).

    Labels of any type (``classes_`` = the sorted distinct labels) are mapped to targets internally:

    * two classes: one output, y = +1 for ``classes_[1]`` and −1 for ``classes_[0]``; ``loss="logistic"``
      minimises Σ log(1 + exp(−y f(x))), ``loss="squared"`` Σ (y − f(x))²;
    * C > 2 classes: one output per class; ``"logistic"`` is the multinomial cross-entropy on one-hot targets,
      ``"squared"`` the squared loss on ±1 one-vs-rest targets.

    plus the weight decay (λ/2) Σ_j (‖w_j‖² + ‖v_j‖²). For C > 2 the exact-ReLU program makes every hidden unit
    feed one output (an upper bound on the copositive vector-output problem, Sahiner et al. 2021); ``gated=True``
    is exact for any C.

    Parameters
    ----------
    loss : {"squared", "logistic"}, default "squared"
        ``"squared"`` gives a second-order cone program (fast interior point) and ``decision_function``;
        ``"logistic"`` needs exponential cones (several times slower, less accurate for separable data and
        small λ) and adds ``predict_proba``.
    lam, n_patterns, gated, gates, solver, tol, max_iter, rho, prune_tol, random_state, device, dtype, verbose
        As in :class:`ConvexReLURegressor`.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    coef_, gates_, neuron_gates_, n_hidden_, objective_, network_objective_, lower_bound_, gap_, max_violation_,
    solver_, status_, converged_, n_iter_, history_, result_, n_features_in_
        As in :class:`ConvexReLURegressor` (the objectives are those of the internal ±1 / one-hot targets).
    """

    _parameter_constraints: dict = {**_ConvexReLUBase._parameter_constraints,
                                    "loss": [StrOptions({"logistic", "squared"})]}

    def __init__(self, loss="squared", lam=1e-2, n_patterns=200, gated=False, *, gates=None, solver="auto",
                 tol=1e-6, max_iter=20000, rho=1.0, prune_tol=1e-7, random_state=None, device="auto", dtype=None,
                 verbose=False):
        super().__init__(lam=lam, n_patterns=n_patterns, gated=gated, gates=gates, solver=solver, tol=tol,
                         max_iter=max_iter, rho=rho, prune_tol=prune_tol, random_state=random_state,
                         device=device, dtype=dtype, verbose=verbose)
        self.loss = loss

    def _encode(self, y):
        """Internal targets and loss for labels ``y`` (validated, in ``classes_``)."""
        idx = np.searchsorted(self.classes_, y)
        C = len(self.classes_)
        if C == 2:
            return np.where(idx == 1, 1.0, -1.0)[:, None], self.loss
        onehot = np.eye(C)[idx]
        if self.loss == "logistic":
            return onehot, "cross_entropy"
        return 2.0 * onehot - 1.0, "squared"

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit to class labels ``y`` of shape (n,) (any type: ints, strings …)."""
        X = validate_named(self, X, reset=True, dtype=[np.float64, np.float32], ensure_min_samples=2)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y has a single class ({self.classes_[0]!r}); classification needs at least two "
                             "classes")
        T, kind = self._encode(y)
        return self._fit_targets(X, T, kind)

    def decision_function(self, X):
        """Network output f(X): shape (n,) for two classes (> 0 means ``classes_[1]``), else (n, n_classes)."""
        F = self._output(X)
        return F[:, 0] if len(self.classes_) == 2 else F

    def predict(self, X):
        """The class with the largest output (two classes: the sign of the output)."""
        F = self.decision_function(X)
        if F.ndim == 1:
            return self.classes_[(F > 0).astype(int)]
        return self.classes_[np.argmax(F, axis=1)]

    @available_if(lambda self: self.loss == "logistic")
    def predict_proba(self, X):
        """Class probabilities of the logistic model: (1 − σ(f), σ(f)) for two classes, softmax(f) otherwise."""
        F = self.decision_function(X)
        if F.ndim == 1:
            p = 1.0 / (1.0 + np.exp(-F))
            return np.c_[1.0 - p, p]
        F = F - F.max(1, keepdims=True)
        E = np.exp(F)
        return E / E.sum(1, keepdims=True)

    @available_if(lambda self: self.loss == "logistic")
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (computed stably)."""
        F = self.decision_function(X)
        if F.ndim == 1:
            F = np.c_[np.zeros_like(F), F]
        F = F - F.max(1, keepdims=True)
        return F - np.log(np.exp(F).sum(1, keepdims=True))

    def network_objective(self, X, y) -> float:
        """Non-convex objective (internal targets) + (λ/2)(‖W1‖² + ‖W2‖²) of the recovered network on (X, y)."""
        check_is_fitted(self, "result_")
        y = np.asarray(y)
        if not np.all(np.isin(y, self.classes_)):
            raise ValueError(f"y has labels outside classes_ = {self.classes_}")
        return self._objective_on(X, self._encode(y)[0])
