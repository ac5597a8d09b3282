r"""Projection onto the PSD cone, Π(A) = V₊ diag(λ₊) V₊ᵀ, for the sequence of matrices an ADMM produces.

A full eigen-decomposition costs O(N³) per call. In the Q-space problems the positive part of the ADMM
iterate usually has a small rank r (the optimal Q has as many non-zero eigenvalues as the code needs
dimensions: r = 2 for the ON/OFF problem), and successive matrices differ little. Then the r leading
eigenpairs are tracked by a **warm-started Chebyshev-filtered subspace iteration** (Zhou & Saad 2007,
"A Chebyshev–Davidson algorithm for large symmetric eigenproblems"; Zhou, Saad, Tiago & Chelikowsky 2006):

    Y = T_m(L(A)) V,   L(x) = (2x − (a + b)) / (b − a),

with T_m the degree-m Chebyshev polynomial, [a, b] = [lower bound of the spectrum, 0] the interval to damp
(|T_m| ≤ 1 there, while T_m grows like e^{m·acosh L(λ)} for λ > 0), followed by Rayleigh–Ritz on
span(Y). The cost is O(N² s m) for a block of s = r + guard vectors instead of O(N³).

Safeguards (the projection must be exact to working accuracy, or ADMM converges to the wrong point):
* the block carries ``guard`` extra vectors; the partial result is accepted only if at least one Ritz
  value is ≤ 0 and every Ritz pair with a positive value has a residual ‖Av − θv‖ ≤ ``rtol``·‖A‖₂;
  otherwise the filter is applied again (a few passes) and then a full ``eigh`` is used;
* the lower end a of the spectrum comes from a Lanczos run with the rigorous bound θ_min − ‖r‖
  (Zhou & Li 2011), re-estimated whenever a Ritz value falls below it;
* ``verify(A, X)`` checks the result exactly by a Cholesky factorisation of X − A + δI (X − A must be
  the negated negative part, ⪰ 0): a positive eigenvalue that the block missed fails this test, and the
  projector returns to full decompositions with a larger guard.
"""

from __future__ import annotations

import torch

__all__ = ["PSDProjector"]


