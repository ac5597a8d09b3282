r"""Batched primal active-set solver for the lasso (ℓ1, or ℓ1 with z ≥ 0): Lawson–Hanson / feature-sign.

For every sample at once (padded batched Cholesky on each sample's own support):

1. If the current point is optimal on its support S with sign pattern θ (the equality system
   :math:`z_S G_{SS} = B_S - \lambda\theta_S` holds and the signs agree), add the off-support coordinate
   with the largest KKT violation :math:`|C_j| - \lambda` (:math:`C = B - zG`, the negative gradient), with
   sign :math:`\theta_j = \mathrm{sign}(C_j)` (Lee, Battle, Raina & Ng 2007 "feature-sign search"; for the
   non-negative case Lawson & Hanson 1974, whose lemma makes the added coordinate's new value positive).
2. Solve the equality system on the (new) support: :math:`\hat z_S = (B_S - \lambda\theta_S)G_{SS}^{-1}`.
3. Move from z towards :math:`\hat z` up to the first point where a coordinate reaches zero (on that
   segment the objective equals the smooth model and decreases), dropping that coordinate.

A sample stops when it is optimal on its support and no off-support coordinate violates the KKT condition
:math:`|C_j| \le \lambda`. The caller certifies the result with the duality gap and falls back to FISTA for
any sample that fails (singular :math:`G_{SS}`, support larger than ``max_support``, cycling).
"""

from __future__ import annotations

import torch


