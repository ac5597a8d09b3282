"""Theorem 1 of "Convex Efficient Coding" (shared/papers/000 §3, Fig. 1 table): identifiability of
non-negative affine autoencoding. Each verdict of ``tight_scattering`` is checked against the certified
global optimum of Problem 1 solved by the direction-measure solver."""

from __future__ import annotations

import time

import numpy as np

from simcode.experiments import Context, experiment


def _square(k):
    g = np.linspace(0.0, 1.0, k)
    return np.array([(a, b) for a in g for b in g])


def _mixing(deg):
    t = np.deg2rad(deg)
    return np.array([[1.0, np.cos(t)], [0.0, np.sin(t)]])


def _panel_sources(ax, S, res, title):
    from scipy.spatial import ConvexHull

    ax.scatter(S[:, 0], S[:, 1], s=4, c="0.6")
    hull = ConvexHull(S)
    v = np.r_[hull.vertices, hull.vertices[:1]]
    ax.plot(S[v, 0], S[v, 1], "k-", lw=1, label="Conv(S)")
    if res.F_psd:
        e = res.ellipse()
        ax.plot(e[:, 0], e[:, 1], "C1-", lw=1.5, label="mean + E")
    else:
        ax.text(0.02, 0.02, "F indefinite: no ellipsoid to draw", transform=ax.transAxes, fontsize=8)
    if not res.identifiable:
        w = res.witness
        ax.arrow(*res.center, *(0.3 * w), color="C3", width=0.008, label="violating direction")
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    ax.set_xlabel("$s_1$")
    ax.set_ylabel("$s_2$")


def _panel_neurons(ax, sol, title):
    m = sol.measure
    scale = 0.45 / np.linalg.norm(m.U, axis=1).max()
    for k, u in enumerate(m.U):
        ax.arrow(0, 0, *(scale * u), width=0.01, color=f"C{k % 10}", length_includes_head=True)
    ax.set_xlim(-0.55, 0.55)
    ax.set_ylim(-0.55, 0.55)
    ax.axhline(0, c="0.8", lw=0.5)
    ax.axvline(0, c="0.8", lw=0.5)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("weight on $s_1$")
    ax.set_ylabel("weight on $s_2$")


@experiment("identifiability", description="Theorem 1: tight scattering decides whether semi-NMF autoencoding is "
            "modular; checked against the certified optimum of Problem 1", cpu_time="~60 s",
            sources=("000 §3 Theorem 1", "000 Fig. 1 table"))
