r"""Objective terms and constraints of Q-space efficient coding (000 §2 "Convexification over Q").

A neural code is Z (n_stimuli × n_neurons, samples in rows); the paper's Q_ij = z^[i]ᵀ z^[j] is our
``Q = Z @ Z.T``.

Terms
-----
``activity_cost(p, lam)``      lam · ⟨‖z‖²⟩_p = lam · Tr(diag(p) Q)                 (000 §2, "firing rate cost")
``readout_cost(Y, lam, affine)``  lam · min_b Tr((Y−1bᵀ)ᵀ Q⁺ (Y−1bᵀ)), range(Y−1bᵀ) ⊆ range(Q)
                                 = lam · ‖W_out‖²_F of the minimum-norm (affine) readout  (000 §2)
``encoder_cost(X, lam, affine)``  lam · ‖W_in‖²_F of the min-norm encoder Z = X W_in (+1b_inᵀ):
                                 Tr(M Q) with range(Q) ⊆ range([X, 1]) (M derived in :class:`EncoderCost`)
``similarity_matching(K_X, lam, c)``  lam · (−⟨K_X, Q⟩ + c‖Q‖²_F)                  (Sengupta et al. 2018)
``rank_penalty(lam)``          lam · Tr Q (the nuclear norm on the PSD cone)

Constraints
-----------
``nonnegative()``      Q completely positive (Z ≥ 0), relaxed to doubly non-negative: Q ⪰ 0, Q ≥ 0
                       elementwise (exact for n ≤ 4; Maxfield & Minc 1962)
``decodable(Y)``       Y = Z W_out exactly for some W_out: range(Y) ⊆ range(Q)
``affine_decodable(Y)`` Y = Z W_out + 1bᵀ for some W_out, b
``trace_budget(c)``    Tr Q ≤ c

The term contract (what each solver needs)
------------------------------------------
Every term is a :class:`Term` and **must** implement ``value(Q) -> float`` (the term's f(Q), used for the
reported objective). What else it provides decides which solvers can use it; a solver given a term it cannot
represent raises :class:`simcode.core.UnsupportedTermError` naming the term and what is missing — it never
drops or approximates a term silently.

``solver="cvxpy"`` needs ``cvxpy_parts(Q, n) -> (expression, [constraints])``: a convex cvxpy expression
equal to f(Q) (after minimising out any auxiliary variables it introduces) and the constraints it needs. The
default builds it from the first-order form below, so a term that gives only that form works here too.

``solver="firstorder"`` (the lifted ADMM of :mod:`simcode.convex.admm`) can consume a term of the form

.. math::  f(Q) = \langle C, Q\rangle + a\,\|Q\|_F^2 + \lambda\,\min_b \operatorname{Tr}\big((Y - 1b^\top)^\top
           Q^{+} (Y - 1b^\top)\big), \qquad \operatorname{range}(Q) \subseteq \operatorname{range}(E),

given by any of these methods (each returns ``None``/0 when the term has no such part):

* ``linear_part(n) -> C`` (n × n; symmetrised) — a linear cost ⟨C, Q⟩ (a trace penalty is ``lam * eye(n)``);
* ``quadratic_part(n) -> a`` (a ≥ 0) — an isotropic quadratic a‖Q‖²_F;
* ``readout_part() -> ReadoutBlock(Y, lam, affine)`` — a matrix-fractional readout cost (``b`` free when affine,
  0 otherwise), lifted to a Schur-complement block;
* ``range_basis() -> E`` (orthonormal columns) — the range restriction (it adds no cost).

The parts must describe the **whole** term: ``value(Q)`` must equal their sum. For a term that is not one of
the built-in ones this is checked numerically before the first-order solve, at random positive semi-definite
test matrices (in the allowed range, containing the readout targets); a mismatch raises
``UnsupportedTermError`` (so a term with an extra non-linear part and only its linear part declared is refused,
not mis-solved). A term that gives none of these parts is refused by the first-order solver;
``solver="auto"`` then chooses cvxpy (or, above cvxpy's size limit, raises that error).

Constraints are :class:`Constraint` objects with ``cvxpy_parts(Q, n) -> (None, [constraints])`` for cvxpy and
``first_order_part() -> ConstraintForm(nonnegative, trace_budget)`` for the first-order solver, which can
project onto {Q ≥ 0 elementwise} and {Tr Q ≤ c} only. A plain callable ``Q -> cvxpy constraints`` is accepted
by the cvxpy solver only. Decodability constraints are readout terms with ``lam = 0``.

Example — a user's trace penalty that both solvers honour::

    class TracePenalty(Term):
        def __init__(self, lam): self.lam = lam
        def value(self, Q): return self.lam * float(np.trace(Q))
        def linear_part(self, n): return self.lam * np.eye(n)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import UnsupportedTermError, check_array, check_int, check_number

__all__ = [
    "Term", "Constraint", "ReadoutBlock", "FirstOrderForm", "ConstraintForm", "activity_cost", "readout_cost",
    "encoder_cost", "similarity_matching", "rank_penalty", "nonnegative", "decodable", "affine_decodable",
    "trace_budget", "ActivityCost", "ReadoutCost", "EncoderCost", "SimilarityMatching", "RankPenalty",
    "Nonnegative", "TraceBudget", "pinv_psd", "intersect_ranges", "first_order_form", "constraint_form",
]


@dataclass(frozen=True)
class ReadoutBlock:
    """A readout cost ``lam · min_b Tr((Y − 1bᵀ)ᵀ Q⁺ (Y − 1bᵀ))`` (b = 0 unless ``affine``); Y is n × m."""

    Y: np.ndarray
    lam: float
    affine: bool


@dataclass
class FirstOrderForm:
    """The structured form of an objective (one term, or a whole problem) that the lifted ADMM consumes."""

    linear: np.ndarray | None = None          #: C (n × n, symmetric) of ⟨C, Q⟩
    quadratic: float = 0.0                     #: a ≥ 0 of a‖Q‖²_F
    readouts: list = field(default_factory=list)   #: ReadoutBlock per readout term, in term order
    basis: np.ndarray | None = None           #: orthonormal E with range(Q) ⊆ range(E), or None (no restriction)

    def value(self, Q: np.ndarray) -> float:
        """⟨C, Q⟩ + a‖Q‖²_F + Σ readout costs at Q (the readouts through the pseudo-inverse)."""
        total = 0.0
        if self.linear is not None:
            total += float(np.sum(self.linear * Q))
        if self.quadratic:
            total += self.quadratic * float(np.sum(Q * Q))
        for r in self.readouts:
            total += readout_value(r, Q)
        return total


@dataclass
class ConstraintForm:
    """The constraint sets the first-order solver projects onto."""

    nonnegative: bool = False                  #: Q ≥ 0 elementwise
    trace_budget: float | None = None          #: Tr Q ≤ trace_budget


def _term_name(obj) -> str:
    return getattr(obj, "name", None) or type(obj).__name__


class Term:
    """An objective term f(Q). See the module docstring for the contract each solver checks."""

    #: shown in error messages (defaults to the class name)
    name: str | None = None

    def value(self, Q: np.ndarray) -> float:  # pragma: no cover - abstract
        raise NotImplementedError(f"{_term_name(self)} must implement value(Q)")

    # ---- the first-order form (each part optional)
    def linear_part(self, n: int) -> np.ndarray | None:
        return None

    def quadratic_part(self, n: int) -> float:
        return 0.0

    def readout_part(self) -> ReadoutBlock | None:
        return None

    def range_basis(self) -> np.ndarray | None:
        return None

    # ---- sizes
    def n_stimuli(self) -> int | None:
        """The number of stimuli fixed by the term's data (None: any)."""
        return None

    def check_n(self, n: int) -> None:
        m = self.n_stimuli()
        if m is not None and m != n:
            raise ValueError(f"{_term_name(self)}: its data has {m} stimuli but the problem has {n}")

    # ---- the cvxpy form
    def cvxpy_parts(self, Q, n):
        """cvxpy expression and constraints; by default built from the first-order form."""
        try:
            form = first_order_form([self], n)
        except UnsupportedTermError as exc:
            raise UnsupportedTermError(
                f"term {_term_name(self)} cannot be used with solver='cvxpy': it has no cvxpy_parts(Q, n) (a cvxpy "
                "expression of Q and its constraints), and no usable first-order form to build one from "
                f"({exc})") from None
        return form_cvxpy_parts(form, Q, n)


