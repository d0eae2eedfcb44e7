"""Retry after a lost connection, driven by the memory broker's fault switch.

On RabbitMQ a lost connection is only noticed reliably with publisher
confirms; the fault-injection suite covers that case there.
"""

from __future__ import annotations

import pytest

from kombu_lite import Connection, Producer, Queue
from kombu_lite.exceptions import ConnectionLost
from kombu_lite.transport.memory import default_broker


def _bodies(queue: str) -> list[bytes]:
    return [m.body for m in default_broker().queue_messages(queue)]


def test_publish_retry_reconnects_after_the_connection_is_lost(unique: str) -> None:
    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")
    producer = Producer(conn, routing_key=queue.name)
    producer.publish({"n": 1}, declare=[queue])
    revived: list[object] = []

    default_broker().close_all_connections()
    producer.publish(
        {"n": 2},
        declare=[queue],
        retry=True,
        retry_policy={"on_revive": revived.append},
    )

    assert len(revived) == 1
    assert _bodies(queue.name) == [b'{"n": 1}', b'{"n": 2}']


def test_retry_declares_the_entities_again_after_a_reconnect(unique: str) -> None:
    conn = Connection("memory://")
    declared: list[str] = []
    queue = Queue(f"{unique}-q", on_declared=lambda name, *_: declared.append(name))
    producer = Producer(conn, routing_key=queue.name)
    producer.publish({"n": 1}, declare=[queue])

    default_broker().close_all_connections()
    producer.publish({"n": 2}, declare=[queue], retry=True)

    assert declared == [queue.name, queue.name]


def test_retry_assigns_a_message_id(unique: str) -> None:
    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")
    producer = Producer(conn, routing_key=queue.name)

    producer.publish({"n": 1}, declare=[queue], retry=True)
    producer.publish({"n": 2}, declare=[queue], retry=True, message_id="mine")

    ids = [m.properties.message_id for m in default_broker().queue_messages(queue.name)]
    assert ids[0] is not None
    assert len(ids[0]) == 36
    assert ids[1] == "mine"


def test_publish_without_retry_reports_a_lost_connection(unique: str) -> None:
    conn = Connection("memory://")
    producer = Producer(conn, routing_key=f"{unique}-q")
    producer.publish({"n": 1})

    default_broker().close_all_connections()

    with pytest.raises(ConnectionLost):
        producer.publish({"n": 2})


def test_ensure_retries_a_function_after_a_lost_connection(unique: str) -> None:
    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")
    producer = Producer(conn, routing_key=queue.name)
    producer.publish({"n": 0}, declare=[queue])
    default_broker().close_all_connections()
    errors: list[BaseException] = []

    publish = conn.ensure(
        producer,
        producer.publish,
        max_retries=2,
        interval_start=0,
        errback=lambda e, i: errors.append(e),
    )
    publish({"n": 1})

    assert len(errors) == 1
    assert isinstance(errors[0], ConnectionLost)
    assert _bodies(queue.name) == [b'{"n": 0}', b'{"n": 1}']
