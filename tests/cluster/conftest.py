"""Fixtures of the cluster tests.

Every test here runs on the private nodes kl1..kl3 (``private_cluster``),
never on the broker on 5672.  The ``cluster`` fixture checks on the way
out that all three nodes run again, and ``queue_name`` deletes the test's
queues through whichever node answers, even when the test failed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from .harness import delete_queues
from .nodes import PrivateNode


@pytest.fixture
def cluster(private_cluster: list[PrivateNode]) -> Iterator[list[PrivateNode]]:
    """kl1..kl3, checked afterwards to be running again (a test stops one)."""
    yield private_cluster
    for node in private_cluster:
        # PrivateNode.stopped starts a node again already; this is the
        # safety net, so the next test finds the cluster whole.
        with socket.socket() as probe:
            listening = probe.connect_ex(("127.0.0.1", node.port)) == 0
        if not listening:
            node.ctl("start_app")
            node.ctl("await_startup", "--timeout", "45")


@pytest.fixture
def queue_name(cluster: list[PrivateNode], unique: str) -> Iterator[str]:
    """A queue name of this test's own, deleted (if declared) afterwards."""
    name = f"klclu-{unique}"
    yield name
    delete_queues(cluster, [name, f"{name}-dead"])