class Constraint:
    """A convex constraint on Q. See the module docstring for the contract each solver checks."""

    name: str | None = None

    def check_n(self, n: int) -> None:
        pass

    def first_order_part(self) -> ConstraintForm | None:
        return None

    def cvxpy_parts(self, Q, n):
        """cvxpy constraints; by default built from ``first_order_part()``."""
        form = self.first_order_part()
        if form is None:
            raise UnsupportedTermError(
                f"constraint {_term_name(self)} cannot be used with solver='cvxpy': it needs cvxpy_parts(Q, n) "
                "returning (None, [cvxpy constraints])")
        import cvxpy as cp

        cons = []
        if form.nonnegative:
            cons.append(Q >= 0)
        if form.trace_budget is not None:
            cons.append(cp.trace(Q) <= form.trace_budget)
        return None, cons


# ----------------------------------------------------------------------------- the contract, checked

_FIRST_ORDER_NEEDS = ("the first-order solver needs a term of the form ⟨C, Q⟩ + a‖Q‖²_F + readout cost: "
                      "implement linear_part(n) -> C, quadratic_part(n) -> a and/or readout_part(), with value(Q) "
                      "equal to their sum; or use solver='cvxpy'")


def first_order_form(terms, n: int, *, verify: bool = True) -> FirstOrderForm:
    """The summed first-order form of ``terms`` (the contract of the module docstring).

    Raises :class:`UnsupportedTermError` when a term gives no first-order part, or (``verify``, for terms
    that are not built in) when its parts do not reproduce its ``value`` at random test matrices.
    """
    n = check_int(n, "n", low=1)
    terms = _as_list(terms, "terms", Term)
    C = np.zeros((n, n))
    has_linear = False
    quad = 0.0
    readouts = []
    basis = None
    for t in terms:
        L = t.linear_part(n)
        a = t.quadratic_part(n)
        r = t.readout_part()
        E = t.range_basis()
        if L is None and not a and r is None and E is None:
            raise UnsupportedTermError(f"term {_term_name(t)} gives no first-order form: {_FIRST_ORDER_NEEDS}")
        part = FirstOrderForm()
        if L is not None:
            L = check_array(L, f"{_term_name(t)}.linear_part(n)", ndim=2)
            if L.shape != (n, n):
                raise ValueError(f"{_term_name(t)}.linear_part(n) must be {n} × {n}, got shape {L.shape}")
            part.linear = 0.5 * (L + L.T)
        if a:
            part.quadratic = check_number(a, f"{_term_name(t)}.quadratic_part(n)", low=0.0)
        if r is not None:
            if not isinstance(r, ReadoutBlock):
                raise TypeError(f"{_term_name(t)}.readout_part() must return a ReadoutBlock, got {type(r).__name__}")
            part.readouts = [r]
        if E is not None:
            part.basis = np.asarray(E, dtype=float)
        if verify and type(t) not in _BUILTIN_TERMS:
            _verify_form(t, part, n)
        if part.linear is not None:
            C += part.linear
            has_linear = True
        quad += part.quadratic
        readouts += part.readouts
        if part.basis is not None:
            basis = part.basis if basis is None else intersect_ranges(basis, part.basis)
    return FirstOrderForm(linear=C if has_linear else None, quadratic=quad, readouts=readouts, basis=basis)


