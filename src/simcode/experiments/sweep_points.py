"""Point functions of the papers' phase diagrams, for :func:`simcode.sweep.sweep` and ``simcode sweep``.

Each takes its parameters as keywords and ``random_state`` and returns a dict of metrics. The
models they call are imported inside the function (workers import them on first use).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SWEEPABLE", "DEFAULT_GRIDS", "MAIN_METRIC", "onoff_point", "identifiability_point", "ksm_point"]


def onoff_point(p_zero: float = 0.3, lam: float = 1.0, law: str = "exponential", n_points: int = 24,
                random_state=None) -> dict:
    """ON/OFF coding of a scalar stimulus (Dorrell et al. 2026, 000 §5, Fig. 3).

    Solves min ⟨‖z(I)‖²⟩ + λ‖w‖² s.t. wᵀz(I) + b = I, z(I) ≥ 0 for the discretised law
    ``onoff_stimulus(law, p_zero, n_points)`` with :func:`simcode.identify.solve_onoff` (convex engine),
    and compares the optimum with the paper's threshold: OFF neurons exist iff
    Pr(I=0) < ⟨I⟩²/⟨I²⟩ (``predicted_onoff``). Metrics: ``threshold``, ``predicted_onoff``,
    ``has_off`` (the solved optimum has OFF neurons), ``agrees``, ``n_off``, ``off_share`` (OFF share
    of the activity cost), ``on_rate``/``off_rate``, the lowest stimulus driving an ON neuron
    (``on_low``) and the highest driving an OFF neuron (``off_high``), ``objective`` and its relative
    gap to the closed-form optimum 2√λ·min_b(‖(I−b)₊‖ + ‖(b−I)₊‖) (``closed_form_gap``).
    ``random_state`` seeds the solver.
    """
    from simcode.data import onoff_stimulus
    from simcode.identify import onoff_closed_form, onoff_threshold, solve_onoff

    values, probs = onoff_stimulus(law, p_zero, n_points)
    thr = float(onoff_threshold(values, probs))
    res = solve_onoff(values, probs, lam, random_state=random_state)
    cf = float(onoff_closed_form(values, probs, lam)[0])
    has_off = int(res.n_off) > 0
    predicted = bool(p_zero < thr)
    return {"threshold": thr, "predicted_onoff": predicted, "has_off": has_off, "agrees": has_off == predicted,
            "n_off": int(res.n_off), "off_share": float(res.off_share), "on_rate": float(res.on_rate),
            "off_rate": float(res.off_rate), "on_low": res.on_range[0] if res.on_range else None,
            "off_high": res.off_range[1] if res.off_range else None, "objective": float(res.objective),
            "closed_form_gap": abs(float(res.objective) - cf) / cf}


def identifiability_point(angle: float = 90.0, lam: float = 0.1, sources: str = "uniform", n_samples: int = 400,
                          solve: bool = False, random_state=None) -> dict:
    """Tight-scattering identifiability of non-negative affine autoencoding (000 §3, Theorem 1).

    Two non-negative sources S (``n_samples`` × 2; the paper's S is 2 × N) mixed by A (2 × 2) whose
    unit columns make ``angle`` degrees (90: orthogonal; < 90 aligned; > 90 anti-aligned), data
    X = S Aᵀ. ``sources``: ``"uniform"`` — uniform on the unit square plus its four corners (the hull
    is the square); ``"corner-cut"`` — a regular grid on the square (about ``n_samples`` points) with
    the corner at (1, 0) cut off by s₁ − s₂ ≤ 0.6 (where alignment rescues identifiability, 000 Fig. 1);
    ``"sparse"`` — each source is Exp(1) or, with probability 1/2, exactly 0.

    Reports whether Conv(S̄) contains the ellipsoid of F = λD(AᵀA)D − λ(AᵀA)⁻¹ − Σ
    (``identifiable``) and the signed margin of that containment (0 when identifiable, negative
    otherwise), from :func:`simcode.identify.tight_scattering`. With ``solve=True`` also solves
    Problem 1 to certified global optimality (:func:`simcode.convex.measure.solve_affine_autoencoder`)
    and reports whether the optimum is modular (``modular``) and whether Theorem 1's verdict agrees.
    """
    from simcode.identify import tight_scattering

    rng = np.random.default_rng(random_state)
    if sources == "uniform":
        S = np.vstack([rng.uniform(0.0, 1.0, size=(n_samples - 4, 2)), [[0, 0], [1, 0], [0, 1], [1, 1]]])
    elif sources == "corner-cut":
        g = np.linspace(0.0, 1.0, max(3, int(round(np.sqrt(n_samples)))))
        sq = np.array([(a, b) for a in g for b in g])
        S = sq[sq[:, 0] - sq[:, 1] <= 0.6 + 1e-12]
    elif sources == "sparse":
        S = rng.exponential(1.0, size=(n_samples, 2)) * (rng.random((n_samples, 2)) < 0.5)
    else:
        raise ValueError(f"sources must be 'uniform', 'corner-cut' or 'sparse', got {sources!r}")
    th = np.deg2rad(angle)
    A = np.array([[1.0, np.cos(th)], [0.0, np.sin(th)]])
    res = tight_scattering(S, A, lam)
    out = {"identifiable": bool(res.identifiable), "margin": float(res.margin), "exact": bool(res.exact)}
    if solve:
        from simcode.convex.measure import solve_affine_autoencoder

        sol = solve_affine_autoencoder(S, A, lam, random_state=random_state)
        out["modular"] = bool(sol.modular)
        out["agrees"] = out["modular"] == out["identifiable"]
    return out


def ksm_point(lam: float = 0.1, n_components: int = 16, n_samples: int = 600, n_features: int = 30,
              n_true_atoms: int = 16, sparsity: float = 0.125, max_iter: int = 30, random_state=None) -> dict:
    """Kernel similarity matching on sparse dictionary data (Choudhary et al., 002 §6.1).

    Fits ``KernelSimilarityMatching(n_components, lam)`` (002 Algorithm 2, schedule 1) on
    ``make_sparse_dictionary_data(n_samples, n_features, n_true_atoms, sparsity)`` and reports the R² of
    the reconstruction (``r2``), the dictionary error err(h, ĥ) after Hungarian matching when
    K ≥ the true number of atoms (``dict_error``), and whether the ADMM met its tolerance
    (``converged``; its ConvergenceWarning is folded into this column).
    """
    import warnings

    from simcode.data import make_sparse_dictionary_data
    from simcode.ksm import KernelSimilarityMatching
    from simcode.sparse.atoms import match_atoms

    X, D, _ = make_sparse_dictionary_data(n_samples, n_features, n_true_atoms, sparsity, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = KernelSimilarityMatching(n_components=n_components, lam=lam, max_iter=max_iter, device="cpu",
                                         random_state=random_state).fit(X)
    out = {"r2": float(model.score(X)), "converged": bool(model.converged_), "n_iter": int(model.n_iter_)}
    out["dict_error"] = (float(match_atoms(D, model.components_, max_shift=0).mean_error)
                         if n_components >= n_true_atoms else None)
    return out


SWEEPABLE = {"onoff": onoff_point, "identifiability": identifiability_point, "ksm": ksm_point}

DEFAULT_GRIDS = {
    "onoff": {"p_zero": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "lam": [0.1, 1.0, 10.0]},
    "identifiability": {"angle": [30.0, 45.0, 60.0, 75.0, 90.0, 105.0, 120.0, 135.0, 150.0],
                        "lam": [0.003, 0.01, 0.03, 0.1, 0.3], "sources": ["corner-cut"], "solve": [True]},
    "ksm": {"lam": [0.01, 0.1, 1.0], "n_components": [8, 16, 32]},
}

MAIN_METRIC = {"onoff": "off_share", "identifiability": "identifiable", "ksm": "r2"}
