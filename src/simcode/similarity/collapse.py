"""Neural-collapse metrics (Papyan, Han & Donoho 2020, PNAS; paper 003 "neural collapse" slides).

``H`` is n_samples × d last-layer features (rows = samples), ``labels`` integer classes, ``W`` the C × d
last-layer classifier (rows = classes, as torch's ``nn.Linear.weight``), ``b`` its bias (C,).

Definitions (μ_c class means, μ_G global mean, M̄ = [μ_c - μ_G]_c ∈ R^{C×d}, classes weighted by count):

* NC1 = Tr(Σ_W Σ_B⁺)/C with Σ_W = (1/N) Σ_i (h_i - μ_{y_i})(h_i - μ_{y_i})ᵀ and Σ_B = (1/C) Σ_c (μ_c - μ_G)(μ_c - μ_G)ᵀ
  (Papyan et al. 2020, Fig. 6).
* NC2: equinorm = std_c ‖μ_c - μ_G‖ / mean_c ‖μ_c - μ_G‖ (Fig. 2; same for the rows of W); equiangularity =
  std_{c≠c'} cos(μ_c - μ_G, μ_c' - μ_G) (Fig. 3); max-angle = mean_{c≠c'} |cos + 1/(C-1)| (Fig. 4); ETF error =
  ‖M̄M̄ᵀ/‖M̄M̄ᵀ‖_F - (I - 11ᵀ/C)/sqrt(C-1)‖_F (Zhu et al. 2021, NeurIPS, "NC2").
* NC3 (self-duality) = ‖W/‖W‖_F - M̄/‖M̄‖_F‖²_F (Papyan et al. 2020, Fig. 5).
* NC4 = fraction of samples where argmax_c(W h + b)_c equals the nearest class mean argmin_c ‖h - μ_c‖
  (Fig. 7; we report agreement, Papyan plot the mismatch 1 - NC4).
* CDNV = mean_{c≠c'} (Var_c + Var_c') / (2‖μ_c - μ_c'‖²), Var_c = E_{i∈c}‖h_i - μ_c‖² (Galanti et al. 2022, ICLR).

:class:`CollapseAccumulator` gets NC1–NC3 and CDNV in one streaming pass (per-class sums and second-moment
matrices, O(C·d + d²) memory); NC4 needs the class means first, hence a second pass (``update_nc4``).

``H`` may be an array, a torch tensor or a :class:`simcode.Representation` (its ``Z``); with a Representation
the labels may be left out and are then read from ``H.stimuli["labels"]``. NumPy input is computed in float64,
torch input in its own dtype on its device.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.arrays import check_int, to_numpy
from ..core.representation import Representation
from ._inputs import as_tensor

__all__ = ["collapse_metrics", "CollapseAccumulator"]


def _labels_of(H, labels):
    """``labels``, or the Representation's ``stimuli["labels"]`` when ``labels`` is None."""
    if labels is not None:
        return labels
    if isinstance(H, Representation) and "labels" in H.stimuli:
        return H.stimuli["labels"]
    raise TypeError("labels is required (one class index per row of H), unless H is a Representation with "
                    "stimuli['labels']")