def run(ctx: Context) -> None:
    import matplotlib.pyplot as plt

    from simcode.convex.measure import solve_affine_autoencoder
    from simcode.identify.scattering import tight_scattering

    k = 11 if ctx.quick else 21
    square = _square(k)
    cut = square[square[:, 0] - square[:, 1] <= 0.6 + 1e-12]  # corner at (1, 0) cut off
    settings = [
        ("orthonormal mixing, square sources", square, np.eye(2), 0.1, True),
        ("anti-aligned mixing (150°), square sources", square, _mixing(150), 0.1, False),
        ("orthonormal mixing, corner-cut sources", cut, np.eye(2), 0.01, False),
        ("aligned mixing (60°), corner-cut sources", cut, _mixing(60), 0.01, True),
    ]
    fig, axes = plt.subplots(2, len(settings), figsize=(4 * len(settings), 8))
    verdicts = {}
    for j, (name, S, A, lam, _paper) in enumerate(settings):
        res = tight_scattering(S, A, lam)
        sol = solve_affine_autoencoder(S, A, lam)
        verdicts[name] = (res, sol)
        ctx.metric(f"{name}: margin", res.margin)
        ctx.metric(f"{name}: off-axis mass of solved optimum", sol.offaxis_fraction)
        ctx.metric(f"{name}: duality gap", sol.measure.gap)
        tag = "modular" if sol.modular else "mixed"
        verdict = "holds" if res.identifiable else "fails"
        _panel_sources(axes[0, j], S, res, f"{name}\nλ={lam}: tight scattering {verdict}")
        _panel_neurons(axes[1, j], sol, f"solved optimum: {len(sol.measure.weights)} neurons, {tag}")
    fig.tight_layout()
    ctx.figure("settings", fig, "Top: sources, their convex hull and the ellipsoid mean + E of Theorem 1 (red arrow: a "
               "direction where the ellipsoid leaves the hull). Bottom: input weights (on the sources) of the neurons "
               "of the certified optimum; arrows along the axes mean a modular code.")
    plt.close(fig)

    r, s = verdicts[settings[0][0]]
    ctx.claim("orthonormal mixing of square sources is identifiable and the optimum is modular", source="000 Fig. 1",
              measured=bool(r.identifiable and s.modular and s.offaxis_fraction < 1e-6),
              expected="tight scattering holds; each neuron encodes one source", kind="true")
    r, s = verdicts[settings[1][0]]
    ctx.claim("anti-aligned mixing breaks identifiability and the optimum mixes sources", source="000 Fig. 1",
              measured=bool((not r.identifiable) and (not s.modular)),
              expected="tight scattering fails; optimum is mixed", kind="true")
    r0, s0 = verdicts[settings[2][0]]
    r1, s1 = verdicts[settings[3][0]]
    ctx.claim("a source set that fails under orthonormal mixing is recovered under moderately aligned mixing",
              source="000 Fig. 1", measured=bool((not r0.identifiable) and (not s0.modular) and r1.identifiable
                                                 and s1.modular),
              expected="fails at 90°, modular at 60°", kind="true")

    # phase diagram over mixing angle x lambda for the corner-cut sources
    angles = np.arange(30, 151, 20 if ctx.quick else 5)
    lams = np.geomspace(0.003, 0.3, 3 if ctx.quick else 7)
    verdict = np.zeros((len(lams), len(angles)))
    solved = np.zeros_like(verdict)
    t_ts = t_sol = 0.0
    grid = [(i, j) for i in range(len(lams)) for j in range(len(angles))]
    for i, j in ctx.track(grid, "phase diagram"):
        A = _mixing(angles[j])
        t0 = time.perf_counter()
        verdict[i, j] = tight_scattering(cut, A, lams[i]).identifiable
        t_ts += time.perf_counter() - t0
        t0 = time.perf_counter()
        solved[i, j] = solve_affine_autoencoder(cut, A, lams[i]).modular
        t_sol += time.perf_counter() - t0
    agree = float(np.mean(verdict == solved))
    ctx.metric("phase diagram agreement", agree)
    ctx.metric("mean time tight_scattering [s]", t_ts / len(grid))
    ctx.metric("mean time certified solve of Problem 1 [s]", t_sol / len(grid))
    fig, ax = plt.subplots(figsize=(7, 4))
    from matplotlib.colors import ListedColormap

    step = angles[1] - angles[0]
    ax.imshow(verdict, origin="lower", aspect="auto", cmap=ListedColormap(["0.85", "tab:green"]), vmin=0, vmax=1,
              extent=(angles[0] - step / 2, angles[-1] + step / 2, -0.5, len(lams) - 0.5))
    bad = np.argwhere(verdict != solved)
    if len(bad):
        ax.plot(angles[bad[:, 1]], bad[:, 0], "rx", label="disagrees with solved optimum")
        ax.legend(fontsize=8)
    ax.set_yticks(range(len(lams)), [f"{x:.3g}" for x in lams])
    ax.set_xlabel("angle between the mixing columns (deg)")
    ax.set_ylabel("λ")
    ax.set_title("corner-cut sources: green = tight scattering holds (modular), grey = fails (mixed)", fontsize=9)
    fig.tight_layout()
    ctx.figure("phase_diagram", fig, "Phase diagram of Theorem 1 over mixing angle and λ for the corner-cut source "
               "set; green cells are identifiable. Red crosses would mark cells where the certified optimum of "
               "Problem 1 disagrees with the theorem.")
    plt.close(fig)
    ctx.claim("tight scattering predicts modularity of the solved optimum on the whole phase diagram",
              source="000 Theorem 1", measured=agree, expected=1.0, kind="at_least")
    ctx.note("The independent check solves Problem 1 through the direction-measure formulation "
             "(simcode.convex.measure) to a certified duality gap ≤ 1e-9 and calls it modular when its value equals "
             "the best modular code's closed-form value; D in F was derived from the KKT conditions "
             "(see simcode.identify.scattering).")
