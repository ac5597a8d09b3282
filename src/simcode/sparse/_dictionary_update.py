r"""Compiled (numba) unit-norm dictionary update: exact block-coordinate minimisation over atoms.

Used by :func:`simcode.sparse.dictionary.update_dictionary` on CPU data (the per-atom torch loop costs about ten
small kernel launches per atom).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__: list[str] = []


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc", "nsz"})
def dict_bcd_unit_norm(D, A, B, sweeps):
    r"""In place: ``sweeps`` passes of exact block-coordinate minimisation over atoms with ‖d_k‖ ≤ 1.

    :math:`d_k \leftarrow \Pi_{\|\cdot\|\le 1}\big(d_k + (B_k - A_k D)/A_{kk}\big)` for k = 1..K (Mairal, Bach,
    Ponce & Sapiro 2010, Alg. 2), with :math:`A = Z^\top Z/n`, :math:`B = Z^\top X/n`; atoms with
    :math:`A_{kk} \le 0` (unused) are left as they are. ``D`` (K × p), ``A`` (K × K), ``B`` (K × p), float64.
    """
    K, p = D.shape
    g = np.empty(p)
    for _ in range(sweeps):
        for k in range(K):
            akk = A[k, k]
            if akk <= 0.0:
                continue
            for f in range(p):
                g[f] = B[k, f]
            for m in range(K):
                amk = A[k, m]
                if amk != 0.0:
                    for f in range(p):
                        g[f] -= amk * D[m, f]
            nrm = 0.0
            for f in range(p):
                v = D[k, f] + g[f] / akk
                D[k, f] = v
                nrm += v * v
            nrm = np.sqrt(nrm)
            if nrm > 1.0:
                for f in range(p):
                    D[k, f] /= nrm
