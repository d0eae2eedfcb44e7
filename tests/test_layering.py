"""The package layout is the architecture: imports only go down.

Every ``import`` in ``kombu_lite`` is read from the source (function-level
imports and ``TYPE_CHECKING`` imports included, since both are arrows a
reader has to follow) and checked against the layers below, top first.  A
module may import its own layer and the layers under it, never one above;
and no two packages (or top-level modules) may import each other, directly
or round a circle.  Inside a package, modules may lean on each other (a
method written in its own module names its class for the type checker);
``tests/transport/test_layout.py`` keeps the transports' insides apart.

``python -m tests.test_layering`` prints what the tests would say.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kombu_lite"

#: Top to bottom.  A module belongs to the first entry that is its name or
#: a package above it.
LAYERS: list[tuple[str, ...]] = [
    ("kombu_lite.__main__", "kombu_lite.cli", "kombu_lite.pytest_plugin"),
    ("kombu_lite.mixins",),
    ("kombu_lite.pools",),
    ("kombu_lite.connection",),
    ("kombu_lite.simple", "kombu_lite._simple_args"),
    ("kombu_lite.messaging",),
    ("kombu_lite.common",),
    ("kombu_lite.entity",),
    ("kombu_lite.publication", "kombu_lite.declare_memo"),
    ("kombu_lite.log",),
    ("kombu_lite.retry", "kombu_lite.utils"),
    (
        "kombu_lite.channel",
        "kombu_lite.channel_amqp",
        "kombu_lite.message",
        "kombu_lite.decode_memo",
        "kombu_lite.outgoing",
        "kombu_lite._death",
        "kombu_lite.ack_batch",
        "kombu_lite.serialization",
        "kombu_lite.compression",
        "kombu_lite._json",
    ),
    ("kombu_lite.transport",),
    ("kombu_lite.exceptions", "kombu_lite._log", "kombu_lite._version"),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {
    _module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))
}


def _imports(name: str, path: Path) -> Iterator[str]:
    """The kombu_lite modules ``name`` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                # ``from kombu_lite import channel`` imports a module.
                submodule = f"{module}.{alias.name}"
                yield submodule if submodule in MODULES else module


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        graph[name] = {
            target
            for target in _imports(name, path)
            if target in MODULES and target != name
        }
    return graph


def _layer(module: str) -> int:
    for index, members in enumerate(LAYERS):
        for member in members:
            if module == member or module.startswith(member + "."):
                return index
    if module == "kombu_lite":
        return -1  # the package's __init__ re-exports everything
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_no_import_goes_up_a_layer() -> None:
    upward = sorted(
        f"{source} (layer {_layer(source)}) imports {target} (layer {_layer(target)})"
        for source, targets in _graph().items()
        for target in targets
        if _layer(target) < _layer(source)
    )
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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


def _unit(module: str) -> str:
    """The package (or top-level module) ``module`` belongs to."""
    return ".".join(module.split(".")[:2])


def _package_graph() -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for source, targets in _graph().items():
        if source == "kombu_lite":
            continue  # the package's __init__ re-exports everything
        unit = _unit(source)
        packages.setdefault(unit, set()).update(
            _unit(target)
            for target in targets
            if target != "kombu_lite" and _unit(target) != unit
        )
    return packages


def test_no_packages_import_each_other() -> None:
    assert _cycles(_package_graph()) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_longer_than_500_lines(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= 500, f"{module} has {lines} lines"


def _report() -> None:
    """``python -m tests.test_layering``: what the tests above would say."""
    graph = _graph()
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            if _layer(target) < _layer(source):
                print(f"up: {source} -> {target}")  # noqa: T201
    for cycle in _cycles(_package_graph()):
        print(f"cycle ({len(cycle)}): {' '.join(cycle)}")  # noqa: T201
    for module, path in sorted(MODULES.items()):
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > 500:
            print(f"long: {module} {lines}")  # noqa: T201


if __name__ == "__main__":
    _report()
