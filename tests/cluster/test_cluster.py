"""kombu_lite against the private three-node cluster kl1..kl3@localhost."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import OperationalError

from .nodes import PrivateNode

pytestmark = [pytest.mark.broker, pytest.mark.cluster]


@pytest.fixture
def quorum_queue(private_cluster: list[PrivateNode], unique: str) -> Iterator[Queue]:
    """A quorum queue's description; deleted on kl1 afterwards if declared."""
    name = f"{unique}-qq"
    queue = Queue(
        name,
        Exchange(""),
        routing_key=name,
        queue_arguments={"x-queue-type": "quorum"},
    )
    yield queue
    with (
        contextlib.suppress(OperationalError),
        Connection(private_cluster[0].url) as conn,
    ):
        queue.delete(channel=conn.default_channel)


def test_a_quorum_queue_declared_on_kl1_is_seen_with_its_message_from_kl2(
    private_cluster: list[PrivateNode], quorum_queue: Queue
) -> None:
    kl1, kl2, _ = private_cluster
    with Connection(kl1.url, confirm_publish=True) as conn:
        conn.Producer().publish(
            b"replicated",
            serializer="raw",
            routing_key=quorum_queue.name,
            declare=[quorum_queue],
        )

    with Connection(kl2.url) as conn:
        _, message_count, _ = quorum_queue.queue_declare(
            passive=True, channel=conn.default_channel
        )
        message = quorum_queue.get(
            no_ack=True, accept=["application/data"], channel=conn.default_channel
        )

    assert message_count == 1
    assert message is not None
    assert message.body == b"replicated"
    listed = kl2.ctl("list_queues", "--silent", "name", "type").splitlines()
    assert f"{quorum_queue.name}\tquorum" in listed


def _listening(node: PrivateNode) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", node.port)) == 0


def test_a_node_stopped_for_a_block_that_raises_runs_again_in_the_cluster(
    cluster: list[PrivateNode],
) -> None:
    kl1, _, kl3 = cluster

    seen_down: list[bool] = []

    def failing_test() -> None:
        with kl3.stopped():
            seen_down.append(not _listening(kl3))
            raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"):
        failing_test()

    assert seen_down == [True]
    assert _listening(kl3)
    status = json.loads(kl1.ctl("cluster_status", "--formatter", "json"))
    assert sorted(status["running_nodes"]) == [node.name for node in cluster]
