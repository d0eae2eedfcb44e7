"""A 0-byte body arrives as ``b''`` on both transports, by basic.get and by consumer.

py-amqp hands over a bodyless message with ``body=''`` (a ``str``); the
pyamqp transport turns it into ``b''`` at the boundary, as memory:// does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kombu_lite import Connection, Consumer, Exchange, Message, Producer, Queue

Cleanup = Callable[[Exchange | Queue], None]

# (content type, what the payload of an empty body is).  An empty payload
# comes back as it is for every content type, json included, as in kombu.
EMPTY_BODIES = [
    pytest.param("application/data", b"", id="data"),
    pytest.param("application/json", b"", id="json"),
]


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    """A declared queue bound to its own direct exchange with key 'rk'."""
    q = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(q)
    q.declare(channel=connection.default_channel)
    return q


@pytest.fixture
def producer(connection: Connection, queue: Queue) -> Producer:
    assert queue.exchange is not None
    return Producer(connection, exchange=queue.exchange, routing_key="rk")


@pytest.mark.parametrize(("content_type", "payload"), EMPTY_BODIES)
def test_queue_get_returns_an_empty_body_as_bytes(
    connection: Connection,
    queue: Queue,
    producer: Producer,
    content_type: str,
    payload: Any,
) -> None:
    producer.publish(b"", content_type=content_type)

    message = queue.get(channel=connection.default_channel)

    assert message is not None
    message.ack()
    assert message.body == b""
    assert type(message.body) is bytes
    assert message.decode() == payload


@pytest.mark.parametrize(("content_type", "payload"), EMPTY_BODIES)
def test_a_consumer_receives_an_empty_body_as_bytes(
    connection: Connection,
    queue: Queue,
    producer: Producer,
    content_type: str,
    payload: Any,
) -> None:
    received: list[tuple[Any, Message]] = []
    producer.publish(b"", content_type=content_type)

    with Consumer(
        connection, queue, callbacks=[lambda body, m: received.append((body, m))]
    ):
        while not received:
            connection.drain_events(timeout=5)
    body, message = received[0]
    message.ack()

    assert body == payload
    assert message.body == b""
    assert type(message.body) is bytes


def test_an_empty_mandatory_message_comes_back_with_an_empty_body(
    connection: Connection, queue: Queue
) -> None:
    returned: list[tuple[BaseException, str, str, Message]] = []
    assert queue.exchange is not None
    producer = Producer(
        connection,
        exchange=queue.exchange,
        on_return=lambda *args: returned.append(args),
    )

    producer.publish(b"", routing_key="nowhere", mandatory=True)
    connection.drain_events(timeout=5)

    message = returned[0][3]
    assert message.body == b""
    assert type(message.body) is bytes
