"""One array adapter for the whole library: validation at the boundary, NumPy in → NumPy out, torch in → torch out.

Rules (the same for every public entry point):

* **Accepted**: real floating arrays (float32, float64), integer and unsigned arrays (converted to float64),
  nested lists / tuples of numbers, torch tensors of those dtypes, and :class:`simcode.Representation`
  (its ``Z``).
* **Rejected with** :class:`TypeError`: ``None``, strings, object arrays, booleans, complex numbers,
  float16 / bfloat16 (too little precision for the solvers), and anything that is not numeric.
* **Rejected with** :class:`ValueError`: the wrong number of dimensions, too few rows or columns, empty input,
  NaN or infinite entries.

Every message starts with the argument's name and says what was expected, e.g.
``"X must be a 2-D array (samples × features), got shape (3,)"``.

``dtype="float64"`` (the default) returns float64; ``dtype="floating"`` keeps float32 input as float32 (the
torch solvers and the GPU paths use it) and converts everything else to float64.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["check_array", "check_tensor", "is_tensor", "ArrayKind", "check_number", "check_int",
           "check_bool", "check_option", "check_random_state", "resolve_device", "to_numpy", "torch_dtype",
           "dtype_error"]

_NDIM_WORDS = {0: "scalar", 1: "1-D array", 2: "2-D array", 3: "3-D array", 4: "4-D array"}


def is_tensor(x) -> bool:
    """True for a ``torch.Tensor`` (without importing torch when it is not loaded)."""
    mod = type(x).__module__
    if not mod.startswith("torch"):
        return False
    import torch

    return isinstance(x, torch.Tensor)


def _unwrap(x):
    from .representation import Representation

    if isinstance(x, Representation):
        return x.Z
    return x


def dtype_error(name: str, dtype) -> TypeError:
    """The ``TypeError`` (not raised) for an array argument ``name`` of an unsupported dtype, in the library's words."""
    kind = getattr(dtype, "kind", None)
    text = str(dtype)
    if kind == "c" or "complex" in text:
        why = "complex values are not supported (pass the real part explicitly if that is what you mean)"
    elif kind == "b" or text in ("bool", "torch.bool"):
        why = "boolean arrays are not numbers here (convert with .astype(float) if you mean 0/1)"
    elif text in ("float16", "torch.float16", "torch.bfloat16", "bfloat16"):
        why = "half precision loses too much accuracy; use float32 or float64"
    else:
        why = "expected real numbers (float32, float64 or integers)"
    return TypeError(f"{name} has dtype {dtype}: {why}")


def _shape_checks(shape, name: str, ndim, min_rows: int, min_cols: int, allow_empty: bool, what: str):
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if len(shape) not in dims:
            words = " or ".join(_NDIM_WORDS.get(d, f"{d}-D array") for d in dims)
            extra = f" ({what})" if what else ""
            raise ValueError(f"{name} must be a {words}{extra}, got shape {tuple(shape)}")
    if len(shape) >= 1 and shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s), got shape {tuple(shape)}")
    if len(shape) >= 2 and shape[1] < min_cols:
        raise ValueError(f"{name} must have at least {min_cols} column(s), got shape {tuple(shape)}")
    if not allow_empty and len(shape) >= 1 and int(np.prod(shape)) == 0:
        raise ValueError(f"{name} is empty (shape {tuple(shape)})")


