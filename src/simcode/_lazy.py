"""Lazy re-export of public names from a package's submodules (keeps ``import simcode`` fast)."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, submodules: tuple[str, ...]):
    """Return ``(__getattr__, __dir__)`` that look a name up in ``submodules`` on first use.

    A name is found in the first submodule whose ``__all__`` lists it; submodules that do not exist
    (yet) are skipped, so a package can grow without editing its ``__init__``.
    """

    cache: dict[str, object] = {}

    def _modules():
        for sub in submodules:
            try:
                yield importlib.import_module(f"{package}.{sub}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{sub}":
                    raise

    def __getattr__(name: str):
        if name in cache:
            return cache[name]
        if name == "__all__":  # supports ``from package import *``
            return __dir__()
        if name.startswith("__"):
            raise AttributeError(name)
        for mod in _modules():
            if name in getattr(mod, "__all__", ()):
                cache[name] = getattr(mod, name)
                return cache[name]
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        names = set()
        for mod in _modules():
            names.update(getattr(mod, "__all__", ()))
        return sorted(names)

    return __getattr__, __dir__
