"""Boundary cases of ``simcode.sparse`` (independent checks: lasso KKT conditions, NumPy formulas, scipy).

The priors' ``value`` / ``prox`` are methods, not functions: each prior class gets two cases that build an
instance with ``init`` and call the method (``method="value"`` / ``"prox"``); their targets are the classes, which
are not estimators, so they add cases without changing what the coverage test requires.
"""

import numpy as np
from scipy.signal import fftconvolve

from .harness import Case


# -- helpers ---------------------------------------------------------------------------------------------------
def _dict(rng, K=6, p=10):
    D = rng.standard_normal((K, p))
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def _coding(rng, n=5, K=6, p=10, lam=0.1):
    D = _dict(rng, K, p)
    Z = rng.standard_normal((n, K)) * (rng.random((n, K)) < 0.3)
    return dict(X=Z @ D + 0.05 * rng.standard_normal((n, p)), D=D, lam=lam)


def _lasso_kkt(out, kw, tol=1e-3):
    """KKT conditions of min_z ½‖x − zD‖² + λ‖z‖₁ per row: |c| ≤ λ, and c = λ sign(z) on the support."""
    Z, D, X, lam = np.asarray(getattr(out, "codes", out)), kw["D"], kw["X"], kw["lam"]
    C = (X - Z @ D) @ D.T
    on = np.abs(Z) > 1e-8
    return bool(np.all(np.abs(C) <= lam + tol) and np.allclose(C[on], lam * np.sign(Z[on]), atol=tol))


def _signals(rng, n=3, K=2, L=5, T=40):
    atoms = rng.standard_normal((K, L))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    codes = np.abs(rng.standard_normal((n, K, T - L + 1))) * (rng.random((n, K, T - L + 1)) < 0.1)
    sig = np.stack([sum(fftconvolve(codes[i, k], atoms[k]) for k in range(K)) for i in range(n)])
    return sig + 0.01 * rng.standard_normal(sig.shape), atoms, codes


def _synthesis(codes, atoms):
    return np.stack([sum(np.convolve(c[k], atoms[k]) for k in range(atoms.shape[0])) for c in codes])


def _fitted(name, X, *args, **kwargs):
    import warnings

    import simcode.sparse as sp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(sp, name)(*args, **kwargs).fit(X)


def _csc_objective(kw):
    """The optimal CSC objective of ``kw``'s problem, by the unchunked solver run to a tight gap."""
    from simcode.sparse import conv_sparse_code

    return conv_sparse_code(kw["signals"], kw["atoms"], kw["lam"], device="cpu", tol=1e-10, max_iter=20000).objective


def _spike_signal(rng, T=600, L=8):
    atoms = np.stack([np.hanning(L), np.sin(np.linspace(0, np.pi * 2, L))])
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    sig = np.zeros(T)
    for k, start in ((0, 40), (1, 200), (0, 350), (1, 480)):
        sig[start:start + L] += 3 * atoms[k]
    return sig + 0.01 * rng.standard_normal(T), atoms


# -- priors: value / prox of each class ------------------------------------------------------------------------
_PRIORS = {  # class name → constructor keywords and an independent prox (NumPy)
    "Ridge": (dict(sigma=1.0), lambda V, t: V / (1 + t)),
    "L1": ({}, lambda V, t: np.sign(V) * np.maximum(np.abs(V) - t, 0)),
    "L1NonNeg": ({}, lambda V, t: np.maximum(V - t, 0)),
    "TwoSidedGaussian": (dict(sigma_pos=1.0, sigma_neg=2.0),
                         lambda V, t: np.where(V >= 0, V / (1 + t), V * 4 / (4 + t))),
    "GroupL1": (dict(groups=[[0, 1], [2, 3]]), lambda V, t: np.concatenate(
        [B * np.maximum(1 - t / np.maximum(np.linalg.norm(B, axis=1, keepdims=True), 1e-300), 0)
         for B in (V[:, :2], V[:, 2:])], axis=1)),
    "Simplex": ({}, lambda V, t: _simplex_projection(V)),
    "L0": ({}, lambda V, t: V * (np.abs(V) > np.sqrt(2 * t))),
    "TopK": (dict(k=2), lambda V, t: V * (np.abs(V) >= np.sort(np.abs(V), axis=-1)[:, -2:-1])),
    "Box": (dict(low=0.0, high=1.0), lambda V, t: np.clip(V, 0, 1)),
    "ElasticNet": (dict(l2_ratio=0.5), lambda V, t: np.sign(V) * np.maximum(np.abs(V) - t / 2, 0) / (1 + t / 2)),
}