def check_array(x, name: str = "X", *, ndim=None, dtype: str = "float64", min_rows: int = 1, min_cols: int = 1,
                allow_empty: bool = False, allow_nan: bool = False, what: str = "", copy: bool = False) -> np.ndarray:
    """Validate ``x`` and return it as a NumPy array.

    Parameters
    ----------
    x : array-like, torch.Tensor or Representation
        Torch tensors are moved to the CPU (use :func:`check_tensor` to keep them on their device).
    name : str
        The argument's name, used in every error message.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    dtype : {"float64", "floating"}
        ``"floating"`` keeps float32 as float32.
    min_rows, min_cols : int
        Smallest allowed ``shape[0]`` / ``shape[1]``.
    allow_empty, allow_nan : bool
        Accept zero-size arrays / non-finite values.
    what : str
        Words describing the expected layout, appended to the dimension error ("samples × features").
    copy : bool
        Always return a fresh array.
    """
    x = _unwrap(x)
    if x is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a string")
    if is_tensor(x):
        if x.is_complex() or not (x.is_floating_point() or x.dtype.is_signed or str(x.dtype) == "torch.uint8"):
            raise dtype_error(name, x.dtype)
        if str(x.dtype) in ("torch.float16", "torch.bfloat16"):
            raise dtype_error(name, x.dtype)
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise ValueError(f"{name} must be a rectangular array of numbers: {exc}") from None
    kind = a.dtype.kind
    if kind in "OUSV" or kind == "M" or kind == "m":
        if kind == "O":
            try:
                a = np.asarray(a.tolist(), dtype=np.float64) if a.size else a.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"{name} must be an array of numbers, got dtype object") from None
            kind = "f"
        else:
            raise TypeError(f"{name} must be an array of numbers, got dtype {a.dtype}")
    if kind in "cb" or a.dtype == np.float16 or (kind == "f" and a.dtype.itemsize > 8):
        raise dtype_error(name, a.dtype)
    if dtype == "floating" and a.dtype == np.float32:
        out = np.array(a, copy=True) if copy else a
    elif dtype in ("float64", "floating"):
        out = np.array(a, dtype=np.float64, copy=True) if copy else np.asarray(a, dtype=np.float64)
    else:
        raise ValueError(f"dtype must be 'float64' or 'floating', got {dtype!r}")
    _shape_checks(out.shape, name, ndim, min_rows, min_cols, allow_empty, what)
    if not allow_nan and out.size and not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return out


def check_tensor(x, name: str = "X", *, device=None, dtype=None, ndim=None, min_rows: int = 1, min_cols: int = 1,
                 allow_empty: bool = False, allow_nan: bool = False, what: str = ""):
    """Validate ``x`` (same rules as :func:`check_array`) and return a torch tensor.

    A tensor keeps its device and its float dtype unless ``device`` / ``dtype`` say otherwise; NumPy input
    becomes a tensor on ``device`` (default CPU) with ``dtype`` (default: float32 stays float32, everything else
    float64). The tensor is detached; no copy is made when none is needed.
    """
    import torch

    x = _unwrap(x)
    if is_tensor(x):
        if x.is_complex() or x.dtype == torch.bool or x.dtype in (torch.float16, torch.bfloat16):
            raise dtype_error(name, x.dtype)
        t = x.detach()
        if not t.is_floating_point():
            t = t.to(torch.float64)
        _shape_checks(tuple(t.shape), name, ndim, min_rows, min_cols, allow_empty, what)
        if not allow_nan and t.numel() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    else:
        a = check_array(x, name, ndim=ndim, dtype="floating", min_rows=min_rows, min_cols=min_cols,
                        allow_empty=allow_empty, allow_nan=allow_nan, what=what)
        t = torch.from_numpy(np.ascontiguousarray(a))
    if dtype is not None or device is not None:
        t = t.to(device=device if device is not None else t.device, dtype=dtype if dtype is not None else t.dtype)
    return t


def to_numpy(x) -> np.ndarray:
    """A NumPy view/copy of an array or tensor (CPU, detached)."""
    if is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


@dataclass(frozen=True)
class ArrayKind:
    """Remembers what the caller passed, to return results of the same kind.

    ``ArrayKind.of(X).wrap(result)``: NumPy input → NumPy output; torch input → torch output on the input's
    device (with the input's float dtype when ``keep_dtype``).
    """

    torch: bool
    device: str = "cpu"
    dtype: str = "float64"

    @classmethod
    def of(cls, x) -> "ArrayKind":
        x = _unwrap(x)
        if is_tensor(x):
            dt = str(x.dtype).replace("torch.", "")
            return cls(True, str(x.device), dt if dt in ("float32", "float64") else "float64")
        dt = getattr(x, "dtype", None)
        return cls(False, "cpu", "float32" if dt == np.float32 else "float64")

    def wrap(self, a, *, keep_dtype: bool = False):
        if a is None:
            return None
        if self.torch:
            import torch

            t = a if is_tensor(a) else torch.as_tensor(np.asarray(a))
            if keep_dtype and t.is_floating_point():
                t = t.to(getattr(torch, self.dtype))
            return t.to(self.device)
        out = to_numpy(a)
        if keep_dtype and out.dtype.kind == "f":
            out = out.astype(self.dtype, copy=False)
        return out


