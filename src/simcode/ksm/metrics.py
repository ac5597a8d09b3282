r"""Metrics for kernel similarity matching (paper ``002``, Choudhary, Masset & Ba).

Orientation: rows are samples, columns are features (or latent units). The paper's ``X`` (N×T) and ``Z``
(K×T) are our ``X.T`` and ``Z.T``.

* :func:`reconstruction_r2` — the :math:`R^2` of a reconstruction :math:`\hat X` (002 §6, Table 1, Figure 2(f)).
* :func:`p_sparsity` — the p-sparsity measure of Appendix F, eq. 43.
* :func:`sine_similarity_error` — the latent error of 002 §7.1 (Figure 8(c)).
* :func:`support_sizes` / :func:`modal_support_size` — the :math:`L_0` norm of codes (002 Figure 5(c)).

Dictionary recovery (002 Figure 2(c), the ``err(h, ĥ)`` of lecture ``004``) is
:func:`simcode.sparse.atoms.match_atoms` with ``max_shift=0`` (``.mean_error``, ``.errors``, ``.assignment``).

All functions take NumPy arrays or torch tensors (validated by :func:`simcode.core.check_array`: real numbers
only, complex input is refused) and return Python floats (or NumPy arrays for per-row values).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..core import check_array, check_bool, check_number

__all__ = ["reconstruction_r2", "p_sparsity", "sine_similarity_error", "support_sizes", "modal_support_size"]


def _rows(a, name: str) -> np.ndarray:
    """A 2-D float64 array (samples × units; a single sample is a 1 × n array)."""
    return check_array(a, name, ndim=2, what="samples × units")


def reconstruction_r2(X, X_hat, multioutput: str = "variance_weighted") -> float:
    r"""Coefficient of determination of a reconstruction :math:`\hat X` of ``X`` (rows = samples).

    Relation to :func:`sklearn.metrics.r2_score`: ``reconstruction_r2(X, X_hat)`` equals
    ``sklearn.metrics.r2_score(X, X_hat, multioutput="variance_weighted")`` — the *pooled* R² of a
    reconstruction, whereas scikit-learn's default is ``multioutput="uniform_average"`` (hence the different
    name: the default differs). ``reconstruction_r2(X, X_hat, multioutput="uniform_average")`` equals
    scikit-learn's default. Torch tensors are accepted (moved to the CPU).

    * ``"variance_weighted"`` (default), pooled over features:
      :math:`R^2 = 1 - \sum_{t,n}(x_{tn} - \hat x_{tn})^2 / \sum_{t,n}(x_{tn} - \bar x_n)^2`, with
      :math:`\bar x_n` the mean of feature ``n`` over samples (scikit-learn's ``r2_score`` with
      ``multioutput="variance_weighted"``);
    * ``"uniform_average"``: the mean over features of each feature's own :math:`R^2` — the default of
      scikit-learn's ``r2_score`` and of torchmetrics' ``R2Score`` (a constant feature scores 1 if predicted
      exactly, else 0, as scikit-learn's ``force_finite``).

    Paper 002 reports an ":math:`R^2` score" (Table 1, Figs. 2(f), 7-9) without defining it; the two
    conventions differ when features have unequal variances (digit pixels, the two moons coordinates).
    """
    X = _rows(X, "X")
    X_hat = _rows(X_hat, "X_hat")
    if X.shape != X_hat.shape:
        raise ValueError(f"X and X_hat must have the same shape, got {X.shape} and {X_hat.shape}")
    if multioutput not in ("variance_weighted", "uniform_average"):
        raise ValueError(f"multioutput must be 'variance_weighted' or 'uniform_average', got {multioutput!r}")
    ss_tot_f = ((X - X.mean(0)) ** 2).sum(0)
    ss_res_f = ((X - X_hat) ** 2).sum(0)
    if multioutput == "uniform_average":
        ok = ss_tot_f > 0
        r = np.where(ok, 1.0 - ss_res_f / np.where(ok, ss_tot_f, 1.0), np.where(ss_res_f == 0, 1.0, 0.0))
        return float(r.mean())
    ss_tot, ss_res = float(ss_tot_f.sum()), float(ss_res_f.sum())
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else float("-inf")
    return 1.0 - ss_res / ss_tot


def p_sparsity(Z, p: float = 1.0, reduce: bool = True):
    r"""The p-sparsity measure of 002 Appendix F, eq. 43, for each row of ``Z``.

    .. math:: S_p(x) = \frac{1}{N_p}\left[\frac{\frac{1}{n-1}\sum_i |x_i-\bar x|^p}{\frac1n\sum_i |x_i|^p}
              \right]^{1/p},\qquad N_p = \left(\frac{(n-1)^{p-1}+1}{n^{p-1}}\right)^{1/p}.

    :math:`S_p = 1` for a 1-sparse vector and 0 for a constant one. Note: the paper's simplified p=1 form
    (eq. 44, :math:`\sum|x_i-\bar x|/\sum|x_i|`) drops the factor :math:`n/(2(n-1))` that eq. 43 has at p=1
    (:math:`N_1 = 2`); we implement eq. 43, whose normalisation makes a 1-sparse vector score exactly 1 as the
    text states. An all-zero row is given :math:`S_p = 1` (no active unit). The paper plots
    ``1 - sparsity``; so can the caller.

    Parameters
    ----------
    Z : (n_samples, n) codes
    p : float >= 1
    reduce : bool — return the mean over rows (float) instead of the per-row values.
    """
    Z = _rows(Z, "Z")
    reduce = check_bool(reduce, "reduce")
    p = check_number(p, "p", low=1.0)
    n = Z.shape[1]
    if n < 2:
        raise ValueError(f"Z must have at least 2 columns for a sparsity measure, got shape {Z.shape}")
    num = (np.abs(Z - Z.mean(1, keepdims=True)) ** p).sum(1) / (n - 1)
    den = (np.abs(Z) ** p).sum(1) / n
    Np = (((n - 1) ** (p - 1) + 1) / n ** (p - 1)) ** (1.0 / p)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(den > 0, (num / np.where(den > 0, den, 1.0)) ** (1.0 / p) / Np, 1.0)
    return float(s.mean()) if reduce else s


def sine_similarity_error(Z_true, Z_est, match: bool = False) -> float:
    r"""Latent error of 002 §7.1: :math:`\frac1T\sum_i\big[1 - \cos^2(z_i^{(t)}, z_i^{(e)})\big]`.

    Rows are samples. A row where either vector is zero counts as error 1 (no direction to compare), unless
    both are zero (error 0).

    With ``match=True`` the columns (latent units) of ``Z_est`` are first permuted and sign-flipped to best
    match those of ``Z_true`` (Hungarian matching on the absolute correlation of columns), since a learned
    code is identifiable only up to permutation and sign; the paper avoids this by initialising near the truth.
    """
    A = _rows(Z_true, "Z_true")
    B = _rows(Z_est, "Z_est")
    match = check_bool(match, "match")
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"Z_true and Z_est must have the same number of rows, got {A.shape} and {B.shape}")
    if match:
        if B.shape[1] < A.shape[1]:
            raise ValueError("with match=True, Z_est needs at least as many columns as Z_true")
        na = np.linalg.norm(A, axis=0)
        nb = np.linalg.norm(B, axis=0)
        C = (A.T @ B) / np.outer(np.where(na > 0, na, 1), np.where(nb > 0, nb, 1))
        rows, cols = linear_sum_assignment(-np.abs(C))
        B = B[:, cols] * np.sign(np.where(C[rows, cols] == 0, 1.0, C[rows, cols]))
    elif A.shape != B.shape:
        raise ValueError(f"Z_true and Z_est must have the same shape, got {A.shape} and {B.shape}")
    na = np.linalg.norm(A, axis=1)
    nb = np.linalg.norm(B, axis=1)
    dot = (A * B).sum(1)
    both0 = (na == 0) & (nb == 0)
    ok = (na > 0) & (nb > 0)
    cos2 = np.where(ok, dot**2 / np.where(ok, na * nb, 1.0) ** 2, 0.0)
    err = np.where(both0, 0.0, 1.0 - np.clip(cos2, 0.0, 1.0))
    return float(err.mean())


def support_sizes(Z, tol: float = 1e-6) -> np.ndarray:
    r"""Number of active units per row, :math:`\|z_i\|_0` with :math:`|z| > \mathrm{tol}\cdot\max_j|z_{ij}|`."""
    Z = _rows(Z, "Z")
    tol = check_number(tol, "tol", low=0.0)
    thr = tol * np.abs(Z).max(1, keepdims=True)
    return (np.abs(Z) > thr).sum(1)


def modal_support_size(Z, tol: float = 1e-6) -> int:
    """The most frequent support size of the rows of ``Z`` (002 Figure 5(c): intrinsic dimension + 1)."""
    s = support_sizes(Z, tol)
    return int(np.bincount(s).argmax())