def _simplex_projection(V):
    """Euclidean projection of each row onto the probability simplex (Held et al. 1974; Duchi et al. 2008)."""
    U = -np.sort(-V, axis=1)
    css = np.cumsum(U, axis=1) - 1
    j = np.arange(1, V.shape[1] + 1)
    rho = (U - css / j > 0).sum(1)
    theta = css[np.arange(len(V)), rho - 1] / rho
    return np.maximum(V - theta[:, None], 0)


def _feasible(rng):
    """Codes inside every prior's domain: non-negative, at most two non-zeros, rows summing to 1, in [0, 1]."""
    Z = np.zeros((3, 4))
    Z[:, :2] = rng.dirichlet([1.0, 1.0], size=3)
    return Z


def _prior_factory(cls_name, params):
    def init():
        import simcode.sparse as sp

        return getattr(sp, cls_name)(**params)

    return init


def _prior_cases():
    out = []
    for name, (params, prox) in _PRIORS.items():
        init = _prior_factory(name, params)
        out.append(Case(f"simcode.sparse.{name}", lambda rng: dict(Z=_feasible(rng)), arrays=("Z",),
                        init=init, method="value", id=f"{name}.value"))
        check = None if prox is None else (lambda f: lambda out, kw: np.allclose(out, f(kw["V"], kw["tau"])))(prox)
        out.append(Case(f"simcode.sparse.{name}", lambda rng: dict(V=rng.standard_normal((3, 4)), tau=0.3),
                        arrays=("V",), scalars={"tau": "nonnegative"}, init=init, method="prox",
                        check=check, id=f"{name}.prox"))
    return out


# -- cases -----------------------------------------------------------------------------------------------------
def _match(rng):
    from simcode.sparse import match_atoms

    true = rng.standard_normal((2, 6))
    return match_atoms(true, true[::-1], max_shift=0)


