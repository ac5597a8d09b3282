"""Global optimum of a deep linear network with weight decay (paper 003, "Optimal solution for deep linear
network" and its proof through the Schatten-2/L variational form).

Paper 003 minimises L(W) = ‖Y_p − W_L⋯W_1 X_p‖²_F + λ Σ_l ‖W_l‖²_F with samples in columns
(X_p ∈ R^{d_X×P}, Y_p ∈ R^{d_Y×P}). simcode puts samples in rows: our ``X`` (P × d_X) is X_pᵀ and ``Y``
(P × d_Y) is Y_pᵀ; the weights keep the paper's (out × in) orientation (like ``torch.nn.Linear.weight``),
so the layer-l representation is H_l = X W_1ᵀ⋯W_lᵀ (P × M) and the paper's kernel K_l is H_l H_lᵀ.

Method. Lemma 1 of the slides: min{Σ_l ‖W_l‖²_F : W_L⋯W_1 = W} = L Σ_i σ_i(W)^{2/L} (AM–GM on balanced
factors), attained by W_l = U_{l+1} S^{1/L} U_lᵀ. So the problem is min_W ‖Y_p − W X_p‖² + λL Σ σ_i(W)^{2/L}.

* Whitened input (X_p X_pᵀ = XᵀX = c·I): ‖Y_p − W X_p‖² = c‖W − A‖² + const with A = Y_p X_pᵀ/c, and by von
  Neumann's trace inequality W shares A's singular vectors; each singular value solves the scalar problem
  min_{s≥0} c(s − a)² + λL s^{2/L}: ridge shrinkage s = ca/(c+λ) for L = 1, soft threshold (a − λ/c)₊ for
  L = 2, and for L ≥ 3 a *jump*: s = 0 below a threshold, otherwise the larger root of c(a − s) = λ s^{2/L−1}
  (compared against s = 0). This is exact for every λ ≥ 0.
* λ = 0 (the slides' theorem, λ → 0⁺): W = Y_p X_p⁺, balanced through its SVD, for any X.
* General X with λ > 0: L = 1 is ridge regression (closed form); L = 2 is nuclear-norm-regularised least
  squares, convex, solved by accelerated proximal gradient with a duality-gap certificate; L ≥ 3 has no
  closed form for non-whitened input and raises ``ValueError`` (whiten X first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..core import (Certificate, History, SolverResult, check_array, check_int, check_number, proximal_gradient,
                    warn_not_converged)

__all__ = ["deep_linear_optimum", "DeepLinearSolution", "schatten_prox"]


@dataclass(kw_only=True)
class DeepLinearSolution(SolverResult):
    """Global optimum of the regularised deep linear network (a :class:`simcode.core.SolverResult`).

    Attributes
    ----------
    weights : list of ndarray
        [W_1 (M × d_X), W_2 (M × M), …, W_L (d_Y × M)], balanced: W_l = U_{l+1} S^{1/L} U_lᵀ.
    product : ndarray of shape (d_Y, d_X)
        W = W_L⋯W_1.
    loss : float
        ‖Y − X Wᵀ‖² + λ Σ‖W_l‖² evaluated with the returned weights.
    singular_values : ndarray
        Singular values of the product W.
    kernels : list of ndarray
        K_l = H_l H_lᵀ (P × P), l = 1..L (K_L is the output kernel of the network).
    solver : str
        The route taken: ``"closed_form"`` (whitened input), ``"ridge"`` (L = 1), ``"min_norm"`` (λ = 0) or
        ``"proximal_gradient"`` (L = 2, general input).
    whitened : bool
        Whether XᵀX = c·I was detected.
    status, n_iter, history, time_s, certificate
        The solver protocol. Closed forms: ``"converged"``, ``n_iter = 0``, empty history, no certificate.
        Proximal gradient: the iterations run, ``history`` (``iteration``, ``objective``, ``lower_bound``,
        ``gap`` every 20 iterations) and a :class:`simcode.core.Certificate` (dual lower bound, relative gap).
    """

    weights: list = field(default_factory=list)
    product: np.ndarray = None
    loss: float = float("nan")
    singular_values: np.ndarray = None
    kernels: list = field(default_factory=list)
    solver: str = ""
    whitened: bool = False


def schatten_prox(a, c: float, lam: float, n_layers: int) -> np.ndarray:
    """argmin_{s ≥ 0} c(s − a)² + λ·L·s^{2/L} for each entry of ``a`` ≥ 0 (the scalar problem of each singular
    value; includes the jump threshold for L ≥ 3).

    Parameters
    ----------
    a : array-like of float ≥ 0
        Singular values of the whitened least-squares map A = Y_p X_pᵀ / c.
    c : float > 0
        Whitening scale (XᵀX = c·I).
    lam : float ≥ 0
        Weight decay λ.
    n_layers : int ≥ 1
        Depth L (number of weight matrices).
    """
    a = check_array(a, "a", ndim=(0, 1), what="singular values")
    if np.any(a < 0):
        raise ValueError(f"a must be non-negative (singular values), got min {float(a.min()):g}")
    c = check_number(c, "c", low=0, low_inclusive=False)
    lam = check_number(lam, "lam", low=0)
    L = check_int(n_layers, "n_layers", low=1)
    return _schatten_prox(a, c, lam, L)


def _schatten_prox(a: np.ndarray, c: float, lam: float, L: int) -> np.ndarray:
    if lam == 0:
        return a.copy()
    if L == 1:
        return c * a / (c + lam)
    if L == 2:
        return np.maximum(a - lam / c, 0.0)
    beta = (L - 2) / L                                   # stationarity: c(a − s) = λ s^{−β}
    s_star = (lam * beta / c) ** (1.0 / (beta + 1.0))    # maximiser of h(s) = c(a−s) − λ s^{−β}
    h_star = c * (a - s_star) - lam * s_star ** (-beta)
    out = np.zeros_like(a)
    ok = h_star > 0
    if np.any(ok):
        lo = np.full(ok.sum(), s_star)
        hi = np.maximum(a[ok], s_star)
        aa = a[ok]
        for _ in range(200):                              # bisection for the larger root (h decreasing there)
            mid = 0.5 * (lo + hi)
            pos = c * (aa - mid) - lam * mid ** (-beta) > 0
            lo = np.where(pos, mid, lo)
            hi = np.where(pos, hi, mid)
        s = 0.5 * (lo + hi)
        g_s = c * (s - aa) ** 2 + lam * L * s ** (2.0 / L)
        out[ok] = np.where(g_s < c * aa ** 2, s, 0.0)
    return out


def _balanced(Wprod: np.ndarray, depth: int, hidden: int):
    U, s, Vt = np.linalg.svd(Wprod, full_matrices=False)
    r = int(np.sum(s > s.max() * 1e-12)) if s.size and s.max() > 0 else 0
    if r > hidden:
        raise ValueError(f"n_components={hidden} is smaller than the rank {r} of the optimal product")
    U, s, Vt = U[:, :r], s[:r], Vt[:r]
    root = s ** (1.0 / depth)
    E = np.eye(hidden)[:, :r]                            # U_2 = … = U_L: any orthonormal columns
    dY, dX = Wprod.shape
    if depth == 1:
        return [Wprod.copy()]
    Ws = [E @ (root[:, None] * Vt)]
    Ws += [E @ np.diag(root) @ E.T for _ in range(depth - 2)]
    Ws.append((U * root) @ E.T)
    if r == 0:
        Ws = [np.zeros((hidden, dX))] + [np.zeros((hidden, hidden))] * (depth - 2) + [np.zeros((dY, hidden))]
    return Ws


def _nuclear_ls(X, Y, lam, tol, max_iter):
    """min_W ‖Y − X Wᵀ‖² + 2λ‖W‖_* (L = 2) by FISTA with gradient restart (:func:`simcode.core.proximal_gradient`;
    Beck & Teboulle 2009) and a duality-gap stopping rule checked every 20 iterations.

    Gradient 2(WXᵀX − YᵀX), Lipschitz constant 2λ_max(XᵀX); the prox of 2λ‖·‖_* is singular-value soft
    thresholding. Dual point: Θ = 2R (R the residual) scaled into ‖XᵀΘ‖_op ≤ 2λ gives the bound
    ⟨Θ, Y⟩ − ‖Θ‖²/4. Returns ``(W, status, n_iter, history, lower_bound, objective)``.
    """
    G = X.T @ X
    Lip = 2 * np.linalg.eigvalsh(G).max()
    B = Y.T @ X
    hist = History()
    best = {"dual": -np.inf, "p": np.inf}

    def grad(W):
        return 2 * (W @ G - B)

    def prox(V, step):
        U, s, Vt = np.linalg.svd(V, full_matrices=False)
        return (U * np.maximum(s - 2 * lam * step, 0)) @ Vt

    def stop(W, it):
        if it % 20 and it != max_iter:
            return False, np.inf
        Th = 2 * (Y - X @ W.T)
        op = np.linalg.norm(X.T @ Th, 2)
        Th = Th * min(1.0, 2 * lam / op) if op > 0 else Th
        best["dual"] = max(best["dual"], float(np.sum(Th * Y) - np.sum(Th ** 2) / 4))
        best["p"] = p = float(np.sum((Y - X @ W.T) ** 2) + 2 * lam * np.linalg.svd(W, compute_uv=False).sum())
        if not np.isfinite(p):
            return False, np.nan
        gap = Certificate.relative_gap(p, best["dual"])
        hist.append(iteration=it, objective=p, lower_bound=best["dual"], gap=gap)
        return gap <= tol, gap

    res = proximal_gradient(grad, prox, np.zeros((Y.shape[1], X.shape[1])), Lip, max_iter=max_iter, stop=stop,
                            warn=False)
    return res.x, res.status, res.n_iter, hist, best["dual"], best["p"]


def deep_linear_optimum(X, Y, n_layers: int, lam: float, n_components: int | None = None, *, tol: float = 1e-10,
                        max_iter: int = 20000) -> DeepLinearSolution:
    """Global minimiser of ‖Y − X W_1ᵀ⋯W_Lᵀ‖²_F + λ Σ_l ‖W_l‖²_F (paper 003, deep linear network slides).

    Parameters
    ----------
    X : array-like of shape (P, d_X)
        Inputs, rows = samples (the paper's X is ``X.T``).
    Y : array-like of shape (P, d_Y)
        Targets (the paper's Y is ``Y.T``).
    n_layers : int ≥ 1
        Depth L, the number of weight matrices.
    lam : float ≥ 0
        Weight decay λ (λ = 0 returns the λ → 0⁺ limit: min-norm product Y_p X_p⁺, balanced).
    n_components : int, optional
        Hidden width M (default min(d_X, d_Y)); the optimum's rank must fit (it is capped to the M largest
        singular values in the whitened case, which is optimal there).
    tol : float
        Relative duality-gap tolerance of the L = 2 proximal-gradient route.
    max_iter : int
        Iteration cap of that route.

    Returns
    -------
    DeepLinearSolution
        Balanced weights W_l = U_{l+1} S^{1/L} U_lᵀ, the loss, the layer kernels K_l and the solver protocol.
        See the module docstring for the method and its exactness conditions.
    """
    t0 = time.perf_counter()
    X = check_array(X, "X", ndim=2, what="samples × features")
    Y = check_array(Y, "Y", ndim=2, what="samples × outputs")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of samples (rows), got {X.shape[0]} and {Y.shape[0]}")
    depth = check_int(n_layers, "n_layers", low=1)
    lam = check_number(lam, "lam", low=0)
    tol = check_number(tol, "tol", low=0)
    max_iter = check_int(max_iter, "max_iter", low=1)
    P, dX = X.shape
    dY = Y.shape[1]
    M = check_int(n_components, "n_components", low=1) if n_components is not None else min(dX, dY)
    G = X.T @ X
    c = np.trace(G) / dX
    whitened = bool(c > 0 and np.allclose(G, c * np.eye(dX), atol=1e-9 * c, rtol=0))
    status, n_iter, history, certificate = "converged", 0, {}, None
    if lam == 0:
        Wprod = Y.T @ np.linalg.pinv(X).T
        solver = "min_norm"
    elif whitened:
        A = Y.T @ X / c
        U, a, Vt = np.linalg.svd(A, full_matrices=False)
        s = _schatten_prox(a, c, lam, depth)
        if np.count_nonzero(s) > M:                       # rank cap: keep the M largest (largest gain)
            s[np.argsort(-a)[M:]] = 0.0
        Wprod = (U * s) @ Vt
        solver = "closed_form"
    elif depth == 1:
        Wprod = np.linalg.solve(G + lam * np.eye(dX), X.T @ Y).T
        solver = "ridge"
    elif depth == 2:
        Wprod, status, n_iter, hist, lb, p = _nuclear_ls(X, Y, lam, tol, max_iter)
        history = hist.as_dict()
        certificate = Certificate(lower_bound=lb, gap=Certificate.relative_gap(p, lb))
        solver = "proximal_gradient"
        if status != "converged":
            warn_not_converged("deep_linear_optimum (L=2 proximal gradient)", n_iter,
                               f"status {status}, relative gap {certificate.gap:.3e}")
    else:
        raise ValueError("for n_layers >= 3 and lam > 0 the global optimum has a closed form only for whitened "
                         "input (X.T @ X = c·I); whiten X first (e.g. X @ inv(sqrtm(X.T @ X)))")
    Ws = _balanced(Wprod, depth, M if depth > 1 else dY)
    H, kernels = X, []
    for W in Ws:
        H = H @ W.T
        kernels.append(H @ H.T)
    loss = float(np.sum((Y - H) ** 2) + lam * sum(np.sum(W ** 2) for W in Ws))
    prod = Ws[0]
    for W in Ws[1:]:
        prod = W @ prod
    return DeepLinearSolution(status=status, n_iter=n_iter, history=history, time_s=time.perf_counter() - t0,
                              certificate=certificate, weights=Ws, product=prod, loss=loss,
                              singular_values=np.linalg.svd(prod, compute_uv=False), kernels=kernels,
                              solver=solver, whitened=whitened)
