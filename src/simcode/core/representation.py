r"""The library's central object: a neural code Z (stimuli × neurons) and its similarity matrix Q = Z Zᵀ.

Models produce one (``Solution.representation``, ``estimator.representation(X)``); analyses accept one wherever
they accept an array of responses (``cka``, ``rsa_data``, ``rdm``, ``procrustes``, ``mutual_knn``,
``collapse_metrics``, ``nonneg_rotations`` …), reading ``Z`` — or ``Q`` where the analysis is a function of the
kernel only.

The design follows rsatoolbox's ``Dataset``/``RDMs``: the measurements plus *stimulus descriptors* (one value
per stimulus: labels, positions, conditions) and free-form *metadata* (which model, layer, animal, session).
Kernels are computed lazily and cached, in the array library of ``Z`` (NumPy or torch, on its device).

A code known only through its kernel, ``Representation(Q=Q)``, gets the symmetric factor
:math:`Z = V\,\mathrm{diag}(\sqrt{\lambda_+})` of Q's eigen-decomposition (Q = ZZᵀ exactly, up to the dropped
negative round-off). Any ZO with O orthogonal has the same Q: which rotations keep the code non-negative is what
:func:`simcode.identify.nonneg_rotations` asks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Representation", "as_representation"]


class Representation:
    """A neural code Z (rows: stimuli, columns: neurons) with lazily computed kernels.

    Parameters
    ----------
    Z : array-like or torch.Tensor of shape (n_stimuli, n_neurons), optional
        The responses. Kept as given (NumPy or torch, on its device); validated as finite real numbers.
    Q : array-like of shape (n_stimuli, n_stimuli), optional
        The similarity (Gram) matrix, when Z is not known; must be symmetric positive semi-definite (up to
        round-off). Give Z, Q or both (then Q must equal ZZᵀ).
    stimuli : dict of str → sequence, optional
        Stimulus descriptors: each value has one entry per stimulus (labels, positions …).
    neurons : dict of str → sequence, optional
        Neuron descriptors: one entry per neuron (cell type, channel …).
    metadata : dict, optional
        Anything else (model name, layer, subject).

    Attributes
    ----------
    Z, Q, centered_kernel, n_stimuli, n_neurons, stimuli, neurons, metadata
    """

    __array_priority__ = 10

    def __init__(self, Z=None, *, Q=None, stimuli=None, neurons=None, metadata=None):
        from .arrays import check_array, check_tensor, is_tensor

        if Z is None and Q is None:
            raise TypeError("Representation needs Z (stimuli × neurons) or Q (stimuli × stimuli)")
        self._Z = None
        self._Q = None
        if Z is not None:
            if isinstance(Z, Representation):
                Z = Z.Z
            self._Z = (check_tensor(Z, "Z", ndim=2, what="stimuli × neurons") if is_tensor(Z)
                       else check_array(Z, "Z", ndim=2, dtype="floating", what="stimuli × neurons"))
        if Q is not None:
            Qa = (check_tensor(Q, "Q", ndim=2) if is_tensor(Q) else check_array(Q, "Q", ndim=2, dtype="floating"))
            if Qa.shape[0] != Qa.shape[1]:
                raise ValueError(f"Q must be square (stimuli × stimuli), got shape {tuple(Qa.shape)}")
            Qn = np.asarray(Qa.detach().cpu().numpy() if is_tensor(Qa) else Qa, dtype=np.float64)
            scale = max(1.0, float(np.abs(Qn).max()))
            if not np.allclose(Qn, Qn.T, atol=1e-8 * scale, rtol=0):
                raise ValueError("Q must be symmetric")
            if self._Z is not None:
                if self._Z.shape[0] != Qa.shape[0]:
                    raise ValueError(f"Z has {self._Z.shape[0]} stimuli but Q has {Qa.shape[0]}")
                Zn = np.asarray(self._Z.detach().cpu().numpy() if is_tensor(self._Z) else self._Z, np.float64)
                if not np.allclose(Zn @ Zn.T, Qn, atol=1e-6 * scale, rtol=1e-6):
                    raise ValueError("Q must equal Z @ Z.T when both are given")
            self._Q = Qa
        self.stimuli = self._descriptors(stimuli, self.n_stimuli, "stimuli")
        self.neurons = None if neurons is None else self._descriptors(neurons, None, "neurons")
        if self.neurons is not None and self._Z is not None:
            self._descriptors(neurons, self.n_neurons, "neurons")
        self.metadata = dict(metadata or {})
        self._cache: dict = {}

    @staticmethod
    def _descriptors(desc, n, what):
        if desc is None:
            return {}
        if not isinstance(desc, dict):
            raise TypeError(f"{what} must be a dict of descriptor name → one value per entry, "
                            f"got {type(desc).__name__}")
        out = {}
        for key, val in desc.items():
            arr = np.asarray(val)
            if n is not None and (arr.ndim == 0 or arr.shape[0] != n):
                raise ValueError(f"{what} descriptor {key!r} must have {n} entries, got shape {arr.shape}")
            out[str(key)] = arr
        return out

    # ------------------------------------------------------------------ sizes and arrays
    @property
    def n_stimuli(self) -> int:
        return int((self._Z if self._Z is not None else self._Q).shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.Z.shape[1])

    @property
    def is_torch(self) -> bool:
        from .arrays import is_tensor

        return is_tensor(self._Z if self._Z is not None else self._Q)

    @property
    def Z(self):
        """Responses (stimuli × neurons); from Q's eigen-decomposition when only Q was given."""
        if self._Z is None:
            Q = self._Q
            if self.is_torch:
                import torch

                w, V = torch.linalg.eigh(0.5 * (Q + Q.T))
                keep = w > w.max().clamp(min=0) * 1e-12 * Q.shape[0]
                self._Z = (V[:, keep] * w[keep].sqrt()).flip(1)
            else:
                w, V = np.linalg.eigh(0.5 * (Q + Q.T))
                keep = w > max(float(w.max()), 0.0) * 1e-12 * Q.shape[0]
                self._Z = (V[:, keep] * np.sqrt(w[keep]))[:, ::-1].copy()
        return self._Z

    @property
    def Q(self):
        """Similarity (Gram) matrix Z Zᵀ (stimuli × stimuli), computed once."""
        if self._Q is None:
            self._Q = self._Z @ self._Z.T
        return self._Q

    @property
    def centered_kernel(self):
        """H Q H with H = I − 11ᵀ/n (the kernel of the mean-subtracted code)."""
        if "centered" not in self._cache:
            Q = self.Q
            r = Q.mean(0, keepdims=True) if not self.is_torch else Q.mean(0, keepdim=True)
            self._cache["centered"] = Q - r - r.T + Q.mean()
        return self._cache["centered"]

    def rdm(self, metric: str = "euclidean", **kwargs):
        """The representational dissimilarity matrix (:func:`simcode.similarity.rdm`), cached per metric."""
        key = ("rdm", metric, tuple(sorted(kwargs.items())))
        if key not in self._cache:
            from ..similarity import rdm

            self._cache[key] = rdm(self.Z, metric, **kwargs)
        return self._cache[key]

    def numpy(self) -> np.ndarray:
        """Z as a float NumPy array (CPU)."""
        Z = self.Z
        return Z.detach().cpu().numpy() if self.is_torch else np.asarray(Z)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a.astype(dtype) if dtype is not None else a

    def __len__(self) -> int:
        return self.n_stimuli

    def subset(self, stimuli) -> "Representation":
        """The code restricted to some stimuli (an index array or a boolean mask), descriptors included."""
        idx = np.asarray(stimuli)
        if idx.dtype == bool:
            if idx.shape != (self.n_stimuli,):
                raise ValueError(f"a boolean stimulus mask must have {self.n_stimuli} entries, got {idx.shape}")
            idx = np.flatnonzero(idx)
        if idx.dtype.kind not in "iu":
            raise TypeError("stimuli must be integer indices or a boolean mask")
        if idx.size and (idx.min() < -self.n_stimuli or idx.max() >= self.n_stimuli):
            raise IndexError(f"stimulus index out of range for {self.n_stimuli} stimuli")
        if self.is_torch:
            import torch

            sel = torch.as_tensor(idx, device=self.Z.device)
        else:
            sel = idx
        return Representation(self.Z[sel], stimuli={k: v[idx] for k, v in self.stimuli.items()},
                              neurons=self.neurons or None, metadata=self.metadata)

    def __repr__(self) -> str:
        kind = f"torch on {self.Z.device}" if self.is_torch else "numpy"
        extra = f", stimuli={sorted(self.stimuli)}" if self.stimuli else ""
        meta = f", metadata={self.metadata}" if self.metadata else ""
        return f"Representation({self.n_stimuli} stimuli × {self.n_neurons} neurons, {kind}{extra}{meta})"


def as_representation(x, **kwargs) -> Representation:
    """``x`` if it is a Representation, else ``Representation(x, **kwargs)``."""
    return x if isinstance(x, Representation) else Representation(x, **kwargs)
