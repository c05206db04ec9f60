"""No import cycles among the project's modules (``workflow``, ``tasks``, ``config``).

A cycle makes what a module holds depend on which of its partners was imported first,
and an import hidden in a function to get round one is still a cycle. So the graph is
read from the source with ``ast``, without importing anything, and every import
counts: at module level, in a function, under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("workflow", "tasks", "config")

Graph = Mapping[str, set[str]]


def module_files() -> dict[str, Path]:
    """Every module of the project's packages by its dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_modules(module: str, path: Path, files: Mapping[str, Path]) -> Iterator[str]:
    """The project modules ``module`` imports, wherever the import statement is: for
    ``from a import b`` the module ``a.b`` if there is one, else ``a``. (A package's
    ``__init__`` that runs first as a parent is not counted: it imports nothing back.)"""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in statements(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                if path.name != "__init__.py":
                    anchor.pop()
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                for alias in node.names
            ]
        else:
            continue
        yield from (name for name in names if name in files and name != module)


def statements(node: ast.AST) -> Iterator[ast.AST]:
    """Every statement in ``node``, nested ones too (in functions, classes, branches,
    ``try`` and ``with`` blocks), without the expressions that make up most of a tree:
    an import is always a statement."""
    for block in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, block, ()):
            yield child
            yield from statements(child)


def import_graph(files: Mapping[str, Path]) -> dict[str, set[str]]:
    """Each project module and the project modules it imports."""
    return {module: set(imported_modules(module, path, files)) for module, path in files.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle, as ``[a, b, ..., a]``, through each group of modules that import each
    other (a strongly connected component, by Tarjan's algorithm); none if there is none."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = lowest[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                lowest[node] = min(lowest[node], lowest[target])
            elif target in on_stack:
                lowest[node] = min(lowest[node], index[target])
        if lowest[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(graph, group) for group in groups]


def _cycle_through(graph: Graph, group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, within the group."""
    start = min(group)
    came_from: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph.get(node, set()) & group):
                if target == start:
                    path = [node]
                    while (previous := came_from[path[-1]]) is not None:
                        path.append(previous)
                    return [*reversed(path), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(group)} is not a cycle")  # pragma: no cover


@cache
def project_graph() -> dict[str, set[str]]:
    files = module_files()
    assert "workflow.domain.release" in files and "tasks.app" in files
    return import_graph(files)


def test_the_project_has_no_import_cycle() -> None:
    found = cycles(project_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_nothing_imports_the_worker_entry_point() -> None:
    """``tasks.app`` builds the worker's Celery app when Celery imports it; were a module
    to import it, importing that module would build the app too."""
    graph = project_graph()
    assert [module for module, imported in graph.items() if "tasks.app" in imported] == []


def test_a_cycle_is_found_and_named() -> None:
    graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},
        "d": set(),
        "e": {"e"},
        "f": {"d"},
    }
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_imports_in_functions_and_relative_imports_count(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from .one import thing\n")
    (package / "one.py").write_text(
        "def thing():\n    try:\n        pass\n    except ImportError:\n        from pkg import two\n"
    )
    (package / "two.py").write_text("import pkg.one\n")
    files = {
        "pkg": package / "__init__.py",
        "pkg.one": package / "one.py",
        "pkg.two": package / "two.py",
    }
    graph = import_graph(files)
    assert graph == {"pkg": {"pkg.one"}, "pkg.one": {"pkg.two"}, "pkg.two": {"pkg.one"}}
    assert cycles(graph) == [["pkg.one", "pkg.two", "pkg.one"]]
