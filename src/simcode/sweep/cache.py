"""The resumable sweep cache: one JSON file per finished point, written atomically by the driver."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .grid import canonical
from .seeds import entropy_of, fn_name

__all__ = ["META", "atomic_write_json", "open_cache", "load_cached"]

META = "_sweep.json"


def atomic_write_json(path: Path, obj) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, allow_nan=True)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def open_cache(cache_dir, fn, random_state) -> tuple[Path, int]:
    """Create/check the cache folder; returns it and the seed entropy (kept there when random_state=None)."""
    path = Path(cache_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cache_dir {str(cache_dir)!r} cannot be created: {exc}") from None
    meta_path = path / META
    meta = None
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = None
    name = fn_name(fn)
    if meta is not None and meta.get("fn") != name:
        raise ValueError(f"cache_dir {str(cache_dir)!r} holds points of {meta.get('fn')!r}, not {name!r}; "
                         "use another cache_dir")
    entropy = entropy_of(random_state)
    if entropy is None:
        entropy = meta.get("entropy_for_none") if meta and meta.get("entropy_for_none") is not None \
            else int(np.random.SeedSequence().entropy % 2**63)
    new_meta = dict(meta or {}, fn=name)
    if random_state is None:
        new_meta["entropy_for_none"] = entropy
    if new_meta != meta:
        atomic_write_json(meta_path, new_meta)
    return path, entropy


def load_cached(path: Path, point: dict, entropy: int):
    try:
        rec = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        warnings.warn(f"ignoring unreadable sweep cache file {path} ({exc}); the point is re-run", stacklevel=4)
        return None
    if rec.get("point") != json.loads(canonical(point)) or rec.get("entropy") != entropy:
        return None
    return rec
