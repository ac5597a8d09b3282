"""Cross-validated fitted comparisons: alignments fitted on one split of the stimuli and scored on another.

The estimators have netrep's API shape (Williams et al. 2021's ``LinearMetric``: ``fit(X, Y)`` then
``score(X, Y)``) and are scikit-learn estimators (``get_params``/``set_params``/``clone``):

* :class:`ProcrustesMetric` — the generalized shape metric (Williams et al. 2021, eq. 4; α = 1 Procrustes);
* :class:`CCAMetric` — (regularised) canonical correlation directions;
* :class:`WeightedRDMModel` — a non-negative combination of model RDMs (rsatoolbox's ``ModelWeighted`` fitted
  by non-negative least squares, which maximises the cosine over the cone of non-negative weights);

and :func:`crossval_rdm_models` compares fixed and weighted RDM models with cross-validation over stimuli.

Orientation: rows are stimuli. ``score`` returns the metric's own value (a distance for ``ProcrustesMetric``,
as netrep; a correlation for ``CCAMetric`` and ``WeightedRDMModel``), not a "higher is better" sklearn score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..core.arrays import check_int, check_number, check_option, check_random_state
from ..core.estimator import named_call, validate_named

__all__ = ["ProcrustesMetric", "CCAMetric", "WeightedRDMModel", "RDMModelComparison", "crossval_rdm_models"]


def _as2d(Y, name="Y"):
    from sklearn.utils import check_array

    Y = named_call(check_array, Y, name=name, ensure_2d=False, dtype=np.float64)
    return Y[:, None] if Y.ndim == 1 else Y


def _inv_sqrt(C, alpha, tol=1e-10):
    """αI + (1 − α)C^{-1/2} (Williams et al. 2021, eq. 4) with small eigenvalues floored."""
    lam, V = np.linalg.eigh((C + C.T) / 2)
    lam = np.maximum(lam, tol * max(float(lam.max()), 1e-300))
    return (V * (alpha + (1.0 - alpha) / np.sqrt(lam))) @ V.T


class _Paired(TransformerMixin, BaseEstimator):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _xy(self, X, Y, reset):
        X = getattr(X, "Z", X)
        if reset:
            X = validate_named(self, X, reset=True, dtype=np.float64, ensure_min_samples=2)
        else:
            X = validate_named(self, X, reset=False, dtype=np.float64)
        if Y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None "
                             "(y is the second representation, n × q)")
        Y = _as2d(getattr(Y, "Z", Y), "y")
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X and y must have the same number of stimuli (rows), got {X.shape[0]} and "
                             f"{Y.shape[0]}")
        if not reset and Y.shape[1] != self.n_features_y_:
            raise ValueError(f"y has {Y.shape[1]} features, the fit had {self.n_features_y_}")
        return X, Y


class ProcrustesMetric(_Paired):
    """Generalized shape metric with the alignment fitted on training stimuli (netrep's ``LinearMetric``).

    ``fit(X, Y)``: column means μ_X, μ_Y, partial whitening W_X = αI + (1 − α)C_X^{-1/2}, C_X = X̄ᵀX̄/n
    (Williams et al. 2021, eq. 4), and the orthogonal alignment from the SVD X̃ᵀỸ = USVᵀ (Schönemann 1966),
    X̃ = (X − μ_X)W_X. ``score(X, Y)`` maps new stimuli with the *fitted* μ, W and (U, V) and returns the angular
    distance θ = arccos(⟨X̃U, ỸV⟩_F / (‖X̃‖_F‖Ỹ‖_F)) (``score_method="angular"``) or the Euclidean
    distance ‖X̃U − ỸV‖_F (``score_method="euclidean"``). On the training stimuli this is
    :func:`simcode.similarity.procrustes`.

    Parameters
    ----------
    alpha : float in [0, 1]
        Shape-metric regularisation (1: Procrustes, 0: whitened/CCA-like); netrep's ``alpha``.
    score_method : {"angular", "euclidean"}
        netrep's ``score_method``.
    """

    def __init__(self, alpha: float = 1.0, score_method: str = "angular"):
        self.alpha = alpha
        self.score_method = score_method

    def fit(self, X, y):
        """Fit the alignment of ``X`` (n × p) onto ``y`` (the second representation, n × q; 1-D is one column)."""
        alpha = check_number(self.alpha, "alpha", low=0.0, high=1.0)
        check_option(self.score_method, "score_method", ("angular", "euclidean"))
        X, Y = self._xy(X, y, True)
        self.n_features_y_ = Y.shape[1]
        n = X.shape[0]
        self.mean_x_, self.mean_y_ = X.mean(0), Y.mean(0)
        Xc, Yc = X - self.mean_x_, Y - self.mean_y_
        self.whiten_x_ = _inv_sqrt(Xc.T @ Xc / n, alpha) if alpha < 1 else np.eye(X.shape[1])
        self.whiten_y_ = _inv_sqrt(Yc.T @ Yc / n, alpha) if alpha < 1 else np.eye(Y.shape[1])
        U, _, Vt = np.linalg.svd((Xc @ self.whiten_x_).T @ (Yc @ self.whiten_y_), full_matrices=False)
        self.rotation_x_, self.rotation_y_ = U, Vt.T
        return self

    def transform(self, X):
        """``X`` in the shared aligned space, (X − μ_X) W_X U."""
        check_is_fitted(self)
        X = validate_named(self, X, reset=False, dtype=np.float64)
        return (X - self.mean_x_) @ self.whiten_x_ @ self.rotation_x_

    def transform_y(self, Y):
        """``Y`` in the shared aligned space, (Y − μ_Y) W_Y V."""
        check_is_fitted(self)
        return (_as2d(Y) - self.mean_y_) @ self.whiten_y_ @ self.rotation_y_

    def score(self, X, y):
        """Distance between ``X`` and ``y`` (the second representation) on (new) stimuli under the fitted
        alignment."""
        check_is_fitted(self)
        X, Y = self._xy(X, y, False)
        xt = (X - self.mean_x_) @ self.whiten_x_
        yt = (Y - self.mean_y_) @ self.whiten_y_
        a, b = xt @ self.rotation_x_, yt @ self.rotation_y_
        nx, ny = np.linalg.norm(xt), np.linalg.norm(yt)
        if self.score_method == "angular":
            if nx == 0 or ny == 0:
                return float(np.pi / 2)
            return float(np.arccos(np.clip(np.sum(a * b) / (nx * ny), -1.0, 1.0)))
        return float(np.sqrt(max(nx ** 2 + ny ** 2 - 2 * np.sum(a * b), 0.0)))


class CCAMetric(_Paired):
    """Canonical correlation directions fitted on training stimuli, correlations measured on test stimuli.

    ``fit``: C_XX = X̄ᵀX̄/n + λI, C_YY likewise, C_XY = X̄ᵀȲ/n; the SVD of C_XX^{-1/2}C_XY C_YY^{-1/2} = USVᵀ
    gives the directions A = C_XX^{-1/2}U_k, B = C_YY^{-1/2}V_k (Hotelling 1936; λ > 0 is ridge-regularised
    CCA, Vinod 1976). ``score(X, Y)``: the mean over the k pairs of directions of the Pearson correlation
    between X a_i and Y b_i on the given stimuli (on the training stimuli with λ = 0, the mean of the first k
    canonical correlations, :func:`simcode.similarity.canonical_correlations`).

    Parameters
    ----------
    n_components : int >= 1, optional
        Number k of direction pairs (default min(p, q)).
    lam : float >= 0
        Ridge added to both covariances (relative to their mean eigenvalue).
    """

    def __init__(self, n_components: int | None = None, lam: float = 0.0):
        self.n_components = n_components
        self.lam = lam

    def fit(self, X, y):
        """Fit the canonical directions of ``X`` (n × p) and ``y`` (the second representation, n × q)."""
        lam = check_number(self.lam, "lam", low=0.0)
        X, Y = self._xy(X, y, True)
        k = min(X.shape[1], Y.shape[1])
        k = check_int(self.n_components, "n_components", low=1, high=k, allow_none=True) or k
        self.n_features_y_ = Y.shape[1]
        n = X.shape[0]
        self.mean_x_, self.mean_y_ = X.mean(0), Y.mean(0)
        Xc, Yc = X - self.mean_x_, Y - self.mean_y_
        Cxx, Cyy = Xc.T @ Xc / n, Yc.T @ Yc / n
        Cxx = Cxx + lam * max(np.trace(Cxx) / len(Cxx), 1e-300) * np.eye(len(Cxx))
        Cyy = Cyy + lam * max(np.trace(Cyy) / len(Cyy), 1e-300) * np.eye(len(Cyy))
        Wx, Wy = _inv_sqrt(Cxx, 0.0), _inv_sqrt(Cyy, 0.0)
        U, s, Vt = np.linalg.svd(Wx @ (Xc.T @ Yc / n) @ Wy, full_matrices=False)
        self.x_weights_, self.y_weights_ = Wx @ U[:, :k], Wy @ Vt[:k].T
        self.correlations_ = np.clip(s[:k], 0.0, 1.0)
        self.n_components_ = k
        return self

    def transform(self, X):
        """Canonical variates (X − μ_X)A, (n × k)."""
        check_is_fitted(self)
        X = validate_named(self, X, reset=False, dtype=np.float64)
        return (X - self.mean_x_) @ self.x_weights_

    def score(self, X, y):
        """Mean Pearson correlation of the paired canonical variates of ``X`` and ``y`` on the given stimuli."""
        check_is_fitted(self)
        X, Y = self._xy(X, y, False)
        a = (X - self.mean_x_) @ self.x_weights_
        b = (Y - self.mean_y_) @ self.y_weights_
        a, b = a - a.mean(0), b - b.mean(0)
        den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
        r = np.divide((a * b).sum(0), den, out=np.zeros(a.shape[1]), where=den > 0)
        return float(r.mean())


class WeightedRDMModel(BaseEstimator):
    """A non-negative weighted combination of model RDMs, fitted to a data RDM.

    ``fit(X, y)``: X is (n_pairs, n_models) — column j the dissimilarities of model RDM j — and y (n_pairs,)
    the data dissimilarities. ``method="cosine"``: w = argmin_{w ≥ 0} ‖y − Xw‖² (non-negative least squares,
    Lawson & Hanson 1974; the projection onto the cone {Xw : w ≥ 0}, hence the cone's point of largest cosine
    with y — rsatoolbox's ``ModelWeighted`` with ``method='cosine'``); ``method="pearson"``: the same on columns
    and y centred (largest correlation). ``predict(X) = Xw``; ``score(X, y)``: cosine (or Pearson correlation)
    of the prediction with y.

    Parameters
    ----------
    method : {"cosine", "pearson"}
    """

    def __init__(self, method: str = "cosine"):
        self.method = method

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def fit(self, X, y):
        """Fit the non-negative weights of the model RDM columns of ``X`` to the data dissimilarities ``y``."""
        from scipy.optimize import nnls

        check_option(self.method, "method", ("cosine", "pearson"))
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = _as2d(y, "y")
        if y.shape[1] != 1:
            raise ValueError(f"y must be 1-D (the data dissimilarities), got shape {y.shape}")
        X = validate_named(self, X, reset=True, dtype=np.float64, ensure_min_samples=2)
        y = y[:, 0]
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X and y must have the same number of rows (pairs), got {X.shape[0]} and "
                             f"{y.shape[0]}")
        if self.method == "pearson":
            X, y = X - X.mean(0), y - y.mean()
        self.coef_, _ = nnls(X, y)
        return self

    def predict(self, X):
        """Predicted dissimilarities X w."""
        check_is_fitted(self)
        X = validate_named(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_

    def score(self, X, y):
        """Cosine (or Pearson correlation, ``method="pearson"``) between ``predict(X)`` and ``y``."""
        p = self.predict(X)
        y = np.asarray(_as2d(y, "y"), dtype=np.float64).ravel()
        if y.shape[0] != p.shape[0]:
            raise ValueError(f"X and y must have the same number of rows, got {p.shape[0]} and {y.shape[0]}")
        if self.method == "pearson":
            p, y = p - p.mean(), y - y.mean()
        den = np.linalg.norm(p) * np.linalg.norm(y)
        return float(p @ y / den) if den > 0 else 0.0


@dataclass(frozen=True)
class RDMModelComparison:
    """Cross-validated scores of RDM models.

    Attributes
    ----------
    names : tuple of str
    scores : ndarray (n_folds, n_models)
        Mean over subjects of the comparison of each model's test-stimulus RDM with each subject's.
    mean, sem : ndarray (n_models,)
        Mean over folds and its standard error (std over folds / sqrt(n_folds)).
    weights : dict
        For each weighted model, its fitted weights (n_folds × n_components).
    """

    names: tuple
    scores: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    weights: dict


def _square(D, name):
    from ..core.arrays import check_array

    D = check_array(D, name, ndim=2)
    if D.shape[0] != D.shape[1]:
        raise ValueError(f"{name} must be a square RDM, got shape {D.shape}")
    return np.asarray(D, dtype=np.float64)


def crossval_rdm_models(models: dict, data, *, weighted: dict | None = None, method: str = "cosine",
                        n_folds: int = 5, random_state=None) -> RDMModelComparison:
    """Compare fixed and weighted RDM models with cross-validation over stimuli.

    The stimuli are split into ``n_folds`` folds at random. For each fold, a fixed model's prediction is its RDM
    restricted to the test stimuli; a weighted model (``weighted[name]`` = a list of component RDMs) is fitted
    with :class:`WeightedRDMModel` on the dissimilarities among the *training* stimuli of the subject-mean data
    RDM and predicts those among the test stimuli. Each prediction is compared (cosine or Pearson, ``method``)
    with each subject's test RDM and averaged over subjects — rsatoolbox's crossvalidation over patterns
    (``sets_k_fold_pattern`` + ``crossval``), with test RDMs restricted to the test patterns.

    Parameters
    ----------
    models : dict name → (n, n) RDM
        Fixed models (may be empty when ``weighted`` is given).
    data : (n, n) RDM, sequence of them, or (n_subjects, n, n) array
    weighted : dict name → sequence of (n, n) RDMs, optional
    method : {"cosine", "pearson"}
    n_folds : int >= 2 (each test fold needs at least 3 stimuli)
    random_state : None, int or Generator

    Returns
    -------
    RDMModelComparison
    """
    check_option(method, "method", ("cosine", "pearson"))
    if not isinstance(models, dict):
        raise TypeError(f"models must be a dict name → RDM, got {type(models).__name__}")
    weighted = {} if weighted is None else weighted
    if not isinstance(weighted, dict):
        raise TypeError(f"weighted must be a dict name → list of RDMs, got {type(weighted).__name__}")
    if not models and not weighted:
        raise ValueError("models and weighted are both empty; nothing to compare")
    from ..core.arrays import check_array

    rng = check_random_state(random_state)
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("data must hold at least one RDM, got an empty sequence")
        sq = [_square(d, f"data[{i}]") for i, d in enumerate(data)]
        if len({d.shape for d in sq}) > 1:
            raise ValueError("data: all subjects' RDMs must have the same shape")
        D = np.stack(sq)
    else:
        D = np.asarray(check_array(data, "data", ndim=(2, 3)), dtype=np.float64)
    if D.ndim == 2:
        D = _square(D, "data")[None]
    if D.shape[1] != D.shape[2]:
        raise ValueError(f"data must be (n, n) or (n_subjects, n, n) RDMs, got shape {D.shape}")
    n = D.shape[1]
    n_folds = check_int(n_folds, "n_folds", low=2, high=max(2, n // 3))
    if n < 6:
        raise ValueError(f"data: cross-validation over stimuli needs at least 6 stimuli, got {n}")
    fixed = {k: _square(v, f"models[{k!r}]") for k, v in models.items()}
    comps = {k: [_square(c, f"weighted[{k!r}][{i}]") for i, c in enumerate(v)] for k, v in weighted.items()}
    for k, v in list(fixed.items()) + [(k, c) for k, cs in comps.items() for c in cs]:
        if v.shape[0] != n:
            raise ValueError(f"model {k!r} has {v.shape[0]} stimuli, data has {n}")
    names = tuple(fixed) + tuple(comps)
    folds = np.array_split(rng.permutation(n), n_folds)
    mean_data = D.mean(0)
    scores = np.empty((n_folds, len(names)))
    wts = {k: np.empty((n_folds, len(v))) for k, v in comps.items()}

    def vec(M, idx):
        iu = np.triu_indices(len(idx), 1)
        return M[np.ix_(idx, idx)][iu]

    def sim(a, b):
        if method == "pearson":
            a, b = a - a.mean(), b - b.mean()
        den = np.linalg.norm(a) * np.linalg.norm(b)
        return a @ b / den if den > 0 else 0.0

    for f, test in enumerate(folds):
        test = np.sort(test)
        train = np.setdiff1d(np.arange(n), test)
        subj = [vec(d, test) for d in D]
        for j, k in enumerate(names):
            if k in fixed:
                pred = vec(fixed[k], test)
            else:
                Xtr = np.stack([vec(c, train) for c in comps[k]], 1)
                m = WeightedRDMModel(method).fit(Xtr, vec(mean_data, train))
                wts[k][f] = m.coef_
                pred = np.stack([vec(c, test) for c in comps[k]], 1) @ m.coef_
            scores[f, j] = np.mean([sim(pred, s) for s in subj])
    return RDMModelComparison(names, scores, scores.mean(0), scores.std(0, ddof=1) / np.sqrt(n_folds), wts)
