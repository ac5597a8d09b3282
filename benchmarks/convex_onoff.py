"""Benchmark: the ON/OFF Q-space problem (000 §5) — simcode's first-order solver vs cvxpy+SCS and
cvxpy+Clarabel on the same instance, in one run.

Instance: exponential law with an atom Pr(I=0)=0.3 on n points, λ = 0.5:
    min Tr(diag(p) Q) + λ min_b (I − b1)ᵀ Q⁺ (I − b1)   s.t. Q ⪰ 0, Q ≥ 0.
The closed-form optimum 2√λ·min_b(‖(I−b)₊‖+‖(b−I)₊‖) is the accuracy reference for every solver.

    python benchmarks/convex_onoff.py --sizes 40 80 160 320 --peers scs clarabel --peer-max 320
    python benchmarks/convex_onoff.py --sizes 1000 2000 --peers        # simcode only
    python benchmarks/convex_onoff.py --sizes 4000 10000 --device cuda --peers

Prints a table (time, relative objective error vs the closed form, certified gap, ratio to simcode)
and appends JSON lines to --out.
"""

from __future__ import annotations

import argparse
import json
import platform
import time


def instance(n):
    from simcode.data import onoff_stimulus

    return onoff_stimulus("exponential", 0.3, n)


def run_simcode(n, device, tol):
    from simcode.convex import Problem, activity_cost, nonnegative, readout_cost

    v, p = instance(n)
    prob = Problem([activity_cost(p), readout_cost(v, lam=0.5, affine=True)], [nonnegative()])
    t0 = time.perf_counter()
    sol = prob.solve(solver="firstorder", device=device, tol=tol, recover_z=False)
    t = time.perf_counter() - t0
    print("   simcode projections:", sol.info.get("projections"), flush=True)
    return t, sol.objective, sol.certificate.gap, sol.n_iter


def run_cvxpy(n, solver, tol):
    from simcode.convex import Problem, activity_cost, nonnegative, readout_cost
    from simcode.convex.cvxpy_sdp import build_cvxpy

    v, p = instance(n)
    prob = Problem([activity_cost(p), readout_cost(v, lam=0.5, affine=True)], [nonnegative()])
    cp_prob, _, _ = build_cvxpy(prob)
    kw = {}
    if solver == "SCS":          # equal accuracy: SCS at eps = tol (cvxpy's default 1e-4 is far looser)
        kw = dict(eps_abs=tol, eps_rel=tol, max_iters=1_000_000)
    elif solver == "SCS-DEFAULT":
        solver = "SCS"
    t0 = time.perf_counter()
    cp_prob.solve(solver=solver, **kw)
    return time.perf_counter() - t0, float(cp_prob.value), None, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[40, 80, 160])
    ap.add_argument("--peers", nargs="*", default=["scs", "clarabel"],
                    help="scs (eps = tol), scs-default (cvxpy's default eps 1e-4), clarabel")
    ap.add_argument("--peer-max", type=int, default=160, help="largest n given to the cvxpy peers")
    ap.add_argument("--clarabel-max", type=int, default=80)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--out", default="benchmarks/results/convex_onoff.jsonl")
    args = ap.parse_args()
    import cvxpy
    import torch

    from simcode.identify.onoff import onoff_closed_form

    meta = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "cvxpy": cvxpy.__version__, "device": args.device}
    print(meta)
    print(f"{'n':>6} {'solver':>10} {'time s':>9} {'rel.err':>9} {'gap':>9} {'iters':>6} {'ratio':>7}")
    for n in args.sizes:
        v, p = instance(n)
        ref, _ = onoff_closed_form(v, p, 0.5)
        rows = [("simcode", *run_simcode(n, args.device, args.tol))]
        for peer in args.peers:
            lim = args.clarabel_max if peer == "clarabel" else args.peer_max
            if n <= lim:
                rows.append((peer, *run_cvxpy(n, peer.upper(), args.tol)))
        t_s = rows[0][1]
        for name, t, obj, gap, it in rows:
            err = (obj - ref) / ref
            ratio = t / t_s
            g = f"{gap:.1e}" if gap is not None else "-"
            print(f"{n:>6} {name:>10} {t:>9.2f} {err:>9.1e} {g:>9} {it or '-':>6} {ratio:>7.1f}", flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps({"n": n, "solver": name, "time_s": t, "rel_err": err, "gap": gap,
                                    "iters": it, "ratio_vs_simcode": ratio, **meta}) + "\n")


if __name__ == "__main__":
    main()