CASES = [
    Case("simcode.sparse.get_prior", lambda rng: dict(prior="group_l1", groups=[[0, 1], [2]]),
         check=lambda out, kw: type(out).__name__ == "GroupL1"),
    # each prior's parameters, through get_prior (the constructors validate them)
    *[Case("simcode.sparse.get_prior", (lambda kw: lambda rng: dict(kw))(kw), scalars=sc, id=f"get_prior_{kw['prior']}",
           check=(lambda kw: lambda out, _: all(getattr(out, k) == v for k, v in kw.items() if k != "prior"))(kw))
      for kw, sc in ((dict(prior="ridge", sigma=2.0), {"sigma": "positive"}),
                     (dict(prior="two_sided_gaussian", sigma_pos=1.0, sigma_neg=3.0),
                      {"sigma_pos": "positive", "sigma_neg": "positive"}),
                     (dict(prior="simplex", radius=2.0), {"radius": "positive"}),
                     (dict(prior="topk", k=3), {"k": "int"}),
                     (dict(prior="elastic_net", l2_ratio=0.25), {"l2_ratio": "nonnegative"}),
                     (dict(prior="group_l1", groups=2, weights=(1.0, 2.0)), {"groups": "int"}))],
    *_prior_cases(),
    # coding
    Case("simcode.sparse.fista", _coding, arrays=("X", "D"),
         scalars={"lam": "nonnegative", "max_iter": "int", "tol": "nonnegative", "check_every": "int",
                  "max_support": "int"}, check=_lasso_kkt),
    Case("simcode.sparse.fista", lambda rng: dict(_coding(rng), lam=0.0, tol=1e-12, max_iter=20000), id="fista_lam0",
         check=lambda out, kw: np.allclose(out.codes, np.linalg.lstsq(kw["D"].T, kw["X"].T, rcond=None)[0].T,
                                           atol=1e-5)),  # λ = 0: least squares (the audit: a TypeError inside)
    Case("simcode.sparse.sparse_encode", lambda rng: dict(_coding(rng), lam=0.0, tol=1e-12, max_iter=20000),
         id="sparse_encode_lam0",
         check=lambda out, kw: np.allclose(out, np.linalg.lstsq(kw["D"].T, kw["X"].T, rcond=None)[0].T, atol=1e-5)),
    Case("simcode.sparse.ista", lambda rng: dict(_coding(rng), max_iter=20000, tol=1e-9), arrays=("X", "D"),
         scalars={"lam": "nonnegative", "max_iter": "int", "tol": "nonnegative"}, check=_lasso_kkt),
    Case("simcode.sparse.active_set", _coding, arrays=("X", "D"), scalars={"lam": "positive", "tol": "nonnegative"},
         check=_lasso_kkt),
    Case("simcode.sparse.sparse_encode", _coding, arrays=("X", "D"), scalars={"lam": "nonnegative"},
         check=_lasso_kkt),
    Case("simcode.sparse.lipschitz_constant", lambda rng: dict(D=_dict(rng)), arrays=("D",),
         scalars={"max_iter": "int", "tol": "nonnegative"},
         check=lambda out, kw: np.isclose(out, np.linalg.norm(kw["D"], 2) ** 2, rtol=1e-6)),
    # atoms
    Case("simcode.sparse.dictionary_error", lambda rng: dict(h=rng.standard_normal(8), h_hat=rng.standard_normal(8)),
         arrays=("h", "h_hat"),
         check=lambda out, kw: np.isclose(out, np.sqrt(1 - (kw["h"] @ kw["h_hat"]) ** 2
                                                  / (kw["h"] @ kw["h"] * (kw["h_hat"] @ kw["h_hat"]))))),
    Case("simcode.sparse.shift_invariant_error",
         lambda rng: (lambda h: dict(h=h, h_hat=np.roll(h, 2), max_shift=3))(np.r_[rng.standard_normal(6), 0, 0]),
         arrays=("h", "h_hat"), check=lambda out, kw: out[0] < 1e-12),
    Case("simcode.sparse.match_atoms",
         lambda rng: (lambda A: dict(true_atoms=A, learned_atoms=-A[::-1]))(rng.standard_normal((3, 8))),
         arrays=("true_atoms", "learned_atoms"),
         check=lambda out, kw: list(out.assignment) == [2, 1, 0] and np.allclose(out.errors, 0)),
    # dictionary learning
    Case("simcode.sparse.dict_learning",
         lambda rng: dict(X=rng.standard_normal((40, 8)), n_components=4, lam=0.2, max_iter=5, device="cpu"),
         arrays=("X",), scalars={"n_components": "int", "lam": "nonnegative", "max_iter": "int", "tol": "nonnegative",
                                 "batch_size": "int", "omega": "positive", "forget_rate": "nonnegative",
                                 "coding_tol": "nonnegative", "coding_max_iter": "int"}),
    Case("simcode.sparse.DictionaryLearning", lambda rng: dict(X=rng.standard_normal((40, 8))), arrays=("X",),
         init=lambda: __import__("simcode.sparse", fromlist=["x"]).DictionaryLearning(4, lam=0.2, max_iter=5,
                                                                                      device="cpu")),
    Case("simcode.sparse.update_dictionary",
         lambda rng: (lambda Z, X: dict(D=_dict(rng, 4, 6), A=Z.T @ Z / 30, B=Z.T @ X / 30))(
             rng.standard_normal((30, 4)), rng.standard_normal((30, 6))),
         arrays=("D", "A", "B"), scalars={"omega": "positive", "sweeps": "int"},
         check=lambda out, kw: np.all(np.linalg.norm(out, axis=1) <= 1 + 1e-9)),
    Case("simcode.sparse.update_statistics",
         lambda rng: dict(A=np.eye(3), B=np.ones((3, 5)), n_seen=10, Z_batch=rng.standard_normal((10, 3)),
                          X_batch=rng.standard_normal((10, 5))),
         arrays=("A", "B", "Z_batch", "X_batch"), scalars={"n_seen": "nonnegative", "forget_rate": "nonnegative"},
         check=lambda out, kw: np.allclose(out[0], 0.5 * kw["A"] + 0.5 * kw["Z_batch"].T @ kw["Z_batch"] / 10)
         and out[2] == 20),
    # convolutional
    Case("simcode.sparse.conv_sparse_code",
         lambda rng: (lambda s: dict(signals=s[0], atoms=s[1], lam=0.05, device="cpu"))(_signals(rng)),
         arrays=("signals", "atoms"), scalars={"lam": "nonnegative", "max_iter": "int", "tol": "nonnegative",
                                               "check_every": "int", "chunk_batch": "int"},
         check=lambda out, kw: np.isclose(out.objective, 0.5 * np.sum((kw["signals"] - _synthesis(
             np.asarray(out.codes), kw["atoms"])) ** 2) + 0.05 * np.abs(np.asarray(out.codes)).sum(), rtol=1e-6)),
    # chunked coding: chunks shorter than the atoms, longer than the signal, padding longer than the signal (the
    # audit: an obscure reshape error and two hangs); the same objective as the unchunked call
    *[Case("simcode.sparse.conv_sparse_code",
           (lambda extra: lambda rng: (lambda s: dict(signals=s[0], atoms=s[1], lam=0.05, device="cpu", tol=1e-8,
                                                      max_iter=5000, **extra))(_signals(rng)))(extra),
           id=f"conv_sparse_code_{name}",
           check=lambda out, kw: np.isclose(out.objective, _csc_objective(kw), rtol=1e-6))
      for name, extra in (("chunk1", dict(chunk_size=1)), ("chunk_huge", dict(chunk_size=10 ** 9)),
                          ("overlap_huge", dict(chunk_size=10, overlap=10 ** 6)))],
    Case("simcode.sparse.conv_synthesis",
         lambda rng: (lambda s: dict(codes=s[2], atoms=s[1]))(_signals(rng)), arrays=("codes", "atoms"),
         check=lambda out, kw: np.allclose(np.asarray(out).reshape(3, -1), _synthesis(kw["codes"], kw["atoms"]))),
    Case("simcode.sparse.conv_lipschitz", lambda rng: dict(atoms=_signals(rng)[1]), arrays=("atoms",),
         check=lambda out, kw: out >= max(np.sum(kw["atoms"] ** 2, axis=1)) - 1e-9),
    Case("simcode.sparse.conv_dictionary_learning",
         lambda rng: dict(signals=_signals(rng)[0], n_components=2, atom_length=5, max_iter=2, csc_max_iter=5,
                          filter_max_iter=5, device="cpu", random_state=0),
         arrays=("signals",), scalars={"n_components": "int", "lam": "nonnegative", "max_iter": "int",
                                       "csc_max_iter": "int", "filter_max_iter": "int", "tol": "nonnegative",
                                       "n_channels": "int", "atom_length": "int"}),
    Case("simcode.sparse.ConvDictionaryLearning", lambda rng: dict(X=_signals(rng)[0]), arrays=("X",),
         init=lambda: __import__("simcode.sparse", fromlist=["x"]).ConvDictionaryLearning(
             2, 5, max_iter=2, csc_max_iter=5, filter_max_iter=5, device="cpu", random_state=0)),
    # unrolled
    Case("simcode.sparse.crsae_fit",
         lambda rng: dict(signals=_signals(rng, n=4)[0][:, None], n_components=2, atom_length=5, n_layers=4, max_iter=1,
                          batch_size=4, random_state=0),
         arrays=("signals",), scalars={"n_components": "int", "n_layers": "int", "lam": "positive",
                                       "batch_size": "int", "lr": "positive", "tol": "nonnegative", "n_trials": "int",
                                       "atom_length": "int"}),
    Case("simcode.sparse.CRsAE", lambda rng: dict(X=_signals(rng, n=4)[0]), arrays=("X",),
         init=lambda: __import__("simcode.sparse", fromlist=["x"]).CRsAE(2, 5, n_layers=4, max_iter=1, batch_size=4,
                                                                        device="cpu", random_state=0)),
    # the estimators' transform, on a fitted instance
    Case("simcode.sparse.DictionaryLearning", lambda rng: dict(X=rng.standard_normal((10, 8))), arrays=("X",),
         init=lambda: _fitted("DictionaryLearning", np.random.default_rng(1).standard_normal((40, 8)), 4, lam=0.2,
                              max_iter=5, device="cpu"), method="transform", id="DictionaryLearning.transform"),
    Case("simcode.sparse.ConvDictionaryLearning", lambda rng: dict(X=_signals(rng)[0]), arrays=("X",),
         init=lambda: _fitted("ConvDictionaryLearning", _signals(np.random.default_rng(1))[0], 2, 5, max_iter=2,
                              csc_max_iter=5, filter_max_iter=5, device="cpu", random_state=0),
         method="transform", id="ConvDictionaryLearning.transform"),
    Case("simcode.sparse.CRsAE", lambda rng: dict(X=_signals(rng, n=4)[0]), arrays=("X",),
         init=lambda: _fitted("CRsAE", _signals(np.random.default_rng(1), n=4)[0], 2, 5, n_layers=4, max_iter=1,
                              batch_size=4, device="cpu", random_state=0),
         method="transform", id="CRsAE.transform"),
    Case("simcode.sparse.DictionaryLearning", lambda rng: dict(X=rng.standard_normal((10, 8))), arrays=("X",),
         init=lambda: _fitted("DictionaryLearning", np.random.default_rng(1).standard_normal((40, 8)), 4, lam=0.2,
                              max_iter=5, device="cpu"), method="partial_fit", id="DictionaryLearning.partial_fit"),
    Case("simcode.sparse.DictionaryLearning", lambda rng: dict(X=rng.standard_normal((10, 4))), arrays=("X",),
         init=lambda: _fitted("DictionaryLearning", np.random.default_rng(1).standard_normal((40, 8)), 4, lam=0.2,
                              max_iter=5, device="cpu"), method="inverse_transform",
         id="DictionaryLearning.inverse_transform"),
    Case("simcode.sparse.ConvDictionaryLearning", lambda rng: dict(X=rng.random((3, 2, 44))), arrays=("X",),
         init=lambda: _fitted("ConvDictionaryLearning", _signals(np.random.default_rng(1))[0], 2, 5, max_iter=2,
                              csc_max_iter=5, filter_max_iter=5, device="cpu", random_state=0),
         method="inverse_transform", id="ConvDictionaryLearning.inverse_transform"),
    Case("simcode.sparse.CRsAE", lambda rng: dict(X=_signals(rng, n=4)[0]), arrays=("X",),
         init=lambda: _fitted("CRsAE", _signals(np.random.default_rng(1), n=4)[0], 2, 5, n_layers=4, max_iter=1,
                              batch_size=4, device="cpu", random_state=0),
         method="predict", id="CRsAE.predict"),
    # spike sorting
    Case("simcode.sparse.detect_spikes",
         lambda rng: dict(codes=np.abs(rng.standard_normal((2, 100))) * (rng.random((2, 100)) < 0.05), min_distance=3),
         arrays=("codes",), scalars={"min_distance": "int", "rel_threshold": "positive"},
         check=lambda out, kw: np.allclose(out[2], kw["codes"][out[1], out[0]])),
    Case("simcode.sparse.match_spike_times",
         lambda rng: dict(true_times=np.array([10.0, 50, 90]), detected_times=np.array([11.0, 70, 89]),
                          tolerance=2.0),
         arrays=("true_times", "detected_times"), scalars={"tolerance": "nonnegative"},
         check=lambda out, kw: tuple(out) == (2, 1, 1)),
    Case("simcode.sparse.spike_sorting_scores",
         lambda rng: dict(true_times=[np.array([10.0, 50]), np.array([30.0])], times=np.array([10, 30, 50]),
                          labels=np.array([1, 0, 1]), match=_match(rng), tolerance=1.0),
         arrays=("times", "labels"), scalars={"tolerance": "nonnegative"},
         check=lambda out, kw: np.allclose(out["recall"], 1) and np.allclose(out["precision"], 1)),
    Case("simcode.sparse.sort_spikes",
         lambda rng: (lambda s: dict(signal=s[0], atoms=s[1], lam=0.1, min_distance=4, device="cpu"))(
             _spike_signal(rng)),
         arrays=("signal", "atoms"), scalars={"lam": "nonnegative", "min_distance": "int", "chunk_size": "int",
                                                  "max_iter": "int", "tol": "nonnegative"}),
]