def _as_list(items, name: str, cls=None) -> list:
    """``items`` as a list (a single object counts as one item), each an instance of ``cls`` when given."""
    if cls is not None and isinstance(items, cls):
        return [items]
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(f"{name} must be a list, got {type(items).__name__}")
    items = list(items)
    if cls is not None:
        for t in items:
            if not isinstance(t, cls):
                raise TypeError(f"{name} must hold simcode.convex.{cls.__name__} objects, got {type(t).__name__}")
    return items


def _verify_form(term, part: FirstOrderForm, n: int) -> None:
    """value(Q) == the parts' value at two random PSD test matrices (in range, containing the targets)."""
    if part.basis is not None and part.readouts:
        return  # a readout restricted to a range: no generic test point (documented as unchecked)
    rng = np.random.default_rng(20260110)   # an internal, fixed test point: the check must be reproducible
    for k in (1, 3):
        G = rng.standard_normal((n, min(n, k + 1)))
        if part.basis is not None:
            G = part.basis @ (part.basis.T @ G)
        cols = [G]
        for r in part.readouts:
            cols.append(r.Y)
            if r.affine:
                cols.append(np.ones((n, 1)))
        F = np.hstack(cols)
        Q = F @ F.T / max(1, F.shape[1])
        got = float(term.value(Q))
        want = part.value(Q)
        scale = 1.0 + abs(want) + abs(got)
        if not (np.isfinite(got) and abs(got - want) <= 1e-7 * scale):
            raise UnsupportedTermError(
                f"term {_term_name(term)}: its first-order form does not reproduce value(Q) at a test matrix "
                f"(value {got:.6g}, form {want:.6g}), so the first-order solver would minimise a different "
                f"objective. {_FIRST_ORDER_NEEDS}")


