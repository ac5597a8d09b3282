"""Input validation and output typing shared by the similarity analyses, on top of :mod:`simcode.core.arrays`.

Every analysis validates its responses with :func:`simcode.core.check_tensor` (through :func:`as_tensor` /
:func:`paired` here), computes in torch (so CUDA tensors stay on their GPU) and returns through
:func:`output`:

* NumPy (or list, or a :class:`simcode.Representation` of NumPy) in → NumPy out, scalars as Python ``float``;
* torch in → torch out on the input's device (0-d tensors for scalars).

Precision: torch input is computed in its own float dtype. NumPy float32 input stays float32 where the result is
an array of the input's size (``gram``, ``center``, ``rdm``); analyses that reduce to a statistic (``cka``,
``procrustes`` …) read NumPy input as float64, as they always did, so no accuracy is lost for a Python float.
"""

from __future__ import annotations

import torch

from ..core.arrays import ArrayKind, check_int, check_tensor, is_tensor
from ..core.representation import Representation

__all__: list[str] = []

KERNELS = ("linear", "rbf", "cosine")


def unwrap(x):
    """The responses Z of a Representation, anything else unchanged."""
    return x.Z if isinstance(x, Representation) else x


def as_tensor(x, name: str, *, ndim=2, min_rows: int = 1, keep_float32: bool = True, allow_nan: bool = False,
              what: str = "") -> torch.Tensor:
    """``x`` validated as a floating torch tensor (see the module docstring for the dtype rule).

    ``keep_float32=False`` reads NumPy float32 as float64 (torch tensors always keep their dtype).
    """
    x = unwrap(x)
    t = check_tensor(x, name, ndim=ndim, min_rows=min_rows, allow_nan=allow_nan, what=what)
    if not keep_float32 and t.dtype == torch.float32 and not is_tensor(x):
        t = t.double()
    return t


def kind_of(*xs) -> ArrayKind:
    """What to return: torch (on that tensor's device) when any input is a tensor, else NumPy."""
    for x in xs:
        x = unwrap(x)
        if is_tensor(x):
            return ArrayKind.of(x)
    return ArrayKind.of(unwrap(xs[0]))


def output(value, kind: ArrayKind):
    """``value`` (a tensor) as the caller's kind: NumPy array / Python float, or the tensor itself."""
    if kind.torch:
        return value
    if value.ndim == 0:
        return float(value.item())
    return value.detach().cpu().numpy()


def paired(X, Y, nx: str = "X", ny: str = "Y", min_rows: int = 2, keep_float32: bool = False):
    """Validate two representations of the same stimuli (rows); tensors on a common device and dtype."""
    x = as_tensor(X, nx, min_rows=min_rows, keep_float32=keep_float32, what="stimuli × features")
    y = as_tensor(Y, ny, min_rows=min_rows, keep_float32=keep_float32, what="stimuli × features")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{nx} and {ny} must have the same number of stimuli (rows), got "
                         f"{x.shape[0]} and {y.shape[0]}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    dev = x.device if x.device.type != "cpu" else y.device
    return x.to(dev, dtype), y.to(dev, dtype)


def center_columns(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(dim=0, keepdim=True)


def check_variance(x: torch.Tensor, name: str) -> None:
    """Raise when a representation is constant across stimuli (all rows equal to 1e-12 relative).

    One read of ``x`` (column-wise min and max), no n × p temporary.
    """
    lo, hi = torch.aminmax(x, dim=0)
    scale = torch.maximum(hi.abs(), lo.abs()).max()
    if float(scale) == 0.0 or float((hi - lo).max()) <= 1e-12 * float(scale):
        raise ValueError(f"{name} has zero variance across stimuli (all rows identical); "
                         "similarity measures are undefined for a constant representation")


def chunk_rows(n: int, chunk_size) -> int:
    """Rows per block: ``chunk_size`` (an int >= 1) or, for None, about 2²⁵ similarity entries per block."""
    if chunk_size is not None:
        return check_int(chunk_size, "chunk_size", low=1)
    return max(1, min(n, (1 << 25) // max(n, 1)))


def center_tensor(K: torch.Tensor, unbiased: bool) -> torch.Tensor:
    """H K H (``unbiased=False``) or the U-centring of Székely & Rizzo (2014) (see ``kernels.center``)."""
    n = K.shape[0]
    if not unbiased:
        rm = K.mean(1, keepdim=True)
        cm = K.mean(0, keepdim=True)
        return K - rm - cm + K.mean()
    if n < 4:
        raise ValueError(f"unbiased (U-)centring needs at least 4 stimuli, got {n}")
    Kt = K.clone()
    Kt.fill_diagonal_(0.0)
    rs = Kt.sum(1, keepdim=True)
    cs = Kt.sum(0, keepdim=True)
    U = Kt - rs / (n - 2) - cs / (n - 2) + Kt.sum() / ((n - 1) * (n - 2))
    U.fill_diagonal_(0.0)
    return U