def active_set_lasso(B, G, lam, nonneg: bool, Z0, max_iter: int, max_support: int, kkt_tol: float,
                     n_add: int = 1):
    """Return ``(Z, done, n_iter)``: codes, a per-sample flag (KKT satisfied on exit), iterations run.

    ``B = X Dᵀ`` (n×K), ``G = D Dᵀ`` (K×K), ``lam`` a float or an (n, 1) tensor, ``Z0`` a warm start.
    Up to ``n_add`` violating coordinates are added at once while that works for a sample; after the first
    time a newly added coordinate comes out with the wrong sign, that sample adds one at a time (for which
    the Lawson–Hanson lemma guarantees progress).
    """
    n, K = B.shape
    dev, dt = B.device, B.dtype
    Z = Z0.clone()
    done = torch.zeros(n, dtype=torch.bool, device=dev)
    idx = torch.arange(n, device=dev)
    per_sample = isinstance(lam, torch.Tensor)
    Za, Ba = Z.clone(), B
    lam_a = lam
    scale = (B.abs().amax(-1) + (lam[:, 0] if per_sample else lam)).clamp_min(torch.finfo(dt).tiny)
    eps_a = kkt_tol * scale
    opt_sub = (Za == 0).all(-1)  # the empty support is trivially optimal on itself
    multi = torch.ones(n, dtype=torch.bool, device=dev)
    k_add = max(1, min(int(n_add), K))
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        if idx.numel() == 0:
            break
        C = Ba - Za @ G
        S = Za != 0
        score = (C if nonneg else C.abs()) - lam_a
        score = torch.where(S, torch.full_like(score, -torch.inf), score)
        if k_add == 1:
            v1, j1 = score.max(-1)
            vals, js = v1[:, None], j1[:, None]
        else:
            vals, js = torch.topk(score, k_add, dim=-1)
        fin = opt_sub & (vals[:, 0] <= eps_a)
        add = opt_sub & ~fin
        if bool(fin.any()):
            Z[idx] = Za
            done[idx[fin]] = True
            keep = ~fin
            idx, Za, Ba, C, S, opt_sub, add, vals, js, eps_a, multi = (
                idx[keep], Za[keep], Ba[keep], C[keep], S[keep], opt_sub[keep], add[keep], vals[keep], js[keep],
                eps_a[keep], multi[keep])
            if per_sample:
                lam_a = lam_a[keep]
            if idx.numel() == 0:
                break
        sel = (vals > eps_a[:, None]) & add[:, None]
        if k_add > 1:
            sel[:, 1:] &= multi[:, None]
        newcol = torch.zeros_like(S).scatter(-1, js, sel)
        theta = torch.sign(Za)
        if nonneg:
            theta = torch.where(newcol, torch.ones_like(theta), theta)
        else:
            theta = torch.where(newcol, torch.sign(C), theta)
        Sn = S | newcol
        counts = Sn.sum(-1)
        m = int(counts.max())
        if m > max_support:
            # give up on the samples whose support is too large (the caller falls back to FISTA)
            ok = counts <= max_support
            Z[idx] = Za
            idx, Za, Ba, Sn, theta, counts, eps_a, multi, newcol = (idx[ok], Za[ok], Ba[ok], Sn[ok], theta[ok],
                                                                    counts[ok], eps_a[ok], multi[ok], newcol[ok])
            if per_sample:
                lam_a = lam_a[ok]
            if idx.numel() == 0:
                break
            m = int(counts.max())
        if m == 0:
            opt_sub = torch.ones(idx.numel(), dtype=torch.bool, device=dev)
            continue
        # support indices first (in index order), padded with arbitrary off-support indices
        key = Sn.to(dt) * (K - torch.arange(K, device=dev, dtype=dt))
        order = torch.topk(key, m, dim=-1).indices
        valid = torch.arange(m, device=dev)[None, :] < counts[:, None]
        Gs = G[order[:, :, None], order[:, None, :]]
        vv = valid[:, :, None] & valid[:, None, :]
        Gs = torch.where(vv, Gs, torch.eye(m, dtype=dt, device=dev).expand_as(Gs))
        th = theta.gather(-1, order)
        rhs = torch.where(valid, Ba.gather(-1, order) - lam_a * th, torch.zeros_like(th))
        Lc, info = torch.linalg.cholesky_ex(Gs)
        zh = torch.cholesky_solve(rhs[:, :, None], Lc)[:, :, 0]
        good = info == 0
        zc = torch.where(valid, Za.gather(-1, order), torch.zeros_like(zh))
        zh = torch.where(valid & good[:, None], zh, zc)
        # line search: first coordinate reaching zero along zc → zh
        wrong = valid & (th * zh <= 0)
        denom = zc - zh
        t = torch.where(wrong & (zc != 0), zc / torch.where(denom == 0, torch.ones_like(denom), denom),
                        torch.full_like(zh, torch.inf))
        t = torch.where(wrong & (zc == 0), torch.zeros_like(t), t)  # a new coordinate with the wrong sign
        tmin, jcross = t.min(-1)
        t1 = tmin.clamp(max=1.0)
        znew = zc + t1[:, None] * (zh - zc)
        crossed = tmin <= 1.0
        hit = (torch.arange(m, device=dev)[None, :] == jcross[:, None]) & crossed[:, None]
        znew = torch.where(hit | (valid & (th * znew <= 0)), torch.zeros_like(znew), znew)
        znew = torch.where(valid, znew, torch.zeros_like(znew))
        stuck = crossed & (tmin <= 0) & (zc.gather(-1, jcross[:, None])[:, 0] == 0)
        Za = torch.zeros_like(Za).scatter(-1, order, znew)
        opt_sub = ~crossed & good
        # a wrong-signed new coordinate: no move; retry adding one coordinate at a time
        n_new = newcol.sum(-1)
        retry = stuck & (n_new > 1)
        multi = multi & ~retry
        opt_sub = opt_sub | retry
        # samples that made no progress (singular system, or stuck with a single new coordinate): stop them
        bad = ~good | (stuck & ~retry)
        if bool(bad.any()):
            Z[idx] = Za
            keep = ~bad
            idx, Za, Ba, opt_sub, eps_a, multi = idx[keep], Za[keep], Ba[keep], opt_sub[keep], eps_a[keep], multi[keep]
            if per_sample:
                lam_a = lam_a[keep]
    if idx.numel():
        Z[idx] = Za
    return Z, done, it
