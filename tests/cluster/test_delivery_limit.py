"""``x-delivery-limit`` on a quorum queue, as RabbitMQ 3.10 applies it.

A message requeued (``reject(requeue=True)``) more often than the limit
is dropped, or dead-lettered when the queue has a dead-letter exchange;
each redelivery carries the ``x-delivery-count`` header.
"""

from __future__ import annotations

import time

import pytest

from kombu_lite import Connection, Consumer, Message, Queue

from .harness import Record, quorum_queue, report, take_all
from .nodes import PrivateNode

pytestmark = [pytest.mark.broker, pytest.mark.cluster]

LIMIT = 2


@pytest.mark.parametrize("dead_letter", [False, True], ids=["dropped", "dead-lettered"])
def test_a_message_requeued_beyond_the_delivery_limit_leaves_the_queue(
    cluster: list[PrivateNode],
    queue_name: str,
    dead_letter: bool,
    record_property: Record,
) -> None:
    kl1, kl2, _ = cluster
    dead = Queue(f"{queue_name}-dead")
    arguments: dict[str, object] = {"x-delivery-limit": LIMIT}
    if dead_letter:
        arguments |= {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead.name,
        }
    queue = quorum_queue(queue_name, **arguments)
    deliveries: list[Message] = []

    def on_message(message: Message) -> None:
        deliveries.append(message)
        message.reject(requeue=True)

    with Connection(kl1.url, confirm_publish=True, heartbeat=0) as conn:
        if dead_letter:
            dead.declare(channel=conn.default_channel)
        conn.Producer().publish(
            b"poison",
            serializer="raw",
            routing_key=queue_name,
            declare=[queue],
            message_id="poison-1",
        )
        with Consumer(conn, [queue], on_message=on_message, prefetch_count=1):
            # Every delivery is requeued at once; the last one is followed
            # by silence.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    break
        _, left, _ = queue.queue_declare(passive=True, channel=conn.default_channel)

    counts = [message.headers.get("x-delivery-count") for message in deliveries]
    dead_lettered = (
        take_all(kl2, dead.name, ["application/data"]) if dead_letter else []
    )
    report(
        record_property,
        deliveries=len(deliveries),
        left_in_queue=left,
        dead_lettered=len(dead_lettered),
    )
    # The first delivery, then one redelivery per requeue up to the limit.
    assert len(deliveries) == LIMIT + 1
    assert counts == [None, *range(1, LIMIT + 1)]
    assert [message.redelivered for message in deliveries] == [False] + [True] * LIMIT
    assert left == 0
    if dead_letter:
        assert [message.body for message in dead_lettered] == [b"poison"]
        assert dead_lettered[0].properties["message_id"] == "poison-1"
        deaths = dead_lettered[0].headers["x-death"]
        assert isinstance(deaths, list)
        (death,) = deaths
        assert isinstance(death, dict)
        assert death["queue"] == queue_name
        assert death["reason"] == "delivery_limit"
