r"""The iterative skeletons shared by the solvers: FISTA momentum, a proximal-gradient loop, an ADMM base class.

**FISTA** (Beck & Teboulle 2009): for :math:`\min_x f(x) + g(x)` with :math:`\nabla f` L-Lipschitz,

.. math::  x^{k+1} = \operatorname{prox}_{g/L}\big(y^k - \nabla f(y^k)/L\big),\quad
           t_{k+1} = \tfrac12\big(1 + \sqrt{1 + 4t_k^2}\big),\quad
           y^{k+1} = x^{k+1} + \tfrac{t_k - 1}{t_{k+1}}\,(x^{k+1} - x^k),

with the gradient restart of O'Donoghue & Candès (2015): :math:`t \leftarrow 1` when
:math:`\langle y^k - x^{k+1}, x^{k+1} - x^k\rangle > 0`. :func:`nesterov_momentum` is the one implementation
of the :math:`t` update (scalars, NumPy arrays and torch tensors alike — per-sample momenta are arrays); the
compiled numba kernels inline the same formula.

**ADMM** (Boyd et al. 2011, §3): for :math:`\min f(x) + g(z)` s.t. :math:`Ax + Bz = c` with scaled dual
:math:`u`, one iteration is x-step, z-step, :math:`u \mathrel{+}= Ax + Bz - c`; primal and dual residuals
:math:`r = Ax + Bz - c`, :math:`s = \rho A^\top B (z - z_{\rm old})`; stop when :math:`\|r\| \le
\epsilon_{\rm pri}` and :math:`\|s\| \le \epsilon_{\rm dual}`; residual balancing (§3.4.1): multiply
:math:`\rho` by τ when :math:`\|r\| > \mu\|s\|`, divide when :math:`\|s\| > \mu\|r\|`, rescaling u by the
inverse. :class:`ADMM` owns that loop, the history, the callback, the timing and the result; a problem supplies
its steps (SPORCO's ``ADMM`` class is the model).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .exceptions import warn_not_converged
from .results import History, SolverResult

__all__ = ["nesterov_momentum", "proximal_gradient", "ProximalGradientResult", "ADMM", "ADMMResult"]


def nesterov_momentum(t):
    """FISTA's momentum update: returns ``(t_next, beta)`` with ``beta = (t − 1) / t_next``.

    ``t`` may be a float, a NumPy array or a torch tensor (per-sample momenta).
    """
    if isinstance(t, (int, float)):
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
    else:
        t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
    return t_next, (t - 1.0) / t_next


@dataclass(kw_only=True)
class ProximalGradientResult(SolverResult):
    """Result of :func:`proximal_gradient`: the solution ``x`` plus the shared protocol."""

    x: object = None


def _inner(a, b) -> float:
    if hasattr(a, "flatten") and hasattr(a, "dot") and type(a).__module__.startswith("torch"):
        return float((a * b).sum())
    import numpy as np

    return float(np.vdot(a, b).real)


def _norm(a) -> float:
    return math.sqrt(max(_inner(a, a), 0.0))


def proximal_gradient(grad, prox, x0, lipschitz: float, *, max_iter: int = 500, tol: float = 1e-8,
                      accelerate: bool = True, restart: bool = True, objective=None, stop=None, callback=None,
                      what: str = "proximal gradient", warn: bool = True) -> ProximalGradientResult:
    r"""(F)ISTA for :math:`\min f(x) + g(x)` (equations in the module docstring).

    Parameters
    ----------
    grad : callable x → ∇f(x)
    prox : callable (v, step) → prox_{step·g}(v)
    x0 : array or tensor
    lipschitz : float
        The Lipschitz constant L of ∇f (step 1/L).
    max_iter, tol : stopping: the relative step :math:`\|x^{k+1} - x^k\| \le \text{tol}\max(1, \|x^{k+1}\|)`,
        unless ``stop(x, k)`` is given, which returns ``(done, value)`` (value recorded as ``history["stop"]``;
        NaN means diverged, +inf "not measured at this iteration").
    accelerate : False gives ISTA.
    objective : callable x → float, optional, recorded in ``history["objective"]`` at every iteration.
    callback : callable (k, x), optional.
    """
    if not (lipschitz > 0 and math.isfinite(lipschitz)):
        raise ValueError(f"lipschitz must be a positive finite number, got {lipschitz!r}")
    t0 = time.perf_counter()
    step = 1.0 / lipschitz
    x = x0
    y = x0
    t = 1.0
    hist = History()
    status = "max_iter"
    k = 0
    for k in range(1, max_iter + 1):
        x_new = prox(y - step * grad(y), step)
        diff = x_new - x
        if stop is not None:
            done, value = stop(x_new, k)
        else:
            value = _norm(diff) / max(1.0, _norm(x_new))
            done = value <= tol
        rec = {"stop": value}
        if objective is not None:
            rec["objective"] = objective(x_new)
        hist.append(**rec)
        if value != value:  # NaN: the iterates or the criterion blew up (+inf means "not measured yet")
            x = x_new
            status = "diverged"
            break
        if accelerate:
            if restart and _inner(y - x_new, diff) > 0:
                t = 1.0
            t, beta = nesterov_momentum(t)
            y = x_new + beta * diff
        else:
            y = x_new
        x = x_new
        if callback is not None:
            callback(k, x)
        if done:
            status = "converged"
            break
    if status != "converged" and warn:
        warn_not_converged(what, k, f"status {status}, last stop value {hist.last('stop'):.3e} > tol {tol:g}")
    return ProximalGradientResult(x=x, status=status, n_iter=k, history=hist.as_dict(),
                                  time_s=time.perf_counter() - t0)


@dataclass(kw_only=True)
class ADMMResult(SolverResult):
    """Result of :meth:`ADMM.solve`: the protocol plus the final penalty ``rho``."""

    rho: float = float("nan")


class ADMM:
    """ADMM skeleton: the loop, residual-based stopping, ρ balancing, history, callback and timing.

    A subclass implements ``x_step()``, ``z_step()``, ``u_step()`` and ``residuals()`` returning
    ``(r, s, eps_pri, eps_dual)`` (norms of the primal and dual residuals and their tolerances), and
    ``rescale_dual(factor)`` (multiply the scaled dual by ``factor`` when ρ changes by ``1/factor``). It may
    override ``objective()`` (recorded when it returns a number) and ``on_rho_change(old, new)``.
    """

    what = "ADMM"

    def __init__(self, rho: float = 1.0, *, max_iter: int = 1000, balance: bool = True, mu: float = 10.0,
                 tau: float = 2.0, balance_every: int = 1, callback=None):
        self.rho = float(rho)
        self.max_iter = int(max_iter)
        self.balance = bool(balance)
        self.mu = float(mu)
        self.tau = float(tau)
        self.balance_every = max(1, int(balance_every))
        self.callback = callback

    # --- steps a problem supplies ---------------------------------------------------------------------
    def x_step(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def z_step(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def u_step(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def residuals(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def rescale_dual(self, factor: float):  # pragma: no cover - abstract
        raise NotImplementedError

    def objective(self):
        return None

    def on_rho_change(self, old: float, new: float):
        pass

    # --- the loop --------------------------------------------------------------------------------------
    def solve(self, *, warn: bool = True) -> ADMMResult:
        t0 = time.perf_counter()
        hist = History()
        status = "max_iter"
        k = 0
        for k in range(1, self.max_iter + 1):
            self.x_step()
            self.z_step()
            self.u_step()
            r, s, eps_p, eps_d = self.residuals()
            rec = {"primal_residual": r, "dual_residual": s, "rho": self.rho}
            obj = self.objective()
            if obj is not None:
                rec["objective"] = obj
            hist.append(**rec)
            if self.callback is not None:
                self.callback(k, self)
            if not (math.isfinite(r) and math.isfinite(s)):
                status = "diverged"
                break
            if r <= eps_p and s <= eps_d:
                status = "converged"
                break
            if self.balance and k % self.balance_every == 0:
                if r > self.mu * s:
                    self._set_rho(self.rho * self.tau)
                elif s > self.mu * r:
                    self._set_rho(self.rho / self.tau)
        if status != "converged" and warn:
            r, s = hist.last("primal_residual"), hist.last("dual_residual")
            warn_not_converged(self.what, k, f"status {status}, primal residual {r:.3e}, dual residual {s:.3e}")
        return ADMMResult(status=status, n_iter=k, history=hist.as_dict(), time_s=time.perf_counter() - t0,
                          rho=self.rho)

    def _set_rho(self, new: float):
        old = self.rho
        self.rho = new
        self.rescale_dual(old / new)
        self.on_rho_change(old, new)
