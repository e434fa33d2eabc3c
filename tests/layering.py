"""The layering rules of DESIGN.md §5, checked on source files (no import of the code):

* nothing under ``fusion/`` imports ``apache_beam``, ``click``, ``pipelines`` (the Beam stages
  and the CLI in ``pipelines.cli``);
* no import cycle among ``fusion`` modules.

Every ``import`` counts, also inside functions (a function-local import does not make a cycle
go away, it only hides it), except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

FORBIDDEN = ("apache_beam", "click", "pipelines")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import of a module's AST, relative ones resolved."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno
            yield base, node.lineno
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path, package: str = "fusion") -> tuple[dict[str, set[str]], list[str]]:
    """The import graph among ``package``'s modules under ``root`` and the forbidden imports
    found ("path:line imports X")."""
    files = {module_name(root, p): p for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in files}
    forbidden: list[str] = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        for target, line in _imports(tree, module, path.name == "__init__.py"):
            top = target.split(".")[0]
            if top in FORBIDDEN:
                forbidden.append(f"{path.relative_to(root)}:{line} imports {target}")
            # ``from a.b import c`` names module a.b.c when it exists, else a name of a.b;
            # a module's own ancestors are no edge (Python initialises them first).
            if target in files and target not in (module, package) and not module.startswith(target + "."):
                graph[module].add(target)
    return graph, sorted(set(forbidden))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def violations(root: Path, package: str = "fusion") -> list[str]:
    """Everything that breaks the layering rules, one line each (empty when all hold)."""
    graph, forbidden = import_graph(root, package)
    return forbidden + [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
