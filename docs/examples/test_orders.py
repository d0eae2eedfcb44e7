"""Tests of application code that publishes, with kombu_lite's pytest fixtures.

The example of the testing guide (docs/guide/testing.rst); kombu_lite's
own suite runs it with pytest on memory:// and RabbitMQ.
"""

from __future__ import annotations

import uuid

from kombu_lite import Connection, Queue
from kombu_lite.transport.memory import Broker


def send_order(connection: Connection, order_id: int, queue: str = "orders") -> None:
    """The application code under test: publish one order."""
    producer = connection.Producer(routing_key=queue)
    producer.publish({"order": order_id}, declare=[Queue(queue)], priority=5)


def test_an_order_is_published_as_json(
    kombu_lite_memory: Connection, kombu_lite_memory_broker: Broker
) -> None:
    send_order(kombu_lite_memory, 42)

    # What the queue holds, read without a consumer: nothing is taken off.
    [message] = kombu_lite_memory_broker.queue_messages("orders")
    assert message.body == b'{"order": 42}'
    assert message.properties.content_type == "application/json"
    assert message.properties.priority == 5


def test_every_test_starts_on_an_empty_broker(
    kombu_lite_memory_broker: Broker,
) -> None:
    assert kombu_lite_memory_broker.queues() == []


def test_an_order_reaches_a_real_broker(kombu_lite_broker_url: str) -> None:
    queue = Queue(f"orders-{uuid.uuid4().hex}")
    with Connection(kombu_lite_broker_url) as connection:
        try:
            send_order(connection, 7, queue.name)
            message = queue.get(channel=connection)
            assert message is not None
            assert message.payload == {"order": 7}
        finally:
            queue.delete(channel=connection)