def constraint_form(constraints) -> ConstraintForm:
    """The combined first-order form of ``constraints``; raises :class:`UnsupportedTermError` otherwise."""
    out = ConstraintForm()
    for c in _as_list(constraints, "constraints"):
        if not isinstance(c, Constraint):
            what = getattr(c, "__name__", repr(c))
            raise UnsupportedTermError(f"the custom cvxpy constraint {what} needs solver='cvxpy' (the first-order "
                                       "solver projects onto Q ≥ 0 and Tr Q ≤ c only)")
        f = c.first_order_part()
        if f is None:
            raise UnsupportedTermError(
                f"constraint {_term_name(c)} gives no first-order form: the first-order solver needs "
                "first_order_part() -> ConstraintForm(nonnegative=..., trace_budget=...); or use solver='cvxpy'")
        out.nonnegative = out.nonnegative or bool(f.nonnegative)
        if f.trace_budget is not None:
            out.trace_budget = (f.trace_budget if out.trace_budget is None
                                else min(out.trace_budget, f.trace_budget))
    return out


def form_cvxpy_parts(form: FirstOrderForm, Q, n):
    """cvxpy expression and constraints of a first-order form (the range restriction is the builder's)."""
    import cvxpy as cp

    expr = 0
    cons = []
    if form.linear is not None:
        expr = expr + cp.sum(cp.multiply(form.linear, Q))
    if form.quadratic:
        expr = expr + form.quadratic * cp.sum_squares(Q)
    for r in form.readouts:
        e, c = readout_cvxpy(r, Q, n)
        expr = expr + e
        cons += c
    return expr, cons


def readout_cvxpy(r: ReadoutBlock, Q, n):
    """The Schur-complement form: lam·Tr T s.t. [[Q, Ỹ], [Ỹᵀ, T]] ⪰ 0 with Ỹ = Y − 1bᵀ (b free if affine)."""
    import cvxpy as cp

    m = r.Y.shape[1]
    Yt = r.Y
    if r.affine:
        b = cp.Variable(m)
        Yt = r.Y - np.ones((n, 1)) @ cp.reshape(b, (1, m), order="C")
    T = cp.Variable((m, m), symmetric=True)
    block = cp.bmat([[Q, Yt], [Yt.T, T]])
    return r.lam * cp.trace(T), [block >> 0]


def optimal_bias(r: ReadoutBlock, Q) -> np.ndarray:
    """The b minimising Tr((Y−1bᵀ)ᵀQ⁺(Y−1bᵀ)) over the b with Y − 1bᵀ ∈ range(Q) (zeros if not affine).

    With P = I − 11ᵀ/n, min_b min_W {‖W‖² : ZW = Y − 1bᵀ} = min_W {‖W‖² : PZW = PY} (the bias absorbs the
    mean), so W = (PZ)⁺PY and b = 1ᵀ(Y − ZW)/n = 1ᵀ(Y − QP(PQP)⁺PY)/n, whether or not 1 ∈ range(Q) (for a
    low-rank Q with 1 ∉ range(Q) the bias is fixed by feasibility, and YᵀQ⁺1/1ᵀQ⁺1 would be wrong).
    """
    if not r.affine:
        return np.zeros(r.Y.shape[1])
    Q = np.asarray(Q, dtype=float)
    n = Q.shape[0]
    Yc = r.Y - r.Y.mean(0)
    Qc = Q - Q.mean(0)[None, :] - Q.mean(1)[:, None] + Q.mean()
    A = pinv_psd(Qc) @ Yc
    return (r.Y - Q @ (A - A.mean(0))).sum(0) / n


