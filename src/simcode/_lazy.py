"""Lazy re-export of public names from a package's submodules (keeps ``import simcode`` fast)."""

from __future__ import annotations

import importlib
import sys
import types


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

    # A submodule and the function it exports may share a name (``sparse.fista``, ``similarity.rsa``).
    # Importing the submodule binds the package attribute to the module; this class makes attribute
    # access on the package return the exported function instead (the module stays in sys.modules).
    sys.modules[package].__class__ = _PackageModule
    return __getattr__, __dir__


class _PackageModule(types.ModuleType):
    def __getattribute__(self, name):
        value = super().__getattribute__(name)
        if isinstance(value, types.ModuleType) and not name.startswith("_"):
            pkg = super().__getattribute__("__name__")
            if value.__name__ == f"{pkg}.{name}" and name in getattr(value, "__all__", ()):
                return getattr(value, name)
        return value
