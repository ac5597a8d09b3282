"""Estimator input through scikit-learn's ``validate_data`` (or another checker) with messages naming the argument."""

from __future__ import annotations

import numpy as np

from ..core import check_array


def named(fn, *args, name: str = "X", **kwargs):
    """``fn(*args, **kwargs)`` (scikit-learn's ``validate_data`` / ``check_array``, or a library function called on
    an estimator's input under another parameter name) for the argument ``name``.

    Boolean and float16 arrays, which scikit-learn converts silently, are refused first (the library's
    ``TypeError``); a ``TypeError`` / ``ValueError`` of scikit-learn that does not name the argument is re-raised
    with ``"<name>: "`` in front of its message (scikit-learn's own wording is kept, so its estimator checks
    still recognise it).
    """
    x = args[1] if fn.__name__ == "validate_data" else args[0]
    dt = getattr(x, "dtype", None)
    if x is None or (dt is not None and (dt == np.float16 or dt == np.bool_)):
        check_array(x, name)  # raises the library's TypeError naming the argument
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        if msg.startswith(name):
            raise
        raise (ValueError if isinstance(exc, ValueError) else TypeError)(f"{name}: {msg}") from None