def readout_value(r: ReadoutBlock, Q) -> float:
    """lam · min_b Tr((Y − 1bᵀ)ᵀ Q⁺ (Y − 1bᵀ)): Tr(Yᵀ P (PQP)⁺ P Y) for an affine readout (P = I − 11ᵀ/n; see
    :func:`optimal_bias`), Tr(Yᵀ Q⁺ Y) otherwise (range membership is checked by ``Problem.objective``)."""
    if r.lam == 0:
        return 0.0
    if r.affine:
        Yc = r.Y - r.Y.mean(0)
        Q = np.asarray(Q, dtype=float)
        Qc = Q - Q.mean(0)[None, :] - Q.mean(1)[:, None] + Q.mean()
        return float(r.lam * np.sum(Yc * (pinv_psd(Qc) @ Yc)))
    return float(r.lam * np.sum(r.Y * (pinv_psd(Q) @ r.Y)))


# ----------------------------------------------------------------------------- objective terms


@dataclass
class ActivityCost(Term):
    """lam · ⟨‖z‖²⟩_p = lam · Σ_i p_i Q_ii = Tr(lam·diag(p) Q); p uniform (1/n) by default."""

    p: np.ndarray | None = None
    lam: float = 1.0

    def _p(self, n):
        return np.full(n, 1.0 / n) if self.p is None else self.p

    def n_stimuli(self):
        return None if self.p is None else int(self.p.shape[0])

    def linear_part(self, n):
        return np.diag(self.lam * self._p(n))

    def value(self, Q):
        return float(self.lam * self._p(Q.shape[0]) @ np.diag(Q))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        return self.lam * cp.sum(cp.multiply(self._p(n), cp.diag(Q))), []


def input_eps(a) -> float:
    """The machine epsilon of what the caller passed: float32 data are exact to ~1e-7 only (float64 otherwise)."""
    return float(np.finfo(np.float32).eps) if a.dtype == np.float32 else float(np.finfo(np.float64).eps)


def check_probs(p, name: str = "p", n: int | None = None) -> np.ndarray:
    """A probability vector (float64, entries ≥ 0 summing to 1), validated at the boundary.

    The sum is checked to the precision of the input (float32, integer or torch vectors that sum to 1 in their
    own arithmetic are accepted) and a float32 vector is renormalised in float64.
    """
    a = check_array(p, name, ndim=1, dtype="floating")
    eps = input_eps(a)
    a = np.asarray(a, dtype=np.float64)
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must be a probability vector of length {n}, got length {a.shape[0]}")
    tol = max(1e-8, 4 * eps * a.shape[0])
    if np.any(a < 0) or abs(a.sum() - 1) > tol:
        raise ValueError(f"{name} must be a probability vector (entries >= 0 summing to 1), got entries in "
                         f"[{a.min():.3g}, {a.max():.3g}] summing to {a.sum():.10g}")
    return a / a.sum() if eps > np.finfo(np.float64).eps else a


def activity_cost(p=None, lam: float = 1.0) -> ActivityCost:
    """Mean activity energy lam · ⟨‖z‖²⟩ = lam · Tr(diag(p) Q) under the stimulus law ``p`` (uniform by default)."""
    lam = check_number(lam, "lam", low=0.0)
    if p is not None:
        p = check_probs(p, "p")
    return ActivityCost(p=p, lam=lam)


@dataclass
class ReadoutCost(Term):
    """lam · min_b Tr((Y − 1bᵀ)ᵀ Q⁺ (Y − 1bᵀ)) (b = 0 unless affine): the squared Frobenius norm of the
    minimum-norm readout W_out with Z W_out + 1bᵀ = Y (000 §2: ‖W_out‖² = Tr[YᵀY Q†] in the paper's
    orientation). Matrix-fractional, hence jointly convex in (Q, b); finite iff range(Y − 1bᵀ) ⊆ range(Q).
    ``lam = 0`` is the pure constraint ``decodable``/``affine_decodable``."""

    Y: np.ndarray
    lam: float = 1.0
    affine: bool = False
    eps: float = float(np.finfo(np.float64).eps)   #: precision of the caller's Y (float32 data: ~1.2e-7)

    def n_stimuli(self):
        return int(self.Y.shape[0])

    def readout_part(self):
        return ReadoutBlock(Y=self.Y, lam=self.lam, affine=self.affine)

    def optimal_bias(self, Q):
        return optimal_bias(self.readout_part(), Q)

    def value(self, Q):
        return readout_value(self.readout_part(), Q)

    def cvxpy_parts(self, Q, n):
        return readout_cvxpy(self.readout_part(), Q, n)


