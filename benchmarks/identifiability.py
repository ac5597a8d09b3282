"""Benchmark: Problem 1 of "Convex Efficient Coding" (non-negative affine autoencoding, 2 sources, N = 441).

Side by side in one run:
  * simcode: ``tight_scattering`` (the verdict) and ``solve_affine_autoencoder`` (certified global optimum
    through the direction-measure formulation);
  * Z-space penalty optimisation of the network weights, of the kind the paper's authors use (Adam, and
    L-BFGS, with restarts; torch, CPU): penalties for negative activity and reconstruction error; its final
    encoder is then evaluated *exactly* (smallest admissible bias, min-norm readout) so objectives compare;
  * cvxpy (Clarabel) on the doubly-non-negative Q-problem (simcode.convex.Problem) where it fits (small N),
    and simcode's first-order Q-space solver at the same sizes (if present).

Run:  python benchmarks/identifiability.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from simcode.convex.measure import solve_affine_autoencoder
from simcode.identify.scattering import tight_scattering


def square(k):
    g = np.linspace(0, 1, k)
    return np.array([(a, b) for a in g for b in g])


def mixing(deg):
    t = np.deg2rad(deg)
    return np.array([[1.0, np.cos(t)], [0.0, np.sin(t)]])


def exact_objective(U, S, A, lam):
    """Objective of Problem 1 for encoder weights U (K × d on the sources) with the best bias and readout."""
    U = U[np.linalg.norm(U, axis=1) > 0]
    Z = S @ U.T
    Z = Z - Z.min(0)
    M = A.T @ A
    P = U.T @ U
    return float((Z ** 2).sum(1).mean() + lam * np.trace(U @ np.linalg.inv(M) @ U.T)
                 + lam * np.trace(M @ np.linalg.inv(P)))


def zspace(S, A, lam, method, n_neurons=16, restarts=3, steps=4000, beta=1e3, seed=0):
    X = torch.tensor(S @ A.T)
    n, D = X.shape
    best = (np.inf, None)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(restarts):
        W_in = (0.3 * torch.randn(n_neurons, D, generator=gen, dtype=torch.float64)).requires_grad_()
        b_in = torch.zeros(n_neurons, dtype=torch.float64).add_(0.5).requires_grad_()
        W_out = (0.3 * torch.randn(D, n_neurons, generator=gen, dtype=torch.float64)).requires_grad_()
        b_out = torch.zeros(D, dtype=torch.float64, requires_grad=True)
        params = [W_in, b_in, W_out, b_out]

        def loss_fn():
            Z = X @ W_in.T + b_in
            rec = Z @ W_out.T + b_out - X
            return ((Z ** 2).sum(1).mean() + lam * ((W_in ** 2).sum() + (W_out ** 2).sum())
                    + beta * ((torch.relu(-Z) ** 2).sum(1).mean() + (rec ** 2).sum(1).mean()))

        if method == "adam":
            opt = torch.optim.Adam(params, lr=1e-2)
            for _ in range(steps):
                opt.zero_grad()
                loss = loss_fn()
                loss.backward()
                opt.step()
        else:
            opt = torch.optim.LBFGS(params, lr=1, max_iter=steps // 4, history_size=50,
                                    line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15)

            def closure():
                opt.zero_grad()
                loss = loss_fn()
                loss.backward()
                return loss

            opt.step(closure)
        U = (W_in.detach().numpy() @ A)
        J = exact_objective(U, S, A, lam)
        if J < best[0]:
            best = (J, float(loss_fn().detach()))
    return best


def dnn_qproblem(S, A, lam, solver):
    from simcode.convex import Problem, activity_cost, encoder_cost, nonnegative, readout_cost

    X = S @ A.T
    prob = Problem([activity_cost(), encoder_cost(X, lam, affine=True), readout_cost(X, lam, affine=True)],
                   [nonnegative()])
    t0 = time.perf_counter()
    sol = prob.solve(solver=solver)
    return time.perf_counter() - t0, float(sol.objective), sol


def timed(fn, repeat=3):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), out


def main(quick=False):
    torch.set_num_threads(1)
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"machine: {platform.machine()} shared 2-core CPU (loaded by other work)")
    full = square(21)
    cut = full[full[:, 0] - full[:, 1] <= 0.6 + 1e-12]
    instances = [("square, 90°, λ=0.1 (modular)", full, np.eye(2), 0.1),
                 ("square, 150°, λ=0.1 (mixed)", full, mixing(150), 0.1),
                 ("corner-cut, 60°, λ=0.01 (modular)", cut, mixing(60), 0.01)]
    rows = []
    for name, S, A, lam in instances:
        t_ts, res = timed(lambda: tight_scattering(S, A, lam))
        t_ms, sol = timed(lambda: solve_affine_autoencoder(S, A, lam))
        J = sol.measure.objective
        rows.append((name, "simcode tight_scattering", len(S), t_ts, None, f"verdict={res.identifiable}"))
        rows.append((name, "simcode measure solve (certified)", len(S), t_ms, J,
                     f"gap={sol.measure.gap:.1e}, modular={sol.modular}"))
        for method in ("adam", "lbfgs"):
            steps = 1000 if quick else 4000
            t0 = time.perf_counter()
            Jz, pen = zspace(S, A, lam, method, steps=steps, restarts=2 if quick else 3)
            tz = time.perf_counter() - t0
            rows.append((name, f"Z-space {method} ({'2' if quick else '3'} restarts, {steps} steps)", len(S), tz, Jz,
                         f"rel.excess={(Jz - J) / J:+.1e}, penalised loss={pen:.4f}, speed ratio={tz / t_ms:.0f}x"))
    # Q-space DNN problem where it fits
    for k in ((4, 5) if quick else (4, 5, 6, 7)):
        S = square(k)
        A, lam = mixing(150), 0.1
        ref = solve_affine_autoencoder(S, A, lam)
        t_ms, _ = timed(lambda: solve_affine_autoencoder(S, A, lam))
        rows.append(("Q-space check, square 150°", "simcode measure solve (certified)", len(S), t_ms,
                     ref.measure.objective, "exact CP optimum"))
        for solver in ("cvxpy", "firstorder"):
            try:
                tq, Jq, sol = dnn_qproblem(S, A, lam, solver)
                rows.append(("Q-space check, square 150°", f"Q-space DNN ({solver})", len(S), tq, Jq,
                             f"rel.diff={(Jq - ref.measure.objective) / ref.measure.objective:+.1e}, "
                             f"status={sol.status}, ratio={tq / t_ms:.0f}x"))
            except Exception as exc:  # noqa: BLE001 - report and go on
                rows.append(("Q-space check, square 150°", f"Q-space DNN ({solver})", len(S), np.nan, None,
                             f"failed: {type(exc).__name__}: {str(exc)[:60]}"))
    print(f"\n{'instance':36s} {'method':44s} {'N':>4s} {'time [s]':>9s} {'objective':>12s}  notes")
    for r in rows:
        obj = f"{r[4]:.8f}" if r[4] is not None else "-"
        print(f"{r[0]:36s} {r[1]:44s} {r[2]:4d} {r[3]:9.3f} {obj:>12s}  {r[5]}")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
