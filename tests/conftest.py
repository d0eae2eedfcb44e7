"""Shared fixtures: broker detection, unique entity names; reported figures."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest

from kombu_lite.transport.memory import default_broker
from tests.cluster.leftovers import sweep_leftovers
from tests.cluster.nodes import (
    NODE_COUNT,
    NodesUnavailable,
    PrivateNode,
    PrivateNodes,
    unavailable_reason,
)

BROKER_HOST = "127.0.0.1"
BROKER_PORT = 5672
BROKER_URL = f"amqp://guest:guest@{BROKER_HOST}:{BROKER_PORT}//"

#: Set by .ci/run: a missing broker then fails the broker tests instead of
#: skipping them.
REQUIRE_BROKER = os.environ.get("KOMBU_LITE_REQUIRE_BROKER", "") not in ("", "0")

#: ``record_property`` names with this prefix are figures a test reports
#: (such as the duplicates a cut stream left): they are printed at the end
#: of every run, not only written to a JUnit XML file.
REPORT_PREFIX = "report:"


class _Figures:
    """Collects the ``report:`` properties of each test and prints them."""

    def __init__(self) -> None:
        self.by_test: dict[str, list[tuple[str, object]]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Each phase's report carries every property recorded so far, so
        # the last phase seen for a test holds them all.
        figures = [
            (name.removeprefix(REPORT_PREFIX), value)
            for name, value in report.user_properties
            if name.startswith(REPORT_PREFIX)
        ]
        if figures:
            self.by_test[report.nodeid] = figures

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter
    ) -> None:
        swept = terminalreporter.config.stash.get(_SWEPT, [])
        if swept:
            terminalreporter.write_sep("=", "left on the broker by tests, now deleted")
            terminalreporter.write_line(", ".join(swept))
        if not self.by_test:
            return
        terminalreporter.write_sep("=", "reported figures")
        for nodeid, figures in self.by_test.items():
            shown = ", ".join(f"{name}={value}" for name, value in figures)
            terminalreporter.write_line(f"{nodeid}: {shown}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Figures(), "kombu-lite-figures")


#: Fixtures that start the private nodes; a test using one is marked
#: ``cluster``, so ``-m "not cluster"`` leaves them out.
PRIVATE_NODE_FIXTURES = frozenset({"_private_nodes", "private_node", "private_cluster"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PRIVATE_NODE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cluster)


def _broker_reachable() -> bool:
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def _rabbitmq_checked() -> bool:
    return _broker_reachable()


@pytest.fixture
def rabbitmq(_rabbitmq_checked: bool) -> str:
    """The RabbitMQ URL; skips (or fails in CI) when the broker is down."""
    if not _rabbitmq_checked:
        reason = f"RabbitMQ is not reachable on {BROKER_HOST}:{BROKER_PORT}"
        if REQUIRE_BROKER:
            pytest.fail(reason + " and KOMBU_LITE_REQUIRE_BROKER is set")
        pytest.skip(reason)
    return BROKER_URL


@pytest.fixture(scope="session")
def _private_nodes() -> Iterator[PrivateNodes]:
    """The session's throwaway nodes (tests/cluster/nodes.py), none running yet.

    Skips (or fails in CI) where they cannot run; every node started is
    stopped at the end of the session, however it ends.
    """
    reason = unavailable_reason()
    if reason is not None:
        _no_private_nodes(reason)
    try:
        nodes = PrivateNodes.open()
    except NodesUnavailable as exc:
        _no_private_nodes(str(exc))
    try:
        yield nodes
    finally:
        nodes.close()


def _no_private_nodes(reason: str) -> NoReturn:
    reason = f"the private RabbitMQ nodes cannot run: {reason}"
    if REQUIRE_BROKER:
        pytest.fail(reason + " and KOMBU_LITE_REQUIRE_BROKER is set")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def private_node(_private_nodes: PrivateNodes) -> PrivateNode:
    """kl1@localhost on 127.0.0.1:5681, for tests that disturb their broker.

    Restart it, raise its alarms, change its settings, close its
    connections: never do that to the broker on 5672.  It may be clustered
    with kl2 and kl3 when a cluster test ran first.
    """
    try:
        return _private_nodes.start(1)[0]
    except NodesUnavailable as exc:
        _no_private_nodes(str(exc))


@pytest.fixture(scope="session")
def private_cluster(_private_nodes: PrivateNodes) -> list[PrivateNode]:
    """kl1..kl3@localhost (ports 5681-5683), clustered, for cluster tests."""
    try:
        return _private_nodes.start(NODE_COUNT)
    except NodesUnavailable as exc:
        _no_private_nodes(str(exc))


#: Every name :func:`unique` gives in this session holds this mark, so the
#: sweep at the end of the session finds what a failed test left on the
#: developer's broker, and only that (never another session's entities).
SESSION_MARK = f"klt-{uuid.uuid4().hex[:4]}"


@pytest.fixture
def unique() -> str:
    """A short unique prefix for entity names, so tests never collide."""
    return f"{SESSION_MARK}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session", autouse=True)
def _sweep_leftovers(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the session, delete what its tests left on the broker on 5672.

    Each test cleans up in its own finalizers; this is the net under them,
    for a test killed half-way or a finalizer that failed.  What it had to
    delete is reported (it means a test forgot to clean up).
    """
    yield
    swept = sweep_leftovers(SESSION_MARK)
    if swept:
        request.config.stash[_SWEPT] = swept


_SWEPT = pytest.StashKey[list[str]]()


@pytest.fixture(autouse=True)
def _reset_memory_broker() -> Iterator[None]:
    """Every test starts with an empty process-wide memory broker."""
    default_broker().reset()
    yield
    default_broker().reset()