def _check_labels(labels, n_rows: int) -> np.ndarray:
    """Integer class indices, one per row (integral floats accepted; bools, strings, complex refused)."""
    y = to_numpy(labels)
    if y.dtype.kind not in "iuf":
        raise TypeError(f"labels must be integer class indices, got dtype {y.dtype}")
    if y.shape != (n_rows,):
        raise ValueError(f"labels must be 1-D with one entry per row of H ({n_rows}), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("labels must be integers 0..n_classes-1")
    return y.astype(np.int64, copy=False)


class CollapseAccumulator:
    """Streaming neural-collapse statistics. ``update(H, labels)`` for every batch (pass 1), then optionally
    ``update_nc4(H)`` for every batch (pass 2, needs ``W``), then ``result()`` → dict.

    Parameters
    ----------
    n_classes : int >= 2
    W : array-like or tensor (n_classes, d), optional
        Last-layer classifier (rows = classes).
    b : array-like or tensor (n_classes,), optional
        Its bias (needs ``W``).
    """

    def __init__(self, n_classes: int, W=None, b=None):
        self.C = check_int(n_classes, "n_classes", low=2)
        self.W = None if W is None else as_tensor(W, "W", keep_float32=False, what="classes × features")
        if self.W is not None and self.W.shape[0] != self.C:
            raise ValueError(f"W must have one row per class ({self.C}), got shape {tuple(self.W.shape)}")
        self.b = None if b is None else as_tensor(b, "b", ndim=1, keep_float32=False)
        if self.b is not None and (self.W is None or self.b.shape[0] != self.C):
            raise ValueError(f"b needs W and must have length {self.C}")
        self.n = None
        self._agree = 0
        self._n4 = 0

    def update(self, H, labels=None) -> "CollapseAccumulator":
        """Add a batch: features ``H`` (n × d; array, tensor or Representation) and their class ``labels``
        (from ``H.stimuli["labels"]`` when None and ``H`` is a Representation)."""
        labels = _labels_of(H, labels)
        h = as_tensor(H, "H", keep_float32=False, what="samples × features")
        y = _check_labels(labels, h.shape[0])
        if y.size and (y.min() < 0 or y.max() >= self.C):
            raise ValueError(f"labels must lie in 0..{self.C - 1}, got range [{y.min()}, {y.max()}]")
        if self.n is None:
            d = h.shape[1]
            self.shift = h.mean(0)
            self.n = torch.zeros(self.C, dtype=h.dtype, device=h.device)
            self.s = torch.zeros(self.C, d, dtype=h.dtype, device=h.device)
            self.S = torch.zeros(d, d, dtype=h.dtype, device=h.device)
            self.sq = torch.zeros(self.C, dtype=h.dtype, device=h.device)
        elif h.shape[1] != self.s.shape[1]:
            raise ValueError("all batches must have the same feature dimension")
        h = h.to(self.s.device, self.s.dtype) - self.shift
        yi = torch.as_tensor(y, device=h.device)
        self.n.index_add_(0, yi, torch.ones(len(y), dtype=h.dtype, device=h.device))
        self.s.index_add_(0, yi, h)
        self.S += h.T @ h
        self.sq.index_add_(0, yi, (h * h).sum(1))
        return self

    def means(self) -> torch.Tensor:
        if self.n is None:
            raise ValueError("no data: call update() first")
        present = self.n > 0
        if int(present.sum()) < 2:
            raise ValueError("labels contain fewer than two classes; neural-collapse metrics need >= 2")
        if not bool(present.all()):
            raise ValueError(f"classes {torch.nonzero(~present).flatten().tolist()} have no samples")
        return self.s / self.n[:, None] + self.shift

    def update_nc4(self, H) -> "CollapseAccumulator":
        if self.W is None:
            raise ValueError("NC4 needs the classifier W")
        mu = self.means()
        h = as_tensor(H, "H", keep_float32=False, what="samples × features").to(mu.device, mu.dtype)
        logits = h @ self.W.to(h).T + (0 if self.b is None else self.b.to(h))
        ncc = torch.cdist(h, mu).argmin(1)
        self._agree += int((logits.argmax(1) == ncc).sum())
        self._n4 += h.shape[0]
        return self

    def result(self) -> dict:
        mu = self.means() - self.shift            # shifted class means
        N = float(self.n.sum())
        C = self.C
        muG = self.s.sum(0) / N
        Sw = (self.S - (self.s.T * (1.0 / self.n)) @ self.s) / N        # Σ_W
        Mbar = mu - muG
        Sb = Mbar.T @ Mbar / C
        nc1 = float(torch.trace(Sw @ torch.linalg.pinv(Sb, hermitian=True)) / C)
        norms = torch.linalg.norm(Mbar, dim=1)
        if float(norms.min()) == 0:
            raise ValueError("a class mean equals the global mean; NC2 angles are undefined")
        cos = (Mbar / norms[:, None]) @ (Mbar / norms[:, None]).T
        off = ~torch.eye(C, dtype=torch.bool, device=cos.device)
        G = Mbar @ Mbar.T
        etf = (torch.eye(C, dtype=G.dtype, device=G.device) - 1.0 / C) / (C - 1) ** 0.5
        res = {
            "nc1": nc1,
            "nc2_equinorm": float(norms.std(unbiased=False) / norms.mean()),
            "nc2_equiangular": float(cos[off].std(unbiased=False)),
            "nc2_maxangle": float((cos[off] + 1.0 / (C - 1)).abs().mean()),
            "nc2_etf_error": float(torch.linalg.norm(G / torch.linalg.norm(G) - etf)),
        }
        var = (self.sq - (self.s * self.s).sum(1) / self.n) / self.n      # Var_c = E‖h - μ_c‖²
        dist2 = torch.cdist(mu, mu) ** 2
        cd = (var[:, None] + var[None, :]) / (2 * dist2.clamp_min(1e-300))
        res["cdnv"] = float(cd[off].mean())
        res["within_class_variance"] = float(torch.trace(Sw))
        if self.W is not None:
            W = self.W.to(Mbar)
            wn = torch.linalg.norm(W, dim=1)
            res["nc2_equinorm_W"] = float(wn.std(unbiased=False) / wn.mean())
            GW = W @ W.T
            res["nc2_etf_error_W"] = float(torch.linalg.norm(GW / torch.linalg.norm(GW) - etf))
            res["nc3"] = float(torch.linalg.norm(W / torch.linalg.norm(W) - Mbar / torch.linalg.norm(Mbar)) ** 2)
        if self._n4:
            res["nc4"] = self._agree / self._n4
        return res


def collapse_metrics(H, labels=None, W=None, b=None, n_classes: int | None = None) -> dict:
    """Neural-collapse metrics NC1–NC4 and CDNV of features ``H`` (n × d) with integer ``labels``
    (see the module docstring for the definitions and sources).

    Parameters
    ----------
    H : array-like, torch.Tensor or Representation (n_samples, d)
        Last-layer features (rows = samples).
    labels : array-like (n_samples,), optional
        Class indices 0..C-1. May be omitted when ``H`` is a Representation with ``stimuli["labels"]``.
    W, b : optional
        Last-layer classifier (C × d) and bias (C,).
    n_classes : int >= 2, optional
        C (default: max label + 1).

    Returns
    -------
    dict of float
        The NC3/NC4 and classifier-side NC2 entries appear only when ``W`` is given.
    """
    labels = _labels_of(H, labels)
    h = as_tensor(H, "H", min_rows=2, keep_float32=False, what="samples × features")
    y = _check_labels(labels, h.shape[0])
    if np.unique(y).size < 2:
        raise ValueError("labels contain a single class; neural-collapse metrics need at least two classes")
    C = check_int(n_classes, "n_classes", low=2) if n_classes is not None else int(y.max()) + 1
    acc = CollapseAccumulator(C, W, b).update(h, y)
    if W is not None:
        acc.update_nc4(h)
    return acc.result()
