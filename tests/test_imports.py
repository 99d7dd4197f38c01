"""The package's import graph has no cycle.

Every module of ``rince_sklearn/`` is parsed with :mod:`ast`; each import of
another ``rince_sklearn`` module (absolute or relative, at module level or
inside a function) is an edge. Importing ``a.b.c`` also runs the package
``a.b``'s ``__init__`` first, so an import of a module in another package adds
an edge to that package too (a module's own enclosing packages are already
being imported and add none). Imports under ``if TYPE_CHECKING:`` do not run
and are left out. A function-local import does not make a cycle harmless: it
only hides it, so it counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "rince_sklearn"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: cycles that another piece of work removes; each entry is the cycle's modules
#: as a frozenset. Delete an entry when its cycle is gone (the test then fails
#: if it comes back).
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_files() -> dict[str, Path]:
    """``{"rince_sklearn.x.y": path}`` for every module of the package."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST):
    """Yield the import statements that run (skipping ``TYPE_CHECKING`` blocks)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking_block(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that importing module ``name`` runs, directly."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        if node.level:
            base_parts = package.split(".")
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        targets.add(base)
        for alias in node.names:  # ``from pkg import submodule``
            if f"{base}.{alias.name}" in modules:
                targets.add(f"{base}.{alias.name}")
    edges = set()
    own = set(_ancestors(name))
    for target in targets:
        if target != PACKAGE and not target.startswith(PACKAGE + "."):
            continue
        while target not in modules:  # ``import pkg.mod.attr`` forms
            target = target.rpartition(".")[0]
        for module in [*_ancestors(target), target]:
            if module not in own and module != name and module in modules:
                edges.add(module)
    return edges


def import_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}`` for the whole package."""
    modules = module_files()
    return {
        name: imported_modules(name, path, modules) for name, path in modules.items()
    }


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return one cycle (as a path ``a -> b -> ... -> a``) per strongly connected
    component of more than one module (Tarjan's algorithm), or a self-import."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_path(graph, component) for component in components]


def _cycle_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, as a path."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph[node] & component):
                if succ == start:
                    return [*paths[node], start]
                if succ not in paths:
                    paths[succ] = [*paths[node], succ]
                    following.append(succ)
        frontier = following
    raise AssertionError("a strongly connected component without a cycle")


# -- the check itself ------------------------------------------------------------
def test_the_package_has_no_import_cycle():
    cycles = find_cycles(import_graph())
    unexpected = [c for c in cycles if frozenset(c) not in KNOWN_CYCLES]
    assert not unexpected, "Import cycles in rince_sklearn/: " + "; ".join(
        " -> ".join(cycle) for cycle in unexpected
    )


def test_known_cycles_are_still_there():
    """An allow-list entry whose cycle is gone must be deleted (so it cannot hide a
    new cycle among the same modules later)."""
    cycles = {frozenset(c) for c in find_cycles(import_graph())}
    stale = [sorted(known) for known in KNOWN_CYCLES if known not in cycles]
    assert not stale, f"Cycles fixed, delete them from KNOWN_CYCLES: {stale}"


# -- the checker finds what it should (so that a pass means something) -----------
def _write_package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    modules = {}
    for relative, text in files.items():
        path = tmp_path / PACKAGE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        parts = list(Path(relative).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([PACKAGE, *parts])] = path
    return modules


@pytest.mark.parametrize(
    "files, expected",
    [
        # a function-local import still closes a cycle
        (
            {
                "__init__.py": "",
                "a.py": "from .b import f\n",
                "b.py": "def f():\n    from .a import g\n",
            },
            {"rince_sklearn.a", "rince_sklearn.b"},
        ),
        # importing a submodule runs its package's __init__, which imports back
        (
            {
                "__init__.py": "",
                "graphs.py": "import rince_sklearn.modalities.graph\n",
                "modalities/__init__.py": "from .graph import G\n",
                "modalities/graph.py": "from ..graphs import pack\n",
            },
            {"rince_sklearn.graphs", "rince_sklearn.modalities.graph"},
        ),
        # ``from package import submodule``
        (
            {
                "__init__.py": "",
                "x.py": "from . import y\n",
                "y.py": "from rince_sklearn import x\n",
            },
            {"rince_sklearn.x", "rince_sklearn.y"},
        ),
        # a package importing its own submodules is not a cycle, nor are
        # TYPE_CHECKING imports or other packages' imports
        (
            {
                "__init__.py": "from .a import A\n",
                "a.py": (
                    "from typing import TYPE_CHECKING\nimport numpy\n"
                    "from . import b\nif TYPE_CHECKING:\n    from .c import C\n"
                ),
                "b.py": "",
                "c.py": "from .a import A\n",
            },
            None,
        ),
    ],
)
def test_the_checker_finds_cycles(tmp_path, files, expected):
    modules = _write_package(tmp_path, files)
    graph = {
        name: imported_modules(name, path, modules) for name, path in modules.items()
    }
    cycles = find_cycles(graph)
    if expected is None:
        assert cycles == []
    else:
        assert [set(cycle) for cycle in cycles] == [expected]
        assert cycles[0][0] == cycles[0][-1]  # a closed path, for the message