UNCOVERED = {}

VALID = {}

# Inputs the rules call bad that are legal layouts of these functions (documented behaviour, not defects):
_LAST_AXIS = ("codes on the last axis with any leading batch shape (a single code vector, or a stack of batches "
              "such as convolutional codes) are the documented input of a prior's value/prox")
VALID.update({f"{name}.{meth}:{arg}:{label}": _LAST_AXIS
              for name in _PRIORS for meth, arg in (("value", "Z"), ("prox", "V")) for label in ("extra_dim", "flat")
              if not (name == "GroupL1" and label == "flat")})  # GroupL1: 12 coordinates do not fit its groups
VALID.update({
    "shift_invariant_error:h:extra_dim": "a (1, L) array is one atom with one channel, the documented (C, L) layout",
    "shift_invariant_error:h_hat:extra_dim": "a (1, L) array is one atom with one channel, the documented (C, L) "
                                             "layout",
    "match_atoms:true_atoms:flat": "a 1-D array is one atom, a documented layout ((L,), (K, L) or (K, C, L))",
    "match_atoms:learned_atoms:flat": "a 1-D array is one atom, a documented layout ((L,), (K, L) or (K, C, L))",
    "conv_sparse_code:signals:flat": "a 1-D array is one single-channel signal, a documented layout",
    "conv_dictionary_learning:signals:flat": "a 1-D array is one single-channel signal, a documented layout",
    "conv_lipschitz:atoms:extra_dim": "(1, K, L) atoms are one multichannel (K, C, L) filter bank, a documented "
                                      "layout",
    "match_spike_times:true_times:empty": "an empty spike train (no spikes) is valid input: every detection is a "
                                          "false positive",
    "match_spike_times:detected_times:empty": "an empty detection train is valid input (nothing detected): every "
                                              "true spike is a false negative",
})
