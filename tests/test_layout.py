"""The package's layout rules: suites are never libraries, no pytest internals,
no import cycles.

A suite (``conformance/test_*.py``) is a test module: another suite, the
Python API or the plugin importing it would make a test module a library
(and run its collection-time side effects). Shared code lives in
``conformance/support`` and the other named modules. Every import counts
here, including those inside functions (the kit imports lazily, so a cycle
there is a cycle all the same).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("conformance", "strategies")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, at any depth of the file."""
    found: set[str] = set()
    package = _module_name(path).rpartition(".")[0]
    if path.name == "__init__.py":
        package = _module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _sources() -> dict[str, Path]:
    return {
        _module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))
    }


SOURCES = _sources()


def _is_suite(name: str) -> bool:
    return name.startswith("conformance.") and name.rpartition(".")[2].startswith("test_")


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_module_imports_a_suite(name):
    suites = sorted(m for m in _imports(SOURCES[name]) if _is_suite(m))
    assert not suites, f"{name} imports the test module(s) {suites}: move what it needs to support/"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_module_imports_pytest_internals(name):
    private = sorted(m for m in _imports(SOURCES[name]) if m.split(".")[0] == "_pytest")
    assert not private, f"{name} imports pytest's private modules {private}"


def test_no_import_cycles_between_library_modules():
    """Among the non-suite modules, the import graph (every import, lazy ones too)
    has no cycle, a package's ``__init__`` importing its own submodules aside."""
    library = {name for name in SOURCES if not _is_suite(name)}
    graph = {
        name: {
            m
            for m in _imports(SOURCES[name])
            if m in library and m != name and not m.startswith(f"{name}.")
        }
        for name in library
    }
    cycles = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
