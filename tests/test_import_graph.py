"""The package's imports form no cycle.

The graph is read with :mod:`ast`: module-level and function-level imports
count (a function-level import hides a cycle, it does not remove one); imports
under ``if TYPE_CHECKING:`` do not (they never run). Relative imports and
``from package import module`` are resolved to the module they load.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import n2net_privacy

PACKAGE = Path(n2net_privacy.__file__).parent
ROOT = PACKAGE.name


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: TYPE_CHECKING bodies are skipped."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    source = _resolve(module, path.name == "__init__.py", node)
    targets = set()
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        targets.add(submodule if submodule in MODULES else source)
    return targets


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in _imports(tree):
            edges |= {t for t in _targets(module, path, node) if t in MODULES and t != module}
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]``, or None (an iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return [*path[path.index(step):], step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return None


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_graph_sees_what_it_must() -> None:
    graph = import_graph()
    # module level, relative-free, `from package import module`
    assert "n2net_privacy.egress.policy" in graph["n2net_privacy.egress.headers"]
    assert "n2net_privacy.ohttp.bhttp" in graph["n2net_privacy.ohttp"]
    # TYPE_CHECKING imports never run: the top level imports nothing eagerly
    assert "n2net_privacy.sdk" not in graph[ROOT]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_function_level_and_relative_imports_count() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from n2net_privacy import sdk\n"
        "def f():\n    from . import phone\n    from .egress import policy\n"
    )
    path = PACKAGE / "checks.py"
    found = set().union(*(_targets("n2net_privacy.checks", path, n) for n in _imports(tree)))
    assert found == {"typing", "n2net_privacy.phone", "n2net_privacy.egress.policy"}


# Modules of decisions (principle 8): nothing they load, their parent packages'
# ``__init__`` included, may import the network stack.
PURE_MODULES = (
    "n2net_privacy.runtime",
    "n2net_privacy.retry",
    "n2net_privacy.uploader.send.decisions",
    "n2net_privacy.uploader.wire.models",
    "n2net_privacy.uploader.wire.payload",
    "n2net_privacy.uploader.wire.seal",
)


def _reached(graph: dict[str, set[str]], module: str) -> set[str]:
    """Every module that importing ``module`` runs: its parents first, then its imports."""
    parts = module.split(".")
    todo = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in graph:
            continue
        seen.add(name)
        todo += graph[name]
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
    return seen


def test_pure_modules_reach_no_module_that_imports_the_network() -> None:
    graph = import_graph()
    network = {
        module for module, path in MODULES.items()
        if any(
            isinstance(node, ast.Import | ast.ImportFrom)
            and any(name.split(".")[0] in {"httpx", "httpcore", "h11"} for name in (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""]
            ))
            for node in _imports(ast.parse(path.read_text(encoding="utf-8")))
        )
    }
    # The probe is not blind (lazy names are invisible here: test_import_purity.py
    # imports each pure name in a fresh interpreter for those).
    assert _reached(graph, "n2net_privacy.egress.client") & network
    for module in PURE_MODULES:
        assert module in MODULES, module
        assert _reached(graph, module) & network == set(), module
