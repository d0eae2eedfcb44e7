"""A plain Consumer on a quorum queue whose leader node stops mid-stream.

The queue holds its messages first; the consumer takes them (acking each)
while the leader's node is stopped (``stop_app``) and started again.  A
consumer connected to the leader's node loses its connection: it
reconnects through its failover list, ``revive``s onto a new channel and
consumes again.  A consumer connected to another node keeps its
subscription: RabbitMQ 3.10 moves the leadership and goes on delivering.
Either way a broker ``basic.cancel`` (``on_cancel``) is handled by
consuming again.  Every message must arrive; a message seen twice must be
marked ``redelivered`` the second time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from kombu_lite import Connection, Consumer, Message, Queue
from kombu_lite.exceptions import ChannelError, OperationalError

from .harness import (
    Progress,
    Record,
    failover_url,
    leader_of,
    load_thread,
    quorum_queue,
    report,
    stop_under_load,
)
from .nodes import PrivateNode

pytestmark = [pytest.mark.broker, pytest.mark.cluster]

COUNT = 1500

#: Reconnecting: each retry moves to the next host of the failover list.
RECONNECT: dict[str, Any] = {
    "max_retries": 20,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "timeout": 20,
}


def _fill(node: PrivateNode, queue: Queue) -> None:
    with Connection(node.url) as conn:
        outcomes = conn.Producer().publish_many(
            [str(number).encode() for number in range(COUNT)],
            serializer="raw",
            routing_key=queue.name,
            declare=[queue],
        )
    assert all(outcome.ok for outcome in outcomes)


@pytest.mark.parametrize("connected_to", ["leader", "follower"])
def test_a_consumer_gets_every_message_when_the_queue_leader_stops(
    cluster: list[PrivateNode],
    queue_name: str,
    connected_to: str,
    record_property: Record,
) -> None:
    queue = quorum_queue(queue_name)
    _fill(cluster[1], queue)
    leader_name = leader_of(cluster[0], queue_name)
    leader = next(node for node in cluster if node.name == leader_name)
    others = [node for node in cluster if node is not leader]
    hosts = [leader, *others] if connected_to == "leader" else others
    received: list[tuple[int, bool]] = []
    cancels: list[str] = []
    closes: list[BaseException] = []
    delivery_counts: list[object] = []

    def consume(progress: Progress, finish: threading.Event) -> None:
        seen: set[int] = set()

        def on_message(message: Message) -> None:
            number = int(message.body)
            received.append((number, message.redelivered))
            if message.redelivered:
                delivery_counts.append(message.headers.get("x-delivery-count"))
            time.sleep(0.002)  # a little work: the stream outlasts the stop
            message.ack()
            if number not in seen:
                seen.add(number)
                progress.succeeded()

        def on_cancel(cancelled: Queue) -> None:
            cancels.append(cancelled.name)
            progress.failed()

        with Connection(failover_url(hosts), heartbeat=0) as conn:
            consumer = Consumer(
                conn,
                [queue],
                on_message=on_message,
                on_cancel=on_cancel,
                prefetch_count=50,
                accept=["application/data"],
            )
            consumer.consume()
            while not finish.is_set():
                try:
                    if cancels and not consumer.consuming_from(queue):
                        consumer.consume()  # the broker cancelled: again
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    continue
                except (OperationalError, ChannelError) as exc:
                    closes.append(exc)
                    progress.failed()
                    conn.ensure_connection(**RECONNECT)
                    consumer.revive(conn.channel())
                    consumer.consume()

    with load_thread(consume, "consumer") as (progress, _finish):
        stop_under_load(leader, progress, 200, 200, 100, total=COUNT)
        progress.wait_for(COUNT, timeout=30)

    numbers = Counter(number for number, _ in received)
    lost = COUNT - len(numbers)
    # Whether each delivery of a message already seen was marked redelivered.
    first_seen: set[int] = set()
    repeats = []
    for number, redelivered in received:
        if number in first_seen:
            repeats.append(redelivered)
        first_seen.add(number)
    report(
        record_property,
        messages=COUNT,
        stops=1,
        cancels=len(cancels),
        connection_errors=len(closes),
        errors=", ".join(sorted({type(exc).__name__ for exc in closes})),
        lost=lost,
        duplicates=len(repeats),
        resume_seconds=progress.resume_seconds,
        redelivered=len(delivery_counts),
        redelivered_with_delivery_count=sum(1 for c in delivery_counts if c),
    )
    assert lost == 0
    assert all(repeats), "a message came twice without redelivered=True"
    if connected_to == "leader":
        assert closes or cancels, "the consumer never noticed the stop"
