"""Objective terms and constraints of Q-space efficient coding (000 §2 "Convexification over Q").

A neural code is Z (n_stimuli × n_neurons, samples in rows); the paper's Q_ij = z^[i]ᵀ z^[j] is our
``Q = Z @ Z.T``. Each building block is a small object that knows

* its cvxpy form (``cvxpy_parts(Q, n)`` → objective expression and constraints), used by the exact
  back-end, and
* its structured first-order form (``linear_cost`` matrix, a Schur block for matrix-fractional
  terms, an elementwise quadratic, or a set projection), used by :mod:`simcode.convex.firstorder`.

Terms
-----
``activity_cost(p)``           ⟨‖z‖²⟩_p = Tr(diag(p) Q)                               (000 §2, "firing rate cost")
``readout_cost(Y, weight, affine)``  weight · min_b Tr((Y−1bᵀ)ᵀ Q⁺ (Y−1bᵀ)), range(Y−1bᵀ) ⊆ range(Q)
                                 = weight · ‖W_out‖²_F of the minimum-norm (affine) readout  (000 §2)
``encoder_cost(X, weight, affine)``  weight · ‖W_in‖²_F of the min-norm encoder Z = X W_in (+1b_inᵀ):
                                 Tr(M Q) with range(Q) ⊆ range([X, 1]) (M derived below)
``similarity_matching(K_X, weight, c)``  weight · (−⟨K_X, Q⟩ + c‖Q‖²_F)        (Sengupta et al. 2018)
``rank_penalty(weight)``       weight · Tr Q (the nuclear norm on the PSD cone)

Constraints
-----------
``nonnegative()``      Q completely positive (Z ≥ 0), relaxed to doubly non-negative: Q ⪰ 0, Q ≥ 0
                       elementwise (exact for n ≤ 4; Maxfield & Minc 1962)
``decodable(Y)``       Y = Z W_out exactly for some W_out: range(Y) ⊆ range(Q)
``affine_decodable(Y)`` Y = Z W_out + 1bᵀ for some W_out, b
``trace_budget(c)``    Tr Q ≤ c
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._utils import check_array, check_nonnegative, check_positive

__all__ = [
    "Term", "Constraint", "activity_cost", "readout_cost", "encoder_cost", "similarity_matching",
    "rank_penalty", "nonnegative", "decodable", "affine_decodable", "trace_budget",
]


class Term:
    """An objective term f(Q). Subclasses fill the structured fields the first-order solver reads."""

    #: n × n matrix C with f(Q) ⊇ ⟨C, Q⟩ (None if the term has no linear part)
    def linear_cost(self, n: int) -> np.ndarray | None:
        return None

    def check_n(self, n: int) -> None:
        pass

    def value(self, Q: np.ndarray) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def cvxpy_parts(self, Q, n):  # pragma: no cover - abstract
        raise NotImplementedError


class Constraint:
    """A convex constraint on Q."""

    def check_n(self, n: int) -> None:
        pass

    def cvxpy_parts(self, Q, n):  # pragma: no cover - abstract
        raise NotImplementedError


# ----------------------------------------------------------------------------- objective terms


@dataclass
class ActivityCost(Term):
    """⟨‖z‖²⟩_p = Σ_i p_i Q_ii = Tr(diag(p) Q); p uniform (1/n) by default."""

    p: np.ndarray | None = None
    weight: float = 1.0

    def _p(self, n):
        return np.full(n, 1.0 / n) if self.p is None else self.p

    def check_n(self, n):
        if self.p is not None and self.p.shape[0] != n:
            raise ValueError(f"activity_cost: p has {self.p.shape[0]} entries but the problem has {n} stimuli")

    def linear_cost(self, n):
        return np.diag(self.weight * self._p(n))

    def value(self, Q):
        return float(self.weight * self._p(Q.shape[0]) @ np.diag(Q))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        return self.weight * cp.sum(cp.multiply(self._p(n), cp.diag(Q))), []


def activity_cost(p=None, weight: float = 1.0) -> ActivityCost:
    """Mean activity energy ⟨‖z‖²⟩ = Tr(diag(p) Q) under the stimulus law ``p`` (uniform by default)."""
    weight = check_nonnegative(weight, "weight")
    if p is not None:
        p = check_array(p, "p", ndim=1)
        if np.any(p < 0) or abs(p.sum() - 1) > 1e-8:
            raise ValueError("p must be a probability vector (entries >= 0 summing to 1)")
    return ActivityCost(p=p, weight=weight)


@dataclass
class ReadoutCost(Term):
    """weight · min_b Tr((Y − 1bᵀ)ᵀ Q⁺ (Y − 1bᵀ)) (b = 0 unless affine): the squared Frobenius norm of the
    minimum-norm readout W_out with Z W_out + 1bᵀ = Y (000 §2: ‖W_out‖² = Tr[YᵀY Q†] in the paper's
    orientation). Matrix-fractional, hence jointly convex in (Q, b); finite iff range(Y − 1bᵀ) ⊆ range(Q).
    ``weight = 0`` is the pure constraint ``decodable``/``affine_decodable``."""

    Y: np.ndarray
    weight: float = 1.0
    affine: bool = False

    def check_n(self, n):
        if self.Y.shape[0] != n:
            raise ValueError(f"Y has {self.Y.shape[0]} rows but the problem has {n} stimuli")

    def optimal_bias(self, Q):
        """The b minimising Tr((Y−1bᵀ)ᵀQ⁺(Y−1bᵀ)): b = Yᵀ Q⁺ 1 / (1ᵀ Q⁺ 1) (zeros if not affine)."""
        if not self.affine:
            return np.zeros(self.Y.shape[1])
        Qp = _pinv_psd(Q)
        one = np.ones(Q.shape[0])
        d = one @ Qp @ one
        return self.Y.T @ Qp @ one / d if d > 0 else self.Y.mean(0)

    def value(self, Q):
        if self.weight == 0:
            return 0.0
        Yt = self.Y - self.optimal_bias(Q)[None, :]
        return float(self.weight * np.sum(Yt * (_pinv_psd(Q) @ Yt)))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        m = self.Y.shape[1]
        Yt = self.Y
        if self.affine:
            b = cp.Variable(m)
            Yt = self.Y - np.ones((n, 1)) @ cp.reshape(b, (1, m), order="C")
        T = cp.Variable((m, m), symmetric=True)
        block = cp.bmat([[Q, Yt], [Yt.T if not self.affine else Yt.T, T]])
        return self.weight * cp.trace(T), [block >> 0]


def readout_cost(Y, weight: float = 1.0, affine: bool = False) -> ReadoutCost:
    """Energy of the minimum-norm (affine) linear readout of targets ``Y`` (n × m): weight·‖W_out‖²_F."""
    Y = check_array(Y, "Y", ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[:, None]
    weight = check_nonnegative(weight, "weight")
    return ReadoutCost(Y=Y, weight=weight, affine=bool(affine))


def decodable(Y) -> ReadoutCost:
    """Exact linear decodability Y = Z W_out (some W_out): range(Y) ⊆ range(Q).

    On its own this set is not closed (Q + εYYᵀ decodes Y for every ε > 0), so it only bites where
    something else restricts range(Q): an ``encoder_cost`` (then an unreachable Y is reported
    infeasible) or a rank/trace limit. To price the readout, use ``readout_cost`` instead."""
    return ReadoutCost(Y=readout_cost(Y).Y, weight=0.0, affine=False)


def affine_decodable(Y) -> ReadoutCost:
    """Exact affine decodability Y = Z W_out + 1bᵀ (some W_out, b)."""
    return ReadoutCost(Y=readout_cost(Y).Y, weight=0.0, affine=True)


@dataclass
class EncoderCost(Term):
    """weight · ‖W_in‖²_F of the minimum-norm encoder Z = X W_in (+ 1 b_inᵀ, b_in free).

    Linear encoder: min ‖W_in‖² s.t. X W_in = Z is Tr(Zᵀ K⁺ Z) = Tr(K⁺ Q), K = X Xᵀ, feasible iff
    range(Q) ⊆ range(X). Affine encoder (derived here): with P the projector onto range(X)^⊥ and
    u = P1, if u ≠ 0 the bias is fixed by Z, b = Zᵀu/‖u‖², and the cost is Tr(Rᵀ K⁺ R Q) with
    R = I − 1uᵀ/‖u‖²; if u = 0 (1 ∈ range X) the bias is free and the cost is Tr(M Q) with
    M = K⁺ − K⁺11ᵀK⁺/(1ᵀK⁺1). Either way a linear function of Q plus range(Q) ⊆ range([X, 1]).
    """

    X: np.ndarray
    weight: float = 1.0
    affine: bool = False
    M: np.ndarray = field(init=False, repr=False)
    basis: np.ndarray = field(init=False, repr=False)  # orthonormal basis of the allowed range

    def __post_init__(self):
        X = self.X
        n = X.shape[0]
        U, s, _ = np.linalg.svd(X, full_matrices=False)
        r = int(np.sum(s > s.max() * max(X.shape) * np.finfo(float).eps)) if s.size else 0
        U, s = U[:, :r], s[:r]
        Kp = (U / s**2) @ U.T
        one = np.ones(n)
        if not self.affine:
            self.M, self.basis = Kp, U
            return
        u = one - U @ (U.T @ one)
        if np.linalg.norm(u) > 1e-9 * np.sqrt(n):
            R = np.eye(n) - np.outer(one, u) / (u @ u)
            self.M = R.T @ Kp @ R
            self.basis = np.column_stack([U, u / np.linalg.norm(u)])
        else:
            k1 = Kp @ one
            self.M = Kp - np.outer(k1, k1) / (one @ k1)
            self.basis = U
        self.M = 0.5 * (self.M + self.M.T)

    def check_n(self, n):
        if self.X.shape[0] != n:
            raise ValueError(f"X has {self.X.shape[0]} rows but the problem has {n} stimuli")

    def linear_cost(self, n):
        return self.weight * self.M

    def value(self, Q):
        return float(self.weight * np.sum(self.M * Q))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        # range(Q) ⊆ range(basis) is imposed by the builder, which writes Q = E G Eᵀ (G ⪰ 0)
        return self.weight * cp.trace(self.M @ Q), []


def encoder_cost(X, weight: float = 1.0, affine: bool = False) -> EncoderCost:
    """Energy of the minimum-norm (affine) linear encoder Z = X W_in (+1b_inᵀ): weight·‖W_in‖²_F."""
    X = check_array(X, "X", ndim=2)
    return EncoderCost(X=X, weight=check_nonnegative(weight, "weight"), affine=bool(affine))


@dataclass
class SimilarityMatching(Term):
    """weight · (−⟨K_X, Q⟩ + c ‖Q‖²_F): the similarity-matching objective of Sengupta et al. (2018)
    (−Tr(XᵀX YᵀY) + c‖YᵀY‖² in their orientation), convex in Q for c > 0."""

    K: np.ndarray
    weight: float = 1.0
    c: float = 0.5

    def check_n(self, n):
        if self.K.shape != (n, n):
            raise ValueError(f"K_X has shape {self.K.shape}; expected ({n}, {n})")

    def linear_cost(self, n):
        return -self.weight * self.K

    def value(self, Q):
        return float(self.weight * (-np.sum(self.K * Q) + self.c * np.sum(Q * Q)))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        return self.weight * (-cp.trace(self.K @ Q) + self.c * cp.sum_squares(Q)), []


def similarity_matching(K_X, weight: float = 1.0, c: float = 0.5) -> SimilarityMatching:
    """−⟨K_X, Q⟩ + c‖Q‖²_F for an input similarity matrix ``K_X`` (n × n, symmetric)."""
    K = check_array(K_X, "K_X", ndim=2)
    if K.shape[0] != K.shape[1] or not np.allclose(K, K.T, atol=1e-10 * (1 + np.abs(K).max())):
        raise ValueError(f"K_X must be a symmetric square matrix, got shape {K.shape}")
    return SimilarityMatching(K=0.5 * (K + K.T), weight=check_nonnegative(weight, "weight"),
                              c=check_positive(c, "c"))


@dataclass
class RankPenalty(Term):
    """weight · Tr Q: the nuclear norm of Q on the PSD cone, the convex surrogate of rank (000 "Limitations")."""

    weight: float = 1.0

    def linear_cost(self, n):
        return self.weight * np.eye(n)

    def value(self, Q):
        return float(self.weight * np.trace(Q))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        return self.weight * cp.trace(Q), []


def rank_penalty(weight: float = 1.0) -> RankPenalty:
    """Nuclear-norm (= trace on the PSD cone) penalty on Q."""
    return RankPenalty(weight=check_nonnegative(weight, "weight"))


# ----------------------------------------------------------------------------- constraints


@dataclass
class Nonnegative(Constraint):
    """Q completely positive, relaxed to doubly non-negative (PSD ∩ elementwise ≥ 0)."""

    def cvxpy_parts(self, Q, n):
        return None, [Q >= 0]


def nonnegative() -> Nonnegative:
    """Non-negative neural activity: Q = Z Zᵀ with Z ≥ 0 (solved through the DNN relaxation)."""
    return Nonnegative()


@dataclass
class TraceBudget(Constraint):
    """Tr Q ≤ c (a total activity budget)."""

    c: float

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        return None, [cp.trace(Q) <= self.c]


def trace_budget(c: float) -> TraceBudget:
    """Total activity budget Tr Q ≤ c."""
    return TraceBudget(c=check_positive(c, "c"))


def _pinv_psd(Q, rtol=1e-10):
    w, V = np.linalg.eigh(0.5 * (Q + Q.T))
    keep = w > rtol * max(w.max(initial=0.0), 1e-300)
    return (V[:, keep] / w[keep]) @ V[:, keep].T