def readout_cost(Y, lam: float = 1.0, affine: bool = False) -> ReadoutCost:
    """Energy of the minimum-norm (affine) linear readout of targets ``Y`` (n × m): lam·‖W_out‖²_F."""
    Y = check_array(Y, "Y", ndim=(1, 2), dtype="floating")
    eps = input_eps(Y)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    lam = check_number(lam, "lam", low=0.0)
    return ReadoutCost(Y=Y, lam=lam, affine=_check_affine(affine), eps=eps)


def _check_affine(affine) -> bool:
    if not isinstance(affine, (bool, np.bool_)):
        raise TypeError(f"affine must be True or False, got {type(affine).__name__} {affine!r}")
    return bool(affine)


def decodable(Y) -> ReadoutCost:
    """Exact linear decodability Y = Z W_out (some W_out): range(Y) ⊆ range(Q).

    On its own this set is not closed (Q + εYYᵀ decodes Y for every ε > 0), so it only bites where
    something else restricts range(Q): an ``encoder_cost`` (then an unreachable Y is reported
    infeasible) or a rank/trace limit. To price the readout, use ``readout_cost`` instead."""
    r = readout_cost(Y)
    return ReadoutCost(Y=r.Y, lam=0.0, affine=False, eps=r.eps)


def affine_decodable(Y) -> ReadoutCost:
    """Exact affine decodability Y = Z W_out + 1bᵀ (some W_out, b)."""
    r = readout_cost(Y)
    return ReadoutCost(Y=r.Y, lam=0.0, affine=True, eps=r.eps)


@dataclass
class EncoderCost(Term):
    """lam · ‖W_in‖²_F of the minimum-norm encoder Z = X W_in (+ 1 b_inᵀ, b_in free).

    Linear encoder: min ‖W_in‖² s.t. X W_in = Z is Tr(Zᵀ K⁺ Z) = Tr(K⁺ Q), K = X Xᵀ, feasible iff
    range(Q) ⊆ range(X). Affine encoder (derived here): with P the projector onto range(X)^⊥ and
    u = P1, if u ≠ 0 the bias is fixed by Z, b = Zᵀu/‖u‖², and the cost is Tr(Rᵀ K⁺ R Q) with
    R = I − 1uᵀ/‖u‖²; if u = 0 (1 ∈ range X) the bias is free and the cost is Tr(M Q) with
    M = K⁺ − K⁺11ᵀK⁺/(1ᵀK⁺1). Either way a linear function of Q plus range(Q) ⊆ range([X, 1]).
    """

    X: np.ndarray
    lam: float = 1.0
    affine: bool = False
    eps: float = float(np.finfo(np.float64).eps)   #: precision of the caller's X (float32 data: ~1.2e-7)
    M: np.ndarray = field(init=False, repr=False)
    basis: np.ndarray = field(init=False, repr=False)  # orthonormal basis of the allowed range

    def __post_init__(self):
        X = self.X
        n = X.shape[0]
        U, s, _ = np.linalg.svd(X, full_matrices=False)
        r = int(np.sum(s > s.max() * max(X.shape) * max(self.eps, np.finfo(float).eps))) if s.size else 0
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

    def n_stimuli(self):
        return int(self.X.shape[0])

    def linear_part(self, n):
        return self.lam * self.M

    def range_basis(self):
        return self.basis if self.basis.shape[1] < self.X.shape[0] else None

    def value(self, Q):
        return float(self.lam * np.sum(self.M * Q))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        # range(Q) ⊆ range(basis) is imposed by the builder, which writes Q = E G Eᵀ (G ⪰ 0)
        return self.lam * cp.trace(self.M @ Q), []


def encoder_cost(X, lam: float = 1.0, affine: bool = False) -> EncoderCost:
    """Energy of the minimum-norm (affine) linear encoder Z = X W_in (+1b_inᵀ): lam·‖W_in‖²_F."""
    X = check_array(X, "X", ndim=2, dtype="floating")
    eps = input_eps(X)
    return EncoderCost(X=np.asarray(X, dtype=np.float64), lam=check_number(lam, "lam", low=0.0),
                       affine=_check_affine(affine), eps=eps)


