"""The package layout keeps its promises (read from the source with ``ast``, independent of the imports).

* no import cycle between simcode's modules (module-level imports);
* no private name (``_x``) imported from another module;
* no sub-module named after a function it exports (``similarity/rsa.py`` exporting ``rsa``);
* a public name is exported by one sub-module of its package only (no silent shadowing);
* only ``cli``, ``report`` and ``experiments`` import from ``experiments``, ``report`` or ``cli``;
* every package declares its exports in ``__init__.py`` (explicit, checked here by importing each name).
"""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "simcode"


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        yield ".".join(parts), path, is_pkg


MODULES = {name: (path, is_pkg) for name, path, is_pkg in _modules()}


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, top_level_only: bool):
    path, is_pkg = MODULES[module]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_pkg, node)
            for alias in node.names:
                yield target, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def _target_module(target: str, name: str | None) -> str | None:
    if name and f"{target}.{name}" in MODULES:
        return f"{target}.{name}"
    return target if target in MODULES else None


def test_no_import_cycles():
    graph = {m: set() for m in MODULES}
    for m in MODULES:
        for target, name in _imports(m, top_level_only=True):
            t = _target_module(target, name)
            if t and t != m and t.startswith("simcode"):
                # importing a package runs its __init__; a sub-module importing its own package's __init__
                # (for a sibling) is not a cycle through code, so edges go to the defining module
                graph[m].add(t)
    # a package __init__ re-exporting its sub-modules is the only allowed back edge
    for m, (_, is_pkg) in MODULES.items():
        if is_pkg:
            graph[m] = {t for t in graph[m] if not t.startswith(m + ".")} | {
                t for t in graph[m] if t.startswith(m + ".")}
    cycles = []
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if MODULES[nxt][1] and node.startswith(nxt + "."):
                continue  # a sub-module importing from its own package's __init__
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for m in graph:
        if m not in state:
            visit(m, [])
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_name_imported_from_another_module():
    bad = []
    for m in MODULES:
        for target, name in _imports(m, top_level_only=False):
            if not target.startswith("simcode") or name is None:
                continue
            if name.startswith("_") and not name.startswith("__") and f"{target}.{name}" not in MODULES:
                bad.append(f"{m} imports {name} from {target}")
    assert not bad, "\n".join(bad)


def _all_of(path: Path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            try:
                return list(ast.literal_eval(node.value))
            except ValueError:
                return None
    return None


def test_no_submodule_named_after_a_function_it_exports():
    bad = []
    for m, (path, is_pkg) in MODULES.items():
        short = m.rsplit(".", 1)[-1]
        names = _all_of(path) or []
        if not is_pkg and short in names:
            bad.append(m)
    assert not bad, f"sub-modules named after the function they export: {bad}"


PACKAGES = sorted(m for m, (_, is_pkg) in MODULES.items() if is_pkg and m.count(".") == 1)


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_are_exported_once_and_importable(package):
    owners: dict[str, list[str]] = {}
    for m, (path, is_pkg) in MODULES.items():
        if m.startswith(package + ".") and m.count(".") == package.count(".") + 1 and not is_pkg:
            if m.rsplit(".", 1)[-1].startswith("_"):
                continue
            for name in _all_of(path) or []:
                owners.setdefault(name, []).append(m)
    dup = {k: v for k, v in owners.items() if len(v) > 1}
    assert not dup, f"public names exported by several sub-modules of {package}: {dup}"
    pkg = importlib.import_module(package)
    for name in getattr(pkg, "__all__", []):
        assert getattr(pkg, name) is not None


def test_only_the_top_layers_import_the_top_layers():
    top = ("simcode.experiments", "simcode.report", "simcode.cli")
    bad = []
    for m in MODULES:
        if m.startswith(top):
            continue
        for target, name in _imports(m, top_level_only=False):
            t = _target_module(target, name) or target
            if t.startswith(top):
                bad.append(f"{m} imports {t}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", PACKAGES)
def test_the_export_table_lists_every_public_name_of_its_sub_modules(package):
    init = MODULES[package][0]
    tree = ast.parse(init.read_text())
    table = None
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "submod_attrs":
            table = ast.literal_eval(node.value)
    if table is None:
        pytest.skip(f"{package} has no lazy export table")
    for sub, names in table.items():
        declared = _all_of(MODULES[f"{package}.{sub}"][0])
        assert sorted(names) == sorted(declared), f"{package}.{sub}: table {names} != __all__ {declared}"
    pkg = importlib.import_module(package)
    for sub, names in table.items():
        mod = importlib.import_module(f"{package}.{sub}")
        for name in names:
            assert getattr(pkg, name) is getattr(mod, name)
