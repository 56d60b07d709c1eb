"""The code's shape, kept by tests (README "One feature, one shape"): no import cycles between files or features,
a function-level import of a project module says why it is lazy, and no function above complexity C."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest
from radon.complexity import cc_rank, cc_visit
from radon.visitors import Class

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "models", "pipelines", "serving", "features", "experiments", "dashboards")
LAZY_MARK = "# lazy:"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
    if "migrations" not in path.parts
}


def _imported_names(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]


def _project_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports():
    """(module, target module, the import node, inside a function?) for every import of a project module."""
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def visit(node, in_function: bool, type_checking: bool):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)) and not type_checking:
                    for name in _imported_names(module, child):
                        target = _project_module(name)
                        if target and target != module:
                            found.append((module, target, child, in_function))
                elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    visit(child, in_function, True)
                else:
                    visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)),
                          type_checking)

        visit(tree, False, False)
    return found


IMPORTS = _imports()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def _feature(module: str) -> str:
    """api's features are its subpackages (api.bookings, ...), its other modules stand alone; other folders are one each."""
    parts = module.split(".")
    if parts[0] != "api" or len(parts) == 1:
        return parts[0]
    if len(parts) == 2 and MODULES[module].name != "__init__.py":
        return module
    return ".".join(parts[:2])


def test_no_import_cycle_between_files():
    graph = defaultdict(set)
    for module, target, _node, _lazy in IMPORTS:
        graph[module].add(target)
    assert _cycles(graph) == []


def test_features_import_downward_only():
    graph = defaultdict(set)
    for module, target, _node, _lazy in IMPORTS:
        if _feature(module) != _feature(target):
            graph[_feature(module)].add(_feature(target))
    assert _cycles(graph) == []


def test_a_lazy_import_of_a_project_module_says_why():
    unexplained = []
    for module, target, node, in_function in IMPORTS:
        if not in_function:
            continue
        lines = MODULES[module].read_text(encoding="utf-8").splitlines()[node.lineno - 1: node.end_lineno]
        if not any(LAZY_MARK in line for line in lines):
            unexplained.append(f"{MODULES[module].relative_to(ROOT)}:{node.lineno} imports {target}")
    assert unexplained == [], "import at module level, or say why it is lazy with '# lazy: <reason>'"


def _functions(blocks):
    for block in blocks:
        if isinstance(block, Class):
            yield from _functions(block.methods)
            yield from _functions(block.inner_classes)
        else:
            yield block
            yield from _functions(block.closures)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_above_complexity_c(package):
    too_complex = []
    for module, path in MODULES.items():
        if module.split(".")[0] != package:
            continue
        for function in _functions(cc_visit(path.read_text(encoding="utf-8"))):
            if cc_rank(function.complexity) not in "ABC":
                too_complex.append(f"{path.relative_to(ROOT)}:{function.lineno} {function.fullname} "
                                   f"{cc_rank(function.complexity)} ({function.complexity})")
    assert too_complex == []
