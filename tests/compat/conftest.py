"""The compatibility suite: each test body runs against kombu_lite and kombu.

A test asks for ``lib`` and imports through it (``lib.module("common")`` is
``kombu_lite.common`` or ``kombu.common``), so the same assertions prove
that kombu_lite behaves as kombu does.  Where kombu is not installed its
runs skip; kombu_lite's always run.  A test of a deliberate difference (a
kombu fault kombu_lite fixes, listed on docs/migrating.rst) asks
``lib.is_kombu`` and says which way each library goes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from kombu_lite.transport.memory import default_broker

__all__ = ["Lib"]


@dataclass(frozen=True)
class Lib:
    """One library under test: ``kombu_lite`` or ``kombu``."""

    name: str

    @property
    def is_kombu(self) -> bool:
        return self.name == "kombu"

    @property
    def top(self) -> ModuleType:
        """The package itself (``kombu_lite`` or ``kombu``)."""
        return importlib.import_module(self.name)

    def module(self, path: str) -> ModuleType:
        """``lib.module("utils.functional")``: that module of this library."""
        return importlib.import_module(f"{self.name}.{path}")

    def attr(self, path: str, name: str) -> Any:
        """A name from a module of this library."""
        return getattr(self.module(path), name)


def _kombu_installed() -> bool:
    try:
        importlib.import_module("kombu")
    except ImportError:
        return False
    return True


@pytest.fixture(
    params=[
        "kombu_lite",
        pytest.param(
            "kombu",
            marks=pytest.mark.skipif(
                not _kombu_installed(),
                reason="kombu (the interop extra) is not installed",
            ),
        ),
    ]
)
def lib(request: pytest.FixtureRequest) -> Lib:
    """The library a compatibility test runs against."""
    return Lib(request.param)


@pytest.fixture(autouse=True)
def _fresh_kombu_memory() -> None:
    """kombu's memory transport keeps its queues in a class attribute: empty it."""
    default_broker().reset()
    try:
        from kombu.transport import memory
    except ImportError:
        return
    memory.Channel.queues.clear()
    memory.Channel.events.clear()
