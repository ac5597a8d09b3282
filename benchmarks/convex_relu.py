"""Convex two-layer ReLU training: simcode.nets.ConvexReLURegressor vs pyscnn (Mishkin, Sahiner & Pilanci 2022) on
the same data and the same gate vectors, i.e. the same convex program.

Objective scale: pyscnn minimises (1/(2n))‖y − ŷ‖² + λ_s Σ‖u_i‖; simcode minimises ‖y − ŷ‖² + λ Σ‖u_i‖, so we set
λ = 2n·λ_s and compare every solution through simcode's objective of the *recovered non-convex network*
(‖y − f(X)‖² + (λ/2)Σ(‖w_j‖² + ‖v_j‖²)), which both tools return. Run: ``python benchmarks/convex_relu.py``.

simcode is run twice: ``solver="cvxpy"`` (Clarabel interior point) and ``solver="torch"`` (the first-order ADMM, the
GPU path, here on the CPU); for the latter we report the time at which its ReLU network first reaches pyscnn's
final objective (both the convex objective and the ReLU-network objective at or below it; from ``history_``,
checked every 10 iterations) and the certified gap when it stops.
Single-threaded (OMP/MKL/torch threads = 1).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import time
import warnings

import numpy as np


def _net_objective(X, y, W1, W2, lam, gates=None):
    H = X @ W1.T
    H = np.maximum(H, 0) if gates is None else (X @ gates >= 0) * H
    F = H @ W2.T
    return float(np.sum((y - F) ** 2) + lam / 2 * (np.sum(W1 ** 2) + np.sum(W2 ** 2)))


def run_case(formulation, n, d, max_neurons, lam_s, seed=0, max_iter=20000):
    from scnn.activations import sample_gate_vectors
    from scnn.optimize import optimize
    from scnn.regularizers import NeuronGL1

    from simcode.nets import ConvexReLURegressor

    rng = np.random.default_rng(seed)
    X = np.c_[rng.normal(size=(n, d - 1)), np.ones(n)]
    y = (np.sin(X[:, :3].sum(1)) + 0.1 * rng.normal(size=n))[:, None]
    lam = 2 * n * lam_s
    n_gates = max_neurons // 2 if formulation == "relu" else max_neurons
    G = sample_gate_vectors(778, d, n_gates)            # the gates pyscnn draws with its default seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        model, metrics = optimize(formulation, max_neurons, X, y, regularizer=NeuronGL1(lam_s),
                                  unitize_data=False, dtype="float64", seed=778)
        t_peer = time.perf_counter() - t
    W1, W2 = model.parameters[0], model.parameters[1]
    gates_peer = None
    if formulation == "gated_relu":
        gates_peer = model.G if hasattr(model, "G") else G
    obj_peer = _net_objective(X, y, W1, W2, lam, gates_peer)
    t = time.perf_counter()
    ours = ConvexReLURegressor(lam=lam, gates=G, gated=formulation == "gated_relu", solver="cvxpy").fit(X, y)
    t_ours = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        fo = ConvexReLURegressor(lam=lam, gates=G, gated=formulation == "gated_relu", solver="torch", tol=1e-6,
                        max_iter=max_iter).fit(X, y)
        t_fo = time.perf_counter() - t
    h = fo.history_                                     # one entry per 10 ADMM iterations
    hit = np.flatnonzero(np.maximum(h["network_objective"], h["objective"]) <= obj_peer)
    reach = None if hit.size == 0 else {k: float(h[k][hit[0]]) for k in ("seconds", "network_objective",
                                                                          "lower_bound")}
    return dict(formulation=formulation, n=n, d=d, gates=G.shape[1], t_peer=t_peer, t_ours=t_ours,
                obj_peer=obj_peer, obj_ours=ours.network_objective_, lower=ours.lower_bound_,
                gap=ours.gap_, solver=ours.solver_, t_fo=t_fo, obj_fo=fo.network_objective_, lb_fo=fo.lower_bound_,
                gap_fo=fo.gap_, it_fo=fo.n_iter_, conv_fo=fo.converged_,
                t_reach=None if reach is None else reach["seconds"],
                gap_reach=None if reach is None else reach["network_objective"] - reach["lower_bound"])


def main():
    from importlib.metadata import version

    import torch

    print(f"pyscnn {version('pyscnn')}, torch {torch.__version__}, cvxpy {version('cvxpy')}, clarabel "
          f"{version('clarabel')}; torch threads {torch.get_num_threads()}")
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()}")
    rows = [run_case("relu", 200, 10, 200, 1e-3), run_case("gated_relu", 200, 10, 100, 1e-3)]
    print("\n| problem | gates | pyscnn time (s) | pyscnn objective | simcode Clarabel time (s) | objective | "
          "dual bound | speed-up | pyscnn excess |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['formulation']} n={r['n']} d={r['d']} | {r['gates']} | {r['t_peer']:.2f} | {r['obj_peer']:.6f} | "
              f"{r['t_ours']:.2f} | {r['obj_ours']:.6f} | {r['lower']:.6f} | "
              f"{r['t_peer'] / r['t_ours']:.1f}× | {(r['obj_peer'] - r['obj_ours']) / r['obj_ours']:+.2%} |")
    print("\n| problem | simcode torch (ADMM): time to pyscnn's objective (s) | speed-up | certified gap then | "
          "final time (s) | iterations | final network objective | final dual bound | final rel. gap | converged |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        reach = "not reached" if r["t_reach"] is None else f"{r['t_reach']:.2f}"
        sp = "—" if r["t_reach"] is None else f"{r['t_peer'] / r['t_reach']:.0f}×"
        gr = "—" if r["gap_reach"] is None else f"{r['gap_reach']:.3g}"
        print(f"| {r['formulation']} | {reach} | {sp} | {gr} | {r['t_fo']:.2f} | {r['it_fo']} | {r['obj_fo']:.6f} | "
              f"{r['lb_fo']:.6f} | {r['gap_fo'] / r['obj_fo']:.1e} | {r['conv_fo']} |")


if __name__ == "__main__":
    main()
