"""The dependency picture the layout promises, read from the source: no production module
imports (at any level) a module that imports it back, none but runstack's demo mode imports
the fake Keepa, and no import hides inside a function where it could hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_APPS = ("dealsite", "deals", "tokens", "diagnostics")
FIRST_PARTY = (*PRODUCTION_APPS, "keepasim")
#: The one production module allowed to import the fake Keepa, inside the demo branch only.
DEMO_MODE = "deals.management.commands.runstack"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def production_modules() -> dict[str, Path]:
    modules = {}
    for app in PRODUCTION_APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).parts
            if "tests" in relative or "migrations" in relative:
                continue
            modules[_module_name(path)] = path
    return modules


def imports_of(name: str, path: Path) -> list[tuple[str, bool]]:
    """First-party modules ``name`` imports, each with whether it is a module-level import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in FIRST_PARTY:
                found.append((target, id(node) in top_level))
    return found


def resolve(target: str, known: set[str]) -> str | None:
    """The longest known module that ``target`` names (``pkg.mod.attr`` -> ``pkg.mod``)."""
    while target:
        if target in known:
            return target
        target = target.rpartition(".")[0]
    return None


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = production_modules()
    known = set(modules)
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {resolve(target, known) for target, _top in imports_of(name, path)}
        edges[name] = {t for t in targets if t is not None and t != name}
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_local_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_production_module_imports_one_that_imports_it_back(graph):
    assert cycles(graph) == []


def test_tokens_knows_nothing_of_deals(graph):
    leaks = {name: deps for name, deps in graph.items() if name.startswith("tokens")}
    # "deals" or a module of it, not "dealsite" (the project package every app may use).
    assert {name for name, deps in leaks.items() if any(d.split(".")[0] == "deals" for d in deps)} == set()


def test_only_the_demo_mode_imports_the_fake_keepa():
    for name, path in production_modules().items():
        fake = [(target, top) for target, top in imports_of(name, path) if target.startswith("keepasim")]
        if name == DEMO_MODE:
            assert fake and not any(top for _target, top in fake), "runstack imports keepasim lazily"
        else:
            assert fake == [], f"{name} imports the fake Keepa"


def test_production_code_imports_at_module_level():
    hidden = []
    for name, path in production_modules().items():
        tree = ast.parse(path.read_text(), filename=str(path))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top_level:
                hidden.append(f"{name}:{node.lineno}")
    assert hidden == [f"{DEMO_MODE}:{_demo_import_line()}"]


def _demo_import_line() -> int:
    path = production_modules()[DEMO_MODE]
    return next(
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keepasim")
    )