class PSDProjector:
    """Callable ``proj(A) → Π(A)`` with full or partial eigen-decompositions (see module docstring).

    Parameters
    ----------
    max_rank_frac : partial mode is used only while the positive part's rank is at most this fraction of N.
    min_size : below this N, always use the full decomposition (it is cheap and the filter is not).
    guard : number of extra block vectors beyond the positive rank.
    degree : Chebyshev degree per filter pass (passes repeat, converged pairs locked, until done or over budget).
    rtol : accepted Ritz residual relative to ‖A‖₂.
    budget_frac : at most ``budget_frac``·N block mat-vecs per call before falling back to a full ``eigh``.
    """

    def __init__(self, *, max_rank_frac=0.1, min_size=96, guard=6, degree=8, rtol=1e-10, budget_frac=0.15,
                 enabled=True):
        self.max_rank_frac = max_rank_frac
        self.min_size = min_size
        self.guard = guard
        self.degree = degree
        self.rtol = rtol
        self.budget_frac = budget_frac
        self.a_refresh = 20       # re-estimate the lower end of the spectrum every this many calls
        self._calls_since_a = 0
        self.b = 0.0              # upper end of the damped interval (largest non-positive Ritz value seen)
        self.enabled = enabled
        self.V = None            # warm-start block (N × s), orthonormal columns
        self.a = None            # lower bound of the spectrum (a < 0)
        self.n_full = 0
        self.n_partial = 0
        self.n_matvec_blocks = 0
        self.n_verify_fail = 0
        self._fails = 0           # consecutive partial failures
        self._pause = 0           # calls left before the partial path is tried again

    # ------------------------------------------------------------------ public
    def __call__(self, A):
        N = A.shape[0]
        if self._pause > 0:
            self._pause -= 1
        elif self.enabled and self.V is not None and N >= self.min_size:
            X = self._partial(A)
            if X is not None:
                self.n_partial += 1
                self._fails = 0
                return X
            # repeated failures (a spectrum the filter cannot separate cheaply): stop trying for a while
            self._fails += 1
            if self._fails >= 3:
                self._pause, self._fails = 50, 0
        return self._full(A)

    def rescaled(self):
        """Tell the projector that the matrices' scale changed (re-estimate the spectrum's lower end)."""
        self.a = None

    def verify(self, A, X):
        """Exact check that X = Π(A): X − A ⪰ −δI by Cholesky (δ = 10³·rtol·‖A‖_F). Returns True if it holds.

        On failure the projector drops its warm start (the next call decomposes fully) and enlarges the guard.
        """
        if self.V is None:
            return True
        D = X - A
        D = 0.5 * (D + D.T)
        scale = float(torch.linalg.norm(A))             # ‖A‖_F ≥ ‖A‖₂
        delta = max(1e3 * self.rtol, 1e-13) * max(scale, 1e-300)
        eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
        _, info = torch.linalg.cholesky_ex(D + delta * eye)
        if int(info) == 0:
            return True
        self.n_verify_fail += 1
        self.V = None
        self.guard = min(2 * self.guard, 64)
        return False

    # ------------------------------------------------------------------ internals
    def _full(self, A):
        self.n_full += 1
        w, V = torch.linalg.eigh(A)
        pos = w > 0
        k = int(pos.sum())
        Vp = V[:, pos]
        X = (Vp * w[pos]) @ Vp.T
        N = A.shape[0]
        s = k + self.guard
        if self.enabled and N >= self.min_size and k <= self.max_rank_frac * N and s < N:
            self.V = V[:, N - s:].contiguous()
            self.a = float(w[0])
            self.a -= 0.05 * abs(self.a) + 1e-300
        else:
            self.V = None
        return X

    def _lanczos_min(self, A, steps=12):
        """Rigorous lower bound of λ_min(A): θ_min − ‖r‖ from a short Lanczos run (Zhou & Li 2011)."""
        N = A.shape[0]
        g = torch.Generator(device="cpu").manual_seed(N)
        q = torch.randn(N, generator=g, dtype=A.dtype).to(A.device)
        q = q / torch.linalg.norm(q)
        Qs, alph, bet = [q], [], []
        beta, q_prev = 0.0, torch.zeros_like(q)
        for _ in range(min(steps, N)):
            w = A @ q - beta * q_prev
            al = float(q @ w)
            w = w - al * q
            Qm = torch.stack(Qs, 1)
            w = w - Qm @ (Qm.T @ w)              # full re-orthogonalisation (steps are few)
            alph.append(al)
            beta = float(torch.linalg.norm(w))
            bet.append(beta)
            if beta < 1e-14:
                break
            q_prev, q = q, w / beta
            Qs.append(q)
        k = len(alph)
        T = torch.diag(torch.tensor(alph, dtype=torch.float64))
        if k > 1:
            off = torch.tensor(bet[: k - 1], dtype=torch.float64)
            T = T + torch.diag(off, 1) + torch.diag(off, -1)
        th, S = torch.linalg.eigh(T)
        return float(th[0]) - abs(bet[k - 1] * float(S[k - 1, 0]))

    def _filter(self, A, Vl, thl, Y, m, a, b):
        """T_m(L(A_d)) Y with A_d = A − Vl diag(thl) Vlᵀ (locked pairs deflated) and L mapping [a, b] to [−1, 1]."""
        e = 0.5 * (b - a)
        c = 0.5 * (b + a)

        def op(Z):
            AZ = A @ Z
            if Vl is not None:
                AZ = AZ - Vl @ (thl[:, None] * (Vl.T @ Z))
            return AZ

        Y0 = Y
        Y1 = (op(Y) - c * Y) / e
        for _ in range(2, m + 1):
            Y0, Y1 = Y1, 2.0 * (op(Y1) - c * Y1) / e - Y0
            # rescale to keep magnitudes bounded (the span is what matters)
            sc = float(Y1.abs().max())
            if sc > 1e100:
                Y0, Y1 = Y0 / sc, Y1 / sc
        self.n_matvec_blocks += m
        return Y1

    def _partial(self, A):
        V = self.V
        N, s = V.shape
        self._calls_since_a += 1
        if self.a is None or self._calls_since_a >= self.a_refresh:
            # the lower end of the spectrum drifts (and jumps when ADMM rescales its dual): a loose bound
            # makes the filter slow, one below the true λ_min keeps it correct
            self.a = min(1.05 * self._lanczos_min(A), -1e-300)
            self._calls_since_a = 0
        budget = self.budget_frac * N        # block mat-vecs allowed before a full eigh is cheaper
        used = 0
        m = self.degree
        Vl = thl = None                       # locked (converged) positive pairs
        Vu = V                                # unlocked block
        normA = None
        b = min(self.b, 0.0)
        while used + m + 1 <= budget:
            Y = self._filter(A, Vl, thl, Vu, m, self.a, b)
            used += m + 1
            if Vl is not None:
                Y = Y - Vl @ (Vl.T @ Y)
                Y = Y - Vl @ (Vl.T @ Y)
            Qb, _ = torch.linalg.qr(Y)
            AQ = A @ Qb
            H = Qb.T @ AQ
            th, S = torch.linalg.eigh(0.5 * (H + H.T))
            Vu = Qb @ S
            AV = AQ @ S
            if float(th[0]) < self.a:            # spectrum reaches below the filter's interval: re-estimate
                self.a = min(self._lanczos_min(A), float(th[0])) * 1.05
            if normA is None:
                normA = max(abs(float(th[-1])), abs(self.a))
            res = torch.linalg.norm(AV - Vu * th, dim=0)
            pos = th > 0
            conv = pos & (res <= self.rtol * normA)
            if bool(conv.any()):
                Vn, tn = Vu[:, conv], th[conv]
                Vl = Vn if Vl is None else torch.cat([Vl, Vn], 1)
                thl = tn if thl is None else torch.cat([thl, tn])
                Vu, th = Vu[:, ~conv], th[~conv]
                pos = th > 0
            nl = 0 if Vl is None else Vl.shape[1]
            if s - nl - int(pos.sum()) < max(2, self.guard // 2):   # guard used up: the block may miss some
                self.V = None
                return None
            if not bool(pos.any()):
                self.b = float(th[-1]) if th.numel() else 0.0
                self.V = Vu if Vl is None else torch.cat([Vl, Vu], 1)
                if Vl is None:
                    return torch.zeros_like(A)
                return (Vl * thl) @ Vl.T
        self.V = Vu if Vl is None else torch.cat([Vl, Vu], 1)   # keep the improved block for the next call
        return None

    def stats(self):
        return {"eigh_full": self.n_full, "eigh_partial": self.n_partial,
                "filter_matvec_blocks": self.n_matvec_blocks, "verify_failures": self.n_verify_fail}
