"""Uniqueness of single-neuron tuning given the similarity matrix (Theorem 2 of the convex-coding paper).

Dorrell, Latham & Whittington, "Convex Efficient Coding" (ICLR 2026), ``shared/papers/000`` §4. Rows of
``Z`` are stimuli (positions), columns are neurons (the paper's Z is neurons × stimuli). Every code with the
same similarity matrix ``Q = Z Zᵀ`` is ``Z O`` with O orthogonal (neurons mixed by a rotation); the tunings
are fixed by Q exactly when every orthogonal O with ``Z O ≥ 0`` is a permutation.

Two things are computed here:

* a **search** (:func:`nonneg_rotations`) for non-negative rotations: alternating projections between
  ``{Z O : O ∈ O(K)}`` (Procrustes: O = polar factor of ``Zᵀ Y``) and the non-negative orthant, batched
  from many starts (random rotations at several distances from the identity). A found ``Z O ≥ 0`` far from
  every column permutation *proves* non-uniqueness (up to the reported negativity of its entries); a search
  that finds nothing proves nothing.
* **certificates** of uniqueness, each a proof:

  - *separability*: every neuron has a stimulus where it alone is active. Then each row of O is
    non-negative, and a non-negative orthogonal matrix is a permutation.
  - *tight scattering* (Theorem 2): there is F ≻ 0 with ``diag F = μ ⊙ μ`` (μ = mean tuning) such that the
    ellipsoid ``μ + {x: xᵀF⁻¹x ≤ 1}`` (which then touches each coordinate plane x_k = 0 at one point p_k)
    lies in Conv(rows of Z) and touches its boundary only at the p_k. Proof (ours, following the paper's
    statement): if Z O ≥ 0, each column o_k of O satisfies ``o_kᵀμ ≥ √(o_kᵀFo_k)``; summing squares,
    ``‖Oᵀμ‖² = ‖μ‖² = Tr F = Σ_k o_kᵀFo_k``, so every o_k-plane is tangent to the ellipsoid at a point of
    Conv(Z)'s boundary, i.e. at some p_j, whose unique tangent plane through 0 is x_j = 0: o_k = e_j.
    Checked exactly with the facets of Conv(Z) (Qhull) and a small SDP for F (cvxpy), for K ≤ 7 neurons.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..core import History, Representation, SolverResult, check_array, check_int, check_number, check_random_state
from ..core import is_tensor, resolve_device

__all__ = ["RotationSearchResult", "TuningCertificate", "nonneg_rotations", "tuning_certificate",
           "permutation_distance"]


@dataclass(kw_only=True)
class TuningCertificate:
    """Sufficient conditions for uniqueness of the tunings (see module docstring).

    A yes/no proof of uniqueness, not a bound on an objective, so it is not a :class:`simcode.core.Certificate`
    (which carries a lower bound and a gap). ``scattering_slack`` is the smallest verified slack of the
    tight-scattering containment (> 0 proves it), ``F`` the ellipsoid's matrix.
    """

    unique: bool
    method: str
    separable: bool
    scattering_slack: float | None = None
    F: np.ndarray | None = None
    note: str = ""


def _cert(unique, method, separable, slack, F, note) -> TuningCertificate:
    return TuningCertificate(unique=unique, method=method, separable=separable, scattering_slack=slack, F=F,
                             note=note)


@dataclass(kw_only=True)
class RotationSearchResult(SolverResult):
    """Outcome of :func:`nonneg_rotations` (core protocol: status, n_iter, history, time_s).

    ``status`` is ``"converged"`` when the alternating projections stopped early because every start met
    the feasibility test, else ``"max_iter"`` — the normal end of a search for a code whose tunings are unique,
    so no warning is issued; ``n_iter`` counts projection steps, ``history["n_feasible"]`` the feasible starts
    at every check (every 50 steps). ``certificate`` is None (there is no bound to certify); the uniqueness
    proof is ``uniqueness``.

    found : a non-negative rotation farther than ``min_distance`` from every permutation was found
        (this proves the tunings are *not* fixed by Q).
    O : best orthogonal matrix found (``Z @ O`` are the alternative tunings).
    Z_rotated : ``Z @ O`` with entries clipped at 0 (its similarity matrix differs from Q by ``q_error``).
    distance : ``min_Π ‖Z O − Z Π‖_F / ‖Z‖_F`` (0 for a permutation).
    negativity : ``−min(Z O) / max(Z)`` before clipping (≤ ``feas_tol`` for a valid witness).
    q_error : ``‖Z_rotated Z_rotatedᵀ − Z Zᵀ‖_F / ‖Z Zᵀ‖_F``.
    uniqueness : :class:`TuningCertificate` (uniqueness proof where one applies).
    distances : distances of every feasible end point of the search.
    """

    found: bool
    O: np.ndarray
    Z_rotated: np.ndarray
    distance: float
    negativity: float
    q_error: float
    uniqueness: TuningCertificate
    n_starts: int
    n_feasible: int
    distances: np.ndarray = field(repr=False)
    note: str = ""


def _check_Z(Z):
    Z = check_array(Z, "Z", ndim=2)
    if Z.shape[1] < 1 or Z.shape[0] < 2:
        raise ValueError(f"Z must be (n_stimuli ≥ 2) × (n_neurons ≥ 1), got shape {Z.shape}")
    if Z.min() < 0:
        raise ValueError(f"Z must be non-negative (tuning curves); its smallest entry is {Z.min():.3g}")
    if not np.any(Z > 0):
        raise ValueError("Z must have a positive entry")
    return Z


def permutation_distance(Z, Y) -> float:
    """``min over column permutations Π of ‖Y − Z Π‖_F / ‖Z‖_F`` (Hungarian assignment)."""
    Z = check_array(Z, "Z", ndim=2, what="stimuli × neurons")
    Y = check_array(Y, "Y", ndim=2, what="stimuli × neurons")
    if Y.shape != Z.shape:
        raise ValueError(f"Y must have the shape of Z {Z.shape}, got {Y.shape}")
    if not np.any(Z):
        raise ValueError("Z is all zeros: the relative distance ‖Y − ZΠ‖/‖Z‖ is undefined")
    return _perm_dist(Z, Y)


def _perm_dist(Z, Y) -> float:
    """:func:`permutation_distance` on validated arrays (the rotation search's inner calls)."""
    C = ((Y[:, :, None] - Z[:, None, :]) ** 2).sum(0)
    r, c = linear_sum_assignment(C)
    return float(np.sqrt(C[r, c].sum()) / np.linalg.norm(Z))


def _polar(M):
    U, _, Vt = np.linalg.svd(M)
    return U @ Vt


def _skew(rng, K, B):
    X = rng.standard_normal((B, K, K))
    return (X - np.swapaxes(X, 1, 2)) / np.sqrt(2 * K)


def _expm_skew(A):
    # exact exponential of real skew-symmetric matrices through the Hermitian matrix iA
    w, V = np.linalg.eigh(1j * A)
    E = (V * np.exp(-1j * w)[:, None, :]) @ np.conj(np.swapaxes(V, 1, 2))
    return E.real


def tuning_certificate(Z, *, max_dim: int = 7, tol: float = 1e-7) -> TuningCertificate:
    """Try to prove that Q = Z Zᵀ fixes the tunings (separability, then tight scattering / Theorem 2).

    ``Z`` : (n_stimuli, n_neurons) non-negative tunings, an array or a :class:`simcode.Representation`.
    """
    Z = _check_Z(Z)
    max_dim = check_int(max_dim, "max_dim", low=1)
    tol = check_number(tol, "tol", low=0.0)
    n, K = Z.shape
    scale = Z.max()
    active = Z > 0
    sep = all(np.any(active[:, k] & (active.sum(1) == 1)) for k in range(K))
    if sep:
        return _cert(True, "separability", True, None, None,
                                 "every neuron fires alone somewhere: any non-negative rotation is a permutation")
    if K > max_dim:
        return _cert(False, "none", False, None, None,
                                 f"not separable; the tight-scattering check is limited to ≤ {max_dim} neurons")
    if K == 1:
        return _cert(True, "single neuron", False, None, None, "O(1) = {±1}: unique")
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(Z)
    except (QhullError, ValueError):
        return _cert(False, "none", False, None, None,
                                 "not separable; the tunings are not affinely full-dimensional, so no ellipsoid "
                                 "fits in their hull (no certificate; a rank-deficient Z is never unique)")
    mu = Z.mean(0)
    a = hull.equations[:, :-1]
    nrm = np.linalg.norm(a, axis=1)
    a = a / nrm[:, None]
    b = -hull.equations[:, -1] / nrm
    # Qhull triangulates facets: merge coplanar simplices (same plane) before building the SDP
    _, first = np.unique(np.round(np.c_[a, b / scale], 9), axis=0, return_index=True)
    a, b = a[first], b[first]
    coord = np.zeros(len(a), bool)
    for k in range(K):
        coord |= (np.abs(a + np.eye(K)[k]).max(1) < 1e-9) & (np.abs(b) < 1e-9 * scale)
    others = ~coord
    room = b[others] - a[others] @ mu
    import cvxpy as cp

    F = cp.Variable((K, K), symmetric=True)
    t = cp.Variable()
    cons = [F >> 1e-6 * float(np.min(mu ** 2)) * np.eye(K), cp.diag(F) == mu ** 2]
    ao = a[others]
    if len(ao):
        Avec = np.einsum("ij,ik->ijk", ao, ao).reshape(len(ao), K * K)
        cons.append(Avec @ cp.vec(F, order="F") + t <= room ** 2)
    else:
        cons.append(t <= 1.0)
    prob = cp.Problem(cp.Maximize(t), cons)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prob.solve(solver=cp.CLARABEL)
    except cp.SolverError:
        return _cert(False, "none", False, None, None,
                                 "not separable; the tight-scattering SDP failed (no certificate)")
    if prob.status not in ("optimal", "optimal_inaccurate") or t.value is None:
        return _cert(False, "none", False, None, None,
                                 f"not separable; the tight-scattering SDP returned {prob.status}")
    Fv = 0.5 * (F.value + F.value.T)
    # make diag F = μ⊙μ hold exactly (congruence by a positive diagonal), then verify independently
    dg = np.sqrt(np.maximum(np.diag(Fv), 1e-300))
    Fv = Fv * np.outer(mu / dg, mu / dg)
    # verify the returned F exactly (independently of the solver's tolerance)
    slack = room ** 2 - np.einsum("ij,jk,ik->i", ao, Fv, ao) if len(ao) else np.array([1.0])
    smin = float(slack.min())
    ok = (smin > tol * scale ** 2 and np.linalg.eigvalsh(Fv).min() > 0
          and np.allclose(np.diag(Fv), mu ** 2, rtol=1e-12) and bool(coord.any()))
    if ok:
        return _cert(True, "tight scattering (Theorem 2)", False, smin, Fv,
                                 "an ellipsoid at the mean, tangent to every coordinate plane, fits in the hull "
                                 "and touches it only there: any non-negative rotation is a permutation")
    return _cert(False, "none", False, smin, Fv,
                             "not separable and no tangent ellipsoid fits strictly (this proves nothing either way)")


def _ap_torch(Z, O, max_iter, feas_tol, device, hist):
    """Batched alternating projections in torch (CPU or CUDA, float64). Returns (O, steps, stopped_early)."""
    import torch

    Zt = torch.as_tensor(Z, dtype=torch.float64, device=device)
    Ot = torch.as_tensor(O, dtype=torch.float64, device=device)
    zmax = Zt.max()
    it = -1
    for it in range(max_iter):
        Y = torch.clamp(Zt @ Ot, min=0.0)
        U, _, Vh = torch.linalg.svd(Zt.T @ Y)
        Ot = U @ Vh
        if it % 50 == 49:
            neg = -(Zt @ Ot).amin(dim=(1, 2)) / zmax
            hist.append(n_feasible=int((neg <= feas_tol).sum()))
            if bool(torch.all(neg <= feas_tol * 1e-2)):
                return Ot.cpu().numpy(), it + 1, True
    return Ot.cpu().numpy(), it + 1, False


def nonneg_rotations(Z, n_starts: int = 200, random_state=None, *, max_iter: int = 2000,
                     feas_tol: float = 1e-6, min_distance: float = 1e-3, certify="auto",
                     device: str = "auto") -> RotationSearchResult:
    """Search for non-negative tunings ``Z O`` (O orthogonal) with the same Q = Z Zᵀ that are not a
    permutation of Z, and try to certify uniqueness (Theorem 2 of ``shared/papers/000``).

    Parameters
    ----------
    Z : (n_stimuli, n_neurons) non-negative tunings (our rows = the paper's columns): an array, a torch tensor
        or a :class:`simcode.Representation`.
    n_starts : number of starting rotations (half near the identity at random geodesic distances, half Haar).
    random_state : seed.
    max_iter : alternating-projection steps per start.
    feas_tol : a candidate counts when ``min(Z O) ≥ −feas_tol · max(Z)``.
    min_distance : a candidate is non-trivial when its permutation distance exceeds this.
    certify : run :func:`tuning_certificate`: True, False, or "auto" (only when no rotation was found — a
        found rotation already settles the question).
    device : "auto" (a torch ``Z``: its device; NumPy input: CUDA when available, else NumPy on the CPU),
        "cpu" or "cuda[:i]" (torch on that device): where the batched projections run. A torch ``Z`` gets
        ``O`` and ``Z_rotated`` back as tensors on its device; a NumPy ``Z`` gets NumPy arrays.

    Returns
    -------
    RotationSearchResult. ``found=True`` proves non-uniqueness (to ``feas_tol``); ``found=False`` proves
    nothing by itself; ``certificate.unique=True`` proves uniqueness.
    """
    t0 = time.perf_counter()
    if isinstance(Z, Representation):
        Z = Z.Z
    torch_in = Z.device if is_tensor(Z) else None
    if device is None or device == "auto":
        dev = resolve_device("auto", Z)
        device = dev if (torch_in is not None or dev != "cpu") else None   # None: the NumPy path
    else:
        device = resolve_device(device)
    Z = _check_Z(Z)
    n_starts = check_int(n_starts, "n_starts", low=1)
    max_iter = check_int(max_iter, "max_iter", low=1)
    feas_tol = check_number(feas_tol, "feas_tol", low=0.0)
    min_distance = check_number(min_distance, "min_distance", low=0.0)
    if not (isinstance(certify, (bool, np.bool_)) or certify == "auto"):
        raise ValueError(f"certify must be True, False or 'auto', got {certify!r}")
    certify = certify if certify == "auto" and isinstance(certify, str) else bool(certify)
    rng = check_random_state(random_state)
    n, K = Z.shape
    zmax = Z.max()
    B = int(n_starts)
    half = B // 2
    A = _skew(rng, K, B)
    scales = np.concatenate([rng.uniform(0.05, 1.5, half), np.full(B - half, 0.0)])
    O = _expm_skew(A * scales[:, None, None])
    G = rng.standard_normal((B - half, K, K))
    O[half:] = np.stack([_polar(g) for g in G])
    Zt = Z.T
    hist = History()
    if device is not None:
        O, steps, early = _ap_torch(Z, O, max_iter, feas_tol, device, hist)
    else:
        early = False
        steps = 0
        for it in range(max_iter):
            steps = it + 1
            Y = np.maximum(Z @ O, 0.0)
            O = np.linalg.svd(Zt @ Y)
            O = O[0] @ O[2]
            if it % 50 == 49:
                neg = -(Z @ O).min(axis=(1, 2)) / zmax
                hist.append(n_feasible=int((neg <= feas_tol).sum()))
                if np.all(neg <= feas_tol * 1e-2):
                    early = True
                    break
    ZO = Z @ O
    neg = -ZO.min(axis=(1, 2)) / zmax
    feas = neg <= feas_tol
    dists = np.array([_perm_dist(Z, ZO[b]) for b in range(B)])
    fd = np.where(feas, dists, -np.inf)
    best = int(np.argmax(fd)) if feas.any() else int(np.argmin(neg))
    found = bool(feas.any() and dists[best] > min_distance)
    Zr = np.maximum(ZO[best], 0.0)
    Q = Z @ Z.T
    q_err = float(np.linalg.norm(Zr @ Zr.T - Q) / np.linalg.norm(Q))
    run_cert = certify is True or (certify == "auto" and not found)
    cert = tuning_certificate(Z) if run_cert else _cert(False, "not run", False, None, None, "")
    if found:
        note = (f"found tunings Z O ≥ 0 (negativity {neg[best]:.1e}) at distance {dists[best]:.3f} from every "
                "permutation: Q does not fix the tunings")
    elif cert.unique:
        note = f"no non-trivial rotation found, and uniqueness is proved ({cert.method})"
    else:
        note = "no non-trivial rotation found; without a certificate this proves nothing"
    Obest = O[best]
    if torch_in is not None:
        import torch

        Obest = torch.as_tensor(Obest, device=torch_in)
        Zr = torch.as_tensor(Zr, device=torch_in)
    return RotationSearchResult(found=found, O=Obest, Z_rotated=Zr, distance=float(dists[best]),
                                negativity=float(max(neg[best], 0.0)), q_error=q_err, uniqueness=cert,
                                n_starts=B, n_feasible=int(feas.sum()), distances=dists[feas], note=note,
                                status="converged" if early else "max_iter", n_iter=steps,
                                history=hist.as_dict(), time_s=time.perf_counter() - t0)