@dataclass
class SimilarityMatching(Term):
    """lam · (−⟨K_X, Q⟩ + c ‖Q‖²_F): the similarity-matching objective of Sengupta et al. (2018)
    (−Tr(XᵀX YᵀY) + c‖YᵀY‖² in their orientation), convex in Q for c > 0."""

    K: np.ndarray
    lam: float = 1.0
    c: float = 0.5

    def n_stimuli(self):
        return int(self.K.shape[0])

    def linear_part(self, n):
        return -self.lam * self.K

    def quadratic_part(self, n):
        return self.lam * self.c

    def value(self, Q):
        return float(self.lam * (-np.sum(self.K * Q) + self.c * np.sum(Q * Q)))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        return self.lam * (-cp.trace(self.K @ Q) + self.c * cp.sum_squares(Q)), []


def similarity_matching(K_X, lam: float = 1.0, c: float = 0.5) -> SimilarityMatching:
    """lam · (−⟨K_X, Q⟩ + c‖Q‖²_F) for an input similarity matrix ``K_X`` (n × n, symmetric)."""
    K = check_array(K_X, "K_X", ndim=2)
    if K.shape[0] != K.shape[1] or not np.allclose(K, K.T, atol=1e-10 * (1 + np.abs(K).max())):
        raise ValueError(f"K_X must be a symmetric square matrix, got shape {K.shape}")
    return SimilarityMatching(K=0.5 * (K + K.T), lam=check_number(lam, "lam", low=0.0),
                              c=check_number(c, "c", low=0.0, low_inclusive=False))


@dataclass
class RankPenalty(Term):
    """lam · Tr Q: the nuclear norm of Q on the PSD cone, the convex surrogate of rank (000 "Limitations")."""

    lam: float = 1.0

    def linear_part(self, n):
        return self.lam * np.eye(n)

    def value(self, Q):
        return float(self.lam * np.trace(Q))

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        return self.lam * cp.trace(Q), []


def rank_penalty(lam: float = 1.0) -> RankPenalty:
    """Nuclear-norm (= trace on the PSD cone) penalty lam · Tr Q."""
    return RankPenalty(lam=check_number(lam, "lam", low=0.0))


_BUILTIN_TERMS = (ActivityCost, ReadoutCost, EncoderCost, SimilarityMatching, RankPenalty)


# ----------------------------------------------------------------------------- constraints


@dataclass
class Nonnegative(Constraint):
    """Q completely positive, relaxed to doubly non-negative (PSD ∩ elementwise ≥ 0)."""

    def first_order_part(self):
        return ConstraintForm(nonnegative=True)

    def cvxpy_parts(self, Q, n):
        return None, [Q >= 0]


def nonnegative() -> Nonnegative:
    """Non-negative neural activity: Q = Z Zᵀ with Z ≥ 0 (solved through the DNN relaxation)."""
    return Nonnegative()


@dataclass
class TraceBudget(Constraint):
    """Tr Q ≤ c (a total activity budget)."""

    c: float

    def first_order_part(self):
        return ConstraintForm(trace_budget=self.c)

    def cvxpy_parts(self, Q, n):
        import cvxpy as cp

        return None, [cp.trace(Q) <= self.c]


def trace_budget(c: float) -> TraceBudget:
    """Total activity budget Tr Q ≤ c."""
    return TraceBudget(c=check_number(c, "c", low=0.0, low_inclusive=False))


# ----------------------------------------------------------------------------- linear algebra


def pinv_psd(Q, rtol: float = 1e-10) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix (eigenvalues below ``rtol``·λ_max dropped)."""
    Q = check_array(Q, "Q", ndim=2)
    if Q.shape[0] != Q.shape[1]:
        raise ValueError(f"Q must be a square matrix, got shape {Q.shape}")
    rtol = check_number(rtol, "rtol", low=0.0)
    w, V = np.linalg.eigh(0.5 * (Q + Q.T))
    keep = w > rtol * max(w.max(initial=0.0), 1e-300)
    return (V[:, keep] / w[keep]) @ V[:, keep].T


def intersect_ranges(B1, B2) -> np.ndarray:
    """Orthonormal basis of range(B1) ∩ range(B2) (both with orthonormal columns)."""
    B1 = check_array(B1, "B1", ndim=2)
    B2 = check_array(B2, "B2", ndim=2)
    if B1.shape[0] != B2.shape[0]:
        raise ValueError(f"B1 and B2 must have the same number of rows, got shapes {B1.shape} and {B2.shape}")
    P1 = B1 @ B1.T
    P2 = B2 @ B2.T
    w, V = np.linalg.eigh(P1 @ P2 @ P1)
    return V[:, w > 1 - 1e-8]