# ----------------------------------------------------------------------------------------------------------
# scalars
# ----------------------------------------------------------------------------------------------------------
def _is_real_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def check_number(value, name: str, *, low=None, high=None, low_inclusive: bool = True,
                 high_inclusive: bool = True, allow_none: bool = False) -> float | None:
    """A finite real number in the given interval, as ``float``; bools, strings and NaN are refused.

    0-d NumPy arrays and one-element tensors are accepted (``float(x)``).
    """
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{name} must be a real number, got None")
    v = value
    if is_tensor(v) or isinstance(v, np.ndarray):
        if getattr(v, "ndim", 1) != 0 and getattr(v, "numel", lambda: v.size)() != 1:
            raise TypeError(f"{name} must be a real number, got an array of shape {tuple(v.shape)}")
        if str(v.dtype).endswith(("bool", "complex64", "complex128")) or getattr(v.dtype, "kind", "") in ("b", "c"):
            raise TypeError(f"{name} must be a real number, got dtype {v.dtype}")
        v = v.item()
    if not _is_real_number(v):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(v)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (v < low or (v == low and not low_inclusive)):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}")
    if high is not None and (v > high or (v == high and not high_inclusive)):
        raise ValueError(f"{name} must be {'<=' if high_inclusive else '<'} {high}, got {value!r}")
    return v


def check_int(value, name: str, *, low=None, high=None, allow_none: bool = False) -> int | None:
    """An integer (Python or NumPy; a float is refused, bools too) in ``[low, high]``."""
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{name} must be an integer, got None")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {v}")
    return v


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_option(value, name: str, options) -> str:
    """One of a fixed set of strings."""
    opts = tuple(options)
    if not isinstance(value, str) or value not in opts:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, opts))}; got {value!r}")
    return value


def check_random_state(seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from None, an int, a Generator or a RandomState."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_))):
        if seed is not None and int(seed) < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {seed}")
        return np.random.default_rng(seed)
    raise ValueError(f"random_state must be None, an int or a numpy Generator, got {type(seed).__name__}")


def resolve_device(device="auto", *arrays) -> str:
    """The torch device to compute on.

    ``"auto"`` (the library's one default) computes where the data live: the device of the first torch tensor
    among ``arrays``, else the CPU (NumPy data never move to a GPU unasked: simcode's compiled CPU kernels are
    its fastest path for them, and a small problem loses more to the transfer than it gains). Explicit
    ``"cpu"``, ``"cuda"``, ``"cuda:i"`` (or a ``torch.device``) are validated; asking for CUDA without it is a
    ``ValueError``. ``None`` means ``"auto"``.
    """
    if device is None or device == "auto":
        for a in arrays:
            a = _unwrap(a)
            if is_tensor(a):
                return str(a.device)
        return "cpu"
    dev = str(device)
    if dev.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} requested but CUDA is not available")
    elif dev != "cpu":
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}")
    return dev


def torch_dtype(dtype):
    """``None`` (keep the input's float type), or ``torch.float32`` / ``torch.float64`` from a torch, NumPy or string
    spelling; any other type is a ``TypeError``."""
    if dtype is None:
        return None
    import torch

    if isinstance(dtype, torch.dtype):
        name = str(dtype).replace("torch.", "")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = repr(dtype)
    if name not in ("float32", "float64"):
        raise TypeError(f"dtype must be None, float32 or float64, got {dtype!r}")
    return getattr(torch, name)
