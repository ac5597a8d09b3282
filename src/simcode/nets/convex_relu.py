"""Two-layer ReLU networks with weight decay trained through their convex reformulation (paper 003,
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

Solvers: ``"cvxpy"`` (Clarabel interior point) or ``"torch"``: ADMM with exact linear solves (one n × n Cholesky
factor for the whole run, through (2D_i − I)² = I and Woodbury), over-relaxation and residual balancing, in torch on
CPU or GPU (see ``ConvexReLU._fit_admm``); the same splitting serves the gated and exact programs and all losses.
Certificate: a Lagrange dual point built from Θ = −∇ℓ(F) and the cone multipliers, scaled into dual
feasibility, gives a lower bound on the (sampled-pattern) convex optimum; ``gap_`` = objective of the
recovered ReLU network − that bound. Recovery (slides' normalisation): u ↦ w = u/√‖u‖, v = ±√‖u‖ e_k
(ReLU); V_i = Σ σ a bᵀ ↦ w = √σ a, v = √σ b (gated).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from simcode._utils import check_positive, check_random_state, resolve_device, warn_not_converged

__all__ = ["ConvexReLU"]

_LOSSES = ("squared", "logistic", "cross_entropy")
_ADMM_RELAX = 1.6          # over-relaxation of the ADMM (Boyd et al. 2011 §3.4.3)
_ADMM_W = 1.0              # weight of the v = u block, in units of the mean eigenvalue of XᵀX
_ADMM_KAPPA = 1.0          # weight of the cone block


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


class ConvexReLU:
    """Two-layer ReLU (or gated ReLU) network with weight decay, trained to global optimality over sampled
    activation patterns through its convex reformulation (see the module docstring for the math).

    Parameters
    ----------
    loss : "squared" (‖Y − F‖²_F), "logistic" (labels ±1, one output) or "cross_entropy" (integer labels).
    lam : λ > 0, the group-norm weight of the convex program (weight decay λ/2 on Σ‖w‖² + ‖v‖²).
    n_patterns : number of random gates g_i ~ N(0, I_d) sampled (duplicates removed).
    gated : solve the gated-ReLU program instead of the exact ReLU program.
    gates : optional (d × m) array of gates to use instead of sampling (e.g. an exhaustive set).
    solver : "cvxpy" (Clarabel interior point: exact, small/medium problems, CPU), "torch" (ADMM with one
        n × n Cholesky factor, CPU or GPU, large problems; ``rho`` is its initial penalty) or "auto" (cvxpy
        when the convex program has at most
        ~2·10⁵ cone-constraint rows, torch otherwise or on CUDA).
    prune_tol : hidden units whose group norm is below ``prune_tol`` × the largest are dropped on recovery.
    tol : relative duality-gap tolerance (gap ≤ tol · max(1, ℓ(0))); ``max_iter``: ADMM iterations (torch solver).
    device : "auto" | "cpu" | "cuda"; float64 unless ``dtype`` says otherwise.

    Attributes after ``fit``: ``gates_`` (d × m), ``coef_`` (the convex variables), ``objective_`` (convex
    objective), ``network_objective_`` (non-convex objective of the recovered network), ``lower_bound_``,
    ``gap_``, ``max_violation_`` (cone constraints), ``n_iter_``, ``converged_``, ``history_``; the torch solver
    also keeps ``trace_``: every 10 iterations a dict of iteration, seconds since the start, convex objective,
    ReLU-network objective and certified lower bound.
    """

    def __init__(self, loss: str = "squared", lam: float = 1e-2, n_patterns: int = 200, gated: bool = False,
                 *, gates=None, solver: str = "auto", tol: float = 1e-6, max_iter: int = 20000, rho: float = 1.0,
                 prune_tol: float = 1e-7, random_state=None, device: str = "auto", dtype=None,
                 verbose: bool = False):
        self.loss = loss
        self.lam = lam
        self.n_patterns = n_patterns
        self.gated = gated
        self.gates = gates
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.rho = rho
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose
        self.prune_tol = prune_tol

    # --------------------------------------------------------------------------------------- validation
    def _targets(self, Y, n):
        if self.loss == "cross_entropy":
            y = np.asarray(Y)
            if y.ndim != 1 or y.shape[0] != n:
                raise ValueError(f"Y must be a 1-D array of {n} integer class labels for cross_entropy")
            classes = np.unique(y)
            if classes.size < 2:
                raise ValueError("Y has a single class; classification needs at least two")
            self.classes_ = classes
            return np.eye(classes.size)[np.searchsorted(classes, y)]
        Yn = np.asarray(Y, dtype=np.float64)
        if Yn.ndim == 1:
            Yn = Yn[:, None]
        if Yn.ndim != 2 or Yn.shape[0] != n:
            raise ValueError(f"Y must have {n} rows (one per sample of X), got shape {np.shape(Y)}")
        if not np.all(np.isfinite(Yn)):
            raise ValueError("Y contains NaN or infinite values")
        if self.loss == "logistic":
            vals = np.unique(Yn)
            if Yn.shape[1] != 1 or not set(vals.tolist()) <= {-1.0, 1.0, 0.0}:
                raise ValueError("logistic loss needs one column of labels in {-1, +1} (or {0, 1})")
            if vals.size < 2:
                raise ValueError("Y has a single class; classification needs at least two")
            if 0.0 in vals:
                Yn = 2 * Yn - 1
        return Yn

    # ------------------------------------------------------------------------------------------ pieces
    def _forward(self, V, X, D):
        if self.gated:
            return torch.einsum("mn,nd,mdc->nc", D, X, V)
        XU = torch.einsum("nd,smdc->smnc", X, V)
        return torch.einsum("mn,mnc->nc", D, XU[0] - XU[1])

    def _prox(self, V, t):
        if self.gated:
            if V.shape[-1] == 1:
                nrm = torch.linalg.norm(V, dim=1, keepdim=True)
                return V * (1 - t / nrm.clamp_min(1e-300)).clamp_min(0)
            U, s, Vh = torch.linalg.svd(V, full_matrices=False)
            return (U * (s - t).clamp_min(0)[:, None, :]) @ Vh
        nrm = torch.linalg.norm(V, dim=2, keepdim=True)
        return V * (1 - t / nrm.clamp_min(1e-300)).clamp_min(0)

    def _penalty(self, V):
        if self.gated:
            if V.shape[-1] == 1:
                return torch.linalg.norm(V, dim=1).sum()
            return torch.linalg.svdvals(V).sum()
        return torch.linalg.norm(V, dim=2).sum()

    # -------------------------------------------------------------------------------------------- fit
    def fit(self, X, Y) -> "ConvexReLU":
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {self.loss!r}")
        lam = check_positive(self.lam, "lam")
        Xn = np.asarray(X, dtype=np.float64)
        if Xn.ndim != 2 or Xn.shape[0] < 2:
            raise ValueError(f"X must be a 2-D array with at least 2 samples, got shape {Xn.shape}")
        if not np.all(np.isfinite(Xn)):
            raise ValueError("X contains NaN or infinite values")
        n, d = Xn.shape
        Yn = self._targets(Y, n)
        if self.loss == "logistic" and Yn.shape[1] != 1:
            raise ValueError("logistic loss is single-output")
        dev = resolve_device(self.device)
        dtype = self.dtype or (torch.float64 if dev == "cpu" else torch.float32)
        rng = check_random_state(self.random_state)
        if self.gates is not None:
            G = np.asarray(self.gates, dtype=np.float64)
            if G.ndim != 2 or G.shape[0] != d:
                raise ValueError(f"gates must be a ({d}, m) array, got shape {G.shape}")
        else:
            if int(self.n_patterns) < 1:
                raise ValueError(f"n_patterns must be >= 1, got {self.n_patterns!r}")
            G = rng.standard_normal((d, int(self.n_patterns)))
        Dn = (Xn @ G >= 0)
        Dn, keep = np.unique(Dn.T, axis=0, return_index=True)
        keep = np.sort(keep)
        G = G[:, keep]
        Dn = (Xn @ G >= 0).T
        nonzero = Dn.any(1)
        G, Dn = G[:, nonzero], Dn[nonzero]
        if G.shape[1] == 0:
            raise ValueError("no non-trivial activation pattern was found; increase n_patterns")
        self.gates_ = G
        Xt = torch.as_tensor(Xn, dtype=dtype, device=dev)
        Yt = torch.as_tensor(Yn, dtype=dtype, device=dev)
        D = torch.as_tensor(Dn, dtype=dtype, device=dev)
        S = 2 * D - 1
        m, c = D.shape[0], Yt.shape[1]
        solver = self.solver
        if solver not in ("auto", "cvxpy", "torch"):
            raise ValueError(f"solver must be 'auto', 'cvxpy' or 'torch', got {solver!r}")
        if solver == "auto":
            solver = "cvxpy" if (dev == "cpu" and n * m * c <= 200_000) else "torch"
        self.solver_ = solver
        if solver == "cvxpy":
            return self._fit_cvxpy(Xn, Yn, Dn.T.astype(np.float64), lam, Xt, Yt, D, S)
        return self._fit_admm(Xt, Yt, D, S, lam)

    def _fit_admm(self, Xt, Yt, D, S, lam):
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
        """
        t0 = time.perf_counter()
        dev, dt = Xt.device, Xt.dtype
        n, d = Xt.shape
        m, c = D.shape[0], Yt.shape[1]
        ns = 1 if self.gated else 2
        kind = self.loss
        # internal layout: group variables U (d, ns, m, c) so that X U is one GEMM; cone blocks (n, ns, m, c)
        sig = torch.tensor([1.0, -1.0][:ns], dtype=dt, device=dev)
        Dt, St = D.T.contiguous(), S.T.contiguous()
        sigD = (sig[None, :, None] * Dt[:, None, :])[..., None]          # (n, ns, m, 1)
        Sn = St[:, None, :, None]                                         # (n, 1, m, 1)
        XT = Xt.T.contiguous()
        w = _ADMM_W * max(float((Xt * Xt).sum()) / d, 1e-12)   # weight of the v = u block: mean eigenvalue of XᵀX
        eye_d = torch.eye(d, dtype=dt, device=dev)
        kap = _ADMM_KAPPA                # weight of the cone block (z = κ C u)
        Q = w * eye_d if self.gated else kap * kap * (XT @ Xt) + w * eye_d
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
            if self.gated and c > 1:
                Vm = Z[:, 0].permute(1, 0, 2)                      # (m, d, c)
                Uu, sv, Vh = torch.linalg.svd(Vm, full_matrices=False)
                return ((Uu * (sv - t).clamp_min(0)[:, None, :]) @ Vh).permute(1, 0, 2)[:, None]
            nrm = torch.linalg.norm(Z, dim=(0, 3) if self.gated else 0, keepdim=True)
            return Z * (1 - t / nrm.clamp_min(1e-300)).clamp_min(0)

        def public(U):                                   # (d, ns, m, c) -> the coef_ layout
            V = U.permute(1, 2, 0, 3)
            return V[0].contiguous() if self.gated else V.contiguous()

        scale = max(1.0, float(_loss(torch.zeros_like(Yt), Yt, kind)))
        rho = float(self.rho) * (1.0 if kind == "squared" else 0.25)
        relax = _ADMM_RELAX
        u = torch.zeros(shape, dtype=dt, device=dev)
        v, bet = torch.zeros_like(u), torch.zeros_like(u)
        F, gam = torch.zeros_like(Yt), torch.zeros_like(Yt)
        z = alp = None
        if not self.gated:
            z, alp = torch.zeros(n, ns, m, c, dtype=dt, device=dev), torch.zeros(n, ns, m, c, dtype=dt, device=dev)
        history, trace, converged, viol, it, best_lb = [], [], False, 0.0, 0, -math.inf
        check = 10
        while it < self.max_iter:
            it += 1
            rhs = MT(F - gam) + w * (v - bet)
            if not self.gated:
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
            if not self.gated:
                Cu = kap * Sn * XU
                z_old = z
                Ch = relax * Cu + (1 - relax) * z
                z = (Ch + alp).clamp_min(0)
                alp = alp + Ch - z
            if it % check and it < self.max_iter:
                continue
            # ---- residual balancing (Boyd et al. 2011 §3.4.1) and the certificate
            r2 = float(((Fu - F) ** 2).sum()) + w * float(((u - v) ** 2).sum())
            dual = MT(F - F_old) + w * (v - v_old)
            if not self.gated:
                r2 += float(((Cu - z) ** 2).sum())
                dual = dual + kap * XT_of(Sn * (z - z_old))
            r, s = math.sqrt(r2), rho * float(torch.linalg.norm(dual))
            XV = XU_of(v)
            pen = float(torch.linalg.svdvals(v[:, 0].permute(1, 0, 2)).sum()) if (self.gated and c > 1) else \
                float(torch.linalg.norm(v, dim=(0, 3) if self.gated else 0).sum())
            obj = float(_loss(F_of(XV), Yt, kind)) + lam * pen
            # the ReLU network of v (its own activation patterns): Σ_{s,i} σ_s relu(X v_{s,i})
            net = obj if self.gated else (float(_loss((torch.relu(XV) * sig[None, :, None, None]).sum((1, 2)), Yt,
                                                      kind)) + lam * pen)
            mu = None if self.gated else (-rho * kap * alp).clamp_min(0).permute(1, 2, 0, 3)
            _, lb = self._certificate(public(v), mu, Xt, Yt, D, S, lam, Theta=-dloss(F))
            lb = best_lb = max(lb, best_lb)
            history.append(obj)
            trace.append(dict(iteration=it, seconds=time.perf_counter() - t0, objective=obj, network_objective=net,
                              lower_bound=lb))
            if self.verbose:
                print(f"iter {it}: obj {obj:.10g} network {net:.10g} bound {lb:.10g} rho {rho:.3g} r {r:.2e} s {s:.2e}")
            # converged when both the convex objective of v and its ReLU network are within tol of the bound
            # (the network alone may beat the sampled-pattern optimum while v still violates the cones)
            if max(obj, net) - lb <= self.tol * scale:
                converged = True
                break
            if r > 10 * s or s > 10 * r:
                f = 2.0 if r > 10 * s else 0.5
                rho *= f
                gam, bet = gam / f, bet / f
                if not self.gated:
                    alp = alp / f
        V = public(v)
        mu = None if self.gated else (-rho * kap * alp).clamp_min(0).permute(1, 2, 0, 3).contiguous()
        if not self.gated:
            viol = float((-(Sn * XU_of(v))).clamp_min(0).max()) / max(1.0, float(Yt.abs().max()))
        self.n_iter_ = it
        self.history_ = history
        self.trace_ = trace
        return self._finish(V, mu, Xt, Yt, D, S, lam, converged, viol, best_lb)

    def _fit_cvxpy(self, Xn, Yn, Dm, lam, Xt, Yt, D, S):
        """Exact interior-point solve of the same convex program (cvxpy + Clarabel)."""
        import cvxpy as cp

        n, d = Xn.shape
        m, c = Dm.shape[1], Yn.shape[1]
        Sm = 2 * Dm - 1
        cons, pen, cols = [], 0, []
        if self.gated:
            Vs = [cp.Variable((d, c)) for _ in range(m)]
            F = sum(cp.multiply(Dm[:, [i]], Xn @ Vs[i]) for i in range(m)) if c > 1 else None
            if c == 1:
                Vg = cp.Variable((d, m))
                F = cp.reshape(cp.sum(cp.multiply(Dm, Xn @ Vg), axis=1), (n, 1), order="C")
                pen = cp.sum(cp.norm(Vg, 2, axis=0))
            else:
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
        if self.loss == "squared":
            lossx = cp.sum_squares(Yn - F)
        elif self.loss == "logistic":
            lossx = cp.sum(cp.logistic(-cp.multiply(Yn, F)))
        else:
            lossx = cp.sum(cp.log_sum_exp(F, axis=1)) - cp.sum(cp.multiply(Yn, F))
        prob = cp.Problem(cp.Minimize(lossx + lam * pen), cons)
        try:
            prob.solve(solver=cp.CLARABEL)
        except cp.error.SolverError:
            prob.solve(solver=cp.SCS, eps=1e-9, max_iters=100000)
        if prob.status not in ("optimal", "optimal_inaccurate"):
            raise RuntimeError(f"cvxpy could not solve the convex program (status {prob.status})")
        dt, dev = Xt.dtype, Xt.device
        mu = None
        if self.gated:
            if c == 1:
                V = torch.as_tensor(Vg.value.T[:, :, None].copy(), dtype=dt, device=dev)
            else:
                V = torch.as_tensor(np.stack([v.value for v in Vs]), dtype=dt, device=dev)
        else:
            V = torch.as_tensor(np.stack([np.stack([u.value.T for u in Up], -1),
                                          np.stack([u.value.T for u in Um], -1)]), dtype=dt, device=dev)
            duals = [np.asarray(cn.dual_value) for cn in cons]      # (n, m) each, ≥ 0
            mu = torch.as_tensor(np.stack([np.stack([duals[2 * k].T for k in range(c)], -1),
                                           np.stack([duals[2 * k + 1].T for k in range(c)], -1)]),
                                 dtype=dt, device=dev)
            g = S[None, :, :, None] * torch.einsum("nd,smdc->smnc", Xt, V)
            self.max_violation_ = float((-g).clamp_min(0).max()) / max(1.0, float(Yt.abs().max()))
        self.n_iter_ = int(prob.solver_stats.num_iters or 0)
        self.history_ = [float(prob.value)]
        return self._finish(V, mu, Xt, Yt, D, S, lam, converged=prob.status == "optimal",
                            viol=getattr(self, "max_violation_", 0.0) if not self.gated else 0.0)

    def _finish(self, V, mu, Xt, Yt, D, S, lam, converged, viol, best_bound=-math.inf):
        self.coef_ = V
        F = self._forward(V, Xt, D)
        self.objective_ = float(_loss(F, Yt, self.loss)) + lam * float(self._penalty(V))
        gap, lb = self._certificate(V, mu, Xt, Yt, D, S, lam)
        lb = max(lb, best_bound)           # every dual-feasible point seen gives a valid bound: keep the best
        self.lower_bound_ = lb
        self.max_violation_ = viol
        W1, W2 = self.to_network()
        self.network_objective_ = self._network_objective(W1, W2, Xt, Yt)
        self.gap_ = self.network_objective_ - lb
        self.converged_ = bool(converged)
        if not converged:
            warn_not_converged("ConvexReLU", self.n_iter_, f"gap {self.gap_:.3e}, cone violation {viol:.2e}")
        return self

    def _certificate(self, V, mu, Xt, Yt, D, S, lam, Theta=None):
        """Dual lower bound from Θ (default −∇ℓ(F) at the prediction of V) and the cone multipliers, scaled into
        dual feasibility."""
        if Theta is None:
            F = self._forward(V, Xt, D).detach().requires_grad_(True)
            (gF,) = torch.autograd.grad(_loss(F, Yt, self.loss), F)
            Theta = -gF
        if self.gated:
            A = torch.einsum("nd,mn,nc->mdc", Xt, D, Theta)
            nr = torch.linalg.matrix_norm(A, ord=2) if A.shape[-1] > 1 else torch.linalg.norm(A, dim=(1, 2))
            worst = float(nr.max())
        else:
            # ‖Xᵀ(s D_i θ_k + S_i ν_{s,i,k})‖ ≤ λ for s = ±1
            DT = D[:, :, None] * Theta[None]                        # (m, n, c)
            Ap = torch.einsum("nd,mnc->mdc", Xt, DT + S[:, :, None] * mu[0])
            Am = torch.einsum("nd,mnc->mdc", Xt, -DT + S[:, :, None] * mu[1])
            worst = max(float(torch.linalg.norm(Ap, dim=1).max()), float(torch.linalg.norm(Am, dim=1).max()))
        tscale = 1.0 if worst <= lam else lam / worst
        lb = float(_dual_value(tscale * Theta, Yt, self.loss))
        if self.loss == "squared":
            # the best scaling of a feasible Θ: max_t t⟨Θ,Y⟩ − t²‖Θ‖²/4 on [0, tscale]
            a, b = float((Theta * Yt).sum()), float((Theta ** 2).sum()) / 4
            t = min(tscale, a / (2 * b)) if b > 0 and a > 0 else 0.0
            lb = max(lb, t * a - t * t * b)
        primal = float(_loss(self._forward(V, Xt, D), Yt, self.loss)) + lam * float(self._penalty(V))
        return primal - lb, lb

    # ------------------------------------------------------------------------------------ the network
    def to_network(self):
        """ReLU (or gated) network weights: ``W1`` (M × d) rows w_j and ``W2`` (c × M) columns v_j, with the
        slides' balanced normalisation, so that f(X) = relu(X W1ᵀ) W2ᵀ (gated: (1[X g_j ≥ 0] ∘ X W1ᵀ) W2ᵀ,
        gates in ``self.gates_`` via ``self.neuron_gates_``)."""
        if not hasattr(self, "coef_"):
            raise ValueError("call fit() first")
        V = self.coef_.detach()
        ws, vs, gidx = [], [], []
        # interior-point solutions carry tiny non-zero groups: units below prune_tol × the largest are dropped
        # (network_objective_ is evaluated after pruning, so the report stays honest)
        big = float(torch.linalg.norm(V, dim=-2).max()) if V.numel() else 0.0
        tol = max(1e-12, self.prune_tol * big)
        if self.gated:
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
        self.neuron_gates_ = np.asarray(gidx, dtype=int)
        return W1.cpu().numpy(), W2.cpu().numpy()

    def _hidden(self, Xt, W1t):
        if self.gated:
            Gt = torch.as_tensor(self.gates_[:, self.neuron_gates_], dtype=Xt.dtype, device=Xt.device)
            return (Xt @ Gt >= 0).to(Xt.dtype) * (Xt @ W1t.T)
        return torch.relu(Xt @ W1t.T)

    def _network_objective(self, W1, W2, Xt, Yt):
        W1t = torch.as_tensor(W1, dtype=Xt.dtype, device=Xt.device)
        W2t = torch.as_tensor(W2, dtype=Xt.dtype, device=Xt.device)
        F = self._hidden(Xt, W1t) @ W2t.T
        return float(_loss(F, Yt, self.loss)) + self.lam / 2 * float((W1t ** 2).sum() + (W2t ** 2).sum())

    def decision_function(self, X):
        """Network output f(X) = Σ_j (X w_j)₊ v_jᵀ (n × c) of the recovered network."""
        W1, W2 = self.to_network()
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
        return (self._hidden(Xt, torch.as_tensor(W1, dtype=Xt.dtype)) @ torch.as_tensor(W2, dtype=Xt.dtype).T).numpy()

    def predict(self, X):
        F = self.decision_function(X)
        if self.loss == "cross_entropy":
            return self.classes_[F.argmax(1)]
        if self.loss == "logistic":
            return np.where(F[:, 0] >= 0, 1.0, -1.0)
        return F

    def network_objective(self, X, Y) -> float:
        """Non-convex objective ℓ(Y, f(X)) + (λ/2)Σ(‖w_j‖² + ‖v_j‖²) of the recovered network on (X, Y)."""
        W1, W2 = self.to_network()
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
        Yt = torch.as_tensor(self._targets(Y, Xt.shape[0]))
        return self._network_objective(W1, W2, Xt, Yt)
