"""The transport package's layout: small modules, imports one way.

Every import inside ``kombu_lite.transport`` (``TYPE_CHECKING`` and
function-level ones included: a reader follows them too) is read from the
source; no two transport modules may import each other, directly or round
a circle, and no module is longer than 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kombu_lite.transport

ROOT = Path(kombu_lite.transport.__file__).parent
PACKAGE = "kombu_lite.transport"


def _name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, module] if module else base)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in MODULES else module)
    return {target for target in found if target in MODULES and target != name}


def _graph() -> dict[str, set[str]]:
    # A package's __init__ re-exports its modules: it is not an arrow back.
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    return {
        name: _imports(name, path) - packages
        for name, path in MODULES.items()
        if name not in packages
    }


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def test_no_two_transport_modules_import_each_other() -> None:
    graph = _graph()
    circles = sorted(name for name in graph if _reaches(graph, name, name))
    assert circles == []


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("pyamqp.channel", "pyamqp.connection"),
        ("pyamqp.publishing", "pyamqp.connection"),
        ("pyamqp.consuming", "pyamqp.connection"),
        ("memory.channel", "memory.connection"),
        ("memory.consuming", "memory.connection"),
        ("memory.broker", "memory.connection"),
        ("memory.binding", "memory.exchange"),
    ],
)
def test_a_lower_module_does_not_reach_the_one_above(source: str, target: str) -> None:
    assert not _reaches(_graph(), f"{PACKAGE}.{source}", f"{PACKAGE}.{target}")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_transport_module_is_longer_than_500_lines(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= 500, f"{module} has {lines} lines"
